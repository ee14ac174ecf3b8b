/*
 * POST /chat {query, context?, conversation_id?}: reads the question
 * against the conversation's previous one (chat_sessions), answers it from
 * this worker's store, the series and detection (chat_answer()), and
 * remembers it for the next follow-up. A conversation id the client did
 * not give is made here and returned, so the client can follow up.
 * `context` may name the service the question is about ({"service":
 * "payments"}), which a question that names none then uses.
 */
#include "aggregator/http/api_chat.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/analysis/chat.h"
#include "aggregator/analysis/chat_sessions.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "common/timeutil.h"

/* The body's fields, checked: 0, or the 400 answered. */
static int api_chat_fields(struct resp *rp, json_t *body, const char **query, const char **id,
			   const char **service)
{
	json_t *ctx = json_object_get(body, "context");
	static const char *const known[] = { "query", "context", "conversation_id" };
	json_t *v;

	if (api_common_fields(body, rp, "/chat", known, PRP_ARRAY_SIZE(known)))
		return -EINVAL;
	*query = json_string_value(json_object_get(body, "query"));
	if (!*query)
		return resp_error(rp, 400, "bad_request", "query: a string is required");
	if (!**query || strspn(*query, " \t\r\n") == strlen(*query))
		return resp_error(rp, 400, "bad_request", "query: empty; ask about your services");
	if (strlen(*query) > CHAT_QUERY_MAX)
		return resp_error(rp, 400, "bad_request", "query: longer than %d bytes",
				  CHAT_QUERY_MAX);
	v = json_object_get(body, "conversation_id");
	*id = json_string_value(v);
	if (v && !json_is_null(v) && (!*id || !chat_id_valid(*id)))
		return resp_error(rp, 400, "bad_request",
				  "conversation_id: 1 to %d of [A-Za-z0-9._-]", CHAT_ID_MAX - 1);
	*service = NULL;
	if (ctx && !json_is_null(ctx) && !json_is_object(ctx) && !json_is_string(ctx))
		return resp_error(rp, 400, "bad_request", "context: an object or a string");
	v = json_object_get(ctx, "service");
	if (v && !json_is_string(v))
		return resp_error(rp, 400, "bad_request", "context.service: a string");
	*service = json_string_value(v);
	return 0;
}

int api_chat(struct req *rq, struct resp *rp)
{
	const char *query = NULL, *id = NULL, *service = NULL;
	struct chat_question prev, q;
	struct chat_world w = { .series = rq->env->series,
				.detection = rq->env->detection,
				.llm = rq->env->llm,
				.tenant = rq->tenant,
				.now_ms = (int64_t)(time_real_ns() / 1000000) };
	char new_id[CHAT_ID_MAX], iso[TIME_ISO_LEN];
	char **names = NULL;
	size_t n = 0;
	bool have_prev;
	json_t *body, *doc;

	if (api_common_body(rq, rp, false, &body))
		return -EINVAL;
	if (api_chat_fields(rp, body, &query, &id, &service)) {
		json_decref(body);
		return -EINVAL;
	}
	w.store = api_common_store(rq, rp);
	if (!w.store || chat_services(&w, &names, &n)) {
		json_decref(body);
		return w.store ? resp_error(rp, 503, "unavailable", "cannot read the services") : -EIO;
	}
	if (!id) {
		chat_id_new(new_id);
		id = new_id;
	}
	have_prev = chat_sessions_get(rq->env->chat, rq->tenant, id, w.now_ms, &prev);
	if (!have_prev && service) {
		/* the context stands for a previous question about that service */
		memset(&prev, 0, sizeof(prev));
		prev.intent = CHAT_HEALTH;
		snprintf(prev.service, sizeof(prev.service), "%s", service);
		have_prev = true;
	}
	chat_understand(query, (const char *const *)names, n, have_prev ? &prev : NULL, w.now_ms,
			&q);
	chat_services_free(names, n);
	doc = chat_answer(&w, &q);
	if (!doc) {
		json_decref(body);
		return resp_error(rp, 503, "unavailable", "cannot read the store");
	}
	chat_sessions_put(rq->env->chat, rq->tenant, id, w.now_ms, &q);
	time_format_iso((uint64_t)w.now_ms * 1000000, iso);
	json_object_set_new(doc, "conversation_id", json_string(id));
	json_object_set_new(doc, "timestamp", json_string(iso));
	json_decref(body);
	return resp_json(rp, 200, doc);
}
