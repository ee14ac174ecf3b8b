#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/store/store.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

/* ---- a temporary data directory per test ---- */

static char dir[64];

static void dir_make(void)
{
	tmpdir_make(dir, sizeof(dir), "anomalies");
}

static void fini(void)
{
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(store_anomalies, .init = dir_make, .fini = fini);

static struct store *open_store(bool read_only)
{
	struct store_options o = { .dir = dir, .read_only = read_only };
	struct store *s = NULL;

	cr_assert_eq(store_open(&s, &o), 0);
	return s;
}

/* Runs @sql on the database file behind the store's back. */
static void db_exec(const char *sql)
{
	char path[128];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/prp.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s", sql,
		     sqlite3_errmsg(db));
	sqlite3_close(db);
}

#define T0 1700000000000LL

/* An anomaly whose every field depends on @k (evidence and details only when @k is odd). */
static void sample(struct store_anomaly *a, const char *tenant, const char *service,
		   const char *metric, int k)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->tenant, sizeof(a->tenant), "%s", tenant);
	snprintf(a->service, sizeof(a->service), "%s", service);
	snprintf(a->metric, sizeof(a->metric), "%s", metric);
	a->severity = (enum store_severity)(k % 3);
	a->open = k % 4 != 0;
	a->score = 0.5 + k / 1000.0;
	a->confidence = 0.25 + k / 2000.0;
	a->current_value = 123.456 + k;
	a->peak_value = 1e9 + k + 0.125;
	a->expected_min = -3.5 - k;
	a->expected_max = 42.75 + k;
	a->expected_mean = 7.0 / 3.0 + k;
	a->started_ms = T0 + k * 1000;
	a->updated_ms = a->started_ms + 250;
	a->resolved_ms = a->open ? 0 : a->started_ms + 500;
	if (k % 2) {
		char buf[128];

		snprintf(buf, sizeof(buf), "[{\"t\":%d,\"v\":1.5}]", k);
		a->evidence = strdup(buf);
		snprintf(buf, sizeof(buf), "{\"route\":\"/users/{id}\",\"k\":%d}", k);
		a->details = strdup(buf);
	}
}

static void assert_text_eq(const char *got, const char *want, const char *what)
{
	if (!want)
		cr_assert_null(got, "%s: expected NULL, got '%s'", what, got);
	else
		cr_assert(got && !strcmp(got, want), "%s: expected '%s', got '%s'", what, want,
			  got ? got : "(null)");
}

static void assert_same(const struct store_anomaly *got, const struct store_anomaly *want)
{
	cr_assert_eq(got->id, want->id);
	cr_assert_str_eq(got->tenant, want->tenant);
	cr_assert_str_eq(got->service, want->service);
	cr_assert_str_eq(got->metric, want->metric);
	cr_assert_eq(got->severity, want->severity);
	cr_assert_eq(got->open, want->open);
	cr_assert_eq(got->score, want->score);
	cr_assert_eq(got->confidence, want->confidence);
	cr_assert_eq(got->current_value, want->current_value);
	cr_assert_eq(got->peak_value, want->peak_value);
	cr_assert_eq(got->expected_min, want->expected_min);
	cr_assert_eq(got->expected_max, want->expected_max);
	cr_assert_eq(got->expected_mean, want->expected_mean);
	cr_assert_eq(got->started_ms, want->started_ms);
	cr_assert_eq(got->updated_ms, want->updated_ms);
	cr_assert_eq(got->resolved_ms, want->resolved_ms);
	assert_text_eq(got->evidence, want->evidence, "evidence");
	assert_text_eq(got->details, want->details, "details");
}

static void assert_stored(struct store *s, const struct store_anomaly *want)
{
	struct store_anomaly got;

	cr_assert_eq(store_anomaly_get(s, want->tenant, want->id, &got), 0);
	assert_same(&got, want);
	store_anomaly_release(&got);
}

