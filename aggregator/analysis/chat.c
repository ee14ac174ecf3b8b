/*
 * Answers to chat questions (chat.h), one function per intent. Each
 * builds Markdown in a struct buf and collects its sources; the answer's
 * confidence says how much the data could say (1 for a plain read of the
 * series, the root cause analysis' own for "why", 0 for "I don't know").
 */
#include "aggregator/analysis/chat.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/evidence.h"
#include "aggregator/analysis/narrate.h"
#include "aggregator/analysis/rca.h"
#include "aggregator/analysis/summary.h"
#include "aggregator/detect/detection.h"
#include "aggregator/http/svc_status.h"
#include "aggregator/series.h"
#include "aggregator/store/store.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/timeutil.h"

#define CHAT_ANSWER_MAX	   (64u << 10)
#define CHAT_HEALTH_WINDOW 10 /* seconds of health "now" reads */
#define CHAT_LIST_MAX	   20 /* lines of a listing before "and N more" */

struct reply {
	struct buf text;
	json_t *sources; /* array of strings, each once */
	double confidence;
	const char *prose; /* "built-in" unless the LLM wrote it */
	json_t *extra;	   /* fields narrate_prose() set; may be NULL */
};

static void say(struct reply *r, const char *fmt, ...) PRP_PRINTF(2, 3);
static void say(struct reply *r, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* past the bound the answer is cut: a listing says "and N more" before that */
	if (r->text.len + strlen(line) < CHAT_ANSWER_MAX && buf_append(&r->text, line, strlen(line)))
		return;
}

static void source(struct reply *r, const char *kind, const char *what)
{
	char s[128];
	size_t i;
	json_t *v;

	snprintf(s, sizeof(s), "%s:%s", kind, what);
	json_array_foreach(r->sources, i, v)
	{
		if (!strcmp(json_string_value(v), s))
			return;
	}
	json_array_append_new(r->sources, json_string(s));
}

static void source_id(struct reply *r, const char *kind, int64_t id)
{
	char s[24];

	snprintf(s, sizeof(s), "%lld", (long long)id);
	source(r, kind, s);
}

/* The span as an operator reads it: "the last 15 min", "since 09:00". */
static const char *span_text(const struct chat_question *q, char *buf, size_t cap)
{
	char d[32];

	narrate_duration(q->until_ms - q->since_ms, d, sizeof(d));
	snprintf(buf, cap, "the last %s", d);
	return buf;
}

static int gather(const struct chat_world *w, const struct chat_question *q, bool focus,
		  struct evidence *ev)
{
	struct evidence_query eq = { .tenant = w->tenant,
				     .since_ms = q->since_ms,
				     .until_ms = q->until_ms,
				     .service = focus && q->service[0] ? q->service : NULL };

	return evidence_gather(w->store, &eq, ev);
}

/* ---- health now ---- */

static void answer_health(const struct chat_world *w, const struct chat_question *q,
			  struct reply *r)
{
	struct series_health *h = NULL;
	struct store_anomaly *open = NULL;
	struct store_anomaly_filter af = { .tenant = w->tenant, .status = 1, .limit = 200 };
	size_t nh = 0, nopen = 0, sick = 0, shown = 0;
	char v1[NARRATE_VALUE_MAX], v2[NARRATE_VALUE_MAX], v3[NARRATE_VALUE_MAX];

