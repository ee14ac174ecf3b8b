/*
 * The executor (aggregator/policy/executor.h) with a real store, a real
 * ingest on an ipc:// socket, fake agents speaking the wire protocol
 * (tests/lib/fake_agent.h) and a local HTTP receiver (tests/lib/http_sink.h):
 * exec and its allow-list and timeout, signed alert and webhook deliveries
 * and their retries, scale by command, agent commands and their targets,
 * the breaker loop judged by a fake health, stale actions at start, and
 * what executor_stop() leaves.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator/ingest.h"
#include "aggregator/policy/executor.h"
#include "aggregator/store/store.h"
#include "common/hmac.h"
#include "common/timeutil.h"
#include "tests/lib/fake_agent.h"
#include "tests/lib/http_sink.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"
#include "tests/lib/tmpdir.h"

#define KEY    "executor-test-key-0123456789"
#define TENANT "default"

static char dir[64], data[128], keys[128], url[160];
static struct ingest *in;
static struct executor *x;
static struct store *reader;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void setup(void)
{
	char path[256];

	tmpdir_make(dir, sizeof(dir), "executor");
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(url, sizeof(url), "ipc://%s/ingest.ipc", dir);
	cr_assert_eq(mkdir(data, 0700), 0);
	cr_assert_eq(mkdir(keys, 0700), 0);
	snprintf(path, sizeof(path), "%s/" TENANT, keys);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/" TENANT "/tenant.key", keys);
	write_file(path, KEY "\n");
	in = NULL;
	x = NULL;
	reader = NULL;
}

static void teardown(void)
{
	executor_stop(x);
	ingest_stop(in);
	store_close(reader);
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(executor, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---- */

static void ingest_up(void)
{
	cr_assert_eq(ingest_start(&in, &(struct ingest_config){ .url = url,
								.keys_dir = keys,
								.store = { .dir = data } }),
		     0);
}

static void config(struct executor_config *c)
{
	executor_config_default(c);
	c->store.dir = data;
	c->agent_timeout_ms = 3000;
	c->probe_window_ms = 500;
}

/* config(), with exec allowed to run the one command @allow[0]. */
static void config_exec(struct executor_config *c, const char *const *allow)
{
	config(c);
	c->exec_allow = allow;
	c->nexec_allow = 1;
}

static void executor_up(const struct executor_config *c)
{
	cr_assert_eq(executor_start(&x, c), 0);
}

static int64_t now_ms(void)
{
	return (int64_t)(time_real_ns() / NSEC_PER_MSEC);
}

static int64_t submit(const char *type, const char *service, const char *params, const char *reason)
{
	struct store_action a = { 0 };
	int64_t id;

	snprintf(a.tenant, sizeof(a.tenant), TENANT);
	snprintf(a.policy_name, sizeof(a.policy_name), "test_policy");
	snprintf(a.service, sizeof(a.service), "%s", service);
	snprintf(a.type, sizeof(a.type), "%s", type);
	a.parameters = strdup(params);
	a.reason = strdup(reason);
	cr_assert_eq(executor_submit(x, &a), 0, "submit %s", type);
	cr_assert_gt(a.id, 0);
	cr_assert_eq(a.status, STORE_ACTION_PENDING);
	id = a.id;
	store_action_release(&a);
	return id;
}

static bool finished(enum store_action_status s)
{
	return s != STORE_ACTION_PENDING && s != STORE_ACTION_RUNNING;
}

static void reader_up(void)
{
	if (!reader)
		cr_assert_eq(store_open(&reader,
					&(struct store_options){ .dir = data, .read_only = true }),
			     0);
}

/* Waits for action @id to end; *out is the record (store_action_release()). */
static void wait_action(int64_t id, int timeout_ms, struct store_action *out)
{
	reader_up();
	for (int waited = 0;; waited += 20) {
		cr_assert_eq(store_action_get(reader, TENANT, id, out), 0);
		if (finished(out->status))
			return;
		cr_assert_lt(waited, timeout_ms, "action %lld still %s", (long long)id,
			     store_action_status_name(out->status));
		store_action_release(out);
		time_sleep_ns(20 * NSEC_PER_MSEC);
	}
}

/* The result's member @key. */
static json_t *result_get(const struct store_action *a, const char *key, json_t **root)
{
	*root = json_loads(a->result ? a->result : "null", 0, NULL);
	cr_assert(json_is_object(*root), "result: %s", a->result);
	return json_object_get(*root, key);
}

static void expect_error(const struct store_action *a, const char *needle)
{
	json_t *root, *err = result_get(a, "error", &root);

	cr_expect(json_is_string(err) && strstr(json_string_value(err), needle),
		  "wanted an error with '%s', result %s", needle, a->result);
	json_decref(root);
}

