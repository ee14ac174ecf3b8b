/*
 * One-second windows of a service added to an aggregator's in-memory series
 * as an agent's batches would add them, for the tests of what reads the
 * series (the API's routes, the policy engine).
 *
 * Header-only, static inline: it calls series_add(), and the objects of
 * tests/lib/ are linked into every unit test, also those of common/ and
 * agent/ that link no aggregator code.
 */
#ifndef PRP_TESTS_LIB_SERIES_FEED_H
#define PRP_TESTS_LIB_SERIES_FEED_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/series.h"
#include "common/hist.h"
#include "common/window.h"
#include "common/window_wire.h"

/* Fills @w, the window that ends @ago seconds before the last one. */
typedef void series_feed_fn(struct window *w, int ago, void *arg);

/*
 * Adds @seconds one-second windows of @service, from host web-1, to tenant
 * "default" of @s, oldest first, the last one ending just before second
 * @end_s (since the epoch); @fill(w, ago, @arg) fills each.
 */
static inline void series_feed(struct series *s, const char *service, int seconds, int64_t end_s,
			       series_feed_fn *fill, void *arg)
{
	for (int i = seconds - 1; i >= 0; i--) {
		struct window_batch_item item;
		struct window_batch b;
		struct window_set ws;
		struct window *w;

		window_set_init(&ws);
		w = window_set_get(&ws, 1);
		fill(w, i, arg);
		memset(&item, 0, sizeof(item));
		snprintf(item.service, sizeof(item.service), "%s", service);
		item.w = w;
		memset(&b, 0, sizeof(b));
		snprintf(b.host, sizeof(b.host), "web-1");
		b.end_ms = (end_s - i) * 1000 - 1;
		b.interval_ms = 1000;
		b.items = &item;
		b.n = 1;
		series_add(s, "default", &b);
		window_set_release(&ws);
	}
}

/* A steady load on one route: each second, @requests GET @route of which @errors got a 503. */
struct series_feed_http {
	const char *route;
	uint64_t requests;
	uint64_t errors;
	uint64_t latency_ns; /* of every request */
};

/* A series_feed_fn: the load of @arg, a struct series_feed_http, every second alike. */
static inline void series_feed_http(struct window *w, int ago, void *arg)
{
	const struct series_feed_http *l = arg;
	struct window_http *ok = window_http_get(w, "GET", l->route, 200);

	(void)ago;
	ok->count = l->requests - l->errors;
	hist_record_n(&ok->latency_ns, l->latency_ns, ok->count);
	if (l->errors) {
		struct window_http *bad = window_http_get(w, "GET", l->route, 503);

		bad->count = l->errors;
		hist_record_n(&bad->latency_ns, l->latency_ns, l->errors);
	}
}

#endif
