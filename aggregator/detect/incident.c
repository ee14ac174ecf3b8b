/*
 * The anomaly state machine of incident.h. Pure: no store, no clock, no
 * lock; detection.c owns the incidents and writes what they report.
 */
#include "aggregator/detect/incident.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

/* Severity thresholds on the magnitude (times over the signal's floors). */
#define INCIDENT_WARNING_MAGNITUDE  2.0
#define INCIDENT_CRITICAL_MAGNITUDE 5.0

void incident_init(struct incident *in)
{
	memset(in, 0, sizeof(*in));
}

void incident_release(struct incident *in)
{
	store_anomaly_release(&in->rec);
	in->state = INCIDENT_IDLE;
}

static bool incident_past_slo(const struct incident_params *p, double value)
{
	return p->slo > 0 && isfinite(p->slo) && value > p->slo;
}

/* How bad @value is against the frozen baseline: 0 when it is fine. */
static double incident_magnitude(const struct incident *in, enum signal_id sig,
				 const struct incident_params *p, double value)
{
	if (p->slo_only)
		return incident_past_slo(p, value) ? fmax(1.0, value / p->slo) : 0;
	return signal_magnitude(sig, value, in->base_mean);
}

/* Grades the last two points: @sustained is their smaller magnitude. */
static enum store_severity incident_grade(struct incident *in, const struct incident_params *p,
					  double sustained, double value)
{
	bool past = incident_past_slo(p, value), was_past = in->last_past_slo;

	in->last_past_slo = past;
	if (sustained >= INCIDENT_CRITICAL_MAGNITUDE || (past && was_past))
		return STORE_SEVERITY_CRITICAL;
	if (sustained >= INCIDENT_WARNING_MAGNITUDE)
		return STORE_SEVERITY_WARNING;
	return STORE_SEVERITY_INFO;
}

/* Confidence grows with the score and with how far past the floors the move is. */
static double incident_confidence(double score, double magnitude)
{
	double by_size = magnitude >= 2 ? 1.0 : 0.5 + 0.25 * magnitude;

	return fmin(1.0, fmax(0.0, score * by_size));
}

/* Whether the point would make an idle incident a candidate. */
static bool incident_qualifies(enum signal_id sig, const struct incident_params *p, double value,
			       const struct detector_result *r)
{
	if (p->slo_only)
		return incident_past_slo(p, value);
	return r->warm && r->score >= p->min_score && signal_magnitude(sig, value, r->expected) >= 1;
}

bool incident_holds(const struct incident *in, enum signal_id sig,
		    const struct incident_params *p, int64_t t_ms, double value,
		    const struct detector_result *r)
{
	switch (in->state) {
	case INCIDENT_IDLE:
		return incident_qualifies(sig, p, value, r);
	case INCIDENT_CANDIDATE:
		return true;
	case INCIDENT_OPEN:
		return t_ms - in->rec.started_ms < p->hold_max_ms;
	}
	return false;
}

static bool incident_candidate(struct incident *in, enum signal_id sig,
			       const struct incident_params *p, double value,
			       const struct detector_result *r)
{
	if (!incident_qualifies(sig, p, value, r))
		return false;
	if (p->slo_only) {
		in->base_mean = in->base_upper = p->slo;
		in->base_lower = 0;
		in->max_score = 1.0;
	} else {
		in->base_mean = r->expected;
		in->base_lower = fmax(r->lower, 0); /* every signal is a latency, rate or count */
		in->base_upper = r->upper;
		in->max_score = r->score;
	}
	in->last_magnitude = incident_magnitude(in, sig, p, value);
	in->last_past_slo = incident_past_slo(p, value);
	in->bad_points = 1;
	in->good_points = 0;
	in->state = INCIDENT_CANDIDATE;
	return true;
}

