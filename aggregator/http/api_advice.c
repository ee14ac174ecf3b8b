/*
 * POST /advice: {service, anomaly, context?}. The anomaly is an id (a
 * number, or a string of digits), a metric name, or an object (an anomaly
 * record as GET /anomalies gives it, or {metric, severity?}); with a metric
 * the service's open anomaly on it is used, else its latest of the last
 * day, else none (advice from the figures alone). The evidence is gathered
 * around the anomaly (a minute before it started to a minute after it
 * ended, the baseline before that) or over context.time_range (15 min),
 * focused on the service and what it calls and is called by.
 */
#include "aggregator/http/api_advice.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/advice.h"
#include "aggregator/analysis/evidence.h"
#include "aggregator/analysis/llm.h"
#include "aggregator/analysis/narrate.h"
#include "aggregator/detect/signals.h"
#include "aggregator/http/api_anomalies.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/query.h"
#include "aggregator/http/api_summarize.h"
#include "aggregator/policy/condition.h"
#include "aggregator/store/store.h"
#include "common/alloc.h"
#include "common/strparse.h"

/* The operator's context sent to a model at most this long. */
#define API_ADVICE_CONTEXT_MAX 4096

/* What the body asks about. */
struct ask {
	const char *service; /* NULL: the anomaly's */
	int64_t id;	     /* 0: none */
	const char *metric;  /* NULL: none given */
	enum store_severity severity;
	int64_t range_ms;	  /* without a record */
	char *context;		  /* text for a model (owned), or NULL */
	struct store_anomaly rec; /* the record found (release it) */
	bool have_rec;
};

static bool metric_known(const char *m)
{
	return signal_find(m) >= 0 || condition_metric_find(m) >= 0;
}

static int ask_metric(struct resp *rp, struct ask *a, const char *field, const char *m)
{
	if (!m[0] || !metric_known(m))
		return resp_error(rp, 400, "bad_request",
				  "%s: '%.32s' is not a metric (latency_p99, error_rate, "
				  "request_rate, ...)",
				  field, m);
	a->metric = m;
	return 0;
}

/* A string anomaly: digits are an id, anything else a metric name. */
static int ask_anomaly_string(struct resp *rp, struct ask *a, const char *s)
{
	if (s[0] && strspn(s, "0123456789") == strlen(s)) {
		if (strparse_i64(s, 1, INT64_MAX, &a->id))
			return resp_error(rp, 404, "not_found", "no anomaly with id '%.32s'", s);
		return 0;
	}
	return ask_metric(rp, a, "anomaly", s);
}

static int ask_anomaly_object(struct resp *rp, struct ask *a, json_t *o)
{
	json_t *id = json_object_get(o, "id"), *metric = json_object_get(o, "metric");
	json_t *sev = json_object_get(o, "severity"), *svc = json_object_get(o, "service");

	/* other members (a whole record from GET /anomalies) are ignored */
	if (id && !json_is_null(id)) {
		if (!json_is_integer(id))
			return resp_error(rp, 400, "bad_request", "anomaly.id: a number");
		if (json_integer_value(id) < 1)
			return resp_error(rp, 404, "not_found", "no anomaly with id %" PRId64,
					  (int64_t)json_integer_value(id));
		a->id = json_integer_value(id);
	}
	if (metric && (!json_is_string(metric) ||
		       ask_metric(rp, a, "anomaly.metric", json_string_value(metric))))
		return json_is_string(metric) ? -EINVAL
					      : resp_error(rp, 400, "bad_request",
							   "anomaly.metric: a metric name");
	if (sev && (!json_is_string(sev) ||
		    api_anomalies_severity_parse(json_string_value(sev), &a->severity)))
		return resp_error(rp, 400, "bad_request",
				  "anomaly.severity: info, warning or critical");
	if (svc && !json_is_string(svc))
		return resp_error(rp, 400, "bad_request", "anomaly.service: a service name");
	if (svc && !a->service)
		a->service = json_string_value(svc);
	if (!a->id && !a->metric)
		return resp_error(rp, 400, "bad_request",
				  "anomaly: an object needs an id or a metric");
	return 0;
}

/* Cuts @s to at most API_ADVICE_CONTEXT_MAX bytes, on a UTF-8 character's boundary. */
static void context_cut(char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n <= API_ADVICE_CONTEXT_MAX)
		return;
	n = API_ADVICE_CONTEXT_MAX;
	while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	s[n] = '\0';
}

