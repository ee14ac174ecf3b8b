/*
 * Remediation end to end, with the real programs and the real kernel: a
 * policy on payments opens a circuit breaker when chaos slows it down, the
 * agent refuses connects to payments at once (orders fails fast instead of
 * hanging), and once the chaos ends the breaker half-opens, sees payments
 * well again and closes. Also: a breaker does not outlive the agent, and a
 * restart that fails is reported failed.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/platform.h"

#define INGEST_PORT 18670
#define HTTP_PORT   18681
#define CHAOS_S	    "20"

static struct platform pf;
static char policies[128];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void teardown(void)
{
	platform_stop(&pf);
	if (*policies) {
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", policies);
		cr_expect_eq(system(cmd), 0);
	}
	test_no_leaks();
}

TestSuite(remediation, .fini = teardown, .timeout = 600);

static double now_s(void)
{
	return (double)time_real_ns() / 1e9;
}

/* Connects to 127.0.0.1:@port: 0 or -errno, and how long it took in *ms. */
static int try_connect(int port, double *ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ret;
	uint64_t t0;

	cr_assert_geq(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t0 = time_mono_ns();
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	*ms = (double)(time_mono_ns() - t0) / 1e6;
	close(fd);
	return ret;
}

/* The median time of @n refused connects to @port, asserting each is refused with EPERM. */
static double refused_connect_ms(int port, int n)
{
	double ms[64], t;

	cr_assert_leq(n, 64);
	for (int i = 0; i < n; i++) {
		int ret = try_connect(port, &ms[i]);

		cr_assert_eq(ret, -EPERM, "connect %d: %s, not EPERM", i, strerror(-ret));
	}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && ms[j - 1] > ms[j]; j--) {
			t = ms[j];
			ms[j] = ms[j - 1];
			ms[j - 1] = t;
		}
	return ms[n / 2];
}

/*
 * Waits up to @timeout_s for an action of @type on payments whose
 * parameters have @state (NULL: any) to reach @status, newer than @after_id:
 * its id (0 on timeout).
 */
static json_int_t wait_action(const char *type, const char *state, const char *status,
			      json_int_t after_id, int timeout_s)
{
	char path[160];

	snprintf(path, sizeof(path), "/actions/history?service=payments&action=%s&limit=100",
		 type);
	for (int i = 0; i < timeout_s * 4; i++) {
		json_t *list = platform_api(&pf, "GET", path, NULL), *a;
		size_t k;
		json_int_t found = 0;

		json_array_foreach(json_object_get(list, "actions"), k, a)
		{
			const char *st = json_string_value(
				json_object_get(json_object_get(a, "parameters"), "state"));
			json_int_t id = json_integer_value(json_object_get(a, "action_id"));

			if (id > after_id && (!state || (st && !strcmp(st, state))) &&
			    !strcmp(json_string_value(json_object_get(a, "status")), status))
				found = id;
		}
		json_decref(list);
		if (found)
			return found;
		time_sleep_ns(NSEC_PER_SEC / 4);
	}
	return 0;
}

/* POST /orders to orders: its status, and how long it took in *ms. */
static long order(double *ms)
{
	char url[128];
	long status;
	uint64_t t0 = time_mono_ns();

	snprintf(url, sizeof(url), "%s/orders", pf.trio.orders.url);
	json_decref(platform_call("POST", url,
				  "{\"customer_id\":1,\"items\":[{\"sku\":\"sku-1\",\"qty\":1}],"
				  "\"total\":6.00}",
				  &status));
	*ms = (double)(time_mono_ns() - t0) / 1e6;
	return status;
}

static void chaos(const char *body)
{
	char url[128];
	long status;

	snprintf(url, sizeof(url), "%s/chaos", pf.trio.payments.url);
	json_decref(platform_call("POST", url, body, &status));
	cr_assert(status >= 200 && status < 300, "chaos: %ld", status);
}

/* Waits until the aggregator has seen payments' requests. */
static void wait_traffic(void)
{
	char url[128];

	snprintf(url, sizeof(url), "%s/services/payments", pf.api);
	for (int i = 0; i < 60; i++) {
		long status;
		json_t *h = platform_call("GET", url, NULL, &status); /* 404 until it is seen */
		json_int_t n = json_integer_value(json_object_get(h, "requests"));

		json_decref(h);
		if (n > 50)
			return;
		time_sleep_ns(NSEC_PER_SEC / 2);
	}
	cr_assert_fail("no traffic on payments reached the aggregator\nagent: %s",
		       buf_str(&pf.agent.err));
}

