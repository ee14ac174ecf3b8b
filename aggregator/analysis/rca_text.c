/*
 * The words of a root cause analysis: each suspect's evidence as plain
 * sentences with their numbers, the reason, the timeline of anomalies and
 * actions, and the Markdown account. Everything said is read from the
 * judgement of rca.c; nothing here changes a score.
 */
#include "aggregator/analysis/rca_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/timeutil.h"

#define RCA_SENTENCE_MAX 400
#define RCA_MARKDOWN_MAX (32 * 1024)
/* Lines of the Markdown's lists. */
#define RCA_MD_SUSPECTS 5
#define RCA_MD_EVENTS	12
/* Sentences gathered for one suspect before the best RCA_EVIDENCE_MAX are kept. */
#define RCA_CANDIDATE_SENTENCES 24

/* ---- numbers as words ---- */

static const char *ms_text(double ms, char *buf, size_t cap)
{
	if (ms >= 100)
		snprintf(buf, cap, "%.0f ms", ms);
	else if (ms >= 1)
		snprintf(buf, cap, "%.1f ms", ms);
	else
		snprintf(buf, cap, "%.2f ms", ms);
	return buf;
}

static const char *pct_text(double ratio, char *buf, size_t cap)
{
	double p = ratio * 100;

	snprintf(buf, cap, p >= 10 || p == 0 ? "%.0f%%" : "%.1f%%", p);
	return buf;
}

/* "14:03:05" (UTC) */
static const char *clock_text(int64_t ms, char *buf, size_t cap)
{
	char iso[TIME_ISO_LEN];

	time_format_iso(ms > 0 ? (uint64_t)ms * NSEC_PER_MSEC : 0, iso);
	snprintf(buf, cap, "%.8s", iso + 11);
	return buf;
}

static const char *kind_text(const char *kind, const struct evidence *ev, char *buf, size_t cap)
{
	if (!strcmp(kind, "total"))
		snprintf(buf, cap, "over the span");
	else if (ev->step_ms == 1000)
		snprintf(buf, cap, "in a %s second", !strcmp(kind, "peak") ? "peak" : "typical");
	else
		snprintf(buf, cap, "in a %s %lld s step",
			 !strcmp(kind, "peak") ? "peak" : "typical",
			 (long long)(ev->step_ms / 1000));
	return buf;
}

static const char *value_text(const char *metric, double v, char *buf, size_t cap)
{
	if (!strncmp(metric, "latency", 7))
		return ms_text(v, buf, cap);
	if (strstr(metric, "error_rate"))
		return pct_text(v, buf, cap);
	snprintf(buf, cap, "%.3g%s", v, strstr(metric, "rate") ? "/s" : "");
	return buf;
}

/* "orders'" or "users'", "db's": a name as an owner. */
static const char *poss(const char *name, char *buf, size_t cap)
{
	size_t n = strlen(name);

	snprintf(buf, cap, n && name[n - 1] == 's' ? "%s'" : "%s's", name);
	return buf;
}

static const char *severity_text(enum store_severity s)
{
	return s == STORE_SEVERITY_CRITICAL  ? "critical"
	       : s == STORE_SEVERITY_WARNING ? "warning"
					     : "info";
}

/* ---- sentences ---- */

struct sentences {
	struct {
		double weight;
		char *text;
	} v[RCA_CANDIDATE_SENTENCES];
	size_t n;
};

static void say(struct sentences *s, double weight, const char *fmt, ...) PRP_PRINTF(3, 4);

static void say(struct sentences *s, double weight, const char *fmt, ...)
{
	char text[RCA_SENTENCE_MAX];
	va_list ap;

	if (s->n == RCA_CANDIDATE_SENTENCES)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	s->v[s->n].weight = weight;
	s->v[s->n++].text = xstrdup(text);
}

static int cmp_sentence(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x < y) - (x > y);
}

static const char *name_of(const struct rca_ctx *c, int idx)
{
	return idx >= 0 ? c->ev->services[idx].name : "?";
}

