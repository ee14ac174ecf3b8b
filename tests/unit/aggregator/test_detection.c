/*
 * Detection (aggregator/detect/detection.c) fed a real series and
 * publishing on a real bus: the events of an anomaly's life and of the
 * incident it makes (anomaly.detected, incident.started, then
 * anomaly.resolved, incident.resolved) and of a predicted breach, each
 * once, with the data of API.md.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/detect/detection.h"
#include "aggregator/events/bus.h"
#include "aggregator/series.h"
#include "aggregator/store/store.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/series_feed.h"
#include "tests/lib/tmpdir.h"

#define EVENTS_MAX 256

static struct {
	char dir[64];
	struct store_options so;
	struct series *series;
	struct bus *bus;
	struct detection *detection;
} fx;

static void init(void)
{
	memset(&fx, 0, sizeof(fx));
	tmpdir_make(fx.dir, sizeof(fx.dir), "detection");
	fx.so = (struct store_options){ .dir = fx.dir, .raw_hours = 24, .minute_days = 14 };
	fx.series = series_new();
	cr_assert_eq(bus_open(&fx.bus, &fx.so), 0);
}

static void fini(void)
{
	detection_stop(fx.detection);
	bus_close(fx.bus);
	series_free(fx.series);
	tmpdir_remove(fx.dir);
	test_no_leaks();
}

TestSuite(detection, .init = init, .fini = fini, .timeout = 60);

static void start(double slo_p99_ms)
{
	struct detection_config c;

	detection_config_default(&c);
	c.series = fx.series;
	c.store = fx.so;
	c.warmup_s = 60;
	c.resolve_after_s = 5;
	c.slo.latency_p99_ms = slo_p99_ms;
	c.bus = fx.bus;
	cr_assert_eq(detection_start(&fx.detection, &c), 0);
}

/* The latency of second @t (0: the oldest) of a story of @total seconds. */
typedef unsigned latency_fn(int t);

struct story {
	int total;
	latency_fn *latency_ms;
};

static void fill(struct window *w, int ago, void *arg)
{
	const struct story *s = arg;
	struct window_http *h = window_http_get(w, "GET", "/orders", 200);

	h->count = 100;
	hist_record_n(&h->latency_ns, (uint64_t)s->latency_ms(s->total - 1 - ago) * NSEC_PER_MSEC,
		      h->count);
}

/*
 * The story of "orders" in the series, its last second a few seconds ago
 * (so that detection's next cycle takes all of it), then a cycle.
 */
static void tell(latency_fn *latency_ms, int total)
{
	struct story s = { total, latency_ms };

	series_feed(fx.series, "orders", total, (int64_t)(time_real_ns() / NSEC_PER_SEC) - 3, fill,
		    &s);
	cr_assert_eq(detection_run_now(fx.detection), 0);
}

/* An event read back: its type, severity, service and data (owned). */
struct got {
	enum bus_type type;
	enum store_severity severity;
	char service[SERVICE_NAME_MAX];
	json_t *data;
};

/* Every event published so far of @types; returns how many. */
static size_t events(unsigned types, struct got *out, size_t max)
{
	struct bus_filter f = { .tenant = "default", .types = types };
	struct bus_event *ev[EVENTS_MAX];
	int64_t after = 0, next = 0;
	size_t total = 0, n;

	do {
		cr_assert_eq(bus_read(fx.bus, after, &f, ev, EVENTS_MAX, &n, &next), 0);
		for (size_t i = 0; i < n; i++) {
			json_t *doc = json_loadb(ev[i]->json, ev[i]->json_len, 0, NULL);

			cr_assert(doc, "%s", ev[i]->json);
			cr_assert_lt(total, max);
			out[total].type = ev[i]->type;
			out[total].severity = ev[i]->severity;
			snprintf(out[total].service, sizeof(out[total].service), "%s",
				 ev[i]->service);
			out[total].data = json_incref(json_object_get(doc, "data"));
			total++;
			json_decref(doc);
			bus_event_unref(ev[i]);
		}
		after = next;
	} while (n);
	return total;
}

static void events_release(struct got *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(v[i].data);
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "(none)";
}

