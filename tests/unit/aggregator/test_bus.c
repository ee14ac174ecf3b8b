/*
 * The event bus (aggregator/events/bus.c) on a real store: publish and
 * read in id order, the filters, a resume after an id from the ring and,
 * once the ring has forgotten it, from the store, the ids across a
 * restart, and the wake-ups.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/events/bus.h"
#include "aggregator/store/store.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

static char dir[64];
static struct store_options so;
static struct bus *bus;

static void init(void)
{
	tmpdir_make(dir, sizeof(dir), "bus");
	so = (struct store_options){ .dir = dir, .raw_hours = 24, .minute_days = 14 };
	cr_assert_eq(bus_open(&bus, &so), 0);
}

static void fini(void)
{
	bus_close(bus);
	bus = NULL;
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(bus, .init = init, .fini = fini);

/* Publishes an event whose data is {"n": @n}; returns its id. */
static int64_t pub(const char *tenant, enum bus_type type, const char *service,
		   enum store_severity sev, int n)
{
	int64_t id = bus_publish(bus, tenant, type, service, sev, json_pack("{s:i}", "n", n));

	cr_assert_gt(id, 0, "publish %d: %lld", n, (long long)id);
	return id;
}

/* The data's "n" of event @e. */
static int n_of(const struct bus_event *e)
{
	json_t *doc = json_loadb(e->json, e->json_len, 0, NULL);
	int n;

	cr_assert(doc, "%s", e->json);
	n = (int)json_integer_value(json_object_get(json_object_get(doc, "data"), "n"));
	json_decref(doc);
	return n;
}

/* Reads after @after with @f, at most @max, into @ns (their "n"); returns how many. */
static size_t read_ns(int64_t after, const struct bus_filter *f, int *ns, size_t max, int64_t *next)
{
	struct bus_event *ev[64];
	size_t n = 0;
	int64_t dummy;

	cr_assert_leq(max, 64);
	cr_assert_eq(bus_read(bus, after, f, ev, max, &n, next ? next : &dummy), 0);
	for (size_t i = 0; i < n; i++) {
		ns[i] = n_of(ev[i]);
		bus_event_unref(ev[i]);
	}
	return n;
}

Test(bus, type_names_round_trip)
{
	for (int t = 0; t < BUS_TYPE_COUNT; t++)
		cr_expect_eq(bus_type_find(bus_type_name((enum bus_type)t)), t);
	cr_expect_str_eq(bus_type_name(BUS_ANOMALY_DETECTED), "anomaly.detected");
	cr_expect_str_eq(bus_type_name(BUS_POLICY_CHANGED), "policy.changed");
	cr_expect_str_eq(bus_type_name(BUS_TYPE_COUNT), "unknown");
	cr_expect_eq(bus_type_find("anomaly.nope"), -1);
	cr_expect_eq(bus_type_find(NULL), -1);
}

Test(bus, events_are_read_in_publish_order_as_webhooks_send_them)
{
	struct bus_filter f = { .tenant = "default" };
	struct bus_event *ev[8];
	int64_t ids[3], next = 0;
	size_t n = 0;
	json_t *doc;

	cr_assert_eq(bus_last_id(bus), 0);
	ids[0] = pub("default", BUS_ANOMALY_DETECTED, "orders", STORE_SEVERITY_CRITICAL, 1);
	ids[1] = pub("default", BUS_INCIDENT_STARTED, "orders", STORE_SEVERITY_CRITICAL, 2);
	ids[2] = bus_publish(bus, "default", BUS_WEBHOOK_TEST, NULL, STORE_SEVERITY_INFO, NULL);
	cr_assert(ids[0] < ids[1] && ids[1] < ids[2]);
	cr_assert_eq(bus_last_id(bus), ids[2]);

	cr_assert_eq(bus_read(bus, 0, &f, ev, 8, &n, &next), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(next, ids[2]);
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(ev[i]->id, ids[i]);
	cr_expect_eq(ev[0]->type, BUS_ANOMALY_DETECTED);
	cr_expect_eq(ev[0]->severity, STORE_SEVERITY_CRITICAL);
	cr_expect_str_eq(ev[0]->tenant, "default");
	cr_expect_str_eq(ev[0]->service, "orders");
	cr_expect_str_eq(ev[2]->service, "", "no service is \"\"");
	cr_expect_gt(ev[0]->at_ms, 0);

	doc = json_loadb(ev[0]->json, ev[0]->json_len, 0, NULL);
	cr_assert(doc, "%s", ev[0]->json);
	cr_expect_str_eq(json_string_value(json_object_get(doc, "event")), "anomaly.detected");
	cr_expect(json_is_string(json_object_get(doc, "timestamp")));
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(doc, "data"), "n")), 1);
	json_decref(doc);
	doc = json_loadb(ev[2]->json, ev[2]->json_len, 0, NULL);
	cr_expect(json_is_object(json_object_get(doc, "data")) &&
			  json_object_size(json_object_get(doc, "data")) == 0,
		  "no data is {}: %s", ev[2]->json);
	json_decref(doc);
	for (size_t i = 0; i < n; i++)
		bus_event_unref(ev[i]);

	/* after an id: only what follows; at most max, and next says where to go on */
	cr_assert_eq(bus_read(bus, ids[0], &f, ev, 1, &n, &next), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(ev[0]->id, ids[1]);
	cr_expect_eq(next, ids[1]);
	bus_event_unref(ev[0]);
	cr_assert_eq(bus_read(bus, ids[2], &f, ev, 8, &n, &next), 0);
	cr_expect_eq(n, 0, "nothing after the last");
	cr_expect_eq(next, ids[2]);
}

