/*
 * prp-agent's local /metrics, as a real process watching a real demo
 * service: after exactly N requests the request histograms count exactly N
 * (what --print counts), promtool finds nothing wrong with the exposition,
 * OpenMetrics comes when asked, other paths and methods get the JSON error
 * envelope; and a bad metrics.listen or a port already taken stops the agent
 * at start with a clear message. /metrics listens on 127.0.0.1:19464, a port
 * no other test uses.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "tests/lib/demo_services.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"

#define AGENT	       PRP_BUILD_DIR "/prp-agent"
#define LOCK	       "/tmp/prp-agent-metrics-test.lock"
#define METRICS_PORT   19464
#define METRICS_LISTEN "127.0.0.1:19464"
#define METRICS_URL    "http://127.0.0.1:19464"

static struct demo_service users;
static struct proc agent;

/* Starts the agent on users with /metrics, printing its windows; no aggregator. */
static int agent_start(struct proc *p, const char *listen, int port)
{
	char svc[64];

	snprintf(svc, sizeof(svc), "users=port:%d", port);
	return proc_start(p, (const char *const[]){ AGENT, "--print", "--aggregator", "",
						    "--interval-ms", "500", "--lock-file", LOCK,
						    "--service", svc, "--metrics-listen", listen,
						    NULL });
}

static void setup(void)
{
	cr_assert_eq(geteuid(), 0, "the agent tests need root");
	demo_service_start(&users, (const char *const[]){ "--name", "users", "--port", "0", NULL });
	cr_assert_eq(agent_start(&agent, METRICS_LISTEN, users.port), 0);
	cr_assert_eq(
		proc_wait_for(&agent, "metrics: serving http://" METRICS_LISTEN "/metrics", 15000),
		0, "no /metrics: %s", buf_str(&agent.err));
	cr_assert_eq(proc_wait_for(&agent, "\"service\":", 15000), 0, "no window printed: %s",
		     buf_str(&agent.err));
}

static void teardown(void)
{
	if (agent.pid)
		proc_stop(&agent, 10000);
	proc_release(&agent);
	if (users.proc.pid)
		proc_stop(&users.proc, 5000);
	proc_release(&users.proc);
	test_no_leaks();
}

TestSuite(agent_metrics, .init = setup, .fini = teardown, .timeout = 60);

/* GET @path of /metrics' server with an optional header line; returns the status. */
static long scrape(const char *method, const char *path, const char *header, struct buf *body,
		   struct buf *headers)
{
	long status = 0;

	buf_reset(body);
	if (headers)
		buf_reset(headers);
	cr_assert_eq(http_call_full(method, path, NULL, "", header ? header : "", &status, body,
				    headers),
		     0, "%s %s: no answer", method, path);
	return status;
}

/*
 * The sum of the samples of @family (exactly that name, then '{' or ' ')
 * whose labels contain @label (NULL: all); -1 when there is none.
 */
static double sum_of(const char *text, const char *family, const char *label)
{
	size_t n = strlen(family);
	double sum = -1;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *end = strchr(p, '\n'), *value;

		if (strncmp(p, family, n) || (p[n] != '{' && p[n] != ' '))
			continue;
		value = p[n] == ' ' ? p + n : strstr(p, "} ");
		if (!value || (end && value > end))
			continue;
		if (label) {
			const char *at = strstr(p, label);

			if (!at || at > value)
				continue;
		}
		sum = (sum < 0 ? 0 : sum) + strtod(value + (p[n] == ' ' ? 1 : 2), NULL);
	}
	return sum;
}

/* promtool's verdict on @text: 0 when it finds nothing wrong. Fails without promtool. */
static int promtool_check(const char *text, char *out, size_t cap)
{
	char path[] = "/tmp/prp-agent-metrics-XXXXXX", cmd[256];
	int fd = mkstemp(path), st;
	size_t len = strlen(text), n;
	FILE *p;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p, "cannot run promtool");
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	st = pclose(p);
	unlink(path);
	cr_assert(WIFEXITED(st), "promtool did not run");
	cr_assert_neq(WEXITSTATUS(st), 127,
		      "promtool is missing: install Debian's prometheus package");
	return WEXITSTATUS(st);
}

