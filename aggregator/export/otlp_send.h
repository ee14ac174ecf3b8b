/*
 * One OTLP/HTTP post over libcurl: POST the JSON body to the traces URL
 * with
 *
 *   Content-Type: application/json
 *   the configured extra headers ("Authorization: Bearer ...", an API key)
 *
 * on one easy handle kept between posts, so that the connection is reused
 * (keep-alive). Only http:// and https:// are spoken, redirects are not
 * followed, curl never uses signals, and a post can be cut short from
 * another thread by a deadline (the stop's), within 50 ms of it: the post
 * runs on a multi handle polled that often. The answer tells the caller
 * what to do next: its status, its Retry-After, and the spans a 2xx with a
 * partial success refused. The sender thread's alone; curl_global_init()
 * must have run.
 */
#ifndef PRP_AGGREGATOR_EXPORT_OTLP_SEND_H
#define PRP_AGGREGATOR_EXPORT_OTLP_SEND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/export/otlp.h"
#include "common/compiler.h"

/* What the sender is given; every string copied. */
struct otlp_send_config {
	const char *url; /* the traces URL, path included */
	/* extra headers, "Name: value" each, checked (otlp_headers_check()) */
	const char *const *headers;
	size_t nheaders;
	const char *ca_file; /* NULL or "": the system's */
	/* a post in flight is cut when CLOCK_MONOTONIC passes it (ns); 0: never. Borrowed */
	const _Atomic uint64_t *abort_at_ns;
};

struct otlp_send;

/* A sender (caller frees: otlp_send_free()), or NULL when libcurl cannot make a handle. */
struct otlp_send *otlp_send_new(const struct otlp_send_config *c);
/* Closes the connection, wipes the headers and frees. NULL does nothing. */
void otlp_send_free(struct otlp_send *s);

/* What one post came to. */
struct otlp_send_result {
	long status;		    /* the HTTP status; 0 when no answer came */
	int64_t retry_after_ms;	    /* the answer's Retry-After (seconds or a date); -1: none */
	uint64_t rejected_spans;    /* a 2xx's partialSuccess.rejectedSpans; 0: none */
	char error[OTLP_ERROR_MAX]; /* why, when not a 2xx: "HTTP 400: <the answer's start>",
				       curl's; a 2xx's partialSuccess.errorMessage */
};

/*
 * POSTs the @len bytes at @body, waiting at most @timeout_ms. Returns 0
 * when an answer came (any status: see @out), -ETIMEDOUT, -ECANCELED (the
 * abort deadline passed) or -EIO (refused, a TLS failure, ...).
 */
PRP_MUST_CHECK int otlp_send_post(struct otlp_send *s, const char *body, size_t len,
				  unsigned timeout_ms, struct otlp_send_result *out);

#endif
