#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/frame.h"
#include "common/hmac.h"
#include "tests/lib/leakcheck.h"

TestSuite(frame, .fini = test_no_leaks);

static const char KEY[] = "test-key";
#define KEYLEN (sizeof(KEY) - 1)

/* ---- helpers ------------------------------------------------------------ */

static struct frame_header header(uint8_t type, uint64_t seq)
{
	struct frame_header h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.seq = seq;
	h.time_ms = 1700000000000;
	strcpy(h.agent_id, "web-1");
	strcpy(h.tenant, "acme");
	return h;
}

/* @n bytes that do not compress (splitmix64 output). */
static unsigned char *noise(size_t n, uint64_t seed)
{
	unsigned char *p = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		p[i] = (unsigned char)(z ^ (z >> 31));
	}
	return p;
}

/* @n bytes of text that compress well. */
static unsigned char *text(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)"GET /users/{id} 200\n"[i % 20];
	return p;
}

/* Every field of a frame as it goes on the wire, to craft bad ones. */
struct spec {
	char magic[5];
	uint8_t version, type;
	uint16_t flags;
	uint64_t seq;
	int64_t time_ms;
	uint32_t raw_len, wire_len;
	const char *agent_id, *tenant;
	const void *wire; /* wire_len bytes */
	const char *key;
};

static struct spec spec_of(const void *wire, uint32_t len)
{
	struct spec s = { .magic = "PRPF",
			  .version = 1,
			  .type = FRAME_WINDOWS,
			  .seq = 7,
			  .time_ms = -3,
			  .raw_len = len,
			  .wire_len = len,
			  .agent_id = "web-1",
			  .tenant = "acme",
			  .wire = wire,
			  .key = KEY };
	return s;
}

static void put_be(struct buf *b, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)(v >> (8 * (n - 1 - i)));

		cr_assert_eq(buf_append(b, &c, 1), 0);
	}
}

/* Writes the frame @s describes, signed with its key, as the layout of docs/protocol.md says. */
static void craft(struct buf *b, const struct spec *s)
{
	uint8_t mac[HMAC_SHA256_LEN];
	size_t start = b->len;

	cr_assert_eq(buf_append(b, s->magic, 4), 0);
	put_be(b, s->version, 1);
	put_be(b, s->type, 1);
	put_be(b, s->flags, 2);
	put_be(b, s->seq, 8);
	put_be(b, (uint64_t)s->time_ms, 8);
	put_be(b, s->raw_len, 4);
	put_be(b, s->wire_len, 4);
	put_be(b, strlen(s->agent_id), 1);
	put_be(b, strlen(s->tenant), 1);
	cr_assert_eq(buf_append_str(b, s->agent_id), 0);
	cr_assert_eq(buf_append_str(b, s->tenant), 0);
	cr_assert_eq(buf_append(b, s->wire, s->wire_len), 0);
	cr_assert_eq(hmac_sha256(s->key, strlen(s->key), b->data + start, b->len - start, mac), 0);
	cr_assert_eq(buf_append(b, mac, sizeof(mac)), 0);
}

/* Decodes the frame at @p; returns the frame error and checks the payload is empty on failure. */
static int decode(const void *p, size_t len)
{
	struct frame_header h;
	struct buf pl;
	size_t used = 0;
	int err;

	buf_init(&pl, FRAME_PAYLOAD_MAX);
	err = frame_decode(p, len, KEY, KEYLEN, &h, &pl, &used);
	if (err)
		cr_assert_eq(pl.len, 0, "a refused frame hands out nothing");
	else
		cr_assert_eq(used, len);
	buf_release(&pl);
	return err;
}

static int decode_spec(const struct spec *s)
{
	struct buf b;
	int err;

	buf_init(&b, BUF_MAX_BYTES);
	craft(&b, s);
	err = decode(b.data, b.len);
	buf_release(&b);
	return err;
}

