/*
 * Incident summaries (POST /summarize, API.md "Analysis"): the anomalies of
 * a span grouped into incidents, each with when it started and ended, the
 * services it touched, its worst severity, the signals that moved (with
 * their numbers), what prp did (the actions in it, with their status) and
 * its state now; then short Markdown over all of it.
 *
 * Grouping. Two anomalies are in one incident when they overlap in time
 * (or one starts at most SUMMARY_JOIN_GAP_MS after the other ended: the
 * detector sees a cascade's victims a little after their cause) and the
 * call graph does not say they are unrelated: same service, or services
 * connected by calls at any depth (either way, in the span or the
 * baseline), or a service without any call in the graph (the graph cannot
 * tell). So concurrent trouble in two separate parts of the graph is two
 * incidents, and a cascade along calls is one. Grouping is transitive.
 *
 * Actions belong to the incident on their service that was under way when
 * they were made (from SUMMARY_ACTION_BEFORE_MS before its start to
 * SUMMARY_ACTION_AFTER_MS after its end: a breaker half-opens and closes
 * after the anomaly resolved); the others are listed apart.
 *
 * Pure: reads a struct evidence (evidence.h), no I/O; any thread.
 */
#ifndef PRP_AGGREGATOR_ANALYSIS_SUMMARY_H
#define PRP_AGGREGATOR_ANALYSIS_SUMMARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/analysis/evidence.h"

#define SUMMARY_JOIN_GAP_MS	 (2 * 60 * 1000)
#define SUMMARY_ACTION_BEFORE_MS (60 * 1000)
#define SUMMARY_ACTION_AFTER_MS	 (5 * 60 * 1000)
/* Signals kept per incident, the anomalies' first. */
#define SUMMARY_SIGNALS_MAX 8
/* Incidents told in the Markdown; the rest are counted (all are in the JSON). */
#define SUMMARY_PROSE_INCIDENTS 5
#define SUMMARY_SIGNAL_TEXT_MAX 160

/* A signal that moved, against its typical value. */
struct summary_signal {
	char service[SERVICE_NAME_MAX];
	char metric[STORE_METRIC_MAX];	    /* a metric name, or "errno" for errno counts */
	char what[32];			    /* "ECONNREFUSED on connect" for errnos; "" otherwise */
	double value, typical;		    /* in the metric's unit; errnos per minute */
	int64_t anomaly_id;		    /* the anomaly it comes from; 0: the span's figures */
	char text[SUMMARY_SIGNAL_TEXT_MAX]; /* "payments p99 312 ms vs 0.4 ms typical" */
};

struct summary_incident {
	int64_t id;		      /* the id of its first anomaly: stable across calls */
	int64_t started_ms, ended_ms; /* ended_ms: the last anomaly resolved; 0 while open */
	bool open;		      /* an anomaly of it is still open */
	enum store_severity severity; /* the worst of its anomalies */
	size_t nopen;
	size_t *anomalies; /* indexes into ev->anomalies, oldest first */
	size_t nanomalies;
	char (*services)[SERVICE_NAME_MAX]; /* in the order their trouble started */
	size_t nservices;
	size_t *actions; /* indexes into ev->actions, oldest first */
	size_t nactions;
	struct summary_signal signals[SUMMARY_SIGNALS_MAX];
	size_t nsignals;
};

struct summary_options {
	/* NULL (or 0): every service; else only the anomalies and actions of these (borrowed) */
	const char *const *services;
	size_t nservices;
	const char *range_text; /* the span as asked ("1h"), for the prose; borrowed */
};

struct summary {
	struct summary_incident *incidents; /* oldest first */
	size_t nincidents;
	size_t nanomalies;		    /* in incidents */
	size_t severity[3];		    /* incidents by their worst severity */
	size_t nopen;			    /* incidents open now */
	char (*affected)[SERVICE_NAME_MAX]; /* services with an anomaly, by name */
	size_t naffected;
	size_t *other_actions; /* indexes into ev->actions in no incident */
	size_t nother_actions;
	size_t services_watched; /* observed services that reported in the span (or asked for) */
	bool truncated;		 /* the evidence left anomalies or actions out */
};

/*
 * Builds the incidents of @ev (borrowed; must outlive @out, whose indexes
 * point into it) under @o (borrowed for the call) into @out (release it
 * with summary_release()). Cannot fail.
 */
void summary_build(const struct evidence *ev, const struct summary_options *o, struct summary *out);
void summary_release(struct summary *s);

/*
 * The summary as short Markdown: honest when there is nothing ("No
 * incidents in the last 1h: 3 services watched, all within their
 * baselines."). Caller owns: free().
 */
char *summary_markdown(const struct summary *s, const struct evidence *ev,
		       const struct summary_options *o);

/*
 * The structured answer (API.md POST /summarize, without the prose and the
 * timestamp): incident_count, affected_services, severity_breakdown,
 * anomaly_count, open_incidents, services_watched, incidents [...] and
 * other_actions [...]. Caller owns: json_decref().
 */
json_t *summary_json(const struct summary *s, const struct evidence *ev);

/* The task given to an LLM to rewrite @markdown (borrowed). Caller owns: free(). */
char *summary_llm_task(const struct summary_options *o, const char *markdown);

#endif
