/*
 * Sums of service windows (a minute row, a summary, a series step) and the
 * blobs the store keeps their detail in. The blobs are the store's own
 * format, not the wire's, so a change of the agent protocol never rewrites
 * stored data. Both start with a version byte (1) and use LEB128 varints
 * (common/varint.h) and serialized histograms (common/hist.h):
 *
 *   syscalls  varint n, then n times: varint len, name bytes, varint nr,
 *             varint count, varint errors, varint nerrnos,
 *             nerrnos times (varint errno, varint count), histogram
 *   routes    varint n, then n times: varint len, method bytes, varint len,
 *             route bytes, varint status, varint count, histogram
 *
 * A raw window's blobs are version 2: the version byte, then the section of
 * the window's wire form (common/window_wire.h, docs/protocol.md) as the
 * agent sent it, http entries for routes and syscall entries for syscalls,
 * kept byte for byte so that ingest encodes nothing; they are read with
 * window_wire's section walkers. Sums (minute rows) stay version 1.
 *
 * Decoding checks every length against what is left and every name against
 * its array, so a corrupt row is -EPROTO, never a crash. Entries are found
 * by a linear search: a service has a handful of routes and some fifteen
 * syscalls; past STORE_AGG_ENTRIES_MAX distinct ones the rest are summed in
 * one "(other)" entry so a sum stays bounded.
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/varint.h"
#include "common/window_wire.h"

#define STORE_BLOB_VERSION 1
#define STORE_BLOB_WIRE_VERSION 2 /* a section of the wire form */
#define STORE_AGG_OTHER	   "(other)"

void store_agg_init(struct store_agg *a)
{
	memset(a, 0, sizeof(*a));
	hist_init(&a->latency_ns);
}

void store_agg_release(struct store_agg *a)
{
	hist_release(&a->latency_ns);
	for (size_t i = 0; i < a->nsys; i++)
		hist_release(&a->sys[i].latency_ns);
	for (size_t i = 0; i < a->nroutes; i++)
		hist_release(&a->routes[i].latency_ns);
	free(a->sys);
	free(a->routes);
	store_agg_init(a);
}

void store_agg_reset(struct store_agg *a)
{
	for (size_t i = 0; i < a->nsys; i++)
		hist_release(&a->sys[i].latency_ns);
	for (size_t i = 0; i < a->nroutes; i++)
		hist_release(&a->routes[i].latency_ns);
	a->nsys = a->nroutes = 0;
	a->windows = a->requests = a->errors = a->syscalls = a->syscall_errors = 0;
	memset(&a->tcp, 0, sizeof(a->tcp));
	hist_reset(&a->latency_ns);
}

