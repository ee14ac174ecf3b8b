/*
 * The OTLP trace exporter (docs/otlp.md): sends the HTTP spans the agents
 * capture to an OpenTelemetry receiver (an OpenTelemetry Collector, Jaeger,
 * Grafana Tempo) as OTLP/HTTP JSON, POST URL/v1/traces, in batches, over
 * libcurl.
 *
 * Spans are head-sampled by trace id (every span of a trace gets the same
 * decision), except that spans of a 5xx answer and slow spans are always
 * kept. Nothing here ever waits on the network for a caller:
 * otlp_push_span() queues a copy and one sender thread posts the queue. The
 * queue is bounded; past the bound a new span is dropped and counted, never
 * waited for. A post that fails with a network error, a timeout, 429 or a
 * 5xx is retried with an exponential, jittered backoff (or after the
 * answer's Retry-After) up to max_retries times, then dropped and counted;
 * any other answer but a 2xx is dropped at once and counted. Delivery is
 * therefore at most once: a batch is never sent again after a 2xx.
 *
 * Threads: otlp_start()/otlp_stop() by one thread; otlp_push_span() and
 * otlp_stats() from any thread while started.
 */
#ifndef PRP_AGGREGATOR_EXPORT_OTLP_H
#define PRP_AGGREGATOR_EXPORT_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/span.h"

#define OTLP_TRACES_PATH "/v1/traces"
/*
 * The defaults. Batching follows the OpenTelemetry SDK's batch span
 * processor (OTEL_BSP_MAX_EXPORT_BATCH_SIZE 512, OTEL_BSP_SCHEDULE_DELAY
 * 5 s) and the timeout its OTLP exporter (OTEL_EXPORTER_OTLP_TIMEOUT 10 s);
 * the queue and the retries are the Loki exporter's.
 */
#define OTLP_SAMPLE_RATE       1.0   /* of traces kept: the agents sampled already (traces.sample_rate) */
#define OTLP_SLOW_MS	       500   /* a span longer than this is always kept */
#define OTLP_BATCH	       512   /* spans per post at most */
#define OTLP_FLUSH_INTERVAL_MS 5000  /* longest a span waits for its batch to fill */
#define OTLP_QUEUE_MAX	       10000 /* spans waiting at most (about 800 bytes each) */
#define OTLP_TIMEOUT_MS	       10000 /* one post, connecting included */
#define OTLP_MAX_RETRIES       5     /* after the first attempt */
#define OTLP_BACKOFF_MS	       500   /* the pause after the first failure; doubles */
#define OTLP_BACKOFF_MAX_MS    30000 /* the longest pause, a Retry-After's too */
#define OTLP_STOP_FLUSH_MS     2000  /* otlp_stop() flushes for this long at most */
#define OTLP_HEADERS_MAX       32    /* extra headers */
#define OTLP_ERROR_MAX	       256

struct otlp_config {
	/* base URL, http:// or https://, posted to at URL/v1/traces; NULL or "": off */
	const char *url;
	/* a file of extra headers, "Name: value" a line (# comments); NULL or "": none */
	const char *headers_file;
	/* extra headers given directly, "Name: value" each (borrowed), before the file's */
	const char *const *headers;
	size_t nheaders;
	double sample_rate;	    /* the fraction of traces kept, 0..1 */
	unsigned slow_ms;	    /* spans longer than this are always kept; 0: no such rule */
	unsigned batch;		    /* 0: OTLP_BATCH */
	unsigned flush_interval_ms; /* 0: OTLP_FLUSH_INTERVAL_MS */
	unsigned queue_max;	    /* 0: OTLP_QUEUE_MAX */
	unsigned timeout_ms;	    /* 0: OTLP_TIMEOUT_MS */
	unsigned max_retries;	    /* retries after the first attempt; 0: none */
	unsigned backoff_ms;	    /* 0: OTLP_BACKOFF_MS */
	unsigned backoff_max_ms;    /* 0: OTLP_BACKOFF_MAX_MS */
	unsigned stop_flush_ms;	    /* 0: OTLP_STOP_FLUSH_MS */
	const char *ca_file;	    /* PEM bundle for https; NULL or "": the system's */
};

