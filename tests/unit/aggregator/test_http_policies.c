/*
 * The policy engine's routes end to end: a real API on 127.0.0.1 (an
 * ephemeral port) in front of a real policy engine over a temporary store
 * and an in-memory series, called over HTTP with libcurl. Policies created
 * from JSON and YAML read back alike; every refusal with its status, code
 * and, for a document that breaks a rule, the line, column and field that
 * policy_doc_parse() gives for the same bytes; partial updates; dry runs
 * against given and live facts; /toggle, /evaluate and /status; and 503 on
 * every route when no engine runs.
 *
 * The engine's thread is slowed to once an hour so that only POST
 * /evaluate decides anything while a test runs.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/policy/policy_doc.h"
#include "common/timeutil.h"
#include "tests/lib/api_client.h"
#include "tests/lib/api_fixture.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/series_feed.h"

TestSuite(http_policies, .fini = test_no_leaks);

static struct api_fixture fx;

/* ---- fixture ---- */

static void setup(void)
{
	api_fixture_start(&fx, "http-policies", API_FIXTURE_ENGINE);
}

static void setup_no_engine(void)
{
	api_fixture_start(&fx, "http-policies", 0);
}

static void teardown(void)
{
	api_fixture_stop(&fx);
	test_no_leaks();
}

/* @seconds one-second windows of @service ending now, @requests a second each. */
static void add_windows(const char *service, int seconds, uint64_t requests)
{
	series_feed(fx.series, service, seconds, (int64_t)(time_real_ns() / NSEC_PER_SEC),
		    series_feed_http,
		    &(struct series_feed_http){ .route = "/orders",
						.requests = requests,
						.latency_ns = 10 * NSEC_PER_MSEC });
}

/* ---- calling it ---- */

/*
 * @method @path with @body (NULL: none) sent as @ctype (NULL:
 * application/json, "": no Content-Type), expecting @status and a JSON
 * object; the document (caller decrefs).
 */
static json_t *expect(long status, const char *method, const char *path, const char *body,
		      const char *ctype)
{
	return api_client_expect(api_fixture_port(&fx), status, method, path, body, ctype);
}

static json_t *get_ok(const char *path)
{
	return expect(200, "GET", path, NULL, NULL);
}

/*
 * Expects the envelope of @status and @code; returns its error object's
 * document (caller decrefs) for more checks.
 */
static json_t *expect_error_ct(const char *method, const char *path, const char *body,
			       const char *ctype, long status, const char *code)
{
	struct api_answer a = api_client_expect_error(api_fixture_port(&fx), method, path, body,
						      ctype, status, code);

	return a.doc;
}

static void expect_error(const char *method, const char *path, const char *body, long status,
			 const char *code)
{
	json_decref(expect_error_ct(method, path, body, NULL, status, code));
}

/* POST /policies with @body as @ctype, expecting 201; returns the id. */
static int64_t create(const char *body, const char *ctype)
{
	json_t *d = expect(201, "POST", "/policies", body, ctype);
	int64_t id = jget_int(d, "id");

	cr_assert_str_eq(jget_str(d, "status"), "created");
	cr_assert(json_is_object(json_object_get(d, "policy")));
	cr_assert_eq(jget_int(json_object_get(d, "policy"), "id"), id);
	cr_assert_gt(id, 0);
	json_decref(d);
	return id;
}

static json_t *get_policy(int64_t id)
{
	char path[64];

	snprintf(path, sizeof(path), "/policies/%lld", (long long)id);
	return get_ok(path);
}

/* The policy object without what differs between two equal policies: id, name, times. */
static json_t *comparable(json_t *p)
{
	json_t *c = json_deep_copy(p);

	json_object_del(c, "id");
	json_object_del(c, "name");
	json_object_del(c, "created_at");
	json_object_del(c, "updated_at");
	return c;
}

static const char policy_json[] =
	"{\"name\":\"payments_high_error_rate\",\"service\":\"payments\","
	"\"condition\":\"error_rate > 0.2 and latency_p99 > 500\",\"for\":\"10s\","
	"\"actions\":[{\"type\":\"circuit_breaker\",\"parameters\":{\"state\":\"open\","
	"\"duration\":\"60s\"}},{\"type\":\"alert\",\"parameters\":{\"channel\":\"webhook\","
	"\"severity\":\"critical\",\"message\":\"{service} failing: {reason}\"}}],"
	"\"cooldown\":\"5m\",\"enabled\":true,\"dry_run\":false,"
	"\"description\":\"open the breaker when payments fail\"}";

