/*
 * Maintenance: the minute rollup and retention, in bounded steps.
 *
 * Rollup. Each tenant has a cursor per raw table, (end_ms, rowid) of the
 * last row rolled up (store_internal.h). A step reads the next rows after
 * the cursor, of whole minutes before now, sums them per minute row in
 * memory, merges the sums into the minute rows and moves the cursor, in one
 * transaction: a crash leaves either all of it or none, so every raw row is
 * rolled exactly once. When no row is left before the limit, the cursor
 * moves to (limit, 0): everything before the limit is rolled.
 *
 * Retention. The raw floor F of a tenant rises to the raw retention cut, but
 * never past the minute of either cursor; queries read raw rows from F on,
 * minute rows before it, and raw rows below F are deleted a batch at a time.
 * Minute rows go after `minute_days`.
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

/* Rows read, written or deleted per store_maintain() call, all steps together. */
#define STORE_MAINTAIN_ROWS 4096
/* service_hosts is swept at most this often (a full scan of a small table) */
#define STORE_SEEN_GC_MS (3600 * 1000LL)

/* ---- merging into minute rows ---- */

static int corrupt(struct store *s, const char *what)
{
	log_error("store: a stored %s is corrupt db=%s", what, s->path);
	return -EIO;
}

int store_minute_merge(struct store *s, const char *tenant, const char *service,
		       int64_t minute_ms, const struct store_agg *add)
{
	struct store_agg cur;
	sqlite3_stmt *st = store_stmt(s, STMT_MINUTE_GET);
	int rc, err = 0;

	if (!st)
		return -EIO;
	store_agg_init(&cur);
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, service, SERVICE_NAME_MAX);
	sqlite3_bind_int64(st, 3, minute_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW &&
	    store_agg_add_row(&cur, st, 0, STORE_ROW_LATENCY | STORE_ROW_SYSCALLS | STORE_ROW_ROUTES))
		err = corrupt(s, "minute row");
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = store_db_error(s, "cannot read a minute row");
	sqlite3_reset(st);
	if (err)
		goto out;
	store_agg_merge(&cur, add);
	buf_reset(&s->latency);
	buf_reset(&s->syscalls);
	buf_reset(&s->routes);
	if (store_hist_put(&cur.latency_ns, &s->latency) ||
	    store_blob_agg_syscalls(&cur, &s->syscalls) || store_blob_agg_routes(&cur, &s->routes)) {
		err = corrupt(s, "minute row (too large)");
		goto out;
	}
	st = store_stmt(s, STMT_MINUTE_PUT);
	if (!st) {
		err = -EIO;
		goto out;
	}
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, service, SERVICE_NAME_MAX);
	sqlite3_bind_int64(st, 3, minute_ms);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)cur.windows);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)cur.requests);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)cur.errors);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)cur.syscalls);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)cur.syscall_errors);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)cur.tcp.retransmits);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)cur.tcp.resets);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)cur.tcp.connect_failures);
	sqlite3_bind_blob(st, 12, s->latency.data, (int)s->latency.len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 13, s->syscalls.data, (int)s->syscalls.len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 14, s->routes.data, (int)s->routes.len, SQLITE_STATIC);
	err = store_step_done(s, st, "cannot write a minute row");
out:
	store_agg_release(&cur);
	return err;
}

int store_minute_call_merge(struct store *s, const char *tenant, const char *src, const char *dst,
			    int64_t minute_ms, uint64_t count, uint64_t errors,
			    const struct hist *latency_ns)
{
	sqlite3_stmt *st = store_stmt(s, STMT_MCALL_GET);
	struct hist h, scratch;
	int rc, err = 0;

	if (!st)
		return -EIO;
	hist_init(&h);
	hist_init(&scratch);
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	sqlite3_bind_int64(st, 2, minute_ms);
	store_bind_name(st, 3, src, SERVICE_NAME_MAX);
	store_bind_name(st, 4, dst, SERVICE_NAME_MAX);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		count += (uint64_t)sqlite3_column_int64(st, 0);
		errors += (uint64_t)sqlite3_column_int64(st, 1);
		if (store_blob_add_hist(&h, &scratch, sqlite3_column_blob(st, 2),
					(size_t)sqlite3_column_bytes(st, 2)))
			err = corrupt(s, "minute call row");
	} else if (rc != SQLITE_DONE) {
		err = store_db_error(s, "cannot read a minute call row");
	}
	sqlite3_reset(st);
	if (err)
		goto out;
	hist_merge(&h, latency_ns);
	buf_reset(&s->latency);
	if (store_hist_put(&h, &s->latency)) {
		err = -EIO;
		goto out;
	}
	st = store_stmt(s, STMT_MCALL_PUT);
	if (!st) {
		err = -EIO;
		goto out;
	}
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, src, SERVICE_NAME_MAX);
	store_bind_name(st, 3, dst, SERVICE_NAME_MAX);
	sqlite3_bind_int64(st, 4, minute_ms);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)count);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)errors);
	sqlite3_bind_blob(st, 7, s->latency.data, (int)s->latency.len, SQLITE_STATIC);
	err = store_step_done(s, st, "cannot write a minute call row");
