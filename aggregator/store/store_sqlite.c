/*
 * The SQLite store: opening (WAL, synchronous=FULL for the writer, a busy
 * timeout, foreign keys, migrations), the prepared-statement cache, the
 * transactions of the ingest path and the tenant rollup state. Every SQL
 * statement the store runs, but the migrations, is in the table below, is
 * prepared once per struct store on first use and kept until store_close().
 *
 * A struct store is used by one thread at a time (SQLITE_OPEN_NOMUTEX).
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"

#define STORE_BUSY_TIMEOUT_MS 10000
#define STORE_BLOB_MAX_BYTES  (64u << 20)

/* Columns of a windows row as store_agg_add_row() reads them: keep in step. */
#define WIN_SCALARS                                                                                \
	"requests, errors, syscalls, syscall_errors, tcp_retransmits, tcp_resets,"                 \
	" tcp_connect_failures"
#define WIN_SUM_COLS WIN_SCALARS ", latency"
/* raw rows: the routes in place of the latency (STORE_ROW_RAW) */
#define RAW_SUM_COLS WIN_SCALARS ", route_detail"

#define METRIC_BINS "b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14"
#define METRIC_ADD(c) #c " = " #c " + excluded." #c

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_AGENT_LAST_SEQ] = "SELECT last_seq FROM agents WHERE tenant = ?1 AND agent_id = ?2",
	[STMT_AGENT_PUT_SEQ] =
		"INSERT INTO agents (tenant, agent_id, host, first_seen_ms, last_seen_ms, frames,"
		" last_seq) VALUES (?1, ?2, ?3, ?4, ?4, 1, ?5)"
		" ON CONFLICT (tenant, agent_id) DO UPDATE SET frames = frames + 1,"
		" last_seq = excluded.last_seq",
	[STMT_AGENT_UPDATE] =
		"INSERT INTO agents (tenant, agent_id, host, version, connected, first_seen_ms,"
		" last_seen_ms, spool_bytes, spool_lost)"
		" VALUES (?1, ?2, ?3, ?4, ?5, iif(?6 > 0, ?6, ?7), ?7, ?8, ?9)"
		" ON CONFLICT (tenant, agent_id) DO UPDATE SET"
		" host = iif(excluded.host <> '', excluded.host, host),"
		" version = excluded.version, connected = excluded.connected,"
		" first_seen_ms = iif(?6 > 0 AND (first_seen_ms = 0 OR ?6 < first_seen_ms), ?6,"
		" iif(first_seen_ms = 0, excluded.last_seen_ms, first_seen_ms)),"
		" last_seen_ms = excluded.last_seen_ms, spool_bytes = excluded.spool_bytes,"
		" spool_lost = excluded.spool_lost",
	[STMT_AGENTS_ALL] = "SELECT tenant, agent_id, host, version, connected, first_seen_ms,"
			    " last_seen_ms, frames, last_seq, spool_bytes, spool_lost FROM agents"
			    " ORDER BY agent_id, tenant",
	[STMT_AGENTS_TENANT] = "SELECT tenant, agent_id, host, version, connected, first_seen_ms,"
			       " last_seen_ms, frames, last_seq, spool_bytes, spool_lost FROM agents"
			       " WHERE tenant = ?1 ORDER BY agent_id",
	[STMT_RAW_INSERT] =
		"INSERT INTO raw_windows (tenant, service, host, end_ms, agent_id, interval_ms,"
		" requests, errors, syscalls, syscall_errors, tcp_retransmits, tcp_resets,"
		" tcp_connect_failures, syscall_detail, route_detail)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?15, ?16)",
	[STMT_CALL_INSERT] = "INSERT INTO raw_calls (tenant, src, dst, end_ms, count, errors,"
			     " latency) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[STMT_SEEN_UPSERT] =
		"INSERT INTO service_hosts (tenant, service, host, first_seen_ms, last_seen_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant, service, host) DO UPDATE SET"
		" first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),"
		" last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
	[STMT_TENANT_ENSURE] = "INSERT OR IGNORE INTO tenant_state (tenant) VALUES (?1)",
	[STMT_TENANT_GET] = "SELECT win_end_ms, win_rowid, call_end_ms, call_rowid, raw_floor_ms"
			    " FROM tenant_state WHERE tenant = ?1",
	[STMT_TENANT_LIST] = "SELECT tenant FROM tenant_state ORDER BY tenant",
	[STMT_TENANT_SET_WIN] =
		"UPDATE tenant_state SET win_end_ms = ?2, win_rowid = ?3 WHERE tenant = ?1",
	[STMT_TENANT_SET_CALL] =
		"UPDATE tenant_state SET call_end_ms = ?2, call_rowid = ?3 WHERE tenant = ?1",
	[STMT_TENANT_SET_FLOOR] = "UPDATE tenant_state SET raw_floor_ms = ?2 WHERE tenant = ?1",
	[STMT_MINUTE_GET] = "SELECT windows, " WIN_SUM_COLS ", syscall_detail, route_detail"
			    " FROM minute_windows"
			    " WHERE tenant = ?1 AND service = ?2 AND minute_ms = ?3",
	[STMT_MINUTE_PUT] =
		"INSERT INTO minute_windows (tenant, service, minute_ms, windows, " WIN_SUM_COLS
		", syscall_detail, route_detail)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
		" ON CONFLICT (tenant, service, minute_ms) DO UPDATE SET"
		" windows = excluded.windows, requests = excluded.requests,"
		" errors = excluded.errors, syscalls = excluded.syscalls,"
		" syscall_errors = excluded.syscall_errors,"
		" tcp_retransmits = excluded.tcp_retransmits, tcp_resets = excluded.tcp_resets,"
		" tcp_connect_failures = excluded.tcp_connect_failures,"
		" latency = excluded.latency, syscall_detail = excluded.syscall_detail,"
		" route_detail = excluded.route_detail",
	[STMT_MCALL_GET] = "SELECT count, errors, latency FROM minute_calls"
			   " WHERE tenant = ?1 AND minute_ms = ?2 AND src = ?3 AND dst = ?4",
	[STMT_MCALL_PUT] =
		"INSERT INTO minute_calls (tenant, src, dst, minute_ms, count, errors, latency)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		" ON CONFLICT (tenant, minute_ms, src, dst) DO UPDATE SET"
		" count = excluded.count, errors = excluded.errors, latency = excluded.latency",
	/* rows after the cursor (?2, ?3) in (end_ms, rowid) order, of whole minutes before ?4 */
	[STMT_ROLL_WINDOWS] =
		"SELECT rowid, service, end_ms, 1, " RAW_SUM_COLS ", syscall_detail, route_detail"
		" FROM raw_windows INDEXED BY raw_windows_time"
		" WHERE tenant = ?1 AND end_ms >= ?2 AND (end_ms > ?2 OR rowid > ?3)"
		" AND end_ms < ?4 ORDER BY end_ms, rowid LIMIT ?5",
	[STMT_ROLL_CALLS] = "SELECT rowid, src, dst, end_ms, count, errors, latency"
			    " FROM raw_calls INDEXED BY raw_calls_time"
			    " WHERE tenant = ?1 AND end_ms >= ?2 AND (end_ms > ?2 OR rowid > ?3)"
			    " AND end_ms < ?4 ORDER BY end_ms, rowid LIMIT ?5",
	[STMT_DEL_RAW] = "DELETE FROM raw_windows WHERE rowid IN (SELECT rowid FROM raw_windows"
			 " INDEXED BY raw_windows_time WHERE tenant = ?1 AND end_ms < ?2 LIMIT ?3)",
	[STMT_DEL_CALLS] = "DELETE FROM raw_calls WHERE rowid IN (SELECT rowid FROM raw_calls"
			   " WHERE tenant = ?1 AND end_ms < ?2 LIMIT ?3)",
	[STMT_DEL_MINUTE] = "DELETE FROM minute_windows WHERE rowid IN (SELECT rowid"
			    " FROM minute_windows INDEXED BY minute_windows_time"
			    " WHERE tenant = ?1 AND minute_ms < ?2 LIMIT ?3)",
	[STMT_DEL_MCALLS] = "DELETE FROM minute_calls WHERE rowid IN (SELECT rowid FROM"
			    " minute_calls WHERE tenant = ?1 AND minute_ms < ?2 LIMIT ?3)",
	[STMT_DEL_SEEN] = "DELETE FROM service_hosts WHERE last_seen_ms < ?1",
	[STMT_SERVICE_EXISTS] = "SELECT 1 FROM service_hosts WHERE tenant = ?1 AND service = ?2"
				" LIMIT 1",
	[STMT_SERVICES] = "SELECT service, host, first_seen_ms, last_seen_ms FROM service_hosts"
			  " WHERE tenant = ?1 ORDER BY service, host",
	[STMT_SERVICE_LAST] = "SELECT max(end_ms) FROM raw_windows"
			      " WHERE tenant = ?1 AND service = ?2",
	[STMT_SUM_RAW] = "SELECT end_ms, 1, " RAW_SUM_COLS ", syscall_detail FROM raw_windows"
			 " INDEXED BY raw_windows_service"
			 " WHERE tenant = ?1 AND service = ?2 AND end_ms >= ?3 AND end_ms < ?4",
	[STMT_SUM_MINUTE] = "SELECT minute_ms, windows, " WIN_SUM_COLS ", syscall_detail"
			    " FROM minute_windows WHERE tenant = ?1 AND service = ?2"
			    " AND minute_ms >= ?3 AND minute_ms < ?4",
	[STMT_SERIES_RAW] = "SELECT end_ms, 1, " RAW_SUM_COLS " FROM raw_windows"
			    " INDEXED BY raw_windows_service"
			    " WHERE tenant = ?1 AND service = ?2 AND end_ms >= ?3 AND end_ms < ?4"
			    " ORDER BY end_ms",
	[STMT_SERIES_MINUTE] = "SELECT minute_ms, windows, " WIN_SUM_COLS " FROM minute_windows"
			       " WHERE tenant = ?1 AND service = ?2"
			       " AND minute_ms >= ?3 AND minute_ms < ?4 ORDER BY minute_ms",
	[STMT_TOPOLOGY] = "SELECT src, dst, count, errors, latency FROM raw_calls"
			  " WHERE tenant = ?1 AND end_ms >= ?2 AND end_ms < ?3"
			  " UNION ALL SELECT src, dst, count, errors, latency FROM minute_calls"
			  " WHERE tenant = ?1 AND minute_ms >= ?4 AND minute_ms < ?5"
			  " ORDER BY 1, 2",
	[STMT_METRIC_UPSERT] =
		"INSERT INTO metric_counters (tenant, service, family, l1, l2, l3, count, errors,"
		" sum_ns, " METRIC_BINS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
		" ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)"
		" ON CONFLICT (tenant, service, family, l1, l2, l3) DO UPDATE SET "
		METRIC_ADD(count) ", " METRIC_ADD(errors) ", " METRIC_ADD(sum_ns) ", "
		METRIC_ADD(b0) ", " METRIC_ADD(b1) ", " METRIC_ADD(b2) ", " METRIC_ADD(b3) ", "
		METRIC_ADD(b4) ", " METRIC_ADD(b5) ", " METRIC_ADD(b6) ", " METRIC_ADD(b7) ", "
		METRIC_ADD(b8) ", " METRIC_ADD(b9) ", " METRIC_ADD(b10) ", " METRIC_ADD(b11) ", "
		METRIC_ADD(b12) ", " METRIC_ADD(b13) ", " METRIC_ADD(b14),
	[STMT_METRIC_SERIES] = "SELECT family, l1, l2, l3 FROM metric_counters"
			       " WHERE tenant = ?1 AND service = ?2 AND family IN (1, 2)",
	[STMT_METRICS_TENANT] = "SELECT service, family, l1, l2, l3, count, errors, sum_ns, "
				METRIC_BINS " FROM metric_counters WHERE tenant = ?1"
				" ORDER BY family, service, l1, l2, l3",
};

