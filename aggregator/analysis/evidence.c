/*
 * Gathering the evidence (evidence.h): a handful of store reads per service,
 * then plain arithmetic. The order matters only for the bounds: the call
 * graph and the anomalies are read first, because they say which services
 * matter most when there are more than EVIDENCE_SERVICES_MAX of them (the
 * focus, then services with anomalies, then services with calls).
 */
#include "aggregator/analysis/evidence.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/hist.h"

/* Anomalies read to find the oldest of a busy span (kept: EVIDENCE_ANOMALIES_MAX). */
#define EVIDENCE_ANOMALIES_READ 1000
/* Anomalies read that started before the span, open or resolved during it. */
#define EVIDENCE_ANOMALIES_BEFORE 256
/* A step's error rate counts toward typical and peak only with this many requests. */
#define EVIDENCE_ERROR_STEP_MIN 3

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

const char *evidence_errno_name(int err, char *buf, size_t cap)
{
	const char *s = err > 0 ? strerrorname_np(err) : NULL;

	if (err == 0)
		snprintf(buf, cap, "other");
	else if (s)
		snprintf(buf, cap, "%s", s);
	else
		snprintf(buf, cap, "E%d", err);
	return buf;
}

/* ---- levels: total, typical, peak ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts @v and sets typical (median) and peak (second largest); both 0 when @n is 0. */
static void level_of(struct evidence_level *l, double *v, size_t n)
{
	l->typical = l->peak = 0;
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	l->typical = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	l->peak = v[n >= 2 ? n - 2 : 0];
}

/* A range cut in steps: cells[i] sums the windows of [since + i * step, + step). */
struct grid {
	int64_t since_ms, until_ms, step_ms;
	size_t n;
	struct store_step *cells; /* n, zeroed where the store had no window */
};

static void grid_init(struct grid *g, int64_t since_ms, int64_t until_ms, int64_t step_ms)
{
	g->since_ms = since_ms;
	g->until_ms = until_ms;
	g->step_ms = step_ms;
	g->n = (size_t)((until_ms - since_ms + step_ms - 1) / step_ms);
	g->cells = xcalloc(g->n ? g->n : 1, sizeof(*g->cells));
}

static int grid_read(struct grid *g, struct store *st, const char *tenant, const char *service)
{
	struct store_step *v = NULL;
	size_t n = 0;
	int err = store_service_steps(st, tenant, service, g->since_ms, g->until_ms, g->step_ms, &v,
				      &n);

	if (err == -ENOENT) /* out of the store's service list: no data */
		return 0;
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		int64_t k = (v[i].t_ms - g->since_ms) / g->step_ms;

		if (k >= 0 && (size_t)k < g->n)
			g->cells[k] = v[i];
	}
	free(v);
	return 0;
}

/* The length in s of step @i of @g (the last one may be short). */
static double grid_step_s(const struct grid *g, size_t i)
{
	int64_t start = g->since_ms + (int64_t)i * g->step_ms;

	return (double)(min64(g->step_ms, g->until_ms - start)) / 1000.0;
}

/* Typical and peak of the rates, error rates and latencies of @g's steps into @out. */
static void stats_levels(struct evidence_stats *out, const struct grid *g)
{
	double *rate = xcalloc(g->n + 1, sizeof(double)), *err = xcalloc(g->n + 1, sizeof(double));
	double *p50 = xcalloc(g->n + 1, sizeof(double)), *p99 = xcalloc(g->n + 1, sizeof(double));
	size_t nerr = 0, nlat = 0;

	for (size_t i = 0; i < g->n; i++) {
		const struct store_step *c = &g->cells[i];

		rate[i] = (double)c->requests / grid_step_s(g, i);
		if (c->requests >= EVIDENCE_ERROR_STEP_MIN)
			err[nerr++] = (double)c->errors / (double)c->requests;
		if (c->requests) {
			p50[nlat] = c->latency_p50_ms;
			p99[nlat++] = c->latency_p99_ms;
		}
	}
	level_of(&out->request_rate, rate, g->n);
	if (nerr) {
		level_of(&out->error_rate, err, nerr);
	} else { /* too few requests per step to judge a step: the range as a whole */
		out->error_rate.typical = out->error_rate.peak = out->error_rate.total;
	}
	level_of(&out->p50_ms, p50, nlat);
	level_of(&out->p99_ms, p99, nlat);
	free(rate);
	free(err);
	free(p50);
	free(p99);
}