static void check_round_trip(const struct frame_header *h, const void *payload, size_t len,
			     bool want_zlib)
{
	struct frame_header got, peeked;
	struct buf out, pl;
	size_t used = 0;

	buf_init(&out, BUF_MAX_BYTES);
	buf_init(&pl, FRAME_PAYLOAD_MAX);
	cr_assert_eq(frame_encode(&out, h, payload, len, KEY, KEYLEN), 0);
	cr_assert_eq(frame_peek(out.data, out.len, &peeked), FRAME_OK);
	cr_assert_eq(!!(peeked.flags & FRAME_F_ZLIB), want_zlib);
	if (want_zlib)
		cr_assert_lt(out.len, len, "compressed only when smaller");
	cr_assert_eq(frame_decode(out.data, out.len, KEY, KEYLEN, &got, &pl, &used), FRAME_OK);
	cr_assert_eq(used, out.len);
	cr_assert_eq(got.version, FRAME_VERSION);
	cr_assert_eq(got.type, h->type);
	cr_assert_eq(got.seq, h->seq);
	cr_assert_eq(got.time_ms, h->time_ms);
	cr_assert_str_eq(got.agent_id, h->agent_id);
	cr_assert_str_eq(got.tenant, h->tenant);
	cr_assert_eq(got.raw_len, len);
	cr_assert_eq(got.flags, peeked.flags);
	cr_assert_eq(pl.len, len);
	if (len)
		cr_assert_eq(memcmp(pl.data, payload, len), 0);
	buf_release(&pl);
	buf_release(&out);
}

/* ---- round trips -------------------------------------------------------- */

Test(frame, round_trips_a_payload_that_does_not_compress)
{
	struct frame_header h = header(FRAME_WINDOWS, 1);
	unsigned char *p = noise(1000, 1);

	check_round_trip(&h, p, 1000, false);
	free(p);
}

Test(frame, compresses_a_payload_when_that_makes_it_smaller)
{
	struct frame_header h = header(FRAME_COMMAND, 42);
	unsigned char *p = text(200000);

	check_round_trip(&h, p, 200000, true);
	free(p);
}

Test(frame, round_trips_an_empty_payload_and_every_type)
{
	for (uint8_t t = FRAME_WINDOWS; t <= FRAME_HELLO; t++) {
		struct frame_header h = header(t, UINT64_MAX - t);

		h.time_ms = INT64_MIN + t;
		check_round_trip(&h, "", 0, false);
	}
}

Test(frame, round_trips_the_largest_payload_and_ids)
{
	struct frame_header h = header(FRAME_WINDOWS, 1);
	unsigned char *p = noise(FRAME_PAYLOAD_MAX, 2);

	memset(h.agent_id, 'a', FRAME_ID_MAX - 1);
	memset(h.tenant, '.', FRAME_ID_MAX - 1);
	check_round_trip(&h, p, FRAME_PAYLOAD_MAX, false);
	free(p);
}

Test(frame, walks_several_frames_back_to_back)
{
	static const size_t lens[] = { 0, 10, 5000, 1, 64000 };
	unsigned char *pay[5];
	struct frame_header h;
	struct buf msg, pl;
	size_t off = 0, used;
	int i = 0;

	buf_init(&msg, BUF_MAX_BYTES);
	buf_init(&pl, FRAME_PAYLOAD_MAX);
	for (i = 0; i < 5; i++) {
		struct frame_header hi = header(FRAME_WINDOWS, (uint64_t)i + 1);

		pay[i] = i % 2 ? noise(lens[i], (uint64_t)i) : text(lens[i]);
		cr_assert_eq(frame_encode(&msg, &hi, pay[i], lens[i], KEY, KEYLEN), 0);
	}
	for (i = 0; off < msg.len; i++) {
		cr_assert_eq(
			frame_decode(msg.data + off, msg.len - off, KEY, KEYLEN, &h, &pl, &used),
			FRAME_OK, "frame %d", i);
		cr_assert_eq(h.seq, (uint64_t)i + 1);
		cr_assert_eq(pl.len, lens[i]);
		if (lens[i])
			cr_assert_eq(memcmp(pl.data, pay[i], lens[i]), 0);
		off += used;
	}
	cr_assert_eq(i, 5);
	cr_assert_eq(off, msg.len);
	for (i = 0; i < 5; i++)
		free(pay[i]);
	buf_release(&pl);
	buf_release(&msg);
}

