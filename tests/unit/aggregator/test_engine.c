/*
 * The policy engine (aggregator/policy/engine.h) against a real store and
 * a real series: policies from files and from the API, what fires and
 * what is recorded (for, cooldowns, dry runs, the toggle), changes taking
 * effect without a restart. The executor's side is tested with it in
 * test_executor; here the engine runs without one, so every decision is
 * recorded as skipped "no executor" unless another reason comes first,
 * except in the tests of the events (action.executed, action.failed), which
 * run exec actions through a real executor. Every engine publishes on a bus
 * (policy.changed).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator/events/bus.h"
#include "aggregator/policy/engine.h"
#include "aggregator/policy/executor.h"
#include "aggregator/series.h"
#include "aggregator/store/store.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/repo.h"
#include "tests/lib/series_feed.h"
#include "tests/lib/tmpdir.h"

static char dir[64];
static struct series *series;
static struct engine *engine;
static struct executor *executor; /* NULL but in the tests of action events */
static struct bus *bus;

static void init(void)
{
	struct store_options so = { .dir = NULL };

	tmpdir_make(dir, sizeof(dir), "engine");
	so.dir = dir;
	series = series_new();
	cr_assert_eq(bus_open(&bus, &so), 0);
}

static void fini(void)
{
	engine_stop(engine);
	engine = NULL;
	executor_stop(executor);
	executor = NULL;
	bus_close(bus);
	bus = NULL;
	series_free(series);
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(engine, .init = init, .fini = fini);

/* @seconds seconds of @service up to now: @requests a second, @errors of them 5xx. */
static void feed(const char *service, int seconds, uint64_t requests, uint64_t errors,
		 unsigned latency_ms)
{
	series_feed(
		series, service, seconds, (int64_t)(time_real_ns() / NSEC_PER_SEC),
		series_feed_http,
		&(struct series_feed_http){ .route = "/pay",
					    .requests = requests,
					    .errors = errors,
					    .latency_ns = (uint64_t)latency_ms * NSEC_PER_MSEC });
}

static void start(const char *policies_dir, bool auto_on)
{
	struct engine_config c;

	engine_config_default(&c);
	c.store.dir = dir;
	c.series = series;
	c.policies_dir = policies_dir;
	c.auto_remediation = auto_on;
	c.interval_ms = 3600 * 1000; /* the tests evaluate with engine_evaluate_now() */
	c.executor = executor;
	c.bus = bus;
	cr_assert_eq(engine_start(&engine, &c), 0);
}

static void restart(const char *policies_dir)
{
	engine_stop(engine);
	engine = NULL;
	start(policies_dir, true);
}

/* POST /policies: the id, after asserting @status. */
static int64_t create(const char *body, int status)
{
	struct engine_result r = { 0 };
	int64_t id = 0;

	engine_policy_create(engine, "default", "test", body, strlen(body), &r);
	cr_assert_eq(r.status, status, "got %d: %s", r.status,
		     json_dumps(r.body, JSON_COMPACT));
	if (status == 201)
		id = json_integer_value(json_object_get(r.body, "id"));
	engine_result_release(&r);
	return id;
}

static json_t *evaluate(void)
{
	struct engine_result r = { 0 };
	json_t *actions;

	engine_evaluate_now(engine, "default", &r);
	cr_assert_eq(r.status, 200);
	actions = json_incref(json_object_get(r.body, "actions"));
	engine_result_release(&r);
	return actions;
}

/* The actions in the store, newest first. */
static size_t stored_actions(struct store_action **out)
{
	struct store_options o = { .dir = dir, .read_only = true };
	struct store_action_filter f = { .status = -1 };
	struct store *s = NULL;
	size_t n = 0;

	cr_assert_eq(store_open(&s, &o), 0);
	cr_assert_eq(store_actions_list(s, &f, out, &n, NULL), 0);
	store_close(s);
	return n;
}

static const char *skipped_why(const struct store_action *a)
{
	static char why[256];
	json_t *o = json_loads(a->result ? a->result : "{}", 0, NULL);

	snprintf(why, sizeof(why), "%s", json_string_value(json_object_get(o, "skipped")) ?: "");
	json_decref(o);
	return why;
}

#define ERRORS_POLICY                                                                        \
	"name: pay_errors\nservice: payments\ncondition: error_rate > 0.2\n"                  \
	"actions:\n  - type: circuit_breaker\n    parameters: {state: open, duration: 30s}\n"

Test(engine, a_created_policy_fires_at_once_and_is_recorded)
{
	struct store_action *a = NULL;
	json_t *decisions;
	size_t n;

	start(NULL, true);
	feed("payments", 6, 100, 50, 20);
	create(ERRORS_POLICY, 201);
	decisions = evaluate();
	cr_assert_eq(json_array_size(decisions), 1);
	json_decref(decisions);
	n = stored_actions(&a);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(a[0].policy_name, "pay_errors");
	cr_assert_str_eq(a[0].service, "payments");
	cr_assert_str_eq(a[0].type, "circuit_breaker");
	cr_assert_str_eq(a[0].parameters, "{\"duration\":30,\"state\":\"open\"}");
	cr_assert_eq(a[0].status, STORE_ACTION_SKIPPED);
	cr_assert_str_eq(skipped_why(&a[0]), "no executor");
	cr_assert(strstr(a[0].reason, "error_rate > 0.2"), "%s", a[0].reason);
	store_actions_free(a, n);
}

Test(engine, a_policy_that_does_not_hold_or_covers_another_service_never_fires)
{
	struct store_action *a = NULL;

	start(NULL, true);
	feed("payments", 6, 100, 1, 20);
	feed("orders", 6, 100, 90, 20);
	create(ERRORS_POLICY, 201);
	json_decref(evaluate());
	cr_assert_eq(stored_actions(&a), 0);
	free(a);
}

Test(engine, a_deleted_policy_never_fires_again)
{
	struct engine_result r = { 0 };
	struct store_action *a = NULL;
	int64_t id;

	start(NULL, true);
	feed("payments", 6, 100, 50, 20);
	id = create(ERRORS_POLICY, 201);
	engine_policy_delete(engine, "default", "test", id, &r);
	cr_assert_eq(r.status, 200);
	engine_result_release(&r);
	json_decref(evaluate());
	cr_assert_eq(stored_actions(&a), 0);
	free(a);
	engine_policy_get(engine, "default", id, &r);
	cr_assert_eq(r.status, 404);
	engine_result_release(&r);
	engine_policy_delete(engine, "default", "test", id, &r);
	cr_assert_eq(r.status, 404);
	engine_result_release(&r);
}

Test(engine, for_waits_until_the_condition_has_held_that_long)
{
	struct store_action *a = NULL;
	json_t *d;

	start(NULL, true);
	feed("payments", 6, 100, 50, 20);
	create("name: slow\nservice: payments\ncondition: latency_p99 > 10ms\nfor: 2s\n"
	       "action: restart\n",
	       201);
	d = evaluate();
	cr_assert_eq(json_array_size(d), 0, "fired before `for`");
	json_decref(d);
	usleep(2100 * 1000);
	feed("payments", 3, 100, 50, 20);
	d = evaluate();
	cr_assert_eq(json_array_size(d), 1);
	json_decref(d);
	cr_assert_eq(stored_actions(&a), 1);
	cr_assert(strstr(a[0].reason, "held for 2 s"), "%s", a[0].reason);
	store_actions_free(a, 1);
}

Test(engine, a_cooldown_skip_is_recorded_once_per_cooldown)
{
	struct store_action *a = NULL;
	size_t n;

	start(NULL, true);
	feed("payments", 6, 100, 50, 20);
	create(ERRORS_POLICY, 201);
	for (int i = 0; i < 4; i++)
		json_decref(evaluate());
	n = stored_actions(&a);
	cr_assert_eq(n, 2, "the decision, then one cooldown skip: got %zu", n);
	cr_assert(!strncmp(skipped_why(&a[0]), "cooldown: ", 10), "%s", skipped_why(&a[0]));
	cr_assert_str_eq(skipped_why(&a[1]), "no executor");
	store_actions_free(a, n);
}

Test(engine, dry_run_and_the_toggle_record_without_running)
{
	struct store_action *a = NULL;
	struct engine_status st;
	size_t n;

	start(NULL, true);
	feed("payments", 6, 100, 50, 20);
	create("name: dry\nservice: payments\ncondition: error_rate > 0.2\ndry_run: true\n"
	       "action: restart\n",
	       201);
	json_decref(evaluate());
	n = stored_actions(&a);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(skipped_why(&a[0]), "dry run");
	store_actions_free(a, n);

	cr_assert_eq(engine_toggle(engine, "default", "test", -1), false);
	create("name: live\nservices: ['*']\ncondition: error_rate > 0.2\naction: restart\n", 201);
	json_decref(evaluate());
	n = stored_actions(&a);
	cr_assert_eq(n, 3, "dry's cooldown skip, then live's decision: got %zu", n);
	cr_assert_str_eq(a[1].policy_name, "dry");
	cr_assert_str_eq(a[0].policy_name, "live");
	cr_assert_str_eq(skipped_why(&a[0]), "auto-remediation is off");
	store_actions_free(a, n);
	engine_get_status(engine, &st);
	cr_assert_eq(st.auto_remediation_enabled, false);
	cr_assert_eq(st.policies_loaded, 2);
	cr_assert_eq(st.actions_skipped, 3);
	cr_assert_gt(st.last_check_ms, 0);
	cr_assert_eq(engine_toggle(engine, "default", "test", 1), true);
}

Test(engine, validation_errors_give_422_with_line_column_and_field)
{
	struct engine_result r = { 0 };
	const char *bad = "name: x\nservice: payments\ncondition: error_rate >> 2\naction: restart\n";
	json_t *err;

	start(NULL, true);
	engine_policy_create(engine, "default", "test", bad, strlen(bad), &r);
	cr_assert_eq(r.status, 422);
	err = json_object_get(r.body, "error");
	cr_assert_eq(json_integer_value(json_object_get(err, "line")), 3);
	cr_assert_gt(json_integer_value(json_object_get(err, "column")), 11);
	cr_assert_str_eq(json_string_value(json_object_get(err, "field")), "condition");
	engine_result_release(&r);
	create("name: x\nservice: payments\ncondition: error_rate > 2\naction: reboot\n", 422);
	create("name: x\nservice: payments\ncondition: error_rate > 2\naction: restart\n"
	       "cooldown: -5\n",
	       422);
	create("{\"name\": \"x\", \"service\": \"payments\",", 422);
	create(ERRORS_POLICY, 201);
	create(ERRORS_POLICY, 409);
}

Test(engine, a_partial_json_update_keeps_the_other_fields)
{
	struct engine_result r = { 0 };
	const char *patch = "{\"cooldown\": 60, \"enabled\": false}";
	json_t *p;
	int64_t id;

	start(NULL, true);
	id = create(ERRORS_POLICY, 201);
	engine_policy_update(engine, "default", "test", id, patch, strlen(patch), false, &r);
	cr_assert_eq(r.status, 200, "%s", json_dumps(r.body, 0));
	p = json_object_get(r.body, "policy");
	cr_assert_eq(json_integer_value(json_object_get(p, "cooldown")), 60);
	cr_assert(json_is_false(json_object_get(p, "enabled")));
	cr_assert_str_eq(json_string_value(json_object_get(p, "condition")), "error_rate > 0.2");
	cr_assert_str_eq(json_string_value(json_object_get(p, "service")), "payments");
	engine_result_release(&r);

	/* a disabled policy does not fire */
	feed("payments", 6, 100, 50, 20);
	json_t *d = evaluate();

	cr_assert_eq(json_array_size(d), 0);
	json_decref(d);
	engine_policy_update(engine, "default", "test", id + 100, patch, strlen(patch), false, &r);
	cr_assert_eq(r.status, 404);
	engine_result_release(&r);
}

Test(engine, a_dry_test_matches_given_metrics_and_records_nothing)
{
	struct engine_result r = { 0 };
	struct condition_facts f;
	struct store_action *a = NULL;
	int64_t id;

	start(NULL, true);
	id = create("name: t\nservice: payments\ncondition: error_rate > 0.2 or latency_p99 > 1s\n"
		    "action: restart\n",
		    201);
	condition_facts_init(&f);
	f.metric[CONDITION_ERROR_RATE] = 0.5;
	engine_policy_test(engine, "default", id, "payments", &f, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(json_is_true(json_object_get(r.body, "would_trigger")));
	cr_assert_str_eq(json_string_value(json_array_get(
				 json_object_get(r.body, "matched_conditions"), 0)),
			 "error_rate > 0.2");
	cr_assert_eq(json_array_size(json_object_get(r.body, "actions_to_execute")), 1);
	engine_result_release(&r);
	f.metric[CONDITION_ERROR_RATE] = 0.1;
	engine_policy_test(engine, "default", id, "payments", &f, &r);
	cr_assert(json_is_false(json_object_get(r.body, "would_trigger")));
	cr_assert_eq(json_array_size(json_object_get(r.body, "actions_to_execute")), 0);
	engine_result_release(&r);
	/* live, on a service nobody reports */
	engine_policy_test(engine, "default", id, "nobody", NULL, &r);
	cr_assert_eq(r.status, 400);
	engine_result_release(&r);
	cr_assert_eq(stored_actions(&a), 0);
	free(a);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

Test(engine, files_load_at_start_and_api_changes_survive_a_restart)
{
	char pdir[128], path[160];
	struct engine_result r = { 0 };
	const char *patch = "{\"cooldown\": 42}";
	json_t *list;

	snprintf(pdir, sizeof(pdir), "%s/policies", dir);
	cr_assert_eq(mkdir(pdir, 0700), 0);
	snprintf(path, sizeof(path), "%s/demo.yaml", pdir);
	write_file(path, "policies:\n"
			 "  - {name: a, service: payments, condition: error_rate > 0.5, action: restart}\n"
			 "  - {name: b, service: orders, condition: latency_p99 > 2s, action: restart}\n");
	snprintf(path, sizeof(path), "%s/README.md", pdir);
	write_file(path, "not a policy\n");
	start(pdir, true);
	engine_policy_list(engine, "default", &r);
	cr_assert_eq(json_integer_value(json_object_get(r.body, "count")), 2);
	list = json_object_get(r.body, "policies");
	cr_assert(!strncmp(json_string_value(json_object_get(json_array_get(list, 0), "origin")),
			   "file:", 5));
	int64_t id = json_integer_value(json_object_get(json_array_get(list, 0), "id"));

	engine_result_release(&r);
	engine_policy_update(engine, "default", "test", id, patch, strlen(patch), false, &r);
	cr_assert_eq(r.status, 200);
	engine_result_release(&r);

	restart(pdir);
	engine_policy_list(engine, "default", &r);
	cr_assert_eq(json_integer_value(json_object_get(r.body, "count")), 2, "loaded twice");
	engine_result_release(&r);
	engine_policy_get(engine, "default", id, &r);
	cr_assert_eq(json_integer_value(json_object_get(r.body, "cooldown")), 42);
	cr_assert_str_eq(json_string_value(json_object_get(r.body, "origin")), "api");
	engine_result_release(&r);
}

Test(engine, a_bad_policy_file_stops_the_start)
{
	char pdir[128], path[160];
	struct engine_config c;
	struct engine *e = NULL;

	snprintf(pdir, sizeof(pdir), "%s/policies", dir);
	cr_assert_eq(mkdir(pdir, 0700), 0);
	snprintf(path, sizeof(path), "%s/bad.yaml", pdir);
	write_file(path, "policies:\n  - name: a\n    condition: error_rate > \n");
	engine_config_default(&c);
	c.store.dir = dir;
	c.series = series;
	c.policies_dir = pdir;
	cr_assert_eq(engine_start(&e, &c), -EINVAL);
	cr_assert_null(e);
}

Test(engine, a_manual_action_is_validated_and_recorded)
{
	struct engine_result r = { 0 };
	json_t *params = json_pack("{s:s}", "state", "sideways");

	start(NULL, true);
	feed("payments", 3, 10, 0, 5);
	engine_execute(engine, "default", "test", "circuit_breaker", "payments", NULL, params, &r);
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(json_string_value(json_object_get(json_object_get(r.body, "error"),
							   "message")),
			 "parameters.state"),
		  "%s", json_dumps(r.body, 0));
	engine_result_release(&r);
	json_decref(params);
	engine_execute(engine, "default", "test", "teleport", "payments", NULL, NULL, &r);
	cr_assert_eq(r.status, 400);
	engine_result_release(&r);
	engine_execute(engine, "default", "test", "restart", "nobody", NULL, NULL, &r);
	cr_assert_eq(r.status, 404);
	engine_result_release(&r);
	engine_execute(engine, "default", "test", "restart", "payments", "by hand", NULL, &r);
	cr_assert_eq(r.status, 202);
	cr_assert_gt(json_integer_value(json_object_get(r.body, "action_id")), 0);
	engine_result_release(&r);
}

Test(engine, the_shipped_policies_load)
{
	char pdir[512];
	struct engine_result r = { 0 };
	json_t *list;

	repo_path(pdir, sizeof(pdir), "policies");
	start(pdir, true);
	engine_policy_list(engine, "default", &r);
	list = json_object_get(r.body, "policies");
	cr_assert_geq(json_array_size(list), 5);
	for (size_t i = 0; i < json_array_size(list); i++)
		cr_assert(!strncmp(json_string_value(json_object_get(json_array_get(list, i),
								     "origin")),
				   "file:", 5));
	engine_result_release(&r);
}

Test(engine, the_hourly_brake_holds_back_actions_past_the_limit)
{
	const char *allow[] = { "true" };
	struct executor_config xc;
	struct executor *x = NULL;
	struct engine_config c;
	struct store_action *a = NULL;
	struct engine_status st;
	size_t n, skipped = 0;

	executor_config_default(&xc);
	xc.store.dir = dir;
	xc.exec_allow = allow;
	xc.nexec_allow = 1;
	cr_assert_eq(executor_start(&x, &xc), 0);
	engine_config_default(&c);
	c.store.dir = dir;
	c.series = series;
	c.executor = x;
	c.max_actions_per_hour = 2;
	c.interval_ms = 3600 * 1000;
	cr_assert_eq(engine_start(&engine, &c), 0);
	feed("payments", 6, 100, 50, 20);
	for (int i = 0; i < 3; i++) {
		char body[256];

		snprintf(body, sizeof(body),
			 "{\"name\": \"p%d\", \"service\": \"payments\", \"condition\": "
			 "\"error_rate > 0.2\", \"actions\": [{\"type\": \"exec\", \"parameters\": "
			 "{\"command\": \"true\"}}]}",
			 i);
		create(body, 201);
	}
	/* a notification is no remedy: it goes out, brake or not, and does not count */
	create("{\"name\": \"tell\", \"service\": \"payments\", \"condition\": "
	       "\"error_rate > 0.2\", \"action\": \"alert\"}",
	       201);
	json_decref(evaluate());
	engine_get_status(engine, &st);
	cr_assert_eq(st.actions_executed, 3);
	cr_assert_eq(st.actions_last_hour, 2);
	for (int i = 0; i < 100; i++) { /* until the executor has run them all */
		size_t running = 0;

		n = stored_actions(&a);
		for (size_t k = 0; k < n; k++)
			running += a[k].status == STORE_ACTION_PENDING ||
				   a[k].status == STORE_ACTION_RUNNING;
		store_actions_free(a, n);
		if (!running)
			break;
		usleep(50 * 1000);
	}
	engine_stop(engine);
	engine = NULL;
	executor_stop(x);
	n = stored_actions(&a);
	cr_assert_eq(n, 4);
	for (size_t i = 0; i < n; i++)
		if (a[i].status == STORE_ACTION_SKIPPED) {
			skipped++;
			cr_assert(!strncmp(skipped_why(&a[i]), "hourly brake: 2 of 2", 20), "%s",
				  skipped_why(&a[i]));
		} else {
			cr_assert_eq(a[i].status, STORE_ACTION_SUCCEEDED, "%s: %s", a[i].policy_name,
				     store_action_status_name(a[i].status));
		}
	cr_assert_eq(skipped, 1);
	store_actions_free(a, n);

	/* the brake remembers the last hour across a restart */
	start(NULL, true);
	engine_get_status(engine, &st);
	cr_assert_eq(st.actions_last_hour, 2);
}

/* ---- events ---- */

/* An event read back from the bus: data owned. */
struct seen {
	enum bus_type type;
	enum store_severity severity;
	char service[SERVICE_NAME_MAX];
	json_t *data;
};

/* The events of @types (0: all) published so far, oldest first, into @out; how many. */
static size_t published(unsigned types, struct seen *out, size_t max)
{
	struct bus_filter f = { .tenant = "default", .types = types };
	struct bus_event *ev[16];
	int64_t after = 0, next = 0;
	size_t total = 0, n;

	do {
		cr_assert_eq(bus_read(bus, after, &f, ev, 16, &n, &next), 0);
		for (size_t i = 0; i < n; i++) {
			json_t *doc = json_loadb(ev[i]->json, ev[i]->json_len, 0, NULL);

			cr_assert(doc, "%s", ev[i]->json);
			cr_assert_lt(total, max, "more events than expected");
			out[total].type = ev[i]->type;
			out[total].severity = ev[i]->severity;
			snprintf(out[total].service, sizeof(out[total].service), "%s",
				 ev[i]->service);
			out[total].data = json_incref(json_object_get(doc, "data"));
			total++;
			json_decref(doc);
			bus_event_unref(ev[i]);
		}
		after = next;
	} while (n);
	return total;
}

static void seen_release(struct seen *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(v[i].data);
}

/* published(), after waiting (10 s at most) for @want of them. */
static size_t wait_published(unsigned types, size_t want, struct seen *out, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < 200; i++) {
		n = published(types, out, max);
		if (n >= want)
			break;
		seen_release(out, n);
		usleep(50 * 1000);
	}
	return n;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "(none)";
}

/* Asserts that @v is policy.changed: @change of @name by @actor, on @service. */
static void expect_change(const struct seen *v, const char *change, const char *name,
			  const char *actor, const char *service)
{
	cr_expect_eq(v->type, BUS_POLICY_CHANGED);
	cr_expect_eq(v->severity, STORE_SEVERITY_INFO);
	cr_expect_str_eq(jstr(v->data, "change"), change);
	cr_expect_str_eq(jstr(v->data, "name"), name);
	cr_expect_str_eq(jstr(v->data, "actor"), actor);
	cr_expect_gt(json_integer_value(json_object_get(v->data, "id")), 0);
	cr_expect_str_eq(v->service, service, "%s of %s", change, name);
}

#define ACTION_EVENTS (1u << BUS_ACTION_EXECUTED | 1u << BUS_ACTION_FAILED)

Test(engine, policy_changes_are_published_once_each_with_who_made_them)
{
	const char *patch = "{\"services\": [\"payments\", \"orders\"]}";
	struct engine_result r = { 0 };
	struct seen ev[8];
	int64_t id, star;
	size_t n;

	start(NULL, true);
	id = create(ERRORS_POLICY, 201);
	create(ERRORS_POLICY, 409);
	create("name: broken\nservice: payments\ncondition: error_rate >\naction: restart\n", 422);
	star = create("name: all\nservice: \"*\"\ncondition: error_rate > 0.5\naction: alert\n",
		      201);
	engine_policy_update(engine, "default", "ops-key", id, patch, strlen(patch), false, &r);
	cr_assert_eq(r.status, 200);
	engine_result_release(&r);
	engine_policy_delete(engine, "default", "test", id, &r);
	cr_assert_eq(r.status, 200);
	engine_result_release(&r);
	engine_policy_delete(engine, "default", "test", id, &r);
	cr_assert_eq(r.status, 404);
	engine_result_release(&r);

	n = published(0, ev, 8);
	cr_assert_eq(n, 4, "only what changed");
	expect_change(&ev[0], "created", "pay_errors", "test", "payments");
	cr_expect_eq(json_integer_value(json_object_get(ev[0].data, "id")), id);
	expect_change(&ev[1], "created", "all", "test", "");
	cr_expect_eq(json_integer_value(json_object_get(ev[1].data, "id")), star);
	expect_change(&ev[2], "updated", "pay_errors", "ops-key", "");
	expect_change(&ev[3], "deleted", "pay_errors", "test", "");
	cr_expect_eq(json_integer_value(json_object_get(ev[3].data, "id")), id);
	seen_release(ev, n);
}

Test(engine, policies_loaded_from_files_are_published_by_config_when_they_change)
{
	char pdir[128], path[160];
	struct seen ev[8];
	size_t n;

	snprintf(pdir, sizeof(pdir), "%s/policies", dir);
	cr_assert_eq(mkdir(pdir, 0700), 0);
	snprintf(path, sizeof(path), "%s/demo.yaml", pdir);
	write_file(path, "policies:\n"
			 "  - {name: a, service: payments, condition: error_rate > 0.5, action: restart}\n"
			 "  - {name: b, service: orders, condition: latency_p99 > 2s, action: restart}\n");
	start(pdir, true);
	n = published(0, ev, 8);
	cr_assert_eq(n, 2);
	expect_change(&ev[0], "created", "a", "config", "payments");
	expect_change(&ev[1], "created", "b", "config", "orders");
	seen_release(ev, n);

	restart(pdir);
	n = published(0, ev, 8);
	cr_expect_eq(n, 2, "an unchanged file changes nothing");
	seen_release(ev, n);

	write_file(path, "policies:\n"
			 "  - {name: a, service: payments, condition: error_rate > 0.4, action: restart}\n"
			 "  - {name: b, service: orders, condition: latency_p99 > 2s, action: restart}\n");
	restart(pdir);
	n = published(0, ev, 8);
	cr_assert_eq(n, 3);
	expect_change(&ev[2], "updated", "a", "config", "payments");
	seen_release(ev, n);
}

Test(engine, a_manual_action_without_an_executor_is_published_failed)
{
	struct engine_result r = { 0 };
	struct seen ev[4];
	int64_t id;
	json_t *d;
	size_t n;

	start(NULL, true);
	feed("payments", 3, 10, 0, 5);
	engine_execute(engine, "default", "test", "restart", "payments", "by hand", NULL, &r);
	cr_assert_eq(r.status, 202);
	id = json_integer_value(json_object_get(r.body, "action_id"));
	engine_result_release(&r);

	n = published(ACTION_EVENTS, ev, 4);
	cr_assert_eq(n, 1);
	d = ev[0].data;
	cr_expect_eq(ev[0].type, BUS_ACTION_FAILED);
	cr_expect_eq(ev[0].severity, STORE_SEVERITY_WARNING);
	cr_expect_str_eq(ev[0].service, "payments");
	cr_expect_eq(json_integer_value(json_object_get(d, "action_id")), id);
	cr_expect_str_eq(jstr(d, "policy_name"), "");
	cr_expect(json_is_true(json_object_get(d, "manual")));
	cr_expect_str_eq(jstr(d, "service"), "payments");
	cr_expect_str_eq(jstr(d, "action"), "restart");
	cr_expect(json_is_object(json_object_get(d, "parameters")));
	cr_expect_str_eq(jstr(d, "reason"), "by hand");
	cr_expect_str_eq(jstr(d, "status"), "failed");
	cr_expect(json_is_string(json_object_get(d, "created_at")));
	cr_expect(json_is_string(json_object_get(d, "completed_at")));
	cr_expect_str_eq(jstr(json_object_get(d, "result"), "error"), "no executor is running");
	seen_release(ev, n);
}

/* A manual exec of @command; its action id. */
static int64_t exec_now(const char *command)
{
	struct engine_result r = { 0 };
	json_t *params = json_pack("{s:s}", "command", command);
	int64_t id;

	engine_execute(engine, "default", "test", "exec", "payments", NULL, params, &r);
	json_decref(params);
	cr_assert_eq(r.status, 202, "%s", json_dumps(r.body, 0));
	cr_assert_str_eq(jstr(r.body, "status"), "pending");
	id = json_integer_value(json_object_get(r.body, "action_id"));
	engine_result_release(&r);
	return id;
}

/* The event of action @id among @v. */
static const struct seen *of_action(const struct seen *v, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (json_integer_value(json_object_get(v[i].data, "action_id")) == id)
			return &v[i];
	cr_assert_fail("no event of action %lld", (long long)id);
	return NULL;
}

Test(engine, actions_that_end_are_published_executed_or_failed_and_skips_are_not, .timeout = 60)
{
	const char *allow[] = { "true", "false", "sleep 5" };
	struct executor_config xc;
	struct seen ev[8];
	const struct seen *e;
	int64_t ok, bad, slow;
	size_t n;

	executor_config_default(&xc);
	xc.store.dir = dir;
	xc.exec_allow = allow;
	xc.nexec_allow = 3;
	xc.exec_timeout_ms = 300;
	xc.bus = bus;
	cr_assert_eq(executor_start(&executor, &xc), 0);
	start(NULL, true);
	feed("payments", 6, 100, 50, 20);

	ok = exec_now("true");
	bad = exec_now("false");
	slow = exec_now("sleep 5");
	n = wait_published(ACTION_EVENTS, 3, ev, 8);
	cr_assert_eq(n, 3);

	e = of_action(ev, n, ok);
	cr_expect_eq(e->type, BUS_ACTION_EXECUTED);
	cr_expect_eq(e->severity, STORE_SEVERITY_INFO);
	cr_expect_str_eq(e->service, "payments");
	cr_expect_str_eq(jstr(e->data, "status"), "succeeded");
	cr_expect_str_eq(jstr(e->data, "action"), "exec");
	cr_expect_str_eq(jstr(json_object_get(e->data, "parameters"), "command"), "true");
	cr_expect_str_eq(jstr(e->data, "reason"), "manual");
	cr_expect(json_is_true(json_object_get(e->data, "manual")));
	cr_expect(json_is_string(json_object_get(e->data, "started_at")));
	cr_expect(json_is_string(json_object_get(e->data, "completed_at")));
	cr_expect_eq(json_integer_value(
			     json_object_get(json_object_get(e->data, "result"), "exit_code")),
		     0);
	cr_expect_null(json_object_get(e->data, "logs"), "the logs stay in GET /actions");

	e = of_action(ev, n, bad);
	cr_expect_eq(e->type, BUS_ACTION_FAILED);
	cr_expect_eq(e->severity, STORE_SEVERITY_WARNING);
	cr_expect_str_eq(jstr(e->data, "status"), "failed");
	cr_expect_eq(json_integer_value(
			     json_object_get(json_object_get(e->data, "result"), "exit_code")),
		     1);

	e = of_action(ev, n, slow);
	cr_expect_eq(e->type, BUS_ACTION_FAILED);
	cr_expect_str_eq(jstr(e->data, "status"), "timed_out");
	seen_release(ev, n);

	/* a policy's decision run: published with its policy; a dry run's skip: not at all */
	create("{\"name\": \"pay_exec\", \"service\": \"payments\", \"condition\": "
	       "\"error_rate > 0.2\", \"actions\": [{\"type\": \"exec\", \"parameters\": "
	       "{\"command\": \"true\"}}]}",
	       201);
	create("{\"name\": \"pay_dry\", \"service\": \"payments\", \"dry_run\": true, "
	       "\"condition\": \"error_rate > 0.2\", \"action\": \"restart\"}",
	       201);
	json_decref(evaluate());
	n = wait_published(ACTION_EVENTS, 4, ev, 8);
	cr_assert_eq(n, 4);
	cr_expect_eq(ev[3].type, BUS_ACTION_EXECUTED);
	cr_expect_str_eq(jstr(ev[3].data, "policy_name"), "pay_exec");
	cr_expect(json_is_false(json_object_get(ev[3].data, "manual")));
	seen_release(ev, n);
	usleep(200 * 1000);
	n = published(ACTION_EVENTS, ev, 8);
	cr_expect_eq(n, 4, "the skipped restart of pay_dry is no event");
	seen_release(ev, n);
}