static bool is_alloc_syscall(const char *name)
{
	return !strcmp(name, "mmap") || !strcmp(name, "munmap") || !strcmp(name, "mremap") ||
	       !strcmp(name, "brk");
}

/* The totals of @sum over @range_ms, then the levels of @g. */
static void stats_of(struct evidence_stats *out, const struct store_summary *sum,
		     const struct grid *g)
{
	double range_s = (double)(g->until_ms - g->since_ms) / 1000.0, sys_ms = 0, alloc = 0;

	memset(out, 0, sizeof(*out));
	out->windows = sum->windows;
	out->requests = sum->requests;
	out->errors = sum->errors;
	out->request_rate.total = range_s > 0 ? (double)sum->requests / range_s : 0;
	out->error_rate.total = sum->requests ? (double)sum->errors / (double)sum->requests : 0;
	out->p50_ms.total = (double)hist_quantile(&sum->latency_ns, 0.50) / 1e6;
	out->p99_ms.total = (double)hist_quantile(&sum->latency_ns, 0.99) / 1e6;
	for (size_t i = 0; i < sum->nsyscalls; i++) {
		const struct store_syscall_total *y = &sum->syscalls[i];

		out->syscalls += y->count;
		out->syscall_errors += y->errors;
		sys_ms += hist_mean(&y->latency_ns) / 1e6 * (double)y->count;
		if (is_alloc_syscall(y->name))
			alloc += (double)y->count;
	}
	out->tcp = sum->tcp;
	out->syscall_ms_per_request = sum->requests ? sys_ms / (double)sum->requests : -1;
	out->alloc_syscalls_per_request = sum->requests ? alloc / (double)sum->requests : -1;
	stats_levels(out, g);
}

/* ---- errnos ---- */

/*
 * Adds the failures of @sum by errno into @all (span or baseline counts);
 * best[j] is the largest count of one syscall with all[j]'s errno in the span.
 */
static void errnos_add(const struct store_summary *sum, bool span, struct evidence_errno *all,
		       uint64_t *best, size_t *nall, size_t cap)
{
	for (size_t i = 0; i < sum->nsyscalls; i++) {
		const struct store_syscall_total *y = &sum->syscalls[i];

		for (size_t k = 0; k < y->nerrnos && k < WINDOW_ERRNOS_MAX; k++) {
			uint64_t count = y->errnos[k].count;
			size_t j = 0;

			while (j < *nall && all[j].err != y->errnos[k].err)
				j++;
			if (j == *nall) {
				if (*nall == cap)
					continue;
				memset(&all[j], 0, sizeof(all[j]));
				all[j].err = y->errnos[k].err;
				evidence_errno_name(all[j].err, all[j].name, sizeof(all[j].name));
				snprintf(all[j].syscall, sizeof(all[j].syscall), "%s", y->name);
				best[j] = 0;
				(*nall)++;
			}
			if (span && count > best[j]) {
				best[j] = count;
				snprintf(all[j].syscall, sizeof(all[j].syscall), "%s", y->name);
			}
			if (span)
				all[j].span += count;
			else
				all[j].baseline += count;
		}
	}
}

static int cmp_errno(const void *a, const void *b)
{
	const struct evidence_errno *x = a, *y = b;

	if (x->span != y->span)
		return x->span > y->span ? -1 : 1;
	if (x->baseline != y->baseline)
		return x->baseline > y->baseline ? -1 : 1;
	return x->err - y->err;
}

