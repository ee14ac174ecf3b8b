/*
 * What the analyst knows about one tenant over a span [since, until): the
 * facts every analysis (root cause, summaries, advice, chat) reasons from,
 * gathered once from the store, read only. Nothing here judges: the
 * numbers are as the agents saw them, each one next to the same figure over
 * a baseline, so that a reader can say "up" or "down" without asking the
 * store again.
 *
 * The baseline is the stretch just before the span, as long as the span but
 * at least EVIDENCE_BASELINE_MIN_MS and at most EVIDENCE_BASELINE_MAX_MS
 * (a 30 s question gets 30 s of before, an hour gets the 15 minutes
 * before). Both are also cut in steps of the same length (step_ms: the span
 * in at most EVIDENCE_STEPS_MAX steps, at least 1 s), so that a figure of
 * the span can be compared with the same kind of figure of the baseline:
 *
 *   total    over the whole range (exact: every request merged)
 *   typical  the median of the steps with requests (a short incident in the
 *            baseline does not move it)
 *   peak     the second largest step (one odd step is not a peak; a fault
 *            of two steps in a long span is)
 *
 * Bounds: at most EVIDENCE_SERVICES_MAX services, EVIDENCE_EDGES_MAX edges
 * per range, EVIDENCE_ANOMALIES_MAX anomalies and EVIDENCE_ACTIONS_MAX
 * actions; what was left out is said by the *_truncated flags. The work is
 * a fixed number of store reads per service (two summaries, two step
 * series), two call graphs, and three anomaly and one action lists.
 *
 * Threads: evidence_gather() uses the store it is given (one thread at a
 * time per store, as store.h says: the HTTP worker's read-only one); the
 * result is plain memory, readable by any number of threads.
 */
#ifndef PRP_AGGREGATOR_ANALYSIS_EVIDENCE_H
#define PRP_AGGREGATOR_ANALYSIS_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/store/store.h"
#include "common/compiler.h"
#include "common/frame.h"
#include "common/window.h"

#define EVIDENCE_SERVICES_MAX  64
#define EVIDENCE_EDGES_MAX     256
#define EVIDENCE_ANOMALIES_MAX 128
#define EVIDENCE_ACTIONS_MAX   64
/* The errnos kept per service, the most frequent in the span first. */
#define EVIDENCE_ERRNOS_MAX	 8
#define EVIDENCE_STEPS_MAX	 60
#define EVIDENCE_STEP_MIN_MS	 1000
#define EVIDENCE_BASELINE_MIN_MS (30 * 1000)
#define EVIDENCE_BASELINE_MAX_MS (15 * 60 * 1000)
/* How far back an anomaly that started before the span is looked for. */
#define EVIDENCE_ANOMALY_LOOKBACK_MS (24ll * 3600 * 1000)
#define EVIDENCE_REASON_MAX	     160

/* A figure over one range, three ways (see the top of this file). */
struct evidence_level {
	double total, typical, peak;
};

/*
 * One service over one range (the span or its baseline), from its windows.
 * Latencies in ms; rates per second of the range.
 */
struct evidence_stats {
	uint64_t windows;		    /* windows the agents sent; 0: nothing heard of it */
	uint64_t requests;		    /* HTTP requests it answered */
	uint64_t errors;		    /* of which 5xx */
	struct evidence_level request_rate; /* per s; typical/peak per step */
	struct evidence_level error_rate;   /* 5xx fraction; steps with >= 1 request */
	struct evidence_level p50_ms, p99_ms;
	uint64_t syscalls, syscall_errors; /* scaled up by the agents' sampling */
	struct window_tcp tcp;		   /* retransmits, resets, failed connects */
	/*
	 * Estimated time inside syscalls per request (ms): each syscall's mean
	 * latency times its count, summed, over requests; -1 without requests.
	 * The agents time syscalls in samples, so waits longer than a sample
	 * are under-counted: read it as a trend against the baseline, not as
	 * an account of where the time went.
	 */
	double syscall_ms_per_request;
	/* mmap, munmap, mremap and brk calls per request (memory growing); -1 without requests */
	double alloc_syscalls_per_request;
};

/* An errno some syscalls of the service failed with. */
struct evidence_errno {
	int err;			       /* positive errno value; 0 for the agents' "other" */
	char name[24];			       /* "ECONNREFUSED", "ETIMEDOUT", ..., "other" */
	char syscall[WINDOW_SYSCALL_NAME_MAX]; /* the syscall that failed most with it */
	uint64_t span, baseline;	       /* failures in each range */
};

/* One step of the span: where a service's trouble starts and stops. */
struct evidence_step {
	uint64_t windows; /* 0: the agents said nothing of it in this step */
	uint64_t requests, errors;
	double p50_ms, p99_ms; /* 0 without requests */
	uint64_t connect_failures;
};

