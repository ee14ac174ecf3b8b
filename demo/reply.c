/*
 * JSON replies and the error envelope. The body is always complete JSON text
 * once a status is set, except when even the 500 envelope could not be
 * encoded (out of memory inside jansson), where it is NULL and the server
 * sends an empty body.
 */
#include "demo/reply.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MESSAGE_MAX 512

void reply_init(struct reply *rp, const char *request_id)
{
	memset(rp, 0, sizeof(*rp));
	rp->request_id = request_id ? request_id : "";
}

void reply_release(struct reply *rp)
{
	free(rp->body);
	rp->body = NULL;
	rp->body_len = 0;
}

static void reply_set_body(struct reply *rp, unsigned status, char *text)
{
	reply_release(rp);
	rp->status = status;
	rp->body = text;
	rp->body_len = text ? strlen(text) : 0;
}

/* The envelope, or NULL when jansson cannot build it. */
static char *reply_envelope(unsigned status, const char *code, const char *message,
			    const char *request_id)
{
	json_t *v = json_pack("{s:{s:i, s:s, s:s, s:s}}", "error", "status", (int)status, "code",
			      code, "message", message, "request_id", request_id);
	char *text;

	if (!v)
		return NULL;
	text = json_dumps(v, REPLY_JSON_FLAGS);
	json_decref(v);
	return text;
}

int reply_json(struct reply *rp, unsigned status, json_t *v)
{
	char *text = v ? json_dumps(v, REPLY_JSON_FLAGS) : NULL;

	json_decref(v);
	if (!text)
		return reply_error(rp, 500, "internal_error", "cannot encode the response");
	rp->allow = NULL;
	reply_set_body(rp, status, text);
	return 0;
}

int reply_error(struct reply *rp, unsigned status, const char *code, const char *fmt, ...)
{
	char message[REPLY_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	for (char *p = message; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	}
	rp->allow = NULL; /* a 405 sets it after this call */
	reply_set_body(rp, status, reply_envelope(status, code, message, rp->request_id));
	return status < 500 ? -EINVAL : -EIO;
}

char *reply_detach_body(struct reply *rp, size_t *len)
{
	char *body = rp->body;

	if (len)
		*len = rp->body_len;
	rp->body = NULL;
	rp->body_len = 0;
	return body;
}
