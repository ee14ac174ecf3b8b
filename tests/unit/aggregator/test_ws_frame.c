/*
 * WebSocket framing (aggregator/stream/ws_frame.c): the handshake's accept
 * key (the RFC's example), the server encoder's three length forms and its
 * refusals, and the reader: masked client frames fed all at once, byte by
 * byte and in 7-byte pieces (which must agree), fragmentation with control
 * frames in between, every violation with its close code, UTF-8 edge cases,
 * max_message, and close frame parsing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/stream/ws_frame.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "tests/lib/leakcheck.h"

TestSuite(ws_accept, .fini = test_no_leaks);
TestSuite(ws_encode, .fini = test_no_leaks);
TestSuite(ws_reader, .fini = test_no_leaks);
TestSuite(ws_utf8, .fini = test_no_leaks);
TestSuite(ws_close, .fini = test_no_leaks);

/* The mask of RFC 6455 §5.7's examples. */
static const uint8_t MASK[4] = { 0x37, 0xfa, 0x21, 0x3d };
#define BIG (1u << 20)

/* ---- helpers -------------------------------------------------------------- */

/* Appends a masked client frame. */
static void frame(struct buf *b, enum ws_opcode op, bool fin, const void *p, size_t n)
{
	cr_assert_eq(ws_frame_encode_masked(b, op, fin, p, n, MASK), 0);
}

static void text(struct buf *b, const char *s)
{
	frame(b, WS_TEXT, true, s, strlen(s));
}

static void raw(struct buf *b, const void *p, size_t n)
{
	cr_assert_eq(buf_append(b, p, n), 0);
}

#define SEEN_MAX 16

/* What a reader made of a stream: its messages (copied), then 0 or a violation. */
struct seen {
	size_t n;
	int end;
	struct {
		enum ws_opcode opcode;
		uint16_t close_code;
		size_t len;
		uint8_t *data;
	} m[SEEN_MAX];
};

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->m[i].data);
}

/* Feeds @p to a new reader of @max bytes in pieces of @step bytes (0: at once). */
static void run_step(struct seen *s, const uint8_t *p, size_t len, size_t step, size_t max)
{
	struct ws_reader r;

	memset(s, 0, sizeof(*s));
	ws_reader_init(&r, max);
	for (size_t off = 0; off < len && !s->end;) {
		size_t piece = step && step < len - off ? step : len - off, done = 0;

		while (done < piece) {
			struct ws_message m;
			size_t used;
			int ret = ws_reader_feed(&r, p + off + done, piece - done, &used, &m);

			cr_assert_leq(used, piece - done);
			done += used;
			if (ret < 0) {
				s->end = ret;
				break;
			}
			if (ret == 0) {
				cr_assert_eq(done, piece, "0 but bytes left");
				break;
			}
			cr_assert_eq(ret, 1);
			cr_assert_lt(s->n, SEEN_MAX);
			cr_assert_not_null(m.data);
			if (m.opcode == WS_TEXT || m.opcode == WS_BINARY)
				cr_assert_eq(m.data[m.len], '\0',
					     "data messages are NUL-terminated");
			s->m[s->n].opcode = m.opcode;
			s->m[s->n].close_code = m.close_code;
			s->m[s->n].len = m.len;
			s->m[s->n].data = xmalloc(m.len + 1);
			memcpy(s->m[s->n].data, m.data, m.len);
			s->n++;
		}
		off += piece;
	}
	if (s->end) { /* sticky */
		struct ws_message m;
		size_t used = 99;

		cr_assert_eq(ws_reader_feed(&r, p, len, &used, &m), s->end);
		cr_assert_eq(used, 0);
	}
	ws_reader_release(&r);
}

/* Feeds @b at once, byte by byte and in 7-byte pieces; all three must agree. */
static void run(struct seen *s, const struct buf *b, size_t max)
{
	static const size_t steps[] = { 1, 7 };

	run_step(s, b->data, b->len, 0, max);
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		struct seen t;

		run_step(&t, b->data, b->len, steps[k], max);
		cr_assert_eq(t.n, s->n, "step %zu", steps[k]);
		cr_assert_eq(t.end, s->end, "step %zu", steps[k]);
		for (size_t i = 0; i < s->n; i++) {
			cr_assert_eq(t.m[i].opcode, s->m[i].opcode);
			cr_assert_eq(t.m[i].close_code, s->m[i].close_code);
			cr_assert_eq(t.m[i].len, s->m[i].len);
			cr_assert_eq(memcmp(t.m[i].data, s->m[i].data, s->m[i].len), 0);
		}
		seen_free(&t);
	}
}

