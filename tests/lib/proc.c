/*
 * Test child processes with captured output. Output is drained with poll()
 * while waiting, so a chatty child never blocks on a full pipe.
 */
#include "tests/lib/proc.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/timeutil.h"

#define PROC_OUTPUT_MAX (16u << 20)

int proc_start(struct proc *p, const char *const argv[])
{
	int out[2], err[2];

	memset(p, 0, sizeof(*p));
	buf_init(&p->out, PROC_OUTPUT_MAX);
	buf_init(&p->err, PROC_OUTPUT_MAX);
	if (pipe2(out, O_CLOEXEC))
		return -errno;
	if (pipe2(err, O_CLOEXEC)) {
		close(out[0]);
		close(out[1]);
		return -errno;
	}
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		char *const *av;

		/* execv's prototype predates const; it does not write the strings */
		memcpy(&av, &argv, sizeof(av));
		dup2(null, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], av);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	p->out_fd = out[0];
	p->err_fd = err[0];
	return 0;
}

/* Appends what one fd has; closes it at EOF. */
static void drain(int *fd, struct buf *b)
{
	char chunk[4096];
	ssize_t n = read(*fd, chunk, sizeof(chunk));

	if (n > 0) {
		if (buf_append(b, chunk, (size_t)n))
			buf_reset(b); /* a runaway child: keep the newest output */
		return;
	}
	if (n == 0 || errno != EINTR) {
		close(*fd);
		*fd = -1;
	}
}

/* Polls both pipes for up to @ms. */
static void pump(struct proc *p, int ms)
{
	struct pollfd fds[2] = { { .fd = p->out_fd, .events = POLLIN },
				 { .fd = p->err_fd, .events = POLLIN } };

	if (p->out_fd < 0 && p->err_fd < 0) {
		time_sleep_ns((uint64_t)ms * NSEC_PER_MSEC);
		return;
	}
	if (poll(fds, 2, ms) <= 0)
		return;
	if (p->out_fd >= 0 && fds[0].revents)
		drain(&p->out_fd, &p->out);
	if (p->err_fd >= 0 && fds[1].revents)
		drain(&p->err_fd, &p->err);
}

static bool reap(struct proc *p)
{
	if (!p->pid)
		return true;
	if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
		p->pid = 0;
		return true;
	}
	return false;
}

int proc_wait_for(struct proc *p, const char *needle, int timeout_ms)
{
	uint64_t end = time_mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;

	for (;;) {
		if (strstr(buf_str(&p->err), needle) || strstr(buf_str(&p->out), needle))
			return 0;
		if (p->out_fd < 0 && p->err_fd < 0 && reap(p))
			return -ECHILD;
		if (time_mono_ns() >= end)
			return -ETIMEDOUT;
		pump(p, 50);
	}
}

int proc_wait_exit(struct proc *p, int timeout_ms)
{
	uint64_t end = time_mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;

	for (;;) {
		pump(p, 20);
		/* collect the last output before reaping */
		if (p->out_fd < 0 && p->err_fd < 0 && reap(p))
			return 0;
		if (time_mono_ns() >= end)
			return -ETIMEDOUT;
	}
}

int proc_stop(struct proc *p, int timeout_ms)
{
	int err;

	if (!p->pid)
		return 0;
	kill(p->pid, SIGTERM);
	err = proc_wait_exit(p, timeout_ms);
	if (err) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &p->status, 0);
		p->pid = 0;
	}
	return err;
}

void proc_release(struct proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &p->status, 0);
		p->pid = 0;
	}
	/*
	 * A zeroed struct proc (never started) has fds 0: those are the test's
	 * own stdin and stdout, never pipes of a child, so only fds above 2 close.
	 */
	if (p->out_fd > 2)
		close(p->out_fd);
	if (p->err_fd > 2)
		close(p->err_fd);
	p->out_fd = p->err_fd = -1;
	buf_release(&p->out);
	buf_release(&p->err);
}

long proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int proc_group_alive(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], line[512], *p, state;
		int pgrp;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		/* "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses */
		p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
		fclose(f);
		if (p && sscanf(p + 2, "%c %*d %d", &state, &pgrp) == 2 && pgrp == pgid &&
		    state != 'Z')
			n++;
	}
	closedir(d);
	return n;
}

int proc_run_echo(const char *const argv[], int timeout_ms)
{
	uint64_t end = time_mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	size_t out_at = 0, err_at = 0;
	struct proc p;
	int err, rc;

	cr_assert_eq(proc_start(&p, argv), 0, "cannot start %s", argv[0]);
	do {
		err = proc_wait_exit(&p, 200);
		out_at += (size_t)printf("%s", buf_str(&p.out) + out_at);
		err_at += (size_t)fprintf(stderr, "%s", buf_str(&p.err) + err_at);
		fflush(stdout);
	} while (err == -ETIMEDOUT && time_mono_ns() < end);
	if (err) {
		proc_stop(&p, 10000);
		rc = -1;
	} else {
		rc = WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1;
	}
	proc_release(&p);
	return rc;
}
