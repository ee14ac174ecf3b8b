/*
 * Advice (advice.h): how each service moved (its span's peak step against
 * the baseline's typical step, judged with detection's floors), which
 * dependency is sick, then the first rule that matches. What each action
 * says and its policy are in advice_act.c.
 */
#include "aggregator/analysis/advice.h"
#include "aggregator/analysis/advice_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/narrate.h"
#include "aggregator/detect/signals.h"
#include "common/alloc.h"

/* A service is silent (stopped answering) after this long without a request ... */
#define ADVICE_SILENT_MIN_MS 15000
/* ... when at least this many requests were due in that time at its typical rate. */
#define ADVICE_SILENT_MISSED 10.0
/* A surge is at least this many times the typical request rate; saturation less. */
#define ADVICE_SURGE_RATIO    2.0
#define ADVICE_SATURATE_RATIO 1.3
/* CPU-bound: syscall time per request rose by less than this share of the latency's rise. */
#define ADVICE_CPU_SHARE 0.3
/* A leak: memory syscalls per request up by this much and this many times, over enough requests. */
#define ADVICE_LEAK_DELTA    0.05
#define ADVICE_LEAK_RATIO    3.0
#define ADVICE_LEAK_REQUESTS 50
/* Below this many requests in the span the figures are thin: confidence drops. */
#define ADVICE_THIN_REQUESTS 50

static bool moved(enum signal_id id, double value, double typical)
{
	return signal_magnitude(id, value, typical) >= 1.0;
}

static void health_silence(struct advice_health *h, const struct evidence *ev)
{
	const struct evidence_service *sv = h->sv;
	int64_t from = ev->since_ms + (int64_t)(sv->last_active_step + 1) * ev->step_ms;

	h->silent_ms = ev->until_ms - (from < ev->until_ms ? from : ev->until_ms);
	h->stopped =
		h->base && h->rate_typ > 0 &&
		h->silent_ms >= (3 * ev->step_ms > ADVICE_SILENT_MIN_MS ? 3 * ev->step_ms
									: ADVICE_SILENT_MIN_MS) &&
		h->rate_typ * (double)h->silent_ms / 1000.0 >= ADVICE_SILENT_MISSED;
}

static void health_cpu(struct advice_health *h)
{
	const struct evidence_stats *s = &h->sv->span, *b = &h->sv->baseline;
	double rise = s->p50_ms.total - b->p50_ms.total;

	h->sys = s->syscall_ms_per_request;
	h->sys_typ = b->syscall_ms_per_request;
	h->sys_known = h->sys >= 0 && h->sys_typ >= 0 && s->syscalls && b->syscalls;
	if (rise < 1)
		rise = s->p99_ms.total - b->p99_ms.total;
	h->cpu_bound = h->latency_up && h->sys_known && rise > 0 &&
		       h->sys - h->sys_typ < ADVICE_CPU_SHARE * rise;
	h->alloc = s->alloc_syscalls_per_request;
	h->alloc_typ = b->alloc_syscalls_per_request;
	h->leak = s->requests >= ADVICE_LEAK_REQUESTS && h->alloc >= 0 && h->alloc_typ >= 0 &&
		  h->alloc - h->alloc_typ >= ADVICE_LEAK_DELTA &&
		  h->alloc >= ADVICE_LEAK_RATIO * h->alloc_typ;
}

void advice_health_of(const struct evidence *ev, const char *name, struct advice_health *h)
{
	const struct evidence_stats *s, *b;
	bool busier;

	memset(h, 0, sizeof(*h));
	h->sv = evidence_service_find(ev, name);
	if (!h->sv || !h->sv->observed)
		return;
	s = &h->sv->span;
	b = &h->sv->baseline;
	h->observed = true;
	h->base = b->requests > 0;
	h->p99 = s->p99_ms.peak;
	h->p99_typ = b->p99_ms.typical;
	h->p50 = s->p50_ms.peak;
	h->p50_typ = b->p50_ms.typical;
	h->err = s->error_rate.peak;
	h->err_typ = b->error_rate.typical;
	h->rate = s->request_rate.peak;
	h->rate_typ = b->request_rate.typical;
	h->latency_up = h->base && s->requests &&
			(moved(SIGNAL_LATENCY_P99, h->p99, h->p99_typ) ||
			 moved(SIGNAL_LATENCY_P50, h->p50, h->p50_typ));
	h->errors_up = s->requests >= 3 && moved(SIGNAL_ERROR_RATE, h->err, h->err_typ);
	/* the span as a whole busier too: one odd step (or windows straddling steps) is no surge */
	busier = s->request_rate.total >= ADVICE_SATURATE_RATIO * b->request_rate.total;
	h->surge = h->base && busier && h->rate >= ADVICE_SURGE_RATIO * h->rate_typ &&
		   moved(SIGNAL_REQUEST_RATE, h->rate, h->rate_typ);
	h->saturated = h->base && busier && !h->surge && h->latency_up &&
		       h->rate >= ADVICE_SATURATE_RATIO * h->rate_typ;
	health_silence(h, ev);
	health_cpu(h);
}

