/*
 * The ingest path: store_put_windows() and the two caches that keep it to
 * about one INSERT per window.
 *
 * Calls are summed in memory per (tenant, src, dst, end_ms) over the frames
 * of one transaction and written at commit: the agents of a fleet report the
 * same edges every second, so a transaction of 100 frames writes a few rows
 * of calls, not hundreds. Rows of the same key from different transactions
 * coexist; queries sum them.
 *
 * service_hosts holds first and last seen of each (tenant, service, host).
 * Writing it for every window would double the writes, so the writer
 * remembers what it wrote and writes again only when a window is earlier
 * than the first seen or more than STORE_SEEN_SLACK_MS past the last seen.
 * store_services() refines last seen from the raw rows (an index lookup).
 * Both caches are dropped on rollback, as they may hold what was undone.
 *
 * A window arrives as a view (common/window_wire.h): its totals go in the
 * row's columns and its routes and syscalls sections, as the agent encoded
 * them, are the row's blobs (store_agg.c), so ingest builds no histogram
 * and encodes none but the calls' sums.
 *
 * Dedup: the agent's last_seq and frames are updated in the same transaction
 * as its windows, so after any crash the stored windows and last_seq agree.
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

/* FNV-1a over @n bytes, continuing from @h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ULL;
	return h;
}

#define FNV_SEED 0xcbf29ce484222325ULL

/* ---- seen cache ---- */

static void seen_clear(struct store *s)
{
	if (!s->seen)
		return;
	for (size_t i = 0; i < STORE_SEEN_SLOTS; i++) {
		free(s->seen[i].key);
		s->seen[i].key = NULL;
	}
	s->nseen = 0;
}

static int seen_write(struct store *s, const char *tenant, const char *service, const char *host,
		      int64_t t_ms)
{
	sqlite3_stmt *st = store_stmt(s, STMT_SEEN_UPSERT);

	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, service, SERVICE_NAME_MAX);
	store_bind_name(st, 3, host, WINDOW_HOST_MAX);
	sqlite3_bind_int64(st, 4, t_ms);
	sqlite3_bind_int64(st, 5, t_ms);
	return store_step_done(s, st, "cannot record a service host");
}

static int seen(struct store *s, const char *tenant, const char *service, const char *host,
		int64_t t_ms)
{
	char key[FRAME_ID_MAX + SERVICE_NAME_MAX + WINDOW_HOST_MAX];
	size_t a = strlen(tenant) + 1, b = strlen(service) + 1, c = strlen(host), n = a + b + c;
	struct store_seen *e;
	uint64_t h;
	size_t i;

	memcpy(key, tenant, a);
	memcpy(key + a, service, b);
	memcpy(key + a + b, host, c);
	h = fnv(FNV_SEED, key, n);
	if (!s->seen)
		s->seen = xcalloc(STORE_SEEN_SLOTS, sizeof(*s->seen));
	for (i = h & (STORE_SEEN_SLOTS - 1);; i = (i + 1) & (STORE_SEEN_SLOTS - 1)) {
		e = &s->seen[i];
		if (!e->key)
			break;
		if (e->hash == h && e->keylen == n && !memcmp(e->key, key, n)) {
			if (t_ms >= e->first_ms && t_ms <= e->last_ms + STORE_SEEN_SLACK_MS)
				return 0;
			if (t_ms < e->first_ms)
				e->first_ms = t_ms;
			if (t_ms > e->last_ms)
				e->last_ms = t_ms;
			return seen_write(s, tenant, service, host, t_ms);
		}
	}
	if (s->nseen >= STORE_SEEN_SLOTS / 4 * 3) {
		/* a bounded cache: start over, at the cost of one more write per key */
		seen_clear(s);
		return seen(s, tenant, service, host, t_ms);
	}
	e->key = xmalloc(n);
	memcpy(e->key, key, n);
	e->keylen = n;
	e->hash = h;
	e->first_ms = e->last_ms = t_ms;
	s->nseen++;
	return seen_write(s, tenant, service, host, t_ms);
}

/* ---- calls summed per transaction ---- */

static void calls_clear(struct store *s)
{
	if (!s->calls)
		return;
	for (size_t i = 0; i < STORE_CALL_SLOTS; i++) {
		if (s->calls[i].used) {
			hist_release(&s->calls[i].latency_ns);
			s->calls[i].used = false;
		}
	}
	s->ncalls = 0;
}