Test(frame, encode_appends_after_what_the_buffer_holds)
{
	struct frame_header h = header(FRAME_ACK, 9), got;
	struct buf out, pl;
	size_t used;

	buf_init(&out, BUF_MAX_BYTES);
	buf_init(&pl, FRAME_PAYLOAD_MAX);
	cr_assert_eq(buf_append_str(&out, "prefix"), 0);
	cr_assert_eq(frame_encode(&out, &h, "x", 1, KEY, KEYLEN), 0);
	cr_assert_eq(memcmp(out.data, "prefix", 6), 0);
	cr_assert_eq(frame_decode(out.data + 6, out.len - 6, KEY, KEYLEN, &got, &pl, &used),
		     FRAME_OK);
	cr_assert_eq(used, out.len - 6);
	buf_release(&pl);
	buf_release(&out);
}

/* ---- the layout, pinned ------------------------------------------------- */

/*
 * The frame of docs/protocol.md's worked example: a FRAME_WINDOWS frame, seq
 * 1, time_ms 1700000000000, agent "web-1" of tenant "acme", key "test-key",
 * carrying the 44-byte windows payload of test_window_wire.c's golden test
 * (too small to compress). The MAC was computed independently (Python's
 * hmac module), so this pins the layout and the MAC's coverage.
 */
