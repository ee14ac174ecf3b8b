/*
 * The OTLP trace exporter (aggregator/export/otlp.c, otlp_format.c,
 * otlp_headers.c, http_post.c) against a collector stand-in on 127.0.0.1
 * (tests/lib/http_sink): spans pushed arrive as POST /v1/traces,
 * Content-Type application/json, and every body is checked by
 * OpenTelemetry's own protobuf schema (tests/node/otlp_check.mjs, which
 * these tests also prove strict by feeding it broken bodies). Then what the
 * body says (names, kinds, the HTTP semantic conventions' attributes,
 * parent links, one resource per tenant, service and host), the sampling
 * (by trace id, whole traces, errors and slow spans always), and the
 * failures: a 5xx retried once and delivered once, a 400 dropped and
 * counted, Retry-After honoured, a dead or hung collector never making a
 * caller wait, the queue kept at its bound, and the stop's flush.
 *
 * Node and the npm packages of tests/node are needed: tests/node/install.sh
 * installs the packages; without node or npm these tests fail, saying so.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aggregator/export/otlp.h"
#include "aggregator/export/otlp_format.h"
#include "aggregator/export/otlp_headers.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/span.h"
#include "common/timeutil.h"
#include "tests/lib/http_sink.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/otel_check.h"
#include "tests/lib/repo.h"
#include "tests/lib/rng.h"

TestSuite(otlp, .fini = test_no_leaks, .timeout = 60);

#define T0_NS 1700000000123456789LL /* the spans' start: an instant past 2^53 ns */

/* ---- spans ---- */

static void put_be(uint8_t *p, size_t n, uint64_t v)
{
	for (size_t i = n; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
}

/*
 * A span of trace @trace (its first and last 8 bytes both @trace), id @id,
 * parent @parent (0: a root), @ms long.
 */
static struct span mkspan(uint64_t trace, uint64_t id, uint64_t parent, uint8_t kind,
			  const char *service, const char *method, const char *route,
			  uint16_t status, int64_t ms)
{
	struct span s = { 0 };

	put_be(s.trace_id, 8, trace);
	put_be(s.trace_id + 8, 8, trace);
	put_be(s.span_id, 8, id);
	put_be(s.parent_span_id, 8, parent);
	s.kind = kind;
	s.status = status;
	s.start_ns = T0_NS + (int64_t)id * 1000;
	s.end_ns = s.start_ns + ms * (int64_t)NSEC_PER_MSEC;
	snprintf(s.service, sizeof(s.service), "%s", service);
	snprintf(s.method, sizeof(s.method), "%s", method);
	snprintf(s.route, sizeof(s.route), "%s", route);
	snprintf(s.host, sizeof(s.host), "web-1");
	return s;
}

/* A client span: @s made to @peer at 127.0.0.1:@port. */
static struct span to_peer(struct span s, const char *peer, uint16_t port)
{
	snprintf(s.peer_service, sizeof(s.peer_service), "%s", peer);
	snprintf(s.server_address, sizeof(s.server_address), "127.0.0.1");
	s.server_port = port;
	return s;
}

static char *hex8(uint64_t v, char out[SPAN_ID_HEX_LEN])
{
	uint8_t b[8];

	put_be(b, 8, v);
	return span_hex(b, 8, out);
}

/* ---- the exporter ---- */

static char url[64];

/* A config for a collector on @port: every trace kept, fast flushes and retries. */
static struct otlp_config conf(unsigned port)
{
	struct otlp_config c;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	otlp_config_default(&c);
	c.url = url;
	c.sample_rate = 1;
	c.flush_interval_ms = 20;
	c.backoff_ms = 10;
	c.backoff_max_ms = 50;
	c.timeout_ms = 5000;
	c.stop_flush_ms = 5000;
	return c;
}

static struct otlp *start(const struct otlp_config *c)
{
	struct otlp *o = NULL;

	cr_assert_eq(otlp_start(&o, c), 0);
	cr_assert_not_null(o);
	return o;
}

static void push(struct otlp *o, const char *tenant, struct span s)
{
	cr_assert_eq(otlp_push_span(o, tenant, &s), 0);
}

/* Waits up to @ms for @s to have @n requests. */
static void wait_requests(struct http_sink *s, size_t n, int ms)
{
	for (int i = 0; i < ms && http_sink_count(s) < n; i++)
		time_sleep_ns(NSEC_PER_MSEC);
	cr_assert_geq(http_sink_count(s), n, "%zu requests, not %zu, after %d ms",
		      http_sink_count(s), n, ms);
}

/*
 * Waits up to 5 s for every span of @o to be sent or dropped (the sink
 * counts a request before it answers it), then fills @st.
 */
static void wait_settled(struct otlp *o, struct otlp_stats *st)
{
	for (int i = 0; i < 5000; i++) {
		otlp_stats(o, st);
		if (!st->queued && !st->in_flight)
			return;
		time_sleep_ns(NSEC_PER_MSEC);
	}
	cr_assert_fail("%llu spans queued, %llu in flight after 5 s",
		       (unsigned long long)st->queued, (unsigned long long)st->in_flight);
}

/* received == sampled_out + sent + dropped + queued + in_flight, and dropped_total is the sum. */
static void assert_balanced(const struct otlp_stats *st)
{
	uint64_t d = 0;

	for (int i = 0; i < OTLP_DROP_COUNT; i++)
		d += st->dropped[i];
	cr_assert_eq(d, st->dropped_total);
	cr_assert_eq(st->received,
		     st->sampled_out + st->sent + st->dropped_total + st->queued + st->in_flight);
}

/* A port nothing listens on (bound, then closed: the kernel gives it out again rarely). */
static unsigned dead_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* ---- the OpenTelemetry checker (tests/lib/otel_check.h) ---- */

static void assert_otel_valid(const char *body)
{
	char msg[4096];

	cr_assert_eq(otel_check(body, msg, sizeof(msg)), 0,
		     "OpenTelemetry's schema refuses the body: %s\nbody: %.2000s", msg, body);
}

static void assert_otel_rejects(const char *body, const char *why)
{
	char msg[4096];

	cr_assert_eq(otel_check(body, msg, sizeof(msg)), 1, "the checker took a broken body: %s",
		     body);
	cr_assert_not_null(strstr(msg, why), "the checker refused it, but not for '%s': %s", why,
			   msg);
}

/* ---- reading what the collector got ---- */

/* The value of attribute @key in the list @attrs ({"stringValue": ...}), or NULL. */
static json_t *attr(json_t *attrs, const char *key)
{
	size_t i;
	json_t *kv;

	json_array_foreach(attrs, i, kv) {
		if (!strcmp(json_string_value(json_object_get(kv, "key")), key))
			return json_object_get(kv, "value");
	}
	return NULL;
}

static const char *attr_str(json_t *attrs, const char *key)
{
	json_t *v = attr(attrs, key);

	cr_assert_not_null(v, "no attribute %s", key);
	cr_assert_eq(json_object_size(v), 1);
	cr_assert(json_is_string(json_object_get(v, "stringValue")), "%s is not a string", key);
	return json_string_value(json_object_get(v, "stringValue"));
}

/* An int attribute: OTLP JSON writes int64 as a decimal string. */
static const char *attr_int(json_t *attrs, const char *key)
{
	json_t *v = attr(attrs, key);

	cr_assert_not_null(v, "no attribute %s", key);
	cr_assert_eq(json_object_size(v), 1);
	cr_assert(json_is_string(json_object_get(v, "intValue")), "%s is not an intValue string",
		  key);
	return json_string_value(json_object_get(v, "intValue"));
}

/* Request @i's body, checked by OpenTelemetry's schema and parsed (caller: json_decref()). */
static json_t *body_of(struct http_sink *s, size_t i)
{
	char *head, *body;
	json_t *doc;

	cr_assert(http_sink_get(s, i, &head, &body));
	cr_assert_not_null(strstr(head, "POST /v1/traces HTTP/1.1\r\n"), "%s", head);
	{
		char *ct = http_sink_header(head, "Content-Type");

		cr_assert_str_eq(ct ? ct : "", "application/json");
		free(ct);
	}
	assert_otel_valid(body);
	doc = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
	cr_assert_not_null(doc);
	free(head);
	free(body);
	return doc;
}

/*
 * Every span of every request of @s, in order, as
 * {"span": the span, "service", "host", "tenant" (or null), "resource": its attributes}.
 */
static json_t *all_spans(struct http_sink *s)
{
	json_t *out = json_array();

	for (size_t r = 0; r < http_sink_count(s); r++) {
		json_t *doc = body_of(s, r), *rs, *ss, *sp;
		size_t i, j, k;

		json_array_foreach(json_object_get(doc, "resourceSpans"), i, rs) {
			json_t *ra = json_object_get(json_object_get(rs, "resource"), "attributes");
			json_t *tenant = attr(ra, "prp.tenant");

			json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss) {
				json_array_foreach(json_object_get(ss, "spans"), k, sp) {
					json_array_append_new(
						out,
						json_pack("{s:O, s:s, s:s, s:O, s:O}", "span", sp,
							  "service", attr_str(ra, "service.name"),
							  "host", attr_str(ra, "host.name"),
							  "tenant",
							  tenant ? json_object_get(tenant,
										   "stringValue")
								 : json_null(),
							  "resource", ra));
				}
			}
		}
		json_decref(doc);
	}
	return out;
}

