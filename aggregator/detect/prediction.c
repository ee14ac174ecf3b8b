/*
 * Time to SLO breach for one signal (prediction.h).
 */
#include "aggregator/detect/prediction.h"

#include <math.h>
#include <string.h>

void prediction_params(struct forecast_params *fp)
{
	forecast_params_default(fp);
	/*
	 * phi 0.99: a trend held for a minute reaches about 100 trend-steps
	 * ahead (phi / (1 - phi)), enough to see a steady climb of a few ms/s
	 * to a 500 ms SLO more than a minute before it; lower damping reaches
	 * too short, none at all (1) extrapolates noise without bound.
	 */
	fp->phi = 0.99;
}

void predictor_init(struct predictor *p)
{
	struct forecast_params fp;

	memset(p, 0, sizeof(*p));
	prediction_params(&fp);
	forecast_init(&p->model, &fp);
}

/* Whether @value is the second point in a row of a step away from the smoothed level. */
static bool predictor_jumped(struct predictor *p, double value, double threshold)
{
	double jump = PREDICTION_JUMP_SIGMAS * sqrt(p->model.err_var);

	if (threshold > 0 && PREDICTION_JUMP_SHARE * threshold > jump)
		jump = PREDICTION_JUMP_SHARE * threshold;
	if (!p->have || !forecast_ready(&p->model) || fabs(value - p->smoothed) <= jump) {
		p->jump_points = 0;
		return false;
	}
	return ++p->jump_points >= 2;
}

bool predictor_step(struct predictor *p, double value, int64_t t_ms, double threshold,
		    unsigned horizon_s, struct detection_prediction *out)
{
	const double alpha = 2.0 / (PREDICTION_SMOOTH_POINTS + 1);
	bool was = out->will_breach;
	unsigned steps = 0;
	double conf = 0;

	if (!isfinite(value))
		return false;
	if (predictor_jumped(p, value, threshold)) {
		predictor_init(p); /* a new level, not a climb: forget the old one */
		out->will_breach = was = false;
	}
	p->smoothed = p->have ? p->smoothed + alpha * (value - p->smoothed) : value;
	p->have = true;
	forecast_update(&p->model, p->smoothed);

	out->ready = forecast_ready(&p->model);
	out->current = p->smoothed;
	out->threshold = threshold;
	out->updated_ms = t_ms;
	out->trend_per_s = p->model.trend;
	out->breached = threshold > 0 && p->smoothed >= threshold;
	if (out->ready && threshold > 0 && !out->breached)
		steps = forecast_steps_to(&p->model, threshold, horizon_s, &conf);
	p->crossing_points = steps ? p->crossing_points + 1 : 0;
	out->will_breach = p->crossing_points >= PREDICTION_CONFIRM_POINTS;
	out->breach_in_s = out->will_breach ? (double)steps : 0;
	out->confidence = out->will_breach ? conf : 0;
	out->model = p->model;
	if (!out->will_breach)
		out->breach_predicted_since_ms = 0;
	else if (!was)
		out->breach_predicted_since_ms = t_ms;
	return out->will_breach && !was;
}
