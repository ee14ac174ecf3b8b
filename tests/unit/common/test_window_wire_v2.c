/*
 * Version 2 of the windows payload (common/window_wire_v2.c): the logs and
 * spans sections of each window, version 1 still read and still written
 * when a batch has neither, and the decoder's rules on the new sections.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hist.h"
#include "common/span.h"
#include "common/varint.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/leakcheck.h"

TestSuite(window_wire_v2, .fini = test_no_leaks);

/* ---- helpers ------------------------------------------------------------ */

static void fill_span(struct span *s, uint8_t seed, uint8_t kind)
{
	memset(s->trace_id, seed, sizeof(s->trace_id));
	memset(s->span_id, seed + 1, sizeof(s->span_id));
	if (kind == SPAN_KIND_CLIENT)
		memset(s->parent_span_id, seed + 2, sizeof(s->parent_span_id));
	s->start_ns = 1700000000000000000 + seed;
	s->end_ns = s->start_ns + 1500000;
	s->kind = kind;
	s->status = 200 + seed;
	strcpy(s->method, "GET");
	strcpy(s->route, "/users/{id}");
	if (kind == SPAN_KIND_CLIENT) {
		strcpy(s->peer_service, "users");
		strcpy(s->server_address, "127.0.0.1");
		s->server_port = 8002;
	}
}

/* @n services; service k has k % 4 lines (some not ASCII) and k % 3 spans. */
static void make_batch(struct window_batch *b, size_t n)
{
	static const char *const lines[] = { "GET /users/1 200", "caf\xc3\xa9 \xe2\x82\xac",
					     "\tindented\x1b[31m red", "x" };

	memset(b, 0, sizeof(*b));
	strcpy(b->host, "node-1");
	b->end_ms = 1700000000000;
	b->interval_ms = 1000;
	b->items = calloc(n ? n : 1, sizeof(*b->items));
	b->n = n;
	for (size_t k = 0; k < n; k++) {
		struct window *w = window_new((uint16_t)(k + 1));
		struct window_http *h = window_http_get(w, "GET", "/", 200);

		h->count = 2;
		hist_record(&h->latency_ns, 1000 + k);
		snprintf(b->items[k].service, sizeof(b->items[k].service), "svc-%zu", k);
		for (size_t i = 0; i < k % 4; i++)
			window_log_add(w, 1699999999000000000 + (int64_t)(k * 1000 + i),
				       i % 2 ? WINDOW_LOG_STDERR : WINDOW_LOG_STDOUT, lines[i],
				       strlen(lines[i]));
		for (size_t i = 0; i < k % 3; i++)
			fill_span(window_span_add(w), (uint8_t)(k + i + 1),
				  i % 2 ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER);
		w->tcp.resets = k;
		b->items[k].w = w;
	}
}

static void free_batch(struct window_batch *b)
{
	for (size_t k = 0; k < b->n; k++)
		window_free(b->items[k].w);
	free(b->items);
}

static void check_span_equal(const struct span *x, const struct span *y)
{
	cr_assert_eq(memcmp(x->trace_id, y->trace_id, sizeof(x->trace_id)), 0);
	cr_assert_eq(memcmp(x->span_id, y->span_id, sizeof(x->span_id)), 0);
	cr_assert_eq(memcmp(x->parent_span_id, y->parent_span_id, sizeof(x->parent_span_id)), 0);
	cr_assert_eq(x->start_ns, y->start_ns);
	cr_assert_eq(x->end_ns, y->end_ns);
	cr_assert_eq(x->kind, y->kind);
	cr_assert_eq(x->status, y->status);
	cr_assert_str_eq(x->method, y->method);
	cr_assert_str_eq(x->route, y->route);
	cr_assert_str_eq(x->peer_service, y->peer_service);
	cr_assert_str_eq(x->server_address, y->server_address);
	cr_assert_eq(x->server_port, y->server_port);
}

