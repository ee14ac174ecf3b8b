/*
 * Outgoing HTTP over libcurl, a fresh easy handle per request: actions are
 * rare (a few per minute at most, the engine's brake), so a connection
 * pool would only keep sockets open to alert receivers for nothing.
 */
#include "aggregator/policy/deliver.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/alloc.h"
#include "common/hmac.h"
#include "common/timeutil.h"

void deliver_response_init(struct deliver_response *rs)
{
	rs->status = 0;
	rs->error[0] = '\0';
	buf_init(&rs->body, DELIVER_BODY_MAX);
}

void deliver_response_release(struct deliver_response *rs)
{
	buf_release(&rs->body);
}

/* Keeps the answer up to its cap and reads the rest away: a long answer is not a failure. */
static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct buf *b = userdata;
	size_t room = b->max_bytes - b->len;

	if (room && buf_append(b, data, n < room ? n : room))
		return 0;
	return size * n;
}

/* The header list of @rq, plus "Expect:" (no 100-continue round trip); NULL when out of memory. */
static struct curl_slist *header_list(const struct deliver_request *rq)
{
	struct curl_slist *l = curl_slist_append(NULL, "Expect:"), *next;

	for (size_t i = 0; l && rq->headers && rq->headers[i]; i++) {
		next = curl_slist_append(l, rq->headers[i]);
		if (!next) {
			curl_slist_free_all(l);
			return NULL;
		}
		l = next;
	}
	return l;
}

int deliver_http(const struct deliver_request *rq, struct deliver_response *rs)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers;
	CURLcode rc = CURLE_OK;
	CURL *h;

	buf_reset(&rs->body);
	rs->status = 0;
	rs->error[0] = '\0';
	h = curl_easy_init();
	headers = h ? header_list(rq) : NULL;
	if (!headers) {
		if (h)
			curl_easy_cleanup(h);
		snprintf(rs->error, sizeof(rs->error), "libcurl could not start a request");
		return -EIO;
	}
	rc |= curl_easy_setopt(h, CURLOPT_URL, rq->url);
	rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
	rc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)rq->timeout_ms);
	rc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, &rs->body);
	rc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	rc |= curl_easy_setopt(h, CURLOPT_USERAGENT, "prp-aggregator/" PRP_VERSION);
	if (rq->ca_file)
		rc |= curl_easy_setopt(h, CURLOPT_CAINFO, rq->ca_file);
	if (rq->body) {
		rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
		rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
	}
	/* after POSTFIELDS, which would otherwise imply POST */
	rc |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
	else
		snprintf(rs->error, sizeof(rs->error), "%s",
			 *errbuf ? errbuf : curl_easy_strerror(rc));
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	return rc == CURLE_OK && rs->status ? 0 : -EIO;
}

/* A random (version 4) UUID: the delivery's id, which receivers may use to drop repeats. */
static void uuid4(char out[40])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		/* no entropy this early is not worth failing a delivery for: time and address */
		uint64_t t = time_real_ns(), p = (uint64_t)(uintptr_t)out;

		memcpy(b, &t, 8);
		memcpy(b + 8, &p, 8);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

/* One attempt; 0 on a 2xx. */
static int attempt(const struct deliver_webhook *w, const char *const *headers, const char *body,
		   struct deliver_webhook_result *out)
{
	struct deliver_request rq = {
		.method = "POST",
		.url = w->url,
		.headers = headers,
		.body = body,
		.len = strlen(body),
		.timeout_ms = w->timeout_ms ? w->timeout_ms : DELIVER_WEBHOOK_TIMEOUT_MS,
		.ca_file = w->ca_file,
	};
	struct deliver_response rs;
	int err;

	deliver_response_init(&rs);
	err = deliver_http(&rq, &rs);
	out->attempts++;
	out->status_code = rs.status;
	if (err)
		snprintf(out->error, sizeof(out->error), "%s", rs.error);
	else if (rs.status < 200 || rs.status > 299)
		snprintf(out->error, sizeof(out->error), "HTTP %ld", rs.status);
	else
		out->error[0] = '\0';
	deliver_response_release(&rs);
	return !err && rs.status >= 200 && rs.status <= 299 ? 0 : -EIO;
}

int deliver_webhook_send(const struct deliver_webhook *w, struct deliver_webhook_result *out)
{
	static const unsigned default_backoff_ms[DELIVER_WEBHOOK_ATTEMPTS - 1] = { 500, 1000 };
	char ts[TIME_ISO_LEN], sig[HMAC_SHA256_HEX_LEN];
	char *body, *h_event, *h_id, *h_ts, *h_sig = NULL;
	const char *headers[6];
	size_t nh = 0;
	json_t *o;
	int err = -EIO;

	memset(out, 0, sizeof(*out));
	if (!w->url || !w->event || !json_is_object(w->data))
		return -EINVAL;
	uuid4(out->delivery_id);
	time_format_iso(time_real_ns(), ts);
	o = json_pack("{s:s, s:s, s:O}", "event", w->event, "timestamp", ts, "data", w->data);
	body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!body)
		return -EINVAL;
	if (w->secret && *w->secret) {
		if (hmac_sha256_hex(w->secret, strlen(w->secret), body, strlen(body), sig)) {
			snprintf(out->error, sizeof(out->error), "could not sign the body");
			free(body);
			return -EIO;
		}
		h_sig = xasprintf("X-Webhook-Signature: sha256=%s", sig);
	}
	h_event = xasprintf("X-Webhook-Event: %s", w->event);
	h_id = xasprintf("X-Webhook-ID: %s", out->delivery_id);
	h_ts = xasprintf("X-Webhook-Timestamp: %s", ts);
	headers[nh++] = "Content-Type: application/json";
	headers[nh++] = h_event;
	headers[nh++] = h_id;
	headers[nh++] = h_ts;
	if (h_sig)
		headers[nh++] = h_sig;
	headers[nh] = NULL;
	for (unsigned i = 0; i < DELIVER_WEBHOOK_ATTEMPTS; i++) {
		if (i) {
			unsigned ms = w->backoff_ms[i - 1] ? w->backoff_ms[i - 1]
							   : default_backoff_ms[i - 1];

			time_sleep_ns((uint64_t)ms * NSEC_PER_MSEC);
		}
		err = attempt(w, headers, body, out);
		if (!err)
			break;
	}
	free(h_event);
	free(h_id);
	free(h_ts);
	free(h_sig);
	free(body);
	return err;
}
