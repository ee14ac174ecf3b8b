/*
 * The schema and its migrations. migrations[i] takes the database from
 * version i to i + 1; each runs in its own transaction together with the
 * update of `schema_version`, so a crash leaves either version. A database
 * newer than this build is refused (its tables may mean something else);
 * a reader refuses any version but this build's, since it may not migrate.
 *
 * Indexes are only those the queries of store_query.c and store_maintain.c
 * use: every raw read is (tenant, service, end_ms) or (tenant, end_ms).
 * A raw window keeps no merged latency: it is the merge of its routes', and
 * leaving it out saves a fifth of the bytes and of the CPU of ingest.
 * Counters are SQLite INTEGERs (signed 64 bits): a uint64_t is stored by its
 * bits and read back the same way.
 *
 * Anomalies (migration 2, store_anomalies.c) are listed newest first within
 * a tenant, optionally only the open or only the resolved ones: the indexes
 * (tenant, id) and (tenant, open, id) serve both without a sort. Their other
 * filters (service, metric, severity, started_ms) are checked on the rows
 * those indexes yield: a tenant has few anomalies next to its windows. Ids
 * are AUTOINCREMENT so that an id, once handed out (it is in URLs and
 * events), never names another anomaly, even after rows are deleted.
 *
 * Policies, actions and the audit log (migration 3, store_policies.c,
 * store_actions.c, store_audit.c) have AUTOINCREMENT ids for the same
 * reason. A policy's name is unique within its tenant: the UNIQUE (tenant,
 * name) index is both the rule and what finds a policy by name (a tenant's
 * list is sorted by id from it: a tenant has few policies). Actions and
 * audit lines are listed newest first within a tenant through (tenant, id);
 * the hourly brake counts a tenant's recent actions through (tenant,
 * created_ms), checking the status on the few rows of that range. Like the
 * anomalies' filters, the other action filters (service, type, policy,
 * status) are checked on the rows the index yields.
 *
 * API keys (migration 4, store_keys.c) are few and read whole at start by
 * the key registry (aggregator/auth/keys.c), which looks them up in memory;
 * the UNIQUE hash is the only index, and it makes a (vanishingly unlikely)
 * duplicate key an error rather than an ambiguity.
 *
 * Events (migration 5, store_events.c) are read by tenant and id after a
 * resume point (events_tenant, migration 7: without it, one tenant's resume
 * would walk every other tenant's events) and pruned by time (events_time).
 *
 * The counters of /metrics (migration 8, store_metrics.c) are read whole per
 * tenant at each scrape and upserted by their primary key at each ingest
 * commit; they start at zero when the migration runs (the windows stored
 * before it are not counted into them).
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdio.h>

#include "common/compiler.h"
#include "common/log.h"

static const char *const migrations[] = {
	/* 1: windows, calls, their minute rollups, agents, services */
	"CREATE TABLE agents ("
	" tenant TEXT NOT NULL, agent_id TEXT NOT NULL,"
	" host TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '',"
	" connected INTEGER NOT NULL DEFAULT 0,"
	" first_seen_ms INTEGER NOT NULL DEFAULT 0, last_seen_ms INTEGER NOT NULL DEFAULT 0,"
	" frames INTEGER NOT NULL DEFAULT 0, last_seq INTEGER NOT NULL DEFAULT 0,"
	" spool_bytes INTEGER NOT NULL DEFAULT 0, spool_lost INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (tenant, agent_id)) WITHOUT ROWID;"
	"CREATE TABLE tenant_state ("
	" tenant TEXT NOT NULL PRIMARY KEY,"
	" win_end_ms INTEGER NOT NULL DEFAULT 0, win_rowid INTEGER NOT NULL DEFAULT 0,"
	" call_end_ms INTEGER NOT NULL DEFAULT 0, call_rowid INTEGER NOT NULL DEFAULT 0,"
	" raw_floor_ms INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE TABLE service_hosts ("
	" tenant TEXT NOT NULL, service TEXT NOT NULL, host TEXT NOT NULL,"
	" first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,"
	" PRIMARY KEY (tenant, service, host)) WITHOUT ROWID;"
	"CREATE TABLE raw_windows ("
	" tenant TEXT NOT NULL, service TEXT NOT NULL, host TEXT NOT NULL,"
	" end_ms INTEGER NOT NULL, agent_id TEXT NOT NULL, interval_ms INTEGER NOT NULL,"
	" requests INTEGER NOT NULL, errors INTEGER NOT NULL,"
	" syscalls INTEGER NOT NULL, syscall_errors INTEGER NOT NULL,"
	" tcp_retransmits INTEGER NOT NULL, tcp_resets INTEGER NOT NULL,"
	" tcp_connect_failures INTEGER NOT NULL,"
	" syscall_detail BLOB NOT NULL, route_detail BLOB NOT NULL);"
	"CREATE INDEX raw_windows_service ON raw_windows (tenant, service, end_ms);"
	"CREATE INDEX raw_windows_time ON raw_windows (tenant, end_ms);"
	"CREATE TABLE raw_calls ("
	" tenant TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL, end_ms INTEGER NOT NULL,"
	" count INTEGER NOT NULL, errors INTEGER NOT NULL, latency BLOB NOT NULL);"
	"CREATE INDEX raw_calls_time ON raw_calls (tenant, end_ms);"
	"CREATE TABLE minute_windows ("
	" tenant TEXT NOT NULL, service TEXT NOT NULL, minute_ms INTEGER NOT NULL,"
	" windows INTEGER NOT NULL, requests INTEGER NOT NULL, errors INTEGER NOT NULL,"
	" syscalls INTEGER NOT NULL, syscall_errors INTEGER NOT NULL,"
	" tcp_retransmits INTEGER NOT NULL, tcp_resets INTEGER NOT NULL,"
	" tcp_connect_failures INTEGER NOT NULL,"
	" latency BLOB NOT NULL, syscall_detail BLOB NOT NULL, route_detail BLOB NOT NULL,"
	" UNIQUE (tenant, service, minute_ms));"
	"CREATE INDEX minute_windows_time ON minute_windows (tenant, minute_ms);"
	"CREATE TABLE minute_calls ("
	" tenant TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL,"
	" minute_ms INTEGER NOT NULL, count INTEGER NOT NULL, errors INTEGER NOT NULL,"
	" latency BLOB NOT NULL, PRIMARY KEY (tenant, minute_ms, src, dst));",
	/* 2: anomalies; evidence and details are JSON text, NULL for none */
	"CREATE TABLE anomalies ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" tenant TEXT NOT NULL, service TEXT NOT NULL, metric TEXT NOT NULL,"
	" severity INTEGER NOT NULL, open INTEGER NOT NULL,"
	" score REAL NOT NULL, confidence REAL NOT NULL,"
	" current_value REAL NOT NULL, peak_value REAL NOT NULL,"
	" expected_min REAL NOT NULL, expected_max REAL NOT NULL, expected_mean REAL NOT NULL,"
	" started_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
	" resolved_ms INTEGER NOT NULL DEFAULT 0,"
	" evidence TEXT, details TEXT);"
	"CREATE INDEX anomalies_tenant ON anomalies (tenant, id);"
	"CREATE INDEX anomalies_open ON anomalies (tenant, open, id);",
	/* 3: policies, actions, the audit log; the TEXT columns that may be NULL hold none */
	"CREATE TABLE policies ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" tenant TEXT NOT NULL, name TEXT NOT NULL, enabled INTEGER NOT NULL,"
	" source TEXT NOT NULL, origin TEXT,"
	" created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
	" UNIQUE (tenant, name));"
	"CREATE TABLE actions ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" tenant TEXT NOT NULL, policy_name TEXT NOT NULL, service TEXT NOT NULL,"
	" type TEXT NOT NULL, parameters TEXT, reason TEXT, status INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL,"
	" completed_ms INTEGER NOT NULL, result TEXT, logs TEXT);"
	"CREATE INDEX actions_tenant ON actions (tenant, id);"
	"CREATE INDEX actions_created ON actions (tenant, created_ms);"
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" tenant TEXT NOT NULL, at_ms INTEGER NOT NULL, actor TEXT NOT NULL,"
	" action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT);"
	"CREATE INDEX audit_tenant ON audit (tenant, id);",
	/* 4: API keys, by the SHA-256 of the key (the key itself is never stored) */
	"CREATE TABLE api_keys ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" tenant TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
	" role INTEGER NOT NULL, hash BLOB NOT NULL UNIQUE,"
	" per_minute INTEGER NOT NULL DEFAULT 0, per_hour INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL, last_used_ms INTEGER NOT NULL DEFAULT 0,"
	" revoked_ms INTEGER NOT NULL DEFAULT 0);",
	/* 5: the event bus's events, each as sent (JSON), for subscribers that resume */
	"CREATE TABLE events ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" tenant TEXT NOT NULL, at_ms INTEGER NOT NULL, type INTEGER NOT NULL,"
	" severity INTEGER NOT NULL, service TEXT NOT NULL, json TEXT NOT NULL);"
	"CREATE INDEX events_time ON events (at_ms);",
	/*
	 * 6: webhooks, their deliveries and the dispatch cursor (store_webhooks.c).
	 * The senders take each enabled hook's oldest pending delivery: the
	 * partial index (webhook_id, id) WHERE status = 0 (pending) holds only
	 * the few pending rows, whatever the history. A hook's deliveries and a
	 * tenant's are listed newest first through (webhook_id, id) and (tenant,
	 * id); finished ones are pruned by created_ms. The cursor is one row, the
	 * last bus event turned into deliveries, written in the transaction that
	 * adds them; it starts at the newest event there is, since no hook
	 * existed before.
	 */
	"CREATE TABLE webhooks ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" tenant TEXT NOT NULL, url TEXT NOT NULL, events INTEGER NOT NULL, secret TEXT,"
	" enabled INTEGER NOT NULL, headers TEXT, format INTEGER NOT NULL, routing_key TEXT,"
	" created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
	"CREATE INDEX webhooks_tenant ON webhooks (tenant, id);"
	"CREATE TABLE webhook_deliveries ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" webhook_id INTEGER NOT NULL, tenant TEXT NOT NULL, event_id INTEGER NOT NULL,"
	" type INTEGER NOT NULL, body TEXT NOT NULL, status INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL, next_attempt_ms INTEGER NOT NULL,"
	" last_status_code INTEGER NOT NULL, last_error TEXT,"
	" created_ms INTEGER NOT NULL, completed_ms INTEGER NOT NULL);"
	"CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, id)"
	" WHERE status = 0;"
	"CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);"
	"CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries (tenant, id);"
	"CREATE INDEX webhook_deliveries_time ON webhook_deliveries (created_ms);"
	"CREATE TABLE webhook_cursor ("
	" id INTEGER PRIMARY KEY CHECK (id = 1), last_event_id INTEGER NOT NULL);"
	"INSERT INTO webhook_cursor SELECT 1, COALESCE(MAX(id), 0) FROM events;",
	/* 7: a tenant's events by id, for the resumes of its subscribers */
	"CREATE INDEX events_tenant ON events (tenant, id);",
	/* 8: the cumulative counters of /metrics (store_metrics.c); bins b0..b14 */
	"CREATE TABLE metric_counters ("
	" tenant TEXT NOT NULL, service TEXT NOT NULL, family INTEGER NOT NULL,"
	" l1 TEXT NOT NULL, l2 TEXT NOT NULL, l3 INTEGER NOT NULL,"
	" count INTEGER NOT NULL, errors INTEGER NOT NULL, sum_ns INTEGER NOT NULL,"
	" b0 INTEGER NOT NULL, b1 INTEGER NOT NULL, b2 INTEGER NOT NULL, b3 INTEGER NOT NULL,"
	" b4 INTEGER NOT NULL, b5 INTEGER NOT NULL, b6 INTEGER NOT NULL, b7 INTEGER NOT NULL,"
	" b8 INTEGER NOT NULL, b9 INTEGER NOT NULL, b10 INTEGER NOT NULL, b11 INTEGER NOT NULL,"
	" b12 INTEGER NOT NULL, b13 INTEGER NOT NULL, b14 INTEGER NOT NULL,"
	" PRIMARY KEY (tenant, service, family, l1, l2, l3)) WITHOUT ROWID;",
};

