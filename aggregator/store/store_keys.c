/*
 * The api_keys table: one row per API key ever made, revoked ones kept (the
 * audit log names them by id). Only the key's SHA-256 is stored; the key
 * registry (aggregator/auth/keys.c) reads the whole table at start and
 * answers every lookup from memory, so these statements run only when a
 * key is made, revoked, or its last use is written back.
 *
 * Writes are the writer's, in autocommit mode, refused on a reader
 * (-EROFS) and inside store_begin()/store_commit() (-EINVAL), as for the
 * policies (store_policies.c). Arguments are checked before anything is
 * written (-EINVAL).
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KEY_FIELDS                                                                     \
	"tenant, name, description, role, hash, per_minute, per_hour, created_ms, " \
	"last_used_ms, revoked_ms"

static const char key_insert_sql[] =
	"INSERT INTO api_keys (" KEY_FIELDS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char keys_list_sql[] = "SELECT id, " KEY_FIELDS " FROM api_keys ORDER BY id";
static const char key_revoke_sql[] = "UPDATE api_keys SET revoked_ms = ?3"
				     " WHERE id = ?1 AND tenant = ?2 AND revoked_ms = 0";
static const char key_touch_sql[] =
	"UPDATE api_keys SET last_used_ms = ?2 WHERE id = ?1 AND last_used_ms < ?2";

static int writable(const struct store *s)
{
	if (s->read_only)
		return -EROFS;
	return s->in_txn ? -EINVAL : 0;
}

static bool key_ok(const struct store_key *k)
{
	return k->id == 0 && store_name_ok(k->tenant, sizeof(k->tenant)) &&
	       store_name_ok(k->name, sizeof(k->name)) &&
	       strnlen(k->description, sizeof(k->description)) < sizeof(k->description) &&
	       k->role >= 1 && k->role <= 3 && k->per_minute <= INT64_MAX &&
	       k->per_hour <= INT64_MAX && k->created_ms >= 0 && k->last_used_ms >= 0 &&
	       k->revoked_ms >= 0;
}

int store_key_insert(struct store *s, struct store_key *k)
{
	sqlite3_stmt *st;
	int err = writable(s);

	if (err)
		return err;
	if (!key_ok(k))
		return -EINVAL;
	err = store_prepare(s, key_insert_sql, &st, "cannot prepare an api_keys statement");
	if (err)
		return err;
	store_bind_name(st, 1, k->tenant, sizeof(k->tenant));
	store_bind_name(st, 2, k->name, sizeof(k->name));
	sqlite3_bind_text(st, 3, k->description, (int)strlen(k->description), SQLITE_STATIC);
	sqlite3_bind_int(st, 4, k->role);
	sqlite3_bind_blob(st, 5, k->hash, sizeof(k->hash), SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (int64_t)k->per_minute);
	sqlite3_bind_int64(st, 7, (int64_t)k->per_hour);
	sqlite3_bind_int64(st, 8, k->created_ms);
	sqlite3_bind_int64(st, 9, k->last_used_ms);
	sqlite3_bind_int64(st, 10, k->revoked_ms);
	return store_step_put(s, st, &k->id, "the API key");
}

static void read_row(sqlite3_stmt *st, struct store_key *k)
{
	const void *hash = sqlite3_column_blob(st, 5);

	memset(k, 0, sizeof(*k));
	k->id = sqlite3_column_int64(st, 0);
	store_column_name(st, 1, k->tenant, sizeof(k->tenant));
	store_column_name(st, 2, k->name, sizeof(k->name));
	store_column_name(st, 3, k->description, sizeof(k->description));
	k->role = sqlite3_column_int(st, 4);
	if (hash && sqlite3_column_bytes(st, 5) == (int)sizeof(k->hash))
		memcpy(k->hash, hash, sizeof(k->hash));
	k->per_minute = (uint64_t)sqlite3_column_int64(st, 6);
	k->per_hour = (uint64_t)sqlite3_column_int64(st, 7);
	k->created_ms = sqlite3_column_int64(st, 8);
	k->last_used_ms = sqlite3_column_int64(st, 9);
	k->revoked_ms = sqlite3_column_int64(st, 10);
}

int store_keys_list(struct store *s, struct store_key **out, size_t *n)
{
	struct store_key *v = NULL;
	size_t len = 0, alloc = 0;
	sqlite3_stmt *st;
	int rc, err;

	*out = NULL;
	*n = 0;
	err = store_prepare(s, keys_list_sql, &st, "cannot prepare an api_keys statement");
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = store_grow(v, len, &alloc, sizeof(*v));
		read_row(st, &v[len++]);
	}
	if (rc != SQLITE_DONE) {
		err = store_db_error(s, "cannot list the API keys");
		sqlite3_finalize(st);
		free(v);
		return err;
	}
	sqlite3_finalize(st);
	*out = v;
	*n = len;
	return 0;
}

/* Steps an UPDATE (bound; finalized here): 0, -ENOENT when it changed no row, or -EIO. */
static int update_one(struct store *s, sqlite3_stmt *st, const char *what)
{
	int err = 0;

	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_db_error(s, what);
	else if (sqlite3_changes(s->db) == 0)
		err = -ENOENT;
	sqlite3_finalize(st);
	return err;
}

int store_key_revoke(struct store *s, const char *tenant, int64_t id, int64_t at_ms)
{
	sqlite3_stmt *st;
	int err = writable(s);

	if (err)
		return err;
	if (!store_name_ok(tenant, FRAME_ID_MAX) || at_ms <= 0)
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;
	err = store_prepare(s, key_revoke_sql, &st, "cannot prepare an api_keys statement");
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	store_bind_name(st, 2, tenant, FRAME_ID_MAX);
	sqlite3_bind_int64(st, 3, at_ms);
	return update_one(s, st, "cannot revoke the API key");
}

int store_key_touch(struct store *s, int64_t id, int64_t at_ms)
{
	sqlite3_stmt *st;
	int err = writable(s);

	if (err)
		return err;
	if (id <= 0 || at_ms < 0)
		return -EINVAL;
	err = store_prepare(s, key_touch_sql, &st, "cannot prepare an api_keys statement");
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, at_ms);
	err = update_one(s, st, "cannot record the API key's use");
	return err == -ENOENT ? 0 : err; /* an older use than the one kept changes nothing */
}
