/*
 * The webhooks, their deliveries and the dispatch cursor (migration 6).
 *
 * A hook is read and written with its tenant, like a policy. A delivery
 * keeps the exact bytes it sends (built once, when it is queued, so that
 * every attempt signs and sends the same body) and the outcome of its last
 * attempt. The senders (aggregator/webhooks/) take, of each enabled hook,
 * only its oldest pending delivery: a hook's deliveries leave in order, and
 * one that is being retried holds back those queued after it.
 *
 * store_webhook_deliveries_add() inserts a batch of deliveries and moves
 * the cursor in one transaction: an event is turned into deliveries exactly
 * once, across crashes. store_webhook_delete() fails the hook's pending
 * deliveries in the transaction that deletes it, so no pending row ever
 * names a hook that is gone.
 *
 * Writes are the writer's, in autocommit mode, refused inside
 * store_begin()/store_commit() (-EINVAL) and on a reader (-EROFS).
 * Statements are prepared per call: a delivery costs an HTTP request,
 * next to which a prepare is nothing.
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The columns after id, in the order hook_bind() binds them (?1 to ?10). */
#define HOOK_FIELDS                                                                                \
	"tenant, url, events, secret, enabled, headers, format, routing_key, created_ms,"          \
	" updated_ms"
#define HOOK_COLS "id, " HOOK_FIELDS

static const char hook_insert_sql[] =
	"INSERT INTO webhooks (" HOOK_FIELDS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char hook_update_sql[] =
	"UPDATE webhooks SET url = ?2, events = ?3, secret = ?4, enabled = ?5, headers = ?6,"
	" format = ?7, routing_key = ?8, created_ms = ?9, updated_ms = ?10"
	" WHERE id = ?11 AND tenant = ?1";
static const char hook_get_sql[] =
	"SELECT " HOOK_COLS " FROM webhooks WHERE id = ?1 AND tenant = ?2";
static const char hook_delete_sql[] = "DELETE FROM webhooks WHERE id = ?1 AND tenant = ?2";
static const char hook_fail_pending_sql[] =
	"UPDATE webhook_deliveries SET status = 2, completed_ms = ?2,"
	" last_error = 'the webhook was deleted' WHERE webhook_id = ?1 AND status = 0";

/* The columns after id, in the order delivery_bind() binds them (?1 to ?12). */
#define DELIVERY_FIELDS                                                                            \
	"webhook_id, tenant, event_id, type, body, status, attempts, next_attempt_ms,"             \
	" last_status_code, last_error, created_ms, completed_ms"
/* as delivery_row() reads them: the body last, so a list may leave it out */
#define DELIVERY_COLS                                                                              \
	"d.id, d.webhook_id, d.tenant, d.event_id, d.type, d.status, d.attempts,"                  \
	" d.next_attempt_ms, d.last_status_code, d.last_error, d.created_ms, d.completed_ms"
#define DELIVERY_BODY_COL 12

static const char delivery_insert_sql[] =
	"INSERT INTO webhook_deliveries (" DELIVERY_FIELDS ")"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char delivery_update_sql[] =
	"UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_attempt_ms = ?4,"
	" last_status_code = ?5, last_error = ?6, completed_ms = ?7 WHERE id = ?1 AND status = 0";
static const char cursor_get_sql[] = "SELECT last_event_id FROM webhook_cursor WHERE id = 1";
static const char cursor_set_sql[] =
	"INSERT INTO webhook_cursor (id, last_event_id) VALUES (1, ?1)"
	" ON CONFLICT (id) DO UPDATE SET last_event_id = excluded.last_event_id";
/*
 * The oldest pending delivery of each hook (through the partial index),
 * of the enabled hooks, soonest first.
 */
static const char deliveries_due_sql[] =
	"SELECT " DELIVERY_COLS ", d.body FROM"
	" (SELECT MIN(id) AS id FROM webhook_deliveries WHERE status = 0 GROUP BY webhook_id) h"
	" JOIN webhook_deliveries d ON d.id = h.id"
	" JOIN webhooks w ON w.id = d.webhook_id AND w.enabled = 1"
	" ORDER BY d.next_attempt_ms, d.id";
static const char deliveries_prune_sql[] =
	"DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries"
	" WHERE created_ms < ?1 AND status != 0 LIMIT ?2)";

