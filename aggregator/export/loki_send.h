/*
 * One push to Loki over libcurl: POST the body to the push URL with
 *
 *   Content-Type: application/json
 *   X-Scope-OrgID: the tenant (when configured)
 *   Authorization: Basic (username and password) or Bearer (a token)
 *
 * on one handle kept between pushes, so that the connection is reused
 * (keep-alive). Only http:// and https:// are spoken, redirects are not
 * followed, curl never uses signals, and a push in flight is cut short
 * within POLL_MS (50 ms) of a deadline another thread sets (the stop's).
 * The sender thread's alone; curl_global_init() must have run.
 */
#ifndef PRP_AGGREGATOR_EXPORT_LOKI_SEND_H
#define PRP_AGGREGATOR_EXPORT_LOKI_SEND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/export/loki.h"
#include "common/compiler.h"

/* What the sender is given; every string copied. */
struct loki_send_config {
	const char *url;	  /* the push URL, path included */
	const char *tenant;	  /* NULL or "": no X-Scope-OrgID */
	const char *username;	  /* NULL or "": no basic auth */
	const char *password;	  /* with username */
	const char *bearer_token; /* NULL or "": none */
	const char *ca_file;	  /* NULL or "": the system's */
	/* a push in flight is cut when CLOCK_MONOTONIC passes it (ns); 0: never. Borrowed */
	const _Atomic uint64_t *abort_at_ns;
};

struct loki_send;

/* A sender (caller frees: loki_send_free()), or NULL when libcurl cannot make a handle. */
struct loki_send *loki_send_new(const struct loki_send_config *c);
/* Closes the connection, wipes the secrets and frees. NULL does nothing. */
void loki_send_free(struct loki_send *s);

/* What one push came to. */
struct loki_send_result {
	long status; /* the HTTP status; 0 when no answer came */
	/* why, when not a 2xx: "HTTP 400: <the answer's start>", or curl's message */
	char error[LOKI_ERROR_MAX];
};

/*
 * POSTs the @len bytes at @body, waiting at most @timeout_ms. Returns 0
 * when an answer came (any status: see @out), -ETIMEDOUT, -ECANCELED (the
 * abort deadline passed) or -EIO (refused, a TLS failure, ...).
 */
PRP_MUST_CHECK int loki_send_post(struct loki_send *s, const char *body, size_t len,
				  unsigned timeout_ms, struct loki_send_result *out);

#endif
