/*
 * The aggregator's store: the one interface to persistent state, with no
 * SQL anywhere else (DESIGN.md). This first implementation is SQLite in WAL
 * mode in the data directory (store_sqlite.c); a PostgreSQL one may follow
 * behind the same functions.
 *
 * What it keeps: every service window the agents sent, raw (one row per
 * agent, service and window) for `raw_hours`, rolled up per minute for
 * `minute_days`; the call graph the same way; each agent's last stored
 * sequence number (for de-duplication across restarts) and status.
 *
 * Durability: store_put_windows() writes inside the transaction opened by
 * store_begin(); once store_commit() returns 0 the frames are on disk
 * (synchronous=FULL) and may be acknowledged. Batching many frames in one
 * transaction is what makes ingest fast.
 *
 * Threads: a struct store is used by one thread at a time; the aggregator
 * opens one for ingest and one per HTTP worker (SQLite WAL lets readers run
 * beside the writer).
 *
 * Times are ms since the epoch; ranges are [since, until). Every function
 * returns 0 or a negative errno: -ENOENT for an unknown service, -EINVAL for
 * a bad argument, -EIO for a database failure (logged with SQLite's message).
 */
#ifndef PRP_AGGREGATOR_STORE_H
#define PRP_AGGREGATOR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/frame.h"
#include "common/hist.h"
#include "common/window_wire.h"

struct store;

struct store_options {
	const char *dir;     /* data directory; the database is DIR/prp.db */
	unsigned raw_hours;  /* raw windows kept this long (default 24) */
	unsigned minute_days; /* minute rollups kept this long (default 14) */
	bool read_only;	     /* for readers: no migrations, no writes */
	unsigned metric_series_max; /* HTTP series of /metrics per service (default 1000) */
};

/* Opens (creating and migrating as needed) the store. */
int store_open(struct store **out, const struct store_options *o);
void store_close(struct store *s);
/* The schema version this build writes (the `schema_version` table). */
int store_schema_version(void);

/* ---- ingest (one writer) ---- */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* The last sequence number stored for the agent, 0 when none. */
int store_agent_last_seq(struct store *s, const char *tenant, const char *agent_id,
			 uint64_t *seq);
/*
 * Stores the windows of frame @seq of the agent and makes @seq its last
 * sequence number, in the open transaction. The caller has checked that
 * @seq is above the last one (a duplicate is never passed here). @b is
 * borrowed for the call; its items are views (window_batch_decode_view(),
 * what ingest passes: the fast path) or struct windows (encoded first).
 */
int store_put_windows(struct store *s, const char *tenant, const char *agent_id, uint64_t seq,
		      const struct window_batch *b);

struct store_agent {
	char tenant[FRAME_ID_MAX];
	char agent_id[FRAME_ID_MAX];
	char host[WINDOW_HOST_MAX];
	char version[32];
	bool connected;
	int64_t first_seen_ms, last_seen_ms;
	uint64_t frames;      /* FRAME_WINDOWS frames stored, ever */
	uint64_t last_seq;
	uint64_t spool_bytes; /* as the agent last reported */
	uint64_t spool_lost;  /* frames its spool dropped, ever, as it last reported */
};
/* Creates or updates the agent's status row (all fields but frames and last_seq). */
int store_agent_update(struct store *s, const struct store_agent *a);
/* Every agent of @tenant (NULL: all tenants), by agent id; free() *out. */
int store_agents(struct store *s, const char *tenant, struct store_agent **out, size_t *n);

/* ---- queries ---- */
struct store_service {
	char name[SERVICE_NAME_MAX];
	char **hosts; /* distinct hosts that reported it */
	size_t nhosts;
	int64_t first_seen_ms, last_seen_ms;
};
int store_services(struct store *s, const char *tenant, struct store_service **out, size_t *n);
void store_services_free(struct store_service *v, size_t n);