Test(remediation, chaos_opens_the_breaker_and_recovery_closes_it)
{
	char path[192], policy_dir_flag[160];
	json_int_t opened, closed;
	double t0, t_open, ms, refused_ms;
	long st;

	snprintf(policies, sizeof(policies), "/tmp/prp-test-policies-XXXXXX");
	cr_assert_not_null(mkdtemp(policies));
	snprintf(path, sizeof(path), "%s/breaker.yaml", policies);
	write_file(path, "name: payments_breaker\nservice: payments\n"
			 "condition: latency_p99 > 150ms\nfor: 2s\n"
			 "actions:\n  - type: circuit_breaker\n"
			 "    parameters: {state: open, duration: 6s}\ncooldown: 20s\n");
	snprintf(policy_dir_flag, sizeof(policy_dir_flag), "%s", policies);
	platform_start(&pf, INGEST_PORT, HTTP_PORT,
		       (const char *const[]){ "--policy-dir", policy_dir_flag, "--slo-service",
					      "payments:latency_p99_ms=150",
					      "--action-probe-window", "3s", NULL },
		       NULL, "40");
	wait_traffic();

	t0 = now_s();
	/* it ends by itself: while the breaker is open, this host cannot reach payments */
	chaos("{\"latency_ms\": 300, \"duration_s\": " CHAOS_S "}");
	opened = wait_action("circuit_breaker", "open", "succeeded", 0, 40);
	cr_assert(opened, "no breaker opened within 40 s of the chaos\naggregator: %s",
		  buf_str(&pf.aggregator.err));
	t_open = now_s();

	/* callers are refused at once, and orders fails fast instead of waiting 300 ms */
	refused_ms = refused_connect_ms(pf.trio.payments.port, 21);
	cr_assert_lt(refused_ms, 1.0, "a refused connect took %.3f ms (median)", refused_ms);
	st = order(&ms);
	cr_assert(st >= 500, "orders answered %ld with payments' breaker open", st);
	cr_assert_lt(ms, 150, "orders took %.0f ms to fail", ms);
	printf("remediation: breaker open %.1f s after the chaos; refused connect %.3f ms "
	       "(median of 21); orders failed in %.1f ms\n",
	       t_open - t0, refused_ms, ms);

	closed = wait_action("circuit_breaker", "closed", "succeeded", opened, 90);
	cr_assert(closed, "the breaker did not close within 60 s of recovery\naggregator: %s",
		  buf_str(&pf.aggregator.err));
	cr_assert_eq(try_connect(pf.trio.payments.port, &ms), 0, "payments still refused");
	st = order(&ms);
	cr_assert(st >= 200 && st < 300, "orders answered %ld after the breaker closed", st);
	printf("remediation: breaker closed %.1f s after the chaos ended\n",
	       now_s() - (t0 + atoi(CHAOS_S)));
}

Test(remediation, no_breaker_outlives_the_agent)
{
	json_t *r;
	json_int_t id;
	double ms;

	policies[0] = '\0';
	platform_start(&pf, INGEST_PORT, HTTP_PORT, NULL, NULL, "10");
	wait_traffic();
	r = platform_api(&pf, "POST", "/actions/execute",
			 "{\"action\": \"circuit_breaker\", \"service\": \"payments\", "
			 "\"reason\": \"test\", \"parameters\": {\"state\": \"open\", "
			 "\"duration\": 600}}");
	id = json_integer_value(json_object_get(r, "action_id"));
	json_decref(r);
	cr_assert_gt(id, 0);
	cr_assert(wait_action("circuit_breaker", "open", "succeeded", id - 1, 20),
		  "the manual breaker did not open\naggregator: %s", buf_str(&pf.aggregator.err));
	cr_assert_eq(try_connect(pf.trio.payments.port, &ms), -EPERM);
	cr_assert_eq(proc_stop(&pf.agent, 15000), 0);
	cr_assert_eq(try_connect(pf.trio.payments.port, &ms), 0,
		     "the breaker outlived the agent");
}

Test(remediation, a_restart_that_fails_is_reported_with_its_output)
{
	json_t *r, *a;
	json_int_t id;
	char path[64];
	const char *status = "";

	char script[160], flag[192];

	snprintf(policies, sizeof(policies), "/tmp/prp-test-restart-XXXXXX");
	cr_assert_not_null(mkdtemp(policies));
	snprintf(script, sizeof(script), "%s/restart.sh", policies);
	write_file(script, "#!/bin/sh\necho no such unit >&2\nexit 3\n");
	cr_assert_eq(chmod(script, 0755), 0);
	snprintf(flag, sizeof(flag), "payments=%s", script);
	platform_start(&pf, INGEST_PORT, HTTP_PORT, NULL,
		       (const char *const[]){ "--restart-command", flag, NULL }, "10");
	wait_traffic();
	r = platform_api(&pf, "POST", "/actions/execute",
			 "{\"action\": \"restart\", \"service\": \"payments\"}");
	id = json_integer_value(json_object_get(r, "action_id"));
	json_decref(r);
	snprintf(path, sizeof(path), "/actions/%lld/status", (long long)id);
	for (int i = 0; i < 80; i++) {
		a = platform_api(&pf, "GET", path, NULL);
		status = json_string_value(json_object_get(a, "status"));
		if (!strcmp(status, "failed") || !strcmp(status, "succeeded") ||
		    !strcmp(status, "timed_out"))
			break;
		json_decref(a);
		a = NULL;
		time_sleep_ns(NSEC_PER_SEC / 4);
	}
	cr_assert_not_null(a, "the restart did not end");
	cr_assert_str_eq(status, "failed");
	char *text = json_dumps(a, 0);

	cr_assert(strstr(text, "no such unit"), "the output is not in the action: %s", text);
	free(text);
	json_decref(a);
}
