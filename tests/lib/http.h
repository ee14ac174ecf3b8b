/*
 * A blocking HTTP client for tests, over libcurl. Fresh connection per call:
 * tests want determinism, not speed.
 */
#ifndef PRP_TESTS_LIB_HTTP_H
#define PRP_TESTS_LIB_HTTP_H

#include "common/buf.h"

/*
 * Sends @method @url with an optional JSON @body; fills *@status and appends
 * the response body to @resp (and its headers to @headers when not NULL).
 * Returns 0, or -EIO when no HTTP answer came (connection refused, timeout).
 */
int http_call(const char *method, const char *url, const char *body, long *status, struct buf *resp,
	      struct buf *headers);

#endif