/* The stream in @b ends with @end after @nmsg messages. */
static void expect_end(const struct buf *b, size_t max, size_t nmsg, int end)
{
	struct seen s;

	run(&s, b, max);
	cr_assert_eq(s.end, end, "got %d, want %d", s.end, end);
	cr_assert_eq(s.n, nmsg, "got %zu messages, want %zu", s.n, nmsg);
	seen_free(&s);
}

/* A single text frame of @n bytes gives @end (0: accepted as one message). */
static void expect_text(const void *p, size_t n, int end)
{
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_TEXT, true, p, n);
	expect_end(&b, BIG, end ? 0 : 1, end);
	buf_release(&b);
}

/* A frame of raw header bytes @h (no payload follows) gives @end. */
static void expect_header(const uint8_t *h, size_t n, int end)
{
	struct buf b;

	buf_init(&b, BIG);
	raw(&b, h, n);
	expect_end(&b, BIG, 0, end);
	buf_release(&b);
}

/* ---- the handshake ---------------------------------------------------------- */

Test(ws_accept, rfc_example_key_gives_the_rfc_accept)
{
	char out[WS_ACCEPT_LEN + 1];

	cr_assert_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	cr_assert_eq(strlen(out), WS_ACCEPT_LEN);
	cr_assert_eq(ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out), 0);
	cr_assert_str_eq(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

Test(ws_accept, rejects_keys_that_are_not_16_bytes_of_base64)
{
	static const char *const bad[] = {
		"",
		"dGhlIHNhbXBsZSBub25jZQ=",   /* 23 characters */
		"dGhlIHNhbXBsZSBub25jZQ===", /* 25 */
		"dGhlIHNhbXBsZSBub25jZQ== ", /* untrimmed */
		" dGhlIHNhbXBsZSBub25jZQ==",
		"dGhlIHNhbXBsZSBub25jZQAA", /* 18 bytes, no padding */
		"dGhlIHNhbXBsZSBub25jZQA=", /* 17 bytes */
		"dGhlIHNhbXBsZSBub25jZR==", /* last 4 bits not zero */
		"dGhlIHNhbXBsZSBub2=jZQ==", /* padding inside */
		"dGhlIHNhbXBsZSBub2*jZQ==", /* not the alphabet */
		"dGhlIHNhbXBsZSBub2-jZQ==", /* the URL-safe alphabet */
	};
	char out[WS_ACCEPT_LEN + 1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(ws_accept_key(bad[i], out), -EINVAL, "'%s'", bad[i]);
}

/* ---- the server's encoder --------------------------------------------------- */

/* Encodes @n bytes of binary, checks the header is @h[0..hlen) and the payload follows. */
static void expect_encoded(size_t n, const uint8_t *h, size_t hlen)
{
	uint8_t *payload = xmalloc(n + 1);
	struct buf b;

	for (size_t i = 0; i < n; i++)
		payload[i] = (uint8_t)(i * 7);
	buf_init(&b, BIG);
	cr_assert_eq(ws_frame_encode(&b, WS_BINARY, payload, n), 0);
	cr_assert_eq(b.len, hlen + n, "length %zu: frame of %zu bytes", n, b.len);
	cr_assert_eq(memcmp(b.data, h, hlen), 0, "length %zu: header", n);
	cr_assert_eq(memcmp(b.data + hlen, payload, n), 0, "length %zu: payload", n);
	buf_release(&b);
	free(payload);
}

Test(ws_encode, lengths_up_to_125_use_the_7_bit_form)
{
	expect_encoded(0, (const uint8_t[]){ 0x82, 0x00 }, 2);
	expect_encoded(1, (const uint8_t[]){ 0x82, 0x01 }, 2);
	expect_encoded(125, (const uint8_t[]){ 0x82, 0x7d }, 2);
}

Test(ws_encode, lengths_126_to_65535_use_the_16_bit_form)
{
	expect_encoded(126, (const uint8_t[]){ 0x82, 0x7e, 0x00, 0x7e }, 4);
	expect_encoded(65535, (const uint8_t[]){ 0x82, 0x7e, 0xff, 0xff }, 4);
}

Test(ws_encode, lengths_from_65536_use_the_64_bit_form)
{
	expect_encoded(65536, (const uint8_t[]){ 0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 }, 10);
}

Test(ws_encode, text_and_control_frames_are_final_and_unmasked)
{
	struct buf b;

	buf_init(&b, BIG);
	cr_assert_eq(ws_frame_encode(&b, WS_TEXT, "Hello", 5), 0);
	/* RFC 6455 §5.7: a single-frame unmasked text message */
	cr_assert_eq(b.len, 7);
	cr_assert_eq(memcmp(b.data, "\x81\x05Hello", 7), 0);
	buf_reset(&b);
	cr_assert_eq(ws_frame_encode(&b, WS_PING, "Hello", 5), 0);
	cr_assert_eq(memcmp(b.data, "\x89\x05Hello", 7), 0);
	buf_reset(&b);
	cr_assert_eq(ws_frame_encode(&b, WS_PONG, NULL, 0), 0);
	cr_assert_eq(memcmp(b.data, "\x8a\x00", 2), 0);
	buf_release(&b);
}

Test(ws_encode, control_frames_over_125_bytes_are_rejected)
{
	uint8_t p[126] = { 0 };
	struct buf b;

	buf_init(&b, BIG);
	cr_assert_eq(ws_frame_encode(&b, WS_PING, p, 125), 0);
	cr_assert_eq(ws_frame_encode(&b, WS_PING, p, 126), -EINVAL);
	cr_assert_eq(ws_frame_encode(&b, WS_PONG, p, 126), -EINVAL);
	cr_assert_eq(ws_frame_encode(&b, WS_CLOSE, p, 126), -EINVAL);
	cr_assert_eq(b.len, 127);
	buf_release(&b);
}

Test(ws_encode, continuations_and_unknown_opcodes_are_rejected)
{
	struct buf b;

	buf_init(&b, BIG);
	cr_assert_eq(ws_frame_encode(&b, WS_CONT, "x", 1), -EINVAL);
	cr_assert_eq(ws_frame_encode(&b, (enum ws_opcode)0x3, "x", 1), -EINVAL);
	cr_assert_eq(ws_frame_encode(&b, (enum ws_opcode)0xb, "x", 1), -EINVAL);
	cr_assert_eq(ws_frame_encode(&b, (enum ws_opcode)0x10, "x", 1), -EINVAL);
	cr_assert_eq(b.len, 0);
	buf_release(&b);
}

Test(ws_encode, text_must_be_utf8)
{
	struct buf b;

	buf_init(&b, BIG);
	cr_assert_eq(ws_frame_encode(&b, WS_TEXT, "caf\xc3\xa9", 5), 0);
	cr_assert_eq(ws_frame_encode(&b, WS_TEXT, "caf\xc3", 4), -EINVAL);
	cr_assert_eq(ws_frame_encode(&b, WS_TEXT, "\xed\xa0\x80", 3), -EINVAL);
	cr_assert_eq(ws_frame_encode(&b, WS_BINARY, "caf\xc3", 4), 0);
	buf_release(&b);
}

Test(ws_encode, a_full_buffer_is_left_unchanged)
{
	uint8_t p[200] = { 0 };
	struct buf b;

	buf_init(&b, 130);
	cr_assert_eq(ws_frame_encode(&b, WS_BINARY, p, 100), 0);
	cr_assert_eq(b.len, 102);
	/* the payload fits, the header does not */
	cr_assert_eq(ws_frame_encode(&b, WS_BINARY, p, 27), -E2BIG);
	cr_assert_eq(ws_frame_encode(&b, WS_BINARY, p, 200), -E2BIG);
	cr_assert_eq(ws_frame_encode_close(&b, 1000, "a reason longer than what is left"), -E2BIG);
	cr_assert_eq(ws_frame_encode_masked(&b, WS_BINARY, true, p, 23, MASK), -E2BIG);
	cr_assert_eq(b.len, 102);
	cr_assert_eq(ws_frame_encode(&b, WS_BINARY, p, 26), 0);
	cr_assert_eq(b.len, 130);
	buf_release(&b);
}

Test(ws_encode, close_carries_code_and_reason)
{
	struct buf b;

	buf_init(&b, BIG);
	cr_assert_eq(ws_frame_encode_close(&b, WS_CLOSE_TRY_AGAIN, "slow consumer"), 0);
	cr_assert_eq(b.len, 2 + 2 + 13);
	cr_assert_eq(memcmp(b.data, "\x88\x0f\x03\xf5slow consumer", b.len), 0);
	buf_reset(&b);
	cr_assert_eq(ws_frame_encode_close(&b, WS_CLOSE_NORMAL, NULL), 0);
	cr_assert_eq(b.len, 4);
	cr_assert_eq(memcmp(b.data, "\x88\x02\x03\xe8", 4), 0);
	buf_reset(&b);
	cr_assert_eq(ws_frame_encode_close(&b, 4999, ""), 0);
	cr_assert_eq(memcmp(b.data, "\x88\x02\x13\x87", 4), 0);
	buf_release(&b);
}

Test(ws_encode, close_reason_is_cut_at_a_character_boundary)
{
	char reason[300];
	struct buf b;

	buf_init(&b, BIG);
	memset(reason, 'a', sizeof(reason));
	reason[sizeof(reason) - 1] = '\0';
	cr_assert_eq(ws_frame_encode_close(&b, 1000, reason), 0);
	cr_assert_eq(b.len, 2 + 125);
	cr_assert_eq(b.data[1], 125);
	buf_reset(&b);
	/* 122 ASCII bytes then "é": 124 bytes, and byte 123 is half the é */
	memcpy(reason + 122, "\xc3\xa9", 3);
	cr_assert_eq(ws_frame_encode_close(&b, 1000, reason), 0);
	cr_assert_eq(b.data[1], 2 + 122);
	buf_reset(&b);
	/* 121 then "€" (3 bytes): 124, cut before the € */
	memcpy(reason + 121, "\xe2\x82\xac", 4);
	cr_assert_eq(ws_frame_encode_close(&b, 1000, reason), 0);
	cr_assert_eq(b.data[1], 2 + 121);
	buf_reset(&b);
	/* 120 then "€": exactly 123, kept whole */
	memcpy(reason + 120, "\xe2\x82\xac", 4);
	cr_assert_eq(ws_frame_encode_close(&b, 1000, reason), 0);
	cr_assert_eq(b.data[1], 2 + 123);
	cr_assert_eq(memcmp(b.data + b.len - 3, "\xe2\x82\xac", 3), 0);
	buf_release(&b);
}

Test(ws_encode, close_rejects_codes_never_sent_and_bad_reasons)
{
	static const unsigned bad[] = { 0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535 };
	struct buf b;

	buf_init(&b, BIG);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(ws_frame_encode_close(&b, (uint16_t)bad[i], NULL), -EINVAL, "%u",
			     bad[i]);
	cr_assert_eq(ws_frame_encode_close(&b, 1000, "\xff"), -EINVAL);
	cr_assert_eq(b.len, 0);
	buf_release(&b);
}

Test(ws_encode, masked_frames_match_the_rfc_example)
{
	static const uint8_t want[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct buf b;

	buf_init(&b, BIG);
	cr_assert_eq(ws_frame_encode_masked(&b, WS_TEXT, true, "Hello", 5, MASK), 0);
	cr_assert_eq(b.len, sizeof(want));
	cr_assert_eq(memcmp(b.data, want, sizeof(want)), 0);
	buf_reset(&b);
	cr_assert_eq(ws_frame_encode_masked(&b, WS_TEXT, false, "Hel", 3, MASK), 0);
	cr_assert_eq(b.data[0], 0x01);
	cr_assert_eq(ws_frame_encode_masked(&b, (enum ws_opcode)0x10, true, "", 0, MASK), -EINVAL);
	buf_release(&b);
}

/* ---- the reader: messages -------------------------------------------------- */

Test(ws_reader, reads_the_rfc_masked_hello)
{
	static const uint8_t in[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
				      0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct ws_reader r;
	struct ws_message m;
	size_t used;

	ws_reader_init(&r, 1024);
	cr_assert_eq(ws_reader_feed(&r, in, sizeof(in), &used, &m), 1);
	cr_assert_eq(used, sizeof(in));
	cr_assert_eq(m.opcode, WS_TEXT);
	cr_assert_eq(m.len, 5);
	cr_assert_str_eq((const char *)m.data, "Hello");
	cr_assert_eq(m.close_code, 0);
	cr_assert_eq(ws_reader_feed(&r, in, 0, &used, &m), 0);
	cr_assert_eq(used, 0);
	ws_reader_release(&r);
}

Test(ws_reader, round_trips_every_length_form_at_once_and_byte_by_byte)
{
	static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };
	size_t n = sizeof(lens) / sizeof(lens[0]);
	uint8_t *p = xmalloc(70000);
	char t[130];
	struct seen s;
	struct buf b;

	for (size_t i = 0; i < 70000; i++)
		p[i] = (uint8_t)(i * 31 + 5);
	buf_init(&b, BIG);
	for (size_t i = 0; i < n; i++)
		frame(&b, WS_BINARY, true, p, lens[i]);
	/* text too, ASCII in the 16-bit form */
	memset(t, 'a', sizeof(t));
	frame(&b, WS_TEXT, true, t, sizeof(t));
	run(&s, &b, 70000);
	cr_assert_eq(s.end, 0);
	cr_assert_eq(s.n, n + 1);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(s.m[i].opcode, WS_BINARY);
		cr_assert_eq(s.m[i].len, lens[i]);
		cr_assert_eq(memcmp(s.m[i].data, p, lens[i]), 0, "length %zu", lens[i]);
	}
	cr_assert_eq(s.m[n].opcode, WS_TEXT);
	cr_assert_eq(s.m[n].len, 130);
	cr_assert_eq(s.m[n].data[129], 'a');
	seen_free(&s);
	buf_release(&b);
	free(p);
}

Test(ws_reader, hands_out_one_message_per_call)
{
	struct ws_reader r;
	struct ws_message m;
	struct buf b;
	size_t used, first;

	buf_init(&b, BIG);
	text(&b, "one");
	first = b.len;
	text(&b, "two");
	ws_reader_init(&r, 64);
	cr_assert_eq(ws_reader_feed(&r, b.data, b.len, &used, &m), 1);
	cr_assert_eq(used, first);
	cr_assert_str_eq((const char *)m.data, "one");
	cr_assert_eq(ws_reader_feed(&r, b.data + used, b.len - used, &used, &m), 1);
	cr_assert_eq(used, b.len - first);
	cr_assert_str_eq((const char *)m.data, "two");
	ws_reader_release(&r);
	buf_release(&b);
}

Test(ws_reader, returns_0_until_a_message_is_complete)
{
	struct ws_reader r;
	struct ws_message m;
	struct buf b;
	size_t used;

	buf_init(&b, BIG);
	text(&b, "hello");
	ws_reader_init(&r, 64);
	for (size_t i = 0; i + 1 < b.len; i++) {
		cr_assert_eq(ws_reader_feed(&r, b.data + i, 1, &used, &m), 0, "byte %zu", i);
		cr_assert_eq(used, 1);
	}
	cr_assert_eq(ws_reader_feed(&r, b.data + b.len - 1, 1, &used, &m), 1);
	cr_assert_str_eq((const char *)m.data, "hello");
	ws_reader_release(&r);
	buf_release(&b);
}

Test(ws_reader, joins_fragments_with_control_frames_in_between)
{
	struct seen s;
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_TEXT, false, "frag", 4);
	frame(&b, WS_PING, true, "are you there", 13);
	frame(&b, WS_CONT, false, "men", 3);
	frame(&b, WS_PONG, true, NULL, 0);
	frame(&b, WS_CONT, false, NULL, 0);
	frame(&b, WS_CONT, true, "ted", 3);
	frame(&b, WS_BINARY, false, "\x00\x01", 2);
	frame(&b, WS_CONT, true, "\x02", 1);
	text(&b, "after");
	run(&s, &b, 64);
	cr_assert_eq(s.end, 0);
	cr_assert_eq(s.n, 5);
	cr_assert_eq(s.m[0].opcode, WS_PING);
	cr_assert_eq(s.m[0].len, 13);
	cr_assert_eq(memcmp(s.m[0].data, "are you there", 13), 0);
	cr_assert_eq(s.m[1].opcode, WS_PONG);
	cr_assert_eq(s.m[1].len, 0);
	cr_assert_eq(s.m[2].opcode, WS_TEXT);
	cr_assert_eq(s.m[2].len, 10);
	cr_assert_eq(memcmp(s.m[2].data, "fragmented", 10), 0);
	cr_assert_eq(s.m[3].opcode, WS_BINARY);
	cr_assert_eq(memcmp(s.m[3].data, "\x00\x01\x02", 3), 0);
	cr_assert_eq(s.m[4].opcode, WS_TEXT);
	seen_free(&s);
	buf_release(&b);
}

Test(ws_reader, accepts_a_longer_length_form_than_needed)
{
	/* "Hi" in the 16-bit form, masked with zeros */
	static const uint8_t in[] = { 0x81, 0xfe, 0x00, 0x02, 0, 0, 0, 0, 'H', 'i' };
	struct buf b;

	buf_init(&b, BIG);
	raw(&b, in, sizeof(in));
	expect_end(&b, 64, 1, 0);
	buf_release(&b);
}

/* ---- the reader: violations -------------------------------------------------- */

Test(ws_reader, unmasked_frames_are_a_protocol_error)
{
	struct buf b;

	buf_init(&b, BIG);
	/* what the server itself sends */
	cr_assert_eq(ws_frame_encode(&b, WS_TEXT, "hello", 5), 0);
	expect_end(&b, 64, 0, -WS_CLOSE_PROTOCOL);
	buf_reset(&b);
	cr_assert_eq(ws_frame_encode(&b, WS_PING, NULL, 0), 0);
	expect_end(&b, 64, 0, -WS_CLOSE_PROTOCOL);
	buf_release(&b);
	/* caught at the second byte */
	expect_header((const uint8_t[]){ 0x82, 0x05 }, 2, -WS_CLOSE_PROTOCOL);
}

Test(ws_reader, reserved_bits_are_a_protocol_error)
{
	for (unsigned rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
		struct buf b;

		buf_init(&b, BIG);
		text(&b, "ok");
		text(&b, "hello");
		b.data[b.len - 5 - 6] |= (uint8_t)rsv;
		expect_end(&b, 64, 1, -WS_CLOSE_PROTOCOL);
		buf_release(&b);
		/* caught at the first byte */
		expect_header((const uint8_t[]){ (uint8_t)(0x81 | rsv) }, 1, -WS_CLOSE_PROTOCOL);
	}
}

Test(ws_reader, unknown_opcodes_are_a_protocol_error)
{
	static const unsigned bad[] = { 0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf b;

		buf_init(&b, BIG);
		frame(&b, (enum ws_opcode)bad[i], true, "x", 1);
		expect_end(&b, 64, 0, -WS_CLOSE_PROTOCOL);
		buf_release(&b);
	}
}

Test(ws_reader, fragmented_control_frames_are_a_protocol_error)
{
	static const enum ws_opcode ops[] = { WS_PING, WS_PONG, WS_CLOSE };

	for (size_t i = 0; i < 3; i++) {
		struct buf b;

		buf_init(&b, BIG);
		frame(&b, ops[i], false, "x", 1);
		expect_end(&b, 64, 0, -WS_CLOSE_PROTOCOL);
		buf_release(&b);
	}
}

Test(ws_reader, control_frames_over_125_bytes_are_a_protocol_error)
{
	uint8_t p[126] = { 0 };
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_PING, true, p, 125);
	expect_end(&b, 64, 1, 0);
	buf_reset(&b);
	frame(&b, WS_PING, true, p, 126);
	expect_end(&b, 64, 0, -WS_CLOSE_PROTOCOL);
	buf_release(&b);
	/* even a short length in the 16-bit form */
	expect_header((const uint8_t[]){ 0x89, 0xfe }, 2, -WS_CLOSE_PROTOCOL);
	expect_header((const uint8_t[]){ 0x8a, 0xff }, 2, -WS_CLOSE_PROTOCOL);
}

