/*
 * The policies table: one row per policy, keyed by an AUTOINCREMENT id and
 * always read and written together with its tenant. A name is unique within
 * a tenant (UNIQUE (tenant, name)); an insert or a rename onto a name the
 * tenant has is -EEXIST, recognised by SQLite's own constraint failure, so
 * there is no window between a check and the write.
 *
 * Writes are the writer's, in autocommit mode, and refused inside
 * store_begin()/store_commit() (-EINVAL) and on a reader (-EROFS), as for
 * anomalies (store_anomalies.c). Statements are prepared per call: policy
 * changes are rare.
 *
 * Arguments are checked before anything is written: names non-empty and
 * within their fields, a source present, times not negative (-EINVAL); the
 * source at most STORE_POLICY_SOURCE_MAX bytes and the origin at most
 * STORE_POLICY_ORIGIN_MAX (-E2BIG). The source is stored as given; the
 * policy layer parses it.
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A policy document is a page of YAML; 256 KiB leaves room for comments. */
#define STORE_POLICY_SOURCE_MAX (256u << 10)
/* "api", or a path under the policies directory */
#define STORE_POLICY_ORIGIN_MAX 4096u

/* The columns after id, in the order bind_fields() binds them (?1 to ?7). */
#define POLICY_FIELDS "tenant, name, enabled, source, origin, created_ms, updated_ms"
#define POLICY_COLS   "id, " POLICY_FIELDS /* as read_row() reads them */

static const char policy_insert_sql[] =
	"INSERT INTO policies (" POLICY_FIELDS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/* the tenant (?1) is a key, not a field: it is never changed */
static const char policy_update_sql[] =
	"UPDATE policies SET name = ?2, enabled = ?3, source = ?4, origin = ?5,"
	" created_ms = ?6, updated_ms = ?7 WHERE id = ?8 AND tenant = ?1";
static const char policy_get_sql[] =
	"SELECT " POLICY_COLS " FROM policies WHERE id = ?1 AND tenant = ?2";
static const char policy_find_sql[] =
	"SELECT " POLICY_COLS " FROM policies WHERE tenant = ?1 AND name = ?2";
static const char policy_delete_sql[] = "DELETE FROM policies WHERE id = ?1 AND tenant = ?2";
static const char policies_tenant_sql[] =
	"SELECT " POLICY_COLS " FROM policies WHERE tenant = ?1 ORDER BY id";
static const char policies_all_sql[] = "SELECT " POLICY_COLS " FROM policies ORDER BY id";

void store_policy_release(struct store_policy *p)
{
	if (!p)
		return;
	free(p->source);
	free(p->origin);
	memset(p, 0, sizeof(*p));
}

void store_policies_free(struct store_policy *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		store_policy_release(&v[i]);
	free(v);
}

/* 0, -EINVAL or -E2BIG. */
static int policy_check(const struct store_policy *p)
{
	if (p->id < 0 || !store_name_ok(p->tenant, sizeof(p->tenant)) ||
	    !store_name_ok(p->name, sizeof(p->name)) || !p->source || p->created_ms < 0 ||
	    p->updated_ms < 0)
		return -EINVAL;
	if (!store_text_fits(p->source, STORE_POLICY_SOURCE_MAX) ||
	    !store_text_fits(p->origin, STORE_POLICY_ORIGIN_MAX))
		return -E2BIG;
	return 0;
}

/* ?1 to ?7 in the order of POLICY_FIELDS; @p must outlive the step. */
static void bind_fields(sqlite3_stmt *st, const struct store_policy *p)
{
	store_bind_name(st, 1, p->tenant, sizeof(p->tenant));
	store_bind_name(st, 2, p->name, sizeof(p->name));
	sqlite3_bind_int(st, 3, p->enabled);
	store_bind_text_or_null(st, 4, p->source);
	store_bind_text_or_null(st, 5, p->origin);
	sqlite3_bind_int64(st, 6, p->created_ms);
	sqlite3_bind_int64(st, 7, p->updated_ms);
}