static double num(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static const char *severity_of(enum store_severity s)
{
	return s == STORE_SEVERITY_CRITICAL  ? "critical"
	       : s == STORE_SEVERITY_WARNING ? "warning"
					     : "info";
}

static const char *iso(int64_t ms, char out[TIME_ISO_LEN])
{
	time_format_iso((uint64_t)ms * NSEC_PER_MSEC, out);
	return out;
}

/* The anomaly @id as detection stored it. */
static void stored(int64_t id, struct store_anomaly *a)
{
	struct store_options o = fx.so;
	struct store *s = NULL;

	o.read_only = true;
	cr_assert_eq(store_open(&s, &o), 0);
	cr_assert_eq(store_anomaly_get(s, "default", id, a), 0, "anomaly %lld", (long long)id);
	store_close(s);
}

/* 150 s of 10..12 ms, 20 s of 300 ms, then 10..12 ms again. */
static unsigned slow_spell(int t)
{
	return t >= 150 && t < 170 ? 300 : 10 + (unsigned)t % 3;
}

#define LIFE_TYPES                                                                                 \
	(1u << BUS_ANOMALY_DETECTED | 1u << BUS_ANOMALY_RESOLVED | 1u << BUS_INCIDENT_STARTED |    \
	 1u << BUS_INCIDENT_RESOLVED)

Test(detection, an_anomaly_and_its_incident_are_published_as_they_open_and_resolve)
{
	struct got ev[EVENTS_MAX];
	int64_t detected[8];
	size_t n, ndetected = 0, nresolved = 0, first_resolved_at = 0;
	char when[TIME_ISO_LEN];

	start(500);
	tell(slow_spell, 200);
	n = events(LIFE_TYPES, ev, EVENTS_MAX);
	cr_assert_geq(n, 4, "%zu events", n);

	/* the incident starts with its first anomaly, once */
	cr_assert_eq(ev[0].type, BUS_ANOMALY_DETECTED);
	cr_assert_eq(ev[1].type, BUS_INCIDENT_STARTED);
	cr_expect_str_eq(str(ev[1].data, "service"), "orders");
	cr_expect_eq(json_integer_value(json_object_get(ev[1].data, "anomaly_id")),
		     json_integer_value(json_object_get(ev[0].data, "id")));
	cr_expect_str_eq(str(ev[1].data, "metric"), str(ev[0].data, "metric"));
	cr_expect_str_eq(str(ev[1].data, "severity"), str(ev[0].data, "severity"));
	cr_expect_str_eq(str(ev[1].data, "started_at"), str(ev[0].data, "started_at"));
	cr_expect_eq(ev[1].severity, ev[0].severity, "the opening anomaly's severity");

	/* and resolves with its last, once */
	cr_assert_eq(ev[n - 1].type, BUS_INCIDENT_RESOLVED);
	cr_assert_eq(ev[n - 2].type, BUS_ANOMALY_RESOLVED);
	cr_expect_str_eq(str(ev[n - 1].data, "service"), "orders");
	cr_expect_str_eq(str(ev[n - 1].data, "resolved_at"), str(ev[n - 2].data, "resolved_at"));
	cr_expect_str_eq(str(ev[n - 1].data, "started_at"), str(ev[1].data, "started_at"));
	cr_expect_eq(ev[n - 1].severity, ev[1].severity);

	for (size_t i = 0; i < n; i++) {
		json_t *d = ev[i].data;
		json_t *range = json_object_get(d, "expected_range");
		struct store_anomaly a;
		int64_t id;

		cr_expect_str_eq(ev[i].service, "orders");
		if (ev[i].type == BUS_INCIDENT_STARTED || ev[i].type == BUS_INCIDENT_RESOLVED) {
			cr_expect(i == 1 || i == n - 1, "one incident: %s at %zu",
				  bus_type_name(ev[i].type), i);
			continue;
		}
		id = json_integer_value(json_object_get(d, "id"));
		cr_assert_gt(id, 0);
		stored(id, &a);
		/* the record as GET /anomalies shows it */
		cr_expect_str_eq(str(d, "service"), "orders");
		cr_expect_str_eq(str(d, "metric"), a.metric);
		cr_expect_str_eq(str(d, "severity"), severity_of(a.severity));
		cr_expect_eq(ev[i].severity, a.severity);
		cr_expect_float_eq(num(d, "score"), a.score, 1e-9);
		cr_expect(num(d, "confidence") > 0 && num(d, "confidence") <= 1);
		cr_expect(json_is_object(range));
		cr_expect_float_eq(num(range, "mean"), a.expected_mean, 1e-9);
		cr_expect_float_eq(num(range, "min"), a.expected_min, 1e-9);
		cr_expect_float_eq(num(range, "max"), a.expected_max, 1e-9);
		cr_expect_lt(num(range, "mean"), 50, "the baseline of 10 ms");
		cr_expect_str_eq(str(d, "started_at"), iso(a.started_ms, when));
		cr_expect(json_is_array(json_object_get(d, "evidence")));
		if (ev[i].type == BUS_ANOMALY_DETECTED) {
			cr_assert_lt(ndetected, 8);
			cr_expect_eq(nresolved, 0, "every one opens before any resolves");
			detected[ndetected++] = id;
			cr_expect_str_eq(str(d, "status"), "open");
			cr_expect(json_is_null(json_object_get(d, "resolved_at")));
			cr_expect_gt(num(d, "current_value"), 200, "the 300 ms it opened on");
		} else {
			bool known = false;

			for (size_t k = 0; k < ndetected; k++)
				known |= detected[k] == id;
			cr_expect(known, "anomaly %lld resolved but never detected", (long long)id);
			if (!nresolved++)
				first_resolved_at = i;
			cr_expect_str_eq(str(d, "status"), "resolved");
			cr_expect(!a.open);
			cr_expect_str_eq(str(d, "resolved_at"), iso(a.resolved_ms, when));
			cr_expect_gt(num(d, "duration_s"), 0);
		}
		store_anomaly_release(&a);
	}
	cr_expect_eq(ndetected, nresolved, "each resolved once");
	cr_expect_gt(first_resolved_at, 1);
	/* the 20 s spell and the 5 s it takes to resolve, at least as long as its last anomaly */
	cr_expect(num(ev[n - 1].data, "duration_s") >= 20 &&
			  num(ev[n - 1].data, "duration_s") <= 40,
		  "incident of %g s", num(ev[n - 1].data, "duration_s"));
	cr_expect_geq(num(ev[n - 1].data, "duration_s"), num(ev[n - 2].data, "duration_s"));

	/* nothing more while nothing changes: a cycle publishes only what happens */
	events_release(ev, n);
	cr_assert_eq(detection_run_now(fx.detection), 0);
	cr_expect_eq(events(LIFE_TYPES, ev, EVENTS_MAX), n);
	events_release(ev, n);
}

/* 60 s of 20 ms, then 2 ms more every second: 260 ms at the end, the SLO 300. */
static unsigned climb(int t)
{
	return t < 60 ? 20 : 20 + 2 * (unsigned)(t - 60);
}

Test(detection, a_predicted_breach_is_published_when_it_starts)
{
	struct got ev[EVENTS_MAX];
	size_t n;
	json_t *d;
	uint64_t at_ns;

	start(300);
	tell(climb, 180);
	n = events(1u << BUS_PREDICTION_BREACH, ev, EVENTS_MAX);
	cr_assert_geq(n, 1, "no prediction.breach");
	d = ev[0].data;
	cr_expect_eq(ev[0].severity, STORE_SEVERITY_WARNING);
	cr_expect_str_eq(ev[0].service, "orders");
	cr_expect_str_eq(str(d, "service"), "orders");
	cr_expect_str_eq(str(d, "metric"), "latency_p99");
	cr_expect_float_eq(num(d, "threshold"), 300, 1e-9);
	cr_expect_lt(num(d, "current"), 300, "predicted before it crosses");
	cr_expect_gt(num(d, "current"), 20);
	cr_expect_gt(num(d, "breach_in_s"), 0);
	cr_expect_leq(num(d, "breach_in_s"), 600, "within the horizon");
	cr_expect(num(d, "confidence") >= 0 && num(d, "confidence") <= 1);
	cr_assert_eq(time_parse_iso(str(d, "estimated_breach_time"), &at_ns), 0, "%s",
		     str(d, "estimated_breach_time"));
	cr_expect_gt(at_ns, time_real_ns() - 200 * NSEC_PER_SEC, "after the story began");
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(str(ev[i].data, "metric"), "latency_p99", "error rate is flat");
	events_release(ev, n);
}

Test(detection, without_a_bus_nothing_is_published_and_detection_runs)
{
	struct detection_config c;
	struct detection_status st;
	struct got ev[4];

	detection_config_default(&c);
	c.series = fx.series;
	c.store = fx.so;
	c.warmup_s = 60;
	c.resolve_after_s = 5;
	cr_assert_eq(detection_start(&fx.detection, &c), 0);
	tell(slow_spell, 200);
	detection_get_status(fx.detection, &st);
	cr_expect_gt(st.anomalies_opened, 0);
	cr_expect_eq(st.anomalies_opened, st.anomalies_resolved);
	cr_expect_eq(events(0, ev, 4), 0);
}