/* What the anomaly's own record says, over the figures of the span (short spikes). */
static void health_apply_anomaly(struct advice_health *h, const struct evidence_anomaly *a)
{
	double low;

	if (!a)
		return;
	low = a->current_value < a->peak_value ? a->current_value : a->peak_value;
	if (!strncmp(a->metric, "latency_", 8) && a->peak_value > a->expected_mean)
		h->latency_up = true;
	else if (!strcmp(a->metric, "error_rate") && a->peak_value > a->expected_mean)
		h->errors_up = true;
	else if (!strcmp(a->metric, "request_rate") && a->peak_value > a->expected_mean)
		h->surge = h->surge || a->peak_value >= ADVICE_SURGE_RATIO * a->expected_mean;
	else if (!strcmp(a->metric, "request_rate") && a->expected_mean >= 0.5 &&
		 low <= 0.05 * a->expected_mean)
		h->stopped = true;
	if (h->latency_up && !h->p99) { /* the span's figures missed it: the record's numbers */
		h->p99 = a->peak_value;
		h->p99_typ = a->expected_mean;
	}
}

/* ---- the call graph ---- */

bool advice_edge_sick(const struct evidence_edge *e)
{
	const struct evidence_calls *s = &e->span, *b = &e->baseline;
	double err = s->requests ? (double)s->errors / (double)s->requests : 0;
	double err_b = b->requests ? (double)b->errors / (double)b->requests : 0;

	if (s->requests >= 3 && moved(SIGNAL_ERROR_RATE, err, err_b))
		return true;
	return s->requests && b->requests && moved(SIGNAL_LATENCY_P99, s->p99_ms, b->p99_ms);
}

static const struct evidence_anomaly *anomaly_on(const struct evidence *ev, const char *service)
{
	const struct evidence_anomaly *best = NULL;

	for (size_t i = 0; i < ev->nanomalies; i++) {
		const struct evidence_anomaly *a = &ev->anomalies[i];

		if (strcmp(a->service, service))
			continue;
		if (strncmp(a->metric, "latency_", 8) && strcmp(a->metric, "error_rate") &&
		    strcmp(a->metric, "request_rate"))
			continue;
		if (!best || a->severity > best->severity)
			best = a;
	}
	return best;
}

/* How sick the callee of @e is, 0 for not at all. */
static int dependency_score(const struct evidence *ev, const struct evidence_edge *e)
{
	const struct evidence_anomaly *a = anomaly_on(ev, e->to);
	struct advice_health h;
	int score = 0;

	advice_health_of(ev, e->to, &h);
	if (a)
		score += 2 + (int)a->severity;
	score += 2 * h.stopped + h.latency_up + h.errors_up + advice_edge_sick(e);
	/* an anomaly alone, with calls that look as before, is not a reason to blame the callee */
	if (a && !advice_edge_sick(e) && !h.latency_up && !h.errors_up && !h.stopped)
		score = 0;
	return score;
}

/* The deepest sick dependency of @from along the sickest calls, or -1. */
static int deepest_sick(const struct evidence *ev, int from)
{
	bool *seen = xcalloc(ev->nservices + 1, sizeof(*seen));
	int cur = from;

	seen[from] = true;
	for (int depth = 0; depth < ADVICE_DEPTH_MAX; depth++) {
		int best = -1, best_score = 0;

		for (size_t i = 0; i < ev->nedges; i++) {
			const struct evidence_edge *e = &ev->edges[i];
			int score;

			if (e->from_idx != cur || e->to_idx < 0 || seen[e->to_idx])
				continue;
			score = dependency_score(ev, e);
			if (score > best_score) {
				best = e->to_idx;
				best_score = score;
			}
		}
		if (best < 0)
			break;
		seen[best] = true;
		cur = best;
	}
	free(seen);
	return cur == from ? -1 : cur;
}