static void check_v2_equal(const struct window_batch *a, const struct window_batch *b)
{
	cr_assert_eq(a->n, b->n);
	for (size_t k = 0; k < a->n; k++) {
		const struct window *x = a->items[k].w, *y = b->items[k].w;

		cr_assert_eq(x->nlogs, y->nlogs, "service %zu", k);
		for (size_t i = 0; i < x->nlogs; i++) {
			cr_assert_eq(x->logs[i].ts_ns, y->logs[i].ts_ns);
			cr_assert_eq(x->logs[i].stream, y->logs[i].stream);
			cr_assert_eq(x->logs[i].len, y->logs[i].len);
			cr_assert_eq(memcmp(x->logs[i].text, y->logs[i].text, x->logs[i].len), 0);
			cr_assert_eq(y->logs[i].text[y->logs[i].len], '\0',
				     "decoded text is a string");
		}
		cr_assert_eq(x->nspans, y->nspans, "service %zu", k);
		for (size_t i = 0; i < x->nspans; i++)
			check_span_equal(&x->spans[i], &y->spans[i]);
		cr_assert_eq(x->tcp.resets, y->tcp.resets);
	}
}

static void expect_proto(const void *p, size_t len, const char *what)
{
	struct window_batch b;

	cr_assert_eq(window_batch_decode(p, len, &b), -EPROTO, "%s", what);
	cr_assert_null(b.items);
	cr_assert_eq(window_batch_decode_view(p, len, &b), -EPROTO, "%s (view)", what);
	cr_assert_null(b.items);
}

static void expect_ok(const struct buf *b, const char *what)
{
	struct window_batch out;

	cr_assert_eq(window_batch_decode(b->data, b->len, &out), 0, "%s", what);
	window_batch_release(&out);
	cr_assert_eq(window_batch_decode_view(b->data, b->len, &out), 0, "%s (view)", what);
	window_batch_release(&out);
}

/* ---- versions ----------------------------------------------------------- */

