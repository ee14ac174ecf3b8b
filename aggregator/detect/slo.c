/*
 * Per-service objectives (slo.h). Few entries are expected (a handful of
 * services with stricter objectives than the default), so look-ups are a
 * linear scan.
 */
#include "aggregator/detect/slo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/strparse.h"

/* Parses "key=value" pairs separated by ',' into @o. 0 or -EINVAL with @err. */
static int slo_parse_pairs(struct slo_override *o, const char *pairs, char *err, size_t errlen)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(pairs) >= sizeof(buf) || !pairs[0]) {
		snprintf(err, errlen, "expected latency_p99_ms=MS and/or error_rate=RATIO");
		return -EINVAL;
	}
	strcpy(buf, pairs);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (eq)
			*eq = '\0';
		if (eq && !strcmp(tok, "latency_p99_ms") &&
		    !strparse_double(eq + 1, 0.001, 3600000, &o->latency_p99_ms))
			continue;
		if (eq && !strcmp(tok, "error_rate") &&
		    !strparse_double(eq + 1, 0.0001, 1, &o->error_rate))
			continue;
		if (eq)
			*eq = '=';
		snprintf(err, errlen,
			 "'%.64s': expected latency_p99_ms=MS (0.001..3600000) or error_rate=RATIO "
			 "(0.0001..1)",
			 tok);
		return -EINVAL;
	}
	return 0;
}

static int slo_parse(struct slo_override *o, const char *item, char *err, size_t errlen)
{
	const char *colon = strchr(item, ':');
	size_t n = colon ? (size_t)(colon - item) : 0;
	char why[192];

	memset(o, 0, sizeof(*o));
	if (!colon || n == 0 || n >= sizeof(o->service)) {
		snprintf(err, errlen,
			 "slo.service '%.80s': expected SERVICE:latency_p99_ms=MS,error_rate=RATIO",
			 item);
		return -EINVAL;
	}
	memcpy(o->service, item, n);
	o->service[n] = '\0';
	if (slo_parse_pairs(o, colon + 1, why, sizeof(why))) {
		snprintf(err, errlen, "slo.service '%.80s': %s", item, why);
		return -EINVAL;
	}
	return 0;
}

int slo_table_init(struct slo_table *t, double latency_p99_ms, double error_rate,
		   const char *const *items, size_t n, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->latency_p99_ms = latency_p99_ms;
	t->error_rate = error_rate;
	if (!n)
		return 0;
	t->items = xcalloc(n, sizeof(*t->items));
	for (size_t i = 0; i < n; i++) {
		if (slo_parse(&t->items[i], items[i], err, errlen)) {
			slo_table_release(t);
			return -EINVAL;
		}
		for (size_t k = 0; k < i; k++) {
			if (!strcmp(t->items[k].service, t->items[i].service)) {
				snprintf(err, errlen, "slo.service: '%s' is given twice",
					 t->items[i].service);
				slo_table_release(t);
				return -EINVAL;
			}
		}
		t->n++;
	}
	return 0;
}

void slo_table_release(struct slo_table *t)
{
	free(t->items);
	memset(t, 0, sizeof(*t));
}

void slo_table_copy(struct slo_table *dst, const struct slo_table *src)
{
	*dst = *src;
	dst->items = NULL;
	if (src->n) {
		dst->items = xcalloc(src->n, sizeof(*dst->items));
		memcpy(dst->items, src->items, src->n * sizeof(*dst->items));
	}
}

double slo_table_get(const struct slo_table *t, const char *service, enum signal_id sig)
{
	double v = sig == SIGNAL_LATENCY_P99 ? t->latency_p99_ms
		   : sig == SIGNAL_ERROR_RATE ? t->error_rate
					       : 0;

	if (!v)
		return 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct slo_override *o = &t->items[i];

		if (strcmp(o->service, service))
			continue;
		if (sig == SIGNAL_LATENCY_P99 && o->latency_p99_ms)
			return o->latency_p99_ms;
		if (sig == SIGNAL_ERROR_RATE && o->error_rate)
			return o->error_rate;
	}
	return v;
}