/* Waits for action @id to end and expects it failed with an error that has @needle. */
static void expect_failed(int64_t id, int timeout_ms, const char *needle)
{
	struct store_action a;

	wait_action(id, timeout_ms, &a);
	cr_expect_eq(a.status, STORE_ACTION_FAILED);
	expect_error(&a, needle);
	store_action_release(&a);
}

static struct fake_agent *agent(const char *id, const char *hello_extra)
{
	return fake_agent_start(&(struct fake_agent_config){ .url = url,
							     .tenant = TENANT,
							     .agent_id = id,
							     .key = KEY,
							     .hello_extra = hello_extra,
							     .interval_ms = 50 });
}

/* Waits until ingest lists @n connected agents. */
static void wait_agents(size_t n)
{
	for (int waited = 0;; waited += 20) {
		struct ingest_agent_info *v = NULL;
		size_t len = 0, connected = 0;

		cr_assert_eq(ingest_agents_info(in, TENANT, &v, &len), 0);
		for (size_t i = 0; i < len; i++)
			connected += v[i].connected;
		free(v);
		if (connected >= n)
			return;
		cr_assert_lt(waited, 5000, "%zu agents connected, wanted %zu", connected, n);
		time_sleep_ns(20 * NSEC_PER_MSEC);
	}
}

/* ---- exec ---- */

Test(executor, an_allowed_exec_succeeds_with_its_output_in_the_logs)
{
	const char *allow[] = { "echo out-line; echo err-line >&2" };
	struct executor_config c;
	struct store_action a;
	json_t *root;

	config_exec(&c, allow);
	executor_up(&c);
	wait_action(submit("exec", "payments", "{\"command\":\"echo out-line; echo err-line >&2\"}",
			   "manual"),
		    5000, &a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED, "status %s, logs %s",
		     store_action_status_name(a.status), a.logs);
	cr_expect(a.logs && strstr(a.logs, "out-line") && strstr(a.logs, "err-line"), "logs: %s",
		  a.logs);
	cr_expect_eq(json_integer_value(result_get(&a, "exit_code", &root)), 0);
	cr_expect_gt(a.started_ms, 0);
	cr_expect_geq(a.completed_ms, a.started_ms);
	json_decref(root);
	store_action_release(&a);
}

Test(executor, an_exec_that_fails_is_failed_with_its_exit_code)
{
	const char *allow[] = { "exit 3" };
	struct executor_config c;
	struct store_action a;
	json_t *root;

	config_exec(&c, allow);
	executor_up(&c);
	wait_action(submit("exec", "payments", "{\"command\":\"exit 3\"}", "manual"), 5000, &a);
	cr_expect_eq(a.status, STORE_ACTION_FAILED);
	cr_expect_eq(json_integer_value(result_get(&a, "exit_code", &root)), 3);
	json_decref(root);
	store_action_release(&a);
}

Test(executor, an_exec_not_in_the_allow_list_fails_and_never_runs)
{
	const char *allow[] = { "true" };
	char proof[160], params[400];
	struct executor_config c;

	config_exec(&c, allow);
	executor_up(&c);
	snprintf(proof, sizeof(proof), "%s/ran", dir);
	/* a prefix of an allowed command is not allowed either */
	snprintf(params, sizeof(params), "{\"command\":\"true; touch %s\"}", proof);
	expect_failed(submit("exec", "payments", params, "manual"), 5000,
		      "not in the exec allow-list");
	time_sleep_ns(200 * NSEC_PER_MSEC);
	cr_expect_neq(access(proof, F_OK), 0, "the refused command ran");
}

Test(executor, a_hanging_exec_times_out_and_its_process_group_is_killed)
{
	/* "; true": the shell cannot exec sleep in its place, so sleep is a grandchild */
	const char *allow[] = { "sleep 60; true" };
	struct executor_config c;
	struct store_action a;
	int64_t t0 = now_ms();
	const char *p;
	int pgid = 0;

	config_exec(&c, allow);
	c.exec_timeout_ms = 300;
	executor_up(&c);
	wait_action(submit("exec", "payments", "{\"command\":\"sleep 60; true\"}", "manual"), 3000,
		    &a);
	cr_expect_eq(a.status, STORE_ACTION_TIMED_OUT, "status %s",
		     store_action_status_name(a.status));
	cr_expect_lt(now_ms() - t0, 1500, "took %lld ms", (long long)(now_ms() - t0));
	p = a.logs ? strstr(a.logs, "process group ") : NULL;
	cr_assert_not_null(p, "logs: %s", a.logs);
	pgid = atoi(p + strlen("process group "));
	cr_assert_gt(pgid, 1);
	cr_expect_eq(proc_group_alive(pgid), 0, "processes left in group %d", pgid);
	store_action_release(&a);
}