static void errnos_of(struct evidence_service *sv, const struct store_summary *span,
		      const struct store_summary *base)
{
	/* every errno of both ranges, then the most frequent kept */
	enum { CAP = 256 };
	struct evidence_errno *all = xcalloc(CAP, sizeof(*all));
	uint64_t *best = xcalloc(CAP, sizeof(*best));
	size_t n = 0;

	errnos_add(span, true, all, best, &n, CAP);
	errnos_add(base, false, all, best, &n, CAP);
	qsort(all, n, sizeof(*all), cmp_errno);
	sv->nerrnos = n < EVIDENCE_ERRNOS_MAX ? n : EVIDENCE_ERRNOS_MAX;
	memcpy(sv->errnos, all, sv->nerrnos * sizeof(*all));
	free(all);
	free(best);
}

/* ---- one service ---- */

static int service_read(struct store *st, struct evidence *ev, struct evidence_service *sv)
{
	struct store_summary span, base;
	struct grid gs, gb;
	int err;

	grid_init(&gs, ev->since_ms, ev->until_ms, ev->step_ms);
	grid_init(&gb, ev->baseline_since_ms, ev->since_ms, ev->step_ms);
	err = store_service_summary(st, ev->tenant, sv->name, ev->since_ms, ev->until_ms, &span);
	if (!err)
		err = store_service_summary(st, ev->tenant, sv->name, ev->baseline_since_ms,
					    ev->since_ms, &base);
	else
		memset(&base, 0, sizeof(base));
	if (err == -ENOENT) { /* no longer in the store's list: nothing to read */
		store_summary_release(&span);
		store_summary_release(&base);
		err = 0;
	} else if (!err) {
		err = grid_read(&gs, st, ev->tenant, sv->name);
		if (!err)
			err = grid_read(&gb, st, ev->tenant, sv->name);
	}
	if (!err) {
		stats_of(&sv->span, &span, &gs);
		stats_of(&sv->baseline, &base, &gb);
		errnos_of(sv, &span, &base);
		sv->last_active_step = -1;
		for (size_t i = 0; i < gs.n && i < EVIDENCE_STEPS_MAX; i++) {
			const struct store_step *c = &gs.cells[i];

			sv->steps[i] = (struct evidence_step){ .windows = c->windows,
							       .requests = c->requests,
							       .errors = c->errors,
							       .p50_ms = c->latency_p50_ms,
							       .p99_ms = c->latency_p99_ms,
							       .connect_failures =
								       c->tcp.connect_failures };
			if (c->requests)
				sv->last_active_step = (int)i;
			if (c->windows && i + 1 > ev->nsteps_data)
				ev->nsteps_data = i + 1;
		}
	}
	store_summary_release(&span);
	store_summary_release(&base);
	free(gs.cells);
	free(gb.cells);
	return err;
}

/* ---- the call graph ---- */

static int cmp_edge(const void *a, const void *b)
{
	const struct evidence_edge *x = a, *y = b;
	int c = strcmp(x->from, y->from);

	return c ? c : strcmp(x->to, y->to);
}

static void calls_of(struct evidence_calls *c, const struct store_edge *e)
{
	c->requests = e->requests;
	c->errors = e->errors;
	c->p50_ms = (double)hist_quantile(&e->latency_ns, 0.50) / 1e6;
	c->p99_ms = (double)hist_quantile(&e->latency_ns, 0.99) / 1e6;
}

