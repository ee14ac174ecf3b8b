/*
 * One HTTP POST over libcurl, for the exporters (loki.c, otlp.c): POST a
 * body to a URL with
 *
 *   Content-Type: application/json
 *   the caller's extra headers ("X-Scope-OrgID: ...", "Authorization: ...")
 *
 * on one easy handle kept between posts, so that the connection is reused
 * (keep-alive). Only http:// and https:// are spoken, redirects are not
 * followed, curl never uses signals, and a post can be cut short from
 * another thread by a deadline (the stop's), within HTTP_POST_POLL_MS of
 * it: the post runs on a multi handle polled that often. The answer comes
 * back as its status, its Retry-After and the first bytes of its body. The
 * sender thread's alone; curl_global_init() must have run.
 */
#ifndef PRP_AGGREGATOR_EXPORT_HTTP_POST_H
#define PRP_AGGREGATOR_EXPORT_HTTP_POST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define HTTP_POST_POLL_MS   50	/* how often a post in flight looks at the abort deadline */
#define HTTP_POST_ERROR_MAX 256 /* LOKI_ERROR_MAX and OTLP_ERROR_MAX */

/* What the poster is given; every string copied. */
struct http_post_config {
	const char *url; /* path included */
	/* extra headers, "Name: value" each, sent after Content-Type; wiped at the free */
	const char *const *headers;
	size_t nheaders;
	const char *ca_file;  /* NULL or "": the system's */
	const char *username; /* NULL or "": no basic auth */
	const char *password; /* with username */
	size_t answer_max;    /* bytes of an answer's body kept; the rest is read and dropped */
	/* a post in flight is cut when CLOCK_MONOTONIC passes it (ns); 0: never. Borrowed */
	const _Atomic uint64_t *abort_at_ns;
};

struct http_post;

/* A poster (caller frees: http_post_free()), or NULL when libcurl cannot make a handle. */
struct http_post *http_post_new(const struct http_post_config *c);
/* Closes the connection, wipes the headers and frees. NULL does nothing. */
void http_post_free(struct http_post *p);

/* What one post came to. */
struct http_post_result {
	long status;		/* the HTTP status; 0 when no answer came */
	int64_t retry_after_ms; /* the answer's Retry-After (seconds or a date); -1: none */
	/* the answer's body, at most answer_max bytes; borrowed until the next post */
	const unsigned char *body;
	size_t body_len;
	/* why, when not a 2xx: "HTTP 400: <the answer's start>", or curl's message; "" */
	char error[HTTP_POST_ERROR_MAX];
};

/*
 * POSTs the @len bytes at @body, waiting at most @timeout_ms. Returns 0
 * when an answer came (any status: see @out), -ETIMEDOUT, -ECANCELED (the
 * abort deadline passed) or -EIO (refused, a TLS failure, ...).
 */
PRP_MUST_CHECK int http_post_send(struct http_post *p, const char *body, size_t len,
				  unsigned timeout_ms, struct http_post_result *out);

#endif
