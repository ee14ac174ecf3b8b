/*
 * The rules a webhook's fields follow (API.md, docs/webhooks.md), checked
 * by the API before anything is stored and again by webhooks.c, so that a
 * hook in the store is always one that can be sent to. Each check returns
 * 0, or -EINVAL with a message in @err that starts with the field's name
 * ("url: ..."), the way the API's 400 answers do. Pure; any thread.
 */
#ifndef PRP_AGGREGATOR_WEBHOOKS_WEBHOOKS_CHECK_H
#define PRP_AGGREGATOR_WEBHOOKS_WEBHOOKS_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"

/* Extra headers a hook may have, and their sizes. */
#define WEBHOOKS_HEADERS_COUNT_MAX 16
#define WEBHOOKS_HEADER_NAME_MAX   64
#define WEBHOOKS_HEADER_VALUE_MAX  1024

/*
 * An http:// or https:// URL (any case) with a host, at most
 * STORE_WEBHOOK_URL_MAX bytes, with no space, control character or
 * fragment, as libcurl parses it.
 */
PRP_MUST_CHECK int webhooks_check_url(const char *url, char *err, size_t errlen);

/*
 * A JSON object of extra headers: at most WEBHOOKS_HEADERS_COUNT_MAX, each
 * name an HTTP token of at most WEBHOOKS_HEADER_NAME_MAX characters that
 * is none of those the delivery sets itself (Content-Type, Content-Length,
 * Host, Transfer-Encoding, Connection, Expect, X-Webhook-*), each value a
 * string of 1 to WEBHOOKS_HEADER_VALUE_MAX bytes without CR, LF or NUL.
 */
PRP_MUST_CHECK int webhooks_check_headers(json_t *headers, char *err, size_t errlen);

/* True when @name is a header the delivery sets itself (any case). */
bool webhooks_check_reserved(const char *name);

/*
 * A list of event type names (aggregator/events/bus.h), or ["*"] for all,
 * into *mask (bits of enum bus_type; 0: all). Not empty; no name twice.
 */
PRP_MUST_CHECK int webhooks_check_events(json_t *events, unsigned *mask, char *err, size_t errlen);

#endif