/* Adds the edges of one range into @ev->edges (merged by from and to; unbounded here). */
static void edges_add(struct evidence *ev, const struct store_edge *v, size_t n, bool span)
{
	for (size_t i = 0; i < n; i++) {
		struct evidence_edge *e = NULL;

		for (size_t j = 0; j < ev->nedges && !e; j++)
			if (!strcmp(ev->edges[j].from, v[i].from) &&
			    !strcmp(ev->edges[j].to, v[i].to))
				e = &ev->edges[j];
		if (!e) {
			ev->edges = xreallocarray(ev->edges, ev->nedges + 1, sizeof(*ev->edges));
			e = &ev->edges[ev->nedges++];
			memset(e, 0, sizeof(*e));
			snprintf(e->from, sizeof(e->from), "%s", v[i].from);
			snprintf(e->to, sizeof(e->to), "%s", v[i].to);
			e->from_idx = e->to_idx = -1;
		}
		calls_of(span ? &e->span : &e->baseline, &v[i]);
	}
}

static int edges_read(struct store *st, struct evidence *ev)
{
	struct store_edge *v = NULL;
	size_t n = 0;
	int err = store_topology(st, ev->tenant, ev->since_ms, ev->until_ms, &v, &n);

	if (err)
		return err;
	edges_add(ev, v, n, true);
	store_topology_free(v, n);
	err = store_topology(st, ev->tenant, ev->baseline_since_ms, ev->since_ms, &v, &n);
	if (err)
		return err;
	edges_add(ev, v, n, false);
	store_topology_free(v, n);
	return 0;
}

/* ---- anomalies and actions ---- */

void evidence_anomaly_from(struct evidence_anomaly *d, const struct store_anomaly *a, bool before)
{
	memset(d, 0, sizeof(*d));
	d->id = a->id;
	snprintf(d->service, sizeof(d->service), "%s", a->service);
	snprintf(d->metric, sizeof(d->metric), "%s", a->metric);
	d->severity = a->severity;
	d->open = a->open;
	d->score = a->score;
	d->confidence = a->confidence;
	d->current_value = a->current_value;
	d->peak_value = a->peak_value;
	d->expected_mean = a->expected_mean;
	d->expected_min = a->expected_min;
	d->expected_max = a->expected_max;
	d->started_ms = a->started_ms;
	d->resolved_ms = a->open ? 0 : a->resolved_ms;
	d->before_span = before;
}

