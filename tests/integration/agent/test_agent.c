/*
 * prp-agent as a real process with --print, watching the real demo services:
 * the JSON lines it prints add up exactly to the requests sent, latency
 * agrees with what prp-loadgen measured, the call graph is right, and the
 * process behaves as a daemon should (one instance, clean SIGTERM, a clear
 * refusal without privileges).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "tests/lib/demo_services.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"

#define AGENT PRP_BUILD_DIR "/prp-agent"
#define LOADGEN PRP_BUILD_DIR "/prp-loadgen"
#define LOCK "/tmp/prp-agent-test.lock"

static struct demo_trio demo;
static struct proc agent;

/* Starts the agent watching the trio by port, and waits for its first window. */
static void agent_start(void)
{
	char users[64], payments[64], orders[64];

	snprintf(users, sizeof(users), "users=port:%d", demo.users.port);
	snprintf(payments, sizeof(payments), "payments=port:%d", demo.payments.port);
	snprintf(orders, sizeof(orders), "orders=port:%d", demo.orders.port);
	/* syscalls watched all the time: these tests count them exactly */
	cr_assert_eq(proc_start(&agent, (const char *const[]){ AGENT, "--print", "--interval-ms",
							       "500", "--samplers-syscalls-sample-ms",
							       "0", "--lock-file", LOCK,
							       "--service", users, "--service",
							       payments, "--service", orders, NULL }),
		     0);
	cr_assert_eq(proc_wait_for(&agent, "\"service\":", 15000), 0, "no window printed: %s",
		     buf_str(&agent.err));
}

static void setup(void)
{
	cr_assert_eq(geteuid(), 0, "the agent tests need root");
	/* orders connects to users and payments lazily, after the agent is up */
	demo_trio_start(&demo);
	agent_start();
}

static void teardown(void)
{
	if (agent.pid)
		proc_stop(&agent, 10000);
	proc_release(&agent);
	demo_trio_stop(&demo);
	test_no_leaks();
}

TestSuite(agent, .init = setup, .fini = teardown, .timeout = 180);

/* Stops the agent (its last window is flushed on SIGTERM) and returns its lines. */
static json_t *agent_lines(void)
{
	json_t *lines = json_array();
	const char *p;

	cr_assert_eq(proc_stop(&agent, 15000), 0, "agent did not stop on SIGTERM");
	cr_assert(WIFEXITED(agent.status) && WEXITSTATUS(agent.status) == 0, "agent exit %d: %s",
		  agent.status, buf_str(&agent.err));
	for (p = buf_str(&agent.out); *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_error_t jerr;
		json_t *o = json_loadb(p, len, 0, &jerr);

		cr_assert_not_null(o, "bad --print line: %.*s (%s)", (int)len, p, jerr.text);
		json_array_append_new(lines, o);
		p += len + (nl ? 1 : 0);
	}
	return lines;
}

/* Sum of the http counts of @service for (@method, @route, @status); NULL matches all. */
static long http_sum(json_t *lines, const char *service, const char *method, const char *route,
		     int status)
{
	size_t i, j;
	json_t *line, *h;
	long n = 0;

	json_array_foreach(lines, i, line)
	{
		if (strcmp(json_string_value(json_object_get(line, "service")), service))
			continue;
		json_array_foreach(json_object_get(line, "http"), j, h)
		{
			if (method && strcmp(json_string_value(json_object_get(h, "method")), method))
				continue;
			if (route && strcmp(json_string_value(json_object_get(h, "route")), route))
				continue;
			if (status && json_integer_value(json_object_get(h, "status")) != status)
				continue;
			n += (long)json_integer_value(json_object_get(h, "count"));
		}
	}
	return n;
}

