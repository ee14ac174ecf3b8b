/*
 * Route table and dispatch. Matching walks the pattern and the path segment
 * by segment; a capture takes one non-empty segment. The table is small (a
 * few dozen routes), so a linear scan per request costs less than building
 * anything cleverer. Allow lists each method of every route whose pattern
 * matches, plus HEAD (with GET) and OPTIONS.
 */
#include "aggregator/http/routes.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/http/api.h"
#include "aggregator/http/api_actions.h"
#include "aggregator/http/api_admin.h"
#include "aggregator/http/api_advice.h"
#include "aggregator/http/api_agents.h"
#include "aggregator/http/api_analysis.h"
#include "aggregator/http/api_anomalies.h"
#include "aggregator/http/api_chat.h"
#include "aggregator/http/api_health.h"
#include "aggregator/http/api_keys.h"
#include "aggregator/http/api_metrics.h"
#include "aggregator/http/api_ml.h"
#include "aggregator/http/api_policies.h"
#include "aggregator/http/api_predictions.h"
#include "aggregator/http/api_services.h"
#include "aggregator/http/api_stream.h"
#include "aggregator/http/api_summarize.h"
#include "aggregator/http/api_topology.h"
#include "aggregator/http/api_webhooks.h"
#include "aggregator/policy/policy_doc.h"
#include "common/compiler.h"

