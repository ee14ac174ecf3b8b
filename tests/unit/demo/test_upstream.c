/*
 * The pooled libcurl client against a small libmicrohttpd server started in
 * the test process: statuses, bodies, headers, failures, and connection reuse.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "demo/upstream.h"
#include "tests/lib/leakcheck.h"

static struct MHD_Daemon *server;
static char server_url[64];
static atomic_int connections;

struct upload {
	struct buf body;
};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);

	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct upload *up = *con_cls;
	char text[1024];

	(void)cls;
	(void)version;
	if (!up) {
		up = calloc(1, sizeof(*up));
		buf_init(&up->body, 1 << 16);
		*con_cls = up;
		return MHD_YES;
	}
	if (*size) {
		if (buf_append(&up->body, data, *size))
			return MHD_NO;
		*size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/ok"))
		return answer(conn, 200, "{\"id\":5}");
	if (!strcmp(url, "/echo")) {
		const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
		const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");

		snprintf(text, sizeof(text), "%s %s %s %s", method, id ? id : "-", ct ? ct : "-",
			 buf_str(&up->body));
		return answer(conn, 201, text);
	}
	if (!strcmp(url, "/fail"))
		return answer(conn, 503, "{}");
	if (!strcmp(url, "/slow")) {
		time_sleep_ns(1500 * NSEC_PER_MSEC);
		return answer(conn, 200, "{}");
	}
	if (!strcmp(url, "/big")) {
		size_t n = UPSTREAM_MAX_BODY + 4096;
		char *big = malloc(n);
		struct MHD_Response *r;
		enum MHD_Result ret;

		memset(big, 'x', n);
		r = MHD_create_response_from_buffer(n, big, MHD_RESPMEM_MUST_FREE);
		ret = MHD_queue_response(conn, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	return answer(conn, 404, "{}");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (up) {
		buf_release(&up->body);
		free(up);
		*con_cls = NULL;
	}
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	(void)cls;
	(void)conn;
	(void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&connections, 1);
}

static void server_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	const union MHD_DaemonInfo *info;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	server = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0,
		NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, NULL, MHD_OPTION_END);
	cr_assert_not_null(server);
	info = MHD_get_daemon_info(server, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%u", (unsigned)info->port);
}

static void server_stop(void)
{
	MHD_stop_daemon(server);
	curl_global_cleanup();
	test_no_leaks();
}

TestSuite(upstream, .init = server_start, .fini = server_stop, .timeout = 30);

static struct upstream_pool *pool_new(long timeout_ms)
{
	struct upstream_pool *p = upstream_pool_new(500, timeout_ms);

	cr_assert_eq(upstream_pool_add(p, "svc", server_url), 0);
	return p;
}

static int call(struct upstream_pool *p, const char *method, const char *path, const char *body,
		struct upstream_response *rs, char *err, size_t errlen)
{
	struct upstream u = upstream_pool_as_upstream(p);
	struct upstream_request rq = { .service = "svc",
				       .method = method,
				       .path = path,
				       .body = body,
				       .request_id = "rid-1" };

	upstream_response_init(rs);
	return upstream_call(&u, &rq, rs, err, errlen);
}

Test(upstream, get_returns_the_status_and_body)
{
	struct upstream_pool *p = pool_new(5000);
	struct upstream_response rs;
	char err[256];

	cr_assert_eq(call(p, "GET", "/ok", NULL, &rs, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rs.status, 200);
	cr_assert_str_eq(buf_str(&rs.body), "{\"id\":5}");
	upstream_response_release(&rs);
	upstream_pool_free(p);
}

Test(upstream, post_sends_the_body_as_json_with_the_request_id)
{
	struct upstream_pool *p = pool_new(5000);
	struct upstream_response rs;
	char err[256];

	cr_assert_eq(call(p, "POST", "/echo", "{\"a\":1}", &rs, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rs.status, 201);
	cr_assert_str_eq(buf_str(&rs.body), "POST rid-1 application/json {\"a\":1}");
	upstream_response_release(&rs);
	upstream_pool_free(p);
}

Test(upstream, an_error_status_is_a_response_not_a_failure)
{
	struct upstream_pool *p = pool_new(5000);
	struct upstream_response rs;
	char err[256];

	cr_assert_eq(call(p, "GET", "/fail", NULL, &rs, err, sizeof(err)), 0);
	cr_assert_eq(rs.status, 503);
	upstream_response_release(&rs);
	upstream_pool_free(p);
}

Test(upstream, an_unknown_service_is_enoent)
{
	struct upstream_pool *p = pool_new(5000);
	struct upstream u = upstream_pool_as_upstream(p);
	struct upstream_request rq = { .service = "nope", .method = "GET", .path = "/" };
	struct upstream_response rs;
	char err[256];

	upstream_response_init(&rs);
	cr_assert_eq(upstream_call(&u, &rq, &rs, err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, "nope"), "%s", err);
	upstream_response_release(&rs);
	upstream_pool_free(p);
}

Test(upstream, no_upstream_at_all_is_enoent)
{
	struct upstream u = { 0 };
	struct upstream_request rq = { .service = "users", .method = "GET", .path = "/" };
	struct upstream_response rs;
	char err[256];

	upstream_response_init(&rs);
	cr_assert_eq(upstream_call(&u, &rq, &rs, err, sizeof(err)), -ENOENT);
	upstream_response_release(&rs);
}

/* A port on 127.0.0.1 with nothing listening. */
static unsigned closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