static const char *const status_names[STORE_DELIVERY_STATUS_COUNT] = {
	[STORE_DELIVERY_PENDING] = "pending",
	[STORE_DELIVERY_SUCCEEDED] = "succeeded",
	[STORE_DELIVERY_FAILED] = "failed",
};

const char *store_delivery_status_name(int status)
{
	return status >= 0 && status < STORE_DELIVERY_STATUS_COUNT ? status_names[status] : NULL;
}

int store_delivery_status_find(const char *name)
{
	for (int i = 0; name && i < STORE_DELIVERY_STATUS_COUNT; i++)
		if (!strcmp(name, status_names[i]))
			return i;
	return -1;
}

/* ---- hooks ---- */

void store_webhook_release(struct store_webhook *h)
{
	if (!h)
		return;
	free(h->url);
	if (h->secret) /* not left in freed memory */
		explicit_bzero(h->secret, strlen(h->secret));
	free(h->secret);
	free(h->headers);
	free(h->routing_key);
	memset(h, 0, sizeof(*h));
}

void store_webhooks_free(struct store_webhook *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		store_webhook_release(&v[i]);
	free(v);
}

static bool hook_ok(const struct store_webhook *h)
{
	return h->id >= 0 && store_name_ok(h->tenant, sizeof(h->tenant)) && h->url && h->url[0] &&
	       store_text_fits(h->url, STORE_WEBHOOK_URL_MAX) &&
	       store_text_fits(h->secret, STORE_WEBHOOK_SECRET_MAX) &&
	       store_text_fits(h->headers, STORE_WEBHOOK_HEADERS_MAX) &&
	       store_text_fits(h->routing_key, STORE_WEBHOOK_ROUTING_KEY_MAX) && h->format >= 0 &&
	       h->format < STORE_WEBHOOK_FORMAT_COUNT && h->created_ms >= 0 && h->updated_ms >= 0;
}

/* ?1 to ?10 in the order of HOOK_FIELDS; @h must outlive the step. */
static void hook_bind(sqlite3_stmt *st, const struct store_webhook *h)
{
	store_bind_name(st, 1, h->tenant, sizeof(h->tenant));
	store_bind_text_or_null(st, 2, h->url);
	sqlite3_bind_int64(st, 3, h->events);
	store_bind_text_or_null(st, 4, h->secret);
	sqlite3_bind_int(st, 5, h->enabled);
	store_bind_text_or_null(st, 6, h->headers);
	sqlite3_bind_int(st, 7, h->format);
	store_bind_text_or_null(st, 8, h->routing_key);
	sqlite3_bind_int64(st, 9, h->created_ms);
	sqlite3_bind_int64(st, 10, h->updated_ms);
}

int store_webhook_put(struct store *s, struct store_webhook *h)
{
	bool insert = h->id == 0;
	sqlite3_stmt *st;
	int err;

	if (s->read_only)
		return -EROFS;
	if (s->in_txn || !hook_ok(h))
		return -EINVAL;
	err = store_prepare(s, insert ? hook_insert_sql : hook_update_sql, &st,
			    "cannot prepare a webhooks statement");
	if (err)
		return err;
	hook_bind(st, h);
	if (!insert)
		sqlite3_bind_int64(st, 11, h->id);
	return store_step_put(s, st, &h->id, "the webhook");
}

/* A row of HOOK_COLS into @h (zeroed first). */
static void hook_row(sqlite3_stmt *st, struct store_webhook *h)
{
	memset(h, 0, sizeof(*h));
	h->id = sqlite3_column_int64(st, 0);
	store_column_name(st, 1, h->tenant, sizeof(h->tenant));
	h->url = store_column_text_dup(st, 2);
	if (!h->url)
		h->url = xstrdup("");
	h->events = (unsigned)sqlite3_column_int64(st, 3);
	h->secret = store_column_text_dup(st, 4);
	h->enabled = sqlite3_column_int(st, 5) != 0;
	h->headers = store_column_text_dup(st, 6);
	h->format = sqlite3_column_int(st, 7);
	h->routing_key = store_column_text_dup(st, 8);
	h->created_ms = sqlite3_column_int64(st, 9);
	h->updated_ms = sqlite3_column_int64(st, 10);
}

