/*
 * POST /rca: gathers the evidence of the span from this worker's read-only
 * store (aggregator/analysis/evidence.h), ranks the suspects
 * (aggregator/analysis/rca.h) and answers API.md's fields, plus the span,
 * the baseline and each suspect's role and score parts. No data at all is
 * an answer (nothing to analyse), not an error.
 */
#include "aggregator/http/api_analysis.h"

#include <errno.h>
#include <stdlib.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/analysis/evidence.h"
#include "aggregator/analysis/narrate.h"
#include "aggregator/analysis/rca.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/query.h"
#include "aggregator/store/store.h"
#include "common/strparse.h"

/* What the body asks. */
struct api_rca_ask {
	int64_t range_ms;
	const char *service; /* borrowed from the body; NULL: all */
	int64_t anomaly_id;  /* 0: none */
};

/* time_range: "1h", "15m", "30s" or seconds, 1 s to 31 days. 0 or the 400 answered. */
static int api_rca_range(struct resp *rp, json_t *v, int64_t *out)
{
	uint64_t ns;

	if (!v) {
		*out = API_ANALYSIS_RANGE_DEFAULT_MS;
		return 0;
	}
	if (json_is_integer(v) && json_integer_value(v) >= 1 &&
	    json_integer_value(v) <= QUERY_RANGE_MAX_MS / 1000) {
		*out = (int64_t)json_integer_value(v) * 1000;
		return 0;
	}
	if (json_is_string(v) && !strparse_duration_ns(json_string_value(v), NSEC_PER_SEC, &ns) &&
	    ns >= NSEC_PER_SEC && ns / NSEC_PER_MSEC <= (uint64_t)QUERY_RANGE_MAX_MS) {
		*out = (int64_t)(ns / NSEC_PER_MSEC);
		return 0;
	}
	return resp_error(rp, 400, "bad_request",
			  "time_range: a duration from 1s to 31d (\"1h\", \"15m\", or seconds) is "
			  "required");
}

/* anomaly_id: a positive integer (or its digits as a string). 0 or the error answered. */
static int api_rca_anomaly_id(struct resp *rp, json_t *v, int64_t *out)
{
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 1) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_integer(v)) /* a number no anomaly can have */
		return resp_error(rp, 404, "not_found", "no anomaly with id %lld",
				  (long long)json_integer_value(v));
	if (json_is_string(v) && !strparse_i64(json_string_value(v), 1, INT64_MAX, out))
		return 0;
	return resp_error(rp, 400, "bad_request", "anomaly_id: a positive integer is required");
}

/* The body into @ask; 0 or the error answered. */
static int api_rca_parse(struct req *rq, struct resp *rp, struct api_rca_ask *ask, json_t **body)
{
	json_t *range = NULL, *anomaly = NULL;
	json_error_t jerr;

	memset(ask, 0, sizeof(*ask));
	if (api_common_body(rq, rp, true, body))
		return -EINVAL;
	if (json_unpack_ex(*body, &jerr, JSON_STRICT, "{s?o, s?s, s?o}", "time_range", &range,
			   "service", &ask->service, "anomaly_id", &anomaly))
		return resp_error(rp, 400, "bad_request", "%s", jerr.text);
	if (api_rca_range(rp, range, &ask->range_ms) ||
	    api_rca_anomaly_id(rp, anomaly, &ask->anomaly_id))
		return -EINVAL;
	if (ask->service && !ask->service[0])
		return resp_error(rp, 400, "bad_request", "service: empty");
	if (ask->service && strlen(ask->service) >= SERVICE_NAME_MAX)
		return resp_error(rp, 404, "not_found", "no service '%.64s...'", ask->service);
	return 0;
}

/*
 * The span to analyse: time_range up to now, or the anomaly's life (from
 * API_ANALYSIS_ANOMALY_LEAD_MS before it began to its end, or now), whose
 * service becomes the target. 0 or the error answered.
 */
static int api_rca_span(struct req *rq, struct resp *rp, struct store *st,
			const struct api_rca_ask *ask, struct evidence_query *q, char *service,
			size_t cap)
{
	struct store_anomaly a = { 0 };
	int err;

	q->tenant = rq->tenant;
	q->until_ms = rq->now_ms;
	q->since_ms = rq->now_ms - ask->range_ms;
	q->service = ask->service;
	if (!ask->anomaly_id)
		return 0;
	err = store_anomaly_get(st, rq->tenant, ask->anomaly_id, &a);
	if (err == -ENOENT)
		return resp_error(rp, 404, "not_found", "no anomaly with id %" PRId64,
				  ask->anomaly_id);
	if (err)
		return resp_error(rp, 500, "internal", "cannot read anomaly %" PRId64,
				  ask->anomaly_id);
	if (ask->service && strcmp(ask->service, a.service)) {
		err = resp_error(rp, 400, "bad_request",
				 "service: anomaly %" PRId64 " is of '%s', not '%.64s'",
				 ask->anomaly_id, a.service, ask->service);
		store_anomaly_release(&a);
		return err;
	}
	snprintf(service, cap, "%s", a.service);
	q->service = service;
	q->since_ms = a.started_ms - API_ANALYSIS_ANOMALY_LEAD_MS;
	q->until_ms = a.open || a.resolved_ms > rq->now_ms ? rq->now_ms : a.resolved_ms + 1;
	if (q->since_ms < 0)
		q->since_ms = 0;
	if (q->until_ms - q->since_ms > QUERY_RANGE_MAX_MS)
		q->since_ms = q->until_ms - QUERY_RANGE_MAX_MS;
	if (q->until_ms <= q->since_ms)
		q->until_ms = q->since_ms + 1000;
	store_anomaly_release(&a);
	return 0;
}

