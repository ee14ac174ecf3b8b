/*
 * What the files of aggregator/store/ share and nothing outside them sees:
 * struct store itself, the prepared-statement cache, the per-transaction
 * caches of the ingest path, and the helpers every file uses to turn a
 * SQLite failure into a logged -EIO.
 *
 * Tables (store_schema.c has the SQL):
 *   raw_windows      one row per (tenant, service, host, end_ms, agent)
 *   raw_calls        per (tenant, src service, dst, end_ms), summed over the
 *                    agents of one ingest transaction (several rows may share
 *                    a key; queries sum them)
 *   minute_windows   per (tenant, service, minute), summed over hosts
 *   minute_calls     per (tenant, src, dst, minute)
 *   service_hosts    per (tenant, service, host): first and last seen
 *   agents           per (tenant, agent_id): status, last_seq, frames
 *   tenant_state     per tenant: the rollup cursors and the raw floor
 *   anomalies        one row per anomaly (id AUTOINCREMENT, never reused),
 *                    with its tenant; store_anomalies.c prepares its own
 *                    statements per call (anomaly writes are rare and the
 *                    list's WHERE clause varies), outside the cache below
 *   policies         one row per policy (id AUTOINCREMENT), its name unique
 *                    in its tenant; its source document as given
 *   actions          one row per action (id AUTOINCREMENT): what a policy or
 *                    an operator decided and what came of it
 *   audit            one row per change (id AUTOINCREMENT), append only
 *   metric_counters  per (tenant, service, family, labels): the cumulative
 *                    counters of /metrics (store_metrics.c)
 *                    The last three are written and read like anomalies:
 *                    statements prepared per call, with the helpers at the
 *                    end of this file
 *
 * The rollup cursor of a tenant is (end_ms, rowid) of the last raw row rolled
 * into minute rows; rows after it in (end_ms, rowid) order are not rolled yet.
 * A window that arrives with end_ms below the cursor's is merged into its
 * minute row at once (the "late path"), so every window reaches its minute
 * row exactly once. New rows always get a rowid above the cursor's: SQLite
 * picks max(rowid) + 1 and the cursor's own row is never deleted (retention
 * stops at the raw floor, which stays at or below the cursor's minute).
 *
 * The raw floor F of a tenant is a minute boundary at or below both cursors:
 * queries read raw rows for [F, until) and minute rows for the minutes
 * before F, so no window is counted twice; retention deletes raw rows
 * below F.
 */
#ifndef PRP_AGGREGATOR_STORE_INTERNAL_H
#define PRP_AGGREGATOR_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/store/store.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/hist.h"
#include "common/window.h"
#include "common/window_wire.h"

#define STORE_MINUTE_MS 60000LL
/* end_ms of a stored window lies in [1, STORE_TIME_MAX]: arithmetic never overflows. */
#define STORE_TIME_MAX (INT64_MAX / 4)

enum store_stmt_id {
	STMT_AGENT_LAST_SEQ,
	STMT_AGENT_PUT_SEQ,
	STMT_AGENT_UPDATE,
	STMT_AGENTS_ALL,
	STMT_AGENTS_TENANT,
	STMT_RAW_INSERT,
	STMT_CALL_INSERT,
	STMT_SEEN_UPSERT,
	STMT_TENANT_ENSURE,
	STMT_TENANT_GET,
	STMT_TENANT_LIST,
	STMT_TENANT_SET_WIN,
	STMT_TENANT_SET_CALL,
	STMT_TENANT_SET_FLOOR,
	STMT_MINUTE_GET,
	STMT_MINUTE_PUT,
	STMT_MCALL_GET,
	STMT_MCALL_PUT,
	STMT_ROLL_WINDOWS,
	STMT_ROLL_CALLS,
	STMT_DEL_RAW,
	STMT_DEL_CALLS,
	STMT_DEL_MINUTE,
	STMT_DEL_MCALLS,
	STMT_DEL_SEEN,
	STMT_SERVICE_EXISTS,
	STMT_SERVICES,
	STMT_SERVICE_LAST,
	STMT_SUM_RAW,
	STMT_SUM_MINUTE,
	STMT_SERIES_RAW,
	STMT_SERIES_MINUTE,
	STMT_TOPOLOGY,
	STMT_METRIC_UPSERT,
	STMT_METRIC_SERIES,
	STMT_METRICS_TENANT,
	STMT_COUNT
};

