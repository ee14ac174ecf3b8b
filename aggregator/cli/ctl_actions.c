/*
 * The action commands (ctl_actions.h). `watch` polls GET
 * /actions/{id}/status once a second and prints a line each time the status
 * changes; it ends with CTL_OK on succeeded (or skipped), CTL_ACTION_FAILED
 * on failed or timed_out, and CTL_ACTION_FAILED too when --timeout (the whole watch; default
 * 300 s, and the bound of each request too) runs out.
 */
#include "aggregator/cli/ctl_actions.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregator/cli/ctl_args.h"
#include "aggregator/cli/ctl_call.h"
#include "aggregator/cli/ctl_http.h"
#include "aggregator/cli/ctl_opts.h"
#include "aggregator/cli/ctl_table.h"
#include "common/alloc.h"
#include "common/compiler.h"
#include "common/strparse.h"
#include "common/timeutil.h"

#define WATCH_WAIT_DEFAULT_S 300
#define POLL_MS		     1000

enum ctl_status ctl_actions_list(const struct ctl_opts *o, const struct ctl_args *a)
{
	static const char *const heads[] = { "ID",     "ACTION", "SERVICE",
					     "STATUS", "POLICY", "CREATED" };
	static const char *const keys[] = { "action_id", "action",	"service",
					    "status",	 "policy_name", "created_at" };
	static const char *const filters[] = { "service", "action", "policy",
					       "status",  "since",  "limit" };
	char *path = xstrdup("/actions");
	enum ctl_status st;

	ctl_call_filters(&path, a, filters, PRP_ARRAY_SIZE(filters));
	st = ctl_call_list(o, path, "actions", PRP_ARRAY_SIZE(heads), heads, keys);
	free(path);
	return st;
}

/* The --param K=V flags of @a as an object; NULL after a usage message. Caller owns. */
static json_t *params(const struct ctl_args *a)
{
	json_t *p = json_object();

	for (size_t i = 0; i < a->nflags; i++) {
		const char *kv = a->values[i], *eq;
		char *k;

		if (strcmp(a->names[i], "--param"))
			continue;
		eq = strchr(kv, '=');
		if (!eq || eq == kv) {
			fprintf(stderr, "prpctl: --param '%.64s' is not KEY=VALUE\n", kv);
			json_decref(p);
			return NULL;
		}
		k = xstrndup(kv, (size_t)(eq - kv));
		json_object_set_new(p, k, json_string(eq + 1));
		free(k);
	}
	return p;
}

enum ctl_status ctl_actions_execute(const struct ctl_opts *o, const struct ctl_args *a)
{
	const char *reason = ctl_args_get(a, "--reason");
	json_t *p = params(a), *body;
	struct ctl_answer ans;
	enum ctl_status st;
	struct ctl_table *t;

	if (!p)
		return CTL_USAGE;
	body = json_pack("{s:s, s:s, s:o}", "action", a->pos[0], "service", a->pos[1], "parameters",
			 p);
	if (!body) {
		fprintf(stderr, "prpctl: the action and service must be UTF-8\n");
		return CTL_USAGE;
	}
	if (reason)
		json_object_set_new(body, "reason", json_string(reason));
	st = ctl_call(o, "POST", "/actions/execute", body, &ans);
	json_decref(body);
	if (st != CTL_OK || ctl_call_print_raw(o, &ans.http))
		goto out;
	t = ctl_table_new(2, NULL);
	ctl_table_field(t, "action_id", json_object_get(ans.json, "action_id"));
	ctl_table_field(t, "status", json_object_get(ans.json, "status"));
	ctl_table_write(t, stdout);
	ctl_table_free(t);
out:
	ctl_answer_release(&ans);
	return st;
}

static bool is_final(const char *s, enum ctl_status *st)
{
	if (!strcmp(s, "succeeded") || !strcmp(s, "skipped")) {
		*st = CTL_OK;
		return true;
	}
	if (!strcmp(s, "failed") || !strcmp(s, "timed_out")) {
		*st = CTL_ACTION_FAILED;
		return true;
	}
	return false;
}

enum ctl_status ctl_actions_watch(const struct ctl_opts *o, const struct ctl_args *a)
{
	const char *wait = ctl_args_get(a, "--timeout");
	uint64_t wait_ns = WATCH_WAIT_DEFAULT_S * NSEC_PER_SEC, start = time_mono_ns();
	char *id = ctl_http_escape(a->pos[0]), *path = xasprintf("/actions/%s/status", id);
	char last[64] = "";
	enum ctl_status st;

	free(id);
	if (wait && strparse_duration_ns(wait, NSEC_PER_SEC, &wait_ns)) {
		fprintf(stderr, "prpctl: --timeout '%.32s' is not a duration (30, 30s, 5m)\n",
			wait);
		free(path);
		return CTL_USAGE;
	}
	if (!wait_ns)
		wait_ns = UINT64_MAX; /* --timeout 0: never */
	for (;;) {
		struct ctl_answer ans;
		const char *s;
		bool done;

		st = ctl_call(o, "GET", path, NULL, &ans);
		if (st != CTL_OK) {
			ctl_answer_release(&ans);
			break;
		}
		s = json_string_value(json_object_get(ans.json, "status"));
		if (!s)
			s = "unknown";
		if (strcmp(s, last)) {
			char ts[TIME_ISO_LEN];

			snprintf(last, sizeof(last), "%s", s);
			time_format_iso(time_real_ns(), ts);
			if (o->json)
				ctl_call_print_raw(o, &ans.http);
			else
				printf("%s  %s\n", ts, last);
			fflush(stdout);
		}
		done = is_final(last, &st);
		if (done && !o->json && st != CTL_OK) {
			json_t *result = json_object_get(ans.json, "result");
			char *r = result ? ctl_table_text(result) : xstrdup("no result given");

			fprintf(stderr, "prpctl: action %s %s: %s\n", a->pos[0], last, r);
			free(r);
		}
		ctl_answer_release(&ans);
		if (done)
			break;
		if (time_mono_ns() - start >= wait_ns) {
			fprintf(stderr, "prpctl: action %s still %s after the timeout\n", a->pos[0],
				last);
			st = CTL_ACTION_FAILED;
			break;
		}
		nanosleep(&(struct timespec){ .tv_sec = POLL_MS / 1000 }, NULL);
	}
	free(path);
	return st;
}