/* clang-format off */
static const struct route routes[] = {
	{ "GET", "/health",                 api_health_get,          ROLE_PUBLIC, 0 },
	{ "GET", "/services",               api_services_list,       ROLE_VIEWER, 0 },
	{ "GET", "/services/health",        api_services_health,     ROLE_VIEWER, 0 },
	{ "GET", "/services/{name}",        api_services_get,        ROLE_VIEWER, 0 },
	{ "GET", "/services/{name}/series", api_services_series,     ROLE_VIEWER, 0 },
	{ "GET", "/topology",               api_topology_get,        ROLE_VIEWER, 0 },
	{ "GET", "/agents",                 api_agents_list,         ROLE_VIEWER, 0 },
	{ "GET", "/metrics",                api_metrics_get,         ROLE_VIEWER, 0 },
	{ "GET", "/anomalies",              api_anomalies_list,      ROLE_VIEWER, 0 },
	{ "GET", "/anomalies/{id}",         api_anomalies_get,       ROLE_VIEWER, 0 },
	{ "GET", "/predict",                api_anomalies_open,      ROLE_VIEWER, 0 },
	{ "POST", "/predict",               api_predictions_predict, ROLE_VIEWER, 4096 },
	{ "GET", "/predictions/all",        api_predictions_all,     ROLE_VIEWER, 0 },
	{ "GET", "/predictions/{service}",  api_predictions_service, ROLE_VIEWER, 0 },
	{ "POST", "/forecast",              api_predictions_forecast, ROLE_VIEWER, 4096 },
	{ "POST", "/detect/manual",         api_anomalies_detect_now, ROLE_OPERATOR, 4096 },
	{ "GET", "/ml/status",              api_ml_status,           ROLE_VIEWER, 0 },
	{ "POST", "/ml/toggle",             api_ml_toggle,           ROLE_OPERATOR, 4096 },
	{ "GET", "/policies",               api_policies_list,       ROLE_VIEWER, 0 },
	{ "POST", "/policies",              api_policies_create,     ROLE_OPERATOR, POLICY_DOC_MAX_BYTES },
	{ "GET", "/policies/{id}",          api_policies_get,        ROLE_VIEWER, 0 },
	{ "PUT", "/policies/{id}",          api_policies_update,     ROLE_OPERATOR, POLICY_DOC_MAX_BYTES },
	{ "DELETE", "/policies/{id}",       api_policies_delete,     ROLE_OPERATOR, 4096 },
	{ "POST", "/policies/{id}/test",    api_policies_test,       ROLE_OPERATOR, 16384 },
	{ "POST", "/evaluate",              api_policies_evaluate,   ROLE_OPERATOR, 4096 },
	{ "POST", "/toggle",                api_policies_toggle,     ROLE_OPERATOR, 4096 },
	{ "GET", "/status",                 api_policies_status,     ROLE_VIEWER, 0 },
	{ "GET", "/actions",                api_actions_list,        ROLE_VIEWER, 0 },
	{ "GET", "/actions/recent",         api_actions_recent,      ROLE_VIEWER, 0 },
	{ "GET", "/actions/history",        api_actions_history,     ROLE_VIEWER, 0 },
	{ "POST", "/actions/execute",       api_actions_execute,     ROLE_OPERATOR, 16384 },
	{ "GET", "/actions/{id}/status",    api_actions_status,      ROLE_VIEWER, 0 },
	{ "POST", "/summarize",             api_summarize_post,      ROLE_VIEWER, API_SUMMARIZE_BODY_MAX },
	{ "POST", "/advice",                api_advice_post,         ROLE_VIEWER, API_ADVICE_BODY_MAX },
	{ "POST", "/rca",                   api_analysis_rca,        ROLE_VIEWER, API_ANALYSIS_MAX_BODY },
	{ "POST", "/chat",                  api_chat,                ROLE_VIEWER, API_CHAT_BODY_MAX },
	{ "POST", "/keys",                  api_keys_create,         ROLE_ADMIN, API_KEYS_BODY_MAX },
	{ "GET", "/keys",                   api_keys_list,           ROLE_ADMIN, 0 },
	{ "DELETE", "/keys/{id}",           api_keys_delete,         ROLE_ADMIN, 4096 },
	{ "POST", "/validate",              api_keys_validate,       ROLE_PUBLIC, 4096 },
	{ "POST", "/webhooks",              api_webhooks_create,     ROLE_OPERATOR, API_WEBHOOKS_BODY_MAX },
	{ "GET", "/webhooks",               api_webhooks_list,       ROLE_VIEWER, 0 },
	/* before /webhooks/{id}, which "history" would match */
	{ "GET", "/webhooks/history",       api_webhooks_history,    ROLE_VIEWER, 0 },
	{ "GET", "/webhooks/{id}",          api_webhooks_get,        ROLE_VIEWER, 0 },
	{ "PUT", "/webhooks/{id}",          api_webhooks_update,     ROLE_OPERATOR, API_WEBHOOKS_BODY_MAX },
	{ "DELETE", "/webhooks/{id}",       api_webhooks_delete,     ROLE_OPERATOR, 4096 },
	{ "POST", "/webhooks/{id}/test",    api_webhooks_test,       ROLE_OPERATOR, 4096 },
	{ "GET", "/webhooks/{id}/deliveries", api_webhooks_deliveries, ROLE_VIEWER, 0 },
	{ "POST", "/trigger",               api_webhooks_trigger,    ROLE_OPERATOR, API_WEBHOOKS_BODY_MAX },
	{ "POST", "/admin/backup",          api_admin_backup,        ROLE_ADMIN, API_ADMIN_BODY_MAX },
	{ "POST", "/admin/restore",         api_admin_restore,       ROLE_ADMIN, API_ADMIN_BODY_MAX },
	{ "GET", "/audit",                  api_admin_audit,         ROLE_ADMIN, 0 },
	{ "GET", "/stream/events",          api_stream_events,       ROLE_VIEWER, 0 },
	{ "GET", "/stream/anomalies",       api_stream_anomalies,    ROLE_VIEWER, 0 },
	{ "GET", "/stream/status",          api_stream_status,       ROLE_VIEWER, 0 },
};
/* clang-format on */

const struct route *routes_table(size_t *n)
{
	*n = PRP_ARRAY_SIZE(routes);
	return routes;
}

/* Length of the segment at @s (up to '/' or the end). */
static size_t routes_seglen(const char *s)
{
	return strcspn(s, "/");
}

/*
 * Matches @path against @pattern. With @rq, copies each capture (name and
 * value) into rq->scratch and rq->params; false when they do not fit.
 */
