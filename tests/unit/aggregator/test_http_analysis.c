/*
 * POST /summarize and POST /advice end to end: a real API on 127.0.0.1 over
 * a temporary store that the test fills through store.h (half an hour of
 * windows of orders calling payments, payments slow and failing for the
 * last five minutes, the anomalies detection would have opened and the
 * breaker a policy opened), called over HTTP. The answers with no data at
 * all, the incident and the advice with their numbers, the recommended
 * policy accepted by POST /policies, every bad input with its envelope,
 * and the LLM path against tests/lib/llm_server.h: the model's prose used
 * when it answers, the built-in prose and the reason when it fails.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/llm.h"
#include "aggregator/http/api_chat.h"
#include "aggregator/store/store.h"
#include "common/timeutil.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/api_client.h"
#include "tests/lib/api_fixture.h"
#include "tests/lib/incident_windows.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/llm_server.h"

TestSuite(http_analysis, .fini = test_no_leaks);

#define MS_PER_S	1000ll
#define MS_PER_MIN	(60 * MS_PER_S)
#define WINDOW_EVERY_MS (5 * MS_PER_S)

static struct {
	struct api_fixture agg;
	struct llm_server *srv;
	struct llm *llm;
	int64_t now_ms; /* a whole second */
	int64_t payments_anomaly, orders_anomaly, breaker;
} fx;

/* ---- fixture ---- */

static void start(unsigned flags)
{
	memset(&fx, 0, sizeof(fx));
	fx.now_ms = (int64_t)(time_real_ns() / NSEC_PER_SEC) * MS_PER_S;
	api_fixture_start(&fx.agg, "http-summary", flags);
}

static void setup(void)
{
	start(0);
}

static void setup_engine(void)
{
	start(API_FIXTURE_ENGINE);
}

static void teardown(void)
{
	api_fixture_stop(&fx.agg);
	llm_free(fx.llm);
	llm_server_stop(fx.srv);
	test_no_leaks();
}

/* Restarts the API with an LLM client of the stand-in server answering by @script. */
static void with_llm(const enum llm_server_mode *script, size_t n, const char *text)
{
	struct api_config c = { .bind_address = "127.0.0.1", .threads = 2, .version = "test" };
	struct llm_config lc;
	char err[256];

	fx.srv = llm_server_start(script, n);
	llm_server_set_text(fx.srv, text);
	llm_config_init(&lc);
	lc.url = llm_server_url(fx.srv);
	lc.model = "test-model";
	lc.api_key_env = "";
	lc.timeout_ms = 5000;
	lc.retry_pause_ms = 10;
	cr_assert_eq(llm_new(&lc, &fx.llm, err, sizeof(err)), 0, "%s", err);
	api_stop(fx.agg.api);
	c.store = &fx.agg.so;
	c.series = fx.agg.series;
	c.llm = fx.llm;
	cr_assert_eq(api_start(&fx.agg.api, &c), 0);
}

/* ---- data ---- */

static int64_t put_anomaly(struct store *st, const char *service, enum store_severity sev,
			   int64_t started_ms, double peak, double mean)
{
	struct store_anomaly a;

	memset(&a, 0, sizeof(a));
	snprintf(a.tenant, sizeof(a.tenant), "default");
	snprintf(a.service, sizeof(a.service), "%s", service);
	snprintf(a.metric, sizeof(a.metric), "latency_p99");
	a.severity = sev;
	a.open = true;
	a.score = 0.9;
	a.confidence = 0.9;
	a.current_value = a.peak_value = peak;
	a.expected_mean = mean;
	a.expected_min = mean / 2;
	a.expected_max = mean * 2;
	a.started_ms = a.updated_ms = started_ms;
	cr_assert_eq(store_anomaly_put(st, &a), 0);
	return a.id;
}