static void copy_name(char *dst, size_t cap, const char *src, size_t n)
{
	if (n > cap - 1)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- finding entries ---- */

/* @s holds @n bytes, not NUL-terminated when it comes from a blob */
static bool is_other(const char *s, size_t n)
{
	return n == strlen(STORE_AGG_OTHER) && !memcmp(s, STORE_AGG_OTHER, n);
}

static struct store_agg_syscall *agg_syscall(struct store_agg *a, const char *name, size_t len)
{
	struct store_agg_syscall *e;

	if (len > WINDOW_SYSCALL_NAME_MAX - 1)
		len = WINDOW_SYSCALL_NAME_MAX - 1;
	for (;;) {
		for (size_t i = 0; i < a->nsys; i++)
			if (!strncmp(a->sys[i].name, name, len) && a->sys[i].name[len] == '\0')
				return &a->sys[i];
		if (a->nsys < STORE_AGG_ENTRIES_MAX || is_other(name, len))
			break;
		name = STORE_AGG_OTHER;
		len = strlen(STORE_AGG_OTHER);
	}
	if (a->nsys == a->sys_alloc) {
		a->sys_alloc = a->sys_alloc ? a->sys_alloc * 2 : 16;
		a->sys = xreallocarray(a->sys, a->sys_alloc, sizeof(*a->sys));
	}
	e = &a->sys[a->nsys++];
	memset(e, 0, sizeof(*e));
	copy_name(e->name, sizeof(e->name), name, len);
	hist_init(&e->latency_ns);
	return e;
}

static struct store_agg_route *agg_route(struct store_agg *a, const char *method, size_t mlen,
					 const char *route, size_t rlen, uint16_t status)
{
	struct store_agg_route *e;

	if (mlen > WINDOW_METHOD_MAX - 1)
		mlen = WINDOW_METHOD_MAX - 1;
	if (rlen > WINDOW_ROUTE_MAX - 1)
		rlen = WINDOW_ROUTE_MAX - 1;
	for (;;) {
		for (size_t i = 0; i < a->nroutes; i++) {
			e = &a->routes[i];
			if (e->status == status && !strncmp(e->method, method, mlen) &&
			    e->method[mlen] == '\0' && !strncmp(e->route, route, rlen) &&
			    e->route[rlen] == '\0')
				return e;
		}
		if (a->nroutes < STORE_AGG_ENTRIES_MAX || is_other(route, rlen))
			break;
		/* one "(other)" per status, so 5xx stay apart; statuses are few */
		method = "";
		mlen = 0;
		route = STORE_AGG_OTHER;
		rlen = strlen(STORE_AGG_OTHER);
	}
	if (a->nroutes == a->routes_alloc) {
		a->routes_alloc = a->routes_alloc ? a->routes_alloc * 2 : 8;
		a->routes = xreallocarray(a->routes, a->routes_alloc, sizeof(*a->routes));
	}
	e = &a->routes[a->nroutes++];
	memset(e, 0, sizeof(*e));
	copy_name(e->method, sizeof(e->method), method, mlen);
	copy_name(e->route, sizeof(e->route), route, rlen);
	e->status = status;
	hist_init(&e->latency_ns);
	return e;
}

/* Adds @n of errno @err; past WINDOW_ERRNOS_MAX distinct ones, errno 0 ("other") takes the rest. */
static void agg_add_errno(struct store_agg_syscall *e, int err, uint64_t n)
{
	size_t least = 0;

	for (size_t i = 0; i < e->nerrnos; i++) {
		if (e->errnos[i].err == err) {
			e->errnos[i].count += n;
			return;
		}
	}
	if (e->nerrnos < WINDOW_ERRNOS_MAX) {
		e->errnos[e->nerrnos].err = err;
		e->errnos[e->nerrnos++].count = n;
		return;
	}
	for (size_t i = 0; i < e->nerrnos; i++) {
		if (e->errnos[i].err == 0) {
			e->errnos[i].count += n;
			return;
		}
		if (e->errnos[i].count < e->errnos[least].count)
			least = i;
	}
	/* full and no "other" yet: the rarest errno becomes it */
	e->errnos[least].err = 0;
	e->errnos[least].count += n;
}

/* Adds a window's routes (a section of its wire form) to @a, and their latency to its total. */
static int add_wire_routes(struct store_agg *a, const void *p, size_t len, bool total)
{
	struct window_wire_iter it;
	struct window_wire_http h;
	int ret;

	if (window_wire_iter_init(&it, p, len))
		return -EPROTO;
	while ((ret = window_wire_next_http(&it, &h)) == 1) {
		struct store_agg_route *e =
			agg_route(a, h.method, h.method_len, h.route, h.route_len, h.status);

		e->count += h.count;
		if (hist_merge_wire(&e->latency_ns, h.hist, h.hist_len, NULL) ||
		    (total && hist_merge_wire(&a->latency_ns, h.hist, h.hist_len, NULL)))
			return -EPROTO;
	}
	return ret ? -EPROTO : 0;
}

static int add_wire_syscalls(struct store_agg *a, const void *p, size_t len)
{
	struct window_wire_iter it;
	struct window_wire_syscall y;
	int ret;

	if (window_wire_iter_init(&it, p, len))
		return -EPROTO;
	while ((ret = window_wire_next_syscall(&it, &y)) == 1) {
		struct store_agg_syscall *e = agg_syscall(a, y.name, y.name_len);

		e->nr = y.nr;
		e->count += y.count;
		e->errors += y.errors;
		for (size_t j = 0; j < y.nerrnos; j++)
			agg_add_errno(e, y.errnos[j].err, y.errnos[j].count);
		if (hist_merge_wire(&e->latency_ns, y.hist, y.hist_len, NULL))
			return -EPROTO;
	}
	return ret ? -EPROTO : 0;
}

int store_agg_add_view(struct store_agg *a, const struct window_view *v)
{
	a->windows++;
	a->requests += v->requests;
	a->errors += v->errors;
	a->syscalls += v->syscalls;
	a->syscall_errors += v->syscall_errors;
	a->tcp.retransmits += v->tcp.retransmits;
	a->tcp.resets += v->tcp.resets;
	a->tcp.connect_failures += v->tcp.connect_failures;
	if (add_wire_routes(a, v->http_wire, v->http_wire_len, true) ||
	    add_wire_syscalls(a, v->syscalls_wire, v->syscalls_wire_len))
		return -EPROTO;
	return 0;
}

void store_agg_merge(struct store_agg *dst, const struct store_agg *src)
{
	dst->windows += src->windows;
	dst->requests += src->requests;
	dst->errors += src->errors;
	dst->syscalls += src->syscalls;
	dst->syscall_errors += src->syscall_errors;
	dst->tcp.retransmits += src->tcp.retransmits;
	dst->tcp.resets += src->tcp.resets;
	dst->tcp.connect_failures += src->tcp.connect_failures;
	hist_merge(&dst->latency_ns, &src->latency_ns);
	for (size_t i = 0; i < src->nroutes; i++) {
		const struct store_agg_route *r = &src->routes[i];
		struct store_agg_route *e = agg_route(dst, r->method, strlen(r->method), r->route,
						      strlen(r->route), r->status);

		e->count += r->count;
		hist_merge(&e->latency_ns, &r->latency_ns);
	}
	for (size_t i = 0; i < src->nsys; i++) {
		const struct store_agg_syscall *y = &src->sys[i];
		struct store_agg_syscall *e = agg_syscall(dst, y->name, strlen(y->name));

		e->nr = y->nr;
		e->count += y->count;
		e->errors += y->errors;
		for (size_t j = 0; j < y->nerrnos; j++)
			agg_add_errno(e, y->errnos[j].err, y->errnos[j].count);
		hist_merge(&e->latency_ns, &y->latency_ns);
	}
}

/* ---- encoding ---- */

/*
 * hist_serialize()'s exact bytes (common/hist.h), in one pass that stops
 * scanning a group once its total is found: a window's histograms are the
 * bulk of ingest's CPU time, and most groups hold a few buckets.
 */
int store_hist_put(const struct hist *h, struct buf *out)
{
	unsigned char pairs[HIST_BUCKETS * 2 * 3]; /* a pair of small varints; flushed when near full */
	unsigned char head[1 + 6 * VARINT_MAX_BYTES];
	uint32_t prev = 0;
	uint64_t nbuckets = 0;
	size_t used = 0, hlen = 0, start = out->len;
	int err;

	for (uint32_t g = 0; g < HIST_GROUPS; g++) {
		const uint64_t *c = h->chunks[g];
		uint64_t left;

		if (!c || !c[0])
			continue;
		left = c[0];
		for (uint32_t i = 0; i < HIST_SUB_BUCKETS && left; i++) {
			uint64_t n = c[1 + i];
			uint32_t idx = g * HIST_SUB_BUCKETS + i;

			/* skip eight empty buckets at a time: most are empty */
			if (!(i & 7) && !(c[1 + i] | c[2 + i] | c[3 + i] | c[4 + i] | c[5 + i] |
					  c[6 + i] | c[7 + i] | c[8 + i])) {
				i += 7;
				continue;
			}
			if (!n)
				continue;
			/* a saturated total never reaches 0: scan the whole group then */
			if (left != UINT64_MAX)
				left = n >= left ? 0 : left - n;
			if (used > sizeof(pairs) - 2 * VARINT_MAX_BYTES)
				return hist_serialize(h, out); /* cannot happen: at most 7424 pairs */
			used += varint_put(pairs + used, idx - prev);
			used += varint_put(pairs + used, n);
			prev = idx;
			nbuckets++;
		}
	}
	head[hlen++] = HIST_WIRE_VERSION;
	hlen += varint_put(head + hlen, h->count);
	hlen += varint_put(head + hlen, hist_min(h));
	hlen += varint_put(head + hlen, h->count ? h->max : 0);
	hlen += varint_put(head + hlen, h->sum);
	hlen += varint_put(head + hlen, nbuckets);
	err = buf_append(out, head, hlen);
	if (!err)
		err = buf_append(out, pairs, used);
	if (err) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return err;
}

static int put_bytes(struct buf *out, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap - 1);
	int err = varint_append(out, n);

	return err ? err : buf_append(out, s, n);
}

