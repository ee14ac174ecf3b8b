/*
 * The detection thread (detection.h). Per service a struct track holds one
 * detector, one incident and its last result per signal, and a predictor
 * per SLO signal. Tracks are found by an open hash of (tenant, service);
 * they are never removed (a service gone quiet keeps its learnt baseline
 * for when it comes back; SERIES_MAX_SERVICES bounds them like the series).
 *
 * Locks: cycle_mu serialises cycles (the thread's and detection_run_now()'s)
 * and guards the tracks and the writer store; state_mu guards the settings,
 * the counters and the predictions the HTTP workers read, and is only held
 * for copies, never across a store write.
 *
 * Events: a cycle queues them (under cycle_mu); detection_run_now()
 * publishes them once cycle_mu is released, under publish_mu, which it
 * takes before releasing cycle_mu, so the next cycle's follow these. So no
 * store write of the bus's is made under the locks the HTTP workers take
 * (detection_predictions(), the status); only a cycle that ends while the
 * previous one still publishes waits for it, holding cycle_mu.
 */
#include "aggregator/detect/detection.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregator/detect/detector.h"
#include "aggregator/detect/incident.h"
#include "aggregator/detect/prediction.h"
#include "aggregator/detect/signals.h"
#include "aggregator/events/bus.h"
#include "aggregator/series.h"
#include "common/alloc.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/timeutil.h"

/* Open anomalies are written back this often while they last (current value, peak). */
#define DETECTION_REFRESH_S 10
/* Consecutive bad seconds that open an anomaly. */
#define DETECTION_OPEN_AFTER 2
/*
 * A point that starts or continues an anomaly is scored without being
 * learnt, for at most this long (incident_holds()): the baseline stays what
 * was normal, so neither the fault's values nor its noise blunt the
 * detection of the next one (one learnt 300 ms point among 0.3 ms ones
 * teaches the detector's tail that such jumps happen). Past it the
 * detector learns again: a change that lasts this long is the new normal
 * for detection, while the anomaly itself stays open against the baseline
 * it was opened on.
 */
#define DETECTION_HOLD_MAX_MS (10 * 60 * 1000)

/* The signals predicted, and the index of their predictor. */
static const enum signal_id predicted[] = { SIGNAL_LATENCY_P99, SIGNAL_ERROR_RATE };
#define NPREDICTED (sizeof(predicted) / sizeof(predicted[0]))

struct track {
	char tenant[FRAME_ID_MAX];
	char service[SERVICE_NAME_MAX];
	int64_t last_t_s; /* the last second fed; 0 before the first */
	struct detector *det[SIGNAL_COUNT];
	struct detector_result last[SIGNAL_COUNT];
	double last_value[SIGNAL_COUNT];
	struct incident inc[SIGNAL_COUNT];
	struct predictor pred[NPREDICTED];
	struct detection_prediction out[NPREDICTED]; /* guarded by state_mu */
	size_t open;				     /* anomalies open; guarded by state_mu */
	/* the incident (open > 0): when its first anomaly started, and that one's severity */
	int64_t incident_started_ms;
	enum store_severity incident_severity;
};

/* An event of a cycle, published when the cycle ends. */
struct detection_event {
	enum bus_type type;
	enum store_severity severity;
	char tenant[FRAME_ID_MAX];
	char service[SERVICE_NAME_MAX];
	json_t *data; /* owned until published */
};

struct detection {
	struct series *series;
	struct store_options so;
	char *dir;
	struct detector_params dparams;
	/* spare state for detector_peek(), swapped with a track's when it learns; cycle_mu */
	struct detector *scratch;

	pthread_mutex_t cycle_mu; /* guards everything below down to state_mu */
	struct store *store;
	uint64_t points_fed;   /* this cycle's, moved to points at its end */
	struct track **tracks; /* by insertion */
	size_t ntracks, captracks;
	size_t *index;			/* open hash of track numbers + 1; 0 = free */
	size_t nindex;			/* a power of two, at least twice ntracks */
	struct detection_event *events; /* this cycle's, to publish */
	size_t nevents, capevents;

	struct bus *bus;	    /* borrowed (cfg.bus, fixed at start); NULL: no events */
	pthread_mutex_t publish_mu; /* taken before cycle_mu is released; see above */