struct store_syscall_total {
	char name[WINDOW_SYSCALL_NAME_MAX];
	uint64_t count, errors;
	struct window_errno errnos[WINDOW_ERRNOS_MAX];
	size_t nerrnos;
	struct hist latency_ns;
};

/* Exact totals of one service over [since, until). */
struct store_summary {
	uint64_t requests;     /* every HTTP request the agents saw */
	uint64_t errors;       /* of which answered 5xx */
	uint64_t windows;      /* service windows in the range */
	struct hist latency_ns; /* every request's latency, merged */
	struct store_syscall_total *syscalls;
	size_t nsyscalls;
	struct window_tcp tcp;
};
int store_service_summary(struct store *s, const char *tenant, const char *service,
			  int64_t since_ms, int64_t until_ms, struct store_summary *out);
void store_summary_release(struct store_summary *sum);

/*
 * One metric of a service as points of @step_ms from @since_ms (the point's
 * time is its step's start; steps with no window are left out). Metrics:
 * requests, errors, request_rate (per s), error_rate (5xx fraction),
 * latency_p50, latency_p90, latency_p95, latency_p99, latency_max (ms),
 * syscalls, syscall_errors, syscall_error_rate, tcp_retransmits, tcp_resets,
 * tcp_connect_failures. -EINVAL for an unknown metric.
 */
struct store_point {
	int64_t t_ms;
	double v;
};
int store_service_series(struct store *s, const char *tenant, const char *service,
			 const char *metric, int64_t since_ms, int64_t until_ms, int64_t step_ms,
			 struct store_point **out, size_t *n);

/*
 * Every figure of a service per step of @step_ms from @since_ms, in one
 * pass (store_service_series() reads one metric per pass): the sums of the
 * windows whose time falls in [t_ms, t_ms + step_ms), and the latency
 * percentiles of their merged requests. Steps with no window are left out;
 * the same checks and errors as store_service_series(). free() *out.
 */
struct store_step {
	int64_t t_ms;
	uint64_t windows, requests, errors; /* errors: answered 5xx */
	uint64_t syscalls, syscall_errors;
	struct window_tcp tcp;
	double latency_p50_ms, latency_p99_ms; /* 0 without requests */
};
int store_service_steps(struct store *s, const char *tenant, const char *service,
			int64_t since_ms, int64_t until_ms, int64_t step_ms, struct store_step **out,
			size_t *n);

/* An edge of the call graph over a range: calls of @from to @to. */
struct store_edge {
	char from[SERVICE_NAME_MAX];
	char to[SERVICE_NAME_MAX]; /* the peer's service name, else its address */
	uint64_t requests, errors;
	struct hist latency_ns;
};
int store_topology(struct store *s, const char *tenant, int64_t since_ms, int64_t until_ms,
		   struct store_edge **out, size_t *n);
void store_topology_free(struct store_edge *v, size_t n);

/* ---- anomalies (store_anomalies.c) ---- */
enum store_severity { STORE_SEVERITY_INFO = 0, STORE_SEVERITY_WARNING = 1, STORE_SEVERITY_CRITICAL = 2 };
#define STORE_METRIC_MAX 32

/*
 * One anomaly as an incident: opened by detection, updated while it lasts,
 * resolved once. The baseline (expected_*) is the one it was opened
 * against; current_value and peak_value follow the series.
 */
struct store_anomaly {
	int64_t id; /* > 0; assigned by store_anomaly_put() on insert */
	char tenant[FRAME_ID_MAX];
	char service[SERVICE_NAME_MAX];
	char metric[STORE_METRIC_MAX]; /* a bare signal name: latency_p99, error_rate, ... */
	enum store_severity severity;  /* the highest it reached */
	bool open;		       /* false once resolved */
	double score;		       /* the detector's, in [0,1]: the highest while open */
	double confidence;	       /* in [0,1] */
	double current_value, peak_value;
	double expected_min, expected_max, expected_mean;
	int64_t started_ms, updated_ms, resolved_ms; /* resolved_ms 0 while open */
	char *evidence; /* JSON array text, owned (free()); NULL reads as "[]" */
	char *details;	/* JSON object text, owned (free()); NULL reads as "{}" */
};

