/*
 * The key commands (ctl_keys.h). The role is checked here before anything
 * is sent, since a typo in it is the commonest mistake; every other rule
 * (unique names, tenants) is the server's.
 */
#include "aggregator/cli/ctl_keys.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/cli/ctl_args.h"
#include "aggregator/cli/ctl_call.h"
#include "aggregator/cli/ctl_http.h"
#include "aggregator/cli/ctl_opts.h"
#include "aggregator/cli/ctl_table.h"
#include "common/alloc.h"
#include "common/strparse.h"
#include "common/timeutil.h"

#define RATE_MAX 1000000000ull /* requests per period: far past any real limit */

static bool role_ok(const char *role)
{
	return !strcmp(role, "viewer") || !strcmp(role, "operator") || !strcmp(role, "admin");
}

/* Adds --per-minute and --per-hour to @body as rate_limit; -1 after a usage message. */
static int add_rate_limit(json_t *body, const struct ctl_args *a)
{
	static const char *const flags[] = { "--per-minute", "--per-hour" };
	static const char *const fields[] = { "per_minute", "per_hour" };
	json_t *rl = NULL;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(flags); i++) {
		const char *v = ctl_args_get(a, flags[i]);
		uint64_t n;

		if (!v)
			continue;
		if (strparse_u64(v, 1, RATE_MAX, &n)) {
			fprintf(stderr, "prpctl: %s '%.32s' is not a whole number of requests\n",
				flags[i], v);
			json_decref(rl);
			return -1;
		}
		if (!rl)
			rl = json_object();
		json_object_set_new(rl, fields[i], json_integer((json_int_t)n));
	}
	if (rl)
		json_object_set_new(body, "rate_limit", rl);
	return 0;
}

/* Sets @obj.@field to the string @v: 0, or -1 after a usage message when it is not UTF-8. */
static int set_str(json_t *obj, const char *field, const char *v)
{
	json_t *s = json_string(v);

	if (!s) {
		fprintf(stderr, "prpctl: the %s is not UTF-8\n", field);
		return -1;
	}
	json_object_set_new(obj, field, s);
	return 0;
}

/* The body of POST /keys; NULL after a usage message. Caller owns: json_decref(). */
static json_t *create_body(const struct ctl_args *a)
{
	const char *role = ctl_args_get(a, "--role");
	const char *desc = ctl_args_get(a, "--description");
	const char *tenant = ctl_args_get(a, "--tenant");
	json_t *body;

	if (!role || !role_ok(role)) {
		fprintf(stderr, "prpctl: keys create needs --role viewer, operator or admin\n");
		return NULL;
	}
	if (!*a->pos[0]) {
		fprintf(stderr, "prpctl: the key's NAME is empty\n");
		return NULL;
	}
	body = json_object();
	if (set_str(body, "name", a->pos[0]) || set_str(body, "role", role) ||
	    (desc && set_str(body, "description", desc)) ||
	    (tenant && set_str(body, "tenant", tenant)) || add_rate_limit(body, a)) {
		json_decref(body);
		return NULL;
	}
	return body;
}

enum ctl_status ctl_keys_create(const struct ctl_opts *o, const struct ctl_args *a)
{
	struct ctl_answer ans;
	enum ctl_status st;
	struct ctl_table *t;
	const char *key;
	json_t *body = create_body(a);

	if (!body)
		return CTL_USAGE;
	st = ctl_call(o, "POST", "/keys", body, &ans);
	json_decref(body);
	if (st != CTL_OK)
		goto out;
	key = json_string_value(json_object_get(ans.json, "key"));
	if (!key) {
		fprintf(stderr, "prpctl: the answer to POST /keys holds no key\n");
		st = CTL_FAILED;
		goto out;
	}
	if (!ctl_call_print_raw(o, &ans.http)) {
		printf("%s\n", key);
		t = ctl_table_new(2, NULL);
		ctl_table_field(t, "id", json_object_get(ans.json, "id"));
		ctl_table_field(t, "name", json_object_get(ans.json, "name"));
		ctl_table_field(t, "role", json_object_get(ans.json, "role"));
		ctl_table_field(t, "tenant", json_object_get(ans.json, "tenant"));
		ctl_table_field(t, "created", json_object_get(ans.json, "created_at"));
		ctl_table_write(t, stdout);
		ctl_table_free(t);
	}
	fflush(stdout);
	fprintf(stderr, "prpctl: store this key now: it is shown only once and cannot be "
			"read back\n");
out:
	ctl_answer_release(&ans);
	return st;
}

