/*
 * Policy documents (aggregator/policy/policy_doc.c, policy_action.c): the
 * example of API.md, the earlier single-action form, JSON bodies, defaults,
 * the round trip through policy_to_json(), and every refusal with its line,
 * column and field.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/policy/policy_doc.h"
#include "tests/lib/leakcheck.h"

TestSuite(policy_doc, .fini = test_no_leaks);

static struct policy_doc *parse_ok(const char *text)
{
	struct policy_error pe = { 0 };
	struct policy_doc *doc = NULL;

	cr_assert_eq(policy_doc_parse(text, strlen(text), &doc, &pe), 0, "%s", pe.text);
	return doc;
}

static void expect_error(const char *text, int line, int column, const char *field,
			 const char *part)
{
	struct policy_error pe = { 0 };
	struct policy_doc *doc = (struct policy_doc *)1;
	char prefix[64];

	cr_expect_eq(policy_doc_parse(text, strlen(text), &doc, &pe), -EINVAL, "accepted:\n%s",
		     text);
	cr_expect_null(doc);
	cr_expect_eq(pe.line, line, "%s (want line %d)", pe.text, line);
	cr_expect_eq(pe.column, column, "%s (want column %d)", pe.text, column);
	cr_expect_str_eq(pe.field, field, "%s", pe.text);
	cr_expect(strstr(pe.message, part) != NULL, "'%s' lacks '%s'", pe.text, part);
	snprintf(prefix, sizeof(prefix), "%d:%d: field '%s': ", line, column, field);
	if (*field)
		cr_expect(!strncmp(pe.text, prefix, strlen(prefix)), "%s", pe.text);
}

static const char api_example[] =
	"policies:\n"
	"  - name: payments_high_error_rate      # unique; also the cooldown key\n"
	"    service: payments\n"
	"    condition: \"error_rate > 0.2\"\n"
	"    for: 10s\n"
	"    actions:\n"
	"      - type: circuit_breaker\n"
	"        parameters: {state: open, duration: 60s}\n"
	"      - type: alert\n"
	"        parameters: {channel: webhook, severity: critical, message: \"{service} failing: "
	"{reason}\"}\n"
	"    cooldown: 5m\n"
	"    enabled: true\n"
	"    dry_run: false\n"
	"  - name: slow.checkout-p99\n"
	"    services: [\"*\"]\n"
	"    condition: (error_rate > 5% or anomaly(latency_p99)) and severity >= warning\n"
	"    action: restart_pod\n"
	"    description: restart when slow\n";

Test(policy_doc, the_example_of_the_api)
{
	struct policy_doc *doc = parse_ok(api_example);
	const struct policy *p = &doc->policies[0], *q = &doc->policies[1];

	cr_assert_eq(doc->n, 2);
	cr_expect_str_eq(p->name, "payments_high_error_rate");
	cr_assert_eq(p->nservices, 1);
	cr_expect_str_eq(p->services[0], "payments");
	cr_expect_str_eq(p->condition_text, "error_rate > 0.2");
	cr_expect_eq(p->for_ms, 10000);
	cr_expect_eq(p->cooldown_ms, 300000);
	cr_expect(p->enabled);
	cr_expect(!p->dry_run);
	cr_expect_null(p->description);
	cr_assert_eq(p->nactions, 2);
	cr_expect_eq(p->actions[0].type, POLICY_ACTION_CIRCUIT_BREAKER);
	cr_expect(p->actions[0].breaker.open);
	cr_expect_eq(p->actions[0].breaker.duration_ms, 60000);
	cr_expect_str_eq(p->actions[0].params_json, "{\"duration\":60,\"state\":\"open\"}");
	cr_expect_eq(p->actions[1].type, POLICY_ACTION_ALERT);
	cr_expect_str_eq(p->actions[1].alert.channel, "webhook");
	cr_expect_eq(p->actions[1].alert.severity, CONDITION_SEVERITY_CRITICAL);
	cr_expect_str_eq(p->actions[1].alert.message, "{service} failing: {reason}");
	cr_expect_eq(p->line, 2);
	cr_expect_eq(p->column, 5);

	cr_expect_str_eq(q->name, "slow.checkout-p99");
	cr_expect_str_eq(q->services[0], "*");
	cr_expect(policy_applies_to(q, "anything"));
	cr_expect(policy_applies_to(p, "payments"));
	cr_expect(!policy_applies_to(p, "orders"));
	cr_expect_eq(q->for_ms, 0);
	cr_expect_eq(q->cooldown_ms, POLICY_DEFAULT_COOLDOWN_MS);
	cr_assert_eq(q->nactions, 1);
	cr_expect_eq(q->actions[0].type, POLICY_ACTION_RESTART);
	cr_expect_str_eq(q->actions[0].params_json, "{}");
	cr_expect_str_eq(q->description, "restart when slow");
	policy_doc_free(doc);
}

Test(policy_doc, the_earlier_single_form_and_defaults)
{
	struct policy_doc *doc = parse_ok("name: scale-orders\n"
					  "service: orders\n"
					  "condition: latency_p99 > 500ms\n"
					  "action: scale_up\n"
					  "cooldown: 30\n"
					  "dry_run: yes\n");
	const struct policy *p = &doc->policies[0];

	cr_assert_eq(doc->n, 1);
	cr_expect_eq(p->cooldown_ms, 30000);
	cr_expect(p->dry_run);
	cr_expect_eq(p->actions[0].type, POLICY_ACTION_SCALE);
	cr_expect_eq(p->actions[0].scale.scale_up_by, 1);
	cr_expect_str_eq(p->actions[0].params_json, "{\"scale_up_by\":1}");
	cr_expect_str_eq(policy_action_type_name(p->actions[0].type), "scale");
	policy_doc_free(doc);
}

Test(policy_doc, a_json_body)
{
	struct policy_doc *doc = parse_ok(
		"{\"name\": \"rl\", \"services\": [\"users\", \"orders\"], \"condition\": "
		"\"request_rate > 1000\", \"actions\": [{\"type\": \"rate_limit\", \"parameters\": "
		"{\"limit\": 500, \"window\": \"10s\"}}, {\"type\": \"webhook\", \"parameters\": "
		"{\"url\": \"https://hooks.example/x\"}}, {\"type\": \"scale\", \"parameters\": "
		"{\"replicas\": 4, \"min\": 2, \"max\": 8}}, {\"type\": \"exec\", \"parameters\": "
		"{\"command\": \"/usr/bin/true\"}}], \"enabled\": false, \"for\": 0.5}");
	const struct policy *p = &doc->policies[0];

	cr_assert_eq(p->nservices, 2);
	cr_expect_str_eq(p->services[1], "orders");
	cr_expect(!p->enabled);
	cr_expect_eq(p->for_ms, 500);
	cr_expect_eq(p->actions[0].rate_limit.limit, 500);
	cr_expect_eq(p->actions[0].rate_limit.window_ms, 10000);
	cr_expect_str_eq(p->actions[1].webhook.url, "https://hooks.example/x");
	cr_expect_eq(p->actions[2].scale.replicas, 4);
	cr_expect_str_eq(p->actions[2].params_json, "{\"max\":8,\"min\":2,\"replicas\":4}");
	cr_expect_str_eq(p->actions[3].exec.command, "/usr/bin/true");
	policy_doc_free(doc);
}

Test(policy_doc, policy_to_json_parses_back_to_the_same_policy)
{
	struct policy_doc *doc = parse_ok(api_example), *again;
	json_t *arr = json_array(), *wrapped;
	char *text, *text2;

	for (size_t i = 0; i < doc->n; i++)
		json_array_append_new(arr, policy_to_json(&doc->policies[i]));
	wrapped = json_pack("{s:o}", "policies", arr);
	text = json_dumps(wrapped, JSON_COMPACT | JSON_SORT_KEYS);
	cr_expect(strstr(text, "\"cooldown\":300") && strstr(text, "\"for\":10") &&
			  strstr(text, "\"service\":\"payments\""),
		  "%s", text);
	again = parse_ok(text);
	json_decref(wrapped);
	arr = json_array();
	for (size_t i = 0; i < again->n; i++)
		json_array_append_new(arr, policy_to_json(&again->policies[i]));
	wrapped = json_pack("{s:o}", "policies", arr);
	text2 = json_dumps(wrapped, JSON_COMPACT | JSON_SORT_KEYS);
	cr_expect_str_eq(text2, text);
	free(text);
	free(text2);
	json_decref(wrapped);
	policy_doc_free(doc);
	policy_doc_free(again);
}

Test(policy_doc, empty_documents_hold_no_policy)
{
	const char *empty[] = { "", "# nothing\n", "policies: []\n", "policies:\n", "[]" };

	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		struct policy_doc *doc = parse_ok(empty[i]);

		cr_expect_eq(doc->n, 0, "'%s'", empty[i]);
		policy_doc_free(doc);
	}
	policy_doc_free(NULL);
}

#define HEAD "policies:\n  - name: a\n    service: s\n"

Test(policy_doc, every_refusal_gives_line_column_and_field)
{
	expect_error("policies: [\n", 2, 1, "", "invalid YAML");
	expect_error(HEAD "    condition: error_rate > 2\n    action: restart\n", 4, 29,
		     "policies[0].condition", "ratio from 0 to 1");
	expect_error(HEAD "    condition: \"error_rate > 0.1 and bogus > 1\"\n    action: restart\n",
		     4, 38, "policies[0].condition", "unknown metric 'bogus'");
	expect_error(HEAD "    condition: >\n      error_rate >\n    action: restart\n", 4, 16,
		     "policies[0].condition", "column 14 of the condition: expected a number");
	expect_error(HEAD "    condition: anomaly\n    action: reboot\n", 5, 13,
		     "policies[0].action", "unknown action 'reboot'");
	expect_error(HEAD "    condition: anomaly\n    action: restart\n    colour: red\n", 6, 5,
		     "policies[0]", "unknown key 'colour'");
	expect_error(HEAD "    condition: anomaly\n    action: restart\n    name: b\n", 6, 5,
		     "policies[0].name", "duplicate key (first at line 2)");
	expect_error("policies:\n  - service: s\n    condition: anomaly\n    action: restart\n", 2,
		     5, "policies[0].name", "missing");
	expect_error(HEAD "    action: restart\n", 2, 5, "policies[0].condition", "missing");
	expect_error(HEAD "    condition: anomaly\n", 2, 5, "policies[0].action", "missing");
	expect_error("policies:\n  - name: a\n    condition: anomaly\n    action: restart\n", 2, 5,
		     "policies[0].service", "missing");
	expect_error("policies:\n  - name: a b\n", 2, 11, "policies[0].name", "is not a name");
	expect_error(HEAD "    condition: anomaly\n    action: restart\n"
			  "  - name: a\n    service: s\n    condition: anomaly\n    action: restart\n",
		     6, 5, "policies[1].name", "duplicate name 'a' (first at line 2)");
	expect_error(HEAD "    condition: anomaly\n    action: restart\n    for: soon\n", 6, 10,
		     "policies[0].for", "expected a duration");
	expect_error(HEAD "    condition: anomaly\n    action: restart\n    cooldown: -5\n", 6, 15,
		     "policies[0].cooldown", "expected a duration");
	expect_error(HEAD "    condition: anomaly\n    action: restart\n    enabled: maybe\n", 6,
		     14, "policies[0].enabled", "expected true or false");
	expect_error(HEAD "    condition: anomaly\n    action: restart\n    actions: [alert]\n", 5,
		     13, "policies[0]", "not both");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: rate_limit\n"
			  "        parameters: {limit: 0}\n",
		     7, 29, "policies[0].actions[0].parameters.limit", "must be more than 0");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: rate_limit\n", 6, 9,
		     "policies[0].actions[0].parameters", "needs a limit");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: rate_limit\n"
			  "        parameters: {limit: many}\n",
		     7, 29, "policies[0].actions[0].parameters.limit", "expected a number");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: circuit_breaker\n"
			  "        parameters: {state: ajar}\n",
		     7, 29, "policies[0].actions[0].parameters.state", "expected open or closed");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: circuit_breaker\n"
			  "        parameters: {stat: open}\n",
		     7, 22, "policies[0].actions[0].parameters", "unknown key 'stat'");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: scale\n"
			  "        parameters: {replicas: 2, scale_up_by: 1}\n",
		     7, 21, "policies[0].actions[0].parameters", "not both");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: scale\n"
			  "        parameters: {min: 5, max: 2}\n",
		     7, 21, "policies[0].actions[0].parameters", "min 5 is above max 2");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: scale\n"
			  "        parameters: {replicas: [1]}\n",
		     7, 32, "policies[0].actions[0].parameters.replicas", "expected a string, got a list");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: alert\n"
			  "        parameters: {severity: dire}\n",
		     7, 32, "policies[0].actions[0].parameters.severity", "expected info, warning");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: webhook\n"
			  "        parameters: {url: ftp://x}\n",
		     7, 27, "policies[0].actions[0].parameters.url", "http:// or https://");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: webhook\n", 6, 9,
		     "policies[0].actions[0].parameters", "url or webhook_id");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: exec\n", 6, 9,
		     "policies[0].actions[0].parameters", "needs a command");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - type: restart\n"
			  "        parameters: {force: true}\n",
		     7, 21, "policies[0].actions[0].parameters", "takes no parameters");
	expect_error(HEAD "    condition: anomaly\n    actions:\n      - parameters: {}\n", 6, 9,
		     "policies[0].actions[0].type", "missing");
	expect_error(HEAD "    condition: anomaly\n    actions: []\n", 5, 14,
		     "policies[0].actions", "the list is empty");
	expect_error("policies:\n  - name: a\n    services: [s, \"x y\"]\n", 3, 19,
		     "policies[0].services", "is not a service name");
	expect_error("policies: &p []\nother: *p\n", 2, 8, "", "aliases are not supported");
	expect_error("policies: {}\n", 1, 11, "policies", "expected a list");
	expect_error("- 1\n", 1, 3, "policies[0]", "expected a mapping");
	expect_error("\"just text\"\n", 1, 1, "", "expected a policy");
	expect_error("policies: []\nextra: 1\n", 2, 1, "", "unknown key 'extra'");
	expect_error("a: 1\n---\nb: 2\n", 2, 1, "", "one YAML document");
	expect_error("name: a\nservice: s\ncondition: anomaly\naction: restart\nservices: [t]\n", 2,
		     10, "service", "not both");
	expect_error("{\"name\": \"a\", \"service\": \"s\", \"condition\": \"error_rate >> 1\", "
		     "\"action\": \"restart\"}",
		     1, 57, "condition", "expected a number after '>'");
}

Test(policy_doc, bounds_are_enforced)
{
	struct policy_error pe;
	struct policy_doc *doc;
	size_t cap = POLICY_DOC_MAX_BYTES + 2, len = 0;
	char *text = malloc(cap);

	memset(text, ' ', cap);
	cr_expect_eq(policy_doc_parse(text, POLICY_DOC_MAX_BYTES + 1, &doc, &pe), -E2BIG);
	cr_expect(strstr(pe.text, "larger than 256 KiB") != NULL, "%s", pe.text);

	len = (size_t)sprintf(text, "policies:\n");
	for (int i = 0; i <= POLICY_DOC_MAX_POLICIES; i++)
		len += (size_t)sprintf(text + len,
				       "- {name: p%d, service: s, condition: anomaly, action: alert}\n", i);
	cr_expect_eq(policy_doc_parse(text, len, &doc, &pe), -EINVAL);
	cr_expect(strstr(pe.text, "1002:3: field 'policies': more than 1000 policies") != NULL,
		  "%s", pe.text);

	len = (size_t)sprintf(text, "name: a\nservice: s\ncondition: anomaly\nactions:\n");
	for (int i = 0; i <= POLICY_ACTIONS_MAX; i++)
		len += (size_t)sprintf(text + len, "  - alert\n");
	cr_expect_eq(policy_doc_parse(text, len, &doc, &pe), -EINVAL);
	cr_expect(strstr(pe.text, "21:5: field 'actions': more than 16 actions") != NULL, "%s",
		  pe.text);

	len = 0;
	for (int i = 0; i < 20; i++)
		len += (size_t)sprintf(text + len, "[");
	cr_expect_eq(policy_doc_parse(text, len, &doc, &pe), -EINVAL);
	cr_expect(strstr(pe.text, "nested deeper than 16") != NULL, "%s", pe.text);
	free(text);
}
