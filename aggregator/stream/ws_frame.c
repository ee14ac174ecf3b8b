/*
 * RFC 6455 framing. The reader is a byte-at-a-time state machine over the
 * header (at most WS_HEADER_MAX bytes, kept until complete) followed by a
 * payload copied in whole runs, so its results cannot depend on how the
 * bytes were split between calls: every check happens at the byte that
 * decides it. Each rule is checked as early as a byte allows: the first
 * header byte (RSV, opcode, fragmentation order), the second (mask, control
 * length), the length (top bit, max_message) before a payload byte arrives,
 * and UTF-8 at each byte of a text message.
 *
 * Invariants: msg_opcode != WS_CONT exactly while a data message is open;
 * msg.len + the current data frame's remaining payload <= max_message once
 * its header is read (so appends never fail); in_payload implies
 * hdr_len == hdr_need.
 */
#include "aggregator/stream/ws_frame.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

/* The key suffix every server appends (RFC 6455 §1.3). */
static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
#define WS_KEY_LEN  24 /* base64 of 16 bytes: 22 characters and "==" */
#define WS_SHA1_LEN 20

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of a base64 character, or -1. */
static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Writes base64 of @n bytes to @out (4 * ceil(n / 3) characters and a NUL). */
static void b64_encode(const uint8_t *p, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = B64[v >> 18];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = B64[(v >> 6) & 63];
		out[o++] = B64[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);

		out[o++] = B64[v >> 18];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* A Sec-WebSocket-Key: 16 bytes in the only form an encoder writes them. */
static bool key_valid(const char *key)
{
	size_t i;

	for (i = 0; i < WS_KEY_LEN - 2; i++)
		if (b64_value(key[i]) < 0)
			return false;
	/* 22 characters carry 132 bits: the last one's low 4 are padding */
	return (b64_value(key[WS_KEY_LEN - 3]) & 0xf) == 0 && key[WS_KEY_LEN - 2] == '=' &&
	       key[WS_KEY_LEN - 1] == '=' && key[WS_KEY_LEN] == '\0';
}

int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	char cat[WS_KEY_LEN + sizeof(WS_GUID)];
	uint8_t sha1[WS_SHA1_LEN];

	/* strnlen first: key_valid() reads key[0..WS_KEY_LEN] */
	if (strnlen(key, WS_KEY_LEN + 1) != WS_KEY_LEN || !key_valid(key))
		return -EINVAL;
	memcpy(cat, key, WS_KEY_LEN);
	memcpy(cat + WS_KEY_LEN, WS_GUID, sizeof(WS_GUID));
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, cat, WS_KEY_LEN + sizeof(WS_GUID) - 1, sha1) < 0)
		return -EIO;
	b64_encode(sha1, sizeof(sha1), out);
	return 0;
}

/*
 * UTF-8 validation that can stop at any byte and resume (RFC 3629 §4's
 * table): the state packs how many continuation bytes are still due and the
 * range the next one must fall in, which is narrower than 80..BF right after
 * E0 (overlongs), ED (surrogates), F0 (overlongs) and F4 (past U+10FFFF).
 * State 0 is "between characters", the only state a message may end in.
 */
#define UTF8_NEED(s)		 ((s)&0xff)
#define UTF8_LO(s)		 (((s) >> 8) & 0xff)
#define UTF8_HI(s)		 ((s) >> 16)
#define UTF8_STATE(need, lo, hi) ((uint32_t)(need) | (uint32_t)(lo) << 8 | (uint32_t)(hi) << 16)

