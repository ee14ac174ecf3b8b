/*
 * agent/instance.c: a second lock fails with -EBUSY and names the first
 * holder's pid; the lock is free again once its holder process is gone,
 * however it ended; and the file keeps the holder's pid.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/instance.h"
#include "tests/lib/leakcheck.h"

static char dir[64], path[96];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/prp-instance-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agent.lock", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
	test_no_leaks();
}

TestSuite(instance, .init = setup, .fini = teardown);

static void read_file(char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	cr_assert_not_null(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

/*
 * Forks a child that takes the lock, reports through a pipe, then waits
 * for SIGTERM (or exits at once with @exit_now). Returns its pid.
 */
static pid_t child_locks(bool exit_now)
{
	int p[2], fd = -1;
	char ok = 0;
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		char err[256];

		close(p[0]);
		ok = instance_lock(path, &fd, err, sizeof(err)) ? 'n' : 'y';
		if (write(p[1], &ok, 1) != 1 || exit_now)
			_exit(0); /* without unlocking: as a crash would */
		pause();
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &ok, 1), 1);
	close(p[0]);
	cr_assert_eq(ok, 'y', "the child could not lock");
	return pid;
}

Test(instance, second_lock_fails_busy_and_names_the_first_pid)
{
	char err[256] = "", want[256], text[64];
	int fd = -1, fd2 = -1;

	cr_assert_eq(instance_lock(path, &fd, err, sizeof(err)), 0, "%s", err);
	cr_assert_geq(fd, 0);
	read_file(text, sizeof(text));
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	cr_assert_str_eq(text, want);

	cr_assert_eq(instance_lock(path, &fd2, err, sizeof(err)), -EBUSY);
	snprintf(want, sizeof(want), "another prp-agent is running (pid %d, lock %s)",
		 (int)getpid(), path);
	cr_assert_str_eq(err, want);
	cr_assert_eq(fd2, -1, "no descriptor on failure");

	instance_unlock(fd, path);
	cr_assert_eq(instance_lock(path, &fd, err, sizeof(err)), 0, "%s", err);
	instance_unlock(fd, path);
}

Test(instance, lock_held_by_another_process_names_it)
{
	char err[256] = "", want[256];
	int fd = -1, status;
	pid_t pid = child_locks(false);

	cr_assert_eq(instance_lock(path, &fd, err, sizeof(err)), -EBUSY);
	snprintf(want, sizeof(want), "(pid %d, lock %s)", (int)pid, path);
	cr_assert_not_null(strstr(err, want), "%s", err);
	kill(pid, SIGTERM);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(instance_lock(path, &fd, err, sizeof(err)), 0, "%s", err);
	instance_unlock(fd, path);
}

Test(instance, lock_is_free_once_its_holder_exits_without_unlocking)
{
	char err[256] = "", want[32], text[32];
	int fd = -1, status;
	pid_t pid = child_locks(true);

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(instance_lock(path, &fd, err, sizeof(err)), 0, "%s", err);
	read_file(text, sizeof(text));
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	cr_assert_str_eq(text, want, "the dead holder's pid is replaced");
	instance_unlock(fd, path);
}

Test(instance, unlock_empties_the_file_and_keeps_it)
{
	char err[256] = "", text[32];
	struct stat st;
	int fd = -1;

	cr_assert_eq(instance_lock(path, &fd, err, sizeof(err)), 0, "%s", err);
	instance_unlock(fd, path);
	cr_assert_eq(stat(path, &st), 0);
	read_file(text, sizeof(text));
	cr_assert_str_empty(text);
	instance_unlock(-1, path); /* harmless */
}

Test(instance, holder_that_wrote_no_pid_yet_is_unknown)
{
	char err[256] = "", want[256];
	int fd = -1, status;
	pid_t pid = child_locks(false);

	cr_assert_eq(truncate(path, 0), 0); /* as between its flock() and its write */
	cr_assert_eq(instance_lock(path, &fd, err, sizeof(err)), -EBUSY);
	snprintf(want, sizeof(want), "another prp-agent is running (pid unknown, lock %s)", path);
	cr_assert_str_eq(err, want);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
}

Test(instance, unusable_path_is_an_error_naming_it)
{
	char err[256] = "";
	int fd = -1;

	cr_assert_eq(instance_lock("/nonexistent/dir/agent.lock", &fd, err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, "/nonexistent/dir/agent.lock"), "%s", err);
}