	if (w->series)
		(void)series_health(w->series, w->tenant, w->now_ms / 1000 - 1, CHAT_HEALTH_WINDOW,
				    &h, &nh);
	(void)store_anomalies_list(w->store, &af, &open, &nopen, NULL);
	r->confidence = 0.9;
	for (size_t i = 0; i < nh; i++) {
		const char *status = svc_status_name(&h[i]);
		size_t nmine = 0;

		for (size_t k = 0; k < nopen; k++)
			nmine += !strcmp(open[k].service, h[i].service);
		if (q->service[0] && strcmp(h[i].service, q->service))
			continue;
		if (!q->service[0] && !strcmp(status, "healthy") && !nmine)
			continue;
		sick += strcmp(status, "healthy") || nmine;
		if (shown++ == CHAT_LIST_MAX)
			continue;
		source(r, "series", h[i].service);
		say(r, "- **%s** is %s: %s, %s errors, p99 %s", h[i].service,
		    nmine && !strcmp(status, "healthy") ? "anomalous" : status,
		    narrate_value("request_rate", h[i].request_rate, v1, sizeof(v1)),
		    narrate_value("error_rate", h[i].error_rate, v2, sizeof(v2)),
		    narrate_value("latency_p99", h[i].latency_p99_ms, v3, sizeof(v3)));
		for (size_t k = 0; k < nopen; k++) {
			if (strcmp(open[k].service, h[i].service))
				continue;
			source_id(r, "anomaly", open[k].id);
			say(r, "; %s anomaly on %s (id %lld)", narrate_severity(open[k].severity),
			    narrate_metric_label(open[k].metric), (long long)open[k].id);
		}
		say(r, "\n");
	}
	if (q->service[0] && !shown) {
		say(r, "prp has no data on **%s** in the last %d s: no agent reported it.\n",
		    q->service, CHAT_HEALTH_WINDOW);
	} else if (!q->service[0]) {
		char *list = xstrndup(r->text.len ? (const char *)r->text.data : "", r->text.len);

		buf_reset(&r->text);
		if (!nh)
			say(r, "No service has reported in the last %d s: no agent data yet.\n",
			    CHAT_HEALTH_WINDOW);
		else if (!sick)
			say(r, "All %zu services are healthy (last %d s, no open anomaly).\n", nh,
			    CHAT_HEALTH_WINDOW);
		else
			say(r, "%zu of %zu services need attention (last %d s):\n\n%s", sick, nh,
			    CHAT_HEALTH_WINDOW, list);
		free(list);
		for (size_t i = 0; i < nh && !sick; i++)
			source(r, "series", h[i].service);
	}
	if (shown > CHAT_LIST_MAX)
		say(r, "- and %zu more\n", shown - CHAT_LIST_MAX);
	store_anomalies_free(open, nopen);
	free(h);
}

/* ---- why ---- */

static void answer_why(const struct chat_world *w, const struct chat_question *q,
		       struct reply *r)
{
	struct evidence ev;
	struct rca_result rca;
	struct rca_options ro = { .service = q->service[0] ? q->service : NULL };
	char span[64];
	char *facts;

	span_text(q, span, sizeof(span));
	if (gather(w, q, true, &ev)) {
		evidence_release(&ev);
		say(r, "prp has never seen a service called **%s**.\n", q->service);
		r->confidence = 0;
		return;
	}
	if (rca_analyse(&ev, &ro, &rca)) {
		ro.service = NULL;
		rca_result_release(&rca);
		if (rca_analyse(&ev, &ro, &rca)) /* no target: cannot be refused */
			r->confidence = 0;
	}
	for (size_t i = 0; i < ev.nanomalies; i++)
		source_id(r, "anomaly", ev.anomalies[i].id);
	for (size_t i = 0; i < rca.nsuspects; i++)
		source(r, "series", rca.suspects[i].service);
	if (!rca.found) {
		say(r, "Nothing in %s points at a cause%s%s: %s\n", span,
		    q->service[0] ? " of trouble on " : "", q->service, rca.reason);
		r->confidence = 0.5;
	} else {
		say(r, "**%s** looks like the root cause (confidence %.0f%%): %s\n", rca.cause,
		    rca.confidence * 100, rca.reason);
		for (size_t i = 0; i < rca.nsuspects && i < 1; i++)
			for (size_t k = 0; k < rca.suspects[i].nevidence; k++)
				say(r, "- %s\n", rca.suspects[i].evidence[k]);
		for (size_t i = 1; i < rca.nsuspects; i++)
			if (rca.suspects[i].role == RCA_ROLE_VICTIM)
				say(r, "\n%s suffers as a victim of it (score %.2f).\n",
				    rca.suspects[i].service, rca.suspects[i].score);
		r->confidence = rca.confidence;
	}
	facts = narrate_facts(&ev);
	r->extra = json_object();
	{
		char *builtin = xstrndup(r->text.len ? (const char *)r->text.data : "", r->text.len);

		narrate_prose(r->extra, "answer", w->llm,
			      "Answer the operator's question: why is the service in trouble? Name "
			      "the root cause and the evidence.",
			      facts, builtin);
		free(builtin);
	}
	free(facts);
	rca_result_release(&rca);
	evidence_release(&ev);
}

