/*
 * Root cause analysis (rca.h): judges every service of the evidence, then
 * ranks them. docs/analysis.md gives the method and the formula; in short,
 * per service:
 *
 *   sick   how far it is from its baseline: its own latency, errors,
 *          traffic and memory growth, its callers' view of it (their calls to it slowed,
 *          failed or could not connect), its anomalies;
 *   own    the part of that no sick dependency explains (a caller's added
 *          latency that is time waiting on a callee, its 5xx that are its
 *          callees' failures or its failed connects, are a victim's);
 *   first  whether its trouble began first (onsets within two steps tie);
 *   depth  where it sits among the sick in the call graph;
 *   kernel evidence from the kernel that points at it (its callers' failed
 *          connects and network errnos, memory-allocation syscalls).
 *
 *   score = 0.55 own + 0.15 kernel + 0.15 first x sick + 0.15 depth x sick
 *
 * Texts (evidence sentences, the reason, the Markdown) are in rca_text.c.
 */
#include "aggregator/analysis/rca.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/rca_internal.h"
#include "common/alloc.h"

const char *rca_role_name(enum rca_role role)
{
	switch (role) {
	case RCA_ROLE_CAUSE:
		return "cause";
	case RCA_ROLE_VICTIM:
		return "victim";
	case RCA_ROLE_UNCLEAR:
		break;
	}
	return "unclear";
}

/* ---- severities of one comparison, in [0, 1] ---- */

/* A latency of @span ms against @base ms: 0 below the floors, 1 at x10 and 4 floors more. */
static double lat_sev(double span, double base, double floor_ms)
{
	double delta = span - base, ratio;

	if (!(span > 0) || delta < floor_ms)
		return 0;
	ratio = span / fmax(base, 0.05);
	if (ratio < RCA_LAT_RATIO_MIN)
		return 0;
	return fmin(fmin(1.0, log10(ratio)), fmin(1.0, delta / (4 * floor_ms)));
}

/* An error rate of @span against @base: 0 below RCA_ERR_FLOOR more, 1 at RCA_ERR_FULL more. */
static double err_sev(double span, double base)
{
	double delta = span - base;

	return delta < RCA_ERR_FLOOR ? 0 : fmin(1.0, delta / RCA_ERR_FULL);
}

static double clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

static double pos(double v)
{
	return v > 0 ? v : 0;
}

/* ---- a service's own view ---- */

static void pick_max(struct rca_pick *best, double sev, const char *what, const char *kind,
		     double span, double base)
{
	if (sev > best->sev) {
		*best = (struct rca_pick){
			.sev = sev, .what = what, .kind = kind, .span = span, .base = base
		};
	}
}

static void judge_latency(struct rca_node *n)
{
	const struct evidence_stats *s = &n->sv->span, *b = &n->sv->baseline;
	const struct {
		const char *what, *kind;
		double span, base, floor_ms;
	} cmp[] = {
		{ "p99", "total", s->p99_ms.total, b->p99_ms.total, RCA_P99_FLOOR_MS },
		{ "p99", "typical", s->p99_ms.typical, b->p99_ms.typical, RCA_P99_FLOOR_MS },
		{ "p99", "peak", s->p99_ms.peak, b->p99_ms.peak, RCA_P99_FLOOR_MS },
		{ "p50", "total", s->p50_ms.total, b->p50_ms.total, RCA_P50_FLOOR_MS },
		{ "p50", "typical", s->p50_ms.typical, b->p50_ms.typical, RCA_P50_FLOOR_MS },
	};

	if (!s->requests || !b->requests)
		return;
	for (size_t i = 0; i < sizeof(cmp) / sizeof(cmp[0]); i++)
		pick_max(&n->lat, lat_sev(cmp[i].span, cmp[i].base, cmp[i].floor_ms), cmp[i].what,
			 cmp[i].kind, cmp[i].span, cmp[i].base);
}