int store_db_error(struct store *s, const char *what)
{
	log_error("store: %s: %s (%d) db=%s", what, sqlite3_errmsg(s->db),
		  sqlite3_extended_errcode(s->db), s->path);
	return -EIO;
}

int store_step_put(struct store *s, sqlite3_stmt *st, int64_t *id, const char *what)
{
	bool insert = *id == 0;
	char msg[96];
	int err = 0;

	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE) {
			err = -EEXIST;
		} else {
			snprintf(msg, sizeof(msg), "cannot %s %s", insert ? "record" : "update",
				 what);
			err = store_db_error(s, msg);
		}
	} else if (insert) {
		*id = sqlite3_last_insert_rowid(s->db);
	} else if (sqlite3_changes(s->db) == 0) {
		err = -ENOENT;
	}
	sqlite3_finalize(st);
	return err;
}

sqlite3_stmt *store_stmt(struct store *s, enum store_stmt_id id)
{
	sqlite3_stmt *st = s->stmts[id];

	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return st;
	}
	if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
	    SQLITE_OK) {
		store_db_error(s, "cannot prepare a statement");
		return NULL;
	}
	s->stmts[id] = st;
	return st;
}

int store_exec(struct store *s, const char *sql)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_db_error(s, "cannot run SQL");
	return 0;
}

