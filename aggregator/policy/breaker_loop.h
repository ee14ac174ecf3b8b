/*
 * The circuit breakers' loop (executor.h): which breakers are open or
 * half-open, per (tenant, service), and when each next changes state. It
 * decides; the executor sends the commands and tells it what went out:
 *
 *   open ──(duration)──► half-open ──(probe window)──► judged by health:
 *     ▲                                                  good    → closed
 *     └──────────────────────────── bad ─────────────────┘ unknown → another window,
 *                                                                   closed after 3
 *
 * A breaker with a transition under way is "in flight" and not due again
 * until the executor reports it (opened, half-opened, forgotten) or
 * settles it. Threads: any (one mutex).
 */
#ifndef PRP_AGGREGATOR_POLICY_BREAKER_LOOP_H
#define PRP_AGGREGATOR_POLICY_BREAKER_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/policy/executor.h"

/* Probe windows without evidence after which a half-open breaker closes. */
#define BREAKER_LOOP_UNKNOWN_WINDOWS 3

struct breaker_loop;

struct breaker_loop *breaker_loop_new(void);
void breaker_loop_free(struct breaker_loop *b);

/*
 * An open went out for @service of @tenant at @now_ms: a new breaker, or
 * an open one extended (it half-opens at the later of its time and now +
 * @duration_ms), or a half-open one opened again. @policy_name is kept
 * for the transitions' actions ("" for a manual one).
 */
void breaker_loop_opened(struct breaker_loop *b, const char *tenant, const char *service,
			 const char *policy_name, int64_t duration_ms, int64_t now_ms);
/* A half-open went out at @now_ms: judged @probe_window_ms later. false: no breaker. */
bool breaker_loop_half_opened(struct breaker_loop *b, const char *tenant, const char *service,
			      int64_t now_ms, int64_t probe_window_ms);
/* The breaker is closed: forgotten. true when there was one. */
bool breaker_loop_forget(struct breaker_loop *b, const char *tenant, const char *service);
/* Its transition could not go out: no longer in flight, due again at the next tick. */
void breaker_loop_settle(struct breaker_loop *b, const char *tenant, const char *service);

enum breaker_loop_due_kind {
	BREAKER_LOOP_DUE_HALF_OPEN = 1, /* open for its duration: half-open it */
	BREAKER_LOOP_DUE_JUDGE,		/* half-open for a probe window: judge it */
};
struct breaker_loop_due {
	struct executor_breaker b;
	enum breaker_loop_due_kind kind;
	int64_t half_open_ms; /* JUDGE: since when it probes */
	unsigned windows;     /* JUDGE: windows already judged unknown */
};
/* The breakers due at @now_ms, now in flight; *out is malloc()ed (free()), NULL when none. */
size_t breaker_loop_take_due(struct breaker_loop *b, int64_t now_ms, struct breaker_loop_due **out);

enum breaker_loop_verdict {
	BREAKER_LOOP_STAY = 0, /* no evidence yet: another window; no longer in flight */
	BREAKER_LOOP_CLOSE,
	BREAKER_LOOP_REOPEN, /* counted in reopened */
};
/*
 * The verdict on a JUDGE @d given @health, with the reason for its action
 * in @reason ("closed: the service is healthy again").
 */
enum breaker_loop_verdict breaker_loop_judge(struct breaker_loop *b,
					     const struct breaker_loop_due *d,
					     enum executor_health health, int64_t now_ms,
					     int64_t probe_window_ms, char *reason, size_t len);

/* The breakers of @tenant (NULL: all); *out malloc()ed. Returns 0. */
int breaker_loop_list(struct breaker_loop *b, const char *tenant, struct executor_breaker **out,
		      size_t *n);
size_t breaker_loop_count(struct breaker_loop *b);

#endif