/* The entry of all_spans() whose span id is @id, or a failure. */
static json_t *span_by_id(json_t *spans, uint64_t id)
{
	char hex[SPAN_ID_HEX_LEN];
	size_t i;
	json_t *e;

	hex8(id, hex);
	json_array_foreach(spans, i, e) {
		if (!strcmp(json_string_value(
				    json_object_get(json_object_get(e, "span"), "spanId")),
			    hex))
			return e;
	}
	cr_assert_fail("no span %s", hex);
	return NULL;
}

/* ---- the body ---- */

Test(otlp, posts_otlp_json_that_opentelemetry_accepts)
{
	int ok[] = { 200 };
	struct http_sink *s = http_sink_start(ok, 1, "{}");
	struct otlp_config c = conf(http_sink_port(s));
	struct otlp *o = start(&c);
	char *head, *body, *ua;
	json_t *doc, *rs, *scope, *sp, *a;
	struct otlp_stats st;

	push(o, NULL,
	     mkspan(0x1111, 1, 0, SPAN_KIND_SERVER, "orders", "GET", "/users/{id}", 200, 12));
	wait_requests(s, 1, 5000);
	cr_assert(http_sink_get(s, 0, &head, &body));
	ua = http_sink_header(head, "User-Agent");
	cr_assert_str_eq(ua, "prp-aggregator/" PRP_VERSION);
	free(ua);
	free(head);
	free(body);

	doc = body_of(s, 0); /* POST /v1/traces, application/json, valid OTLP */
	cr_assert_eq(json_object_size(doc), 1);
	cr_assert_eq(json_array_size(json_object_get(doc, "resourceSpans")), 1);
	rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
	a = json_object_get(json_object_get(rs, "resource"), "attributes");
	cr_assert_eq(json_array_size(a), 2); /* the default tenant is not said */
	cr_assert_str_eq(attr_str(a, "service.name"), "orders");
	cr_assert_str_eq(attr_str(a, "host.name"), "web-1");
	scope = json_object_get(json_array_get(json_object_get(rs, "scopeSpans"), 0), "scope");
	cr_assert_str_eq(json_string_value(json_object_get(scope, "name")), "prp-agent");
	cr_assert_str_eq(json_string_value(json_object_get(scope, "version")), PRP_VERSION);
	sp = json_array_get(
		json_object_get(json_array_get(json_object_get(rs, "scopeSpans"), 0), "spans"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(sp, "traceId")),
			 "00000000000011110000000000001111");
	cr_assert_str_eq(json_string_value(json_object_get(sp, "spanId")), "0000000000000001");
	cr_assert_null(json_object_get(sp, "parentSpanId"), "a root has no parent id");
	cr_assert_str_eq(json_string_value(json_object_get(sp, "name")), "GET /users/{id}");
	cr_assert_eq(json_integer_value(json_object_get(sp, "kind")), 2);
	/* fixed64 as decimal strings, to the nanosecond */
	cr_assert_str_eq(json_string_value(json_object_get(sp, "startTimeUnixNano")),
			 "1700000000123457789");
	cr_assert_str_eq(json_string_value(json_object_get(sp, "endTimeUnixNano")),
			 "1700000000135457789");
	a = json_object_get(sp, "attributes");
	cr_assert_eq(json_array_size(a), 3);
	cr_assert_str_eq(attr_str(a, "http.request.method"), "GET");
	cr_assert_str_eq(attr_str(a, "http.route"), "/users/{id}");
	cr_assert_str_eq(attr_int(a, "http.response.status_code"), "200");
	cr_assert_null(json_object_get(sp, "status"), "a 2xx leaves the status UNSET");
	json_decref(doc);

	wait_settled(o, &st);
	cr_assert_eq(st.received, 1);
	cr_assert_eq(st.sent, 1);
	cr_assert_eq(st.posts, 1);
	cr_assert_eq(st.dropped_total, 0);
	assert_balanced(&st);
	otlp_stop(o);
	http_sink_stop(s);
}