out:
	hist_release(&h);
	hist_release(&scratch);
	return err;
}

/* ---- rollup ---- */

struct roll_win {
	char service[SERVICE_NAME_MAX];
	int64_t minute_ms;
	struct store_agg agg;
};

struct roll_call {
	char src[SERVICE_NAME_MAX];
	char dst[SERVICE_NAME_MAX];
	int64_t minute_ms;
	uint64_t count, errors;
	struct hist latency_ns;
};

static void column_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	size_t n = v ? strnlen(v, cap - 1) : 0;

	if (n)
		memcpy(dst, v, n);
	dst[n] = '\0';
}

static struct roll_win *roll_win_get(struct roll_win **v, size_t *n, const char *service,
				     int64_t minute_ms)
{
	struct roll_win *r;

	for (size_t i = *n; i-- > 0;)
		if ((*v)[i].minute_ms == minute_ms && !strcmp((*v)[i].service, service))
			return &(*v)[i];
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	r = &(*v)[(*n)++];
	snprintf(r->service, sizeof(r->service), "%s", service);
	r->minute_ms = minute_ms;
	store_agg_init(&r->agg);
	return r;
}

static int cursor_set(struct store *s, enum store_stmt_id id, const char *tenant, int64_t end_ms,
		      int64_t rowid)
{
	sqlite3_stmt *st = store_stmt(s, id);

	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	sqlite3_bind_int64(st, 2, end_ms);
	sqlite3_bind_int64(st, 3, rowid);
	return store_step_done(s, st, "cannot move the rollup cursor");
}

/* Rolls up to @budget raw windows of @t before @limit_ms; *used is how many. */
static int roll_windows(struct store *s, struct store_tenant *t, int64_t limit_ms, int budget,
			int *used)
{
	sqlite3_stmt *st = store_stmt(s, STMT_ROLL_WINDOWS);
	struct roll_win *v = NULL, *r;
	int64_t end_ms = t->win_end_ms, rowid = t->win_rowid;
	size_t n = 0;
	int rc, err = 0;

	*used = 0;
	if (!st)
		return -EIO;
	store_bind_name(st, 1, t->tenant, FRAME_ID_MAX);
	sqlite3_bind_int64(st, 2, t->win_end_ms);
	sqlite3_bind_int64(st, 3, t->win_rowid);
	sqlite3_bind_int64(st, 4, limit_ms);
	sqlite3_bind_int(st, 5, budget);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		char service[SERVICE_NAME_MAX];

		rowid = sqlite3_column_int64(st, 0);
		column_copy(st, 1, service, sizeof(service));
		end_ms = sqlite3_column_int64(st, 2);
		r = roll_win_get(&v, &n, service, store_floor_minute(end_ms));
		if (store_agg_add_row(&r->agg, st, 3,
				      STORE_ROW_LATENCY | STORE_ROW_SYSCALLS | STORE_ROW_ROUTES |
					      STORE_ROW_RAW))
			err = corrupt(s, "raw window");
		(*used)++;
	}
	if (!err && rc != SQLITE_DONE)
		err = store_db_error(s, "cannot read raw windows to roll up");
	sqlite3_reset(st);
	for (size_t i = 0; i < n && !err; i++)
		err = store_minute_merge(s, t->tenant, v[i].service, v[i].minute_ms, &v[i].agg);
	for (size_t i = 0; i < n; i++)
		store_agg_release(&v[i].agg);
	free(v);
	if (err)
		return err;
	if (*used < budget && limit_ms > end_ms) {
		/* nothing is left before the limit */
		end_ms = limit_ms;
		rowid = 0;
	}
	if (end_ms == t->win_end_ms && rowid == t->win_rowid)
		return 0;
	t->win_end_ms = end_ms;
	t->win_rowid = rowid;
	return cursor_set(s, STMT_TENANT_SET_WIN, t->tenant, end_ms, rowid);
}