int store_policy_put(struct store *s, struct store_policy *p)
{
	bool insert = p->id == 0;
	sqlite3_stmt *st;
	int err;

	if (s->read_only)
		return -EROFS;
	if (s->in_txn)
		return -EINVAL;
	err = policy_check(p);
	if (err)
		return err;
	err = store_prepare(s, insert ? policy_insert_sql : policy_update_sql, &st,
			    "cannot prepare a policies statement");
	if (err)
		return err;
	bind_fields(st, p);
	if (!insert)
		sqlite3_bind_int64(st, 8, p->id);
	return store_step_put(s, st, &p->id, "the policy");
}

/* A row of POLICY_COLS into @p (zeroed first). */
static void read_row(sqlite3_stmt *st, struct store_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->id = sqlite3_column_int64(st, 0);
	store_column_name(st, 1, p->tenant, sizeof(p->tenant));
	store_column_name(st, 2, p->name, sizeof(p->name));
	p->enabled = sqlite3_column_int(st, 3) != 0;
	p->source = store_column_text_dup(st, 4);
	p->origin = store_column_text_dup(st, 5);
	p->created_ms = sqlite3_column_int64(st, 6);
	p->updated_ms = sqlite3_column_int64(st, 7);
}

/* Steps @st (bound, and finalized here) for at most one row into @out. */
static int read_one(struct store *s, sqlite3_stmt *st, struct store_policy *out)
{
	int rc = sqlite3_step(st), err = 0;

	if (rc == SQLITE_ROW)
		read_row(st, out);
	else if (rc == SQLITE_DONE)
		err = -ENOENT;
	else
		err = store_db_error(s, "cannot read the policy");
	sqlite3_finalize(st);
	return err;
}

int store_policy_get(struct store *s, const char *tenant, int64_t id, struct store_policy *out)
{
	sqlite3_stmt *st;
	int err;

	memset(out, 0, sizeof(*out));
	if (!store_name_ok(tenant, FRAME_ID_MAX))
		return -EINVAL;
	if (id <= 0) /* no policy has such an id */
		return -ENOENT;
	err = store_prepare(s, policy_get_sql, &st, "cannot prepare a policies statement");
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	store_bind_name(st, 2, tenant, FRAME_ID_MAX);
	return read_one(s, st, out);
}

int store_policy_find(struct store *s, const char *tenant, const char *name,
		      struct store_policy *out)
{
	sqlite3_stmt *st;
	int err;

	memset(out, 0, sizeof(*out));
	if (!store_name_ok(tenant, FRAME_ID_MAX) || !store_name_ok(name, STORE_POLICY_NAME_MAX))
		return -EINVAL;
	err = store_prepare(s, policy_find_sql, &st, "cannot prepare a policies statement");
	if (err)
		return err;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, name, STORE_POLICY_NAME_MAX);
	return read_one(s, st, out);
}

int store_policy_delete(struct store *s, const char *tenant, int64_t id)
{
	sqlite3_stmt *st;
	int err;

	if (s->read_only)
		return -EROFS;
	if (s->in_txn || !store_name_ok(tenant, FRAME_ID_MAX))
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;
	err = store_prepare(s, policy_delete_sql, &st, "cannot prepare a policies statement");
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	store_bind_name(st, 2, tenant, FRAME_ID_MAX);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_db_error(s, "cannot delete the policy");
	else if (sqlite3_changes(s->db) == 0)
		err = -ENOENT;
	sqlite3_finalize(st);
	return err;
}

int store_policies_list(struct store *s, const char *tenant, struct store_policy **out, size_t *n)
{
	struct store_policy *v = NULL;
	size_t len = 0, alloc = 0;
	sqlite3_stmt *st;
	int rc, err;

	*out = NULL;
	*n = 0;
	if (tenant && !store_name_ok(tenant, FRAME_ID_MAX))
		return -EINVAL;
	err = store_prepare(s, tenant ? policies_tenant_sql : policies_all_sql, &st,
			    "cannot prepare a policies statement");
	if (err)
		return err;
	if (tenant)
		store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = store_grow(v, len, &alloc, sizeof(*v));
		read_row(st, &v[len++]);
	}
	if (rc != SQLITE_DONE) {
		err = store_db_error(s, "cannot list the policies");
		sqlite3_finalize(st);
		store_policies_free(v, len);
		return err;
	}
	sqlite3_finalize(st);
	*out = v;
	*n = len;
	return 0;
}
