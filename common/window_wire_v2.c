/*
 * The two sections version 2 of the windows payload adds at the end of
 * each window (docs/protocol.md): the lines the service wrote to stdout
 * and stderr, and its HTTP spans. Encoded, decoded into a struct window,
 * checked into a view and walked, by one set of rules (log_ok(),
 * span_ok()), as window_wire.c does for the rest of a window.
 *
 * Cost on untrusted input: a line is allocated (full decoder) only once
 * its bytes are known to be there, and checked for UTF-8 in one pass; a
 * window holds at most WINDOW_LOG_LINES_MAX lines and WINDOW_SPANS_MAX
 * spans, whose counts are checked before anything is read.
 */
#include <errno.h>
#include <string.h>

#include "common/span.h"
#include "common/utf8.h"
#include "common/varint.h"
#include "common/window_wire_internal.h"

/* HTTP status codes have three digits (0: unknown), as in window_wire.c. */
#define SPAN_STATUS_MAX 999
/* The fixed bytes of a span: trace id, span id, parent span id. */
#define SPAN_ID_BYTES (SPAN_TRACE_ID_LEN + 2 * SPAN_ID_LEN)

/* ---- Rules shared by the encoder and the decoder ------------------------- */

static bool stream_ok(uint64_t stream)
{
	return stream == WINDOW_LOG_STDOUT || stream == WINDOW_LOG_STDERR;
}

/* 1..WINDOW_LOG_LINE_MAX bytes of valid UTF-8 with no NUL and no LF. */
static bool line_ok(const char *text, size_t len)
{
	return len >= 1 && len <= WINDOW_LOG_LINE_MAX && !memchr(text, '\0', len) &&
	       !memchr(text, '\n', len) && utf8_valid(text, len);
}

static bool log_ok(const struct window_log *l)
{
	return l->ts_ns >= 0 && stream_ok(l->stream) && line_ok(l->text, l->len);
}

static bool span_kind_ok(uint64_t kind)
{
	return kind == SPAN_KIND_SERVER || kind == SPAN_KIND_CLIENT;
}

static bool span_ok(const struct span *s)
{
	return !span_id_is_zero(s->trace_id, SPAN_TRACE_ID_LEN) &&
	       !span_id_is_zero(s->span_id, SPAN_ID_LEN) && s->start_ns > 0 &&
	       s->end_ns >= s->start_ns && span_kind_ok(s->kind) && s->status <= SPAN_STATUS_MAX &&
	       ww_str_ok(s->method, sizeof(s->method), 0) &&
	       ww_str_ok(s->route, sizeof(s->route), 0) &&
	       ww_str_ok(s->peer_service, sizeof(s->peer_service), 0) &&
	       ww_str_ok(s->server_address, sizeof(s->server_address), 0);
}

/* ---- Encoding ------------------------------------------------------------ */

static int put_log(struct buf *out, const struct window_log *l)
{
	int err;

	if (!log_ok(l))
		return -EINVAL;
	if ((err = varint_append(out, (uint64_t)l->ts_ns)) ||
	    (err = varint_append(out, l->stream)) || (err = varint_append(out, l->len)))
		return err;
	return buf_append(out, l->text, l->len);
}

static int put_span(struct buf *out, const struct span *s)
{
	int err;

	if (!span_ok(s))
		return -EINVAL;
	if ((err = buf_append(out, s->trace_id, SPAN_TRACE_ID_LEN)) ||
	    (err = buf_append(out, s->span_id, SPAN_ID_LEN)) ||
	    (err = buf_append(out, s->parent_span_id, SPAN_ID_LEN)) ||
	    (err = varint_append(out, (uint64_t)s->start_ns)) ||
	    (err = varint_append(out, (uint64_t)(s->end_ns - s->start_ns))) ||
	    (err = varint_append(out, s->kind)) || (err = varint_append(out, s->status)) ||
	    (err = ww_put_str(out, s->method, sizeof(s->method))) ||
	    (err = ww_put_str(out, s->route, sizeof(s->route))) ||
	    (err = ww_put_str(out, s->peer_service, sizeof(s->peer_service))) ||
	    (err = ww_put_str(out, s->server_address, sizeof(s->server_address))))
		return err;
	return varint_append(out, s->server_port);
}

int ww_put_v2(struct buf *out, const struct window *w)
{
	int err;

	if (w->nlogs > WINDOW_LOG_LINES_MAX || w->nspans > WINDOW_SPANS_MAX)
		return -EINVAL;
	if ((err = varint_append(out, w->nlogs)))
		return err;
	for (size_t i = 0; i < w->nlogs; i++)
		if ((err = put_log(out, &w->logs[i])))
			return err;
	if ((err = varint_append(out, w->nspans)))
		return err;
	for (size_t i = 0; i < w->nspans; i++)
		if ((err = put_span(out, &w->spans[i])))
			return err;
	return 0;
}

/* ---- Decoding ------------------------------------------------------------ */

/* One line, borrowed from the input. */
static int read_log(struct ww_reader *r, struct window_wire_log *out)
{
	uint64_t ts, stream, len;

	if (ww_get_uint(r, INT64_MAX, &ts) || ww_get_uint(r, WINDOW_LOG_STDERR, &stream) ||
	    !stream_ok(stream) || ww_get_uint(r, WINDOW_LOG_LINE_MAX, &len) ||
	    len > r->len - r->off || !line_ok((const char *)r->p + r->off, len))
		return -EPROTO;
	out->ts_ns = (int64_t)ts;
	out->stream = (uint8_t)stream;
	out->text = (const char *)r->p + r->off;
	out->len = (size_t)len;
	r->off += len;
	return 0;
}