static void judge_errors(struct rca_node *n)
{
	const struct evidence_stats *s = &n->sv->span, *b = &n->sv->baseline;

	if (s->errors < RCA_ERRORS_MIN)
		return;
	/* with no baseline at all, errors are measured against none */
	pick_max(&n->err, err_sev(s->error_rate.total, b->error_rate.total), "5xx", "total",
		 s->error_rate.total, b->error_rate.total);
	if (b->requests) {
		pick_max(&n->err, err_sev(s->error_rate.typical, b->error_rate.typical), "5xx",
			 "typical", s->error_rate.typical, b->error_rate.typical);
		pick_max(&n->err, err_sev(s->error_rate.peak, b->error_rate.peak), "5xx", "peak",
			 s->error_rate.peak, b->error_rate.peak);
	}
}

/* The baseline's requests per step, when enough for an empty step to mean something; else 0. */
static double idle_reference(const struct rca_ctx *c, const struct rca_node *n)
{
	double per_step = n->sv->baseline.request_rate.typical * (double)c->ev->step_ms / 1000.0;

	return per_step >= RCA_IDLE_STEP_MIN ? per_step : 0;
}

/* The longest run of steps with (almost) no request, where the baseline had plenty. */
static void judge_idle(const struct rca_ctx *c, struct rca_node *n)
{
	double ref = idle_reference(c, n);
	size_t run = 0, min_run = c->ev->step_ms >= 10000 ? 2 : 3;

	if (!ref)
		return;
	for (size_t i = 0; i < c->ev->nsteps_data; i++) {
		if ((double)n->sv->steps[i].requests < RCA_IDLE_FRACTION * ref) {
			if (++run > (size_t)n->idle_run) {
				n->idle_run = (int)run;
				n->idle_from = (int)(i + 1 - run);
			}
		} else {
			run = 0;
		}
	}
	if ((size_t)n->idle_run >= min_run)
		n->idle = fmin(
			1.0, 0.5 + 0.5 * n->idle_run /
					     fmax((double)min_run, (double)c->ev->nsteps_data / 4));
}

/*
 * Memory growing: allocation syscalls per request up at least RCA_ALLOC_MIN
 * and 3 times the baseline's. A leak shows there before latency moves (each
 * request maps fresh pages), so it is a symptom of its own.
 */
static void judge_memory(struct rca_node *n)
{
	const struct evidence_stats *s = &n->sv->span, *b = &n->sv->baseline;
	double base = fmax(b->alloc_syscalls_per_request, 0);

	if (!b->requests || s->alloc_syscalls_per_request < RCA_ALLOC_MIN ||
	    s->alloc_syscalls_per_request < 3 * base)
		return;
	n->alloc_up = true;
	n->mem = fmin(1.0, 0.5 + 0.25 * log10(s->alloc_syscalls_per_request / fmax(base, 0.02)));
}

/* ---- its callers' view ---- */

static bool network_errno(int err)
{
	return err == ECONNREFUSED || err == ETIMEDOUT || err == EHOSTUNREACH ||
	       err == ENETUNREACH || err == ECONNRESET || err == ECONNABORTED || err == EPIPE;
}