/* Frees the strings of @a (not @a itself); @a is then zeroed. */
void store_anomaly_release(struct store_anomaly *a);
void store_anomalies_free(struct store_anomaly *v, size_t n);

/*
 * Writes @a: inserts it when a->id is 0 (and sets a->id), else updates
 * the row with that id and tenant (-ENOENT when there is none). Writer;
 * commits at once (outside store_begin()/store_commit()).
 */
int store_anomaly_put(struct store *s, struct store_anomaly *a);

/* One anomaly of @tenant by id into @out (release it); -ENOENT when absent. */
int store_anomaly_get(struct store *s, const char *tenant, int64_t id, struct store_anomaly *out);

struct store_anomaly_filter {
	const char *tenant;  /* NULL: every tenant */
	const char *service; /* NULL: any */
	const char *metric;  /* NULL: any */
	enum store_severity min_severity;
	int status;	     /* -1 any, 1 open, 0 resolved */
	int64_t since_ms, until_ms; /* started_ms in [since, until); 0/0: any */
	int64_t before_id;   /* only ids below (the cursor); 0: none */
	size_t limit;	     /* at most this many; 0: no bound */
};

/*
 * The anomalies matching @f, newest (highest id) first; caller owns *out:
 * store_anomalies_free(). *more is true when more match past the limit
 * (may be NULL).
 */
int store_anomalies_list(struct store *s, const struct store_anomaly_filter *f,
			 struct store_anomaly **out, size_t *n, bool *more);

/* ---- policies, actions, audit (store_policies.c, store_actions.c, store_audit.c) ---- */
#define STORE_POLICY_NAME_MAX 64

/*
 * A policy as kept: its source document (the YAML or JSON the user gave,
 * re-parsed by aggregator/policy/policy_doc.h when loaded) and the fields
 * queries need. Names are unique per tenant.
 */
struct store_policy {
	int64_t id; /* > 0; assigned on insert */
	char tenant[FRAME_ID_MAX];
	char name[STORE_POLICY_NAME_MAX];
	bool enabled;
	char *source; /* owned; the policy's document text */
	char *origin; /* owned; "api", or the file it was loaded from ("file:/etc/prp/policies/x.yaml") */
	int64_t created_ms, updated_ms;
};
void store_policy_release(struct store_policy *p);
void store_policies_free(struct store_policy *v, size_t n);
/* Inserts (id 0: sets p->id; -EEXIST when the tenant has the name) or updates by id (-ENOENT). Writer, autocommit. */
int store_policy_put(struct store *s, struct store_policy *p);
int store_policy_get(struct store *s, const char *tenant, int64_t id, struct store_policy *out);
/* By name; -ENOENT when absent. */
int store_policy_find(struct store *s, const char *tenant, const char *name, struct store_policy *out);
/* -ENOENT when absent. Writer, autocommit. */
int store_policy_delete(struct store *s, const char *tenant, int64_t id);
/* Every policy of @tenant (NULL: all), by id; caller owns *out: store_policies_free(). */
int store_policies_list(struct store *s, const char *tenant, struct store_policy **out, size_t *n);

enum store_action_status {
	STORE_ACTION_PENDING = 0,
	STORE_ACTION_RUNNING = 1,
	STORE_ACTION_SUCCEEDED = 2,
	STORE_ACTION_FAILED = 3,
	STORE_ACTION_TIMED_OUT = 4,
	STORE_ACTION_SKIPPED = 5, /* dry run, cooldown, the hourly brake, auto-remediation off */
	STORE_ACTION_STATUS_COUNT
};
/* "pending", "running", ... (API.md); NULL for an unknown value. */
const char *store_action_status_name(enum store_action_status s);
/* The status called @name, or -1. */
int store_action_status_find(const char *name);