	pthread_mutex_t state_mu; /* guards cfg, the counters and every track's out[] */
	struct detection_config cfg;
	uint64_t points, cycles, opened, resolved;
	size_t open_now, warm;
	int64_t last_cycle_ms;
	double last_cycle_duration_ms;

	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stopping;
	pthread_t thread;
};

static const char *const method_names[DETECTION_METHOD_COUNT] = { "robust", "slo" };

void detection_config_default(struct detection_config *c)
{
	memset(c, 0, sizeof(*c));
	c->method = DETECTION_ROBUST;
	c->enabled = true;
	c->warmup_s = 60;
	c->resolve_after_s = 15;
	c->slo.latency_p99_ms = 500;
	c->slo.error_rate = 0.05;
	c->horizon_s = 600;
}

const char *detection_method_name(enum detection_method m)
{
	return m < DETECTION_METHOD_COUNT ? method_names[m] : "unknown";
}

int detection_method_find(const char *name)
{
	for (int i = 0; i < DETECTION_METHOD_COUNT; i++)
		if (!strcmp(method_names[i], name))
			return i;
	return -1;
}

static int64_t now_ms(void)
{
	return (int64_t)(time_real_ns() / NSEC_PER_MSEC);
}

/* ---- tracks ---- */

static struct track *track_new(struct detection *d, const char *tenant, const char *service)
{
	struct track *t = xcalloc(1, sizeof(*t));

	snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
	snprintf(t->service, sizeof(t->service), "%s", service);
	for (int s = 0; s < SIGNAL_COUNT; s++) {
		t->det[s] = detector_new(&d->dparams);
		t->last_value[s] = NAN;
		incident_init(&t->inc[s]);
	}
	for (size_t i = 0; i < NPREDICTED; i++) {
		predictor_init(&t->pred[i]);
		snprintf(t->out[i].tenant, sizeof(t->out[i].tenant), "%s", tenant);
		snprintf(t->out[i].service, sizeof(t->out[i].service), "%s", service);
		snprintf(t->out[i].metric, sizeof(t->out[i].metric), "%s",
			 signal_def(predicted[i])->name);
	}
	return t;
}

static void track_free(struct track *t)
{
	for (int s = 0; s < SIGNAL_COUNT; s++) {
		detector_free(t->det[s]);
		incident_release(&t->inc[s]);
	}
	free(t);
}

static void tracks_rehash(struct detection *d, size_t nindex)
{
	free(d->index);
	d->index = xcalloc(nindex, sizeof(*d->index));
	d->nindex = nindex;
	for (size_t i = 0; i < d->ntracks; i++) {
		size_t h = hash_fnv1a_pair(d->tracks[i]->tenant, d->tracks[i]->service) &
			   (nindex - 1);

		while (d->index[h])
			h = (h + 1) & (nindex - 1);
		d->index[h] = i + 1;
	}
}

/* The track of (tenant, service), created when @create; NULL when absent. */
static struct track *tracks_get(struct detection *d, const char *tenant, const char *service,
				bool create)
{
	size_t h;

	if (d->nindex) {
		h = hash_fnv1a_pair(tenant, service) & (d->nindex - 1);
		for (; d->index[h]; h = (h + 1) & (d->nindex - 1)) {
			struct track *t = d->tracks[d->index[h] - 1];

			if (!strcmp(t->service, service) && !strcmp(t->tenant, tenant))
				return t;
		}
	}
	if (!create || d->ntracks >= SERIES_MAX_SERVICES)
		return NULL;
	if (d->ntracks == d->captracks) {
		d->captracks = d->captracks ? 2 * d->captracks : 64;
		d->tracks = xreallocarray(d->tracks, d->captracks, sizeof(*d->tracks));
	}
	d->tracks[d->ntracks++] = track_new(d, tenant, service);
	if (2 * d->ntracks > d->nindex)
		tracks_rehash(d, d->nindex ? 2 * d->nindex : 128);
	else {
		h = hash_fnv1a_pair(tenant, service) & (d->nindex - 1);
		while (d->index[h])
			h = (h + 1) & (d->nindex - 1);
		d->index[h] = d->ntracks;
	}
	return d->tracks[d->ntracks - 1];
}

/* ---- evidence ---- */