int store_webhook_get(struct store *s, const char *tenant, int64_t id, struct store_webhook *out)
{
	sqlite3_stmt *st;
	int rc, err;

	memset(out, 0, sizeof(*out));
	if (!store_name_ok(tenant, FRAME_ID_MAX))
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;
	err = store_prepare(s, hook_get_sql, &st, "cannot prepare a webhooks statement");
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	store_bind_name(st, 2, tenant, FRAME_ID_MAX);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		hook_row(st, out);
	else if (rc == SQLITE_DONE)
		err = -ENOENT;
	else
		err = store_db_error(s, "cannot read the webhook");
	sqlite3_finalize(st);
	return err;
}

/* Runs the prepared @sql with ?1 = @a, and ?2 = @b (text when @b_text). *changes as it says. */
static int run_one(struct store *s, const char *sql, int64_t a, const char *b_text, int64_t b,
		   int *changes)
{
	sqlite3_stmt *st;
	int err = store_prepare(s, sql, &st, "cannot prepare a webhooks statement");

	if (err)
		return err;
	sqlite3_bind_int64(st, 1, a);
	if (b_text)
		store_bind_name(st, 2, b_text, FRAME_ID_MAX);
	else
		sqlite3_bind_int64(st, 2, b);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_db_error(s, "cannot change the webhooks");
	else if (changes)
		*changes = sqlite3_changes(s->db);
	sqlite3_finalize(st);
	return err;
}

int store_webhook_delete(struct store *s, const char *tenant, int64_t id, int64_t now_ms)
{
	int changes = 0, err;

	if (s->read_only)
		return -EROFS;
	if (s->in_txn || !store_name_ok(tenant, FRAME_ID_MAX) || now_ms < 0)
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;
	err = store_exec(s, "BEGIN IMMEDIATE");
	if (err)
		return err;
	err = run_one(s, hook_delete_sql, id, tenant, 0, &changes);
	if (!err && !changes)
		err = -ENOENT;
	if (!err)
		err = run_one(s, hook_fail_pending_sql, id, NULL, now_ms, NULL);
	if (!err)
		err = store_exec(s, "COMMIT");
	if (err)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

int store_webhooks_list(struct store *s, const char *tenant, bool enabled_only,
			struct store_webhook **out, size_t *n)
{
	struct store_webhook *v = NULL;
	size_t len = 0, alloc = 0;
	struct store_listq q;
	sqlite3_stmt *st;
	int rc, err;

	*out = NULL;
	*n = 0;
	if (tenant && !store_name_ok(tenant, FRAME_ID_MAX))
		return -EINVAL;
	store_listq_init(&q, "SELECT " HOOK_COLS " FROM webhooks");
	if (tenant)
		store_listq_where_text(&q, "tenant = ?", tenant, FRAME_ID_MAX);
	if (enabled_only)
		store_listq_where_int(&q, "enabled = ?", 1);
	store_listq_finish(&q, " ORDER BY id", 0);
	err = store_listq_prepare(s, &q, &st, "cannot prepare a webhooks statement");
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = store_grow(v, len, &alloc, sizeof(*v));
		hook_row(st, &v[len++]);
	}
	if (rc != SQLITE_DONE) {
		err = store_db_error(s, "cannot list the webhooks");
		sqlite3_finalize(st);
		store_webhooks_free(v, len);
		return err;
	}
	sqlite3_finalize(st);
	*out = v;
	*n = len;
	return 0;
}

/* ---- deliveries ---- */

void store_webhook_delivery_release(struct store_webhook_delivery *d)
{
	if (!d)
		return;
	free(d->body);
	free(d->last_error);
	memset(d, 0, sizeof(*d));
}

void store_webhook_deliveries_free(struct store_webhook_delivery *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		store_webhook_delivery_release(&v[i]);
	free(v);
}

static bool delivery_ok(const struct store_webhook_delivery *d)
{
	return d->webhook_id > 0 && store_name_ok(d->tenant, sizeof(d->tenant)) &&
	       d->event_id >= 0 && d->body && d->body_len <= STORE_WEBHOOK_BODY_MAX &&
	       store_delivery_status_name(d->status) && d->created_ms >= 0 &&
	       d->completed_ms >= 0 && store_text_fits(d->last_error, STORE_WEBHOOK_ERROR_MAX);
}