static double api_rca_round(double v)
{
	return round(v * 1000) / 1000;
}

static json_t *api_rca_suspect(const struct rca_suspect *s)
{
	json_t *ev = json_array();

	for (size_t i = 0; i < s->nevidence; i++)
		json_array_append_new(ev, json_string(s->evidence[i]));
	return json_pack("{s:s, s:f, s:s, s:o, s:o, s:{s:f, s:f, s:f, s:f, s:f}}", "service",
			 s->service, "score", api_rca_round(s->score), "role",
			 rca_role_name(s->role), "evidence", ev, "onset",
			 s->onset_ms ? resp_time(s->onset_ms) : json_null(), "parts", "sick",
			 api_rca_round(s->sick), "own", api_rca_round(s->own), "first",
			 api_rca_round(s->first), "depth", api_rca_round(s->depth), "kernel",
			 api_rca_round(s->kernel));
}

static json_t *api_rca_doc(struct req *rq, const struct evidence *ev, const struct rca_result *r,
			   int64_t anomaly_id)
{
	json_t *suspects = json_array(), *events = json_array();

	for (size_t i = 0; i < r->nsuspects; i++)
		json_array_append_new(suspects, api_rca_suspect(&r->suspects[i]));
	for (size_t i = 0; i < r->nevents; i++)
		json_array_append_new(events, json_pack("{s:o, s:s, s:s}", "timestamp",
							resp_time(r->events[i].t_ms), "event",
							r->events[i].text, "service",
							r->events[i].service));
	return json_pack("{s:s, s:{s:o, s:s}, s:f, s:o, s:o, s:o, s:{s:o, s:o}, s:{s:o, s:o}, "
			 "s:o, s:o, s:I, s:s}",
			 "rca", r->markdown, "root_cause", "service",
			 r->found ? json_string(r->cause) : json_null(), "reason", r->reason,
			 "confidence", api_rca_round(r->confidence), "suspected_services", suspects,
			 "correlated_events", events, "timestamp", resp_time(rq->now_ms),
			 "time_range", "since", resp_time(ev->since_ms), "until",
			 resp_time(ev->until_ms), "baseline", "since",
			 resp_time(ev->baseline_since_ms), "until", resp_time(ev->since_ms),
			 "service", ev->focus[0] ? json_string(ev->focus) : json_null(),
			 "anomaly_id", anomaly_id ? json_integer(anomaly_id) : json_null(),
			 "services_analysed", (json_int_t)ev->nservices, "analysis", "built-in");
}

/*
 * The `rca` prose: the LLM's, from the same facts, when one is configured
 * and answers; the built-in Markdown otherwise (narrate_prose() says which
 * in `prose`, and `analysis` repeats it for the earlier clients).
 */
static json_t *api_rca_prose(struct req *rq, const struct evidence *ev,
			     const struct rca_result *r, json_t *doc)
{
	char *facts;

	if (!doc)
		return NULL;
	facts = narrate_facts(ev);
	narrate_prose(doc, "rca", rq->env->llm,
		      "Explain the root cause of this incident to an on-call engineer in short "
		      "Markdown: the cause, the evidence with its numbers, the victims.",
		      facts, r->markdown);
	free(facts);
	json_object_set(doc, "analysis", json_object_get(doc, "prose"));
	return doc;
}

int api_analysis_rca(struct req *rq, struct resp *rp)
{
	char service[SERVICE_NAME_MAX];
	struct rca_options o = { 0 };
	struct api_rca_ask ask;
	struct evidence_query q;
	struct evidence ev;
	struct rca_result r;
	json_t *body = NULL;
	struct store *st;
	int err;

	if (api_rca_parse(rq, rp, &ask, &body) || !(st = api_common_store(rq, rp)) ||
	    api_rca_span(rq, rp, st, &ask, &q, service, sizeof(service))) {
		json_decref(body);
		return -EINVAL;
	}
	err = evidence_gather(st, &q, &ev);
	if (err) {
		/* q.service is borrowed from the body: answer before letting it go */
		if (err == -ENOENT)
			resp_error(rp, 404, "not_found", "no service '%s'", q.service);
		else
			resp_error(rp, err == -EINVAL ? 400 : 500,
				   err == -EINVAL ? "bad_request" : "internal",
				   "cannot gather the evidence: %s", strerror(-err));
		evidence_release(&ev);
		json_decref(body);
		return err;
	}
	o.service = q.service;
	o.anomaly_id = ask.anomaly_id;
	err = rca_analyse(&ev, &o, &r);
	if (err) /* the target was gathered, so the analysis knows it: only a fault gets here */
		resp_error(rp, 500, "internal", "the analysis failed: %s", strerror(-err));
	else
		resp_json(rp, 200, api_rca_prose(rq, &ev, &r, api_rca_doc(rq, &ev, &r, ask.anomaly_id)));
	rca_result_release(&r);
	evidence_release(&ev);
	json_decref(body);
	return err;
}
