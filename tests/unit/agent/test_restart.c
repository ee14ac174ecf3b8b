/*
 * agent/restart.c: the restart.command entries are checked and split into
 * words (no shell), the default is systemctl's; a command runs with its
 * output captured (the last 16 KiB, as valid UTF-8), its exit status read,
 * and its whole process group killed at the timeout or on a stop. Needs
 * /bin/sh and sleep, not root.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/restart.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"

TestSuite(restart, .fini = test_no_leaks, .timeout = 30);

static int check(const char *const *items, size_t n, char *err, size_t errlen)
{
	err[0] = '\0';
	return restart_check_commands(items, n, err, errlen);
}

Test(restart, accepts_well_formed_entries)
{
	static const char *const ok[] = { "payments=/usr/local/bin/restart-payments",
					  "orders=systemctl restart orders-v2.service",
					  "a.b_c-1=/bin/sh  -c\ttrue" };
	char err[256];

	cr_expect_eq(check(ok, 3, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(check(NULL, 0, err, sizeof(err)), 0);
}

Test(restart, refuses_bad_entries_and_names_them)
{
	static const char *const cases[][2] = {
		{ "payments", "is not NAME=COMMAND" },
		{ "=/bin/true", "is not NAME=COMMAND" },
		{ "pay ments=/bin/true", "is not NAME=COMMAND" },
		{ "payments=", "has no command" },
		{ "payments=  \t ", "has no command" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=/bin/true",
		  "is not NAME=COMMAND" },
		{ "payments=a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7",
		  "too long" },
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *item = cases[i][0];

		cr_expect_eq(check(&item, 1, err, sizeof(err)), -EINVAL, "'%s' accepted", item);
		cr_expect(strstr(err, "restart.command"), "%s", err);
		cr_expect(strstr(err, cases[i][1]), "'%s': %s", item, err);
	}
}

Test(restart, refuses_a_service_named_twice)
{
	static const char *const twice[] = { "payments=/bin/true", "orders=/bin/true",
					     "payments=/bin/false" };
	char err[256];

	cr_expect_eq(check(twice, 3, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "service 'payments' twice"), "%s", err);
}

Test(restart, splits_the_configured_command_into_words)
{
	static const char *const items[] = { "pay=/bin/echo one", "payments=/opt/r  a\tb  " };
	char store[RESTART_COMMAND_MAX], *argv[RESTART_ARGS_MAX + 1];

	cr_assert_eq(restart_argv(items, 2, "payments", store, sizeof(store), argv), 3);
	cr_expect_str_eq(argv[0], "/opt/r");
	cr_expect_str_eq(argv[1], "a");
	cr_expect_str_eq(argv[2], "b");
	cr_expect_null(argv[3]);
	/* a name that is a prefix of another is not that other */
	cr_assert_eq(restart_argv(items, 2, "pay", store, sizeof(store), argv), 2);
	cr_expect_str_eq(argv[1], "one");
}

Test(restart, defaults_to_systemctl)
{
	static const char *const items[] = { "orders=/bin/true" };
	char store[RESTART_COMMAND_MAX], *argv[RESTART_ARGS_MAX + 1];

	cr_assert_eq(restart_argv(items, 1, "payments", store, sizeof(store), argv), 3);
	cr_expect_str_eq(argv[0], "systemctl");
	cr_expect_str_eq(argv[1], "restart");
	cr_expect_str_eq(argv[2], "payments.service");
	cr_expect_null(argv[3]);
	cr_expect_eq(restart_argv(NULL, 0, "payments", store, 8, argv), -E2BIG);
}

Test(restart, make_text_keeps_utf8_and_replaces_the_rest)
{
	/* a stray continuation, an overlong '/', a surrogate, controls, a cut sequence */
	static const char bad[] = "a\x80"
				  "b\xc0\xaf"
				  "c\xed\xa0\x80"
				  "d\x1b\x7f"
				  "e\xe2\x97";
	char s[64];

	snprintf(s, sizeof(s), "ok \xe2\x97\x8f caf\xc3\xa9\n\ttab");
	restart_make_text(s, strlen(s));
	cr_expect_str_eq(s, "ok \xe2\x97\x8f caf\xc3\xa9\n\ttab");
	memcpy(s, bad, sizeof(bad));
	restart_make_text(s, sizeof(bad) - 1);
	cr_expect_str_eq(s, "a?b??c???d??e??");
}

static char *const *words(const char *a, const char *b, const char *c)
{
	static char store[3][512];
	static char *argv[4];

	snprintf(store[0], sizeof(store[0]), "%s", a);
	snprintf(store[1], sizeof(store[1]), "%s", b);
	snprintf(store[2], sizeof(store[2]), "%s", c);
	argv[0] = store[0];
	argv[1] = store[1];
	argv[2] = store[2];
	argv[3] = NULL;
	return argv;
}

