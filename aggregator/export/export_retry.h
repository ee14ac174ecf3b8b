/*
 * The pacing the exporters' senders share (loki.c, otlp.c): a pause after
 * a failed attempt that doubles with jitter (or honours a Retry-After), the
 * stop's deadline that cuts both the pauses and an attempt's timeout, and
 * the CLOCK_MONOTONIC condition the pauses wait on. The deadline is a
 * CLOCK_MONOTONIC instant in ns, 0 before the stop, set by another thread:
 * it is read atomically, without the caller's mutex. Thread-safe; the
 * random state is the caller's.
 */
#ifndef PRP_AGGREGATOR_EXPORT_EXPORT_RETRY_H
#define PRP_AGGREGATOR_EXPORT_EXPORT_RETRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Initialises @c as a condition whose timed waits use CLOCK_MONOTONIC. */
void export_retry_cond_init(pthread_cond_t *c);

/* Waits on @c (from export_retry_cond_init(), @m held) for at most @ns. */
void export_retry_wait_ns(pthread_cond_t *c, pthread_mutex_t *m, uint64_t ns);

/* True once the deadline *@abort_at_ns has passed. */
bool export_retry_past_deadline(const _Atomic uint64_t *abort_at_ns);

/* A seed for export_retry_backoff_ns()'s jitter, never 0. */
uint64_t export_retry_seed(void);

/*
 * The pause after failed attempt @attempt (1, 2, ...): @retry_after_ms
 * when it is >= 0 (the answer's Retry-After), else @backoff_ms doubling
 * per attempt, times [0.8, 1.2); capped at @backoff_max_ms either way.
 * @rng is the jitter's state (export_retry_seed()).
 */
uint64_t export_retry_backoff_ns(unsigned backoff_ms, unsigned backoff_max_ms, unsigned attempt,
				 int64_t retry_after_ms, uint64_t *rng);

/*
 * The time an attempt may take now: @timeout_ms, cut to what is left
 * before the deadline (rounded up); 0 once it has passed.
 */
unsigned export_retry_timeout_ms(const _Atomic uint64_t *abort_at_ns, unsigned timeout_ms);

/*
 * Sleeps @ns on @c with @m held, or until the deadline if that comes first
 * (a stop keeps the pauses: a failing receiver is not hammered on the way
 * out). A signal on @c does not end it early.
 */
void export_retry_pause(pthread_cond_t *c, pthread_mutex_t *m, const _Atomic uint64_t *abort_at_ns,
			uint64_t ns);

#endif
