/*
 * The command runner (aggregator/policy/runner.c): output, exit codes,
 * the output bound, and the timeout that kills the whole process group.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/policy/runner.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"

TestSuite(runner, .fini = test_no_leaks, .timeout = 30);

Test(runner, captures_stdout_and_stderr_and_the_exit_code)
{
	struct runner_result r;

	cr_assert_eq(runner_run("echo one; echo two >&2; exit 7", 5000, 1024, &r), 0);
	cr_expect_eq(r.end, RUNNER_EXITED);
	cr_expect_eq(r.exit_code, 7);
	cr_expect(strstr(buf_str(&r.output), "one") && strstr(buf_str(&r.output), "two"), "%s",
		  buf_str(&r.output));
	runner_result_release(&r);
}

Test(runner, keeps_output_up_to_its_bound_and_counts_the_rest)
{
	struct runner_result r;

	cr_assert_eq(runner_run("head -c 100000 /dev/zero", 5000, 1000, &r), 0);
	cr_expect_eq(r.end, RUNNER_EXITED);
	cr_expect_eq(r.output.len, 1000);
	cr_expect_eq(r.dropped, 99000);
	runner_result_release(&r);
}

Test(runner, stdin_is_empty_and_no_descriptor_leaks_in)
{
	struct runner_result r;

	cr_assert_eq(runner_run("cat; ls /proc/self/fd | wc -l", 5000, 1024, &r), 0);
	cr_expect_eq(r.exit_code, 0);
	/* 0, 1, 2 and the one ls opens to list them */
	cr_expect_eq(atoi(buf_str(&r.output)), 4, "%s", buf_str(&r.output));
	runner_result_release(&r);
}

Test(runner, a_timeout_kills_the_group_even_children_ignoring_sigterm)
{
	struct runner_result r;
	uint64_t t0 = time_mono_ns();

	cr_assert_eq(runner_run("trap '' TERM; sleep 30 & sleep 30; true", 200, 1024, &r), 0);
	cr_expect_eq(r.end, RUNNER_TIMED_OUT);
	cr_expect_lt((time_mono_ns() - t0) / NSEC_PER_MSEC, 2000);
	cr_expect_eq(proc_group_alive(r.pgid), 0, "process group %d still has members",
		     (int)r.pgid);
	runner_result_release(&r);
}