static int cmp_anomaly(const void *a, const void *b)
{
	const struct evidence_anomaly *x = a, *y = b;

	if (x->started_ms != y->started_ms)
		return x->started_ms < y->started_ms ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Appends the anomalies of @f (those lasting into the span when @before) to @out. */
static int anomalies_read_one(struct store *st, const struct evidence *ev,
			      const struct store_anomaly_filter *f, bool before,
			      struct evidence_anomaly **out, size_t *n, bool *more)
{
	struct store_anomaly *v = NULL;
	size_t nv = 0;
	int err = store_anomalies_list(st, f, &v, &nv, more);

	if (err)
		return err;
	*out = xreallocarray(*out, *n + nv + 1, sizeof(**out));
	for (size_t i = 0; i < nv; i++) {
		if (before && !v[i].open && v[i].resolved_ms < ev->since_ms)
			continue;
		evidence_anomaly_from(&(*out)[(*n)++], &v[i], before);
	}
	store_anomalies_free(v, nv);
	return 0;
}

/* Every anomaly started in the span, or before it and open during it; oldest first, unbounded. */
static int anomalies_read(struct store *st, const struct evidence *ev,
			  struct evidence_anomaly **out, size_t *n, bool *more)
{
	struct store_anomaly_filter f = { .tenant = ev->tenant,
					  .status = -1,
					  .since_ms = ev->since_ms,
					  .until_ms = ev->until_ms,
					  .limit = EVIDENCE_ANOMALIES_READ };
	bool more2 = false;
	int err;

	*out = NULL;
	*n = 0;
	*more = false;
	err = anomalies_read_one(st, ev, &f, false, out, n, more);
	/* started before: all of the open ones, and the resolved ones that lasted into the span */
	f.since_ms = ev->since_ms - EVIDENCE_ANOMALY_LOOKBACK_MS;
	f.until_ms = ev->since_ms;
	f.limit = EVIDENCE_ANOMALIES_BEFORE;
	f.status = 1;
	if (!err)
		err = anomalies_read_one(st, ev, &f, true, out, n, &more2);
	*more |= more2;
	f.status = 0;
	if (!err)
		err = anomalies_read_one(st, ev, &f, true, out, n, &more2);
	*more |= more2;
	if (!err && *n > 1)
		qsort(*out, *n, sizeof(**out), cmp_anomaly);
	return err;
}

static int actions_read(struct store *st, struct evidence *ev)
{
	struct store_action_filter f = { .tenant = ev->tenant,
					 .status = -1,
					 .since_ms = ev->since_ms,
					 .until_ms = ev->until_ms,
					 .limit = EVIDENCE_ACTIONS_MAX * 4 };
	struct store_action *v = NULL;
	size_t nv = 0;
	int err = store_actions_list(st, &f, &v, &nv, &ev->actions_truncated);

	if (err)
		return err;
	ev->actions = xcalloc(EVIDENCE_ACTIONS_MAX, sizeof(*ev->actions));
	/* newest first from the store: walk back so the result is oldest first */
	for (size_t i = nv; i-- > 0;) {
		struct evidence_action *a;

		if (ev->focus[0] && evidence_service_index(ev, v[i].service) < 0)
			continue;
		if (ev->nactions == EVIDENCE_ACTIONS_MAX) {
			ev->actions_truncated = true;
			break;
		}
		a = &ev->actions[ev->nactions++];
		a->id = v[i].id;
		snprintf(a->service, sizeof(a->service), "%s", v[i].service);
		snprintf(a->type, sizeof(a->type), "%s", v[i].type);
		snprintf(a->policy_name, sizeof(a->policy_name), "%s", v[i].policy_name);
		a->status = v[i].status;
		a->created_ms = v[i].created_ms;
		a->completed_ms = v[i].completed_ms;
		snprintf(a->reason, sizeof(a->reason), "%s", v[i].reason ? v[i].reason : "");
	}
	store_actions_free(v, nv);
	return 0;
}

/* ---- which services ---- */

struct candidate {
	char name[SERVICE_NAME_MAX];
	bool observed;
	int64_t first_seen_ms, last_seen_ms;
	int rank; /* higher first when there are too many */
	bool keep;
};

static struct candidate *candidate_find(struct candidate *c, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c[i].name, name))
			return &c[i];
	return NULL;
}

static struct candidate *candidate_add(struct candidate **c, size_t *n, const char *name)
{
	struct candidate *x = candidate_find(*c, *n, name);

