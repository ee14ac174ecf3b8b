/*
 * libFuzzer target for the wire protocol's decoders, frame_decode() and
 * window_batch_decode(), whose input comes from the network. Each input is
 * used three ways:
 *  - as a nanomsg message: frames walked back to back with the fixed key;
 *  - the same, with the MAC of the first frame recomputed over the bytes the
 *    header claims, so that mutations get past the HMAC to the inflater (a
 *    fuzzer cannot forge a MAC; a peer with the key can send anything);
 *  - as a windows payload on its own.
 * Whatever decodes must re-encode and decode to the same thing, and a
 * windows payload must re-encode to exactly its bytes (the form is
 * canonical), and window_batch_decode_view() must accept exactly the same
 * payloads, its section walkers agreeing with the full decode. Anything else
 * aborts, and so do ASan and UBSan findings.
 *
 * The seeds in tests/fuzz/corpus/frame/ are frames made by frame_encode()
 * with this key (one is the golden frame of docs/protocol.md re-signed), two
 * frames back to back, and bare windows payloads; the v2 ones (payload-v2-*,
 * windows-v2-*) carry log lines (one not ASCII) and a span, so mutations
 * reach the logs and spans sections and their UTF-8 and span rules.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/frame.h"
#include "common/hist.h"
#include "common/hmac.h"
#include "common/span.h"
#include "common/window_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char KEY[] = "fuzz-key";
#define KEYLEN (sizeof(KEY) - 1)
/* A message holds a handful of frames; more only repeats the same work. */
#define FUZZ_FRAMES_MAX 16

/* The logs and spans sections of a view walk to their end, as the full decode read them. */
static void check_view_v2(const struct window_view *w, const struct window *f)
{
	struct window_wire_iter it;
	struct window_wire_log l;
	struct span s;
	size_t n;
	int ret;

	if (w->nlogs != f->nlogs || w->nspans != f->nspans)
		abort();
	if (window_wire_iter_init_logs(&it, w->logs_wire, w->logs_wire_len))
		abort();
	for (n = 0; (ret = window_wire_next_log(&it, &l)) == 1; n++)
		if (l.ts_ns != f->logs[n].ts_ns || l.stream != f->logs[n].stream ||
		    l.len != f->logs[n].len || memcmp(l.text, f->logs[n].text, l.len))
			abort();
	if (ret || n != f->nlogs)
		abort();
	if (window_wire_iter_init_spans(&it, w->spans_wire, w->spans_wire_len))
		abort();
	for (n = 0; (ret = window_wire_next_span(&it, &s)) == 1; n++)
		if (s.end_ns != f->spans[n].end_ns ||
		    memcmp(s.span_id, f->spans[n].span_id, SPAN_ID_LEN) ||
		    strcmp(s.route, f->spans[n].route))
			abort();
	if (ret || n != f->nspans)
		abort();
}

/* Every section of a view walks to its end, with the totals and entries of the full decode. */
static void check_view(const struct window_batch *v, const struct window_batch *b)
{
	for (size_t i = 0; b && i < v->n; i++) {
		const struct window_view *w = &v->items[i].view;
		const struct window *f = b->items[i].w;
		struct window_wire_iter it;
		struct window_wire_http h;
		struct window_wire_syscall y;
		struct window_wire_call c;
		struct hist merged;
		size_t n = 0;
		int ret;

		if (v->n != b->n || strcmp(v->items[i].service, b->items[i].service) ||
		    w->tcp.resets != f->tcp.resets)
			abort();
		hist_init(&merged);
		if (window_wire_iter_init(&it, w->http_wire, w->http_wire_len))
			abort();
		while ((ret = window_wire_next_http(&it, &h)) == 1) {
			if (h.count != f->http[n].count ||
			    hist_merge_wire(&merged, h.hist, h.hist_len, NULL))
				abort();
			n++;
		}
		if (ret || n != f->nhttp)
			abort();
		for (n = 0; n < f->nhttp; n++)
			hist_merge(&merged, &f->http[n].latency_ns);
		if (window_wire_iter_init(&it, w->syscalls_wire, w->syscalls_wire_len))
			abort();
		for (n = 0; (ret = window_wire_next_syscall(&it, &y)) == 1; n++)
			if (y.nr != f->syscalls[n].nr || y.nerrnos != f->syscalls[n].nerrnos)
				abort();
		if (ret || n != f->nsyscalls)
			abort();
		if (window_wire_iter_init(&it, w->calls_wire, w->calls_wire_len))
			abort();
		for (n = 0; (ret = window_wire_next_call(&it, &c)) == 1; n++)
			if (c.count != f->calls[n].count)
				abort();
		if (ret || n != f->ncalls)
			abort();
		hist_release(&merged);
		check_view_v2(w, f);
	}
}

