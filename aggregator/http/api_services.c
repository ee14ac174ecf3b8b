/*
 * /services and its sub-resources. Totals and series come from the store
 * (exact, any range up to 31 days); /services/health from the in-memory
 * series through health_cache.c (the last minute, fast).
 */
#include "aggregator/http/api_services.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/blob.h"
#include "aggregator/http/health_cache.h"
#include "aggregator/http/json.h"
#include "aggregator/http/query.h"
#include "aggregator/store/store.h"
#include "common/timeutil.h"
#include "common/window.h"

static int api_services_by_name(const void *a, const void *b)
{
	return strcmp(((const struct store_service *)a)->name,
		      ((const struct store_service *)b)->name);
}

static json_t *api_services_item(const struct store_service *s)
{
	json_t *hosts = json_array();

	for (size_t i = 0; i < s->nhosts; i++)
		json_array_append_new(hosts, json_string(s->hosts[i]));
	return json_pack("{s:s, s:o, s:o, s:o}", "service", s->name, "hosts", hosts, "first_seen",
			 resp_time(s->first_seen_ms), "last_seen", resp_time(s->last_seen_ms));
}

int api_services_list(struct req *rq, struct resp *rp)
{
	char after[2 * QUERY_CURSOR_MAX], next[2 * SERVICE_NAME_MAX + 1];
	struct store_service *v = NULL;
	struct query q;
	struct store *st;
	json_t *list, *doc;
	size_t n = 0, i = 0, count = 0;
	int err;

	if (api_common_query(rq, rp, &q, QUERY_LIMIT | QUERY_CURSOR, 0) ||
	    api_common_cursor(&q, rp, after, sizeof(after)) || !(st = api_common_store(rq, rp)))
		return -EINVAL;
	err = store_services(st, rq->tenant, &v, &n);
	if (err)
		return resp_error(rp, 500, "internal", "cannot read the services");
	if (n) /* qsort() of NULL is undefined, even for 0 items */
		qsort(v, n, sizeof(*v), api_services_by_name);
	while (i < n && after[0] && strcmp(v[i].name, after) <= 0)
		i++;
	list = json_array();
	for (; i < n && count < q.limit; i++, count++)
		json_array_append_new(list, api_services_item(&v[i]));
	doc = json_pack("{s:o, s:I, s:I}", "services", list, "count", (json_int_t)count, "total",
			(json_int_t)n);
	if (doc && i < n && count && !query_cursor_encode(v[i - 1].name, next, sizeof(next)))
		json_object_set_new(doc, "next_cursor", json_string(next));
	store_services_free(v, n);
	return resp_json(rp, 200, doc);
}

int api_services_health(struct req *rq, struct resp *rp)
{
	bool gzip = req_accepts_gzip(rq);
	struct blob *b = health_cache_get(rq->env->health, rq->tenant, rq->now_ms, gzip);

	if (!b)
		return resp_error(rp, 500, "internal", "cannot render the services' health");
	return resp_blob(rp, 200, b, gzip ? "gzip" : NULL);
}

/* Looks a service name up the way the store stores it: too long is unknown. */
static const char *api_services_name(struct req *rq, struct resp *rp)
{
	const char *name = req_param(rq, "name");

	if (!name || strlen(name) >= SERVICE_NAME_MAX) {
		resp_error(rp, 404, "not_found", "no service '%.64s'", name ? name : "");
		return NULL;
	}
	return name;
}

static const char *api_services_errno_name(int e, char *tmp, size_t cap)
{
	const char *s = e > 0 ? strerrorname_np(e) : NULL;

	if (e == 0)
		return "other";
	if (s)
		return s;
	snprintf(tmp, cap, "E%d", e);
	return tmp;
}

static json_t *api_services_syscalls(const struct store_summary *sum)
{
	json_t *by_name = json_object();
	uint64_t count = 0, errors = 0;
	char tmp[16];

	for (size_t i = 0; i < sum->nsyscalls; i++) {
		const struct store_syscall_total *s = &sum->syscalls[i];
		json_t *errnos = json_object();

		for (size_t k = 0; k < s->nerrnos && k < WINDOW_ERRNOS_MAX; k++)
			json_object_set_new(
				errnos, api_services_errno_name(s->errnos[k].err, tmp, sizeof(tmp)),
				json_u64(s->errnos[k].count));
		json_object_set_new(by_name, s->name,
				    json_pack("{s:o, s:o, s:o, s:o, s:o}", "count",
					      json_u64(s->count), "errors", json_u64(s->errors),
					      "errnos", errnos, "latency_p50",
					      json_hist_ms(&s->latency_ns, 0.5), "latency_p99",
					      json_hist_ms(&s->latency_ns, 0.99)));
		count += s->count;
		errors += s->errors;
	}
	return json_pack("{s:o, s:o, s:o, s:o}", "count", json_u64(count), "errors",
			 json_u64(errors), "error_rate", json_ratio(errors, count), "by_name",
			 by_name);
}