/* Syscalls whose network errnos are about a peer (a futex's ETIMEDOUT is not). */
static bool socket_syscall(const char *name)
{
	static const char *const names[] = { "connect",	 "accept",     "accept4",  "sendto",
					     "sendmsg",	 "sendmmsg",   "recvfrom", "recvmsg",
					     "recvmmsg", "read",       "write",	   "readv",
					     "writev",	 "getsockopt", "shutdown" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

/* Failures of @sv's syscalls with a network errno beyond the baseline's; the top one in *top. */
static uint64_t network_errnos(const struct evidence_service *sv, const struct evidence_errno **top)
{
	uint64_t sum = 0, best = 0;

	*top = NULL;
	for (size_t i = 0; i < sv->nerrnos; i++) {
		const struct evidence_errno *e = &sv->errnos[i];
		uint64_t d = e->span > e->baseline ? e->span - e->baseline : 0;

		if (!network_errno(e->err) || !socket_syscall(e->syscall) || !d)
			continue;
		sum += d;
		if (d > best) {
			best = d;
			*top = e;
		}
	}
	return sum;
}

/* What the calls of caller @cn over edge @e say of the callee @n. */
static void judge_edge_into(const struct rca_ctx *c, struct rca_node *n, const struct rca_node *cn,
			    size_t ei)
{
	const struct evidence_edge *e = &c->ev->edges[ei];
	const struct evidence_calls *es = &e->span, *eb = &e->baseline;
	const struct evidence_stats *cs = &cn->sv->span, *cb = &cn->sv->baseline;
	double sev, expected = 0, lost_frac = 0;

	if (es->requests && eb->requests) {
		sev = fmax(lat_sev(es->p50_ms, eb->p50_ms, RCA_P50_FLOOR_MS),
			   lat_sev(es->p99_ms, eb->p99_ms, RCA_P99_FLOOR_MS));
		if (sev > n->peer_lat) {
			n->peer_lat = sev;
			n->peer_lat_edge = (int)ei;
		}
	}
	if (es->errors >= RCA_ERRORS_MIN) {
		sev = err_sev((double)es->errors / (double)es->requests,
			      eb->requests ? (double)eb->errors / (double)eb->requests : 0);
		if (sev > n->peer_err) {
			n->peer_err = sev;
			n->peer_err_edge = (int)ei;
		}
	}
	/* calls per caller request as before: how many calls the caller should have made */
	if (eb->requests >= RCA_ERRORS_MIN && cb->requests && cs->requests)
		expected = (double)eb->requests / (double)cb->requests * (double)cs->requests;
	if (expected >= 5 && (double)es->requests < expected)
		lost_frac = 1 - (double)es->requests / expected;
	if (lost_frac > 0) {
		const struct evidence_errno *top;
		double cf = pos((double)cs->tcp.connect_failures -
				(double)cb->tcp.connect_failures * (double)cs->requests /
					(double)cb->requests);
		uint64_t net = network_errnos(cn->sv, &top);
		double un = 0;

		if ((cf >= RCA_ERRORS_MIN || net >= RCA_ERRORS_MIN) && lost_frac >= 0.3)
			un = fmin(1.0, lost_frac / 0.5);
		else if (lost_frac >= 1 - RCA_COLLAPSE)
			un = 0.3; /* the calls stopped, without a failed connect: weak */
		if (un > n->unreach) {
			n->unreach = un;
			n->unreach_edge = (int)ei;
			n->unreach_lost = expected - (double)es->requests;
			n->unreach_expected = expected;
			n->unreach_cf = cf;
			n->unreach_net = net;
			n->unreach_errno = top;
		}
	}
}

static void judge_callers(const struct rca_ctx *c, struct rca_node *n, int idx)
{
	n->peer_lat_edge = n->peer_err_edge = n->unreach_edge = -1;
	for (size_t i = 0; i < c->ev->nedges; i++) {
		const struct evidence_edge *e = &c->ev->edges[i];

		if (e->to_idx != idx || e->from_idx < 0 || e->from_idx == idx)
			continue;
		n->has_callers = true;
		judge_edge_into(c, n, &c->nodes[e->from_idx], i);
	}
	n->peer = fmax(fmax(n->peer_lat, n->peer_err), n->unreach);
}

/* ---- its anomalies ---- */

static double severity_weight(enum store_severity s)
{
	return s == STORE_SEVERITY_CRITICAL ? 1.0 : s == STORE_SEVERITY_WARNING ? 0.7 : 0.4;
}

static void judge_anomalies(const struct rca_ctx *c, struct rca_node *n)
{
	for (size_t i = 0; i < c->ev->nanomalies; i++) {
		const struct evidence_anomaly *a = &c->ev->anomalies[i];
		double w = severity_weight(a->severity);

		if (strcmp(a->service, n->sv->name))
			continue;
		if (n->first_anomaly < 0)
			n->first_anomaly = (int)i; /* oldest first */
		if (!strncmp(a->metric, "latency", 7)) {
			n->an_lat = fmax(n->an_lat, w);
			if (a->peak_value - a->expected_mean > n->an_lat_delta)
				n->an_lat_delta = a->peak_value - a->expected_mean;
		} else if (!strcmp(a->metric, "error_rate")) {
			n->an_err = fmax(n->an_err, w);
		} else if (!strcmp(a->metric, "request_rate")) {
			n->an_traffic = fmax(n->an_traffic, w);
		} else {
			n->an_kernel = fmax(n->an_kernel, w);
		}
	}
}

/* ---- what its dependencies explain ---- */

/* The latency delta of @n's pick, or of its latency anomaly. */
static double own_latency_delta(const struct rca_node *n)
{
	return n->lat.sev > 0 ? n->lat.span - n->lat.base : n->an_lat_delta;
}

static void explain(const struct rca_ctx *c, struct rca_node *n, int idx)
{
	const struct evidence_stats *s = &n->sv->span, *b = &n->sv->baseline;
	double lat_delta = own_latency_delta(n), dep_lat = 0, dep_err = 0, best_lat = 0,
	       best_err = 0, extra;
	bool p50 = n->lat.what && !strcmp(n->lat.what, "p50");

	for (size_t i = 0; i < c->ev->nedges; i++) {
		const struct evidence_edge *e = &c->ev->edges[i];
		const struct rca_node *d;
		double dl = 0, de;

		if (e->from_idx != idx || e->to_idx < 0 || e->to_idx == idx)
			continue;
		d = &c->nodes[e->to_idx];
		n->has_callees = true;
		n->callee_sick = fmax(n->callee_sick, d->sick);
		if (e->span.requests && e->baseline.requests)
			dl = pos(p50 ? e->span.p50_ms - e->baseline.p50_ms
				     : e->span.p99_ms - e->baseline.p99_ms);
		de = pos((double)e->span.errors -
			 (e->baseline.requests
				  ? (double)e->baseline.errors / (double)e->baseline.requests
				  : 0) *
				 (double)e->span.requests);
		if (d->unreach_edge == (int)i && d->unreach >= 0.5)
			de += d->unreach_lost;
		dep_lat += dl;
		dep_err += de;
		if (dl > best_lat) {
			best_lat = dl;
			n->lat_by = e->to_idx;
		}
		if (de > best_err) {
			best_err = de;
			n->err_by = e->to_idx;
		}
	}
	n->dep_lat_ms = dep_lat;
	if (lat_delta > 0)
		n->lat_explained = clamp01(dep_lat / lat_delta);
	/* failed connects of its own are failures of a dependency it could not reach */
	dep_err = fmax(dep_err, pos((double)s->tcp.connect_failures -
				    (b->requests ? (double)b->tcp.connect_failures *
							   (double)s->requests / (double)b->requests
						 : 0)));
	extra = pos((double)s->errors - b->error_rate.total * (double)s->requests);
	n->dep_err = dep_err;
	n->err_extra = extra;
	if (extra > 0)
		n->err_explained = clamp01(dep_err / extra);
}

/* How much of its idleness is its own: reachable by no caller that still had traffic. */
static double idle_own(const struct rca_node *n)
{
	if (n->unreach >= 0.5)
		return 1.0;		   /* callers kept their traffic but could not reach it */
	return n->has_callers ? 0.2 : 0.3; /* its callers, or its clients, stopped calling */
}

static void judge_own(struct rca_node *n)
{
	double lat = fmax(n->lat.sev, n->an_lat), err = fmax(n->err.sev, n->an_err);

	n->sick = fmax(fmax(fmax(lat, err), fmax(n->idle, n->peer)), n->mem);
	n->sick = fmax(n->sick, fmax(n->an_traffic * 0.5, n->an_kernel * 0.5));
	n->own = fmax(lat * (1 - n->lat_explained), err * (1 - n->err_explained));
	n->own = fmax(n->own, fmax(n->idle, n->an_traffic) * idle_own(n));
	/* what its callers see of it is about it, not about its own dependencies */
	n->own = fmax(n->own, fmax(n->unreach, fmax(n->peer_lat * (1 - n->lat_explained),
						    n->peer_err * (1 - n->err_explained))));
	n->own = fmax(n->own, n->an_kernel * 0.5 * (1 - n->callee_sick));
	/* a caller waiting on a sick callee piles up requests, and maps memory for them */
	n->own = fmax(n->own, n->mem * (1 - fmax(n->lat_explained, n->err_explained)));
	n->own = fmin(n->own, n->sick);
}

/* ---- kernel evidence ---- */

static void judge_kernel(const struct rca_ctx *c, struct rca_node *n)
{
	const struct evidence_stats *s = &n->sv->span, *b = &n->sv->baseline;
	double span_s = (double)(c->ev->until_ms - c->ev->since_ms) / 1000.0;
	double base_s = (double)(c->ev->since_ms - c->ev->baseline_since_ms) / 1000.0;

	if (n->unreach >= 0.5 &&
	    (n->unreach_cf >= RCA_ERRORS_MIN || n->unreach_net >= RCA_ERRORS_MIN))
		n->kernel = fmax(n->kernel, 1.0);
	if (n->alloc_up)
		n->kernel = fmax(n->kernel, 0.6);
	if (base_s > 0 && span_s > 0 &&
	    (double)s->tcp.retransmits / span_s >= 1 + 3 * (double)b->tcp.retransmits / base_s) {
		n->retrans_up = true;
		n->kernel = fmax(n->kernel, 0.4);
	}
	n->kernel = fmin(n->kernel, n->sick);
}

/* ---- when it began ---- */

static bool step_bad(const struct rca_ctx *c, const struct rca_node *n, size_t i)
{
	const struct evidence_step *st = &n->sv->steps[i];
	const struct evidence_stats *b = &n->sv->baseline;
	double ref = idle_reference(c, n);

	if (ref && (double)st->requests < RCA_IDLE_FRACTION * ref)
		return true;
	if (!st->requests || !b->requests)
		return false;
	if (lat_sev(st->p99_ms, b->p99_ms.peak, RCA_P99_FLOOR_MS) > 0 ||
	    lat_sev(st->p50_ms, b->p50_ms.peak, RCA_P50_FLOOR_MS) > 0)
		return true;
	return st->errors >= 2 && st->requests >= RCA_ERRORS_MIN &&
	       (double)st->errors / (double)st->requests >= b->error_rate.peak + 0.05;
}

static void judge_onset(const struct rca_ctx *c, struct rca_node *n)
{
	size_t ns = c->ev->nsteps_data;

	n->onset_ms = 0;
	if (n->sick < RCA_SICK_MIN)
		return;
	if (n->sv->observed) {
		/* two bad steps out of three: one odd step is not an onset */
		for (size_t i = 0; i < ns && !n->onset_ms; i++)
			if (step_bad(c, n, i) && ((i + 1 < ns && step_bad(c, n, i + 1)) ||
						  (i + 2 < ns && step_bad(c, n, i + 2))))
				n->onset_ms = c->ev->since_ms + (int64_t)i * c->ev->step_ms;
	}
	if (!n->onset_ms && n->first_anomaly >= 0)
		n->onset_ms = c->ev->anomalies[n->first_anomaly].started_ms;
}

/* A node known only from its callers began when they did. */
static void onset_from_callers(const struct rca_ctx *c, struct rca_node *n, int idx)
{
	for (size_t i = 0; i < c->ev->nedges && n->sick >= RCA_SICK_MIN; i++) {
		const struct evidence_edge *e = &c->ev->edges[i];
		int64_t t;

		if (e->to_idx != idx || e->from_idx < 0)
			continue;
		t = c->nodes[e->from_idx].onset_ms;
		if (t && (!n->onset_ms || t < n->onset_ms))
			n->onset_ms = t;
	}
}

/* ---- the call graph: depth among the sick ---- */

/* reach[i * n + j]: j can be reached from i by calls (i depends on j, at any depth). */
static bool *graph_reach(const struct evidence *ev)
{
	size_t n = ev->nservices;
	bool *r = xcalloc(n * n + 1, sizeof(bool)), grew = true;

	for (size_t i = 0; i < ev->nedges; i++)
		if (ev->edges[i].from_idx >= 0 && ev->edges[i].to_idx >= 0 &&
		    ev->edges[i].from_idx != ev->edges[i].to_idx)
			r[(size_t)ev->edges[i].from_idx * n + (size_t)ev->edges[i].to_idx] = true;
	/* transitive closure; n is at most EVIDENCE_SERVICES_MAX */
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < n; j++)
				for (size_t k = 0; r[i * n + j] && k < n; k++)
					if (r[j * n + k] && !r[i * n + k] && i != k) {
						r[i * n + k] = true;
						grew = true;
					}
	}
	return r;
}

