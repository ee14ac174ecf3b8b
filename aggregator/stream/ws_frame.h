/*
 * The WebSocket protocol (RFC 6455) as pure functions, with no socket: the
 * opening handshake's Sec-WebSocket-Accept, the server's frame encoder, and
 * a reader that turns a client's bytes into whole messages while enforcing
 * every rule a server must (masking, reserved bits, opcodes, control frame
 * limits, fragmentation order, lengths, UTF-8 of text and close reasons,
 * close codes). The socket side feeds it whatever recv() returned and, on a
 * violation, sends the close frame the reader named and drops the peer.
 *
 * No extension (permessage-deflate) is ever negotiated, so every RSV bit
 * must be zero. Every function may be called from any thread; a reader
 * belongs to the one thread that owns its connection.
 */
#ifndef PRP_AGGREGATOR_STREAM_WS_FRAME_H
#define PRP_AGGREGATOR_STREAM_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compiler.h"

/* base64 of a 20-byte SHA-1: 4 * ceil(20 / 3) */
#define WS_ACCEPT_LEN 28
/* A control frame's payload limit (RFC 6455 §5.5) ... */
#define WS_CONTROL_MAX 125
/* ... of which a close frame's reason gets what the 2-byte code leaves. */
#define WS_CLOSE_REASON_MAX (WS_CONTROL_MAX - 2)
/* The longest frame header: 2 bytes, a 64-bit length, a 4-byte mask. */
#define WS_HEADER_MAX 14

enum ws_opcode {
	WS_CONT = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xA,
};

/* Status codes of a close frame (RFC 6455 §7.4.1, and IANA's registry for 1013). */
enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_NO_STATUS = 1005,    /* reported for an empty close frame; never sent */
	WS_CLOSE_INVALID_DATA = 1007, /* a text message or close reason that is not UTF-8 */
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL = 1011,
	WS_CLOSE_TRY_AGAIN = 1013, /* the slow consumer's close */
};

/*
 * Writes the Sec-WebSocket-Accept for the client's Sec-WebSocket-Key @key
 * (RFC 6455 §4.2.2): base64(SHA-1(key + the protocol's GUID)), NUL-terminated.
 * @key is the header's value with the surrounding whitespace already trimmed.
 * Returns 0; -EINVAL when @key is not 24 base64 characters decoding to 16
 * bytes (22 characters of the alphabet, whose unused last 4 bits are zero as
 * every encoder writes them, then "=="); -EIO from GnuTLS.
 */
PRP_MUST_CHECK int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]);

/*
 * Appends a server-to-client frame to @out: FIN set, unmasked (as servers
 * send), with the shortest length form, of @opcode with @len bytes of
 * @payload (borrowed for the call; may be NULL when @len is 0).
 * Returns 0, or -EINVAL for WS_CONT or an unknown opcode, a control frame
 * over WS_CONTROL_MAX bytes, or a WS_TEXT payload that is not UTF-8 (the
 * client would close with 1007); -E2BIG past @out's cap. On error @out is
 * unchanged.
 */
PRP_MUST_CHECK int ws_frame_encode(struct buf *out, enum ws_opcode opcode, const void *payload,
				   size_t len);

/*
 * Appends a close frame with @code and the UTF-8 @reason (NULL for none),
 * cut at a character boundary to fit WS_CLOSE_REASON_MAX bytes. Returns 0,
 * or -EINVAL when @code is not one a close frame may carry (1005, 1006 and
 * 1015 are for reporting only) or the reason that fits is not UTF-8;
 * -E2BIG past @out's cap. On error @out is unchanged.
 */
PRP_MUST_CHECK int ws_frame_encode_close(struct buf *out, uint16_t code, const char *reason);

/*
 * Appends a client-to-server frame, masked with @mask, FIN as @fin says.
 * It writes whatever it is told, including frames a server must reject
 * (control frames without FIN or over 125 bytes, unknown opcodes), because
 * tests and the test WebSocket client need them. Returns 0, -EINVAL when
 * @opcode does not fit 4 bits, or -E2BIG past @out's cap (@out unchanged).
 */