static json_t *api_services_summary(const char *name, const struct query *q,
				    const struct store_summary *sum)
{
	double span_s = (double)(q->until_ms - q->since_ms) / 1000.0;

	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:o, s:o, s:o, s:o, s:o, s:o,"
			 " s:{s:o, s:o, s:o}}",
			 "service", name, "since", resp_time(q->since_ms), "until",
			 resp_time(q->until_ms), "requests", json_u64(sum->requests), "errors",
			 json_u64(sum->errors), "windows", json_u64(sum->windows), "error_rate",
			 json_ratio(sum->errors, sum->requests), "request_rate",
			 (double)sum->requests / span_s, "latency_p50",
			 json_hist_ms(&sum->latency_ns, 0.5), "latency_p90",
			 json_hist_ms(&sum->latency_ns, 0.9), "latency_p95",
			 json_hist_ms(&sum->latency_ns, 0.95), "latency_p99",
			 json_hist_ms(&sum->latency_ns, 0.99), "latency_max",
			 json_real((double)hist_max(&sum->latency_ns) / NSEC_PER_MSEC), "syscalls",
			 api_services_syscalls(sum), "tcp", "retransmits",
			 json_u64(sum->tcp.retransmits), "resets", json_u64(sum->tcp.resets),
			 "connect_failures", json_u64(sum->tcp.connect_failures));
}

int api_services_get(struct req *rq, struct resp *rp)
{
	struct store_summary sum;
	const char *name;
	struct query q;
	struct store *st;
	json_t *doc;
	int err;

	if (!(name = api_services_name(rq, rp)) ||
	    api_common_query(rq, rp, &q, QUERY_SINCE | QUERY_UNTIL, API_SUMMARY_RANGE_MS) ||
	    !(st = api_common_store(rq, rp)))
		return -EINVAL;
	memset(&sum, 0, sizeof(sum));
	err = store_service_summary(st, rq->tenant, name, q.since_ms, q.until_ms, &sum);
	if (err == -ENOENT)
		return resp_error(rp, 404, "not_found", "no service '%s'", name);
	if (err)
		return resp_error(rp, 500, "internal", "cannot read service '%s'", name);
	doc = api_services_summary(name, &q, &sum);
	store_summary_release(&sum);
	return resp_json(rp, 200, doc);
}

int api_services_series(struct req *rq, struct resp *rp)
{
	struct store_point *pts = NULL;
	const char *name;
	struct query q;
	struct store *st;
	json_t *points;
	size_t n = 0;
	int err;

	if (!(name = api_services_name(rq, rp)) ||
	    api_common_query(rq, rp, &q, QUERY_SINCE | QUERY_UNTIL | QUERY_STEP | QUERY_METRIC,
			     API_SERIES_RANGE_MS) ||
	    !(st = api_common_store(rq, rp)))
		return -EINVAL;
	err = store_service_series(st, rq->tenant, name, q.metric, q.since_ms, q.until_ms,
				   q.step_ms, &pts, &n);
	if (err == -ENOENT)
		return resp_error(rp, 404, "not_found", "no service '%s'", name);
	if (err == -EINVAL)
		return resp_error(rp, 400, "bad_request", "metric: '%s' is not served", q.metric);
	if (err)
		return resp_error(rp, 500, "internal", "cannot read service '%s'", name);
	points = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(points,
				      json_pack("[o, f]", resp_time(pts[i].t_ms), pts[i].v));
	free(pts);
	return resp_json(rp, 200,
			 json_pack("{s:s, s:s, s:o, s:o, s:f, s:o, s:I}", "service", name, "metric",
				   q.metric, "since", resp_time(q.since_ms), "until",
				   resp_time(q.until_ms), "step_s", (double)q.step_ms / 1000.0,
				   "points", points, "count", (json_int_t)n));
}
