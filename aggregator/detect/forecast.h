/*
 * Short-horizon forecasting of one series: Holt's linear trend with a
 * damped trend (Gardner & McKenzie), updated online one point at a time,
 * with a prediction interval from the one-step errors, and the number of
 * steps until the forecast crosses a threshold (an SLO). O(1) memory.
 *
 * Used by the aggregator's prediction (time to SLO breach per service and
 * signal) and by POST /forecast. Documented in docs/prediction.md.
 *
 * Threads: a struct forecast belongs to one thread at a time.
 */
#ifndef PRP_AGGREGATOR_DETECT_FORECAST_H
#define PRP_AGGREGATOR_DETECT_FORECAST_H

#include <stdbool.h>
#include <stddef.h>

struct forecast_params {
	double alpha; /* level smoothing, (0,1] */
	double beta;  /* trend smoothing, (0,1] */
	double phi;   /* trend damping, (0,1]: 1 = Holt's undamped trend */
	unsigned warmup_points; /* points before forecast_ready() */
	double interval_z;	/* half-width of the interval in standard errors (1.96: 95%) */
	/*
	 * Added by forecast.c: EWMA weight of the squared one-step errors,
	 * (0,1]. 0 (a zeroed or older initialiser) means the default.
	 */
	double sigma_alpha;
};

/*
 * The defaults, for 1 Hz latency or error-rate series smoothed by the caller
 * (reasons in forecast.c and docs/prediction.md). forecast_init() replaces
 * any value out of its range (or NaN) by its default.
 */
void forecast_params_default(struct forecast_params *p);

/* Embedded state: forecast_init() allocates nothing, so there is no release. */
struct forecast {
	struct forecast_params p;
	double level, trend;
	double err_var; /* EWMA of squared one-step errors */
	unsigned long n; /* points seen */
	/* Added by forecast.c: */
	unsigned long n_err;	    /* one-step errors folded into err_var */
	double last;		    /* the newest value seen */
	double init_sum, init_tsum; /* sum of x_t and of t * x_t over the first points */
};

/* @p is copied (NULL: defaults). */
void forecast_init(struct forecast *f, const struct forecast_params *p);
/* Adds one point; a non-finite value is ignored. */
void forecast_update(struct forecast *f, double value);
/* True once warmup_points points (and at least one) were seen. */
bool forecast_ready(const struct forecast *f);

/*
 * The forecast @h >= 1 steps ahead (0 is taken as 1), with its interval
 * [*lo, *hi]; any pointer may be NULL. Before the first point all three are
 * NaN; before forecast_ready() they come from the few points seen and the
 * interval may be too narrow. O(1).
 */
void forecast_ahead(const struct forecast *f, unsigned h, double *mean, double *lo,
		    double *hi);

/*
 * The first h in 1..@max_h at which the forecast mean reaches @threshold
 * from below (>=), or 0 when it does not within @max_h (or the series is
 * already at or above it: the caller checks the current value). When
 * @confidence is not NULL it gets how sure the crossing is, in [0,1]: the
 * probability, under the interval's normal errors, that the value at that
 * step is above @threshold (0 when there is no crossing).
 * "Already" means the smoothed level or the newest value is at or above it.
 * Always 0 before forecast_ready(). O(log @max_h), O(1) when there is no
 * crossing.
 */
unsigned forecast_steps_to(const struct forecast *f, double threshold, unsigned max_h,
			   double *confidence);

#endif