Test(upstream, a_refused_connection_is_econnrefused_with_a_message)
{
	struct upstream_pool *p = upstream_pool_new(500, 2000);
	struct upstream u = upstream_pool_as_upstream(p);
	struct upstream_request rq = { .service = "down", .method = "GET", .path = "/users/1" };
	struct upstream_response rs;
	char url[64], err[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", closed_port());
	cr_assert_eq(upstream_pool_add(p, "down", url), 0);
	upstream_response_init(&rs);
	cr_assert_eq(upstream_call(&u, &rq, &rs, err, sizeof(err)), -ECONNREFUSED);
	cr_assert_not_null(strstr(err, "/users/1"), "%s", err);
	cr_assert_eq(rs.status, 0);
	upstream_response_release(&rs);
	upstream_pool_free(p);
}

Test(upstream, a_slow_answer_times_out)
{
	struct upstream_pool *p = pool_new(300);
	struct upstream_response rs;
	uint64_t t0 = time_mono_ns();
	char err[256];

	cr_assert_eq(call(p, "GET", "/slow", NULL, &rs, err, sizeof(err)), -ETIMEDOUT);
	cr_assert_lt(time_mono_ns() - t0, 1400 * NSEC_PER_MSEC);
	upstream_response_release(&rs);
	upstream_pool_free(p);
}

Test(upstream, a_body_past_the_cap_fails_with_e2big)
{
	struct upstream_pool *p = pool_new(5000);
	struct upstream_response rs;
	char err[256];

	cr_assert_eq(call(p, "GET", "/big", NULL, &rs, err, sizeof(err)), -E2BIG);
	cr_assert_not_null(strstr(err, "larger than"), "%s", err);
	cr_assert_leq(rs.body.len, UPSTREAM_MAX_BODY);
	upstream_response_release(&rs);
	upstream_pool_free(p);
}

Test(upstream, sequential_calls_reuse_one_keep_alive_connection)
{
	struct upstream_pool *p = pool_new(5000);
	int before = atomic_load(&connections);

	for (int i = 0; i < 10; i++) {
		struct upstream_response rs;
		char err[256];

		cr_assert_eq(call(p, i % 2 ? "GET" : "POST", i % 2 ? "/ok" : "/echo",
				  i % 2 ? NULL : "{}", &rs, err, sizeof(err)),
			     0, "%s", err);
		upstream_response_release(&rs);
	}
	cr_assert_eq(atomic_load(&connections) - before, 1, "%d connections for 10 calls",
		     atomic_load(&connections) - before);
	upstream_pool_free(p);
}

static void *caller(void *arg)
{
	struct upstream_pool *p = arg;

	for (int i = 0; i < 20; i++) {
		struct upstream_response rs;
		char err[256];

		if (call(p, "GET", "/ok", NULL, &rs, err, sizeof(err)) || rs.status != 200) {
			upstream_response_release(&rs);
			return (void *)1;
		}
		upstream_response_release(&rs);
	}
	return NULL;
}

Test(upstream, concurrent_calls_all_succeed_on_few_connections)
{
	struct upstream_pool *p = pool_new(5000);
	int before = atomic_load(&connections);
	pthread_t t[8];

	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, caller, p);
	for (int i = 0; i < 8; i++) {
		void *failed;

		pthread_join(t[i], &failed);
		cr_assert_null(failed);
	}
	/* at most one connection per handle, and at most one handle per thread */
	cr_assert_leq(atomic_load(&connections) - before, 8);
	upstream_pool_free(p);
}

Test(upstream, add_refuses_duplicates_and_too_many)
{
	struct upstream_pool *p = upstream_pool_new(500, 500);
	char name[16];

	cr_assert_eq(upstream_pool_add(p, "a", "http://127.0.0.1:1/"), 0);
	cr_assert_eq(upstream_pool_add(p, "a", "http://127.0.0.1:2"), -EEXIST);
	for (int i = 1; i < UPSTREAM_MAX_TARGETS; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		cr_assert_eq(upstream_pool_add(p, name, "http://127.0.0.1:1"), 0);
	}
	cr_assert_eq(upstream_pool_add(p, "last", "http://127.0.0.1:1"), -E2BIG);
	upstream_pool_free(p);
	upstream_pool_free(NULL);
}

Test(upstream, a_trailing_slash_in_the_base_url_is_dropped)
{
	struct upstream_pool *p = upstream_pool_new(500, 5000);
	struct upstream_response rs;
	char url[80], err[256];

	snprintf(url, sizeof(url), "%s/", server_url);
	cr_assert_eq(upstream_pool_add(p, "svc", url), 0);
	cr_assert_eq(call(p, "GET", "/ok", NULL, &rs, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rs.status, 200, "the path was not /ok");
	upstream_response_release(&rs);
	upstream_pool_free(p);
}