static int delivery_insert(struct store *s, struct store_webhook_delivery *d)
{
	sqlite3_stmt *st;
	int err =
		store_prepare(s, delivery_insert_sql, &st, "cannot prepare a deliveries statement");

	if (err)
		return err;
	sqlite3_bind_int64(st, 1, d->webhook_id);
	store_bind_name(st, 2, d->tenant, sizeof(d->tenant));
	sqlite3_bind_int64(st, 3, d->event_id);
	sqlite3_bind_int(st, 4, d->type);
	sqlite3_bind_text(st, 5, d->body, (int)d->body_len, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, d->status);
	sqlite3_bind_int64(st, 7, d->attempts);
	sqlite3_bind_int64(st, 8, d->next_attempt_ms);
	sqlite3_bind_int(st, 9, d->last_status_code);
	store_bind_text_or_null(st, 10, d->last_error);
	sqlite3_bind_int64(st, 11, d->created_ms);
	sqlite3_bind_int64(st, 12, d->completed_ms);
	d->id = 0;
	return store_step_put(s, st, &d->id, "the delivery");
}

int store_webhook_deliveries_add(struct store *s, struct store_webhook_delivery *v, size_t n,
				 int64_t cursor)
{
	sqlite3_stmt *st;
	int err;

	if (s->read_only)
		return -EROFS;
	if (s->in_txn || cursor < 0 || (n && !v))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!delivery_ok(&v[i]))
			return -EINVAL;
	if (!n && !cursor)
		return 0;
	err = store_exec(s, "BEGIN IMMEDIATE");
	if (err)
		return err;
	for (size_t i = 0; i < n && !err; i++)
		err = delivery_insert(s, &v[i]);
	if (!err && cursor) {
		err = store_prepare(s, cursor_set_sql, &st,
				    "cannot prepare a deliveries statement");
		if (!err) {
			sqlite3_bind_int64(st, 1, cursor);
			if (sqlite3_step(st) != SQLITE_DONE)
				err = store_db_error(s, "cannot move the webhooks cursor");
			sqlite3_finalize(st);
		}
	}
	if (!err)
		err = store_exec(s, "COMMIT");
	if (err) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		for (size_t i = 0; i < n; i++)
			v[i].id = 0;
	}
	return err;
}

int store_webhook_cursor(struct store *s, int64_t *cursor)
{
	sqlite3_stmt *st;
	int rc, err = store_prepare(s, cursor_get_sql, &st,
				    "cannot prepare a deliveries statement");

	*cursor = 0;
	if (err)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*cursor = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		err = store_db_error(s, "cannot read the webhooks cursor");
	sqlite3_finalize(st);
	return err;
}

/* A row of DELIVERY_COLS (and the body, with @body) into @d (zeroed first). */
static void delivery_row(sqlite3_stmt *st, struct store_webhook_delivery *d, bool body)
{
	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	d->webhook_id = sqlite3_column_int64(st, 1);
	store_column_name(st, 2, d->tenant, sizeof(d->tenant));
	d->event_id = sqlite3_column_int64(st, 3);
	d->type = sqlite3_column_int(st, 4);
	d->status = sqlite3_column_int(st, 5);
	d->attempts = (unsigned)sqlite3_column_int64(st, 6);
	d->next_attempt_ms = sqlite3_column_int64(st, 7);
	d->last_status_code = sqlite3_column_int(st, 8);
	d->last_error = store_column_text_dup(st, 9);
	d->created_ms = sqlite3_column_int64(st, 10);
	d->completed_ms = sqlite3_column_int64(st, 11);
	if (body) {
		d->body = store_column_text_dup(st, DELIVERY_BODY_COL);
		if (!d->body)
			d->body = xstrdup("");
		d->body_len = (size_t)sqlite3_column_bytes(st, DELIVERY_BODY_COL);
	}
}

/* Appends a zeroed slot to *v (growing it). */
static struct store_webhook_delivery *slot(struct store_webhook_delivery **v, size_t *len,
					   size_t *alloc)
{
	*v = store_grow(*v, *len, alloc, sizeof(**v));
	return &(*v)[(*len)++];
}

int store_webhook_deliveries_due(struct store *s, int64_t now_ms, size_t limit,
				 struct store_webhook_delivery **out, size_t *n, int64_t *next_ms)
{
	struct store_webhook_delivery *v = NULL;
	size_t len = 0, alloc = 0;
	sqlite3_stmt *st;
	int rc, err;