int store_step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_db_error(s, what);
	return 0;
}

int store_bind_name(sqlite3_stmt *st, int i, const char *v, size_t cap)
{
	return sqlite3_bind_text(st, i, v, (int)strnlen(v, cap - 1), SQLITE_STATIC);
}

bool store_name_ok(const char *v, size_t cap)
{
	return v && v[0] && strnlen(v, cap) < cap;
}

int64_t store_floor_minute(int64_t t_ms)
{
	int64_t r = t_ms % STORE_MINUTE_MS;

	return t_ms - (r < 0 ? r + STORE_MINUTE_MS : r);
}

/* ---- opening ---- */

static int set_pragmas(struct store *s)
{
	sqlite3_stmt *st;
	const char *mode;
	int err = 0;

	if (sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK)
		return store_db_error(s, "cannot set the busy timeout");
	if (s->read_only)
		return store_exec(s, "PRAGMA foreign_keys = ON; PRAGMA query_only = ON;"
				     " PRAGMA temp_store = MEMORY");
	/* on a new database only: 16 KiB pages hold several windows of a few KiB each */
	err = store_exec(s, "PRAGMA page_size = 16384");
	if (err)
		return err;
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK)
		return store_db_error(s, "cannot set WAL mode");
	if (sqlite3_step(st) != SQLITE_ROW)
		err = store_db_error(s, "cannot set WAL mode");
	mode = err ? NULL : (const char *)sqlite3_column_text(st, 0);
	if (!err && (!mode || strcasecmp(mode, "wal"))) {
		log_error("store: '%s' refuses WAL mode (%s)", s->path, mode ? mode : "?");
		err = -EIO;
	}
	sqlite3_finalize(st);
	if (err)
		return err;
	/*
	 * FULL: a commit is on disk when store_commit() returns, so the frames
	 * may be acknowledged. A 64 MiB page cache keeps the hot right edge of
	 * every index in memory while ingest appends to it.
	 */
	return store_exec(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
			     " PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536");
}

