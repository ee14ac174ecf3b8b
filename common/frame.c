/*
 * Frames of the wire protocol (common/frame.h, docs/protocol.md). Layout,
 * all integers big-endian (network order):
 *
 *	off  size
 *	0    4	magic "PRPF"
 *	4    1	version (1)
 *	5    1	type (enum frame_type)
 *	6    2	flags (FRAME_F_ZLIB)
 *	8    8	seq
 *	16   8	time_ms (signed)
 *	24   4	raw_len: payload length before compression
 *	28   4	wire_len: payload bytes on the wire
 *	32   1	agent_id_len (1..63)
 *	33   1	tenant_len (1..63)
 *	34   .	agent_id, then tenant ([A-Za-z0-9._-])
 *	.    .	wire_len payload bytes
 *	.    32	HMAC-SHA256(key, every byte above)
 *
 * Decoding order is what keeps untrusted input harmless: the header is
 * checked first (lengths bounded by FRAME_PAYLOAD_MAX), then the HMAC over
 * the bytes as received, and only an authenticated payload is inflated, into
 * at most raw_len bytes.
 */
#include "common/frame.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/hmac.h"

/* The fixed part of the header, before the two ids. */
#define FRAME_FIXED_LEN	  34
#define FRAME_FLAGS_KNOWN FRAME_F_ZLIB
/* Inflate through a stack chunk of this size, appending as it goes. */
#define FRAME_INFLATE_CHUNK 16384

_Static_assert(HMAC_SHA256_LEN == FRAME_HMAC_BYTES, "the frame MAC is HMAC-SHA256");
_Static_assert(FRAME_PAYLOAD_MAX <= UINT32_MAX, "lengths are u32 on the wire");

static void put_be(unsigned char *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static bool id_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* true when the @n bytes at @p are a valid agent id or tenant. */
static bool id_ok(const char *p, size_t n)
{
	if (n < 1 || n >= FRAME_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!id_char_ok((unsigned char)p[i]))
			return false;
	return true;
}

static bool type_ok(unsigned int type)
{
	return type >= FRAME_WINDOWS && type <= FRAME_HELLO;
}

/* Compresses @len bytes at @p; returns the zlib stream (caller frees) when smaller, else NULL. */
static unsigned char *frame_deflate(const void *p, size_t len, size_t *out_len)
{
	uLongf n = compressBound((uLong)len);
	unsigned char *z;

	if (len == 0)
		return NULL;
	z = xmalloc(n);
	if (compress2(z, &n, p, (uLong)len, Z_DEFAULT_COMPRESSION) != Z_OK || n >= len) {
		free(z);
		return NULL;
	}
	*out_len = n;
	return z;
}

int frame_encode(struct buf *out, const struct frame_header *h, const void *payload, size_t len,
		 const void *key, size_t keylen)
{
	unsigned char head[FRAME_FIXED_LEN], mac[FRAME_HMAC_BYTES];
	size_t idlen = strnlen(h->agent_id, FRAME_ID_MAX), tlen = strnlen(h->tenant, FRAME_ID_MAX);
	size_t start = out->len, wire_len = len, total;
	unsigned char *z = NULL;
	uint16_t flags = 0;
	int err;

	if (!type_ok(h->type) || !id_ok(h->agent_id, idlen) || !id_ok(h->tenant, tlen))
		return -EINVAL;
	if (len > FRAME_PAYLOAD_MAX)
		return -EMSGSIZE;
	z = frame_deflate(payload, len, &wire_len);
	if (z)
		flags |= FRAME_F_ZLIB;
	total = FRAME_FIXED_LEN + idlen + tlen + wire_len + FRAME_HMAC_BYTES;
	/* checked up front so that a full buffer is left as it was */
	if (total > out->max_bytes - out->len) {
		err = -E2BIG;
		goto out_free;
	}

	memcpy(head, FRAME_MAGIC, 4);
	head[4] = FRAME_VERSION;
	head[5] = h->type;
	put_be(head + 6, flags, 2);
	put_be(head + 8, h->seq, 8);
	put_be(head + 16, (uint64_t)h->time_ms, 8);
	put_be(head + 24, len, 4);
	put_be(head + 28, wire_len, 4);
	head[32] = (unsigned char)idlen;
	head[33] = (unsigned char)tlen;
	if ((err = buf_append(out, head, sizeof(head))) ||
	    (err = buf_append(out, h->agent_id, idlen)) ||
	    (err = buf_append(out, h->tenant, tlen)) ||
	    (err = buf_append(out, z ? z : payload, wire_len)))
		goto out_truncate;
	err = hmac_sha256(key, keylen, out->data + start, out->len - start, mac);
	if (err)
		goto out_truncate;
	err = buf_append(out, mac, sizeof(mac));
	if (err)
		goto out_truncate;
	free(z);
	return 0;

out_truncate:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
out_free:
	free(z);
	return err;
}

/* frame_peek(), also returning the header's length and the payload's bytes on the wire. */
static int frame_parse_header(const unsigned char *p, size_t len, struct frame_header *out,
			      size_t *head_len, size_t *wire_len)
{
	struct frame_header h;
	size_t idlen, tlen;

	/* as much of the magic as there is decides between "magic" and "truncated" */
	if (len && memcmp(p, FRAME_MAGIC, len < 4 ? len : 4) != 0)
		return FRAME_ERR_MAGIC;
	if (len < 5)
		return FRAME_ERR_TRUNCATED;
	/* before the rest: another version may lay its header out differently */
	if (p[4] != FRAME_VERSION)
		return FRAME_ERR_VERSION;
	if (len < FRAME_FIXED_LEN)
		return FRAME_ERR_TRUNCATED;

	memset(&h, 0, sizeof(h));
	h.version = p[4];
	h.type = p[5];
	h.flags = (uint16_t)get_be(p + 6, 2);
	h.seq = get_be(p + 8, 8);
	h.time_ms = (int64_t)get_be(p + 16, 8);
	h.raw_len = (uint32_t)get_be(p + 24, 4);
	*wire_len = (size_t)get_be(p + 28, 4);
	idlen = p[32];
	tlen = p[33];
	if (!type_ok(h.type) || (h.flags & ~FRAME_FLAGS_KNOWN))
		return FRAME_ERR_HEADER;
	if (h.raw_len > FRAME_PAYLOAD_MAX || *wire_len > FRAME_PAYLOAD_MAX)
		return FRAME_ERR_OVERSIZED;
	if (!(h.flags & FRAME_F_ZLIB) && *wire_len != h.raw_len)
		return FRAME_ERR_HEADER;
	if (idlen < 1 || idlen >= FRAME_ID_MAX || tlen < 1 || tlen >= FRAME_ID_MAX)
		return FRAME_ERR_HEADER;
	if (len < FRAME_FIXED_LEN + idlen + tlen)
		return FRAME_ERR_TRUNCATED;
	if (!id_ok((const char *)p + FRAME_FIXED_LEN, idlen) ||
	    !id_ok((const char *)p + FRAME_FIXED_LEN + idlen, tlen))
		return FRAME_ERR_HEADER;
	memcpy(h.agent_id, p + FRAME_FIXED_LEN, idlen);
	memcpy(h.tenant, p + FRAME_FIXED_LEN + idlen, tlen);
	*out = h;
	*head_len = FRAME_FIXED_LEN + idlen + tlen;
	return FRAME_OK;
}

int frame_peek(const void *p, size_t len, struct frame_header *h)
{
	size_t head_len, wire_len;

	return frame_parse_header(p, len, h, &head_len, &wire_len);
}

/*
 * Inflates the zlib stream of @len bytes at @p into @out (empty), which must
 * end up exactly @raw_len bytes long: the stream must end, use every input
 * byte, and never produce more than @raw_len, so no more is ever allocated.
 */
static int frame_inflate(const unsigned char *p, size_t len, size_t raw_len, struct buf *out)
{
	unsigned char chunk[FRAME_INFLATE_CHUNK];
	z_stream zs;
	int zerr, err = FRAME_ERR_PAYLOAD;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK)
		return FRAME_ERR_PAYLOAD;
	zs.next_in = (Bytef *)(uintptr_t)p; /* zlib's API is not const: it only reads */
	zs.avail_in = (uInt)len;
	do {
		size_t room = raw_len - out->len, n;

		/* one byte past raw_len is enough to tell that the stream is too long */
		zs.next_out = chunk;
		zs.avail_out = (uInt)(room < sizeof(chunk) ? room + 1 : sizeof(chunk));
		zerr = inflate(&zs, Z_NO_FLUSH);
		if (zerr != Z_OK && zerr != Z_STREAM_END)
			goto out_end;
		n = (size_t)(zs.next_out - chunk);
		if (n > room)
			goto out_end;
		if (buf_append(out, chunk, n))
			goto out_end;
		/* Z_OK with nothing produced and input left means a stall: a bad stream */
		if (zerr == Z_OK && n == 0 && zs.avail_in == 0)
			goto out_end;
	} while (zerr != Z_STREAM_END);
	if (zs.avail_in == 0 && out->len == raw_len)
		err = FRAME_OK;
out_end:
	inflateEnd(&zs);
	return err;
}