/* The same policy as YAML, under another name. */
static const char policy_yaml[] =
	"# as an operator writes it\n"
	"name: payments_high_error_rate_yaml\n"
	"service: payments\n"
	"condition: \"error_rate > 0.2 and latency_p99 > 500\"\n"
	"for: 10s\n"
	"actions:\n"
	"  - type: circuit_breaker\n"
	"    parameters: {state: open, duration: 60s}\n"
	"  - type: alert\n"
	"    parameters: {channel: webhook, severity: critical, message: \"{service} failing: "
	"{reason}\"}\n"
	"cooldown: 5m\n"
	"enabled: true\n"
	"dry_run: false\n"
	"description: open the breaker when payments fail\n";

/* ---- create, read ---- */

Test(http_policies, a_json_policy_reads_back_as_created, .init = setup, .fini = teardown)
{
	json_t *d = expect(201, "POST", "/policies", policy_json, NULL), *p, *got, *list, *acts;
	int64_t id = jget_int(d, "id");

	p = json_object_get(d, "policy");
	cr_assert_str_eq(jget_str(d, "status"), "created");
	cr_assert_str_eq(jget_str(p, "name"), "payments_high_error_rate");
	cr_assert_str_eq(jget_str(p, "service"), "payments");
	cr_assert_eq(json_array_size(json_object_get(p, "services")), 1);
	cr_assert_str_eq(jget_str(p, "condition"), "error_rate > 0.2 and latency_p99 > 500");
	cr_assert_float_eq(jget_num(p, "for"), 10, 1e-9);
	cr_assert_float_eq(jget_num(p, "cooldown"), 300, 1e-9);
	cr_assert(json_is_true(json_object_get(p, "enabled")));
	cr_assert(json_is_false(json_object_get(p, "dry_run")));
	cr_assert_str_eq(jget_str(p, "description"), "open the breaker when payments fail");
	acts = json_object_get(p, "actions");
	cr_assert_eq(json_array_size(acts), 2);
	cr_assert_str_eq(jget_str(json_array_get(acts, 0), "type"), "circuit_breaker");
	cr_assert_float_eq(
		jget_num(json_object_get(json_array_get(acts, 0), "parameters"), "duration"), 60,
		1e-9);
	cr_assert_str_eq(jget_str(json_array_get(acts, 1), "type"), "alert");
	cr_assert_str_eq(jget_str(p, "origin"), "api");
	cr_assert(json_object_get(p, "created_at") && json_object_get(p, "updated_at"));

	got = get_policy(id);
	cr_assert(json_equal(got, p), "GET /policies/{id} is the policy POST answered");
	json_decref(got);

	list = get_ok("/policies");
	cr_assert_eq(jget_int(list, "count"), 1);
	cr_assert_eq(json_array_size(json_object_get(list, "policies")), 1);
	cr_assert(json_equal(json_array_get(json_object_get(list, "policies"), 0), p));
	json_decref(list);
	json_decref(d);
}

Test(http_policies, yaml_and_json_give_the_same_policy, .init = setup, .fini = teardown)
{
	static const char *const yaml_types[] = { "application/yaml", "application/x-yaml",
						  "text/yaml; charset=utf-8" };
	int64_t json_id = create(policy_json, NULL), yaml_id;
	json_t *pj = get_policy(json_id), *cj = comparable(pj);

	for (size_t i = 0; i < sizeof(yaml_types) / sizeof(yaml_types[0]); i++) {
		char body[2048];
		json_t *py, *cy;

		/* a name of its own each time: names are unique */
		snprintf(body, sizeof(body), "%s", policy_yaml);
		memcpy(strstr(body, "_yaml\n"), i == 0 ? "_yam0" : i == 1 ? "_yam1" : "_yam2", 5);
		yaml_id = create(body, yaml_types[i]);
		py = get_policy(yaml_id);
		cy = comparable(py);
		cr_assert(json_equal(cj, cy), "%s: %s vs %s", yaml_types[i],
			  json_dumps(cj, JSON_SORT_KEYS), json_dumps(cy, JSON_SORT_KEYS));
		cr_assert_str_eq(jget_str(py, "name"), i == 0	? "payments_high_error_rate_yam0"
						       : i == 1 ? "payments_high_error_rate_yam1"
								: "payments_high_error_rate_yam2");
		json_decref(cy);
		json_decref(py);
	}
	json_decref(cj);
	json_decref(pj);
}