int store_open(struct store **out, const struct store_options *o)
{
	struct store *s;
	int flags, err;

	*out = NULL;
	if (!o || !o->dir || !o->dir[0])
		return -EINVAL;
	s = xcalloc(1, sizeof(*s));
	s->path = xasprintf("%s/prp.db", o->dir);
	s->read_only = o->read_only;
	s->raw_hours = o->raw_hours ? o->raw_hours : 24;
	s->minute_days = o->minute_days ? o->minute_days : 14;
	s->metric_series_max = o->metric_series_max;
	buf_init(&s->latency, STORE_BLOB_MAX_BYTES);
	buf_init(&s->syscalls, STORE_BLOB_MAX_BYTES);
	buf_init(&s->routes, STORE_BLOB_MAX_BYTES);
	buf_init(&s->viewbuf, FRAME_PAYLOAD_MAX);
	hist_init(&s->scratch);

	if (s->read_only && access(s->path, F_OK)) {
		err = -errno;
		log_error_err(err, "store: cannot open '%s'", s->path);
		goto out_free;
	}
	flags = SQLITE_OPEN_NOMUTEX |
		(s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK) {
		err = s->db ? store_db_error(s, "cannot open the database") : -ENOMEM;
		goto out_free;
	}
	sqlite3_extended_result_codes(s->db, 1);
	err = set_pragmas(s);
	if (err)
		goto out_free;
	err = store_schema_migrate(s);
	if (err)
		goto out_free;
	*out = s;
	return 0;

out_free:
	store_close(s);
	return err;
}

