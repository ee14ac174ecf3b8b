/*
 * Runs one shell command for the executor (exec and scale actions):
 * /bin/sh -c COMMAND in a process group of its own, stdin from /dev/null,
 * stdout and stderr captured together up to a bound, a timeout after
 * which the whole group is killed (SIGTERM, then SIGKILL a second later).
 * The child is always reaped: nothing is left behind as a zombie of ours.
 *
 * The command is done when the shell has exited and its output is closed:
 * a background process still holding the output keeps it running (and is
 * killed with the group at the timeout).
 *
 * Threads: any; each call is independent (posix_spawn, no fork of a
 * threaded process's heap). The caller must not reap children with
 * waitpid(-1, ...) elsewhere in the process.
 */
#ifndef PRP_AGGREGATOR_POLICY_RUNNER_H
#define PRP_AGGREGATOR_POLICY_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/compiler.h"

#define RUNNER_KILL_GRACE_MS 1000 /* SIGTERM to SIGKILL */

enum runner_end {
	RUNNER_EXITED = 0, /* exit_code is set */
	RUNNER_SIGNALED,   /* term_signal is set (killed by something else than us) */
	RUNNER_TIMED_OUT,  /* we killed the group at the timeout */
};

struct runner_result {
	enum runner_end end;
	int exit_code;
	int term_signal;
	pid_t pgid; /* the group it ran in (= the shell's pid); gone when we return */
	int64_t duration_ms;
	struct buf output; /* stdout and stderr as written, up to the bound; not NUL-free */
	size_t dropped;	   /* output bytes past the bound, read and discarded */
};

/*
 * Runs @command with a timeout of @timeout_ms, keeping up to @max_output
 * bytes of its output in r->output (initialised here: release it with
 * runner_result_release() whatever the return). Returns 0 once the
 * command ended (see r->end), or a negative errno when it could not be
 * started (-ENOENT without /bin/sh, -EAGAIN, ...).
 */
PRP_MUST_CHECK int runner_run(const char *command, unsigned timeout_ms, size_t max_output,
			      struct runner_result *r);
void runner_result_release(struct runner_result *r);

#endif
