/*
 * Advice (aggregator/analysis/advice.c) over hand-built evidence: each rule
 * on a scenario made for it (a sick dependency, callers piling up on a sick
 * service, a surge, a service that stopped answering, a leak, CPU-bound
 * latency, saturation, trouble nothing safe fixes, a healthy service, a
 * dependency that stopped, a dependency no agent watches), and for every
 * one the recommended policy: its condition parses with condition_parse()
 * and the one-policy document validates through policy_doc_parse().
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/advice.h"
#include "aggregator/policy/condition.h"
#include "aggregator/policy/policy_doc.h"
#include "tests/lib/evidence_build.h"
#include "tests/lib/leakcheck.h"

TestSuite(advice, .fini = test_no_leaks);

#define MIN_MS	1000ll * 60
#define NOW_MS	1795000000000ll
#define SPAN_MS (10 * MIN_MS)

static const struct evb_stats calm = { .rate = 50, .err = 0.001, .p50 = 2, .p99 = 12 };

/* A scenario: the evidence, and what is asked. */
struct scene {
	struct evidence ev;
	struct advice_target t;
	struct advice a;
};

static void scene_start(struct scene *s)
{
	memset(s, 0, sizeof(*s));
	evb_init(&s->ev, NOW_MS, SPAN_MS);
	s->t.severity = STORE_SEVERITY_WARNING;
	s->t.executor = true;
}

/* Finishes the evidence, advises on @service's @metric (with anomaly @an, may be NULL). */
static void scene_advise(struct scene *s, const char *service, const char *metric,
			 const struct evidence_anomaly *an)
{
	evb_finish(&s->ev);
	s->t.service = service;
	s->t.metric = metric;
	s->t.anomaly = an;
	advice_build(&s->ev, &s->t, &s->a);
}

/* Proves the recommended policy: its condition parses and the document validates. */
static void expect_policy_valid(const struct advice *a)
{
	struct condition_error cerr = { 0 };
	struct policy_error perr = { 0 };
	struct condition *c = NULL;
	struct policy_doc *doc = NULL;
	json_t *body = advice_policy_json(a), *full = advice_json(a), *rec;
	char *text;

	cr_assert(body);
	cr_assert(full);
	cr_assert_eq(condition_parse(a->policy.condition, &c, &cerr), 0,
		     "condition '%s': column %d: %s", a->policy.condition, cerr.column,
		     cerr.message);
	condition_free(c);
	text = json_dumps(body, JSON_COMPACT);
	cr_assert(text);
	cr_assert_eq(policy_doc_parse(text, strlen(text), &doc, &perr), 0, "%s: %s", text,
		     perr.text);
	cr_assert_eq(doc->n, 1);
	cr_expect_str_eq(doc->policies[0].name, a->policy.name);
	cr_expect_eq(doc->policies[0].nactions, 1);
	cr_expect_eq(doc->policies[0].actions[0].type, a->action);
	cr_expect(policy_applies_to(&doc->policies[0], a->target));
	cr_expect_eq(doc->policies[0].for_ms, a->policy.for_s * 1000);
	cr_expect_eq(doc->policies[0].cooldown_ms, a->policy.cooldown_s * 1000);
	/* the API's {condition, action, parameters} as the same document's */
	rec = json_object_get(full, "policy_recommendation");
	cr_expect_str_eq(json_string_value(json_object_get(rec, "condition")), a->policy.condition);
	cr_expect_str_eq(json_string_value(json_object_get(rec, "action")),
			 policy_action_type_name(a->action));
	cr_expect(json_is_object(json_object_get(rec, "parameters")));
	cr_expect(json_equal(json_object_get(rec, "policy"), body));
	policy_doc_free(doc);
	free(text);
	json_decref(body);
	json_decref(full);
}

static void scene_end(struct scene *s)
{
	expect_policy_valid(&s->a);
	cr_expect_geq(s->a.confidence, 0.1);
	cr_expect_leq(s->a.confidence, 0.95);
	cr_expect(s->a.rationale[0] && s->a.expected_impact[0] && s->a.automation_note[0]);
	cr_expect(s->a.rationale[0] != ' ', "'%s'", s->a.rationale);
	evidence_release(&s->ev);
}

