/*
 * The events table: the bus's events as sent, by an AUTOINCREMENT id, so
 * that an id a subscriber saw never names another event. Written by the
 * bus's writer in autocommit mode (refused on a reader, -EROFS, and inside
 * store_begin()/store_commit(), -EINVAL); read after an id for a resume;
 * pruned by time.
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STORE_EVENT_JSON_MAX (1u << 20)
#define EVENT_FIELDS	     "tenant, at_ms, type, severity, service, json"

static const char event_insert_sql[] =
	"INSERT INTO events (" EVENT_FIELDS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char events_tenant_sql[] = "SELECT id, " EVENT_FIELDS " FROM events"
					" WHERE id > ?1 AND tenant = ?3 ORDER BY id LIMIT ?2";
static const char events_all_sql[] = "SELECT id, " EVENT_FIELDS " FROM events"
				     " WHERE id > ?1 ORDER BY id LIMIT ?2";
static const char events_last_sql[] = "SELECT COALESCE(MAX(id), 0) FROM events";
static const char events_prune_sql[] =
	"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at_ms < ?1 LIMIT ?2)";

void store_events_free(struct store_event *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].json);
	free(v);
}

int store_event_insert(struct store *s, struct store_event *e)
{
	sqlite3_stmt *st;
	int err;

	if (s->read_only)
		return -EROFS;
	if (s->in_txn || !store_name_ok(e->tenant, sizeof(e->tenant)) || e->at_ms < 0 || !e->json ||
	    strnlen(e->service, sizeof(e->service)) == sizeof(e->service))
		return -EINVAL;
	if (!store_text_fits(e->json, STORE_EVENT_JSON_MAX))
		return -E2BIG;
	err = store_prepare(s, event_insert_sql, &st, "cannot prepare an events statement");
	if (err)
		return err;
	store_bind_name(st, 1, e->tenant, sizeof(e->tenant));
	sqlite3_bind_int64(st, 2, e->at_ms);
	sqlite3_bind_int(st, 3, e->type);
	sqlite3_bind_int(st, 4, e->severity);
	store_bind_name(st, 5, e->service, sizeof(e->service));
	store_bind_text_or_null(st, 6, e->json);
	e->id = 0;
	return store_step_put(s, st, &e->id, "the event");
}

int store_events_after(struct store *s, const char *tenant, int64_t after_id, size_t limit,
		       struct store_event **out, size_t *n)
{
	struct store_event *v = NULL;
	size_t len = 0, alloc = 0;
	sqlite3_stmt *st;
	int rc, err;

	*out = NULL;
	*n = 0;
	if ((tenant && !store_name_ok(tenant, FRAME_ID_MAX)) || after_id < 0)
		return -EINVAL;
	err = store_prepare(s, tenant ? events_tenant_sql : events_all_sql, &st,
			    "cannot prepare an events statement");
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, after_id);
	sqlite3_bind_int64(st, 2, limit && limit < INT64_MAX ? (int64_t)limit : -1);
	if (tenant)
		store_bind_name(st, 3, tenant, FRAME_ID_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_event *e;

		v = store_grow(v, len, &alloc, sizeof(*v));
		e = &v[len++];
		memset(e, 0, sizeof(*e));
		e->id = sqlite3_column_int64(st, 0);
		store_column_name(st, 1, e->tenant, sizeof(e->tenant));
		e->at_ms = sqlite3_column_int64(st, 2);
		e->type = sqlite3_column_int(st, 3);
		e->severity = sqlite3_column_int(st, 4);
		store_column_name(st, 5, e->service, sizeof(e->service));
		e->json = store_column_text_dup(st, 6);
		if (!e->json)
			e->json = xstrdup("{}");
	}
	if (rc != SQLITE_DONE) {
		err = store_db_error(s, "cannot read the events");
		sqlite3_finalize(st);
		store_events_free(v, len);
		return err;
	}
	sqlite3_finalize(st);
	*out = v;
	*n = len;
	return 0;
}

int store_events_last_id(struct store *s, int64_t *id)
{
	sqlite3_stmt *st;
	int err = store_prepare(s, events_last_sql, &st, "cannot prepare an events statement");

	*id = 0;
	if (err)
		return err;
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		err = store_db_error(s, "cannot read the last event id");
	sqlite3_finalize(st);
	return err;
}

int store_events_prune(struct store *s, int64_t before_ms, size_t max, size_t *deleted)
{
	sqlite3_stmt *st;
	int err;

	*deleted = 0;
	if (s->read_only)
		return -EROFS;
	if (s->in_txn)
		return -EINVAL;
	err = store_prepare(s, events_prune_sql, &st, "cannot prepare an events statement");
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, before_ms);
	sqlite3_bind_int64(st, 2, max && max < INT64_MAX ? (int64_t)max : -1);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_db_error(s, "cannot prune the events");
	else
		*deleted = (size_t)sqlite3_changes(s->db);
	sqlite3_finalize(st);
	return err;
}
