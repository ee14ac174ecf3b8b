/*
 * Predictions and forecasts (API.md "Anomalies and predictions").
 * GET /predictions/... show what detection computed at its last cycle for
 * the SLO signals. POST /predict and POST /forecast forecast any signal:
 * from detection's model for the SLO signals, else from a model fitted
 * on the spot to the in-memory series (the last SERIES_SECONDS seconds)
 * with the same smoothing and method.
 */
#include "aggregator/http/api_predictions.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/detect/detection.h"
#include "aggregator/detect/forecast.h"
#include "aggregator/detect/prediction.h"
#include "aggregator/detect/signals.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "aggregator/series.h"
#include "common/strparse.h"
#include "common/timeutil.h"

/* Points of the predicted curve of POST /predict. */
#define API_PREDICT_POINTS 30
/* Bounds of POST /forecast. */
#define API_FORECAST_PERIODS_MAX 1000
#define API_FORECAST_HORIZON_MAX_S (7 * 86400)
/* Longest time_window of POST /predict. */
#define API_PREDICT_WINDOW_MAX_S (24 * 3600)

static json_t *api_predictions_item(const struct detection_prediction *p)
{
	json_t *v = json_pack("{s:s, s:s, s:b, s:f, s:f, s:b, s:b, s:f, s:f, s:o}", "service",
			      p->service, "metric", p->metric, "ready", p->ready, "current",
			      p->current, "threshold", p->threshold, "will_breach", p->will_breach,
			      "breached", p->breached, "confidence", p->confidence, "trend_per_s",
			      p->trend_per_s, "updated_at", resp_time(p->updated_ms));

	if (v && p->will_breach) {
		json_object_set_new(v, "breach_in_s", json_real(p->breach_in_s));
		json_object_set_new(v, "estimated_breach_time",
				    resp_time(p->updated_ms + (int64_t)(p->breach_in_s * 1000)));
		json_object_set_new(v, "breach_predicted_since",
				    resp_time(p->breach_predicted_since_ms));
	}
	return v;
}

static struct detection *api_predictions_detection(struct req *rq, struct resp *rp)
{
	if (!rq->env->detection)
		resp_error(rp, 503, "unavailable", "detection is not running");
	return rq->env->detection;
}

static int api_predictions_answer(struct req *rq, struct resp *rp, const char *service)
{
	struct detection *d = api_predictions_detection(rq, rp);
	struct detection_prediction *v = NULL;
	json_t *list, *doc;
	size_t n = 0;

	if (!d)
		return -EIO;
	if (detection_predictions(d, rq->tenant, service, &v, &n))
		return resp_error(rp, 500, "internal", "cannot read the predictions");
	if (service && !n) {
		free(v);
		return resp_error(rp, 404, "not_found", "no predictions for service '%.64s'",
				  service);
	}
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, api_predictions_item(&v[i]));
	free(v);
	doc = json_pack("{s:o, s:I}", "predictions", list, "count", (json_int_t)n);
	if (doc && service)
		json_object_set_new(doc, "service", json_string(service));
	return resp_json(rp, 200, doc);
}

int api_predictions_all(struct req *rq, struct resp *rp)
{
	return api_predictions_answer(rq, rp, NULL);
}

int api_predictions_service(struct req *rq, struct resp *rp)
{
	return api_predictions_answer(rq, rp, req_param(rq, "service"));
}

/* ---- models for POST /predict and POST /forecast ---- */

struct api_model {
	struct detection_prediction p; /* model, current, threshold, updated_ms, will_breach */
};

static double api_slo(struct req *rq, const char *service, enum signal_id s)
{
	return rq->env->detection ? detection_slo(rq->env->detection, service, s) : 0;
}

/*
 * Fits a model of @sig of @service to the in-memory series. -ENOENT: no
 * such service; -ENODATA: no value of @sig in it (no request: no latency).
 */
static int api_model_fit(struct req *rq, const char *service, enum signal_id sig,
			 unsigned horizon_s, struct api_model *m)
{
	struct series_point *pts = NULL;
	struct predictor pr;
	size_t n = 0;
	int err;

	memset(m, 0, sizeof(*m));
	if (!rq->env->series)
		return -ENOENT;
	err = series_points(rq->env->series, rq->tenant, service, 0, &pts, &n);
	if (err)
		return err;
	predictor_init(&pr);
	m->p.threshold = api_slo(rq, service, sig);
	for (size_t i = 0; i < n; i++)
		predictor_step(&pr, signal_value(sig, &pts[i]), pts[i].t_s * 1000,
			       m->p.threshold, horizon_s, &m->p);
	free(pts);
	if (!n)
		return -ENOENT;
	if (!pr.model.n) /* a curve of NaN could not be written */
		return -ENODATA;
	m->p.model = pr.model;
	return 0;
}