/* Half an hour of orders and payments, payments at fault for the last five minutes. */
static void put_incident(void)
{
	static char params[] = "{\"duration\":60,\"state\":\"open\"}",
		    reason[] = "latency_p99 > 150 held for 10 s";
	struct store_action a;
	struct store *st;
	uint64_t seq = 1;

	cr_assert_eq(store_open(&st, &fx.agg.so), 0);
	cr_assert_eq(store_begin(st), 0);
	for (int64_t t = fx.now_ms - 30 * MS_PER_MIN; t < fx.now_ms; t += WINDOW_EVERY_MS)
		cr_assert_eq(incident_windows_put(st, seq++, t, t >= fx.now_ms - 5 * MS_PER_MIN), 0);
	cr_assert_eq(store_commit(st), 0);
	fx.payments_anomaly = put_anomaly(st, "payments", STORE_SEVERITY_CRITICAL,
					  fx.now_ms - 5 * MS_PER_MIN + 5000, 280, 4);
	fx.orders_anomaly = put_anomaly(st, "orders", STORE_SEVERITY_WARNING,
					fx.now_ms - 5 * MS_PER_MIN + 20000, 300, 10);
	memset(&a, 0, sizeof(a));
	snprintf(a.tenant, sizeof(a.tenant), "default");
	snprintf(a.policy_name, sizeof(a.policy_name), "payments-breaker");
	snprintf(a.service, sizeof(a.service), "payments");
	snprintf(a.type, sizeof(a.type), "circuit_breaker");
	a.status = STORE_ACTION_SUCCEEDED;
	a.created_ms = a.started_ms = fx.now_ms - 4 * MS_PER_MIN;
	a.completed_ms = a.created_ms + 800;
	a.parameters = params;
	a.reason = reason;
	cr_assert_eq(store_action_put(st, &a), 0);
	fx.breaker = a.id;
	store_close(st);
}

/* ---- calls ---- */

static json_t *post_ok(const char *path, const char *body)
{
	return api_client_expect(api_fixture_port(&fx.agg), 200, "POST", path, body, NULL);
}

static void post_error(const char *path, const char *body, const char *ctype, long status,
		       const char *code)
{
	struct api_answer a = api_client_expect_error(api_fixture_port(&fx.agg), "POST", path, body,
						      ctype, status, code);

	json_decref(a.doc);
}

/* ---- no data ---- */

Test(http_analysis, summarizes_nothing_honestly_before_any_agent, .init = setup, .fini = teardown)
{
	json_t *doc = post_ok("/summarize", NULL);

	cr_expect_str_eq(jget_str(doc, "summary"),
			 "No incidents in the last 1h: no service has reported in that time (no "
			 "agent data yet).");
	cr_expect_eq(jget_int(doc, "incident_count"), 0);
	cr_expect_eq(json_array_size(json_object_get(doc, "affected_services")), 0);
	cr_expect_eq(jget_int(json_object_get(doc, "severity_breakdown"), "critical"), 0);
	cr_expect_str_eq(jget_str(doc, "prose"), "built-in");
	cr_expect_null(json_object_get(doc, "llm_error"));
	cr_expect(json_is_string(json_object_get(doc, "timestamp")));
	json_decref(doc);
	doc = post_ok("/summarize", "{\"time_range\": \"15m\", \"services\": []}");
	cr_expect_str_eq(jget_str(doc, "time_range"), "15m");
	cr_expect(strstr(jget_str(doc, "summary"), "No incidents in the last 15m"));
	json_decref(doc);
	/* no agent has named a service yet: nothing to advise on */
	post_error("/advice", "{\"service\": \"orders\"}", NULL, 404, "not_found");
}

/* ---- with an incident ---- */