Test(ws_reader, a_continuation_without_a_start_is_a_protocol_error)
{
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_CONT, true, "x", 1);
	expect_end(&b, 64, 0, -WS_CLOSE_PROTOCOL);
	buf_reset(&b);
	/* after a whole message, none is open */
	text(&b, "done");
	frame(&b, WS_CONT, false, "x", 1);
	expect_end(&b, 64, 1, -WS_CLOSE_PROTOCOL);
	buf_release(&b);
}

Test(ws_reader, a_new_start_inside_a_fragmented_message_is_a_protocol_error)
{
	static const enum ws_opcode starts[] = { WS_TEXT, WS_BINARY };

	for (size_t i = 0; i < 2; i++) {
		struct buf b;

		buf_init(&b, BIG);
		frame(&b, WS_TEXT, false, "a", 1);
		frame(&b, WS_PING, true, NULL, 0);
		frame(&b, starts[i], true, "b", 1);
		expect_end(&b, 64, 1, -WS_CLOSE_PROTOCOL);
		buf_release(&b);
	}
}

Test(ws_reader, a_64_bit_length_with_the_top_bit_is_a_protocol_error)
{
	/* caught when the length is in, before the mask */
	expect_header((const uint8_t[]){ 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 10,
		      -WS_CLOSE_PROTOCOL);
	expect_header(
		(const uint8_t[]){ 0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 10,
		-WS_CLOSE_PROTOCOL);
	/* without the top bit it is only too big */
	expect_header(
		(const uint8_t[]){ 0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 10,
		-WS_CLOSE_TOO_BIG);
}

Test(ws_reader, violations_are_sticky)
{
	static const uint8_t in[] = { 0x81, 0x02, 'h', 'i' };
	struct ws_reader r;
	struct ws_message m;
	struct buf b;
	size_t used;

	ws_reader_init(&r, 64);
	cr_assert_eq(ws_reader_feed(&r, in, sizeof(in), &used, &m), -WS_CLOSE_PROTOCOL);
	buf_init(&b, BIG);
	text(&b, "fine");
	cr_assert_eq(ws_reader_feed(&r, b.data, b.len, &used, &m), -WS_CLOSE_PROTOCOL);
	cr_assert_eq(used, 0);
	buf_release(&b);
	ws_reader_release(&r);
}

/* ---- the reader: max_message ------------------------------------------------ */

Test(ws_reader, a_message_of_exactly_max_is_accepted)
{
	uint8_t p[100] = { 0 };
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_BINARY, true, p, 100);
	frame(&b, WS_BINARY, false, p, 60);
	frame(&b, WS_CONT, true, p, 40);
	expect_end(&b, 100, 2, 0);
	buf_release(&b);
}

Test(ws_reader, a_frame_past_max_is_too_big_from_its_header)
{
	uint8_t p[101] = { 0 };
	struct buf b;
	size_t hdr;

	buf_init(&b, BIG);
	frame(&b, WS_BINARY, true, p, 101);
	expect_end(&b, 100, 0, -WS_CLOSE_TOO_BIG);
	/* the header alone is enough: no payload byte is waited for */
	hdr = b.len - 101 - 4;
	b.len = hdr;
	expect_end(&b, 100, 0, -WS_CLOSE_TOO_BIG);
	buf_release(&b);
	/* a 64-bit length of 2^62 */
	expect_header((const uint8_t[]){ 0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0 }, 10,
		      -WS_CLOSE_TOO_BIG);
}

Test(ws_reader, fragments_past_max_together_are_too_big)
{
	uint8_t p[60] = { 0 };
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_TEXT, false, "aaaaaaaaaa", 10);
	frame(&b, WS_PING, true, p, 60); /* control frames do not count */
	frame(&b, WS_CONT, false, p, 60);
	frame(&b, WS_CONT, true, p, 31);
	expect_end(&b, 100, 1, -WS_CLOSE_TOO_BIG);
	buf_release(&b);
}

Test(ws_reader, max_0_allows_only_empty_messages)
{
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_TEXT, true, NULL, 0);
	frame(&b, WS_BINARY, false, NULL, 0);
	frame(&b, WS_CONT, true, NULL, 0);
	frame(&b, WS_PING, true, "control frames still carry 125", 30);
	frame(&b, WS_BINARY, true, "x", 1);
	expect_end(&b, 0, 3, -WS_CLOSE_TOO_BIG);
	buf_release(&b);
}

