/*
 * API calls and their failures (ctl_call.h). Text from the server that
 * reaches the terminal has its control characters replaced, so an answer
 * cannot move the cursor or change colours.
 */
#include "aggregator/cli/ctl_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/cli/ctl_args.h"
#include "aggregator/cli/ctl_table.h"
#include "common/alloc.h"

#define SHOWN_MAX 200 /* of a body that is not an envelope: its start says enough */

/* Prints @len bytes of @s to @f with control characters as '?'. */
static void put_clean(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len && s[i]; i++)
		fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i], f);
}

void ctl_call_report(const struct ctl_http_resp *rs)
{
	json_t *root = json_loadb((const char *)rs->body.data, rs->body.len, 0, NULL);
	json_t *e = json_object_get(root, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	json_t *st = json_object_get(e, "status");
	const char *body = buf_str(&rs->body);

	if (code && msg) {
		fprintf(stderr, "prpctl: %lld ",
			json_is_integer(st) ? (long long)json_integer_value(st)
					    : (long long)rs->status);
		put_clean(stderr, code, strlen(code));
		fputs(": ", stderr);
		put_clean(stderr, msg, strlen(msg));
		fputc('\n', stderr);
	} else {
		while (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t')
			body++;
		fprintf(stderr, "prpctl: HTTP %ld%s", rs->status, *body ? ": " : " with no body");
		put_clean(stderr, body,
			  strcspn(body, "\r\n") < SHOWN_MAX ? strcspn(body, "\r\n") : SHOWN_MAX);
		fputc('\n', stderr);
	}
	json_decref(root);
}

enum ctl_status ctl_call_status(long http_status)
{
	if (http_status >= 200 && http_status <= 299)
		return CTL_OK;
	if (http_status == 401 || http_status == 403)
		return CTL_DENIED;
	if (http_status == 404)
		return CTL_NOT_FOUND;
	return CTL_FAILED;
}

void ctl_call_query(char **path, const char *name, const char *value)
{
	char *v, *longer;

	if (!value)
		return;
	v = ctl_http_escape(value);
	longer = xasprintf("%s%c%s=%s", *path, strchr(*path, '?') ? '&' : '?', name, v);
	free(v);
	free(*path);
	*path = longer;
}

void ctl_call_filters(char **path, const struct ctl_args *a, const char *const *filters, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char flag[32];

		snprintf(flag, sizeof(flag), "--%s", filters[i]);
		ctl_call_query(path, filters[i], ctl_args_get(a, flag));
	}
}

enum ctl_status ctl_call_list(const struct ctl_opts *o, const char *path, const char *member,
			      size_t ncols, const char *const *heads, const char *const *keys)
{
	struct ctl_answer ans;
	enum ctl_status st;
	struct ctl_table *t;
	json_t *e, *list;
	size_t i;

	st = ctl_call(o, "GET", path, NULL, &ans);
	if (st != CTL_OK || ctl_call_print_raw(o, &ans.http))
		goto out;
	list = member ? json_object_get(ans.json, member) : ans.json;
	t = ctl_table_new(ncols, heads);
	json_array_foreach(list, i, e)
		ctl_table_add_json(t, e, keys);
	ctl_table_write(t, stdout);
	ctl_table_free(t);
out:
	ctl_answer_release(&ans);
	return st;
}

enum ctl_status ctl_call_http(const struct ctl_opts *o, const struct ctl_http_req *rq,
			      struct ctl_http_resp *rs)
{
	if (ctl_http_do(&o->conn, rq, rs)) {
		fprintf(stderr, "prpctl: ");
		put_clean(stderr, rs->error, strlen(rs->error));
		fputc('\n', stderr);
		return CTL_UNREACHABLE;
	}
	if (rs->status < 200 || rs->status > 299) {
		ctl_call_report(rs);
		return ctl_call_status(rs->status);
	}
	return CTL_OK;
}

enum ctl_status ctl_call(const struct ctl_opts *o, const char *method, const char *path,
			 const json_t *body, struct ctl_answer *ans)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct ctl_http_req rq = {
		.method = method,
		.path = path,
		.body = text,
		.body_len = text ? strlen(text) : 0,
	};
	json_error_t jerr;
	enum ctl_status st;

	ans->json = NULL;
	st = ctl_call_http(o, &rq, &ans->http);
	free(text);
	if (st != CTL_OK)
		return st;
	if (ans->http.body.len == 0) {
		ans->json = json_object(); /* 204, or a 200 with nothing to say */
		return CTL_OK;
	}
	ans->json = json_loadb((const char *)ans->http.body.data, ans->http.body.len, 0, &jerr);
	if (!json_is_object(ans->json)) {
		if (ans->json)
			fprintf(stderr, "prpctl: the answer to %s %s is not a JSON object\n",
				method, path);
		else
			fprintf(stderr, "prpctl: the answer to %s %s is not JSON: %s at %d:%d\n",
				method, path, jerr.text, jerr.line, jerr.column);
		json_decref(ans->json);
		ans->json = NULL;
		return CTL_FAILED;
	}
	return CTL_OK;
}

void ctl_answer_release(struct ctl_answer *ans)
{
	json_decref(ans->json);
	ans->json = NULL;
	ctl_http_resp_release(&ans->http);
}

bool ctl_call_print_raw(const struct ctl_opts *o, const struct ctl_http_resp *rs)
{
	if (!o->json)
		return false;
	fwrite(rs->body.data ? rs->body.data : (const unsigned char *)"", 1, rs->body.len, stdout);
	if (rs->body.len && rs->body.data[rs->body.len - 1] != '\n')
		fputc('\n', stdout);
	return true;
}