static bool routes_match(const char *pattern, const char *path, struct req *rq)
{
	size_t used = 0;

	if (rq)
		rq->nparams = 0;
	while (*pattern == '/' && *path == '/') {
		size_t pn = routes_seglen(++pattern), sn = routes_seglen(++path);

		if (pattern[0] == '{') {
			if (sn == 0)
				return false;
			if (rq) {
				size_t kn = pn - 2;

				if (rq->nparams == REQ_PARAMS_MAX ||
				    used + kn + sn + 2 > sizeof(rq->scratch))
					return false;
				memcpy(rq->scratch + used, pattern + 1, kn);
				rq->scratch[used + kn] = '\0';
				rq->params[rq->nparams].key = rq->scratch + used;
				used += kn + 1;
				memcpy(rq->scratch + used, path, sn);
				rq->scratch[used + sn] = '\0';
				rq->params[rq->nparams].value = rq->scratch + used;
				used += sn + 1;
				rq->nparams++;
			}
		} else if (pn != sn || memcmp(pattern, path, pn)) {
			return false;
		}
		pattern += pn;
		path += sn;
	}
	return !*pattern && !*path;
}

static const struct route *routes_find(const char *method, const char *path, struct req *rq)
{
	for (size_t i = 0; i < PRP_ARRAY_SIZE(routes); i++) {
		if (!strcmp(routes[i].method, method) && routes_match(routes[i].pattern, path, rq))
			return &routes[i];
	}
	return NULL;
}

size_t routes_max_body(const char *method, const char *path)
{
	const struct route *r = routes_find(method, path, NULL);

	return r && r->max_body ? r->max_body : API_MAX_BODY_BYTES;
}

static void routes_add_allow(char *allow, size_t cap, const char *method)
{
	size_t n = strlen(allow);

	/* the same method twice (two patterns matching one path) is listed once */
	for (const char *p = allow; (p = strstr(p, method)); p += strlen(method)) {
		size_t m = strlen(method);

		if ((p == allow || p[-1] == ' ') && (p[m] == ',' || p[m] == '\0'))
			return;
	}
	snprintf(allow + n, cap - n, "%s%s", n ? ", " : "", method);
}

/* Fills @allow with the methods of @path; false when no route has the path. */
static bool routes_allow(const char *path, char *allow, size_t cap)
{
	bool found = false;

	allow[0] = '\0';
	for (size_t i = 0; i < PRP_ARRAY_SIZE(routes); i++) {
		if (!routes_match(routes[i].pattern, path, NULL))
			continue;
		found = true;
		routes_add_allow(allow, cap, routes[i].method);
		if (!strcmp(routes[i].method, "GET"))
			routes_add_allow(allow, cap, "HEAD");
	}
	if (found)
		routes_add_allow(allow, cap, "OPTIONS");
	return found;
}

void routes_dispatch(struct req *rq, struct resp *rp)
{
	const char *method = !strcmp(rq->method, "HEAD") ? "GET" : rq->method;
	const struct route *r = routes_find(method, rq->path, rq);
	char allow[RESP_ALLOW_MAX];

	/* captures that do not fit the request's scratch: no route has such a path (req.h) */
	if (!r && strlen(rq->path) >= REQ_SCRATCH_BYTES - 2 * REQ_PARAMS_MAX) {
		resp_error(rp, 404, "not_found", "no route for a path of %zu bytes",
			   strlen(rq->path));
		return;
	}
	if (r && r->role > rq->role) {
		if (rq->role == ROLE_PUBLIC)
			resp_error(rp, 401, "unauthorized",
				   "this route needs an API key (X-API-Key or Authorization: Bearer)");
		else
			resp_error(rp, 403, "forbidden", "this route needs the %s role; the key is %s",
				   role_name(r->role), role_name(rq->role));
		return;
	}
	if (r) {
		r->handler(rq, rp);
		if (!rp->status)
			resp_error(rp, 500, "internal", "the handler gave no answer");
		return;
	}
	if (!routes_allow(rq->path, allow, sizeof(allow))) {
		resp_error(rp, 404, "not_found", "no route for '%.200s'", rq->path);
		return;
	}
	if (!strcmp(rq->method, "OPTIONS")) {
		resp_empty(rp, 204);
	} else {
		resp_error(rp, 405, "method_not_allowed",
			   "%.16s is not allowed on '%.200s'; allowed: %s", rq->method, rq->path,
			   allow);
	}
	memcpy(rp->allow, allow, sizeof(rp->allow));
}