/* ---- alert, webhook ---- */

Test(executor, an_alert_is_posted_signed_over_its_exact_body)
{
	const int ok[] = { 200 };
	struct http_sink *sink = http_sink_start(ok, 1, NULL);
	char alert_url[64], *head = NULL, *body = NULL, *sig, *h, want[80],
			    hex[HMAC_SHA256_HEX_LEN];
	struct executor_config c;
	struct store_action a;
	json_t *o, *d, *root;

	snprintf(alert_url, sizeof(alert_url), "http://127.0.0.1:%u/hook", http_sink_port(sink));
	config(&c);
	c.alert_url = alert_url;
	c.webhook_secret = "s3cret-for-tests";
	executor_up(&c);
	wait_action(submit("alert", "payments",
			   "{\"channel\":\"webhook\",\"message\":\"{service} failing: {reason}\","
			   "\"severity\":\"critical\"}",
			   "error_rate > 0.2"),
		    10000, &a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED, "result %s logs %s", a.result, a.logs);
	cr_expect_eq(json_integer_value(result_get(&a, "status_code", &root)), 200);
	cr_expect_eq(json_integer_value(json_object_get(root, "attempts")), 1);
	json_decref(root);
	cr_assert_eq(http_sink_count(sink), 1);
	cr_assert(http_sink_get(sink, 0, &head, &body));
	cr_expect(!strncmp(head, "POST /hook ", 11), "%s", head);

	sig = http_sink_header(head, "X-Webhook-Signature");
	cr_assert_not_null(sig, "no signature: %s", head);
	cr_assert_eq(hmac_sha256_hex("s3cret-for-tests", 16, body, strlen(body), hex), 0);
	snprintf(want, sizeof(want), "sha256=%s", hex);
	cr_expect_str_eq(sig, want);
	free(sig);
	h = http_sink_header(head, "X-Webhook-Event");
	cr_expect(h && !strcmp(h, "alert"), "event %s", h);
	free(h);
	h = http_sink_header(head, "Content-Type");
	cr_expect(h && !strcmp(h, "application/json"), "content type %s", h);
	free(h);
	h = http_sink_header(head, "X-Webhook-ID");
	cr_expect(h && strlen(h) == 36, "id %s", h);
	free(h);
	h = http_sink_header(head, "X-Webhook-Timestamp");
	o = json_loads(body, 0, NULL);
	d = json_object_get(o, "data");
	cr_expect(h && !strcmp(h, json_string_value(json_object_get(o, "timestamp"))),
		  "timestamp %s", h);
	free(h);
	cr_expect_str_eq(json_string_value(json_object_get(o, "event")), "alert");
	cr_expect_str_eq(json_string_value(json_object_get(d, "message")),
			 "payments failing: error_rate > 0.2");
	cr_expect_str_eq(json_string_value(json_object_get(d, "severity")), "critical");
	cr_expect_str_eq(json_string_value(json_object_get(d, "policy")), "test_policy");
	cr_expect_str_eq(json_string_value(json_object_get(d, "service")), "payments");
	json_decref(o);
	free(head);
	free(body);
	store_action_release(&a);
	http_sink_stop(sink);
}

Test(executor, a_webhook_is_retried_after_a_500)
{
	const int script[] = { 500, 200 };
	struct http_sink *sink = http_sink_start(script, 2, NULL);
	char params[128], *h0, *b0, *h1, *b1, *id0, *id1;
	struct executor_config c;
	struct store_action a;
	json_t *root;

	config(&c);
	executor_up(&c);
	snprintf(params, sizeof(params), "{\"url\":\"http://127.0.0.1:%u/x\"}",
		 http_sink_port(sink));
	wait_action(submit("webhook", "payments", params, "error_rate > 0.2"), 10000, &a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED, "result %s", a.result);
	cr_expect_eq(json_integer_value(result_get(&a, "attempts", &root)), 2);
	cr_expect_eq(json_integer_value(json_object_get(root, "status_code")), 200);
	json_decref(root);
	cr_assert_eq(http_sink_count(sink), 2);
	cr_assert(http_sink_get(sink, 0, &h0, &b0));
	cr_assert(http_sink_get(sink, 1, &h1, &b1));
	cr_expect_str_eq(b0, b1, "each attempt sends the same bytes");
	id0 = http_sink_header(h0, "X-Webhook-ID");
	id1 = http_sink_header(h1, "X-Webhook-ID");
	cr_expect(id0 && id1 && !strcmp(id0, id1));
	cr_expect_null(http_sink_header(h0, "X-Webhook-Signature"), "no secret: no signature");
	free(id0);
	free(id1);
	free(h0);
	free(b0);
	free(h1);
	free(b1);
	store_action_release(&a);
	http_sink_stop(sink);
}

