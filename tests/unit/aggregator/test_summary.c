/*
 * Incident summaries (aggregator/analysis/summary.c) over hand-built
 * evidence: nothing at all, quiet services, a cascade along calls (one
 * incident), concurrent trouble in separate parts of the graph (two),
 * anomalies far apart in time, the actions of each incident and those
 * outside any, the kernel's signals, the services filter, the JSON and the
 * Markdown.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/summary.h"
#include "tests/lib/evidence_build.h"
#include "tests/lib/leakcheck.h"

TestSuite(summary, .fini = test_no_leaks);

#define MIN_MS	(60 * 1000ll)
#define NOW_MS	1795000000000ll /* 2026-11-18T...Z, a whole second */
#define SPAN_MS (60 * MIN_MS)

static const struct evb_stats calm = { .rate = 50, .err = 0.001, .p50 = 2, .p99 = 12 };

static const struct summary_options all = { .range_text = "1h" };

/* The three services of the demo, calm, with orders calling users and payments. */
static void shop(struct evidence *ev)
{
	evb_init(ev, NOW_MS, SPAN_MS);
	evb_service(ev, "orders", &calm, &calm);
	evb_service(ev, "payments", &calm, &calm);
	evb_service(ev, "users", &calm, &calm);
	evb_edge(ev, "orders", "payments", 1000, 0, 5, 1000, 0, 5);
	evb_edge(ev, "orders", "users", 1000, 0, 5, 1000, 0, 5);
}

static char *markdown(const struct summary *s, const struct evidence *ev,
		      const struct summary_options *o)
{
	char *md = summary_markdown(s, ev, o);

	cr_assert(md);
	return md;
}

Test(summary, says_so_when_nothing_happened)
{
	struct evidence ev;
	struct summary s;
	char *md;

	shop(&ev);
	evb_finish(&ev);
	summary_build(&ev, &all, &s);
	cr_expect_eq(s.nincidents, 0);
	cr_expect_eq(s.services_watched, 3);
	md = markdown(&s, &ev, &all);
	cr_expect_str_eq(md, "No incidents in the last 1h: 3 services watched, all within their "
			     "baselines.");
	free(md);
	summary_release(&s);
	evidence_release(&ev);
}

Test(summary, says_so_when_no_agent_reported)
{
	struct evidence ev;
	struct summary s;
	json_t *doc;
	char *md;

	evb_init(&ev, NOW_MS, SPAN_MS);
	evb_finish(&ev);
	summary_build(&ev, &all, &s);
	md = markdown(&s, &ev, &all);
	cr_expect_str_eq(md, "No incidents in the last 1h: no service has reported in that time "
			     "(no agent data yet).");
	doc = summary_json(&s, &ev);
	cr_assert(doc);
	cr_expect_eq(json_integer_value(json_object_get(doc, "incident_count")), 0);
	cr_expect_eq(json_array_size(json_object_get(doc, "affected_services")), 0);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(doc, "severity_breakdown"),
							"critical")),
		     0);
	json_decref(doc);
	free(md);
	summary_release(&s);
	evidence_release(&ev);
}