/*
 * Every string NULL, sample_rate OTLP_SAMPLE_RATE, slow_ms OTLP_SLOW_MS,
 * max_retries OTLP_MAX_RETRIES, every other number 0 (its default).
 */
void otlp_config_default(struct otlp_config *c);

/*
 * Checks @c as the config file gives it, without reading any file: the
 * URL's scheme (and that it is a base URL, not one ending in /v1/traces),
 * sample_rate in 0..1, the directly given headers. 0, or -EINVAL with the
 * key and the reason in @err.
 */
PRP_MUST_CHECK int otlp_config_check(const struct otlp_config *c, char *err, size_t errlen);

/*
 * The sampling decision for @s: kept when its status is 5xx, when it took
 * longer than @slow_ms (0: no such rule), or when the first 8 bytes of its
 * trace id, as a big-endian number, are below @sample_rate * 2^64 (so
 * every span of a trace is kept or none, whichever service reports it).
 */
bool otlp_keep(const struct span *s, double sample_rate, unsigned slow_ms);

struct otlp;

/*
 * Starts the exporter: checks @c, reads the headers file and starts the
 * sender. *@out is NULL when the URL is empty (the exporter is off; every
 * function here takes that NULL). Returns 0, or -EINVAL (@c or the
 * headers file, logged without the headers' values), the file's -errno;
 * nothing is left running on failure.
 */
PRP_MUST_CHECK int otlp_start(struct otlp **out, const struct otlp_config *c);

/*
 * Flushes the queue for at most stop_flush_ms (the post in flight is cut at
 * that deadline; what is left is dropped, counted as "shutdown"), logs the
 * totals and frees @o. NULL does nothing.
 */
void otlp_stop(struct otlp *o);

/*
 * Offers span @s of @tenant (NULL or "": "default") for export, without
 * waiting: it is sampled (otlp_keep()), and a kept span is copied into the
 * queue (strings cut to their arrays). Returns 0 (queued, or sampled out:
 * see the stats); -ENOBUFS when the queue is full (dropped and counted);
 * -EINVAL for a span OTLP cannot carry (an all-zero trace or span id, a
 * kind but server or client, no start, an end before the start; counted
 * as invalid); -ENOTCONN when @o is NULL (the exporter is off). Any thread.
 */
int otlp_push_span(struct otlp *o, const char *tenant, const struct span *s);

/* Why spans were dropped: the index of otlp_stats.dropped. */
enum otlp_drop {
	OTLP_DROP_QUEUE_FULL = 0,    /* the queue was at its bound */
	OTLP_DROP_REJECTED,	     /* a 4xx but 429, or spans refused in a partial success */
	OTLP_DROP_RETRIES_EXHAUSTED, /* still failing after max_retries */
	OTLP_DROP_SHUTDOWN,	     /* still queued at otlp_stop()'s deadline */
	OTLP_DROP_COUNT
};
/* "queue_full", "rejected", "retries_exhausted", "shutdown"; "unknown" past them. */
const char *otlp_drop_name(enum otlp_drop d);

/* Counters since start (for /metrics: prp_export_*_total{exporter="otlp"}, and tests). */
struct otlp_stats {
	/* valid spans offered; each is in one of the five that follow */
	uint64_t received;
	uint64_t sampled_out;		   /* not kept by the sampling: not a drop */
	uint64_t sent;			   /* spans the receiver accepted (2xx) */
	uint64_t dropped[OTLP_DROP_COUNT]; /* spans dropped, by reason */
	uint64_t dropped_total;		   /* their sum */
	uint64_t queued;		   /* spans waiting now */
	uint64_t in_flight;		   /* spans in the post being sent or retried now */
	/* received == sampled_out + sent + dropped_total + queued + in_flight, at every read */
	uint64_t invalid;		 /* spans refused with -EINVAL, not in received */
	uint64_t posts;			 /* HTTP requests made, retries included */
	uint64_t retries;		 /* of them, retries */
	uint64_t timeouts;		 /* requests that timed out */
	char last_error[OTLP_ERROR_MAX]; /* the last failure ("HTTP 503: ...", curl's); "" */
	int64_t last_error_ms;		 /* when (unix ms); 0: none yet */
};
/* Fills @out; all zero when @o is NULL. Any thread. */
void otlp_stats(struct otlp *o, struct otlp_stats *out);

#endif
