/*
 * The analyst's words (narrate.h). Numbers are rounded for people, never
 * for decisions: the rules of summary.c and advice.c compare the evidence's
 * own doubles, and only their sentences go through here.
 */
#include "aggregator/analysis/narrate.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregator/analysis/evidence.h"
#include "aggregator/analysis/llm.h"
#include "common/alloc.h"
#include "common/timeutil.h"

const char *narrate_number(double v, char *buf, size_t cap)
{
	double a = fabs(v);
	char *dot;

	if (!isfinite(v)) {
		snprintf(buf, cap, "n/a");
		return buf;
	}
	if (a >= 100 || a == 0)
		snprintf(buf, cap, "%.0f", v);
	else if (a >= 10)
		snprintf(buf, cap, "%.1f", v);
	else if (a >= 1)
		snprintf(buf, cap, "%.2f", v);
	else if (a >= 1e-6)
		snprintf(buf, cap, "%.*f", 1 - (int)floor(log10(a)), v); /* two significant */
	else
		snprintf(buf, cap, "0");
	dot = strchr(buf, '.');
	if (dot) { /* 1.50 -> 1.5, 12.0 -> 12 */
		char *end = buf + strlen(buf);

		while (end > dot && end[-1] == '0')
			*--end = '\0';
		if (end - 1 == dot)
			*dot = '\0';
	}
	if (!strcmp(buf, "-0"))
		snprintf(buf, cap, "0");
	return buf;
}

static bool metric_is_ratio(const char *metric)
{
	return !strcmp(metric, "error_rate") || !strcmp(metric, "syscall_error_rate");
}

static bool metric_is_rate(const char *metric)
{
	return !strcmp(metric, "request_rate") || !strncmp(metric, "tcp_", 4);
}

const char *narrate_value(const char *metric, double v, char *buf, size_t cap)
{
	char n[NARRATE_VALUE_MAX];

	if (!strncmp(metric, "latency_", 8))
		snprintf(buf, cap, "%s ms", narrate_number(v, n, sizeof(n)));
	else if (metric_is_ratio(metric))
		snprintf(buf, cap, "%s%%", narrate_number(v * 100, n, sizeof(n)));
	else if (metric_is_rate(metric))
		snprintf(buf, cap, "%s/s", narrate_number(v, n, sizeof(n)));
	else
		snprintf(buf, cap, "%s", narrate_number(v, n, sizeof(n)));
	return buf;
}

const char *narrate_metric_label(const char *metric)
{
	static const struct {
		const char *metric, *label;
	} labels[] = {
		{ "latency_p50", "p50" },
		{ "latency_p90", "p90" },
		{ "latency_p95", "p95" },
		{ "latency_p99", "p99" },
		{ "latency_max", "max latency" },
		{ "error_rate", "error rate" },
		{ "request_rate", "request rate" },
		{ "syscall_error_rate", "syscall error rate" },
		{ "tcp_retransmits", "TCP retransmits" },
		{ "tcp_resets", "TCP resets" },
		{ "tcp_connect_failures", "failed connects" },
	};

	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (!strcmp(labels[i].metric, metric))
			return labels[i].label;
	return metric;
}

const char *narrate_severity(enum store_severity s)
{
	static const char *const names[] = { "info", "warning", "critical" };

	return (unsigned)s < 3 ? names[s] : "info";
}

