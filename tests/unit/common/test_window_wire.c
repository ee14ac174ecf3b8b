#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hist.h"
#include "common/varint.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/leakcheck.h"

TestSuite(window_wire, .fini = test_no_leaks);

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Records @n latencies of about 10 us to 100 ms. */
static void fill_hist(struct hist *h, uint64_t *seed, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hist_record(h, 10000 + rng_next(seed) % (rng_next(seed) % 2 ? 100000 : 100000000));
}

/* A batch of @n services with a bit of everything, as the agent fills it; free with free_batch().
 */
static void make_batch(struct window_batch *b, size_t n, uint64_t seed)
{
	static const char *const methods[] = { "GET", "POST", "DELETE", "OTHER" };

	memset(b, 0, sizeof(*b));
	strcpy(b->host, "node-1.example.com");
	b->end_ms = 1700000000000;
	b->interval_ms = 1000;
	b->spool_bytes = 123456789;
	b->spool_lost = 3;
	b->items = calloc(n, sizeof(*b->items));
	b->n = n;
	for (size_t k = 0; k < n; k++) {
		struct window_batch_item *it = &b->items[k];
		struct window *w = window_new((uint16_t)(k + 1));

		snprintf(it->service, sizeof(it->service), "svc-%zu", k);
		it->npids = k % 4;
		for (size_t i = 0; i < it->npids; i++)
			it->pids[i] = (uint32_t)(1000 * k + i + 1);
		for (size_t i = 0; i < k % 7; i++) {
			char route[32];
			struct window_http *h;

			snprintf(route, sizeof(route), "/r%zu/{id}", i);
			h = window_http_get(w, methods[i % 4], route,
					    (uint16_t)(200 + 100 * (i % 4)));
			fill_hist(&h->latency_ns, &seed, 1 + i * 10);
			h->count = hist_count(&h->latency_ns) + i % 2;
		}
		for (size_t i = 0; i < k % 5; i++) {
			struct window_syscall *s = window_syscall_get(w, (uint32_t)i * 3, "read");

			fill_hist(&s->latency_ns, &seed, 50);
			s->count = 50;
			s->errors = 20;
			for (int e = 0; e < (int)i * 2; e++)
				window_syscall_add_errno(s, e + 1, 1);
		}
		for (size_t i = 0; i < k % 3; i++) {
			char addr[32];
			struct window_call *c;

			snprintf(addr, sizeof(addr), "10.0.0.%zu:8080", i);
			c = window_call_get(w, addr);
			strcpy(c->peer, i ? "users" : "");
			fill_hist(&c->latency_ns, &seed, 30);
			c->count = 30;
			c->errors = i;
		}
		w->tcp.retransmits = k;
		w->tcp.resets = UINT64_MAX - k;
		w->tcp.connect_failures = 1;
		it->w = w;
	}
}

static void free_batch(struct window_batch *b)
{
	for (size_t k = 0; k < b->n; k++)
		window_free(b->items[k].w);
	free(b->items);
}