static const unsigned char golden_payload[44] = {
	0x01, 0x02, 0x68, 0x31, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31, 0xe8, 0x07, 0x00, 0x00, 0x01,
	0x03, 0x61, 0x70, 0x69, 0x01, 0x2a, 0x01, 0x03, 0x47, 0x45, 0x54, 0x01, 0x2f, 0xc8, 0x01,
	0x01, 0x01, 0x01, 0x05, 0x05, 0x05, 0x01, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const unsigned char golden_frame[119] = {
	/* magic, version 1, type 1, flags 0 */
	0x50,
	0x52,
	0x50,
	0x46,
	0x01,
	0x01,
	0x00,
	0x00,
	/* seq 1 */
	0x00,
	0x00,
	0x00,
	0x00,
	0x00,
	0x00,
	0x00,
	0x01,
	/* time_ms 1700000000000 */
	0x00,
	0x00,
	0x01,
	0x8b,
	0xcf,
	0xe5,
	0x68,
	0x00,
	/* raw_len 44, wire_len 44, agent_id_len 5, tenant_len 4 */
	0x00,
	0x00,
	0x00,
	0x2c,
	0x00,
	0x00,
	0x00,
	0x2c,
	0x05,
	0x04,
	/* "web-1" "acme" */
	0x77,
	0x65,
	0x62,
	0x2d,
	0x31,
	0x61,
	0x63,
	0x6d,
	0x65,
	/* the payload */
	0x01,
	0x02,
	0x68,
	0x31,
	0x80,
	0xd0,
	0x95,
	0xff,
	0xbc,
	0x31,
	0xe8,
	0x07,
	0x00,
	0x00,
	0x01,
	0x03,
	0x61,
	0x70,
	0x69,
	0x01,
	0x2a,
	0x01,
	0x03,
	0x47,
	0x45,
	0x54,
	0x01,
	0x2f,
	0xc8,
	0x01,
	0x01,
	0x01,
	0x01,
	0x05,
	0x05,
	0x05,
	0x01,
	0x05,
	0x01,
	0x00,
	0x00,
	0x00,
	0x00,
	0x00,
	/* HMAC-SHA256("test-key", the 87 bytes above) */
	0x23,
	0x6a,
	0x1d,
	0xc7,
	0x3a,
	0x15,
	0x24,
	0xf6,
	0x67,
	0x7d,
	0x3a,
	0x08,
	0xae,
	0x87,
	0x91,
	0xad,
	0x9e,
	0x6e,
	0x57,
	0x65,
	0x8e,
	0x20,
	0xa7,
	0x09,
	0xac,
	0x1b,
	0x97,
	0x75,
	0x67,
	0xf7,
	0x39,
	0xb7,
};

Test(frame, encodes_the_documented_golden_frame_byte_for_byte)
{
	struct frame_header h = header(FRAME_WINDOWS, 1);
	struct buf out;

	buf_init(&out, BUF_MAX_BYTES);
	cr_assert_eq(frame_encode(&out, &h, golden_payload, sizeof(golden_payload), KEY, KEYLEN),
		     0);
	cr_assert_eq(out.len, sizeof(golden_frame));
	for (size_t i = 0; i < out.len; i++)
		cr_assert_eq(out.data[i], golden_frame[i], "byte %zu", i);
	buf_release(&out);
}

Test(frame, decodes_the_documented_golden_frame)
{
	struct frame_header h;
	struct buf pl;
	size_t used;

	buf_init(&pl, FRAME_PAYLOAD_MAX);
	cr_assert_eq(frame_peek(golden_frame, 43, &h), FRAME_OK, "the header is 43 bytes");
	cr_assert_eq(frame_decode(golden_frame, sizeof(golden_frame), KEY, KEYLEN, &h, &pl, &used),
		     FRAME_OK);
	cr_assert_eq(used, sizeof(golden_frame));
	cr_assert_eq(h.version, 1);
	cr_assert_eq(h.type, FRAME_WINDOWS);
	cr_assert_eq(h.flags, 0);
	cr_assert_eq(h.seq, 1);
	cr_assert_eq(h.time_ms, 1700000000000);
	cr_assert_eq(h.raw_len, 44);
	cr_assert_str_eq(h.agent_id, "web-1");
	cr_assert_str_eq(h.tenant, "acme");
	cr_assert_eq(pl.len, sizeof(golden_payload));
	cr_assert_eq(memcmp(pl.data, golden_payload, pl.len), 0);
	buf_release(&pl);
}

Test(frame, a_crafted_frame_matches_the_encoder)
{
	struct spec s = spec_of(golden_payload, sizeof(golden_payload));
	struct buf b;

	s.seq = 1;
	s.time_ms = 1700000000000;
	buf_init(&b, BUF_MAX_BYTES);
	craft(&b, &s);
	cr_assert_eq(b.len, sizeof(golden_frame));
	cr_assert_eq(memcmp(b.data, golden_frame, b.len), 0,
		     "the test's writer agrees with the layout");
	buf_release(&b);
}

/* ---- every error -------------------------------------------------------- */

Test(frame, every_prefix_is_truncated)
{
	struct frame_header h = header(FRAME_WINDOWS, 3), p;
	unsigned char *t = text(3000);
	struct buf out;
	size_t first;

	buf_init(&out, BUF_MAX_BYTES);
	cr_assert_eq(frame_encode(&out, &h, t, 3000, KEY, KEYLEN), 0);
	first = out.len;
	cr_assert_eq(frame_encode(&out, &h, t, 100, KEY, KEYLEN), 0);
	for (size_t n = 0; n < out.len; n++) {
		size_t used = 0;
		struct buf pl;
		int err;

		buf_init(&pl, FRAME_PAYLOAD_MAX);
		err = frame_decode(out.data, n, KEY, KEYLEN, &h, &pl, &used);
		buf_release(&pl);
		/* the second frame is an extra: the first decodes once it is whole */
		if (n >= first) {
			cr_assert_eq(err, FRAME_OK, "length %zu", n);
			continue;
		}
		cr_assert_eq(err, FRAME_ERR_TRUNCATED, "length %zu: %s", n, frame_error_name(err));
		cr_assert_eq(frame_peek(out.data, n, &p), n < 43 ? FRAME_ERR_TRUNCATED : FRAME_OK,
			     "peek at length %zu", n);
	}
	free(t);
	buf_release(&out);
}

Test(frame, refuses_a_bad_magic)
{
	unsigned char f[sizeof(golden_frame)];

	for (size_t i = 0; i < 4; i++) {
		memcpy(f, golden_frame, sizeof(f));
		f[i] ^= 0x20;
		cr_assert_eq(decode(f, sizeof(f)), FRAME_ERR_MAGIC);
		/* even when too short for a header: what is there is not ours */
		cr_assert_eq(decode(f, i + 1), FRAME_ERR_MAGIC);
	}
	cr_assert_eq(decode("GET / HTTP/1.1\r\n", 16), FRAME_ERR_MAGIC);
}

Test(frame, refuses_another_version)
{
	struct spec s = spec_of("abc", 3);

	s.version = 2;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_VERSION);
	s.version = 0;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_VERSION);
	/* a version 2 header is judged on its first 5 bytes only */
	cr_assert_eq(decode("PRPF\x02", 5), FRAME_ERR_VERSION);
}