static void judge_depth(struct rca_ctx *c)
{
	size_t n = c->ev->nservices;

	for (size_t i = 0; i < n; i++) {
		struct rca_node *x = &c->nodes[i];
		size_t anc = 0, desc = 0, others = 0;

		x->depth = 0.5;
		if (x->sick < RCA_SICK_MIN)
			continue;
		for (size_t j = 0; j < n; j++) {
			if (j == i || c->nodes[j].sick < RCA_SICK_MIN)
				continue;
			others++;
			anc += c->reach[j * n + i];
			desc += c->reach[i * n + j];
			x->sick_callers += c->reach[j * n + i];
		}
		if (others)
			x->depth = (1.0 + ((double)anc - (double)desc) / (double)others) / 2;
	}
}

/* ---- ranking ---- */

static void judge_first(struct rca_ctx *c)
{
	int64_t first = 0, tol = c->ev->step_ms * 2 > 2000 ? c->ev->step_ms * 2 : 2000;

	for (size_t i = 0; i < c->ev->nservices; i++) {
		const struct rca_node *x = &c->nodes[i];

		if (x->candidate && x->sick >= RCA_SICK_MIN && x->onset_ms &&
		    (!first || x->onset_ms < first))
			first = x->onset_ms;
	}
	c->first_onset_ms = first;
	for (size_t i = 0; i < c->ev->nservices; i++) {
		struct rca_node *x = &c->nodes[i];
		double late_s;

		if (!x->onset_ms || !first) {
			x->first = 0.5; /* unknown */
			continue;
		}
		late_s = (double)(x->onset_ms - first - tol) / 1000.0;
		x->first = late_s <= 0 ? 1.0 : exp(-late_s / RCA_ONSET_TAU_S);
	}
}

