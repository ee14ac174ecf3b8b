/*
 * Online backup and staged restore of the store (store_backup.c): a backup
 * restored into another data directory holds the same rows, a backup taken
 * while a writer runs is a sound database, the check refuses what is not a
 * prp store this build can open, and applying a restore keeps the old store
 * (with its WAL) aside or, for a bad staged file, keeps it in place.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator/store/store.h"
#include "aggregator/store/store_backup.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

/* ---- temporary directories per test: the store's, another store's, the backups' ---- */

static char dir[64], dir2[64], out[64];

static void dirs_make(void)
{
	tmpdir_make(dir, sizeof(dir), "backup-src");
	tmpdir_make(dir2, sizeof(dir2), "backup-dst");
	tmpdir_make(out, sizeof(out), "backup-out");
}

static void fini(void)
{
	tmpdir_remove(dir);
	tmpdir_remove(dir2);
	tmpdir_remove(out);
	test_no_leaks();
}

TestSuite(store_backup, .init = dirs_make, .fini = fini);

#define T0 1700000000000LL

static struct store *open_store(const char *d)
{
	struct store_options o = { .dir = d };
	struct store *s = NULL;

	cr_assert_eq(store_open(&s, &o), 0, "cannot open the store of %s", d);
	return s;
}

/* @d/@name into @path. */
static void path_in(char *path, size_t cap, const char *d, const char *name)
{
	int n = snprintf(path, cap, "%s/%s", d, name);

	cr_assert(n > 0 && (size_t)n < cap);
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "cannot create %s", path);
	cr_assert_eq(fwrite(p, 1, n, f), n);
	cr_assert_eq(fclose(f), 0);
}