/* Advances *@state over @n bytes; false at the first byte that cannot be UTF-8. */
static bool utf8_step(uint32_t *state, const uint8_t *p, size_t n)
{
	uint32_t s = *state;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (UTF8_NEED(s)) {
			if (c < UTF8_LO(s) || c > UTF8_HI(s))
				return false;
			s = UTF8_NEED(s) == 1 ? 0 : UTF8_STATE(UTF8_NEED(s) - 1, 0x80, 0xbf);
		} else if (c < 0x80) {
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			s = UTF8_STATE(1, 0x80, 0xbf);
		} else if (c == 0xe0) {
			s = UTF8_STATE(2, 0xa0, 0xbf);
		} else if (c == 0xed) {
			s = UTF8_STATE(2, 0x80, 0x9f);
		} else if (c >= 0xe1 && c <= 0xef) {
			s = UTF8_STATE(2, 0x80, 0xbf);
		} else if (c == 0xf0) {
			s = UTF8_STATE(3, 0x90, 0xbf);
		} else if (c >= 0xf1 && c <= 0xf3) {
			s = UTF8_STATE(3, 0x80, 0xbf);
		} else if (c == 0xf4) {
			s = UTF8_STATE(3, 0x80, 0x8f);
		} else {
			return false; /* 80..C1 (stray or overlong lead) and F5..FF */
		}
	}
	*state = s;
	return true;
}

static bool utf8_valid(const void *p, size_t n)
{
	uint32_t s = 0;

	return utf8_step(&s, p, n) && s == 0;
}

/*
 * Codes a close frame may carry: the protocol's 1000-1003 and 1007-1011,
 * IANA's 1012-1014 (service restart, try again later, bad gateway: we send
 * 1013 ourselves, and a client may echo it), and 3000-4999 for libraries and
 * applications. 1004 is reserved; 1005, 1006 and 1015 are never sent.
 */
static bool close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

static bool opcode_is_control(unsigned opcode)
{
	return opcode & 0x8;
}

/* Writes a frame header for @len bytes; returns its length. */
static size_t header_encode(uint8_t h[WS_HEADER_MAX], unsigned opcode, bool fin, size_t len,
			    const uint8_t *mask)
{
	size_t n = 2;

	h[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len <= WS_CONTROL_MAX) {
		h[1] = (uint8_t)len;
	} else if (len <= 0xffff) {
		h[1] = 126;
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	} else {
		h[1] = 127;
		for (int shift = 56; shift >= 0; shift -= 8)
			h[n++] = (uint8_t)((uint64_t)len >> shift);
	}
	if (mask) {
		h[1] |= 0x80;
		memcpy(h + n, mask, 4);
		n += 4;
	}
	return n;
}

/* Appends a header and @len payload bytes, masked when @mask; -E2BIG leaves @out alone. */
static int frame_append(struct buf *out, unsigned opcode, bool fin, const void *payload, size_t len,
			const uint8_t *mask)
{
	uint8_t h[WS_HEADER_MAX];
	size_t hlen = header_encode(h, opcode, fin, len, mask), room = out->max_bytes - out->len;
	int err;

	if (len > room || hlen > room - len)
		return -E2BIG;
	err = buf_append(out, h, hlen);
	if (!err)
		err = buf_append(out, payload, len);
	if (err) /* cannot happen: the room was checked */
		return err;
	if (mask)
		for (size_t i = 0; i < len; i++)
			out->data[out->len - len + i] ^= mask[i & 3];
	return 0;
}

int ws_frame_encode(struct buf *out, enum ws_opcode opcode, const void *payload, size_t len)
{
	switch (opcode) {
	case WS_TEXT:
		if (!utf8_valid(payload, len))
			return -EINVAL;
		break;
	case WS_BINARY:
		break;
	case WS_CLOSE:
	case WS_PING:
	case WS_PONG:
		if (len > WS_CONTROL_MAX)
			return -EINVAL;
		break;
	default: /* WS_CONT too: a FIN continuation needs an open message we never start */
		return -EINVAL;
	}
	return frame_append(out, opcode, true, payload, len, NULL);
}