/* Callers of @to (index) that suffer with it, and all its callers; the worst edge into @worst. */
static size_t callers_suffering(const struct evidence *ev, int to, size_t *ncallers,
				const struct evidence_edge **worst)
{
	size_t n = 0;

	*ncallers = 0;
	*worst = NULL;
	for (size_t i = 0; i < ev->nedges; i++) {
		const struct evidence_edge *e = &ev->edges[i];
		struct advice_health h;

		if (e->to_idx != to || e->from_idx < 0)
			continue;
		(*ncallers)++;
		advice_health_of(ev, e->from, &h);
		if (advice_edge_sick(e) || h.latency_up || h.errors_up) {
			n++;
			if (!*worst || advice_edge_sick(e))
				*worst = e;
		}
	}
	return n;
}

static const struct evidence_edge *edge_find(const struct evidence *ev, int from, int to)
{
	for (size_t i = 0; i < ev->nedges; i++)
		if (ev->edges[i].from_idx == from && ev->edges[i].to_idx == to)
			return &ev->edges[i];
	return NULL;
}

/* ---- words ---- */

void advice_add(char *buf, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
}

static void add_move(char *buf, size_t cap, bool *first, const char *metric, double v, double t)
{
	char a[NARRATE_VALUE_MAX], b[NARRATE_VALUE_MAX];

	advice_add(buf, cap, "%s%s %s vs %s typical", *first ? "" : ", ",
		   narrate_metric_label(metric), narrate_value(metric, v, a, sizeof(a)),
		   narrate_value(metric, t, b, sizeof(b)));
	*first = false;
}

/* "payments p99 312 ms vs 0.4 ms typical, error rate 35% vs 0% typical" (what moved). */
void advice_moves_text(char *buf, size_t cap, const char *name, const struct advice_health *h)
{
	bool first = true;

	advice_add(buf, cap, "%s ", name);
	if (h->stopped) {
		char d[40], r[NARRATE_VALUE_MAX];

		advice_add(buf, cap, "answered no request for %s (typically %s)",
			   narrate_duration(h->silent_ms, d, sizeof(d)),
			   narrate_value("request_rate", h->rate_typ, r, sizeof(r)));
		first = false;
	}
	if (h->latency_up)
		add_move(buf, cap, &first, "latency_p99", h->p99, h->p99_typ);
	if (h->errors_up)
		add_move(buf, cap, &first, "error_rate", h->err, h->err_typ);
	if (h->surge || h->saturated)
		add_move(buf, cap, &first, "request_rate", h->rate, h->rate_typ);
	if (first) {
		char a[NARRATE_VALUE_MAX], b[NARRATE_VALUE_MAX], e[NARRATE_VALUE_MAX];

		advice_add(buf, cap, "did not move (p99 %s vs %s typical, error rate %s)",
			   narrate_value("latency_p99", h->p99, a, sizeof(a)),
			   narrate_value("latency_p99", h->p99_typ, b, sizeof(b)),
			   narrate_value("error_rate", h->err, e, sizeof(e)));
	}
}

void advice_edge_text(char *buf, size_t cap, const struct evidence_edge *e)
{
	char a[NARRATE_VALUE_MAX], b[NARRATE_VALUE_MAX];

	advice_add(buf, cap,
		   "calls from %s to %s: p99 %s vs %s before, %" PRIu64 " of %" PRIu64
		   " answered 5xx (%" PRIu64 " of %" PRIu64 " before)",
		   e->from, e->to, narrate_value("latency_p99", e->span.p99_ms, a, sizeof(a)),
		   narrate_value("latency_p99", e->baseline.p99_ms, b, sizeof(b)), e->span.errors,
		   e->span.requests, e->baseline.errors, e->baseline.requests);
}