	*out = NULL;
	*n = 0;
	*next_ms = INT64_MAX;
	err = store_prepare(s, deliveries_due_sql, &st, "cannot prepare a deliveries statement");
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t at = sqlite3_column_int64(st, 7);

		if (at > now_ms || (limit && len == limit)) {
			*next_ms = at; /* past the limit: one more is due now */
			break;
		}
		delivery_row(st, slot(&v, &len, &alloc), true);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		err = store_db_error(s, "cannot read the due deliveries");
		sqlite3_finalize(st);
		store_webhook_deliveries_free(v, len);
		return err;
	}
	sqlite3_finalize(st);
	*out = v;
	*n = len;
	return 0;
}

int store_webhook_delivery_update(struct store *s, const struct store_webhook_delivery *d)
{
	sqlite3_stmt *st;
	int64_t id = d->id;
	int err;

	if (s->read_only)
		return -EROFS;
	if (s->in_txn || !store_delivery_status_name(d->status) ||
	    !store_text_fits(d->last_error, STORE_WEBHOOK_ERROR_MAX))
		return -EINVAL;
	if (d->id <= 0)
		return -ENOENT;
	err = store_prepare(s, delivery_update_sql, &st, "cannot prepare a deliveries statement");
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, d->id);
	sqlite3_bind_int(st, 2, d->status);
	sqlite3_bind_int64(st, 3, d->attempts);
	sqlite3_bind_int64(st, 4, d->next_attempt_ms);
	sqlite3_bind_int(st, 5, d->last_status_code);
	store_bind_text_or_null(st, 6, d->last_error);
	sqlite3_bind_int64(st, 7, d->completed_ms);
	return store_step_put(s, st, &id, "the delivery");
}

int store_webhook_deliveries_list(struct store *s, const struct store_delivery_filter *f,
				  struct store_webhook_delivery **out, size_t *n, bool *more)
{
	struct store_webhook_delivery *v = NULL;
	size_t len = 0, alloc = 0;
	struct store_listq q;
	sqlite3_stmt *st;
	int rc, err;

	*out = NULL;
	*n = 0;
	if (more)
		*more = false;
	if (!f || (f->tenant && !store_name_ok(f->tenant, FRAME_ID_MAX)) || f->webhook_id < 0 ||
	    (f->status != -1 && !store_delivery_status_name(f->status)) || f->before_id < 0)
		return -EINVAL;
	store_listq_init(&q, f->bodies ? "SELECT " DELIVERY_COLS
					 ", d.body FROM webhook_deliveries d"
				       : "SELECT " DELIVERY_COLS " FROM webhook_deliveries d");
	if (f->tenant)
		store_listq_where_text(&q, "d.tenant = ?", f->tenant, FRAME_ID_MAX);
	if (f->webhook_id)
		store_listq_where_int(&q, "d.webhook_id = ?", f->webhook_id);
	if (f->status >= 0)
		store_listq_where_int(&q, "d.status = ?", f->status);
	if (f->before_id)
		store_listq_where_int(&q, "d.id < ?", f->before_id);
	store_listq_finish(&q, " ORDER BY d.id DESC", f->limit);
	err = store_listq_prepare(s, &q, &st, "cannot prepare a deliveries statement");
	if (err)
		return err;
	while ((rc = store_listq_step(s, st, &q, len, more, "cannot list the deliveries")) == 1)
		delivery_row(st, slot(&v, &len, &alloc), f->bodies);
	sqlite3_finalize(st);
	if (rc < 0) {
		store_webhook_deliveries_free(v, len);
		return rc;
	}
	*out = v;
	*n = len;
	return 0;
}

int store_webhook_deliveries_prune(struct store *s, int64_t before_ms, size_t max, size_t *deleted)
{
	sqlite3_stmt *st;
	int err;

	*deleted = 0;
	if (s->read_only)
		return -EROFS;
	if (s->in_txn)
		return -EINVAL;
	err = store_prepare(s, deliveries_prune_sql, &st, "cannot prepare a deliveries statement");
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, before_ms);
	sqlite3_bind_int64(st, 2, max && max < INT64_MAX ? (int64_t)max : -1);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_db_error(s, "cannot prune the deliveries");
	else
		*deleted = (size_t)sqlite3_changes(s->db);
	sqlite3_finalize(st);
	return err;
}