Test(http_policies, a_body_without_content_type_is_read_by_its_first_character, .init = setup,
     .fini = teardown)
{
	json_t *p;
	int64_t a = create("{\"name\":\"a\",\"service\":\"x\",\"condition\":\"anomaly\","
			   "\"action\":\"restart\"}",
			   "");
	int64_t b = create("name: b\nservice: x\ncondition: anomaly\naction: restart\n", "");

	p = get_policy(a);
	cr_assert_str_eq(jget_str(json_array_get(json_object_get(p, "actions"), 0), "type"),
			 "restart");
	json_decref(p);
	p = get_policy(b);
	cr_assert_str_eq(jget_str(p, "name"), "b");
	json_decref(p);
	/* the earlier platform's form: "policies:" with exactly one */
	create("policies:\n  - name: c\n    services: [\"*\"]\n    condition: anomaly\n"
	       "    action: scale_up\n",
	       "application/yaml");
	p = get_ok("/policies");
	cr_assert_eq(jget_int(p, "count"), 3);
	json_decref(p);
}

/* ---- refusals ---- */

struct bad_doc {
	const char *what;
	const char *body;
	const char *ctype;
	const char *field;   /* a part of the field the error names; NULL: not checked */
	const char *message; /* a part of the message; NULL: not checked */
};

Test(http_policies, a_policy_that_breaks_a_rule_is_422_with_its_position, .init = setup,
     .fini = teardown)
{
	static const struct bad_doc bad[] = {
		{ "yaml syntax", "name: x\nservice: [payments\ncondition: anomaly\n",
		  "application/yaml", NULL, "invalid YAML" },
		{ "unknown key", "name: x\nservice: payments\ncondition: anomaly\naction: restart\n"
				 "colour: red\n",
		  "application/yaml", NULL, "'colour'" },
		{ "bad condition", "name: x\nservice: payments\ncondition: error_rate > \naction: "
				   "restart\n",
		  "application/yaml", "condition", NULL },
		{ "unknown metric", "name: x\nservice: payments\ncondition: \"bogus > 1\"\n"
				    "action: restart\n",
		  "application/yaml", "condition", "'bogus'" },
		{ "unknown action type", "name: x\nservice: payments\ncondition: anomaly\n"
					 "action: explode\n",
		  "application/yaml", "action", "'explode'" },
		{ "negative cooldown", "name: x\nservice: payments\ncondition: anomaly\n"
				       "action: restart\ncooldown: -5\n",
		  "application/yaml", "cooldown", NULL },
		{ "bad parameter", "name: x\nservice: payments\ncondition: anomaly\nactions:\n"
				   "  - type: rate_limit\n    parameters: {limit: 0}\n",
		  "application/yaml", "limit", NULL },
		{ "missing condition", "{\"name\":\"x\",\"service\":\"p\",\"action\":\"restart\"}",
		  NULL, NULL, "condition" },
		{ "json condition", "{\"name\":\"x\",\"service\":\"p\",\n\"condition\":\"latency_p99 "
				    ">> 5\",\"action\":\"restart\"}",
		  NULL, "condition", NULL },
		{ "two policies", "policies:\n  - {name: a, service: p, condition: anomaly, action: "
				  "restart}\n  - {name: b, service: p, condition: anomaly, action: "
				  "restart}\n",
		  "application/yaml", "policies", NULL },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *doc = expect_error_ct("POST", "/policies", bad[i].body, bad[i].ctype, 422,
					      "invalid_policy");
		json_t *err = json_object_get(doc, "error");
		struct policy_doc *pd = NULL;
		struct policy_error perr;

		cr_assert(json_is_integer(json_object_get(err, "line")), "%s: line", bad[i].what);
		cr_assert(json_is_integer(json_object_get(err, "column")), "%s: column",
			  bad[i].what);
		cr_assert(json_is_string(json_object_get(err, "field")), "%s: field",
			  bad[i].what);
		cr_assert_gt(jget_int(err, "line"), 0, "%s", bad[i].what);
		cr_assert_gt(jget_int(err, "column"), 0, "%s", bad[i].what);
		if (bad[i].field)
			cr_assert_not_null(strstr(jget_str(err, "field"), bad[i].field),
					   "%s: field '%s'", bad[i].what, jget_str(err, "field"));
		if (bad[i].message)
			cr_assert_not_null(strstr(jget_str(err, "message"), bad[i].message),
					   "%s: message '%s'", bad[i].what,
					   jget_str(err, "message"));
		/* the position is the parser's, for the bytes as sent */
		if (policy_doc_parse(bad[i].body, strlen(bad[i].body), &pd, &perr) == 0) {
			cr_assert_eq(pd->n, 2, "%s: only the two-policy document parses", bad[i].what);
			policy_doc_free(pd);
		} else {
			cr_assert_eq(jget_int(err, "line"), perr.line, "%s", bad[i].what);
			cr_assert_eq(jget_int(err, "column"), perr.column, "%s", bad[i].what);
			cr_assert_str_eq(jget_str(err, "field"), perr.field, "%s", bad[i].what);
		}
		json_decref(doc);
	}
	/* the condition's column is where in the document the text went wrong */
	{
		json_t *doc = expect_error_ct("POST", "/policies",
					      "name: x\nservice: p\ncondition: error_rate > \n"
					      "action: restart\n",
					      "application/yaml", 422, "invalid_policy");
		json_t *err = json_object_get(doc, "error");

		cr_assert_eq(jget_int(err, "line"), 3);
		cr_assert_gt(jget_int(err, "column"), (json_int_t)strlen("condition: "),
			     "past the start of the value: %lld",
			     (long long)jget_int(err, "column"));
		json_decref(doc);
	}
	/* nothing refused was kept */
	{
		json_t *list = get_ok("/policies");

		cr_assert_eq(jget_int(list, "count"), 0);
		json_decref(list);
	}
}