static int put_syscall(struct buf *out, const char *name, uint32_t nr, uint64_t count,
		       uint64_t errors, const struct window_errno *errnos, size_t nerrnos,
		       const struct hist *h)
{
	int err;

	if (nerrnos > WINDOW_ERRNOS_MAX)
		nerrnos = WINDOW_ERRNOS_MAX;
	err = put_bytes(out, name, WINDOW_SYSCALL_NAME_MAX);
	err = err ?: varint_append(out, nr);
	err = err ?: varint_append(out, count);
	err = err ?: varint_append(out, errors);
	err = err ?: varint_append(out, nerrnos);
	for (size_t i = 0; i < nerrnos && !err; i++) {
		/* errnos are positive; a negative one from a broken agent is stored as 0 */
		err = varint_append(out, errnos[i].err > 0 ? (uint64_t)errnos[i].err : 0);
		err = err ?: varint_append(out, errnos[i].count);
	}
	return err ?: store_hist_put(h, out);
}

static int put_route(struct buf *out, const char *method, const char *route, uint16_t status,
		     uint64_t count, const struct hist *h)
{
	int err = put_bytes(out, method, WINDOW_METHOD_MAX);

	err = err ?: put_bytes(out, route, WINDOW_ROUTE_MAX);
	err = err ?: varint_append(out, status);
	err = err ?: varint_append(out, count);
	return err ?: store_hist_put(h, out);
}