static void score(struct rca_node *x)
{
	x->score = clamp01(RCA_W_OWN * x->own + RCA_W_KERNEL * x->kernel +
			   RCA_W_FIRST * x->first * x->sick + RCA_W_DEPTH * x->depth * x->sick);
	if (x->own >= 0.6 * x->sick)
		x->role = RCA_ROLE_CAUSE;
	else if (x->own <= 0.25 * x->sick)
		x->role = RCA_ROLE_VICTIM;
	else
		x->role = RCA_ROLE_UNCLEAR;
}

/* Marks the services that may be the cause: all, or @target and what it depends on. */
static void mark_candidates(struct rca_ctx *c, int target)
{
	size_t n = c->ev->nservices;

	for (size_t i = 0; i < n; i++)
		c->nodes[i].candidate =
			target < 0 || (int)i == target || c->reach[(size_t)target * n + i];
}

static int cmp_node_score(const void *a, const void *b)
{
	const struct rca_node *x = *(const struct rca_node *const *)a;
	const struct rca_node *y = *(const struct rca_node *const *)b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->own != y->own)
		return x->own > y->own ? -1 : 1;
	return strcmp(x->sv->name, y->sv->name);
}

static void judge_all(struct rca_ctx *c)
{
	size_t n = c->ev->nservices;

	for (size_t i = 0; i < n; i++) {
		struct rca_node *x = &c->nodes[i];

		x->sv = &c->ev->services[i];
		x->first_anomaly = x->lat_by = x->err_by = -1;
		judge_latency(x);
		judge_errors(x);
		judge_idle(c, x);
		judge_memory(x);
		judge_anomalies(c, x);
	}
	for (size_t i = 0; i < n; i++)
		judge_callers(c, &c->nodes[i], (int)i);
	/* sick first (explaining uses the callees' sickness), then what explains it */
	for (size_t i = 0; i < n; i++)
		judge_own(&c->nodes[i]);
	for (size_t i = 0; i < n; i++)
		explain(c, &c->nodes[i], (int)i);
	for (size_t i = 0; i < n; i++) {
		judge_own(&c->nodes[i]);
		judge_kernel(c, &c->nodes[i]);
		judge_onset(c, &c->nodes[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (!c->nodes[i].sv->observed)
			onset_from_callers(c, &c->nodes[i], (int)i);
	judge_depth(c);
	judge_first(c);
	for (size_t i = 0; i < n; i++)
		score(&c->nodes[i]);
}

/* The target service's index from @o: 0 with *target -1 for none; -EINVAL when unknown. */
static int find_target(const struct evidence *ev, const struct rca_options *o, int *target,
		       const struct evidence_anomaly **anomaly)
{
	const char *name = o ? o->service : NULL;

	*target = -1;
	*anomaly = NULL;
	if (o && o->anomaly_id) {
		for (size_t i = 0; i < ev->nanomalies && !*anomaly; i++)
			if (ev->anomalies[i].id == o->anomaly_id)
				*anomaly = &ev->anomalies[i];
		/* past the evidence's bound: still the service's trouble, when it is named */
		if (!*anomaly && !name)
			return -EINVAL;
		if (*anomaly)
			name = (*anomaly)->service;
	}
	if (name) {
		*target = evidence_service_index(ev, name);
		if (*target < 0)
			return -EINVAL;
	}
	return 0;
}

int rca_analyse(const struct evidence *ev, const struct rca_options *o, struct rca_result *out)
{
	struct rca_ctx c = { .ev = ev };
	struct rca_node **order;
	size_t k = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = find_target(ev, o, &c.target, &c.target_anomaly);
	if (err) {
		rca_text_nothing(&c, out,
				 "the service or anomaly asked about is not in the evidence");
		return err;
	}
	c.nodes = xcalloc(ev->nservices + 1, sizeof(*c.nodes));
	c.reach = graph_reach(ev);
	mark_candidates(&c, c.target);
	judge_all(&c);
	order = xcalloc(ev->nservices + 1, sizeof(*order));
	for (size_t i = 0; i < ev->nservices; i++)
		if (c.nodes[i].candidate && c.nodes[i].sick >= RCA_SICK_MIN)
			order[k++] = &c.nodes[i];
	qsort(order, k, sizeof(*order), cmp_node_score);
	c.order = order;
	c.norder = k < RCA_SUSPECTS_MAX ? k : RCA_SUSPECTS_MAX;
	rca_text_result(&c, out);
	free(order);
	free(c.reach);
	free(c.nodes);
	return 0;
}

void rca_result_release(struct rca_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nsuspects; i++)
		for (size_t j = 0; j < r->suspects[i].nevidence; j++)
			free(r->suspects[i].evidence[j]);
	free(r->suspects);
	for (size_t i = 0; i < r->nevents; i++)
		free(r->events[i].text);
	free(r->events);
	free(r->reason);
	free(r->markdown);
	memset(r, 0, sizeof(*r));
}
