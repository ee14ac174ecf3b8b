/*
 * One delivery attempt (webhooks_send.h). The extra headers were checked
 * when the hook was stored; they are checked again here, so that a row
 * changed behind the API's back can still not override what a receiver
 * verifies (a bad one is skipped, not sent).
 */
#include "aggregator/webhooks/webhooks_send.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/events/bus.h"
#include "aggregator/policy/deliver.h"
#include "aggregator/webhooks/webhooks_check.h"
#include "common/alloc.h"
#include "common/hmac.h"

/* the five of the delivery, the extra ones, and the terminator */
#define SEND_HEADERS_MAX (5 + WEBHOOKS_HEADERS_COUNT_MAX + 1)

/* Adds the hook's extra headers to @v from *@n on; each a string the caller frees. */
static void extra_headers(const struct store_webhook *h, char **v, size_t *n)
{
	json_t *o = h->headers ? json_loads(h->headers, 0, NULL) : NULL;
	const char *name;
	json_t *val;

	if (!json_is_object(o)) {
		json_decref(o);
		return;
	}
	json_object_foreach(o, name, val) {
		const char *s = json_string_value(val);

		if (*n == SEND_HEADERS_MAX - 1 || !s || !*s || webhooks_check_reserved(name) ||
		    strpbrk(name, ":\r\n") || strpbrk(s, "\r\n"))
			continue;
		v[(*n)++] = xasprintf("%s: %s", name, s);
	}
	json_decref(o);
}

int webhooks_send(const struct store_webhook *h, const struct store_webhook_delivery *d,
		  unsigned timeout_ms, const char *ca_file, int64_t now_ms,
		  struct webhooks_attempt *out)
{
	char *headers[SEND_HEADERS_MAX] = { NULL };
	char sig[HMAC_SHA256_HEX_LEN];
	struct deliver_response rs;
	size_t nh = 0;
	int err;

	out->status_code = 0;
	out->error[0] = '\0';
	if (!d->body) {
		snprintf(out->error, sizeof(out->error), "the delivery has no body");
		return -EIO;
	}
	headers[nh++] = xstrdup("Content-Type: application/json");
	headers[nh++] = xasprintf("X-Webhook-Event: %s", bus_type_name((enum bus_type)d->type));
	headers[nh++] = xasprintf("X-Webhook-ID: %lld", (long long)d->id);
	headers[nh++] = xasprintf("X-Webhook-Timestamp: %lld", (long long)(now_ms / 1000));
	if (h->secret && *h->secret) {
		if (hmac_sha256_hex(h->secret, strlen(h->secret), d->body, d->body_len, sig)) {
			snprintf(out->error, sizeof(out->error), "could not sign the body");
			err = -EIO;
			goto out_free;
		}
		headers[nh++] = xasprintf("X-Webhook-Signature: sha256=%s", sig);
	}
	extra_headers(h, headers, &nh);
	headers[nh] = NULL;

	deliver_response_init(&rs);
	err = deliver_http(&(struct deliver_request){ .method = "POST",
						      .url = h->url,
						      .headers = (const char *const *)headers,
						      .body = d->body,
						      .len = d->body_len,
						      .timeout_ms = timeout_ms,
						      .ca_file = ca_file },
			   &rs);
	out->status_code = (int)rs.status;
	if (err)
		snprintf(out->error, sizeof(out->error), "%s",
			 rs.error[0] ? rs.error : "no answer");
	else if (rs.status < 200 || rs.status > 299)
		snprintf(out->error, sizeof(out->error), "HTTP %ld", rs.status);
	err = !err && rs.status >= 200 && rs.status <= 299 ? 0 : -EIO;
	deliver_response_release(&rs);
out_free:
	for (size_t i = 0; i < nh; i++)
		free(headers[i]);
	return err;
}

int64_t webhooks_send_backoff_ms(unsigned attempts, unsigned base_ms, unsigned max_ms, double r)
{
	int64_t ms = base_ms ? base_ms : 1;

	/* doubling past the cap stops early: no shift ever overflows */
	for (unsigned i = 1; i < attempts && ms < (int64_t)max_ms; i++)
		ms *= 2;
	if (ms > (int64_t)max_ms)
		ms = max_ms;
	if (r < 0 || r >= 1)
		r = 0.5;
	ms = (int64_t)((double)ms * (0.8 + 0.4 * r));
	return ms > 0 ? ms : 1;
}
