/*
 * The exec action: a command of the configured allow-list (exec_allow),
 * compared as written, whole; anything else is refused and never run. The
 * command runs with runner.h (its own process group, exec_timeout_ms,
 * output into the action's logs).
 *
 * Threads: the executor's workers.
 */
#ifndef PRP_AGGREGATOR_POLICY_ACTION_EXEC_H
#define PRP_AGGREGATOR_POLICY_ACTION_EXEC_H

#include "aggregator/policy/action_ctx.h"

enum store_action_status action_exec_run(struct action_ctx *ctx);

/*
 * Runs @command (already vetted) with exec_timeout_ms, its output in the
 * logs: succeeded on exit 0, failed on another exit or a signal,
 * timed_out at the timeout. The result gets exit_code (or signal, or
 * timeout_ms) and duration_ms, added to an object set before.
 */
enum store_action_status action_exec_command(struct action_ctx *ctx, const char *command);

#endif
