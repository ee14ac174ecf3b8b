/*
 * The facts a condition is evaluated against, for one service: its
 * metrics over the last ENGINE_FACTS_WINDOW_S complete seconds (rates per
 * second, ratios 0..1, latencies in ms), the anomalies open on it with the
 * highest severity, and the nearest predicted SLO breach (0 when already
 * past it). A few seconds rather than one, so that one quiet or one noisy
 * second neither fires nor clears a policy; `for:` is what asks for more.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/detect/detection.h"
#include "aggregator/policy/engine_internal.h"
#include "aggregator/series.h"

void engine_facts_from(const struct series_health *h, const struct store_anomaly *open,
		       size_t nopen, const struct detection_prediction *pred, size_t npred,
		       struct condition_facts *f)
{
	condition_facts_init(f);
	if (h) {
		f->metric[CONDITION_REQUEST_RATE] = h->request_rate;
		f->metric[CONDITION_ERROR_RATE] = h->error_rate;
		f->metric[CONDITION_LATENCY_P50] = h->latency_p50_ms;
		f->metric[CONDITION_LATENCY_P95] = h->latency_p95_ms;
		f->metric[CONDITION_LATENCY_P99] = h->latency_p99_ms;
		f->metric[CONDITION_SYSCALL_ERROR_RATE] = h->syscall_error_rate;
		f->metric[CONDITION_TCP_RETRANSMITS] =
			(double)h->tcp_retransmits / ENGINE_FACTS_WINDOW_S;
		f->metric[CONDITION_TCP_RESETS] = (double)h->tcp_resets / ENGINE_FACTS_WINDOW_S;
		f->metric[CONDITION_TCP_CONNECT_FAILURES] =
			(double)h->tcp_connect_failures / ENGINE_FACTS_WINDOW_S;
	}
	for (size_t i = 0; i < nopen; i++) {
		int m;

		if (!open[i].open || (h && strcmp(open[i].service, h->service)))
			continue;
		m = condition_metric_find(open[i].metric);
		if (m >= 0)
			f->anomaly[m] = true;
		else
			f->anomaly_other = true;
		if ((int)open[i].severity > f->max_severity)
			f->max_severity = (int)open[i].severity;
	}
	for (size_t i = 0; i < npred; i++) {
		double s = pred[i].breached ? 0 : pred[i].will_breach ? pred[i].breach_in_s : INFINITY;

		if (h && strcmp(pred[i].service, h->service))
			continue;
		if (s < f->predicted_breach_s)
			f->predicted_breach_s = s;
	}
}

int64_t engine_facts_now_s(void)
{
	return engine_now_ms() / 1000 - 1;
}

bool engine_facts(struct engine *e, const char *tenant, const char *service,
		  struct condition_facts *f)
{
	struct series_health *h = NULL, *mine = NULL;
	struct store_anomaly *open = NULL;
	struct detection_prediction *pred = NULL;
	size_t nh = 0, nopen = 0, npred = 0;
	struct store_anomaly_filter af = { .tenant = tenant, .service = service, .status = 1 };

	condition_facts_init(f);
	if (series_health(e->cfg.series, tenant, engine_facts_now_s(), ENGINE_FACTS_WINDOW_S, &h,
			  &nh))
		return false;
	for (size_t i = 0; i < nh && !mine; i++)
		if (!strcmp(h[i].service, service))
			mine = &h[i];
	if (!mine) {
		free(h);
		return false;
	}
	pthread_mutex_lock(&e->lock);
	if (store_anomalies_list(e->store, &af, &open, &nopen, NULL))
		nopen = 0;
	pthread_mutex_unlock(&e->lock);
	if (e->cfg.detection && detection_predictions(e->cfg.detection, tenant, service, &pred,
						      &npred))
		npred = 0;
	engine_facts_from(mine, open, nopen, pred, npred, f);
	store_anomalies_free(open, nopen);
	free(pred);
	free(h);
	return true;
}

static json_t *number_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

json_t *engine_facts_json(const struct condition_facts *f)
{
	static const char *const severities[] = { "info", "warning", "critical" };
	json_t *o = json_object(), *anomalies = json_array();

	for (int m = 0; m < CONDITION_METRIC_COUNT; m++) {
		json_object_set_new(o, condition_metric_name((enum condition_metric)m),
				    number_or_null(f->metric[m]));
		if (f->anomaly[m])
			json_array_append_new(
				anomalies, json_string(condition_metric_name((enum condition_metric)m)));
	}
	json_object_set_new(o, "anomalies", anomalies);
	json_object_set_new(o, "severity",
			    f->max_severity >= 0 && f->max_severity <= 2
				    ? json_string(severities[f->max_severity])
				    : json_null());
	json_object_set_new(o, "predicted_breach", number_or_null(f->predicted_breach_s));
	return o;
}