static json_t *evidence_item(const struct track *t, enum signal_id s, const char *kind)
{
	const struct detector_result *r = &t->last[s];
	const struct signal_def *def = signal_def(s);
	char text[256];

	double lower = fmax(r->lower, 0); /* no signal goes below 0 */

	snprintf(text, sizeof(text), "%s of %s is %.4g %s, expected %.4g (%.4g..%.4g)", def->name,
		 t->service, t->last_value[s], def->unit, r->expected, lower, r->upper);
	return json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:s}", "type", kind, "metric",
			 def->name, "value", t->last_value[s], "expected", r->expected, "lower",
			 lower, "upper", r->upper, "score", r->score, "deviation", r->deviation,
			 "text", text);
}

/* The other signals of the service that moved the way that hurts in the same second. */
static json_t *evidence_related(const struct track *t, enum signal_id sig)
{
	json_t *rel = json_array();

	for (int s = 0; s < SIGNAL_COUNT; s++) {
		if (s == (int)sig || !t->last[s].warm ||
		    signal_magnitude((enum signal_id)s, t->last_value[s], t->last[s].expected) < 1)
			continue;
		json_array_append_new(rel, evidence_item(t, (enum signal_id)s, "related"));
	}
	return rel;
}

/* Fills the evidence and details of a new anomaly on @sig from the track's last results. */
static void evidence_fill(struct detection *d, const struct track *t, enum signal_id sig,
			  struct store_anomaly *a)
{
	const struct signal_def *def = signal_def(sig);
	json_t *ev = json_array(), *related = evidence_related(t, sig), *details, *v;
	double delta = a->current_value - a->expected_mean;
	/* the table is immutable after start: no lock */
	double slo = slo_table_get(&d->cfg.slo, t->service, sig);
	size_t i;

	json_array_append_new(ev, evidence_item(t, sig, "deviation"));
	json_array_foreach (related, i, v)
		json_array_append(ev, v);
	if (slo > 0 && a->current_value > slo)
		json_array_append_new(ev, json_pack("{s:s, s:s, s:f, s:f}", "type", "slo", "metric",
						    def->name, "threshold", slo, "value",
						    a->current_value));
	details = json_pack(
		"{s:{s:f, s:f, s:f}, s:{s:f, s:f, s:f}, s:o, s:{s:s, s:f}, s:s}", "baseline",
		"mean", a->expected_mean, "min", a->expected_min, "max", a->expected_max,
		"deviation", "absolute", delta, "relative",
		a->expected_mean != 0 ? delta / fabs(a->expected_mean) : 0.0, "sigma",
		t->last[sig].deviation, "related_metrics", related, "detector", "method",
		detection_method_name(d->cfg.method), "score", a->score, "unit", def->unit);
	a->evidence = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(6));
	a->details = details ? json_dumps(details, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(ev);
	json_decref(details);
}

/* ---- one second of one service ---- */

static const char *severity_name(enum store_severity s)
{
	return s == STORE_SEVERITY_CRITICAL ? "critical"
	       : s == STORE_SEVERITY_WARNING ? "warning"
					     : "info";
}

/* ---- events ---- */

/* Queues an event of this cycle; @data taken. cycle_mu held. */
static void event_queue(struct detection *d, enum bus_type type, enum store_severity severity,
			const struct track *t, json_t *data)
{
	struct detection_event *e;

	if (!d->bus || !data) {
		json_decref(data);
		return;
	}
	if (d->nevents == d->capevents) {
		d->capevents = d->capevents ? 2 * d->capevents : 16;
		d->events = xreallocarray(d->events, d->capevents, sizeof(*d->events));
	}
	e = &d->events[d->nevents++];
	e->type = type;
	e->severity = severity;
	memcpy(e->tenant, t->tenant, sizeof(e->tenant));
	memcpy(e->service, t->service, sizeof(e->service));
	e->data = data;
}

