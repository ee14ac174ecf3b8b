/*
 * The policy commands (ctl_policies.h). `apply` sends the file as it is
 * (application/yaml): POST /policies when no policy has its name, PUT
 * /policies/{id} when one does. The server takes one policy per request, so
 * a file holding several is refused by it (422, "expected exactly one
 * policy"); the name is read from the file's first `name:` key.
 */
#include "aggregator/cli/ctl_policies.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/cli/ctl_args.h"
#include "aggregator/cli/ctl_call.h"
#include "aggregator/cli/ctl_http.h"
#include "aggregator/cli/ctl_opts.h"
#include "aggregator/cli/ctl_table.h"
#include "common/alloc.h"
#include "common/compiler.h"
#include "common/strparse.h"

#define POLICY_FILE_MAX (1u << 20) /* far past any policy; the server's bound is lower */
#define NAME_MAX_LEN	128

enum ctl_status ctl_policies_list(const struct ctl_opts *o, const struct ctl_args *a)
{
	static const char *const heads[] = { "ID",	"NAME",	  "ENABLED",
					     "DRY RUN", "ORIGIN", "CONDITION" };
	static const char *const keys[] = { "id",      "name",	 "enabled",
					    "dry_run", "origin", "condition" };

	(void)a;
	return ctl_call_list(o, "/policies", "policies", PRP_ARRAY_SIZE(heads), heads, keys);
}

/*
 * The id of the policy named @name (a name, or an id when all digits) in
 * *@id: CTL_OK, CTL_NOT_FOUND after a message, or the failed call's status.
 * With @quiet, a missing name is not reported.
 */
static enum ctl_status find_policy(const struct ctl_opts *o, const char *name, bool quiet,
				   long long *id)
{
	struct ctl_answer ans;
	enum ctl_status st;
	uint64_t n;
	size_t i;
	json_t *p;

	if (!strparse_u64(name, 1, INT64_MAX, &n)) {
		*id = (long long)n;
		return CTL_OK;
	}
	st = ctl_call(o, "GET", "/policies", NULL, &ans);
	if (st != CTL_OK)
		goto out;
	st = CTL_NOT_FOUND;
	json_array_foreach(json_object_get(ans.json, "policies"), i, p) {
		const char *pn = json_string_value(json_object_get(p, "name"));

		if (pn && !strcmp(pn, name)) {
			*id = (long long)json_integer_value(json_object_get(p, "id"));
			st = CTL_OK;
			break;
		}
	}
	if (st == CTL_NOT_FOUND && !quiet)
		fprintf(stderr, "prpctl: no policy named '%.128s'\n", name);
out:
	ctl_answer_release(&ans);
	return st;
}

/* Reads @path (at most POLICY_FILE_MAX bytes) into @b: 0, or -errno after a message. */
static int read_policy_file(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	char chunk[8192];
	size_t n;
	int ret = 0;

	buf_init(b, POLICY_FILE_MAX);
	if (!f) {
		ret = -errno;
		fprintf(stderr, "prpctl: cannot open '%s': %s\n", path, strerror(errno));
		return ret;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(b, chunk, n)) {
			fprintf(stderr, "prpctl: '%s' is larger than %u bytes\n", path,
				POLICY_FILE_MAX);
			ret = -E2BIG;
			break;
		}
	}
	if (!ret && ferror(f)) {
		ret = -EIO;
		fprintf(stderr, "prpctl: cannot read '%s'\n", path);
	}
	fclose(f);
	return ret;
}

/* The value of the first `name:` key (top level or list item) of @yaml into @out; false when none.
 */
static bool policy_name(const char *yaml, char out[NAME_MAX_LEN])
{
	for (const char *line = yaml; line && *line; line = strchr(line, '\n'), line += !!line) {
		const char *p = line, *end;
		size_t len;

		while (*p == ' ')
			p++;
		if (*p == '-' && p[1] == ' ')
			for (p += 2; *p == ' '; p++)
				;
		if (p - line > 4 || strncmp(p, "name:", 5))
			continue;
		for (p += 5; *p == ' ' || *p == '\t'; p++)
			;
		end = p + strcspn(p, "#\r\n");
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		if (end - p >= 2 && (*p == '"' || *p == '\'') && end[-1] == *p) {
			p++;
			end--;
		}
		len = (size_t)(end - p);
		if (!len || len >= NAME_MAX_LEN)
			return false;
		memcpy(out, p, len);
		out[len] = '\0';
		return true;
	}
	return false;
}

