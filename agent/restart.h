/*
 * Restarting a service on this host, for the `restart` command: which
 * command restarts it (the agent config's `restart.command` list, else
 * systemd's `systemctl restart NAME.service`), and running that command
 * with a timeout and its output captured. Whether the service then came
 * back is agent/remediation.c's business.
 *
 * Commands run without a shell: an entry "payments=/usr/local/bin/restart
 * payments --hard" is split at spaces and tabs into the program and its
 * arguments, with no quoting, globbing or variables. The command text comes
 * from the agent's own config and the aggregator only names the service, so
 * nothing the aggregator sends is ever parsed by a shell; a restart that
 * needs a pipeline goes in a script, which is then the command.
 *
 * Threads: no state; restart_run() blocks its caller (remediation's worker
 * thread) for up to its timeout.
 */
#ifndef PRP_AGENT_RESTART_H
#define PRP_AGENT_RESTART_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

/* Output kept of a command: its last 16 KiB, stdout and stderr interleaved. */
#define RESTART_OUTPUT_MAX (16u << 10)
/* Words of a command, the program included. */
#define RESTART_ARGS_MAX 32
/* Bytes of one `restart.command` entry. */
#define RESTART_COMMAND_MAX 4096

/*
 * Checks the `restart.command` entries (@n strings "NAME=PROGRAM [ARG]...",
 * borrowed): a service name of 1..63 of [A-Za-z0-9._-], a program, at most
 * RESTART_ARGS_MAX words and RESTART_COMMAND_MAX bytes, no name twice.
 * Returns 0, or -EINVAL with a message in @err naming the entry.
 */
PRP_MUST_CHECK int restart_check_commands(const char *const *items, size_t n, char *err,
					  size_t errlen);

/*
 * The command that restarts @service: the words of its entry in @items (as
 * checked above), else "systemctl restart SERVICE.service". Fills @argv
 * (RESTART_ARGS_MAX + 1 slots, NULL-terminated) with pointers into @store
 * (@storelen bytes, RESTART_COMMAND_MAX is enough). Returns the number of
 * words, or -E2BIG when they do not fit, -EINVAL for an empty command.
 */
PRP_MUST_CHECK int restart_argv(const char *const *items, size_t n, const char *service,
				char *store, size_t storelen, char **argv);

enum restart_outcome {
	RESTART_EXITED = 0,    /* the program exited; see exit_status */
	RESTART_TIMED_OUT = 1, /* killed, with its process group, at the timeout */
	RESTART_STOPPED = 2,   /* killed, with its process group, because *stop became true */
};

struct restart_run {
	enum restart_outcome outcome;
	int exit_status; /* RESTART_EXITED: the exit code, or 128 + the signal that killed it */
	uint64_t elapsed_ms;
	bool truncated; /* output lost its beginning past RESTART_OUTPUT_MAX */
	size_t output_len;
	char output[RESTART_OUTPUT_MAX + 1]; /* valid UTF-8, NUL-terminated */
};

/*
 * Runs @argv (argv[0] looked up in PATH) in a process group of its own, with
 * stdin from /dev/null, stdout and stderr into one pipe, no descriptor of
 * ours (close_range from 3) and default signal dispositions and mask (the
 * agent ignores SIGPIPE; a restarted service must not inherit that).
 * Waits until argv[0]'s process exits, @timeout_ms at most, reading the
 * output as it comes; at the timeout, or within 50 ms of *@stop turning
 * true, SIGKILLs the whole group and reaps the program. What the program
 * leaves running in its group when it exits on its own (a daemon it
 * started) is left alone, and its output after that is not read: a
 * command that starts a daemon itself should detach it (setsid, output
 * redirected), as systemd does.
 *
 * Returns 0 with @run filled, or a negative errno when the program could
 * not be started (-ENOENT: no such program, -EACCES), @run then empty.
 */
PRP_MUST_CHECK int restart_run(char *const argv[], uint64_t timeout_ms, const atomic_bool *stop,
			       struct restart_run *run);

/*
 * Makes the @len bytes at @s valid UTF-8 in place for a JSON string: a byte
 * that does not start a well-formed sequence (stray continuation, overlong
 * form, surrogate, past U+10FFFF, cut short) and every control character
 * but newline and tab become '?'. Never changes the length.
 */
void restart_make_text(char *s, size_t len);

#endif