static int call_write(struct store *s, const struct store_call_acc *c)
{
	struct store_tenant *t;
	sqlite3_stmt *st;
	int err = store_tenant_get(s, c->tenant, &t);

	if (err)
		return err;
	if (c->end_ms < t->call_end_ms) {
		/* before the rollup cursor: its minute row takes it directly */
		err = store_minute_call_merge(s, c->tenant, c->src, c->dst,
					      store_floor_minute(c->end_ms), c->count, c->errors,
					      &c->latency_ns);
		if (err)
			return err;
		err = store_tenant_get(s, c->tenant, &t);
		if (err)
			return err;
	}
	if (c->end_ms < t->raw_floor_ms)
		return 0; /* past raw retention already: the minute row is all there is */
	buf_reset(&s->latency);
	if (store_hist_put(&c->latency_ns, &s->latency))
		return -EIO;
	st = store_stmt(s, STMT_CALL_INSERT);
	if (!st)
		return -EIO;
	store_bind_name(st, 1, c->tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, c->src, SERVICE_NAME_MAX);
	store_bind_name(st, 3, c->dst, SERVICE_NAME_MAX);
	sqlite3_bind_int64(st, 4, c->end_ms);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)c->count);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)c->errors);
	sqlite3_bind_blob(st, 7, s->latency.data, (int)s->latency.len, SQLITE_STATIC);
	return store_step_done(s, st, "cannot store calls");
}

int store_ingest_flush(struct store *s)
{
	int err = 0;

	if (!s->calls || !s->ncalls)
		return 0;
	for (size_t i = 0; i < STORE_CALL_SLOTS && !err; i++)
		if (s->calls[i].used)
			err = call_write(s, &s->calls[i]);
	calls_clear(s);
	return err;
}

void store_ingest_discard(struct store *s)
{
	calls_clear(s);
	seen_clear(s);
}

void store_ingest_release(struct store *s)
{
	store_ingest_discard(s);
	free(s->calls);
	free(s->seen);
	s->calls = NULL;
	s->seen = NULL;
}

static int call_add(struct store *s, const char *tenant, const char *src,
		    const struct window_wire_call *c, int64_t end_ms)
{
	/* wire names are not NUL-terminated; the peer's fits SERVICE_NAME_MAX - 1 */
	const char *dst = c->peer_len ? c->peer : c->address;
	size_t nt = strlen(tenant), ns = strlen(src);
	size_t nd = c->peer_len ? c->peer_len : c->address_len;
	struct store_call_acc *e;
	uint64_t h;
	size_t i;
	int err;

	if (nd > SERVICE_NAME_MAX - 1)
		nd = SERVICE_NAME_MAX - 1;
	h = fnv(FNV_SEED, tenant, nt + 1);
	h = fnv(h, src, ns + 1);
	h = fnv(h, dst, nd);
	h = fnv(h, &end_ms, sizeof(end_ms));
	if (!s->calls)
		s->calls = xcalloc(STORE_CALL_SLOTS, sizeof(*s->calls));
	for (i = h & (STORE_CALL_SLOTS - 1);; i = (i + 1) & (STORE_CALL_SLOTS - 1)) {
		e = &s->calls[i];
		if (!e->used)
			break;
		if (e->hash == h && e->end_ms == end_ms && !strcmp(e->tenant, tenant) &&
		    !strcmp(e->src, src) && !strncmp(e->dst, dst, nd) && e->dst[nd] == '\0')
			goto found;
	}
	if (s->ncalls >= STORE_CALL_SLOTS / 4 * 3) {
		err = store_ingest_flush(s);
		if (err)
			return err;
		return call_add(s, tenant, src, c, end_ms);
	}
	memset(e, 0, sizeof(*e));
	e->used = true;
	e->hash = h;
	e->end_ms = end_ms;
	memcpy(e->tenant, tenant, nt + 1);
	memcpy(e->src, src, ns + 1);
	memcpy(e->dst, dst, nd);
	hist_init(&e->latency_ns);
	s->ncalls++;
found:
	e->count += c->count;
	e->errors += c->errors;
	/* checked when the view was made: cannot fail */
	return hist_merge_wire_checked(&e->latency_ns, c->hist, c->hist_len) ? -EIO : 0;
}

static int calls_add(struct store *s, const char *tenant, const char *src,
		     const struct window_view *v, int64_t end_ms)
{
	struct window_wire_iter it;
	struct window_wire_call c;
	int ret, err = 0;

	if (window_wire_iter_init(&it, v->calls_wire, v->calls_wire_len))
		return -EIO;
	while (!err && (ret = window_wire_next_call(&it, &c)) == 1)
		err = call_add(s, tenant, src, &c, end_ms);
	return err ?: (ret < 0 ? -EIO : 0);
}

/* ---- windows ---- */