Test(http_analysis, summarizes_the_incident_with_its_numbers_and_actions, .init = setup,
     .fini = teardown)
{
	json_t *doc, *inc, *acts, *sig;

	put_incident();
	doc = post_ok("/summarize", "{\"time_range\": \"1h\"}");
	cr_expect_eq(jget_int(doc, "incident_count"), 1);
	cr_expect_eq(jget_int(json_object_get(doc, "severity_breakdown"), "critical"), 1);
	cr_expect_eq(jget_int(doc, "services_watched"), 2);
	cr_assert_eq(json_array_size(json_object_get(doc, "affected_services")), 2);
	cr_expect_str_eq(
		json_string_value(json_array_get(json_object_get(doc, "affected_services"), 0)),
		"orders");
	inc = json_array_get(json_object_get(doc, "incidents"), 0);
	cr_assert(inc);
	cr_expect_eq(jget_int(inc, "id"), fx.payments_anomaly);
	cr_expect_str_eq(jget_str(inc, "status"), "open");
	cr_expect_str_eq(jget_str(inc, "first_service"), "payments");
	api_client_check_time(json_object_get(inc, "started_at"), fx.now_ms - 5 * MS_PER_MIN + 5000,
			      "started_at");
	acts = json_object_get(inc, "actions");
	cr_assert_eq(json_array_size(acts), 1);
	cr_expect_eq(jget_int(json_array_get(acts, 0), "action_id"), fx.breaker);
	cr_expect_str_eq(jget_str(json_array_get(acts, 0), "status"), "succeeded");
	sig = json_array_get(json_object_get(inc, "signals"), 0);
	cr_expect_str_eq(jget_str(sig, "text"), "payments p99 280 ms vs 4 ms typical");
	cr_expect(strstr(jget_str(doc, "summary"), "circuit_breaker on payments (policy "
						   "payments-breaker): succeeded"),
		  "%s", jget_str(doc, "summary"));
	cr_expect_str_eq(jget_str(doc, "prose"), "built-in");
	json_decref(doc);
	/* only users: nothing there */
	post_error("/summarize", "{\"services\": [\"users\"]}", NULL, 404, "not_found");
	doc = post_ok("/summarize", "{\"services\": [\"orders\"], \"time_range\": 600}");
	cr_expect_eq(jget_int(doc, "incident_count"), 1);
	cr_expect_str_eq(jget_str(doc, "time_range"), "600s");
	cr_expect_eq(json_array_size(json_object_get(
			     json_array_get(json_object_get(doc, "incidents"), 0), "actions")),
		     0);
	json_decref(doc);
}