static int ask_context(struct resp *rp, struct ask *a, json_t *ctx)
{
	json_t *range;

	if (!ctx || json_is_null(ctx))
		return 0;
	if (json_is_string(ctx)) {
		a->context = xstrdup(json_string_value(ctx));
		context_cut(a->context);
		return 0;
	}
	if (!json_is_object(ctx))
		return resp_error(rp, 400, "bad_request", "context: an object or a text");
	range = json_object_get(ctx, "time_range");
	if (range && api_summarize_duration(rp, "context.time_range", range, API_ADVICE_RANGE_MAX_S,
					    &a->range_ms))
		return -EINVAL;
	a->context = json_dumps(ctx, JSON_COMPACT | JSON_SORT_KEYS);
	context_cut(a->context);
	return 0;
}

/* The body into @a: 0, or the 400 (or 404 for an id no record can have) answered. */
static int ask_parse(struct resp *rp, json_t *body, struct ask *a)
{
	json_t *anomaly = NULL, *ctx = NULL;
	json_error_t jerr;

	a->severity = STORE_SEVERITY_WARNING;
	a->range_ms = API_ADVICE_RANGE_DEFAULT_S * 1000ll;
	if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s?s, s?o, s?o}", "service", &a->service,
			   "anomaly", &anomaly, "context", &ctx))
		return resp_error(rp, 400, "bad_request", "%s", jerr.text);
	if (a->service && (!a->service[0] || strlen(a->service) >= SERVICE_NAME_MAX))
		return resp_error(rp, 400, "bad_request",
				  "service: a service name (1 to %d "
				  "characters)",
				  SERVICE_NAME_MAX - 1);
	if (ask_context(rp, a, ctx))
		return -EINVAL;
	if (!anomaly || json_is_null(anomaly)) {
		if (!a->service)
			return resp_error(rp, 400, "bad_request",
					  "service: required, or an anomaly id");
		return 0;
	}
	if (json_is_integer(anomaly)) {
		if (json_integer_value(anomaly) < 1)
			return resp_error(rp, 404, "not_found", "no anomaly with id %" PRId64,
					  (int64_t)json_integer_value(anomaly));
		a->id = json_integer_value(anomaly);
		return 0;
	}
	if (json_is_string(anomaly))
		return ask_anomaly_string(rp, a, json_string_value(anomaly));
	if (json_is_object(anomaly))
		return ask_anomaly_object(rp, a, anomaly);
	return resp_error(rp, 400, "bad_request",
			  "anomaly: an id (a number), a metric name or an object {metric, "
			  "severity?}");
}

/* The record @a points at: by id (404 when absent), else the service's on the metric. */
static int ask_record(struct req *rq, struct resp *rp, struct store *st, struct ask *a)
{
	struct store_anomaly_filter f = { .tenant = rq->tenant, .status = 1, .limit = 1 };
	struct store_anomaly *v = NULL;
	size_t n = 0;
	int err;

	if (a->id) {
		err = store_anomaly_get(st, rq->tenant, a->id, &a->rec);
		if (err == -ENOENT)
			return resp_error(rp, 404, "not_found", "no anomaly with id %" PRId64,
					  a->id);
		if (err)
			return resp_error(rp, 500, "internal", "cannot read anomaly %" PRId64,
					  a->id);
		a->have_rec = true;
		if (a->service && strcmp(a->service, a->rec.service))
			return resp_error(rp, 400, "bad_request",
					  "service: anomaly %" PRId64 " is on '%.64s', not '%.64s'",
					  a->id, a->rec.service, a->service);
		a->service = a->rec.service;
		return 0;
	}
	if (!a->service)
		return resp_error(rp, 400, "bad_request", "service: required with a metric");
	f.service = a->service;
	f.metric = a->metric; /* NULL: the service's worst open anomaly, on any metric */
	f.limit = a->metric ? 1 : QUERY_LIMIT_MAX;
	err = store_anomalies_list(st, &f, &v, &n, NULL);
	for (size_t i = 1; !err && i < n; i++) /* newest first: keep the newest of the worst */
		if (v[i].severity > v[0].severity) {
			struct store_anomaly t = v[0];

			v[0] = v[i];
			v[i] = t;
		}
	if (!err && !n && a->metric) { /* none open: the latest of the last day */
		f.status = -1;
		f.since_ms = rq->now_ms - 24 * 3600 * 1000ll;
		f.until_ms = rq->now_ms + 1;
		err = store_anomalies_list(st, &f, &v, &n, NULL);
	}
	if (err)
		return resp_error(rp, 500, "internal", "cannot read the anomalies");
	if (n) {
		a->rec = v[0];
		memset(&v[0], 0, sizeof(v[0])); /* moved into a->rec */
		a->have_rec = true;
	}
	store_anomalies_free(v, n);
	return 0;
}

