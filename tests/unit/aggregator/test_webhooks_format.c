/*
 * What a webhook sends and what it may be (aggregator/webhooks/
 * webhooks_format.c, webhooks_check.c, and the backoff of
 * webhooks_send.c): the json body is the event byte for byte, Slack gets
 * one line, PagerDuty an Events API v2 event whose trigger and resolve
 * share a dedup key; URLs, headers and event lists are checked with the
 * field named; the backoff doubles up to its cap with a bounded jitter.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/webhooks/webhooks_check.h"
#include "aggregator/webhooks/webhooks_format.h"
#include "aggregator/webhooks/webhooks_send.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"

TestSuite(webhooks_format, .fini = test_no_leaks);

/* 2026-11-27T10:00:00.123Z */
#define AT_MS 1795773600123ll

/* An event as the bus would have it, with @data (taken). */
static struct webhooks_event event(enum bus_type type, enum store_severity sev, const char *service,
				   json_t *data, char **json)
{
	*json = webhooks_format_event_json(type, AT_MS, data);
	json_decref(data);
	cr_assert_not_null(*json);
	return (struct webhooks_event){ .id = 7,
					.type = type,
					.severity = sev,
					.tenant = "default",
					.service = service,
					.json = *json,
					.json_len = strlen(*json) };
}

static json_t *anomaly(double current, double mean)
{
	return json_pack("{s:I, s:s, s:s, s:f, s:{s:f, s:f, s:f}, s:s}", "id", (json_int_t)12,
			 "service", "payments", "metric", "latency_p99", "current_value", current,
			 "expected_range", "min", 100.0, "max", 140.0, "mean", mean, "severity",
			 "critical");
}

/* The body of @e in @format, parsed. */
static json_t *body_of(int format, const char *routing_key, const struct webhooks_event *e)
{
	size_t len;
	char *body = webhooks_format_body(format, routing_key, e, &len);
	json_t *doc;

	cr_assert_not_null(body);
	cr_assert_eq(len, strlen(body));
	doc = json_loads(body, 0, NULL);
	cr_assert_not_null(doc, "%s", body);
	free(body);
	return doc;
}

Test(webhooks_format, the_event_json_is_the_buses_and_sent_as_it_is)
{
	char *json;
	struct webhooks_event e = event(BUS_ANOMALY_DETECTED, STORE_SEVERITY_CRITICAL, "payments",
					anomaly(350, 120), &json);
	size_t len;
	char *body = webhooks_format_body(STORE_WEBHOOK_JSON, NULL, &e, &len);
	json_t *doc = json_loads(json, 0, NULL);

	cr_assert_eq(len, e.json_len);
	cr_assert_eq(memcmp(body, json, len), 0, "byte for byte");
	cr_assert_str_eq(jget_str(doc, "event"), "anomaly.detected");
	cr_assert_str_eq(jget_str(doc, "timestamp"), "2026-11-27T10:00:00.123Z");
	cr_assert_eq(jget_num(json_object_get(doc, "data"), "current_value"), 350);
	cr_assert_eq(json_object_size(doc), 3, "event, timestamp, data");
	json_decref(doc);
	free(body);
	free(json);
}

Test(webhooks_format, slack_gets_one_line)
{
	char *json;
	struct webhooks_event e = event(BUS_ANOMALY_DETECTED, STORE_SEVERITY_CRITICAL, "payments",
					anomaly(350, 120), &json);
	json_t *doc = body_of(STORE_WEBHOOK_SLACK, NULL, &e);

	cr_assert_str_eq(jget_str(doc, "text"),
			 "[critical] anomaly.detected: payments latency_p99 = 350 (expected 120)");
	cr_assert_eq(json_object_size(doc), 1, "only text");
	json_decref(doc);
	free(json);
}

