/*
 * Queries: services, a service's exact summary and its series, and the call
 * graph. A range [since, until) is read in two disjoint parts split at the
 * tenant's raw floor F (store_internal.h): raw rows with end_ms in
 * [max(since, F), until), and minute rows whose minute starts in
 * [since, min(until, F)). Raw rows are exact to the window; before F the
 * resolution is the minute (a minute counts when it starts in the range).
 * No window is ever in both parts.
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

/* Points store_service_series() returns at most. */
#define STORE_SERIES_POINTS_MAX 100000
#define STORE_SERIES_STEP_MIN_MS 1000

struct range {
	int64_t raw_since, raw_until;	    /* raw rows: end_ms in [raw_since, raw_until) */
	int64_t minute_since, minute_until; /* minute rows: minute_ms in [...) */
};

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Splits [since, until) at the tenant's raw floor. */
static int range_split(struct store *s, const char *tenant, int64_t since_ms, int64_t until_ms,
		       struct range *r)
{
	struct store_tenant t;
	int err = store_tenant_load(s, tenant, &t);

	if (err == -ENOENT)
		t.raw_floor_ms = 0;
	else if (err)
		return err;
	r->raw_since = max64(since_ms, t.raw_floor_ms);
	r->raw_until = until_ms;
	r->minute_since = since_ms;
	r->minute_until = min64(until_ms, t.raw_floor_ms);
	return 0;
}

static int service_check(struct store *s, const char *tenant, const char *service)
{
	sqlite3_stmt *st;
	int rc;

	if (!store_name_ok(tenant, FRAME_ID_MAX) || !store_name_ok(service, SERVICE_NAME_MAX))
		return -EINVAL;
	st = store_stmt(s, STMT_SERVICE_EXISTS);
	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, service, SERVICE_NAME_MAX);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : store_db_error(s, "cannot look up a service");
}

/*
 * Runs @id over [since, until) of one service and hands every row to @fn
 * (columns: t, then those of store_agg_add_row() from 1).
 */
typedef int store_row_fn(sqlite3_stmt *st, void *arg);

static int each_row(struct store *s, enum store_stmt_id id, const char *tenant,
		    const char *service, int64_t since_ms, int64_t until_ms, store_row_fn *fn,
		    void *arg)
{
	sqlite3_stmt *st;
	int rc, err = 0;

	if (since_ms >= until_ms)
		return 0;
	st = store_stmt(s, id);
	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, service, SERVICE_NAME_MAX);
	sqlite3_bind_int64(st, 3, since_ms);
	sqlite3_bind_int64(st, 4, until_ms);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if (fn(st, arg)) {
			log_error("store: a stored window of '%s' is corrupt db=%s", service,
				  s->path);
			err = -EIO;
		}
	if (!err && rc != SQLITE_DONE)
		err = store_db_error(s, "cannot read windows");
	sqlite3_reset(st);
	return err;
}

/* ---- services ---- */

static int64_t service_last_raw(struct store *s, const char *tenant, const char *service)
{
	sqlite3_stmt *st = store_stmt(s, STMT_SERVICE_LAST);
	int64_t v = 0;

	if (!st)
		return 0;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, service, SERVICE_NAME_MAX);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

void store_services_free(struct store_service *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		for (size_t j = 0; j < v[i].nhosts; j++)
			free(v[i].hosts[j]);
		free(v[i].hosts);
	}
	free(v);
}

int store_services(struct store *s, const char *tenant, struct store_service **out, size_t *n)
{
	struct store_service *v = NULL, *e = NULL;
	size_t len = 0;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if (!store_name_ok(tenant, FRAME_ID_MAX))
		return -EINVAL;
	st = store_stmt(s, STMT_SERVICES);
	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *host = (const char *)sqlite3_column_text(st, 1);
		int64_t first = sqlite3_column_int64(st, 2), last = sqlite3_column_int64(st, 3);

		if (!name || !host)
			continue;
		if (!e || strcmp(e->name, name)) {
			v = xreallocarray(v, len + 1, sizeof(*v));
			e = &v[len++];
			memset(e, 0, sizeof(*e));
			snprintf(e->name, sizeof(e->name), "%s", name);
			e->first_seen_ms = first;
			e->last_seen_ms = last;
		}
		e->hosts = xreallocarray(e->hosts, e->nhosts + 1, sizeof(*e->hosts));
		e->hosts[e->nhosts++] = xstrdup(host);
		e->first_seen_ms = min64(e->first_seen_ms, first);
		e->last_seen_ms = max64(e->last_seen_ms, last);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_services_free(v, len);
		return store_db_error(s, "cannot list services");
	}
	/* service_hosts lags up to STORE_SEEN_SLACK_MS behind: the raw index knows better */
	for (size_t i = 0; i < len; i++)
		v[i].last_seen_ms = max64(v[i].last_seen_ms, service_last_raw(s, tenant, v[i].name));
	*out = v;
	*n = len;
	return 0;
}

