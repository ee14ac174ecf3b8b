/*
 * docs/openapi.yaml against the live aggregator, and against a linter.
 *
 * live: the whole platform under load (the demo trio, prp-agent,
 * prp-aggregator, prp-loadgen), then every GET route of the route table
 * (routes_table()), the main POST routes with valid bodies, and a few
 * errors (401 without a key and with a bad one, 403 for a viewer key on an
 * admin route, 404 for an unknown path and a missing id, 400 for a bad
 * query and bad JSON, 405). Each exchange is recorded
 * {method, path, pattern, status, content_type, body} into a temporary JSON
 * file, and tests/node/openapi_check.mjs validates every body against the
 * spec's schema for its route, method and status (ajv, JSON Schema
 * 2020-12): a status the spec does not list fails too. Not called: the
 * streams (GET /stream/events is SSE, /stream/anomalies a WebSocket;
 * tests/integration/aggregator/test_streaming.c has them), GET /metrics
 * (Prometheus text; test_prometheus.c), POST /admin/backup and
 * /admin/restore (test_security.c), and the routes that change or delete
 * what other calls here read (PUT/DELETE, /toggle, /ml/toggle,
 * /detect/manual, /trigger, POST /webhooks/{id}/test). Chaos on payments
 * makes a real anomaly first. PRP_OPENAPI_EXCHANGES=FILE keeps a copy of
 * the exchanges.
 *
 * lint: `redocly lint` (@redocly/cli, pinned in tests/node/package.json,
 * rules in tests/node/redocly.yaml) on docs/openapi.yaml must find no error.
 *
 * Both need node and npm (packaging/install-deps.sh): without them they
 * fail, saying so; they never skip. live needs root (the agent).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aggregator/http/routes.h"
#include "common/timeutil.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/platform.h"
#include "tests/lib/repo.h"

/* not the ports of the other suites: a leftover of one never blocks another */
#define INGEST_PORT 19670
#define HTTP_PORT   19681
#define LOAD_RPS    "40"
/* seconds of load before the calls: services, series, topology and predictions have data */
#define LOAD_S	   15
#define MISSING_ID "999999999"

static struct platform pf;
static bool started;
static json_t *exchanges;     /* the recorded exchanges */
static char viewer_auth[160]; /* "X-API-Key: KEY" of a viewer key POST /keys made */

static void teardown(void)
{
	if (started)
		platform_stop(&pf);
	started = false;
	json_decref(exchanges);
	exchanges = NULL;
	test_no_leaks();
}

/* platform, LOAD_S of load, npm ci at worst, the calls and the checker */
TestSuite(openapi_live, .fini = teardown, .timeout = 420);
TestSuite(openapi_lint, .fini = test_no_leaks, .timeout = 360);

/* tests/node/install.sh: the pinned packages, or the test fails (node or npm missing, offline) */
static void node_install(void)
{
	char install[PATH_MAX];
	int rc;

	repo_path(install, sizeof(install), "tests/node/install.sh");
	rc = proc_run_echo((const char *const[]){ "/bin/sh", install, NULL }, 300 * 1000);
	cr_assert_eq(rc, 0,
		     "tests/node/install.sh failed (exit %d): see above; node and npm "
		     "come from packaging/install-deps.sh",
		     rc);
}

/*
 * @method @path (with its query) on the aggregator, with the JSON @body (may
 * be NULL) and @auth ("" no key, a header line, NULL the admin key), recorded
 * as an exchange of route @pattern (NULL: none has the path or the method).
 * Returns the parsed answer (NULL when not JSON; caller owns) and *@status.
 */