Test(http_policies, other_refusals, .init = setup, .fini = teardown)
{
	static const char small[] = "name: a\nservice: p\ncondition: anomaly\naction: restart\n";
	int64_t id = create(small, "application/yaml");
	char path[64], *huge;
	size_t n = POLICY_DOC_MAX_BYTES + 1024;
	json_t *d;

	/* the name is the tenant's */
	expect_error("POST", "/policies", "{\"name\":\"a\",\"service\":\"q\",\"condition\":"
					  "\"anomaly\",\"action\":\"alert\"}",
		     409, "conflict");
	json_decref(expect_error_ct("POST", "/policies", small, "application/yaml", 409,
				    "conflict"));
	/* media types that are not a policy */
	json_decref(expect_error_ct("POST", "/policies", small, "text/plain", 415,
				    "unsupported_media_type"));
	json_decref(expect_error_ct("POST", "/policies", small,
				    "application/x-www-form-urlencoded", 415,
				    "unsupported_media_type"));
	snprintf(path, sizeof(path), "/policies/%lld", (long long)id);
	json_decref(expect_error_ct("PUT", path, "{\"cooldown\":60}", "text/csv", 415,
				    "unsupported_media_type"));
	/* no body */
	expect_error("POST", "/policies", NULL, 400, "bad_request");
	expect_error("PUT", path, NULL, 400, "bad_request");
	/* past the route's 256 KiB, refused before any parsing */
	huge = malloc(n + 1);
	cr_assert_not_null(huge);
	memset(huge, '#', n);
	memcpy(huge, small, strlen(small));
	huge[strlen(small)] = '\n';
	huge[n] = '\0';
	json_decref(expect_error_ct("POST", "/policies", huge, "application/yaml", 413,
				    "payload_too_large"));
	json_decref(expect_error_ct("PUT", path, huge, "application/yaml", 413,
				    "payload_too_large"));
	/* ... while a large one under it is read (past the 4 KiB of the small routes) */
	huge[POLICY_DOC_MAX_BYTES / 2] = '\0';
	memcpy(huge, "name: b", 7);
	d = expect(201, "POST", "/policies", huge, "application/yaml");
	json_decref(d);
	free(huge);
	d = get_ok("/policies");
	cr_assert_eq(jget_int(d, "count"), 2);
	json_decref(d);
}

Test(http_policies, ids_are_positive_numbers, .init = setup, .fini = teardown)
{
	static const char *const methods[] = { "GET", "PUT", "DELETE" };
	static const char body[] = "{\"cooldown\":60}";

	create("name: a\nservice: p\ncondition: anomaly\naction: restart\n", "text/yaml");
	for (size_t i = 0; i < 3; i++) {
		const char *b = strcmp(methods[i], "PUT") ? NULL : body;

		expect_error(methods[i], "/policies/999", b, 404, "not_found");
		expect_error(methods[i], "/policies/0", b, 404, "not_found");
		expect_error(methods[i], "/policies/-3", b, 404, "not_found");
		expect_error(methods[i], "/policies/99999999999999999999999", b, 404, "not_found");
		expect_error(methods[i], "/policies/abc", b, 400, "bad_request");
		expect_error(methods[i], "/policies/1x", b, 400, "bad_request");
		expect_error(methods[i], "/policies/1.0", b, 400, "bad_request");
	}
	expect_error("POST", "/policies/999/test", NULL, 404, "not_found");
	expect_error("POST", "/policies/x/test", NULL, 400, "bad_request");
	expect_error("PATCH", "/policies/1", body, 405, "method_not_allowed");
}

