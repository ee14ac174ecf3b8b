/*
 * One attempt of a webhook delivery (API.md "Webhook delivery"): POST the
 * delivery's body, as kept, to the hook's URL with
 *
 *   Content-Type: application/json
 *   X-Webhook-Event: the event type
 *   X-Webhook-ID: the delivery id (the same on every attempt: receivers
 *                 drop repeats by it)
 *   X-Webhook-Timestamp: unix seconds of this attempt
 *   X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, the body bytes)>
 *                 (with a secret)
 *
 * plus the hook's extra headers, over libcurl (aggregator/policy/deliver.h:
 * no redirects, http and https only, a bound on time). And the pause
 * before the next attempt. Any thread; curl_global_init() must have run.
 */
#ifndef PRP_AGGREGATOR_WEBHOOKS_WEBHOOKS_SEND_H
#define PRP_AGGREGATOR_WEBHOOKS_WEBHOOKS_SEND_H

#include <stdbool.h>
#include <stdint.h>

#include "aggregator/store/store.h"
#include "common/compiler.h"

/* What one attempt came to. */
struct webhooks_attempt {
	int status_code;		     /* the answer's HTTP status; 0 when none came */
	char error[STORE_WEBHOOK_ERROR_MAX]; /* why it failed ("HTTP 500", curl's message); "" on a
						2xx */
};

/*
 * Sends delivery @d (its body read) to hook @h at @now_ms, waiting at most
 * @timeout_ms; @ca_file as in struct deliver_request (NULL: the system's).
 * Returns 0 on a 2xx answer, -EIO otherwise (@out says why).
 */
PRP_MUST_CHECK int webhooks_send(const struct store_webhook *h,
				 const struct store_webhook_delivery *d, unsigned timeout_ms,
				 const char *ca_file, int64_t now_ms, struct webhooks_attempt *out);

/*
 * The pause after the @attempts-th failed attempt (>= 1): @base_ms doubled
 * for each attempt after the first, at most @max_ms, then scaled by a
 * factor in [0.8, 1.2) drawn from @r in [0, 1) (the jitter that keeps
 * hooks failing together from retrying together).
 */
int64_t webhooks_send_backoff_ms(unsigned attempts, unsigned base_ms, unsigned max_ms, double r);

#endif