Test(http_analysis, advises_a_breaker_on_the_sick_dependency, .init = setup, .fini = teardown)
{
	json_t *doc, *rec;
	char body[128];

	put_incident();
	snprintf(body, sizeof(body), "{\"anomaly\": %lld}", (long long)fx.orders_anomaly);
	doc = post_ok("/advice", body);
	cr_expect_str_eq(jget_str(doc, "action"), "circuit_breaker");
	cr_expect_str_eq(jget_str(doc, "target_service"), "payments");
	cr_expect_str_eq(jget_str(doc, "service"), "orders");
	cr_expect_str_eq(jget_str(doc, "rule"), "sick_dependency");
	cr_expect_str_eq(jget_str(doc, "risk_level"), "medium");
	/* no executor behind this API: said, and why */
	cr_expect(json_is_false(json_object_get(doc, "automation_available")));
	cr_expect(strstr(jget_str(doc, "automation_note"), "No executor runs"));
	cr_expect_gt(jget_num(doc, "confidence"), 0.5);
	cr_expect(strstr(jget_str(doc, "rationale"), "orders depends on payments"), "%s",
		  jget_str(doc, "rationale"));
	cr_expect(json_is_string(json_object_get(doc, "expected_impact")));
	rec = json_object_get(doc, "policy_recommendation");
	cr_expect_str_eq(jget_str(rec, "action"), "circuit_breaker");
	cr_expect_str_eq(jget_str(rec, "service"), "payments");
	cr_expect(strstr(jget_str(rec, "condition"), "latency_p99 > "));
	cr_expect_str_eq(jget_str(json_object_get(rec, "parameters"), "state"), "open");
	cr_expect_eq(jget_int(json_object_get(doc, "anomaly"), "id"), fx.orders_anomaly);
	cr_expect_str_eq(jget_str(doc, "prose"), "built-in");
	cr_expect(strstr(jget_str(doc, "advice"), "**Open a circuit breaker on payments**"));
	json_decref(doc);
	/* the same through a metric name, a string id and a whole record */
	doc = post_ok("/advice", "{\"service\": \"orders\", \"anomaly\": \"latency_p99\"}");
	cr_expect_eq(jget_int(json_object_get(doc, "anomaly"), "id"), fx.orders_anomaly);
	cr_expect_str_eq(jget_str(doc, "target_service"), "payments");
	json_decref(doc);
	snprintf(body, sizeof(body), "{\"anomaly\": \"%lld\"}", (long long)fx.orders_anomaly);
	doc = post_ok("/advice", body);
	cr_expect_str_eq(jget_str(doc, "action"), "circuit_breaker");
	json_decref(doc);
	snprintf(body, sizeof(body),
		 "{\"anomaly\": {\"id\": %lld, \"service\": \"orders\", \"score\": 0.9}}",
		 (long long)fx.orders_anomaly);
	doc = post_ok("/advice", body);
	cr_expect_str_eq(jget_str(doc, "action"), "circuit_breaker");
	json_decref(doc);
	/* on payments itself: its callers pile up on it */
	doc = post_ok("/advice", "{\"service\": \"payments\", \"anomaly\": {\"metric\": "
				 "\"latency_p99\", \"severity\": \"high\"}}");
	cr_expect_str_eq(jget_str(doc, "action"), "circuit_breaker");
	cr_expect_str_eq(jget_str(doc, "target_service"), "payments");
	cr_expect_str_eq(jget_str(doc, "rule"), "callers_pile_up");
	json_decref(doc);
}

Test(http_analysis, the_recommended_policy_is_accepted_by_post_policies, .init = setup_engine,
     .fini = teardown)
{
	json_t *doc, *created;
	char body[128], *policy;

	put_incident();
	snprintf(body, sizeof(body), "{\"anomaly\": %lld}", (long long)fx.payments_anomaly);
	doc = post_ok("/advice", body);
	policy =
		json_dumps(json_object_get(json_object_get(doc, "policy_recommendation"), "policy"),
			   JSON_COMPACT);
	cr_assert(policy);
	created = api_client_expect(api_fixture_port(&fx.agg), 201, "POST", "/policies", policy,
				    NULL);
	cr_expect_str_eq(jget_str(created, "status"), "created");
	json_decref(created);
	free(policy);
	json_decref(doc);
}

/* ---- bad input ---- */