Test(otlp, client_and_error_spans_carry_the_http_conventions)
{
	int ok[] = { 200 };
	struct http_sink *s = http_sink_start(ok, 1, NULL);
	struct otlp_config c = conf(http_sink_port(s));
	struct otlp *o;
	json_t *spans, *sp, *a;

	c.batch = 5;
	c.flush_interval_ms = 60000; /* the batch goes when full */
	o = start(&c);
	push(o, NULL,
	     to_peer(mkspan(7, 1, 9, SPAN_KIND_CLIENT, "orders", "POST", "/payments", 503, 3),
		     "payments", 8003));
	/* a client span to an unknown callee, of an unknown route */
	push(o, NULL, to_peer(mkspan(7, 2, 9, SPAN_KIND_CLIENT, "orders", "GET", "", 0, 3), "", 0));
	/* a method HTTP does not know, and none at all */
	push(o, NULL, mkspan(7, 3, 0, SPAN_KIND_SERVER, "orders", "BREW", "/pot", 418, 1));
	push(o, NULL, mkspan(7, 4, 0, SPAN_KIND_SERVER, "orders", "", "", 0, 1));
	push(o, NULL, mkspan(7, 5, 0, SPAN_KIND_SERVER, "orders", "DELETE", "/x", 500, 1));
	wait_requests(s, 1, 5000);
	spans = all_spans(s);
	cr_assert_eq(json_array_size(spans), 5);

	sp = json_object_get(span_by_id(spans, 1), "span");
	cr_assert_str_eq(json_string_value(json_object_get(sp, "name")), "POST /payments");
	cr_assert_eq(json_integer_value(json_object_get(sp, "kind")), 3);
	cr_assert_str_eq(json_string_value(json_object_get(sp, "parentSpanId")),
			 "0000000000000009");
	a = json_object_get(sp, "attributes");
	cr_assert_eq(json_array_size(a), 7);
	cr_assert_str_eq(attr_str(a, "http.request.method"), "POST");
	cr_assert_str_eq(attr_str(a, "url.template"), "/payments");
	cr_assert_null(attr(a, "http.route"), "http.route is the server's");
	cr_assert_str_eq(attr_int(a, "http.response.status_code"), "503");
	cr_assert_str_eq(attr_str(a, "server.address"), "127.0.0.1");
	cr_assert_str_eq(attr_int(a, "server.port"), "8003");
	cr_assert_str_eq(attr_str(a, "peer.service"), "payments");
	cr_assert_str_eq(attr_str(a, "error.type"), "503");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(sp, "status"), "code")), 2);
	cr_assert_eq(json_object_size(json_object_get(sp, "status")), 1);

	sp = json_object_get(span_by_id(spans, 2), "span");
	cr_assert_str_eq(json_string_value(json_object_get(sp, "name")), "GET");
	a = json_object_get(sp, "attributes");
	cr_assert_eq(json_array_size(a), 2); /* method and address: no status, port or peer */
	cr_assert_str_eq(attr_str(a, "server.address"), "127.0.0.1");
	cr_assert_null(json_object_get(sp, "status"));

	sp = json_object_get(span_by_id(spans, 3), "span");
	cr_assert_str_eq(json_string_value(json_object_get(sp, "name")), "HTTP /pot");
	a = json_object_get(sp, "attributes");
	cr_assert_str_eq(attr_str(a, "http.request.method"), "_OTHER");
	cr_assert_str_eq(attr_str(a, "http.request.method_original"), "BREW");
	cr_assert_null(json_object_get(sp, "status"), "a server's 4xx is not an error");

	sp = json_object_get(span_by_id(spans, 4), "span");
	cr_assert_str_eq(json_string_value(json_object_get(sp, "name")), "HTTP");
	a = json_object_get(sp, "attributes");
	cr_assert_eq(json_array_size(a), 1);
	cr_assert_str_eq(attr_str(a, "http.request.method"), "_OTHER");

	sp = json_object_get(span_by_id(spans, 5), "span");
	cr_assert_str_eq(json_string_value(json_object_get(sp, "name")), "DELETE /x");
	cr_assert_str_eq(attr_str(json_object_get(sp, "attributes"), "error.type"), "500");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(sp, "status"), "code")), 2);
	json_decref(spans);
	otlp_stop(o);
	http_sink_stop(s);
}

/* The body of @n items made from @v, written by otlp_format_body() (caller frees). */
static char *format(const struct span *v, const char *const *tenants, size_t n)
{
	struct otlp_item **items = xcalloc(n, sizeof(*items));
	struct buf b;
	char *out;
	size_t len;

	for (size_t i = 0; i < n; i++) {
		items[i] = xcalloc(1, sizeof(**items));
		items[i]->seq = i;
		snprintf(items[i]->tenant, sizeof(items[i]->tenant), "%s",
			 tenants ? tenants[i] : "default");
		items[i]->span = v[i];
	}
	buf_init(&b, 1 << 24);
	cr_assert_eq(otlp_format_body(&b, items, n), 0);
	out = (char *)buf_detach(&b, &len);
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	return out;
}

/* @body with @edit applied to its first span (or, @top, to the body), dumped (caller frees). */
static char *mutate(const char *body, bool top, void (*edit)(json_t *))
{
	json_t *doc = json_loads(body, 0, NULL), *sp;
	char *out;

	cr_assert_not_null(doc);
	sp = json_array_get(
		json_object_get(
			json_array_get(
				json_object_get(
					json_array_get(json_object_get(doc, "resourceSpans"), 0),
					"scopeSpans"),
				0),
			"spans"),
		0);
	cr_assert_not_null(sp);
	edit(top ? doc : sp);
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return out;
}

static void trace_id_30_hex(json_t *sp)
{
	json_object_set_new(sp, "traceId", json_string("00000000000000ab00000000000000"));
}

static void span_id_uppercase(json_t *sp)
{
	json_object_set_new(sp, "spanId", json_string("00000000000000AB"));
}

static void int_value_number(json_t *sp)
{
	json_t *a;
	size_t i;

	json_array_foreach(json_object_get(sp, "attributes"), i, a) {
		json_t *v = json_object_get(a, "value");

		if (json_object_get(v, "intValue"))
			json_object_set_new(v, "intValue", json_integer(200));
	}
}

static void time_number(json_t *sp)
{
	json_object_set_new(sp, "startTimeUnixNano", json_integer(T0_NS));
}

static void unknown_top_field(json_t *doc)
{
	json_object_set_new(doc, "partialSuccess", json_object());
}

static void kind_9(json_t *sp)
{
	json_object_set_new(sp, "kind", json_integer(9));
}

static void kind_name(json_t *sp)
{
	json_object_set_new(sp, "kind", json_string("SPAN_KIND_SERVER"));
}

static void status_code_string(json_t *sp)
{
	json_object_set_new(sp, "status", json_pack("{s:s}", "code", "2"));
}

static void snake_case_key(json_t *sp)
{
	json_object_set(sp, "span_id", json_object_get(sp, "spanId"));
	json_object_del(sp, "spanId");
}

/*
 * The checker is strict: it takes what the exporter writes, and refuses
 * each of these breakages. intValue as a JSON number: the proto3 JSON
 * mapping lets a lenient parser take it, but its printer writes int64 as a
 * string, OTLP's examples do, and the checker demands that canonical form
 * (what docs/otlp.md promises): a JSON number past 2^53 loses digits in a
 * JavaScript receiver.
 */