/* orders calls payments and users; payments' figures as given. */
static void shop(struct scene *s, const struct evb_stats *orders, const struct evb_stats *payments)
{
	evb_service(&s->ev, "orders", orders, &calm);
	evb_service(&s->ev, "payments", payments, &calm);
	evb_service(&s->ev, "users", &calm, &calm);
	evb_edge(&s->ev, "orders", "users", 3000, 0, 5, 3000, 0, 5);
}

Test(advice, breaks_a_sick_dependency_its_callers_pile_up_on)
{
	const struct evb_stats slow = { .rate = 50, .err = 0.001, .p50 = 200, .p99 = 330 };
	const struct evb_stats sick = { .rate = 50, .err = 0.35, .p50 = 150, .p99 = 312 };
	struct evidence_anomaly *an;
	struct scene s;

	scene_start(&s);
	shop(&s, &slow, &sick);
	evb_edge(&s.ev, "orders", "payments", 400, 140, 310, 1000, 0, 1.2);
	an = evb_anomaly(&s.ev, 5, "orders", "latency_p99", STORE_SEVERITY_WARNING,
			 NOW_MS - 5 * MIN_MS, 0, 330, 12);
	evb_finish(&s.ev);
	an = &s.ev.anomalies[0];
	scene_advise(&s, "orders", "latency_p99", an);
	cr_expect_eq(s.a.action, POLICY_ACTION_CIRCUIT_BREAKER);
	cr_expect_eq(s.a.rule, ADVICE_RULE_DEPENDENCY);
	cr_expect_str_eq(s.a.target, "payments");
	cr_expect_str_eq(s.a.risk_level, "medium");
	cr_expect(s.a.automation_available);
	cr_expect(s.a.action_needed);
	cr_expect_str_eq(s.a.policy.service, "payments");
	cr_expect_str_eq(s.a.policy.condition, "latency_p99 > 37 or error_rate > 0.051");
	cr_expect_str_eq(s.a.policy.parameters, "{\"state\":\"open\",\"duration\":60}");
	cr_expect_str_eq(s.a.policy.name, "payments-latency_p99-circuit_breaker");
	cr_expect(strstr(s.a.rationale, "payments p99 312 ms vs 12 ms typical, error rate 35% vs "
					"0.1% typical"),
		  "%s", s.a.rationale);
	cr_expect(strstr(s.a.rationale,
			 "calls from orders to payments: p99 310 ms vs 1.2 ms before, "
			 "140 of 400 answered 5xx"),
		  "%s", s.a.rationale);
	cr_expect(strncmp(s.a.rationale, "Anomaly 5 (warning, open): orders p99 330 ms", 44) == 0,
		  "%s", s.a.rationale);
	cr_expect(strstr(s.a.expected_impact, "The p99 of orders should fall back toward 12 ms"),
		  "%s", s.a.expected_impact);
	cr_expect_geq(s.a.confidence, 0.8);
	scene_end(&s);
}

Test(advice, breaks_a_sick_service_whose_callers_pile_up)
{
	const struct evb_stats slow = { .rate = 50, .err = 0.3, .p50 = 2, .p99 = 14 };
	const struct evb_stats sick = { .rate = 50, .err = 0.35, .p50 = 2, .p99 = 12 };
	struct scene s;

	scene_start(&s);
	shop(&s, &slow, &sick);
	evb_edge(&s.ev, "orders", "payments", 400, 140, 6, 1000, 0, 5);
	evb_anomaly(&s.ev, 6, "payments", "error_rate", STORE_SEVERITY_CRITICAL,
		    NOW_MS - 5 * MIN_MS, 0, 0.35, 0.001);
	evb_finish(&s.ev);
	scene_advise(&s, "payments", "error_rate", &s.ev.anomalies[0]);
	cr_expect_eq(s.a.action, POLICY_ACTION_CIRCUIT_BREAKER);
	cr_expect_eq(s.a.rule, ADVICE_RULE_CALLERS_PILE_UP);
	cr_expect_str_eq(s.a.target, "payments");
	cr_expect_str_eq(s.a.policy.condition, "error_rate > 0.051");
	cr_expect(strstr(s.a.rationale, "its callers pile up: calls from orders to payments"), "%s",
		  s.a.rationale);
	scene_end(&s);
}