	if (x)
		return x;
	*c = xreallocarray(*c, *n + 1, sizeof(**c));
	x = &(*c)[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->keep = true;
	return x;
}

/* Keeps only the candidates connected to @focus through the edges (either way). */
static void candidates_component(struct candidate *c, size_t n, const struct evidence *ev,
				 const char *focus)
{
	bool grew = true;

	for (size_t i = 0; i < n; i++)
		c[i].keep = !strcmp(c[i].name, focus);
	while (grew) {
		grew = false;
		for (size_t i = 0; i < ev->nedges; i++) {
			struct candidate *a = candidate_find(c, n, ev->edges[i].from);
			struct candidate *b = candidate_find(c, n, ev->edges[i].to);

			if (a && b && a->keep != b->keep) {
				a->keep = b->keep = true;
				grew = true;
			}
		}
	}
}

static int cmp_candidate_rank(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	if (x->keep != y->keep)
		return x->keep ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * The services of the span and the baseline (observed ones seen then, and
 * both ends of every edge), narrowed to the focus's component, at most
 * EVIDENCE_SERVICES_MAX; fills ev->services (names only) sorted by name.
 */
static int services_pick(struct store *st, struct evidence *ev, const struct evidence_anomaly *an,
			 size_t nan)
{
	struct store_service *svc = NULL;
	struct candidate *c = NULL;
	size_t nsvc = 0, n = 0, nkeep = 0;
	int err = store_services(st, ev->tenant, &svc, &nsvc);

	if (err)
		return err;
	for (size_t i = 0; i < nsvc; i++) {
		bool in_range = svc[i].last_seen_ms >= ev->baseline_since_ms &&
				svc[i].first_seen_ms < ev->until_ms;

		if (in_range || (ev->focus[0] && !strcmp(svc[i].name, ev->focus))) {
			struct candidate *x = candidate_add(&c, &n, svc[i].name);

			x->observed = true;
			x->first_seen_ms = svc[i].first_seen_ms;
			x->last_seen_ms = svc[i].last_seen_ms;
		}
	}
	store_services_free(svc, nsvc);
	for (size_t i = 0; i < ev->nedges; i++) {
		candidate_add(&c, &n, ev->edges[i].from)->rank |= 1;
		candidate_add(&c, &n, ev->edges[i].to)->rank |= 1;
	}
	for (size_t i = 0; i < nan; i++) {
		struct candidate *x = candidate_find(c, n, an[i].service);

		if (x)
			x->rank |= 2;
	}
	if (ev->focus[0]) {
		struct candidate *x = candidate_find(c, n, ev->focus);

		if (!x) {
			free(c);
			return -ENOENT;
		}
		x->rank |= 4;
		candidates_component(c, n, ev, ev->focus);
	}
	if (n > 1)
		qsort(c, n, sizeof(*c), cmp_candidate_rank);
	for (size_t i = 0; i < n; i++)
		nkeep += c[i].keep;
	if (nkeep > EVIDENCE_SERVICES_MAX) {
		ev->services_truncated = true;
		nkeep = EVIDENCE_SERVICES_MAX;
	}
	ev->services = xcalloc(nkeep ? nkeep : 1, sizeof(*ev->services));
	for (size_t i = 0; i < nkeep; i++) {
		struct evidence_service *sv = &ev->services[ev->nservices++];

		snprintf(sv->name, sizeof(sv->name), "%s", c[i].name);
		sv->observed = c[i].observed;
		sv->first_seen_ms = c[i].first_seen_ms;
		sv->last_seen_ms = c[i].last_seen_ms;
		sv->last_active_step = -1;
	}
	free(c);
	return 0;
}

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const struct evidence_service *)a)->name,
		      ((const struct evidence_service *)b)->name);
}

static int cmp_edge_span_requests(const void *a, const void *b)
{
	const struct evidence_edge *x = a, *y = b;

	if (x->span.requests != y->span.requests)
		return x->span.requests > y->span.requests ? -1 : 1;
	if (x->baseline.requests != y->baseline.requests)
		return x->baseline.requests > y->baseline.requests ? -1 : 1;
	return cmp_edge(a, b);
}

/* Drops the edges whose ends were both left out, bounds them, and indexes their ends. */
static void edges_finish(struct evidence *ev)
{
	size_t k = 0;

	for (size_t i = 0; i < ev->nedges; i++) {
		struct evidence_edge *e = &ev->edges[i];

		e->from_idx = evidence_service_index(ev, e->from);
		e->to_idx = evidence_service_index(ev, e->to);
		if (e->from_idx >= 0 || e->to_idx >= 0)
			ev->edges[k++] = *e;
	}
	ev->nedges = k;
	if (ev->nedges > EVIDENCE_EDGES_MAX) {
		qsort(ev->edges, ev->nedges, sizeof(*ev->edges), cmp_edge_span_requests);
		ev->nedges = EVIDENCE_EDGES_MAX;
		ev->edges_truncated = true;
	}
	if (ev->nedges > 1)
		qsort(ev->edges, ev->nedges, sizeof(*ev->edges), cmp_edge);
}