Test(otlp, checker_refuses_broken_bodies)
{
	struct span v[] = { mkspan(0xab, 0xab, 0, SPAN_KIND_SERVER, "orders", "GET", "/a", 503,
				   1) };
	char *good = format(v, NULL, 1), *bad;
	const struct {
		bool top;
		void (*edit)(json_t *);
		const char *why;
	} cases[] = {
		{ false, trace_id_30_hex, "has 30 hex digits, not 32" },
		{ false, span_id_uppercase, "is not lowercase hex" },
		{ false, int_value_number,
		  "intValue: 200 is a number where the schema's JSON form "
		  "is \"200\", a string" },
		{ false, time_number, "startTimeUnixNano: 1700000000123456800 is a number" },
		{ true, unknown_top_field, "partialSuccess: not a field of the schema" },
		{ false, kind_9, "kind: enum value expected" },
		{ false, kind_name, "kind: \"SPAN_KIND_SERVER\" is a string" },
		{ false, status_code_string, "status.code" },
		{ false, snake_case_key, "span_id: not a field of the schema" },
	};

	assert_otel_valid(good);
	for (size_t i = 0; i < PRP_ARRAY_SIZE(cases); i++) {
		bad = mutate(good, cases[i].top, cases[i].edit);
		assert_otel_rejects(bad, cases[i].why);
		free(bad);
	}
	/* and what no JSON tool would write: a key twice, bytes that are not UTF-8 */
	bad = xasprintf("{\"resourceSpans\":[],\"resourceSpans\":[]}");
	assert_otel_rejects(bad, "appears twice");
	free(bad);
	bad = xstrdup(good);
	*strstr(bad, "orders") = (char)0xff;
	assert_otel_rejects(bad, "not valid UTF-8");
	free(bad);
	free(good);
}

Test(otlp, strings_are_escaped_and_bad_utf8_repaired)
{
	struct span v[] = { mkspan(3, 1, 0, SPAN_KIND_SERVER, "caf\xc3\xa9", "GET", "", 200, 1) };
	json_t *doc, *sp;
	char *body;

	/* quotes, a backslash, control bytes, a stray byte, a cut sequence, a surrogate */
	snprintf(v[0].route, sizeof(v[0].route),
		 "/a\"b\\c\td\x01/\xff/\xe2\x82/\xed\xa0\x80/\xe2\x82\xac");
	snprintf(v[0].host, sizeof(v[0].host), "h\n1");
	body = format(v, NULL, 1);
	assert_otel_valid(body);
	doc = json_loads(body, 0, NULL);
	cr_assert_not_null(doc);
	sp = json_array_get(
		json_object_get(
			json_array_get(
				json_object_get(
					json_array_get(json_object_get(doc, "resourceSpans"), 0),
					"scopeSpans"),
				0),
			"spans"),
		0);
	cr_assert_str_eq(json_string_value(json_object_get(sp, "name")),
			 "GET /a\"b\\c\td\x01/\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd/"
			 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/\xe2\x82\xac");
	cr_assert_str_eq(
		attr_str(json_object_get(
				 json_object_get(
					 json_array_get(json_object_get(doc, "resourceSpans"), 0),
					 "resource"),
				 "attributes"),
			 "service.name"),
		"caf\xc3\xa9");
	json_decref(doc);
	free(body);
}

/* ---- traces and resources ---- */

/*
 * One request through three services: orders serves it (the root) and
 * calls users and payments, which serve those calls. Five spans, one
 * trace, each parent the span that caused it.
 */
Test(otlp, a_trace_across_services_keeps_its_links)
{
	int ok[] = { 200 };
	struct http_sink *s = http_sink_start(ok, 1, NULL);
	struct otlp_config c = conf(http_sink_port(s));
	const uint64_t trace = 0x4bf92f3577b34da6ULL;
	enum { ORDERS = 0x10, TO_USERS = 0x11, USERS = 0x20, TO_PAYMENTS = 0x12, PAYMENTS = 0x30 };
	struct otlp *o;
	json_t *spans, *e;
	char tid[SPAN_TRACE_ID_HEX_LEN], want[SPAN_ID_HEX_LEN];
	size_t i;

	c.batch = 5;
	c.flush_interval_ms = 60000;
	o = start(&c);
	/* in the order they end: the innermost first */
	push(o, NULL,
	     mkspan(trace, USERS, TO_USERS, SPAN_KIND_SERVER, "users", "GET", "/users/{id}", 200,
		    5));
	push(o, NULL,
	     to_peer(mkspan(trace, TO_USERS, ORDERS, SPAN_KIND_CLIENT, "orders", "GET",
			    "/users/{id}", 200, 6),
		     "users", 8002));
	push(o, NULL,
	     mkspan(trace, PAYMENTS, TO_PAYMENTS, SPAN_KIND_SERVER, "payments", "POST", "/payments",
		    201, 20));
	push(o, NULL,
	     to_peer(mkspan(trace, TO_PAYMENTS, ORDERS, SPAN_KIND_CLIENT, "orders", "POST",
			    "/payments", 201, 21),
		     "payments", 8003));
	push(o, NULL,
	     mkspan(trace, ORDERS, 0, SPAN_KIND_SERVER, "orders", "POST", "/orders", 201, 30));
	wait_requests(s, 1, 5000);
	spans = all_spans(s);
	cr_assert_eq(json_array_size(spans), 5);
	cr_assert_eq(http_sink_count(s), 1);

	hex8(trace, tid);
	hex8(trace, tid + 16);
	json_array_foreach(spans, i, e) {
		cr_assert_str_eq(
			json_string_value(json_object_get(json_object_get(e, "span"), "traceId")),
			tid);
	}
	e = span_by_id(spans, ORDERS);
	cr_assert_null(json_object_get(json_object_get(e, "span"), "parentSpanId"));
	cr_assert_str_eq(json_string_value(json_object_get(e, "service")), "orders");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(e, "span"), "kind")), 2);
	const struct {
		uint64_t id, parent;
		const char *service;
		int kind;
		const char *peer;
	} links[] = {
		{ TO_USERS, ORDERS, "orders", 3, "users" },
		{ USERS, TO_USERS, "users", 2, NULL },
		{ TO_PAYMENTS, ORDERS, "orders", 3, "payments" },
		{ PAYMENTS, TO_PAYMENTS, "payments", 2, NULL },
	};
	for (i = 0; i < PRP_ARRAY_SIZE(links); i++) {
		json_t *sp;

		e = span_by_id(spans, links[i].id);
		sp = json_object_get(e, "span");
		cr_assert_str_eq(json_string_value(json_object_get(sp, "parentSpanId")),
				 hex8(links[i].parent, want));
		cr_assert_str_eq(json_string_value(json_object_get(e, "service")),
				 links[i].service);
		cr_assert_eq(json_integer_value(json_object_get(sp, "kind")), links[i].kind);
		if (links[i].peer)
			cr_assert_str_eq(
				attr_str(json_object_get(sp, "attributes"), "peer.service"),
				links[i].peer);
	}
	json_decref(spans);
	otlp_stop(o);
	http_sink_stop(s);
}

