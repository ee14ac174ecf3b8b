/*
 * What the OTLP exporter sends (docs/otlp.md): the OTLP/HTTP JSON body of
 * one post, an ExportTraceServiceRequest in the OTLP JSON encoding
 * (lowerCamelCase keys, ids in lowercase hex, enums as numbers, 64-bit
 * integers as decimal strings, fields at their default left out):
 *
 *   {"resourceSpans":[{"resource":{"attributes":[
 *        {"key":"service.name","value":{"stringValue":"orders"}},
 *        {"key":"host.name","value":{"stringValue":"web-1"}}]},
 *      "scopeSpans":[{"scope":{"name":"prp-agent","version":"1.2.0"},
 *        "spans":[{"traceId":"5b8e...","spanId":"6e0c...","name":"GET /users/{id}",
 *                  "kind":2,"startTimeUnixNano":"1700000000000000000",...}]}]}]}
 *
 * one resourceSpans per (tenant, service, host), its spans in the order
 * they were queued, with the attribute names of the OpenTelemetry HTTP
 * semantic conventions. Pure functions; any thread.
 */
#ifndef PRP_AGGREGATOR_EXPORT_OTLP_FORMAT_H
#define PRP_AGGREGATOR_EXPORT_OTLP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/frame.h"
#include "common/span.h"

#define OTLP_FORMAT_SCOPE_NAME "prp-agent"
/* service.name of a span that has none: the OpenTelemetry SDKs' own fallback */
#define OTLP_FORMAT_UNKNOWN_SERVICE "unknown_service"
/* the longest span name: a method, a space and a route */
#define OTLP_FORMAT_NAME_MAX (WINDOW_METHOD_MAX + WINDOW_ROUTE_MAX + 8)

/* One queued span and the tenant it came from. */
struct otlp_item {
	uint64_t mono_ns;	   /* when it was queued (CLOCK_MONOTONIC) */
	uint64_t seq;		   /* queue order: the order within a resource */
	char tenant[FRAME_ID_MAX]; /* never "": "default" */
	struct span span;	   /* its strings terminated within their arrays */
};

/*
 * The span's name, as the HTTP semantic conventions build it: "METHOD
 * route" ("GET /users/{id}"), "METHOD" without a route, "HTTP" for a
 * method that is not one of HTTP's (RFC 9110's and PATCH). Into @out
 * (room for OTLP_FORMAT_NAME_MAX); returns @out.
 */
char *otlp_format_span_name(const struct span *s, char *out);

/*
 * Appends the body of the @n items @v (borrowed; reordered in place by
 * tenant, service, host and queue order) to @b. 0, or -E2BIG when @b's
 * cap is passed (@b then holds a part).
 */
PRP_MUST_CHECK int otlp_format_body(struct buf *b, struct otlp_item **v, size_t n);

#endif
