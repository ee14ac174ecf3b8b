/*
 * The exporters' pacing (aggregator/export/export_retry.c): the backoff
 * doubles within its jitter and its cap, a Retry-After replaces it (capped,
 * no jitter), an attempt's timeout is cut to the stop's deadline, and a
 * pause ends at that deadline.
 */
#include <criterion/criterion.h>
#include <pthread.h>

#include "aggregator/export/export_retry.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"

TestSuite(export_retry, .fini = test_no_leaks);

Test(export_retry, backoff_doubles_with_jitter_up_to_its_cap)
{
	uint64_t rng = export_retry_seed();

	cr_assert_neq(rng, 0);
	for (int i = 0; i < 200; i++) {
		for (unsigned attempt = 1; attempt <= 8; attempt++) {
			uint64_t base = 500u << (attempt - 1), ms;
			uint64_t ns = export_retry_backoff_ns(500, 3000, attempt, -1, &rng);

			ms = base < 3000 ? base : 3000;
			cr_assert_geq(ns, ms * NSEC_PER_MSEC * 8 / 10, "attempt %u: %llu", attempt,
				      (unsigned long long)ns);
			cr_assert_lt(ns, ms * NSEC_PER_MSEC * 12 / 10, "attempt %u: %llu", attempt,
				     (unsigned long long)ns);
		}
	}
}

Test(export_retry, a_retry_after_replaces_the_backoff_within_the_cap)
{
	uint64_t rng = 1;

	cr_assert_eq(export_retry_backoff_ns(500, 30000, 3, 7000, &rng), 7000 * NSEC_PER_MSEC);
	cr_assert_eq(export_retry_backoff_ns(500, 30000, 1, 0, &rng), 0);
	cr_assert_eq(export_retry_backoff_ns(500, 30000, 1, 90000, &rng), 30000 * NSEC_PER_MSEC);
}

Test(export_retry, the_timeout_is_cut_to_the_deadline)
{
	_Atomic uint64_t at;
	unsigned ms;

	atomic_init(&at, 0);
	cr_assert_eq(export_retry_timeout_ms(&at, 10000), 10000);
	cr_assert_not(export_retry_past_deadline(&at));
	atomic_store(&at, time_mono_ns() + 2 * NSEC_PER_SEC);
	ms = export_retry_timeout_ms(&at, 10000);
	cr_assert(ms > 1500 && ms <= 2001, "%u", ms);
	cr_assert_eq(export_retry_timeout_ms(&at, 100), 100);
	atomic_store(&at, time_mono_ns() - 1);
	cr_assert_eq(export_retry_timeout_ms(&at, 10000), 0);
	cr_assert(export_retry_past_deadline(&at));
}

Test(export_retry, a_pause_ends_at_the_deadline)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c;
	_Atomic uint64_t at;
	uint64_t t0 = time_mono_ns(), took;

	export_retry_cond_init(&c);
	atomic_init(&at, t0 + 50 * NSEC_PER_MSEC);
	pthread_mutex_lock(&mu);
	export_retry_pause(&c, &mu, &at, 10 * NSEC_PER_SEC);
	pthread_mutex_unlock(&mu);
	took = time_mono_ns() - t0;
	cr_assert(took >= 50 * NSEC_PER_MSEC && took < 2 * NSEC_PER_SEC, "%llu ns",
		  (unsigned long long)took);
	pthread_cond_destroy(&c);
}