/* ---- update, delete ---- */

Test(http_policies, a_partial_json_update_keeps_the_other_fields, .init = setup,
     .fini = teardown)
{
	int64_t id = create(policy_json, NULL);
	json_t *before = get_policy(id), *d, *p, *after;
	char path[64];

	snprintf(path, sizeof(path), "/policies/%lld", (long long)id);
	d = expect(200, "PUT", path, "{\"cooldown\":\"10m\",\"enabled\":false}", NULL);
	cr_assert_eq(jget_int(d, "id"), id);
	cr_assert_str_eq(jget_str(d, "status"), "updated");
	p = json_object_get(d, "policy");
	cr_assert_float_eq(jget_num(p, "cooldown"), 600, 1e-9);
	cr_assert(json_is_false(json_object_get(p, "enabled")));
	/* everything else as it was */
	json_object_set(before, "cooldown", json_object_get(p, "cooldown"));
	json_object_set(before, "enabled", json_object_get(p, "enabled"));
	json_object_set(before, "updated_at", json_object_get(p, "updated_at"));
	cr_assert(json_equal(before, p), "%s vs %s", json_dumps(before, JSON_SORT_KEYS),
		  json_dumps(p, JSON_SORT_KEYS));
	after = get_policy(id);
	cr_assert(json_equal(after, p), "GET sees the update");
	json_decref(after);
	json_decref(d);

	/* one spelling of the services replaces the other */
	d = expect(200, "PUT", path, "{\"services\":[\"orders\",\"users\"]}", NULL);
	p = json_object_get(d, "policy");
	cr_assert_eq(json_array_size(json_object_get(p, "services")), 2);
	cr_assert_null(json_object_get(p, "service"));
	json_decref(d);

	/* a YAML body is the whole policy: what it leaves out takes its default */
	d = expect(200, "PUT", path,
		   "name: payments_high_error_rate\nservice: payments\ncondition: anomaly\n"
		   "action: restart\n",
		   "application/yaml");
	p = json_object_get(d, "policy");
	cr_assert_str_eq(jget_str(p, "condition"), "anomaly");
	cr_assert_float_eq(jget_num(p, "cooldown"), 300, 1e-9);
	cr_assert(json_is_true(json_object_get(p, "enabled")));
	cr_assert_null(json_object_get(p, "description"));
	cr_assert_eq(json_array_size(json_object_get(p, "actions")), 1);
	json_decref(d);

	/* refused updates change nothing */
	{
		json_t *doc = expect_error_ct("PUT", path, "{\"cooldown\":-1}", NULL, 422,
					      "invalid_policy");

		cr_assert_not_null(
			strstr(jget_str(json_object_get(doc, "error"), "field"), "cooldown"));
		json_decref(doc);
	}
	json_decref(expect_error_ct("PUT", path, "{\"condition\":\"error_rate >\"}", NULL, 422,
				    "invalid_policy"));
	json_decref(expect_error_ct("PUT", path, "{\"colour\":\"red\"}", NULL, 422,
				    "invalid_policy"));
	json_decref(expect_error_ct("PUT", path, "name: x\nservice: [\n", "application/yaml", 422,
				    "invalid_policy"));
	expect_error("PUT", path, "{\"cooldown\":", 400, "invalid_json");
	expect_error("PUT", path, "[1]", 400, "invalid_json");
	create("name: other\nservice: p\ncondition: anomaly\naction: restart\n", "text/yaml");
	expect_error("PUT", path, "{\"name\":\"other\"}", 409, "conflict");
	after = get_policy(id);
	cr_assert_str_eq(jget_str(after, "name"), "payments_high_error_rate");
	cr_assert_str_eq(jget_str(after, "condition"), "anomaly");
	json_decref(after);
	json_decref(before);
}

Test(http_policies, a_deleted_policy_is_gone, .init = setup, .fini = teardown)
{
	int64_t a = create("name: a\nservice: p\ncondition: anomaly\naction: restart\n",
			   "application/yaml");
	int64_t b = create("name: b\nservice: p\ncondition: anomaly\naction: restart\n",
			   "application/yaml");
	char path[64];
	json_t *d;

	snprintf(path, sizeof(path), "/policies/%lld", (long long)a);
	d = expect(200, "DELETE", path, NULL, NULL);
	cr_assert_eq(jget_int(d, "id"), a);
	cr_assert_str_eq(jget_str(d, "status"), "deleted");
	json_decref(d);
	expect_error("GET", path, NULL, 404, "not_found");
	expect_error("DELETE", path, NULL, 404, "not_found");
	expect_error("PUT", path, "{\"cooldown\":1}", 404, "not_found");
	d = get_ok("/policies");
	cr_assert_eq(jget_int(d, "count"), 1);
	cr_assert_eq(jget_int(json_array_get(json_object_get(d, "policies"), 0), "id"), b);
	json_decref(d);
	/* its name is free again */
	create("name: a\nservice: p\ncondition: anomaly\naction: alert\n", "application/yaml");
}

