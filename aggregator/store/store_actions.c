/*
 * The actions table: one row per action a policy decided (or an operator
 * asked for), keyed by an AUTOINCREMENT id and always read and written
 * together with its tenant. The row is inserted when the action is decided
 * and updated as it runs (status, times, result, logs).
 *
 * Writes are the writer's, in autocommit mode, refused inside
 * store_begin()/store_commit() (-EINVAL) and on a reader (-EROFS), as for
 * anomalies (store_anomalies.c), whose list this one's follows: one SELECT
 * built from constant fragments, every value bound.
 *
 * Arguments are checked before anything is written (-EINVAL): tenant,
 * service and type non-empty and within their fields, the policy name
 * within its field (empty for a manual action), a known status, times not
 * negative. Texts are bounded (-E2BIG): parameters, result and logs at most
 * STORE_ACTION_TEXT_MAX bytes, the reason STORE_ACTION_REASON_MAX. The
 * executor bounds the logs it keeps; an action past the bound is its bug.
 */
#include "aggregator/store/store_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* parameters, result and logs: a page of JSON or of a command's output */
#define STORE_ACTION_TEXT_MAX (64u << 10)
/* a condition's text or an operator's sentence */
#define STORE_ACTION_REASON_MAX (4u << 10)
/* the size of struct store_action's type, NUL included */
#define ACTION_TYPE_CAP sizeof(((struct store_action *)0)->type)

/* The columns after id, in the order bind_fields() binds them (?1 to ?12). */
#define ACTION_FIELDS                                                                              \
	"tenant, policy_name, service, type, parameters, reason, status, created_ms,"              \
	" started_ms, completed_ms, result, logs"
#define ACTION_COLS "id, " ACTION_FIELDS /* as read_row() reads them */

static const char action_insert_sql[] =
	"INSERT INTO actions (" ACTION_FIELDS ")"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
/* the tenant (?1) is a key, not a field: it is never changed */
static const char action_update_sql[] =
	"UPDATE actions SET policy_name = ?2, service = ?3, type = ?4, parameters = ?5,"
	" reason = ?6, status = ?7, created_ms = ?8, started_ms = ?9, completed_ms = ?10,"
	" result = ?11, logs = ?12 WHERE id = ?13 AND tenant = ?1";
static const char action_get_sql[] =
	"SELECT " ACTION_COLS " FROM actions WHERE id = ?1 AND tenant = ?2";
/* (tenant, created_ms) yields the range; the status is checked on its rows */
static const char actions_count_executed_sql[] =
	"SELECT count(*) FROM actions WHERE (?1 IS NULL OR tenant = ?1) AND created_ms >= ?2 "
	"AND status <> ?3";

static const char *const status_names[STORE_ACTION_STATUS_COUNT] = {
	[STORE_ACTION_PENDING] = "pending",	[STORE_ACTION_RUNNING] = "running",
	[STORE_ACTION_SUCCEEDED] = "succeeded", [STORE_ACTION_FAILED] = "failed",
	[STORE_ACTION_TIMED_OUT] = "timed_out", [STORE_ACTION_SKIPPED] = "skipped",
};

const char *store_action_status_name(enum store_action_status s)
{
	return (unsigned)s < STORE_ACTION_STATUS_COUNT ? status_names[s] : NULL;
}

int store_action_status_find(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < STORE_ACTION_STATUS_COUNT; i++)
		if (!strcmp(name, status_names[i]))
			return i;
	return -1;
}

void store_action_release(struct store_action *a)
{
	if (!a)
		return;
	free(a->parameters);
	free(a->reason);
	free(a->result);
	free(a->logs);
	memset(a, 0, sizeof(*a));
}

void store_actions_free(struct store_action *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		store_action_release(&v[i]);
	free(v);
}

/* true when @v is NUL-terminated within @cap bytes (it may be empty). */
static bool terminated(const char *v, size_t cap)
{
	return strnlen(v, cap) < cap;
}

static bool status_ok(int v)
{
	return v >= 0 && v < STORE_ACTION_STATUS_COUNT;
}

