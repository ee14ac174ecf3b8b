/*
 * Shared by advice.c (how services moved, which rule matches) and
 * advice_act.c (each action's words, risk and policy, and the output):
 * not part of advice.h's interface.
 */
#ifndef PRP_AGGREGATOR_ANALYSIS_ADVICE_INTERNAL_H
#define PRP_AGGREGATOR_ANALYSIS_ADVICE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/analysis/advice.h"
#include "common/compiler.h"

/* A dependency with this many callers makes a breaker on it a high risk. */
#define ADVICE_MANY_CALLERS 3

/* How one service moved over the span against its baseline. */
struct advice_health {
	const struct evidence_service *sv; /* NULL: not in the evidence */
	bool observed, base;		   /* watched; requests in the baseline */
	double p99, p99_typ, p50, p50_typ, err, err_typ, rate, rate_typ;
	double sys, sys_typ, alloc, alloc_typ;
	bool sys_known;
	int64_t silent_ms;
	bool latency_up, errors_up, surge, saturated, stopped, leak, cpu_bound;
};

/* One advice being built. */
struct advice_ctx {
	const struct evidence *ev;
	const struct advice_target *t;
	struct advice_health h; /* of the target's service */
	int idx;		/* its index in ev, or -1 */
	const char *metric;	/* the anomaly's, or the worst that moved */
	size_t head;		/* length of the rationale's opening (the anomaly's numbers) */
	struct advice *out;
};

/* ---- advice.c ---- */
/* How @name moved in @ev (zeroed, observed false, when it is not watched). */
void advice_health_of(const struct evidence *ev, const char *name, struct advice_health *h);
/* Whether the calls of @e got worse (errors or p99) against the baseline. */
bool advice_edge_sick(const struct evidence_edge *e);
/* printf-appends to the NUL-terminated @buf of @cap bytes, cutting what does not fit. */
void advice_add(char *buf, size_t cap, const char *fmt, ...) PRP_PRINTF(3, 4);
/* "payments p99 312 ms vs 0.4 ms typical, error rate 35% vs 0.1% typical" (what moved). */
void advice_moves_text(char *buf, size_t cap, const char *name, const struct advice_health *h);
/* "calls from orders to payments: p99 310 ms vs 1.2 ms before, 140 of 400 answered 5xx (...)". */
void advice_edge_text(char *buf, size_t cap, const struct evidence_edge *e);

/* ---- advice_act.c: each sets c->out's action, words, risk and policy ---- */
void advice_restart(struct advice_ctx *c, enum advice_rule rule, const char *target,
		    const struct advice_health *h);
/* @e: the calls that show the callers piling up (may be NULL); @ncallers: all its callers. */
void advice_breaker(struct advice_ctx *c, enum advice_rule rule, const char *target,
		    const struct advice_health *h, const struct evidence_edge *e, size_t ncallers);
void advice_scale(struct advice_ctx *c, enum advice_rule rule, const char *target,
		  const struct advice_health *h);
void advice_rate_limit(struct advice_ctx *c, const char *target, const struct advice_health *h);
/* The alert on the target; @why (borrowed) goes into the rationale. */
void advice_alert(struct advice_ctx *c, enum advice_rule rule, const char *why);

#endif
