/*
 * Anomalies (API.md "Anomalies and predictions"): the records detection
 * keeps in the store, listed newest first. GET /predict is the old
 * platform's name for "the open anomalies now"; POST /detect/manual runs a
 * detection cycle at once and answers the same.
 */
#include "aggregator/http/api_anomalies.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/detect/detection.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/query.h"
#include "aggregator/store/store.h"
#include "common/strparse.h"

/* Past incidents of the same service and metric shown with one anomaly. */
#define API_SIMILAR_MAX 5

static const char *const severity_names[] = { "info", "warning", "critical" };

const char *api_anomalies_severity_name(enum store_severity s)
{
	return (unsigned)s < 3 ? severity_names[s] : "info";
}

int api_anomalies_severity_parse(const char *s, enum store_severity *out)
{
	static const char *const aliases[] = { "low", "medium", "high" };

	for (int i = 0; i < 3; i++) {
		if (!strcmp(s, severity_names[i]) || !strcmp(s, aliases[i])) {
			*out = (enum store_severity)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* A stored JSON text, or @fallback when absent or unreadable. */
static json_t *api_anomalies_text_json(const char *text, const char *fallback)
{
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;

	return v ? v : json_loads(fallback, 0, NULL);
}

json_t *api_anomalies_item(const struct store_anomaly *a)
{
	int64_t end_ms = a->open ? a->updated_ms : a->resolved_ms;

	return json_pack("{s:I, s:s, s:s, s:f, s:{s:f, s:f, s:f}, s:b, s:f, s:s, s:f, s:s, s:o, "
			 "s:o, s:o, s:o, s:f, s:f, s:o}",
			 "id", (json_int_t)a->id, "service", a->service, "metric", a->metric,
			 "current_value", a->current_value, "expected_range", "min",
			 a->expected_min, "max", a->expected_max, "mean", a->expected_mean,
			 "anomaly", 1, "confidence", a->confidence, "severity",
			 api_anomalies_severity_name(a->severity), "score", a->score, "status",
			 a->open ? "open" : "resolved", "started_at", resp_time(a->started_ms),
			 "resolved_at", a->open ? json_null() : resp_time(a->resolved_ms),
			 "timestamp", resp_time(a->updated_ms), "updated_at",
			 resp_time(a->updated_ms), "peak_value", a->peak_value, "duration_s",
			 (double)(end_ms - a->started_ms) / 1000.0, "evidence",
			 api_anomalies_text_json(a->evidence, "[]"));
}

/* service, metric, severity and status into @f; 0 or the 400 answered. */
static int api_anomalies_filter(struct req *rq, struct resp *rp, struct store_anomaly_filter *f)
{
	const char *sev, *status;

	if (api_common_param(rq, rp, "service", &f->service) ||
	    api_common_param(rq, rp, "metric", &f->metric) ||
	    api_common_param(rq, rp, "severity", &sev) ||
	    api_common_param(rq, rp, "status", &status))
		return -EINVAL;
	/* longer than any stored name: nothing can match, and the store refuses such a filter */
	if ((f->service && strlen(f->service) >= SERVICE_NAME_MAX) ||
	    (f->metric && strlen(f->metric) >= STORE_METRIC_MAX))
		return resp_error(rp, 400, "bad_request", "%s: longer than any name kept",
				  f->metric && strlen(f->metric) >= STORE_METRIC_MAX ? "metric"
										     : "service");
	if (sev && api_anomalies_severity_parse(sev, &f->min_severity))
		return resp_error(rp, 400, "bad_request",
				  "severity: '%.32s' is not info, warning or critical", sev);
	f->status = -1;
	if (status && (!strcmp(status, "open") || !strcmp(status, "active")))
		f->status = 1;
	else if (status && !strcmp(status, "resolved"))
		f->status = 0;
	else if (status && strcmp(status, "all"))
		return resp_error(rp, 400, "bad_request",
				  "status: '%.32s' is not open, resolved or all", status);
	return 0;
}

/* Answers the list of anomalies matching @f (at most @limit) with its cursor. */
static int api_anomalies_answer(struct req *rq, struct resp *rp, struct store_anomaly_filter *f)
{
	struct store_anomaly *v = NULL;
	struct store *st = api_common_store(rq, rp);
	bool more = false;
	json_t *list, *doc;
	size_t n = 0;

	if (!st)
		return -EIO;
	f->tenant = rq->tenant;
	if (store_anomalies_list(st, f, &v, &n, &more))
		return resp_error(rp, 500, "internal", "cannot read the anomalies");
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, api_anomalies_item(&v[i]));
	doc = api_common_page("anomalies", list, more, n ? v[n - 1].id : 0);
	store_anomalies_free(v, n);
	return resp_json(rp, 200, doc);
}

int api_anomalies_list(struct req *rq, struct resp *rp)
{
	struct store_anomaly_filter f = { 0 };
	struct query q;

	if (api_common_query(rq, rp, &q, QUERY_SINCE | QUERY_UNTIL | QUERY_LIMIT | QUERY_CURSOR,
			     QUERY_RANGE_MAX_MS) ||
	    api_common_before_id(&q, rp, &f.before_id) || api_anomalies_filter(rq, rp, &f))
		return -EINVAL;
	f.since_ms = q.since_ms;
	f.until_ms = q.until_ms;
	f.limit = q.limit;
	return api_anomalies_answer(rq, rp, &f);
}

/* Earlier anomalies of the same service and metric, newest first. */
static json_t *api_anomalies_similar(struct store *st, const struct store_anomaly *a)
{
	struct store_anomaly_filter f = { .tenant = a->tenant,
					  .service = a->service,
					  .metric = a->metric,
					  .status = -1,
					  .before_id = a->id,
					  .limit = API_SIMILAR_MAX };
	struct store_anomaly *v = NULL;
	json_t *list = json_array();
	size_t n = 0;

	if (store_anomalies_list(st, &f, &v, &n, NULL))
		return list;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
			list, json_pack("{s:I, s:s, s:s, s:o, s:f}", "id", (json_int_t)v[i].id,
					"severity", api_anomalies_severity_name(v[i].severity),
					"status", v[i].open ? "open" : "resolved", "started_at",
					resp_time(v[i].started_ms), "peak_value", v[i].peak_value));
	store_anomalies_free(v, n);
	return list;
}

int api_anomalies_get(struct req *rq, struct resp *rp)
{
	const char *idtext = req_param(rq, "id");
	struct store_anomaly a = { 0 };
	struct store *st;
	json_t *doc, *details;
	int64_t id;
	int err;

	if (!idtext || strparse_i64(idtext, 1, INT64_MAX, &id))
		return resp_error(rp, 404, "not_found", "no anomaly with id '%.32s'",
				  idtext ? idtext : "");
	if (!(st = api_common_store(rq, rp)))
		return -EIO;
	err = store_anomaly_get(st, rq->tenant, id, &a);
	if (err == -ENOENT)
		return resp_error(rp, 404, "not_found", "no anomaly with id %" PRId64, id);
	if (err)
		return resp_error(rp, 500, "internal", "cannot read anomaly %" PRId64, id);
	doc = api_anomalies_item(&a);
	details = api_anomalies_text_json(a.details, "{}");
	if (details && json_is_object(details))
		json_object_set_new(details, "similar_incidents", api_anomalies_similar(st, &a));
	if (doc)
		json_object_set_new(doc, "details", details);
	else
		json_decref(details);
	store_anomaly_release(&a);
	return resp_json(rp, 200, doc);
}

int api_anomalies_open(struct req *rq, struct resp *rp)
{
	struct store_anomaly_filter f = { .status = 1, .limit = QUERY_LIMIT_MAX };

	return api_anomalies_answer(rq, rp, &f);
}

int api_anomalies_detect_now(struct req *rq, struct resp *rp)
{
	struct store_anomaly_filter f = { .status = 1, .limit = QUERY_LIMIT_MAX };
	json_t *body;
	int err;

	if (api_common_body(rq, rp, true, &body))
		return -EINVAL;
	json_decref(body);
	if (!rq->env->detection)
		return resp_error(rp, 503, "unavailable", "detection is not running");
	err = detection_run_now(rq->env->detection);
	if (err)
		return resp_error(rp, 500, "internal", "the detection cycle failed: %s",
				  strerror(-err));
	return api_anomalies_answer(rq, rp, &f);
}