Test(frame, refuses_lengths_past_the_maximum)
{
	struct spec s = spec_of("abc", 3);

	s.raw_len = FRAME_PAYLOAD_MAX + 1;
	s.flags = FRAME_F_ZLIB;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_OVERSIZED);
	s.raw_len = UINT32_MAX;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_OVERSIZED);

	/* a wire_len past the maximum, claimed but not sent */
	s = spec_of("abc", 3);
	s.flags = FRAME_F_ZLIB;
	{
		struct buf b;

		buf_init(&b, BUF_MAX_BYTES);
		craft(&b, &s);
		b.data[28] = 0x01;
		b.data[29] = 0x00;
		b.data[30] = 0x00;
		b.data[31] = 0x01; /* 16 MiB + 1 */
		cr_assert_eq(decode(b.data, b.len), FRAME_ERR_OVERSIZED);
		buf_release(&b);
	}
}

Test(frame, refuses_bad_types_flags_and_ids)
{
	static const uint8_t types[] = { 0, 6, 255 };
	static const uint16_t flags[] = { 0x0002, 0x8000, 0xffff };
	static const char *const ids[] = {
		"",
		"a/b",
		"a b",
		"caf\xc3\xa9",
		"x:y",
		"a\nb",
		"0123456789012345678901234567890123456789012345678901234567890123"
	};
	struct spec s;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(types); i++) {
		s = spec_of("abc", 3);
		s.type = types[i];
		cr_assert_eq(decode_spec(&s), FRAME_ERR_HEADER, "type %u", types[i]);
	}
	for (size_t i = 0; i < PRP_ARRAY_SIZE(flags); i++) {
		s = spec_of("abc", 3);
		s.flags = flags[i];
		cr_assert_eq(decode_spec(&s), FRAME_ERR_HEADER, "flags %#x", flags[i]);
	}
	for (size_t i = 0; i < PRP_ARRAY_SIZE(ids); i++) {
		s = spec_of("abc", 3);
		s.agent_id = ids[i];
		cr_assert_eq(decode_spec(&s), FRAME_ERR_HEADER, "agent id '%s'", ids[i]);
		s = spec_of("abc", 3);
		s.tenant = ids[i];
		cr_assert_eq(decode_spec(&s), FRAME_ERR_HEADER, "tenant '%s'", ids[i]);
	}
	/* uncompressed, the two lengths must agree */
	s = spec_of("abc", 3);
	s.raw_len = 4;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_HEADER);
	s.raw_len = 2;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_HEADER);
	/* ids of 63 bytes and of every allowed character are fine */
	s = spec_of("abc", 3);
	s.agent_id = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.";
	s.tenant = "_-";
	cr_assert_eq(decode_spec(&s), FRAME_OK);
}

Test(frame, a_flipped_bit_anywhere_is_refused)
{
	unsigned char f[sizeof(golden_frame)];

	for (size_t i = 0; i < sizeof(f); i++) {
		for (int bit = 0; bit < 8; bit++) {
			int err;

			memcpy(f, golden_frame, sizeof(f));
			f[i] ^= (unsigned char)(1u << bit);
			err = decode(f, sizeof(f));
			cr_assert_neq(err, FRAME_OK, "byte %zu bit %d", i, bit);
			/* seq, time, the payload and the MAC itself are covered by the MAC alone */
			if ((i >= 8 && i < 24) || i >= 43)
				cr_assert_eq(err, FRAME_ERR_HMAC, "byte %zu bit %d: %s", i, bit,
					     frame_error_name(err));
		}
	}
}