/* One action: a decision of a policy (or a manual execute) and what came of it. */
struct store_action {
	int64_t id; /* > 0; assigned on insert */
	char tenant[FRAME_ID_MAX];
	char policy_name[STORE_POLICY_NAME_MAX]; /* "" for a manual action */
	char service[SERVICE_NAME_MAX];
	char type[32];	  /* circuit_breaker, rate_limit, restart, ... */
	char *parameters; /* owned JSON object text; NULL reads as "{}" */
	char *reason;	  /* owned; why (the condition that matched, or the operator's text) */
	enum store_action_status status;
	int64_t created_ms, started_ms, completed_ms; /* 0 until reached */
	char *result; /* owned JSON text or NULL */
	char *logs;   /* owned text or NULL; bounded by the writer (64 KiB) */
};
void store_action_release(struct store_action *a);
void store_actions_free(struct store_action *v, size_t n);
/* Inserts (id 0: sets a->id) or updates every field by id (-ENOENT). Writer, autocommit. */
int store_action_put(struct store *s, struct store_action *a);
int store_action_get(struct store *s, const char *tenant, int64_t id, struct store_action *out);

struct store_action_filter {
	const char *tenant;  /* NULL: every tenant */
	const char *service; /* NULL: any */
	const char *type;    /* NULL: any */
	const char *policy_name; /* NULL: any */
	int status;	     /* -1 any, else enum store_action_status */
	int64_t since_ms, until_ms; /* created_ms in [since, until); 0: unbounded */
	int64_t before_id;   /* the cursor: ids below; 0: none */
	size_t limit;	     /* 0: no bound */
};
/* Newest first; *more when more match past the limit (may be NULL). */
int store_actions_list(struct store *s, const struct store_action_filter *f,
		       struct store_action **out, size_t *n, bool *more);
/* Actions of @tenant (NULL: all) created in [since_ms, now) that were executed (not skipped): the hourly brake. */
int store_actions_count_executed(struct store *s, const char *tenant, int64_t since_ms, uint64_t *n);
/* Called per (type, status) with its count; non-zero stops the walk and is returned. */
typedef int store_action_total_fn(void *arg, const char *type, enum store_action_status status,
				  uint64_t count);
/*
 * The actions of @tenant that have ended (succeeded, failed, timed out or
 * skipped), counted per type and status, by type then status: counters
 * that only grow, since actions are never deleted and an ended one stays so.
 */
int store_actions_totals(struct store *s, const char *tenant, store_action_total_fn *fn,
			 void *arg);

/* One line of the audit log: who changed what. */
struct store_audit {
	int64_t id;
	char tenant[FRAME_ID_MAX];
	int64_t at_ms;
	char actor[64];	  /* a key id, "config", "system" */
	char action[32];  /* "policy.created", "policy.updated", "policy.deleted", "toggle", ... */
	char subject[128]; /* what it was done to: "policy:12" */
	char *detail;	  /* owned JSON text or NULL */
};
void store_audit_release(struct store_audit *a);
void store_audits_free(struct store_audit *v, size_t n);
/* Appends (sets a->id). Writer, autocommit. */
int store_audit_append(struct store *s, struct store_audit *a);
/* Newest first, ids below @before_id (0: none), at most @limit (0: all). */
int store_audit_list(struct store *s, const char *tenant, int64_t before_id, size_t limit,
		     struct store_audit **out, size_t *n, bool *more);

/* ---- API keys (store_keys.c) ---- */
#define STORE_KEY_NAME_MAX 64
#define STORE_KEY_DESCRIPTION_MAX 256
#define STORE_KEY_HASH_LEN 32 /* SHA-256 */