static json_t *call(const char *method, const char *path, const char *pattern, const char *body,
		    const char *auth, long *status)
{
	char url[512], ctype[128];
	struct buf resp, headers;
	json_t *o;

	snprintf(url, sizeof(url), "%s%s", pf.api, path);
	buf_init(&resp, 1 << 24);
	buf_init(&headers, 1 << 16);
	*status = 0;
	cr_assert_eq(http_call_full(method, url, body, NULL, auth, status, &resp, &headers), 0,
		     "%s %s: no answer\naggregator: %s", method, path, buf_str(&pf.aggregator.err));
	http_header_value(buf_str(&headers), "Content-Type", ctype, sizeof(ctype));
	cr_assert_eq(json_array_append_new(exchanges,
					   json_pack("{s:s, s:s, s:o, s:I, s:s, s:s}", "method",
						     method, "path", path, "pattern",
						     pattern ? json_string(pattern) : json_null(),
						     "status", (json_int_t)*status, "content_type",
						     ctype, "body", buf_str(&resp))),
		     0);
	o = json_loads(buf_str(&resp), 0, NULL);
	printf("openapi_live: %s %s -> %ld\n", method, path, *status);
	buf_release(&resp);
	buf_release(&headers);
	return o;
}

/* As call() with the admin key, expecting @want. */
static json_t *call_want(const char *method, const char *path, const char *pattern,
			 const char *body, long want)
{
	long status;
	json_t *o = call(method, path, pattern, body, NULL, &status);

	cr_expect_eq(status, want, "%s %s: %ld, not %ld", method, path, status, want);
	return o;
}

