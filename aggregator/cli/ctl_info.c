/*
 * `health` and `audit` (ctl_info.h).
 */
#include "aggregator/cli/ctl_info.h"

#include <errno.h>
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

#define AUDIT_LIMIT_MAX 1000 /* API.md: lists take at most 1000 */
/* what an opaque cursor may hold to be shown as a command to paste */
#define CURSOR_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=:"

/* @s seconds as "3d 4h 5m 6s", leading zero units left out ("0s" for none). */
static void format_uptime(long long s, char *out, size_t len)
{
	static const struct {
		long long secs;
		char unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t off = 0;

	out[0] = '\0';
	if (s < 0)
		s = 0;
	for (size_t i = 0; i < PRP_ARRAY_SIZE(units) && off < len; i++) {
		long long n = s / units[i].secs;

		s %= units[i].secs;
		if (n || off || units[i].secs == 1)
			off += (size_t)snprintf(out + off, len - off, "%s%lld%c", off ? " " : "", n,
						units[i].unit);
	}
}

enum ctl_status ctl_info_health(const struct ctl_opts *o, const struct ctl_args *a)
{
	struct ctl_answer ans;
	enum ctl_status st;
	struct ctl_table *t;
	json_t *up, *comp;
	char uptime[64];

	(void)a;
	st = ctl_call(o, "GET", "/health", NULL, &ans);
	if (st != CTL_OK || ctl_call_print_raw(o, &ans.http))
		goto out;
	t = ctl_table_new(2, NULL);
	ctl_table_field(t, "status", json_object_get(ans.json, "status"));
	ctl_table_field(t, "version", json_object_get(ans.json, "version"));
	up = json_object_get(ans.json, "uptime_s");
	if (json_is_integer(up)) {
		format_uptime(json_integer_value(up), uptime, sizeof(uptime));
		ctl_table_field_text(t, "uptime", uptime);
	} else {
		ctl_table_field(t, "uptime", up);
	}
	comp = json_object_get(ans.json, "components");
	if (json_object_get(comp, "agents_connected"))
		ctl_table_field(t, "agents", json_object_get(comp, "agents_connected"));
	if (json_is_string(json_object_get(comp, "store")))
		ctl_table_field(t, "store", json_object_get(comp, "store"));
	ctl_table_write(t, stdout);
	ctl_table_free(t);
out:
	ctl_answer_release(&ans);
	return st;
}

/* "/audit?limit=N&since=S&cursor=C" with the given ones: caller owns, free(). NULL: bad flag. */
static char *audit_path(const struct ctl_args *a)
{
	const char *limit = ctl_args_get(a, "--limit"), *since = ctl_args_get(a, "--since");
	const char *cursor = ctl_args_get(a, "--cursor");
	const char *names[] = { "limit", "since", "cursor" }, *values[] = { limit, since, cursor };
	char *path;
	uint64_t n, ns;

	if (limit && strparse_u64(limit, 1, AUDIT_LIMIT_MAX, &n)) {
		fprintf(stderr, "prpctl: --limit '%.32s' is not a number from 1 to %d\n", limit,
			AUDIT_LIMIT_MAX);
		return NULL;
	}
	if (since && time_parse_since(since, time_real_ns(), &ns)) {
		fprintf(stderr,
			"prpctl: --since '%.64s' is neither an instant (2026-11-27T10:00:00Z) nor "
			"a time ago (15m, 2h, 7d)\n",
			since);
		return NULL;
	}
	path = xstrdup("/audit");
	for (size_t i = 0; i < PRP_ARRAY_SIZE(names); i++) {
		char *v, *longer;

		if (!values[i])
			continue;
		v = ctl_http_escape(values[i]);
		longer = xasprintf("%s%c%s=%s", path, strchr(path, '?') ? '&' : '?', names[i], v);
		free(v);
		free(path);
		path = longer;
	}
	return path;
}

enum ctl_status ctl_info_audit(const struct ctl_opts *o, const struct ctl_args *a)
{
	static const char *const heads[] = { "TIME", "ACTOR", "ACTION", "TARGET" };
	static const char *const keys[] = { "timestamp", "actor", "action", "target" };
	struct ctl_answer ans;
	enum ctl_status st;
	struct ctl_table *t;
	const char *next;
	char *path = audit_path(a);
	size_t i;
	json_t *e;

	if (!path)
		return CTL_USAGE;
	st = ctl_call(o, "GET", path, NULL, &ans);
	free(path);
	if (st != CTL_OK || ctl_call_print_raw(o, &ans.http))
		goto out;
	t = ctl_table_new(PRP_ARRAY_SIZE(heads), heads);
	json_array_foreach(json_object_get(ans.json, "entries"), i, e)
		ctl_table_add_json(t, e, keys);
	ctl_table_write(t, stdout);
	ctl_table_free(t);
	next = json_string_value(json_object_get(ans.json, "next_cursor"));
	if (next && *next && next[strspn(next, CURSOR_CHARS)] == '\0')
		fprintf(stderr, "prpctl: more entries: prpctl audit --cursor %s\n", next);
out:
	ctl_answer_release(&ans);
	return st;
}
