/*
 * The OTLP/HTTP JSON body (otlp_format.h), written straight into a buffer:
 * a batch is hundreds of spans, and a jansson tree of them would cost a
 * dozen allocations a span for a shape that never changes.
 *
 * The encoding is the OTLP spec's "JSON Protobuf Encoding": the proto3
 * JSON mapping with lowerCamelCase keys, except that trace and span ids are
 * hex (not base64) and enums are numbers. 64-bit integers (fixed64 times,
 * int64 attribute values) are decimal strings, as the mapping prints them:
 * a JSON number would lose digits past 2^53 in a JavaScript receiver.
 * Fields at their default (an empty parent id, status UNSET, an empty
 * list) are left out, as a proto3 printer leaves them out.
 *
 * Strings come from the kernel's view of a request and may hold any bytes:
 * every byte that is not part of valid UTF-8 becomes U+FFFD, so the body is
 * always valid JSON.
 */
#include "aggregator/export/otlp_format.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

/* HTTP's methods, RFC 9110's and PATCH (RFC 5789): the conventions' known ones. */
static const char *const known_methods[] = { "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS",
					     "PATCH",	"POST",	  "PUT", "TRACE" };

static bool method_known(const char *m)
{
	for (size_t i = 0; i < PRP_ARRAY_SIZE(known_methods); i++)
		if (!strcmp(m, known_methods[i]))
			return true;
	return false;
}

char *otlp_format_span_name(const struct span *s, char *out)
{
	const char *method = method_known(s->method) ? s->method : "HTTP";

	if (s->route[0])
		snprintf(out, OTLP_FORMAT_NAME_MAX, "%s %s", method, s->route);
	else
		snprintf(out, OTLP_FORMAT_NAME_MAX, "%s", method);
	return out;
}

/* Appends the first @n bytes of @s as a JSON string, bad UTF-8 as U+FFFD. */
static int put_str_n(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;
	int err = buf_append(b, "\"", 1);

	while (!err && i < n) {
		unsigned char c = p[i];
		size_t len = c >= 0x20 && c != '"' && c != '\\' ? utf8_char_len(p + i, n - i) : 0;
		char esc[8];

		if (len) {
			i += len;
			continue;
		}
		err = buf_append(b, s + run, i - run);
		if (!err && c == '"')
			err = buf_append(b, "\\\"", 2);
		else if (!err && c == '\\')
			err = buf_append(b, "\\\\", 2);
		else if (!err && c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			err = buf_append(b, esc, 6);
		} else if (!err) {
			err = buf_append(b, UTF8_REPLACEMENT, UTF8_REPLACEMENT_LEN);
		}
		run = ++i;
	}
	if (!err)
		err = buf_append(b, s + run, n - run);
	return err ? err : buf_append(b, "\"", 1);
}

/* A string of an array of @max bytes, terminated within it (otlp_item's invariant). */
static int put_str(struct buf *b, const char *s, size_t max)
{
	return put_str_n(b, s, strnlen(s, max));
}

/* Appends "," unless *@first, which it clears. */
static int put_sep(struct buf *b, bool *first)
{
	if (*first) {
		*first = false;
		return 0;
	}
	return buf_append(b, ",", 1);
}

/* {"key":"@key","value":{"stringValue":...}} */
static int put_attr_str(struct buf *b, bool *first, const char *key, const char *value, size_t max)
{
	int err = put_sep(b, first);

	if (!err)
		err = buf_appendf(b, "{\"key\":\"%s\",\"value\":{\"stringValue\":", key);
	if (!err)
		err = put_str(b, value, max);
	return err ? err : buf_append_str(b, "}}");
}

/* {"key":"@key","value":{"intValue":"@value"}}: int64 is a string in the JSON mapping */
static int put_attr_int(struct buf *b, bool *first, const char *key, long long value)
{
	int err = put_sep(b, first);

	return err ? err
		   : buf_appendf(b, "{\"key\":\"%s\",\"value\":{\"intValue\":\"%lld\"}}", key,
				 value);
}

