/*
 * Actions as the API shows them (api_actions.h). Reads come from this
 * worker's read-only store, so listing never waits on the engine; only
 * POST /actions/execute goes through the engine, which validates the
 * action, records it and hands it to the executor. Pages are by id, as
 * those of /anomalies: the cursor is the last id of a page, hex-encoded,
 * and the next page is the ids below it, so rows added meanwhile (always
 * with higher ids) neither repeat nor shift a page.
 */
#include "aggregator/http/api_actions.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/http/api_common.h"
#include "aggregator/http/api_engine.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/query.h"
#include "aggregator/policy/action_json.h"
#include "aggregator/policy/engine.h"
#include "common/alloc.h"
#include "common/strparse.h"

/* GET /actions/recent without a limit: the few an operator glances at. */
#define API_ACTIONS_RECENT_DEFAULT 10

json_t *api_actions_item(const struct store_action *a)
{
	return action_json(a, true);
}

/* Answers the actions matching @f, with next_cursor when @paged and more remain. */
static int api_actions_answer(struct req *rq, struct resp *rp, struct store_action_filter *f,
			      bool paged)
{
	struct store *st = api_common_store(rq, rp);
	struct store_action *v = NULL;
	bool more = false;
	json_t *list, *doc;
	size_t n = 0;

	if (!st)
		return -EIO;
	f->tenant = rq->tenant;
	if (store_actions_list(st, f, &v, &n, &more))
		return resp_error(rp, 500, "internal", "cannot read the actions");
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, api_actions_item(&v[i]));
	doc = api_common_page("actions", list, paged && more, n ? v[n - 1].id : 0);
	store_actions_free(v, n);
	return resp_json(rp, 200, doc);
}

/* The page of @q into @f: its limit and the ids below its cursor. 0 or the 400 answered. */
static int api_actions_page(const struct query *q, struct resp *rp, struct store_action_filter *f)
{
	if (api_common_before_id(q, rp, &f->before_id))
		return -EINVAL;
	f->limit = q->limit;
	return 0;
}

int api_actions_list(struct req *rq, struct resp *rp)
{
	struct store_action_filter f = { .status = -1 };
	struct query q;

	if (api_common_query(rq, rp, &q, QUERY_LIMIT | QUERY_CURSOR, QUERY_RANGE_MAX_MS) ||
	    api_actions_page(&q, rp, &f))
		return -EINVAL;
	return api_actions_answer(rq, rp, &f, true);
}

int api_actions_recent(struct req *rq, struct resp *rp)
{
	struct store_action_filter f = { .status = -1 };
	struct query q;

	if (api_common_query(rq, rp, &q, QUERY_LIMIT, QUERY_RANGE_MAX_MS))
		return -EINVAL;
	f.limit = q.given & QUERY_LIMIT ? q.limit : API_ACTIONS_RECENT_DEFAULT;
	return api_actions_answer(rq, rp, &f, false);
}

/* Whether @v is longer than any stored value of a field of @cap bytes. */
static bool api_actions_too_long(const char *v, size_t cap)
{
	return v && strnlen(v, cap) >= cap;
}

/*
 * service, action (type), status and policy into @f: 0 or the 400
 * answered. *none is true when a value is longer than any stored one can
 * be, so nothing matches (the store refuses such a filter as a bad argument).
 */
static int api_actions_filter(struct req *rq, struct resp *rp, struct store_action_filter *f,
			      bool *none)
{
	const char *status;

	if (api_common_param(rq, rp, "service", &f->service) ||
	    api_common_param(rq, rp, "action", &f->type) ||
	    api_common_param(rq, rp, "policy", &f->policy_name) ||
	    api_common_param(rq, rp, "status", &status))
		return -EINVAL;
	f->status = status ? store_action_status_find(status) : -1;
	if (status && f->status < 0)
		return resp_error(rp, 400, "bad_request",
				  "status: '%.32s' is not pending, running, succeeded, failed, "
				  "timed_out or skipped",
				  status);
	*none = api_actions_too_long(f->service, SERVICE_NAME_MAX) ||
		api_actions_too_long(f->type, sizeof(((struct store_action *)0)->type)) ||
		api_actions_too_long(f->policy_name, STORE_POLICY_NAME_MAX);
	return 0;
}

int api_actions_history(struct req *rq, struct resp *rp)
{
	struct store_action_filter f = { .status = -1 };
	bool none = false;
	struct query q;

	if (api_common_query(rq, rp, &q, QUERY_SINCE | QUERY_UNTIL | QUERY_LIMIT | QUERY_CURSOR,
			     QUERY_RANGE_MAX_MS) ||
	    api_actions_page(&q, rp, &f) || api_actions_filter(rq, rp, &f, &none))
		return -EINVAL;
	if (none)
		return resp_json(rp, 200,
				 json_pack("{s:[], s:i}", "actions", "count", 0));
	/* without since/until the whole history: query_parse() fills in a default range */
	if (q.given & QUERY_SINCE)
		f.since_ms = q.since_ms;
	if (q.given & QUERY_UNTIL)
		f.until_ms = q.until_ms;
	return api_actions_answer(rq, rp, &f, true);
}

int api_actions_execute(struct req *rq, struct resp *rp)
{
	struct engine *e = api_engine_get(rq, rp);
	const char *type, *service, *reason = NULL;
	struct engine_result r = { 0 };
	json_t *body, *params = NULL;
	json_error_t jerr;

	if (!e)
		return -EIO;
	if (api_common_body(rq, rp, false, &body))
		return -EINVAL;
	if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s, s:s, s?s, s?o}", "action", &type,
			   "service", &service, "reason", &reason, "parameters", &params)) {
		json_decref(body);
		return resp_error(rp, 400, "bad_request", "%s", jerr.text);
	}
	if (json_is_null(params))
		params = NULL;
	if (params && !json_is_object(params)) {
		json_decref(body);
		return resp_error(rp, 400, "bad_request", "parameters: must be an object");
	}
	/* type, service, reason and params are borrowed from body until the engine answers */
	engine_execute(e, rq->tenant, api_common_actor(rq), type, service, reason, params, &r);
	json_decref(body);
	return api_engine_answer(rp, &r);
}

int api_actions_status(struct req *rq, struct resp *rp)
{
	struct store_action a = { 0 };
	struct store *st;
	int64_t id;
	int err;

	if (api_common_id(rq, rp, "action", &id))
		return -EINVAL;
	if (!(st = api_common_store(rq, rp)))
		return -EIO;
	err = store_action_get(st, rq->tenant, id, &a);
	if (err == -ENOENT)
		return resp_error(rp, 404, "not_found", "no action with id %" PRId64, id);
	if (err)
		return resp_error(rp, 500, "internal", "cannot read action %" PRId64, id);
	err = resp_json(rp, 200, api_actions_item(&a));
	store_action_release(&a);
	return err;
}