PRP_MUST_CHECK int ws_frame_encode_masked(struct buf *out, enum ws_opcode opcode, bool fin,
					  const void *payload, size_t len, const uint8_t mask[4]);

/*
 * A reader of one client's frames: bytes in, whole messages out. It joins
 * fragmented messages (a start frame, then continuations) and hands out the
 * control frames a client may interleave between fragments as they come.
 * The fields are private; they are here so a reader can be embedded.
 */
struct ws_reader {
	struct buf msg;		    /* the data message being assembled, capped at max_message */
	size_t max_message;	    /* the longest data message, all fragments together */
	uint64_t frame_len;	    /* payload length of the current frame */
	uint64_t frame_pos;	    /* how much of that payload has been read */
	uint32_t utf8;		    /* validator state across a text message's bytes */
	int err;		    /* 0, or the violation returned, then returned forever */
	uint8_t hdr[WS_HEADER_MAX]; /* the current frame's header, as far as it has come */
	uint8_t hdr_len;	    /* bytes of it read */
	uint8_t hdr_need;	    /* its full length, known from the second byte on */
	uint8_t opcode;		    /* the current frame's */
	uint8_t msg_opcode;	    /* WS_TEXT or WS_BINARY while a message is open, else WS_CONT */
	bool fin;		    /* the current frame's FIN bit */
	bool in_payload;	    /* the header is complete; reading the payload */
	bool msg_ready;		    /* the last call handed out msg: empty it at the next */
	uint8_t ctl[WS_CONTROL_MAX + 1]; /* a control frame's payload, NUL-terminated */
};

/*
 * A message, or a control frame, handed out by ws_reader_feed(). For data
 * messages @data is NUL-terminated (data[len] == '\0'), so a text message
 * can be used as a C string when it holds no NUL.
 */
struct ws_message {
	enum ws_opcode opcode; /* WS_TEXT, WS_BINARY, WS_PING, WS_PONG or WS_CLOSE */
	const uint8_t *data;   /* borrowed from the reader until its next call; never NULL */
	size_t len;
	/* WS_CLOSE only: the code, or WS_CLOSE_NO_STATUS for an empty close
	 * frame; @data is then the reason (UTF-8) without the code. 0 otherwise. */
	uint16_t close_code;
};

/*
 * Sets up @r for messages of at most @max_message bytes; allocates nothing.
 * The message buffer grows as messages arrive and keeps the storage of the
 * largest until ws_reader_release().
 */
void ws_reader_init(struct ws_reader *r, size_t max_message);
/* Frees what @r holds; it may then be initialised again. */
void ws_reader_release(struct ws_reader *r);

/*
 * Feeds @len bytes of @p (borrowed for the call) to @r and sets *@used to
 * how many it consumed. Returns
 *   1  with *@msg: a whole data message, or a control frame, is ready; the
 *      bytes after *@used were not looked at: call again with them;
 *   0  every byte was consumed and more are needed;
 *  <0  a violation, as the negated code of the close frame to send:
 *      -WS_CLOSE_PROTOCOL (unmasked frame, RSV bit, unknown opcode,
 *      fragmented or oversized control frame, continuation without a start,
 *      a start inside a fragmented message, a 64-bit length with its top bit
 *      set, a close payload of 1 byte or with an invalid code),
 *      -WS_CLOSE_TOO_BIG (a data message past max_message, caught from the
 *      frame header before its payload arrives) or -WS_CLOSE_INVALID_DATA
 *      (a text message or a close reason that is not UTF-8, caught at the
 *      first bad byte or, for a cut character, at the message's end).
 *      The caller sends that close and drops the connection; the reader
 *      returns the same error, consuming nothing, from then on.
 * The returns and messages do not depend on how the bytes are split between
 * calls (only *@used after a violation does: it is of no use then). Longer
 * length forms than needed are accepted, as most servers do. Frames after
 * a close frame are read like any other: the caller stops reading then.
 */
PRP_MUST_CHECK int ws_reader_feed(struct ws_reader *r, const uint8_t *p, size_t len, size_t *used,
				  struct ws_message *msg);

#endif