Test(executor, a_webhook_that_always_fails_stops_after_three_attempts)
{
	const int script[] = { 503 };
	struct http_sink *sink = http_sink_start(script, 1, NULL);
	struct executor_config c;
	struct store_action a;
	char params[128];
	json_t *root;

	config(&c);
	executor_up(&c);
	snprintf(params, sizeof(params), "{\"url\":\"http://127.0.0.1:%u/x\"}",
		 http_sink_port(sink));
	wait_action(submit("webhook", "payments", params, "r"), 10000, &a);
	cr_expect_eq(a.status, STORE_ACTION_FAILED);
	cr_expect_eq(json_integer_value(result_get(&a, "attempts", &root)), 3);
	cr_expect_eq(json_integer_value(json_object_get(root, "status_code")), 503);
	json_decref(root);
	cr_expect_eq(http_sink_count(sink), 3);
	store_action_release(&a);
	http_sink_stop(sink);
}

Test(executor, alerts_without_a_url_are_logged_and_webhook_ids_need_the_webhooks)
{
	struct executor_config c;
	struct store_action a;
	int64_t logged, other, bad, hook;

	config(&c);
	executor_up(&c);
	logged = submit("alert", "payments", "{\"channel\":\"log\",\"severity\":\"warning\"}", "r");
	other = submit("alert", "payments", "{\"channel\":\"slack\",\"severity\":\"warning\"}",
		       "r");
	bad = submit("webhook", "payments", "{\"webhook_id\":\"wh_1\"}", "r");
	hook = submit("webhook", "payments", "{\"webhook_id\":\"5\"}", "r");
	wait_action(logged, 5000, &a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED, "result %s", a.result);
	store_action_release(&a);
	/* without alert_url an alert still succeeds: its action.executed event carries it */
	wait_action(other, 5000, &a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED, "result %s", a.result);
	cr_expect(a.result && strstr(a.result, "action.executed"), "result %s", a.result);
	store_action_release(&a);
	expect_failed(bad, 5000, "webhook_id must be a hook's id");
	expect_failed(hook, 5000, "webhooks are not running");
}

/* ---- scale ---- */

Test(executor, scale_runs_the_scale_command_with_service_and_replicas)
{
	struct executor_config c;
	struct store_action a;

	config(&c);
	c.scale_command = "echo scaling {service} to {replicas}";
	executor_up(&c);
	wait_action(submit("scale", "payments", "{\"scale_up_by\":2}", "r"), 5000, &a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED, "result %s", a.result);
	cr_expect(a.logs && strstr(a.logs, "scaling payments to +2"), "logs: %s", a.logs);
	store_action_release(&a);
	wait_action(submit("scale", "payments", "{\"max\":5,\"replicas\":3}", "r"), 5000, &a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED);
	cr_expect(a.logs && strstr(a.logs, "scaling payments to 3"), "logs: %s", a.logs);
	store_action_release(&a);
}

Test(executor, scale_patches_the_kubernetes_deployment)
{
	const int ok[] = { 200 };
	struct http_sink *sink = http_sink_start(ok, 1, "{\"spec\":{\"replicas\":2}}");
	char api[64], token[160], *head, *body, *h;
	struct executor_config c;
	struct store_action a;
	json_t *root;

	snprintf(api, sizeof(api), "http://127.0.0.1:%u/", http_sink_port(sink));
	snprintf(token, sizeof(token), "%s/token", dir);
	write_file(token, "tok-123\n");
	config(&c);
	c.kube_api = api;
	c.kube_namespace = "shop";
	c.kube_token_file = token;
	executor_up(&c);
	wait_action(submit("scale", "payments", "{\"max\":3,\"scale_up_by\":5}", "r"), 10000, &a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED, "result %s logs %s", a.result, a.logs);
	cr_expect_eq(json_integer_value(result_get(&a, "replicas", &root)), 3, "clamped to max");
	cr_expect_eq(json_integer_value(json_object_get(root, "previous")), 2);
	json_decref(root);
	cr_assert_eq(http_sink_count(sink), 2);
	cr_assert(http_sink_get(sink, 0, &head, &body));
	cr_expect(
		!strncmp(head, "GET /apis/apps/v1/namespaces/shop/deployments/payments/scale ", 61),
		"%s", head);
	h = http_sink_header(head, "Authorization");
	cr_expect(h && !strcmp(h, "Bearer tok-123"), "auth %s", h);
	free(h);
	free(head);
	free(body);
	cr_assert(http_sink_get(sink, 1, &head, &body));
	cr_expect(!strncmp(head, "PATCH /apis/apps/v1/namespaces/shop/deployments/payments/scale ",
			   63),
		  "%s", head);
	h = http_sink_header(head, "Content-Type");
	cr_expect(h && !strcmp(h, "application/merge-patch+json"), "type %s", h);
	free(h);
	cr_expect_str_eq(body, "{\"spec\":{\"replicas\":3}}");
	free(head);
	free(body);
	store_action_release(&a);
	http_sink_stop(sink);
}

