/*
 * The windows payload (common/window_wire.h, docs/protocol.md): a version
 * byte, then LEB128 varints (common/varint.h), strings as a varint length and
 * that many bytes, and histograms in the form of hist_serialize(). Versions
 * 1 and 2 are read; version 2 adds the logs and spans sections at the end of
 * each window, which common/window_wire_v2.c encodes, decodes and walks.
 *
 * One set of rules, the *_ok() checks below, decides what a valid batch is:
 * the encoder refuses (-EINVAL) what the decoder would refuse (-EPROTO), so
 * whatever the agent manages to encode the aggregator can decode, and every
 * decoded batch encodes again to the same bytes.
 *
 * Cost on untrusted input: the decoder allocates only for what it has read
 * (no count is trusted for an allocation before the bytes are there), and
 * finds duplicate entries with the linear find-or-add look-ups of
 * common/window.c, so a window costs O(entries^2) string compares, with
 * entries <= WINDOW_BATCH_ENTRIES_MAX. Frames are authenticated before their
 * payload gets here.
 */
#include "common/window_wire.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/hist.h"
#include "common/varint.h"
#include "common/window_wire_internal.h"

/* HTTP status codes have three digits (0: no status line was seen). */
#define WINDOW_STATUS_MAX 999
/* Linux's largest errno (MAX_ERRNO in include/linux/err.h). */
#define WINDOW_ERRNO_MAX 4095
/*
 * The fewest bytes one window item takes: service (2), npids, nhttp,
 * nsyscalls, ncalls, tcp (3); version 2 adds nlogs and nspans.
 */
#define WINDOW_ITEM_MIN_BYTES(version) ((version) >= 2 ? 11 : 9)

/* ---- Rules shared by the encoder and the decoder ------------------------- */

/* true when @s holds @n printable ASCII characters (0x20..0x7e). */
static bool text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* true when @s ends within its array of @cap and has @min_len or more printable characters. */
static bool str_ok(const char *s, size_t cap, size_t min_len)
{
	size_t n = strnlen(s, cap);

	return n < cap && n >= min_len && text_ok(s, n);
}

static bool http_ok(const struct window_http *h)
{
	return str_ok(h->method, sizeof(h->method), 0) && str_ok(h->route, sizeof(h->route), 0) &&
	       h->status <= WINDOW_STATUS_MAX && hist_count(&h->latency_ns) <= h->count;
}

static bool syscall_ok(const struct window_syscall *s)
{
	uint64_t sum = 0;

	if (!str_ok(s->name, sizeof(s->name), 0) || s->errors > s->count ||
	    hist_count(&s->latency_ns) > s->count || s->nerrnos > WINDOW_ERRNOS_MAX)
		return false;
	for (size_t i = 0; i < s->nerrnos; i++) {
		if (s->errnos[i].err < 0 || s->errnos[i].err > WINDOW_ERRNO_MAX)
			return false;
		for (size_t j = 0; j < i; j++)
			if (s->errnos[j].err == s->errnos[i].err)
				return false;
		if (__builtin_add_overflow(sum, s->errnos[i].count, &sum))
			return false;
	}
	return sum <= s->errors;
}

static bool call_ok(const struct window_call *c)
{
	return str_ok(c->address, sizeof(c->address), 1) && str_ok(c->peer, sizeof(c->peer), 0) &&
	       c->errors <= c->count && hist_count(&c->latency_ns) <= c->count;
}

/* ---- Encoding ------------------------------------------------------------ */

/* Appends @s (checked by the caller) as a varint length and its bytes. */
static int put_str(struct buf *out, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	int err = varint_append(out, n);

	return err ? err : buf_append(out, s, n);
}

static int put_http(struct buf *out, const struct window_http *h)
{
	int err;

	if (!http_ok(h))
		return -EINVAL;
	if ((err = put_str(out, h->method, sizeof(h->method))) ||
	    (err = put_str(out, h->route, sizeof(h->route))) ||
	    (err = varint_append(out, h->status)) || (err = varint_append(out, h->count)))
		return err;
	return hist_serialize(&h->latency_ns, out);
}