/* A decoded windows payload encodes to exactly its bytes, and decodes again. */
static void check_windows(const uint8_t *p, size_t len)
{
	struct window_batch b, again, view;
	struct buf out;
	int full = window_batch_decode(p, len, &b), light = window_batch_decode_view(p, len, &view);

	/* the view decoder accepts exactly what the full one does */
	if ((full == 0) != (light == 0))
		abort();
	if (light == 0) {
		if (full == 0 && view.version != b.version)
			abort();
		check_view(&view, full == 0 ? &b : NULL);
		window_batch_release(&view);
	}
	if (full != 0)
		return;
	buf_init(&out, FRAME_PAYLOAD_MAX);
	if (window_batch_encode(&b, &out) != 0)
		abort(); /* decoded, but the encoder refuses it */
	if (out.len != len || memcmp(out.data, p, len) != 0)
		abort(); /* accepted, but not canonical */
	if (window_batch_decode(out.data, out.len, &again) != 0)
		abort();
	if (again.n != b.n || strcmp(again.host, b.host) != 0 || again.end_ms != b.end_ms ||
	    again.version != b.version)
		abort();
	window_batch_release(&again);
	window_batch_release(&b);
	buf_release(&out);
}

/* A decoded frame encodes again, and that decodes to the same header and payload. */
static void check_frame(const struct frame_header *h, const struct buf *payload)
{
	struct frame_header h2;
	struct buf out, p2;
	size_t used;

	buf_init(&out, 2 * FRAME_PAYLOAD_MAX);
	buf_init(&p2, FRAME_PAYLOAD_MAX);
	if (frame_encode(&out, h, payload->data, payload->len, KEY, KEYLEN) != 0)
		abort();
	if (frame_decode(out.data, out.len, KEY, KEYLEN, &h2, &p2, &used) != FRAME_OK ||
	    used != out.len)
		abort();
	if (h2.type != h->type || h2.seq != h->seq || h2.time_ms != h->time_ms ||
	    h2.raw_len != h->raw_len || strcmp(h2.agent_id, h->agent_id) != 0 ||
	    strcmp(h2.tenant, h->tenant) != 0)
		abort();
	if (p2.len != payload->len || (p2.len && memcmp(p2.data, payload->data, p2.len) != 0))
		abort();
	if (h->type == FRAME_WINDOWS)
		check_windows(payload->data, payload->len);
	buf_release(&p2);
	buf_release(&out);
}

/* Walks the frames of one message, as the aggregator does. */
static void walk(const uint8_t *data, size_t size)
{
	struct frame_header h;
	struct buf payload;
	size_t off = 0;

	buf_init(&payload, FRAME_PAYLOAD_MAX);
	for (int i = 0; i < FUZZ_FRAMES_MAX && off < size; i++) {
		size_t used = 0;
		int err = frame_decode(data + off, size - off, KEY, KEYLEN, &h, &payload, &used);

		if (frame_error_name(err)[0] == '\0')
			abort();
		if (err != FRAME_OK)
			break;
		if (used == 0 || used > size - off || h.raw_len != payload.len)
			abort();
		check_frame(&h, &payload);
		off += used;
	}
	buf_release(&payload);
}

/* Walks a copy whose first frame carries a good MAC over whatever its header claims. */
static void walk_resigned(const uint8_t *data, size_t size)
{
	struct frame_header h;
	size_t signed_len;
	uint8_t *copy;

	if (frame_peek(data, size, &h) != FRAME_OK)
		return;
	/* wire_len is at offset 28, big-endian; frame_peek() bounded it */
	signed_len = 34 + strlen(h.agent_id) + strlen(h.tenant) +
		     ((size_t)data[28] << 24 | (size_t)data[29] << 16 | (size_t)data[30] << 8 |
		      (size_t)data[31]);
	if (size < signed_len + FRAME_HMAC_BYTES)
		return;
	copy = malloc(size);
	memcpy(copy, data, size);
	if (hmac_sha256(KEY, KEYLEN, copy, signed_len, copy + signed_len) != 0)
		abort();
	walk(copy, size);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	walk(data, size);
	walk_resigned(data, size);
	check_windows(data, size);
	return 0;
}
