/*
 * Per-service objectives (aggregator/detect/slo.c): the defaults, the
 * overrides of `slo.service`, and every refusal naming the bad entry.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "aggregator/detect/slo.h"
#include "tests/lib/leakcheck.h"

TestSuite(slo, .fini = test_no_leaks);

Test(slo, overrides_apply_to_their_service_and_the_defaults_to_the_rest)
{
	const char *items[] = { "payments:latency_p99_ms=300,error_rate=0.01",
				"users:error_rate=0.2" };
	struct slo_table t, copy;
	char err[256];

	cr_assert_eq(slo_table_init(&t, 500, 0.05, items, 2, err, sizeof(err)), 0, "%s", err);
	slo_table_copy(&copy, &t);
	slo_table_release(&t);
	cr_expect_float_eq(slo_table_get(&copy, "payments", SIGNAL_LATENCY_P99), 300, 1e-9);
	cr_expect_float_eq(slo_table_get(&copy, "payments", SIGNAL_ERROR_RATE), 0.01, 1e-12);
	cr_expect_float_eq(slo_table_get(&copy, "users", SIGNAL_LATENCY_P99), 500, 1e-9,
			   "users overrides only its error rate");
	cr_expect_float_eq(slo_table_get(&copy, "users", SIGNAL_ERROR_RATE), 0.2, 1e-12);
	cr_expect_float_eq(slo_table_get(&copy, "orders", SIGNAL_ERROR_RATE), 0.05, 1e-12);
	cr_expect_eq(slo_table_get(&copy, "payments", SIGNAL_REQUEST_RATE), 0,
		     "request rate has no objective");
	slo_table_release(&copy);
}

Test(slo, bad_entries_are_refused_with_the_entry_named)
{
	static const char *const bad[] = { "payments", ":latency_p99_ms=3", "payments:",
					   "payments:latency_p99_ms=fast", "payments:p50=3",
					   "payments:error_rate=2", "payments:latency_p99_ms=-1" };
	struct slo_table t;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(slo_table_init(&t, 500, 0.05, &bad[i], 1, err, sizeof(err)), -EINVAL,
			     "'%s' accepted", bad[i]);
		cr_expect(strstr(err, "slo.service") != NULL, "'%s': %s", bad[i], err);
		cr_expect_eq(t.n, 0);
	}
	const char *twice[] = { "a:error_rate=0.1", "a:latency_p99_ms=9" };

	cr_expect_eq(slo_table_init(&t, 500, 0.05, twice, 2, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "twice") != NULL, "%s", err);
}
