/*
 * The anomalies table: one row per anomaly, keyed by an AUTOINCREMENT id
 * (never reused) and always read and written together with its tenant, so
 * one tenant can neither see nor change another's anomalies.
 *
 * store_anomaly_put() writes one row in autocommit mode: it is the writer's,
 * and refuses to run inside store_begin()/store_commit() (-EINVAL), where its
 * row would wait for, or be undone with, an ingest batch. A reader store
 * refuses it with -EROFS. Contention with another connection is left to the
 * busy timeout store_open() sets; what remains is -EIO (logged).
 *
 * These statements are prepared per call, not through store_stmt(): anomaly
 * writes are a few per minute at most, and the list's WHERE clause depends
 * on the filter. Every value is bound; the SQL text is built only from the
 * constant fragments below.
 *
 * Arguments are checked before anything is written (-EINVAL): names
 * non-empty and within their fields, a known severity, finite numbers with
 * score and confidence in [0,1], times not negative, resolved_ms 0 while
 * open, evidence and details at most STORE_ANOMALY_TEXT_MAX bytes. The JSON
 * of evidence and details is stored as given; its callers produce it.
 */
#include "aggregator/store/store_internal.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

/* Bound on evidence and details: a few dozen points of evidence take a few KiB. */
#define STORE_ANOMALY_TEXT_MAX (1u << 20)

/* The columns after id, in the order bind_fields() binds them (?1 to ?17). */
#define ANOMALY_FIELDS                                                                             \
	"tenant, service, metric, severity, open, score, confidence, current_value,"               \
	" peak_value, expected_min, expected_max, expected_mean, started_ms, updated_ms,"          \
	" resolved_ms, evidence, details"
#define ANOMALY_COLS "id, " ANOMALY_FIELDS /* as read_row() reads them */

static const char anomaly_insert_sql[] =
	"INSERT INTO anomalies (" ANOMALY_FIELDS ")"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
/* the tenant (?1) is a key, not a field: it is never changed */
static const char anomaly_update_sql[] =
	"UPDATE anomalies SET service = ?2, metric = ?3, severity = ?4, open = ?5, score = ?6,"
	" confidence = ?7, current_value = ?8, peak_value = ?9, expected_min = ?10,"
	" expected_max = ?11, expected_mean = ?12, started_ms = ?13, updated_ms = ?14,"
	" resolved_ms = ?15, evidence = ?16, details = ?17 WHERE id = ?18 AND tenant = ?1";
static const char anomaly_get_sql[] =
	"SELECT " ANOMALY_COLS " FROM anomalies WHERE id = ?1 AND tenant = ?2";

void store_anomaly_release(struct store_anomaly *a)
{
	if (!a)
		return;
	free(a->evidence);
	free(a->details);
	memset(a, 0, sizeof(*a));
}

void store_anomalies_free(struct store_anomaly *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		store_anomaly_release(&v[i]);
	free(v);
}

static bool unit_ok(double v)
{
	return isfinite(v) && v >= 0 && v <= 1;
}

static bool severity_ok(enum store_severity v)
{
	return (unsigned)v <= STORE_SEVERITY_CRITICAL;
}

static bool anomaly_ok(const struct store_anomaly *a)
{
	return a->id >= 0 && store_name_ok(a->tenant, sizeof(a->tenant)) &&
	       store_name_ok(a->service, sizeof(a->service)) &&
	       store_name_ok(a->metric, sizeof(a->metric)) && severity_ok(a->severity) &&
	       unit_ok(a->score) && unit_ok(a->confidence) && isfinite(a->current_value) &&
	       isfinite(a->peak_value) && isfinite(a->expected_min) && isfinite(a->expected_max) &&
	       isfinite(a->expected_mean) && a->started_ms >= 0 && a->updated_ms >= 0 &&
	       a->resolved_ms >= 0 && !(a->open && a->resolved_ms) &&
	       store_text_fits(a->evidence, STORE_ANOMALY_TEXT_MAX) &&
	       store_text_fits(a->details, STORE_ANOMALY_TEXT_MAX);
}

/* ?1 to ?17 in the order of ANOMALY_FIELDS; @a must outlive the step. */
static void bind_fields(sqlite3_stmt *st, const struct store_anomaly *a)
{
	store_bind_name(st, 1, a->tenant, sizeof(a->tenant));
	store_bind_name(st, 2, a->service, sizeof(a->service));
	store_bind_name(st, 3, a->metric, sizeof(a->metric));
	sqlite3_bind_int(st, 4, (int)a->severity);
	sqlite3_bind_int(st, 5, a->open);
	sqlite3_bind_double(st, 6, a->score);
	sqlite3_bind_double(st, 7, a->confidence);
	sqlite3_bind_double(st, 8, a->current_value);
	sqlite3_bind_double(st, 9, a->peak_value);
	sqlite3_bind_double(st, 10, a->expected_min);
	sqlite3_bind_double(st, 11, a->expected_max);
	sqlite3_bind_double(st, 12, a->expected_mean);
	sqlite3_bind_int64(st, 13, a->started_ms);
	sqlite3_bind_int64(st, 14, a->updated_ms);
	sqlite3_bind_int64(st, 15, a->resolved_ms);
	store_bind_text_or_null(st, 16, a->evidence);
	store_bind_text_or_null(st, 17, a->details);
}

