/*
 * libFuzzer target for chat_understand(): chat questions come from anyone
 * who may POST /chat. The first byte picks a previous question (none, or
 * one of each intent), the rest is the query. Whatever comes in, the
 * answer must be a known intent, a service among those given or "", and a
 * span that ends at now and starts before it. Anything else, and ASan or
 * UBSan findings, abort.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/chat_intent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1795771200000ll

static const char *const services[] = { "orders", "users", "payments", "a.b-c_d" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chat_question prev = { 0 }, q;
	char *query;
	bool known = false;

	if (size < 1 || size > CHAT_QUERY_MAX)
		return 0;
	prev.intent = (enum chat_intent)(data[0] % CHAT_INTENT_COUNT);
	snprintf(prev.service, sizeof(prev.service), "%s", services[data[0] % 4]);
	prev.range_given = data[0] & 0x80;
	prev.since_ms = NOW - 60000;
	prev.until_ms = NOW;
	query = strndup((const char *)data + 1, size - 1);
	if (!query)
		return 0;
	chat_understand(query, services, 4, data[0] < 16 ? NULL : &prev, NOW, &q);
	free(query);
	if (q.intent < 0 || q.intent >= CHAT_INTENT_COUNT || q.until_ms > NOW ||
	    q.since_ms >= q.until_ms)
		abort();
	for (int i = 0; i < 4; i++)
		known |= !strcmp(q.service, services[i]);
	if (!known && q.service[0])
		abort();
	return 0;
}