enum ctl_status ctl_keys_list(const struct ctl_opts *o, const struct ctl_args *a)
{
	static const char *const heads[] = { "ID",	"NAME",	     "ROLE",   "TENANT",
					     "CREATED", "LAST-USED", "REVOKED" };
	static const char *const keys[] = { "id",	  "name",	  "role",      "tenant",
					    "created_at", "last_used_at", "revoked_at" };
	struct ctl_answer ans;
	enum ctl_status st;
	struct ctl_table *t;
	json_t *list, *k;
	bool revoked = false;
	size_t i;

	(void)a;
	st = ctl_call(o, "GET", "/keys", NULL, &ans);
	if (st != CTL_OK || ctl_call_print_raw(o, &ans.http))
		goto out;
	list = json_object_get(ans.json, "keys");
	json_array_foreach(list, i, k)
		revoked |= json_is_string(json_object_get(k, "revoked_at"));
	/* the REVOKED column only when there is something in it */
	t = ctl_table_new(PRP_ARRAY_SIZE(heads) - !revoked, heads);
	json_array_foreach(list, i, k)
		ctl_table_add_json(t, k, keys);
	ctl_table_write(t, stdout);
	ctl_table_free(t);
out:
	ctl_answer_release(&ans);
	return st;
}

enum ctl_status ctl_keys_revoke(const struct ctl_opts *o, const struct ctl_args *a)
{
	char *id = ctl_http_escape(a->pos[0]), *path = xasprintf("/keys/%s", id);
	struct ctl_answer ans;
	enum ctl_status st;
	char *shown;

	free(id);
	st = ctl_call(o, "DELETE", path, NULL, &ans);
	free(path);
	if (st == CTL_OK && !ctl_call_print_raw(o, &ans.http)) {
		shown = json_object_get(ans.json, "id")
				? ctl_table_text(json_object_get(ans.json, "id"))
				: xstrdup(a->pos[0]);
		printf("revoked key %s\n", shown);
		free(shown);
	}
	ctl_answer_release(&ans);
	return st;
}

/* "97 of 100 left, resets at 2026-11-27T10:01:00.000Z" from {limit, remaining, reset}. */
static char *rate_text(const json_t *rl)
{
	json_t *reset = json_object_get(rl, "reset");
	char *limit = ctl_table_text(json_object_get(rl, "limit"));
	char *left = ctl_table_text(json_object_get(rl, "remaining"));
	char at[TIME_ISO_LEN], *out;

	if (json_is_integer(reset) && json_integer_value(reset) > 0 &&
	    json_integer_value(reset) < (json_int_t)(UINT64_MAX / NSEC_PER_SEC)) {
		/* X-RateLimit-Reset's form: epoch seconds */
		time_format_iso((uint64_t)json_integer_value(reset) * NSEC_PER_SEC, at);
	} else {
		char *t = ctl_table_text(reset);

		snprintf(at, sizeof(at), "%s", t);
		free(t);
	}
	out = xasprintf("%s of %s left, resets at %s", left, limit, at);
	free(limit);
	free(left);
	return out;
}

enum ctl_status ctl_keys_validate(const struct ctl_opts *o, const struct ctl_args *a)
{
	struct ctl_answer ans;
	enum ctl_status st;
	struct ctl_table *t;
	json_t *rl;
	char *rate;

	(void)a;
	st = ctl_call(o, "POST", "/validate", NULL, &ans);
	if (st != CTL_OK)
		goto out;
	if (!ctl_call_print_raw(o, &ans.http)) {
		t = ctl_table_new(2, NULL);
		ctl_table_field(t, "valid", json_object_get(ans.json, "valid"));
		ctl_table_field(t, "name", json_object_get(ans.json, "name"));
		ctl_table_field(t, "role", json_object_get(ans.json, "role"));
		ctl_table_field(t, "tenant", json_object_get(ans.json, "tenant"));
		rl = json_object_get(ans.json, "rate_limit");
		if (json_is_object(rl)) {
			rate = rate_text(rl);
			ctl_table_field_text(t, "rate limit", rate);
			free(rate);
		}
		ctl_table_field(t, "allowed", json_object_get(ans.json, "allowed"));
		ctl_table_write(t, stdout);
		ctl_table_free(t);
	}
	if (!json_is_true(json_object_get(ans.json, "valid")) ||
	    json_is_false(json_object_get(ans.json, "allowed")))
		st = CTL_FAILED;
out:
	ctl_answer_release(&ans);
	return st;
}
