/*
 * The command runner. posix_spawn() rather than fork(): the aggregator has
 * many threads and a large heap, and glibc's posix_spawn clones with
 * CLONE_VM|CLONE_VFORK, so nothing is copied and no lock held by another
 * thread can be inherited half-taken. The child gets a process group of its
 * own (so a timeout kills what the shell started too), default signal
 * dispositions and an empty mask (the aggregator's threads block some),
 * /dev/null as stdin, the write end of one pipe as stdout and stderr, and no
 * other descriptor (closefrom: the store's and sockets' fds stay ours).
 */
#include "aggregator/policy/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/timeutil.h"

#define RUNNER_SLICE_MS 20 /* how often a run looks at the child while its output is quiet */

extern char **environ;

static int64_t mono_ms(void)
{
	return (int64_t)(time_mono_ns() / NSEC_PER_MSEC);
}

/* Spawns the shell on @wfd; *pid on success. */
static int spawn(const char *command, int rfd, int wfd, pid_t *pid)
{
	static const int reset[] = { SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
				     SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM };
	/* posix_spawn's argv is not const; the strings are copies it may not change anyway */
	char sh[] = "sh", dash_c[] = "-c", *cmd = xstrdup(command);
	char *const argv[] = { sh, dash_c, cmd, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	int err;

	sigemptyset(&none);
	sigemptyset(&dfl);
	for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		sigaddset(&dfl, reset[i]);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, wfd, 1);
	posix_spawn_file_actions_adddup2(&fa, wfd, 2);
	posix_spawn_file_actions_addclose(&fa, rfd);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	err = posix_spawn(pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(cmd);
	return -err;
}

/* Reads what is there; false at end of file (or an error: the same to us). */
static bool drain(int fd, struct runner_result *r, size_t max_output)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		size_t keep;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		keep = r->output.len < max_output ? max_output - r->output.len : 0;
		if (keep > (size_t)n)
			keep = (size_t)n;
		/* the cap is max_output, so this append cannot fail */
		if (keep && buf_append(&r->output, chunk, keep))
			keep = 0;
		r->dropped += (size_t)n - keep;
	}
}

/* Waits for @pid for up to @ms; true once reaped (status in *st). */
static bool reap_within(pid_t pid, int64_t ms, int *st)
{
	int64_t until = mono_ms() + ms;

	for (;;) {
		pid_t w = waitpid(pid, st, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			return true;
		if (mono_ms() >= until)
			return false;
		time_sleep_ns(5 * NSEC_PER_MSEC);
	}
}

/* The timeout: the group gets SIGTERM, then SIGKILL; the shell is reaped. */
static void kill_group(pid_t pgid, bool reaped, int *st)
{
	kill(-pgid, SIGTERM);
	if (!reaped)
		reaped = reap_within(pgid, RUNNER_KILL_GRACE_MS, st);
	/* always: the shell may have died on SIGTERM and left children that ignore it */
	kill(-pgid, SIGKILL);
	if (!reaped)
		while (waitpid(pgid, st, 0) < 0 && errno == EINTR)
			;
}

int runner_run(const char *command, unsigned timeout_ms, size_t max_output, struct runner_result *r)
{
	int64_t start = mono_ms(), deadline = start + timeout_ms;
	bool reaped = false, open = true;
	int fds[2], st = 0, err;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	buf_init(&r->output, max_output);
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	err = spawn(command, fds[0], fds[1], &pid);
	close(fds[1]);
	if (err) {
		close(fds[0]);
		return err;
	}
	r->pgid = pid;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	while (open || !reaped) {
		int64_t now = mono_ms();
		struct pollfd p = { .fd = fds[0], .events = POLLIN };

		if (!reaped) {
			pid_t w = waitpid(pid, &st, WNOHANG);

			reaped = w == pid;
		}
		if (!open && reaped)
			break;
		if (now >= deadline) {
			kill_group(pid, reaped, &st);
			r->end = RUNNER_TIMED_OUT;
			break;
		}
		if (!open) { /* the output closed, the shell still runs */
			time_sleep_ns(5 * NSEC_PER_MSEC);
			continue;
		}
		/* a slice, so that an exit with the output still held is seen */
		if (poll(&p, 1,
			 (int)(deadline - now < RUNNER_SLICE_MS ? deadline - now
								: RUNNER_SLICE_MS)) > 0)
			open = drain(fds[0], r, max_output);
	}
	drain(fds[0], r, max_output); /* non-blocking: what is left in the pipe */
	close(fds[0]);
	r->duration_ms = mono_ms() - start;
	if (r->end == RUNNER_TIMED_OUT)
		return 0;
	if (WIFEXITED(st)) {
		r->end = RUNNER_EXITED;
		r->exit_code = WEXITSTATUS(st);
	} else {
		r->end = RUNNER_SIGNALED;
		r->term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	}
	return 0;
}

void runner_result_release(struct runner_result *r)
{
	buf_release(&r->output);
}