/* ---- the reader: UTF-8 ------------------------------------------------------ */

Test(ws_utf8, valid_multibyte_text_is_accepted)
{
	static const char *const good[] = {
		"h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e", /* é € 𝄞 */
		"\x7f",					      /* U+007F */
		"\xc2\x80",				      /* U+0080 */
		"\xdf\xbf",				      /* U+07FF */
		"\xe0\xa0\x80",				      /* U+0800 */
		"\xed\x9f\xbf",				      /* U+D7FF */
		"\xee\x80\x80",				      /* U+E000 */
		"\xef\xbf\xbf",				      /* U+FFFF */
		"\xf0\x90\x80\x80",			      /* U+10000 */
		"\xf4\x8f\xbf\xbf",			      /* U+10FFFF */
		"\xef\xbb\xbf",				      /* a BOM is a character too */
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		expect_text(good[i], strlen(good[i]), 0);
	expect_text("a\0b", 3, 0); /* NUL is U+0000 */
}

Test(ws_utf8, characters_split_between_fragments_are_accepted)
{
	struct seen s;
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_TEXT, false, "\xf0\x9d", 2);
	frame(&b, WS_PING, true, NULL, 0);
	frame(&b, WS_CONT, false, "\x84", 1);
	frame(&b, WS_CONT, true, "\x9e!", 2);
	run(&s, &b, 64);
	cr_assert_eq(s.end, 0);
	cr_assert_eq(s.n, 2);
	cr_assert_eq(s.m[1].len, 5);
	cr_assert_eq(memcmp(s.m[1].data, "\xf0\x9d\x84\x9e!", 5), 0);
	seen_free(&s);
	buf_release(&b);
}