/* A number for an event: null when it is not finite (JSON has no NaN). */
static json_t *num_json(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* An instant in ISO 8601; null for 0. */
static json_t *time_json(int64_t ms)
{
	char iso[TIME_ISO_LEN];

	if (ms <= 0)
		return json_null();
	time_format_iso((uint64_t)ms * NSEC_PER_MSEC, iso);
	return json_string(iso);
}

/* Evidence text as an array; [] when absent or unreadable. */
static json_t *evidence_json(const char *text)
{
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;

	if (json_is_array(v))
		return v;
	json_decref(v);
	return json_array();
}

/*
 * The anomaly as GET /anomalies shows it: the fields of api_anomalies_item()
 * (aggregator/http/api_anomalies.c, which needs the HTTP layer), the same way.
 */
static json_t *anomaly_json(const struct store_anomaly *a)
{
	int64_t end_ms = a->open ? a->updated_ms : a->resolved_ms;

	return json_pack(
		"{s:I, s:s, s:s, s:o, s:{s:o, s:o, s:o}, s:b, s:o, s:s, s:o, s:s, s:o, "
		"s:o, s:o, s:o, s:f, s:o}",
		"id", (json_int_t)a->id, "service", a->service, "metric", a->metric,
		"current_value", num_json(a->current_value), "expected_range", "min",
		num_json(a->expected_min), "max", num_json(a->expected_max), "mean",
		num_json(a->expected_mean), "anomaly", 1, "confidence", num_json(a->confidence),
		"severity", severity_name(a->severity), "score", num_json(a->score), "status",
		a->open ? "open" : "resolved", "started_at", time_json(a->started_ms),
		"resolved_at", a->open ? json_null() : time_json(a->resolved_ms), "updated_at",
		time_json(a->updated_ms), "peak_value", num_json(a->peak_value), "duration_s",
		(double)(end_ms - a->started_ms) / 1000.0, "evidence", evidence_json(a->evidence));
}

/*
 * The events of anomaly @a of @t, opened or resolved; @edge: it was the
 * service's first open one, or its last.
 */
static void anomaly_events(struct detection *d, struct track *t, const struct store_anomaly *a,
			   enum incident_event ev, bool edge)
{
	if (!d->bus)
		return;
	if (ev == INCIDENT_OPENED) {
		event_queue(d, BUS_ANOMALY_DETECTED, a->severity, t, anomaly_json(a));
		if (edge)
			event_queue(d, BUS_INCIDENT_STARTED, a->severity, t,
				    json_pack("{s:s, s:I, s:s, s:s, s:o}", "service", t->service,
					      "anomaly_id", (json_int_t)a->id, "metric", a->metric,
					      "severity", severity_name(a->severity), "started_at",
					      time_json(a->started_ms)));
	} else if (ev == INCIDENT_RESOLVED) {
		event_queue(d, BUS_ANOMALY_RESOLVED, a->severity, t, anomaly_json(a));
		if (edge)
			event_queue(d, BUS_INCIDENT_RESOLVED, t->incident_severity, t,
				    json_pack("{s:s, s:o, s:o, s:f}", "service", t->service,
					      "started_at", time_json(t->incident_started_ms),
					      "resolved_at", time_json(a->resolved_ms),
					      "duration_s",
					      (double)(a->resolved_ms - t->incident_started_ms) /
						      1000.0));
	}
}

/* prediction.breach of @p, which has just started to say a breach is near. */
static void prediction_event(struct detection *d, const struct track *t,
			     const struct detection_prediction *p, enum signal_id s)
{
	if (!d->bus)
		return;
	event_queue(d, BUS_PREDICTION_BREACH, STORE_SEVERITY_WARNING, t,
		    json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "service",
			      t->service, "metric", p->metric, "current", num_json(p->current),
			      "threshold", num_json(p->threshold), "unit", signal_def(s)->unit,
			      "breach_in_s", num_json(p->breach_in_s), "estimated_breach_time",
			      time_json(p->updated_ms + (int64_t)(p->breach_in_s * 1000)),
			      "confidence", num_json(p->confidence), "trend_per_s",
			      num_json(p->trend_per_s)));
}

/* Publishes @n events taken from a cycle, then frees them. publish_mu held, cycle_mu not. */
static void events_publish(struct detection *d, struct detection_event *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		(void)bus_publish(d->bus, v[i].tenant, v[i].type, v[i].service, v[i].severity,
				  v[i].data);
	free(v);
}

static void incident_write(struct detection *d, struct track *t, enum signal_id s,
			   enum incident_event ev)
{
	struct store_anomaly *a = &t->inc[s].rec;
	const char *what = ev == INCIDENT_OPENED	? "detected"
			   : ev == INCIDENT_ESCALATED ? "escalated"
			   : ev == INCIDENT_RESOLVED  ? "resolved"
						      : NULL;
	bool edge = false; /* the service's first anomaly opened, or its last resolved */
	int err;

