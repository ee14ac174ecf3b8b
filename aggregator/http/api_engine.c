/*
 * Engine answers as API answers (api_engine.h). The engine speaks HTTP
 * statuses but not the envelope: its errors are flat objects, so they are
 * rebuilt here through resp_error_extra(), which adds the request id and
 * keeps the envelope's shape whatever the engine puts in them.
 */
#include "aggregator/http/api_engine.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "aggregator/http/api_env.h"

struct engine *api_engine_get(struct req *rq, struct resp *rp)
{
	if (!rq->env->engine)
		resp_error(rp, 503, "unavailable", "the policy engine is not running");
	return rq->env->engine;
}

/* The code of API.md's envelope for @status, when the engine gives none usable. */
static const char *api_engine_code(unsigned status)
{
	switch (status) {
	case 400:
		return "bad_request";
	case 404:
		return "not_found";
	case 409:
		return "conflict";
	case 413:
		return "payload_too_large";
	case 415:
		return "unsupported_media_type";
	case 422:
		return "invalid_policy";
	case 503:
		return "unavailable";
	default:
		return status < 500 ? "bad_request" : "internal";
	}
}

/* Codes are stable snake_case literals: anything else is not passed on. */
static bool api_engine_code_ok(const char *code)
{
	size_t n = code ? strlen(code) : 0;

	if (!n || n > 48)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((code[i] >= 'a' && code[i] <= 'z') || code[i] == '_'))
			return false;
	}
	return true;
}

static int api_engine_error(struct resp *rp, unsigned status, json_t *body)
{
	json_t *err = json_object_get(body, "error"), *extra = json_object();
	const char *code = NULL, *message = NULL, *key;
	json_t *src = body, *member;
	int ret;

	/* flat {error: "code", message, ...}, or an envelope-like {error: {code, message, ...}} */
	if (json_is_object(err))
		src = err;
	else
		code = json_string_value(err);
	if (!code)
		code = json_string_value(json_object_get(src, "code"));
	message = json_string_value(json_object_get(src, "message"));
	json_object_foreach (src, key, member) {
		if (strcmp(key, "error") && strcmp(key, "code") && strcmp(key, "message") &&
		    strcmp(key, "status") && strcmp(key, "request_id"))
			json_object_set(extra, key, member);
	}
	if (!api_engine_code_ok(code))
		code = api_engine_code(status);
	ret = resp_error_extra(rp, status, code, extra, "%s", message ? message : code);
	json_decref(extra);
	return ret;
}

int api_engine_answer(struct resp *rp, struct engine_result *r)
{
	unsigned status = r->status >= 200 && r->status <= 599 ? (unsigned)r->status : 500;
	int ret;

	if (status >= 400) {
		ret = api_engine_error(rp, status, r->body);
	} else {
		/* resp_json() takes the body; a NULL one is its 500 */
		ret = resp_json(rp, status, r->body);
		r->body = NULL;
	}
	engine_result_release(r);
	return ret;
}
