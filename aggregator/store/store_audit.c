/*
 * The audit table: one row per change (who did what to what), appended and
 * never updated, keyed by an AUTOINCREMENT id so that newest first is id
 * order. An entry's id is set by store_audit_append(); the one it came with
 * is ignored.
 *
 * The append is the writer's, in autocommit mode, refused inside
 * store_begin()/store_commit() (-EINVAL) and on a reader (-EROFS), as for
 * anomalies (store_anomalies.c). Arguments are checked before anything is
 * written: tenant, actor and action non-empty and within their fields, the
 * subject within its field (it may be empty), at_ms not negative (-EINVAL),
 * the detail at most STORE_AUDIT_DETAIL_MAX bytes (-E2BIG).
 *
 * A NULL tenant lists every tenant's entries, as the other lists do.
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A detail is a small JSON object (what changed); 64 KiB holds a policy diff. */
#define STORE_AUDIT_DETAIL_MAX (64u << 10)

#define AUDIT_FIELDS	       "tenant, at_ms, actor, action, subject, detail"
#define AUDIT_COLS	       "id, " AUDIT_FIELDS /* as read_row() reads them */

static const char audit_insert_sql[] =
	"INSERT INTO audit (" AUDIT_FIELDS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/* ?2 is the cursor (INT64_MAX for none), ?3 the limit (-1 for none) */
static const char audit_tenant_sql[] = "SELECT " AUDIT_COLS " FROM audit"
				       " WHERE tenant = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3";
static const char audit_all_sql[] = "SELECT " AUDIT_COLS " FROM audit"
				    " WHERE id < ?2 ORDER BY id DESC LIMIT ?3";

void store_audit_release(struct store_audit *a)
{
	if (!a)
		return;
	free(a->detail);
	memset(a, 0, sizeof(*a));
}

void store_audits_free(struct store_audit *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		store_audit_release(&v[i]);
	free(v);
}

/* 0, -EINVAL or -E2BIG. */
static int audit_check(const struct store_audit *a)
{
	if (!store_name_ok(a->tenant, sizeof(a->tenant)) || a->at_ms < 0 ||
	    !store_name_ok(a->actor, sizeof(a->actor)) ||
	    !store_name_ok(a->action, sizeof(a->action)) ||
	    strnlen(a->subject, sizeof(a->subject)) == sizeof(a->subject))
		return -EINVAL;
	if (!store_text_fits(a->detail, STORE_AUDIT_DETAIL_MAX))
		return -E2BIG;
	return 0;
}

int store_audit_append(struct store *s, struct store_audit *a)
{
	sqlite3_stmt *st;
	int err;

	if (s->read_only)
		return -EROFS;
	if (s->in_txn)
		return -EINVAL;
	err = audit_check(a);
	if (err)
		return err;
	err = store_prepare(s, audit_insert_sql, &st, "cannot prepare an audit statement");
	if (err)
		return err;
	store_bind_name(st, 1, a->tenant, sizeof(a->tenant));
	sqlite3_bind_int64(st, 2, a->at_ms);
	store_bind_name(st, 3, a->actor, sizeof(a->actor));
	store_bind_name(st, 4, a->action, sizeof(a->action));
	/* may be empty: store_bind_name() binds "" as it is */
	store_bind_name(st, 5, a->subject, sizeof(a->subject));
	store_bind_text_or_null(st, 6, a->detail);
	a->id = 0; /* always a new line */
	return store_step_put(s, st, &a->id, "the audit line");
}

/* A row of AUDIT_COLS into @a (zeroed first). */
static void read_row(sqlite3_stmt *st, struct store_audit *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	store_column_name(st, 1, a->tenant, sizeof(a->tenant));
	a->at_ms = sqlite3_column_int64(st, 2);
	store_column_name(st, 3, a->actor, sizeof(a->actor));
	store_column_name(st, 4, a->action, sizeof(a->action));
	store_column_name(st, 5, a->subject, sizeof(a->subject));
	a->detail = store_column_text_dup(st, 6);
}

int store_audit_list(struct store *s, const char *tenant, int64_t before_id, size_t limit,
		     struct store_audit **out, size_t *n, bool *more)
{
	struct store_audit *v = NULL;
	size_t len = 0, alloc = 0;
	int64_t max_rows = -1; /* no LIMIT */
	sqlite3_stmt *st;
	int rc, err;

	*out = NULL;
	*n = 0;
	if (more)
		*more = false;
	if ((tenant && !store_name_ok(tenant, FRAME_ID_MAX)) || before_id < 0)
		return -EINVAL;
	err = store_prepare(s, tenant ? audit_tenant_sql : audit_all_sql, &st,
			    "cannot prepare an audit statement");
	if (err)
		return err;
	if (tenant)
		store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	sqlite3_bind_int64(st, 2, before_id ? before_id : INT64_MAX);
	/* one row past the limit tells whether there are more */
	if (limit)
		max_rows = limit >= (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)limit + 1;
	sqlite3_bind_int64(st, 3, max_rows);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (limit && len == limit) {
			if (more)
				*more = true;
			rc = SQLITE_DONE;
			break;
		}
		v = store_grow(v, len, &alloc, sizeof(*v));
		read_row(st, &v[len++]);
	}
	if (rc != SQLITE_DONE) {
		err = store_db_error(s, "cannot list the audit log");
		sqlite3_finalize(st);
		store_audits_free(v, len);
		return err;
	}
	sqlite3_finalize(st);
	*out = v;
	*n = len;
	return 0;
}