Test(frame, refuses_the_wrong_key)
{
	struct frame_header h;
	struct buf pl;
	size_t used;

	buf_init(&pl, FRAME_PAYLOAD_MAX);
	cr_assert_eq(
		frame_decode(golden_frame, sizeof(golden_frame), "test-kez", 8, &h, &pl, &used),
		FRAME_ERR_HMAC);
	cr_assert_eq(frame_decode(golden_frame, sizeof(golden_frame), "test-ke", 7, &h, &pl, &used),
		     FRAME_ERR_HMAC);
	cr_assert_eq(frame_decode(golden_frame, sizeof(golden_frame), "", 0, &h, &pl, &used),
		     FRAME_ERR_HMAC);
	cr_assert_eq(pl.len, 0);
	/* frame_peek() checks no MAC: it is how a receiver finds the key */
	cr_assert_eq(frame_peek(golden_frame, sizeof(golden_frame), &h), FRAME_OK);
	cr_assert_str_eq(h.agent_id, "web-1");
	buf_release(&pl);
}

/* A zlib stream of @n bytes of text, to build signed frames around. */
static unsigned char *zlib_of(size_t n, uLongf *zlen)
{
	unsigned char *t = text(n), *z;

	*zlen = compressBound(n);
	z = malloc(*zlen);
	cr_assert_eq(compress2(z, zlen, t, n, 9), Z_OK);
	free(t);
	return z;
}

Test(frame, refuses_a_signed_payload_that_does_not_inflate_to_raw_len)
{
	uLongf zlen;
	unsigned char *z = zlib_of(10000, &zlen), *junk = noise(200, 5);
	struct spec s = spec_of(z, (uint32_t)zlen);

	s.flags = FRAME_F_ZLIB;
	s.raw_len = 10000;
	cr_assert_eq(decode_spec(&s), FRAME_OK, "the baseline is good");
	s.raw_len = 9999; /* a byte too many */
	cr_assert_eq(decode_spec(&s), FRAME_ERR_PAYLOAD);
	s.raw_len = 10001; /* a byte short */
	cr_assert_eq(decode_spec(&s), FRAME_ERR_PAYLOAD);
	s.raw_len = 0;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_PAYLOAD);
	/* a bomb: 64 KiB claimed, 16 MiB inside; stops at the claim */
	free(z);
	z = zlib_of(FRAME_PAYLOAD_MAX, &zlen);
	s = spec_of(z, (uint32_t)zlen);
	s.flags = FRAME_F_ZLIB;
	s.raw_len = 65536;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_PAYLOAD);
	/* the stream cut short */
	s.raw_len = FRAME_PAYLOAD_MAX;
	s.wire_len = (uint32_t)zlen - 1;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_PAYLOAD);
	/* not zlib at all */
	s = spec_of(junk, 200);
	s.flags = FRAME_F_ZLIB;
	s.raw_len = 1000;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_PAYLOAD);
	/* a good stream followed by a stray byte */
	free(z);
	z = zlib_of(1000, &zlen);
	z = realloc(z, zlen + 1);
	z[zlen] = 0;
	s = spec_of(z, (uint32_t)zlen + 1);
	s.flags = FRAME_F_ZLIB;
	s.raw_len = 1000;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_PAYLOAD);
	/* an empty stream on the wire */
	s = spec_of("", 0);
	s.flags = FRAME_F_ZLIB;
	s.raw_len = 0;
	cr_assert_eq(decode_spec(&s), FRAME_ERR_PAYLOAD);
	free(junk);
	free(z);
}

