/*
 * GET /metrics over real HTTP: the counters of windows stored, in the text
 * format that Prometheus's own checker (promtool, Debian's prometheus
 * package) accepts, or in OpenMetrics when asked; a tenant's own series
 * only; the aggregator's health for the default tenant only.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "aggregator/store/store.h"
#include "common/hist.h"
#include "common/window.h"
#include "tests/lib/api_fixture.h"
#include "tests/lib/http.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"

TestSuite(http_metrics, .fini = test_no_leaks);

static struct api_fixture fx;

#define MS 1000000ULL

/* Windows of orders: @n GET @route 200 at 30 ms, one POST /orders 503, syscalls, calls, TCP. */
static void put_windows(const char *tenant, const char *route, uint64_t n)
{
	struct store *s = NULL;
	struct window_batch_item item = { 0 };
	struct window_batch b = { 0 };
	struct window *w = window_new(1);
	struct window_http *h = window_http_get(w, "GET", route, 200);
	struct window_syscall *y = window_syscall_get(w, 0, "read");
	struct window_call *c = window_call_get(w, "127.0.0.1:8002");
	static uint64_t seq;

	h->count = n;
	hist_record_n(&h->latency_ns, 30 * MS, n);
	h = window_http_get(w, "POST", "/orders", 503);
	h->count = 1;
	hist_record(&h->latency_ns, 2 * MS);
	y->count = 9;
	y->errors = 3;
	window_syscall_add_errno(y, EAGAIN, 3);
	hist_record_n(&y->latency_ns, 1000, 9);
	snprintf(c->peer, sizeof(c->peer), "users");
	c->count = 2;
	c->errors = 1;
	hist_record_n(&c->latency_ns, 4 * MS, 2);
	w->tcp.retransmits = 5;
	snprintf(b.host, sizeof(b.host), "host-1");
	b.end_ms = 1700000000000LL + (int64_t)seq * 1000;
	b.interval_ms = 1000;
	b.items = &item;
	b.n = 1;
	snprintf(item.service, sizeof(item.service), "orders");
	item.w = w;
	cr_assert_eq(store_open(&s, &fx.so), 0);
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_put_windows(s, tenant, "agent-1", ++seq, &b), 0);
	cr_assert_eq(store_commit(s), 0);
	store_close(s);
	window_free(w);
}

static void setup(void)
{
	api_fixture_start(&fx, "http-metrics", API_FIXTURE_AUTH);
}

static void teardown(void)
{
	api_fixture_stop(&fx);
	test_no_leaks();
}

struct got {
	long status;
	char content_type[128];
	char *body;
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct got *g = arg;

	g->body = realloc(g->body, g->len + size * n + 1);
	cr_assert_not_null(g->body);
	memcpy(g->body + g->len, p, size * n);
	g->len += size * n;
	g->body[g->len] = '\0';
	return size * n;
}

/* GET /metrics with @key (NULL: none) and @accept (NULL: none). */
static struct got scrape(const char *key, const char *accept)
{
	struct got g = { 0 };
	struct curl_slist *hs = NULL;
	char url[128], h[256];
	CURL *c = curl_easy_init();
	char *ct = NULL;