Test(executor, scale_without_a_way_to_scale_fails)
{
	struct executor_config c;

	config(&c);
	executor_up(&c);
	expect_failed(submit("scale", "payments", "{\"scale_up_by\":1}", "r"), 5000,
		      "scale is not configured");
}

/* ---- agent actions ---- */

Test(executor, agent_actions_without_ingest_fail_clearly)
{
	struct executor_config c;
	struct store_action a;

	config(&c);
	executor_up(&c);
	expect_failed(submit("restart", "payments", "{}", "r"), 5000, "need ingest");
	expect_failed(
		submit("circuit_breaker", "payments", "{\"duration\":60,\"state\":\"open\"}", "r"),
		5000, "need ingest");
	wait_action(submit("rate_limit", "payments", "{\"limit\":10,\"window\":1}", "r"), 5000, &a);
	cr_expect_eq(a.status, STORE_ACTION_FAILED);
	store_action_release(&a);
}

Test(executor, unknown_types_are_refused)
{
	struct executor_config c;
	struct store_action a = { 0 };

	config(&c);
	executor_up(&c);
	snprintf(a.tenant, sizeof(a.tenant), TENANT);
	snprintf(a.service, sizeof(a.service), "payments");
	snprintf(a.type, sizeof(a.type), "restart_pod"); /* an alias: the caller canonicalises */
	cr_expect_eq(executor_submit(x, &a), -EINVAL);
}

#define A1_HELLO                                                                                   \
	"\"services\":[{\"name\":\"payments\",\"ports\":[8003]},{\"name\":\"users\","              \
	"\"ports\":[8002]}],\"addresses\":[\"10.0.0.5\",\"127.0.0.1\",\"fe80::1\"]"
#define A2_HELLO                                                                                   \
	"\"services\":[{\"name\":\"orders\",\"ports\":[8001]}],\"addresses\":[\"10.0.0.6\"]"

