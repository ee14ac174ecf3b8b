/*
 * Hand-built struct evidence (aggregator/analysis/evidence.h) for the tests
 * of what reasons from it (summaries, advice): services with their span
 * and baseline figures, calls, anomalies and actions, put together as
 * evidence_gather() would leave them (services sorted by name, edges
 * indexed, anomalies oldest first). Release with evidence_release().
 *
 * Header-only, static inline: the objects of tests/lib/ are linked into
 * every unit test, also those that link no aggregator code.
 */
#ifndef PRP_TESTS_LIB_EVIDENCE_BUILD_H
#define PRP_TESTS_LIB_EVIDENCE_BUILD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/evidence.h"

/* Starts @ev over [until - span_ms, until) with a baseline as long, in 60 steps. */
static inline void evb_init(struct evidence *ev, int64_t until_ms, int64_t span_ms)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->tenant, sizeof(ev->tenant), "default");
	ev->until_ms = until_ms;
	ev->since_ms = until_ms - span_ms;
	ev->baseline_since_ms = ev->since_ms - span_ms;
	ev->step_ms = span_ms / EVIDENCE_STEPS_MAX;
	ev->nsteps = EVIDENCE_STEPS_MAX;
	ev->services = calloc(EVIDENCE_SERVICES_MAX, sizeof(*ev->services));
	ev->edges = calloc(EVIDENCE_EDGES_MAX, sizeof(*ev->edges));
	ev->anomalies = calloc(EVIDENCE_ANOMALIES_MAX, sizeof(*ev->anomalies));
	ev->actions = calloc(EVIDENCE_ACTIONS_MAX, sizeof(*ev->actions));
}

/* One range's figures of a service, the same in every step. */
struct evb_stats {
	double rate;	 /* requests per second */
	double err;	 /* 5xx fraction */
	double p50, p99; /* ms */
	double sys_ms;	 /* syscall time per request; 0: no syscall data */
	double alloc;	 /* memory syscalls per request */
};

static inline void evb_stats_fill(struct evidence_stats *s, const struct evb_stats *f,
				  int64_t range_ms)
{
	double secs = (double)range_ms / 1000.0;

	memset(s, 0, sizeof(*s));
	s->windows = f->rate > 0 || f->sys_ms > 0 ? (uint64_t)(secs > 1 ? secs : 1) : 0;
	s->requests = (uint64_t)(f->rate * secs + 0.5);
	s->errors = (uint64_t)((double)s->requests * f->err + 0.5);
	s->request_rate = (struct evidence_level){ f->rate, f->rate, f->rate };
	s->error_rate = (struct evidence_level){ f->err, f->err, f->err };
	s->p50_ms = (struct evidence_level){ f->p50, f->p50, f->p50 };
	s->p99_ms = (struct evidence_level){ f->p99, f->p99, f->p99 };
	s->syscalls = f->sys_ms > 0 ? s->requests * 10 + 1 : 0;
	s->syscall_ms_per_request = s->requests ? f->sys_ms : -1;
	s->alloc_syscalls_per_request = s->requests ? f->alloc : -1;
}

/* Adds a watched service with the figures of its span and its baseline. */
static inline struct evidence_service *evb_service(struct evidence *ev, const char *name,
						   const struct evb_stats *span,
						   const struct evb_stats *base)
{
	struct evidence_service *sv = &ev->services[ev->nservices++];

	memset(sv, 0, sizeof(*sv));
	snprintf(sv->name, sizeof(sv->name), "%s", name);
	sv->observed = true;
	sv->first_seen_ms = ev->baseline_since_ms;
	sv->last_seen_ms = ev->until_ms;
	evb_stats_fill(&sv->span, span, ev->until_ms - ev->since_ms);
	evb_stats_fill(&sv->baseline, base, ev->since_ms - ev->baseline_since_ms);
	sv->last_active_step = sv->span.requests ? (int)ev->nsteps - 1 : -1;
	for (size_t i = 0; sv->span.requests && i < ev->nsteps; i++)
		sv->steps[i] = (struct evidence_step){ .requests = 1,
						       .p50_ms = span->p50,
						       .p99_ms = span->p99 };
	return sv;
}