static void incident_open(struct incident *in, enum signal_id sig, const struct incident_params *p,
			  int64_t t_ms, double value, double sustained)
{
	struct store_anomaly *a = &in->rec;

	store_anomaly_release(a);
	snprintf(a->metric, sizeof(a->metric), "%s", signal_def(sig)->name);
	a->open = true;
	a->severity = incident_grade(in, p, sustained, value);
	a->score = in->max_score;
	a->confidence = incident_confidence(in->max_score, sustained);
	a->current_value = a->peak_value = value;
	a->expected_mean = in->base_mean;
	a->expected_min = in->base_lower;
	a->expected_max = in->base_upper;
	a->started_ms = a->updated_ms = t_ms;
	in->state = INCIDENT_OPEN;
}

/* Whether @b is worse than @a for the signal (further the way that hurts). */
static bool incident_worse(enum signal_id sig, double a, double b, double base)
{
	return signal_magnitude(sig, b, base) > signal_magnitude(sig, a, base) ||
	       (signal_def(sig)->bad == SIGNAL_UP && b > a);
}

static enum incident_event incident_step_open(struct incident *in, enum signal_id sig,
					      const struct incident_params *p, int64_t t_ms,
					      double value, const struct detector_result *r)
{
	struct store_anomaly *a = &in->rec;
	double m = incident_magnitude(in, sig, p, value);
	enum store_severity sev;

	a->current_value = value;
	a->updated_ms = t_ms;
	if (incident_worse(sig, a->peak_value, value, in->base_mean))
		a->peak_value = value;
	if (m < 1) {
		in->last_magnitude = 0;
		in->last_past_slo = false;
		if (++in->good_points < p->resolve_after_s)
			return INCIDENT_NONE;
		a->open = false;
		a->resolved_ms = t_ms;
		in->state = INCIDENT_IDLE;
		return INCIDENT_RESOLVED;
	}
	in->good_points = 0;
	if (!p->slo_only && r->score > a->score)
		a->score = r->score;
	sev = incident_grade(in, p, fmin(m, in->last_magnitude), value);
	in->last_magnitude = m;
	if (sev <= a->severity)
		return INCIDENT_NONE;
	a->severity = sev;
	a->confidence = fmax(a->confidence, incident_confidence(a->score, m));
	return INCIDENT_ESCALATED;
}

enum incident_event incident_step(struct incident *in, enum signal_id sig,
				  const struct incident_params *p, int64_t t_ms, double value,
				  const struct detector_result *r)
{
	double m;

	if (!isfinite(value))
		return INCIDENT_NONE;
	switch (in->state) {
	case INCIDENT_IDLE:
		if (incident_candidate(in, sig, p, value, r) && p->open_after_points <= 1) {
			incident_open(in, sig, p, t_ms, value, in->last_magnitude);
			return INCIDENT_OPENED;
		}
		return INCIDENT_NONE;
	case INCIDENT_CANDIDATE:
		m = incident_magnitude(in, sig, p, value);
		if (m < 1) {
			in->state = INCIDENT_IDLE;
			return incident_step(in, sig, p, t_ms, value, r);
		}
		if (!p->slo_only && r->score > in->max_score)
			in->max_score = r->score;
		if (++in->bad_points < p->open_after_points) {
			in->last_magnitude = fmin(in->last_magnitude, m);
			in->last_past_slo = in->last_past_slo && incident_past_slo(p, value);
			return INCIDENT_NONE;
		}
		incident_open(in, sig, p, t_ms, value, fmin(in->last_magnitude, m));
		in->last_magnitude = m;
		return INCIDENT_OPENED;
	case INCIDENT_OPEN:
		return incident_step_open(in, sig, p, t_ms, value, r);
	}
	return INCIDENT_NONE;
}

void incident_adopt(struct incident *in, const struct store_anomaly *a)
{
	store_anomaly_release(&in->rec);
	in->rec = *a;
	in->rec.evidence = a->evidence ? xstrdup(a->evidence) : NULL;
	in->rec.details = a->details ? xstrdup(a->details) : NULL;
	in->base_mean = a->expected_mean;
	in->base_lower = a->expected_min;
	in->base_upper = a->expected_max;
	in->max_score = a->score;
	in->last_magnitude = 0;
	in->last_past_slo = false;
	in->bad_points = in->good_points = 0;
	in->state = INCIDENT_OPEN;
}