/* The rollup state of one tenant (a tenant_state row). */
struct store_tenant {
	char tenant[FRAME_ID_MAX];
	int64_t win_end_ms, win_rowid;	 /* windows cursor */
	int64_t call_end_ms, call_rowid; /* calls cursor */
	int64_t raw_floor_ms;
};

/* Calls summed in memory during an ingest transaction, written at commit. */
struct store_call_acc {
	uint64_t hash;
	bool used;
	char tenant[FRAME_ID_MAX];
	char src[SERVICE_NAME_MAX];
	char dst[SERVICE_NAME_MAX];
	int64_t end_ms;
	uint64_t count, errors;
	struct hist latency_ns;
};
#define STORE_CALL_SLOTS 4096 /* power of two; flushed at 3/4 full */

/* (tenant, service, host) -> first/last seen already written, to skip most upserts. */
struct store_seen {
	uint64_t hash;
	char *key; /* tenant \0 service \0 host, NULL when the slot is free */
	size_t keylen;
	int64_t first_ms, last_ms;
};
#define STORE_SEEN_SLOTS 65536 /* power of two; cleared when 3/4 full */
/* last_seen_ms in service_hosts may lag by this much; queries refine it from raw rows */
#define STORE_SEEN_SLACK_MS 60000

/* A metric series' counts summed during an ingest transaction (store_metrics.c). */
struct store_metric_acc {
	uint64_t key; /* the series' hash */
	bool used;
	char tenant[FRAME_ID_MAX];
	struct store_metric m;
};

/* Open addressing over 64-bit hashes (store_metrics.c). */
struct store_hashset {
	uint64_t *keys;	  /* 0: a free slot */
	uint32_t *counts; /* a count per key, or NULL */
	size_t cap, n;
};

struct store {
	sqlite3 *db;
	char *path; /* DIR/prp.db */
	bool read_only;
	bool in_txn;
	unsigned raw_hours, minute_days;
	sqlite3_stmt *stmts[STMT_COUNT];
	struct buf latency, syscalls, routes; /* encoding scratch */
	struct buf viewbuf; /* store_put_windows() of struct window batches: their wire form */
	struct hist scratch;
	/* valid during one transaction: tenant states read in it */
	struct store_tenant *tenants;
	size_t ntenants;
	struct store_call_acc *calls; /* STORE_CALL_SLOTS, allocated on first use */
	size_t ncalls;
	struct store_seen *seen; /* STORE_SEEN_SLOTS, allocated on first use */
	size_t nseen;
	int64_t last_seen_gc_ms;
	/* the /metrics counters of the transaction, and the series known to exist */
	struct store_metric_acc *metric_acc;
	size_t metric_acc_cap, metric_nacc;
	struct store_hashset metric_series;   /* hashes of (tenant, service, family, labels) */
	struct store_hashset metric_services; /* (tenant, service) -> its capped series */
	unsigned metric_series_max;
};

struct store_agg;

/* ---- store_sqlite.c ---- */
/* Logs "store: WHAT: sqlite's message" and returns -EIO. */
int store_db_error(struct store *s, const char *what);
/*
 * Runs @st, prepared from an insert (*@id 0: set to the new row's id) or
 * an update by id (-ENOENT when no row has it), and finalizes it. A UNIQUE
 * violation is -EEXIST; other failures are logged naming @what ("the
 * policy") and are -EIO. The one ending of every row put.
 */
int store_step_put(struct store *s, sqlite3_stmt *st, int64_t *id, const char *what);
/* The cached statement @id, reset and unbound; NULL (logged) on failure. */
sqlite3_stmt *store_stmt(struct store *s, enum store_stmt_id id);
/* Runs SQL without results. 0 or -EIO (logged). */
int store_exec(struct store *s, const char *sql);
/* Steps @st to SQLITE_DONE and resets it. 0 or -EIO (logged). */
int store_step_done(struct store *s, sqlite3_stmt *st, const char *what);
/* Binds text, never more than @cap - 1 bytes of it. */
int store_bind_name(sqlite3_stmt *st, int i, const char *v, size_t cap);
/*
 * The tenant state row, created if absent (writer, inside a transaction);
 * cached until the transaction ends. The pointer is valid until the next
 * call (the cache grows by realloc).
 */