static struct roll_call *roll_call_get(struct roll_call **v, size_t *n, const char *src,
				       const char *dst, int64_t minute_ms)
{
	struct roll_call *r;

	for (size_t i = *n; i-- > 0;)
		if ((*v)[i].minute_ms == minute_ms && !strcmp((*v)[i].src, src) &&
		    !strcmp((*v)[i].dst, dst))
			return &(*v)[i];
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	r = &(*v)[(*n)++];
	memset(r, 0, sizeof(*r));
	snprintf(r->src, sizeof(r->src), "%s", src);
	snprintf(r->dst, sizeof(r->dst), "%s", dst);
	r->minute_ms = minute_ms;
	hist_init(&r->latency_ns);
	return r;
}

static int roll_calls(struct store *s, struct store_tenant *t, int64_t limit_ms, int budget,
		      int *used)
{
	sqlite3_stmt *st = store_stmt(s, STMT_ROLL_CALLS);
	struct roll_call *v = NULL, *r;
	int64_t end_ms = t->call_end_ms, rowid = t->call_rowid;
	struct hist scratch;
	size_t n = 0;
	int rc, err = 0;

	*used = 0;
	if (!st)
		return -EIO;
	hist_init(&scratch);
	store_bind_name(st, 1, t->tenant, FRAME_ID_MAX);
	sqlite3_bind_int64(st, 2, t->call_end_ms);
	sqlite3_bind_int64(st, 3, t->call_rowid);
	sqlite3_bind_int64(st, 4, limit_ms);
	sqlite3_bind_int(st, 5, budget);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		char src[SERVICE_NAME_MAX], dst[SERVICE_NAME_MAX];

		rowid = sqlite3_column_int64(st, 0);
		column_copy(st, 1, src, sizeof(src));
		column_copy(st, 2, dst, sizeof(dst));
		end_ms = sqlite3_column_int64(st, 3);
		r = roll_call_get(&v, &n, src, dst, store_floor_minute(end_ms));
		r->count += (uint64_t)sqlite3_column_int64(st, 4);
		r->errors += (uint64_t)sqlite3_column_int64(st, 5);
		if (store_blob_add_hist(&r->latency_ns, &scratch, sqlite3_column_blob(st, 6),
					(size_t)sqlite3_column_bytes(st, 6)))
			err = corrupt(s, "raw call row");
		(*used)++;
	}
	if (!err && rc != SQLITE_DONE)
		err = store_db_error(s, "cannot read raw calls to roll up");
	sqlite3_reset(st);
	for (size_t i = 0; i < n && !err; i++)
		err = store_minute_call_merge(s, t->tenant, v[i].src, v[i].dst, v[i].minute_ms,
					      v[i].count, v[i].errors, &v[i].latency_ns);
	for (size_t i = 0; i < n; i++)
		hist_release(&v[i].latency_ns);
	free(v);
	hist_release(&scratch);
	if (err)
		return err;
	if (*used < budget && limit_ms > end_ms) {
		end_ms = limit_ms;
		rowid = 0;
	}
	if (end_ms == t->call_end_ms && rowid == t->call_rowid)
		return 0;
	t->call_end_ms = end_ms;
	t->call_rowid = rowid;
	return cursor_set(s, STMT_TENANT_SET_CALL, t->tenant, end_ms, rowid);
}

/* ---- retention ---- */