Test(ws_utf8, overlong_forms_are_invalid_data)
{
	static const char *const bad[] = {
		"\xc0\x80",	"\xc1\xbf",	    "\xe0\x80\x80",
		"\xe0\x9f\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_text(bad[i], strlen(bad[i]), -WS_CLOSE_INVALID_DATA);
}

Test(ws_utf8, surrogates_are_invalid_data)
{
	expect_text("\xed\xa0\x80", 3, -WS_CLOSE_INVALID_DATA);		    /* U+D800 */
	expect_text("\xed\xbf\xbf", 3, -WS_CLOSE_INVALID_DATA);		    /* U+DFFF */
	expect_text("\xed\xa0\xbd\xed\xb2\xa9", 6, -WS_CLOSE_INVALID_DATA); /* a CESU-8 pair */
}

Test(ws_utf8, bytes_that_are_never_utf8_are_invalid_data)
{
	static const char *const bad[] = {
		"\x80",
		"a\xbf",
		"\xf4\x90\x80\x80" /* U+110000 */,
		"\xf5\x80\x80\x80",
		"\xfe",
		"\xff",
		"\xc3(",
		"\xe2\x28\xa1",
		"\xe2\x82\x28",
		"\xf0\x9d\x84(",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_text(bad[i], strlen(bad[i]), -WS_CLOSE_INVALID_DATA);
}

Test(ws_utf8, a_character_cut_by_the_end_of_the_message_is_invalid_data)
{
	struct buf b;

	expect_text("\xc3", 1, -WS_CLOSE_INVALID_DATA);
	expect_text("ok\xe2\x82", 4, -WS_CLOSE_INVALID_DATA);
	expect_text("\xf0\x9d\x84", 3, -WS_CLOSE_INVALID_DATA);
	/* ... even when the last fragment is empty */
	buf_init(&b, BIG);
	frame(&b, WS_TEXT, false, "\xe2\x82", 2);
	frame(&b, WS_CONT, true, NULL, 0);
	expect_end(&b, 64, 0, -WS_CLOSE_INVALID_DATA);
	buf_release(&b);
}

Test(ws_utf8, invalid_text_is_caught_before_the_message_ends)
{
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_TEXT, false, "ok\xff", 3);
	/* no more fragment arrives, yet the reader already knows */
	expect_end(&b, 64, 0, -WS_CLOSE_INVALID_DATA);
	buf_release(&b);
}

Test(ws_utf8, binary_and_ping_payloads_are_not_checked)
{
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_BINARY, true, "\xff\xc0\x80", 3);
	frame(&b, WS_PING, true, "\xff", 1);
	frame(&b, WS_PONG, true, "\xed\xa0\x80", 3);
	expect_end(&b, 64, 3, 0);
	buf_release(&b);
}