static void anomaly_text(char *buf, size_t cap, const struct evidence_anomaly *a)
{
	char v[NARRATE_VALUE_MAX], t[NARRATE_VALUE_MAX];

	advice_add(buf, cap, "Anomaly %" PRId64 " (%s, %s): %s %s %s vs %s expected.", a->id,
		   narrate_severity(a->severity), a->open ? "open" : "resolved", a->service,
		   narrate_metric_label(a->metric),
		   narrate_value(a->metric, a->peak_value, v, sizeof(v)),
		   narrate_value(a->metric, a->expected_mean, t, sizeof(t)));
}

/* ---- the rules ---- */

/* Rule 2: a sick dependency @d (index) of the target, which suffers. */
static void dependency_rule(struct advice_ctx *c, int d)
{
	const struct evidence *ev = c->ev;
	const char *name = ev->services[d].name;
	const struct evidence_edge *e = NULL;
	struct advice *a = c->out;
	struct advice_health hd;
	size_t ncallers;
	char text[ADVICE_TEXT_MAX] = "";

	advice_health_of(ev, name, &hd);
	callers_suffering(ev, d, &ncallers, &e);
	if (edge_find(ev, c->idx, d)) /* the target's own calls to it tell most */
		e = edge_find(ev, c->idx, d);
	advice_add(text, sizeof(text), " %s depends on %s, which is sick: ", c->t->service, name);
	if (hd.observed)
		advice_moves_text(text, sizeof(text), name, &hd);
	else
		advice_add(text, sizeof(text), "%s is not watched by an agent", name);
	if (e) {
		advice_add(text, sizeof(text), "; ");
		advice_edge_text(text, sizeof(text), e);
	}
	advice_add(text, sizeof(text), ". Meanwhile ");
	advice_moves_text(text, sizeof(text), c->t->service, &c->h);
	advice_add(text, sizeof(text), ": its requests pile up waiting on %s.", name);
	if (!hd.observed) {
		char why[ADVICE_TEXT_MAX];

		snprintf(why, sizeof(why),
			 "%s prp acts only on services an agent watches (a breaker needs the "
			 "addresses where the service listens): fix %s, or watch it with an agent.",
			 text, name);
		advice_alert(c, ADVICE_RULE_UNWATCHED, why);
		return;
	}
	if (hd.stopped || hd.leak) {
		advice_restart(c, ADVICE_RULE_DEPENDENCY_FIX, name, &hd);
	} else if (hd.cpu_bound && !hd.errors_up) {
		advice_scale(c, ADVICE_RULE_DEPENDENCY_FIX, name, &hd);
	} else {
		advice_breaker(c, ADVICE_RULE_DEPENDENCY, name, &hd, e, ncallers);
		advice_add(a->rationale, sizeof(a->rationale),
			   "%s A breaker on %s makes its callers fail "
			   "fast instead of waiting.",
			   text, name);
		return;
	}
	/* restart or scale of the dependency: the cascade, then the dependency's own reason */
	{
		char own[ADVICE_TEXT_MAX];

		snprintf(own, sizeof(own), "%s", a->rationale + c->head);
		a->rationale[c->head] = '\0';
		advice_add(a->rationale, sizeof(a->rationale), "%s%s", text, own);
		a->confidence += 0.05;
	}
}

/* The metric the advice is about: the anomaly's, or the worst that moved. */
static const char *target_metric(const struct advice_ctx *c)
{
	if (c->t->anomaly)
		return c->t->anomaly->metric;
	if (c->t->metric && c->t->metric[0])
		return c->t->metric;
	if (c->h.stopped || c->h.surge)
		return "request_rate";
	if (c->h.errors_up)
		return "error_rate";
	return "latency_p99";
}