int store_anomaly_put(struct store *s, struct store_anomaly *a)
{
	bool insert = a->id == 0;
	sqlite3_stmt *st;
	int err;

	if (s->read_only)
		return -EROFS;
	if (s->in_txn || !anomaly_ok(a))
		return -EINVAL;
	err = store_prepare(s, insert ? anomaly_insert_sql : anomaly_update_sql, &st,
			    "cannot prepare an anomalies statement");
	if (err)
		return err;
	bind_fields(st, a);
	if (!insert)
		sqlite3_bind_int64(st, 18, a->id);
	return store_step_put(s, st, &a->id, "the anomaly");
}

/* A row of ANOMALY_COLS into @a (zeroed first). */
static void read_row(sqlite3_stmt *st, struct store_anomaly *a)
{
	int severity = sqlite3_column_int(st, 4);

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	store_column_name(st, 1, a->tenant, sizeof(a->tenant));
	store_column_name(st, 2, a->service, sizeof(a->service));
	store_column_name(st, 3, a->metric, sizeof(a->metric));
	/* only ever written in range; clamp so a hand-edited row cannot yield a bad enum */
	if (severity < STORE_SEVERITY_INFO)
		severity = STORE_SEVERITY_INFO;
	if (severity > STORE_SEVERITY_CRITICAL)
		severity = STORE_SEVERITY_CRITICAL;
	a->severity = (enum store_severity)severity;
	a->open = sqlite3_column_int(st, 5) != 0;
	a->score = sqlite3_column_double(st, 6);
	a->confidence = sqlite3_column_double(st, 7);
	a->current_value = sqlite3_column_double(st, 8);
	a->peak_value = sqlite3_column_double(st, 9);
	a->expected_min = sqlite3_column_double(st, 10);
	a->expected_max = sqlite3_column_double(st, 11);
	a->expected_mean = sqlite3_column_double(st, 12);
	a->started_ms = sqlite3_column_int64(st, 13);
	a->updated_ms = sqlite3_column_int64(st, 14);
	a->resolved_ms = sqlite3_column_int64(st, 15);
	a->evidence = store_column_text_dup(st, 16);
	a->details = store_column_text_dup(st, 17);
}

int store_anomaly_get(struct store *s, const char *tenant, int64_t id, struct store_anomaly *out)
{
	sqlite3_stmt *st;
	int rc, err;

	memset(out, 0, sizeof(*out));
	if (!store_name_ok(tenant, FRAME_ID_MAX))
		return -EINVAL;
	if (id <= 0) /* no anomaly has such an id */
		return -ENOENT;
	err = store_prepare(s, anomaly_get_sql, &st, "cannot prepare an anomalies statement");
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
		err = store_db_error(s, "cannot read the anomaly");
	sqlite3_finalize(st);
	return err;
}

/* ---- the list (store_listq.c) ---- */

static bool filter_ok(const struct store_anomaly_filter *f)
{
	return (!f->tenant || store_name_ok(f->tenant, FRAME_ID_MAX)) &&
	       (!f->service || store_name_ok(f->service, SERVICE_NAME_MAX)) &&
	       (!f->metric || store_name_ok(f->metric, STORE_METRIC_MAX)) &&
	       severity_ok(f->min_severity) && f->status >= -1 && f->status <= 1 &&
	       f->before_id >= 0;
}

/* The SELECT of @f, newest first. */
static void query_build(struct store_listq *q, const struct store_anomaly_filter *f)
{
	store_listq_init(q, "SELECT " ANOMALY_COLS " FROM anomalies");
	if (f->tenant)
		store_listq_where_text(q, "tenant = ?", f->tenant, FRAME_ID_MAX);
	if (f->service)
		store_listq_where_text(q, "service = ?", f->service, SERVICE_NAME_MAX);
	if (f->metric)
		store_listq_where_text(q, "metric = ?", f->metric, STORE_METRIC_MAX);
	if (f->min_severity > STORE_SEVERITY_INFO)
		store_listq_where_int(q, "severity >= ?", f->min_severity);
	if (f->status >= 0)
		store_listq_where_int(q, "open = ?", f->status);
	/* 0 leaves that end open: since 0 is every start, until 0 is no bound */
	if (f->since_ms)
		store_listq_where_int(q, "started_ms >= ?", f->since_ms);
	if (f->until_ms)
		store_listq_where_int(q, "started_ms < ?", f->until_ms);
	if (f->before_id)
		store_listq_where_int(q, "id < ?", f->before_id);
	store_listq_finish(q, " ORDER BY id DESC", f->limit);
}

int store_anomalies_list(struct store *s, const struct store_anomaly_filter *f,
			 struct store_anomaly **out, size_t *n, bool *more)
{
	struct store_anomaly *v = NULL;
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
	err = store_listq_prepare(s, &q, &st, "cannot prepare an anomalies statement");
	if (err)
		return err;
	while ((rc = store_listq_step(s, st, &q, len, more, "cannot list the anomalies")) == 1) {
		v = store_grow(v, len, &alloc, sizeof(*v));
		read_row(st, &v[len++]);
	}
	sqlite3_finalize(st);
	if (rc < 0) {
		store_anomalies_free(v, len);
		return rc;
	}
	*out = v;
	*n = len;
	return 0;
}