static int raw_insert(struct store *s, const char *tenant, const char *agent_id,
		      const struct window_batch *b, const struct window_batch_item *it)
{
	const struct window_view *v = &it->view;
	sqlite3_stmt *st;

	buf_reset(&s->syscalls);
	buf_reset(&s->routes);
	if (store_blob_wire(v->syscalls_wire, v->syscalls_wire_len, &s->syscalls) ||
	    store_blob_wire(v->http_wire, v->http_wire_len, &s->routes)) {
		log_error("store: a window of '%s' is too large to store agent=%s", it->service,
			  agent_id);
		return -EIO;
	}
	st = store_stmt(s, STMT_RAW_INSERT);
	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, it->service, SERVICE_NAME_MAX);
	store_bind_name(st, 3, b->host, WINDOW_HOST_MAX);
	sqlite3_bind_int64(st, 4, b->end_ms);
	store_bind_name(st, 5, agent_id, FRAME_ID_MAX);
	sqlite3_bind_int64(st, 6, b->interval_ms);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)v->requests);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)v->errors);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)v->syscalls);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)v->syscall_errors);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)v->tcp.retransmits);
	sqlite3_bind_int64(st, 12, (sqlite3_int64)v->tcp.resets);
	sqlite3_bind_int64(st, 13, (sqlite3_int64)v->tcp.connect_failures);
	sqlite3_bind_blob(st, 15, s->syscalls.data, (int)s->syscalls.len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 16, s->routes.data, (int)s->routes.len, SQLITE_STATIC);
	return store_step_done(s, st, "cannot store a window");
}

static int late_merge(struct store *s, const char *tenant, const char *service, int64_t end_ms,
		      const struct window_view *v)
{
	struct store_agg a;
	int err;

	store_agg_init(&a);
	err = store_agg_add_view(&a, v) ? -EIO : 0;
	if (!err)
		err = store_minute_merge(s, tenant, service, store_floor_minute(end_ms), &a);
	store_agg_release(&a);
	return err;
}

static int put_window(struct store *s, const char *tenant, const char *agent_id,
		      const struct window_batch *b, const struct window_batch_item *it)
{
	struct store_tenant *t;
	int err = store_tenant_get(s, tenant, &t);

	if (err)
		return err;
	if (b->end_ms >= t->raw_floor_ms) {
		err = raw_insert(s, tenant, agent_id, b, it);
		if (err)
			return err;
	}
	if (b->end_ms < t->win_end_ms) {
		/* behind the rollup cursor: the rollup will not see it, merge it now */
		err = late_merge(s, tenant, it->service, b->end_ms, &it->view);
		if (err)
			return err;
	}
	err = seen(s, tenant, it->service, b->host, b->end_ms);
	return err ?: calls_add(s, tenant, it->service, &it->view, b->end_ms)
		?: store_metrics_add(s, tenant, it->service, &it->view);
}

static bool batch_ok(const struct window_batch *b)
{
	if (!b->n)
		return true; /* an undecodable frame: its seq is consumed, empty */
	if (!b->items || b->end_ms < 1 || b->end_ms > STORE_TIME_MAX ||
	    strnlen(b->host, sizeof(b->host)) >= sizeof(b->host))
		return false;
	for (size_t i = 0; i < b->n; i++)
		if (!store_name_ok(b->items[i].service, sizeof(b->items[i].service)))
			return false;
	return true;
}

static int put_seq(struct store *s, const char *tenant, const char *agent_id, uint64_t seq,
		   const struct window_batch *b)
{
	sqlite3_stmt *st = store_stmt(s, STMT_AGENT_PUT_SEQ);

	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, agent_id, FRAME_ID_MAX);
	store_bind_name(st, 3, b->host, WINDOW_HOST_MAX);
	sqlite3_bind_int64(st, 4, b->n ? b->end_ms : 0);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)seq);
	return store_step_done(s, st, "cannot record the agent's sequence number");
}

/* true when an item holds a struct window rather than a view */
static bool has_windows(const struct window_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].w)
			return true;
	return false;
}

int store_put_windows(struct store *s, const char *tenant, const char *agent_id, uint64_t seq,
		      const struct window_batch *b)
{
	struct window_batch views;
	int err = 0;

	if (!s->in_txn || !store_name_ok(tenant, FRAME_ID_MAX) ||
	    !store_name_ok(agent_id, FRAME_ID_MAX) || !b || !batch_ok(b))
		return -EINVAL;
	if (has_windows(b)) {
		/* built in memory (tests, tools): through the wire form, as ingest sees it */
		err = window_batch_view_of(b, &s->viewbuf, &views);
		if (err)
			return err == -E2BIG ? -EIO : -EINVAL;
		err = store_put_windows(s, tenant, agent_id, seq, &views);
		window_batch_release(&views);
		return err;
	}
	for (size_t i = 0; i < b->n && !err; i++)
		err = put_window(s, tenant, agent_id, b, &b->items[i]);
	return err ?: put_seq(s, tenant, agent_id, seq, b);
}
