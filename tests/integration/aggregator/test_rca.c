/*
 * Root cause analysis end to end, with the real programs: the three demo
 * services under prp-loadgen, prp-agent watching them through eBPF,
 * prp-aggregator storing and detecting. One fault at a time, each making
 * orders (and the load generator) suffer too, with a recovery in between:
 *
 *   payments latency, payments errors, users errors, users CPU burn, orders
 *   memory leak, payments down (stopped, then started again)
 *
 * For each, POST /rca with a time_range that covers the fault (from a few
 * seconds before it) must name the injected service as root_cause.service.
 * The accuracy is printed as `BENCH rca_top1_accuracy`. With
 * PRP_RCA_CASCADES set (tests/bench/rca.sh), two cascades follow, reported
 * but not asserted: two faults one after the other
 * (payments slow, then users failing), where the first is the cause; and
 * users burning enough CPU to slow every service of the host.
 *
 * PRP_RCA_FAULT_S and PRP_RCA_GAP_S change how long each fault lasts
 * before the question and the recovery between faults.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "common/window.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/platform.h"

#define INGEST_PORT 18770
#define HTTP_PORT   18781
#define LOAD_RPS    "40"
/* Seconds of the span before the fault began: the question starts a little before it. */
#define LEAD_S 5

static struct platform pf;

static void teardown(void)
{
	platform_stop(&pf);
	test_no_leaks();
}

TestSuite(rca, .fini = teardown, .timeout = 1800);

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && atoi(v) > 0 ? atoi(v) : def;
}

static double now_s(void)
{
	return (double)time_real_ns() / 1e9;
}

static void sleep_s(double s)
{
	if (s > 0)
		time_sleep_ns((uint64_t)(s * 1e9));
}

static struct demo_service *service(const char *name)
{
	if (!strcmp(name, "orders"))
		return &pf.trio.orders;
	if (!strcmp(name, "users"))
		return &pf.trio.users;
	return &pf.trio.payments;
}

/* POST (or DELETE, @body NULL) /chaos on @name. */
static void chaos(const char *name, const char *body)
{
	char url[128];
	long status;

	snprintf(url, sizeof(url), "%s/chaos", service(name)->url);
	json_decref(platform_call(body ? "POST" : "DELETE", url, body, &status));
	cr_assert(status >= 200 && status < 300, "chaos on %s: %ld", name, status);
}

/* Stops payments (SIGTERM): callers get refused connects. */
static void payments_stop(void)
{
	cr_assert_eq(proc_stop(&pf.trio.payments.proc, 10000), 0);
	proc_release(&pf.trio.payments.proc);
}

/* Starts payments again on its port, where orders and the agent expect it. */
static void payments_start(void)
{
	char port[16];

	snprintf(port, sizeof(port), "%d", pf.trio.payments.port);
	for (int i = 0; i < 20; i++) {
		demo_service_start(
			&pf.trio.payments,
			(const char *const[]){ "--name", "payments", "--port", port, NULL });
		if (pf.trio.payments.proc.pid)
			return;
		sleep_s(0.5);
	}
}

/* Waits until the aggregator has stored payments' requests. */
static void wait_traffic(void)
{
	char url[128];

	snprintf(url, sizeof(url), "%s/services/payments", pf.api);
	for (int i = 0; i < 120; i++) {
		long status;
		json_t *h = platform_call("GET", url, NULL, &status);
		json_int_t n = json_integer_value(json_object_get(h, "requests"));

		json_decref(h);
		if (n > 50)
			return;
		sleep_s(0.5);
	}
	cr_assert_fail("no traffic on payments reached the aggregator\nagent: %s",
		       buf_str(&pf.agent.err));
}

struct fault {
	const char *service; /* where it is injected */
	const char *chaos;   /* its chaos body; NULL: the service is stopped */
};

struct scenario {
	const char *name;
	struct fault faults[2];
	int second_after_s; /* when the second fault begins */
	const char *want;   /* the expected root cause */
};

/* Prints what GET /services/{name} says of the last @range_s seconds, for a failure's record. */
static void show_services(int range_s)
{
	static const char *const names[] = { "orders", "users", "payments" };

	for (size_t i = 0; i < PRP_ARRAY_SIZE(names); i++) {
		char path[128];
		json_t *doc;
		char *text;

		snprintf(path, sizeof(path), "/services/%s?since=%ds", names[i], range_s);
		doc = platform_api(&pf, "GET", path, NULL);
		text = json_dumps(doc, JSON_COMPACT);
		printf("%s: %s\n", names[i], text);
		free(text);
		json_decref(doc);
	}
}

/* Asks POST /rca about the last @range_s seconds; prints the answer; the root cause or "". */
static void ask(const struct scenario *sc, int range_s, char *cause, size_t cap)
{
	char body[64];
	json_t *doc, *s;
	const char *got;
	double t0, ms;
	size_t i;

	snprintf(body, sizeof(body), "{\"time_range\": \"%ds\"}", range_s);
	t0 = now_s();
	doc = platform_api(&pf, "POST", "/rca", body);
	ms = (now_s() - t0) * 1000;
	got = json_string_value(json_object_get(json_object_get(doc, "root_cause"), "service"));
	snprintf(cause, cap, "%s", got ? got : "");
	printf("rca %-22s want %-8s got %-8s confidence %.2f (%.0f ms);", sc->name, sc->want,
	       got ? got : "(none)", json_real_value(json_object_get(doc, "confidence")), ms);
	json_array_foreach(json_object_get(doc, "suspected_services"), i, s)
		printf(" %s %.2f %s%s", json_string_value(json_object_get(s, "service")),
		       json_real_value(json_object_get(s, "score")),
		       json_string_value(json_object_get(s, "role")),
		       i + 1 < json_array_size(json_object_get(doc, "suspected_services")) ? ","
											   : "");
	printf("\n");
	if (!got || strcmp(got, sc->want) || getenv("PRP_RCA_VERBOSE")) {
		printf("%s\n", json_string_value(json_object_get(doc, "rca")));
		show_services(range_s);
	}
	fflush(stdout);
	json_decref(doc);
}