/* The span of the evidence: around the record, or the last range_ms. */
static void ask_span(const struct req *rq, const struct ask *a, struct evidence_query *q)
{
	int64_t since, until = rq->now_ms;

	if (!a->have_rec) {
		q->since_ms = rq->now_ms - a->range_ms;
		q->until_ms = rq->now_ms;
		return;
	}
	if (!a->rec.open && a->rec.resolved_ms + API_ADVICE_MARGIN_MS < until)
		until = a->rec.resolved_ms + API_ADVICE_MARGIN_MS;
	since = a->rec.started_ms - API_ADVICE_MARGIN_MS;
	if (until - since < API_ADVICE_SPAN_MIN_MS)
		since = until - API_ADVICE_SPAN_MIN_MS;
	if (until - since > API_ADVICE_RANGE_MAX_S * 1000ll)
		since = until - API_ADVICE_RANGE_MAX_S * 1000ll;
	q->since_ms = since > 0 ? since : 0;
	q->until_ms = until > q->since_ms ? until : q->since_ms + API_ADVICE_SPAN_MIN_MS;
}

static json_t *ask_echo(const struct ask *a, const struct advice_target *t)
{
	if (!a->have_rec)
		return json_pack("{s:n, s:s?, s:s}", "id", "metric", t->metric, "severity",
				 narrate_severity(t->severity));
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:f, s:f, s:f}", "id",
			 (json_int_t)a->rec.id, "metric", a->rec.metric, "severity",
			 narrate_severity(a->rec.severity), "status",
			 a->rec.open ? "open" : "resolved", "started_at",
			 narrate_json_time(a->rec.started_ms), "resolved_at",
			 a->rec.open ? json_null() : narrate_json_time(a->rec.resolved_ms),
			 "peak_value", a->rec.peak_value, "current_value", a->rec.current_value,
			 "expected_mean", a->rec.expected_mean);
}

static int advice_answer(struct req *rq, struct resp *rp, const struct evidence *ev,
			 const struct ask *a)
{
	struct evidence_anomaly rec;
	struct advice_target t = { .service = a->service,
				   .metric = a->have_rec ? a->rec.metric : a->metric,
				   .severity = a->have_rec ? a->rec.severity : a->severity,
				   .executor = rq->env->executor != NULL };
	struct advice adv;
	json_t *doc;
	char *md;

	if (a->have_rec) {
		evidence_anomaly_from(&rec, &a->rec, false);
		t.anomaly = &rec;
	}
	advice_build(ev, &t, &adv);
	md = advice_markdown(&adv);
	doc = advice_json(&adv);
	if (doc) {
		bool llm = llm_enabled(rq->env->llm);
		char *facts = llm ? narrate_facts(ev) : NULL;
		char *task = llm ? advice_llm_task(&t, md, a->context) : NULL;

		narrate_prose(doc, "advice", rq->env->llm, task, facts, md);
		free(task);
		free(facts);
		json_object_set_new(doc, "service", json_string(a->service));
		json_object_set_new(doc, "anomaly", ask_echo(a, &t));
		json_object_set_new(doc, "since", narrate_json_time(ev->since_ms));
		json_object_set_new(doc, "until", narrate_json_time(ev->until_ms));
		json_object_set_new(doc, "timestamp", narrate_json_time(rq->now_ms));
	}
	free(md);
	return resp_json(rp, 200, doc);
}

int api_advice_post(struct req *rq, struct resp *rp)
{
	struct ask a = { 0 };
	struct evidence_query q = { .tenant = rq->tenant };
	struct evidence ev;
	struct store *st;
	json_t *body;
	int err;

	if (api_common_body(rq, rp, false, &body))
		return -EINVAL;
	err = ask_parse(rp, body, &a);
	if (!err && !(st = api_common_store(rq, rp)))
		err = -EIO;
	if (!err)
		err = ask_record(rq, rp, st, &a);
	if (err)
		goto out;
	ask_span(rq, &a, &q);
	q.service = a.service;
	err = evidence_gather(st, &q, &ev);
	if (err == -ENOENT)
		err = resp_error(rp, 404, "not_found", "no service '%.64s'", a.service);
	else if (err == -EINVAL) /* a name evidence_gather() refuses */
		err = resp_error(rp, 400, "bad_request", "service: '%.64s' is not a service name",
				 a.service);
	else if (err)
		err = resp_error(rp, 500, "internal", "cannot read the evidence: %s",
				 strerror(-err));
	else
		err = advice_answer(rq, rp, &ev, &a);
	evidence_release(&ev);
out:
	store_anomaly_release(&a.rec);
	free(a.context);
	json_decref(body);
	return err;
}
