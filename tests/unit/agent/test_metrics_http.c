/*
 * agent/metrics_http.c on a real socket of 127.0.0.1: GET and HEAD of
 * /metrics answer what the render function writes, in the format the
 * Accept header asks for; other paths are 404 and other methods 405, with
 * the JSON error envelope; a render that fails is a 500; a port already
 * taken and a bad address fail to start, with the errno.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/metrics_http.h"
#include "common/alloc.h"
#include "common/log.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"

static void quiet(void)
{
	log_init("test", LOG_LEVEL_ERROR, LOG_TO_STDERR);
}

TestSuite(metrics_http, .init = quiet, .fini = test_no_leaks);

struct fake {
	atomic_int calls, openmetrics_calls;
	bool fail;
};

static char *fake_render(void *arg, bool openmetrics, size_t *len)
{
	struct fake *f = arg;
	char *text;

	atomic_fetch_add(&f->calls, 1);
	if (openmetrics)
		atomic_fetch_add(&f->openmetrics_calls, 1);
	if (f->fail)
		return NULL;
	text = xstrdup(openmetrics ? "# TYPE up gauge\nup 1.0\n# EOF\n" : "up 1\n");
	*len = strlen(text);
	return text;
}

/* A port of 127.0.0.1 free a moment ago: the kernel's pick for port 0. */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static struct metrics_http *start(struct fake *f, char url[64])
{
	struct metrics_http *m = NULL;
	char listen[32];
	int port = free_port();

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(url, 64, "http://127.0.0.1:%d", port);
	cr_assert_eq(metrics_http_start(&m, listen, fake_render, f), 0);
	cr_assert_not_null(m);
	return m;
}

/* @method @path with an optional extra header line; returns the status. */
static long call(const char *base, const char *method, const char *path, const char *header,
		 struct buf *body, struct buf *headers)
{
	char url[128];
	long status = 0;

	snprintf(url, sizeof(url), "%s%s", base, path);
	buf_reset(body);
	buf_reset(headers);
	cr_assert_eq(
		http_call_full(method, url, NULL, "", header ? header : "", &status, body, headers),
		0, "%s %s: no answer", method, url);
	return status;
}

/* Checks the aggregator's envelope: {"error": {"status": @status, "code": @code, "message"}}. */
static void expect_error(const char *text, long status, const char *code)
{
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr), *e;

	cr_assert_not_null(o, "not JSON: %s", text);
	e = json_object_get(o, "error");
	cr_expect_eq(json_integer_value(json_object_get(e, "status")), status, "%s", text);
	cr_expect_str_eq(json_string_value(json_object_get(e, "code")), code);
	cr_expect(json_is_string(json_object_get(e, "message")), "%s", text);
	json_decref(o);
}

Test(metrics_http, get_and_head_answer_the_render_in_the_format_asked)
{
	struct fake f = { 0 };
	struct buf body, headers;
	char base[64], ct[128];
	struct metrics_http *m = start(&f, base);

	buf_init(&body, 1 << 16);
	buf_init(&headers, 1 << 16);
	cr_expect_eq(call(base, "GET", "/metrics", NULL, &body, &headers), 200);
	cr_expect_str_eq(buf_str(&body), "up 1\n");
	http_header_value(buf_str(&headers), "Content-Type", ct, sizeof(ct));
	cr_expect_str_eq(ct, "text/plain; version=0.0.4; charset=utf-8");

	cr_expect_eq(call(base, "GET", "/metrics",
			  "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
			  &body, &headers),
		     200);
	cr_expect_not_null(strstr(buf_str(&body), "# EOF"));
	http_header_value(buf_str(&headers), "Content-Type", ct, sizeof(ct));
	cr_expect_str_eq(ct, "application/openmetrics-text; version=1.0.0; charset=utf-8");

	cr_expect_eq(call(base, "HEAD", "/metrics", NULL, &body, &headers), 200);
	cr_expect_eq(body.len, 0);
	http_header_value(buf_str(&headers), "Content-Length", ct, sizeof(ct));
	cr_expect_str_eq(ct, "5");
	cr_expect_eq(atomic_load(&f.calls), 3);
	cr_expect_eq(atomic_load(&f.openmetrics_calls), 1);
	metrics_http_stop(m);
	buf_release(&body);
	buf_release(&headers);
}

Test(metrics_http, other_paths_and_methods_get_the_json_error_envelope)
{
	struct fake f = { 0 };
	struct buf body, headers;
	char base[64], allow[64];
	struct metrics_http *m = start(&f, base);

	buf_init(&body, 1 << 16);
	buf_init(&headers, 1 << 16);
	cr_expect_eq(call(base, "GET", "/", NULL, &body, &headers), 404);
	expect_error(buf_str(&body), 404, "not_found");
	cr_expect_eq(call(base, "GET", "/metrics/x", NULL, &body, &headers), 404);
	expect_error(buf_str(&body), 404, "not_found");
	cr_expect_eq(call(base, "POST", "/metrics", NULL, &body, &headers), 405);
	expect_error(buf_str(&body), 405, "method_not_allowed");
	http_header_value(buf_str(&headers), "Allow", allow, sizeof(allow));
	cr_expect_str_eq(allow, "GET, HEAD");
	cr_expect_eq(call(base, "DELETE", "/metrics", NULL, &body, &headers), 405);
	cr_expect_eq(atomic_load(&f.calls), 0, "errors never render");

	f.fail = true;
	cr_expect_eq(call(base, "GET", "/metrics", NULL, &body, &headers), 500);
	expect_error(buf_str(&body), 500, "internal");
	metrics_http_stop(m);
	buf_release(&body);
	buf_release(&headers);
}

Test(metrics_http, a_port_already_taken_or_a_bad_address_does_not_start)
{
	struct fake f = { 0 };
	struct metrics_http *m, *second = (struct metrics_http *)&f;
	char base[64], listen[64];

	m = start(&f, base);
	snprintf(listen, sizeof(listen), "127.0.0.1:%s", strrchr(base, ':') + 1);
	cr_expect_eq(metrics_http_start(&second, listen, fake_render, &f), -EADDRINUSE);
	cr_expect_null(second);
	cr_expect_eq(metrics_http_start(&second, "localhost:9464", fake_render, &f), -EINVAL);
	cr_expect_null(second);
	metrics_http_stop(m);
	metrics_http_stop(NULL);
}

Test(metrics_http, parse_address_takes_ipv4_and_bracketed_ipv6)
{
	struct sockaddr_storage a;
	char err[256];

	cr_assert_eq(metrics_http_parse_address("127.0.0.1:9464", &a, err, sizeof(err)), 0);
	cr_expect_eq(a.ss_family, AF_INET);
	cr_expect_eq(ntohs(((struct sockaddr_in *)&a)->sin_port), 9464);
	cr_assert_eq(metrics_http_parse_address("[::1]:19464", &a, err, sizeof(err)), 0);
	cr_expect_eq(a.ss_family, AF_INET6);
	cr_expect_eq(ntohs(((struct sockaddr_in6 *)&a)->sin6_port), 19464);
	cr_expect_eq(metrics_http_parse_address("[::1]", &a, err, sizeof(err)), -EINVAL);
	cr_expect_not_null(strstr(err, "'[::1]'"), "%s", err);
}