Test(restart, runs_a_command_and_captures_both_outputs)
{
	struct restart_run *run = malloc(sizeof(*run));
	atomic_bool stop = false;
	const char *ign;

	cr_assert_eq(restart_run(words("/bin/sh", "-c", "echo out; echo err >&2; exit 3"), 5000,
				 &stop, run),
		     0);
	cr_expect_eq(run->outcome, RESTART_EXITED);
	cr_expect_eq(run->exit_status, 3);
	cr_expect(strstr(run->output, "out\n"), "%s", run->output);
	cr_expect(strstr(run->output, "err\n"), "%s", run->output);
	cr_expect_not(run->truncated);
	cr_assert_eq(restart_run(words("sh", "-c", "exit 0"), 5000, &stop, run), 0, "in PATH");
	cr_expect_eq(run->exit_status, 0);
	/* a process that ignores SIGPIPE does not pass that on */
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(restart_run(words("/bin/sh", "-c", "grep SigIgn /proc/self/status"), 5000,
				 &stop, run),
		     0);
	ign = strstr(run->output, "SigIgn:");
	cr_assert_not_null(ign, "%s", run->output);
	cr_expect_eq(strtoull(ign + 7, NULL, 16) & (1ull << (SIGPIPE - 1)), 0, "%s", ign);
	free(run);
}

Test(restart, reports_a_program_that_cannot_run)
{
	struct restart_run *run = malloc(sizeof(*run));
	atomic_bool stop = false;

	cr_expect_eq(restart_run(words("/nonexistent/prp-restart", "a", "b"), 1000, &stop, run),
		     -ENOENT);
	free(run);
}

Test(restart, keeps_the_last_16_kib_of_output)
{
	struct restart_run *run = malloc(sizeof(*run));
	atomic_bool stop = false;

	/* 40000 'x' then a marker, in many writes */
	cr_assert_eq(restart_run(words("/bin/sh", "-c",
				       "i=0; while [ $i -lt 400 ]; do printf '%0100d' 0; "
				       "i=$((i+1)); done; echo END"),
				 10000, &stop, run),
		     0);
	cr_expect_eq(run->exit_status, 0);
	cr_expect(run->truncated);
	cr_expect_eq(run->output_len, RESTART_OUTPUT_MAX);
	cr_expect_eq(strlen(run->output), RESTART_OUTPUT_MAX);
	cr_expect_str_eq(run->output + RESTART_OUTPUT_MAX - 4, "END\n");
	free(run);
}

/* Whether @pid is gone, or a zombie nobody reaped yet (which runs nothing). */
static bool dead(pid_t pid)
{
	char path[64], line[256], *paren;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	paren = strrchr(line, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = 0;

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	return (pid_t)pid;
}

Test(restart, kills_the_whole_group_at_the_timeout)
{
	struct restart_run *run = malloc(sizeof(*run));
	char script[256], pidfile[64];
	atomic_bool stop = false;
	uint64_t t0 = time_mono_ns();
	pid_t bg;

	snprintf(pidfile, sizeof(pidfile), "/tmp/prp-restart-bg-%d", (int)getpid());
	snprintf(script, sizeof(script), "sleep 1000 & echo $! > %s; echo started; sleep 1000",
		 pidfile);
	cr_assert_eq(restart_run(words("/bin/sh", "-c", script), 300, &stop, run), 0);
	cr_expect_eq(run->outcome, RESTART_TIMED_OUT);
	cr_expect_geq(run->elapsed_ms, 300);
	cr_expect_lt((time_mono_ns() - t0) / NSEC_PER_MSEC, 2000);
	cr_expect(strstr(run->output, "started"), "%s", run->output);
	bg = read_pid(pidfile);
	unlink(pidfile);
	for (int i = 0; i < 100 && !dead(bg); i++)
		usleep(10000);
	cr_expect(dead(bg), "the background sleep %d of the group survived", (int)bg);
	free(run);
}

Test(restart, a_stop_kills_the_command)
{
	struct restart_run *run = malloc(sizeof(*run));
	atomic_bool stop = true;

	cr_assert_eq(restart_run(words("/bin/sh", "-c", "sleep 1000"), 60000, &stop, run), 0);
	cr_expect_eq(run->outcome, RESTART_STOPPED);
	cr_expect_lt(run->elapsed_ms, 1000);
	free(run);
}

Test(restart, does_not_wait_for_a_daemon_that_keeps_the_output_open)
{
	struct restart_run *run = malloc(sizeof(*run));
	char script[256], pidfile[64];
	atomic_bool stop = false;

	snprintf(pidfile, sizeof(pidfile), "/tmp/prp-restart-daemon-%d", (int)getpid());
	snprintf(script, sizeof(script), "sleep 1000 & echo $! > %s; echo done", pidfile);
	cr_assert_eq(restart_run(words("/bin/sh", "-c", script), 5000, &stop, run), 0);
	cr_expect_eq(run->outcome, RESTART_EXITED);
	cr_expect_eq(run->exit_status, 0);
	cr_expect_lt(run->elapsed_ms, 2000);
	cr_expect(strstr(run->output, "done"), "%s", run->output);
	kill(read_pid(pidfile), SIGKILL);
	unlink(pidfile);
	free(run);
}