Test(bus, filters_by_tenant_type_severity_and_services)
{
	static const char *const orders_only[] = { "orders" };
	static const char *const two[] = { "users", "payments" };
	struct bus_filter f = { .tenant = "default" };
	int ns[16];
	size_t n;

	pub("default", BUS_ANOMALY_DETECTED, "orders", STORE_SEVERITY_INFO, 1);
	pub("acme", BUS_ANOMALY_DETECTED, "orders", STORE_SEVERITY_CRITICAL, 2);
	pub("default", BUS_ACTION_FAILED, "payments", STORE_SEVERITY_WARNING, 3);
	pub("default", BUS_POLICY_CHANGED, "", STORE_SEVERITY_INFO, 4);
	pub("default", BUS_ANOMALY_RESOLVED, "users", STORE_SEVERITY_CRITICAL, 5);

	n = read_ns(0, &f, ns, 16, NULL);
	cr_assert_eq(n, 4, "a tenant sees its own only");
	cr_expect(ns[0] == 1 && ns[1] == 3 && ns[2] == 4 && ns[3] == 5);
	f.tenant = "acme";
	n = read_ns(0, &f, ns, 16, NULL);
	cr_assert_eq(n, 1);
	cr_expect_eq(ns[0], 2);

	f = (struct bus_filter){ .tenant = "default",
				 .types = 1u << BUS_ANOMALY_DETECTED | 1u << BUS_ANOMALY_RESOLVED };
	n = read_ns(0, &f, ns, 16, NULL);
	cr_assert_eq(n, 2);
	cr_expect(ns[0] == 1 && ns[1] == 5);

	f = (struct bus_filter){ .tenant = "default", .min_severity = STORE_SEVERITY_WARNING };
	n = read_ns(0, &f, ns, 16, NULL);
	cr_assert_eq(n, 2);
	cr_expect(ns[0] == 3 && ns[1] == 5);

	f = (struct bus_filter){ .tenant = "default", .services = orders_only, .nservices = 1 };
	n = read_ns(0, &f, ns, 16, NULL);
	cr_assert_eq(n, 1);
	cr_expect_eq(ns[0], 1);
	f = (struct bus_filter){ .tenant = "default", .services = two, .nservices = 2 };
	n = read_ns(0, &f, ns, 16, NULL);
	cr_assert_eq(n, 2, "an event without a service matches no list");
	cr_expect(ns[0] == 3 && ns[1] == 5);
}

Test(bus, next_after_passes_what_the_filter_drops)
{
	struct bus_filter f = { .tenant = "default", .types = 1u << BUS_ACTION_EXECUTED };
	int64_t last = 0, next = 0;
	int ns[4];

	for (int i = 1; i <= 5; i++)
		last = pub("default", BUS_ANOMALY_DETECTED, "orders", STORE_SEVERITY_INFO, i);
	cr_assert_eq(read_ns(0, &f, ns, 4, &next), 0);
	cr_expect_eq(next, last, "a subscriber need not look at those again");
}

Test(bus, a_resume_older_than_the_ring_comes_from_the_store, .timeout = 120)
{
	struct bus_filter f = { .tenant = "default" };
	int total = BUS_RING_EVENTS + 10, ns[64];
	int64_t first = 0, next = 0, after;
	size_t n;

	for (int i = 1; i <= total; i++) {
		int64_t id = pub(i % 7 ? "default" : "acme", BUS_ACTION_EXECUTED, "orders",
				 STORE_SEVERITY_INFO, i);

		if (i == 1)
			first = id;
	}
	/* the first events are gone from the ring: read from the store, in order */
	n = read_ns(first - 1, &f, ns, 8, &next);
	cr_assert_eq(n, 8);
	for (size_t i = 0, want = 1; i < n; i++, want++) {
		if (want % 7 == 0)
			want++;
		cr_expect_eq(ns[i], (int)want, "#%zu: %d", i, ns[i]);
	}
	cr_expect_eq(next, first - 1 + 9, "8 of default and the one of acme between");

	/* resumed from there, by pages, it reaches the ring and the end, missing nothing */
	after = next;
	int seen = 8, prev = ns[7];

	for (;;) {
		n = read_ns(after, &f, ns, 64, &next);
		if (!n && next == after)
			break;
		for (size_t i = 0; i < n; i++) {
			int want = prev + 1 + ((prev + 1) % 7 == 0);

			cr_assert_eq(ns[i], want, "after %d came %d", prev, ns[i]);
			prev = ns[i];
		}
		seen += (int)n;
		after = next;
	}
	cr_expect_eq(prev, total);
	cr_expect_eq(seen, total - total / 7);

	/* and the acme tenant resumes the same way */
	f.tenant = "acme";
	n = read_ns(first - 1, &f, ns, 4, &next);
	cr_assert_eq(n, 4);
	cr_expect(ns[0] == 7 && ns[1] == 14 && ns[2] == 21 && ns[3] == 28);
}