/* Every anomaly of every tenant. */
static size_t count_all(struct store *s)
{
	struct store_anomaly_filter f = { .status = -1 };
	struct store_anomaly *v;
	size_t n;

	cr_assert_eq(store_anomalies_list(s, &f, &v, &n, NULL), 0);
	store_anomalies_free(v, n);
	return n;
}

/* ---- schema ---- */

Test(store_anomalies, the_schema_has_the_anomalies_table_and_reopens)
{
	struct store_anomaly a;
	struct store *s;

	cr_assert_geq(store_schema_version(), 2, "anomalies came with version 2");
	s = open_store(false);
	sample(&a, "default", "orders", "latency_p99", 1);
	cr_assert_eq(store_anomaly_put(s, &a), 0);
	store_close(s);

	s = open_store(false);
	assert_stored(s, &a);
	store_close(s);
	store_anomaly_release(&a);
}

Test(store_anomalies, migrates_a_version_1_database_keeping_its_data)
{
	struct store_agent ag = {
		.tenant = "default", .agent_id = "agent-1", .host = "web-1", .last_seen_ms = T0
	};
	struct store_agent *agents;
	struct store_anomaly a;
	struct store *s, *r = NULL;
	struct store_options ro = { .dir = dir, .read_only = true };
	size_t n;

	/* a version 1 database: this build's, less what migrations 2 and later added */
	s = open_store(false);
	cr_assert_eq(store_agent_update(s, &ag), 0);
	store_close(s);
	db_exec("DROP TABLE anomalies; DROP TABLE policies; DROP TABLE actions; DROP TABLE audit;"
		" DROP TABLE api_keys; DROP TABLE events; DROP TABLE webhooks;"
		" DROP TABLE webhook_deliveries; DROP TABLE webhook_cursor; DROP TABLE metric_counters;"
		" UPDATE schema_version SET version = 1");

	/* a reader does not migrate: it refuses the old version */
	cr_assert_eq(store_open(&r, &ro), -EPROTO);
	cr_assert_null(r);

	s = open_store(false);
	cr_assert_eq(store_agents(s, "default", &agents, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(agents[0].host, "web-1");
	free(agents);
	sample(&a, "default", "orders", "error_rate", 3);
	cr_assert_eq(store_anomaly_put(s, &a), 0);
	assert_stored(s, &a);
	store_close(s);
	store_anomaly_release(&a);

	r = open_store(true);
	store_close(r);
}

/* ---- put and get ---- */

Test(store_anomalies, insert_then_get_round_trips_every_field)
{
	struct store_anomaly a, b;
	struct store *s = open_store(false);

	sample(&a, "default", "orders", "latency_p99", 1); /* with evidence and details */
	sample(&b, "default", "users", "error_rate", 4);   /* resolved, without them */
	cr_assert_null(b.evidence);
	cr_assert_eq(store_anomaly_put(s, &a), 0);
	cr_assert_gt(a.id, 0);
	cr_assert_eq(store_anomaly_put(s, &b), 0);
	cr_assert_gt(b.id, a.id);
	assert_stored(s, &a);
	assert_stored(s, &b);
	store_close(s);
	store_anomaly_release(&a);
	store_anomaly_release(&b);
	cr_assert_null(a.evidence);
	cr_assert_eq(a.id, 0, "released: zeroed");
}

Test(store_anomalies, update_changes_fields_and_keeps_the_id)
{
	struct store_anomaly a;
	struct store *s = open_store(false);
	int64_t id;

	sample(&a, "default", "orders", "latency_p99", 1);
	cr_assert_eq(store_anomaly_put(s, &a), 0);
	id = a.id;

	a.severity = STORE_SEVERITY_CRITICAL;
	a.open = false;
	a.score = 1;
	a.confidence = 0;
	a.current_value = 1.25;
	a.peak_value = 9999.5;
	a.updated_ms += 60000;
	a.resolved_ms = a.updated_ms;
	free(a.evidence);
	a.evidence = NULL;
	free(a.details);
	a.details = strdup("{\"resolved_by\":\"recovery\"}");
	snprintf(a.service, sizeof(a.service), "orders-v2");
	cr_assert_eq(store_anomaly_put(s, &a), 0);
	cr_assert_eq(a.id, id);
	assert_stored(s, &a);
	cr_assert_eq(count_all(s), 1);
	store_close(s);
	store_anomaly_release(&a);
}

Test(store_anomalies, update_of_an_unknown_id_or_another_tenants_is_enoent)
{
	struct store_anomaly a, b;
	struct store *s = open_store(false);

	sample(&a, "default", "orders", "latency_p99", 1);
	cr_assert_eq(store_anomaly_put(s, &a), 0);

	sample(&b, "default", "orders", "latency_p99", 2);
	b.id = a.id + 100;
	cr_assert_eq(store_anomaly_put(s, &b), -ENOENT);
	cr_assert_eq(b.id, a.id + 100);

	/* the right id, the wrong tenant: the row is not touched */
	b.id = a.id;
	snprintf(b.tenant, sizeof(b.tenant), "intruder");
	cr_assert_eq(store_anomaly_put(s, &b), -ENOENT);
	assert_stored(s, &a);
	cr_assert_eq(count_all(s), 1);
	store_close(s);
	store_anomaly_release(&a);
	store_anomaly_release(&b);
}

Test(store_anomalies, tenants_are_isolated)
{
	struct store_anomaly a, b, got, *v;
	struct store_anomaly_filter f = { .tenant = "acme", .status = -1 };
	struct store *s = open_store(false);
	size_t n;

	sample(&a, "acme", "orders", "latency_p99", 1);
	sample(&b, "globex", "orders", "latency_p99", 1);
	cr_assert_eq(store_anomaly_put(s, &a), 0);
	cr_assert_eq(store_anomaly_put(s, &b), 0);

	cr_assert_eq(store_anomaly_get(s, "globex", a.id, &got), -ENOENT);
	cr_assert_null(got.evidence);
	cr_assert_eq(store_anomaly_get(s, "acme", b.id, &got), -ENOENT);
	assert_stored(s, &a);
	assert_stored(s, &b);

	cr_assert_eq(store_anomalies_list(s, &f, &v, &n, NULL), 0);
	cr_assert_eq(n, 1);
	assert_same(&v[0], &a);
	store_anomalies_free(v, n);
	f.tenant = "initech";
	cr_assert_eq(store_anomalies_list(s, &f, &v, &n, NULL), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(v);
	cr_assert_eq(count_all(s), 2, "no tenant: every tenant's");
	store_close(s);
	store_anomaly_release(&a);
	store_anomaly_release(&b);
}

Test(store_anomalies, writes_commit_at_once_and_not_inside_an_ingest_transaction)
{
	struct store_anomaly a;
	struct store *s = open_store(false), *r;

	sample(&a, "default", "orders", "latency_p99", 1);
	cr_assert_eq(store_anomaly_put(s, &a), 0);
	r = open_store(true);
	assert_stored(r, &a); /* another connection sees it: committed */

	cr_assert_eq(store_begin(s), 0);
	a.id = 0;
	cr_assert_eq(store_anomaly_put(s, &a), -EINVAL);
	store_rollback(s);
	cr_assert_eq(a.id, 0);
	cr_assert_eq(count_all(r), 1);
	store_close(r);
	store_close(s);
	store_anomaly_release(&a);
}

Test(store_anomalies, a_reader_refuses_to_write_but_reads)
{
	struct store_anomaly a, b;
	struct store *s = open_store(false), *r;

	sample(&a, "default", "orders", "latency_p99", 1);
	cr_assert_eq(store_anomaly_put(s, &a), 0);
	r = open_store(true);

	sample(&b, "default", "orders", "latency_p99", 2);
	cr_assert_eq(store_anomaly_put(r, &b), -EROFS);
	cr_assert_eq(b.id, 0);
	b.id = a.id;
	cr_assert_eq(store_anomaly_put(r, &b), -EROFS);
	assert_stored(r, &a);
	cr_assert_eq(count_all(r), 1);
	store_close(r);
	store_close(s);
	store_anomaly_release(&a);
	store_anomaly_release(&b);
}

/* ---- ids ---- */

Test(store_anomalies, ids_strictly_increase_survive_reopening_and_are_never_reused)
{
	struct store_anomaly a[4], got;
	struct store *s = open_store(false);
	char sql[96];

	for (int i = 0; i < 3; i++) {
		sample(&a[i], "default", "orders", "latency_p99", i);
		cr_assert_eq(store_anomaly_put(s, &a[i]), 0);
		if (i)
			cr_assert_gt(a[i].id, a[i - 1].id);
	}
	store_close(s);

	/* the newest row goes: its id must not come back */
	snprintf(sql, sizeof(sql), "DELETE FROM anomalies WHERE id = %lld", (long long)a[2].id);
	db_exec(sql);

	s = open_store(false);
	assert_stored(s, &a[0]);
	assert_stored(s, &a[1]);
	cr_assert_eq(store_anomaly_get(s, "default", a[2].id, &got), -ENOENT);
	sample(&a[3], "default", "orders", "latency_p99", 3);
	cr_assert_eq(store_anomaly_put(s, &a[3]), 0);
	cr_assert_gt(a[3].id, a[2].id);
	store_close(s);
	for (int i = 0; i < 4; i++)
		store_anomaly_release(&a[i]);
}

/* ---- bad arguments ---- */

/* @a is refused, and its id left as it was (nothing written). */
static void assert_refused(struct store *s, struct store_anomaly *a, const char *what)
{
	int64_t id = a->id;

	cr_assert_eq(store_anomaly_put(s, a), -EINVAL, "%s", what);
	cr_assert_eq(a->id, id, "%s", what);
}

Test(store_anomalies, bad_arguments_are_refused_without_writing)
{
	struct store_anomaly a, ok, got, *v;
	struct store_anomaly_filter f = { .status = -1 };
	struct store *s = open_store(false);
	size_t n;
	bool more;

	sample(&ok, "default", "orders", "latency_p99", 1);
	cr_assert_eq(store_anomaly_put(s, &ok), 0);

	/* each spoilt as an insert (id 0) and as an update of ok's row */
	for (int update = 0; update < 2; update++) {
		int64_t id = update ? ok.id : 0;

		sample(&a, "default", "", "latency_p99", 2);
		a.id = id;
		assert_refused(s, &a, "empty service");
		memset(a.service, 'x', sizeof(a.service) - 1);
		memset(a.metric, 'm', sizeof(a.metric)); /* no room for its NUL */
		assert_refused(s, &a, "metric too long");
		store_anomaly_release(&a);

		sample(&a, "default", "orders", "latency_p99", 2);
		a.id = id;
		memset(a.tenant, 't', sizeof(a.tenant));
		assert_refused(s, &a, "tenant too long");
		snprintf(a.tenant, sizeof(a.tenant), "default");
		a.score = NAN;
		assert_refused(s, &a, "NaN score");
		a.score = 1.5;
		assert_refused(s, &a, "score above 1");
		a.score = 0.5;
		a.current_value = INFINITY;
		assert_refused(s, &a, "infinite value");
		a.current_value = 1;
		a.expected_mean = -NAN;
		assert_refused(s, &a, "NaN baseline");
		a.expected_mean = 1;
		a.severity = (enum store_severity)3;
		assert_refused(s, &a, "unknown severity");
		a.severity = STORE_SEVERITY_WARNING;
		a.open = true;
		a.resolved_ms = T0;
		assert_refused(s, &a, "open but resolved");
		a.resolved_ms = 0;
		a.started_ms = -1;
		assert_refused(s, &a, "negative time");
		store_anomaly_release(&a);
	}
	sample(&a, "default", "orders", "latency_p99", 2);
	a.id = -1;
	assert_refused(s, &a, "negative id");
	store_anomaly_release(&a);
	sample(&a, "default", "orders", "latency_p99", 2);
	a.evidence = malloc((1u << 20) + 2);
	memset(a.evidence, '[', (1u << 20) + 1);
	a.evidence[(1u << 20) + 1] = '\0';
	assert_refused(s, &a, "evidence too long");
	store_anomaly_release(&a);

	cr_assert_eq(count_all(s), 1);
	assert_stored(s, &ok);

	cr_assert_eq(store_anomaly_get(s, "", ok.id, &got), -EINVAL);
	cr_assert_eq(store_anomaly_get(s, "default", 0, &got), -ENOENT);
	cr_assert_eq(store_anomaly_get(s, "default", -5, &got), -ENOENT);
	f.status = 2;
	cr_assert_eq(store_anomalies_list(s, &f, &v, &n, &more), -EINVAL);
	cr_assert_null(v);
	cr_assert_eq(n, 0);
	f.status = -1;
	f.service = "";
	cr_assert_eq(store_anomalies_list(s, &f, &v, &n, &more), -EINVAL);
	f.service = NULL;
	f.min_severity = (enum store_severity)7;
	cr_assert_eq(store_anomalies_list(s, &f, &v, &n, &more), -EINVAL);
	f.min_severity = STORE_SEVERITY_INFO;
	f.before_id = -1;
	cr_assert_eq(store_anomalies_list(s, &f, &v, &n, &more), -EINVAL);
	store_close(s);
	store_anomaly_release(&ok);
}

/* ---- the list ---- */

#define NROWS 40

/* Rows whose fields vary on different periods, started out of id order. */
static void put_rows(struct store *s, struct store_anomaly *rows)
{
	static const char *const services[] = { "orders", "users", "payments" };

	for (int i = 0; i < NROWS; i++) {
		struct store_anomaly *a = &rows[i];

		sample(a, i % 5 == 4 ? "other" : "default", services[i % 3],
		       i % 2 ? "error_rate" : "latency_p99", i);
		a->severity = (enum store_severity)((i / 2) % 3);
		a->started_ms = T0 + ((i * 7) % NROWS) * 1000;
		a->updated_ms = a->started_ms + 1;
		a->resolved_ms = a->open ? 0 : a->started_ms + 2;
		cr_assert_eq(store_anomaly_put(s, a), 0);
		if (i)
			cr_assert_gt(a->id, rows[i - 1].id);
	}
}

static void rows_release(struct store_anomaly *rows)
{
	for (int i = 0; i < NROWS; i++)
		store_anomaly_release(&rows[i]);
}

/* The filter's meaning, written independently of the SQL. */
static bool matches(const struct store_anomaly_filter *f, const struct store_anomaly *a)
{
	return (!f->tenant || !strcmp(f->tenant, a->tenant)) &&
	       (!f->service || !strcmp(f->service, a->service)) &&
	       (!f->metric || !strcmp(f->metric, a->metric)) && a->severity >= f->min_severity &&
	       (f->status < 0 || a->open == (f->status == 1)) &&
	       (!f->since_ms || a->started_ms >= f->since_ms) &&
	       (!f->until_ms || a->started_ms < f->until_ms) &&
	       (!f->before_id || a->id < f->before_id);
}

/* The list of @f is exactly the matching rows, newest first, cut at the limit. */
static void check_list(struct store *s, const struct store_anomaly_filter *f,
		       const struct store_anomaly *rows, const char *what)
{
	struct store_anomaly *v;
	size_t n, want = 0;
	bool more;

	cr_assert_eq(store_anomalies_list(s, f, &v, &n, &more), 0, "%s", what);
	for (int i = NROWS - 1; i >= 0; i--) {
		if (!matches(f, &rows[i]))
			continue;
		if (f->limit && want == f->limit) {
			cr_assert(more, "%s: more expected after %zu", what, want);
			break;
		}
		cr_assert_lt(want, n, "%s: row id %lld missing", what, (long long)rows[i].id);
		assert_same(&v[want], &rows[i]);
		want++;
	}
	cr_assert_eq(n, want, "%s: %zu rows, expected %zu", what, n, want);
	if (!f->limit || n < f->limit)
		cr_assert_not(more, "%s", what);
	store_anomalies_free(v, n);
}

Test(store_anomalies, list_filters_each_work)
{
	struct store_anomaly rows[NROWS];
	struct store *s = open_store(false);
	struct {
		const char *what;
		struct store_anomaly_filter f;
	} cases[] = {
		{ "all", { .status = -1 } },
		{ "tenant", { .tenant = "default", .status = -1 } },
		{ "other tenant", { .tenant = "other", .status = -1 } },
		{ "service", { .service = "users", .status = -1 } },
		{ "metric", { .metric = "error_rate", .status = -1 } },
		{ "warning and up", { .min_severity = STORE_SEVERITY_WARNING, .status = -1 } },
		{ "critical", { .min_severity = STORE_SEVERITY_CRITICAL, .status = -1 } },
		{ "open", { .status = 1 } },
		{ "resolved", { .status = 0 } },
		{ "since", { .status = -1, .since_ms = T0 + 20000 } },
		{ "until", { .status = -1, .until_ms = T0 + 20000 } },
		{ "since and until",
		  { .status = -1, .since_ms = T0 + 5000, .until_ms = T0 + 9000 } },
		{ "empty range", { .status = -1, .since_ms = T0 + 9000, .until_ms = T0 + 9000 } },
		{ "before id", { .status = -1, .before_id = 0 /* set below */ } },
		{ "limit", { .status = -1, .limit = 7 } },
		{ "everything at once",
		  { .tenant = "default",
		    .service = "orders",
		    .metric = "latency_p99",
		    .min_severity = STORE_SEVERITY_WARNING,
		    .status = 1,
		    .since_ms = T0 + 1000,
		    .until_ms = T0 + 39000,
		    .limit = 2 } },
		{ "no match", { .service = "nope", .status = -1 } },
	};

	put_rows(s, rows);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!strcmp(cases[i].what, "before id"))
			cases[i].f.before_id = rows[NROWS / 2].id;
		check_list(s, &cases[i].f, rows, cases[i].what);
	}
	store_close(s);
	rows_release(rows);
}

/* Pages of @f with the cursor: every matching row exactly once, newest first. */
static void page_through(struct store *s, struct store_anomaly_filter f,
			 const struct store_anomaly *rows, size_t limit)
{
	size_t total = 0, want = 0;
	int64_t last = INT64_MAX;
	bool more = true;

	for (int i = 0; i < NROWS; i++)
		want += matches(&f, &rows[i]);
	f.limit = limit;
	f.before_id = 0;
	while (more) {
		struct store_anomaly *v;
		size_t n;

		check_list(s, &f, rows, "page");
		cr_assert_eq(store_anomalies_list(s, &f, &v, &n, &more), 0);
		cr_assert_leq(n, limit);
		cr_assert(n == limit || !more, "a short page is the last");
		for (size_t j = 0; j < n; j++) {
			cr_assert_lt(v[j].id, last, "newest first, never twice");
			last = v[j].id;
		}
		total += n;
		if (n)
			f.before_id = v[n - 1].id;
		store_anomalies_free(v, n);
		cr_assert_leq(total, want);
	}
	cr_assert_eq(total, want);
}

Test(store_anomalies, the_cursor_pages_through_every_row_exactly_once)
{
	struct store_anomaly rows[NROWS];
	struct store *s = open_store(false);

	put_rows(s, rows);
	page_through(s, (struct store_anomaly_filter){ .status = -1 }, rows, 3);
	page_through(s, (struct store_anomaly_filter){ .status = -1 }, rows, 1);
	page_through(s, (struct store_anomaly_filter){ .status = -1 }, rows, 8); /* 40 = 5 pages */
	page_through(s, (struct store_anomaly_filter){ .status = -1 }, rows, NROWS);
	page_through(s, (struct store_anomaly_filter){ .status = -1 }, rows, NROWS + 1);
	page_through(s, (struct store_anomaly_filter){ .tenant = "default", .status = 1 }, rows, 4);
	page_through(s, (struct store_anomaly_filter){ .service = "payments", .status = -1 }, rows,
		     2);
	store_close(s);
	rows_release(rows);
}
