/*
 * Raw calls (ctl_raw.h). A body from stdin is read whole, up to
 * CTL_HTTP_BODY_MAX, before the request starts.
 */
#include "aggregator/cli/ctl_raw.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/cli/ctl_args.h"
#include "aggregator/cli/ctl_call.h"
#include "aggregator/cli/ctl_http.h"
#include "aggregator/cli/ctl_opts.h"
#include "common/alloc.h"
#include "common/buf.h"

/* Reads stdin whole into @b. Returns 0, or -E2BIG / -errno after a message. */
static int read_stdin(struct buf *b)
{
	char chunk[16384];
	ssize_t n;

	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "prpctl: cannot read stdin: %s\n", strerror(errno));
			return -errno;
		}
		if (buf_append(b, chunk, (size_t)n)) {
			fprintf(stderr, "prpctl: the body on stdin is larger than %u MiB\n",
				CTL_HTTP_BODY_MAX >> 20);
			return -E2BIG;
		}
	}
	return 0;
}

/* Prints a 2xx answer: JSON indented unless --json, anything else as it came. */
static void print_answer(const struct ctl_opts *o, const struct ctl_http_resp *rs)
{
	json_t *v = NULL;

	if (!o->json && rs->body.len)
		v = json_loadb((const char *)rs->body.data, rs->body.len, JSON_DECODE_ANY, NULL);
	if (v) {
		json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
		fputc('\n', stdout);
		json_decref(v);
		return;
	}
	fwrite(rs->body.data ? rs->body.data : (const unsigned char *)"", 1, rs->body.len, stdout);
	if (rs->body.len && rs->body.data[rs->body.len - 1] != '\n')
		fputc('\n', stdout);
}

/* @method on the path in pos[0], with the body pos[1] names if there is one. */
static enum ctl_status raw(const struct ctl_opts *o, const struct ctl_args *a, const char *method)
{
	const char *ct = ctl_args_get(a, "--content-type");
	char *path = xasprintf("%s%s", a->pos[0][0] == '/' ? "" : "/", a->pos[0]);
	struct ctl_http_req rq = { .method = method, .path = path, .content_type = ct };
	struct ctl_http_resp rs;
	struct buf body;
	enum ctl_status st = CTL_OK;
	json_error_t jerr;
	json_t *check;

	buf_init(&body, CTL_HTTP_BODY_MAX);
	if (a->npos > 1 && !strcmp(a->pos[1], "-")) {
		if (read_stdin(&body)) {
			st = CTL_FAILED;
			goto out;
		}
		rq.body = body.data ? (const char *)body.data : "";
		rq.body_len = body.len;
	} else if (a->npos > 1) {
		rq.body = a->pos[1];
		rq.body_len = strlen(a->pos[1]);
	}
	if (rq.body && (!ct || ctl_http_is_json(ct))) {
		check = json_loadb(rq.body, rq.body_len, JSON_DECODE_ANY, &jerr);
		if (!check) {
			fprintf(stderr, "prpctl: the body is not JSON: %s at %d:%d\n", jerr.text,
				jerr.line, jerr.column);
			st = CTL_USAGE;
			goto out;
		}
		json_decref(check);
	}
	st = ctl_call_http(o, &rq, &rs);
	if (st == CTL_OK)
		print_answer(o, &rs);
	ctl_http_resp_release(&rs);
out:
	buf_release(&body);
	free(path);
	return st;
}

enum ctl_status ctl_raw_get(const struct ctl_opts *o, const struct ctl_args *a)
{
	return raw(o, a, "GET");
}

enum ctl_status ctl_raw_post(const struct ctl_opts *o, const struct ctl_args *a)
{
	return raw(o, a, "POST");
}

enum ctl_status ctl_raw_put(const struct ctl_opts *o, const struct ctl_args *a)
{
	return raw(o, a, "PUT");
}

enum ctl_status ctl_raw_delete(const struct ctl_opts *o, const struct ctl_args *a)
{
	return raw(o, a, "DELETE");
}
