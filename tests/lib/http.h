/*
 * A blocking HTTP client for tests, over libcurl. Fresh connection per call:
 * tests want determinism, not speed.
 */
#ifndef PRP_TESTS_LIB_HTTP_H
#define PRP_TESTS_LIB_HTTP_H

#include <stddef.h>

#include "common/buf.h"

/*
 * Sends @method @url with an optional JSON @body; fills *@status and appends
 * the response body to @resp (and its headers to @headers when not NULL).
 * Returns 0, or -EIO when no HTTP answer came (connection refused, timeout).
 */
int http_call(const char *method, const char *url, const char *body, long *status, struct buf *resp,
	      struct buf *headers);

/*
 * As http_call(), with @body sent as @content_type: NULL is
 * application/json, "" sends no Content-Type at all.
 */
int http_call_ct(const char *method, const char *url, const char *body, const char *content_type,
		 long *status, struct buf *resp, struct buf *headers);

/*
 * As http_call_ct(), with @auth_header a whole header line ("X-API-Key: K",
 * "Authorization: Bearer K") sent instead of the process's key; "" sends
 * none, NULL the process's key (http_set_api_key()).
 */
int http_call_full(const char *method, const char *url, const char *body, const char *content_type,
		   const char *auth_header, long *status, struct buf *resp, struct buf *headers);

/* As http_call() with @header instead of the process's key (NULL or "": no key). */
int http_call_hdr(const char *method, const char *url, const char *body, const char *header,
		  long *status, struct buf *resp, struct buf *headers);

/*
 * The API key every later call of this process sends as X-API-Key (NULL or
 * "": none), and the CA file trusted for https URLs (NULL: the system's).
 * Set before the calls: not thread-safe.
 */
void http_set_api_key(const char *key);
void http_set_cacert(const char *path);

/*
 * The value of header @name (any case) in @headers, the header lines of an
 * answer as http_call() appends them, into @out (@cap bytes); "" when there
 * is none.
 */
void http_header_value(const char *headers, const char *name, char *out, size_t cap);

#endif