static void check_window_equal(const struct window *a, const struct window *b)
{
	cr_assert_eq(a->nhttp, b->nhttp);
	for (size_t i = 0; i < a->nhttp; i++) {
		const struct window_http *x = &a->http[i], *y = &b->http[i];

		cr_assert_str_eq(x->method, y->method);
		cr_assert_str_eq(x->route, y->route);
		cr_assert_eq(x->status, y->status);
		cr_assert_eq(x->count, y->count);
		cr_assert(hist_equal(&x->latency_ns, &y->latency_ns));
	}
	cr_assert_eq(a->nsyscalls, b->nsyscalls);
	for (size_t i = 0; i < a->nsyscalls; i++) {
		const struct window_syscall *x = &a->syscalls[i], *y = &b->syscalls[i];

		cr_assert_eq(x->nr, y->nr);
		cr_assert_str_eq(x->name, y->name);
		cr_assert_eq(x->count, y->count);
		cr_assert_eq(x->errors, y->errors);
		cr_assert_eq(x->nerrnos, y->nerrnos);
		for (size_t j = 0; j < x->nerrnos; j++) {
			cr_assert_eq(x->errnos[j].err, y->errnos[j].err);
			cr_assert_eq(x->errnos[j].count, y->errnos[j].count);
		}
		cr_assert(hist_equal(&x->latency_ns, &y->latency_ns));
	}
	cr_assert_eq(a->ncalls, b->ncalls);
	for (size_t i = 0; i < a->ncalls; i++) {
		const struct window_call *x = &a->calls[i], *y = &b->calls[i];

		cr_assert_str_eq(x->address, y->address);
		cr_assert_str_eq(x->peer, y->peer);
		cr_assert_eq(x->count, y->count);
		cr_assert_eq(x->errors, y->errors);
		cr_assert(hist_equal(&x->latency_ns, &y->latency_ns));
	}
	cr_assert_eq(a->tcp.retransmits, b->tcp.retransmits);
	cr_assert_eq(a->tcp.resets, b->tcp.resets);
	cr_assert_eq(a->tcp.connect_failures, b->tcp.connect_failures);
}

static void check_batch_equal(const struct window_batch *a, const struct window_batch *b)
{
	cr_assert_str_eq(a->host, b->host);
	cr_assert_eq(a->end_ms, b->end_ms);
	cr_assert_eq(a->interval_ms, b->interval_ms);
	cr_assert_eq(a->spool_bytes, b->spool_bytes);
	cr_assert_eq(a->spool_lost, b->spool_lost);
	cr_assert_eq(a->n, b->n);
	for (size_t k = 0; k < a->n; k++) {
		static const struct window empty;
		const struct window_batch_item *x = &a->items[k], *y = &b->items[k];

		cr_assert_str_eq(x->service, y->service);
		cr_assert_eq(x->npids, y->npids);
		cr_assert_eq(memcmp(x->pids, y->pids, x->npids * sizeof(x->pids[0])), 0);
		cr_assert_not_null(y->w, "decoded items always have a window");
		check_window_equal(x->w ? x->w : &empty, y->w);
	}
}

static void expect_nothing(const struct window_batch *b)
{
	cr_assert_null(b->items);
	cr_assert_eq(b->n, 0);
}

/* Decoding @len bytes at @p fails, and leaves nothing behind. */
static void expect_proto(const void *p, size_t len, const char *what)
{
	struct window_batch b;

	cr_assert_eq(window_batch_decode(p, len, &b), -EPROTO, "%s", what);
	expect_nothing(&b);
}

/* ---- round trips -------------------------------------------------------- */

