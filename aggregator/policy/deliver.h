/*
 * Outgoing HTTP for the executor, over libcurl: one request with a bound
 * on time and on the answer's size (the Kubernetes scale calls), and the
 * signed webhook delivery of API.md "Webhook delivery" with its retries
 * (alert and webhook actions).
 *
 * Only http:// and https:// are spoken, redirects are not followed (a
 * signed body must reach the URL that was configured), and curl never
 * uses signals (CURLOPT_NOSIGNAL). curl_global_init() must have run before
 * the first call (executor_start() does it). Threads: any.
 */
#ifndef PRP_AGGREGATOR_POLICY_DELIVER_H
#define PRP_AGGREGATOR_POLICY_DELIVER_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/compiler.h"

#define DELIVER_BODY_MAX  (64u << 10) /* an answer's bytes kept; the rest is read and dropped */
#define DELIVER_ERROR_MAX 256

struct deliver_request {
	const char *method; /* "GET", "POST", "PATCH" */
	const char *url;
	const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
	const char *body;	    /* may be NULL: none */
	size_t len;
	unsigned timeout_ms; /* the whole request, connect included */
	const char *ca_file; /* PEM bundle to check https with; NULL: the system's */
};

struct deliver_response {
	long status;		       /* the HTTP status; 0 when no answer came */
	struct buf body;	       /* up to DELIVER_BODY_MAX bytes of the answer */
	char error[DELIVER_ERROR_MAX]; /* why no answer came, when status is 0 */
};

void deliver_response_init(struct deliver_response *rs);
void deliver_response_release(struct deliver_response *rs);

/*
 * Sends @rq. Returns 0 when an HTTP answer came, whatever its status (in
 * rs->status), or -EIO with rs->error (refused, timed out, a TLS failure).
 */
PRP_MUST_CHECK int deliver_http(const struct deliver_request *rq, struct deliver_response *rs);

#define DELIVER_WEBHOOK_ATTEMPTS   3
#define DELIVER_WEBHOOK_TIMEOUT_MS 5000 /* per attempt */

struct deliver_webhook {
	const char *url;
	const char *secret; /* NULL or "": unsigned */
	const char *event;  /* "alert", "action.executed", ... */
	json_t *data;	    /* borrowed: the body's "data" */
	/* the pauses before attempts 2 and 3; 0: 500 and 1000 ms */
	unsigned backoff_ms[DELIVER_WEBHOOK_ATTEMPTS - 1];
	unsigned timeout_ms; /* per attempt; 0: DELIVER_WEBHOOK_TIMEOUT_MS */
	const char *ca_file; /* as in struct deliver_request */
};

struct deliver_webhook_result {
	long status_code; /* the last answer's status; 0 when none came */
	unsigned attempts;
	char delivery_id[40];	       /* X-Webhook-ID, the same on every attempt */
	char error[DELIVER_ERROR_MAX]; /* the last failure, when not delivered */
};

/*
 * POSTs {"event", "timestamp", "data"} (compact, keys sorted) to w->url
 * with Content-Type, X-Webhook-Event, X-Webhook-ID, X-Webhook-Timestamp
 * (the body's timestamp) and, with a secret, X-Webhook-Signature:
 * sha256=<hex HMAC-SHA256(secret, the exact body bytes)>; the same bytes
 * on every attempt. Up to DELIVER_WEBHOOK_ATTEMPTS attempts until a 2xx.
 * Returns 0 when delivered, -EIO when every attempt failed (@out says
 * why), -EINVAL for bad arguments.
 */
PRP_MUST_CHECK int deliver_webhook_send(const struct deliver_webhook *w,
					struct deliver_webhook_result *out);

#endif
