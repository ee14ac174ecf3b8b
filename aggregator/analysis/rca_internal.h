/*
 * What rca.c (the judging) and rca_text.c (the words) share, and nothing
 * else sees: the judgement of each service and the constants of
 * docs/analysis.md.
 */
#ifndef PRP_AGGREGATOR_ANALYSIS_RCA_INTERNAL_H
#define PRP_AGGREGATOR_ANALYSIS_RCA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/analysis/evidence.h"
#include "aggregator/analysis/rca.h"

/*
 * Floors: a move smaller than these never matters, whatever its ratio
 * (docs/analysis.md says why each is what it is).
 */
#define RCA_P50_FLOOR_MS  5.0
#define RCA_P99_FLOOR_MS  20.0
#define RCA_LAT_RATIO_MIN 1.5
#define RCA_ERR_FLOOR	  0.02
#define RCA_ERR_FULL	  0.20
#define RCA_ERRORS_MIN	  3
/* A step is idle below this fraction of the baseline's requests per step ... */
#define RCA_IDLE_FRACTION 0.1
/* ... when the baseline had at least this many per step. */
#define RCA_IDLE_STEP_MIN 3.0
/* Memory-allocation syscalls per request that can mean memory growing. */
#define RCA_ALLOC_MIN 0.2
/* Calls that fell below this fraction of what the caller's traffic predicts collapsed. */
#define RCA_COLLAPSE 0.2
/* Sick below this is healthy; a root cause scores at least RCA_CAUSE_MIN. */
#define RCA_SICK_MIN  0.15
#define RCA_CAUSE_MIN 0.25
/* A later onset's weight halves about every 7 s past the tolerance. */
#define RCA_ONSET_TAU_S 10.0

#define RCA_W_OWN	0.55
#define RCA_W_KERNEL	0.15
#define RCA_W_FIRST	0.15
#define RCA_W_DEPTH	0.15

/* The comparison of the span with the baseline that stood out most. */
struct rca_pick {
	double sev;	  /* in [0, 1]; 0: nothing stood out */
	const char *what; /* "p50", "p99", "5xx": a literal */
	const char *kind; /* "total", "typical", "peak" (evidence.h): a literal */
	double span, base;
};

/* The judgement of one service. */
struct rca_node {
	const struct evidence_service *sv;
	bool candidate; /* may be the cause (rca_options.service narrows it) */
	/* its own windows */
	struct rca_pick lat, err;
	double idle;		 /* no request in a run of steps where the baseline had plenty */
	double mem;		 /* memory growing: allocation syscalls per request up */
	int idle_run, idle_from; /* the longest such run, in steps, and its first step */
	/* its callers' calls to it */
	bool has_callers, has_callees;
	double peer_lat, peer_err, unreach, peer;
	int peer_lat_edge, peer_err_edge, unreach_edge; /* edge indexes; -1 */
	double unreach_lost, unreach_expected, unreach_cf;
	uint64_t unreach_net;
	const struct evidence_errno *unreach_errno; /* the caller's top network errno, or NULL */
	/* its anomalies */
	double an_lat, an_err, an_traffic, an_kernel, an_lat_delta;
	int first_anomaly; /* index in evidence.anomalies; -1 */
	/* what its dependencies explain */
	double callee_sick;
	double lat_explained, err_explained; /* fractions of its rise */
	double dep_lat_ms, dep_err, err_extra;
	int lat_by, err_by; /* the callee explaining most; -1 */
	bool alloc_up, retrans_up;
	/* the score and its parts (rca_suspect) */
	double sick, own, first, depth, kernel, score;
	int64_t onset_ms;
	size_t sick_callers; /* sick services that depend on it */
	enum rca_role role;
};

struct rca_ctx {
	const struct evidence *ev;
	struct rca_node *nodes; /* one per ev->services */
	bool *reach;		/* graph_reach(): reach[i * n + j], i depends on j */
	int target;		/* index of the service asked about; -1 */
	const struct evidence_anomaly *target_anomaly; /* the anomaly asked about, or NULL */
	int64_t first_onset_ms;
	struct rca_node **order; /* the suspects, best first */
	size_t norder;
};

/* Fills @out from the ranked @c: suspects with their evidence, the cause, events, Markdown. */
void rca_text_result(const struct rca_ctx *c, struct rca_result *out);
/* Fills @out with no cause and @why, plus the events of the evidence. */
void rca_text_nothing(const struct rca_ctx *c, struct rca_result *out, const char *why);

#endif