/* ---- what happened ---- */

static void answer_happened(const struct chat_world *w, const struct chat_question *q,
			    struct reply *r)
{
	struct evidence ev;
	struct summary s;
	const char *only[1] = { q->service };
	char span[64];
	/* the duration alone: the summary says "the last" itself */
	struct summary_options so = { .services = q->service[0] ? only : NULL,
				      .nservices = q->service[0] ? 1 : 0,
				      .range_text = narrate_duration(q->until_ms - q->since_ms,
								     span, sizeof(span)) };
	char *md, *facts;

	if (gather(w, q, false, &ev)) {
		evidence_release(&ev);
		say(r, "prp cannot read its store right now.\n");
		r->confidence = 0;
		return;
	}
	summary_build(&ev, &so, &s);
	md = summary_markdown(&s, &ev, &so);
	say(r, "%s", md);
	free(md);
	for (size_t i = 0; i < s.nincidents; i++) {
		for (size_t k = 0; k < s.incidents[i].nanomalies; k++)
			source_id(r, "anomaly", ev.anomalies[s.incidents[i].anomalies[k]].id);
		for (size_t k = 0; k < s.incidents[i].nactions; k++)
			source_id(r, "action", ev.actions[s.incidents[i].actions[k]].id);
	}
	r->confidence = 0.9;
	facts = narrate_facts(&ev);
	r->extra = json_object();
	{
		char *builtin = xstrndup(r->text.len ? (const char *)r->text.data : "", r->text.len);

		narrate_prose(r->extra, "answer", w->llm,
			      "Answer the operator's question: what happened in this span? The "
			      "incidents, what prp did, and the state now.",
			      facts, builtin);
		free(builtin);
	}
	free(facts);
	summary_release(&s);
	evidence_release(&ev);
}

/* ---- what prp did ---- */

static void answer_actions(const struct chat_world *w, const struct chat_question *q,
			   struct reply *r)
{
	struct store_action *v = NULL;
	struct store_action_filter f = { .tenant = w->tenant,
					 .service = q->service[0] ? q->service : NULL,
					 .status = -1,
					 .since_ms = q->since_ms,
					 .until_ms = q->until_ms + 1,
					 .limit = CHAT_LIST_MAX };
	char span[64], at[32];
	bool more = false;
	size_t n = 0;

	span_text(q, span, sizeof(span));
	if (store_actions_list(w->store, &f, &v, &n, &more)) {
		say(r, "prp cannot read its actions right now.\n");
		r->confidence = 0;
		return;
	}
	r->confidence = 1;
	if (!n) {
		say(r, "prp took no action%s%s in %s.\n", q->service[0] ? " on " : "", q->service,
		    span);
		return;
	}
	say(r, "What prp did%s%s in %s, newest first:\n\n", q->service[0] ? " on " : "",
	    q->service, span);
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_loads(v[i].parameters ? v[i].parameters : "{}", 0, NULL);
		const char *state = json_string_value(json_object_get(p, "state"));

		source_id(r, "action", v[i].id);
		say(r, "- %s %s%s%s on **%s** (%s): %s — %s\n",
		    narrate_instant(v[i].created_ms, false, at, sizeof(at)), v[i].type,
		    state ? " " : "", state ? state : "", v[i].service,
		    v[i].policy_name[0] ? v[i].policy_name : "by hand",
		    store_action_status_name(v[i].status), v[i].reason ? v[i].reason : "");
		json_decref(p);
	}
	if (more)
		say(r, "- and more: GET /actions/history\n");
	store_actions_free(v, n);
}

/* ---- predictions ---- */