Test(agent, print_lines_add_up_to_exactly_the_requests_sent)
{
	char path[64];
	json_t *lines;
	size_t li;
	json_t *line;

	for (int i = 1; i <= 30; i++) {
		snprintf(path, sizeof(path), "/users/%d", i);
		demo_request(&demo.users, "GET", path, NULL, 200);
	}
	for (int i = 0; i < 4; i++)
		demo_request(&demo.users, "GET", "/missing", NULL, 404);
	demo_request(&demo.payments, "POST", "/chaos", "{\"error_rate\": 1}", 200);
	for (int i = 0; i < 6; i++)
		demo_request(&demo.payments, "POST", "/payments",
			"{\"order_id\": 1, \"amount\": 2, \"payment_method\": \"card\"}", 500);
	time_sleep_ns(700 * NSEC_PER_MSEC); /* spread over more than one window */
	demo_request(&demo.payments, "DELETE", "/chaos", NULL, 200);
	for (int i = 0; i < 3; i++)
		demo_request(&demo.payments, "POST", "/payments",
			"{\"order_id\": 1, \"amount\": 2, \"payment_method\": \"card\"}", 201);

	lines = agent_lines();
	cr_expect_eq(http_sum(lines, "users", "GET", "/users/{id}", 200), 30);
	cr_expect_eq(http_sum(lines, "users", "GET", "/missing", 404), 4);
	cr_expect_eq(http_sum(lines, "users", NULL, NULL, 0), 34);
	cr_expect_eq(http_sum(lines, "payments", "POST", "/payments", 500), 6);
	cr_expect_eq(http_sum(lines, "payments", "POST", "/payments", 201), 3);
	cr_expect_eq(http_sum(lines, "payments", NULL, "/chaos", 0), 2);
	cr_expect_eq(http_sum(lines, "orders", NULL, NULL, 0), 0);
	/* every line is one of the three watched services, with the contract's keys */
	json_array_foreach(lines, li, line)
	{
		const char *svc = json_string_value(json_object_get(line, "service"));

		cr_assert(svc && (!strcmp(svc, "users") || !strcmp(svc, "payments") ||
				  !strcmp(svc, "orders")),
			  "unexpected service %s", svc);
		for (const char *const *k = (const char *const[]){ "ts", "host", "pids", "http",
								   "syscalls", "tcp", "calls",
								   NULL };
		     *k; k++)
			cr_assert_not_null(json_object_get(line, *k), "no '%s' in a line", *k);
	}
	json_decref(lines);
}

static double p50_of(json_t *lines, const char *service, const char *key, const char *peer)
{
	size_t i, j;
	json_t *line, *e;
	double best = -1;
	long most = 0;

	/* the p50 of the busiest entry across windows, weighted by count */
	json_array_foreach(lines, i, line)
	{
		if (strcmp(json_string_value(json_object_get(line, "service")), service))
			continue;
		json_array_foreach(json_object_get(line, key), j, e)
		{
			long n = (long)json_integer_value(json_object_get(e, "count"));
			json_t *pe = json_object_get(e, "peer");

			if (peer && (!json_is_string(pe) || strcmp(json_string_value(pe), peer)))
				continue;
			if (n > most) {
				most = n;
				best = json_real_value(
					json_object_get(json_object_get(e, "latency_ms"), "p50"));
			}
		}
	}
	return best;
}

Test(agent, latency_agrees_with_loadgen_and_with_the_caller)
{
	struct proc lg;
	double lg_p50 = 0, agent_p50, call_p50;
	json_t *lines;
	const char *at;

	demo_request(&demo.payments, "POST", "/chaos", "{\"latency_ms\": 200}", 200);
	cr_assert_eq(proc_start(&lg, (const char *const[]){ LOADGEN, "--target", demo.payments.url,
							    "--mix", "payments", "--rps", "20",
							    "--duration", "3", NULL }),
		     0);
	cr_assert_eq(proc_wait_exit(&lg, 30000), 0);
	at = strstr(buf_str(&lg.out), "latency_ms p50 ");
	cr_assert_not_null(at, "%s", buf_str(&lg.out));
	cr_assert_eq(sscanf(at, "latency_ms p50 %lf", &lg_p50), 1);
	proc_release(&lg);
	for (int i = 0; i < 10; i++)
		demo_request(&demo.orders, "POST", "/orders",
			"{\"customer_id\": 2, \"items\": [1], \"total\": 4}", 201);

	lines = agent_lines();
	agent_p50 = p50_of(lines, "payments", "http", NULL);
	call_p50 = p50_of(lines, "orders", "calls", "payments");
	cr_expect(fabs(agent_p50 - lg_p50) <= 0.05 * lg_p50,
		  "agent p50 %.2f ms, loadgen p50 %.2f ms", agent_p50, lg_p50);
	cr_expect(fabs(call_p50 - agent_p50) <= 0.05 * agent_p50,
		  "orders -> payments p50 %.2f ms, payments p50 %.2f ms", call_p50, agent_p50);
	json_decref(lines);
}