/* An API key as kept: never the key, only its hash (aggregator/auth/apikey.h). */
struct store_key {
	int64_t id; /* > 0; assigned on insert */
	char tenant[FRAME_ID_MAX];
	char name[STORE_KEY_NAME_MAX];
	char description[STORE_KEY_DESCRIPTION_MAX];
	int role; /* enum route_role: 1 viewer, 2 operator, 3 admin */
	uint8_t hash[STORE_KEY_HASH_LEN];
	uint64_t per_minute, per_hour; /* this key's own rate limits; 0: its role's */
	int64_t created_ms, last_used_ms, revoked_ms; /* 0: never used, not revoked */
};
/* Inserts @k (its id must be 0; sets it). -EEXIST for a hash already kept. Writer, autocommit. */
int store_key_insert(struct store *s, struct store_key *k);
/* Every key, revoked ones too, by id; caller frees *out (free()). */
int store_keys_list(struct store *s, struct store_key **out, size_t *n);
/* Marks key @id of @tenant revoked at @at_ms: -ENOENT when it has none, or it is revoked. */
int store_key_revoke(struct store *s, const char *tenant, int64_t id, int64_t at_ms);
/* Records a use of key @id at @at_ms (kept only when later than the stored one). */
int store_key_touch(struct store *s, int64_t id, int64_t at_ms);

/* ---- events (store_events.c) ---- */
/* One event of the bus (aggregator/events/bus.h) as kept. */
struct store_event {
	int64_t id; /* > 0; assigned on insert */
	char tenant[FRAME_ID_MAX];
	int64_t at_ms;
	int type;     /* enum bus_type */
	int severity; /* enum store_severity */
	char service[SERVICE_NAME_MAX];
	char *json; /* owned; the event as sent */
};
void store_events_free(struct store_event *v, size_t n);
/* Inserts @e (sets e->id); the JSON at most 1 MiB (-E2BIG). Writer, autocommit. */
int store_event_insert(struct store *s, struct store_event *e);
/* Events with ids above @after_id, of @tenant (NULL: all), oldest first, at most @limit. */
int store_events_after(struct store *s, const char *tenant, int64_t after_id, size_t limit,
		       struct store_event **out, size_t *n);
/* The highest id kept, 0 when none. */
int store_events_last_id(struct store *s, int64_t *id);
/* Deletes events older than @before_ms, at most @max rows; *deleted how many. */
int store_events_prune(struct store *s, int64_t before_ms, size_t max, size_t *deleted);

/* ---- maintenance ---- */
/*
 * Rolls raw windows of whole minutes before @now_ms into minute rows (once:
 * a minute rolled up is never rolled up again) and deletes what is past
 * retention. Bounded work per call (a few thousand rows), so the caller can
 * run it between ingest batches; *more is true while work remains.
 */
int store_maintain(struct store *s, int64_t now_ms, bool *more);
/* Size of the database files in bytes (for /metrics and /health). */
int64_t store_size_bytes(struct store *s);

/* ---- the counters of /metrics (store_metrics.c) ---- */
/*
 * Cumulative since the table was made, kept with the windows they count
 * (so a restart finds them as they were) and never pruned.
 */
enum store_metric_family {
	STORE_METRIC_HTTP_SERVER = 1, /* l1 method, l2 route, l3 status: count, sum_ns, bins */
	STORE_METRIC_HTTP_CLIENT = 2, /* l1 the callee (its address when unknown): + errors */
	STORE_METRIC_SYSCALL = 3,     /* l1 the syscall's name: count, errors */
	STORE_METRIC_SYSCALL_ERRNO = 4, /* l1 the syscall's name, l3 the errno (0: other): count */
	STORE_METRIC_TCP_RETRANSMITS = 5, /* count */
	STORE_METRIC_TCP_RESETS = 6,
	STORE_METRIC_TCP_CONNECT_FAILURES = 7,
	STORE_METRIC_OVERFLOW = 8, /* l1 "http_server" or "http_client": series refused at the cap */
};
/* Latency bins: OpenTelemetry's default bounds, and one bin past the last. */
#define STORE_METRIC_BOUNDS 14
extern const uint64_t store_metric_bounds_ns[STORE_METRIC_BOUNDS];