static void inject(const struct fault *f, int duration_s)
{
	char body[160];

	if (!f->chaos) {
		payments_stop();
		return;
	}
	/* duration_s: the chaos ends by itself even if the test stops here */
	snprintf(body, sizeof(body), "%.*s, \"duration_s\": %d}", (int)strlen(f->chaos) - 1,
		 f->chaos, duration_s);
	chaos(f->service, body);
}

static void lift(const struct fault *f)
{
	if (f->chaos)
		chaos(f->service, NULL);
	else
		payments_start();
}

/* Runs @sc: fault(s), the question after @fault_s, recovery. True when the cause was right. */
static bool run(const struct scenario *sc, int fault_s, int gap_s)
{
	char cause[SERVICE_NAME_MAX];
	double t0 = now_s();
	int n = sc->faults[1].service ? 2 : 1;

	inject(&sc->faults[0], fault_s + 30);
	if (n == 2) {
		sleep_s(sc->second_after_s);
		inject(&sc->faults[1], fault_s + 30);
	}
	sleep_s(t0 + fault_s - now_s());
	ask(sc, (int)(now_s() - t0 + 0.5) + LEAD_S, cause, sizeof(cause));
	for (int i = 0; i < n; i++)
		lift(&sc->faults[i]);
	sleep_s(gap_s);
	return !strcmp(cause, sc->want);
}

static const struct scenario required[] = {
	{ "payments latency", { { "payments", "{\"latency_ms\": 300}" } }, 0, "payments" },
	{ "payments errors", { { "payments", "{\"error_rate\": 0.5}" } }, 0, "payments" },
	{ "users errors", { { "users", "{\"error_rate\": 0.5}" } }, 0, "users" },
	{ "users cpu burn", { { "users", "{\"cpu_burn_ms\": 50}" } }, 0, "users" },
	{ "orders memory leak", { { "orders", "{\"leak_kb_per_req\": 1024}" } }, 0, "orders" },
	{ "payments down", { { "payments", NULL } }, 0, "payments" },
};

static const struct scenario cascades[] = {
	{ "payments then users",
	  { { "payments", "{\"latency_ms\": 300}" }, { "users", "{\"error_rate\": 0.5}" } },
	  8,
	  "payments" },
	{ "users starves the host", { { "users", "{\"cpu_burn_ms\": 250}" } }, 0, "users" },
};

/* PRP_RCA_ONLY=TEXT runs only the scenarios whose name holds TEXT (a debugging aid). */
static bool selected(const struct scenario *sc)
{
	const char *only = getenv("PRP_RCA_ONLY");

	return !only || strstr(sc->name, only);
}

Test(rca, names_the_injected_service_in_every_scenario)
{
	int fault_s = env_int("PRP_RCA_FAULT_S", 15), gap_s = env_int("PRP_RCA_GAP_S", 35);
	size_t n = PRP_ARRAY_SIZE(required), nc = PRP_ARRAY_SIZE(cascades), right = 0, cright = 0;
	size_t ran = 0, cran = 0;
	bool ok[PRP_ARRAY_SIZE(required)];

	platform_start(&pf, INGEST_PORT, HTTP_PORT, NULL, NULL, LOAD_RPS);
	wait_traffic();
	sleep_s(gap_s); /* a clean baseline before the first fault */
	for (size_t i = 0; i < n; i++) {
		ok[i] = true;
		if (!selected(&required[i]))
			continue;
		ran++;
		right += ok[i] = run(&required[i], fault_s, gap_s);
	}
	/* the cascades are reported, not asserted: tests/bench/rca.sh runs them */
	for (size_t i = 0; i < nc && getenv("PRP_RCA_CASCADES"); i++) {
		if (!selected(&cascades[i]))
			continue;
		cran++;
		cright += run(&cascades[i], fault_s, gap_s);
	}
	/* the whole run at once: one answer, and what it costs over an hour of windows */
	{
		double t0 = now_s();
		json_t *doc = platform_api(&pf, "POST", "/rca", "{\"time_range\": \"1h\"}");
		const char *got = json_string_value(
			json_object_get(json_object_get(doc, "root_cause"), "service"));

		printf("rca over the last hour (every fault): %s, confidence %.2f, in %.0f ms\n",
		       got ? got : "(none)", json_real_value(json_object_get(doc, "confidence")),
		       (now_s() - t0) * 1000);
		json_decref(doc);
	}
	if (ran)
		printf("BENCH rca_top1_accuracy %.0f %% (%zu of %zu scenarios; %d s faults)\n",
		       100.0 * (double)right / (double)ran, right, ran, fault_s);
	if (cran)
		printf("BENCH rca_cascade_top1_accuracy %.0f %% (%zu of %zu cascades)\n",
		       100.0 * (double)cright / (double)cran, cright, cran);
	fflush(stdout);
	for (size_t i = 0; i < n; i++)
		cr_expect(ok[i], "%s: the root cause named is not %s", required[i].name,
			  required[i].want);
}
