/*
 * The Loki exporter (docs/loki.md): pushes the bus's anomaly, incident,
 * prediction and action events, and the lines the watched services write
 * to stdout and stderr, to Loki's push API (POST URL/loki/api/v1/push,
 * JSON), in batches, over libcurl.
 *
 * Nothing here ever waits on the network for a caller: events are read
 * from the store by a reader thread woken by the bus, lines are queued by
 * loki_push_line(), and one sender thread posts the queue. The queue is
 * bounded (entries and bytes); past the bound a new entry is dropped and
 * counted, never waited for. A push that fails with a network error, a
 * timeout, 429 or a 5xx is retried with an exponential, jittered backoff
 * up to max_retries times, then dropped and counted; any other 4xx is
 * dropped at once and counted. Delivery is therefore at most once: a push
 * is never sent again after a 2xx.
 *
 * Threads: loki_start()/loki_stop() by one thread; loki_push_line() and
 * loki_stats() from any thread while started.
 */
#ifndef PRP_AGGREGATOR_EXPORT_LOKI_H
#define PRP_AGGREGATOR_EXPORT_LOKI_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator/events/bus.h"
#include "aggregator/export/loki_config.h"
#include "common/compiler.h"

#define LOKI_PUSH_PATH	       "/loki/api/v1/push"
#define LOKI_BATCH	       1000	   /* entries per push at most */
#define LOKI_BATCH_MAX_BYTES   (1u << 20)  /* of lines per push: Promtail's default batch */
#define LOKI_FLUSH_INTERVAL_MS 1000	   /* longest an entry waits for its batch to fill */
#define LOKI_QUEUE_MAX	       10000	   /* entries waiting at most */
#define LOKI_QUEUE_MAX_BYTES   (64u << 20) /* bytes of lines waiting at most */
#define LOKI_TIMEOUT_MS	       10000	   /* one push, connecting included */
#define LOKI_MAX_RETRIES       5	   /* after the first attempt */
#define LOKI_BACKOFF_MS	       500	   /* the pause after the first failure; doubles */
#define LOKI_BACKOFF_MAX_MS    30000	   /* the longest pause */
#define LOKI_STOP_FLUSH_MS     2000	   /* loki_stop() flushes for this long at most */
#define LOKI_LINE_MAX	       (16u << 10) /* a longer line is cut, with a marker */
#define LOKI_LABELS_MAX	       16	   /* static labels */
#define LOKI_ERROR_MAX	       256

struct loki;

/*
 * Starts the exporter: checks @c, reads the secrets' files, opens the
 * store's events (when @bus is given: events published from now on are
 * exported) and starts the reader and the sender. @bus is borrowed and
 * must outlive the exporter; NULL: only loki_push_line() lines are sent.
 * *@out is NULL when the URL is empty (the exporter is off; every function
 * here takes that NULL). Returns 0, or -EINVAL (@c, logged), a file's or
 * the store's -errno; nothing is left running on failure.
 */
PRP_MUST_CHECK int loki_start(struct loki **out, const struct loki_config *c, struct bus *bus);

/*
 * Stops watching the bus, exports what the bus published before the call,
 * flushes the queue for at most stop_flush_ms (the push in flight is cut
 * within 50 ms of that deadline; what is left is dropped, counted as
 * "shutdown"), logs the totals and frees @l. NULL does nothing.
 */
void loki_stop(struct loki *l);

/*
 * Queues one line a watched service wrote, without waiting: @tenant
 * (NULL or "": "default"), @service, @host (NULL or "": this aggregator's
 * hostname), @source "stdout" or "stderr", @ts_ns the time it was written
 * (ns since the epoch; 0: now), the @len bytes at @line (any bytes: bad
 * UTF-8 becomes U+FFFD, a trailing newline is dropped, past LOKI_LINE_MAX
 * it is cut with a marker). Everything is copied. The level label is
 * guessed from the line (docs/loki.md). Returns 0; -ENOBUFS when the
 * queue is full (dropped and counted); -EINVAL for another source;
 * -ENOTCONN when @l is NULL (the exporter is off). Any thread.
 */
int loki_push_line(struct loki *l, const char *tenant, const char *service, const char *host,
		   const char *source, int64_t ts_ns, const char *line, size_t len);

/* Why entries were dropped: the index of loki_stats.dropped. */
enum loki_drop {
	LOKI_DROP_QUEUE_FULL = 0,    /* the queue was at its bound */
	LOKI_DROP_REJECTED,	     /* Loki answered a 4xx other than 429 */
	LOKI_DROP_RETRIES_EXHAUSTED, /* still failing after max_retries */
	LOKI_DROP_SHUTDOWN,	     /* still queued at loki_stop()'s deadline */
	LOKI_DROP_COUNT
};
/* "queue_full", "rejected", "retries_exhausted", "shutdown"; "unknown" past them. */
const char *loki_drop_name(enum loki_drop d);

/* Counters since start (for /metrics: prp_export_*_total{exporter="loki"}, and tests). */
struct loki_stats {
	/* entries made (events and lines); each is in one of the four that follow */
	uint64_t received;
	uint64_t sent;			   /* entries Loki accepted (2xx) */
	uint64_t dropped[LOKI_DROP_COUNT]; /* entries dropped, by reason */
	uint64_t dropped_total;		   /* their sum */
	uint64_t queued;		   /* entries waiting now */
	uint64_t in_flight;		   /* entries in the push being sent or retried now */
	/* received == sent + dropped_total + queued + in_flight, at every read */
	uint64_t pushes;		 /* HTTP requests made, retries included */
	uint64_t retries;		 /* of them, retries */
	uint64_t timeouts;		 /* requests that timed out */
	char last_error[LOKI_ERROR_MAX]; /* the last failure ("HTTP 500: ...", curl's); "" */
	int64_t last_error_ms;		 /* when (unix ms); 0: none yet */
};
/* Fills @out; all zero when @l is NULL. Any thread. */
void loki_stats(struct loki *l, struct loki_stats *out);

#endif