/* Keeps the anomalies of the services kept, the oldest EVIDENCE_ANOMALIES_MAX. */
static void anomalies_finish(struct evidence *ev, struct evidence_anomaly *an, size_t nan,
			     bool more)
{
	ev->anomalies = xcalloc(EVIDENCE_ANOMALIES_MAX, sizeof(*ev->anomalies));
	ev->anomalies_truncated = more;
	for (size_t i = 0; i < nan; i++) {
		if (evidence_service_index(ev, an[i].service) < 0)
			continue;
		if (ev->nanomalies == EVIDENCE_ANOMALIES_MAX) {
			ev->anomalies_truncated = true;
			break;
		}
		ev->anomalies[ev->nanomalies++] = an[i];
	}
}

/* ---- the whole ---- */

/* The span's step: the span in at most EVIDENCE_STEPS_MAX steps of whole seconds. */
static int64_t step_of(int64_t span_ms)
{
	int64_t per = (span_ms + EVIDENCE_STEPS_MAX - 1) / EVIDENCE_STEPS_MAX;

	per = (per + EVIDENCE_STEP_MIN_MS - 1) / EVIDENCE_STEP_MIN_MS * EVIDENCE_STEP_MIN_MS;
	return max64(per, EVIDENCE_STEP_MIN_MS);
}

static int evidence_setup(const struct evidence_query *q, struct evidence *ev)
{
	int64_t span, base;

	if (!q->tenant || !q->tenant[0] || strlen(q->tenant) >= sizeof(ev->tenant) ||
	    q->since_ms >= q->until_ms || q->since_ms < 0 ||
	    (q->service && (!q->service[0] || strlen(q->service) >= sizeof(ev->focus))))
		return -EINVAL;
	span = q->until_ms - q->since_ms;
	base = min64(max64(span, EVIDENCE_BASELINE_MIN_MS), EVIDENCE_BASELINE_MAX_MS);
	snprintf(ev->tenant, sizeof(ev->tenant), "%s", q->tenant);
	snprintf(ev->focus, sizeof(ev->focus), "%s", q->service ? q->service : "");
	ev->since_ms = q->since_ms;
	ev->until_ms = q->until_ms;
	ev->step_ms = step_of(span);
	ev->nsteps = (size_t)((span + ev->step_ms - 1) / ev->step_ms);
	/* the baseline holds whole steps, so its steps are as long as the span's */
	base = max64(base / ev->step_ms, 1) * ev->step_ms;
	ev->baseline_since_ms = max64(q->since_ms - base, 0);
	return 0;
}

int evidence_gather(struct store *st, const struct evidence_query *q, struct evidence *out)
{
	struct evidence_anomaly *an = NULL;
	size_t nan = 0;
	bool more = false;
	int err;

	memset(out, 0, sizeof(*out));
	err = evidence_setup(q, out);
	if (!err)
		err = edges_read(st, out);
	if (!err)
		err = anomalies_read(st, out, &an, &nan, &more);
	if (!err)
		err = services_pick(st, out, an, nan);
	if (!err && out->nservices > 1)
		qsort(out->services, out->nservices, sizeof(*out->services), cmp_service);
	for (size_t i = 0; !err && i < out->nservices; i++)
		if (out->services[i].observed)
			err = service_read(st, out, &out->services[i]);
	if (!err) {
		edges_finish(out);
		anomalies_finish(out, an, nan, more);
		err = actions_read(st, out);
	}
	free(an);
	return err;
}

void evidence_release(struct evidence *ev)
{
	if (!ev)
		return;
	free(ev->services);
	free(ev->edges);
	free(ev->anomalies);
	free(ev->actions);
	memset(ev, 0, sizeof(*ev));
}

int evidence_service_index(const struct evidence *ev, const char *name)
{
	size_t lo = 0, hi = ev->nservices;

	/* services are sorted by name once picked */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, ev->services[mid].name);

		if (!c)
			return (int)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

const struct evidence_service *evidence_service_find(const struct evidence *ev, const char *name)
{
	int i = evidence_service_index(ev, name);

	return i < 0 ? NULL : &ev->services[i];
}