Test(webhooks_format, summaries_of_each_type)
{
	static const struct {
		enum bus_type type;
		const char *data, *want;
	} cases[] = {
		{ BUS_INCIDENT_STARTED, "{\"service\":\"orders\",\"metric\":\"error_rate\"}",
		  "[warning] incident.started: orders incident started on error_rate" },
		{ BUS_INCIDENT_RESOLVED, "{\"duration_s\":90}",
		  "[warning] incident.resolved: orders incident resolved after 90 s" },
		{ BUS_PREDICTION_BREACH,
		  "{\"metric\":\"latency_p99\",\"current\":300,\"threshold\":500,\"breach_in_s\":120}",
		  "[warning] prediction.breach: orders latency_p99 = 300, predicted to cross 500 in "
		  "120 s" },
		{ BUS_ACTION_FAILED,
		  "{\"action\":\"restart\",\"status\":\"failed\",\"policy_name\":\"p1\",\"reason\":"
		  "\"timeout\"}",
		  "[warning] action.failed: orders restart failed (policy p1): timeout" },
		{ BUS_POLICY_CHANGED, "{\"name\":\"p1\",\"change\":\"updated\"}",
		  "[warning] policy.changed: orders policy p1 updated" },
		{ BUS_WEBHOOK_TEST, "{\"message\":\"hello\"}",
		  "[warning] webhook.test: orders: hello" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *data = json_loads(cases[i].data, 0, NULL);
		char *json, *line;
		struct webhooks_event e = event(cases[i].type, STORE_SEVERITY_WARNING, "orders",
						json_incref(data), &json);

		line = webhooks_format_summary(&e, data);
		cr_assert_str_eq(line, cases[i].want);
		free(line);
		json_decref(data);
		free(json);
	}
}

Test(webhooks_format, pagerduty_triggers_and_resolves_the_same_problem)
{
	char *j1, *j2;
	struct webhooks_event on = event(BUS_ANOMALY_DETECTED, STORE_SEVERITY_CRITICAL, "payments",
					 anomaly(350, 120), &j1);
	struct webhooks_event off = event(BUS_ANOMALY_RESOLVED, STORE_SEVERITY_CRITICAL, "payments",
					  anomaly(118, 120), &j2);
	json_t *a = body_of(STORE_WEBHOOK_PAGERDUTY, "R0UT1NG", &on);
	json_t *b = body_of(STORE_WEBHOOK_PAGERDUTY, "R0UT1NG", &off);
	json_t *p = json_object_get(a, "payload");

	cr_assert_str_eq(jget_str(a, "routing_key"), "R0UT1NG");
	cr_assert_str_eq(jget_str(a, "event_action"), "trigger");
	cr_assert_str_eq(jget_str(b, "event_action"), "resolve");
	cr_assert_str_eq(jget_str(a, "dedup_key"), jget_str(b, "dedup_key"));
	cr_assert_str_eq(jget_str(a, "dedup_key"), "prp/default/payments/latency_p99");
	cr_assert_str_eq(jget_str(p, "summary"),
			 "[critical] anomaly.detected: payments latency_p99 = 350 (expected 120)");
	cr_assert_str_eq(jget_str(p, "source"), "payments");
	cr_assert_str_eq(jget_str(p, "severity"), "critical");
	cr_assert_str_eq(jget_str(p, "timestamp"), "2026-11-27T10:00:00.123Z");
	cr_assert_str_eq(jget_str(p, "component"), "latency_p99");
	cr_assert_eq(jget_int(json_object_get(p, "custom_details"), "id"), 12);
	json_decref(a);
	json_decref(b);
	free(j1);
	free(j2);
}

Test(webhooks_format, pagerduty_severities_and_a_source_without_a_service)
{
	static const enum store_severity sev[] = { STORE_SEVERITY_INFO, STORE_SEVERITY_WARNING,
						   STORE_SEVERITY_CRITICAL };
	static const char *const names[] = { "info", "warning", "critical" };

	for (int i = 0; i < 3; i++) {
		char *json;
		struct webhooks_event e = event(BUS_POLICY_CHANGED, sev[i], "",
						json_pack("{s:s}", "name", "p"), &json);
		json_t *doc = body_of(STORE_WEBHOOK_PAGERDUTY, "k", &e);
		json_t *p = json_object_get(doc, "payload");

		cr_assert_str_eq(jget_str(p, "severity"), names[i]);
		cr_assert_str_eq(jget_str(p, "source"), "prp");
		cr_assert_str_eq(jget_str(doc, "event_action"), "trigger");
		json_decref(doc);
		free(json);
	}
}

Test(webhooks_format, a_body_of_an_event_that_is_not_json_is_refused)
{
	struct webhooks_event e = { .type = BUS_ANOMALY_DETECTED,
				    .tenant = "t",
				    .service = "",
				    .json = "nope",
				    .json_len = 4 };
	size_t len;

	cr_assert_null(webhooks_format_body(STORE_WEBHOOK_SLACK, NULL, &e, &len));
	cr_assert_null(webhooks_format_body(STORE_WEBHOOK_PAGERDUTY, "k", &e, &len));
	cr_assert_eq(webhooks_format_find("slack"), STORE_WEBHOOK_SLACK);
	cr_assert_eq(webhooks_format_find("xml"), -1);
	cr_assert_null(webhooks_format_name(9));
}

static void url_bad(const char *url, const char *why)
{
	char err[256] = "";

	cr_assert_eq(webhooks_check_url(url, err, sizeof(err)), -EINVAL, "%s", url ? url : "NULL");
	cr_assert(!strncmp(err, "url: ", 5), "%s: %s", url, err);
	cr_assert(strstr(err, why), "%s: '%s' does not say '%s'", url, err, why);
}

Test(webhooks_format, urls)
{
	char err[256], *longest = malloc(STORE_WEBHOOK_URL_MAX + 2);

	cr_assert_eq(webhooks_check_url("http://127.0.0.1:8080/hook", err, sizeof(err)), 0);
	cr_assert_eq(webhooks_check_url("HTTPS://hooks.slack.com/services/T0/B0/X?a=1", err,
					sizeof(err)),
		     0);
	cr_assert_eq(webhooks_check_url("http://[::1]:9/x", err, sizeof(err)), 0);
	url_bad(NULL, "required");
	url_bad("", "required");
	url_bad("ftp://example.com/x", "http");
	url_bad("file:///etc/passwd", "http");
	url_bad("example.com/hook", "http");
	url_bad("http://", "");
	url_bad("http:///path", "");
	url_bad("http://exa mple.com/", "space");
	url_bad("http://example.com/\n", "control");
	url_bad("http://example.com/#frag", "fragment");
	memcpy(longest, "http://x.io/", 12);
	memset(longest + 12, 'a', STORE_WEBHOOK_URL_MAX - 11);
	longest[STORE_WEBHOOK_URL_MAX + 1] = '\0';
	url_bad(longest, "longer");
	longest[STORE_WEBHOOK_URL_MAX] = '\0';
	cr_assert_eq(webhooks_check_url(longest, err, sizeof(err)), 0, "%s", err);
	free(longest);
}

static void headers_bad(const char *json, const char *why)
{
	json_t *h = json_loads(json, 0, NULL);
	char err[256] = "";

	cr_assert_not_null(h, "%s", json);
	cr_assert_eq(webhooks_check_headers(h, err, sizeof(err)), -EINVAL, "%s", json);
	cr_assert(!strncmp(err, "headers", 7), "%s: %s", json, err);
	cr_assert(strstr(err, why), "%s: '%s' does not say '%s'", json, err, why);
	json_decref(h);
}

Test(webhooks_format, headers)
{
	json_t *ok = json_pack("{s:s, s:s}", "Authorization", "Bearer x", "X-Team", "ops");
	char err[256];

	cr_assert_eq(webhooks_check_headers(ok, err, sizeof(err)), 0, "%s", err);
	json_decref(ok);
	headers_bad("[]", "object");
	headers_bad("{\"X-Webhook-Signature\": \"sha256=00\"}", "X-Webhook-Signature");
	headers_bad("{\"x-webhook-id\": \"1\"}", "x-webhook-id");
	headers_bad("{\"content-type\": \"text/plain\"}", "content-type");
	headers_bad("{\"Host\": \"evil\"}", "Host");
	headers_bad("{\"A\": 1}", "headers.A");
	headers_bad("{\"A\": \"\"}", "headers.A");
	headers_bad("{\"A\": \"x\\r\\nB: y\"}", "one line");
	headers_bad("{\"Bad Name\": \"x\"}", "Bad Name");
	headers_bad("{\"a:b\": \"x\"}", "a:b");
	cr_assert(webhooks_check_reserved("X-WEBHOOK-TIMESTAMP"));
	cr_assert_not(webhooks_check_reserved("X-Webhooks"));
}

Test(webhooks_format, event_lists)
{
	json_t *v = json_loads("[\"anomaly.detected\", \"webhook.test\"]", 0, NULL);
	char err[256] = "";
	unsigned mask;

	cr_assert_eq(webhooks_check_events(v, &mask, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(mask, (1u << BUS_ANOMALY_DETECTED) | (1u << BUS_WEBHOOK_TEST));
	json_decref(v);
	v = json_loads("[\"*\"]", 0, NULL);
	cr_assert_eq(webhooks_check_events(v, &mask, err, sizeof(err)), 0);
	cr_assert_eq(mask, 0, "all");
	json_decref(v);
	static const char *const bad[] = { "[]",
					   "{}",
					   "[\"anomaly.exploded\"]",
					   "[1]",
					   "[\"*\", \"anomaly.detected\"]",
					   "[\"action.failed\", \"action.failed\"]" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = json_loads(bad[i], 0, NULL);
		cr_assert_eq(webhooks_check_events(v, &mask, err, sizeof(err)), -EINVAL, "%s",
			     bad[i]);
		cr_assert(!strncmp(err, "events", 6), "%s: %s", bad[i], err);
		json_decref(v);
	}
}

Test(webhooks_format, the_backoff_doubles_to_its_cap_within_the_jitter)
{
	cr_assert_eq(webhooks_send_backoff_ms(1, 1000, 600000, 0.5), 1000);
	cr_assert_eq(webhooks_send_backoff_ms(2, 1000, 600000, 0.5), 2000);
	cr_assert_eq(webhooks_send_backoff_ms(4, 1000, 600000, 0.5), 8000);
	cr_assert_eq(webhooks_send_backoff_ms(20, 1000, 600000, 0.5), 600000, "capped");
	cr_assert_eq(webhooks_send_backoff_ms(4000000000u, 1000, 600000, 0.5), 600000);
	cr_assert_eq(webhooks_send_backoff_ms(1, 1000, 600000, 0.0), 800, "-20%%");
	cr_assert_leq(webhooks_send_backoff_ms(1, 1000, 600000, 0.999999), 1200, "+20%%");
	cr_assert_geq(webhooks_send_backoff_ms(1, 1000, 600000, 0.999999), 1199);
}