/* Its own latency and errors. */
static void say_symptoms(const struct rca_ctx *c, const struct rca_node *x, struct sentences *s)
{
	const struct evidence_stats *sp = &x->sv->span, *b = &x->sv->baseline;
	char a[32], bb[32], k[48];

	if (x->lat.sev >= 0.1)
		say(s, x->lat.sev, "%s latency %s %s vs %s before (x%.0f)", x->lat.what,
		    ms_text(x->lat.span, a, sizeof(a)), kind_text(x->lat.kind, c->ev, k, sizeof(k)),
		    ms_text(x->lat.base, bb, sizeof(bb)), x->lat.span / fmax(x->lat.base, 0.05));
	if (x->err.sev >= 0.1)
		say(s, x->err.sev,
		    "5xx errors: %s %s vs %s before (%llu of its %llu requests over the span)",
		    pct_text(x->err.span, a, sizeof(a)),
		    kind_text(x->err.kind, c->ev, k, sizeof(k)),
		    pct_text(x->err.base, bb, sizeof(bb)), (unsigned long long)sp->errors,
		    (unsigned long long)sp->requests);
	if (x->idle >= 0.1)
		say(s, x->idle, "no requests answered for %lld s from %s (%.1f requests/s before)",
		    (long long)(x->idle_run * c->ev->step_ms / 1000),
		    clock_text(c->ev->since_ms + x->idle_from * c->ev->step_ms, a, sizeof(a)),
		    b->request_rate.typical);
}

/* What its callers' calls to it show. */
static void say_callers(const struct rca_ctx *c, const struct rca_node *x, struct sentences *s)
{
	char a[32], bb[32], who[SERVICE_NAME_MAX + 2];

	if (x->unreach >= 0.3) {
		const struct evidence_edge *e = &c->ev->edges[x->unreach_edge];

		if (x->unreach_errno)
			say(s, fmax(x->unreach, 0.9),
			    "%s calls to it fell to %llu from the ~%.0f its traffic predicts, while "
			    "%s failed to connect %.0f times and its syscalls failed with %s x%llu "
			    "(%s)",
			    poss(e->from, who, sizeof(who)), (unsigned long long)e->span.requests,
			    x->unreach_expected, e->from, x->unreach_cf, x->unreach_errno->name,
			    (unsigned long long)(x->unreach_errno->span -
						 x->unreach_errno->baseline),
			    x->unreach_errno->syscall);
		else if (x->unreach_cf >= RCA_ERRORS_MIN)
			say(s, fmax(x->unreach, 0.9),
			    "%s calls to it fell to %llu from the ~%.0f its traffic predicts, while "
			    "%s failed to connect %.0f times more than before: unreachable",
			    poss(e->from, who, sizeof(who)), (unsigned long long)e->span.requests,
			    x->unreach_expected, e->from, x->unreach_cf);
		else
			say(s, x->unreach,
			    "%s calls to it fell to %llu from the ~%.0f its traffic predicts",
			    poss(e->from, who, sizeof(who)), (unsigned long long)e->span.requests,
			    x->unreach_expected);
	}
	if (x->peer_lat >= 0.1) {
		const struct evidence_edge *e = &c->ev->edges[x->peer_lat_edge];

		say(s, x->peer_lat * 0.9, "%s calls to it: p50 %s, p99 %s (before: %s, %s)",
		    poss(e->from, who, sizeof(who)), ms_text(e->span.p50_ms, a, sizeof(a)),
		    ms_text(e->span.p99_ms, bb, sizeof(bb)),
		    ms_text(e->baseline.p50_ms, (char[32]){ 0 }, 32),
		    ms_text(e->baseline.p99_ms, (char[32]){ 0 }, 32));
	}
	if (x->peer_err >= 0.1) {
		const struct evidence_edge *e = &c->ev->edges[x->peer_err_edge];

		say(s, x->peer_err * 0.9,
		    "%s calls to it: %llu of %llu answered 5xx (%s; before: %llu of %llu)",
		    poss(e->from, who, sizeof(who)), (unsigned long long)e->span.errors,
		    (unsigned long long)e->span.requests,
		    pct_text((double)e->span.errors / (double)e->span.requests, a, sizeof(a)),
		    (unsigned long long)e->baseline.errors,
		    (unsigned long long)e->baseline.requests);
	}
}

