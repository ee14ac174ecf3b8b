/*
 * The agents table, keyed (tenant, agent_id): status as the agent last
 * reported it (store_agent_update) and, written only by store_put_windows()
 * in the transaction of the windows, the last stored sequence number and
 * the number of frames stored.
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

int store_agent_last_seq(struct store *s, const char *tenant, const char *agent_id,
			 uint64_t *seq)
{
	sqlite3_stmt *st;
	int rc;

	*seq = 0;
	if (!store_name_ok(tenant, FRAME_ID_MAX) || !store_name_ok(agent_id, FRAME_ID_MAX))
		return -EINVAL;
	st = store_stmt(s, STMT_AGENT_LAST_SEQ);
	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, agent_id, FRAME_ID_MAX);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_db_error(s, "cannot read the agent's sequence number");
	return 0;
}

int store_agent_update(struct store *s, const struct store_agent *a)
{
	sqlite3_stmt *st;

	if (s->read_only || !store_name_ok(a->tenant, sizeof(a->tenant)) ||
	    !store_name_ok(a->agent_id, sizeof(a->agent_id)))
		return -EINVAL;
	st = store_stmt(s, STMT_AGENT_UPDATE);
	if (!st)
		return -EIO;
	store_bind_name(st, 1, a->tenant, sizeof(a->tenant));
	store_bind_name(st, 2, a->agent_id, sizeof(a->agent_id));
	store_bind_name(st, 3, a->host, sizeof(a->host));
	store_bind_name(st, 4, a->version, sizeof(a->version));
	sqlite3_bind_int(st, 5, a->connected);
	sqlite3_bind_int64(st, 6, a->first_seen_ms);
	sqlite3_bind_int64(st, 7, a->last_seen_ms);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)a->spool_bytes);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)a->spool_lost);
	return store_step_done(s, st, "cannot record the agent");
}

static void column_name(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *v = sqlite3_column_text(st, i);

	snprintf(dst, cap, "%s", v ? (const char *)v : "");
}

int store_agents(struct store *s, const char *tenant, struct store_agent **out, size_t *n)
{
	struct store_agent *v = NULL, *a;
	size_t len = 0, alloc = 0;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if (tenant && !store_name_ok(tenant, FRAME_ID_MAX))
		return -EINVAL;
	st = store_stmt(s, tenant ? STMT_AGENTS_TENANT : STMT_AGENTS_ALL);
	if (!st)
		return -EIO;
	if (tenant)
		store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = store_grow(v, len, &alloc, sizeof(*v));
		a = &v[len++];
		memset(a, 0, sizeof(*a));
		column_name(st, 0, a->tenant, sizeof(a->tenant));
		column_name(st, 1, a->agent_id, sizeof(a->agent_id));
		column_name(st, 2, a->host, sizeof(a->host));
		column_name(st, 3, a->version, sizeof(a->version));
		a->connected = sqlite3_column_int(st, 4) != 0;
		a->first_seen_ms = sqlite3_column_int64(st, 5);
		a->last_seen_ms = sqlite3_column_int64(st, 6);
		a->frames = (uint64_t)sqlite3_column_int64(st, 7);
		a->last_seq = (uint64_t)sqlite3_column_int64(st, 8);
		a->spool_bytes = (uint64_t)sqlite3_column_int64(st, 9);
		a->spool_lost = (uint64_t)sqlite3_column_int64(st, 10);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return store_db_error(s, "cannot list the agents");
	}
	*out = v;
	*n = len;
	return 0;
}
