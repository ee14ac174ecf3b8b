/*
 * agent/span_print.c: a span is one sorted JSON line with hex ids, a null
 * parent for a root, unix ns times, and no key for what is unknown.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/span_print.h"
#include "tests/lib/leakcheck.h"

TestSuite(span_print, .fini = test_no_leaks);

static struct span client_span(void)
{
	struct span s;

	memset(&s, 0, sizeof(s));
	memset(s.trace_id, 0xab, sizeof(s.trace_id));
	memset(s.span_id, 0x01, sizeof(s.span_id));
	memset(s.parent_span_id, 0x02, sizeof(s.parent_span_id));
	s.start_ns = 1700000000123456789;
	s.end_ns = s.start_ns + 2500000;
	s.kind = SPAN_KIND_CLIENT;
	s.status = 201;
	snprintf(s.service, sizeof(s.service), "orders");
	snprintf(s.peer_service, sizeof(s.peer_service), "payments");
	snprintf(s.method, sizeof(s.method), "POST");
	snprintf(s.route, sizeof(s.route), "/payments");
	snprintf(s.server_address, sizeof(s.server_address), "127.0.0.1");
	s.server_port = 8003;
	snprintf(s.host, sizeof(s.host), "node-1");
	return s;
}

Test(span_print, a_client_span_is_one_sorted_line)
{
	struct span s = client_span();
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	cr_assert_eq(span_print(f, &s), 0);
	fclose(f);
	cr_expect_str_eq(
		text,
		"{\"duration_ms\":2.5,\"end_unix_ns\":1700000000125956789,\"host\":\"node-1\","
		"\"kind\":\"client\",\"method\":\"POST\",\"parent_span_id\":\"0202020202020202\","
		"\"peer_service\":\"payments\",\"route\":\"/payments\",\"server_address\":"
		"\"127.0.0.1\",\"server_port\":8003,\"service\":\"orders\",\"span_id\":"
		"\"0101010101010101\",\"start\":\"2023-11-14T22:13:20.123Z\",\"start_unix_ns\":"
		"1700000000123456789,\"status\":201,\"trace_id\":"
		"\"abababababababababababababababab\"}\n");
	free(text);
}

Test(span_print, a_root_server_span_has_a_null_parent_and_no_peer)
{
	struct span s = client_span();
	json_t *o;

	s.kind = SPAN_KIND_SERVER;
	memset(s.parent_span_id, 0, sizeof(s.parent_span_id));
	s.peer_service[0] = s.server_address[0] = '\0';
	s.server_port = 0;
	o = span_print_json(&s);
	cr_assert_not_null(o);
	cr_expect(json_is_null(json_object_get(o, "parent_span_id")));
	cr_expect_str_eq(json_string_value(json_object_get(o, "kind")), "server");
	cr_expect_null(json_object_get(o, "peer_service"));
	cr_expect_null(json_object_get(o, "server_address"));
	cr_expect_null(json_object_get(o, "server_port"));
	json_decref(o);
}