Test(frame, refuses_a_payload_larger_than_the_callers_buffer)
{
	struct frame_header h;
	struct buf pl;
	size_t used;

	buf_init(&pl, 43);
	cr_assert_eq(frame_decode(golden_frame, sizeof(golden_frame), KEY, KEYLEN, &h, &pl, &used),
		     FRAME_ERR_OVERSIZED);
	buf_release(&pl);
	buf_init(&pl, 44);
	cr_assert_eq(frame_decode(golden_frame, sizeof(golden_frame), KEY, KEYLEN, &h, &pl, &used),
		     FRAME_OK);
	buf_release(&pl);
}

/* ---- encoding errors ---------------------------------------------------- */

Test(frame, encode_refuses_bad_headers_and_sizes)
{
	struct frame_header h = header(0, 1);
	unsigned char *big;
	struct buf out;

	buf_init(&out, BUF_MAX_BYTES);
	cr_assert_eq(frame_encode(&out, &h, "x", 1, KEY, KEYLEN), -EINVAL, "type 0");
	h = header(6, 1);
	cr_assert_eq(frame_encode(&out, &h, "x", 1, KEY, KEYLEN), -EINVAL, "type 6");
	h = header(FRAME_WINDOWS, 1);
	h.agent_id[0] = '\0';
	cr_assert_eq(frame_encode(&out, &h, "x", 1, KEY, KEYLEN), -EINVAL, "empty agent id");
	h = header(FRAME_WINDOWS, 1);
	strcpy(h.tenant, "a/b");
	cr_assert_eq(frame_encode(&out, &h, "x", 1, KEY, KEYLEN), -EINVAL, "bad tenant");
	h = header(FRAME_WINDOWS, 1);
	memset(h.agent_id, 'a', FRAME_ID_MAX); /* no terminator */
	cr_assert_eq(frame_encode(&out, &h, "x", 1, KEY, KEYLEN), -EINVAL, "id too long");
	h = header(FRAME_WINDOWS, 1);
	big = calloc(1, FRAME_PAYLOAD_MAX + 1);
	cr_assert_eq(frame_encode(&out, &h, big, FRAME_PAYLOAD_MAX + 1, KEY, KEYLEN), -EMSGSIZE);
	free(big);
	cr_assert_eq(out.len, 0);
	buf_release(&out);
}

Test(frame, encode_leaves_a_full_buffer_as_it_was)
{
	struct frame_header h = header(FRAME_WINDOWS, 1);
	struct buf out;

	buf_init(&out, sizeof(golden_frame) + 5);
	cr_assert_eq(buf_append_str(&out, "abcdef"), 0);
	cr_assert_eq(frame_encode(&out, &h, golden_payload, sizeof(golden_payload), KEY, KEYLEN),
		     -E2BIG);
	cr_assert_eq(out.len, 6);
	cr_assert_str_eq(buf_str(&out), "abcdef");
	buf_release(&out);
	buf_init(&out, sizeof(golden_frame));
	cr_assert_eq(frame_encode(&out, &h, golden_payload, sizeof(golden_payload), KEY, KEYLEN), 0,
		     "exactly the cap fits");
	buf_release(&out);
}

Test(frame, names_every_error)
{
	cr_assert_str_eq(frame_error_name(FRAME_OK), "ok");
	cr_assert_str_eq(frame_error_name(FRAME_ERR_TRUNCATED), "truncated");
	cr_assert_str_eq(frame_error_name(FRAME_ERR_MAGIC), "magic");
	cr_assert_str_eq(frame_error_name(FRAME_ERR_VERSION), "version");
	cr_assert_str_eq(frame_error_name(FRAME_ERR_OVERSIZED), "oversized");
	cr_assert_str_eq(frame_error_name(FRAME_ERR_HEADER), "header");
	cr_assert_str_eq(frame_error_name(FRAME_ERR_HMAC), "hmac");
	cr_assert_str_eq(frame_error_name(FRAME_ERR_PAYLOAD), "payload");
	cr_assert_str_eq(frame_error_name(-8), "unknown");
	cr_assert_str_eq(frame_error_name(1), "unknown");
}
