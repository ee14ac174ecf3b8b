/*
 * libFuzzer target for query_parse(): the query strings of every API route
 * come from anyone who can reach the port. The input is split like a query
 * string (& between parameters, = between name and value) and parsed with
 * every key the API knows. Whatever it accepts must be consistent: since
 * before until, a range within the maximum, a limit within 1..1000, a step
 * of at least a second. Anything else, and ASan or UBSan findings, abort.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/http/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARAMS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned all = QUERY_SINCE | QUERY_UNTIL | QUERY_LIMIT | QUERY_STEP | QUERY_CURSOR;
	struct req_param params[MAX_PARAMS];
	char *text = malloc(size + 1), *p, err[256];
	struct query q;
	size_t n = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (p = text; p && n < MAX_PARAMS;) {
		char *amp = strchr(p, '&'), *eq;

		if (amp)
			*amp = '\0';
		eq = strchr(p, '=');
		if (eq)
			*eq = '\0';
		params[n].key = p;
		params[n].value = eq ? eq + 1 : "";
		n++;
		p = amp ? amp + 1 : NULL;
	}
	for (unsigned keys = 0; keys <= all; keys += QUERY_SINCE) {
		if (query_parse(&q, params, n, keys, 1800000000000ll, 300000, err, sizeof(err)))
			continue;
		if ((keys & (QUERY_SINCE | QUERY_UNTIL)) &&
		    (q.since_ms >= q.until_ms || q.until_ms - q.since_ms > QUERY_RANGE_MAX_MS))
			abort();
		if ((keys & QUERY_LIMIT) && (q.limit < 1 || q.limit > QUERY_LIMIT_MAX))
			abort();
		if ((keys & QUERY_STEP) && (keys & (QUERY_SINCE | QUERY_UNTIL)) && q.step_ms < 1000)
			abort();
	}
	free(text);
	return 0;
}