Test(summary, groups_a_cascade_along_calls_into_one_incident)
{
	int64_t t0 = NOW_MS - 20 * MIN_MS;
	struct evidence ev;
	struct summary s;
	char *md;

	shop(&ev);
	evb_anomaly(&ev, 11, "payments", "latency_p99", STORE_SEVERITY_CRITICAL, t0, 0, 312, 0.4);
	evb_anomaly(&ev, 12, "orders", "latency_p99", STORE_SEVERITY_WARNING, t0 + 40000, 0, 330,
		    12);
	evb_anomaly(&ev, 13, "orders", "error_rate", STORE_SEVERITY_WARNING, t0 + 60000,
		    t0 + 5 * MIN_MS, 0.12, 0.001);
	evb_finish(&ev);
	summary_build(&ev, &all, &s);
	cr_assert_eq(s.nincidents, 1);
	cr_expect_eq(s.incidents[0].id, 11);
	cr_expect(s.incidents[0].open);
	cr_expect_eq(s.incidents[0].nopen, 2);
	cr_expect_eq(s.incidents[0].ended_ms, 0);
	cr_expect_eq(s.incidents[0].started_ms, t0);
	cr_expect_eq(s.incidents[0].severity, STORE_SEVERITY_CRITICAL);
	cr_assert_eq(s.incidents[0].nservices, 2);
	cr_expect_str_eq(s.incidents[0].services[0], "payments");
	cr_expect_str_eq(s.incidents[0].services[1], "orders");
	cr_assert_geq(s.incidents[0].nsignals, 3);
	/* worst first: the critical one */
	cr_expect_str_eq(s.incidents[0].signals[0].text, "payments p99 312 ms vs 0.4 ms typical");
	cr_expect_str_eq(s.incidents[0].signals[2].text, "orders error rate 12% vs 0.1% typical");
	cr_expect_eq(s.severity[STORE_SEVERITY_CRITICAL], 1);
	cr_expect_eq(s.nopen, 1);
	cr_assert_eq(s.naffected, 2);
	cr_expect_str_eq(s.affected[0], "orders");
	md = markdown(&s, &ev, &all);
	cr_expect(strstr(md, "**1 incident in the last 1h** (1 open, 0 resolved; 1 critical)"),
		  "%s", md);
	cr_expect(strstr(md, "payments p99 312 ms vs 0.4 ms typical"), "%s", md);
	cr_expect(strstr(md, "then orders (+40 s)"), "%s", md);
	cr_expect(strstr(md, "still open"), "%s", md);
	cr_expect(strstr(md, "**prp did:** nothing"), "%s", md);
	cr_expect(strstr(md, "open, 2 of 3 anomalies still open"), "%s", md);
	free(md);
	summary_release(&s);
	evidence_release(&ev);
}

Test(summary, separates_concurrent_trouble_in_parts_of_the_graph_calls_do_not_join)
{
	int64_t t0 = NOW_MS - 30 * MIN_MS;
	struct evidence ev;
	struct summary s;

	shop(&ev);
	evb_service(&ev, "web", &calm, &calm);
	evb_service(&ev, "search", &calm, &calm);
	evb_edge(&ev, "web", "search", 500, 0, 3, 500, 0, 3);
	evb_anomaly(&ev, 21, "payments", "error_rate", STORE_SEVERITY_CRITICAL, t0,
		    t0 + 10 * MIN_MS, 0.4, 0.001);
	evb_anomaly(&ev, 22, "search", "latency_p99", STORE_SEVERITY_WARNING, t0 + MIN_MS,
		    t0 + 8 * MIN_MS, 90, 10);
	evb_finish(&ev);
	summary_build(&ev, &all, &s);
	cr_assert_eq(s.nincidents, 2);
	cr_expect_eq(s.incidents[0].id, 21);
	cr_expect_eq(s.incidents[1].id, 22);
	cr_expect_not(s.incidents[0].open);
	cr_expect_eq(s.incidents[0].ended_ms, t0 + 10 * MIN_MS);
	cr_expect_eq(s.severity[STORE_SEVERITY_CRITICAL], 1);
	cr_expect_eq(s.severity[STORE_SEVERITY_WARNING], 1);
	cr_expect_eq(s.nopen, 0);
	summary_release(&s);
	evidence_release(&ev);
}

Test(summary, joins_by_time_alone_when_the_graph_cannot_tell)
{
	int64_t t0 = NOW_MS - 30 * MIN_MS;
	struct evidence ev;
	struct summary s;

	shop(&ev);
	evb_service(&ev, "batch", &calm, &calm); /* no call in or out */
	evb_anomaly(&ev, 31, "payments", "error_rate", STORE_SEVERITY_WARNING, t0, t0 + 10 * MIN_MS,
		    0.4, 0.001);
	evb_anomaly(&ev, 32, "batch", "latency_p99", STORE_SEVERITY_WARNING, t0 + 5 * MIN_MS,
		    t0 + 6 * MIN_MS, 90, 10);
	evb_finish(&ev);
	summary_build(&ev, &all, &s);
	cr_expect_eq(s.nincidents, 1);
	summary_release(&s);
	evidence_release(&ev);
}