Test(executor, ingest_keeps_what_each_hello_said_and_refuses_bad_lists)
{
	struct fake_agent *a1, *a2;
	struct ingest_agent_info *v = NULL;
	size_t n = 0;
	uint64_t id = 0;
	int64_t t0 = now_ms();

	ingest_up();
	a1 = agent("a1", A1_HELLO);
	/* a port out of range spoils its whole list; the addresses still count */
	a2 = agent("a2", "\"services\":[{\"name\":\"orders\",\"ports\":[70000]}],"
			 "\"addresses\":[\"10.0.0.6\"]");
	wait_agents(2);
	cr_assert(fake_agent_sync(a2, 3000));
	cr_assert_eq(ingest_agents_info(in, NULL, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(v[0].agent_id, "a1");
	cr_expect_str_eq(v[0].host, "a1-host");
	cr_expect(v[0].connected);
	cr_expect_geq(v[0].last_seen_ms, t0);
	cr_assert_eq(v[0].nservices, 2);
	cr_expect_str_eq(v[0].services[0].name, "payments");
	cr_expect_eq(v[0].services[0].nports, 1);
	cr_expect_eq(v[0].services[0].ports[0], 8003);
	cr_assert_eq(v[0].naddresses, 2, "loopback is left out");
	cr_expect_str_eq(v[0].addresses[0], "10.0.0.5");
	cr_expect_str_eq(v[0].addresses[1], "fe80::1");
	cr_expect_str_eq(v[1].agent_id, "a2");
	cr_expect_eq(v[1].nservices, 0);
	cr_expect_eq(v[1].naddresses, 1);
	free(v);
	cr_assert_eq(ingest_agents_info(in, "other", &v, &n), 0);
	cr_expect_eq(n, 0);
	free(v);

	/* command ids start from the wall clock: a restart never reuses one */
	cr_assert_eq(ingest_command(in, TENANT, "a1", "ping", NULL, &id), 0);
	cr_expect_geq(id, (uint64_t)t0 * 1000);
	fake_agent_stop(a1);
	fake_agent_stop(a2);
}

Test(executor, rate_limit_and_restart_go_to_the_hosts_of_the_service)
{
	struct fake_agent *a1, *a2;
	struct executor_config c;
	struct store_action a;
	json_t *cmds, *args;

	ingest_up();
	a1 = agent("a1", A1_HELLO);
	a2 = agent("a2", A2_HELLO);
	wait_agents(2);
	config(&c);
	c.ingest = in;
	c.restart_timeout_ms = 2000;
	executor_up(&c);
	wait_action(submit("rate_limit", "payments", "{\"limit\":100,\"window\":60}", "r"), 10000,
		    &a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED, "result %s logs %s", a.result, a.logs);
	cr_expect(a.logs && strstr(a.logs, "sent rate_limit to agent a1") &&
			  strstr(a.logs, "a1: succeeded"),
		  "logs %s", a.logs);
	store_action_release(&a);
	cmds = fake_agent_commands(a1);
	cr_assert_eq(json_array_size(cmds), 1);
	args = json_object_get(json_array_get(cmds, 0), "args");
	cr_expect_str_eq(json_string_value(json_object_get(args, "service")), "payments");
	cr_expect_str_eq(json_string_value(json_object_get(args, "state")), "set");
	cr_expect_eq(json_integer_value(json_object_get(args, "rate_per_s")), 2, "ceil(100/60)");
	cr_expect_eq(json_integer_value(json_object_get(args, "burst")), 2);
	cr_expect_eq(json_integer_value(json_array_get(json_object_get(args, "ports"), 0)), 8003);
	json_decref(cmds);
	cr_expect_eq(fake_agent_count(a2, NULL), 0, "a2 does not host payments");

	/* a host that fails makes the action fail */
	fake_agent_set_answer(a1, FAKE_AGENT_FAIL);
	wait_action(submit("restart", "payments", "{}", "r"), 10000, &a);
	cr_expect_eq(a.status, STORE_ACTION_FAILED);
	store_action_release(&a);
	cmds = fake_agent_commands(a1);
	args = json_object_get(json_array_get(cmds, 1), "args");
	cr_expect_eq(json_integer_value(json_object_get(args, "timeout_ms")), 2000);
	json_decref(cmds);

	/* a host that never answers: timed out, and the command is withdrawn */
	fake_agent_set_answer(a1, FAKE_AGENT_IGNORE);
	wait_action(submit("restart", "payments", "{}", "r"), 10000, &a);
	cr_expect_eq(a.status, STORE_ACTION_TIMED_OUT, "status %s",
		     store_action_status_name(a.status));
	store_action_release(&a);

	expect_failed(submit("restart", "nosuch", "{}", "r"), 5000,
		      "no agent reports service nosuch listening");
	fake_agent_stop(a1);
	fake_agent_stop(a2);
}

/* ---- the breaker loop ---- */

static enum executor_health health_now = EXECUTOR_HEALTH_UNKNOWN;
static int health_calls;
static int64_t health_since;

static enum executor_health fake_health(const char *tenant, const char *service, int64_t since,
					void *arg)
{
	(void)arg;
	cr_expect_str_eq(tenant, TENANT);
	cr_expect_str_eq(service, "payments");
	health_calls++;
	health_since = since;
	return health_now;
}

/* The newest breaker action, once it ended. */
static void newest_breaker_action(struct store_action *out)
{
	struct store_action_filter f = {
		.tenant = TENANT, .type = "circuit_breaker", .status = -1, .limit = 1
	};
	struct store_action *v = NULL;
	size_t n = 0;

	reader_up();
	cr_assert_eq(store_actions_list(reader, &f, &v, &n, NULL), 0);
	cr_assert_eq(n, 1);
	wait_action(v[0].id, 10000, out);
	store_actions_free(v, n);
}

static size_t breaker_actions(void)
{
	struct store_action_filter f = { .tenant = TENANT,
					 .type = "circuit_breaker",
					 .status = -1 };
	struct store_action *v = NULL;
	size_t n = 0;

	reader_up();
	cr_assert_eq(store_actions_list(reader, &f, &v, &n, NULL), 0);
	store_actions_free(v, n);
	return n;
}

static struct executor_breaker breaker_now(size_t *n)
{
	struct executor_breaker *v = NULL, b = { 0 };

	cr_assert_eq(executor_breakers(x, TENANT, &v, n), 0);
	if (*n)
		b = v[0];
	free(v);
	return b;
}

/* Ticks at @t and waits for the step it queues; checks its reason starts with @reason. */
static void tick_step(int64_t t, size_t *nactions, const char *reason)
{
	struct store_action a;

	executor_tick(x, t);
	for (int waited = 0; breaker_actions() == *nactions; waited += 20) {
		cr_assert_lt(waited, 5000, "no step after the tick for '%s'", reason);
		time_sleep_ns(20 * NSEC_PER_MSEC);
	}
	(*nactions)++;
	newest_breaker_action(&a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED, "%s: %s", reason, a.result);
	cr_expect(a.reason && !strncmp(a.reason, reason, strlen(reason)), "reason '%s', wanted %s",
		  a.reason, reason);
	cr_expect_str_eq(a.policy_name, "test_policy");
	store_action_release(&a);
}

static json_t *last_args(struct fake_agent *ag)
{
	json_t *cmds = fake_agent_commands(ag);
	json_t *args = json_incref(
		json_object_get(json_array_get(cmds, json_array_size(cmds) - 1), "args"));

	json_decref(cmds);
	return args;
}

static bool has_target(json_t *args, const char *t)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(args, "targets"), i, e)
		if (!strcmp(json_string_value(e), t))
			return true;
	return false;
}