/* 0, -EINVAL or -E2BIG. */
static int action_check(const struct store_action *a)
{
	if (a->id < 0 || !store_name_ok(a->tenant, sizeof(a->tenant)) ||
	    !terminated(a->policy_name, sizeof(a->policy_name)) ||
	    !store_name_ok(a->service, sizeof(a->service)) ||
	    !store_name_ok(a->type, sizeof(a->type)) || !status_ok((int)a->status) ||
	    a->created_ms < 0 || a->started_ms < 0 || a->completed_ms < 0)
		return -EINVAL;
	if (!store_text_fits(a->parameters, STORE_ACTION_TEXT_MAX) ||
	    !store_text_fits(a->reason, STORE_ACTION_REASON_MAX) ||
	    !store_text_fits(a->result, STORE_ACTION_TEXT_MAX) ||
	    !store_text_fits(a->logs, STORE_ACTION_TEXT_MAX))
		return -E2BIG;
	return 0;
}

/* ?1 to ?12 in the order of ACTION_FIELDS; @a must outlive the step. */
static void bind_fields(sqlite3_stmt *st, const struct store_action *a)
{
	store_bind_name(st, 1, a->tenant, sizeof(a->tenant));
	store_bind_name(st, 2, a->policy_name, sizeof(a->policy_name));
	store_bind_name(st, 3, a->service, sizeof(a->service));
	store_bind_name(st, 4, a->type, sizeof(a->type));
	store_bind_text_or_null(st, 5, a->parameters);
	store_bind_text_or_null(st, 6, a->reason);
	sqlite3_bind_int(st, 7, (int)a->status);
	sqlite3_bind_int64(st, 8, a->created_ms);
	sqlite3_bind_int64(st, 9, a->started_ms);
	sqlite3_bind_int64(st, 10, a->completed_ms);
	store_bind_text_or_null(st, 11, a->result);
	store_bind_text_or_null(st, 12, a->logs);
}

int store_action_put(struct store *s, struct store_action *a)
{
	bool insert = a->id == 0;
	sqlite3_stmt *st;
	int err;

	if (s->read_only)
		return -EROFS;
	if (s->in_txn)
		return -EINVAL;
	err = action_check(a);
	if (err)
		return err;
	err = store_prepare(s, insert ? action_insert_sql : action_update_sql, &st,
			    "cannot prepare an actions statement");
	if (err)
		return err;
	bind_fields(st, a);
	if (!insert)
		sqlite3_bind_int64(st, 13, a->id);
	return store_step_put(s, st, &a->id, "the action");
}

/* A row of ACTION_COLS into @a (zeroed first). */
static void read_row(sqlite3_stmt *st, struct store_action *a)
{
	int status = sqlite3_column_int(st, 7);

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	store_column_name(st, 1, a->tenant, sizeof(a->tenant));
	store_column_name(st, 2, a->policy_name, sizeof(a->policy_name));
	store_column_name(st, 3, a->service, sizeof(a->service));
	store_column_name(st, 4, a->type, sizeof(a->type));
	a->parameters = store_column_text_dup(st, 5);
	a->reason = store_column_text_dup(st, 6);
	/* only ever written in range; a hand-edited row must not yield a bad enum */
	a->status = status_ok(status) ? (enum store_action_status)status : STORE_ACTION_FAILED;
	a->created_ms = sqlite3_column_int64(st, 8);
	a->started_ms = sqlite3_column_int64(st, 9);
	a->completed_ms = sqlite3_column_int64(st, 10);
	a->result = store_column_text_dup(st, 11);
	a->logs = store_column_text_dup(st, 12);
}

int store_action_get(struct store *s, const char *tenant, int64_t id, struct store_action *out)
{
	sqlite3_stmt *st;
	int rc, err;

	memset(out, 0, sizeof(*out));
	if (!store_name_ok(tenant, FRAME_ID_MAX))
		return -EINVAL;
	if (id <= 0) /* no action has such an id */
		return -ENOENT;
	err = store_prepare(s, action_get_sql, &st, "cannot prepare an actions statement");
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	store_bind_name(st, 2, tenant, FRAME_ID_MAX);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_row(st, out);
	else if (rc == SQLITE_DONE)
		err = -ENOENT;
	else
		err = store_db_error(s, "cannot read the action");
	sqlite3_finalize(st);
	return err;
}