Test(otlp, one_resource_per_tenant_service_and_host)
{
	int ok[] = { 200 };
	struct http_sink *s = http_sink_start(ok, 1, NULL);
	struct otlp_config c = conf(http_sink_port(s));
	struct otlp *o;
	json_t *doc, *rs, *a;
	struct {
		const char *tenant, *service, *host;
	} in[] = {
		{ NULL, "orders", "web-1" },	  { "default", "users", "web-2" },
		{ "acme", "orders", "web-1" },	  { "", "orders", "web-1" },
		{ "default", "orders", "web-3" }, { "acme", "orders", "web-1" },
	};
	/* resources in (tenant, service, host) order, with their spans in push order */
	struct {
		const char *tenant, *service, *host;
		uint64_t ids[3];
	} want[] = {
		{ "acme", "orders", "web-1", { 3, 6 } },
		{ NULL, "orders", "web-1", { 1, 4 } },
		{ NULL, "orders", "web-3", { 5 } },
		{ NULL, "users", "web-2", { 2 } },
	};
	size_t i;

	c.batch = PRP_ARRAY_SIZE(in);
	c.flush_interval_ms = 60000;
	o = start(&c);
	for (i = 0; i < PRP_ARRAY_SIZE(in); i++) {
		struct span sp = mkspan(100 + i, i + 1, 0, SPAN_KIND_SERVER, in[i].service, "GET",
					"/", 200, 1);

		snprintf(sp.host, sizeof(sp.host), "%s", in[i].host);
		push(o, in[i].tenant, sp);
	}
	wait_requests(s, 1, 5000);
	doc = body_of(s, 0);
	cr_assert_eq(json_array_size(json_object_get(doc, "resourceSpans")), PRP_ARRAY_SIZE(want));
	json_array_foreach(json_object_get(doc, "resourceSpans"), i, rs) {
		json_t *spans = json_object_get(
			json_array_get(json_object_get(rs, "scopeSpans"), 0), "spans");
		size_t nids = 0;
		char hex[SPAN_ID_HEX_LEN];

		a = json_object_get(json_object_get(rs, "resource"), "attributes");
		cr_assert_str_eq(attr_str(a, "service.name"), want[i].service);
		cr_assert_str_eq(attr_str(a, "host.name"), want[i].host);
		if (want[i].tenant)
			cr_assert_str_eq(attr_str(a, "prp.tenant"), want[i].tenant);
		else
			cr_assert_null(attr(a, "prp.tenant"), "the default tenant is not said");
		cr_assert_eq(json_array_size(a), want[i].tenant ? 3 : 2);
		cr_assert_eq(json_array_size(json_object_get(rs, "scopeSpans")), 1);
		while (nids < 3 && want[i].ids[nids])
			nids++;
		cr_assert_eq(json_array_size(spans), nids);
		for (size_t k = 0; k < nids; k++)
			cr_assert_str_eq(json_string_value(json_object_get(json_array_get(spans, k),
									   "spanId")),
					 hex8(want[i].ids[k], hex));
	}
	json_decref(doc);
	otlp_stop(o);
	http_sink_stop(s);
}

/* ---- sampling ---- */

Test(otlp, keeps_by_the_trace_id_against_the_rate)
{
	struct span s = mkspan(0, 1, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1);

	/* rate 0.5: the first 8 bytes below 2^63 */
	put_be(s.trace_id, 8, 0x7fffffffffffffffULL);
	cr_assert(otlp_keep(&s, 0.5, 0));
	put_be(s.trace_id, 8, 0x8000000000000000ULL);
	cr_assert_not(otlp_keep(&s, 0.5, 0));
	/* only the first 8 bytes count */
	put_be(s.trace_id + 8, 8, 0);
	cr_assert_not(otlp_keep(&s, 0.5, 0));
	/* rate 1 keeps every trace, the largest id too; rate 0 none, the smallest too */
	memset(s.trace_id, 0xff, sizeof(s.trace_id));
	cr_assert(otlp_keep(&s, 1, 0));
	memset(s.trace_id, 0, 7);
	s.trace_id[7] = 1;
	cr_assert_not(otlp_keep(&s, 0, 0));
	/* but a 5xx is always kept, and a span longer than slow_ms */
	s.status = 500;
	cr_assert(otlp_keep(&s, 0, 0));
	s.status = 499;
	cr_assert_not(otlp_keep(&s, 0, 500));
	s.end_ns = s.start_ns + 500 * (int64_t)NSEC_PER_MSEC;
	cr_assert_not(otlp_keep(&s, 0, 500), "500 ms is not slower than 500 ms");
	s.end_ns++;
	cr_assert(otlp_keep(&s, 0, 500));
	cr_assert_not(otlp_keep(&s, 0, 0), "slow_ms 0: no such rule");
}

Test(otlp, a_rate_keeps_that_fraction_of_traces_and_each_whole)
{
	uint64_t seed = 42, kept = 0;
	const unsigned n = 20000;

	for (unsigned i = 0; i < n; i++) {
		struct span a = mkspan(0, 1, 0, SPAN_KIND_SERVER, "orders", "GET", "/", 200, 1);
		struct span b = mkspan(0, 2, 1, SPAN_KIND_CLIENT, "users", "POST", "/x", 404, 2);
		bool ka;

		put_be(a.trace_id, 8, rng_next(&seed));
		put_be(a.trace_id + 8, 8, rng_next(&seed));
		memcpy(b.trace_id, a.trace_id, sizeof(a.trace_id));
		ka = otlp_keep(&a, 0.1, 500);
		/* the same trace id, another span, service and kind: the same decision, again */
		cr_assert_eq(otlp_keep(&b, 0.1, 500), ka);
		cr_assert_eq(otlp_keep(&a, 0.1, 500), ka);
		kept += ka;
	}
	/* 2000 expected; the binomial's sd is 42: 5 sd either way */
	cr_assert(kept > 1790 && kept < 2210, "%llu of %u kept at 0.1", (unsigned long long)kept,
		  n);
}