/* Whether its dependencies explain its trouble (a victim) or look healthy (a cause). */
static void say_dependencies(const struct rca_ctx *c, const struct rca_node *x, struct sentences *s)
{
	char a[32], who[SERVICE_NAME_MAX + 2];

	if (x->lat_explained >= 0.5 && x->lat_by >= 0 && fmax(x->lat.sev, x->an_lat) > 0)
		say(s, 0.95,
		    "its latency is time waiting on %s: its calls to its dependencies slowed by "
		    "%s, %.0f%% of its own %s rise",
		    name_of(c, x->lat_by), ms_text(x->dep_lat_ms, a, sizeof(a)),
		    100 * x->lat_explained, x->lat.what ? x->lat.what : "latency");
	if (x->err_explained >= 0.5 && x->err_by >= 0 && x->err_extra > 0)
		say(s, 0.95,
		    "its 5xx follow %s failures: %.0f of its %.0f extra errors are calls to its "
		    "dependencies that failed or could not connect",
		    poss(name_of(c, x->err_by), who, sizeof(who)), fmin(x->dep_err, x->err_extra),
		    x->err_extra);
	if (x->has_callees && x->callee_sick < RCA_SICK_MIN && x->own >= RCA_SICK_MIN) {
		char list[3 * SERVICE_NAME_MAX + 8];
		size_t n = 0, len = 0;

		list[0] = '\0';
		for (size_t i = 0; i < c->ev->nedges && n < 3; i++) {
			const struct evidence_edge *e = &c->ev->edges[i];

			if (e->from_idx != (int)(x - c->nodes) || e->to_idx < 0)
				continue;
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						n++ ? ", " : "", e->to);
			if (len >= sizeof(list))
				break;
		}
		say(s, 0.5, "the services it calls look healthy (%s): the trouble is its own",
		    list);
	} else if (!x->has_callees && x->sv->observed && x->own >= RCA_SICK_MIN) {
		say(s, 0.3, "it calls no other watched service: the trouble is its own");
	}
	if (x->sick_callers && x->role != RCA_ROLE_VICTIM)
		say(s, 0.45, "%zu other sick service%s depend%s on it", x->sick_callers,
		    x->sick_callers > 1 ? "s" : "", x->sick_callers > 1 ? "" : "s");
}

/* What the kernel shows of it beyond its requests. */
static void say_kernel(const struct rca_ctx *c, const struct rca_node *x, struct sentences *s)
{
	const struct evidence_stats *sp = &x->sv->span, *b = &x->sv->baseline;
	double span_s = (double)(c->ev->until_ms - c->ev->since_ms) / 1000.0;
	char a[32], bb[32];

	if (x->alloc_up)
		say(s, fmax(x->mem * 0.95, 0.7),
		    "memory-allocation syscalls (mmap, brk, ...): %.2f per request vs %.2f before: its "
		    "memory is growing",
		    sp->alloc_syscalls_per_request, fmax(b->alloc_syscalls_per_request, 0));
	if (x->retrans_up)
		say(s, 0.5, "TCP retransmits: %llu (%.1f/s) vs %llu before",
		    (unsigned long long)sp->tcp.retransmits, (double)sp->tcp.retransmits / span_s,
		    (unsigned long long)b->tcp.retransmits);
	/* the waiting-or-working question, only for latency that is its own */
	if (x->sv->observed && x->lat.sev >= 0.3 && x->lat_explained < 0.5 &&
	    sp->syscall_ms_per_request >= 0 && b->syscall_ms_per_request >= 0) {
		double rise = x->lat.span - x->lat.base;
		double sys = sp->syscall_ms_per_request - b->syscall_ms_per_request;

		if (sys >= 0.3 * rise)
			say(s, 0.4,
			    "its time in syscalls per request rose from %s to %s: it waits in the "
			    "kernel (I/O, locks, sleeps)",
			    ms_text(b->syscall_ms_per_request, a, sizeof(a)),
			    ms_text(sp->syscall_ms_per_request, bb, sizeof(bb)));
		else
			say(s, 0.35,
			    "its syscalls account for %s per request (%s before), not the %s added: "
			    "CPU-bound work, or waits too long for the sampled syscall timing",
			    ms_text(sp->syscall_ms_per_request, a, sizeof(a)),
			    ms_text(b->syscall_ms_per_request, bb, sizeof(bb)),
			    ms_text(rise, (char[32]){ 0 }, 32));
	}
}

/* Its anomalies and when its trouble began. */
static void say_timing(const struct rca_ctx *c, const struct rca_node *x, struct sentences *s)
{
	char a[32], v[32], e[32];

	if (x->first_anomaly >= 0) {
		const struct evidence_anomaly *an = &c->ev->anomalies[x->first_anomaly];

		say(s, 0.6, "anomaly %lld (%s, %s) from %s: %s against ~%s expected",
		    (long long)an->id, an->metric, severity_text(an->severity),
		    clock_text(an->started_ms, a, sizeof(a)),
		    value_text(an->metric, an->peak_value, v, sizeof(v)),
		    value_text(an->metric, an->expected_mean, e, sizeof(e)));
	}
	if (x->onset_ms && c->first_onset_ms) {
		if (x->first >= 1)
			say(s, 0.55, "its trouble began at %s, the first of the span's",
			    clock_text(x->onset_ms, a, sizeof(a)));
		else
			say(s, 0.3, "its trouble began at %s, %.0f s after the first",
			    clock_text(x->onset_ms, a, sizeof(a)),
			    (double)(x->onset_ms - c->first_onset_ms) / 1000.0);
	}
}