int ws_frame_encode_close(struct buf *out, uint16_t code, const char *reason)
{
	uint8_t payload[WS_CONTROL_MAX];
	size_t n = reason ? strnlen(reason, WS_CLOSE_REASON_MAX + 1) : 0;

	if (!close_code_valid(code))
		return -EINVAL;
	if (n > WS_CLOSE_REASON_MAX) {
		/* cut before the character that byte WS_CLOSE_REASON_MAX is part of */
		n = WS_CLOSE_REASON_MAX;
		while (n > 0 && ((uint8_t)reason[n] & 0xc0) == 0x80)
			n--;
	}
	if (!utf8_valid(reason, n))
		return -EINVAL;
	payload[0] = (uint8_t)(code >> 8);
	payload[1] = (uint8_t)code;
	if (n)
		memcpy(payload + 2, reason, n);
	return frame_append(out, WS_CLOSE, true, payload, n + 2, NULL);
}

int ws_frame_encode_masked(struct buf *out, enum ws_opcode opcode, bool fin, const void *payload,
			   size_t len, const uint8_t mask[4])
{
	if ((unsigned)opcode > 0xf)
		return -EINVAL;
	return frame_append(out, opcode, fin, payload, len, mask);
}

void ws_reader_init(struct ws_reader *r, size_t max_message)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->msg, max_message);
	r->max_message = r->msg.max_bytes; /* buf_init() may lower it */
	r->msg_opcode = WS_CONT;
}

void ws_reader_release(struct ws_reader *r)
{
	buf_release(&r->msg);
}

/* Checks the first header byte: reserved bits, opcode, the order of fragments. */
static int header_first(struct ws_reader *r, uint8_t b)
{
	r->fin = b & 0x80;
	r->opcode = b & 0x0f;
	if (b & 0x70) /* RSV1-3: no extension was negotiated */
		return -WS_CLOSE_PROTOCOL;
	switch (r->opcode) {
	case WS_CONT:
		if (r->msg_opcode == WS_CONT)
			return -WS_CLOSE_PROTOCOL;
		return 0;
	case WS_TEXT:
	case WS_BINARY:
		if (r->msg_opcode != WS_CONT)
			return -WS_CLOSE_PROTOCOL;
		r->msg_opcode = r->opcode;
		r->utf8 = 0;
		return 0;
	case WS_CLOSE:
	case WS_PING:
	case WS_PONG:
		return r->fin ? 0 : -WS_CLOSE_PROTOCOL;
	default:
		return -WS_CLOSE_PROTOCOL;
	}
}

/* Decodes the payload length once its bytes are in, and bounds it. */
static int header_length(struct ws_reader *r)
{
	unsigned len7 = r->hdr[1] & 0x7f;
	uint64_t len = len7;

	if (len7 == 126) {
		len = (uint64_t)r->hdr[2] << 8 | r->hdr[3];
	} else if (len7 == 127) {
		len = 0;
		for (int i = 2; i < 10; i++)
			len = len << 8 | r->hdr[i];
		if (len >> 63)
			return -WS_CLOSE_PROTOCOL;
	}
	if (!opcode_is_control(r->opcode) && len > r->max_message - r->msg.len)
		return -WS_CLOSE_TOO_BIG;
	r->frame_len = len;
	return 0;
}

/* Takes one header byte; sets in_payload when the header is complete. */
static int header_byte(struct ws_reader *r, uint8_t b)
{
	int err = 0;

	r->hdr[r->hdr_len++] = b;
	if (r->hdr_len == 1)
		return header_first(r, b);
	if (r->hdr_len == 2) {
		unsigned len7 = b & 0x7f;

		if (!(b & 0x80)) /* clients must mask (RFC 6455 §5.1) */
			return -WS_CLOSE_PROTOCOL;
		if (opcode_is_control(r->opcode) && len7 > WS_CONTROL_MAX)
			return -WS_CLOSE_PROTOCOL;
		r->hdr_need = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
	}
	if (r->hdr_len == r->hdr_need - 4)
		err = header_length(r);
	if (!err && r->hdr_len == r->hdr_need) {
		r->frame_pos = 0;
		r->in_payload = true;
	}
	return err;
}