Test(window_wire, round_trips_a_batch_with_real_histograms)
{
	struct window_batch in, out;
	struct buf b, again;

	make_batch(&in, 40, 1);
	buf_init(&b, BUF_MAX_BYTES);
	buf_init(&again, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	cr_assert_eq(window_batch_decode(b.data, b.len, &out), 0);
	check_batch_equal(&in, &out);
	cr_assert_eq(out.items[3].w->service_id, 0, "decoded windows have no agent-side id");
	/* canonical: what decodes encodes to the same bytes */
	cr_assert_eq(window_batch_encode(&out, &again), 0);
	cr_assert_eq(again.len, b.len);
	cr_assert_eq(memcmp(again.data, b.data, b.len), 0);
	window_batch_release(&out);
	expect_nothing(&out);
	buf_release(&again);
	buf_release(&b);
	free_batch(&in);
}

Test(window_wire, round_trips_the_largest_batch)
{
	struct window_batch in, out;
	struct buf b;

	make_batch(&in, SERVICES_MAX, 2);
	in.end_ms = INT64_MAX;
	in.interval_ms = UINT32_MAX;
	in.spool_bytes = UINT64_MAX;
	memset(in.host, 'h', WINDOW_HOST_MAX - 1);
	in.items[0].npids = WINDOW_PIDS_MAX;
	for (size_t i = 0; i < WINDOW_PIDS_MAX; i++)
		in.items[0].pids[i] = UINT32_MAX - (uint32_t)i;
	for (size_t i = 0; i < WINDOW_BATCH_ENTRIES_MAX; i++) {
		char addr[WINDOW_ADDRESS_MAX];

		snprintf(addr, sizeof(addr), "[::1]:%zu", i);
		window_call_get(in.items[3].w, addr)->count = i;
	}
	buf_init(&b, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	cr_assert_eq(window_batch_decode(b.data, b.len, &out), 0);
	check_batch_equal(&in, &out);
	window_batch_release(&out);
	buf_release(&b);
	free_batch(&in);
}

Test(window_wire, round_trips_an_empty_batch_and_a_missing_window)
{
	struct window_batch in, out;
	struct buf b;

	make_batch(&in, 0, 3);
	buf_init(&b, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	cr_assert_eq(window_batch_decode(b.data, b.len, &out), 0);
	check_batch_equal(&in, &out);
	window_batch_release(&out);
	free_batch(&in);

	make_batch(&in, 2, 3);
	window_free(in.items[1].w);
	in.items[1].w = NULL; /* encodes as an empty window */
	buf_reset(&b);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	cr_assert_eq(window_batch_decode(b.data, b.len, &out), 0);
	check_batch_equal(&in, &out);
	window_batch_release(&out);
	free_batch(&in);
	buf_release(&b);
}

/* ---- the layout, pinned ------------------------------------------------- */

/* docs/protocol.md's worked example; test_frame.c signs the same bytes. */
static const unsigned char golden[44] = {
	0x01,						/* version 1 */
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
};

static void make_golden(struct window_batch *b, struct window **w)
{
	struct window_http *h;

	memset(b, 0, sizeof(*b));
	strcpy(b->host, "h1");
	b->end_ms = 1700000000000;
	b->interval_ms = 1000;
	b->items = calloc(1, sizeof(*b->items));
	b->n = 1;
	strcpy(b->items[0].service, "api");
	b->items[0].pids[0] = 42;
	b->items[0].npids = 1;
	*w = b->items[0].w = window_new(1);
	h = window_http_get(*w, "GET", "/", 200);
	h->count = 1;
	hist_record(&h->latency_ns, 5);
}

Test(window_wire, encodes_the_documented_golden_payload_byte_for_byte)
{
	struct window_batch b, out;
	struct window *w;
	struct buf e;

	make_golden(&b, &w);
	buf_init(&e, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&b, &e), 0);
	cr_assert_eq(e.len, sizeof(golden));
	for (size_t i = 0; i < e.len; i++)
		cr_assert_eq(e.data[i], golden[i], "byte %zu", i);
	cr_assert_eq(window_batch_decode(golden, sizeof(golden), &out), 0);
	check_batch_equal(&b, &out);
	cr_assert_eq(hist_min(&out.items[0].w->http[0].latency_ns), 5);
	window_batch_release(&out);
	buf_release(&e);
	free_batch(&b);
}

Test(window_wire, encode_appends_and_leaves_a_full_buffer_as_it_was)
{
	struct window_batch b;
	struct window *w;
	struct buf e;

	make_golden(&b, &w);
	buf_init(&e, sizeof(golden) + 2);
	cr_assert_eq(buf_append_str(&e, "ab"), 0);
	cr_assert_eq(window_batch_encode(&b, &e), 0, "exactly the cap fits");
	cr_assert_eq(memcmp(e.data + 2, golden, sizeof(golden)), 0);
	buf_release(&e);
	buf_init(&e, sizeof(golden) + 1);
	cr_assert_eq(buf_append_str(&e, "ab"), 0);
	cr_assert_eq(window_batch_encode(&b, &e), -E2BIG);
	cr_assert_eq(e.len, 2);
	cr_assert_str_eq(buf_str(&e), "ab");
	buf_release(&e);
	free_batch(&b);
}

/* ---- malformed input ---------------------------------------------------- */

Test(window_wire, every_truncation_is_refused)
{
	struct window_batch in;
	struct buf b;

	make_batch(&in, 12, 4);
	buf_init(&b, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	for (size_t n = 0; n < b.len; n++) {
		/* a copy of exactly n bytes, so ASan sees any read past them */
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

Test(window_wire, a_changed_byte_is_refused_or_still_canonical)
{
	struct window_batch in, out;
	struct buf b, again;

	make_batch(&in, 6, 5);
	buf_init(&b, BUF_MAX_BYTES);
	buf_init(&again, BUF_MAX_BYTES);
	cr_assert_eq(window_batch_encode(&in, &b), 0);
	for (size_t i = 0; i < b.len; i++) {
		static const unsigned char xors[] = { 0x01, 0x80, 0xff };

		for (size_t x = 0; x < PRP_ARRAY_SIZE(xors); x++) {
			b.data[i] ^= xors[x];
			if (window_batch_decode(b.data, b.len, &out) == 0) {
				buf_reset(&again);
				cr_assert_eq(window_batch_encode(&out, &again), 0);
				cr_assert_eq(again.len, b.len, "byte %zu", i);
				cr_assert_eq(memcmp(again.data, b.data, b.len), 0, "byte %zu", i);
				window_batch_release(&out);
			} else {
				expect_nothing(&out);
			}
			b.data[i] ^= xors[x];
		}
	}
	buf_release(&again);
	buf_release(&b);
	free_batch(&in);
}

/* A hand-written payload, to say what the encoder never would. */
static void w_var(struct buf *b, uint64_t v)
{
	cr_assert_eq(varint_append(b, v), 0);
}

static void w_str(struct buf *b, const char *s)
{
	w_var(b, strlen(s));
	cr_assert_eq(buf_append_str(b, s), 0);
}

/* version, @host, @end_ms, @interval, spools 0, @n windows */
static void w_head_full(struct buf *b, const char *host, uint64_t end_ms, uint64_t interval,
			uint64_t n)
{
	buf_reset(b);
	cr_assert_eq(buf_append(b, "\x01", 1), 0);
	w_str(b, host);
	w_var(b, end_ms);
	w_var(b, interval);
	w_var(b, 0);
	w_var(b, 0);
	w_var(b, n);
}

static void w_head(struct buf *b, uint64_t interval, uint64_t n)
{
	w_head_full(b, "h", 1, interval, n);
}

/* A histogram of @count values of 1000 ns. */
static void w_hist(struct buf *b, uint64_t count)
{
	struct hist h;

	hist_init(&h);
	hist_record_n(&h, 1000, count);
	cr_assert_eq(hist_serialize(&h, b), 0);
	hist_release(&h);
}

/* Service @name with no pids and no entries. */
static void w_empty_window(struct buf *b, const char *name)
{
	w_str(b, name);
	for (int i = 0; i < 7; i++) /* npids, nhttp, nsyscalls, ncalls, tcp */
		w_var(b, 0);
}

struct http_spec {
	const char *method, *route;
	uint64_t status, count, hist_count;
};

/* One window "a" with the http entries @h. */
static void w_http(struct buf *b, const struct http_spec *h, size_t n)
{
	w_head(b, 1000, 1);
	w_str(b, "a");
	w_var(b, 0);
	w_var(b, n);
	for (size_t i = 0; i < n; i++) {
		w_str(b, h[i].method);
		w_str(b, h[i].route);
		w_var(b, h[i].status);
		w_var(b, h[i].count);
		w_hist(b, h[i].hist_count);
	}
	for (int i = 0; i < 5; i++)
		w_var(b, 0);
}

struct syscall_spec {
	uint64_t nr;
	const char *name;
	uint64_t count, errors, nerrnos, errnos[2 * (WINDOW_ERRNOS_MAX + 1)], hist_count;
};

static void w_syscalls(struct buf *b, const struct syscall_spec *s, size_t n)
{
	w_head(b, 1000, 1);
	w_str(b, "a");
	w_var(b, 0);
	w_var(b, 0);
	w_var(b, n);
	for (size_t i = 0; i < n; i++) {
		w_var(b, s[i].nr);
		w_str(b, s[i].name);
		w_var(b, s[i].count);
		w_var(b, s[i].errors);
		w_var(b, s[i].nerrnos);
		for (size_t j = 0; j < 2 * s[i].nerrnos; j++)
			w_var(b, s[i].errnos[j]);
		w_hist(b, s[i].hist_count);
	}
	for (int i = 0; i < 4; i++)
		w_var(b, 0);
}

struct call_spec {
	const char *address, *peer;
	uint64_t count, errors, hist_count;
};

static void w_calls(struct buf *b, const struct call_spec *c, size_t n)
{
	w_head(b, 1000, 1);
	w_str(b, "a");
	w_var(b, 0);
	w_var(b, 0);
	w_var(b, 0);
	w_var(b, n);
	for (size_t i = 0; i < n; i++) {
		w_str(b, c[i].address);
		w_str(b, c[i].peer);
		w_var(b, c[i].count);
		w_var(b, c[i].errors);
		w_hist(b, c[i].hist_count);
	}
	for (int i = 0; i < 3; i++)
		w_var(b, 0);
}

static void expect_ok(const struct buf *b, const char *what)
{
	struct window_batch out;

	cr_assert_eq(window_batch_decode(b->data, b->len, &out), 0, "%s", what);
	window_batch_release(&out);
}

Test(window_wire, refuses_bad_batch_headers)
{
	char host[WINDOW_HOST_MAX + 1];
	struct buf b;

	buf_init(&b, BUF_MAX_BYTES);
	w_head(&b, 1000, 0);
	expect_ok(&b, "baseline");
	b.data[0] = 3; /* 2 is read too: test_window_wire_v2.c */
	expect_proto(b.data, b.len, "version 3");
	b.data[0] = 0;
	expect_proto(b.data, b.len, "version 0");
	w_head(&b, 0, 0);
	expect_proto(b.data, b.len, "interval 0");
	w_head(&b, (uint64_t)UINT32_MAX + 1, 0);
	expect_proto(b.data, b.len, "interval past u32");

	memset(host, 'h', sizeof(host));
	host[WINDOW_HOST_MAX] = '\0';
	w_head_full(&b, host, 1, 1000, 0);
	expect_proto(b.data, b.len, "host of 256 bytes");
	host[WINDOW_HOST_MAX - 1] = '\0';
	w_head_full(&b, host, 1, 1000, 0);
	expect_ok(&b, "host of 255 bytes");
	w_head_full(&b, "", 1, 1000, 0);
	expect_proto(b.data, b.len, "empty host");
	w_head_full(&b, "h\tx", 1, 1000, 0);
	expect_proto(b.data, b.len, "control character in host");
	w_head_full(&b, "h", (uint64_t)INT64_MAX + 1, 1000, 0);
	expect_proto(b.data, b.len, "end_ms past i64");
	w_head_full(&b, "h", INT64_MAX, 1000, 0);
	expect_ok(&b, "end_ms of i64 max");
	buf_release(&b);
}

Test(window_wire, refuses_too_many_or_duplicate_services)
{
	struct buf b;
	char name[SERVICE_NAME_MAX + 1];

	buf_init(&b, BUF_MAX_BYTES);
	w_head(&b, 1000, SERVICES_MAX);
	for (int i = 0; i < SERVICES_MAX; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		w_empty_window(&b, name);
	}
	expect_ok(&b, "255 services");
	w_head(&b, 1000, SERVICES_MAX + 1);
	for (int i = 0; i < SERVICES_MAX + 1; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		w_empty_window(&b, name);
	}
	expect_proto(b.data, b.len, "256 services");
	w_head(&b, 1000, 3);
	w_empty_window(&b, "a");
	w_empty_window(&b, "b");
	w_empty_window(&b, "a");
	expect_proto(b.data, b.len, "service twice");
	w_head(&b, 1000, 1);
	w_empty_window(&b, "");
	expect_proto(b.data, b.len, "empty service name");
	memset(name, 's', SERVICE_NAME_MAX);
	name[SERVICE_NAME_MAX] = '\0';
	w_head(&b, 1000, 1);
	w_empty_window(&b, name);
	expect_proto(b.data, b.len, "service name of 64 bytes");
	name[SERVICE_NAME_MAX - 1] = '\0';
	w_head(&b, 1000, 1);
	w_empty_window(&b, name);
	expect_ok(&b, "service name of 63 bytes");
	w_head(&b, 1000, 1);
	w_empty_window(&b, "caf\xc3\xa9");
	expect_proto(b.data, b.len, "non-ASCII service name");
	w_head(&b, 1000, 40);
	w_empty_window(&b, "a");
	expect_proto(b.data, b.len, "more windows claimed than there are bytes for");
	buf_release(&b);
}

Test(window_wire, refuses_too_many_pids)
{
	struct buf b;

	buf_init(&b, BUF_MAX_BYTES);
	for (uint64_t n = WINDOW_PIDS_MAX; n <= WINDOW_PIDS_MAX + 1; n++) {
		w_head(&b, 1000, 1);
		w_str(&b, "a");
		w_var(&b, n);
		for (uint64_t i = 0; i < n; i++)
			w_var(&b, i);
		for (int i = 0; i < 6; i++)
			w_var(&b, 0);
		if (n == WINDOW_PIDS_MAX)
			expect_ok(&b, "256 pids");
		else
			expect_proto(b.data, b.len, "257 pids");
	}
	w_head(&b, 1000, 1);
	w_str(&b, "a");
	w_var(&b, 1);
	w_var(&b, (uint64_t)UINT32_MAX + 1);
	for (int i = 0; i < 6; i++)
		w_var(&b, 0);
	expect_proto(b.data, b.len, "pid past u32");
	buf_release(&b);
}

Test(window_wire, refuses_bad_http_entries)
{
	struct http_spec ok = { "GET", "/a", 200, 5, 5 }, two[2];
	struct http_spec *many = calloc(WINDOW_BATCH_ENTRIES_MAX + 1, sizeof(*many));
	char route[WINDOW_ROUTE_MAX + 1], (*routes)[16] = calloc(WINDOW_BATCH_ENTRIES_MAX + 1, 16);
	struct http_spec h;
	struct buf b;

	buf_init(&b, BUF_MAX_BYTES);
	w_http(&b, &ok, 1);
	expect_ok(&b, "baseline");
	h = ok, h.hist_count = 6;
	w_http(&b, &h, 1);
	expect_proto(b.data, b.len, "more latencies than requests");
	h = ok, h.hist_count = 0;
	w_http(&b, &h, 1);
	expect_ok(&b, "fewer latencies than requests");
	h = ok, h.status = 1000;
	w_http(&b, &h, 1);
	expect_proto(b.data, b.len, "status 1000");
	h = ok, h.method = "PROPFIND";
	w_http(&b, &h, 1);
	expect_proto(b.data, b.len, "method of 8 bytes");
	h = ok, h.route = "/a\x7f";
	w_http(&b, &h, 1);
	expect_proto(b.data, b.len, "DEL in route");
	memset(route, '/', sizeof(route));
	route[WINDOW_ROUTE_MAX] = '\0';
	h = ok, h.route = route;
	w_http(&b, &h, 1);
	expect_proto(b.data, b.len, "route of 128 bytes");
	route[WINDOW_ROUTE_MAX - 1] = '\0';
	w_http(&b, &h, 1);
	expect_ok(&b, "route of 127 bytes");
	two[0] = ok, two[1] = ok;
	w_http(&b, two, 2);
	expect_proto(b.data, b.len, "the same entry twice");
	two[1].status = 201;
	w_http(&b, two, 2);
	expect_ok(&b, "two statuses");

	for (size_t i = 0; i <= WINDOW_BATCH_ENTRIES_MAX; i++) {
		snprintf(routes[i], 16, "/%zu", i);
		many[i] = ok;
		many[i].route = routes[i];
	}
	w_http(&b, many, WINDOW_BATCH_ENTRIES_MAX);
	expect_ok(&b, "4096 entries");
	w_http(&b, many, WINDOW_BATCH_ENTRIES_MAX + 1);
	expect_proto(b.data, b.len, "4097 entries");
	free(routes);
	free(many);
	buf_release(&b);
}

Test(window_wire, refuses_bad_syscall_entries)
{
	struct syscall_spec ok = { 0, "read", 10, 4, 2, { 11, 3, 4, 1 }, 10 }, s, two[2];
	struct buf b;

	buf_init(&b, BUF_MAX_BYTES);
	w_syscalls(&b, &ok, 1);
	expect_ok(&b, "baseline");
	s = ok, s.errors = 11;
	w_syscalls(&b, &s, 1);
	expect_proto(b.data, b.len, "more errors than calls");
	s = ok, s.errors = 3;
	w_syscalls(&b, &s, 1);
	expect_proto(b.data, b.len, "errno counts past the errors");
	s = ok, s.errnos[1] = UINT64_MAX;
	s.errors = s.count = UINT64_MAX;
	w_syscalls(&b, &s, 1);
	expect_proto(b.data, b.len, "errno counts that overflow");
	s = ok, s.errnos[2] = 11;
	w_syscalls(&b, &s, 1);
	expect_proto(b.data, b.len, "the same errno twice");
	s = ok, s.errnos[0] = 4096;
	w_syscalls(&b, &s, 1);
	expect_proto(b.data, b.len, "errno 4096");
	s = ok, s.hist_count = 11;
	w_syscalls(&b, &s, 1);
	expect_proto(b.data, b.len, "more latencies than calls");
	s = ok, s.name = "a_name_longer_than_31_characters";
	w_syscalls(&b, &s, 1);
	expect_proto(b.data, b.len, "name of 32 bytes");
	s = ok, s.nr = (uint64_t)UINT32_MAX + 1;
	w_syscalls(&b, &s, 1);
	expect_proto(b.data, b.len, "nr past u32");
	s = ok, s.errors = s.count = 100, s.nerrnos = WINDOW_ERRNOS_MAX;
	for (size_t i = 0; i < WINDOW_ERRNOS_MAX; i++)
		s.errnos[2 * i] = i, s.errnos[2 * i + 1] = 1;
	w_syscalls(&b, &s, 1);
	expect_ok(&b, "16 errnos");
	s.nerrnos = WINDOW_ERRNOS_MAX + 1;
	s.errnos[2 * WINDOW_ERRNOS_MAX] = 99;
	s.errnos[2 * WINDOW_ERRNOS_MAX + 1] = 1;
	w_syscalls(&b, &s, 1);
	expect_proto(b.data, b.len, "17 errnos");
	two[0] = ok, two[1] = ok, two[1].name = "other";
	w_syscalls(&b, two, 2);
	expect_proto(b.data, b.len, "the same nr twice");
	two[1].nr = 1;
	w_syscalls(&b, two, 2);
	expect_ok(&b, "two syscalls");
	buf_release(&b);
}

Test(window_wire, refuses_bad_call_entries)
{
	struct call_spec ok = { "10.0.0.1:80", "users", 10, 2, 10 }, c, two[2];
	struct buf b;

	buf_init(&b, BUF_MAX_BYTES);
	w_calls(&b, &ok, 1);
	expect_ok(&b, "baseline");
	c = ok, c.errors = 11;
	w_calls(&b, &c, 1);
	expect_proto(b.data, b.len, "more errors than calls");
	c = ok, c.hist_count = 11;
	w_calls(&b, &c, 1);
	expect_proto(b.data, b.len, "more latencies than calls");
	c = ok, c.address = "";
	w_calls(&b, &c, 1);
	expect_proto(b.data, b.len, "empty address");
	c = ok, c.peer = "";
	w_calls(&b, &c, 1);
	expect_ok(&b, "unknown peer");
	c = ok, c.peer = "us\x01rs";
	w_calls(&b, &c, 1);
	expect_proto(b.data, b.len, "control character in peer");
	two[0] = ok, two[1] = ok, two[1].peer = "orders";
	w_calls(&b, two, 2);
	expect_proto(b.data, b.len, "the same address twice");
	buf_release(&b);
}

Test(window_wire, refuses_a_bad_histogram)
{
	struct http_spec ok = { "GET", "/a", 200, 5, 5 };
	struct buf b, h;
	size_t at;

	buf_init(&b, BUF_MAX_BYTES);
	buf_init(&h, BUF_MAX_BYTES);
	w_http(&b, &ok, 1);
	/* the histogram is followed by 5 zero varints: find its version byte */
	w_hist(&h, 5);
	at = b.len - 5 - h.len;
	buf_release(&h);
	cr_assert_eq(b.data[at], HIST_WIRE_VERSION);
	b.data[at] = 2;
	expect_proto(b.data, b.len, "histogram version 2");
	buf_release(&b);
}

/* ---- encoding errors ---------------------------------------------------- */

Test(window_wire, encode_refuses_what_the_decoder_would)
{
	struct window_batch b;
	struct window *w;
	struct buf e;

	buf_init(&e, BUF_MAX_BYTES);
#define EXPECT_EINVAL(change, undo)                                                                \
	do {                                                                                       \
		change;                                                                            \
		cr_assert_eq(window_batch_encode(&b, &e), -EINVAL, "%s", #change);                 \
		cr_assert_eq(e.len, 0);                                                            \
		undo;                                                                              \
		cr_assert_eq(window_batch_encode(&b, &e), 0, "%s", #undo);                         \
		buf_reset(&e);                                                                     \
	} while (0)
	make_golden(&b, &w);
	EXPECT_EINVAL(b.host[0] = '\0', b.host[0] = 'h');
	EXPECT_EINVAL(b.host[1] = '\n', b.host[1] = '1');
	EXPECT_EINVAL(b.end_ms = -1, b.end_ms = 0);
	EXPECT_EINVAL(b.interval_ms = 0, b.interval_ms = 1);
	EXPECT_EINVAL(b.n = SERVICES_MAX + 1, b.n = 1);
	EXPECT_EINVAL(b.items[0].service[0] = '\0', b.items[0].service[0] = 'a');
	EXPECT_EINVAL(b.items[0].npids = WINDOW_PIDS_MAX + 1, b.items[0].npids = 1);
	EXPECT_EINVAL(w->http[0].status = 1000, w->http[0].status = 599);
	EXPECT_EINVAL(w->http[0].count = 0, w->http[0].count = 1);
	EXPECT_EINVAL(w->http[0].route[0] = '\x1b', w->http[0].route[0] = '/');
	EXPECT_EINVAL(w->nhttp = WINDOW_BATCH_ENTRIES_MAX + 1, w->nhttp = 1);
	free_batch(&b);

	make_golden(&b, &w);
	{
		struct window_syscall *s = window_syscall_get(w, 1, "write");
		struct window_call *c = window_call_get(w, "[::1]:80");

		s->count = 10;
		s->errors = 5;
		window_syscall_add_errno(s, 5, 5);
		c->count = 3;
		EXPECT_EINVAL(s->errors = 11, s->errors = 5);
		EXPECT_EINVAL(s->errors = 4, s->errors = 5);
		EXPECT_EINVAL(s->errnos[0].err = -1, s->errnos[0].err = 4095);
		EXPECT_EINVAL(s->name[0] = '\xff', s->name[0] = 'w');
		EXPECT_EINVAL(c->errors = 4, c->errors = 3);
		EXPECT_EINVAL(c->address[0] = '\0', c->address[0] = '[');
	}
	free_batch(&b);

	make_batch(&b, 3, 9);
	EXPECT_EINVAL(strcpy(b.items[2].service, "svc-0"), strcpy(b.items[2].service, "svc-2"));
	free_batch(&b);
#undef EXPECT_EINVAL
	buf_release(&e);
}
