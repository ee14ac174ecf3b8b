/*
 * The exporters' pacing (export_retry.h). The jitter comes from xorshift64*,
 * which is plenty: it only keeps several senders from retrying in step.
 */
#include "aggregator/export/export_retry.h"

#include <time.h>

#include "common/timeutil.h"

void export_retry_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

void export_retry_wait_ns(pthread_cond_t *c, pthread_mutex_t *m, uint64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ns / NSEC_PER_SEC);
	ts.tv_nsec += (long)(ns % NSEC_PER_SEC);
	if (ts.tv_nsec >= (long)NSEC_PER_SEC) {
		ts.tv_sec++;
		ts.tv_nsec -= (long)NSEC_PER_SEC;
	}
	pthread_cond_timedwait(c, m, &ts);
}

bool export_retry_past_deadline(const _Atomic uint64_t *abort_at_ns)
{
	uint64_t at = atomic_load(abort_at_ns);

	return at && time_mono_ns() >= at;
}

uint64_t export_retry_seed(void)
{
	uint64_t x = time_real_ns() ^ (uint64_t)(uintptr_t)&x;

	return x ? x : 1;
}

/* xorshift64*: a double in [0, 1). */
static double next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) / (double)(1ull << 53);
}

uint64_t export_retry_backoff_ns(unsigned backoff_ms, unsigned backoff_max_ms, unsigned attempt,
				 int64_t retry_after_ms, uint64_t *rng)
{
	uint64_t ms = backoff_ms;

	if (retry_after_ms >= 0) {
		ms = (uint64_t)retry_after_ms < backoff_max_ms ? (uint64_t)retry_after_ms
							       : backoff_max_ms;
		return ms * NSEC_PER_MSEC;
	}
	for (unsigned i = 1; i < attempt && ms < backoff_max_ms; i++)
		ms *= 2;
	if (ms > backoff_max_ms)
		ms = backoff_max_ms;
	return (uint64_t)((double)ms * (0.8 + 0.4 * next_random(rng)) * (double)NSEC_PER_MSEC);
}

unsigned export_retry_timeout_ms(const _Atomic uint64_t *abort_at_ns, unsigned timeout_ms)
{
	uint64_t at = atomic_load(abort_at_ns), now;

	if (!at)
		return timeout_ms;
	now = time_mono_ns();
	if (now >= at)
		return 0;
	return (at - now) / NSEC_PER_MSEC < timeout_ms ? (unsigned)((at - now) / NSEC_PER_MSEC) + 1
						       : timeout_ms;
}

void export_retry_pause(pthread_cond_t *c, pthread_mutex_t *m, const _Atomic uint64_t *abort_at_ns,
			uint64_t ns)
{
	uint64_t until = time_mono_ns() + ns;

	for (;;) {
		uint64_t at = atomic_load(abort_at_ns), now = time_mono_ns();

		if (at && at < until)
			until = at;
		if (now >= until)
			return;
		export_retry_wait_ns(c, m, until - now);
	}
}
