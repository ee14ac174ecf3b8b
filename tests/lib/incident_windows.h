/*
 * The stored second of a small incident, for tests that read a store the
 * way the API does: orders (web-1, agent-1, tenant default) calling
 * payments, both healthy, or with payments slow and failing. Header-only,
 * static inline: it calls the store, and the objects of tests/lib/ are
 * linked into every unit test, also those that link no aggregator code.
 */
#ifndef PRP_TESTS_LIB_INCIDENT_WINDOWS_H
#define PRP_TESTS_LIB_INCIDENT_WINDOWS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/store/store.h"
#include "common/hist.h"
#include "common/timeutil.h"
#include "common/window.h"
#include "common/window_wire.h"

/*
 * Stores the second ending at @end_ms as frame @seq: orders 50 GET /orders
 * and 50 calls to payments; payments 50 POST /payments. With @bad, orders
 * waits 300 ms, 20 of its calls fail, and payments answers 30 in 280 ms and
 * 20 with 500. Returns store_put_windows()'s result.
 */
static inline int incident_windows_put(struct store *st, uint64_t seq, int64_t end_ms, bool bad)
{
	struct window_batch_item items[2];
	struct window_batch b;
	struct window_set ws;
	struct window *o, *p;
	struct window_http *h;
	struct window_call *c;
	int ret;

	window_set_init(&ws);
	o = window_set_get(&ws, 1);
	h = window_http_get(o, "GET", "/orders", 200);
	h->count = 50;
	hist_record_n(&h->latency_ns, (bad ? 300 : 10) * NSEC_PER_MSEC, 50);
	c = window_call_get(o, "127.0.0.1:8003");
	snprintf(c->peer, sizeof(c->peer), "payments");
	c->count = 50;
	c->errors = bad ? 20 : 0;
	hist_record_n(&c->latency_ns, (bad ? 290 : 5) * NSEC_PER_MSEC, 50);
	p = window_set_get(&ws, 2);
	h = window_http_get(p, "POST", "/payments", 200);
	h->count = bad ? 30 : 50;
	hist_record_n(&h->latency_ns, (bad ? 280 : 4) * NSEC_PER_MSEC, h->count);
	if (bad) {
		h = window_http_get(p, "POST", "/payments", 500);
		h->count = 20;
		hist_record_n(&h->latency_ns, 280 * NSEC_PER_MSEC, 20);
	}
	memset(items, 0, sizeof(items));
	snprintf(items[0].service, sizeof(items[0].service), "orders");
	items[0].w = o;
	snprintf(items[1].service, sizeof(items[1].service), "payments");
	items[1].w = p;
	memset(&b, 0, sizeof(b));
	snprintf(b.host, sizeof(b.host), "web-1");
	b.end_ms = end_ms;
	b.interval_ms = 1000;
	b.items = items;
	b.n = 2;
	ret = store_put_windows(st, "default", "agent-1", seq, &b);
	window_set_release(&ws);
	return ret;
}

#endif