/* A string of 0..@cap - 1 printable characters into @dst, NUL-terminated. */
static int read_str(struct ww_reader *r, char *dst, size_t cap)
{
	const char *s;
	size_t n;

	if (ww_get_text(r, &s, &n, cap, 0))
		return -EPROTO;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* One span into @out, whose service and host are left empty. */
static int read_span(struct ww_reader *r, struct span *out)
{
	uint64_t start, duration, kind, status, port;

	memset(out, 0, sizeof(*out));
	if (r->len - r->off < SPAN_ID_BYTES)
		return -EPROTO;
	memcpy(out->trace_id, r->p + r->off, SPAN_TRACE_ID_LEN);
	memcpy(out->span_id, r->p + r->off + SPAN_TRACE_ID_LEN, SPAN_ID_LEN);
	memcpy(out->parent_span_id, r->p + r->off + SPAN_TRACE_ID_LEN + SPAN_ID_LEN, SPAN_ID_LEN);
	r->off += SPAN_ID_BYTES;
	if (ww_get_uint(r, INT64_MAX, &start) || start == 0 ||
	    ww_get_uint(r, INT64_MAX - start, &duration) ||
	    ww_get_uint(r, SPAN_KIND_CLIENT, &kind) || !span_kind_ok(kind) ||
	    ww_get_uint(r, SPAN_STATUS_MAX, &status) ||
	    read_str(r, out->method, sizeof(out->method)) ||
	    read_str(r, out->route, sizeof(out->route)) ||
	    read_str(r, out->peer_service, sizeof(out->peer_service)) ||
	    read_str(r, out->server_address, sizeof(out->server_address)) ||
	    ww_get_uint(r, UINT16_MAX, &port))
		return -EPROTO;
	out->start_ns = (int64_t)start;
	out->end_ns = (int64_t)(start + duration);
	out->kind = (uint8_t)kind;
	out->status = (uint16_t)status;
	out->server_port = (uint16_t)port;
	return span_ok(out) ? 0 : -EPROTO;
}

int ww_get_v2(struct ww_reader *r, struct window *w)
{
	uint64_t n;

	if (ww_get_uint(r, WINDOW_LOG_LINES_MAX, &n))
		return -EPROTO;
	for (uint64_t i = 0; i < n; i++) {
		struct window_wire_log l;

		if (read_log(r, &l))
			return -EPROTO;
		window_log_add(w, l.ts_ns, l.stream, l.text, l.len);
	}
	if (ww_get_uint(r, WINDOW_SPANS_MAX, &n))
		return -EPROTO;
	for (uint64_t i = 0; i < n; i++) {
		struct span s;

		if (read_span(r, &s))
			return -EPROTO;
		*window_span_add(w) = s;
	}
	return 0;
}

/* ---- Walking, and views -------------------------------------------------- */

int window_wire_iter_init_logs(struct window_wire_iter *it, const void *p, size_t len)
{
	return ww_iter_start(it, p, len, WINDOW_LOG_LINES_MAX);
}

int window_wire_iter_init_spans(struct window_wire_iter *it, const void *p, size_t len)
{
	return ww_iter_start(it, p, len, WINDOW_SPANS_MAX);
}

int window_wire_next_log(struct window_wire_iter *it, struct window_wire_log *out)
{
	struct ww_reader r = { .p = it->p, .len = it->len, .off = it->off };
	int more = ww_iter_more(it);

	if (more <= 0)
		return more;
	if (read_log(&r, out))
		return -EPROTO;
	it->off = r.off;
	it->left--;
	return 1;
}

int window_wire_next_span(struct window_wire_iter *it, struct span *out)
{
	struct ww_reader r = { .p = it->p, .len = it->len, .off = it->off };
	int more = ww_iter_more(it);

	if (more <= 0)
		return more;
	if (read_span(&r, out))
		return -EPROTO;
	it->off = r.off;
	it->left--;
	return 1;
}

int ww_view_v2(struct ww_reader *r, struct window_view *v)
{
	struct window_wire_iter it;
	struct window_wire_log l;
	struct span s;
	uint64_t total;

	/* each section walked over the rest of the payload: its end is known once read */
	if (window_wire_iter_init_logs(&it, r->p + r->off, r->len - r->off) || !it.p)
		return -EPROTO;
	total = it.left;
	for (uint64_t i = 0; i < total; i++)
		if (window_wire_next_log(&it, &l) != 1)
			return -EPROTO;
	v->logs_wire = r->p + r->off;
	v->logs_wire_len = it.off;
	v->nlogs = (size_t)total;
	r->off += it.off;

	if (window_wire_iter_init_spans(&it, r->p + r->off, r->len - r->off) || !it.p)
		return -EPROTO;
	total = it.left;
	for (uint64_t i = 0; i < total; i++)
		if (window_wire_next_span(&it, &s) != 1)
			return -EPROTO;
	v->spans_wire = r->p + r->off;
	v->spans_wire_len = it.off;
	v->nspans = (size_t)total;
	r->off += it.off;
	return 0;
}
