/*
 * Agent commands of one action. The answers are polled rather than waited
 * for: ingest keeps them until asked (ingest_command_result()), an answer
 * takes a second or so (agents send a request at least every second), and
 * a 50 ms poll costs nothing next to that.
 */
#include "aggregator/policy/agent_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/ingest.h"
#include "aggregator/policy/action_ctx.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

int64_t agent_cmd_now_ms(void)
{
	return (int64_t)(time_mono_ns() / NSEC_PER_MSEC);
}

void agent_cmds_init(struct agent_cmds *c, const char *tenant, const char *command)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
	snprintf(c->command, sizeof(c->command), "%s", command);
}

void agent_cmds_release(struct agent_cmds *c)
{
	for (size_t i = 0; i < c->n; i++) {
		json_decref(c->v[i].args);
		json_decref(c->v[i].result);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static struct agent_cmd *add(struct agent_cmds *c, const char *agent_id)
{
	struct agent_cmd *a;

	c->v = xreallocarray(c->v, c->n + 1, sizeof(*c->v));
	a = &c->v[c->n++];
	memset(a, 0, sizeof(*a));
	snprintf(a->agent_id, sizeof(a->agent_id), "%s", agent_id);
	a->status = STORE_ACTION_PENDING;
	return a;
}

void agent_cmds_add(struct agent_cmds *c, const char *agent_id, json_t *args)
{
	add(c, agent_id)->args = args;
}

void agent_cmds_add_failed(struct agent_cmds *c, const char *agent_id, const char *why)
{
	struct agent_cmd *a = add(c, agent_id);

	a->status = STORE_ACTION_FAILED;
	a->result = json_string(why);
}

/* One line in the action's logs, or at debug level when there is no action. */
#define note(ctx, ...)                                                                             \
	do {                                                                                       \
		if (ctx)                                                                           \
			action_ctx_log((ctx), __VA_ARGS__);                                        \
		else                                                                               \
			log_debug("executor: " __VA_ARGS__);                                       \
	} while (0)

void agent_cmds_send(struct agent_cmds *c, struct ingest *in, struct action_ctx *ctx)
{
	for (size_t i = 0; i < c->n; i++) {
		struct agent_cmd *a = &c->v[i];
		char *args;
		int err;

		if (a->status != STORE_ACTION_PENDING)
			continue;
		args = json_dumps(a->args, JSON_COMPACT | JSON_SORT_KEYS);
		err = args ? ingest_command(in, c->tenant, a->agent_id, c->command, args, &a->id)
			   : -EINVAL;
		free(args);
		if (err) {
			a->status = STORE_ACTION_FAILED;
			a->result = json_string("the command could not be queued");
			note(ctx, "%s: failed: the command could not be queued (%s)", a->agent_id,
			     strerror(-err));
			continue;
		}
		note(ctx, "sent %s to agent %s (command %llu)", c->command, a->agent_id,
		     (unsigned long long)a->id);
	}
}

/* The agent's answer @text into @a. */
static void take_answer(struct agent_cmd *a, const char *text)
{
	json_t *o = json_loads(text, 0, NULL), *r = json_object_get(o, "result");
	int st = store_action_status_find(json_string_value(json_object_get(o, "status")));
	char *rtext = r ? json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;

	if (st == STORE_ACTION_SUCCEEDED || st == STORE_ACTION_FAILED ||
	    st == STORE_ACTION_TIMED_OUT) {
		a->status = (enum store_action_status)st;
		/* bounded: the action's whole result must fit the store */
		if (rtext && strlen(rtext) > AGENT_CMD_RESULT_MAX) {
			rtext[AGENT_CMD_RESULT_MAX] = '\0';
			a->result = json_stringn(rtext, strlen(rtext));
			if (!a->result) /* cut in a UTF-8 sequence: say so instead */
				a->result = json_string("(a result too long to keep)");
		} else {
			a->result = r ? json_incref(r) : json_null();
		}
	} else {
		a->status = STORE_ACTION_FAILED;
		a->result = json_string("an answer without a known status");
	}
	free(rtext);
	json_decref(o);
}

void agent_cmds_wait(struct agent_cmds *c, struct ingest *in, int64_t deadline_ms,
		     struct action_ctx *ctx)
{
	for (;;) {
		size_t pending = 0;

		for (size_t i = 0; i < c->n; i++) {
			struct agent_cmd *a = &c->v[i];
			char *text = NULL, *rtext;

			if (a->status != STORE_ACTION_PENDING)
				continue;
			if (ingest_command_result(in, a->id, &text)) {
				pending++;
				continue;
			}
			take_answer(a, text);
			free(text);
			rtext = json_dumps(a->result, JSON_COMPACT | JSON_ENCODE_ANY);
			note(ctx, "%s: %s %s", a->agent_id, store_action_status_name(a->status),
			     rtext ? rtext : "");
			free(rtext);
		}
		if (!pending)
			return;
		if (agent_cmd_now_ms() >= deadline_ms)
			break;
		time_sleep_ns(AGENT_CMD_POLL_MS * NSEC_PER_MSEC);
	}
	for (size_t i = 0; i < c->n; i++) {
		struct agent_cmd *a = &c->v[i];

		if (a->status != STORE_ACTION_PENDING)
			continue;
		/* -ENOENT: it was answered in between; the answer is dropped with the rest */
		ingest_command_cancel(in, a->id);
		a->status = STORE_ACTION_TIMED_OUT;
		a->result = json_string("no answer in time");
		note(ctx, "%s: timed_out: no answer in time", a->agent_id);
	}
}

enum store_action_status agent_cmds_status(const struct agent_cmds *c)
{
	bool failed = !c->n, timed_out = false;

	for (size_t i = 0; i < c->n; i++) {
		failed |= c->v[i].status == STORE_ACTION_FAILED;
		timed_out |= c->v[i].status != STORE_ACTION_SUCCEEDED;
	}
	return failed	   ? STORE_ACTION_FAILED
	       : timed_out ? STORE_ACTION_TIMED_OUT
			   : STORE_ACTION_SUCCEEDED;
}

void agent_cmds_failures(const struct agent_cmds *c, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < c->n && used < len; i++) {
		const struct agent_cmd *a = &c->v[i];
		const char *why = json_string_value(a->result);
		int w;

		if (a->status == STORE_ACTION_SUCCEEDED)
			continue;
		w = snprintf(out + used, len - used, "%s%s %s%s%s", used ? "; " : "", a->agent_id,
			     store_action_status_name(a->status), why ? ": " : "", why ? why : "");
		used += w > 0 ? (size_t)w : 0;
	}
}

json_t *agent_cmds_json(const struct agent_cmds *c)
{
	json_t *v = json_array();

	for (size_t i = 0; i < c->n; i++) {
		const struct agent_cmd *a = &c->v[i];

		json_array_append_new(v, json_pack("{s:s, s:s, s:O}", "agent_id", a->agent_id,
						   "status", store_action_status_name(a->status),
						   "result", a->result ? a->result : json_null()));
	}
	return v;
}
