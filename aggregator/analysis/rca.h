/*
 * Root cause analysis: from the evidence of a span (evidence.h) to a ranked
 * list of suspects, each with a score in [0, 1] and its evidence in plain
 * words with the numbers, the root cause (the top suspect), a confidence,
 * the anomalies and actions of the span in time order, and a short Markdown
 * account of the reasoning. The method and the scoring formula, and why
 * they are what they are, are in docs/analysis.md.
 *
 * A pure function of its input: no store, no clock, no globals; any thread.
 */
#ifndef PRP_AGGREGATOR_ANALYSIS_RCA_H
#define PRP_AGGREGATOR_ANALYSIS_RCA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/analysis/evidence.h"
#include "common/compiler.h"

#define RCA_SUSPECTS_MAX 10
#define RCA_EVIDENCE_MAX 8
#define RCA_EVENTS_MAX	 64

/* What a suspect looks like once the call graph is taken into account. */
enum rca_role {
	RCA_ROLE_CAUSE = 0,   /* its trouble is its own */
	RCA_ROLE_VICTIM = 1,  /* its trouble is explained by a sick dependency */
	RCA_ROLE_UNCLEAR = 2, /* sick, partly explained */
};

struct rca_suspect {
	char service[SERVICE_NAME_MAX];
	double score; /* in [0, 1]; the list is sorted by it, highest first */
	enum rca_role role;
	/* the parts of the score (docs/analysis.md), each in [0, 1] */
	double sick;  /* how far it is from its baseline, whatever the reason */
	double own;   /* the part of it no sick dependency explains */
	double first; /* 1 for the earliest onset, less for later ones */
	double depth; /* 1 when every other sick service depends on it, 0 when it depends on them */
	double kernel;			  /* kernel evidence that points at it */
	int64_t onset_ms;		  /* when its trouble began; 0 when unknown */
	char *evidence[RCA_EVIDENCE_MAX]; /* owned; plain sentences with the numbers */
	size_t nevidence;
};

/* An anomaly or an action, as a line of the timeline. */
struct rca_event {
	int64_t t_ms;
	char service[SERVICE_NAME_MAX];
	char *text; /* owned */
};

struct rca_result {
	/* the root cause: the top suspect, when one is sick enough to name */
	bool found;
	char cause[SERVICE_NAME_MAX];
	char *reason;		      /* owned; never NULL: why, or why there is nothing to name */
	double confidence;	      /* in [0, 1]; 0 when nothing is found */
	struct rca_suspect *suspects; /* sick services, at most RCA_SUSPECTS_MAX */
	size_t nsuspects;
	struct rca_event *events; /* oldest first, at most RCA_EVENTS_MAX */
	size_t nevents;
	char *markdown; /* owned; never NULL */
};

struct rca_options {
	/*
	 * The service whose trouble is to be explained (NULL: the incident as
	 * a whole): only it and what it depends on, at any depth, can be the
	 * cause.
	 */
	const char *service;
	/* an anomaly of the evidence to explain (0: none); its service is then the target */
	int64_t anomaly_id;
};

/*
 * Analyses @ev into @out (initialized here; release it whatever the result).
 * Returns 0 (also when there is nothing to analyse: out->found is false and
 * the reason says so), or -EINVAL when @o names a service or anomaly that
 * @ev does not hold.
 */
PRP_MUST_CHECK int rca_analyse(const struct evidence *ev, const struct rca_options *o,
			       struct rca_result *out);
void rca_result_release(struct rca_result *r);

/* "cause", "victim", "unclear". */
const char *rca_role_name(enum rca_role role);

#endif