static int put_header(struct buf *out, size_t n)
{
	static const unsigned char version = STORE_BLOB_VERSION;
	int err = buf_append(out, &version, 1);

	return err ?: varint_append(out, n);
}

int store_blob_wire(const void *section, size_t len, struct buf *out)
{
	static const unsigned char version = STORE_BLOB_WIRE_VERSION, empty = 0;
	int err = buf_append(out, &version, 1);

	if (!section || !len)
		return err ?: buf_append(out, &empty, 1);
	return err ?: buf_append(out, section, len);
}

int store_blob_agg_syscalls(const struct store_agg *a, struct buf *out)
{
	int err = put_header(out, a->nsys);

	for (size_t i = 0; i < a->nsys && !err; i++) {
		const struct store_agg_syscall *y = &a->sys[i];

		err = put_syscall(out, y->name, y->nr, y->count, y->errors, y->errnos, y->nerrnos,
				  &y->latency_ns);
	}
	return err;
}

int store_blob_agg_routes(const struct store_agg *a, struct buf *out)
{
	int err = put_header(out, a->nroutes);

	for (size_t i = 0; i < a->nroutes && !err; i++) {
		const struct store_agg_route *r = &a->routes[i];

		err = put_route(out, r->method, r->route, r->status, r->count, &r->latency_ns);
	}
	return err;
}

/* ---- decoding ---- */

struct reader {
	const unsigned char *p;
	size_t len, off;
};

static int get_u64(struct reader *r, uint64_t *v)
{
	return varint_read(r->p, r->len, &r->off, v);
}