/* Takes @n payload bytes of the current frame (n <= what remains of it). */
static int payload_bytes(struct ws_reader *r, const uint8_t *p, size_t n)
{
	const uint8_t *mask = r->hdr + r->hdr_need - 4;
	uint8_t *dst;
	int err;

	if (opcode_is_control(r->opcode)) {
		dst = r->ctl + r->frame_pos;
		memcpy(dst, p, n);
	} else {
		err = buf_append(&r->msg, p, n);
		if (err) /* cannot happen: header_length() bounded the frame */
			return -WS_CLOSE_TOO_BIG;
		dst = r->msg.data + r->msg.len - n;
	}
	for (size_t i = 0; i < n; i++)
		dst[i] ^= mask[(r->frame_pos + i) & 3];
	r->frame_pos += n;
	if (r->msg_opcode == WS_TEXT && !opcode_is_control(r->opcode) &&
	    !utf8_step(&r->utf8, dst, n))
		return -WS_CLOSE_INVALID_DATA;
	return 0;
}

/* A control frame is complete: hand it out, checking a close frame's payload. */
static int control_end(struct ws_reader *r, struct ws_message *msg)
{
	size_t len = (size_t)r->frame_len;

	r->ctl[len] = '\0';
	msg->opcode = r->opcode;
	msg->data = r->ctl;
	msg->len = len;
	msg->close_code = 0;
	if (r->opcode != WS_CLOSE)
		return 1;
	if (len == 0) {
		msg->close_code = WS_CLOSE_NO_STATUS;
		return 1;
	}
	if (len == 1)
		return -WS_CLOSE_PROTOCOL;
	msg->close_code = (uint16_t)(r->ctl[0] << 8 | r->ctl[1]);
	if (!close_code_valid(msg->close_code))
		return -WS_CLOSE_PROTOCOL;
	if (!utf8_valid(r->ctl + 2, len - 2))
		return -WS_CLOSE_INVALID_DATA;
	msg->data = r->ctl + 2;
	msg->len = len - 2;
	return 1;
}

/* The current frame is complete. Returns 1 with *@msg, 0 for a non-final fragment, or <0. */
static int frame_end(struct ws_reader *r, struct ws_message *msg)
{
	r->hdr_len = 0;
	r->hdr_need = 0;
	r->in_payload = false;
	if (opcode_is_control(r->opcode))
		return control_end(r, msg);
	if (!r->fin)
		return 0;
	if (r->msg_opcode == WS_TEXT && r->utf8 != 0) /* a character cut by the end */
		return -WS_CLOSE_INVALID_DATA;
	msg->opcode = r->msg_opcode;
	msg->data = (const uint8_t *)buf_str(&r->msg);
	msg->len = r->msg.len;
	msg->close_code = 0;
	r->msg_opcode = WS_CONT;
	r->msg_ready = true;
	return 1;
}

int ws_reader_feed(struct ws_reader *r, const uint8_t *p, size_t len, size_t *used,
		   struct ws_message *msg)
{
	size_t i = 0;
	int ret;

	*used = 0;
	if (r->err)
		return r->err;
	if (r->msg_ready) {
		buf_reset(&r->msg);
		r->msg_ready = false;
	}
	while (i < len) {
		if (!r->in_payload) {
			ret = header_byte(r, p[i++]);
			if (ret < 0)
				goto out_violation;
			/* a frame with no payload ends with its header */
			if (!r->in_payload || r->frame_len > 0)
				continue;
		} else {
			uint64_t left = r->frame_len - r->frame_pos;
			size_t n = left < len - i ? (size_t)left : len - i;

			ret = payload_bytes(r, p + i, n);
			i += n;
			if (ret < 0)
				goto out_violation;
			if (r->frame_pos < r->frame_len)
				continue;
		}
		ret = frame_end(r, msg);
		if (ret < 0)
			goto out_violation;
		if (ret == 1) {
			*used = i;
			return 1;
		}
	}
	*used = len;
	return 0;

out_violation:
	r->err = ret;
	*used = i;
	return ret;
}