Test(http_analysis, refuses_bad_input_with_the_envelope, .init = setup, .fini = teardown)
{
	char big[17 * 1024 + 64];

	put_incident();
	post_error("/summarize", "{\"time_range\": \"\"}", NULL, 400, "bad_request");
	post_error("/summarize", "{\"time_range\": \"soon\"}", NULL, 400, "bad_request");
	post_error("/summarize", "{\"time_range\": \"90d\"}", NULL, 400, "bad_request");
	post_error("/summarize", "{\"time_range\": 0}", NULL, 400, "bad_request");
	post_error("/summarize", "{\"time_range\": true}", NULL, 400, "bad_request");
	post_error("/summarize", "{\"services\": \"orders\"}", NULL, 400, "bad_request");
	post_error("/summarize", "{\"services\": [1]}", NULL, 400, "bad_request");
	post_error("/summarize", "{\"services\": [\"nope\"]}", NULL, 404, "not_found");
	post_error("/summarize", "{\"range\": \"1h\"}", NULL, 400, "bad_request");
	post_error("/summarize", "{\"time_range\": ", NULL, 400, "invalid_json");
	post_error("/summarize", "[]", NULL, 400, "invalid_json");
	post_error("/summarize", "time_range=1h", "text/plain", 415, "unsupported_media_type");
	post_error("/advice", NULL, NULL, 400, "bad_request");
	post_error("/advice", "{}", NULL, 400, "bad_request");
	post_error("/advice", "{\"anomaly\": 999999}", NULL, 404, "not_found");
	post_error("/advice", "{\"anomaly\": 0}", NULL, 404, "not_found");
	post_error("/advice", "{\"anomaly\": \"999999\"}", NULL, 404, "not_found");
	post_error("/advice", "{\"service\": \"nope\", \"anomaly\": \"latency_p99\"}", NULL, 404,
		   "not_found");
	post_error("/advice", "{\"service\": \"orders\", \"anomaly\": \"bogus\"}", NULL, 400,
		   "bad_request");
	post_error("/advice", "{\"service\": \"orders\", \"anomaly\": true}", NULL, 400,
		   "bad_request");
	post_error("/advice", "{\"service\": \"orders\", \"anomaly\": 1.5}", NULL, 400,
		   "bad_request");
	post_error("/advice", "{\"service\": 7}", NULL, 400, "bad_request");
	post_error("/advice", "{\"service\": \"\"}", NULL, 400, "bad_request");
	post_error("/advice", "{\"anomaly\": \"latency_p99\"}", NULL, 400, "bad_request");
	post_error("/advice",
		   "{\"service\": \"orders\", \"anomaly\": {\"severity\": \"x\", "
		   "\"metric\": \"error_rate\"}}",
		   NULL, 400, "bad_request");
	post_error("/advice", "{\"service\": \"orders\", \"anomaly\": {}}", NULL, 400,
		   "bad_request");
	post_error("/advice", "{\"service\": \"orders\", \"context\": 3}", NULL, 400,
		   "bad_request");
	post_error("/advice", "{\"service\": \"orders\", \"context\": {\"time_range\": \"x\"}}",
		   NULL, 400, "bad_request");
	post_error("/advice", "{\"service\": \"orders\", \"extra\": 1}", NULL, 400, "bad_request");
	{
		char body[128];

		snprintf(body, sizeof(body), "{\"service\": \"payments\", \"anomaly\": %lld}",
			 (long long)fx.orders_anomaly);
		post_error("/advice", body, NULL, 400, "bad_request");
	}
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	memcpy(big + sizeof(big) - 3, "}", 2);
	big[sizeof(big) - 1] = '\0';
	post_error("/summarize", big, NULL, 413, "payload_too_large");
	post_error("/advice", big, NULL, 413, "payload_too_large");
	/* 16 KiB of spaces is within the limit */
	big[16 * 1024 - 2] = '}';
	big[16 * 1024 - 1] = '\0';
	json_decref(post_ok("/summarize", big));
}

/* ---- the LLM ---- */