static int put_syscall(struct buf *out, const struct window_syscall *s)
{
	int err;

	if (!syscall_ok(s))
		return -EINVAL;
	if ((err = varint_append(out, s->nr)) || (err = put_str(out, s->name, sizeof(s->name))) ||
	    (err = varint_append(out, s->count)) || (err = varint_append(out, s->errors)) ||
	    (err = varint_append(out, s->nerrnos)))
		return err;
	for (size_t i = 0; i < s->nerrnos; i++)
		if ((err = varint_append(out, (uint64_t)s->errnos[i].err)) ||
		    (err = varint_append(out, s->errnos[i].count)))
			return err;
	return hist_serialize(&s->latency_ns, out);
}

static int put_call(struct buf *out, const struct window_call *c)
{
	int err;

	if (!call_ok(c))
		return -EINVAL;
	if ((err = put_str(out, c->address, sizeof(c->address))) ||
	    (err = put_str(out, c->peer, sizeof(c->peer))) ||
	    (err = varint_append(out, c->count)) || (err = varint_append(out, c->errors)))
		return err;
	return hist_serialize(&c->latency_ns, out);
}

/* The window of @w in @version; NULL encodes as an empty window. */
static int put_window(struct buf *out, const struct window *w, unsigned version)
{
	static const struct window empty;
	int err;

	if (!w)
		w = &empty;
	if (w->nhttp > WINDOW_BATCH_ENTRIES_MAX || w->nsyscalls > WINDOW_BATCH_ENTRIES_MAX ||
	    w->ncalls > WINDOW_BATCH_ENTRIES_MAX)
		return -EINVAL;
	if ((err = varint_append(out, w->nhttp)))
		return err;
	for (size_t i = 0; i < w->nhttp; i++)
		if ((err = put_http(out, &w->http[i])))
			return err;
	if ((err = varint_append(out, w->nsyscalls)))
		return err;
	for (size_t i = 0; i < w->nsyscalls; i++)
		if ((err = put_syscall(out, &w->syscalls[i])))
			return err;
	if ((err = varint_append(out, w->ncalls)))
		return err;
	for (size_t i = 0; i < w->ncalls; i++)
		if ((err = put_call(out, &w->calls[i])))
			return err;
	if ((err = varint_append(out, w->tcp.retransmits)) ||
	    (err = varint_append(out, w->tcp.resets)) ||
	    (err = varint_append(out, w->tcp.connect_failures)))
		return err;
	if (version >= 2)
		return ww_put_v2(out, w);
	return (w->nlogs || w->nspans) ? -EINVAL : 0;
}

static int put_item(struct buf *out, const struct window_batch *b, size_t k, unsigned version)
{
	const struct window_batch_item *it = &b->items[k];
	int err;

	if (!str_ok(it->service, sizeof(it->service), 1) || it->npids > WINDOW_PIDS_MAX)
		return -EINVAL;
	for (size_t j = 0; j < k; j++)
		if (!strcmp(b->items[j].service, it->service))
			return -EINVAL;
	if ((err = put_str(out, it->service, sizeof(it->service))) ||
	    (err = varint_append(out, it->npids)))
		return err;
	for (size_t i = 0; i < it->npids; i++)
		if ((err = varint_append(out, it->pids[i])))
			return err;
	return put_window(out, it->w, version);
}

/* The version @b asks for, or the lowest that carries it. */
static unsigned batch_version(const struct window_batch *b)
{
	if (b->version)
		return b->version;
	for (size_t k = 0; k < b->n; k++)
		if (b->items[k].w && (b->items[k].w->nlogs || b->items[k].w->nspans))
			return 2;
	return 1;
}

static int put_batch(struct buf *out, const struct window_batch *b)
{
	unsigned char version;
	int err;

	if (!str_ok(b->host, sizeof(b->host), 1) || b->end_ms < 0 || b->interval_ms == 0 ||
	    b->n > SERVICES_MAX)
		return -EINVAL;
	version = (unsigned char)batch_version(b);
	if (version < WINDOW_WIRE_VERSION_MIN || version > WINDOW_WIRE_VERSION)
		return -EINVAL;
	if ((err = buf_append(out, &version, 1)) ||
	    (err = put_str(out, b->host, sizeof(b->host))) ||
	    (err = varint_append(out, (uint64_t)b->end_ms)) ||
	    (err = varint_append(out, b->interval_ms)) ||
	    (err = varint_append(out, b->spool_bytes)) ||
	    (err = varint_append(out, b->spool_lost)) || (err = varint_append(out, b->n)))
		return err;
	for (size_t k = 0; k < b->n; k++)
		if ((err = put_item(out, b, k, version)))
			return err;
	return 0;
}