/* The member @key of the first element of the array @list in @o, as text; "" when none. */
static void first_id(json_t *o, const char *list, const char *key, char *out, size_t cap)
{
	json_t *v = json_object_get(json_array_get(json_object_get(o, list), 0), key);

	if (json_is_integer(v))
		snprintf(out, cap, "%lld", (long long)json_integer_value(v));
	else
		snprintf(out, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

/* The ids {id} takes, per pattern: a real one when the list has one, else MISSING_ID (a 404). */
struct ids {
	char anomaly[32], policy[32], action[32], webhook[32];
};

static void fetch_ids(struct ids *ids)
{
	json_t *o;

	o = call_want("GET", "/anomalies", "/anomalies", NULL, 200);
	first_id(o, "anomalies", "id", ids->anomaly, sizeof(ids->anomaly));
	json_decref(o);
	o = call_want("GET", "/policies", "/policies", NULL, 200);
	first_id(o, "policies", "id", ids->policy, sizeof(ids->policy));
	json_decref(o);
	o = call_want("GET", "/actions", "/actions", NULL, 200);
	first_id(o, "actions", "action_id", ids->action, sizeof(ids->action));
	json_decref(o);
	o = call_want("GET", "/webhooks", "/webhooks", NULL, 200);
	first_id(o, "webhooks", "id", ids->webhook, sizeof(ids->webhook));
	json_decref(o);
	if (!ids->anomaly[0])
		snprintf(ids->anomaly, sizeof(ids->anomaly), MISSING_ID);
	if (!ids->action[0])
		snprintf(ids->action, sizeof(ids->action), MISSING_ID);
	if (!ids->webhook[0])
		snprintf(ids->webhook, sizeof(ids->webhook), MISSING_ID);
	cr_assert(ids->policy[0], "GET /policies: none, after POST /policies made one");
	printf("openapi_live: ids anomaly=%s policy=%s action=%s webhook=%s\n", ids->anomaly,
	       ids->policy, ids->action, ids->webhook);
}

/* @pattern with {name}/{service} as "orders" and {id} as the id of its resource. */
static void fill(const char *pattern, const struct ids *ids, char *out, size_t cap)
{
	const char *id = !strncmp(pattern, "/anomalies/", 11)  ? ids->anomaly
			 : !strncmp(pattern, "/policies/", 10) ? ids->policy
			 : !strncmp(pattern, "/actions/", 9)   ? ids->action
			 : !strncmp(pattern, "/webhooks/", 10) ? ids->webhook
							       : MISSING_ID;
	size_t n = 0;

	for (const char *s = pattern; *s && n + 1 < cap;) {
		if (*s != '{') {
			out[n++] = *s++;
			continue;
		}
		const char *end = strchr(s, '}');
		const char *val = !strncmp(s, "{id}", 4) ? id : "orders";

		cr_assert_not_null(end, "bad pattern '%s'", pattern);
		n += (size_t)snprintf(out + n, cap - n, "%s", val);
		s = end + 1;
	}
	out[n < cap ? n : cap - 1] = '\0';
}

/* What the route walk leaves out, and why (the header says where they are tested). */
static bool skipped(const char *pattern)
{
	return !strcmp(pattern, "/metrics") || !strcmp(pattern, "/stream/events") ||
	       !strcmp(pattern, "/stream/anomalies");
}

/* Waits until the agents' data reached the aggregator: orders is a service with requests. */
static void wait_for_load(void)
{
	char url[128];

	snprintf(url, sizeof(url), "%s/services/orders", pf.api);
	for (int i = 0; i < 90; i++) {
		long status;
		json_t *s = platform_call("GET", url, NULL, &status); /* 404 until it is seen */
		json_int_t n = json_integer_value(json_object_get(s, "requests"));

		json_decref(s);
		if (n > 0 && i >= LOAD_S) {
			printf("openapi_live: %lld requests of orders after %d s\n", (long long)n,
			       i);
			return;
		}
		time_sleep_ns(NSEC_PER_SEC);
	}
	cr_assert_fail("no requests of orders after 90 s\naggregator: %s",
		       buf_str(&pf.aggregator.err));
}

/*
 * Waits until detection is warm, then sets chaos on payments (every request
 * fails) and waits up to 60 s for its anomaly, so that GET /anomalies/{id},
 * /rca and /advice answer about a real one. The chaos stays on: the calls
 * see a platform in trouble. No anomaly is not this test's failure
 * (test_detection.c's): {id} is then a missing one, a 404.
 */
static void make_anomaly(void)
{
	char url[128];
	long status;

	for (int i = 0; i < 120; i++) {
		json_t *st = platform_api(&pf, "GET", "/ml/status", NULL);
		json_int_t warm = json_integer_value(json_object_get(st, "series_warm"));

		json_decref(st);
		if (warm >= 9)
			break;
		time_sleep_ns(NSEC_PER_SEC);
	}
	snprintf(url, sizeof(url), "%s/chaos", pf.trio.payments.url);
	json_decref(platform_call("POST", url, "{\"error_rate\": 1}", &status));
	cr_assert(status >= 200 && status < 300, "chaos: %ld", status);
	for (int i = 0; i < 600; i++) {
		json_t *l = platform_api(&pf, "GET", "/anomalies?limit=1", NULL);
		bool any = json_array_size(json_object_get(l, "anomalies")) > 0;

		json_decref(l);
		if (any) {
			printf("openapi_live: an anomaly %.1f s after the chaos\n", i / 10.0);
			return;
		}
		time_sleep_ns(100 * NSEC_PER_MSEC);
	}
	printf("openapi_live: no anomaly 60 s after the chaos: {id} of /anomalies is a 404\n");
}

/* The POST routes that read or make something, with valid bodies. */
static void call_posts(const struct ids *ids)
{
	char path[128];
	json_t *o;
	long status;

	json_decref(call_want("POST", "/predict", "/predict",
			      "{\"service\": \"orders\", \"time_window\": \"30m\"}", 200));
	json_decref(call_want("POST", "/forecast", "/forecast",
			      "{\"service\": \"orders\", \"metric\": \"latency_p99\", "
			      "\"periods\": 10, \"step\": \"1m\"}",
			      200));
	json_decref(call_want("POST", "/rca", "/rca",
			      "{\"time_range\": \"15m\", \"service\": \"orders\"}", 200));
	json_decref(call_want("POST", "/summarize", "/summarize",
			      "{\"time_range\": \"1h\", \"services\": [\"orders\"]}", 200));
	json_decref(call_want("POST", "/advice", "/advice",
			      "{\"service\": \"orders\", \"anomaly\": \"latency_p99\"}", 200));
	if (strcmp(ids->anomaly, MISSING_ID)) {
		char body[128];

		snprintf(body, sizeof(body), "{\"anomaly\": %s}", ids->anomaly);
		json_decref(call_want("POST", "/advice", "/advice", body, 200));
		snprintf(body, sizeof(body), "{\"time_range\": \"15m\", \"anomaly_id\": %s}",
			 ids->anomaly);
		json_decref(call_want("POST", "/rca", "/rca", body, 200));
	}
	json_decref(call_want("POST", "/chat", "/chat",
			      "{\"query\": \"why is orders slow?\", \"conversation_id\": \"c-1\"}",
			      200));
	json_decref(call_want("POST", "/evaluate", "/evaluate", "{}", 200));
	snprintf(path, sizeof(path), "/policies/%s/test", ids->policy);
	json_decref(call_want("POST", path, "/policies/{id}/test",
			      "{\"service\": \"orders\", \"metrics\": {\"error_rate\": 0.5}}",
			      200));
	o = call_want("POST", "/keys", "/keys",
		      "{\"name\": \"openapi-live\", \"role\": \"viewer\"}", 201);
	snprintf(viewer_auth, sizeof(viewer_auth), "X-API-Key: %s",
		 json_string_value(json_object_get(o, "key"))
			 ? json_string_value(json_object_get(o, "key"))
			 : "");
	json_decref(o);
	/* /validate needs no key: with the admin key, then with none */
	json_decref(call_want("POST", "/validate", "/validate", NULL, 200));
	json_decref(call("POST", "/validate", "/validate", NULL, "", &status));
}

/* Errors of each kind the dispatcher and the handlers answer. */
static void call_errors(void)
{
	long status;

	json_decref(call("GET", "/services", "/services", NULL, "", &status));
	cr_expect_eq(status, 401, "GET /services without a key: %ld", status);
	json_decref(call("GET", "/health", "/health", NULL,
			 "X-API-Key: prp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &status));
	cr_expect_eq(status, 401, "GET /health with an unknown key: %ld", status);
	json_decref(call_want("GET", "/no/such/path", NULL, NULL, 404));
	json_decref(call_want("GET", "/anomalies/" MISSING_ID, "/anomalies/{id}", NULL, 404));
	json_decref(call_want("GET", "/services/no-such-service", "/services/{name}", NULL, 404));
	json_decref(call_want("GET", "/anomalies?limit=abc", "/anomalies", NULL, 400));
	json_decref(call_want("GET", "/services/orders/series?metric=bogus",
			      "/services/{name}/series", NULL, 400));
	json_decref(call_want("POST", "/chat", "/chat", "{\"query\": ", 400));
	json_decref(call_want("DELETE", "/health", NULL, NULL, 405));
	json_decref(call("GET", "/keys", "/keys", NULL, viewer_auth, &status));
	cr_expect_eq(status, 403, "GET /keys with a viewer key: %ld", status);
}

/* Writes the exchanges to a new temporary file; its path into @out. */
static void write_exchanges(char *out, size_t cap)
{
	int fd;

	snprintf(out, cap, "%s/prp-openapi-live.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(out);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	cr_assert_eq(json_dumpfd(exchanges, fd, JSON_INDENT(1)), 0);
	cr_assert_eq(close(fd), 0);
	/* a copy to look at, when asked */
	if (getenv("PRP_OPENAPI_EXCHANGES"))
		cr_assert_eq(
			json_dump_file(exchanges, getenv("PRP_OPENAPI_EXCHANGES"), JSON_INDENT(1)),
			0);
}

Test(openapi_live, every_route_answers_as_the_spec_says)
{
	char spec[PATH_MAX], script[PATH_MAX], file[PATH_MAX], path[512];
	size_t n, walked = 0;
	const struct route *r = routes_table(&n);
	struct ids ids = { 0 };
	json_t *o;
	int rc;

	repo_path(spec, sizeof(spec), "docs/openapi.yaml");
	repo_path(script, sizeof(script), "tests/node/openapi_check.mjs");
	/* the packages first: a failed npm ci says so before the platform starts */
	node_install();
	exchanges = json_array();
	platform_start(&pf, INGEST_PORT, HTTP_PORT,
		       (const char *const[]){ "--detect-warmup", "10", NULL }, NULL, LOAD_RPS);
	started = true;
	wait_for_load();

	/* a policy and a webhook, so that their {id} routes answer 200 */
	o = call_want("POST", "/policies", "/policies",
		      "{\"name\": \"openapi_live\", \"service\": \"orders\", \"condition\": "
		      "\"error_rate > 0.2\", \"action\": \"alert\", \"enabled\": true, "
		      "\"dry_run\": true}",
		      201);
	json_decref(o);
	o = call_want("POST", "/webhooks", "/webhooks",
		      "{\"url\": \"http://127.0.0.1:9/hook\", \"events\": [\"anomaly.detected\"]}",
		      201);
	json_decref(o);
	o = call_want(
		"POST", "/actions/execute", "/actions/execute",
		"{\"action\": \"alert\", \"service\": \"orders\", \"reason\": \"openapi_live\", "
		"\"parameters\": {\"channel\": \"log\", \"severity\": \"info\", \"message\": \"test\"}}",
		202);
	json_decref(o);
	make_anomaly();
	fetch_ids(&ids);

	for (size_t i = 0; i < n; i++) {
		long status;

		if (strcmp(r[i].method, "GET") || skipped(r[i].pattern))
			continue;
		fill(r[i].pattern, &ids, path, sizeof(path));
		if (!strcmp(r[i].pattern, "/services/{name}/series"))
			snprintf(path, sizeof(path),
				 "/services/orders/series?metric=latency_p99&since=15m");
		o = call("GET", path, r[i].pattern, NULL, NULL, &status);
		json_decref(o);
		cr_expect(status == 200 || (status == 404 && strstr(path, MISSING_ID)),
			  "GET %s: %ld", path, status);
		walked++;
	}
	printf("openapi_live: %zu GET routes called\n", walked);
	call_posts(&ids);
	call_errors();

	write_exchanges(file, sizeof(file));
	printf("openapi_live: %zu exchanges in %s\n", json_array_size(exchanges), file);
	rc = proc_run_echo((const char *const[]){ "/usr/bin/env", "node", script, spec, file, NULL },
		      120 * 1000);
	cr_assert_eq(rc, 0,
		     "tests/node/openapi_check.mjs exited %d: the 'not ok' lines above say which "
		     "answers docs/openapi.yaml does not describe (exchanges kept in %s)",
		     rc, file);
	unlink(file);
}

Test(openapi_lint, redocly_finds_no_error_in_the_spec)
{
	char spec[PATH_MAX], cli[PATH_MAX], config[PATH_MAX];
	int rc;

	node_install();
	repo_path(spec, sizeof(spec), "docs/openapi.yaml");
	repo_path(config, sizeof(config), "tests/node/redocly.yaml");
	repo_path(cli, sizeof(cli), "tests/node/node_modules/@redocly/cli/bin/cli.js");
	/* no usage data sent anywhere, no check for a newer version */
	setenv("REDOCLY_TELEMETRY", "off", 1);
	setenv("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true", 1);
	rc = proc_run_echo((const char *const[]){ "/usr/bin/env", "node", cli, "lint", "--config",
					     config, "--format", "stylish", spec, NULL },
		      120 * 1000);
	cr_assert_eq(rc, 0, "redocly lint docs/openapi.yaml exited %d: see above", rc);
}