/* ---- dry runs ---- */

/* POST /policies/@id/test with @body, expecting 200. */
static json_t *test_policy(int64_t id, const char *body)
{
	char path[64];

	snprintf(path, sizeof(path), "/policies/%lld/test", (long long)id);
	return expect(200, "POST", path, body, NULL);
}

/* The matched_conditions of @d are exactly @want (NULL-terminated), in order. */
static void expect_matched(const json_t *d, const char *const *want)
{
	const json_t *m = json_object_get(d, "matched_conditions");
	size_t k = 0;

	cr_assert(json_is_array(m));
	for (; want[k]; k++) {
		cr_assert_lt(k, json_array_size(m), "matched: fewer than expected");
		cr_assert_str_eq(json_string_value(json_array_get(m, k)), want[k]);
	}
	cr_assert_eq(json_array_size(m), k, "matched: %zu, want %zu", json_array_size(m), k);
}

Test(http_policies, a_dry_run_against_given_metrics, .init = setup, .fini = teardown)
{
	int64_t id = create(policy_json, NULL);
	char path[64];
	json_t *d, *todo;

	d = test_policy(id, "{\"service\":\"payments\",\"metrics\":{\"error_rate\":0.3,"
			    "\"latency_p99\":900}}");
	cr_assert(json_is_true(json_object_get(d, "would_trigger")));
	expect_matched(d, (const char *const[]){ "error_rate > 0.2", "latency_p99 > 500", NULL });
	todo = json_object_get(d, "actions_to_execute");
	cr_assert_eq(json_array_size(todo), 2);
	cr_assert_str_eq(jget_str(json_array_get(todo, 0), "type"), "circuit_breaker");
	cr_assert(json_is_object(json_object_get(json_array_get(todo, 0), "parameters")));
	json_decref(d);

	/* one atom holds, the whole does not */
	d = test_policy(id, "{\"metrics\":{\"error_rate\":0.1,\"latency_p99\":900}}");
	cr_assert(json_is_false(json_object_get(d, "would_trigger")));
	expect_matched(d, (const char *const[]){ "latency_p99 > 500", NULL });
	cr_assert_eq(json_array_size(json_object_get(d, "actions_to_execute")), 0);
	json_decref(d);

	/* a metric not given is unknown: no comparison with it holds */
	d = test_policy(id, "{\"metrics\":{\"error_rate\":0.5}}");
	cr_assert(json_is_false(json_object_get(d, "would_trigger")));
	expect_matched(d, (const char *const[]){ "error_rate > 0.2", NULL });
	json_decref(d);

	snprintf(path, sizeof(path), "/policies/%lld/test", (long long)id);
	{
		json_t *doc = expect_error_ct("POST", path, "{\"metrics\":{\"cpu\":1}}", NULL, 400,
					      "bad_request");

		cr_assert_not_null(
			strstr(jget_str(json_object_get(doc, "error"), "message"), "'cpu'"),
			"the message names the metric");
		json_decref(doc);
	}
	expect_error("POST", path, "{\"metrics\":{\"error_rate\":\"high\"}}", 400, "bad_request");
	expect_error("POST", path, "{\"metrics\":[0.3]}", 400, "bad_request");
	expect_error("POST", path, "{\"anomalies\":[\"cpu\"]}", 400, "bad_request");
	expect_error("POST", path, "{\"anomalies\":\"latency_p99\"}", 400, "bad_request");
	expect_error("POST", path, "{\"severity\":\"dire\"}", 400, "bad_request");
	expect_error("POST", path, "{\"predicted_breach\":-1}", 400, "bad_request");
	expect_error("POST", path, "{\"metrics\":{},\"colour\":1}", 400, "bad_request");
	expect_error("POST", path, "{\"metrics\":", 400, "invalid_json");
	json_decref(expect_error_ct("POST", path, "metrics: {}", "application/yaml", 415,
				    "unsupported_media_type"));
}

