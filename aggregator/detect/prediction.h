/*
 * Prediction of one SLO signal of one service: the per-second values are
 * smoothed (an EWMA over about PREDICTION_SMOOTH_POINTS seconds: a p99 of
 * one second is too noisy to extrapolate), forecast with damped Holt
 * (forecast.h), and the forecast is asked when it reaches the SLO.
 *
 * A breach is predicted when the forecast has crossed the SLO within the
 * horizon at every one of the last PREDICTION_CONFIRM_POINTS seconds while
 * the smoothed value is still below it. The trend's damping bounds how far
 * any forecast can go (trend * phi / (1 - phi)), and the confirmation
 * drops the crossings a few seconds of noise make (the confidence at the
 * crossing is always about 0.5, so it cannot filter them: forecast.h).
 *
 * A step is not a trend: when two seconds in a row jump away from the
 * smoothed value by more than PREDICTION_JUMP_SIGMAS one-step errors and a
 * tenth of the threshold, the model starts again from the new level (and
 * warms up again) instead of extrapolating the step as a climb.
 */
#ifndef PRP_AGGREGATOR_DETECT_PREDICTION_H
#define PRP_AGGREGATOR_DETECT_PREDICTION_H

#include <stdbool.h>
#include <stdint.h>

#include "aggregator/detect/detection.h"
#include "aggregator/detect/forecast.h"

#define PREDICTION_SMOOTH_POINTS  5
#define PREDICTION_CONFIRM_POINTS 10
#define PREDICTION_JUMP_SIGMAS	  6.0
#define PREDICTION_JUMP_SHARE	  0.1

struct predictor {
	struct forecast model;
	double smoothed;
	bool have;
	unsigned crossing_points; /* consecutive seconds the forecast crossed */
	unsigned jump_points;	  /* consecutive seconds far from the smoothed value */
};

/* The forecast parameters detection uses for 1 Hz smoothed signals. */
void prediction_params(struct forecast_params *fp);

void predictor_init(struct predictor *p);

/*
 * Feeds @value (NaN: a second without one: nothing changes) at @t_ms and
 * updates @out (whose tenant, service and metric the caller set) against
 * @threshold. Returns true when this step starts a run of will_breach (a
 * prediction.breach event).
 */
bool predictor_step(struct predictor *p, double value, int64_t t_ms, double threshold,
		    unsigned horizon_s, struct detection_prediction *out);

#endif