static void answer_predict(const struct chat_world *w, const struct chat_question *q,
			   struct reply *r)
{
	struct detection_prediction *p = NULL;
	size_t n = 0, coming = 0;
	char v1[NARRATE_VALUE_MAX], v2[NARRATE_VALUE_MAX], d[32];

	if (!w->detection || detection_predictions(w->detection, w->tenant,
						   q->service[0] ? q->service : NULL, &p, &n)) {
		say(r, "Prediction is not running, so I cannot say what is coming.\n");
		r->confidence = 0;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!p[i].will_breach && !p[i].breached)
			continue;
		coming++;
		source(r, "series", p[i].service);
		if (p[i].breached)
			say(r, "- **%s** %s is past its SLO already: %s against %s\n", p[i].service,
			    narrate_metric_label(p[i].metric),
			    narrate_value(p[i].metric, p[i].current, v1, sizeof(v1)),
			    narrate_value(p[i].metric, p[i].threshold, v2, sizeof(v2)));
		else
			say(r, "- **%s** %s will reach its SLO of %s in about %s (now %s, confidence %.0f%%)\n",
			    p[i].service, narrate_metric_label(p[i].metric),
			    narrate_value(p[i].metric, p[i].threshold, v2, sizeof(v2)),
			    narrate_duration((int64_t)(p[i].breach_in_s * 1000), d, sizeof(d)),
			    narrate_value(p[i].metric, p[i].current, v1, sizeof(v1)),
			    p[i].confidence * 100);
	}
	if (!coming) {
		struct detection_status st;

		detection_get_status(w->detection, &st);
		narrate_duration((int64_t)st.config.horizon_s * 1000, d, sizeof(d));
		say(r, "No SLO breach is forecast within %s for %s (%zu forecasts).\n", d,
		    q->service[0] ? q->service : "any service", n);
		for (size_t i = 0; i < n; i++)
			source(r, "series", p[i].service);
	}
	r->confidence = n ? 0.8 : 0.3;
	free(p);
}

/* ---- the call graph ---- */

static void answer_topology(const struct chat_world *w, const struct chat_question *q,
			    struct reply *r)
{
	struct evidence ev;
	char span[64], v1[NARRATE_VALUE_MAX], v2[NARRATE_VALUE_MAX], v3[NARRATE_VALUE_MAX];
	size_t shown = 0;

	span_text(q, span, sizeof(span));
	if (gather(w, q, true, &ev)) {
		evidence_release(&ev);
		say(r, "prp has never seen a service called **%s**.\n", q->service);
		r->confidence = 0;
		return;
	}
	for (size_t i = 0; i < ev.nedges; i++) {
		const struct evidence_calls *c = &ev.edges[i].span;
		double secs = (double)(ev.until_ms - ev.since_ms) / 1000;

		if (!c->requests)
			continue;
		if (!shown++)
			say(r, "Calls seen in %s:\n\n", span);
		source(r, "series", ev.edges[i].from);
		say(r, "- %s → %s: %s, %s errors, p99 %s\n", ev.edges[i].from, ev.edges[i].to,
		    narrate_value("request_rate", (double)c->requests / secs, v1, sizeof(v1)),
		    narrate_value("error_rate", (double)c->errors / (double)c->requests, v2,
				  sizeof(v2)),
		    narrate_value("latency_p99", c->p99_ms, v3, sizeof(v3)));
	}
	if (!shown)
		say(r, "No calls between services were seen in %s%s%s.\n", span,
		    q->service[0] ? " around " : "", q->service);
	r->confidence = 1;
	evidence_release(&ev);
}

/* ---- open anomalies ---- */

static void answer_anomalies(const struct chat_world *w, const struct chat_question *q,
			     struct reply *r)
{
	struct store_anomaly *v = NULL;
	struct store_anomaly_filter f = { .tenant = w->tenant,
					  .service = q->service[0] ? q->service : NULL,
					  .status = 1,
					  .limit = CHAT_LIST_MAX };
	char at[32], v1[NARRATE_VALUE_MAX], v2[NARRATE_VALUE_MAX];
	size_t n = 0;