Test(otlp, rate_zero_exports_only_errors_and_slow_spans)
{
	int ok[] = { 200 };
	struct http_sink *s = http_sink_start(ok, 1, NULL);
	struct otlp_config c = conf(http_sink_port(s));
	struct otlp *o;
	struct otlp_stats st;
	json_t *spans;

	c.sample_rate = 0;
	c.slow_ms = 100;
	c.batch = 2;
	c.flush_interval_ms = 60000;
	o = start(&c);
	memset(&st, 0, sizeof(st));
	push(o, NULL, mkspan(1, 1, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1));
	push(o, NULL, mkspan(2, 2, 0, SPAN_KIND_SERVER, "a", "GET", "/", 502, 1)); /* an error */
	push(o, NULL, mkspan(3, 3, 0, SPAN_KIND_SERVER, "a", "GET", "/", 404, 1));
	push(o, NULL, mkspan(4, 4, 0, SPAN_KIND_CLIENT, "a", "GET", "/", 200, 101)); /* slow */
	push(o, NULL, mkspan(5, 5, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 100));
	wait_requests(s, 1, 5000);
	otlp_stats(o, &st);
	cr_assert_eq(st.received, 5);
	cr_assert_eq(st.sampled_out, 3);
	cr_assert_eq(st.dropped_total, 0, "sampled out is not a drop");
	spans = all_spans(s);
	cr_assert_eq(json_array_size(spans), 2);
	span_by_id(spans, 2);
	span_by_id(spans, 4);
	json_decref(spans);
	otlp_stop(o);
	http_sink_stop(s);
}

Test(otlp, sampling_keeps_or_drops_a_trace_whole)
{
	int ok[] = { 200 };
	struct http_sink *s = http_sink_start(ok, 1, NULL);
	struct otlp_config c = conf(http_sink_port(s));
	struct otlp *o;
	struct otlp_stats st;
	json_t *spans, *e;
	unsigned per_trace[40] = { 0 }, whole = 0, none = 0;
	uint64_t seed = 7, traces[40];
	size_t i;

	c.sample_rate = 0.5;
	c.batch = 512;
	c.flush_interval_ms = 60000;
	o = start(&c);
	for (i = 0; i < 40; i++) {
		traces[i] = rng_next(&seed);
		/* four spans of each trace, from two services, neither an error nor slow */
		for (unsigned k = 0; k < 4; k++) {
			struct span sp = mkspan(traces[i], i * 4 + k + 1, k ? i * 4 + 1 : 0,
						k % 2 ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER,
						k < 2 ? "orders" : "users", "GET", "/", 200, 1);

			push(o, "default", sp);
		}
	}
	otlp_stats(o, &st);
	cr_assert_eq(st.received, 160);
	otlp_stop(o); /* flushes the one batch */
	cr_assert_eq(http_sink_count(s), 1);
	spans = all_spans(s);
	json_array_foreach(spans, i, e) {
		uint8_t b[8];
		uint64_t id = 0;

		cr_assert_eq(span_unhex(json_string_value(json_object_get(
						json_object_get(e, "span"), "spanId")),
					b, 8),
			     0);
		for (int k = 0; k < 8; k++)
			id = id << 8 | b[k];
		cr_assert(id >= 1 && id <= 160);
		per_trace[(id - 1) / 4]++; /* trace i has the span ids 4i+1 to 4i+4 */
	}
	for (i = 0; i < 40; i++) {
		cr_assert(per_trace[i] == 0 || per_trace[i] == 4,
			  "trace %zu: %u of its 4 spans exported", i, per_trace[i]);
		whole += per_trace[i] == 4;
		none += per_trace[i] == 0;
	}
	cr_assert_eq(json_array_size(spans), 4 * whole);
	cr_assert_eq(st.sampled_out, 4 * none);
	cr_assert(whole && none, "rate 0.5 over 40 traces kept %u and dropped %u", whole, none);
	json_decref(spans);
	http_sink_stop(s);
}

/* ---- failures ---- */

Test(otlp, a_5xx_is_retried_and_delivered_once)
{
	int script[] = { 500, 200 };
	struct http_sink *s = http_sink_start(script, 2, NULL);
	struct otlp_config c = conf(http_sink_port(s));
	struct otlp *o = start(&c);
	struct otlp_stats st;
	char *h0, *b0, *h1, *b1;

	for (unsigned i = 1; i <= 3; i++)
		push(o, NULL, mkspan(9, i, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1));
	wait_requests(s, 2, 5000);
	time_sleep_ns(300 * NSEC_PER_MSEC); /* ten backoffs: a third post would be in by now */
	cr_assert_eq(http_sink_count(s), 2);
	cr_assert(http_sink_get(s, 0, &h0, &b0));
	cr_assert(http_sink_get(s, 1, &h1, &b1));
	cr_assert_str_eq(b0, b1, "the retry sends the same body");
	assert_otel_valid(b1);
	wait_settled(o, &st);
	cr_assert_eq(st.sent, 3);
	cr_assert_eq(st.posts, 2);
	cr_assert_eq(st.retries, 1);
	cr_assert_eq(st.dropped_total, 0);
	cr_assert_not_null(strstr(st.last_error, "HTTP 500"), "%s", st.last_error);
	assert_balanced(&st);
	free(h0);
	free(b0);
	free(h1);
	free(b1);
	otlp_stop(o);
	http_sink_stop(s);
}

Test(otlp, a_400_is_dropped_at_once_and_counted)
{
	int script[] = { 400 };
	const char *answer = "{\"code\":3,\"message\":\"bad span\"}";
	struct http_sink *s = http_sink_start(script, 1, answer);
	struct otlp_config c = conf(http_sink_port(s));
	struct otlp *o = start(&c);
	struct otlp_stats st;

	for (unsigned i = 1; i <= 4; i++)
		push(o, NULL, mkspan(9, i, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1));
	wait_requests(s, 1, 5000);
	wait_settled(o, &st);
	time_sleep_ns(200 * NSEC_PER_MSEC);
	cr_assert_eq(http_sink_count(s), 1, "a 400 is not retried");
	otlp_stats(o, &st);
	cr_assert_eq(st.dropped[OTLP_DROP_REJECTED], 4);
	cr_assert_eq(st.sent, 0);
	cr_assert_eq(st.retries, 0);
	cr_assert_not_null(strstr(st.last_error, "HTTP 400: {\"code\":3,\"message\":\"bad span\"}"),
			   "%s", st.last_error);
	cr_assert_gt(st.last_error_ms, 0);
	assert_balanced(&st);
	otlp_stop(o);
	http_sink_stop(s);
}

Test(otlp, retries_run_out_then_the_batch_is_dropped)
{
	int script[] = { 503 };
	struct http_sink *s = http_sink_start(script, 1, NULL);
	struct otlp_config c = conf(http_sink_port(s));
	struct otlp *o;
	struct otlp_stats st;

	c.max_retries = 2;
	o = start(&c);
	push(o, NULL, mkspan(9, 1, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1));
	wait_requests(s, 3, 5000);
	wait_settled(o, &st);
	cr_assert_eq(st.dropped[OTLP_DROP_RETRIES_EXHAUSTED], 1);
	cr_assert_eq(st.posts, 3);
	cr_assert_eq(st.retries, 2);
	time_sleep_ns(200 * NSEC_PER_MSEC);
	cr_assert_eq(http_sink_count(s), 3);
	assert_balanced(&st);
	otlp_stop(o);
	http_sink_stop(s);
}