/* The contents of @path; caller owns them: free(). */
static char *read_file(const char *path, size_t *n)
{
	struct stat sb;
	char *p;
	FILE *f = fopen(path, "rb");

	cr_assert_not_null(f, "cannot open %s", path);
	cr_assert_eq(fstat(fileno(f), &sb), 0);
	p = malloc((size_t)sb.st_size + 1);
	cr_assert_not_null(p);
	cr_assert_eq(fread(p, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
	p[sb.st_size] = '\0';
	fclose(f);
	*n = (size_t)sb.st_size;
	return p;
}

/* Runs @sql on the database @path behind the store's back. */
static void db_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s", sql,
		     sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* SELECT count(*) of @table in the database @path, read-only. */
static int64_t count_rows(const char *path, const char *table)
{
	char sql[96];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s",
		     sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void assert_err_has(const char *err, const char *what)
{
	cr_assert_not_null(strstr(err, what), "expected '%s' in the reason, got '%s'", what, err);
}

/* ---- a store with one row of each kind ---- */

struct rows {
	struct store_policy policy;
	struct store_anomaly anomaly;
	struct store_action action;
	struct store_audit audit;
};

static void rows_fill(struct store *s, struct rows *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->policy.tenant, sizeof(r->policy.tenant), "default");
	snprintf(r->policy.name, sizeof(r->policy.name), "http-error-rate");
	r->policy.enabled = true;
	r->policy.source = strdup("name: http-error-rate\ncondition: error_rate > 5%\n");
	r->policy.origin = strdup("api");
	r->policy.created_ms = T0;
	r->policy.updated_ms = T0 + 1;
	cr_assert_eq(store_policy_put(s, &r->policy), 0);

	snprintf(r->anomaly.tenant, sizeof(r->anomaly.tenant), "default");
	snprintf(r->anomaly.service, sizeof(r->anomaly.service), "orders");
	snprintf(r->anomaly.metric, sizeof(r->anomaly.metric), "latency_p99");
	r->anomaly.severity = STORE_SEVERITY_CRITICAL;
	r->anomaly.open = true;
	r->anomaly.score = 0.875;
	r->anomaly.confidence = 0.5;
	r->anomaly.current_value = 123.25;
	r->anomaly.peak_value = 456.5;
	r->anomaly.expected_min = 1.5;
	r->anomaly.expected_max = 42.75;
	r->anomaly.expected_mean = 7.0 / 3.0;
	r->anomaly.started_ms = T0 + 10;
	r->anomaly.updated_ms = T0 + 20;
	r->anomaly.evidence = strdup("[{\"t\":1,\"v\":1.5}]");
	r->anomaly.details = strdup("{\"route\":\"/orders/{id}\"}");
	cr_assert_eq(store_anomaly_put(s, &r->anomaly), 0);

	snprintf(r->action.tenant, sizeof(r->action.tenant), "default");
	snprintf(r->action.policy_name, sizeof(r->action.policy_name), "http-error-rate");
	snprintf(r->action.service, sizeof(r->action.service), "orders");
	snprintf(r->action.type, sizeof(r->action.type), "circuit_breaker");
	r->action.parameters = strdup("{\"duration_s\":30}");
	r->action.reason = strdup("error_rate 0.12 > 0.05");
	r->action.status = STORE_ACTION_SUCCEEDED;
	r->action.created_ms = T0 + 30;
	r->action.started_ms = T0 + 31;
	r->action.completed_ms = T0 + 32;
	r->action.result = strdup("{\"ok\":true}");
	r->action.logs = strdup("breaker opened\n");
	cr_assert_eq(store_action_put(s, &r->action), 0);

	snprintf(r->audit.tenant, sizeof(r->audit.tenant), "default");
	r->audit.at_ms = T0 + 40;
	snprintf(r->audit.actor, sizeof(r->audit.actor), "key-1");
	snprintf(r->audit.action, sizeof(r->audit.action), "policy.created");
	snprintf(r->audit.subject, sizeof(r->audit.subject), "policy:%lld",
		 (long long)r->policy.id);
	r->audit.detail = strdup("{\"name\":\"http-error-rate\"}");
	cr_assert_eq(store_audit_append(s, &r->audit), 0);
}

static void rows_release(struct rows *r)
{
	store_policy_release(&r->policy);
	store_anomaly_release(&r->anomaly);
	store_action_release(&r->action);
	store_audit_release(&r->audit);
}

static void assert_text_eq(const char *got, const char *want, const char *what)
{
	cr_assert(got && want && !strcmp(got, want), "%s: expected '%s', got '%s'", what,
		  want ? want : "(null)", got ? got : "(null)");
}

/* @s holds exactly the rows of @r. */
static void rows_assert_stored(struct store *s, const struct rows *r)
{
	struct store_policy *pv;
	struct store_anomaly *av;
	struct store_action *cv;
	struct store_audit *uv;
	size_t n;
	bool more;

	cr_assert_eq(store_policies_list(s, NULL, &pv, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(pv[0].id, r->policy.id);
	cr_assert_str_eq(pv[0].tenant, r->policy.tenant);
	cr_assert_str_eq(pv[0].name, r->policy.name);
	cr_assert_eq(pv[0].enabled, r->policy.enabled);
	assert_text_eq(pv[0].source, r->policy.source, "policy source");
	assert_text_eq(pv[0].origin, r->policy.origin, "policy origin");
	cr_assert_eq(pv[0].created_ms, r->policy.created_ms);
	cr_assert_eq(pv[0].updated_ms, r->policy.updated_ms);
	store_policies_free(pv, n);

	cr_assert_eq(store_anomalies_list(s, &(struct store_anomaly_filter){ .status = -1 }, &av,
					  &n, &more),
		     0);
	cr_assert_eq(n, 1);
	cr_assert_eq(av[0].id, r->anomaly.id);
	cr_assert_str_eq(av[0].service, r->anomaly.service);
	cr_assert_str_eq(av[0].metric, r->anomaly.metric);
	cr_assert_eq(av[0].severity, r->anomaly.severity);
	cr_assert_eq(av[0].open, r->anomaly.open);
	cr_assert_eq(av[0].score, r->anomaly.score);
	cr_assert_eq(av[0].confidence, r->anomaly.confidence);
	cr_assert_eq(av[0].current_value, r->anomaly.current_value);
	cr_assert_eq(av[0].peak_value, r->anomaly.peak_value);
	cr_assert_eq(av[0].expected_min, r->anomaly.expected_min);
	cr_assert_eq(av[0].expected_max, r->anomaly.expected_max);
	cr_assert_eq(av[0].expected_mean, r->anomaly.expected_mean);
	cr_assert_eq(av[0].started_ms, r->anomaly.started_ms);
	cr_assert_eq(av[0].updated_ms, r->anomaly.updated_ms);
	assert_text_eq(av[0].evidence, r->anomaly.evidence, "anomaly evidence");
	assert_text_eq(av[0].details, r->anomaly.details, "anomaly details");
	store_anomalies_free(av, n);

	cr_assert_eq(store_actions_list(s, &(struct store_action_filter){ .status = -1 }, &cv, &n,
					&more),
		     0);
	cr_assert_eq(n, 1);
	cr_assert_eq(cv[0].id, r->action.id);
	cr_assert_str_eq(cv[0].policy_name, r->action.policy_name);
	cr_assert_str_eq(cv[0].service, r->action.service);
	cr_assert_str_eq(cv[0].type, r->action.type);
	assert_text_eq(cv[0].parameters, r->action.parameters, "action parameters");
	assert_text_eq(cv[0].reason, r->action.reason, "action reason");
	cr_assert_eq(cv[0].status, r->action.status);
	cr_assert_eq(cv[0].created_ms, r->action.created_ms);
	cr_assert_eq(cv[0].started_ms, r->action.started_ms);
	cr_assert_eq(cv[0].completed_ms, r->action.completed_ms);
	assert_text_eq(cv[0].result, r->action.result, "action result");
	assert_text_eq(cv[0].logs, r->action.logs, "action logs");
	store_actions_free(cv, n);

	cr_assert_eq(store_audit_list(s, NULL, 0, 0, &uv, &n, &more), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(uv[0].id, r->audit.id);
	cr_assert_eq(uv[0].at_ms, r->audit.at_ms);
	cr_assert_str_eq(uv[0].actor, r->audit.actor);
	cr_assert_str_eq(uv[0].action, r->audit.action);
	cr_assert_str_eq(uv[0].subject, r->audit.subject);
	assert_text_eq(uv[0].detail, r->audit.detail, "audit detail");
	store_audits_free(uv, n);
}

/* A backup of a store of @rows (in dir) as @path (in out); the store is left closed. */
static void backup_of_rows(struct rows *rows, char *path, size_t cap)
{
	struct store *s = open_store(dir);
	char err[256] = "";
	uint64_t bytes = 0;

	rows_fill(s, rows);
	path_in(path, cap, out, "prp-backup.db");
	cr_assert_eq(store_backup(dir, path, &bytes, err, sizeof(err)), 0, "%s", err);
	cr_assert_gt(bytes, 0);
	store_close(s);
}

/* The name of the one DIR/prp.db.before-restore.<seconds> in @d (not its -wal/-shm) into @name. */
static void find_aside(const char *d, char *name, size_t cap)
{
	static const char prefix[] = "prp.db.before-restore.";
	struct dirent *e;
	DIR *dp = opendir(d);
	int found = 0;

	cr_assert_not_null(dp);
	while ((e = readdir(dp))) {
		const char *rest = e->d_name + sizeof(prefix) - 1;

		if (strncmp(e->d_name, prefix, sizeof(prefix) - 1) || !*rest ||
		    rest[strspn(rest, "0123456789")])
			continue;
		cr_assert_lt((size_t)snprintf(name, cap, "%s", e->d_name), cap);
		found++;
	}
	closedir(dp);
	cr_assert_eq(found, 1, "expected one aside store in %s, found %d", d, found);
}

/* The names in @d, sorted and joined by spaces, into @list. */
static void dir_list(const char *d, char *list, size_t cap)
{
	struct dirent **v;
	int n = scandir(d, &v, NULL, alphasort);
	size_t len = 0;

	cr_assert_geq(n, 0);
	list[0] = '\0';
	for (int i = 0; i < n; i++) {
		len += (size_t)snprintf(list + len, cap - len, "%s ", v[i]->d_name);
		cr_assert_lt(len, cap);
		free(v[i]);
	}
	free(v);
}

/* ---- backup and restore ---- */

Test(store_backup, backup_restored_into_another_store_holds_the_same_rows)
{
	struct rows rows;
	char path[128], partial[160], other[128], err[256] = "";
	struct stat sb;
	uint64_t bytes = 0;
	bool applied = false;
	struct store *s = open_store(dir);

	rows_fill(s, &rows);
	path_in(path, sizeof(path), out, "prp-backup.db");
	cr_assert_eq(store_backup(dir, path, &bytes, err, sizeof(err)), 0, "%s", err);
	store_close(s);

	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0600, "mode %o", (unsigned)(sb.st_mode & 07777));
	cr_assert_eq((uint64_t)sb.st_size, bytes);
	snprintf(partial, sizeof(partial), "%s.partial", path);
	cr_assert_not(exists(partial));
	cr_assert_eq(store_backup_check(path, err, sizeof(err)), 0, "%s", err);
	/* the check opens it immutable: nothing is written next to it */
	snprintf(partial, sizeof(partial), "%s-wal", path);
	cr_assert_not(exists(partial));
	snprintf(partial, sizeof(partial), "%s-shm", path);
	cr_assert_not(exists(partial));
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq((uint64_t)sb.st_size, bytes);

	cr_assert_eq(store_restore_stage(dir2, path, err, sizeof(err)), 0, "%s", err);
	path_in(other, sizeof(other), dir2, "prp.db.restore");
	cr_assert(exists(other));
	cr_assert_eq(stat(other, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0600);
	path_in(other, sizeof(other), dir2, "prp.db.restore.partial");
	cr_assert_not(exists(other));

	cr_assert_eq(store_restore_apply(dir2, &applied, err, sizeof(err)), 0, "%s", err);
	cr_assert(applied);
	path_in(other, sizeof(other), dir2, "prp.db.restore");
	cr_assert_not(exists(other));
	s = open_store(dir2);
	rows_assert_stored(s, &rows);
	store_close(s);

	/* applied once: the next start finds nothing staged */
	cr_assert_eq(store_restore_apply(dir2, &applied, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(applied);
	rows_release(&rows);
}

Test(store_backup, apply_keeps_the_old_store_aside_with_its_wal)
{
	struct rows rows;
	char path[128], db[128], wal[128], aside[128], aside_path[192], other[224];
	char err[256] = "";
	bool applied = false;
	struct store *s;
	sqlite3 *raw;

	backup_of_rows(&rows, path, sizeof(path));
	/* the old store: one audit line only in its WAL, as a crash would leave it */
	store_close(open_store(dir2));
	path_in(db, sizeof(db), dir2, "prp.db");
	path_in(wal, sizeof(wal), dir2, "prp.db-wal");
	cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
	cr_assert_eq(sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_exec(raw,
				  "INSERT INTO audit (tenant, at_ms, actor, action, subject)"
				  " VALUES ('default', 1, 'old', 'only.in.wal', '')",
				  NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_close(raw);
	cr_assert(exists(wal), "the old store has no WAL to keep");

	cr_assert_eq(store_restore_stage(dir2, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_restore_apply(dir2, &applied, err, sizeof(err)), 0, "%s", err);
	cr_assert(applied);
	/* the old WAL must not be replayed into the restored database */
	cr_assert_not(exists(wal));
	path_in(other, sizeof(other), dir2, "prp.db-shm");
	cr_assert_not(exists(other));

	find_aside(dir2, aside, sizeof(aside));
	path_in(aside_path, sizeof(aside_path), dir2, aside);
	snprintf(other, sizeof(other), "%s-wal", aside_path);
	cr_assert(exists(other), "no %s", other);
	snprintf(other, sizeof(other), "%s-shm", aside_path);
	cr_assert(exists(other), "no %s", other);
	/* the aside store reads with its WAL: the line that was only there */
	cr_assert_eq(count_rows(aside_path, "audit WHERE action = 'only.in.wal'"), 1);

	s = open_store(dir2);
	rows_assert_stored(s, &rows);
	store_close(s);
	rows_release(&rows);
}

/* ---- backup while a writer runs ---- */

struct writer {
	atomic_bool stop;
	atomic_long appended;
	int err;
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	struct store_options o = { .dir = dir };
	struct store *s = NULL;

	w->err = store_open(&s, &o);
	while (!w->err && !atomic_load(&w->stop)) {
		struct store_audit a = { .at_ms = T0 };

		snprintf(a.tenant, sizeof(a.tenant), "default");
		snprintf(a.actor, sizeof(a.actor), "writer");
		snprintf(a.action, sizeof(a.action), "toggle");
		snprintf(a.subject, sizeof(a.subject), "policy:%ld", atomic_load(&w->appended));
		a.detail = strdup("{\"enabled\":true}");
		w->err = store_audit_append(s, &a);
		store_audit_release(&a);
		if (!w->err)
			atomic_fetch_add(&w->appended, 1);
	}
	store_close(s);
	return NULL;
}

static void wait_appended(struct writer *w, long n)
{
	for (int i = 0; i < 20000 && atomic_load(&w->appended) < n && !w->err; i++)
		usleep(1000);
	cr_assert_eq(w->err, 0, "the writer failed: %d", w->err);
	cr_assert_geq(atomic_load(&w->appended), n, "the writer is stuck");
}

Test(store_backup, backup_while_a_writer_appends_is_a_sound_store)
{
	struct writer w = { .err = 0 };
	char path[128], err[256];
	int64_t rows, last_rows = 0;
	long before;
	pthread_t t;

	atomic_init(&w.stop, false);
	atomic_init(&w.appended, 0);
	store_close(open_store(dir)); /* migrated before the writer starts */
	cr_assert_eq(pthread_create(&t, NULL, writer_run, &w), 0);
	wait_appended(&w, 20);
	for (int i = 0; i < 3; i++) {
		char name[32];

		before = atomic_load(&w.appended);
		snprintf(name, sizeof(name), "during-%d.db", i);
		path_in(path, sizeof(path), out, name);
		err[0] = '\0';
		cr_assert_eq(store_backup(dir, path, NULL, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(store_backup_check(path, err, sizeof(err)), 0, "%s: %s", path, err);
		rows = count_rows(path, "audit");
		cr_assert_geq(rows, before, "backup %d has %lld rows, %ld were committed before it",
			      i, (long long)rows, before);
		cr_assert_geq(rows, last_rows);
		last_rows = rows;
		/* the writer went on while the copy ran */
		wait_appended(&w, before + 10);
	}
	atomic_store(&w.stop, true);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(w.err, 0);
	path_in(path, sizeof(path), dir, "prp.db");
	cr_assert_gt(count_rows(path, "audit"), last_rows);
}

Test(store_backup, backup_to_an_existing_file_is_eexist_and_leaves_it)
{
	static const char keep[] = "not to be overwritten\n";
	char path[128], partial[160], err[256] = "", *got;
	size_t n;

	store_close(open_store(dir));
	path_in(path, sizeof(path), out, "taken.db");
	write_file(path, keep, sizeof(keep) - 1);
	cr_assert_eq(store_backup(dir, path, NULL, err, sizeof(err)), -EEXIST);
	assert_err_has(err, path);
	got = read_file(path, &n);
	cr_assert_eq(n, sizeof(keep) - 1);
	cr_assert_eq(memcmp(got, keep, n), 0);
	free(got);
	snprintf(partial, sizeof(partial), "%s.partial", path);
	cr_assert_not(exists(partial));
}

Test(store_backup, backup_of_a_directory_without_a_store_is_enoent)
{
	char path[128], err[256] = "";

	path_in(path, sizeof(path), out, "none.db");
	cr_assert_eq(store_backup(dir, path, NULL, err, sizeof(err)), -ENOENT);
	cr_assert_neq(err[0], '\0');
	cr_assert_not(exists(path));
	/* nor into a directory that is not there */
	store_close(open_store(dir));
	path_in(path, sizeof(path), out, "missing/x.db");
	cr_assert_eq(store_backup(dir, path, NULL, err, sizeof(err)), -ENOENT);
}

/* ---- the check ---- */

Test(store_backup, check_rejects_a_text_file)
{
	static const char text[] = "# prp backup\nthis is not a database, just some text\n";
	char path[128], err[256] = "";

	path_in(path, sizeof(path), out, "notes.txt");
	write_file(path, text, sizeof(text) - 1);
	cr_assert_eq(store_backup_check(path, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "not an SQLite database");
	write_file(path, "", 0);
	cr_assert_eq(store_backup_check(path, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "not an SQLite database");
}

Test(store_backup, check_of_a_missing_file_is_enoent)
{
	char path[128], err[256] = "";

	path_in(path, sizeof(path), out, "absent.db");
	cr_assert_eq(store_backup_check(path, err, sizeof(err)), -ENOENT);
	assert_err_has(err, path);
	cr_assert_eq(store_backup_check(out, err, sizeof(err)), -EINVAL, "a directory: %s", err);
}

Test(store_backup, check_rejects_a_truncated_copy)
{
	struct rows rows;
	char path[128], cut[128], err[256] = "", *p;
	size_t n;

	backup_of_rows(&rows, path, sizeof(path));
	rows_release(&rows);
	p = read_file(path, &n);
	path_in(cut, sizeof(cut), out, "cut.db");
	write_file(cut, p, n / 2);
	cr_assert_eq(store_backup_check(cut, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "truncated");
	/* cut at a page boundary too */
	write_file(cut, p, 16384);
	cr_assert_eq(store_backup_check(cut, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "truncated");
	free(p);
}

Test(store_backup, check_rejects_an_sqlite_file_without_the_prp_tables)
{
	char path[128], err[256] = "";

	path_in(path, sizeof(path), out, "other.db");
	db_exec(path, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
	cr_assert_eq(store_backup_check(path, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "schema_version");

	/* a schema version but not every table */
	db_exec(path, "CREATE TABLE schema_version (version INTEGER NOT NULL);"
		      " INSERT INTO schema_version VALUES (3);"
		      " CREATE TABLE anomalies (id INTEGER PRIMARY KEY);"
		      " CREATE TABLE policies (id INTEGER PRIMARY KEY);"
		      " CREATE TABLE actions (id INTEGER PRIMARY KEY)");
	cr_assert_eq(store_backup_check(path, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "'audit'");
}

Test(store_backup, check_rejects_a_newer_schema_version)
{
	struct rows rows;
	char path[128], sql[96], err[256] = "";

	backup_of_rows(&rows, path, sizeof(path));
	rows_release(&rows);
	snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d",
		 store_schema_version() + 1);
	db_exec(path, sql);
	cr_assert_eq(store_backup_check(path, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "newer");
	db_exec(path, "UPDATE schema_version SET version = 0");
	cr_assert_eq(store_backup_check(path, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "schema version 0");
}

/* ---- staging and applying what fails the check ---- */

Test(store_backup, stage_refuses_a_bad_file_and_stages_nothing)
{
	char path[128], staged[128], err[256] = "";

	path_in(path, sizeof(path), out, "notes.txt");
	write_file(path, "hello\n", 6);
	cr_assert_eq(store_restore_stage(dir2, path, err, sizeof(err)), -EINVAL);
	assert_err_has(err, "not an SQLite database");
	path_in(staged, sizeof(staged), dir2, "prp.db.restore");
	cr_assert_not(exists(staged));
	path_in(staged, sizeof(staged), dir2, "prp.db.restore.partial");
	cr_assert_not(exists(staged));
}

Test(store_backup, apply_of_a_bad_staged_file_keeps_the_store_and_rejects_it)
{
	struct rows rows;
	char path[128], staged[128], rejected[160], err[256] = "", *p;
	bool applied = true;
	size_t n;
	struct store *s;

	/* dir holds the store to keep; its staged file went bad after staging */
	backup_of_rows(&rows, path, sizeof(path));
	path_in(staged, sizeof(staged), dir, "prp.db.restore");
	p = read_file(path, &n);
	write_file(staged, p, n / 2);
	free(p);

	cr_assert_eq(store_restore_apply(dir, &applied, err, sizeof(err)), -EINVAL);
	cr_assert_not(applied);
	assert_err_has(err, "truncated");
	cr_assert_not(exists(staged));
	path_in(rejected, sizeof(rejected), dir, "prp.db.restore.rejected");
	cr_assert(exists(rejected));
	s = open_store(dir);
	rows_assert_stored(s, &rows);
	store_close(s);
	rows_release(&rows);
}

Test(store_backup, apply_with_nothing_staged_changes_nothing)
{
	char before[1024], after[1024], err[256] = "";
	bool applied = true;

	/* an empty data directory (first start) */
	cr_assert_eq(store_restore_apply(dir2, &applied, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(applied);
	dir_list(dir2, after, sizeof(after));
	cr_assert_str_eq(after, ". .. ");

	store_close(open_store(dir));
	dir_list(dir, before, sizeof(before));
	applied = true;
	cr_assert_eq(store_restore_apply(dir, &applied, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(applied);
	dir_list(dir, after, sizeof(after));
	cr_assert_str_eq(after, before);
}