Test(executor, a_breaker_opens_everywhere_then_half_opens_and_is_judged)
{
	struct fake_agent *a1, *a2;
	struct executor_config c;
	struct executor_breaker b;
	struct store_action a;
	size_t n, nactions;
	json_t *args;
	int64_t t;

	ingest_up();
	a1 = agent("a1", A1_HELLO);
	a2 = agent("a2", A2_HELLO);
	wait_agents(2);
	config(&c);
	c.ingest = in;
	c.health = fake_health;
	executor_up(&c);

	wait_action(submit("circuit_breaker", "payments", "{\"duration\":2,\"state\":\"open\"}",
			   "error_rate > 0.5"),
		    10000, &a);
	cr_assert_eq(a.status, STORE_ACTION_SUCCEEDED, "result %s logs %s", a.result, a.logs);
	store_action_release(&a);
	/* every agent got it; loopback only where the service runs */
	args = last_args(a1);
	cr_expect_str_eq(json_string_value(json_object_get(args, "state")), "open");
	cr_expect(has_target(args, "10.0.0.5:8003") && has_target(args, "[fe80::1]:8003") &&
			  has_target(args, "127.0.0.1:8003") && has_target(args, "[::1]:8003"),
		  "a1 targets %s", json_dumps(args, 0));
	cr_expect_eq(json_integer_value(json_object_get(args, "lease_ms")), 2 * 2000 + 30000);
	cr_expect_eq(json_integer_value(json_object_get(args, "probe_interval_ms")), 1000);
	json_decref(args);
	args = last_args(a2);
	cr_expect(has_target(args, "10.0.0.5:8003") && !has_target(args, "127.0.0.1:8003") &&
			  !has_target(args, "10.0.0.6:8001"),
		  "a2 targets %s", json_dumps(args, 0));
	cr_expect_eq(json_array_size(json_object_get(args, "targets")), 2);
	json_decref(args);

	b = breaker_now(&n);
	cr_assert_eq(n, 1);
	cr_expect_eq(b.state, EXECUTOR_BREAKER_OPEN);
	cr_expect_eq(b.duration_ms, 2000);
	nactions = breaker_actions();

	/* not yet due: nothing happens */
	executor_tick(x, b.opened_ms + 1000);
	time_sleep_ns(200 * NSEC_PER_MSEC);
	cr_expect_eq(breaker_actions(), nactions);

	/* due: half-open; then bad: open again */
	tick_step(b.next_ms, &nactions, "half-open: probing after 2 s open");
	args = last_args(a2);
	cr_expect_str_eq(json_string_value(json_object_get(args, "state")), "half_open");
	json_decref(args);
	b = breaker_now(&n);
	cr_expect_eq(b.state, EXECUTOR_BREAKER_HALF_OPEN);
	health_now = EXECUTOR_HEALTH_BAD;
	tick_step(b.next_ms, &nactions, "reopened");
	cr_expect_eq(health_calls, 1);
	b = breaker_now(&n);
	cr_expect_eq(b.state, EXECUTOR_BREAKER_OPEN);
	cr_expect_eq(b.reopened, 1);
	args = last_args(a1);
	cr_expect_str_eq(json_string_value(json_object_get(args, "state")), "open");
	json_decref(args);

	/* half-open again; no evidence for three windows: closed */
	tick_step(b.next_ms, &nactions, "half-open");
	b = breaker_now(&n);
	health_now = EXECUTOR_HEALTH_UNKNOWN;
	t = b.next_ms;
	for (int i = 0; i < 2; i++) {
		executor_tick(x, t);
		b = breaker_now(&n);
		cr_expect_eq(b.state, EXECUTOR_BREAKER_HALF_OPEN, "window %d", i);
		cr_expect_gt(b.next_ms, t);
		t = b.next_ms;
	}
	time_sleep_ns(200 * NSEC_PER_MSEC);
	cr_expect_eq(breaker_actions(), nactions, "an unknown window takes no action");
	tick_step(t, &nactions, "closed: no requests got through in 3 probe windows");
	breaker_now(&n);
	cr_expect_eq(n, 0);
	args = last_args(a1);
	cr_expect_str_eq(json_string_value(json_object_get(args, "state")), "closed");
	json_decref(args);

	/* open, half-open, healthy: closed */
	wait_action(submit("circuit_breaker", "payments", "{\"duration\":1,\"state\":\"open\"}",
			   "again"),
		    10000, &a);
	store_action_release(&a);
	nactions++;
	b = breaker_now(&n);
	tick_step(b.next_ms, &nactions, "half-open");
	b = breaker_now(&n);
	health_now = EXECUTOR_HEALTH_GOOD;
	tick_step(b.next_ms, &nactions, "closed: the service is healthy again");
	cr_expect_geq(health_since, b.opened_ms);
	breaker_now(&n);
	cr_expect_eq(n, 0);
	fake_agent_stop(a1);
	fake_agent_stop(a2);
}