int store_actions_count_executed(struct store *s, const char *tenant, int64_t since_ms, uint64_t *n)
{
	sqlite3_stmt *st;
	int rc, err;

	*n = 0;
	if ((tenant && !store_name_ok(tenant, FRAME_ID_MAX)) || since_ms < 0)
		return -EINVAL;
	err = store_prepare(s, actions_count_executed_sql, &st,
			    "cannot prepare an actions statement");
	if (err)
		return err;
	if (tenant)
		store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	sqlite3_bind_int64(st, 2, since_ms);
	sqlite3_bind_int(st, 3, STORE_ACTION_SKIPPED);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	else
		err = store_db_error(s, "cannot count the actions");
	sqlite3_finalize(st);
	return err;
}

static const char actions_totals_sql[] =
	"SELECT type, status, count(*) FROM actions WHERE tenant = ?1 AND status >= ?2"
	" GROUP BY type, status ORDER BY type, status";

int store_actions_totals(struct store *s, const char *tenant, store_action_total_fn *fn,
			 void *arg)
{
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, err;

	if (!store_name_ok(tenant, FRAME_ID_MAX))
		return -EINVAL;
	err = store_prepare(s, actions_totals_sql, &st, "cannot prepare an actions statement");
	if (err)
		return err;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	sqlite3_bind_int(st, 2, STORE_ACTION_SUCCEEDED);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int status = sqlite3_column_int(st, 1);

		if (status < STORE_ACTION_STATUS_COUNT)
			err = fn(arg, (const char *)sqlite3_column_text(st, 0),
				 (enum store_action_status)status,
				 (uint64_t)sqlite3_column_int64(st, 2));
	}
	if (!err && rc != SQLITE_DONE)
		err = store_db_error(s, "cannot count the actions");
	sqlite3_finalize(st);
	return err;
}

/* ---- the list (store_listq.c) ---- */

static bool filter_ok(const struct store_action_filter *f)
{
	return (!f->tenant || store_name_ok(f->tenant, FRAME_ID_MAX)) &&
	       (!f->service || store_name_ok(f->service, SERVICE_NAME_MAX)) &&
	       (!f->type || store_name_ok(f->type, ACTION_TYPE_CAP)) &&
	       /* "" is a filter too: the manual actions */
	       (!f->policy_name || terminated(f->policy_name, STORE_POLICY_NAME_MAX)) &&
	       (f->status == -1 || status_ok(f->status)) && f->since_ms >= 0 && f->until_ms >= 0 &&
	       f->before_id >= 0;
}

/* The SELECT of @f, newest first. */
static void query_build(struct store_listq *q, const struct store_action_filter *f)
{
	store_listq_init(q, "SELECT " ACTION_COLS " FROM actions");
	if (f->tenant)
		store_listq_where_text(q, "tenant = ?", f->tenant, FRAME_ID_MAX);
	if (f->service)
		store_listq_where_text(q, "service = ?", f->service, SERVICE_NAME_MAX);
	if (f->type)
		store_listq_where_text(q, "type = ?", f->type, ACTION_TYPE_CAP);
	if (f->policy_name) /* store_bind_name() binds "" as it is */
		store_listq_where_text(q, "policy_name = ?", f->policy_name, STORE_POLICY_NAME_MAX);
	if (f->status >= 0)
		store_listq_where_int(q, "status = ?", f->status);
	if (f->since_ms)
		store_listq_where_int(q, "created_ms >= ?", f->since_ms);
	if (f->until_ms)
		store_listq_where_int(q, "created_ms < ?", f->until_ms);
	if (f->before_id)
		store_listq_where_int(q, "id < ?", f->before_id);
	store_listq_finish(q, " ORDER BY id DESC", f->limit);
}

int store_actions_list(struct store *s, const struct store_action_filter *f,
		       struct store_action **out, size_t *n, bool *more)
{
	struct store_action *v = NULL;
	size_t len = 0, alloc = 0;
	struct store_listq q;
	sqlite3_stmt *st;
	int rc, err;

	*out = NULL;
	*n = 0;
	if (more)
		*more = false;
	if (!f || !filter_ok(f))
		return -EINVAL;
	query_build(&q, f);
	err = store_listq_prepare(s, &q, &st, "cannot prepare an actions statement");
	if (err)
		return err;
	while ((rc = store_listq_step(s, st, &q, len, more, "cannot list the actions")) == 1) {
		v = store_grow(v, len, &alloc, sizeof(*v));
		read_row(st, &v[len++]);
	}
	sqlite3_finalize(st);
	if (rc < 0) {
		store_actions_free(v, len);
		return rc;
	}
	*out = v;
	*n = len;
	return 0;
}