Test(http_analysis, uses_the_models_prose_when_it_answers, .init = setup, .fini = teardown)
{
	static const enum llm_server_mode normal[] = { LLM_SERVER_NORMAL };
	json_t *doc;
	char *line = NULL, *sent = NULL, body[128];

	put_incident();
	with_llm(normal, 1, "One incident: payments slowed down and prp opened its breaker.");
	doc = post_ok("/summarize", "{\"time_range\": \"1h\"}");
	cr_expect_str_eq(jget_str(doc, "summary"),
			 "One incident: payments slowed down and prp opened its breaker.");
	cr_expect_str_eq(jget_str(doc, "prose"), "llm");
	cr_expect_str_eq(jget_str(doc, "llm_model"), "test-model");
	cr_expect_null(json_object_get(doc, "llm_error"));
	/* the structured fields stay prp's */
	cr_expect_eq(jget_int(doc, "incident_count"), 1);
	json_decref(doc);
	cr_assert_eq(llm_server_last(fx.srv, &line, NULL, &sent), 0);
	cr_expect_str_eq(line, "POST /v1/chat/completions");
	/* what was sent: the evidence, and prp's own summary to rewrite */
	cr_expect(strstr(sent, "payments"), "%s", sent);
	cr_expect(strstr(sent, "circuit_breaker on payments"), "%s", sent);
	cr_expect(strstr(sent, "anomaly "), "%s", sent);
	free(line);
	free(sent);
	snprintf(body, sizeof(body), "{\"anomaly\": %lld, \"context\": \"ticket INC-7\"}",
		 (long long)fx.orders_anomaly);
	doc = post_ok("/advice", body);
	cr_expect_str_eq(jget_str(doc, "advice"),
			 "One incident: payments slowed down and prp opened its breaker.");
	cr_expect_str_eq(jget_str(doc, "prose"), "llm");
	cr_expect_str_eq(jget_str(doc, "action"), "circuit_breaker");
	cr_expect_str_eq(jget_str(doc, "target_service"), "payments");
	json_decref(doc);
	cr_assert_eq(llm_server_last(fx.srv, NULL, NULL, &sent), 0);
	cr_expect(strstr(sent, "ticket INC-7"), "%s", sent);
	cr_expect(strstr(sent, "Open a circuit breaker on payments"), "%s", sent);
	free(sent);
}

Test(http_analysis, keeps_the_built_in_prose_when_the_model_fails, .init = setup, .fini = teardown)
{
	static const enum llm_server_mode failing[] = { LLM_SERVER_ERROR };
	json_t *doc;
	char body[128];

	put_incident();
	with_llm(failing, 1, NULL);
	doc = post_ok("/summarize", NULL);
	cr_expect_str_eq(jget_str(doc, "prose"), "built-in");
	cr_expect(strstr(jget_str(doc, "llm_error"), "HTTP 500"), "%s", jget_str(doc, "llm_error"));
	cr_expect(strncmp(jget_str(doc, "summary"), "**1 incident in the last 1h**", 29) == 0, "%s",
		  jget_str(doc, "summary"));
	json_decref(doc);
	snprintf(body, sizeof(body), "{\"anomaly\": %lld}", (long long)fx.payments_anomaly);
	doc = post_ok("/advice", body);
	cr_expect_str_eq(jget_str(doc, "prose"), "built-in");
	cr_expect(strstr(jget_str(doc, "llm_error"), "HTTP 500"));
	cr_expect(strstr(jget_str(doc, "advice"), "circuit breaker on payments"), "%s",
		  jget_str(doc, "advice"));
	json_decref(doc);
}

Test(http_analysis, keeps_the_built_in_prose_on_a_malformed_answer, .init = setup, .fini = teardown)
{
	static const enum llm_server_mode bad[] = { LLM_SERVER_MALFORMED };
	json_t *doc;

	with_llm(bad, 1, NULL);
	doc = post_ok("/summarize", NULL);
	cr_expect_str_eq(jget_str(doc, "prose"), "built-in");
	cr_expect(strstr(jget_str(doc, "llm_error"), "malformed JSON"), "%s",
		  jget_str(doc, "llm_error"));
	cr_expect(strstr(jget_str(doc, "summary"), "No incidents in the last 1h"));
	json_decref(doc);
}

/* ---- chat ---- */

static json_t *chat(const char *query, const char *conversation)
{
	char body[1024];

	if (conversation)
		snprintf(body, sizeof(body), "{\"query\": \"%s\", \"conversation_id\": \"%s\"}",
			 query, conversation);
	else
		snprintf(body, sizeof(body), "{\"query\": \"%s\"}", query);
	return post_ok("/chat", body);
}