Test(advice, rate_limits_a_surge)
{
	const struct evb_stats flood = { .rate = 200, .err = 0.001, .p50 = 30, .p99 = 80 };
	struct scene s;

	scene_start(&s);
	shop(&s, &flood, &calm);
	evb_edge(&s.ev, "orders", "payments", 3000, 0, 5, 3000, 0, 5);
	evb_anomaly(&s.ev, 7, "orders", "request_rate", STORE_SEVERITY_WARNING, NOW_MS - 5 * MIN_MS,
		    0, 200, 50);
	evb_finish(&s.ev);
	scene_advise(&s, "orders", "request_rate", &s.ev.anomalies[0]);
	cr_expect_eq(s.a.action, POLICY_ACTION_RATE_LIMIT);
	cr_expect_eq(s.a.rule, ADVICE_RULE_SURGE);
	cr_expect_str_eq(s.a.target, "orders");
	cr_expect_str_eq(s.a.policy.condition, "request_rate > 75");
	cr_expect_str_eq(s.a.policy.parameters, "{\"limit\":75,\"window\":1}");
	cr_expect_str_eq(s.a.headline, "Rate-limit orders to 75 requests/s");
	cr_expect(strstr(s.a.rationale, "request rate 200/s vs 50/s typical"), "%s", s.a.rationale);
	scene_end(&s);
}

Test(advice, restarts_a_service_that_stopped_answering)
{
	struct evidence_service *p;
	struct scene s;

	scene_start(&s);
	shop(&s, &calm, &calm);
	p = &s.ev.services[1];
	cr_assert_str_eq(p->name, "payments");
	p->last_active_step = 29; /* the last half of the span without a request */
	scene_advise(&s, "payments", NULL, NULL);
	cr_expect_eq(s.a.action, POLICY_ACTION_RESTART);
	cr_expect_eq(s.a.rule, ADVICE_RULE_STOPPED);
	cr_expect_str_eq(s.a.risk_level, "low");
	cr_expect_str_eq(s.a.policy.condition, "request_rate < 5");
	cr_expect_eq(s.a.policy.for_s, 30);
	cr_expect_str_eq(s.a.policy.parameters, "{}");
	cr_expect(strstr(s.a.rationale, "payments answered no request for 5 min (typically "
					"50/s)"),
		  "%s", s.a.rationale);
	cr_expect(strstr(s.a.automation_note, "restart.command"), "%s", s.a.automation_note);
	cr_expect(strstr(s.a.automation_note, "systemctl restart payments.service"));
	scene_end(&s);
}

Test(advice, restarts_a_service_that_leaks_memory)
{
	const struct evb_stats leaking = {
		.rate = 50, .err = 0.001, .p50 = 3, .p99 = 40, .sys_ms = 1, .alloc = 1.0
	};
	const struct evb_stats before = {
		.rate = 50, .err = 0.001, .p50 = 2, .p99 = 12, .sys_ms = 1, .alloc = 0.01
	};
	struct scene s;

	scene_start(&s);
	evb_service(&s.ev, "orders", &leaking, &before);
	evb_anomaly(&s.ev, 8, "orders", "latency_p99", STORE_SEVERITY_WARNING, NOW_MS - 5 * MIN_MS,
		    0, 40, 12);
	evb_finish(&s.ev);
	scene_advise(&s, "orders", "latency_p99", &s.ev.anomalies[0]);
	cr_expect_eq(s.a.action, POLICY_ACTION_RESTART);
	cr_expect_eq(s.a.rule, ADVICE_RULE_LEAK);
	cr_expect_str_eq(s.a.risk_level, "medium");
	cr_expect_str_eq(s.a.policy.condition, "anomaly(latency_p99) and severity >= warning");
	cr_expect_eq(s.a.policy.cooldown_s, 1800);
	cr_expect(strstr(s.a.rationale, "1 memory syscalls (mmap, munmap, mremap, brk) per "
					"request vs 0.01 before"),
		  "%s", s.a.rationale);
	scene_end(&s);
}

