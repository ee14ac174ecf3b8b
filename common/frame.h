/*
 * Frames of the agent <-> aggregator wire protocol (docs/protocol.md has
 * the byte-by-byte layout): a fixed header, a payload compressed with zlib,
 * and an HMAC-SHA256 over both with the key of the sender's agent or tenant.
 * The same frame shape carries every message of either direction; the type
 * says which, the payload's meaning depends on it.
 *
 * One nanomsg message holds one or more frames back to back (an agent
 * replaying its spool sends several at once); frame_decode() reports how many
 * bytes one frame took so the caller walks the message.
 *
 * Decoding untrusted bytes: frame_peek() reads the header only, so the
 * receiver can find the key of the claimed agent or tenant; frame_decode()
 * then checks everything (length bounds, version, HMAC in constant time,
 * decompressed size) before it hands out a payload. No input makes either
 * read past @len, allocate more than FRAME_PAYLOAD_MAX, or crash.
 */
#ifndef PRP_COMMON_FRAME_H
#define PRP_COMMON_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define FRAME_MAGIC "PRPF"
#define FRAME_VERSION 1
/* Agent ids and tenant names: 1..63 bytes of [A-Za-z0-9._-]. */
#define FRAME_ID_MAX 64
/* Largest payload, before and after compression. */
#define FRAME_PAYLOAD_MAX (16u << 20)
#define FRAME_HMAC_BYTES 32

enum frame_type {
	FRAME_WINDOWS = 1,	  /* agent -> aggregator: closed windows (common/window_wire.h) */
	FRAME_ACK = 2,		  /* aggregator -> agent: stored up to the frame's seq */
	FRAME_COMMAND = 3,	  /* aggregator -> agent: a command (JSON) */
	FRAME_COMMAND_RESULT = 4, /* agent -> aggregator: a command's result (JSON) */
	FRAME_HELLO = 5,	  /* agent -> aggregator: status (JSON), no windows */
};

/* Header flags */
#define FRAME_F_ZLIB 0x0001 /* the payload is zlib-compressed */

/* Why a frame was refused; the aggregator counts each reason. */
enum frame_error {
	FRAME_OK = 0,
	FRAME_ERR_TRUNCATED = -1, /* shorter than its header says */
	FRAME_ERR_MAGIC = -2,
	FRAME_ERR_VERSION = -3,
	FRAME_ERR_OVERSIZED = -4, /* payload length past FRAME_PAYLOAD_MAX */
	FRAME_ERR_HEADER = -5,	  /* bad id, type or flags */
	FRAME_ERR_HMAC = -6,
	FRAME_ERR_PAYLOAD = -7, /* does not decompress to its stated size */
};

struct frame_header {
	uint8_t version;
	uint8_t type; /* enum frame_type */
	uint16_t flags;
	char agent_id[FRAME_ID_MAX]; /* NUL-terminated */
	char tenant[FRAME_ID_MAX];   /* NUL-terminated */
	uint64_t seq;		     /* per agent, from 1, +1 per FRAME_WINDOWS frame */
	int64_t time_ms;	     /* ms since the epoch: for windows, their end */
	uint32_t raw_len;	     /* payload length before compression */
};

/*
 * Appends one frame to @out: @h (version and flags are set here), @payload
 * compressed when that makes it smaller, and the HMAC with @key. 0, or a
 * negative errno (-EINVAL for a bad header, -EMSGSIZE for a payload past
 * FRAME_PAYLOAD_MAX, -E2BIG when @out would pass its cap, -EIO when GnuTLS
 * fails), leaving @out as it was. h->raw_len is taken from @len.
 */
int frame_encode(struct buf *out, const struct frame_header *h, const void *payload, size_t len,
		 const void *key, size_t keylen);

/* Reads the header of the frame at @p; no HMAC check. FRAME_OK or an error. */
int frame_peek(const void *p, size_t len, struct frame_header *h);

/*
 * Checks and decodes the frame at the start of @p: on FRAME_OK, @h is its
 * header, @payload holds the decompressed payload (reset first), and *used
 * the frame's size in bytes, so the next frame starts at p + *used. On an
 * error @payload is empty and @h, *used are unchanged. A payload larger than
 * @payload's cap is FRAME_ERR_OVERSIZED: give it a cap of FRAME_PAYLOAD_MAX.
 */
int frame_decode(const void *p, size_t len, const void *key, size_t keylen,
		 struct frame_header *h, struct buf *payload, size_t *used);

/* "hmac", "truncated"... for logs and counters. */
const char *frame_error_name(int err);

#endif
