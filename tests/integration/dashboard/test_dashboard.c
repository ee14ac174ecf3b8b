/*
 * The browser dashboard end to end, in a real browser: the whole platform
 * (the demo trio under prp-loadgen, prp-agent, prp-aggregator serving
 * dashboard/ at "/"), then tests/node/dashboard_check.mjs drives headless
 * Chromium through playwright-core over it: first render and weight, the
 * overview, every view, policies, roles, a live anomaly from chaos on
 * payments, accessibility basics (the script's header lists them). The
 * script prints one line per check; they are copied into this test's
 * output, and it must exit 0. Screenshots go to build/test-artifacts/dashboard.
 *
 * Needs root (the agent) and Chromium (packaging/install-deps.sh): without
 * it the test fails, saying so; it never skips.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/platform.h"
#include "tests/lib/repo.h"

/* not the ports of the other suites: a leftover of one never blocks another */
#define INGEST_PORT 19370
#define HTTP_PORT   19381
/* the shortest warm-up the aggregator takes is 10 s; 20 s gives the detectors a baseline */
#define WARMUP_S  20
#define LOAD_RPS  "40"
#define CHROMIUM  "/usr/bin/chromium"
#define ARTIFACTS "build/test-artifacts/dashboard"
/* what the script may take: its own bound (PRP_CHECK_TIMEOUT_S) is 170 s */
#define SCRIPT_TIMEOUT_MS (200 * 1000)

static struct platform pf;
static bool started;

static void teardown(void)
{
	if (started)
		platform_stop(&pf);
	started = false;
	test_no_leaks();
}

/* platform, warm-up (WARMUP_S + margin), npm ci at worst, then the script */
TestSuite(dashboard, .fini = teardown, .timeout = 420);

/* A key of @role made with POST /keys into @out. */
static void make_key(const char *role, char *out, size_t cap)
{
	char body[128];
	json_t *k;
	const char *key;

	snprintf(body, sizeof(body), "{\"name\": \"dashboard-%s\", \"role\": \"%s\"}", role, role);
	k = platform_api(&pf, "POST", "/keys", body);
	key = json_string_value(json_object_get(k, "key"));
	cr_assert_not_null(key, "POST /keys (%s) returned no key", role);
	snprintf(out, cap, "%s", key);
	json_decref(k);
}

/* Whether GET /topology has the edge @from -> @to. */
static bool has_edge(json_t *topo, const char *from, const char *to)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(topo, "edges"), i, e) {
		const char *f = json_string_value(json_object_get(e, "from"));
		const char *t = json_string_value(json_object_get(e, "to"));

		if (f && t && !strcmp(f, from) && !strcmp(t, to))
			return true;
	}
	return false;
}

/*
 * Waits until the detectors of the three services are past warm-up (the
 * script injects chaos and expects an anomaly within seconds) and the
 * topology has orders' two edges (the service map draws them).
 */
static void wait_ready(void)
{
	json_int_t warm = 0, series = 0;
	bool edges = false;

	for (int i = 0; i < 180; i++) {
		json_t *st = platform_api(&pf, "GET", "/ml/status", NULL);
		json_t *topo = platform_api(&pf, "GET", "/topology", NULL);

		warm = json_integer_value(json_object_get(st, "series_warm"));
		series = json_integer_value(json_object_get(st, "series"));
		edges = has_edge(topo, "orders", "users") && has_edge(topo, "orders", "payments");
		json_decref(st);
		json_decref(topo);
		/*
		 * latency, request rate and error rate of the three services at
		 * least, as tests/integration/aggregator/test_detection.c waits
		 */
		if (edges && series >= 21 && warm >= 9 && i >= WARMUP_S + 5) {
			printf("dashboard: platform ready after %d s: %lld of %lld signals warm\n",
			       i, (long long)warm, (long long)series);
			return;
		}
		time_sleep_ns(NSEC_PER_SEC);
	}
	cr_assert_fail("the platform is not ready after 180 s: %lld of %lld signals warm, orders' "
		       "edges %s\naggregator: %s",
		       (long long)warm, (long long)series, edges ? "there" : "missing",
		       buf_str(&pf.aggregator.err));
}

/* mkdir -p @path (relative to the current directory or absolute). */
static void make_dirs(const char *path)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		cr_assert(!mkdir(p, 0755) || errno == EEXIST, "cannot make '%s': %s", p,
			  strerror(errno));
		if (!s)
			break;
		*s = '/';
	}
}

Test(dashboard, every_view_works_in_a_real_browser)
{
	const char *chromium = getenv("PRP_CHROMIUM") ? getenv("PRP_CHROMIUM") : CHROMIUM;
	char dashboard[PATH_MAX], install[PATH_MAX], script[PATH_MAX], artifacts[PATH_MAX];
	char real[PATH_MAX], warmup[16], operator_key[128], viewer_key[128], chaos[96];
	int rc;

	cr_assert_eq(access(chromium, X_OK), 0,
		     "chromium is not installed (%s): run packaging/install-deps.sh as root",
		     chromium);
	repo_path(install, sizeof(install), "tests/node/install.sh");
	repo_path(script, sizeof(script), "tests/node/dashboard_check.mjs");
	repo_path(artifacts, sizeof(artifacts), ARTIFACTS);
	repo_path(dashboard, sizeof(dashboard), "dashboard");
	cr_assert_not_null(realpath(dashboard, real), "no dashboard/ in the repository");
	snprintf(dashboard, sizeof(dashboard), "%s", real);
	make_dirs(artifacts);
	cr_assert_not_null(realpath(artifacts, real));
	snprintf(artifacts, sizeof(artifacts), "%s", real);
	/* the packages first: a failed npm ci says so before the platform's minute of warm-up */
	rc = proc_run_echo((const char *const[]){ "/bin/sh", install, NULL }, 300 * 1000);
	cr_assert_eq(rc, 0, "tests/node/install.sh failed (exit %d): see above", rc);

	snprintf(warmup, sizeof(warmup), "%d", WARMUP_S);
	platform_start(&pf, INGEST_PORT, HTTP_PORT,
		       (const char *const[]){ "--detect-warmup", warmup, "--http-dashboard-dir",
					      dashboard, NULL },
		       NULL, LOAD_RPS);
	started = true;
	make_key("operator", operator_key, sizeof(operator_key));
	make_key("viewer", viewer_key, sizeof(viewer_key));
	wait_ready();

	snprintf(chaos, sizeof(chaos), "%s/chaos", pf.trio.payments.url);
	setenv("PRP_URL", pf.api, 1);
	setenv("PRP_ADMIN_KEY", pf.admin_key, 1);
	setenv("PRP_OPERATOR_KEY", operator_key, 1);
	setenv("PRP_VIEWER_KEY", viewer_key, 1);
	setenv("PRP_CHAOS_PAYMENTS", chaos, 1);
	setenv("PRP_ARTIFACTS", artifacts, 1);
	setenv("PRP_CHROMIUM", chromium, 1);
	rc = proc_run_echo((const char *const[]){ "/usr/bin/env", "node", script, NULL },
		      SCRIPT_TIMEOUT_MS);
	cr_assert_eq(rc, 0,
		     "tests/node/dashboard_check.mjs exited %d: the 'not ok' lines above say what "
		     "failed (screenshots in %s)\naggregator: %s",
		     rc, artifacts, buf_str(&pf.aggregator.err));
}