Test(executor, a_close_forgets_the_breaker_and_stop_closes_the_open_ones)
{
	struct fake_agent *a1;
	struct executor_config c;
	struct store_action a;
	size_t n, before;
	json_t *args;

	ingest_up();
	a1 = agent("a1", A1_HELLO);
	wait_agents(1);
	config(&c);
	c.ingest = in;
	executor_up(&c);

	/* no host: refused */
	expect_failed(
		submit("circuit_breaker", "nosuch", "{\"duration\":60,\"state\":\"open\"}", "r"),
		10000, "no agent reports service nosuch listening");

	wait_action(
		submit("circuit_breaker", "payments", "{\"duration\":60,\"state\":\"open\"}", "r"),
		10000, &a);
	store_action_release(&a);
	breaker_now(&n);
	cr_expect_eq(n, 1);
	/* a second open extends, never duplicates */
	wait_action(
		submit("circuit_breaker", "payments", "{\"duration\":120,\"state\":\"open\"}", "r"),
		10000, &a);
	store_action_release(&a);
	cr_expect_eq(breaker_now(&n).duration_ms, 120000);
	cr_expect_eq(n, 1);
	wait_action(submit("circuit_breaker", "payments", "{\"duration\":60,\"state\":\"closed\"}",
			   "manual close"),
		    10000, &a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED, "%s", a.result);
	store_action_release(&a);
	breaker_now(&n);
	cr_expect_eq(n, 0);

	wait_action(submit("circuit_breaker", "users", "{\"duration\":60,\"state\":\"open\"}", "r"),
		    10000, &a);
	store_action_release(&a);
	before = fake_agent_count(a1, "circuit_breaker");
	executor_stop(x);
	x = NULL;
	cr_expect_eq(fake_agent_count(a1, "circuit_breaker"), before + 1);
	args = last_args(a1);
	cr_expect_str_eq(json_string_value(json_object_get(args, "service")), "users");
	cr_expect_str_eq(json_string_value(json_object_get(args, "state")), "closed");
	json_decref(args);
	fake_agent_stop(a1);
}

/* ---- start and stop ---- */

Test(executor, actions_a_previous_run_left_unfinished_are_failed_at_start)
{
	struct store *w = NULL;
	struct store_action a = { 0 }, b = { 0 }, got;
	struct executor_config c;
	int64_t ids[2];

	cr_assert_eq(store_open(&w, &(struct store_options){ .dir = data }), 0);
	snprintf(a.tenant, sizeof(a.tenant), TENANT);
	snprintf(a.service, sizeof(a.service), "payments");
	snprintf(a.type, sizeof(a.type), "restart");
	a.status = STORE_ACTION_PENDING;
	a.created_ms = now_ms();
	b = a;
	b.status = STORE_ACTION_RUNNING;
	b.started_ms = now_ms();
	cr_assert_eq(store_action_put(w, &a), 0);
	cr_assert_eq(store_action_put(w, &b), 0);
	ids[0] = a.id;
	ids[1] = b.id;
	store_close(w);

	config(&c);
	executor_up(&c);
	for (int i = 0; i < 2; i++) {
		wait_action(ids[i], 1000, &got);
		cr_expect_eq(got.status, STORE_ACTION_FAILED);
		cr_expect_gt(got.completed_ms, 0);
		expect_error(&got, "the aggregator stopped while it ran");
		store_action_release(&got);
	}
}

Test(executor, stop_lets_the_running_action_finish_and_fails_the_queued_ones)
{
	const char *allow[] = { "sleep 0.5" };
	struct executor_config c;
	struct store_action a;
	int64_t first, second;

	config_exec(&c, allow);
	c.workers = 1;
	executor_up(&c);
	first = submit("exec", "payments", "{\"command\":\"sleep 0.5\"}", "r");
	second = submit("exec", "payments", "{\"command\":\"sleep 0.5\"}", "r");
	time_sleep_ns(100 * NSEC_PER_MSEC);
	executor_stop(x);
	x = NULL;
	wait_action(first, 1000, &a);
	cr_expect_eq(a.status, STORE_ACTION_SUCCEEDED);
	store_action_release(&a);
	expect_failed(second, 1000, "the aggregator stopped");
}