Test(window_wire_v2, a_batch_without_lines_or_spans_is_still_version_1)
{
	struct window_batch in, out;
	struct buf b;

	make_batch(&in, 1); /* service 0: no lines, no spans */
	buf_init(&b, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	cr_assert_eq(b.data[0], 1, "an aggregator of version 1 still reads it");
	cr_assert_eq(window_batch_decode(b.data, b.len, &out), 0);
	cr_assert_eq(out.version, 1);
	cr_assert_eq(out.items[0].w->nlogs, 0);
	window_batch_release(&out);
	cr_assert_eq(window_batch_decode_view(b.data, b.len, &out), 0);
	cr_assert_null(out.items[0].view.logs_wire, "a version 1 window has no logs section");
	cr_assert_null(out.items[0].view.spans_wire);
	window_batch_release(&out);
	buf_release(&b);
	free_batch(&in);
}

Test(window_wire_v2, round_trips_lines_and_spans_canonically)
{
	struct window_batch in, out;
	struct buf b, again;

	make_batch(&in, 13);
	buf_init(&b, BUF_MAX_BYTES);
	buf_init(&again, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	cr_assert_eq(b.data[0], 2);
	cr_assert_eq(window_batch_decode(b.data, b.len, &out), 0);
	cr_assert_eq(out.version, 2);
	check_v2_equal(&in, &out);
	cr_assert_eq(window_batch_encode(&out, &again), 0);
	cr_assert_eq(again.len, b.len);
	cr_assert_eq(memcmp(again.data, b.data, b.len), 0);
	window_batch_release(&out);
	buf_release(&again);
	buf_release(&b);
	free_batch(&in);
}

Test(window_wire_v2, a_version_2_batch_without_lines_keeps_its_version)
{
	struct window_batch in, out;
	struct buf b, again;

	make_batch(&in, 1);
	in.version = 2;
	buf_init(&b, BUF_MAX_BYTES);
	buf_init(&again, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	cr_assert_eq(b.data[0], 2);
	cr_assert_eq(b.data[b.len - 2], 0, "0 lines");
	cr_assert_eq(b.data[b.len - 1], 0, "0 spans");
	cr_assert_eq(window_batch_decode(b.data, b.len, &out), 0);
	cr_assert_eq(out.version, 2);
	cr_assert_eq(window_batch_encode(&out, &again), 0);
	cr_assert_eq(again.len, b.len, "decoded, it encodes to its own bytes");
	window_batch_release(&out);
	buf_release(&again);
	buf_release(&b);
	free_batch(&in);
}

Test(window_wire_v2, encode_refuses_unknown_versions_and_lines_in_version_1)
{
	struct window_batch in;
	struct buf b;

	make_batch(&in, 2); /* service 1 has a line */
	buf_init(&b, BUF_MAX_BYTES);
	in.version = 1;
	cr_assert_eq(window_batch_encode(&in, &b), -EINVAL);
	cr_assert_eq(b.len, 0);
	in.version = 3;
	cr_assert_eq(window_batch_encode(&in, &b), -EINVAL);
	in.version = 2;
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	buf_release(&b);
	free_batch(&in);
}

Test(window_wire_v2, views_walk_the_lines_and_spans)
{
	struct window_batch in, v;
	struct window_wire_iter it;
	struct window_wire_log l;
	struct span s;
	struct buf b;
	int ret;

	make_batch(&in, 8);
	buf_init(&b, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	cr_assert_eq(window_batch_decode_view(b.data, b.len, &v), 0);
	cr_assert_eq(v.version, 2);
	for (size_t k = 0; k < in.n; k++) {
		const struct window *w = in.items[k].w;
		const struct window_view *vw = &v.items[k].view;
		size_t n = 0;

		cr_assert_eq(vw->nlogs, w->nlogs);
		cr_assert_eq(vw->nspans, w->nspans);
		cr_assert_eq(window_wire_iter_init_logs(&it, vw->logs_wire, vw->logs_wire_len), 0);
		for (; (ret = window_wire_next_log(&it, &l)) == 1; n++) {
			cr_assert_eq(l.ts_ns, w->logs[n].ts_ns);
			cr_assert_eq(l.stream, w->logs[n].stream);
			cr_assert_eq(l.len, w->logs[n].len);
			cr_assert_eq(memcmp(l.text, w->logs[n].text, l.len), 0);
		}
		cr_assert_eq(ret, 0);
		cr_assert_eq(n, w->nlogs);
		cr_assert_eq(window_wire_iter_init_spans(&it, vw->spans_wire, vw->spans_wire_len),
			     0);
		for (n = 0; (ret = window_wire_next_span(&it, &s)) == 1; n++) {
			check_span_equal(&s, &w->spans[n]);
			cr_assert_str_eq(s.service, "", "the window's service is not in the span");
			cr_assert_str_eq(s.host, "");
		}
		cr_assert_eq(ret, 0);
		cr_assert_eq(n, w->nspans);
	}
	window_batch_release(&v);
	buf_release(&b);
	free_batch(&in);
}

/* ---- the layout, pinned ------------------------------------------------- */

/* docs/protocol.md's worked example of version 2: version 1's plus one line. */
static const unsigned char golden_v2[59] = {
	0x02,						/* version 2 */
	0x02, 0x68, 0x31,				/* host "h1" */
	0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31,		/* end_ms 1700000000000 */
	0xe8, 0x07,					/* interval_ms 1000 */
	0x00, 0x00,					/* spool_bytes, spool_lost */
	0x01,						/* 1 window */
	0x03, 0x61, 0x70, 0x69,				/* service "api" */
	0x01, 0x2a,					/* 1 pid: 42 */
	0x01,						/* 1 http entry */
	0x03, 0x47, 0x45, 0x54,				/* method "GET" */
	0x01, 0x2f,					/* route "/" */
	0xc8, 0x01,					/* status 200 */
	0x01,						/* count 1 */
	0x01, 0x01, 0x05, 0x05, 0x05, 0x01, 0x05, 0x01, /* latency: one value, 5 ns */
	0x00,						/* 0 syscalls */
	0x00,						/* 0 calls */
	0x00, 0x00, 0x00, /* tcp: retransmits, resets, connect failures */
	0x01,		  /* 1 line */
	0x80, 0xb6, 0xf2, 0xc2, 0xe1, 0x9f, 0xe7, 0xcb, 0x17, /* ts_ns 1699999999500000000 */
	0x01,						      /* stream 1: stdout */
	0x02, 0x68, 0x69,				      /* "hi" */
	0x00,						      /* 0 spans */
};

Test(window_wire_v2, encodes_the_documented_golden_payload_byte_for_byte)
{
	struct window_batch b, out;
	struct window_http *h;
	struct window *w;
	struct buf e;

	memset(&b, 0, sizeof(b));
	strcpy(b.host, "h1");
	b.end_ms = 1700000000000;
	b.interval_ms = 1000;
	b.items = calloc(1, sizeof(*b.items));
	b.n = 1;
	strcpy(b.items[0].service, "api");
	b.items[0].pids[0] = 42;
	b.items[0].npids = 1;
	w = b.items[0].w = window_new(1);
	h = window_http_get(w, "GET", "/", 200);
	h->count = 1;
	hist_record(&h->latency_ns, 5);
	window_log_add(w, 1699999999500000000, WINDOW_LOG_STDOUT, "hi", 2);

	buf_init(&e, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&b, &e), 0);
	cr_assert_eq(e.len, sizeof(golden_v2));
	for (size_t i = 0; i < e.len; i++)
		cr_assert_eq(e.data[i], golden_v2[i], "byte %zu", i);
	cr_assert_eq(window_batch_decode(golden_v2, sizeof(golden_v2), &out), 0);
	cr_assert_eq(out.items[0].w->nlogs, 1);
	cr_assert_str_eq(out.items[0].w->logs[0].text, "hi");
	window_batch_release(&out);
	buf_release(&e);
	free_batch(&b);
}

/* ---- malformed input ---------------------------------------------------- */

Test(window_wire_v2, every_truncation_and_a_trailing_byte_are_refused)
{
	struct window_batch in;
	struct buf b;

	make_batch(&in, 7);
	buf_init(&b, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	for (size_t n = 0; n < b.len; n++) {
		unsigned char *p = malloc(n ? n : 1);

		memcpy(p, b.data, n);
		expect_proto(p, n, "truncated");
		free(p);
	}
	cr_assert_eq(buf_append(&b, "", 1), 0);
	expect_proto(b.data, b.len, "a trailing byte");
	buf_release(&b);
	free_batch(&in);
}

Test(window_wire_v2, a_changed_byte_is_refused_or_still_canonical)
{
	struct window_batch in, out, view;
	struct buf b, again;

	make_batch(&in, 6);
	buf_init(&b, BUF_MAX_BYTES);
	buf_init(&again, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	for (size_t i = 0; i < b.len; i++) {
		static const unsigned char xors[] = { 0x01, 0x0a, 0x80, 0xff };

		for (size_t x = 0; x < PRP_ARRAY_SIZE(xors); x++) {
			int full, light;

			b.data[i] ^= xors[x];
			full = window_batch_decode(b.data, b.len, &out);
			light = window_batch_decode_view(b.data, b.len, &view);
			cr_assert_eq(full, light, "byte %zu: both decoders agree", i);
			if (full == 0) {
				buf_reset(&again);
				cr_assert_eq(window_batch_encode(&out, &again), 0);
				cr_assert_eq(again.len, b.len, "byte %zu", i);
				cr_assert_eq(memcmp(again.data, b.data, b.len), 0, "byte %zu", i);
				window_batch_release(&out);
				window_batch_release(&view);
			}
			b.data[i] ^= xors[x];
		}
	}
	buf_release(&again);
	buf_release(&b);
	free_batch(&in);
}

/* A hand-written version 2 payload: one window "a" with nothing but what follows. */
static void w_var(struct buf *b, uint64_t v)
{
	cr_assert_eq(varint_append(b, v), 0);
}

static void w_head(struct buf *b)
{
	buf_reset(b);
	cr_assert_eq(buf_append(b,
				"\x02\x01h\x01\x01\x00\x00\x01\x01"
				"a",
				10),
		     0);
	for (int i = 0; i < 7; i++) /* npids, nhttp, nsyscalls, ncalls, tcp */
		w_var(b, 0);
}

static void w_line(struct buf *b, uint64_t ts, uint64_t stream, const char *text, size_t len)
{
	w_var(b, ts);
	w_var(b, stream);
	w_var(b, len);
	cr_assert_eq(buf_append(b, text, len), 0);
}

/* One window with the line @text (@len bytes) of @stream at @ts, and no spans. */
static void w_one_line(struct buf *b, uint64_t ts, uint64_t stream, const char *text, size_t len)
{
	w_head(b);
	w_var(b, 1);
	w_line(b, ts, stream, text, len);
	w_var(b, 0);
}

Test(window_wire_v2, refuses_bad_lines)
{
	static const struct {
		const char *text;
		size_t len;
		const char *what;
	} bad[] = {
		{ "", 0, "an empty line" },
		{ "a\nb", 3, "a newline" },
		{ "a\0b", 3, "a NUL" },
		{ "\xc0\x80", 2, "an overlong NUL" },
		{ "\xe0\x80\xaf", 3, "an overlong slash" },
		{ "\xed\xa0\x80", 3, "a surrogate" },
		{ "\xf4\x90\x80\x80", 4, "past U+10FFFF" },
		{ "\xf5\x80\x80\x80", 4, "an F5 byte" },
		{ "ab\xc3", 3, "a cut character" },
		{ "\x80", 1, "a lone continuation byte" },
		{ "\xff", 1, "an FF byte" },
	};
	char *big = malloc(WINDOW_LOG_LINE_MAX + 1);
	struct buf b;

	buf_init(&b, BUF_MAX_BYTES);
	w_one_line(&b, 1, 1, "ok \xf0\x9f\x98\x80 \xe2\x82\xac", 11);
	expect_ok(&b, "baseline, 4- and 3-byte characters");
	w_one_line(&b, 1, 2, "\t\r\x1b", 3);
	expect_ok(&b, "stderr, control characters but NUL and LF");
	w_one_line(&b, INT64_MAX, 1, "a", 1);
	expect_ok(&b, "ts of i64 max");
	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++) {
		w_one_line(&b, 1, 1, bad[i].text, bad[i].len);
		expect_proto(b.data, b.len, bad[i].what);
	}
	w_one_line(&b, (uint64_t)INT64_MAX + 1, 1, "a", 1);
	expect_proto(b.data, b.len, "ts past i64");
	w_one_line(&b, 1, 0, "a", 1);
	expect_proto(b.data, b.len, "stream 0");
	w_one_line(&b, 1, 3, "a", 1);
	expect_proto(b.data, b.len, "stream 3");
	memset(big, 'x', WINDOW_LOG_LINE_MAX + 1);
	w_one_line(&b, 1, 1, big, WINDOW_LOG_LINE_MAX);
	expect_ok(&b, "the longest line");
	w_one_line(&b, 1, 1, big, WINDOW_LOG_LINE_MAX + 1);
	expect_proto(b.data, b.len, "a line past WINDOW_LOG_LINE_MAX");
	w_head(&b);
	w_var(&b, 1);
	w_var(&b, 1);
	w_var(&b, 1);
	w_var(&b, 5);
	cr_assert_eq(buf_append(&b, "abc", 3), 0);
	expect_proto(b.data, b.len, "a length past the bytes");
	w_head(&b);
	w_var(&b, 0);
	expect_proto(b.data, b.len, "no spans count");
	free(big);
	buf_release(&b);
}

Test(window_wire_v2, bounds_the_lines_of_a_window)
{
	struct buf b;

	buf_init(&b, BUF_MAX_BYTES);
	for (uint64_t n = WINDOW_LOG_LINES_MAX; n <= WINDOW_LOG_LINES_MAX + 1; n++) {
		w_head(&b);
		w_var(&b, n);
		for (uint64_t i = 0; i < n; i++)
			w_line(&b, i, 1 + i % 2, "l", 1);
		w_var(&b, 0);
		if (n == WINDOW_LOG_LINES_MAX)
			expect_ok(&b, "65536 lines");
		else
			expect_proto(b.data, b.len, "65537 lines");
	}
	w_head(&b);
	w_var(&b, 1000);
	w_line(&b, 1, 1, "l", 1);
	expect_proto(b.data, b.len, "more lines claimed than there are");
	buf_release(&b);
}

struct span_spec {
	uint8_t trace, span;
	uint64_t start, duration, kind, status;
	const char *method, *route, *peer, *address;
	uint64_t port;
};

static void w_spans(struct buf *b, const struct span_spec *s, size_t n)
{
	w_head(b);
	w_var(b, 0);
	w_var(b, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char ids[32] = { 0 };
		const char *strs[] = { s[i].method, s[i].route, s[i].peer, s[i].address };

		ids[15] = s[i].trace;
		ids[23] = s[i].span;
		cr_assert_eq(buf_append(b, ids, sizeof(ids)), 0);
		w_var(b, s[i].start);
		w_var(b, s[i].duration);
		w_var(b, s[i].kind);
		w_var(b, s[i].status);
		for (size_t j = 0; j < 4; j++) {
			w_var(b, strlen(strs[j]));
			cr_assert_eq(buf_append_str(b, strs[j]), 0);
		}
		w_var(b, s[i].port);
	}
}

Test(window_wire_v2, refuses_bad_spans)
{
	const struct span_spec ok = {
		1, 2, 1000, 50, 3, 200, "GET", "/a", "users", "10.0.0.1", 80
	};
	struct span_spec s, *many = calloc(WINDOW_SPANS_MAX + 1, sizeof(*many));
	struct buf b;

	buf_init(&b, BUF_MAX_BYTES);
	w_spans(&b, &ok, 1);
	expect_ok(&b, "baseline");
	s = ok, s.kind = 2, s.peer = "", s.address = "", s.port = 0, s.status = 0;
	w_spans(&b, &s, 1);
	expect_ok(&b, "a server span, status unknown");
	s = ok, s.trace = 0;
	w_spans(&b, &s, 1);
	expect_proto(b.data, b.len, "an all-zero trace id");
	s = ok, s.span = 0;
	w_spans(&b, &s, 1);
	expect_proto(b.data, b.len, "an all-zero span id");
	s = ok, s.start = 0;
	w_spans(&b, &s, 1);
	expect_proto(b.data, b.len, "start 0");
	s = ok, s.start = INT64_MAX, s.duration = 0;
	w_spans(&b, &s, 1);
	expect_ok(&b, "the latest start, no duration");
	s.duration = 1;
	w_spans(&b, &s, 1);
	expect_proto(b.data, b.len, "an end past i64");
	s = ok, s.kind = 1;
	w_spans(&b, &s, 1);
	expect_proto(b.data, b.len, "kind 1 (internal)");
	s = ok, s.kind = 4;
	w_spans(&b, &s, 1);
	expect_proto(b.data, b.len, "kind 4 (producer)");
	s = ok, s.status = 1000;
	w_spans(&b, &s, 1);
	expect_proto(b.data, b.len, "status 1000");
	s = ok, s.method = "PROPFIND";
	w_spans(&b, &s, 1);
	expect_proto(b.data, b.len, "method of 8 bytes");
	s = ok, s.route = "/\x7f";
	w_spans(&b, &s, 1);
	expect_proto(b.data, b.len, "DEL in route");
	s = ok, s.port = 65536;
	w_spans(&b, &s, 1);
	expect_proto(b.data, b.len, "port 65536");
	for (size_t i = 0; i <= WINDOW_SPANS_MAX; i++)
		many[i] = ok;
	w_spans(&b, many, WINDOW_SPANS_MAX);
	expect_ok(&b, "4096 spans");
	w_spans(&b, many, WINDOW_SPANS_MAX + 1);
	expect_proto(b.data, b.len, "4097 spans");
	free(many);
	buf_release(&b);
}

/* ---- encoding errors ---------------------------------------------------- */

Test(window_wire_v2, encode_refuses_what_the_decoder_would)
{
	struct window_batch b;
	struct window *w;
	struct span *s;
	struct buf e;

	buf_init(&e, BUF_MAX_BYTES);
	make_batch(&b, 3); /* service 2: two lines, two spans */
	w = b.items[2].w;
	s = &w->spans[0];
#define EXPECT_EINVAL(change, undo)                                                                \
	do {                                                                                       \
		change;                                                                            \
		cr_assert_eq(window_batch_encode(&b, &e), -EINVAL, "%s", #change);                 \
		cr_assert_eq(e.len, 0);                                                            \
		undo;                                                                              \
		cr_assert_eq(window_batch_encode(&b, &e), 0, "%s", #undo);                         \
		buf_reset(&e);                                                                     \
	} while (0)
	EXPECT_EINVAL(w->logs[0].stream = 0, w->logs[0].stream = 1);
	EXPECT_EINVAL(w->logs[0].ts_ns = -1, w->logs[0].ts_ns = 0);
	EXPECT_EINVAL(w->logs[0].len = 0, w->logs[0].len = 1);
	EXPECT_EINVAL(w->logs[0].text[0] = '\n', w->logs[0].text[0] = 'G');
	EXPECT_EINVAL(w->logs[0].text[0] = '\xff', w->logs[0].text[0] = 'G');
	EXPECT_EINVAL(w->nlogs = WINDOW_LOG_LINES_MAX + 1, w->nlogs = 2);
	EXPECT_EINVAL(memset(s->trace_id, 0, 16), s->trace_id[0] = 1);
	EXPECT_EINVAL(s->end_ns = s->start_ns - 1, s->end_ns = s->start_ns);
	EXPECT_EINVAL(s->kind = 0, s->kind = SPAN_KIND_CLIENT);
	EXPECT_EINVAL(s->status = 1000, s->status = 999);
	EXPECT_EINVAL(s->route[0] = '\t', s->route[0] = '/');
	EXPECT_EINVAL(w->nspans = WINDOW_SPANS_MAX + 1, w->nspans = 2);
#undef EXPECT_EINVAL
	free_batch(&b);
	buf_release(&e);
}