	cr_assert_not_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", api_fixture_port(&fx));
	if (key) {
		snprintf(h, sizeof(h), "X-API-Key: %s", key);
		hs = curl_slist_append(hs, h);
	}
	if (accept) {
		snprintf(h, sizeof(h), "Accept: %s", accept);
		hs = curl_slist_append(hs, h);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g.status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(g.content_type, sizeof(g.content_type), "%s", ct ? ct : "");
	curl_slist_free_all(hs);
	curl_easy_cleanup(c);
	if (!g.body)
		g.body = calloc(1, 1);
	return g;
}

/* promtool's verdict on @text: its exit status (0: no problem). */
static int promtool_check(const char *text)
{
	FILE *p = popen("promtool check metrics", "w");
	int st;

	cr_assert_not_null(p, "promtool (Debian's prometheus package) is needed");
	fputs(text, p);
	st = pclose(p);
	cr_assert(WIFEXITED(st), "promtool did not run");
	cr_assert_neq(WEXITSTATUS(st), 127, "promtool (Debian's prometheus package) is needed");
	return WEXITSTATUS(st);
}

static void expect_line(const char *body, const char *line)
{
	char *want;

	cr_assert_neq(asprintf(&want, "\n%s\n", line), -1);
	cr_assert_not_null(strstr(body, want), "no line '%s' in:\n%s", line, body);
	free(want);
}

Test(http_metrics, text_format_passes_promtool_with_exact_counts, .init = setup,
     .fini = teardown)
{
	struct got g;

	put_windows("default", "/users/{id}", 10);
	put_windows("default", "/users/{id}", 5);
	g = scrape(fx.admin_key, NULL);
	cr_assert_eq(g.status, 200, "%s", g.body);
	cr_assert_str_eq(g.content_type, "text/plain; version=0.0.4; charset=utf-8");
	expect_line(g.body, "# TYPE http_server_request_duration_seconds histogram");
	expect_line(g.body, "http_server_request_duration_seconds_count{service_name=\"orders\","
			    "http_request_method=\"GET\",http_route=\"/users/{id}\","
			    "http_response_status_code=\"200\"} 15");
	expect_line(g.body, "http_server_request_duration_seconds_bucket{service_name=\"orders\","
			    "http_request_method=\"GET\",http_route=\"/users/{id}\","
			    "http_response_status_code=\"200\",le=\"0.025\"} 0");
	expect_line(g.body, "http_server_request_duration_seconds_bucket{service_name=\"orders\","
			    "http_request_method=\"GET\",http_route=\"/users/{id}\","
			    "http_response_status_code=\"200\",le=\"0.05\"} 15");
	expect_line(g.body, "http_server_request_duration_seconds_sum{service_name=\"orders\","
			    "http_request_method=\"GET\",http_route=\"/users/{id}\","
			    "http_response_status_code=\"200\"} 0.45");
	expect_line(g.body, "http_client_request_duration_seconds_count{service_name=\"orders\","
			    "server_service_name=\"users\"} 4");
	expect_line(g.body, "prp_http_client_errors_total{service_name=\"orders\","
			    "server_service_name=\"users\"} 2");
	expect_line(g.body, "prp_syscalls_total{service_name=\"orders\",syscall=\"read\"} 18");
	expect_line(g.body, "prp_syscall_errors_total{service_name=\"orders\",syscall=\"read\","
			    "errno=\"EAGAIN\"} 6");
	expect_line(g.body, "prp_tcp_retransmits_total{service_name=\"orders\"} 10");
	expect_line(g.body, "prp_tcp_resets_total{service_name=\"orders\"} 0");
	expect_line(g.body, "prp_ingest_windows_total 0");
	cr_assert_not_null(strstr(g.body, "\nprp_build_info{version=\"test\"} 1\n"));
	cr_assert_not_null(strstr(g.body, "\nprp_store_size_bytes "));
	cr_assert_eq(promtool_check(g.body), 0, "promtool finds problems in:\n%s", g.body);
	free(g.body);
}

Test(http_metrics, openmetrics_when_asked_as_prometheus_asks, .init = setup, .fini = teardown)
{
	struct got g;

	put_windows("default", "/a", 3);
	g = scrape(fx.admin_key, "application/openmetrics-text;version=1.0.0,application/"
				 "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
				 "q=0.5,*/*;q=0.1");
	cr_assert_eq(g.status, 200);
	cr_assert_str_eq(g.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
	cr_assert(g.len > 6 && !strcmp(g.body + g.len - 6, "# EOF\n"), "ends with # EOF");
	expect_line(g.body, "# TYPE prp_syscalls counter");
	expect_line(g.body, "prp_syscalls_total{service_name=\"orders\",syscall=\"read\"} 9");
	expect_line(g.body, "http_server_request_duration_seconds_bucket{service_name=\"orders\","
			    "http_request_method=\"GET\",http_route=\"/a\","
			    "http_response_status_code=\"200\",le=\"1.0\"} 3");
	free(g.body);
}

Test(http_metrics, a_tenant_sees_its_own_series_and_not_the_platform, .init = setup,
     .fini = teardown)
{
	char body[128], team_b[APIKEY_LEN + 1];
	struct buf resp;
	long status;
	json_t *d;
	struct got g;

	put_windows("default", "/default-only", 1);
	put_windows("team-b", "/b-only", 1);
	snprintf(body, sizeof(body),
		 "{\"name\": \"b\", \"role\": \"viewer\", \"tenant\": \"team-b\"}");
	buf_init(&resp, 1 << 20);
	http_set_api_key(fx.admin_key);
	{
		char url[128];

		snprintf(url, sizeof(url), "http://127.0.0.1:%u/keys", api_fixture_port(&fx));
		cr_assert_eq(http_call("POST", url, body, &status, &resp, NULL), 0);
	}
	http_set_api_key(NULL);
	cr_assert_eq(status, 201);
	d = json_loadb((const char *)resp.data, resp.len, 0, NULL);
	snprintf(team_b, sizeof(team_b), "%s", jget_str(d, "key"));
	json_decref(d);
	buf_release(&resp);

	g = scrape(team_b, NULL);
	cr_assert_eq(g.status, 200);
	cr_assert_not_null(strstr(g.body, "http_route=\"/b-only\""));
	cr_assert_null(strstr(g.body, "/default-only"), "team-b sees default's series");
	cr_assert_null(strstr(g.body, "prp_build_info"), "the platform's health is not a tenant's");
	free(g.body);

	g = scrape(NULL, NULL);
	cr_assert_eq(g.status, 401, "no key, no metrics");
	cr_assert_str_eq(g.content_type, "application/json");
	free(g.body);
}

Test(http_metrics, label_values_are_escaped, .init = setup, .fini = teardown)
{
	struct got g;

	put_windows("default", "/odd\"quote\\back", 1);
	g = scrape(fx.admin_key, NULL);
	cr_assert_eq(g.status, 200);
	cr_assert_not_null(strstr(g.body, "http_route=\"/odd\\\"quote\\\\back\""), "%s",
			   g.body);
	cr_assert_eq(promtool_check(g.body), 0);
	free(g.body);
}