/* ---- summary ---- */

static int add_summary_row(sqlite3_stmt *st, void *arg)
{
	return store_agg_add_row(arg, st, 1, STORE_ROW_LATENCY | STORE_ROW_SYSCALLS);
}

static int add_summary_raw_row(sqlite3_stmt *st, void *arg)
{
	return store_agg_add_row(arg, st, 1,
				 STORE_ROW_LATENCY | STORE_ROW_SYSCALLS | STORE_ROW_RAW);
}

static int cmp_syscall(const void *a, const void *b)
{
	return strcmp(((const struct store_syscall_total *)a)->name,
		      ((const struct store_syscall_total *)b)->name);
}

/* Moves the sums of @a into @out; @a keeps nothing to release but its arrays. */
static void summary_from_agg(struct store_summary *out, struct store_agg *a)
{
	out->requests = a->requests;
	out->errors = a->errors;
	out->windows = a->windows;
	out->tcp = a->tcp;
	out->latency_ns = a->latency_ns;
	hist_init(&a->latency_ns);
	out->nsyscalls = a->nsys;
	out->syscalls = a->nsys ? xcalloc(a->nsys, sizeof(*out->syscalls)) : NULL;
	for (size_t i = 0; i < a->nsys; i++) {
		struct store_syscall_total *t = &out->syscalls[i];
		struct store_agg_syscall *y = &a->sys[i];

		snprintf(t->name, sizeof(t->name), "%s", y->name);
		t->count = y->count;
		t->errors = y->errors;
		memcpy(t->errnos, y->errnos, sizeof(t->errnos));
		t->nerrnos = y->nerrnos;
		t->latency_ns = y->latency_ns;
		hist_init(&y->latency_ns);
	}
	if (out->nsyscalls > 1)
		qsort(out->syscalls, out->nsyscalls, sizeof(*out->syscalls), cmp_syscall);
}

void store_summary_release(struct store_summary *sum)
{
	if (!sum)
		return;
	hist_release(&sum->latency_ns);
	for (size_t i = 0; i < sum->nsyscalls; i++)
		hist_release(&sum->syscalls[i].latency_ns);
	free(sum->syscalls);
	memset(sum, 0, sizeof(*sum));
	hist_init(&sum->latency_ns);
}

int store_service_summary(struct store *s, const char *tenant, const char *service,
			  int64_t since_ms, int64_t until_ms, struct store_summary *out)
{
	struct store_agg a;
	struct range r;
	int err;

	memset(out, 0, sizeof(*out));
	hist_init(&out->latency_ns);
	if (since_ms > until_ms)
		return -EINVAL;
	err = service_check(s, tenant, service);
	if (err)
		return err;
	err = range_split(s, tenant, since_ms, until_ms, &r);
	if (err)
		return err;
	store_agg_init(&a);
	err = each_row(s, STMT_SUM_MINUTE, tenant, service, r.minute_since, r.minute_until,
		       add_summary_row, &a);
	if (!err)
		err = each_row(s, STMT_SUM_RAW, tenant, service, r.raw_since, r.raw_until,
			       add_summary_raw_row, &a);
	if (!err)
		summary_from_agg(out, &a);
	store_agg_release(&a);
	return err;
}

/* ---- series ---- */

enum metric {
	M_REQUESTS,
	M_ERRORS,
	M_REQUEST_RATE,
	M_ERROR_RATE,
	M_P50,
	M_P90,
	M_P95,
	M_P99,
	M_MAX,
	M_SYSCALLS,
	M_SYSCALL_ERRORS,
	M_SYSCALL_ERROR_RATE,
	M_RETRANSMITS,
	M_RESETS,
	M_CONNECT_FAILURES,
};

static const struct {
	const char *name;
	enum metric m;
	double q; /* the quantile of latency metrics */
} metrics[] = {
	{ "requests", M_REQUESTS, 0 },
	{ "errors", M_ERRORS, 0 },
	{ "request_rate", M_REQUEST_RATE, 0 },
	{ "error_rate", M_ERROR_RATE, 0 },
	{ "latency_p50", M_P50, 0.50 },
	{ "latency_p90", M_P90, 0.90 },
	{ "latency_p95", M_P95, 0.95 },
	{ "latency_p99", M_P99, 0.99 },
	{ "latency_max", M_MAX, 1.0 },
	{ "syscalls", M_SYSCALLS, 0 },
	{ "syscall_errors", M_SYSCALL_ERRORS, 0 },
	{ "syscall_error_rate", M_SYSCALL_ERROR_RATE, 0 },
	{ "tcp_retransmits", M_RETRANSMITS, 0 },
	{ "tcp_resets", M_RESETS, 0 },
	{ "tcp_connect_failures", M_CONNECT_FAILURES, 0 },
};