Test(summary, splits_anomalies_far_apart_in_time_and_joins_a_short_gap)
{
	int64_t t0 = NOW_MS - 50 * MIN_MS;
	struct evidence ev;
	struct summary s;

	shop(&ev);
	evb_anomaly(&ev, 41, "payments", "latency_p99", STORE_SEVERITY_WARNING, t0, t0 + 2 * MIN_MS,
		    90, 5);
	/* 90 s after it resolved: the same incident (within SUMMARY_JOIN_GAP_MS) */
	evb_anomaly(&ev, 42, "orders", "latency_p99", STORE_SEVERITY_WARNING,
		    t0 + 2 * MIN_MS + 90000, t0 + 5 * MIN_MS, 95, 12);
	/* half an hour later: another */
	evb_anomaly(&ev, 43, "payments", "latency_p99", STORE_SEVERITY_CRITICAL, t0 + 35 * MIN_MS,
		    t0 + 40 * MIN_MS, 400, 5);
	evb_finish(&ev);
	summary_build(&ev, &all, &s);
	cr_assert_eq(s.nincidents, 2);
	cr_expect_eq(s.incidents[0].nanomalies, 2);
	cr_expect_eq(s.incidents[0].ended_ms, t0 + 5 * MIN_MS);
	cr_expect_eq(s.incidents[1].nanomalies, 1);
	cr_expect_eq(s.incidents[1].id, 43);
	summary_release(&s);
	evidence_release(&ev);
}

Test(summary, puts_each_action_in_its_incident_and_the_rest_apart)
{
	int64_t t0 = NOW_MS - 40 * MIN_MS;
	struct evidence ev;
	struct summary s;
	json_t *doc, *inc, *acts;
	char *md;

	shop(&ev);
	evb_anomaly(&ev, 51, "payments", "error_rate", STORE_SEVERITY_CRITICAL, t0, t0 + 5 * MIN_MS,
		    0.5, 0.001);
	evb_anomaly(&ev, 52, "orders", "error_rate", STORE_SEVERITY_WARNING, t0 + 20000,
		    t0 + 5 * MIN_MS, 0.3, 0.001);
	/* the breaker while it lasted, and its closing 3 minutes after the end */
	evb_action(&ev, 7, "payments", "circuit_breaker", "payments-breaker",
		   STORE_ACTION_SUCCEEDED, t0 + 30000);
	evb_action(&ev, 8, "payments", "circuit_breaker", "payments-breaker",
		   STORE_ACTION_SUCCEEDED, t0 + 8 * MIN_MS);
	/* a manual restart of users long after: no incident */
	evb_action(&ev, 9, "users", "restart", "", STORE_ACTION_FAILED, t0 + 30 * MIN_MS);
	evb_finish(&ev);
	summary_build(&ev, &all, &s);
	cr_assert_eq(s.nincidents, 1);
	cr_assert_eq(s.incidents[0].nactions, 2);
	cr_expect_eq(ev.actions[s.incidents[0].actions[0]].id, 7);
	cr_expect_eq(ev.actions[s.incidents[0].actions[1]].id, 8);
	cr_assert_eq(s.nother_actions, 1);
	cr_expect_eq(ev.actions[s.other_actions[0]].id, 9);
	md = markdown(&s, &ev, &all);
	cr_expect(strstr(md, "**prp did:** circuit_breaker on payments (policy payments-breaker): "
			     "succeeded; circuit_breaker on payments"),
		  "%s", md);
	cr_expect(strstr(md, "prp also ran 1 action outside incidents: restart on users (by "
			     "hand): failed."),
		  "%s", md);
	cr_expect(strstr(md, "- **Now:** resolved"), "%s", md);
	doc = summary_json(&s, &ev);
	cr_assert(doc);
	inc = json_array_get(json_object_get(doc, "incidents"), 0);
	acts = json_object_get(inc, "actions");
	cr_assert_eq(json_array_size(acts), 2);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(acts, 0), "status")),
			 "succeeded");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(acts, 0), "action")),
			 "circuit_breaker");
	cr_expect_str_eq(json_string_value(json_object_get(inc, "status")), "resolved");
	cr_expect_str_eq(json_string_value(json_object_get(inc, "first_service")), "payments");
	cr_expect_eq(json_real_value(json_object_get(inc, "duration_s")), 300.0);
	cr_expect_eq(json_array_size(json_object_get(doc, "other_actions")), 1);
	cr_expect_eq(json_integer_value(json_object_get(doc, "anomaly_count")), 2);
	json_decref(doc);
	free(md);
	summary_release(&s);
	evidence_release(&ev);
}