int frame_decode(const void *p, size_t len, const void *key, size_t keylen, struct frame_header *h,
		 struct buf *payload, size_t *used)
{
	const unsigned char *b = p;
	unsigned char mac[FRAME_HMAC_BYTES];
	struct frame_header t;
	size_t head_len, wire_len, signed_len;
	int err;

	buf_reset(payload);
	err = frame_parse_header(b, len, &t, &head_len, &wire_len);
	if (err)
		return err;
	/* both lengths are bounded by FRAME_PAYLOAD_MAX: no overflow */
	signed_len = head_len + wire_len;
	if (len < signed_len + FRAME_HMAC_BYTES)
		return FRAME_ERR_TRUNCATED;
	/* a MAC that cannot be computed authenticates nothing */
	if (hmac_sha256(key, keylen, b, signed_len, mac) ||
	    !hmac_equal(mac, b + signed_len, FRAME_HMAC_BYTES))
		return FRAME_ERR_HMAC;
	if (t.raw_len > payload->max_bytes)
		return FRAME_ERR_OVERSIZED;
	if (t.flags & FRAME_F_ZLIB)
		err = frame_inflate(b + head_len, wire_len, t.raw_len, payload);
	else
		err = buf_append(payload, b + head_len, wire_len) ? FRAME_ERR_OVERSIZED : FRAME_OK;
	if (err) {
		buf_reset(payload);
		return err;
	}
	*h = t;
	*used = signed_len + FRAME_HMAC_BYTES;
	return FRAME_OK;
}

const char *frame_error_name(int err)
{
	static const char *const names[] = { "ok",	  "truncated", "magic", "version",
					     "oversized", "header",    "hmac",	"payload" };

	if (err > 0 || (size_t)-err >= PRP_ARRAY_SIZE(names))
		return "unknown";
	return names[-err];
}