const char *narrate_instant(int64_t ms, bool with_date, char *buf, size_t cap)
{
	time_t t = (time_t)((ms > 0 ? ms : 0) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	if (!strftime(buf, cap, with_date ? "%Y-%m-%d %H:%M:%SZ" : "%H:%M:%SZ", &tm) && cap)
		buf[0] = '\0';
	return buf;
}

const char *narrate_duration(int64_t ms, char *buf, size_t cap)
{
	int64_t s = (ms > 0 ? ms : 0) / 1000;

	if (s < 120)
		snprintf(buf, cap, "%" PRId64 " s", s);
	else if (s < 3600)
		snprintf(buf, cap, "%" PRId64 " min", s / 60);
	else if (s < 86400 && (s % 3600) / 60)
		snprintf(buf, cap, "%" PRId64 " h %" PRId64 " min", s / 3600, (s % 3600) / 60);
	else if (s < 86400)
		snprintf(buf, cap, "%" PRId64 " h", s / 3600);
	else if ((s % 86400) / 3600)
		snprintf(buf, cap, "%" PRId64 " d %" PRId64 " h", s / 86400, (s % 86400) / 3600);
	else
		snprintf(buf, cap, "%" PRId64 " d", s / 86400);
	return buf;
}

json_t *narrate_json_time(int64_t ms)
{
	char t[TIME_ISO_LEN];

	time_format_iso((uint64_t)(ms > 0 ? ms : 0) * NSEC_PER_MSEC, t);
	return json_string(t);
}

void narrate_add(struct buf *b, const char *fmt, ...)
{
	char small[512], *text = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(small)) {
		text = xmalloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(text, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	/* past the cap the text is dropped: what was written stays whole */
	(void)!buf_append(b, text, (size_t)n);
	if (text != small)
		free(text);
}

char *narrate_detach(struct buf *b)
{
	if (!b->data)
		return xstrdup("");
	return (char *)buf_detach(b, NULL);
}

/* ---- the fact sheet ---- */

static void facts_level(struct buf *b, const char *metric, const char *label,
			const struct evidence_level *span, const struct evidence_level *base)
{
	char total[NARRATE_VALUE_MAX], peak[NARRATE_VALUE_MAX], typical[NARRATE_VALUE_MAX];

	narrate_add(b, "; %s %s (peak %s, typical before %s)", label,
		    narrate_value(metric, span->total, total, sizeof(total)),
		    narrate_value(metric, span->peak, peak, sizeof(peak)),
		    narrate_value(metric, base->typical, typical, sizeof(typical)));
}

static void facts_service(struct buf *b, const struct evidence *ev,
			  const struct evidence_service *sv)
{
	const struct evidence_stats *s = &sv->span, *p = &sv->baseline;
	char now[NARRATE_VALUE_MAX], before[NARRATE_VALUE_MAX], t[40];

	if (!sv->observed) {
		narrate_add(b, "- %s: not watched by an agent (seen only as the target of calls)\n",
			    sv->name);
		return;
	}
	if (!s->windows && !p->windows) {
		narrate_add(b, "- %s: no data in the span or the baseline\n", sv->name);
		return;
	}
	narrate_add(b,
		    "- %s: %" PRIu64 " requests, %" PRIu64 " answered 5xx (before: %" PRIu64
		    " requests, %" PRIu64 " 5xx)",
		    sv->name, s->requests, s->errors, p->requests, p->errors);
	facts_level(b, "request_rate", "request rate", &s->request_rate, &p->request_rate);
	facts_level(b, "error_rate", "error rate", &s->error_rate, &p->error_rate);
	facts_level(b, "latency_p50", "p50", &s->p50_ms, &p->p50_ms);
	facts_level(b, "latency_p99", "p99", &s->p99_ms, &p->p99_ms);
	if (s->syscalls && p->syscalls && s->syscall_ms_per_request >= 0 &&
	    p->syscall_ms_per_request >= 0)
		narrate_add(b, "; syscall time per request %s ms (before %s ms)",
			    narrate_number(s->syscall_ms_per_request, now, sizeof(now)),
			    narrate_number(p->syscall_ms_per_request, before, sizeof(before)));
	if (s->syscalls && p->syscalls && s->alloc_syscalls_per_request >= 0 &&
	    p->alloc_syscalls_per_request >= 0)
		narrate_add(b, "; memory syscalls (mmap, brk) per request %s (before %s)",
			    narrate_number(s->alloc_syscalls_per_request, now, sizeof(now)),
			    narrate_number(p->alloc_syscalls_per_request, before, sizeof(before)));
	narrate_add(b,
		    "; syscalls %" PRIu64 " of which %" PRIu64 " failed (before %" PRIu64
		    " and %" PRIu64 ")",
		    s->syscalls, s->syscall_errors, p->syscalls, p->syscall_errors);
	narrate_add(b,
		    "; TCP retransmits %" PRIu64 ", resets %" PRIu64 ", failed connects %" PRIu64
		    " (before %" PRIu64 ", %" PRIu64 ", %" PRIu64 ")",
		    s->tcp.retransmits, s->tcp.resets, s->tcp.connect_failures, p->tcp.retransmits,
		    p->tcp.resets, p->tcp.connect_failures);
	for (size_t i = 0; i < sv->nerrnos; i++)
		narrate_add(b, "; %s (mostly on %s) %" PRIu64 " times (before %" PRIu64 ")",
			    sv->errnos[i].name, sv->errnos[i].syscall, sv->errnos[i].span,
			    sv->errnos[i].baseline);
	if (s->requests && sv->last_active_step >= 0 &&
	    (size_t)sv->last_active_step + 1 < ev->nsteps)
		narrate_add(
			b, "; last request in the step starting %s",
			narrate_instant(ev->since_ms + (int64_t)sv->last_active_step * ev->step_ms,
					false, t, sizeof(t)));
	else if (p->requests && !s->requests)
		narrate_add(b, "; no request at all in the span");
	narrate_add(b, "\n");
}

static void facts_edge(struct buf *b, const struct evidence_edge *e)
{
	char now[NARRATE_VALUE_MAX], before[NARRATE_VALUE_MAX];
	const struct evidence_calls *s = &e->span, *p = &e->baseline;

	narrate_add(b,
		    "- %s -> %s: %" PRIu64 " calls, %" PRIu64
		    " answered 5xx, p99 %s (before: %" PRIu64 " calls, %" PRIu64 " 5xx, p99 %s)\n",
		    e->from, e->to, s->requests, s->errors,
		    narrate_value("latency_p99", s->p99_ms, now, sizeof(now)), p->requests,
		    p->errors, narrate_value("latency_p99", p->p99_ms, before, sizeof(before)));
}

static void facts_anomaly(struct buf *b, const struct evidence_anomaly *an, bool with_date)
{
	char peak[NARRATE_VALUE_MAX], now[NARRATE_VALUE_MAX], mean[NARRATE_VALUE_MAX],
		lo[NARRATE_VALUE_MAX], hi[NARRATE_VALUE_MAX], start[40], end[40], state[64];

	if (an->open)
		snprintf(state, sizeof(state), "still open");
	else
		snprintf(state, sizeof(state), "resolved %s",
			 narrate_instant(an->resolved_ms, with_date, end, sizeof(end)));
	narrate_add(b,
		    "- anomaly %" PRId64
		    ": %s %s, %s, started %s, %s; peak %s, now %s, expected %s "
		    "(range %s to %s)\n",
		    an->id, an->service, an->metric, narrate_severity(an->severity),
		    narrate_instant(an->started_ms, with_date, start, sizeof(start)), state,
		    narrate_value(an->metric, an->peak_value, peak, sizeof(peak)),
		    narrate_value(an->metric, an->current_value, now, sizeof(now)),
		    narrate_value(an->metric, an->expected_mean, mean, sizeof(mean)),
		    narrate_value(an->metric, an->expected_min, lo, sizeof(lo)),
		    narrate_value(an->metric, an->expected_max, hi, sizeof(hi)));
}

static void facts_action(struct buf *b, const struct evidence_action *ac, bool with_date)
{
	const char *status = store_action_status_name(ac->status);
	char t[40];

	narrate_add(b, "- action %" PRId64 " at %s: %s on %s, %s%s, %s; reason: %s\n", ac->id,
		    narrate_instant(ac->created_ms, with_date, t, sizeof(t)), ac->type, ac->service,
		    ac->policy_name[0] ? "by policy " : "by hand", ac->policy_name,
		    status ? status : "unknown", ac->reason[0] ? ac->reason : "none given");
}

char *narrate_facts(const struct evidence *ev)
{
	bool with_date = ev->until_ms - ev->baseline_since_ms > 20 * 3600 * 1000ll;
	char t1[40], t2[40], t3[40], d[40], st[40];
	struct buf b;

	buf_init(&b, NARRATE_FACTS_MAX);
	narrate_add(&b, "Span: %s to %s (%s), in steps of %s; baseline: %s to the span's start.\n",
		    narrate_instant(ev->since_ms, true, t1, sizeof(t1)),
		    narrate_instant(ev->until_ms, true, t2, sizeof(t2)),
		    narrate_duration(ev->until_ms - ev->since_ms, d, sizeof(d)),
		    narrate_duration(ev->step_ms, st, sizeof(st)),
		    narrate_instant(ev->baseline_since_ms, true, t3, sizeof(t3)));
	if (ev->focus[0])
		narrate_add(&b, "Asked about: %s (and the services connected to it by calls).\n",
			    ev->focus);
	narrate_add(&b, "\nServices (%zu%s):\n", ev->nservices,
		    ev->services_truncated ? ", more left out" : "");
	if (!ev->nservices)
		narrate_add(&b, "- none: no agent has reported a service\n");
	for (size_t i = 0; i < ev->nservices; i++)
		facts_service(&b, ev, &ev->services[i]);
	narrate_add(&b, "\nCalls between services (%zu):\n", ev->nedges);
	for (size_t i = 0; i < ev->nedges; i++)
		facts_edge(&b, &ev->edges[i]);
	narrate_add(&b, "\nAnomalies (%zu%s):\n", ev->nanomalies,
		    ev->anomalies_truncated ? ", more left out" : "");
	if (!ev->nanomalies)
		narrate_add(&b, "- none\n");
	for (size_t i = 0; i < ev->nanomalies; i++)
		facts_anomaly(&b, &ev->anomalies[i], with_date);
	narrate_add(&b, "\nActions taken by prp (%zu%s):\n", ev->nactions,
		    ev->actions_truncated ? ", more left out" : "");
	if (!ev->nactions)
		narrate_add(&b, "- none\n");
	for (size_t i = 0; i < ev->nactions; i++)
		facts_action(&b, &ev->actions[i], with_date);
	return narrate_detach(&b);
}

/* ---- prose ---- */

void narrate_prose(json_t *doc, const char *field, const struct llm *l, const char *task,
		   const char *facts, const char *builtin)
{
	char why[LLM_WHY_MAX], *text = NULL;
	json_t *prose;
	int err;

	if (!llm_enabled(l)) {
		json_object_set_new(doc, field, json_string(builtin));
		json_object_set_new(doc, "prose", json_string("built-in"));
		return;
	}
	err = llm_explain(l, task, facts, &text, why, sizeof(why));
	/* a text jansson refuses (not UTF-8) is a failure like any other */
	prose = err ? NULL : json_string(text);
	free(text);
	if (!prose) {
		json_object_set_new(doc, field, json_string(builtin));
		json_object_set_new(doc, "prose", json_string("built-in"));
		json_object_set_new(doc, "llm_error",
				    json_string(err ? why : "the model's text is not UTF-8"));
		return;
	}
	json_object_set_new(doc, field, prose);
	json_object_set_new(doc, "prose", json_string("llm"));
	json_object_set_new(doc, "llm_model", json_string(llm_model(l)));
}
