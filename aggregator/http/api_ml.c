/*
 * The detection method and its state (api_ml.h). The path says "ml" for the
 * old platform's clients; what runs is statistics, and the status says which.
 */
#include "aggregator/http/api_ml.h"

#include <errno.h>
#include <jansson.h>

#include "aggregator/auth/audit_log.h"
#include "aggregator/detect/detection.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"

static int api_ml_answer(struct detection *d, struct resp *rp)
{
	struct detection_status st;
	json_t *methods = json_array();

	detection_get_status(d, &st);
	for (int i = 0; i < DETECTION_METHOD_COUNT; i++)
		json_array_append_new(methods,
				      json_string(detection_method_name((enum detection_method)i)));
	return resp_json(
		rp, 200,
		json_pack("{s:s, s:o, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:f, s:I, "
			  "s:{s:I, s:I, s:I, s:{s:f, s:f, s:I}}}",
			  "method", detection_method_name(st.method), "methods", methods,
			  "enabled", st.enabled, "services", (json_int_t)st.services, "series",
			  (json_int_t)st.series, "series_warm", (json_int_t)st.series_warm,
			  "points_processed", (json_int_t)st.points, "cycles",
			  (json_int_t)st.cycles, "anomalies_open", (json_int_t)st.anomalies_open,
			  "anomalies_opened", (json_int_t)st.anomalies_opened,
			  "anomalies_resolved", (json_int_t)st.anomalies_resolved, "last_cycle",
			  st.last_cycle_ms ? resp_time(st.last_cycle_ms) : json_null(),
			  "last_cycle_ms", st.last_cycle_duration_ms, "bytes_per_series",
			  (json_int_t)st.bytes_per_series, "config", "warmup_s",
			  (json_int_t)st.config.warmup_s, "resolve_after_s",
			  (json_int_t)st.config.resolve_after_s, "horizon_s",
			  (json_int_t)st.config.horizon_s, "slo", "latency_p99_ms",
			  st.config.slo.latency_p99_ms, "error_rate", st.config.slo.error_rate,
			  "services_overridden", (json_int_t)st.config.slo.n));
}

static struct detection *api_ml_detection(struct req *rq, struct resp *rp)
{
	if (!rq->env->detection)
		resp_error(rp, 503, "unavailable", "detection is not running");
	return rq->env->detection;
}

int api_ml_status(struct req *rq, struct resp *rp)
{
	struct detection *d = api_ml_detection(rq, rp);

	return d ? api_ml_answer(d, rp) : -EIO;
}

int api_ml_toggle(struct req *rq, struct resp *rp)
{
	struct detection *d = api_ml_detection(rq, rp);
	struct detection_status st;
	const char *method = NULL;
	int enabled = -1, m;
	json_t *body;
	json_error_t jerr;

	if (!d)
		return -EIO;
	if (api_common_platform(rq, rp, "switching the detector") ||
	    api_common_body(rq, rp, true, &body))
		return -EINVAL;
	if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s?s, s?b}", "method", &method, "enabled",
			   &enabled)) {
		json_decref(body);
		return resp_error(rp, 400, "bad_request", "%s", jerr.text);
	}
	detection_get_status(d, &st);
	m = method ? detection_method_find(method)
		   : (enabled >= 0 ? (int)st.method : ((int)st.method + 1) % DETECTION_METHOD_COUNT);
	if (m < 0) {
		resp_error(rp, 400, "bad_request", "method: '%.32s' is not robust or slo", method);
		json_decref(body);
		return -EINVAL;
	}
	json_decref(body);
	enabled = enabled >= 0 ? enabled : st.enabled;
	detection_set(d, (enum detection_method)m, enabled);
	if (rq->env->audit)
		audit_log_write(rq->env->audit, rq->tenant, api_common_actor(rq), "ml.toggle",
				"detection",
				json_pack("{s:s, s:b}", "method",
					  detection_method_name((enum detection_method)m), "enabled",
					  enabled));
	return api_ml_answer(d, rp);
}
