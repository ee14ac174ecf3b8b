/*
 * POST /summarize: the body's range and services, the evidence of that
 * range from this worker's store (evidence_gather()), the incidents
 * (summary_build()), and the prose: the built-in Markdown, or the LLM's
 * rewrite of it when one is configured and answers. No data (no agent yet,
 * no anomaly) is a 200 that says so, never an error.
 */
#include "aggregator/http/api_summarize.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/evidence.h"
#include "aggregator/analysis/llm.h"
#include "aggregator/analysis/narrate.h"
#include "aggregator/analysis/summary.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "aggregator/store/store.h"
#include "common/alloc.h"
#include "common/strparse.h"
#include "common/timeutil.h"

int api_summarize_duration(struct resp *rp, const char *field, const json_t *v, int64_t max_s,
			   int64_t *out_ms)
{
	uint64_t ns;

	if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= max_s) {
		*out_ms = (int64_t)json_integer_value(v) * 1000;
		return 0;
	}
	if (json_is_string(v) && !strparse_duration_ns(json_string_value(v), NSEC_PER_SEC, &ns) &&
	    ns >= NSEC_PER_SEC && ns / NSEC_PER_SEC <= (uint64_t)max_s) {
		*out_ms = (int64_t)(ns / NSEC_PER_MSEC);
		return 0;
	}
	return resp_error(
		rp, 400, "bad_request",
		"%s: a duration from 1s to %llds (\"1h\", \"30m\", or seconds) is required", field,
		(long long)max_s);
}

/* The services of the body: 0 and *@out (caller frees the array, not the strings), or the 400. */
static int summarize_services(struct resp *rp, const json_t *v, const char ***out, size_t *n)
{
	size_t i;

	*out = NULL;
	*n = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > EVIDENCE_SERVICES_MAX)
		return resp_error(rp, 400, "bad_request",
				  "services: an array of at most %d service names",
				  EVIDENCE_SERVICES_MAX);
	*out = xcalloc(json_array_size(v) + 1, sizeof(**out));
	for (i = 0; i < json_array_size(v); i++) {
		const json_t *s = json_array_get(v, i);

		if (!json_is_string(s) || !json_string_length(s) ||
		    json_string_length(s) >= SERVICE_NAME_MAX) {
			free(*out);
			*out = NULL;
			return resp_error(rp, 400, "bad_request",
					  "services[%zu]: a service name (1 to %d characters)", i,
					  SERVICE_NAME_MAX - 1);
		}
		(*out)[(*n)++] = json_string_value(s);
	}
	return 0;
}

/* Whether @name is a service of @ev or one the store has ever seen. */
static bool service_known(struct store *st, const char *tenant, const struct evidence *ev,
			  const char *name)
{
	struct store_service *v = NULL;
	size_t n = 0;
	bool found = evidence_service_find(ev, name) != NULL;

	if (found || store_services(st, tenant, &v, &n))
		return found;
	for (size_t i = 0; i < n && !found; i++)
		found = !strcmp(v[i].name, name);
	store_services_free(v, n);
	return found;
}

/* The answer, with the prose of @ev's summary; takes nothing. */
static int summarize_answer(struct req *rq, struct resp *rp, const struct evidence *ev,
			    const struct summary_options *o)
{
	struct summary s;
	char *md, *facts, *task;
	json_t *doc;

	summary_build(ev, o, &s);
	md = summary_markdown(&s, ev, o);
	doc = summary_json(&s, ev);
	if (doc) {
		bool llm = llm_enabled(rq->env->llm);

		/* the fact sheet and the task only for a model that will read them */
		facts = llm ? narrate_facts(ev) : NULL;
		task = llm ? summary_llm_task(o, md) : NULL;
		narrate_prose(doc, "summary", rq->env->llm, task, facts, md);
		free(task);
		free(facts);
		json_object_set_new(doc, "timestamp", narrate_json_time(rq->now_ms));
		json_object_set_new(doc, "time_range", json_string(o->range_text));
		json_object_set_new(doc, "since", narrate_json_time(ev->since_ms));
		json_object_set_new(doc, "until", narrate_json_time(ev->until_ms));
	}
	free(md);
	summary_release(&s);
	return resp_json(rp, 200, doc);
}

int api_summarize_post(struct req *rq, struct resp *rp)
{
	json_t *body, *range = NULL, *services = NULL;
	int64_t range_ms = API_SUMMARIZE_RANGE_DEFAULT_S * 1000ll;
	struct summary_options o = { .range_text = "1h" };
	const char **names = NULL;
	struct evidence ev;
	struct store *st;
	json_error_t jerr;
	char range_text[32];
	int err;

	if (api_common_body(rq, rp, true, &body))
		return -EINVAL;
	if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s?o, s?o}", "time_range", &range, "services",
			   &services)) {
		json_decref(body);
		return resp_error(rp, 400, "bad_request", "%s", jerr.text);
	}
	if ((range && !json_is_null(range) &&
	     api_summarize_duration(rp, "time_range", range, API_SUMMARIZE_RANGE_MAX_S,
				    &range_ms)) ||
	    summarize_services(rp, services, &names, &o.nservices)) {
		json_decref(body);
		return -EINVAL;
	}
	o.services = names;
	if (range && json_is_string(range)) {
		o.range_text = json_string_value(range);
	} else if (range && json_is_integer(range)) {
		snprintf(range_text, sizeof(range_text), "%llds", (long long)(range_ms / 1000));
		o.range_text = range_text;
	}
	if (!(st = api_common_store(rq, rp))) {
		err = -EIO;
		goto out;
	}
	err = evidence_gather(st,
			      &(struct evidence_query){ .tenant = rq->tenant,
							.since_ms = rq->now_ms - range_ms,
							.until_ms = rq->now_ms },
			      &ev);
	if (err) {
		err = resp_error(rp, 500, "internal", "cannot read the evidence: %s",
				 strerror(-err));
		goto out_ev;
	}
	for (size_t i = 0; i < o.nservices; i++) {
		if (!service_known(st, rq->tenant, &ev, o.services[i])) {
			err = resp_error(rp, 404, "not_found", "no service '%.64s'", o.services[i]);
			goto out_ev;
		}
	}
	err = summarize_answer(rq, rp, &ev, &o);
out_ev:
	evidence_release(&ev);
out:
	free(names);
	json_decref(body);
	return err;
}
