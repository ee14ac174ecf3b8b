/*
 * The breaker loop's table and decisions (aggregator/policy/breaker_loop.c),
 * at instants the test chooses.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/policy/breaker_loop.h"
#include "tests/lib/leakcheck.h"

TestSuite(breaker_loop, .fini = test_no_leaks);

#define T0 1700000000000LL

static size_t due(struct breaker_loop *b, int64_t now, struct breaker_loop_due *one)
{
	struct breaker_loop_due *v = NULL;
	size_t n = breaker_loop_take_due(b, now, &v);

	if (n && one)
		*one = v[0];
	free(v);
	return n;
}

Test(breaker_loop, an_open_breaker_half_opens_after_its_duration_and_once)
{
	struct breaker_loop *b = breaker_loop_new();
	struct breaker_loop_due d;

	breaker_loop_opened(b, "t", "payments", "p", 60000, T0);
	cr_expect_eq(breaker_loop_count(b), 1);
	cr_expect_eq(due(b, T0 + 59999, NULL), 0);
	cr_assert_eq(due(b, T0 + 60000, &d), 1);
	cr_expect_eq(d.kind, BREAKER_LOOP_DUE_HALF_OPEN);
	cr_expect_str_eq(d.b.policy_name, "p");
	/* in flight until told what went out */
	cr_expect_eq(due(b, T0 + 61000, NULL), 0);
	breaker_loop_settle(b, "t", "payments");
	cr_expect_eq(due(b, T0 + 61000, NULL), 1);
	breaker_loop_free(b);
}

Test(breaker_loop, another_open_extends_and_never_shortens)
{
	struct breaker_loop *b = breaker_loop_new();
	struct executor_breaker *v;
	size_t n;

	breaker_loop_opened(b, "t", "payments", "p", 60000, T0);
	breaker_loop_opened(b, "t", "payments", "p", 10000, T0 + 1000);
	cr_assert_eq(breaker_loop_list(b, "t", &v, &n), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(v[0].next_ms, T0 + 60000);
	cr_expect_eq(v[0].opened_ms, T0);
	free(v);
	breaker_loop_opened(b, "t", "payments", "p", 120000, T0 + 1000);
	cr_assert_eq(breaker_loop_list(b, NULL, &v, &n), 0);
	cr_expect_eq(v[0].next_ms, T0 + 121000);
	free(v);
	cr_assert_eq(breaker_loop_list(b, "other", &v, &n), 0);
	cr_expect_eq(n, 0);
	free(v);
	breaker_loop_free(b);
}

Test(breaker_loop, a_probe_is_judged_good_bad_or_unknown)
{
	struct breaker_loop *b = breaker_loop_new();
	struct breaker_loop_due d;
	char reason[256];
	int64_t t = T0 + 60000;

	breaker_loop_opened(b, "t", "payments", "p", 60000, T0);
	cr_assert_eq(due(b, t, &d), 1);
	cr_assert(breaker_loop_half_opened(b, "t", "payments", t, 10000));
	cr_expect_eq(due(b, t + 9999, NULL), 0);
	cr_assert_eq(due(b, t + 10000, &d), 1);
	cr_expect_eq(d.kind, BREAKER_LOOP_DUE_JUDGE);
	cr_expect_eq(d.half_open_ms, t);

	cr_expect_eq(breaker_loop_judge(b, &d, EXECUTOR_HEALTH_BAD, t + 10000, 10000, reason,
					sizeof(reason)),
		     BREAKER_LOOP_REOPEN);
	cr_expect(!strncmp(reason, "reopened", 8), "%s", reason);
	breaker_loop_opened(b, "t", "payments", "p", 60000, t + 10000);
	t += 70000;
	cr_assert_eq(due(b, t, &d), 1);
	cr_expect_eq(d.b.reopened, 1);
	breaker_loop_half_opened(b, "t", "payments", t, 10000);

	for (int i = 0; i < BREAKER_LOOP_UNKNOWN_WINDOWS - 1; i++) {
		t += 10000;
		cr_assert_eq(due(b, t, &d), 1, "window %d", i);
		cr_expect_eq(breaker_loop_judge(b, &d, EXECUTOR_HEALTH_UNKNOWN, t, 10000, reason,
						sizeof(reason)),
			     BREAKER_LOOP_STAY);
	}
	t += 10000;
	cr_assert_eq(due(b, t, &d), 1);
	cr_expect_eq(breaker_loop_judge(b, &d, EXECUTOR_HEALTH_UNKNOWN, t, 10000, reason,
					sizeof(reason)),
		     BREAKER_LOOP_CLOSE);
	cr_expect(strstr(reason, "no evidence"), "%s", reason);
	cr_expect(breaker_loop_forget(b, "t", "payments"));
	cr_expect_not(breaker_loop_forget(b, "t", "payments"));
	cr_expect_eq(breaker_loop_count(b), 0);

	breaker_loop_opened(b, "t", "users", "", 1000, T0);
	cr_assert_eq(due(b, T0 + 1000, &d), 1);
	breaker_loop_half_opened(b, "t", "users", T0 + 1000, 10000);
	cr_assert_eq(due(b, T0 + 11000, &d), 1);
	cr_expect_eq(breaker_loop_judge(b, &d, EXECUTOR_HEALTH_GOOD, T0 + 11000, 10000, reason,
					sizeof(reason)),
		     BREAKER_LOOP_CLOSE);
	cr_expect_str_eq(reason, "closed: the service is healthy again");
	breaker_loop_free(b);
}
