/*
 * Checks of a webhook's fields (webhooks_check.h). URLs are parsed by
 * libcurl's own URL parser, the one that will send to them, so a URL that
 * passes here is one curl understands the same way.
 */
#include "aggregator/webhooks/webhooks_check.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aggregator/events/bus.h"
#include "aggregator/store/store.h"

int webhooks_check_url(const char *url, char *err, size_t errlen)
{
	char *scheme = NULL, *host = NULL;
	size_t n = url ? strnlen(url, STORE_WEBHOOK_URL_MAX + 1) : 0;
	int ret = -EINVAL;
	CURLU *u;

	if (!n) {
		snprintf(err, errlen, "url: required");
		return -EINVAL;
	}
	if (n > STORE_WEBHOOK_URL_MAX) {
		snprintf(err, errlen, "url: longer than %d characters", STORE_WEBHOOK_URL_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= ' ' || c == 0x7f) {
			snprintf(err, errlen, "url: a space or control character at offset %zu", i);
			return -EINVAL;
		}
	}
	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
		snprintf(err, errlen, "url: only http:// and https:// URLs");
		return -EINVAL;
	}
	if (strchr("/?@", url[strcspn(url, ":") + 3]) || url[strcspn(url, ":") + 3] == '\0') {
		/* curl would take "http:///x" as the host x */
		snprintf(err, errlen, "url: a host is required");
		return -EINVAL;
	}
	if (strchr(url, '#')) {
		snprintf(err, errlen, "url: a fragment (#) is never sent; leave it out");
		return -EINVAL;
	}
	u = curl_url();
	if (!u) {
		snprintf(err, errlen, "url: cannot be parsed now");
		return -ENOMEM;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		snprintf(err, errlen, "url: not a valid URL");
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		 (strcmp(scheme, "http") && strcmp(scheme, "https")))
		snprintf(err, errlen, "url: only http:// and https:// URLs");
	else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0])
		snprintf(err, errlen, "url: a host is required");
	else
		ret = 0;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ret;
}

bool webhooks_check_reserved(const char *name)
{
	static const char *const reserved[] = { "content-type",	     "content-length", "host",
						"transfer-encoding", "connection",     "expect" };

	if (!strncasecmp(name, "x-webhook-", 10))
		return true;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (!strcasecmp(name, reserved[i]))
			return true;
	return false;
}

/* An HTTP token (RFC 9110 tchar): letters, digits and !#$%&'*+-.^_`|~ */
static bool is_token(const char *s)
{
	size_t n = strlen(s);

	return n && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			      "!#$%&'*+-.^_`|~") == n;
}

int webhooks_check_headers(json_t *headers, char *err, size_t errlen)
{
	const char *name;
	json_t *v;

	if (!json_is_object(headers)) {
		snprintf(err, errlen, "headers: an object of header names to string values");
		return -EINVAL;
	}
	if (json_object_size(headers) > WEBHOOKS_HEADERS_COUNT_MAX) {
		snprintf(err, errlen, "headers: at most %d", WEBHOOKS_HEADERS_COUNT_MAX);
		return -EINVAL;
	}
	json_object_foreach(headers, name, v) {
		const char *value = json_string_value(v);
		size_t len = json_string_length(v);

		if (strlen(name) > WEBHOOKS_HEADER_NAME_MAX || !is_token(name)) {
			snprintf(err, errlen, "headers: '%.64s' is not a header name", name);
			return -EINVAL;
		}
		if (webhooks_check_reserved(name)) {
			snprintf(err, errlen,
				 "headers.%s: set by every delivery; it cannot be changed", name);
			return -EINVAL;
		}
		if (!value || !len || len > WEBHOOKS_HEADER_VALUE_MAX || strlen(value) != len ||
		    strpbrk(value, "\r\n")) {
			snprintf(err, errlen,
				 "headers.%s: a string of 1 to %d characters, on one line", name,
				 WEBHOOKS_HEADER_VALUE_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

int webhooks_check_events(json_t *events, unsigned *mask, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	*mask = 0;
	if (!json_is_array(events) || !json_array_size(events)) {
		snprintf(err, errlen, "events: a non-empty list of event types, or [\"*\"]");
		return -EINVAL;
	}
	json_array_foreach(events, i, v) {
		const char *name = json_string_value(v);
		int t = bus_type_find(name);

		if (name && !strcmp(name, "*")) {
			if (json_array_size(events) != 1) {
				snprintf(err, errlen, "events: \"*\" stands alone");
				return -EINVAL;
			}
			return 0;
		}
		if (t < 0) {
			snprintf(err, errlen, "events[%zu]: '%.64s' is not an event type", i,
				 name ? name : "(not a string)");
			return -EINVAL;
		}
		if (*mask & (1u << t)) {
			snprintf(err, errlen, "events[%zu]: '%s' is listed twice", i, name);
			*mask = 0;
			return -EINVAL;
		}
		*mask |= 1u << t;
	}
	return 0;
}