Test(http_policies, a_dry_run_against_given_anomalies_severity_and_breach, .init = setup,
     .fini = teardown)
{
	int64_t id = create("{\"name\":\"n\",\"service\":\"orders\",\"condition\":"
			    "\"(anomaly(latency_p99) and severity >= warning) or "
			    "predicted_breach < 5m\",\"action\":\"restart\"}",
			    NULL);
	json_t *d;

	d = test_policy(id, "{\"anomalies\":[\"latency_p99\"],\"severity\":\"critical\"}");
	cr_assert(json_is_true(json_object_get(d, "would_trigger")));
	expect_matched(d, (const char *const[]){ "anomaly(latency_p99)", "severity >= warning",
						 NULL });
	json_decref(d);
	/* an alias of the old platform */
	d = test_policy(id, "{\"anomalies\":[\"latency_p99\"],\"severity\":\"low\"}");
	cr_assert(json_is_false(json_object_get(d, "would_trigger")));
	json_decref(d);
	d = test_policy(id, "{\"predicted_breach\":120}");
	cr_assert(json_is_true(json_object_get(d, "would_trigger")));
	expect_matched(d, (const char *const[]){ "predicted_breach < 300", NULL });
	json_decref(d);
	d = test_policy(id, "{\"predicted_breach\":\"10m\"}");
	cr_assert(json_is_false(json_object_get(d, "would_trigger")));
	json_decref(d);
}

Test(http_policies, a_dry_run_against_the_live_facts, .init = setup, .fini = teardown)
{
	int64_t id = create("{\"name\":\"busy\",\"services\":[\"*\"],\"condition\":"
			    "\"request_rate > 10\",\"action\":\"alert\"}",
			    NULL);
	char path[64];
	json_t *d, *svcs;

	add_windows("orders", 30, 50);
	/* no body, {}, or only a service: the live facts */
	d = test_policy(id, NULL);
	cr_assert(json_is_true(json_object_get(d, "would_trigger")));
	expect_matched(d, (const char *const[]){ "request_rate > 10", NULL });
	svcs = json_object_get(d, "services");
	cr_assert_eq(json_array_size(svcs), 1);
	cr_assert_str_eq(jget_str(json_array_get(svcs, 0), "service"), "orders");
	cr_assert_eq(json_array_size(json_object_get(d, "actions_to_execute")), 1);
	json_decref(d);
	d = test_policy(id, "{\"service\":\"orders\"}");
	cr_assert(json_is_true(json_object_get(d, "would_trigger")));
	json_decref(d);
	/* given facts win over the live ones */
	d = test_policy(id, "{\"service\":\"orders\",\"metrics\":{\"request_rate\":1}}");
	cr_assert(json_is_false(json_object_get(d, "would_trigger")));
	json_decref(d);
	snprintf(path, sizeof(path), "/policies/%lld/test", (long long)id);
	expect_error("POST", path, "{\"service\":\"nope\"}", 400, "bad_request");
	/* nothing was recorded */
	d = get_ok("/actions");
	cr_assert_eq(jget_int(d, "count"), 0);
	json_decref(d);
}

/* ---- evaluation and control ---- */

static bool toggle(const char *body)
{
	json_t *d = expect(200, "POST", "/toggle", body, NULL);
	bool on = json_is_true(json_object_get(d, "auto_remediation_enabled"));

	cr_assert(json_is_boolean(json_object_get(d, "auto_remediation_enabled")));
	json_decref(d);
	return on;
}

static bool status_enabled(void)
{
	json_t *d = get_ok("/status");
	bool on = json_is_true(json_object_get(d, "auto_remediation_enabled"));

	json_decref(d);
	return on;
}

Test(http_policies, toggle_flips_and_sets, .init = setup, .fini = teardown)
{
	cr_assert(status_enabled(), "on by default");
	cr_assert_not(toggle(NULL), "no body flips");
	cr_assert_not(status_enabled());
	cr_assert(toggle("{}"), "{} flips");
	cr_assert(toggle("{\"enabled\":true}"), "sets, even to what it is");
	cr_assert(status_enabled());
	cr_assert_not(toggle("{\"enabled\":false}"));
	cr_assert_not(toggle("{\"enabled\":false}"));
	cr_assert_not(status_enabled());
	expect_error("POST", "/toggle", "{\"enabled\":\"yes\"}", 400, "bad_request");
	expect_error("POST", "/toggle", "{\"on\":true}", 400, "bad_request");
	expect_error("POST", "/toggle", "[true]", 400, "invalid_json");
	json_decref(expect_error_ct("POST", "/toggle", "enabled: true", "application/yaml", 415,
				    "unsupported_media_type"));
	cr_assert_not(status_enabled(), "refusals change nothing");
}

