/*
 * agent/node_metrics.c: windows summed into cumulative series, in
 * OpenTelemetry's bins; the per-service HTTP series cap and its overflow
 * series; quiet services; the health families; what a scrape sees (the last
 * published snapshot only, also while the main loop publishes); and both
 * formats, checked by promtool (Debian's prometheus package).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "agent/node_metrics.h"
#include "common/hist.h"
#include "common/window.h"
#include "tests/lib/leakcheck.h"

TestSuite(node_metrics, .fini = test_no_leaks);

#define MS 1000000ull

/* A window of @n GET @route 200 requests of @latency_ns each. */
static struct window *http_window(const char *route, uint64_t n, uint64_t latency_ns)
{
	struct window *w = window_new(1);
	struct window_http *h = window_http_get(w, "GET", route, 200);

	h->count += n;
	hist_record_n(&h->latency_ns, latency_ns, n);
	return w;
}

static char *render(struct node_metrics *m, bool openmetrics)
{
	size_t len = 0;
	char *text = node_metrics_render(m, openmetrics, &len);

	cr_assert_not_null(text);
	cr_assert_eq(strlen(text), len);
	return text;
}

/* The value of the sample whose name and labels are exactly @series; -1 when absent. */
static double value_of(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static int promtool_check(const char *text)
{
	FILE *p = popen("promtool check metrics >/dev/null 2>&1", "w");
	int st;

	cr_assert_not_null(p, "promtool (Debian's prometheus package) is needed");
	fputs(text, p);
	st = pclose(p);
	cr_assert(WIFEXITED(st), "promtool did not run");
	cr_assert_neq(WEXITSTATUS(st), 127, "promtool (Debian's prometheus package) is needed");
	return WEXITSTATUS(st);
}

static const struct node_metrics_health no_health;

#define USERS_ID "service_name=\"users\",http_request_method=\"GET\",http_route=\"/users/{id}\""

Test(node_metrics, windows_add_up_in_the_otel_bins)
{
	struct node_metrics *m = node_metrics_new(1000, 1700000000.5);
	struct window *a = http_window("/users/{id}", 30, 3 * MS),
		      *b = http_window("/users/{id}", 7, 60 * MS);
	char *text;

	node_metrics_add(m, "users", a);
	node_metrics_add(m, "users", b);
	node_metrics_publish(m, &no_health);
	text = render(m, false);
	cr_expect_eq(value_of(text, "http_server_request_duration_seconds_count{" USERS_ID
				    ",http_response_status_code=\"200\"}"),
		     37, "%s", text);
	cr_expect_eq(value_of(text, "http_server_request_duration_seconds_bucket{" USERS_ID
				    ",http_response_status_code=\"200\",le=\"0.005\"}"),
		     30);
	cr_expect_eq(value_of(text, "http_server_request_duration_seconds_bucket{" USERS_ID
				    ",http_response_status_code=\"200\",le=\"0.05\"}"),
		     30);
	cr_expect_eq(value_of(text, "http_server_request_duration_seconds_bucket{" USERS_ID
				    ",http_response_status_code=\"200\",le=\"0.075\"}"),
		     37);
	cr_expect_eq(value_of(text, "http_server_request_duration_seconds_bucket{" USERS_ID
				    ",http_response_status_code=\"200\",le=\"+Inf\"}"),
		     37);
	/* 30 * 3 ms + 7 * 60 ms = 0.51 s, within the histograms' 1/256 */
	cr_expect_float_eq(value_of(text, "http_server_request_duration_seconds_sum{" USERS_ID
					  ",http_response_status_code=\"200\"}"),
			   0.51, 0.51 / 256);
	cr_expect_eq(value_of(text, "prp_agent_start_time_seconds"), 1700000000.5);
	cr_expect_eq(promtool_check(text), 0, "%s", text);
	free(text);
	window_free(a);
	window_free(b);
	node_metrics_free(m);
}

Test(node_metrics, calls_syscalls_and_tcp_are_summed_under_the_aggregators_names)
{
	struct node_metrics *m = node_metrics_new(1000, 0);
	struct window *w = window_new(1);
	struct window_call *c = window_call_get(w, "127.0.0.1:8003");
	struct window_call *anon = window_call_get(w, "10.0.0.9:80");
	struct window_syscall *s = window_syscall_get(w, 0, "read");
	char *text;

	snprintf(c->peer, sizeof(c->peer), "payments");
	c->count = 5;
	c->errors = 2;
	hist_record_n(&c->latency_ns, 20 * MS, 5);
	anon->count = 1;
	hist_record(&anon->latency_ns, 1 * MS);
	s->count = 100;
	s->errors = 4;
	window_syscall_add_errno(s, EAGAIN, 3);
	window_syscall_add_errno(s, 0, 1);
	w->tcp.retransmits = 2;
	w->tcp.resets = 1;
	node_metrics_add(m, "orders", w);
	node_metrics_add(m, "orders", w);
	node_metrics_publish(m, &no_health);
	text = render(m, false);
	cr_expect_eq(value_of(text,
			      "http_client_request_duration_seconds_count{service_name=\"orders\","
			      "server_service_name=\"payments\"}"),
		     10, "%s", text);
	/* a callee that is no known service is named by its address */
	cr_expect_eq(value_of(text,
			      "http_client_request_duration_seconds_count{service_name=\"orders\","
			      "server_service_name=\"10.0.0.9:80\"}"),
		     2);
	cr_expect_eq(value_of(text, "prp_http_client_errors_total{service_name=\"orders\","
				    "server_service_name=\"payments\"}"),
		     4);
	cr_expect_eq(value_of(text, "prp_syscalls_total{service_name=\"orders\",syscall=\"read\"}"),
		     200);
	cr_expect_eq(value_of(text,
			      "prp_syscall_errors_total{service_name=\"orders\",syscall=\"read\","
			      "errno=\"EAGAIN\"}"),
		     6);
	cr_expect_eq(value_of(text,
			      "prp_syscall_errors_total{service_name=\"orders\",syscall=\"read\","
			      "errno=\"other\"}"),
		     2);
	cr_expect_eq(value_of(text, "prp_tcp_retransmits_total{service_name=\"orders\"}"), 4);
	cr_expect_eq(value_of(text, "prp_tcp_resets_total{service_name=\"orders\"}"), 2);
	cr_expect_eq(value_of(text, "prp_tcp_connect_failures_total{service_name=\"orders\"}"), 0);
	cr_expect_eq(promtool_check(text), 0, "%s", text);
	free(text);
	window_free(w);
	node_metrics_free(m);
}

Test(node_metrics, series_past_the_cap_go_to_the_overflow_series)
{
	struct node_metrics *m = node_metrics_new(3, 0);
	struct window *w = window_new(1);
	char route[32], *text;
	double total = 0;

	/* 5 routes and 1 callee against a cap of 3: 2 routes and the callee overflow */
	for (int i = 0; i < 5; i++) {
		struct window_http *h;

		snprintf(route, sizeof(route), "/r%d", i);
		h = window_http_get(w, "GET", route, 200);
		h->count = 10;
		hist_record_n(&h->latency_ns, 2 * MS, 10);
	}
	window_call_get(w, "127.0.0.1:1")->count = 1;
	node_metrics_add(m, "users", w);
	node_metrics_add(m, "users", w);
	node_metrics_publish(m, &no_health);
	text = render(m, false);
	for (int i = 0; i < 3; i++) {
		char series[256];

		snprintf(series, sizeof(series),
			 "http_server_request_duration_seconds_count{service_name=\"users\","
			 "http_request_method=\"GET\",http_route=\"/r%d\","
			 "http_response_status_code=\"200\"}",
			 i);
		cr_expect_eq(value_of(text, series), 20, "%s", text);
		total += value_of(text, series);
	}
	/* the overflow series has no status label; totals stay exact */
	total += value_of(text, "http_server_request_duration_seconds_count{service_name=\"users\","
				"http_request_method=\"_OTHER\",http_route=\"{overflow}\"}");
	cr_expect_eq(total, 100, "%s", text);
	cr_expect_eq(value_of(text,
			      "http_client_request_duration_seconds_count{service_name=\"users\","
			      "server_service_name=\"{overflow}\"}"),
		     2);
	/* one per window entry that took that path: (2 routes + 1 call) * 2 windows */
	cr_expect_eq(value_of(text, "prp_metrics_series_overflow_total{service_name=\"users\"}"),
		     6);
	cr_expect_null(strstr(text, "/r3"));
	cr_expect_eq(promtool_check(text), 0, "%s", text);
	free(text);
	window_free(w);
	node_metrics_free(m);
}

Test(node_metrics, a_quiet_service_is_listed_with_zero_counters)
{
	struct node_metrics *m = node_metrics_new(1000, 0);
	char *text;

	node_metrics_add(m, "idle", NULL);
	node_metrics_publish(m, &no_health);
	text = render(m, false);
	cr_expect_eq(value_of(text, "prp_tcp_resets_total{service_name=\"idle\"}"), 0, "%s", text);
	cr_expect_eq(value_of(text, "prp_metrics_series_overflow_total{service_name=\"idle\"}"), 0);
	/* no empty families */
	cr_expect_null(strstr(text, "http_server_request_duration_seconds"));
	cr_expect_null(strstr(text, "prp_syscalls_total"));
	cr_expect_eq(promtool_check(text), 0, "%s", text);
	free(text);
	node_metrics_free(m);
}

Test(node_metrics, a_scrape_sees_the_last_published_window_only)
{
	struct node_metrics *m = node_metrics_new(1000, 0);
	struct window *w = http_window("/a", 4, MS);
	char *text = render(m, false); /* before any window: valid, health only */

	cr_expect_eq(value_of(text, "prp_agent_windows_total"), 0, "%s", text);
	cr_expect_eq(promtool_check(text), 0, "%s", text);
	free(text);
	node_metrics_add(m, "users", w);
	text = render(m, false);
	cr_expect_null(strstr(text, "http_route=\"/a\""), "not published yet:\n%s", text);
	free(text);
	node_metrics_publish(m, &(struct node_metrics_health){ .windows = 1 });
	text = render(m, false);
	cr_expect_eq(value_of(text,
			      "http_server_request_duration_seconds_count{service_name=\"users\","
			      "http_request_method=\"GET\",http_route=\"/a\","
			      "http_response_status_code=\"200\"}"),
		     4, "%s", text);
	cr_expect_eq(value_of(text, "prp_agent_windows_total"), 1);
	free(text);
	window_free(w);
	node_metrics_free(m);
}

Test(node_metrics, health_shows_samplers_drops_and_the_uplink_when_it_runs)
{
	struct node_metrics *m = node_metrics_new(1000, 0);
	struct node_metrics_health h = { .windows = 9, .services_watched = 3 };
	char *text;

	h.samplers[h.nsamplers].name = "http";
	h.samplers[h.nsamplers++].on = true;
	h.samplers[h.nsamplers].name = "syscalls";
	h.samplers[h.nsamplers++].on = false;
	h.drops[h.ndrops].sampler = "http";
	h.drops[h.ndrops].reason = "map_full";
	h.drops[h.ndrops++].count = 12;
	node_metrics_publish(m, &h);
	text = render(m, false);
	cr_expect_eq(value_of(text, "prp_agent_build_info{version=\"" PRP_VERSION "\"}"), 1, "%s",
		     text);
	cr_expect_eq(value_of(text, "prp_agent_windows_total"), 9);
	cr_expect_eq(value_of(text, "prp_agent_services_watched"), 3);
	cr_expect_eq(value_of(text, "prp_agent_sampler_enabled{sampler=\"http\"}"), 1);
	cr_expect_eq(value_of(text, "prp_agent_sampler_enabled{sampler=\"syscalls\"}"), 0);
	cr_expect_eq(
		value_of(text,
			 "prp_agent_sampler_drops_total{sampler=\"http\",reason=\"map_full\"}"),
		12);
	/* not sending: no uplink families at all */
	cr_expect_null(strstr(text, "prp_agent_uplink_connected"));
	cr_expect_null(strstr(text, "prp_agent_spool_bytes"));
	free(text);
	h.uplink = true;
	h.uplink_connected = true;
	h.frames_sent = 11;
	h.frames_acked = 10;
	h.spool_bytes = 4096;
	h.spool_lost_frames = 2;
	node_metrics_publish(m, &h);
	text = render(m, false);
	cr_expect_eq(value_of(text, "prp_agent_uplink_connected"), 1, "%s", text);
	cr_expect_eq(value_of(text, "prp_agent_frames_sent_total"), 11);
	cr_expect_eq(value_of(text, "prp_agent_frames_acked_total"), 10);
	cr_expect_eq(value_of(text, "prp_agent_spool_bytes"), 4096);
	cr_expect_eq(value_of(text, "prp_agent_spool_lost_frames_total"), 2);
	cr_expect_eq(promtool_check(text), 0, "%s", text);
	free(text);
	node_metrics_free(m);
}

Test(node_metrics, openmetrics_names_counter_families_without_total_and_ends_with_eof)
{
	struct node_metrics *m = node_metrics_new(1000, 0);
	struct window *w = http_window("/a", 1, MS);
	char *text;
	size_t n;

	node_metrics_add(m, "users", w);
	node_metrics_publish(m, &(struct node_metrics_health){ .windows = 1 });
	text = render(m, true);
	n = strlen(text);
	cr_assert_geq(n, 6);
	cr_expect_str_eq(text + n - 6, "# EOF\n");
	cr_expect_not_null(strstr(text, "# TYPE prp_agent_windows counter\n"), "%s", text);
	cr_expect_not_null(strstr(text, "\nprp_agent_windows_total 1\n"), "%s", text);
	cr_expect_not_null(strstr(text, "le=\"1.0\"}"), "OpenMetrics floats: %s", text);
	free(text);
	window_free(w);
	node_metrics_free(m);
}

/* ---- a scrape while the main loop publishes ---- */

struct scraper {
	struct node_metrics *m;
	atomic_bool stop;
	atomic_uint scrapes;
	unsigned bad;
};

static void *scrape_loop(void *arg)
{
	struct scraper *s = arg;

	while (!atomic_load(&s->stop)) {
		size_t len = 0;
		bool om = atomic_load(&s->scrapes) & 1;
		char *text = node_metrics_render(s->m, om, &len);

		/* every text is whole */
		if (!text || !strstr(text, "prp_agent_start_time_seconds") ||
		    (om && !strstr(text, "# EOF\n")))
			s->bad++;
		free(text);
		atomic_fetch_add(&s->scrapes, 1);
	}
	return NULL;
}

Test(node_metrics, scrapes_on_another_thread_see_whole_snapshots)
{
	struct scraper s = { .m = node_metrics_new(1000, 0) };
	struct window *w = http_window("/a", 1, MS);
	pthread_t t;

	atomic_init(&s.stop, false);
	atomic_init(&s.scrapes, 0);
	cr_assert_eq(pthread_create(&t, NULL, scrape_loop, &s), 0);
	/* until the scraper has read many snapshots, each one soon replaced */
	for (uint64_t i = 1; i <= 2000 || (atomic_load(&s.scrapes) < 200 && i < 10000000); i++) {
		node_metrics_add(s.m, "users", w);
		node_metrics_publish(s.m, &(struct node_metrics_health){ .windows = i });
	}
	atomic_store(&s.stop, true);
	pthread_join(t, NULL);
	cr_expect_eq(s.bad, 0);
	cr_expect_geq(atomic_load(&s.scrapes), 200);
	window_free(w);
	node_metrics_free(s.m);
}
