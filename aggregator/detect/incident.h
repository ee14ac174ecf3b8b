/*
 * The life of one anomaly on one signal of one service: the state machine
 * between what the detector says each second and the record operators see.
 *
 *   idle -> candidate: a warm detector scores the point at least min_score,
 *     the move goes the way that hurts and is past the signal's floors
 *     (signal_magnitude() >= 1). The baseline (expected value and range) is
 *     frozen here: everything after is measured against it, since the
 *     detector itself soon adapts to a lasting change.
 *   candidate -> open: open_after_points consecutive bad points (a single
 *     slow second on a busy host is not an incident); else back to idle.
 *   open: each second updates the current value, the peak and the
 *     severity, graded by the last two points (one spike does not
 *     escalate): both past the SLO, or the smaller magnitude >= 5,
 *     critical; >= 2 warning; else info. Severity only rises while open.
 *   open -> idle (resolved): resolve_after_s consecutive seconds back
 *     within the floors of the frozen baseline. Missing seconds count for
 *     neither.
 *
 * Under the SLO method a point is bad when it is past the SLO, and the
 * "baseline" is the SLO itself.
 */
#ifndef PRP_AGGREGATOR_DETECT_INCIDENT_H
#define PRP_AGGREGATOR_DETECT_INCIDENT_H

#include <stdbool.h>
#include <stdint.h>

#include "aggregator/detect/detector.h"
#include "aggregator/detect/signals.h"
#include "aggregator/store/store.h"

struct incident_params {
	double min_score;	    /* detector score that makes a point a candidate */
	unsigned open_after_points; /* consecutive bad points to open */
	unsigned resolve_after_s;
	double slo; /* the signal's SLO threshold; NaN or 0 when it has none */
	bool slo_only; /* the SLO method */
	int64_t hold_max_ms; /* incident_holds() no longer holds an anomaly open this long */
};

enum incident_state { INCIDENT_IDLE, INCIDENT_CANDIDATE, INCIDENT_OPEN };

enum incident_event {
	INCIDENT_NONE,
	INCIDENT_OPENED,   /* rec is a new anomaly (id 0): store it */
	INCIDENT_ESCALATED, /* rec's severity rose: store it */
	INCIDENT_RESOLVED, /* rec is resolved: store it; the incident is idle again */
};

/* Embedded in detection's per-service state; incident_init() allocates nothing. */
struct incident {
	enum incident_state state;
	unsigned bad_points, good_points;
	double last_magnitude;
	bool last_past_slo; /* the last point was past the SLO */
	double base_mean, base_lower, base_upper; /* frozen at candidate */
	double max_score;
	struct store_anomaly rec; /* while open: the record (rec.id once stored) */
};

void incident_init(struct incident *in);
/* Frees what rec owns. */
void incident_release(struct incident *in);

/*
 * Takes @r (the detector's result for @value at @t_ms) one step. Returns
 * the event; rec is filled for it, except its tenant, service, evidence
 * and details, which the caller sets at INCIDENT_OPENED.
 */
enum incident_event incident_step(struct incident *in, enum signal_id sig,
				  const struct incident_params *p, int64_t t_ms, double value,
				  const struct detector_result *r);

/*
 * Whether the point (@value, scored @r) belongs to an anomaly, so that the
 * detector should not learn it: it would make a candidate from idle, or
 * the incident is a candidate, or open for less than hold_max_ms. Pure.
 */
bool incident_holds(const struct incident *in, enum signal_id sig,
		    const struct incident_params *p, int64_t t_ms, double value,
		    const struct detector_result *r);

/* Puts an open anomaly read from the store back into @in (after a restart). */
void incident_adopt(struct incident *in, const struct store_anomaly *a);

#endif