/* The best RCA_EVIDENCE_MAX sentences of @x into @out (which takes them). */
static void suspect_of(const struct rca_ctx *c, const struct rca_node *x, struct rca_suspect *out)
{
	struct sentences s = { .n = 0 };

	memset(out, 0, sizeof(*out));
	snprintf(out->service, sizeof(out->service), "%s", x->sv->name);
	out->score = x->score;
	out->role = x->role;
	out->sick = x->sick;
	out->own = x->own;
	out->first = x->first;
	out->depth = x->depth;
	out->kernel = x->kernel;
	out->onset_ms = x->onset_ms;
	say_symptoms(c, x, &s);
	say_callers(c, x, &s);
	say_dependencies(c, x, &s);
	say_kernel(c, x, &s);
	say_timing(c, x, &s);
	/* weight first, then the order said (qsort is not stable: a weight tie keeps it by index)
	 */
	for (size_t i = 0; i < s.n; i++)
		s.v[i].weight -= (double)i * 1e-6;
	qsort(s.v, s.n, sizeof(s.v[0]), cmp_sentence);
	for (size_t i = 0; i < s.n; i++) {
		if (out->nevidence < RCA_EVIDENCE_MAX)
			out->evidence[out->nevidence++] = s.v[i].text;
		else
			free(s.v[i].text);
	}
}

/* ---- the timeline ---- */

static void event_add(struct rca_result *out, int64_t t_ms, const char *service, char *text)
{
	struct rca_event *e;

	if (out->nevents == RCA_EVENTS_MAX) {
		free(text);
		return;
	}
	e = &out->events[out->nevents++];
	e->t_ms = t_ms;
	snprintf(e->service, sizeof(e->service), "%s", service);
	e->text = text;
}

static int cmp_event(const void *a, const void *b)
{
	const struct rca_event *x = a, *y = b;

	return (x->t_ms > y->t_ms) - (x->t_ms < y->t_ms);
}

static const char *action_status_text(enum store_action_status s)
{
	const char *n = store_action_status_name(s);

	return n ? n : "unknown";
}

static void events_of(const struct evidence *ev, struct rca_result *out)
{
	char v[32], e[32];

	out->events = xcalloc(RCA_EVENTS_MAX, sizeof(*out->events));
	for (size_t i = 0; i < ev->nanomalies; i++) {
		const struct evidence_anomaly *a = &ev->anomalies[i];

		event_add(out, a->started_ms, a->service,
			  xasprintf("anomaly %lld opened: %s %s on %s (peak %s, expected ~%s)",
				    (long long)a->id, a->metric, severity_text(a->severity),
				    a->service, value_text(a->metric, a->peak_value, v, sizeof(v)),
				    value_text(a->metric, a->expected_mean, e, sizeof(e))));
		if (a->resolved_ms && a->resolved_ms < ev->until_ms)
			event_add(out, a->resolved_ms, a->service,
				  xasprintf("anomaly %lld resolved: %s on %s", (long long)a->id,
					    a->metric, a->service));
	}
	for (size_t i = 0; i < ev->nactions; i++) {
		const struct evidence_action *a = &ev->actions[i];

		event_add(out, a->created_ms, a->service,
			  xasprintf("action %lld: %s on %s%s%s (%s)", (long long)a->id, a->type,
				    a->service, a->policy_name[0] ? " by policy " : " (manual)",
				    a->policy_name, action_status_text(a->status)));
	}
	qsort(out->events, out->nevents, sizeof(*out->events), cmp_event);
}

/* ---- Markdown ---- */

static void md(struct buf *b, const char *fmt, ...) PRP_PRINTF(2, 3);