/* The span's attributes, by the HTTP semantic conventions (docs/otlp.md lists them). */
static int put_span_attrs(struct buf *b, const struct span *s)
{
	bool first = true, known = method_known(s->method), client = s->kind == SPAN_KIND_CLIENT;
	char code[8];
	int err = buf_append_str(b, ",\"attributes\":[");

	/* a method the conventions do not know is "_OTHER", with the original beside it */
	if (!err)
		err = put_attr_str(b, &first, "http.request.method", known ? s->method : "_OTHER",
				   sizeof(s->method));
	if (!err && !known && s->method[0])
		err = put_attr_str(b, &first, "http.request.method_original", s->method,
				   sizeof(s->method));
	/* the route a server matched is http.route; the one a client called, url.template */
	if (!err && s->route[0])
		err = put_attr_str(b, &first, client ? "url.template" : "http.route", s->route,
				   sizeof(s->route));
	if (!err && s->status)
		err = put_attr_int(b, &first, "http.response.status_code", s->status);
	if (!err && client && s->server_address[0])
		err = put_attr_str(b, &first, "server.address", s->server_address,
				   sizeof(s->server_address));
	if (!err && client && s->server_port)
		err = put_attr_int(b, &first, "server.port", s->server_port);
	if (!err && client && s->peer_service[0])
		err = put_attr_str(b, &first, "peer.service", s->peer_service,
				   sizeof(s->peer_service));
	/* the conventions' error.type of a failed request is its status code */
	if (!err && s->status >= 500) {
		snprintf(code, sizeof(code), "%u", (unsigned)s->status);
		err = put_attr_str(b, &first, "error.type", code, sizeof(code));
	}
	return err ? err : buf_append(b, "]", 1);
}

static int put_span(struct buf *b, const struct span *s)
{
	char trace[SPAN_TRACE_ID_HEX_LEN], id[SPAN_ID_HEX_LEN], parent[SPAN_ID_HEX_LEN];
	char name[OTLP_FORMAT_NAME_MAX];
	int err;

	span_hex(s->trace_id, sizeof(s->trace_id), trace);
	span_hex(s->span_id, sizeof(s->span_id), id);
	err = buf_appendf(b, "{\"traceId\":\"%s\",\"spanId\":\"%s\"", trace, id);
	if (!err && !span_is_root(s))
		err = buf_appendf(b, ",\"parentSpanId\":\"%s\"",
				  span_hex(s->parent_span_id, sizeof(s->parent_span_id), parent));
	if (!err)
		err = buf_append_str(b, ",\"name\":");
	if (!err)
		err = put_str(b, otlp_format_span_name(s, name), sizeof(name));
	if (!err)
		err = buf_appendf(b,
				  ",\"kind\":%u,\"startTimeUnixNano\":\"%lld\","
				  "\"endTimeUnixNano\":\"%lld\"",
				  (unsigned)s->kind, (long long)s->start_ns, (long long)s->end_ns);
	if (!err)
		err = put_span_attrs(b, s);
	/* STATUS_CODE_ERROR for a 5xx; otherwise UNSET, the default, left out */
	if (!err && s->status >= 500)
		err = buf_append_str(b, ",\"status\":{\"code\":2}");
	return err ? err : buf_append(b, "}", 1);
}

/* The resource: service.name, host.name and, outside the default tenant, prp.tenant. */
static int put_resource(struct buf *b, const struct otlp_item *it)
{
	const char *service = it->span.service[0] ? it->span.service : OTLP_FORMAT_UNKNOWN_SERVICE;
	bool first = true;
	int err = buf_append_str(b, "{\"resource\":{\"attributes\":[");

	if (!err)
		err = put_attr_str(b, &first, "service.name", service, SERVICE_NAME_MAX);
	if (!err && it->span.host[0])
		err = put_attr_str(b, &first, "host.name", it->span.host, sizeof(it->span.host));
	if (!err && strcmp(it->tenant, "default"))
		err = put_attr_str(b, &first, "prp.tenant", it->tenant, sizeof(it->tenant));
	if (!err)
		err = buf_append_str(
			b, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"" OTLP_FORMAT_SCOPE_NAME
			   "\",\"version\":");
	if (!err)
		err = put_str(b, PRP_VERSION, sizeof(PRP_VERSION));
	return err ? err : buf_append_str(b, "},\"spans\":[");
}

/* Orders by resource (tenant, service, host), then by queue order. */
static int cmp_resource(const struct otlp_item *a, const struct otlp_item *b)
{
	int c = strcmp(a->tenant, b->tenant);

	if (!c)
		c = strcmp(a->span.service, b->span.service);
	return c ? c : strcmp(a->span.host, b->span.host);
}

static int cmp_item(const void *pa, const void *pb)
{
	const struct otlp_item *a = *(struct otlp_item *const *)pa;
	const struct otlp_item *b = *(struct otlp_item *const *)pb;
	int c = cmp_resource(a, b);

	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int otlp_format_body(struct buf *b, struct otlp_item **v, size_t n)
{
	int err = buf_append_str(b, "{\"resourceSpans\":[");

	qsort(v, n, sizeof(*v), cmp_item);
	for (size_t i = 0; !err && i < n; i++) {
		bool opens = !i || cmp_resource(v[i - 1], v[i]);

		if (opens && i)
			err = buf_append_str(b, "]}]},");
		else if (!opens)
			err = buf_append(b, ",", 1);
		if (!err && opens)
			err = put_resource(b, v[i]);
		if (!err)
			err = put_span(b, &v[i]->span);
	}
	if (!err && n)
		err = buf_append_str(b, "]}]}");
	return err ? err : buf_append_str(b, "]}");
}
