/*
 * exec. The allow-list is matched on the exact string, not a prefix or a
 * pattern: the command goes to /bin/sh, so "restart.sh" allowed must not
 * let "restart.sh; rm -rf /" through.
 */
#include "aggregator/policy/action_exec.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "aggregator/policy/runner.h"
#include "common/log.h"

static bool allowed(const struct executor_config *cfg, const char *command)
{
	for (size_t i = 0; i < cfg->nexec_allow; i++)
		if (!strcmp(cfg->exec_allow[i], command))
			return true;
	return false;
}

enum store_action_status action_exec_command(struct action_ctx *ctx, const char *command)
{
	enum store_action_status st = STORE_ACTION_FAILED;
	struct runner_result r;
	int err;

	if (!json_is_object(ctx->result))
		action_ctx_result(ctx, json_object());
	action_ctx_log(ctx, "running: %s (timeout %u ms)", command, ctx->cfg->exec_timeout_ms);
	err = runner_run(command, ctx->cfg->exec_timeout_ms, action_ctx_room(ctx), &r);
	if (err) {
		runner_result_release(&r);
		return action_ctx_fail(ctx, "could not start /bin/sh: %s", strerror(-err));
	}
	action_ctx_output(ctx, r.output.data, r.output.len);
	if (r.dropped)
		action_ctx_log(ctx, "(%zu bytes of output left out)", r.dropped);
	json_object_set_new(ctx->result, "duration_ms", json_integer(r.duration_ms));
	switch (r.end) {
	case RUNNER_EXITED:
		json_object_set_new(ctx->result, "exit_code", json_integer(r.exit_code));
		action_ctx_log(ctx, "exit code %d after %lld ms", r.exit_code,
			       (long long)r.duration_ms);
		st = r.exit_code ? STORE_ACTION_FAILED : STORE_ACTION_SUCCEEDED;
		break;
	case RUNNER_SIGNALED:
		json_object_set_new(ctx->result, "signal", json_integer(r.term_signal));
		action_ctx_log(ctx, "killed by signal %d after %lld ms", r.term_signal,
			       (long long)r.duration_ms);
		break;
	case RUNNER_TIMED_OUT:
		json_object_set_new(ctx->result, "timeout_ms",
				    json_integer(ctx->cfg->exec_timeout_ms));
		action_ctx_log(ctx, "timed out after %u ms: process group %d killed",
			       ctx->cfg->exec_timeout_ms, (int)r.pgid);
		st = STORE_ACTION_TIMED_OUT;
		break;
	}
	runner_result_release(&r);
	return st;
}

enum store_action_status action_exec_run(struct action_ctx *ctx)
{
	const char *command = action_ctx_str(ctx, "command", NULL);

	if (!command || !*command)
		return action_ctx_fail(ctx, "exec needs a command");
	if (!allowed(ctx->cfg, command)) {
		log_warn(
			"executor: refused to run a command not in the exec allow-list action=%lld",
			(long long)ctx->a->id);
		return action_ctx_fail(ctx, "not in the exec allow-list: %s", command);
	}
	return action_exec_command(ctx, command);
}