static void md(struct buf *b, const char *fmt, ...)
{
	char text[2 * RCA_SENTENCE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (buf_append_str(b, text)) {
		/* past the cap the account is cut, never wrong */
	}
}

static void md_span(struct buf *b, const struct evidence *ev)
{
	char a[16], z[16], bs[16];

	md(b, "Span %s to %s UTC, compared with %s to %s.\n",
	   clock_text(ev->since_ms, a, sizeof(a)), clock_text(ev->until_ms, z, sizeof(z)),
	   clock_text(ev->baseline_since_ms, bs, sizeof(bs)), a);
}

static void md_suspects(struct buf *b, const struct rca_result *r)
{
	if (!r->nsuspects)
		return;
	md(b, "\n**Suspects**\n");
	for (size_t i = 0; i < r->nsuspects && i < RCA_MD_SUSPECTS; i++) {
		const struct rca_suspect *s = &r->suspects[i];

		md(b, "%zu. **%s** (score %.2f, %s)", i + 1, s->service, s->score,
		   rca_role_name(s->role));
		for (size_t j = 0; j < s->nevidence && j < 3; j++)
			md(b, "%s%s", j ? "; " : ": ", s->evidence[j]);
		md(b, "\n");
	}
}

static void md_events(struct buf *b, const struct rca_result *r)
{
	char t[16];

	if (!r->nevents)
		return;
	md(b, "\n**Timeline**\n");
	for (size_t i = 0; i < r->nevents && i < RCA_MD_EVENTS; i++)
		md(b, "- %s %s\n", clock_text(r->events[i].t_ms, t, sizeof(t)), r->events[i].text);
	if (r->nevents > RCA_MD_EVENTS)
		md(b, "- ... and %zu more\n", r->nevents - RCA_MD_EVENTS);
}

static char *markdown_of(const struct rca_ctx *c, const struct rca_result *r)
{
	struct buf b;

	buf_init(&b, RCA_MARKDOWN_MAX);
	if (r->found)
		md(&b, "### Root cause: %s (confidence %.2f)\n\n%s\n\n", r->cause, r->confidence,
		   r->reason);
	else
		md(&b, "### No root cause found\n\n%s\n\n", r->reason);
	md_span(&b, c->ev);
	md_suspects(&b, r);
	md_events(&b, r);
	if (c->ev->nservices)
		md(&b, "\n*How*: a service whose trouble a sick dependency explains (its added "
		       "latency is time waiting on a callee; its errors are a callee's failures or "
		       "connects that failed) is a victim. The others are ranked by their own "
		       "deviation from the baseline, by which began first, by how deep they sit in "
		       "the call graph among the sick, and by kernel evidence.\n");
	return (char *)buf_detach(&b, NULL);
}

/* ---- the result ---- */

static double confidence_of(const struct rca_ctx *c)
{
	double s1 = c->order[0]->score, s2 = c->norder > 1 ? c->order[1]->score : 0;

	double v = s1 * (0.5 + 0.5 * (s1 - s2) / s1);

	return v < 0 ? 0 : v > 1 ? 1 : v;
}

void rca_text_nothing(const struct rca_ctx *c, struct rca_result *out, const char *why)
{
	out->found = false;
	out->confidence = 0;
	out->reason = xstrdup(why);
	events_of(c->ev, out);
	out->markdown = markdown_of(c, out);
}

/* Why nothing is named when no suspect stands out. */
static void nothing_why(const struct rca_ctx *c, char *buf, size_t cap)
{
	const struct evidence *ev = c->ev;
	char a[16], z[16];

	if (!ev->nservices) {
		snprintf(buf, cap, "Nothing to analyse: no agent has reported any service%s yet.",
			 ev->focus[0] ? " connected to it" : "");
		return;
	}
	clock_text(ev->since_ms, a, sizeof(a));
	clock_text(ev->until_ms, z, sizeof(z));
	if (c->target >= 0)
		snprintf(buf, cap,
			 "%s and the services it depends on did not deviate from their baseline "
			 "between %s and %s UTC.",
			 ev->services[c->target].name, a, z);
	else
		snprintf(
			buf, cap,
			"None of the %zu services deviated from its baseline between %s and %s UTC%s.",
			ev->nservices, a, z, ev->nanomalies ? "" : ", and no anomaly was open");
}

void rca_text_result(const struct rca_ctx *c, struct rca_result *out)
{
	char why[RCA_SENTENCE_MAX];

	out->suspects = xcalloc(c->norder + 1, sizeof(*out->suspects));
	for (size_t i = 0; i < c->norder; i++)
		suspect_of(c, c->order[i], &out->suspects[out->nsuspects++]);
	if (!c->norder || c->order[0]->score < RCA_CAUSE_MIN) {
		nothing_why(c, why, sizeof(why));
		rca_text_nothing(c, out, why);
		return;
	}
	out->found = true;
	snprintf(out->cause, sizeof(out->cause), "%s", c->order[0]->sv->name);
	out->confidence = confidence_of(c);
	{
		const struct rca_suspect *s = &out->suspects[0];

		out->reason =
			xasprintf("%s%s%s%s%s", s->service, s->nevidence ? ": " : "",
				  s->nevidence ? s->evidence[0] : "", s->nevidence > 1 ? "; " : "",
				  s->nevidence > 1 ? s->evidence[1] : "");
	}
	events_of(c->ev, out);
	out->markdown = markdown_of(c, out);
}