Test(summary, tells_the_kernel_signals_that_rose)
{
	int64_t t0 = NOW_MS - 10 * MIN_MS;
	struct evidence ev;
	struct evidence_service *orders;
	struct summary s;
	bool found = false;

	evb_init(&ev, NOW_MS, SPAN_MS);
	orders = evb_service(&ev, "orders", &calm, &calm);
	/* 1800 refused connects in the hour (30/min), none before */
	evb_errno(orders, "ECONNREFUSED", "connect", 1800, 0);
	/* a steady trickle of EAGAIN: not a signal */
	evb_errno(orders, "EAGAIN", "read", 600, 600);
	orders->span.tcp.connect_failures = 1800;
	evb_anomaly(&ev, 61, "orders", "error_rate", STORE_SEVERITY_CRITICAL, t0, 0, 0.6, 0.001);
	evb_finish(&ev);
	summary_build(&ev, &all, &s);
	cr_assert_eq(s.nincidents, 1);
	for (size_t i = 0; i < s.incidents[0].nsignals; i++) {
		const struct summary_signal *sg = &s.incidents[0].signals[i];

		cr_expect_null(strstr(sg->text, "EAGAIN"), "%s", sg->text);
		if (!strcmp(sg->text, "orders ECONNREFUSED on connect 30/min vs 0/min before"))
			found = true;
	}
	cr_expect(found);
	cr_expect_eq(s.incidents[0].nsignals, 3); /* error rate, ECONNREFUSED, failed connects */
	summary_release(&s);
	evidence_release(&ev);
}

Test(summary, keeps_only_the_services_asked_for)
{
	const char *const only[] = { "users" };
	struct summary_options o = { .services = only, .nservices = 1, .range_text = "2h" };
	int64_t t0 = NOW_MS - 30 * MIN_MS;
	struct evidence ev;
	struct summary s;
	char *md;

	shop(&ev);
	evb_anomaly(&ev, 71, "payments", "error_rate", STORE_SEVERITY_CRITICAL, t0, 0, 0.4, 0.001);
	evb_action(&ev, 5, "payments", "restart", "p", STORE_ACTION_SUCCEEDED, t0 + 1000);
	evb_finish(&ev);
	summary_build(&ev, &o, &s);
	cr_expect_eq(s.nincidents, 0);
	cr_expect_eq(s.nother_actions, 0);
	cr_expect_eq(s.services_watched, 1);
	md = markdown(&s, &ev, &o);
	cr_expect_str_eq(md, "No incidents in the last 2h on users: 1 service watched, within its "
			     "baseline.");
	free(md);
	summary_release(&s);
	o.services = (const char *const[]){ "payments", "users" };
	o.nservices = 2;
	summary_build(&ev, &o, &s);
	cr_expect_eq(s.nincidents, 1);
	cr_expect_eq(s.incidents[0].nactions, 1);
	summary_release(&s);
	evidence_release(&ev);
}

Test(summary, counts_and_shows_the_newest_incidents_first)
{
	struct evidence ev;
	struct summary s;
	json_t *doc;
	char *md, *task;

	shop(&ev);
	/* 7 separate incidents, 5 minutes apart */
	for (int i = 0; i < 7; i++)
		evb_anomaly(&ev, 100 + i, "users", "latency_p99",
			    i == 6 ? STORE_SEVERITY_CRITICAL : STORE_SEVERITY_WARNING,
			    NOW_MS - (50 - 5 * i) * MIN_MS, NOW_MS - (50 - 5 * i - 1) * MIN_MS, 80,
			    10);
	evb_finish(&ev);
	summary_build(&ev, &all, &s);
	cr_assert_eq(s.nincidents, 7);
	md = markdown(&s, &ev, &all);
	cr_expect(strstr(md, "**7 incidents in the last 1h** (0 open, 7 resolved; 1 critical, 6 "
			     "warning), affecting users; 3 services watched."),
		  "%s", md);
	cr_expect(strstr(md, "### 1. users: critical, resolved"), "%s", md);
	cr_expect(strstr(md, "...and 2 older incidents (see `incidents`)."), "%s", md);
	doc = summary_json(&s, &ev);
	cr_expect_eq(json_integer_value(json_object_get(doc, "incident_count")), 7);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(doc, "severity_breakdown"),
							"warning")),
		     6);
	cr_expect_str_eq(
		json_string_value(json_array_get(json_object_get(doc, "affected_services"), 0)),
		"users");
	task = summary_llm_task(&all, md);
	cr_expect(strstr(task, "last 1h"));
	cr_expect(strstr(task, md));
	free(task);
	json_decref(doc);
	free(md);
	summary_release(&s);
	evidence_release(&ev);
}