Test(otlp, retry_after_is_honoured)
{
	int script[] = { 429, 200 };
	/* the sink's answers get a header of their own after the content type */
	const char *ct = "application/json\r\nRetry-After: 1";
	struct http_sink *s = http_sink_start_raw(script, 2, ct, "{}", 2);
	struct otlp_config c = conf(http_sink_port(s));
	struct otlp *o;
	struct otlp_stats st;
	uint64_t t0;

	c.backoff_max_ms = 5000; /* backoff_ms stays 10: without the header, a retry in 10 ms */
	o = start(&c);
	t0 = time_mono_ns();
	push(o, NULL, mkspan(9, 1, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1));
	wait_requests(s, 2, 10000);
	/* the retry came a second after the first answer at least, so after t0 + 1 s */
	cr_assert_geq(time_mono_ns() - t0, NSEC_PER_SEC);
	wait_settled(o, &st);
	cr_assert_eq(st.sent, 1);
	cr_assert_eq(st.retries, 1);
	otlp_stop(o);
	http_sink_stop(s);
}

Test(otlp, a_partial_success_counts_the_refused_spans)
{
	int ok[] = { 200 };
	const char *answer = "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":"
			     "\"span too old\"}}";
	struct http_sink *s = http_sink_start(ok, 1, answer);
	struct otlp_config c = conf(http_sink_port(s));
	struct otlp *o;
	struct otlp_stats st;

	c.batch = 5;
	c.flush_interval_ms = 60000;
	o = start(&c);
	for (unsigned i = 1; i <= 5; i++)
		push(o, NULL, mkspan(9, i, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1));
	wait_requests(s, 1, 5000);
	wait_settled(o, &st);
	cr_assert_eq(st.sent, 3);
	cr_assert_eq(st.dropped[OTLP_DROP_REJECTED], 2);
	cr_assert_not_null(strstr(st.last_error, "span too old"), "%s", st.last_error);
	cr_assert_eq(st.retries, 0, "a 2xx is never sent again");
	assert_balanced(&st);
	otlp_stop(o);
	http_sink_stop(s);
}

/*
 * A collector that is down: every push returns at once, queued or
 * refused with -ENOBUFS; the queue never passes its bound; each refusal is
 * counted; nothing is lost from the books.
 */
Test(otlp, a_dead_collector_never_blocks_and_the_queue_keeps_its_bound)
{
	struct otlp_config c = conf(dead_port());
	struct otlp *o;
	struct otlp_stats st;
	unsigned queued = 0, refused = 0;

	c.queue_max = 100;
	c.batch = 50;
	c.timeout_ms = 60000;
	c.stop_flush_ms = 200;
	o = start(&c);
	for (unsigned i = 0; i < 10000; i++) {
		struct span sp = mkspan(i + 1, i + 1, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1);
		int ret = otlp_push_span(o, NULL, &sp);

		cr_assert(ret == 0 || ret == -ENOBUFS, "push %u: %d", i, ret);
		queued += !ret;
		refused += ret == -ENOBUFS;
		otlp_stats(o, &st);
		cr_assert_leq(st.queued, 100);
	}
	otlp_stats(o, &st);
	cr_assert_gt(refused, 0);
	cr_assert_eq(st.dropped[OTLP_DROP_QUEUE_FULL], refused);
	cr_assert_eq(st.received, 10000);
	cr_assert_eq(queued + refused, 10000);
	cr_assert_eq(st.sent, 0);
	assert_balanced(&st);
	otlp_stop(o);
}

/*
 * A collector that takes the connection and never answers: with the
 * sender provably stuck in a post (a 120 s timeout, longer than the
 * suite's 60 s limit lets this test run), a burst of 10000 pushes still
 * completes, the queue at its bound; and the stop cuts the stuck post at
 * its deadline. (No .timeout of its own: criterion 2.4 then leaks its
 * timeout request in the runner, which LeakSanitizer reports.)
 */
Test(otlp, a_hung_collector_never_blocks_a_push)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct otlp_config c;
	struct otlp *o;
	struct otlp_stats st;
	unsigned refused = 0;

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 64), 0); /* the kernel completes the handshake; nobody reads */
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	c = conf(ntohs(sa.sin_port));
	c.queue_max = 100;
	c.batch = 10;
	c.timeout_ms = 120000;
	c.stop_flush_ms = 300;
	o = start(&c);
	for (unsigned i = 0; i < 10; i++)
		push(o, NULL, mkspan(i + 1, i + 1, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1));
	for (int i = 0; i < 5000; i++) { /* the sender takes that batch and waits for an answer */
		otlp_stats(o, &st);
		if (st.in_flight)
			break;
		time_sleep_ns(NSEC_PER_MSEC);
	}
	cr_assert_eq(st.in_flight, 10);
	for (unsigned i = 0; i < 10000; i++) {
		struct span sp =
			mkspan(i + 11, i + 11, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1);
		int ret = otlp_push_span(o, NULL, &sp);

		cr_assert(ret == 0 || ret == -ENOBUFS);
		refused += ret == -ENOBUFS;
	}
	otlp_stats(o, &st);
	cr_assert_eq(st.posts, 0, "the post is still waiting: no push waited for it");
	cr_assert_eq(st.in_flight, 10);
	cr_assert_eq(st.queued, 100);
	cr_assert_eq(refused, 9900);
	cr_assert_eq(st.dropped[OTLP_DROP_QUEUE_FULL], 9900);
	assert_balanced(&st);
	otlp_stop(o); /* cuts the post at 300 ms; the test's timeout is the proof */
	close(fd);
}

Test(otlp, stop_flushes_what_is_queued)
{
	int ok[] = { 200 };
	struct http_sink *s = http_sink_start(ok, 1, NULL);
	struct otlp_config c = conf(http_sink_port(s));
	struct otlp *o;
	struct otlp_stats st;
	json_t *spans;

	c.flush_interval_ms = 60000; /* nothing would go for a minute */
	o = start(&c);
	for (unsigned i = 1; i <= 7; i++)
		push(o, NULL, mkspan(9, i, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1));
	time_sleep_ns(100 * NSEC_PER_MSEC);
	cr_assert_eq(http_sink_count(s), 0);
	otlp_stats(o, &st);
	cr_assert_eq(st.queued, 7);
	otlp_stop(o);
	cr_assert_eq(http_sink_count(s), 1);
	spans = all_spans(s);
	cr_assert_eq(json_array_size(spans), 7);
	json_decref(spans);
	http_sink_stop(s);
}

/* ---- the API's edges ---- */

