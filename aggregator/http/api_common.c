/*
 * Shared first steps of the read handlers.
 */
#include "aggregator/http/api_common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aggregator/store/store.h"
#include "common/strparse.h"

int api_common_query(struct req *rq, struct resp *rp, struct query *q, unsigned keys,
		     int64_t default_range_ms)
{
	char err[512];

	if (rq->query_overflow)
		return resp_error(rp, 400, "bad_request", "more than %d query parameters",
				  REQ_QUERY_MAX);
	if (query_parse(q, rq->query, rq->nquery, keys, rq->now_ms, default_range_ms, err,
			sizeof(err)))
		return resp_error(rp, 400, "bad_request", "%s", err);
	return 0;
}

struct store *api_common_store(struct req *rq, struct resp *rp)
{
	struct store *st = req_store(rq);

	if (!st)
		resp_error(rp, 503, "unavailable", "the store cannot be opened");
	return st;
}

int api_common_cursor(const struct query *q, struct resp *rp, char *key, size_t cap)
{
	key[0] = '\0';
	if (q->cursor && query_cursor_decode(q->cursor, key, cap))
		return resp_error(rp, 400, "bad_request", "cursor: not a cursor this API gave");
	return 0;
}

int api_common_before_id(const struct query *q, struct resp *rp, int64_t *before_id)
{
	char after[2 * QUERY_CURSOR_MAX];

	*before_id = 0;
	if (api_common_cursor(q, rp, after, sizeof(after)))
		return -EINVAL;
	if (after[0] && strparse_i64(after, 1, INT64_MAX, before_id))
		return resp_error(rp, 400, "bad_request", "cursor: not a cursor this API gave");
	return 0;
}

int api_common_param(struct req *rq, struct resp *rp, const char *name, const char **value)
{
	*value = NULL;
	for (size_t i = 0; i < rq->nquery; i++) {
		if (strcmp(rq->query[i].key, name))
			continue;
		if (*value)
			return resp_error(rp, 400, "bad_request", "%s: given more than once", name);
		if (!rq->query[i].value || !rq->query[i].value[0])
			return resp_error(rp, 400, "bad_request", "%s: empty", name);
		*value = rq->query[i].value;
	}
	return 0;
}

int api_common_id(struct req *rq, struct resp *rp, const char *what, int64_t *id)
{
	const char *text = req_param(rq, "id");
	int err = text ? strparse_i64(text, 1, INT64_MAX, id) : -EINVAL;

	/* a number out of range names no record: the same 404 as an unknown one */
	if (err == -ERANGE)
		return resp_error(rp, 404, "not_found", "no %s with id '%.32s'", what, text);
	if (err)
		return resp_error(rp, 400, "bad_request", "id: '%.32s' is not a number",
				  text ? text : "");
	return 0;
}

const char *api_common_actor(const struct req *rq)
{
	return rq->actor;
}

int api_common_platform(const struct req *rq, struct resp *rp, const char *what)
{
	if (!strcmp(rq->tenant, REQ_DEFAULT_TENANT))
		return 0;
	return resp_error(rp, 403, "forbidden",
			  "%s acts for every tenant: only keys of the default tenant may", what);
}

int api_common_fields(json_t *body, struct resp *rp, const char *what, const char *const *known,
		      size_t n)
{
	const char *name;
	json_t *v;

	json_object_foreach(body, name, v) {
		char list[256] = "";
		size_t i = 0, len = 0;

		while (i < n && strcmp(name, known[i]))
			i++;
		if (i < n)
			continue;
		for (i = 0; i < n && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
						known[i]);
		return resp_error(rp, 400, "bad_request", "%.64s: not a field of %s (%s)", name,
				  what, list);
	}
	return 0;
}

bool api_common_media_is(const char *ct, const char *type)
{
	size_t n = strcspn(ct, ";");

	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == strlen(type) && !strncasecmp(ct, type, n);
}

static bool api_common_is_json(const char *ct)
{
	return api_common_media_is(ct, "application/json");
}

int api_common_body(struct req *rq, struct resp *rp, bool empty_ok, json_t **out)
{
	json_error_t jerr;
	json_t *v;

	*out = NULL;
	if (!rq->body_len && empty_ok) {
		*out = json_object();
		return 0;
	}
	if (!rq->body_len)
		return resp_error(rp, 400, "bad_request", "a JSON object body is required");
	if (rq->content_type && !api_common_is_json(rq->content_type))
		return resp_error(rp, 415, "unsupported_media_type",
				  "Content-Type '%.64s' is not application/json", rq->content_type);
	v = json_loadb((const char *)rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v)
		return resp_error(rp, 400, "invalid_json", "invalid JSON at line %d column %d: %s",
				  jerr.line, jerr.column, jerr.text);
	if (!json_is_object(v)) {
		json_decref(v);
		return resp_error(rp, 400, "invalid_json", "the body must be a JSON object");
	}
	*out = v;
	return 0;
}

json_t *api_common_page(const char *key, json_t *list, bool more, int64_t last_id)
{
	size_t n = json_array_size(list);
	json_t *doc = json_pack("{s:o, s:I}", key, list, "count", (json_int_t)n);
	char id[24], next[64];

	snprintf(id, sizeof(id), "%" PRId64, last_id);
	if (doc && more && n && !query_cursor_encode(id, next, sizeof(next)))
		json_object_set_new(doc, "next_cursor", json_string(next));
	return doc;
}