Test(http_policies, status_and_evaluate, .init = setup, .fini = teardown)
{
	json_t *d, *acts;

	d = get_ok("/status");
	cr_assert(json_is_true(json_object_get(d, "auto_remediation_enabled")));
	cr_assert_eq(jget_int(d, "policies_loaded"), 0);
	cr_assert_eq(jget_int(d, "policies_enabled"), 0);
	cr_assert_eq(jget_int(d, "actions_executed"), 0);
	cr_assert_eq(jget_int(d, "actions_skipped"), 0);
	cr_assert_eq(jget_int(d, "evaluations"), 0);
	cr_assert(json_is_null(json_object_get(d, "last_check")), "no evaluation yet");
	cr_assert_eq(jget_int(d, "max_actions_per_hour"), 20);
	cr_assert_eq(jget_int(d, "actions_last_hour"), 0);
	cr_assert(json_is_null(json_object_get(d, "executor")), "no executor runs");
	cr_assert_eq(json_array_size(json_object_get(d, "breakers")), 0);
	cr_assert(json_is_array(json_object_get(d, "breakers")));
	json_decref(d);

	add_windows("orders", 30, 50);
	create("{\"name\":\"busy\",\"service\":\"orders\",\"condition\":\"request_rate > 10\","
	       "\"actions\":[\"alert\",\"restart\"]}",
	       NULL);
	create("{\"name\":\"off\",\"service\":\"orders\",\"condition\":\"request_rate > 10\","
	       "\"action\":\"restart\",\"enabled\":false}",
	       NULL);
	d = expect(200, "POST", "/evaluate", NULL, NULL);
	cr_assert(json_is_string(json_object_get(d, "message")));
	acts = json_object_get(d, "actions");
	cr_assert_eq(json_array_size(acts), 2, "one decision per action of the enabled policy");
	cr_assert_str_eq(jget_str(json_array_get(acts, 0), "action"), "alert");
	cr_assert_str_eq(jget_str(json_array_get(acts, 1), "action"), "restart");
	cr_assert_str_eq(jget_str(json_array_get(acts, 0), "service"), "orders");
	json_decref(d);
	/* in cooldown now: the next evaluation records it once as skipped, or nothing */
	d = expect(200, "POST", "/evaluate", "{}", NULL);
	cr_assert(json_is_array(json_object_get(d, "actions")));
	json_decref(d);
	expect_error("POST", "/evaluate", "[]", 400, "invalid_json");

	d = get_ok("/status");
	cr_assert_eq(jget_int(d, "policies_loaded"), 2);
	cr_assert_eq(jget_int(d, "policies_enabled"), 1);
	cr_assert_geq(jget_int(d, "evaluations"), 2);
	cr_assert(json_is_string(json_object_get(d, "last_check")));
	cr_assert_geq(jget_int(d, "actions_executed") + jget_int(d, "actions_skipped"), 2);
	json_decref(d);

	/* the decisions are actions */
	d = get_ok("/actions");
	cr_assert_geq(jget_int(d, "count"), 2);
	cr_assert_str_eq(jget_str(json_array_get(json_object_get(d, "actions"), 0), "policy_name"),
			 "busy");
	json_decref(d);
}

Test(http_policies, small_routes_refuse_large_bodies, .init = setup, .fini = teardown)
{
	char body[8192];

	memset(body, ' ', sizeof(body) - 3);
	body[0] = '{';
	body[sizeof(body) - 3] = '}';
	body[sizeof(body) - 2] = '\0';
	expect_error("POST", "/toggle", body, 413, "payload_too_large");
	expect_error("POST", "/evaluate", body, 413, "payload_too_large");
}

/* ---- without an engine ---- */

Test(http_policies, without_an_engine_its_routes_are_503, .init = setup_no_engine,
     .fini = teardown)
{
	static const struct {
		const char *method, *path, *body;
	} routes[] = {
		{ "GET", "/policies", NULL },
		{ "POST", "/policies", "{\"name\":\"a\"}" },
		{ "GET", "/policies/1", NULL },
		{ "PUT", "/policies/1", "{}" },
		{ "DELETE", "/policies/1", NULL },
		{ "POST", "/policies/1/test", NULL },
		{ "POST", "/evaluate", NULL },
		{ "POST", "/toggle", NULL },
		{ "GET", "/status", NULL },
		{ "POST", "/actions/execute", "{\"action\":\"restart\",\"service\":\"a\"}" },
	};
	json_t *d;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		expect_error(routes[i].method, routes[i].path, routes[i].body, 503, "unavailable");
	/* reads of the actions come from the store, not the engine */
	d = get_ok("/actions");
	cr_assert_eq(jget_int(d, "count"), 0);
	json_decref(d);
}