Test(otlp, an_empty_url_is_off)
{
	struct otlp_config c;
	struct otlp *o = (struct otlp *)&c;
	struct otlp_stats st;
	struct span sp = mkspan(1, 1, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1);

	otlp_config_default(&c);
	cr_assert_eq(otlp_start(&o, &c), 0);
	cr_assert_null(o);
	c.url = "";
	cr_assert_eq(otlp_start(&o, &c), 0);
	cr_assert_null(o);
	cr_assert_eq(otlp_push_span(NULL, NULL, &sp), -ENOTCONN);
	memset(&st, 0xff, sizeof(st));
	otlp_stats(NULL, &st);
	cr_assert_eq(st.received, 0);
	cr_assert_eq(st.last_error[0], '\0');
	otlp_stop(NULL);
}

Test(otlp, spans_otlp_cannot_carry_are_refused)
{
	struct otlp_config c = conf(dead_port());
	struct otlp *o;
	struct otlp_stats st;
	struct span ok = mkspan(1, 1, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1), bad;

	c.flush_interval_ms = 60000;
	c.stop_flush_ms = 100;
	o = start(&c);
	bad = ok;
	memset(bad.trace_id, 0, sizeof(bad.trace_id));
	cr_assert_eq(otlp_push_span(o, NULL, &bad), -EINVAL);
	bad = ok;
	memset(bad.span_id, 0, sizeof(bad.span_id));
	cr_assert_eq(otlp_push_span(o, NULL, &bad), -EINVAL);
	bad = ok;
	bad.kind = 1;
	cr_assert_eq(otlp_push_span(o, NULL, &bad), -EINVAL);
	bad = ok;
	bad.end_ns = bad.start_ns - 1;
	cr_assert_eq(otlp_push_span(o, NULL, &bad), -EINVAL);
	bad = ok;
	bad.start_ns = 0;
	cr_assert_eq(otlp_push_span(o, NULL, &bad), -EINVAL);
	/* strings not terminated within their arrays are cut, not read past */
	bad = ok;
	memset(bad.route, 'r', sizeof(bad.route));
	memset(bad.host, 'h', sizeof(bad.host));
	cr_assert_eq(otlp_push_span(o, NULL, &bad), 0);
	otlp_stats(o, &st);
	cr_assert_eq(st.invalid, 5);
	cr_assert_eq(st.received, 1);
	otlp_stop(o);
}

Test(otlp, the_config_is_checked)
{
	struct otlp_config c;
	const char *bad_header[] = { "Content-Type: text/plain" };
	const char *good_header[] = { "Authorization: Bearer abc" };
	char err[256];

	otlp_config_default(&c);
	cr_assert_eq(c.sample_rate, OTLP_SAMPLE_RATE);
	cr_assert_eq(c.slow_ms, OTLP_SLOW_MS);
	cr_assert_eq(otlp_config_check(&c, err, sizeof(err)), 0);
	c.url = "ftp://collector";
	cr_assert_eq(otlp_config_check(&c, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "otlp.url"), "%s", err);
	c.url = "http://collector:4318/v1/traces/";
	cr_assert_eq(otlp_config_check(&c, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "give the base URL ('http://collector:4318')"), "%s", err);
	c.url = "https://collector:4318/";
	cr_assert_eq(otlp_config_check(&c, err, sizeof(err)), 0);
	c.sample_rate = 1.5;
	cr_assert_eq(otlp_config_check(&c, err, sizeof(err)), -EINVAL);
	c.sample_rate = 0;
	c.headers = bad_header;
	c.nheaders = 1;
	cr_assert_eq(otlp_config_check(&c, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "Content-Type is set by the exporter"), "%s", err);
	c.headers = good_header;
	cr_assert_eq(otlp_config_check(&c, err, sizeof(err)), 0);
}

Test(otlp, header_lines_are_checked_without_quoting_values)
{
	char why[200];

	cr_assert_eq(otlp_headers_check("X-Api-Key: k", why, sizeof(why)), 0);
	cr_assert_eq(otlp_headers_check("X-Api-Key:\tk v", why, sizeof(why)), 0);
	cr_assert_eq(otlp_headers_check("no colon secret", why, sizeof(why)), -EINVAL);
	cr_assert_null(strstr(why, "secret"), "%s", why);
	cr_assert_eq(otlp_headers_check("Bad Name secret: v", why, sizeof(why)), -EINVAL);
	cr_assert_null(strstr(why, "secret"), "%s", why);
	cr_assert_eq(otlp_headers_check(": v", why, sizeof(why)), -EINVAL);
	cr_assert_eq(otlp_headers_check("X-A:   ", why, sizeof(why)), -EINVAL);
	cr_assert_eq(otlp_headers_check("X-A: a\rb", why, sizeof(why)), -EINVAL);
	cr_assert_eq(otlp_headers_check("host: h", why, sizeof(why)), -EINVAL);
	cr_assert_eq(otlp_headers_check("Content-Length: 3", why, sizeof(why)), -EINVAL);
}

/* Writes @text to a new file (its path into @path, 64 bytes), mode @mode. */
static void write_file(char *path, const char *text, mode_t mode)
{
	int fd;

	snprintf(path, 64, "/tmp/prp-test-otlp-headers-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

Test(otlp, the_headers_file_is_sent)
{
	int ok[] = { 200 };
	struct http_sink *s = http_sink_start(ok, 1, NULL);
	struct otlp_config c = conf(http_sink_port(s));
	const char *direct[] = { "X-Scope-OrgID: acme" };
	struct otlp *o;
	char path[64], *head, *body, *v;

	write_file(path,
		   "# the collector's token\n\n  Authorization: Bearer s3cret  \r\nX-Api-Key: k1",
		   0600);
	c.headers_file = path;
	c.headers = direct;
	c.nheaders = 1;
	o = start(&c);
	push(o, NULL, mkspan(9, 1, 0, SPAN_KIND_SERVER, "a", "GET", "/", 200, 1));
	wait_requests(s, 1, 5000);
	cr_assert(http_sink_get(s, 0, &head, &body));
	v = http_sink_header(head, "Authorization");
	cr_assert_str_eq(v ? v : "", "Bearer s3cret");
	free(v);
	v = http_sink_header(head, "X-Api-Key");
	cr_assert_str_eq(v ? v : "", "k1");
	free(v);
	v = http_sink_header(head, "X-Scope-OrgID");
	cr_assert_str_eq(v ? v : "", "acme");
	free(v);
	v = http_sink_header(head, "Content-Type");
	cr_assert_str_eq(v ? v : "", "application/json");
	free(v);
	free(head);
	free(body);
	otlp_stop(o);
	http_sink_stop(s);
	unlink(path);
}

Test(otlp, a_bad_headers_file_stops_the_start)
{
	struct otlp_config c = conf(dead_port());
	struct otlp *o = NULL;
	char path[64];

	write_file(path, "Authorization: Bearer x\nContent-Type: text/plain\n", 0600);
	c.headers_file = path;
	cr_assert_eq(otlp_start(&o, &c), -EINVAL);
	cr_assert_null(o);
	unlink(path);
	c.headers_file = path; /* gone now */
	cr_assert_eq(otlp_start(&o, &c), -ENOENT);
	cr_assert_null(o);
}
