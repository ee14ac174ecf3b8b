/*
 * libFuzzer target for policy_doc_parse(): policy documents come from
 * anyone who may POST or PUT /policies, as YAML or JSON. Whatever parses
 * must give, for each policy, API JSON that parses back to a policy with
 * the same API JSON (policy_doc.h promises the round trip); a refusal must
 * say where and why. Anything else, and ASan or UBSan findings, abort.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/policy/policy_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *api_json(const struct policy *p)
{
	json_t *o = policy_to_json(p);
	char *text;

	if (!o)
		abort();
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		abort();
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_doc *doc = NULL, *again = NULL;
	struct policy_error err;

	if (policy_doc_parse((const char *)data, size, &doc, &err)) {
		if (doc || !err.text[0] || !err.message[0])
			abort();
		return 0;
	}
	for (size_t i = 0; i < doc->n; i++) {
		char *text = api_json(&doc->policies[i]), *text2;

		if (policy_doc_parse(text, strlen(text), &again, &err) || again->n != 1)
			abort();
		text2 = api_json(&again->policies[0]);
		if (strcmp(text, text2))
			abort();
		free(text2);
		free(text);
		policy_doc_free(again);
		again = NULL;
	}
	policy_doc_free(doc);
	return 0;
}