/* ---- the reader: close frames ----------------------------------------------- */

/* A close frame with @payload gives @end, or the code and reason. */
static void expect_close(const void *payload, size_t n, int end, uint16_t code, const char *reason)
{
	struct seen s;
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_CLOSE, true, payload, n);
	run(&s, &b, 64);
	cr_assert_eq(s.end, end, "got %d, want %d", s.end, end);
	if (!end) {
		cr_assert_eq(s.n, 1);
		cr_assert_eq(s.m[0].opcode, WS_CLOSE);
		cr_assert_eq(s.m[0].close_code, code, "got %u, want %u", s.m[0].close_code, code);
		cr_assert_eq(s.m[0].len, strlen(reason));
		cr_assert_eq(memcmp(s.m[0].data, reason, s.m[0].len), 0);
	}
	seen_free(&s);
	buf_release(&b);
}

Test(ws_close, an_empty_close_reports_no_status)
{
	expect_close(NULL, 0, 0, WS_CLOSE_NO_STATUS, "");
}

Test(ws_close, gives_the_code_and_the_reason)
{
	expect_close("\x03\xe8", 2, 0, 1000, "");
	expect_close("\x03\xe8going home", 12, 0, 1000, "going home");
	expect_close("\x03\xe9\xc3\xa9t\xc3\xa9", 7, 0, 1001, "\xc3\xa9t\xc3\xa9");
}