static void tenants_forget(struct store *s)
{
	free(s->tenants);
	s->tenants = NULL;
	s->ntenants = 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->in_txn)
		store_rollback(s);
	for (size_t i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		store_db_error(s, "cannot close the database");
	tenants_forget(s);
	store_ingest_release(s);
	store_metrics_release(s);
	buf_release(&s->latency);
	buf_release(&s->syscalls);
	buf_release(&s->routes);
	buf_release(&s->viewbuf);
	hist_release(&s->scratch);
	free(s->path);
	free(s);
}

/* ---- transactions ---- */

int store_begin(struct store *s)
{
	int err;

	if (s->read_only || s->in_txn)
		return -EINVAL;
	/* IMMEDIATE: the write lock now, so the tenant state read in it stays true */
	err = store_exec(s, "BEGIN IMMEDIATE");
	if (err)
		return err;
	s->in_txn = true;
	tenants_forget(s);
	return 0;
}

int store_commit(struct store *s)
{
	int err;

	if (!s->in_txn)
		return -EINVAL;
	err = store_ingest_flush(s) ?: store_metrics_flush(s);
	if (err)
		return err;
	err = store_exec(s, "COMMIT");
	if (err)
		return err;
	s->in_txn = false;
	tenants_forget(s);
	return 0;
}

void store_rollback(struct store *s)
{
	if (!s || !s->in_txn)
		return;
	if (sqlite3_get_autocommit(s->db) == 0 &&
	    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		store_db_error(s, "cannot roll back");
	s->in_txn = false;
	tenants_forget(s);
	/* the caches may hold what was just undone */
	store_ingest_discard(s);
	store_metrics_discard(s);
}

/* ---- tenant state ---- */

int store_tenant_load(struct store *s, const char *tenant, struct store_tenant *t)
{
	sqlite3_stmt *st = store_stmt(s, STMT_TENANT_GET);
	int rc;

	if (!st)
		return -EIO;
	memset(t, 0, sizeof(*t));
	snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		t->win_end_ms = sqlite3_column_int64(st, 0);
		t->win_rowid = sqlite3_column_int64(st, 1);
		t->call_end_ms = sqlite3_column_int64(st, 2);
		t->call_rowid = sqlite3_column_int64(st, 3);
		t->raw_floor_ms = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : store_db_error(s, "cannot read the tenant state");
}

int store_tenant_get(struct store *s, const char *tenant, struct store_tenant **out)
{
	sqlite3_stmt *st;
	int err;

	for (size_t i = 0; i < s->ntenants; i++) {
		if (!strcmp(s->tenants[i].tenant, tenant)) {
			*out = &s->tenants[i];
			return 0;
		}
	}
	st = store_stmt(s, STMT_TENANT_ENSURE);
	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	err = store_step_done(s, st, "cannot create the tenant state");
	if (err)
		return err;
	/* a transaction touches a few tenants: the array grows by one, callers copy nothing */
	s->tenants = xreallocarray(s->tenants, s->ntenants + 1, sizeof(*s->tenants));
	err = store_tenant_load(s, tenant, &s->tenants[s->ntenants]);
	if (err)
		return err == -ENOENT ? -EIO : err;
	*out = &s->tenants[s->ntenants++];
	return 0;
}

/* ---- size ---- */

static int64_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) ? 0 : (int64_t)sb.st_size;
}

int64_t store_size_bytes(struct store *s)
{
	char *wal = xasprintf("%s-wal", s->path);
	int64_t n = file_size(s->path) + file_size(wal);

	free(wal);
	return n;
}