int window_batch_encode(const struct window_batch *b, struct buf *out)
{
	size_t start = out->len;
	int err = put_batch(out, b);

	if (err) {
		/* leave @out as it was */
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return err;
}

/* ---- Decoding ------------------------------------------------------------ */

/* A varint no larger than @max. 0 or -EPROTO. */
static int get_uint(struct ww_reader *r, uint64_t max, uint64_t *v)
{
	/* one byte, the common case: always canonical */
	if (r->off < r->len && r->p[r->off] < 0x80) {
		*v = r->p[r->off++];
		return *v > max ? -EPROTO : 0;
	}
	if (varint_read(r->p, r->len, &r->off, v) || *v > max)
		return -EPROTO;
	return 0;
}

/* A string of @min_len..@cap - 1 printable characters into @dst (NUL-terminated). */
static int get_str(struct ww_reader *r, char *dst, size_t cap, size_t min_len)
{
	uint64_t n;

	if (get_uint(r, cap - 1, &n) || n < min_len || n > r->len - r->off ||
	    !text_ok((const char *)r->p + r->off, n))
		return -EPROTO;
	memcpy(dst, r->p + r->off, n);
	dst[n] = '\0';
	r->off += n;
	return 0;
}

static int get_hist(struct ww_reader *r, struct hist *h)
{
	size_t used;

	if (hist_deserialize(h, r->p + r->off, r->len - r->off, &used))
		return -EPROTO;
	r->off += used;
	return 0;
}

static int get_http(struct ww_reader *r, struct window *w)
{
	char method[WINDOW_METHOD_MAX], route[WINDOW_ROUTE_MAX];
	struct window_http *h;
	uint64_t status, count;
	size_t n = w->nhttp;

	if (get_str(r, method, sizeof(method), 0) || get_str(r, route, sizeof(route), 0) ||
	    get_uint(r, WINDOW_STATUS_MAX, &status) || get_uint(r, UINT64_MAX, &count))
		return -EPROTO;
	h = window_http_get(w, method, route, (uint16_t)status);
	if (w->nhttp == n) /* found, not added: a duplicate */
		return -EPROTO;
	h->count = count;
	if (get_hist(r, &h->latency_ns) || !http_ok(h))
		return -EPROTO;
	return 0;
}

static int get_syscall(struct ww_reader *r, struct window *w)
{
	char name[WINDOW_SYSCALL_NAME_MAX];
	struct window_syscall *s;
	uint64_t nr, count, errors, nerrnos;
	size_t n = w->nsyscalls;

	if (get_uint(r, UINT32_MAX, &nr) || get_str(r, name, sizeof(name), 0) ||
	    get_uint(r, UINT64_MAX, &count) || get_uint(r, UINT64_MAX, &errors) ||
	    get_uint(r, WINDOW_ERRNOS_MAX, &nerrnos))
		return -EPROTO;
	s = window_syscall_get(w, (uint32_t)nr, name);
	if (w->nsyscalls == n)
		return -EPROTO;
	s->count = count;
	s->errors = errors;
	/* set directly, not through window_syscall_add_errno(), which merges and folds */
	for (size_t i = 0; i < nerrnos; i++) {
		uint64_t e, c;

		if (get_uint(r, WINDOW_ERRNO_MAX, &e) || get_uint(r, UINT64_MAX, &c))
			return -EPROTO;
		s->errnos[i].err = (int)e;
		s->errnos[i].count = c;
		s->nerrnos = i + 1;
	}
	if (get_hist(r, &s->latency_ns) || !syscall_ok(s))
		return -EPROTO;
	return 0;
}

static int get_call(struct ww_reader *r, struct window *w)
{
	char address[WINDOW_ADDRESS_MAX];
	struct window_call *c;
	size_t n = w->ncalls;

	if (get_str(r, address, sizeof(address), 1))
		return -EPROTO;
	c = window_call_get(w, address);
	if (w->ncalls == n)
		return -EPROTO;
	if (get_str(r, c->peer, sizeof(c->peer), 0) || get_uint(r, UINT64_MAX, &c->count) ||
	    get_uint(r, UINT64_MAX, &c->errors) || get_hist(r, &c->latency_ns) || !call_ok(c))
		return -EPROTO;
	return 0;
}

/* The entries of one window of @version into @w (empty). */
static int get_window(struct ww_reader *r, struct window *w, unsigned version)
{
	uint64_t n;

	if (get_uint(r, WINDOW_BATCH_ENTRIES_MAX, &n))
		return -EPROTO;
	for (uint64_t i = 0; i < n; i++)
		if (get_http(r, w))
			return -EPROTO;
	if (get_uint(r, WINDOW_BATCH_ENTRIES_MAX, &n))
		return -EPROTO;
	for (uint64_t i = 0; i < n; i++)
		if (get_syscall(r, w))
			return -EPROTO;
	if (get_uint(r, WINDOW_BATCH_ENTRIES_MAX, &n))
		return -EPROTO;
	for (uint64_t i = 0; i < n; i++)
		if (get_call(r, w))
			return -EPROTO;
	if (get_uint(r, UINT64_MAX, &w->tcp.retransmits) ||
	    get_uint(r, UINT64_MAX, &w->tcp.resets) ||
	    get_uint(r, UINT64_MAX, &w->tcp.connect_failures))
		return -EPROTO;
	return version >= 2 ? ww_get_v2(r, w) : 0;
}

/* Item @k of @b; its window is owned by @b as soon as it exists. */
static int get_item(struct ww_reader *r, struct window_batch *b, size_t k)
{
	struct window_batch_item *it = &b->items[k];
	uint64_t npids, pid;

	if (get_str(r, it->service, sizeof(it->service), 1))
		return -EPROTO;
	for (size_t j = 0; j < k; j++)
		if (!strcmp(b->items[j].service, it->service))
			return -EPROTO;
	if (get_uint(r, WINDOW_PIDS_MAX, &npids))
		return -EPROTO;
	for (size_t i = 0; i < npids; i++) {
		if (get_uint(r, UINT32_MAX, &pid))
			return -EPROTO;
		it->pids[i] = (uint32_t)pid;
	}
	it->npids = npids;
	/* decoded windows have no agent-side service id */
	it->w = window_new(0);
	return get_window(r, it->w, b->version);
}

/* The version byte: one this code reads, into b->version. */
static int get_version(struct ww_reader *r, struct window_batch *b)
{
	if (r->len < 1 || r->p[0] < WINDOW_WIRE_VERSION_MIN || r->p[0] > WINDOW_WIRE_VERSION)
		return -EPROTO;
	b->version = r->p[0];
	r->off = 1;
	return 0;
}

static int get_batch(struct ww_reader *r, struct window_batch *b)
{
	uint64_t end_ms, interval_ms, n;

	if (get_version(r, b))
		return -EPROTO;
	if (get_str(r, b->host, sizeof(b->host), 1) || get_uint(r, INT64_MAX, &end_ms) ||
	    get_uint(r, UINT32_MAX, &interval_ms) || interval_ms == 0 ||
	    get_uint(r, UINT64_MAX, &b->spool_bytes) || get_uint(r, UINT64_MAX, &b->spool_lost) ||
	    get_uint(r, SERVICES_MAX, &n))
		return -EPROTO;
	b->end_ms = (int64_t)end_ms;
	b->interval_ms = (uint32_t)interval_ms;
	/* allocate for the items only once their smallest possible bytes are there */
	if (n > (r->len - r->off) / WINDOW_ITEM_MIN_BYTES(b->version))
		return -EPROTO;
	if (n)
		b->items = xcalloc(n, sizeof(*b->items));
	b->n = n;
	for (size_t k = 0; k < n; k++)
		if (get_item(r, b, k))
			return -EPROTO;
	return r->off == r->len ? 0 : -EPROTO;
}

int window_batch_decode(const void *p, size_t len, struct window_batch *b)
{
	struct ww_reader r = { .p = p, .len = len, .off = 0 };

	memset(b, 0, sizeof(*b));
	if (get_batch(&r, b)) {
		window_batch_release(b);
		return -EPROTO;
	}
	return 0;
}

void window_batch_release(struct window_batch *b)
{
	for (size_t k = 0; b->items && k < b->n; k++)
		window_free(b->items[k].w);
	free(b->items);
	memset(b, 0, sizeof(*b));
}

/* ---- Views: checked in one pass, nothing materialized --------------------- */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* A string of @min_len..@cap - 1 printable characters, borrowed from the input. */
static int get_span(struct ww_reader *r, const char **s, size_t *n, size_t cap, size_t min_len)
{
	uint64_t v;

	if (get_uint(r, cap - 1, &v) || v < min_len || v > r->len - r->off ||
	    !text_ok((const char *)r->p + r->off, v))
		return -EPROTO;
	*s = (const char *)r->p + r->off;
	*n = (size_t)v;
	r->off += v;
	return 0;
}

int ww_get_uint(struct ww_reader *r, uint64_t max, uint64_t *v)
{
	return get_uint(r, max, v);
}

int ww_get_text(struct ww_reader *r, const char **s, size_t *n, size_t cap, size_t min_len)
{
	return get_span(r, s, n, cap, min_len);
}

int ww_put_str(struct buf *out, const char *s, size_t cap)
{
	return put_str(out, s, cap);
}

bool ww_str_ok(const char *s, size_t cap, size_t min_len)
{
	return str_ok(s, cap, min_len);
}

/* A serialized histogram of at most @max values, borrowed. */
static int get_hist_span(struct ww_reader *r, uint64_t max, const uint8_t **h, size_t *n)
{
	uint64_t count;
	size_t used;

	if (hist_wire_check(r->p + r->off, r->len - r->off, &used, &count) || count > max)
		return -EPROTO;
	*h = r->p + r->off;
	*n = used;
	r->off += used;
	return 0;
}

int ww_iter_start(struct window_wire_iter *it, const void *p, size_t len, uint64_t max)
{
	struct ww_reader r = { .p = p, .len = len };

	memset(it, 0, sizeof(*it));
	if (!p || !len)
		return 0;
	if (get_uint(&r, max, &it->left))
		return -EPROTO;
	it->p = p;
	it->len = len;
	it->off = r.off;
	return 0;
}

int window_wire_iter_init(struct window_wire_iter *it, const void *p, size_t len)
{
	return ww_iter_start(it, p, len, WINDOW_BATCH_ENTRIES_MAX);
}

/* 0 at the end of a section whose bytes are all used; 1 to read one more. */
static int iter_more(const struct window_wire_iter *it)
{
	if (it->left)
		return 1;
	return it->off == it->len ? 0 : -EPROTO;
}

int ww_iter_more(const struct window_wire_iter *it)
{
	return iter_more(it);
}

int window_wire_next_http(struct window_wire_iter *it, struct window_wire_http *out)
{
	struct ww_reader r = { .p = it->p, .len = it->len, .off = it->off };
	uint64_t status;
	int more = iter_more(it);

	if (more <= 0)
		return more;
	if (get_span(&r, &out->method, &out->method_len, WINDOW_METHOD_MAX, 0) ||
	    get_span(&r, &out->route, &out->route_len, WINDOW_ROUTE_MAX, 0) ||
	    get_uint(&r, WINDOW_STATUS_MAX, &status) || get_uint(&r, UINT64_MAX, &out->count) ||
	    get_hist_span(&r, out->count, &out->hist, &out->hist_len))
		return -EPROTO;
	out->status = (uint16_t)status;
	it->off = r.off;
	it->left--;
	return 1;
}

int window_wire_next_syscall(struct window_wire_iter *it, struct window_wire_syscall *out)
{
	struct ww_reader r = { .p = it->p, .len = it->len, .off = it->off };
	uint64_t nr, nerrnos, sum = 0;
	int more = iter_more(it);

	if (more <= 0)
		return more;
	if (get_uint(&r, UINT32_MAX, &nr) ||
	    get_span(&r, &out->name, &out->name_len, WINDOW_SYSCALL_NAME_MAX, 0) ||
	    get_uint(&r, UINT64_MAX, &out->count) || get_uint(&r, UINT64_MAX, &out->errors) ||
	    out->errors > out->count || get_uint(&r, WINDOW_ERRNOS_MAX, &nerrnos))
		return -EPROTO;
	out->nr = (uint32_t)nr;
	out->nerrnos = 0;
	for (size_t i = 0; i < nerrnos; i++) {
		uint64_t e, c;

		if (get_uint(&r, WINDOW_ERRNO_MAX, &e) || get_uint(&r, UINT64_MAX, &c) ||
		    __builtin_add_overflow(sum, c, &sum))
			return -EPROTO;
		for (size_t j = 0; j < i; j++)
			if (out->errnos[j].err == (int)e)
				return -EPROTO;
		out->errnos[i].err = (int)e;
		out->errnos[i].count = c;
		out->nerrnos = i + 1;
	}
	if (sum > out->errors || get_hist_span(&r, out->count, &out->hist, &out->hist_len))
		return -EPROTO;
	it->off = r.off;
	it->left--;
	return 1;
}

int window_wire_next_call(struct window_wire_iter *it, struct window_wire_call *out)
{
	struct ww_reader r = { .p = it->p, .len = it->len, .off = it->off };
	int more = iter_more(it);

	if (more <= 0)
		return more;
	if (get_span(&r, &out->address, &out->address_len, WINDOW_ADDRESS_MAX, 1) ||
	    get_span(&r, &out->peer, &out->peer_len, SERVICE_NAME_MAX, 0) ||
	    get_uint(&r, UINT64_MAX, &out->count) || get_uint(&r, UINT64_MAX, &out->errors) ||
	    out->errors > out->count || get_hist_span(&r, out->count, &out->hist, &out->hist_len))
		return -EPROTO;
	it->off = r.off;
	it->left--;
	return 1;
}

static bool span_eq(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && !memcmp(a, b, an);
}

/* Work space of one view decode: the keys of the entries read so far in a window. */
struct view_scratch {
	struct window_wire_http *http;
	uint32_t *nrs;
	struct window_wire_call *calls;
	size_t http_alloc, nrs_alloc, calls_alloc;
};

/* Room for entry @n of an array that grows with the entries read, never ahead of them. */
static void *grow(void *v, size_t *alloc, size_t n, size_t size)
{
	if (n < *alloc)
		return v;
	*alloc = *alloc ? *alloc * 2 : 16;
	return xreallocarray(v, *alloc, size);
}

/*
 * Each section is walked entry by entry over the rest of the payload (its
 * end is known only once read); its entries must be unique in the window,
 * as the full decoder's find-or-add look-ups require: a linear search over
 * the entries read, O(entries^2) as there.
 */
static int view_http(struct ww_reader *r, struct window_view *v, struct view_scratch *sc)
{
	struct window_wire_iter it;
	struct window_wire_http h;
	uint64_t total;

	if (window_wire_iter_init(&it, r->p + r->off, r->len - r->off) || !it.p)
		return -EPROTO;
	total = it.left;
	for (size_t n = 0; n < total; n++) {
		if (window_wire_next_http(&it, &h) != 1)
			return -EPROTO;
		for (size_t j = 0; j < n; j++)
			if (sc->http[j].status == h.status &&
			    span_eq(sc->http[j].method, sc->http[j].method_len, h.method,
				    h.method_len) &&
			    span_eq(sc->http[j].route, sc->http[j].route_len, h.route, h.route_len))
				return -EPROTO;
		sc->http = grow(sc->http, &sc->http_alloc, n, sizeof(*sc->http));
		sc->http[n] = h;
		v->requests = sat_add(v->requests, h.count);
		if (h.status >= 500 && h.status <= 599)
			v->errors = sat_add(v->errors, h.count);
	}
	v->http_wire = r->p + r->off;
	v->http_wire_len = it.off;
	r->off += it.off;
	return 0;
}

static int view_syscalls(struct ww_reader *r, struct window_view *v, struct view_scratch *sc)
{
	struct window_wire_iter it;
	struct window_wire_syscall y;
	uint64_t total;

	if (window_wire_iter_init(&it, r->p + r->off, r->len - r->off) || !it.p)
		return -EPROTO;
	total = it.left;
	for (size_t n = 0; n < total; n++) {
		if (window_wire_next_syscall(&it, &y) != 1)
			return -EPROTO;
		for (size_t j = 0; j < n; j++)
			if (sc->nrs[j] == y.nr)
				return -EPROTO;
		sc->nrs = grow(sc->nrs, &sc->nrs_alloc, n, sizeof(*sc->nrs));
		sc->nrs[n] = y.nr;
		v->syscalls = sat_add(v->syscalls, y.count);
		v->syscall_errors = sat_add(v->syscall_errors, y.errors);
	}
	v->syscalls_wire = r->p + r->off;
	v->syscalls_wire_len = it.off;
	r->off += it.off;
	return 0;
}

static int view_calls(struct ww_reader *r, struct window_view *v, struct view_scratch *sc)
{
	struct window_wire_iter it;
	struct window_wire_call c;
	uint64_t total;

	if (window_wire_iter_init(&it, r->p + r->off, r->len - r->off) || !it.p)
		return -EPROTO;
	total = it.left;
	for (size_t n = 0; n < total; n++) {
		if (window_wire_next_call(&it, &c) != 1)
			return -EPROTO;
		for (size_t j = 0; j < n; j++)
			if (span_eq(sc->calls[j].address, sc->calls[j].address_len, c.address,
				    c.address_len))
				return -EPROTO;
		sc->calls = grow(sc->calls, &sc->calls_alloc, n, sizeof(*sc->calls));
		sc->calls[n] = c;
	}
	v->calls_wire = r->p + r->off;
	v->calls_wire_len = it.off;
	r->off += it.off;
	return 0;
}

static int view_item(struct ww_reader *r, struct window_batch *b, size_t k, struct view_scratch *sc)
{
	struct window_batch_item *it = &b->items[k];
	struct window_view *v = &it->view;
	uint64_t npids, pid;

	if (get_str(r, it->service, sizeof(it->service), 1))
		return -EPROTO;
	for (size_t j = 0; j < k; j++)
		if (!strcmp(b->items[j].service, it->service))
			return -EPROTO;
	if (get_uint(r, WINDOW_PIDS_MAX, &npids))
		return -EPROTO;
	for (size_t i = 0; i < npids; i++) {
		if (get_uint(r, UINT32_MAX, &pid))
			return -EPROTO;
		it->pids[i] = (uint32_t)pid;
	}
	it->npids = npids;
	if (view_http(r, v, sc) || view_syscalls(r, v, sc) || view_calls(r, v, sc) ||
	    get_uint(r, UINT64_MAX, &v->tcp.retransmits) ||
	    get_uint(r, UINT64_MAX, &v->tcp.resets) ||
	    get_uint(r, UINT64_MAX, &v->tcp.connect_failures))
		return -EPROTO;
	return b->version >= 2 ? ww_view_v2(r, v) : 0;
}

static int view_batch(struct ww_reader *r, struct window_batch *b, struct view_scratch *sc)
{
	uint64_t end_ms, interval_ms, n;

	if (get_version(r, b))
		return -EPROTO;
	if (get_str(r, b->host, sizeof(b->host), 1) || get_uint(r, INT64_MAX, &end_ms) ||
	    get_uint(r, UINT32_MAX, &interval_ms) || interval_ms == 0 ||
	    get_uint(r, UINT64_MAX, &b->spool_bytes) || get_uint(r, UINT64_MAX, &b->spool_lost) ||
	    get_uint(r, SERVICES_MAX, &n))
		return -EPROTO;
	b->end_ms = (int64_t)end_ms;
	b->interval_ms = (uint32_t)interval_ms;
	if (n > (r->len - r->off) / WINDOW_ITEM_MIN_BYTES(b->version))
		return -EPROTO;
	if (n)
		b->items = xcalloc(n, sizeof(*b->items));
	b->n = n;
	for (size_t k = 0; k < n; k++)
		if (view_item(r, b, k, sc))
			return -EPROTO;
	return r->off == r->len ? 0 : -EPROTO;
}

int window_batch_decode_view(const void *p, size_t len, struct window_batch *b)
{
	struct ww_reader r = { .p = p, .len = len, .off = 0 };
	struct view_scratch sc = { 0 };
	int err;

	memset(b, 0, sizeof(*b));
	err = view_batch(&r, b, &sc);
	free(sc.http);
	free(sc.nrs);
	free(sc.calls);
	if (err) {
		window_batch_release(b);
		return -EPROTO;
	}
	return 0;
}

int window_batch_view_of(const struct window_batch *b, struct buf *scratch,
			 struct window_batch *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	buf_reset(scratch);
	err = window_batch_encode(b, scratch);
	if (err)
		return err;
	/* what the encoder writes the decoder accepts */
	return window_batch_decode_view(scratch->data, scratch->len, out) ? -EINVAL : 0;
}