	if (ev == INCIDENT_OPENED) {
		_Static_assert(sizeof(a->tenant) == sizeof(t->tenant) &&
				       sizeof(a->service) == sizeof(t->service),
			       "the record holds the track's names");
		memcpy(a->tenant, t->tenant, sizeof(a->tenant));
		memcpy(a->service, t->service, sizeof(a->service));
		evidence_fill(d, t, s, a);
	}
	err = store_anomaly_put(d->store, a);
	if (err)
		log_warn_err(err, "detection: cannot store anomaly of %s on %s", a->metric,
			     a->service);
	if (what)
		log_info("detection: anomaly %s: %s %s %.4g %s (expected %.4g) severity=%s id=%lld "
			 "tenant=%s",
			 what, a->service, a->metric, a->current_value, signal_def(s)->unit,
			 a->expected_mean, severity_name(a->severity), (long long)a->id, a->tenant);
	pthread_mutex_lock(&d->state_mu);
	if (ev == INCIDENT_OPENED) {
		d->opened++;
		d->open_now++;
		edge = t->open++ == 0;
	} else if (ev == INCIDENT_RESOLVED) {
		d->resolved++;
		d->open_now--;
		edge = --t->open == 0;
	}
	pthread_mutex_unlock(&d->state_mu);
	if (ev == INCIDENT_OPENED && edge) {
		t->incident_started_ms = a->started_ms;
		t->incident_severity = a->severity;
	}
	anomaly_events(d, t, a, ev, edge);
	if (ev == INCIDENT_RESOLVED)
		store_anomaly_release(a);
}

static double slo_of(const struct detection_config *c, const struct track *t, enum signal_id s)
{
	return slo_table_get(&c->slo, t->service, s);
}

static void track_feed(struct detection *d, struct track *t, const struct series_point *p,
		       const struct detection_config *c)
{
	int64_t t_ms = p->t_s * 1000;
	struct incident_params ip = { .min_score = d->dparams.alarm_score,
				      .open_after_points = DETECTION_OPEN_AFTER,
				      .resolve_after_s = c->resolve_after_s,
				      .hold_max_ms = DETECTION_HOLD_MAX_MS,
				      .slo_only = c->method == DETECTION_SLO };

	/* every result first, then the incidents: evidence looks at all the signals */
	for (int s = 0; s < SIGNAL_COUNT; s++) {
		double v = signal_value((enum signal_id)s, p);
		struct detector *learnt;

		t->last_value[s] = v;
		if (!isfinite(v))
			continue;
		/* score on a copy; keep the copy (the point learnt) unless it is anomalous */
		detector_peek(t->det[s], d->scratch, (double)p->t_s, v, &t->last[s]);
		ip.slo = slo_of(c, t, (enum signal_id)s);
		if (incident_holds(&t->inc[s], (enum signal_id)s, &ip, t_ms, v, &t->last[s]))
			continue;
		learnt = d->scratch;
		d->scratch = t->det[s];
		t->det[s] = learnt;
	}
	d->points_fed += SIGNAL_COUNT;
	for (int s = 0; s < SIGNAL_COUNT; s++) {
		struct incident *in = &t->inc[s];
		enum incident_event ev;

		ip.slo = slo_of(c, t, (enum signal_id)s);
		/* under the SLO method only the SLO signals open anomalies; open ones go on */
		if (ip.slo_only && ip.slo <= 0 && in->state != INCIDENT_OPEN) {
			in->state = INCIDENT_IDLE;
			continue;
		}
		ev = incident_step(in, (enum signal_id)s, &ip, t_ms, t->last_value[s], &t->last[s]);
		if (ev != INCIDENT_NONE)
			incident_write(d, t, (enum signal_id)s, ev);
		else if (in->state == INCIDENT_OPEN && p->t_s % DETECTION_REFRESH_S == 0)
			incident_write(d, t, (enum signal_id)s, ev);
	}
	for (size_t i = 0; i < NPREDICTED; i++) {
		enum signal_id s = predicted[i];
		struct detection_prediction out;
		bool started;

		pthread_mutex_lock(&d->state_mu);
		out = t->out[i];
		pthread_mutex_unlock(&d->state_mu);
		started = predictor_step(&t->pred[i], t->last_value[s], t_ms, slo_of(c, t, s),
					 c->horizon_s, &out);
		pthread_mutex_lock(&d->state_mu);
		t->out[i] = out;
		pthread_mutex_unlock(&d->state_mu);
		if (started) {
			log_info("detection: prediction.breach: %s %s %.4g -> %.4g %s in %.0f s "
				 "(confidence %.2f) tenant=%s",
				 t->service, out.metric, out.current, out.threshold,
				 signal_def(s)->unit, out.breach_in_s, out.confidence, t->tenant);
			prediction_event(d, t, &out, s);
		}
	}
}