/* The model of @sig: detection's for the signals it predicts, else fitted now. */
static int api_model_get(struct req *rq, const char *service, enum signal_id sig,
			 unsigned horizon_s, struct api_model *m)
{
	struct detection_prediction *v = NULL;
	size_t n = 0;
	bool found = false;

	if (rq->env->detection &&
	    !detection_predictions(rq->env->detection, rq->tenant, service, &v, &n)) {
		for (size_t i = 0; i < n && !found; i++) {
			if (strcmp(v[i].metric, signal_def(sig)->name) || !v[i].ready)
				continue;
			m->p = v[i];
			found = true;
		}
		free(v);
	}
	return found ? 0 : api_model_fit(rq, service, sig, horizon_s, m);
}

/*
 * [[t, v], ...]: @points values of the model @step_s apart, with their
 * interval as [[t, lower, upper], ...] in *@interval, and the highest mean.
 */
static json_t *api_model_curve(const struct api_model *m, unsigned points, double step_s,
			       json_t **interval, double *max_mean)
{
	json_t *curve = json_array();

	*interval = json_array();
	*max_mean = m->p.current;
	for (unsigned i = 1; i <= points; i++) {
		unsigned h = (unsigned)ceil(i * step_s);
		int64_t t_ms = m->p.updated_ms + (int64_t)h * 1000;
		double mean, lo, hi;

		forecast_ahead(&m->p.model, h ? h : 1, &mean, &lo, &hi);
		if (mean > *max_mean)
			*max_mean = mean;
		json_array_append_new(curve, json_pack("[o, f]", resp_time(t_ms), mean));
		json_array_append_new(*interval, json_pack("[o, f, f]", resp_time(t_ms), lo, hi));
	}
	return curve;
}

static int api_model_error(struct resp *rp, int err, const char *service, enum signal_id sig)
{
	if (err == -ENODATA)
		return resp_error(rp, 404, "not_found", "no recent value of %s for service '%.64s'",
				  signal_def(sig)->name, service);
	if (err == -ENOENT)
		return resp_error(rp, 404, "not_found", "no recent data for service '%.64s'",
				  service);
	return resp_error(rp, 500, "internal", "cannot read the series of '%.64s'", service);
}

/* "metric": a signal name, into *sig; 0 or the 400 answered. */
static int api_signal_of(struct resp *rp, const char *field, const char *name,
			 enum signal_id *sig)
{
	int s = signal_find(name);

	if (s < 0)
		return resp_error(rp, 400, "bad_request",
				  "%s: unknown metric '%.64s' (latency_p50, latency_p99, "
				  "error_rate, request_rate, syscall_error_rate, tcp_retransmits, "
				  "tcp_resets)",
				  field, name);
	*sig = (enum signal_id)s;
	return 0;
}

static json_t *api_predict_one(struct req *rq, const char *service, enum signal_id sig,
			       unsigned window_s, int *err)
{
	struct api_model m;
	double max_mean, conf;
	unsigned steps;
	json_t *curve, *interval, *v;
	char advice[256];

	*err = api_model_get(rq, service, sig, window_s, &m);
	if (*err)
		return NULL;
	curve = api_model_curve(&m, API_PREDICT_POINTS, (double)window_s / API_PREDICT_POINTS,
				&interval, &max_mean);
	steps = m.p.threshold > 0 && m.p.current < m.p.threshold
			? forecast_steps_to(&m.p.model, m.p.threshold, window_s, &conf)
			: 0;
	if (steps)
		snprintf(advice, sizeof(advice),
			 "%s of %s is forecast to reach its objective of %.4g %s in about %u s: "
			 "look at what changed and act before it does",
			 signal_def(sig)->name, service, m.p.threshold, signal_def(sig)->unit, steps);
	else if (m.p.threshold > 0 && m.p.current >= m.p.threshold)
		snprintf(advice, sizeof(advice), "%s of %s is past its objective of %.4g %s now",
			 signal_def(sig)->name, service, m.p.threshold, signal_def(sig)->unit);
	else
		snprintf(advice, sizeof(advice), "no action needed");
	v = json_pack("{s:s, s:f, s:o, s:o, s:f, s:b, s:f, s:f, s:s, s:s}", "metric",
		      signal_def(sig)->name, "current", m.p.current, "predicted", curve,
		      "interval", interval,
		      "confidence", steps ? conf : 1.0 - m.p.confidence, "will_breach_threshold",
		      steps > 0, "threshold", m.p.threshold, "forecasted_max", max_mean,
		      "recommendation", advice, "method", "holt_damped");
	if (v)
		json_object_set_new(v, "estimated_breach_time",
				    steps ? resp_time(m.p.updated_ms + (int64_t)steps * 1000)
					  : json_null());
	return v;
}

/* A duration field (a string such as "30m", or seconds) in 1..@max_s. */
static int api_duration_field(struct resp *rp, const char *field, json_t *v, unsigned max_s,
			      unsigned *out)
{
	uint64_t ns;

	if (json_is_integer(v) && json_integer_value(v) >= 1 &&
	    json_integer_value(v) <= (json_int_t)max_s) {
		*out = (unsigned)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && !strparse_duration_ns(json_string_value(v), NSEC_PER_SEC, &ns) &&
	    ns >= NSEC_PER_SEC && ns / NSEC_PER_SEC <= max_s) {
		*out = (unsigned)(ns / NSEC_PER_SEC);
		return 0;
	}
	return resp_error(rp, 400, "bad_request",
			  "%s: a duration from 1s to %us (\"30m\", or seconds) is required", field,
			  max_s);
}

