/*
 * One streaming anomaly detector per series: the library the aggregator runs
 * on every (service, signal) series at 1 Hz and prp-detect runs on a CSV
 * file (DESIGN.md). Online, no look-ahead: the result for a point depends
 * only on that point and the ones before it. Memory is fixed at
 * detector_new() (detector_size()), whatever the length of the series.
 *
 * The method and every parameter are documented in docs/detection.md.
 *
 * Threads: a struct detector belongs to one thread at a time.
 */
#ifndef PRP_AGGREGATOR_DETECT_DETECTOR_H
#define PRP_AGGREGATOR_DETECT_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * General parameters only: the same defaults serve every series (NAB's
 * files, the aggregator's 1 Hz signals); nothing here is per file.
 * Counts are in points, durations in seconds of the series' own clock.
 */
struct detector_params {
	unsigned warmup_points; /* points learnt before any score leaves 0 */
	double season_s;	/* seasonal period (86400: daily); 0 = no seasonality */
	double alarm_score;	/* result.alarm when score >= this (and not suppressed) */
	unsigned suppress_points; /* after an alarm, no new alarm for this many points */
	/*
	 * Tuning knobs (docs/detection.md gives each default and why).
	 * Smoothing factors are per point unless said otherwise.
	 */
	double alpha_level;   /* level EWMA */
	double alpha_scale;   /* robust scale (mean absolute deviation) EWMA */
	double clip_z;	      /* residuals are clipped at this many scales before learning */
	double range_floor;   /* scale floor: share of the range (max - min) seen */
	double rel_floor;     /* scale floor: share of |level| */
	double abs_floor;     /* scale floor: absolute epsilon, in the series' unit */
	unsigned season_bins; /* phase bins per season (<= DETECTOR_SEASON_BINS_MAX) */
	double season_alpha;  /* how far one visit of a bin moves its mean */
	double offset_alpha;  /* EWMA of the seasonal model's offset (level under the profile) */
	double select_alpha;  /* EWMA of each model's |error|, to pick the better one */
	double select_ratio;  /* the seasonal model predicts when its error < ratio x level's */
	unsigned short_points; /* likelihood: short average of |z| (<= DETECTOR_SHORT_MAX) */
	double u_cap;	      /* |z| is capped here before averaging */
	double window_power;  /* the short average's tail falls as avg^-window_power */
	double point_weight;  /* weight of the point's own tail score */
	double window_weight; /* weight of the likelihood (window) score */
	double score_decades; /* score = -log10(tail probability) / this, capped at 1 */
	double cusum_k;	      /* CUSUM drift, in scales */
	double cusum_h;	      /* CUSUM threshold, in scales */
	double shift_score;   /* least score of a point where the CUSUM fires (0: none) */
	double suppress_damp; /* a score below the last peak (fading over suppress_points) x this */
	double tail_alpha;    /* forgetting factor of the histogram of |z| (memory ~1/alpha points) */
	double tail_above;    /* the tail starts at the |z| exceeded by this share of points */
	double tail_power;    /* past it, P(|Z| >= u) falls as u^-k, k fitted, at least this */
	double tail_power_max; /* and at most this */
	double tail_q_min;    /* least |z| the tail may start at (flat series) */
	double tail_prior;    /* pseudo-points of |N(0,1)| the histogram starts with */
	double tail_learn_cap; /* a |z| is learnt as at most this x the tail's start */
	double restart_z;     /* a level shift with |z| >= this restarts the scale's estimate */
	double cusum_clip;    /* z is clipped here before the CUSUM */
	unsigned season_peak_span; /* recurring spikes: bins either side of the phase searched */
	double season_peak_keep;   /* share of a bin's peak |z| kept from one season to the next */
	double season_peak_weight; /* the tail starts no lower than this x the seasonal peak (0: off) */
	double tail_k_alpha;  /* forgetting factor of the slower histogram the tail's power is fitted on */
	double tail_k_ratio;  /* the power is fitted between the quantiles at tail_above x this and tail_above */
};

#define DETECTOR_SEASON_BINS_MAX 1024
#define DETECTOR_SHORT_MAX	 64

/* The defaults, tuned on NAB's development subset (docs/detection.md). */
void detector_params_default(struct detector_params *p);

struct detector_result {
	double score;	  /* in [0,1]: how unlikely the point is under the baseline */
	double expected;  /* the baseline's value for this point */
	double lower, upper; /* the expected range: within it the score stays low */
	double deviation; /* (value - expected) / robust scale: signed, unitless */
	int direction;	  /* +1 above the range, -1 below, 0 inside */
	bool warm;	  /* past warm-up: score is meaningful */
	bool level_shift; /* the change-point test fired on this point */
	bool alarm;	  /* score >= alarm_score, and not within suppress_points of the last */
};

struct detector;

/* @p is copied (NULL: the defaults). Caller owns: detector_free(). */
struct detector *detector_new(const struct detector_params *p);
/* NULL does nothing. */
void detector_free(struct detector *d);
/* Bytes one detector with @p uses (NULL: the defaults); constant over its life. */
size_t detector_size(const struct detector_params *p);

/*
 * Feeds the point (@t_s, @value) and fills @r. Points come in time order
 * (equal times allowed, a time going back is treated as equal to the last).
 * A non-finite @value is a missing point: @r is all zero and the state is
 * unchanged. Never fails.
 */
void detector_update(struct detector *d, double t_s, double value, struct detector_result *r);

/*
 * The result detector_update() would give for the point, without learning
 * it: @d is unchanged. @scratch is a detector created with the same
 * parameters as @d, whose state is overwritten. For a caller that keeps
 * anomalous points out of the baseline while an anomaly lasts.
 */
void detector_peek(const struct detector *d, struct detector *scratch, double t_s, double value,
		   struct detector_result *r);

#endif