/* The http count of users in the --print lines of the stopped agent. */
static long printed_requests(void)
{
	long n = 0;

	for (const char *p = buf_str(&agent.out); *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_t *o = json_loadb(p, len, 0, NULL), *h;
		size_t i;

		cr_assert_not_null(o, "bad --print line: %.*s", (int)len, p);
		json_array_foreach(json_object_get(o, "http"), i, h)
			n += (long)json_integer_value(json_object_get(h, "count"));
		json_decref(o);
		p += len + (nl ? 1 : 0);
	}
	return n;
}

#define USERS "service_name=\"users\""

Test(agent_metrics, request_counts_are_exact_and_promtool_passes)
{
	const double n = 40;
	double seen = -1;
	struct buf body;
	char path[64], verdict[8192];

	buf_init(&body, 16 << 20);
	for (int i = 1; i <= 30; i++) {
		snprintf(path, sizeof(path), "/users/%d", i);
		demo_request(&users, "GET", path, NULL, 200);
	}
	for (int i = 0; i < 10; i++)
		demo_request(&users, "GET", "/missing", NULL, 404);
	/* the counts arrive with the window that holds them: within a second or two */
	for (int i = 0; i < 50 && seen != n; i++) {
		time_sleep_ns(200 * NSEC_PER_MSEC);
		cr_assert_eq(scrape("GET", METRICS_URL "/metrics", NULL, &body, NULL), 200);
		seen = sum_of(buf_str(&body), "http_server_request_duration_seconds_count", USERS);
	}
	cr_assert_eq(seen, n, "requests counted %g, sent %g:\n%s", seen, n, buf_str(&body));
	/* and no more after another window */
	time_sleep_ns(700 * NSEC_PER_MSEC);
	cr_assert_eq(scrape("GET", METRICS_URL "/metrics", NULL, &body, NULL), 200);
	cr_expect_eq(sum_of(buf_str(&body), "http_server_request_duration_seconds_count", USERS),
		     n);
	cr_expect_eq(sum_of(buf_str(&body), "http_server_request_duration_seconds_count",
			    "http_route=\"/users/{id}\",http_response_status_code=\"200\""),
		     30);
	cr_expect_eq(sum_of(buf_str(&body), "http_server_request_duration_seconds_count",
			    "http_route=\"/missing\",http_response_status_code=\"404\""),
		     10);
	/* every request is in a bucket: the +Inf buckets add up to the count */
	cr_expect_eq(sum_of(buf_str(&body), "http_server_request_duration_seconds_bucket",
			    "le=\"+Inf\""),
		     n);
	cr_expect_gt(sum_of(buf_str(&body), "prp_agent_windows_total", NULL), 0);
	cr_expect_eq(sum_of(buf_str(&body), "prp_agent_services_watched", NULL), 1);
	cr_expect_eq(sum_of(buf_str(&body), "prp_agent_sampler_enabled", "sampler=\"http\""), 1);
	cr_expect_eq(sum_of(buf_str(&body), "prp_tcp_resets_total", USERS), 0);
	cr_expect_gt(sum_of(buf_str(&body), "prp_syscalls_total", USERS), 0);
	cr_expect_eq(sum_of(buf_str(&body), "prp_agent_build_info", NULL), 1);
	/* not sending: no uplink families */
	cr_expect_null(strstr(buf_str(&body), "prp_agent_uplink_connected"));
	cr_expect_eq(promtool_check(buf_str(&body), verdict, sizeof(verdict)), 0,
		     "promtool check metrics:\n%s", verdict);

	/* --print saw the same: the last window is flushed on SIGTERM */
	cr_assert_eq(proc_stop(&agent, 15000), 0, "agent did not stop on SIGTERM");
	cr_assert(WIFEXITED(agent.status) && WEXITSTATUS(agent.status) == 0, "agent exit %d: %s",
		  agent.status, buf_str(&agent.err));
	cr_expect_eq(printed_requests(), (long)n);
	buf_release(&body);
}