static bool has_source(const json_t *doc, const char *kind, int64_t id)
{
	char want[64];
	size_t i;
	json_t *v;

	snprintf(want, sizeof(want), "%s:%lld", kind, (long long)id);
	json_array_foreach(json_object_get(doc, "sources"), i, v) {
		if (!strcmp(json_string_value(v), want))
			return true;
	}
	return false;
}

Test(http_analysis, chat_answers_sensibly_before_any_agent, .init = setup, .fini = teardown)
{
	json_t *doc = chat("which services are unhealthy?", NULL);

	cr_expect_str_eq(jget_str(doc, "intent"), "health");
	cr_expect(strstr(jget_str(doc, "answer"), "no agent data yet"), "%s",
		  jget_str(doc, "answer"));
	cr_expect(json_is_string(json_object_get(doc, "conversation_id")));
	cr_expect(json_is_string(json_object_get(doc, "timestamp")));
	cr_expect(json_is_array(json_object_get(doc, "sources")));
	json_decref(doc);
	doc = chat("what did prp do?", NULL);
	cr_expect(strstr(jget_str(doc, "answer"), "prp took no action"), "%s",
		  jget_str(doc, "answer"));
	json_decref(doc);
	doc = chat("what happened in the last 2 hours", NULL);
	cr_expect_str_eq(jget_str(doc, "intent"), "happened");
	cr_expect(strstr(jget_str(doc, "answer"), "No incidents"), "%s", jget_str(doc, "answer"));
	json_decref(doc);
}

Test(http_analysis, chat_says_honestly_what_it_cannot_answer, .init = setup, .fini = teardown)
{
	json_t *doc = chat("what is the airspeed of an unladen swallow", NULL);

	cr_expect_str_eq(jget_str(doc, "intent"), "unknown");
	cr_expect_eq(json_real_value(json_object_get(doc, "confidence")), 0);
	cr_expect(!strncmp(jget_str(doc, "answer"), "I don't know", 12), "%s",
		  jget_str(doc, "answer"));
	cr_expect(strstr(jget_str(doc, "answer"), "why a service is slow"));
	json_decref(doc);
}

Test(http_analysis, chat_explains_from_the_data_and_follows_up, .init = setup, .fini = teardown)
{
	json_t *doc;
	const char *conv;
	char id[80];

	put_incident();
	doc = chat("why is orders slow?", NULL);
	cr_expect_str_eq(jget_str(doc, "intent"), "why");
	cr_expect_str_eq(jget_str(doc, "service"), "orders");
	cr_expect(strstr(jget_str(doc, "answer"), "**payments** looks like the root cause"), "%s",
		  jget_str(doc, "answer"));
	cr_expect(has_source(doc, "anomaly", fx.payments_anomaly), "%s",
		  json_dumps(json_object_get(doc, "sources"), 0));
	cr_expect_gt(json_real_value(json_object_get(doc, "confidence")), 0.3);
	conv = jget_str(doc, "conversation_id");
	snprintf(id, sizeof(id), "%s", conv);
	json_decref(doc);

	/* a follow-up keeps the service */
	doc = chat("what did prp do about it?", id);
	cr_expect_str_eq(jget_str(doc, "intent"), "actions");
	cr_expect_str_eq(jget_str(doc, "service"), "orders");
	json_decref(doc);
	doc = chat("and payments?", id);
	cr_expect_str_eq(jget_str(doc, "intent"), "actions");
	cr_expect_str_eq(jget_str(doc, "service"), "payments");
	cr_expect(strstr(jget_str(doc, "answer"), "circuit_breaker open on **payments**"), "%s",
		  jget_str(doc, "answer"));
	cr_expect(has_source(doc, "action", fx.breaker));
	json_decref(doc);

	doc = chat("any open anomalies?", NULL);
	cr_expect(has_source(doc, "anomaly", fx.payments_anomaly));
	cr_expect(has_source(doc, "anomaly", fx.orders_anomaly));
	json_decref(doc);
	doc = chat("who calls payments?", NULL);
	cr_expect(strstr(jget_str(doc, "answer"), "orders → payments"), "%s",
		  jget_str(doc, "answer"));
	json_decref(doc);
	doc = chat("summarize the last 30 minutes", NULL);
	cr_expect(has_source(doc, "action", fx.breaker), "%s", jget_str(doc, "answer"));
	json_decref(doc);
}