Test(advice, scales_cpu_bound_latency)
{
	const struct evb_stats burning = {
		.rate = 50, .err = 0.001, .p50 = 200, .p99 = 250, .sys_ms = 0.5
	};
	const struct evb_stats before = {
		.rate = 50, .err = 0.001, .p50 = 2, .p99 = 12, .sys_ms = 0.4
	};
	struct scene s;

	scene_start(&s);
	evb_service(&s.ev, "orders", &calm, &calm);
	evb_service(&s.ev, "users", &burning, &before);
	evb_edge(&s.ev, "orders", "users", 3000, 0, 250, 3000, 0, 12);
	evb_finish(&s.ev);
	scene_advise(&s, "users", NULL, NULL);
	cr_expect_eq(s.a.action, POLICY_ACTION_SCALE);
	cr_expect_eq(s.a.rule, ADVICE_RULE_CPU_BOUND);
	cr_expect_str_eq(s.a.risk_level, "low");
	cr_expect_str_eq(s.a.policy.condition, "latency_p99 > 37");
	cr_expect_str_eq(s.a.policy.parameters, "{\"scale_up_by\":1,\"max\":10}");
	cr_expect(strstr(s.a.rationale, "syscall time per request 0.5 ms vs 0.4 ms before"), "%s",
		  s.a.rationale);
	cr_expect(strstr(s.a.automation_note, "scale_command"));
	scene_end(&s);
}

Test(advice, scales_a_saturated_service)
{
	const struct evb_stats busy = { .rate = 80, .err = 0.001, .p50 = 30, .p99 = 100 };
	struct scene s;

	scene_start(&s);
	evb_service(&s.ev, "users", &busy, &calm);
	evb_finish(&s.ev);
	scene_advise(&s, "users", "latency_p99", NULL);
	cr_expect_eq(s.a.action, POLICY_ACTION_SCALE);
	cr_expect_eq(s.a.rule, ADVICE_RULE_SATURATED);
	scene_end(&s);
}

Test(advice, alerts_when_nothing_safe_can_be_automated)
{
	const struct evb_stats failing = { .rate = 50, .err = 0.2, .p50 = 2, .p99 = 12 };
	struct scene s;

	scene_start(&s);
	evb_service(&s.ev, "batch", &failing, &calm);
	evb_anomaly(&s.ev, 9, "batch", "error_rate", STORE_SEVERITY_CRITICAL, NOW_MS - 5 * MIN_MS,
		    0, 0.2, 0.001);
	evb_finish(&s.ev);
	scene_advise(&s, "batch", "error_rate", &s.ev.anomalies[0]);
	cr_expect_eq(s.a.action, POLICY_ACTION_ALERT);
	cr_expect_eq(s.a.rule, ADVICE_RULE_NOTHING_SAFE);
	cr_expect(s.a.action_needed);
	cr_expect_str_eq(s.a.risk_level, "low");
	cr_expect_str_eq(s.a.policy.condition, "anomaly(error_rate) and severity >= critical");
	cr_expect_str_eq(s.a.policy.parameters,
			 "{\"channel\":\"webhook\",\"severity\":"
			 "\"critical\",\"message\":\"{service}: {reason}\"}");
	scene_end(&s);
}

Test(advice, says_no_action_is_needed_for_a_healthy_service)
{
	struct scene s;

	scene_start(&s);
	shop(&s, &calm, &calm);
	scene_advise(&s, "users", NULL, NULL);
	cr_expect_eq(s.a.action, POLICY_ACTION_ALERT);
	cr_expect_eq(s.a.rule, ADVICE_RULE_HEALTHY);
	cr_expect_not(s.a.action_needed);
	cr_expect_str_eq(s.a.policy.condition, "anomaly(latency_p99) and severity >= warning");
	cr_expect(strstr(s.a.rationale, "users did not move (p99 12 ms vs 12 ms typical"), "%s",
		  s.a.rationale);
	scene_end(&s);
}

Test(advice, restarts_a_dependency_that_stopped)
{
	const struct evb_stats failing = { .rate = 50, .err = 0.4, .p50 = 2, .p99 = 12 };
	struct scene s;

	scene_start(&s);
	shop(&s, &failing, &calm);
	evb_edge(&s.ev, "orders", "payments", 3000, 0, 5, 3000, 0, 5);
	s.ev.services[1].last_active_step = 10;
	evb_finish(&s.ev);
	scene_advise(&s, "orders", "error_rate", NULL);
	cr_expect_eq(s.a.action, POLICY_ACTION_RESTART);
	cr_expect_eq(s.a.rule, ADVICE_RULE_DEPENDENCY_FIX);
	cr_expect_str_eq(s.a.target, "payments");
	cr_expect_str_eq(s.a.policy.service, "payments");
	cr_expect(strstr(s.a.rationale, "orders depends on payments, which is sick"), "%s",
		  s.a.rationale);
	scene_end(&s);
}