struct evidence_service {
	char name[SERVICE_NAME_MAX];
	/*
	 * true when the agents report it (it has windows); false for a peer
	 * known only as the target of calls (an unwatched database, an
	 * address), which the analyst sees through its callers' edges alone.
	 */
	bool observed;
	int64_t first_seen_ms, last_seen_ms; /* from the store, ever; 0 when not observed */
	struct evidence_stats span, baseline;
	struct evidence_errno errnos[EVIDENCE_ERRNOS_MAX];
	size_t nerrnos;
	/*
	 * The span in steps of evidence.step_ms from evidence.since_ms (step i
	 * starts at since_ms + i * step_ms); a step without a window is all 0.
	 */
	struct evidence_step steps[EVIDENCE_STEPS_MAX];
	/* the last step with requests in the span; -1 when none */
	int last_active_step;
};

/* Calls of one service to another over one range, as the caller saw them. */
struct evidence_calls {
	uint64_t requests, errors; /* errors: 5xx answers */
	double p50_ms, p99_ms;	   /* 0 without calls */
};

/* An edge of the call graph (from calls to): in the span, the baseline, or both. */
struct evidence_edge {
	char from[SERVICE_NAME_MAX];
	char to[SERVICE_NAME_MAX]; /* a service name, else the peer's address */
	int from_idx, to_idx;	   /* indexes in evidence.services; -1 when left out */
	struct evidence_calls span, baseline;
};

/* An anomaly that started in the span, or was open during it. */
struct evidence_anomaly {
	int64_t id;
	char service[SERVICE_NAME_MAX];
	char metric[STORE_METRIC_MAX];
	enum store_severity severity;
	bool open; /* still open now */
	double score, confidence;
	double current_value, peak_value, expected_mean, expected_min, expected_max;
	int64_t started_ms, resolved_ms; /* resolved_ms 0 while open */
	bool before_span;		 /* started before since (and lasted into the span) */
};

/* An action created in the span. */
struct evidence_action {
	int64_t id;
	char service[SERVICE_NAME_MAX];
	char type[32];
	char policy_name[STORE_POLICY_NAME_MAX]; /* "" for a manual one */
	enum store_action_status status;
	int64_t created_ms, completed_ms;
	char reason[EVIDENCE_REASON_MAX]; /* cut to fit */
};

struct evidence {
	char tenant[FRAME_ID_MAX];
	char focus[SERVICE_NAME_MAX]; /* the service asked about, "" for all */
	int64_t since_ms, until_ms;   /* the span */
	int64_t baseline_since_ms;    /* the baseline is [baseline_since_ms, since_ms) */
	int64_t step_ms;
	size_t nsteps; /* of the span; the baseline has its own count, not kept */
	/*
	 * The span steps up to the last one any service has a window in: the
	 * newest seconds of a span that ends now are not stored yet, and an
	 * empty step there says nothing of the services.
	 */
	size_t nsteps_data;

	/* sorted by name */
	struct evidence_service *services;
	size_t nservices;
	bool services_truncated;

	/* sorted by (from, to); both ranges merged */
	struct evidence_edge *edges;
	size_t nedges;
	bool edges_truncated;

	/* oldest start first */
	struct evidence_anomaly *anomalies;
	size_t nanomalies;
	bool anomalies_truncated;

	/* oldest first */
	struct evidence_action *actions;
	size_t nactions;
	bool actions_truncated;
};

struct evidence_query {
	const char *tenant;
	int64_t since_ms, until_ms; /* the span; since < until */
	/*
	 * NULL: every service. Else the services connected to it through the
	 * call graph of the span or the baseline (callers and callees, at any
	 * depth), itself included; -ENOENT when the store has never seen it
	 * and no call names it.
	 */
	const char *service;
};

/*
 * Gathers the evidence of @q from @st into @out (which it initializes;
 * release it with evidence_release() whatever the result). Returns 0, also
 * when there is no data at all (no services: nservices is 0), -EINVAL for
 * a bad query, -ENOENT for an unknown focus service, -EIO when the store
 * fails.
 */
PRP_MUST_CHECK int evidence_gather(struct store *st, const struct evidence_query *q,
				   struct evidence *out);
void evidence_release(struct evidence *ev);

/* @a as an anomaly of the evidence (@before: it started before the span). */
void evidence_anomaly_from(struct evidence_anomaly *d, const struct store_anomaly *a, bool before);

/* The service called @name, or NULL; borrowed from @ev. */
const struct evidence_service *evidence_service_find(const struct evidence *ev, const char *name);
/* Its index in ev->services, or -1. */
int evidence_service_index(const struct evidence *ev, const char *name);

/*
 * The name of errno @err into @buf: "ECONNREFUSED", "other" for 0 (the
 * agents' bucket for the rest), "E<n>" for a value libc does not name.
 * Returns @buf.
 */
const char *evidence_errno_name(int err, char *buf, size_t cap);

#endif