int store_tenant_get(struct store *s, const char *tenant, struct store_tenant **out);
/* Reads the tenant state row into @t; -ENOENT when the tenant has none. */
int store_tenant_load(struct store *s, const char *tenant, struct store_tenant *t);
/* The start of the minute holding @t_ms (floor, also for negative times). */
int64_t store_floor_minute(int64_t t_ms);
/* true when @v is a NUL-terminated, non-empty string within @cap bytes. */
bool store_name_ok(const char *v, size_t cap);

/* ---- store_ingest.c ---- */
/* Writes the calls summed in memory (at commit, or when the table fills). */
int store_ingest_flush(struct store *s);
/* Forgets the calls summed in memory and the seen cache (at rollback). */
void store_ingest_discard(struct store *s);
/* Frees the ingest caches (at close). */
void store_ingest_release(struct store *s);

/* ---- store_metrics.c ---- */
/* Adds the counts of window @v of @service to the transaction's metric sums. */
int store_metrics_add(struct store *s, const char *tenant, const char *service,
		      const struct window_view *v);
/* Writes the sums (at commit, or when the table fills). */
int store_metrics_flush(struct store *s);
/* Forgets the sums and the known series (at rollback). */
void store_metrics_discard(struct store *s);
/* Frees it all (at close). */
void store_metrics_release(struct store *s);

/* ---- store_schema.c ---- */
/* Applies the missing migrations (writer) or checks the version (reader). */
int store_schema_migrate(struct store *s);

/* ---- store_maintain.c ---- */
/* Merges @add into the minute row of (tenant, service, minute), creating it. */
int store_minute_merge(struct store *s, const char *tenant, const char *service,
		       int64_t minute_ms, const struct store_agg *add);
/* Merges calls into the minute_calls row of (tenant, src, dst, minute), creating it. */
int store_minute_call_merge(struct store *s, const char *tenant, const char *src, const char *dst,
			    int64_t minute_ms, uint64_t count, uint64_t errors,
			    const struct hist *latency_ns);

/* ---- store_agg.c: sums of windows, and the blobs they are stored as ---- */
struct store_agg_syscall {
	char name[WINDOW_SYSCALL_NAME_MAX];
	uint32_t nr;
	uint64_t count, errors;
	struct window_errno errnos[WINDOW_ERRNOS_MAX];
	size_t nerrnos;
	struct hist latency_ns;
};

struct store_agg_route {
	char method[WINDOW_METHOD_MAX];
	char route[WINDOW_ROUTE_MAX];
	uint16_t status;
	uint64_t count;
	struct hist latency_ns;
};

struct store_agg {
	uint64_t windows, requests, errors, syscalls, syscall_errors;
	struct window_tcp tcp;
	struct hist latency_ns;
	struct store_agg_syscall *sys;
	size_t nsys, sys_alloc;
	struct store_agg_route *routes;
	size_t nroutes, routes_alloc;
};

/* Entries of each kind a sum keeps; more fold into one "(other)" entry. */
#define STORE_AGG_ENTRIES_MAX WINDOW_BATCH_ENTRIES_MAX

void store_agg_init(struct store_agg *a);
void store_agg_release(struct store_agg *a);
/* Empties @a, keeping its arrays. */
void store_agg_reset(struct store_agg *a);
/* Adds a whole window (one more window) to @a. 0 or -EPROTO (a view is checked: never). */
int store_agg_add_view(struct store_agg *a, const struct window_view *v);
void store_agg_merge(struct store_agg *dst, const struct store_agg *src);
/* hist_serialize(), faster: the same bytes. 0 or -E2BIG. */
int store_hist_put(const struct hist *h, struct buf *out);
/* Blob encoders: 0 or -E2BIG. */
/* A raw window's blob: version 2 and a section of its wire form (NULL: empty), as it is. */
int store_blob_wire(const void *section, size_t len, struct buf *out);
int store_blob_agg_syscalls(const struct store_agg *a, struct buf *out);
int store_blob_agg_routes(const struct store_agg *a, struct buf *out);
/* Blob decoders that add into @a: 0 or -EPROTO. NULL/0 is an empty blob. */
int store_blob_add_syscalls(struct store_agg *a, const void *p, size_t len);
int store_blob_add_routes(struct store_agg *a, const void *p, size_t len);
/*
 * Adds one row of a windows table to @a: the columns from @col are windows,
 * requests, errors, syscalls, syscall_errors, tcp_retransmits, tcp_resets,
 * tcp_connect_failures, then latency, syscall_detail, route_detail as
 * @what asks (each present only if the ones before it are). 0 or -EPROTO.
 */
