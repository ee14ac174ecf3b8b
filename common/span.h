/*
 * One HTTP span: a request a watched service served (a server span) or made
 * (a client span), with the ids that tie it into a distributed trace. The
 * agent fills it from what the kernel saw; the aggregator exports it (the
 * OTLP exporter, aggregator/export/otlp.h). The ids follow W3C Trace
 * Context: a 16-byte trace id and 8-byte span ids, never all zero; an all
 * zero parent id marks the trace's root span.
 *
 * The struct is a plain in-memory record, never put on the wire as it is
 * (STYLE.md §2): each string is NUL-terminated within its array. Pure
 * functions; any thread.
 */
#ifndef PRP_COMMON_SPAN_H
#define PRP_COMMON_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/window.h"
#include "common/window_wire.h"

#define SPAN_TRACE_ID_LEN 16
#define SPAN_ID_LEN	  8
/* The lowercase hex form of a trace id, and of a span id, terminator included. */
#define SPAN_TRACE_ID_HEX_LEN (2 * SPAN_TRACE_ID_LEN + 1)
#define SPAN_ID_HEX_LEN	      (2 * SPAN_ID_LEN + 1)

/* What the span's service did, numbered as OTLP's Span.SpanKind numbers it. */
enum span_kind {
	SPAN_KIND_SERVER = 2, /* it served the request */
	SPAN_KIND_CLIENT = 3, /* it made the request */
};

struct span {
	uint8_t trace_id[SPAN_TRACE_ID_LEN]; /* never all zero */
	uint8_t span_id[SPAN_ID_LEN];	     /* never all zero */
	uint8_t parent_span_id[SPAN_ID_LEN]; /* all zero: a root span */
	int64_t start_ns, end_ns;	     /* unix epoch ns, end >= start */
	uint8_t kind;			     /* enum span_kind */
	uint16_t status;		     /* HTTP status; 0 unknown */
	char service[SERVICE_NAME_MAX]; /* the service that served (server) or called (client) */
	char peer_service[SERVICE_NAME_MAX]; /* client spans: the callee's service, "" unknown */
	char method[WINDOW_METHOD_MAX];	     /* "GET"; "" unknown */
	char route[WINDOW_ROUTE_MAX];	     /* folded route, "/users/{id}"; "" unknown */
	char server_address[WINDOW_ADDRESS_MAX]; /* client spans: "127.0.0.1"; server spans: "" */
	uint16_t server_port;			 /* client spans: the callee's port; 0 unknown */
	char host[WINDOW_HOST_MAX];		 /* the agent's host */
};

/*
 * Fills @out with a new random trace id (getrandom(2), never all zero).
 * 0, or -errno when the kernel gives no random bytes (then @out is zero).
 */
PRP_MUST_CHECK int span_new_trace_id(uint8_t out[SPAN_TRACE_ID_LEN]);
/* As span_new_trace_id(), a span id. */
PRP_MUST_CHECK int span_new_span_id(uint8_t out[SPAN_ID_LEN]);

/* True when the @n bytes at @id are all zero (an invalid id, or "no parent"). */
bool span_id_is_zero(const uint8_t *id, size_t n);
/* True for a root span: its parent id is all zero. */
bool span_is_root(const struct span *s);

/*
 * Writes the @n bytes at @id as 2 * @n lowercase hex digits and a
 * terminator to @out (room for 2 * @n + 1). Returns @out.
 */
char *span_hex(const uint8_t *id, size_t n, char *out);
/*
 * Parses exactly 2 * @n hex digits (either case) of @hex into @out: 0, or
 * -EINVAL for another length or a non-hex character (@out then unchanged).
 */
PRP_MUST_CHECK int span_unhex(const char *hex, uint8_t *out, size_t n);

#endif