/* Sends @yaml by @method to @path and prints what became of it. */
static enum ctl_status send_policy(const struct ctl_opts *o, const char *method, const char *path,
				   const struct buf *yaml)
{
	struct ctl_http_req rq = {
		.method = method,
		.path = path,
		.body = (const char *)yaml->data,
		.body_len = yaml->len,
		.content_type = "application/yaml",
	};
	struct ctl_http_resp rs;
	enum ctl_status st = ctl_call_http(o, &rq, &rs);
	json_t *doc;

	if (st != CTL_OK || ctl_call_print_raw(o, &rs))
		goto out;
	doc = json_loadb((const char *)rs.body.data, rs.body.len, 0, NULL);
	printf("policy '%s' %s (id %lld)\n",
	       json_string_value(json_object_get(json_object_get(doc, "policy"), "name")) ?: "?",
	       json_string_value(json_object_get(doc, "status")) ?: "?",
	       (long long)json_integer_value(json_object_get(doc, "id")));
	json_decref(doc);
out:
	ctl_http_resp_release(&rs);
	return st;
}

enum ctl_status ctl_policies_apply(const struct ctl_opts *o, const struct ctl_args *a)
{
	char name[NAME_MAX_LEN], *path;
	enum ctl_status st;
	struct buf yaml;
	long long id;

	if (read_policy_file(a->pos[0], &yaml)) {
		buf_release(&yaml);
		return CTL_USAGE;
	}
	if (!policy_name(buf_str(&yaml), name)) {
		fprintf(stderr, "prpctl: '%s' has no policy name (a 'name:' key)\n", a->pos[0]);
		buf_release(&yaml);
		return CTL_USAGE;
	}
	/* a name of digits would be taken for an id: look names up by name only */
	st = isdigit((unsigned char)name[0]) ? CTL_NOT_FOUND : find_policy(o, name, true, &id);
	if (st == CTL_NOT_FOUND) {
		st = send_policy(o, "POST", "/policies", &yaml);
	} else if (st == CTL_OK) {
		path = xasprintf("/policies/%lld", id);
		st = send_policy(o, "PUT", path, &yaml);
		free(path);
	}
	buf_release(&yaml);
	return st;
}

enum ctl_status ctl_policies_test(const struct ctl_opts *o, const struct ctl_args *a)
{
	const char *service = ctl_args_get(a, "--service");
	struct ctl_answer ans = { 0 };
	enum ctl_status st;
	struct ctl_table *t;
	json_t *body, *v;
	const char *k;
	long long id;
	char *path;

	st = find_policy(o, a->pos[0], false, &id);
	if (st != CTL_OK)
		return st;
	body = json_object();
	if (service)
		json_object_set_new(body, "service", json_string(service));
	path = xasprintf("/policies/%lld/test", id);
	st = ctl_call(o, "POST", path, body, &ans);
	free(path);
	json_decref(body);
	if (st != CTL_OK || ctl_call_print_raw(o, &ans.http))
		goto out;
	t = ctl_table_new(2, NULL);
	json_object_foreach(ans.json, k, v)
		ctl_table_field(t, k, v);
	ctl_table_write(t, stdout);
	ctl_table_free(t);
out:
	ctl_answer_release(&ans);
	return st;
}

enum ctl_status ctl_policies_delete(const struct ctl_opts *o, const struct ctl_args *a)
{
	struct ctl_answer ans;
	enum ctl_status st;
	long long id;
	char *path;

	st = find_policy(o, a->pos[0], false, &id);
	if (st != CTL_OK)
		return st;
	path = xasprintf("/policies/%lld", id);
	st = ctl_call(o, "DELETE", path, NULL, &ans);
	free(path);
	if (st == CTL_OK && !ctl_call_print_raw(o, &ans.http))
		printf("policy %lld deleted\n", id);
	ctl_answer_release(&ans);
	return st;
}
