/*
 * Detection and prediction in the aggregator: a thread that, once per
 * second, feeds each service's closed seconds from the in-memory series to
 * one detector per signal (aggregator/detect/signals.h), turns what they
 * flag into anomalies that open, update and resolve (incident.h) and are
 * kept in the store, and forecasts the SLO signals to say how long until
 * they breach (prediction.h). docs/detection.md describes the whole.
 *
 * A second t is processed once the wall clock is past t + 1 +
 * DETECTION_GRACE_MS, so the windows every agent closed in it have
 * arrived; a window later than that still counts in the series and the
 * store, but not in detection.
 *
 * Events (API.md "events", aggregator/events/bus.h): anomaly.detected and
 * anomaly.resolved for each anomaly (an escalation is none);
 * incident.started when a service's first open anomaly opens and
 * incident.resolved when its last one resolves; prediction.breach when a
 * forecast starts saying a breach is within horizon_s. A cycle's events
 * are published in order when it ends, with no lock of detection held.
 *
 * Threads: detection_start()/detection_stop() by one thread (main); every
 * other function from any thread (the HTTP workers). One cycle runs at a
 * time: detection_run_now() waits for a running one and then runs its own.
 */
#ifndef PRP_AGGREGATOR_DETECT_DETECTION_H
#define PRP_AGGREGATOR_DETECT_DETECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/detect/forecast.h"
#include "aggregator/detect/signals.h"
#include "aggregator/detect/slo.h"
#include "aggregator/store/store.h"
#include "common/compiler.h"

#define DETECTION_GRACE_MS 250

/* The methods detection can run; POST /ml/toggle switches between them. */
enum detection_method {
	DETECTION_ROBUST = 0, /* the streaming detector on every signal (detector.h) */
	DETECTION_SLO = 1,    /* only the SLO thresholds, on the SLO signals */
	DETECTION_METHOD_COUNT
};

struct bus;
struct series;

struct detection_config {
	struct series *series;	    /* borrowed; must outlive detection */
	struct store_options store; /* copied (dir too); detection opens its own writer */
	enum detection_method method;
	bool enabled;		    /* false: the thread feeds nothing until toggled on */
	unsigned warmup_s;	    /* seconds a signal is learnt before it may alarm */
	unsigned resolve_after_s;   /* an anomaly resolves after this many normal seconds */
	struct slo_table slo;	    /* every service's objectives; copied (deep) */
	unsigned horizon_s; /* a breach forecast within this many seconds is a prediction.breach */
	struct bus *bus;    /* borrowed; may be NULL: no events; must outlive detection */
};

/* The defaults every field of struct detection_config has in aggregator.yaml. */
void detection_config_default(struct detection_config *c);

struct detection;

/*
 * Opens the store, takes back the anomalies left open by a previous run
 * and starts the thread. Returns 0 (*out owned by the caller:
 * detection_stop()) or a negative errno, with nothing left running.
 */
PRP_MUST_CHECK int detection_start(struct detection **out, const struct detection_config *c);
/* Stops the thread after its cycle and frees @d. NULL does nothing. */
void detection_stop(struct detection *d);

/*
 * Runs a cycle now, on the calling thread; when it returns, the events of
 * that cycle and of every one before are published. 0 or a negative errno.
 */
int detection_run_now(struct detection *d);

struct detection_status {
	enum detection_method method;
	bool enabled;
	size_t services;	 /* services tracked */
	size_t series;		 /* signals tracked (services x signals) */
	size_t series_warm;	 /* of which past warm-up */
	uint64_t points;	 /* values fed to detectors, ever */
	uint64_t cycles;
	uint64_t anomalies_opened, anomalies_resolved;
	size_t anomalies_open;
	int64_t last_cycle_ms;	 /* wall clock of the last cycle's end; 0 before the first */
	double last_cycle_duration_ms;
	size_t bytes_per_series; /* a detector's memory */
	struct detection_config config; /* the running settings (store.dir, slo.items not valid) */
};
void detection_get_status(struct detection *d, struct detection_status *st);

/* Switches the method and/or the on/off state; effective from the next cycle. */
void detection_set(struct detection *d, enum detection_method method, bool enabled);
/* "robust", "slo". */
const char *detection_method_name(enum detection_method m);
/* The method called @name, or -1. */
int detection_method_find(const char *name);

/* The objective of @sig for @service (0: none): slo_table_get() on the running table. */
double detection_slo(struct detection *d, const char *service, enum signal_id sig);

/* Anomalies open now on @service of @tenant (0 for an unknown service). */
size_t detection_open_count(struct detection *d, const char *tenant, const char *service);

/* The latest prediction of one SLO signal of one service. */
struct detection_prediction {
	char tenant[FRAME_ID_MAX];
	char service[SERVICE_NAME_MAX];
	char metric[STORE_METRIC_MAX];
	bool ready;	   /* enough points to forecast */
	double current;	   /* the smoothed value forecast from */
	double threshold;  /* the SLO */
	bool will_breach;  /* within horizon_s, and not already breached */
	bool breached;	   /* the current value is past the threshold */
	double breach_in_s; /* when will_breach */
	double confidence; /* in [0,1] */
	double trend_per_s;
	int64_t updated_ms;		 /* the second it was computed at */
	int64_t breach_predicted_since_ms; /* start of the current will_breach run; 0: none */
	struct forecast model; /* a copy: forecast_ahead() on it gives the curve */
};

/*
 * The predictions of @tenant (NULL: all) and @service (NULL: all), sorted
 * by service then metric; caller owns *out (free()), NULL when none.
 */
int detection_predictions(struct detection *d, const char *tenant, const char *service,
			  struct detection_prediction **out, size_t *n);

/* The latest anomaly score of one signal of one service, past its warm-up. */
struct detection_score {
	char service[SERVICE_NAME_MAX];
	enum signal_id signal;
	double score; /* in [0,1] (detector.h) */
};
/*
 * The scores of @tenant's services, by service then signal; caller owns
 * *out (free()), NULL when none.
 */
int detection_scores(struct detection *d, const char *tenant, struct detection_score **out,
		     size_t *n);

#endif
