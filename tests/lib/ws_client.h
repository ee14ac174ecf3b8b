/*
 * A small WebSocket client for tests (RFC 6455), on a blocking socket to
 * 127.0.0.1: the opening handshake (checking 101, Upgrade, Connection and
 * Sec-WebSocket-Accept), masked frames out, the server's unmasked frames
 * in, fragments joined. It is written apart from the server's framing
 * (aggregator/stream/ws_frame.c) so that each checks the other, and because
 * the objects of tests/lib/ are linked into every unit test, also those
 * that link no aggregator code. Tests that need frames a client must not
 * send build them with ws_frame_encode_masked() and ws_client_send_raw().
 * One client, one thread.
 */
#ifndef PRP_TESTS_LIB_WS_CLIENT_H
#define PRP_TESTS_LIB_WS_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Opcodes, as RFC 6455 numbers them. */
enum ws_client_opcode {
	WS_CLIENT_TEXT = 0x1,
	WS_CLIENT_BINARY = 0x2,
	WS_CLIENT_CLOSE = 0x8,
	WS_CLIENT_PING = 0x9,
	WS_CLIENT_PONG = 0xA,
};

struct ws_client_options {
	const char *path;	/* with its query; NULL: "/stream/anomalies" */
	const char *api_key;	/* X-API-Key; NULL: none */
	const char *key;	/* Sec-WebSocket-Key; NULL: 16 random bytes; "": no header */
	const char *version;	/* Sec-WebSocket-Version; NULL: "13"; "": no header */
	const char *upgrade;	/* Upgrade; NULL: "websocket"; "": no header */
	const char *connection; /* Connection; NULL: "Upgrade"; "": no header */
	const void *extra;	/* bytes sent in the same write as the handshake (frames) */
	size_t extra_len;
	int rcvbuf;	    /* SO_RCVBUF set before connecting (a slow reader); 0: default */
	int timeout_ms;	    /* for the handshake's answer; 0: 5000 */
	size_t max_message; /* 0: 16 MiB */
};

struct ws_client {
	int fd;
	int status;	/* the handshake answer's status */
	char *body;	/* the body of an answer other than 101 (owned), else NULL */
	struct buf in;	/* bytes read, not parsed yet */
	struct buf msg; /* the fragments of a data message so far */
	uint8_t msg_opcode;
};

/* A message or control frame from the server. */
struct ws_client_msg {
	int opcode; /* enum ws_client_opcode */
	char *data; /* owned: free(); NUL-terminated; for a close, the reason */
	size_t len;
	uint16_t close_code; /* WS_CLIENT_CLOSE: the code, 1005 for none */
};

/*
 * Connects to 127.0.0.1:@port and sends the handshake @o asks for. 0 with
 * c->status 101 once the answer is checked (Upgrade, Connection and the
 * accept key right), or 0 with another c->status and c->body; -EPROTO for
 * a 101 that is wrong, or another -errno. Close @c in every case.
 */
int ws_client_open(struct ws_client *c, unsigned port, const struct ws_client_options *o);

/* Sends one masked frame (FIN set). 0 or -errno. */
int ws_client_send(struct ws_client *c, int opcode, const void *p, size_t len);
int ws_client_send_text(struct ws_client *c, const char *text);
/* Sends bytes as they are (frames made by the test). 0 or -errno. */
int ws_client_send_raw(struct ws_client *c, const void *p, size_t len);

/*
 * The next whole message or control frame, waiting up to @timeout_ms: 1
 * with @m filled (free m->data), 0 on timeout, -1 when the connection
 * ended (or the server broke the protocol: a masked frame, a bad length).
 */
int ws_client_next(struct ws_client *c, int timeout_ms, struct ws_client_msg *m);

/*
 * The next text message as JSON (caller owns it: json_decref()), answering
 * pings and skipping pongs on the way; NULL on timeout, at the end, or for
 * a close frame (*close_code set when @close_code is not NULL; else 0).
 */
json_t *ws_client_next_json(struct ws_client *c, int timeout_ms, uint16_t *close_code);

/*
 * Reads until a close frame, skipping everything else: its code, 0 when
 * none came within @timeout_ms, -1 when the connection ended without one.
 * *@skipped (may be NULL) counts the data messages skipped.
 */
int ws_client_wait_close(struct ws_client *c, int timeout_ms, size_t *skipped);

/* True when the server has closed the connection (EOF or reset) within @timeout_ms. */
bool ws_client_wait_eof(struct ws_client *c, int timeout_ms);

/* Closes the socket (no close frame: send one first if the test wants one) and frees. */
void ws_client_close(struct ws_client *c);

#endif
