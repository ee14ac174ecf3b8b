/*
 * libFuzzer target for the WebSocket reader (aggregator/stream/ws_frame.c),
 * whose input is whatever a browser, or anyone who reaches the port, sends
 * on /stream/anomalies. The first input byte chooses how the rest is split:
 * its low 3 bits the largest piece (1 byte up to all of it), the others the
 * seed of the piece sizes. The rest is fed to a reader of 64 KiB at once and
 * in those pieces, and both runs must give the same sequence of messages and
 * the same final return. Every message must also keep the reader's promises:
 * lengths within bounds, text and close reasons UTF-8 (checked here by a
 * decoder written differently from the reader's), close codes valid, data
 * NUL-terminated, and it must survive a round trip through the encoder and
 * a fresh reader. The input, as a string, also goes to ws_accept_key().
 * Anything else aborts, as ASan and UBSan findings do.
 *
 * The seeds in tests/fuzz/corpus/ws_frame/ are client streams made with
 * ws_frame_encode_masked(), half with an all-zero mask so that mutations of
 * the payload stay readable, plus a few violations.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/stream/ws_frame.h"
#include "common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_MESSAGE (64 * 1024)

/* UTF-8 by decoding each code point: no overlong form, surrogate or value past U+10FFFF. */
static bool utf8_decodes(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp, min;
		size_t more;

		if (p[i] < 0x80) {
			i++;
			continue;
		} else if ((p[i] & 0xe0) == 0xc0) {
			cp = p[i] & 0x1f, more = 1, min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			cp = p[i] & 0x0f, more = 2, min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			cp = p[i] & 0x07, more = 3, min = 0x10000;
		} else {
			return false;
		}
		if (more > n - i - 1)
			return false;
		for (size_t k = 1; k <= more; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += more + 1;
	}
	return true;
}

static bool close_code_ok(uint16_t c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

/* Re-encodes @m as a client frame and reads it back with a fresh reader. */
static void round_trip(const struct ws_message *m)
{
	static const uint8_t mask[4] = { 0xa5, 0x00, 0x5a, 0xff };
	const void *payload = m->data;
	size_t len = m->len;
	uint8_t close[WS_CONTROL_MAX];
	struct ws_reader r;
	struct ws_message back;
	struct buf b;
	size_t used;

	if (m->opcode == WS_CLOSE && m->close_code != WS_CLOSE_NO_STATUS) {
		close[0] = (uint8_t)(m->close_code >> 8);
		close[1] = (uint8_t)m->close_code;
		memcpy(close + 2, m->data, m->len);
		payload = close;
		len = m->len + 2;
	}
	buf_init(&b, BUF_MAX_BYTES);
	/* the server's encoder takes all the reader hands out */
	if (ws_frame_encode(&b, m->opcode, payload, len))
		abort();
	buf_reset(&b);
	if (ws_frame_encode_masked(&b, m->opcode, true, payload, len, mask))
		abort();
	ws_reader_init(&r, FUZZ_MAX_MESSAGE);
	if (ws_reader_feed(&r, b.data, b.len, &used, &back) != 1 || used != b.len ||
	    back.opcode != m->opcode || back.len != m->len || back.close_code != m->close_code ||
	    memcmp(back.data, m->data, m->len))
		abort();
	ws_reader_release(&r);
	buf_release(&b);
}

/* Checks @m against the reader's promises and appends it to @log. */
static void record(struct buf *log, const struct ws_message *m)
{
	uint8_t head[1 + 2 + sizeof(size_t)];

	if (!m->data)
		abort();
	switch (m->opcode) {
	case WS_TEXT:
		if (!utf8_decodes(m->data, m->len))
			abort();
		/* fall through */
	case WS_BINARY:
		if (m->len > FUZZ_MAX_MESSAGE || m->data[m->len] != '\0' || m->close_code)
			abort();
		break;
	case WS_PING:
	case WS_PONG:
		if (m->len > WS_CONTROL_MAX || m->close_code)
			abort();
		break;
	case WS_CLOSE:
		if (m->close_code == WS_CLOSE_NO_STATUS) {
			if (m->len)
				abort();
		} else if (!close_code_ok(m->close_code) || m->len > WS_CLOSE_REASON_MAX ||
			   !utf8_decodes(m->data, m->len)) {
			abort();
		}
		break;
	default:
		abort();
	}
	round_trip(m);
	head[0] = (uint8_t)m->opcode;
	memcpy(head + 1, &m->close_code, 2);
	memcpy(head + 3, &m->len, sizeof(size_t));
	if (buf_append(log, head, sizeof(head)) || buf_append(log, m->data, m->len))
		abort();
}

/* Feeds @p[0..n) in pieces sized from @ctl; logs messages and the final return. */
static void run(struct buf *log, const uint8_t *p, size_t n, int ctl)
{
	static const size_t largest[8] = { 1, 2, 3, 5, 16, 64, 300, SIZE_MAX };
	uint64_t seed = ctl < 0 ? 0 : (uint64_t)ctl >> 3;
	struct ws_reader r;
	size_t off = 0;
	int ret = 0;

	ws_reader_init(&r, FUZZ_MAX_MESSAGE);
	while (off < n && ret >= 0) {
		size_t piece = n - off, done = 0;

		if (ctl >= 0) { /* splitmix64 */
			uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);

			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
			z ^= z >> 31;
			if (largest[ctl & 7] != SIZE_MAX && 1 + z % largest[ctl & 7] < piece)
				piece = 1 + z % largest[ctl & 7];
		}
		while (done < piece) {
			struct ws_message m;
			size_t used;

			ret = ws_reader_feed(&r, p + off + done, piece - done, &used, &m);
			if (used > piece - done)
				abort();
			done += used;
			if (ret < 0)
				break;
			if (ret == 0) {
				if (done != piece)
					abort();
				break;
			}
			if (ret != 1)
				abort();
			record(log, &m);
		}
		off += piece;
	}
	if (ret < 0 && buf_append(log, &ret, sizeof(ret)))
		abort();
	ws_reader_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole, pieces;
	char key[32], accept[WS_ACCEPT_LEN + 1];
	size_t klen = size < sizeof(key) - 1 ? size : sizeof(key) - 1;

	memcpy(key, data, klen);
	key[klen] = '\0';
	if (ws_accept_key(key, accept) == 0 && strlen(accept) != WS_ACCEPT_LEN)
		abort();
	if (size < 1)
		return 0;
	buf_init(&whole, BUF_MAX_BYTES);
	buf_init(&pieces, BUF_MAX_BYTES);
	run(&whole, data + 1, size - 1, -1);
	run(&pieces, data + 1, size - 1, data[0]);
	if (whole.len != pieces.len || memcmp(buf_str(&whole), buf_str(&pieces), whole.len))
		abort();
	buf_release(&whole);
	buf_release(&pieces);
	return 0;
}