struct series {
	int metric; /* index in metrics[]; -1 for store_service_steps(): every figure */
	unsigned raw; /* STORE_ROW_RAW while reading raw rows */
	int64_t since_ms, until_ms, step_ms;
	int64_t cur_t; /* start of the step being summed; INT64_MIN before the first */
	struct store_agg cur;
	struct store_point *v; /* one metric */
	struct store_step *sv; /* or every figure (metric -1) */
	size_t n, alloc;
};

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static double series_value(const struct series *x)
{
	const struct store_agg *a = &x->cur;
	double len_s = (double)min64(x->step_ms, x->until_ms - x->cur_t) / 1000.0;

	switch (metrics[x->metric].m) {
	case M_REQUESTS:
		return (double)a->requests;
	case M_ERRORS:
		return (double)a->errors;
	case M_REQUEST_RATE:
		return (double)a->requests / len_s;
	case M_ERROR_RATE:
		return ratio(a->errors, a->requests);
	case M_P50:
	case M_P90:
	case M_P95:
	case M_P99:
	case M_MAX:
		return (double)hist_quantile(&a->latency_ns, metrics[x->metric].q) / 1e6;
	case M_SYSCALLS:
		return (double)a->syscalls;
	case M_SYSCALL_ERRORS:
		return (double)a->syscall_errors;
	case M_SYSCALL_ERROR_RATE:
		return ratio(a->syscall_errors, a->syscalls);
	case M_RETRANSMITS:
		return (double)a->tcp.retransmits;
	case M_RESETS:
		return (double)a->tcp.resets;
	case M_CONNECT_FAILURES:
		return (double)a->tcp.connect_failures;
	}
	return 0;
}

static void series_emit_step(struct series *x)
{
	const struct store_agg *a = &x->cur;
	struct store_step *p;

	if (x->n == x->alloc) {
		x->alloc = x->alloc ? x->alloc * 2 : 64;
		x->sv = xreallocarray(x->sv, x->alloc, sizeof(*x->sv));
	}
	p = &x->sv[x->n++];
	p->t_ms = x->cur_t;
	p->windows = a->windows;
	p->requests = a->requests;
	p->errors = a->errors;
	p->syscalls = a->syscalls;
	p->syscall_errors = a->syscall_errors;
	p->tcp = a->tcp;
	p->latency_p50_ms = (double)hist_quantile(&a->latency_ns, 0.50) / 1e6;
	p->latency_p99_ms = (double)hist_quantile(&a->latency_ns, 0.99) / 1e6;
}

static void series_emit(struct series *x)
{
	if (x->cur_t == INT64_MIN)
		return;
	if (x->metric < 0) {
		series_emit_step(x);
	} else {
		if (x->n == x->alloc) {
			x->alloc = x->alloc ? x->alloc * 2 : 64;
			x->v = xreallocarray(x->v, x->alloc, sizeof(*x->v));
		}
		x->v[x->n].t_ms = x->cur_t;
		x->v[x->n++].v = series_value(x);
	}
	store_agg_reset(&x->cur);
	x->cur_t = INT64_MIN;
}

static int add_series_row(sqlite3_stmt *st, void *arg)
{
	struct series *x = arg;
	int64_t t = sqlite3_column_int64(st, 0);
	int64_t step_t = x->since_ms + (t - x->since_ms) / x->step_ms * x->step_ms;

	if (step_t != x->cur_t) {
		series_emit(x);
		x->cur_t = step_t;
	}
	return store_agg_add_row(&x->cur, st, 1,
				 x->metric < 0 || metrics[x->metric].q > 0
					 ? STORE_ROW_LATENCY | x->raw
					 : 0);
}

/* Reads the rows of [since, until) into @x (set up by the caller) in steps. */
static int series_read(struct store *s, const char *tenant, const char *service,
		       struct series *x)
{
	struct range r;
	int err = service_check(s, tenant, service);

	if (err)
		return err;
	err = range_split(s, tenant, x->since_ms, x->until_ms, &r);
	if (err)
		return err;
	store_agg_init(&x->cur);
	/* the minute part is all before the raw part: the steps come out in order */
	err = each_row(s, STMT_SERIES_MINUTE, tenant, service, r.minute_since, r.minute_until,
		       add_series_row, x);
	x->raw = STORE_ROW_RAW;
	if (!err)
		err = each_row(s, STMT_SERIES_RAW, tenant, service, r.raw_since, r.raw_until,
			       add_series_row, x);
	if (!err)
		series_emit(x);
	store_agg_release(&x->cur);
	return err;
}

