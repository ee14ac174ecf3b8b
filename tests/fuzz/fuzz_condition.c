/*
 * libFuzzer target for condition_parse(): policy conditions come from
 * anyone who may POST /policies. The first bytes of the input choose the
 * facts (metric values, NaN among them, open anomalies, severity, predicted
 * breach), the rest is the text. Whatever parses must format to a text that
 * parses again and formats the same (the canonical form is stable), and
 * must evaluate to the same result in both trees. Anything else, and ASan
 * or UBSan findings, abort.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/policy/condition.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FACT_BYTES (CONDITION_METRIC_COUNT + 3)

static double value_of(uint8_t b)
{
	static const double special[] = { NAN, INFINITY, -INFINITY, 0, -0.0, 1e300 };

	if (b < 6)
		return special[b];
	return (b - 6) / 10.0; /* 0 .. 25: ratios, latencies and counts all get hit */
}

static void facts_of(const uint8_t *d, struct condition_facts *f)
{
	condition_facts_init(f);
	for (size_t i = 0; i < CONDITION_METRIC_COUNT; i++) {
		f->metric[i] = value_of(d[i]);
		f->anomaly[i] = d[i] & 1;
	}
	f->anomaly_other = d[CONDITION_METRIC_COUNT] & 1;
	f->max_severity = (int)(d[CONDITION_METRIC_COUNT + 1] % 4) - 1;
	f->predicted_breach_s = value_of(d[CONDITION_METRIC_COUNT + 2]) * 60;
}

static void count_atom(const char *atom, void *arg)
{
	if (!*atom)
		abort();
	++*(size_t *)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct condition_facts f;
	struct condition_error ce;
	struct condition *c, *again;
	char *text, *canon, *canon2;
	size_t n = 0;

	if (size < FACT_BYTES)
		return 0;
	facts_of(data, &f);
	text = malloc(size - FACT_BYTES + 1);
	if (!text)
		return 0;
	memcpy(text, data + FACT_BYTES, size - FACT_BYTES);
	text[size - FACT_BYTES] = '\0';
	if (condition_parse(text, &c, &ce)) {
		if (c || ce.column < 1 || !ce.message[0])
			abort();
		free(text);
		return 0;
	}
	canon = condition_to_string(c);
	if (condition_parse(canon, &again, &ce))
		abort(); /* the canonical text of a condition must parse */
	canon2 = condition_to_string(again);
	if (strcmp(canon, canon2) || condition_format(c, NULL, 0) != strlen(canon))
		abort();
	if (condition_eval(c, &f) != condition_eval(again, &f))
		abort();
	if (condition_matched(c, &f, count_atom, &n) != n || (condition_eval(c, &f) && !n))
		abort(); /* a condition that holds holds through at least one atom */
	free(canon2);
	free(canon);
	condition_free(again);
	condition_free(c);
	free(text);
	return 0;
}
