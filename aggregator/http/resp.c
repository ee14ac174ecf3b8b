/*
 * JSON answers and the error envelope. Once a status is set the body is
 * complete JSON text, except when even the 500 envelope could not be
 * encoded (out of memory inside jansson): then it is NULL and the server
 * sends an empty body with the status.
 */
#include "aggregator/http/resp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/http/blob.h"

#define RESP_MESSAGE_MAX 512

void resp_init(struct resp *rp, const char *request_id)
{
	memset(rp, 0, sizeof(*rp));
	rp->fd = -1;
	rp->request_id = request_id ? request_id : "";
}

void resp_release(struct resp *rp)
{
	free(rp->body);
	blob_unref(rp->blob);
	rp->body = NULL;
	rp->blob = NULL;
	rp->body_len = 0;
	rp->status = 0;
	rp->content_encoding = NULL;
	if (rp->fd >= 0)
		close(rp->fd);
	rp->fd = -1;
	rp->fd_size = 0;
	rp->content_type = NULL;
	if (rp->stream_ops)
		rp->stream_ops->free(rp->stream_ctx);
	rp->stream_ops = NULL;
	rp->stream_ctx = NULL;
	if (rp->upgrade_ops)
		rp->upgrade_ops->free(rp->upgrade_ctx);
	rp->upgrade_ops = NULL;
	rp->upgrade_ctx = NULL;
}

int resp_upgrade(struct resp *rp, const char *accept, const struct resp_upgrade_ops *ops,
		 void *ctx)
{
	resp_release(rp);
	rp->status = 101;
	rp->upgrade_ops = ops;
	rp->upgrade_ctx = ctx;
	snprintf(rp->ws_accept, sizeof(rp->ws_accept), "%s", accept);
	return 0;
}

int resp_stream(struct resp *rp, const char *content_type, const struct resp_stream_ops *ops,
		void *ctx)
{
	resp_release(rp);
	rp->status = 200;
	rp->content_type = content_type;
	rp->stream_ops = ops;
	rp->stream_ctx = ctx;
	return 0;
}

int resp_file(struct resp *rp, unsigned status, int fd, uint64_t size, const char *content_type)
{
	resp_release(rp);
	rp->status = status;
	rp->fd = fd;
	rp->fd_size = size;
	rp->body_len = (size_t)size;
	rp->content_type = content_type;
	return 0;
}

static void resp_set_body(struct resp *rp, unsigned status, char *text)
{
	resp_release(rp);
	rp->status = status;
	rp->body = text;
	rp->body_len = text ? strlen(text) : 0;
}

/* The envelope's four members win over @extra's of the same name: they are the contract. */
static char *resp_envelope(unsigned status, const char *code, const char *message,
			   const char *request_id, json_t *extra)
{
	json_t *v = json_pack("{s:{s:i, s:s, s:s, s:s}}", "error", "status", (int)status, "code",
			      code, "message", message, "request_id", request_id);
	const char *key;
	json_t *err, *member;
	char *text;

	if (!v)
		return NULL;
	err = json_object_get(v, "error");
	json_object_foreach (extra, key, member) {
		if (!json_object_get(err, key))
			json_object_set(err, key, member);
	}
	text = json_dumps(v, RESP_JSON_FLAGS);
	json_decref(v);
	return text;
}

int resp_json(struct resp *rp, unsigned status, json_t *v)
{
	char *text = v ? json_dumps(v, RESP_JSON_FLAGS) : NULL;

	json_decref(v);
	if (!text)
		return resp_error(rp, 500, "internal", "cannot encode the response");
	resp_set_body(rp, status, text);
	return 0;
}

int resp_text(struct resp *rp, unsigned status, char *text, size_t len, const char *content_type)
{
	resp_release(rp);
	rp->status = status;
	rp->body = text;
	rp->body_len = len;
	rp->content_type = content_type;
	return 0;
}

int resp_blob(struct resp *rp, unsigned status, struct blob *b, const char *encoding)
{
	resp_release(rp);
	rp->status = status;
	rp->blob = b;
	rp->body_len = b->len;
	rp->content_encoding = encoding;
	return 0;
}

int resp_empty(struct resp *rp, unsigned status)
{
	resp_release(rp);
	rp->status = status;
	return 0;
}

static int resp_error_v(struct resp *rp, unsigned status, const char *code, json_t *extra,
			const char *fmt, va_list ap)
{
	char message[RESP_MESSAGE_MAX];

	vsnprintf(message, sizeof(message), fmt, ap);
	for (char *p = message; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	}
	rp->allow[0] = '\0'; /* a 405 sets it after this call */
	resp_set_body(rp, status, resp_envelope(status, code, message, rp->request_id, extra));
	return status < 500 ? -EINVAL : -EIO;
}

int resp_error(struct resp *rp, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = resp_error_v(rp, status, code, NULL, fmt, ap);
	va_end(ap);
	return ret;
}

int resp_error_extra(struct resp *rp, unsigned status, const char *code, json_t *extra,
		     const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = resp_error_v(rp, status, code, extra, fmt, ap);
	va_end(ap);
	return ret;
}

json_t *resp_time(int64_t ms)
{
	char iso[TIME_ISO_LEN];

	time_format_iso(ms > 0 ? (uint64_t)ms * NSEC_PER_MSEC : 0, iso);
	return json_string(iso);
}