struct store_metric {
	char service[SERVICE_NAME_MAX];
	int family; /* enum store_metric_family */
	char l1[WINDOW_ROUTE_MAX], l2[WINDOW_ROUTE_MAX];
	int64_t l3;
	uint64_t count, errors; /* saturate at INT64_MAX, as SQLite keeps them */
	double sum_ns; /* a double, like Prometheus's _sum: past 2^63 ns an integer would stop */
	uint64_t bins[STORE_METRIC_BOUNDS + 1]; /* non-cumulative; [i] <= bounds[i] */
};
/* Called per series; a non-zero return stops the walk and is returned. */
typedef int store_metric_fn(void *arg, const struct store_metric *m);
/* Every series of @tenant, by family, service, l1, l2 and l3. */
int store_metrics_each(struct store *s, const char *tenant, store_metric_fn *fn, void *arg);

/* ---- webhooks (store_webhooks.c) ---- */
#define STORE_WEBHOOK_URL_MAX	      2048
#define STORE_WEBHOOK_SECRET_MAX      1024
#define STORE_WEBHOOK_HEADERS_MAX     (16u << 10) /* the JSON text of the extra headers */
#define STORE_WEBHOOK_ROUTING_KEY_MAX 256
#define STORE_WEBHOOK_BODY_MAX	      (2u << 20) /* an event (1 MiB) in any format */
#define STORE_WEBHOOK_ERROR_MAX	      512

/* How a hook's bodies are written (aggregator/webhooks/webhooks_format.h). */
enum store_webhook_format {
	STORE_WEBHOOK_JSON = 0,	     /* the event as the bus has it */
	STORE_WEBHOOK_SLACK = 1,     /* {"text"}: a Slack incoming webhook */
	STORE_WEBHOOK_PAGERDUTY = 2, /* PagerDuty Events API v2 */
	STORE_WEBHOOK_FORMAT_COUNT
};

/* A webhook: where a tenant's events go. */
struct store_webhook {
	int64_t id; /* > 0; assigned on insert */
	char tenant[FRAME_ID_MAX];
	char *url;	   /* owned; http:// or https://, at most STORE_WEBHOOK_URL_MAX bytes */
	unsigned events;   /* bits of enum bus_type; 0: every type */
	char *secret;	   /* owned; NULL: deliveries are not signed. Never shown by the API */
	bool enabled;
	char *headers;	   /* owned JSON object text of extra headers; NULL: none */
	int format;	   /* enum store_webhook_format */
	char *routing_key; /* owned; PagerDuty's integration key; NULL: none */
	int64_t created_ms, updated_ms;
};
void store_webhook_release(struct store_webhook *h);
void store_webhooks_free(struct store_webhook *v, size_t n);
/*
 * Inserts (h->id 0: sets it) or updates every field but the tenant by id
 * and tenant (-ENOENT when there is none). -EINVAL for a field out of its
 * bounds. Writer, autocommit.
 */
int store_webhook_put(struct store *s, struct store_webhook *h);
/* Hook @id of @tenant into @out (release it); -ENOENT when absent. */
int store_webhook_get(struct store *s, const char *tenant, int64_t id, struct store_webhook *out);
/*
 * Deletes hook @id of @tenant and fails its pending deliveries (completed
 * at @now_ms, last_error saying why) in one transaction. -ENOENT when
 * absent. Writer, autocommit.
 */
int store_webhook_delete(struct store *s, const char *tenant, int64_t id, int64_t now_ms);
/* The hooks of @tenant (NULL: all), only the enabled ones with @enabled_only, by id. */
int store_webhooks_list(struct store *s, const char *tenant, bool enabled_only,
			struct store_webhook **out, size_t *n);