Test(agent_metrics, openmetrics_when_asked_and_json_errors_elsewhere)
{
	struct buf body, headers;
	char value[128];
	json_t *o, *e;
	size_t len;

	buf_init(&body, 16 << 20);
	buf_init(&headers, 1 << 16);
	cr_assert_eq(scrape("GET", METRICS_URL "/metrics",
			    "Accept: application/openmetrics-text;version=1.0.0;q=0.75,"
			    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
			    &body, &headers),
		     200);
	http_header_value(buf_str(&headers), "Content-Type", value, sizeof(value));
	cr_expect_not_null(strstr(value, "application/openmetrics-text"), "%s", value);
	len = strlen(buf_str(&body));
	cr_assert_geq(len, 6);
	cr_expect_str_eq(buf_str(&body) + len - 6, "# EOF\n");
	cr_expect_not_null(strstr(buf_str(&body), "# TYPE prp_agent_windows counter\n"));

	cr_assert_eq(scrape("GET", METRICS_URL "/metrics", NULL, &body, &headers), 200);
	http_header_value(buf_str(&headers), "Content-Type", value, sizeof(value));
	cr_expect_str_eq(value, "text/plain; version=0.0.4; charset=utf-8");
	cr_expect_null(strstr(buf_str(&body), "# EOF"));

	cr_assert_eq(scrape("HEAD", METRICS_URL "/metrics", NULL, &body, &headers), 200);
	cr_expect_eq(body.len, 0);

	cr_assert_eq(scrape("GET", METRICS_URL "/nope", NULL, &body, &headers), 404);
	http_header_value(buf_str(&headers), "Content-Type", value, sizeof(value));
	cr_expect_str_eq(value, "application/json");
	o = json_loads(buf_str(&body), 0, NULL);
	cr_assert_not_null(o, "not JSON: %s", buf_str(&body));
	e = json_object_get(o, "error");
	cr_expect_eq(json_integer_value(json_object_get(e, "status")), 404, "%s", buf_str(&body));
	cr_expect_str_eq(json_string_value(json_object_get(e, "code")), "not_found");
	cr_expect(json_is_string(json_object_get(e, "message")));
	json_decref(o);

	cr_assert_eq(scrape("POST", METRICS_URL "/metrics", NULL, &body, &headers), 405);
	http_header_value(buf_str(&headers), "Allow", value, sizeof(value));
	cr_expect_str_eq(value, "GET, HEAD");
	o = json_loads(buf_str(&body), 0, NULL);
	cr_assert_not_null(o, "not JSON: %s", buf_str(&body));
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(o, "error"), "code")),
			 "method_not_allowed");
	json_decref(o);
	buf_release(&body);
	buf_release(&headers);
}

/* ---- refusals at start: no agent runs before these ---- */

static void refused_teardown(void)
{
	test_no_leaks();
}

TestSuite(agent_metrics_refused, .fini = refused_teardown, .timeout = 60);

/* Runs the agent with @listen until it exits; asserts it failed with @status and said @what. */
static void expect_refusal(const char *listen, int status, const char *what)
{
	struct proc p;

	cr_assert_eq(agent_start(&p, listen, 1), 0);
	cr_assert_eq(proc_wait_exit(&p, 20000), 0, "still running with %s", listen);
	cr_expect(WIFEXITED(p.status) && WEXITSTATUS(p.status) == status, "status %d with %s: %s",
		  p.status, listen, buf_str(&p.err));
	cr_expect_not_null(strstr(buf_str(&p.err), what), "no '%s' in: %s", what, buf_str(&p.err));
	proc_release(&p);
}

Test(agent_metrics_refused, a_bad_listen_address_is_a_config_error)
{
	cr_assert_eq(geteuid(), 0, "the agent tests need root");
	expect_refusal("nonsense", 2, "key 'metrics.listen': 'nonsense' is not ADDRESS:PORT");
	expect_refusal("localhost:19464", 2, "'localhost:19464' is not ADDRESS:PORT");
}

Test(agent_metrics_refused, a_port_already_taken_stops_the_agent_at_start)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(METRICS_PORT),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	cr_assert_eq(geteuid(), 0, "the agent tests need root");
	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "port %d is busy",
		     METRICS_PORT);
	cr_assert_eq(listen(fd, 1), 0);
	expect_refusal(METRICS_LISTEN, 1,
		       "cannot listen on " METRICS_LISTEN ": Address already in use");
	close(fd);
}