int store_schema_version(void)
{
	return (int)PRP_ARRAY_SIZE(migrations);
}

/* The version recorded in the database; -ENOENT when it has no schema_version table. */
static int read_version(struct store *s, int *version)
{
	sqlite3_stmt *st;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		if (sqlite3_table_column_metadata(s->db, NULL, "schema_version", NULL, NULL, NULL,
						  NULL, NULL, NULL) != SQLITE_OK)
			return -ENOENT;
		return store_db_error(s, "cannot read the schema version");
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	else if (rc == SQLITE_DONE)
		*version = 0;
	else
		err = store_db_error(s, "cannot read the schema version");
	sqlite3_finalize(st);
	return err;
}

static int check_not_newer(struct store *s, int version)
{
	if (version > store_schema_version()) {
		log_error("store: database '%s' has schema version %d, newer than this build's %d;"
			  " run a newer prp-aggregator",
			  s->path, version, store_schema_version());
		return -EPROTO;
	}
	return 0;
}

static int migrate_one(struct store *s, int from)
{
	char sql[128];
	int version, err;

	err = store_exec(s, "BEGIN IMMEDIATE");
	if (err)
		return err;
	err = read_version(s, &version);
	if (err)
		goto out_rollback;
	if (version != from) { /* another process migrated meanwhile */
		err = check_not_newer(s, version);
		goto out_rollback;
	}
	err = store_exec(s, migrations[from]);
	if (err)
		goto out_rollback;
	snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d", from + 1);
	err = store_exec(s, sql);
	if (err)
		goto out_rollback;
	err = store_exec(s, "COMMIT");
	if (err)
		goto out_rollback;
	log_info("store: migrated '%s' to schema version %d", s->path, from + 1);
	return 0;

out_rollback:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

int store_schema_migrate(struct store *s)
{
	int version = 0, err;

	if (s->read_only) {
		err = read_version(s, &version);
		if (err == -ENOENT)
			log_error("store: database '%s' has no schema yet", s->path);
		if (err)
			return err;
		err = check_not_newer(s, version);
		if (!err && version != store_schema_version()) {
			log_error("store: database '%s' has schema version %d, this build reads %d",
				  s->path, version, store_schema_version());
			err = -EPROTO;
		}
		return err;
	}
	err = store_exec(s, "BEGIN IMMEDIATE;"
			    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
			    "INSERT INTO schema_version SELECT 0"
			    " WHERE NOT EXISTS (SELECT 1 FROM schema_version);"
			    "COMMIT");
	if (err) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
	err = read_version(s, &version);
	if (err)
		return err;
	err = check_not_newer(s, version);
	for (int v = version; !err && v < store_schema_version(); v++)
		err = migrate_one(s, v);
	return err;
}