static void advice_rules(struct advice_ctx *c)
{
	const struct evidence *ev = c->ev;
	bool suffers = c->h.latency_up || c->h.errors_up;
	const struct evidence_edge *worst;
	size_t ncallers, nsuffering;
	int d;

	if (c->h.stopped) {
		advice_restart(c, ADVICE_RULE_STOPPED, c->t->service, &c->h);
		return;
	}
	d = c->idx >= 0 ? deepest_sick(ev, c->idx) : -1;
	if (d >= 0 && suffers) {
		dependency_rule(c, d);
		return;
	}
	if (c->h.leak) {
		advice_restart(c, ADVICE_RULE_LEAK, c->t->service, &c->h);
		return;
	}
	if (c->h.surge) {
		advice_rate_limit(c, c->t->service, &c->h);
		return;
	}
	if (c->h.latency_up && (c->h.cpu_bound || c->h.saturated)) {
		advice_scale(c, c->h.cpu_bound ? ADVICE_RULE_CPU_BOUND : ADVICE_RULE_SATURATED,
			     c->t->service, &c->h);
		return;
	}
	nsuffering = c->idx >= 0 ? callers_suffering(ev, c->idx, &ncallers, &worst) : 0;
	if (suffers && nsuffering) {
		char text[ADVICE_TEXT_MAX] = "";

		advice_breaker(c, ADVICE_RULE_CALLERS_PILE_UP, c->t->service, &c->h, worst,
			       ncallers);
		advice_add(text, sizeof(text), " %s is sick: ", c->t->service);
		advice_moves_text(text, sizeof(text), c->t->service, &c->h);
		advice_add(text, sizeof(text), "; its callers pile up: ");
		advice_edge_text(text, sizeof(text), worst);
		advice_add(text, sizeof(text),
			   ". A breaker on %s makes them fail fast instead of waiting.",
			   c->t->service);
		advice_add(c->out->rationale, sizeof(c->out->rationale), "%s", text);
		return;
	}
	if (suffers || c->t->anomaly) {
		char why[ADVICE_TEXT_MAX] = "";

		advice_moves_text(why, sizeof(why), c->t->service, &c->h);
		advice_add(
			why, sizeof(why),
			". No sick dependency, no surge, no sign of a CPU-bound or stopped service, "
			"no leak: none of restart, scale, rate_limit or circuit_breaker is known to "
			"help, so a person should look.");
		advice_alert(c, ADVICE_RULE_NOTHING_SAFE, why);
		return;
	}
	{
		char why[ADVICE_TEXT_MAX] = "";

		advice_moves_text(why, sizeof(why), c->t->service, &c->h);
		advice_add(why, sizeof(why), " over the span: nothing to act on now.");
		advice_alert(c, ADVICE_RULE_HEALTHY, why);
	}
}

static void advice_confidence(struct advice_ctx *c)
{
	struct advice *a = c->out;

	if (!c->h.sv || c->h.sv->span.requests < ADVICE_THIN_REQUESTS)
		a->confidence -= 0.15; /* few requests: the figures are thin */
	if (c->t->anomaly && a->action_needed)
		a->confidence += 0.05 * (1 + (int)c->t->anomaly->severity) / 3;
	if (a->confidence > 0.95)
		a->confidence = 0.95;
	if (a->confidence < 0.1)
		a->confidence = 0.1;
	a->confidence = round(a->confidence * 100) / 100;
}

void advice_build(const struct evidence *ev, const struct advice_target *t, struct advice *out)
{
	struct advice_ctx c = { .ev = ev, .t = t, .out = out };

	memset(out, 0, sizeof(*out));
	advice_health_of(ev, t->service, &c.h);
	if (t->anomaly && !strcmp(t->anomaly->service, t->service))
		health_apply_anomaly(&c.h, t->anomaly);
	c.idx = evidence_service_index(ev, t->service);
	c.metric = target_metric(&c);
	if (t->anomaly)
		anomaly_text(out->rationale, sizeof(out->rationale), t->anomaly);
	c.head = strlen(out->rationale);
	if (!c.h.observed) {
		char why[ADVICE_TEXT_MAX];

		snprintf(why, sizeof(why),
			 "%s is not watched by an agent (it is only seen as the target of "
			 "calls): prp has no figures of its own and cannot act on it.",
			 t->service);
		advice_alert(&c, ADVICE_RULE_NOTHING_SAFE, why);
	} else {
		advice_rules(&c);
	}
	/* the rules' sentences each start with a space: no space to open, none doubled */
	{
		char *r = out->rationale, *w = out->rationale;

		for (; *r; r++)
			if (*r != ' ' || (w > out->rationale && w[-1] != ' '))
				*w++ = *r;
		*w = '\0';
	}
	advice_confidence(&c);
	out->automation_available = t->executor;
	if (!t->executor)
		advice_add(
			out->automation_note, sizeof(out->automation_note),
			" No executor runs in this aggregator: the action would be recorded, not "
			"run.");
}