enum store_row_parts {
	STORE_ROW_LATENCY = 1 << 0,
	STORE_ROW_SYSCALLS = 1 << 1,
	STORE_ROW_ROUTES = 1 << 2,
	STORE_ROW_RAW = 1 << 3, /* a raw row: the latency column holds the routes blob */
};
int store_agg_add_row(struct store_agg *a, sqlite3_stmt *st, int col, unsigned what);
/* Merges a serialized histogram into @h (@scratch is work space): 0 or -EPROTO. */
int store_blob_add_hist(struct hist *h, struct hist *scratch, const void *p, size_t len);

/*
 * ---- helpers of the tables whose statements are prepared per call
 * (store_anomalies.c, store_policies.c, store_actions.c, store_audit.c) ----
 */
/* Prepares @sql into *st (NULL on failure). 0 or -EIO, logged with @what. */
static inline int store_prepare(struct store *s, const char *sql, sqlite3_stmt **st,
				const char *what)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
		*st = NULL;
		return store_db_error(s, what);
	}
	return 0;
}

/*
 * Room for one more item after the @len items of @size bytes of the
 * growing array @v (@alloc allotted, doubled when full): the array, maybe
 * moved. The lists read row by row use it.
 */
static inline void *store_grow(void *v, size_t len, size_t *alloc, size_t size)
{
	if (len < *alloc)
		return v;
	*alloc = *alloc ? *alloc * 2 : 16;
	return xreallocarray(v, *alloc, size);
}

/* true when @v is NULL or at most @max bytes long. */
static inline bool store_text_fits(const char *v, size_t max)
{
	return !v || strnlen(v, max + 1) <= max;
}

/* Binds @v, or NULL when @v is; @v must outlive the step. */
static inline void store_bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, (int)strlen(v), SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Column @i into @dst (cut to @cap - 1 bytes; NULL reads as ""). */
static inline void store_column_name(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *v = sqlite3_column_text(st, i);

	snprintf(dst, cap, "%s", v ? (const char *)v : "");
}

/* Column @i as a string the caller owns (free()); NULL for SQL NULL. */
static inline char *store_column_text_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *v = sqlite3_column_text(st, i);

	return v ? xstrndup((const char *)v, (size_t)sqlite3_column_bytes(st, i)) : NULL;
}

/* ---- store_listq.c: the filtered, paged lists of those tables ---- */
#define STORE_LISTQ_BINDS 10 /* conditions and the limit */

struct store_listq {
	char sql[1024];
	size_t len;
	int nconds;
	/* the value of each "?" in the order the conditions were added */
	struct {
		const char *text; /* NULL: @v is the value */
		size_t cap;
		int64_t v;
	} binds[STORE_LISTQ_BINDS];
	int nbinds;
	size_t limit; /* the page; 0: no bound */
};

/* Starts the query with @select ("SELECT cols FROM table"). */
void store_listq_init(struct store_listq *q, const char *select);
void store_listq_append(struct store_listq *q, const char *sql);
/* Adds "@cond" (one "?") with a text value (cut to @cap - 1 bytes), ANDed to the others. */
void store_listq_where_text(struct store_listq *q, const char *cond, const char *v, size_t cap);
void store_listq_where_int(struct store_listq *q, const char *cond, int64_t v);
/* Appends @order_by and, with a @limit, asks for one row more to tell whether more remain. */
void store_listq_finish(struct store_listq *q, const char *order_by, size_t limit);
/* Prepares the query and binds its values: 0 or -EIO (logged with @what). */
int store_listq_prepare(struct store *s, const struct store_listq *q, sqlite3_stmt **st,
			const char *what);
/*
 * Steps to the next row: 1 when a row of the page is ready (@have rows read
 * so far), 0 at the end (*@more set when the row past the page exists; @more
 * may be NULL), or -EIO (logged with @what).
 */
int store_listq_step(struct store *s, sqlite3_stmt *st, const struct store_listq *q, size_t have,
		     bool *more, const char *what);

#endif