Test(advice, alerts_on_a_sick_dependency_no_agent_watches)
{
	const struct evb_stats slow = { .rate = 50, .err = 0.001, .p50 = 200, .p99 = 330 };
	struct scene s;

	scene_start(&s);
	evb_service(&s.ev, "orders", &slow, &calm);
	evb_unwatched(&s.ev, "10.0.0.5:5432");
	evb_edge(&s.ev, "orders", "10.0.0.5:5432", 3000, 0, 300, 3000, 0, 3);
	evb_finish(&s.ev);
	scene_advise(&s, "orders", "latency_p99", NULL);
	cr_expect_eq(s.a.action, POLICY_ACTION_ALERT);
	cr_expect_eq(s.a.rule, ADVICE_RULE_UNWATCHED);
	cr_expect(strstr(s.a.rationale, "10.0.0.5:5432 is not watched by an agent"), "%s",
		  s.a.rationale);
	scene_end(&s);
}

Test(advice, says_when_no_executor_would_run_it)
{
	const struct evb_stats flood = { .rate = 200, .err = 0.001, .p50 = 30, .p99 = 80 };
	struct scene s;

	scene_start(&s);
	s.t.executor = false;
	evb_service(&s.ev, "orders", &flood, &calm);
	scene_advise(&s, "orders", NULL, NULL);
	cr_expect_eq(s.a.action, POLICY_ACTION_RATE_LIMIT);
	cr_expect_not(s.a.automation_available);
	cr_expect(strstr(s.a.automation_note, "No executor runs in this aggregator"));
	scene_end(&s);
}

Test(advice, keys_an_alert_on_any_metric_of_the_condition_language)
{
	const char *const metrics[] = { "tcp_retransmits", "tcp_resets", "syscall_error_rate",
					"latency_p50" };

	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		struct scene s;

		scene_start(&s);
		evb_service(&s.ev, "users", &calm, &calm);
		evb_anomaly(&s.ev, 10, "users", metrics[i], STORE_SEVERITY_INFO, NOW_MS - MIN_MS, 0,
			    10, 1);
		evb_finish(&s.ev);
		scene_advise(&s, "users", metrics[i], &s.ev.anomalies[0]);
		cr_expect_eq(s.a.action, POLICY_ACTION_ALERT, "%s", metrics[i]);
		cr_expect(strstr(s.a.policy.condition, metrics[i]), "%s", s.a.policy.condition);
		scene_end(&s);
	}
}

Test(advice, writes_markdown_and_json)
{
	const struct evb_stats flood = { .rate = 200, .err = 0.001, .p50 = 30, .p99 = 80 };
	struct scene s;
	json_t *doc;
	char *md, *task;

	scene_start(&s);
	evb_service(&s.ev, "orders", &flood, &calm);
	scene_advise(&s, "orders", NULL, NULL);
	md = advice_markdown(&s.a);
	cr_expect(strncmp(md,
			  "**Rate-limit orders to 75 requests/s** (`rate_limit`; risk medium, "
			  "confidence 0.",
			  80) == 0,
		  "%s", md);
	cr_expect(strstr(md, "**Policy:** on `orders`, when `request_rate > 75` for 10 s: "
			     "`rate_limit` `{\"limit\":75,\"window\":1}`, cooldown 300 s."),
		  "%s", md);
	doc = advice_json(&s.a);
	cr_assert(doc);
	cr_expect_str_eq(json_string_value(json_object_get(doc, "action")), "rate_limit");
	cr_expect_str_eq(json_string_value(json_object_get(doc, "risk_level")), "medium");
	cr_expect_str_eq(json_string_value(json_object_get(doc, "rule")), "surge");
	cr_expect(json_is_true(json_object_get(doc, "automation_available")));
	cr_expect(json_is_real(json_object_get(doc, "confidence")));
	task = advice_llm_task(&s.t, md, "{\"ticket\":\"INC-1\"}");
	cr_expect(strstr(task, md));
	cr_expect(strstr(task, "INC-1"));
	free(task);
	json_decref(doc);
	free(md);
	scene_end(&s);
}
