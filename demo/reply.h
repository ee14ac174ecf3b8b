/*
 * The answer a handler builds: a status, a JSON body and the few headers the
 * demo sets. Every error goes through reply_error(), which writes the
 * envelope of API.md: {"error": {"status", "code", "message", "request_id"}}.
 * A struct reply belongs to one request, on one thread.
 */
#ifndef PRP_DEMO_REPLY_H
#define PRP_DEMO_REPLY_H

#include <jansson.h>
#include <stddef.h>

#include "common/compiler.h"

/* Flags for json_dumps(): compact, and reals without binary noise (0.1, not 0.1000...01). */
#define REPLY_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

struct reply {
	unsigned status; /* 0 until a reply is set */
	char *body;	 /* JSON text (owned, free()); NULL until set */
	size_t body_len;
	const char *allow;	/* Allow header for a 405: a borrowed literal, or NULL */
	const char *request_id; /* borrowed from the request */
};

/* Sets @rp empty; @request_id is borrowed and must outlive @rp. */
void reply_init(struct reply *rp, const char *request_id);
/* Frees the body; @rp is then empty. */
void reply_release(struct reply *rp);

/*
 * Sets a JSON reply, replacing any earlier one; takes ownership of @v. A NULL
 * @v (a failed json_pack()) or a failed encoding becomes a 500 envelope.
 * Returns 0, or -EIO when it had to answer 500 instead.
 */
int reply_json(struct reply *rp, unsigned status, json_t *v);

/*
 * Sets the error envelope, replacing any earlier reply. @code is a stable
 * snake_case literal; the message is printf-formatted, cut to 512 bytes, and
 * bytes outside printable ASCII become '?', so peer bytes quoted in it can't
 * break the JSON. Returns -EINVAL for a 4xx and -EIO otherwise, so that a
 * handler can `return reply_error(...)`.
 */
int reply_error(struct reply *rp, unsigned status, const char *code, const char *fmt, ...)
	PRP_PRINTF(4, 5);

/* Hands the body over: the caller owns it (free()); @rp keeps its status. */
char *reply_detach_body(struct reply *rp, size_t *len);

#endif