Test(http_analysis, chat_refuses_bad_input, .init = setup, .fini = teardown)
{
	char *big = malloc(API_CHAT_BODY_MAX + 64);

	post_error("/chat", "{}", NULL, 400, "bad_request");
	post_error("/chat", "{\"query\": \"\"}", NULL, 400, "bad_request");
	post_error("/chat", "{\"query\": \"   \"}", NULL, 400, "bad_request");
	post_error("/chat", "{\"query\": 3}", NULL, 400, "bad_request");
	post_error("/chat", "{\"query\": \"hi\", \"conversation_id\": \"a b\"}", NULL, 400,
		   "bad_request");
	post_error("/chat", "{\"query\": \"hi\", \"context\": 7}", NULL, 400, "bad_request");
	post_error("/chat", "{\"query\": \"hi\", \"mood\": \"grumpy\"}", NULL, 400, "bad_request");
	post_error("/chat", "{\"query\": ", NULL, 400, "invalid_json");
	post_error("/chat", "query=hi", "text/plain", 415, "unsupported_media_type");
	cr_assert_not_null(big);
	memset(big, 'a', API_CHAT_BODY_MAX + 63);
	big[API_CHAT_BODY_MAX + 63] = '\0';
	post_error("/chat", big, NULL, 413, "payload_too_large");
	free(big);
}

/* ---- the LLM for /rca and /chat ---- */

Test(http_analysis, rca_and_chat_use_the_models_prose_and_keep_their_own_fields, .init = setup,
     .fini = teardown)
{
	static const enum llm_server_mode normal[] = { LLM_SERVER_NORMAL };
	json_t *doc;
	char *sent = NULL;

	put_incident();
	with_llm(normal, 1, "payments is the cause; orders waits on it.");
	doc = post_ok("/rca", "{\"time_range\": \"15m\"}");
	cr_expect_str_eq(jget_str(doc, "rca"), "payments is the cause; orders waits on it.");
	cr_expect_str_eq(jget_str(doc, "prose"), "llm");
	cr_expect_str_eq(jget_str(doc, "analysis"), "llm");
	cr_expect_str_eq(jget_str(json_object_get(doc, "root_cause"), "service"), "payments");
	json_decref(doc);
	cr_assert_eq(llm_server_last(fx.srv, NULL, NULL, &sent), 0);
	cr_expect(strstr(sent, "root cause"), "%s", sent);
	cr_expect(strstr(sent, "payments"), "%s", sent);
	free(sent);
	doc = chat("why is orders slow?", NULL);
	cr_expect_str_eq(jget_str(doc, "answer"), "payments is the cause; orders waits on it.");
	cr_expect_str_eq(jget_str(doc, "prose"), "llm");
	cr_expect(has_source(doc, "anomaly", fx.payments_anomaly));
	json_decref(doc);
}

Test(http_analysis, rca_keeps_its_own_prose_when_the_model_fails, .init = setup, .fini = teardown)
{
	static const enum llm_server_mode bad[] = { LLM_SERVER_MALFORMED };
	json_t *doc;

	put_incident();
	with_llm(bad, 1, NULL);
	doc = post_ok("/rca", "{\"time_range\": \"15m\"}");
	cr_expect_str_eq(jget_str(doc, "prose"), "built-in");
	cr_expect(strstr(jget_str(doc, "llm_error"), "malformed JSON"), "%s",
		  jget_str(doc, "llm_error"));
	cr_expect(strstr(jget_str(doc, "rca"), "payments"), "%s", jget_str(doc, "rca"));
	json_decref(doc);
}