static int get_name(struct reader *r, const char **s, size_t *n, size_t cap)
{
	uint64_t len;

	if (get_u64(r, &len) || len > cap - 1 || len > r->len - r->off)
		return -EPROTO;
	*s = (const char *)r->p + r->off;
	*n = (size_t)len;
	r->off += (size_t)len;
	return 0;
}

/* Adds the histogram at the reader into @h. */
static int get_hist(struct reader *r, struct hist *h, struct hist *scratch)
{
	size_t used;
	int err;

	if (!hist_count(h)) {
		/* empty target: decode straight into it */
		err = hist_deserialize(h, r->p + r->off, r->len - r->off, &used);
	} else {
		err = hist_deserialize(scratch, r->p + r->off, r->len - r->off, &used);
		if (!err)
			hist_merge(h, scratch);
	}
	if (err)
		return -EPROTO;
	r->off += used;
	return 0;
}

static int get_header(struct reader *r, uint64_t *n)
{
	if (r->len < 1 || r->p[0] != STORE_BLOB_VERSION)
		return -EPROTO;
	r->off = 1;
	/* an entry takes at least 8 bytes: refuse a lie before doing work for it */
	if (get_u64(r, n) || *n > (r->len - r->off) / 8 + 1)
		return -EPROTO;
	return 0;
}

static int get_syscall(struct store_agg *a, struct reader *r, struct hist *scratch)
{
	uint64_t nr, count, errors, nerrnos, e, n;
	struct store_agg_syscall *y;
	const char *name;
	size_t len;

	if (get_name(r, &name, &len, WINDOW_SYSCALL_NAME_MAX) || get_u64(r, &nr) ||
	    get_u64(r, &count) || get_u64(r, &errors) || get_u64(r, &nerrnos) ||
	    nerrnos > WINDOW_ERRNOS_MAX)
		return -EPROTO;
	/* a name of NUL bytes would alias "": store and read it as it is, bounded */
	y = agg_syscall(a, name, strnlen(name, len));
	y->nr = (uint32_t)nr;
	y->count += count;
	y->errors += errors;
	for (uint64_t j = 0; j < nerrnos; j++) {
		if (get_u64(r, &e) || get_u64(r, &n) || e > INT32_MAX)
			return -EPROTO;
		agg_add_errno(y, (int)e, n);
	}
	return get_hist(r, &y->latency_ns, scratch);
}

int store_blob_add_syscalls(struct store_agg *a, const void *p, size_t len)
{
	struct reader r = { .p = p, .len = len };
	struct hist scratch;
	uint64_t n;
	int err = 0;

	if (!p || !len)
		return 0;
	if (r.p[0] == STORE_BLOB_WIRE_VERSION)
		return add_wire_syscalls(a, r.p + 1, len - 1);
	if (get_header(&r, &n))
		return -EPROTO;
	hist_init(&scratch);
	for (uint64_t i = 0; i < n && !err; i++)
		err = get_syscall(a, &r, &scratch);
	hist_release(&scratch);
	if (!err && r.off != r.len)
		err = -EPROTO;
	return err;
}

static int get_route(struct store_agg *a, struct reader *r, struct hist *scratch)
{
	const char *method, *route;
	size_t mlen, rlen;
	uint64_t status, count;
	struct store_agg_route *e;

	if (get_name(r, &method, &mlen, WINDOW_METHOD_MAX) ||
	    get_name(r, &route, &rlen, WINDOW_ROUTE_MAX) || get_u64(r, &status) ||
	    status > UINT16_MAX || get_u64(r, &count))
		return -EPROTO;
	e = agg_route(a, method, strnlen(method, mlen), route, strnlen(route, rlen),
		      (uint16_t)status);
	e->count += count;
	return get_hist(r, &e->latency_ns, scratch);
}