/* ---- cycles ---- */

static void cycle_service(struct detection *d, const struct series_health *h, int64_t upto_s,
			  const struct detection_config *c)
{
	struct track *t = tracks_get(d, h->tenant, h->service, true);
	struct series_point *pts = NULL;
	size_t n = 0;
	int64_t since;

	if (!t || t->last_t_s >= upto_s)
		return;
	since = t->last_t_s ? t->last_t_s + 1 : upto_s - SERIES_SECONDS + 1;
	if (series_points(d->series, h->tenant, h->service, since, &pts, &n) == 0) {
		for (size_t i = 0; i < n && pts[i].t_s <= upto_s; i++)
			track_feed(d, t, &pts[i], c);
	}
	free(pts);
	t->last_t_s = upto_s;
}

/* Runs a cycle; cycle_mu held. */
static int cycle_locked(struct detection *d)
{
	struct detection_config c;
	struct series_health *list = NULL;
	uint64_t t0 = time_mono_ns();
	int64_t upto_s = (now_ms() - DETECTION_GRACE_MS) / 1000 - 1;
	size_t n = 0, warm = 0;
	int err;

	pthread_mutex_lock(&d->state_mu);
	c = d->cfg;
	pthread_mutex_unlock(&d->state_mu);
	if (!c.enabled)
		return 0;
	err = series_health(d->series, NULL, upto_s, 1, &list, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		cycle_service(d, &list[i], upto_s, &c);
	free(list);
	for (size_t i = 0; i < d->ntracks; i++)
		for (int s = 0; s < SIGNAL_COUNT; s++)
			warm += d->tracks[i]->last[s].warm;
	pthread_mutex_lock(&d->state_mu);
	d->cycles++;
	d->points += d->points_fed;
	d->points_fed = 0;
	d->warm = warm;
	d->last_cycle_ms = now_ms();
	d->last_cycle_duration_ms = (double)(time_mono_ns() - t0) / 1e6;
	pthread_mutex_unlock(&d->state_mu);
	return 0;
}

int detection_run_now(struct detection *d)
{
	struct detection_event *events;
	size_t n;
	int err;

	pthread_mutex_lock(&d->cycle_mu);
	err = cycle_locked(d);
	events = d->events;
	n = d->nevents;
	d->events = NULL;
	d->nevents = d->capevents = 0;
	/*
	 * taken before cycle_mu goes: the next cycle's events wait for these,
	 * and this call returns only once the cycles before it are published
	 */
	pthread_mutex_lock(&d->publish_mu);
	pthread_mutex_unlock(&d->cycle_mu);
	events_publish(d, events, n);
	pthread_mutex_unlock(&d->publish_mu);
	return err;
}

/* Sleeps until the next second + DETECTION_GRACE_MS; false when stopping. */
static bool wait_next_cycle(struct detection *d)
{
	struct timespec now, until;
	int64_t ms = now_ms(), next = (ms / 1000 + 1) * 1000 + DETECTION_GRACE_MS;
	bool stopping;

	if (next - ms > 1000)
		next -= 1000;
	clock_gettime(CLOCK_REALTIME, &now);
	until.tv_sec = next / 1000;
	until.tv_nsec = (long)(next % 1000) * 1000000L;
	pthread_mutex_lock(&d->stop_mu);
	while (!d->stopping &&
	       pthread_cond_timedwait(&d->stop_cv, &d->stop_mu, &until) != ETIMEDOUT)
		;
	stopping = d->stopping;
	pthread_mutex_unlock(&d->stop_mu);
	return !stopping;
}

static void *detection_thread(void *arg)
{
	struct detection *d = arg;

	while (wait_next_cycle(d)) {
		int err = detection_run_now(d);

		if (err)
			log_ratelimited(LOG_LEVEL_WARN, "detection: a cycle failed: %s",
					strerror(-err));
	}
	return NULL;
}

/* Puts the anomalies a previous run left open back into their tracks. */
static void adopt_open(struct detection *d)
{
	struct store_anomaly_filter f = { .status = 1 };
	struct store_anomaly *v = NULL;
	size_t n = 0;

	if (store_anomalies_list(d->store, &f, &v, &n, NULL))
		return;
	for (size_t i = 0; i < n; i++) {
		int s = signal_find(v[i].metric);
		struct track *t = tracks_get(d, v[i].tenant, v[i].service, true);

		if (s < 0 || !t || t->inc[s].state == INCIDENT_OPEN)
			continue;
		incident_adopt(&t->inc[s], &v[i]);
		d->open_now++;
		/* newest first: the incident ends up the oldest anomaly's */
		t->incident_started_ms = v[i].started_ms;
		t->incident_severity = v[i].severity;
		t->open++;
	}
	if (d->open_now)
		log_info("detection: %zu anomalies still open from the previous run", d->open_now);
	store_anomalies_free(v, n);
}

int detection_start(struct detection **out, const struct detection_config *c)
{
	struct detection *d = xcalloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int err;

	d->series = c->series;
	d->bus = c->bus;
	d->cfg = *c;
	slo_table_copy(&d->cfg.slo, &c->slo);
	d->so = c->store;
	d->dir = xstrdup(c->store.dir);
	d->so.dir = d->dir;
	d->so.read_only = false;
	detector_params_default(&d->dparams);
	d->dparams.warmup_points = c->warmup_s;
	/*
	 * A point is a candidate at the detector's own alarm level, and without
	 * its suppression: the incident state machine is detection's, and a
	 * damped score right after an earlier event would hide the next one.
	 */
	d->dparams.suppress_points = 0;
	d->scratch = detector_new(&d->dparams);
	pthread_mutex_init(&d->cycle_mu, NULL);
	pthread_mutex_init(&d->state_mu, NULL);
	pthread_mutex_init(&d->publish_mu, NULL);
	pthread_mutex_init(&d->stop_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_cond_init(&d->stop_cv, &ca);
	pthread_condattr_destroy(&ca);
	err = store_open(&d->store, &d->so);
	if (err)
		goto out_free;
	adopt_open(d);
	err = -pthread_create(&d->thread, NULL, detection_thread, d);
	if (err)
		goto out_free;
	log_info("detection: method %s%s, warm-up %u s, SLO p99 %.0f ms, error rate %.3g, "
		 "breach horizon %u s",
		 detection_method_name(c->method), c->enabled ? "" : " (off)", c->warmup_s,
		 c->slo.latency_p99_ms, c->slo.error_rate, c->horizon_s);
	*out = d;
	return 0;

out_free:
	d->thread = 0;
	detection_stop(d);
	return err;
}

void detection_stop(struct detection *d)
{
	if (!d)
		return;
	if (d->thread) {
		pthread_mutex_lock(&d->stop_mu);
		d->stopping = true;
		pthread_cond_signal(&d->stop_cv);
		pthread_mutex_unlock(&d->stop_mu);
		pthread_join(d->thread, NULL);
	}
	for (size_t i = 0; i < d->ntracks; i++)
		track_free(d->tracks[i]);
	free(d->tracks);
	free(d->index);
	for (size_t i = 0; i < d->nevents; i++) /* none: each cycle publishes its own */
		json_decref(d->events[i].data);
	free(d->events);
	detector_free(d->scratch);
	store_close(d->store);
	pthread_mutex_destroy(&d->cycle_mu);
	pthread_mutex_destroy(&d->state_mu);
	pthread_mutex_destroy(&d->publish_mu);
	pthread_mutex_destroy(&d->stop_mu);
	pthread_cond_destroy(&d->stop_cv);
	slo_table_release(&d->cfg.slo);
	free(d->dir);
	free(d);
}

void detection_get_status(struct detection *d, struct detection_status *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&d->state_mu);
	st->method = d->cfg.method;
	st->enabled = d->cfg.enabled;
	st->points = d->points;
	st->cycles = d->cycles;
	st->anomalies_opened = d->opened;
	st->anomalies_resolved = d->resolved;
	st->anomalies_open = d->open_now;
	st->last_cycle_ms = d->last_cycle_ms;
	st->last_cycle_duration_ms = d->last_cycle_duration_ms;
	st->series_warm = d->warm;
	st->config = d->cfg;
	st->config.store.dir = NULL;
	st->config.slo.items = NULL;
	pthread_mutex_unlock(&d->state_mu);
	/* ntracks only grows, under cycle_mu; a stale read is one cycle old at worst */
	pthread_mutex_lock(&d->cycle_mu);
	st->services = d->ntracks;
	pthread_mutex_unlock(&d->cycle_mu);
	st->series = st->services * SIGNAL_COUNT;
	st->bytes_per_series = detector_size(&d->dparams);
}

void detection_set(struct detection *d, enum detection_method method, bool enabled)
{
	pthread_mutex_lock(&d->state_mu);
	if (method < DETECTION_METHOD_COUNT)
		d->cfg.method = method;
	d->cfg.enabled = enabled;
	pthread_mutex_unlock(&d->state_mu);
	log_info("detection: method %s, %s", detection_method_name(method),
		 enabled ? "on" : "off");
}

double detection_slo(struct detection *d, const char *service, enum signal_id sig)
{
	return slo_table_get(&d->cfg.slo, service, sig);
}

size_t detection_open_count(struct detection *d, const char *tenant, const char *service)
{
	struct track *t;
	size_t n = 0;

	pthread_mutex_lock(&d->cycle_mu);
	t = tracks_get(d, tenant, service, false);
	pthread_mutex_lock(&d->state_mu);
	if (t)
		n = t->open;
	pthread_mutex_unlock(&d->state_mu);
	pthread_mutex_unlock(&d->cycle_mu);
	return n;
}

static int prediction_cmp(const void *a, const void *b)
{
	const struct detection_prediction *x = a, *y = b;
	int c = strcmp(x->service, y->service);

	if (!c)
		c = strcmp(x->tenant, y->tenant);
	return c ? c : strcmp(x->metric, y->metric);
}

int detection_predictions(struct detection *d, const char *tenant, const char *service,
			  struct detection_prediction **out, size_t *n)
{
	struct detection_prediction *v = NULL;
	size_t cnt = 0, cap = 0;

	/* cycle_mu keeps the track list still; state_mu makes each out[] whole */
	pthread_mutex_lock(&d->cycle_mu);
	pthread_mutex_lock(&d->state_mu);
	for (size_t i = 0; i < d->ntracks; i++) {
		const struct track *t = d->tracks[i];

		if ((tenant && strcmp(t->tenant, tenant)) || (service && strcmp(t->service, service)))
			continue;
		for (size_t k = 0; k < NPREDICTED; k++) {
			if (cnt == cap) {
				cap = cap ? 2 * cap : 16;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			v[cnt++] = t->out[k];
		}
	}
	pthread_mutex_unlock(&d->state_mu);
	pthread_mutex_unlock(&d->cycle_mu);
	if (cnt)
		qsort(v, cnt, sizeof(*v), prediction_cmp);
	*out = v;
	*n = cnt;
	return 0;
}

static int score_cmp(const void *a, const void *b)
{
	const struct detection_score *x = a, *y = b;
	int c = strcmp(x->service, y->service);

	return c ? c : (int)x->signal - (int)y->signal;
}

int detection_scores(struct detection *d, const char *tenant, struct detection_score **out,
		     size_t *n)
{
	struct detection_score *v = NULL;
	size_t cnt = 0, cap = 0;

	/* the cycle writes last[]: read it between cycles */
	pthread_mutex_lock(&d->cycle_mu);
	for (size_t i = 0; i < d->ntracks; i++) {
		const struct track *t = d->tracks[i];

		if (strcmp(t->tenant, tenant))
			continue;
		for (int s = 0; s < SIGNAL_COUNT; s++) {
			if (!t->last[s].warm)
				continue;
			if (cnt == cap) {
				cap = cap ? 2 * cap : 16;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			snprintf(v[cnt].service, sizeof(v[cnt].service), "%s", t->service);
			v[cnt].signal = (enum signal_id)s;
			v[cnt].score = t->last[s].score;
			cnt++;
		}
	}
	pthread_mutex_unlock(&d->cycle_mu);
	if (cnt)
		qsort(v, cnt, sizeof(*v), score_cmp);
	*out = v;
	*n = cnt;
	return 0;
}