/* Deletes up to @budget rows of @tenant before @before_ms with statement @id. */
static int delete_before(struct store *s, enum store_stmt_id id, const char *tenant,
			 int64_t before_ms, int budget, int *used)
{
	sqlite3_stmt *st = store_stmt(s, id);
	int err;

	*used = 0;
	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	sqlite3_bind_int64(st, 2, before_ms);
	sqlite3_bind_int(st, 3, budget);
	err = store_step_done(s, st, "cannot delete rows past retention");
	if (!err)
		*used = sqlite3_changes(s->db);
	return err;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int retain(struct store *s, struct store_tenant *t, int64_t now_ms, int *budget)
{
	int64_t raw_cut = store_floor_minute(now_ms - (int64_t)s->raw_hours * 3600 * 1000);
	int64_t minute_cut = store_floor_minute(now_ms - (int64_t)s->minute_days * 86400 * 1000);
	int64_t floor = min64(raw_cut, min64(store_floor_minute(t->win_end_ms),
					     store_floor_minute(t->call_end_ms)));
	static const struct {
		enum store_stmt_id id;
		bool raw;
	} steps[] = {
		{ STMT_DEL_RAW, true },
		{ STMT_DEL_CALLS, true },
		{ STMT_DEL_MINUTE, false },
		{ STMT_DEL_MCALLS, false },
	};
	int used, err;

	if (floor > t->raw_floor_ms) {
		/* raise the floor first: queries stop reading raw rows below it at once */
		err = cursor_set(s, STMT_TENANT_SET_FLOOR, t->tenant, floor, 0);
		if (err)
			return err;
		t->raw_floor_ms = floor;
	}
	for (size_t i = 0; i < PRP_ARRAY_SIZE(steps) && *budget > 0; i++) {
		err = delete_before(s, steps[i].id, t->tenant,
				    steps[i].raw ? t->raw_floor_ms : minute_cut, *budget, &used);
		if (err)
			return err;
		*budget -= used;
	}
	return 0;
}

/* ---- the step ---- */

static int tenants_list(struct store *s, char (**out)[FRAME_ID_MAX], size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, STMT_TENANT_LIST);
	char(*v)[FRAME_ID_MAX] = NULL;
	int rc;

	*n = 0;
	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreallocarray(v, *n + 1, sizeof(*v));
		column_copy(st, 0, v[(*n)++], FRAME_ID_MAX);
	}
	sqlite3_reset(st);
	*out = v;
	if (rc != SQLITE_DONE)
		return store_db_error(s, "cannot list tenants");
	return 0;
}

static int maintain_tenant(struct store *s, const char *tenant, int64_t now_ms, int *budget)
{
	int64_t limit_ms = store_floor_minute(now_ms);
	struct store_tenant t;
	int used, err = store_tenant_load(s, tenant, &t);

	if (err)
		return err == -ENOENT ? 0 : err;
	err = roll_windows(s, &t, limit_ms, *budget, &used);
	*budget -= used;
	if (!err && *budget > 0) {
		err = roll_calls(s, &t, limit_ms, *budget, &used);
		*budget -= used;
	}
	if (!err && *budget > 0)
		err = retain(s, &t, now_ms, budget);
	return err;
}

static int sweep_seen(struct store *s, int64_t now_ms)
{
	sqlite3_stmt *st;
	int err;

	if (s->last_seen_gc_ms && now_ms - s->last_seen_gc_ms < STORE_SEEN_GC_MS)
		return 0;
	st = store_stmt(s, STMT_DEL_SEEN);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, now_ms - (int64_t)s->minute_days * 86400 * 1000);
	err = store_step_done(s, st, "cannot delete old service hosts");
	if (!err)
		s->last_seen_gc_ms = now_ms;
	return err;
}

int store_maintain(struct store *s, int64_t now_ms, bool *more)
{
	char(*tenants)[FRAME_ID_MAX] = NULL;
	int budget = STORE_MAINTAIN_ROWS, err;
	size_t n = 0;

	*more = false;
	if (s->read_only || s->in_txn || now_ms < 0 || now_ms > STORE_TIME_MAX)
		return -EINVAL;
	err = store_exec(s, "BEGIN IMMEDIATE");
	if (err)
		return err;
	err = tenants_list(s, &tenants, &n);
	for (size_t i = 0; i < n && !err && budget > 0; i++)
		err = maintain_tenant(s, tenants[i], now_ms, &budget);
	if (!err)
		err = sweep_seen(s, now_ms);
	free(tenants);
	if (!err)
		err = store_exec(s, "COMMIT");
	if (err) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		/* the seen cache may hold rows the sweep deleted, or not */
		store_ingest_discard(s);
		return err;
	}
	if (s->last_seen_gc_ms == now_ms)
		store_ingest_discard(s);
	*more = budget <= 0;
	return 0;
}