	if (store_anomalies_list(w->store, &f, &v, &n, NULL)) {
		say(r, "prp cannot read its anomalies right now.\n");
		r->confidence = 0;
		return;
	}
	r->confidence = 1;
	if (!n)
		say(r, "No anomaly is open%s%s.\n", q->service[0] ? " on " : "", q->service);
	for (size_t i = 0; i < n; i++) {
		source_id(r, "anomaly", v[i].id);
		say(r, "- %s **%s** %s since %s: %s, expected about %s (id %lld)\n",
		    narrate_severity(v[i].severity), v[i].service,
		    narrate_metric_label(v[i].metric),
		    narrate_instant(v[i].started_ms, false, at, sizeof(at)),
		    narrate_value(v[i].metric, v[i].current_value, v1, sizeof(v1)),
		    narrate_value(v[i].metric, v[i].expected_mean, v2, sizeof(v2)),
		    (long long)v[i].id);
	}
	store_anomalies_free(v, n);
}

static const char capabilities[] =
	"I can answer, from what prp's agents see:\n\n"
	"- which services are unhealthy, or how one is doing (\"how is payments?\")\n"
	"- why a service is slow or failing (\"why is orders slow?\")\n"
	"- what happened in a span (\"what happened since 10:00?\", \"in the last 2 hours\")\n"
	"- what prp did (\"what did prp do?\")\n"
	"- what is predicted (\"will anything breach its SLO?\")\n"
	"- the call graph (\"who calls payments?\")\n"
	"- the open anomalies\n\n"
	"Follow-ups keep the service and the span: \"and users?\", \"why?\".\n";

typedef void answer_fn(const struct chat_world *w, const struct chat_question *q,
		       struct reply *r);

static answer_fn *const answers[CHAT_INTENT_COUNT] = {
	[CHAT_HEALTH] = answer_health,	 [CHAT_WHY] = answer_why,
	[CHAT_HAPPENED] = answer_happened, [CHAT_ACTIONS] = answer_actions,
	[CHAT_PREDICT] = answer_predict,   [CHAT_TOPOLOGY] = answer_topology,
	[CHAT_ANOMALIES] = answer_anomalies,
};

json_t *chat_answer(const struct chat_world *w, const struct chat_question *q)
{
	struct reply r = { .sources = json_array(), .prose = "built-in" };
	char since[TIME_ISO_LEN], until[TIME_ISO_LEN];
	json_t *doc;

	buf_init(&r.text, CHAT_ANSWER_MAX + 1024);
	if (q->intent > CHAT_UNKNOWN && q->intent < CHAT_INTENT_COUNT && answers[q->intent]) {
		answers[q->intent](w, q, &r);
	} else if (q->intent == CHAT_HELP) {
		say(&r, "%s", capabilities);
		r.confidence = 1;
	} else {
		say(&r, "I don't know how to answer that from what prp sees. %s", capabilities);
		r.confidence = 0;
	}
	time_format_iso((uint64_t)q->since_ms * 1000000, since);
	time_format_iso((uint64_t)q->until_ms * 1000000, until);
	doc = json_pack("{s:s%, s:f, s:o, s:s, s:s?, s:s, s:s, s:s}", "answer",
			r.text.len ? (const char *)r.text.data : "", r.text.len, "confidence",
			fmin(fmax(r.confidence, 0), 1),
			"sources", r.sources, "intent", chat_intent_name(q->intent), "service",
			q->service[0] ? q->service : NULL, "since", since, "until", until, "prose",
			r.prose);
	if (doc && r.extra)
		json_object_update(doc, r.extra);
	json_decref(r.extra);
	buf_release(&r.text);
	return doc;
}

int chat_services(const struct chat_world *w, char ***names, size_t *n)
{
	struct store_service *v = NULL;
	size_t nv = 0;
	int ret = store_services(w->store, w->tenant, &v, &nv);

	*names = NULL;
	*n = 0;
	if (ret)
		return ret;
	*names = xcalloc(nv + 1, sizeof(**names));
	for (size_t i = 0; i < nv; i++)
		(*names)[i] = xstrdup(v[i].name);
	*n = nv;
	store_services_free(v, nv);
	return 0;
}

void chat_services_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