int store_blob_add_routes(struct store_agg *a, const void *p, size_t len)
{
	struct reader r = { .p = p, .len = len };
	struct hist scratch;
	uint64_t n;
	int err = 0;

	if (!p || !len)
		return 0;
	if (r.p[0] == STORE_BLOB_WIRE_VERSION)
		return add_wire_routes(a, r.p + 1, len - 1, false);
	if (get_header(&r, &n))
		return -EPROTO;
	hist_init(&scratch);
	for (uint64_t i = 0; i < n && !err; i++)
		err = get_route(a, &r, &scratch);
	hist_release(&scratch);
	if (!err && r.off != r.len)
		err = -EPROTO;
	return err;
}

int store_blob_add_hist(struct hist *h, struct hist *scratch, const void *p, size_t len)
{
	struct reader r = { .p = p, .len = len };

	if (!p || !len)
		return 0;
	if (get_hist(&r, h, scratch) || r.off != len)
		return -EPROTO;
	return 0;
}

/* Merges every route's histogram of a routes section of the wire form into @h. */
static int wire_routes_latency(struct hist *h, const void *p, size_t len)
{
	struct window_wire_iter it;
	struct window_wire_http e;
	int ret;

	if (window_wire_iter_init(&it, p, len))
		return -EPROTO;
	while ((ret = window_wire_next_http(&it, &e)) == 1)
		if (hist_merge_wire(h, e.hist, e.hist_len, NULL))
			return -EPROTO;
	return ret ? -EPROTO : 0;
}

/* Merges every route's histogram of a routes blob into @h. */
static int routes_latency(struct hist *h, struct hist *scratch, const void *p, size_t len)
{
	struct reader r = { .p = p, .len = len };
	const char *name;
	uint64_t n, v;
	size_t nlen;

	if (!p || !len)
		return 0;
	if (r.p[0] == STORE_BLOB_WIRE_VERSION)
		return wire_routes_latency(h, r.p + 1, len - 1);
	if (get_header(&r, &n))
		return -EPROTO;
	for (uint64_t i = 0; i < n; i++)
		if (get_name(&r, &name, &nlen, WINDOW_METHOD_MAX) ||
		    get_name(&r, &name, &nlen, WINDOW_ROUTE_MAX) || get_u64(&r, &v) ||
		    get_u64(&r, &v) || get_hist(&r, h, scratch))
			return -EPROTO;
	return r.off == r.len ? 0 : -EPROTO;
}

int store_agg_add_row(struct store_agg *a, sqlite3_stmt *st, int col, unsigned what)
{
	int err = 0;

	a->windows += (uint64_t)sqlite3_column_int64(st, col);
	a->requests += (uint64_t)sqlite3_column_int64(st, col + 1);
	a->errors += (uint64_t)sqlite3_column_int64(st, col + 2);
	a->syscalls += (uint64_t)sqlite3_column_int64(st, col + 3);
	a->syscall_errors += (uint64_t)sqlite3_column_int64(st, col + 4);
	a->tcp.retransmits += (uint64_t)sqlite3_column_int64(st, col + 5);
	a->tcp.resets += (uint64_t)sqlite3_column_int64(st, col + 6);
	a->tcp.connect_failures += (uint64_t)sqlite3_column_int64(st, col + 7);
	if (what & STORE_ROW_LATENCY) {
		struct hist scratch;
		const void *p = sqlite3_column_blob(st, col + 8);
		size_t len = (size_t)sqlite3_column_bytes(st, col + 8);

		hist_init(&scratch);
		if (what & STORE_ROW_RAW)
			err = routes_latency(&a->latency_ns, &scratch, p, len);
		else
			err = store_blob_add_hist(&a->latency_ns, &scratch, p, len);
		hist_release(&scratch);
	}
	if (!err && (what & STORE_ROW_SYSCALLS)) {
		const void *p = sqlite3_column_blob(st, col + 9);

		err = store_blob_add_syscalls(a, p, (size_t)sqlite3_column_bytes(st, col + 9));
	}
	if (!err && (what & STORE_ROW_ROUTES)) {
		const void *p = sqlite3_column_blob(st, col + 10);

		err = store_blob_add_routes(a, p, (size_t)sqlite3_column_bytes(st, col + 10));
	}
	return err;
}
