/*
 * The answer a handler builds: a status, a body (JSON text, owned or a
 * shared blob) and the few headers the API sets. Every error goes through
 * resp_error(), which writes the envelope of API.md:
 *     {"error": {"status", "code", "message", "request_id"}}
 * Codes are stable snake_case: bad_request, not_found, method_not_allowed,
 * payload_too_large, unsupported_media_type, internal, unavailable.
 * A struct resp belongs to one request, on one thread.
 */
#ifndef PRP_AGGREGATOR_HTTP_RESP_H
#define PRP_AGGREGATOR_HTTP_RESP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/timeutil.h"

struct blob;
struct http_stream;
struct http_upgraded;

/*
 * A 101 answer that hands the connection over (WebSocket, RFC 6455 §4.2.2).
 * Once the 101 is sent, @upgraded takes the connection: its socket @fd
 * (blocking; the new owner sets what it wants), the bytes the client sent
 * past its request (@extra), @ctx, and the handle to give back with
 * http_upgraded_close() when done (which closes @fd). It runs on a server
 * thread: hand over and return. Without an upgrade (the client left
 * first, or the server stops), @free(@ctx) instead; never both.
 */
struct resp_upgrade_ops {
	void (*upgraded)(void *ctx, int fd, const void *extra, size_t extra_len,
			 struct http_upgraded *h);
	void (*free)(void *ctx);
};
/*
 * A response that goes on (Server-Sent Events): its bytes come from @read
 * as they are ready. The server calls @start once the connection is set
 * up, with the handle the producer wakes it through (http_stream_wake(),
 * http.h); @read under the stream's lock: > 0 bytes written, 0 none now
 * (the connection sleeps until woken), -1 the end; @free once the stream
 * is over (the client left, the end, shutdown): it must stop whatever may
 * wake the handle before it returns, then free @ctx.
 */
struct resp_stream_ops {
	void (*start)(void *ctx, struct http_stream *s);
	long (*read)(void *ctx, char *buf, size_t max);
	void (*free)(void *ctx);
};
/* compact, and reals without binary noise (0.1, not 0.10000000000000001) */
#define RESP_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))
#define RESP_ALLOW_MAX	64
/* An ETag: a quoted 64-bit hash in hex, and a suffix ("-gz") */
#define RESP_ETAG_MAX 24

struct resp {
	unsigned status; /* 0 until an answer is set */
	char *body;	 /* owned JSON text (free()), or NULL */
	size_t body_len;
	struct blob *blob;	      /* or a shared body (one reference owned), or NULL */
	char allow[RESP_ALLOW_MAX];   /* Allow header value; "" for none */
	const char *content_encoding; /* a literal ("gzip") when the body is encoded, else NULL */
	const char *request_id;	      /* borrowed from the request */
	/* the X-RateLimit-* headers (API.md) when rate_limited; Retry-After when retry_after_s */
	int fd;		      /* or a file to send whole (owned; closed by resp_release()), or -1 */
	uint64_t fd_size;
	const char *content_type; /* a literal; NULL: application/json */
	const struct resp_stream_ops *stream_ops; /* or a stream (stream_ctx owned), or NULL */
	void *stream_ctx;
	const struct resp_upgrade_ops *upgrade_ops; /* or an upgrade (upgrade_ctx owned), or NULL */
	void *upgrade_ctx;
	char ws_accept[32];			     /* Sec-WebSocket-Accept of the upgrade */
	/*
	 * The dashboard's (dashboard.c), set after the answer (no resp_*() resets
	 * them): an ETag ("" none), Cache-Control (NULL: no-store), Vary:
	 * Accept-Encoding also on the identity body, and the page's security
	 * headers (Content-Security-Policy, X-Frame-Options...)
	 */
	char etag[RESP_ETAG_MAX];
	const char *cache_control;
	bool vary_encoding, page_headers;
	bool rate_limited;
	uint64_t rate_limit, rate_remaining, retry_after_s;
	int64_t rate_reset_s;
};

/* Sets @rp empty; @request_id is borrowed and must outlive @rp. */
void resp_init(struct resp *rp, const char *request_id);
/* Frees the body; @rp is then empty (status 0). */
void resp_release(struct resp *rp);

/*
 * Sets a JSON answer, replacing any earlier one; takes ownership of @v. A
 * NULL @v (a failed json_pack()) or a failed encoding becomes a 500
 * envelope. Returns 0, or -EIO when it had to answer 500 instead.
 */
int resp_json(struct resp *rp, unsigned status, json_t *v);

/*
 * Sets a shared body; takes ownership of the caller's reference to @b.
 * @encoding: a literal Content-Encoding ("gzip") or NULL. Returns 0.
 */
int resp_blob(struct resp *rp, unsigned status, struct blob *b, const char *encoding);
/* A body that is not JSON: @text (@len bytes, owned from now on) as @content_type (a literal). */
int resp_text(struct resp *rp, unsigned status, char *text, size_t len, const char *content_type);

/* Sends the open file @fd (taken: closed once sent), @size bytes, as @content_type (a literal). */
int resp_file(struct resp *rp, unsigned status, int fd, uint64_t size, const char *content_type);

/* A stream answer (status 200, @content_type a literal); takes @ctx (freed by ops->free). */
int resp_stream(struct resp *rp, const char *content_type, const struct resp_stream_ops *ops,
		void *ctx);

/* A WebSocket upgrade (101) with @accept (Sec-WebSocket-Accept); takes @ctx. */
int resp_upgrade(struct resp *rp, const char *accept, const struct resp_upgrade_ops *ops,
		 void *ctx);

/* An answer with no body (204, or OPTIONS). Returns 0. */
int resp_empty(struct resp *rp, unsigned status);

/*
 * Sets the error envelope, replacing any earlier answer (and Allow). @code
 * is a stable snake_case literal; the message is printf-formatted, cut to
 * 512 bytes, and bytes outside printable ASCII become '?', so peer bytes
 * quoted in it can't break anything. Returns -EINVAL for a 4xx and -EIO
 * otherwise, so that a handler can `return resp_error(...)`.
 */
int resp_error(struct resp *rp, unsigned status, const char *code, const char *fmt, ...)
	PRP_PRINTF(4, 5);

/*
 * As resp_error(), with the members of @extra (a JSON object, borrowed; NULL:
 * none) added to the envelope's error object beside status, code, message
 * and request_id, which they cannot replace: where a policy document broke
 * a rule, {"line", "column", "field"}.
 */
int resp_error_extra(struct resp *rp, unsigned status, const char *code, json_t *extra,
		     const char *fmt, ...) PRP_PRINTF(5, 6);

/* A new JSON string "YYYY-MM-DDTHH:MM:SS.mmmZ" for @ms since the epoch (negative: the epoch). */
json_t *resp_time(int64_t ms);

#endif
