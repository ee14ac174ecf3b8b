/*
 * Restart commands (see restart.h). The program is started with
 * posix_spawnp(): in a threaded process it is the safe way to start a child
 * (glibc clones with CLONE_VFORK and runs only its own code before exec),
 * and it reports an exec failure (no such program) as its return value. The
 * spawn attributes do what a forked child would do by hand: a new process
 * group, default dispositions for every signal, an empty mask, and every
 * descriptor above 2 closed (the agent's BPF links are close-on-exec, but a
 * library's socket may not be).
 *
 * The wait is a poll() on the output pipe in slices of RESTART_SLICE_MS,
 * with waitpid(WNOHANG) after each, so the timeout and a stop are both seen
 * within a slice and no SIGCHLD handler is needed. The pipe is not read to
 * its end: a daemon the command leaves behind may hold it open for ever.
 */
#include "agent/restart.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/services.h"
#include "common/timeutil.h"

#define RESTART_SLICE_MS 50

/* The length of the service name at the start of @item, before its '='; 0 when none. */
static size_t entry_name_len(const char *item)
{
	size_t n = 0;

	while (item[n] && item[n] != '=')
		if (!service_name_char(item[n++]))
			return 0;
	return item[n] == '=' && n < SERVICE_NAME_MAX ? n : 0;
}

/* Splits @text into @argv at spaces and tabs, copying into @store. Returns the words or -errno. */
static int split_words(const char *text, char *store, size_t storelen, char **argv)
{
	size_t len = strlen(text);
	char *p, *save = NULL;
	int n = 0;

	if (len >= storelen)
		return -E2BIG;
	memcpy(store, text, len + 1);
	for (p = strtok_r(store, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (n == RESTART_ARGS_MAX)
			return -E2BIG;
		argv[n++] = p;
	}
	argv[n] = NULL;
	return n ? n : -EINVAL;
}

int restart_check_commands(const char *const *items, size_t n, char *err, size_t errlen)
{
	char store[RESTART_COMMAND_MAX], *argv[RESTART_ARGS_MAX + 1];
	size_t len;
	int words;

	for (size_t i = 0; i < n; i++) {
		len = entry_name_len(items[i]);
		if (!len) {
			snprintf(
				err, errlen,
				"key 'restart.command': '%.80s' is not NAME=COMMAND (NAME: 1-63 of "
				"[A-Za-z0-9._-])",
				items[i]);
			return -EINVAL;
		}
		words = split_words(items[i] + len + 1, store, sizeof(store), argv);
		if (words < 0) {
			snprintf(err, errlen, "key 'restart.command': '%.80s' %s", items[i],
				 words == -E2BIG ? "is too long (at most 32 words, 4096 bytes)"
						 : "has no command");
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (entry_name_len(items[j]) == len && !strncmp(items[j], items[i], len)) {
				snprintf(err, errlen, "key 'restart.command': service '%.*s' twice",
					 (int)len, items[i]);
				return -EINVAL;
			}
	}
	return 0;
}

int restart_argv(const char *const *items, size_t n, const char *service, char *store,
		 size_t storelen, char **argv)
{
	char text[SERVICE_NAME_MAX + 32];
	size_t slen = strlen(service);

	for (size_t i = 0; i < n; i++)
		if (entry_name_len(items[i]) == slen && !strncmp(items[i], service, slen))
			return split_words(items[i] + slen + 1, store, storelen, argv);
	snprintf(text, sizeof(text), "systemctl restart %s.service", service);
	return split_words(text, store, storelen, argv);
}

/* The length of the well-formed UTF-8 sequence at @s (@left bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	size_t need;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		cp = s[0] & 0x07;
	} else {
		return 0; /* a continuation byte, or a lead byte no valid sequence has */
	}
	if (need > left)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, past U+10FFFF */
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

void restart_make_text(char *s, size_t len)
{
	unsigned char *u = (unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_len(u + i, len - i);
		if (!n ||
		    (n == 1 && ((u[i] < 0x20 && u[i] != '\n' && u[i] != '\t') || u[i] == 0x7f))) {
			u[i++] = '?';
			continue;
		}
		i += n;
	}
}

/* Appends @n bytes to the output, dropping its oldest bytes past the cap. */
static void output_add(struct restart_run *run, const char *p, size_t n)
{
	if (n >= RESTART_OUTPUT_MAX) {
		p += n - RESTART_OUTPUT_MAX;
		n = RESTART_OUTPUT_MAX;
		run->output_len = 0;
		run->truncated = true;
	} else if (run->output_len + n > RESTART_OUTPUT_MAX) {
		size_t drop = run->output_len + n - RESTART_OUTPUT_MAX;

		memmove(run->output, run->output + drop, run->output_len - drop);
		run->output_len -= drop;
		run->truncated = true;
	}
	memcpy(run->output + run->output_len, p, n);
	run->output_len += n;
}

/* Reads what the pipe has now, without waiting. */
static void output_read(int fd, struct restart_run *run)
{
	char chunk[4096];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			output_add(run, chunk, (size_t)n);
}

static int spawn(char *const argv[], int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int err;

	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL); /* their dispositions cannot be set */
	sigdelset(&all, SIGSTOP);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0); /* a group of its own, led by the program */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	err = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return -err;
}

int restart_run(char *const argv[], uint64_t timeout_ms, const atomic_bool *stop,
		struct restart_run *run)
{
	uint64_t t0 = time_mono_ns(), deadline = t0 + timeout_ms * NSEC_PER_MSEC;
	int pipefd[2], status, err;
	pid_t pid;

	memset(run, 0, sizeof(*run));
	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	err = spawn(argv, pipefd[1], &pid);
	close(pipefd[1]);
	if (err) {
		close(pipefd[0]);
		return err;
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		bool late;
		pid_t w;

		if (poll(&pfd, 1, RESTART_SLICE_MS) > 0 && (pfd.revents & POLLIN))
			output_read(pipefd[0], run);
		else if (pfd.revents & POLLHUP)
			usleep(RESTART_SLICE_MS * 1000); /* nobody writes any more: just wait */
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			run->outcome = RESTART_EXITED;
			run->exit_status =
				WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			break;
		}
		late = time_mono_ns() >= deadline;
		if (late || atomic_load(stop)) {
			run->outcome = late ? RESTART_TIMED_OUT : RESTART_STOPPED;
			/* the group was made by posix_spawn before exec: it exists */
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
	}
	output_read(pipefd[0], run); /* what is already there; never wait for the end */
	close(pipefd[0]);
	run->elapsed_ms = (time_mono_ns() - t0) / NSEC_PER_MSEC;
	restart_make_text(run->output, run->output_len);
	run->output[run->output_len] = '\0';
	return 0;
}