/* The checks of store_service_series() on a range and a step. */
static int series_range_ok(int64_t since_ms, int64_t until_ms, int64_t step_ms)
{
	if (step_ms < STORE_SERIES_STEP_MIN_MS || since_ms > until_ms ||
	    since_ms < -STORE_TIME_MAX || until_ms > STORE_TIME_MAX)
		return -EINVAL;
	if ((until_ms - since_ms) / step_ms + ((until_ms - since_ms) % step_ms != 0) >
	    STORE_SERIES_POINTS_MAX)
		return -E2BIG;
	return 0;
}

int store_service_series(struct store *s, const char *tenant, const char *service,
			 const char *metric, int64_t since_ms, int64_t until_ms, int64_t step_ms,
			 struct store_point **out, size_t *n)
{
	struct series x = { .metric = -1, .cur_t = INT64_MIN };
	int err;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; metric && i < PRP_ARRAY_SIZE(metrics); i++)
		if (!strcmp(metrics[i].name, metric))
			x.metric = (int)i;
	if (x.metric < 0)
		return -EINVAL;
	err = series_range_ok(since_ms, until_ms, step_ms);
	if (err)
		return err;
	x.since_ms = since_ms;
	x.until_ms = until_ms;
	x.step_ms = step_ms;
	err = series_read(s, tenant, service, &x);
	if (err) {
		free(x.v);
		return err;
	}
	*out = x.v;
	*n = x.n;
	return 0;
}

int store_service_steps(struct store *s, const char *tenant, const char *service,
			int64_t since_ms, int64_t until_ms, int64_t step_ms, struct store_step **out,
			size_t *n)
{
	struct series x = { .metric = -1, .cur_t = INT64_MIN };
	int err;

	*out = NULL;
	*n = 0;
	err = series_range_ok(since_ms, until_ms, step_ms);
	if (err)
		return err;
	x.since_ms = since_ms;
	x.until_ms = until_ms;
	x.step_ms = step_ms;
	err = series_read(s, tenant, service, &x);
	if (err) {
		free(x.sv);
		return err;
	}
	*out = x.sv;
	*n = x.n;
	return 0;
}

/* ---- topology ---- */

void store_topology_free(struct store_edge *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		hist_release(&v[i].latency_ns);
	free(v);
}

int store_topology(struct store *s, const char *tenant, int64_t since_ms, int64_t until_ms,
		   struct store_edge **out, size_t *n)
{
	struct store_edge *v = NULL, *e = NULL;
	struct hist scratch;
	struct range r;
	sqlite3_stmt *st;
	size_t len = 0;
	int rc, err;

	*out = NULL;
	*n = 0;
	if (!store_name_ok(tenant, FRAME_ID_MAX) || since_ms > until_ms)
		return -EINVAL;
	err = range_split(s, tenant, since_ms, until_ms, &r);
	if (err)
		return err;
	st = store_stmt(s, STMT_TOPOLOGY);
	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	sqlite3_bind_int64(st, 2, r.raw_since);
	sqlite3_bind_int64(st, 3, r.raw_until);
	sqlite3_bind_int64(st, 4, r.minute_since);
	sqlite3_bind_int64(st, 5, r.minute_until);
	hist_init(&scratch);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *src = (const char *)sqlite3_column_text(st, 0);
		const char *dst = (const char *)sqlite3_column_text(st, 1);

		if (!src || !dst)
			continue;
		/* rows come sorted by (src, dst): an edge is a run of rows */
		if (!e || strncmp(e->from, src, sizeof(e->from) - 1) ||
		    strncmp(e->to, dst, sizeof(e->to) - 1)) {
			v = xreallocarray(v, len + 1, sizeof(*v));
			e = &v[len++];
			memset(e, 0, sizeof(*e));
			snprintf(e->from, sizeof(e->from), "%s", src);
			snprintf(e->to, sizeof(e->to), "%s", dst);
			hist_init(&e->latency_ns);
		}
		e->requests += (uint64_t)sqlite3_column_int64(st, 2);
		e->errors += (uint64_t)sqlite3_column_int64(st, 3);
		if (store_blob_add_hist(&e->latency_ns, &scratch, sqlite3_column_blob(st, 4),
					(size_t)sqlite3_column_bytes(st, 4))) {
			log_error("store: a stored call row is corrupt db=%s", s->path);
			err = -EIO;
		}
	}
	if (!err && rc != SQLITE_DONE)
		err = store_db_error(s, "cannot read calls");
	sqlite3_reset(st);
	hist_release(&scratch);
	if (err) {
		store_topology_free(v, len);
		return err;
	}
	*out = v;
	*n = len;
	return 0;
}