Test(ws_close, accepts_the_codes_a_peer_may_send)
{
	static const unsigned good[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
					 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint8_t p[2] = { (uint8_t)(good[i] >> 8), (uint8_t)good[i] };

		expect_close(p, 2, 0, (uint16_t)good[i], "");
	}
}

Test(ws_close, codes_never_sent_are_a_protocol_error)
{
	static const unsigned bad[] = { 0,    999,  1004, 1005, 1006, 1015,
					1016, 1100, 2000, 2999, 5000, 65535 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t p[2] = { (uint8_t)(bad[i] >> 8), (uint8_t)bad[i] };

		expect_close(p, 2, -WS_CLOSE_PROTOCOL, 0, NULL);
	}
}

Test(ws_close, a_one_byte_payload_is_a_protocol_error)
{
	expect_close("\x03", 1, -WS_CLOSE_PROTOCOL, 0, NULL);
}

Test(ws_close, a_reason_that_is_not_utf8_is_invalid_data)
{
	expect_close("\x03\xe8\xff", 3, -WS_CLOSE_INVALID_DATA, 0, NULL);
	expect_close("\x03\xe8\xc3", 3, -WS_CLOSE_INVALID_DATA, 0, NULL);
	expect_close("\x03\xe8\xed\xa0\x80", 5, -WS_CLOSE_INVALID_DATA, 0, NULL);
}

Test(ws_close, a_close_between_fragments_is_handed_out)
{
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, WS_TEXT, false, "half", 4);
	frame(&b, WS_CLOSE, true, "\x03\xe9", 2);
	expect_end(&b, 64, 1, 0);
	buf_release(&b);
}