Test(agent, every_order_is_one_call_to_users_and_one_to_payments)
{
	json_t *lines, *line, *c;
	size_t i, j;
	long to_users = 0, to_payments = 0, others = 0;

	for (int k = 0; k < 15; k++)
		demo_request(&demo.orders, "POST", "/orders",
			"{\"customer_id\": 9, \"items\": [1], \"total\": 4}", 201);
	lines = agent_lines();
	json_array_foreach(lines, i, line)
	{
		const char *svc = json_string_value(json_object_get(line, "service"));

		json_array_foreach(json_object_get(line, "calls"), j, c)
		{
			const char *peer = json_string_value(json_object_get(c, "peer"));
			long n = (long)json_integer_value(json_object_get(c, "count"));

			if (!strcmp(svc, "orders") && peer && !strcmp(peer, "users"))
				to_users += n;
			else if (!strcmp(svc, "orders") && peer && !strcmp(peer, "payments"))
				to_payments += n;
			else
				others += n;
		}
	}
	cr_expect_eq(to_users, 15);
	cr_expect_eq(to_payments, 15);
	cr_expect_eq(others, 0);
	cr_expect_eq(http_sum(lines, "orders", "POST", "/orders", 201), 15);
	json_decref(lines);
}

Test(agent, a_second_instance_refuses_to_start)
{
	struct proc second;

	cr_assert_eq(proc_start(&second, (const char *const[]){ AGENT, "--lock-file", LOCK,
								"--service", "x=port:1", NULL }),
		     0);
	cr_assert_eq(proc_wait_exit(&second, 10000), 0);
	cr_assert(WIFEXITED(second.status) && WEXITSTATUS(second.status) != 0);
	cr_assert_not_null(strstr(buf_str(&second.err), "another prp-agent is running"), "%s",
			   buf_str(&second.err));
	proc_release(&second);
}

Test(agent, without_privileges_it_says_what_it_needs)
{
	struct passwd *nobody = getpwnam("nobody");
	pid_t child;
	int pipefd[2], status;
	char out[4096] = "";
	ssize_t n;

	cr_assert_not_null(nobody);
	cr_assert_eq(pipe(pipefd), 0);
	child = fork();
	if (child == 0) {
		dup2(pipefd[1], 2);
		if (setgid(nobody->pw_gid) || setuid(nobody->pw_uid))
			_exit(99);
		execl(AGENT, AGENT, "--lock-file", "/tmp/prp-agent-nobody.lock", "--service",
		      "x=port:1", (char *)NULL);
		_exit(98);
	}
	close(pipefd[1]);
	for (size_t len = 0; (n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0;)
		len += (size_t)n, out[len] = '\0';
	close(pipefd[0]);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d: %s", status, out);
	cr_assert_not_null(strstr(out, "CAP_BPF"), "no explanation: %s", out);
	unlink("/tmp/prp-agent-nobody.lock");
}

/* The errno count of syscall @name for @service, summed over the windows. */
static long errno_sum(json_t *lines, const char *service, const char *name, const char *err)
{
	size_t i, j;
	json_t *line, *s;
	long n = 0;

	json_array_foreach(lines, i, line)
	{
		if (strcmp(json_string_value(json_object_get(line, "service")), service))
			continue;
		json_array_foreach(json_object_get(line, "syscalls"), j, s)
		{
			if (strcmp(json_string_value(json_object_get(s, "name")), name))
				continue;
			n += (long)json_integer_value(
				json_object_get(json_object_get(s, "errors"), err));
		}
	}
	return n;
}

/* The tcp counter @key of @service, summed over the windows. */
static long tcp_sum(json_t *lines, const char *service, const char *key)
{
	size_t i;
	json_t *line;
	long n = 0;

	json_array_foreach(lines, i, line)
		if (!strcmp(json_string_value(json_object_get(line, "service")), service))
			n += (long)json_integer_value(
				json_object_get(json_object_get(line, "tcp"), key));
	return n;
}

Test(agent, a_refused_call_shows_in_syscall_errors_and_tcp)
{
	json_t *lines;
	long notconn;

	/*
	 * payments gone: each order's connect() to it is refused. libcurl connects
	 * without blocking, so connect() itself answers EINPROGRESS; the refusal
	 * shows as a failed connect in TCP, and as ENOTCONN when libcurl then
	 * shuts the dead socket down.
	 */
	cr_assert_eq(proc_stop(&demo.payments.proc, 5000), 0);
	for (int k = 0; k < 5; k++)
		demo_request(&demo.orders, "POST", "/orders",
			"{\"customer_id\": 3, \"items\": [1], \"total\": 4}", 502);
	lines = agent_lines();
	notconn = errno_sum(lines, "orders", "shutdown", "ENOTCONN");
	cr_expect_geq(notconn, 5, "orders' shutdown ENOTCONN counted %ld times", notconn);
	cr_expect_geq(errno_sum(lines, "orders", "connect", "EINPROGRESS"), 5);
	cr_expect_eq(tcp_sum(lines, "orders", "connect_failures"), 5);
	cr_expect_eq(http_sum(lines, "orders", "POST", "/orders", 502), 5);
	json_decref(lines);
}