int api_predictions_predict(struct req *rq, struct resp *rp)
{
	const char *service = NULL;
	json_t *body, *window = NULL, *metrics = NULL, *list, *item;
	unsigned window_s = 1800;
	char window_text[16];
	json_error_t jerr;
	size_t i;
	int err = 0;

	if (api_common_body(rq, rp, false, &body))
		return -EINVAL;
	if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s, s?o, s?o}", "service", &service,
			   "time_window", &window, "metrics", &metrics)) {
		json_decref(body);
		return resp_error(rp, 400, "bad_request", "%s", jerr.text);
	}
	if ((window && api_duration_field(rp, "time_window", window, API_PREDICT_WINDOW_MAX_S,
					  &window_s)) ||
	    (metrics && !json_is_array(metrics) &&
	     resp_error(rp, 400, "bad_request", "metrics: an array of metric names"))) {
		json_decref(body);
		return -EINVAL;
	}
	list = json_array();
	for (i = 0; i < (metrics ? json_array_size(metrics) : 2) && !err; i++) {
		enum signal_id sig = i ? SIGNAL_ERROR_RATE : SIGNAL_LATENCY_P99;
		json_t *name = metrics ? json_array_get(metrics, i) : NULL;

		if (name && (!json_is_string(name) ||
			     api_signal_of(rp, "metrics", json_string_value(name), &sig))) {
			if (!json_is_string(name))
				resp_error(rp, 400, "bad_request", "metrics: names are strings");
			err = -EINVAL;
			break;
		}
		item = api_predict_one(rq, service, sig, window_s, &err);
		if (item)
			json_array_append_new(list, item);
		else if (err == -ENODATA && !metrics)
			err = 0; /* a default metric the service has no value of is left out */
		else if (err)
			api_model_error(rp, err, service, sig);
	}
	/* the window as asked: "30m" as given, 600 as "600s" */
	snprintf(window_text, sizeof(window_text), "%us", window_s);
	if (!err)
		resp_json(rp, 200,
			  json_pack("{s:s, s:s, s:o}", "service", service, "time_window",
				    !window ? "30m"
				    : json_is_string(window) ? json_string_value(window)
							     : window_text,
				    "predictions", json_incref(list)));
	json_decref(list);
	json_decref(body);
	return err;
}

int api_predictions_forecast(struct req *rq, struct resp *rp)
{
	const char *service = NULL, *metric = NULL;
	json_t *body, *step = NULL, *curve, *interval;
	json_int_t periods = 0;
	unsigned step_s = 60;
	enum signal_id sig = SIGNAL_LATENCY_P99;
	struct api_model m;
	double max_mean, conf = 0;
	json_error_t jerr;
	unsigned steps = 0;
	int err;

	if (api_common_body(rq, rp, false, &body))
		return -EINVAL;
	err = json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s, s:s, s:I, s?o}", "service",
			     &service, "metric", &metric, "periods", &periods, "step", &step);
	if (err)
		err = resp_error(rp, 400, "bad_request", "%s", jerr.text);
	else if (periods < 1 || periods > API_FORECAST_PERIODS_MAX)
		err = resp_error(rp, 400, "bad_request", "periods: from 1 to %d",
				 API_FORECAST_PERIODS_MAX);
	else if ((step && api_duration_field(rp, "step", step, 86400, &step_s)) ||
		 api_signal_of(rp, "metric", metric, &sig))
		err = -EINVAL;
	else if ((uint64_t)periods * step_s > API_FORECAST_HORIZON_MAX_S)
		err = resp_error(rp, 400, "bad_request", "periods x step: at most %d s ahead",
				 API_FORECAST_HORIZON_MAX_S);
	if (!err && (err = api_model_get(rq, service, sig, (unsigned)periods * step_s, &m)))
		api_model_error(rp, err, service, sig);
	if (err) {
		json_decref(body);
		return err;
	}
	curve = api_model_curve(&m, (unsigned)periods, step_s, &interval, &max_mean);
	if (m.p.threshold > 0 && m.p.current < m.p.threshold)
		steps = forecast_steps_to(&m.p.model, m.p.threshold, (unsigned)periods * step_s,
					  &conf);
	resp_json(rp, 200,
		  json_pack("{s:s, s:s, s:f, s:o, s:o, s:f, s:b, s:o, s:f, s:s, s:f, s:I}",
			    "service", service, "metric", metric, "current", m.p.current,
			    "forecast", curve, "interval", interval,
			    "forecasted_max", max_mean, "will_breach", steps > 0, "breach_time",
			    steps ? resp_time(m.p.updated_ms + (int64_t)steps * 1000) : json_null(),
			    "confidence", steps ? conf : 0.0, "method", "holt_damped", "threshold",
			    m.p.threshold, "step_s", (json_int_t)step_s));
	json_decref(body);
	return 0;
}