enum store_delivery_status {
	STORE_DELIVERY_PENDING = 0, /* not sent yet, or being retried */
	STORE_DELIVERY_SUCCEEDED = 1,
	STORE_DELIVERY_FAILED = 2, /* every attempt failed, or its hook was deleted */
	STORE_DELIVERY_STATUS_COUNT
};
/* "pending", "succeeded", "failed"; NULL for an unknown value. */
const char *store_delivery_status_name(int status);
/* The status called @name, or -1. */
int store_delivery_status_find(const char *name);

/* One event (or test) to one hook, and what came of it. */
struct store_webhook_delivery {
	int64_t id; /* > 0; assigned on insert; the X-Webhook-ID */
	int64_t webhook_id;
	char tenant[FRAME_ID_MAX];
	int64_t event_id; /* the bus event's id; 0 for one that is not on the bus (a test) */
	int type;	  /* enum bus_type */
	char *body;	  /* owned; the exact bytes sent, every attempt; NULL when not read */
	size_t body_len;
	int status; /* enum store_delivery_status */
	unsigned attempts;
	int64_t next_attempt_ms; /* while pending: not sent before */
	int last_status_code;	 /* the last answer's HTTP status; 0: none came */
	char *last_error;	 /* owned; why the last attempt failed; NULL: it did not */
	int64_t created_ms, completed_ms; /* completed_ms 0 while pending */
};
void store_webhook_delivery_release(struct store_webhook_delivery *d);
void store_webhook_deliveries_free(struct store_webhook_delivery *v, size_t n);

/*
 * Inserts the @n deliveries of @v (pending; sets each id) and, when
 * @cursor > 0, makes it the dispatch cursor (the last bus event turned
 * into deliveries), in one transaction: after a crash either all of it is
 * there or none. Writer, autocommit.
 */
int store_webhook_deliveries_add(struct store *s, struct store_webhook_delivery *v, size_t n,
				 int64_t cursor);
/* The dispatch cursor: the last bus event id turned into deliveries (0: none yet). */
int store_webhook_cursor(struct store *s, int64_t *cursor);
/*
 * The deliveries to send now: of each enabled hook, its oldest pending one
 * (so that a hook's deliveries go in order), when its next_attempt_ms is
 * at or before @now_ms; soonest first, at most @limit (0: no bound), bodies
 * included. *@next_ms is the next_attempt_ms of the soonest one that is
 * not due yet (INT64_MAX: none). Caller owns *out.
 */
int store_webhook_deliveries_due(struct store *s, int64_t now_ms, size_t limit,
				 struct store_webhook_delivery **out, size_t *n, int64_t *next_ms);
/*
 * Writes the outcome fields of @d (status, attempts, next_attempt_ms,
 * last_status_code, last_error, completed_ms) to the pending delivery of
 * its id: -ENOENT when there is none (a finished delivery is never changed
 * again: one failed by store_webhook_delete() while an attempt was in
 * flight stays failed). Writer, autocommit.
 */
int store_webhook_delivery_update(struct store *s, const struct store_webhook_delivery *d);

struct store_delivery_filter {
	const char *tenant; /* NULL: every tenant */
	int64_t webhook_id; /* 0: any hook */
	int status;	    /* -1: any, else enum store_delivery_status */
	int64_t before_id;  /* the cursor: ids below; 0: none */
	size_t limit;	    /* 0: no bound */
	bool bodies;	    /* read the bodies too */
};
/* Newest first; *more when more match past the limit (may be NULL). */
int store_webhook_deliveries_list(struct store *s, const struct store_delivery_filter *f,
				  struct store_webhook_delivery **out, size_t *n, bool *more);
/* Deletes finished deliveries created before @before_ms, at most @max; *deleted how many. */
int store_webhook_deliveries_prune(struct store *s, int64_t before_ms, size_t max,
				   size_t *deleted);

#endif