/* A peer known only as the target of calls. */
static inline void evb_unwatched(struct evidence *ev, const char *name)
{
	struct evidence_service *sv = &ev->services[ev->nservices++];

	memset(sv, 0, sizeof(*sv));
	snprintf(sv->name, sizeof(sv->name), "%s", name);
	sv->last_active_step = -1;
}

/* Adds an errno of @service's syscalls: @span and @base failures. */
static inline void evb_errno(struct evidence_service *sv, const char *name, const char *syscall,
			     uint64_t span, uint64_t base)
{
	struct evidence_errno *e = &sv->errnos[sv->nerrnos++];

	memset(e, 0, sizeof(*e));
	e->err = 111;
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->syscall, sizeof(e->syscall), "%s", syscall);
	e->span = span;
	e->baseline = base;
}

/* Calls of @from to @to: requests, errors and p99 in the span, then in the baseline. */
static inline void evb_edge(struct evidence *ev, const char *from, const char *to, uint64_t req,
			    uint64_t err, double p99, uint64_t breq, uint64_t berr, double bp99)
{
	struct evidence_edge *e = &ev->edges[ev->nedges++];

	memset(e, 0, sizeof(*e));
	snprintf(e->from, sizeof(e->from), "%s", from);
	snprintf(e->to, sizeof(e->to), "%s", to);
	e->span = (struct evidence_calls){ req, err, p99 / 2, p99 };
	e->baseline = (struct evidence_calls){ breq, berr, bp99 / 2, bp99 };
}

/* An anomaly started @start_ms, resolved at @end_ms (0: open). */
static inline struct evidence_anomaly *evb_anomaly(struct evidence *ev, int64_t id,
						   const char *service, const char *metric,
						   enum store_severity sev, int64_t start_ms,
						   int64_t end_ms, double peak, double mean)
{
	struct evidence_anomaly *a = &ev->anomalies[ev->nanomalies++];

	memset(a, 0, sizeof(*a));
	a->id = id;
	snprintf(a->service, sizeof(a->service), "%s", service);
	snprintf(a->metric, sizeof(a->metric), "%s", metric);
	a->severity = sev;
	a->open = end_ms == 0;
	a->resolved_ms = end_ms;
	a->started_ms = start_ms;
	a->score = 0.5 + 0.2 * (double)sev;
	a->confidence = 0.9;
	a->peak_value = a->current_value = peak;
	a->expected_mean = mean;
	a->expected_min = mean * 0.5;
	a->expected_max = mean * 1.5;
	a->before_span = start_ms < ev->since_ms;
	return a;
}

static inline void evb_action(struct evidence *ev, int64_t id, const char *service,
			      const char *type, const char *policy, enum store_action_status status,
			      int64_t created_ms)
{
	struct evidence_action *a = &ev->actions[ev->nactions++];

	memset(a, 0, sizeof(*a));
	a->id = id;
	snprintf(a->service, sizeof(a->service), "%s", service);
	snprintf(a->type, sizeof(a->type), "%s", type);
	snprintf(a->policy_name, sizeof(a->policy_name), "%s", policy);
	a->status = status;
	a->created_ms = created_ms;
	a->completed_ms = status >= STORE_ACTION_SUCCEEDED ? created_ms + 1000 : 0;
	snprintf(a->reason, sizeof(a->reason), "latency_p99 > 150 held for 10 s");
}

static inline int evb_cmp_service(const void *a, const void *b)
{
	return strcmp(((const struct evidence_service *)a)->name,
		      ((const struct evidence_service *)b)->name);
}

static inline int evb_cmp_anomaly(const void *a, const void *b)
{
	const struct evidence_anomaly *x = a, *y = b;

	if (x->started_ms != y->started_ms)
		return x->started_ms < y->started_ms ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Sorts and indexes as evidence_gather() leaves its result. */
static inline void evb_finish(struct evidence *ev)
{
	qsort(ev->services, ev->nservices, sizeof(*ev->services), evb_cmp_service);
	qsort(ev->anomalies, ev->nanomalies, sizeof(*ev->anomalies), evb_cmp_anomaly);
	for (size_t i = 0; i < ev->nedges; i++) {
		ev->edges[i].from_idx = evidence_service_index(ev, ev->edges[i].from);
		ev->edges[i].to_idx = evidence_service_index(ev, ev->edges[i].to);
	}
}

#endif