Test(bus, ids_go_on_across_a_restart_and_the_store_serves_the_old_ones)
{
	struct bus_filter f = { .tenant = "default" };
	int64_t last = 0, next = 0;
	int ns[8];

	for (int i = 1; i <= 3; i++)
		last = pub("default", BUS_POLICY_CHANGED, "", STORE_SEVERITY_INFO, i);
	bus_close(bus);
	bus = NULL;
	cr_assert_eq(bus_open(&bus, &so), 0);
	cr_expect_eq(bus_last_id(bus), last);
	cr_expect_eq(read_ns(0, &f, ns, 8, &next), 3, "from the store after the restart");
	cr_expect(ns[0] == 1 && ns[2] == 3);
	cr_expect_eq(pub("default", BUS_POLICY_CHANGED, "", STORE_SEVERITY_INFO, 4), last + 1);
	cr_expect_eq(read_ns(last, &f, ns, 8, &next), 1);
	cr_expect_eq(ns[0], 4);
}

Test(bus, a_read_only_store_is_refused)
{
	struct store_options ro = so;
	struct bus *b = NULL;

	ro.read_only = true;
	cr_expect_eq(bus_open(&b, &ro), -EINVAL);
	cr_expect_null(b);
}

/* A watch: how many calls, and the last id published when the last one came. */
struct woken {
	atomic_int calls;
	_Atomic int64_t last_seen;
};

static void wake(void *arg)
{
	struct woken *w = arg;

	atomic_store(&w->last_seen, bus_last_id(bus));
	atomic_fetch_add(&w->calls, 1);
}

Test(bus, watches_run_after_each_publish_and_never_after_unwatch)
{
	struct woken a = { 0 }, b = { 0 };
	struct bus_watch *wa = bus_watch(bus, wake, &a), *wb = bus_watch(bus, wake, &b);
	int64_t id;

	cr_assert_eq(bus_watchers(bus), 2);
	id = pub("default", BUS_ANOMALY_DETECTED, "orders", STORE_SEVERITY_INFO, 1);
	cr_expect_eq(atomic_load(&a.calls), 1);
	cr_expect_eq(atomic_load(&b.calls), 1);
	cr_expect_eq(atomic_load(&a.last_seen), id, "the event is readable when the watch runs");

	bus_unwatch(bus, wa);
	cr_assert_eq(bus_watchers(bus), 1);
	id = pub("default", BUS_ANOMALY_RESOLVED, "orders", STORE_SEVERITY_INFO, 2);
	cr_expect_eq(atomic_load(&a.calls), 1, "never after unwatch");
	cr_expect_eq(atomic_load(&b.calls), 2);
	cr_expect_eq(atomic_load(&b.last_seen), id);

	/* a refused publish wakes nobody */
	cr_expect_lt(
		bus_publish(bus, "default", BUS_TYPE_COUNT, "orders", STORE_SEVERITY_INFO, NULL),
		0);
	cr_expect_eq(atomic_load(&b.calls), 2);
	bus_unwatch(bus, wb);
	cr_expect_eq(bus_watchers(bus), 0);
}

Test(bus, a_type_out_of_range_is_refused_and_its_data_freed)
{
	struct bus_filter f = { .tenant = "default" };
	int ns[4];

	cr_expect_eq(bus_publish(bus, "default", BUS_TYPE_COUNT, "orders", STORE_SEVERITY_INFO,
				 json_pack("{s:i}", "n", 1)),
		     -EINVAL);
	cr_expect_eq(bus_publish(bus, "default", (enum bus_type)(BUS_TYPE_COUNT + 5), "orders",
				 STORE_SEVERITY_INFO, json_pack("{s:i}", "n", 2)),
		     -EINVAL);
	cr_expect_eq(bus_last_id(bus), 0);
	cr_expect_eq(read_ns(0, &f, ns, 4, NULL), 0, "nothing was stored");
}
