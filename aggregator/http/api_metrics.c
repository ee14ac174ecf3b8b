#include "aggregator/http/api_metrics.h"

#include <string.h>

#include "aggregator/export/loki.h"
#include "aggregator/export/metrics.h"
#include "aggregator/export/otlp.h"
#include "common/prom_text.h"
#include "aggregator/http/api.h"
#include "aggregator/http/api_env.h"
#include "common/timeutil.h"

/* The aggregator's own figures, as /health reads them. */
static void platform_fill(const struct req *rq, struct metrics_platform *pl)
{
	const struct api_env *env = rq->env;
	struct api_ingest_status in = { 0 };
	uint64_t uptime_ns = time_mono_ns() - env->start_mono_ns;

	memset(pl, 0, sizeof(*pl));
	pl->version = env->version;
	pl->start_time_s = (double)rq->now_ms / 1e3 - (double)uptime_ns / 1e9;
	if (env->ingest_status)
		env->ingest_status(env->ingest_arg, &in);
	pl->frames_received = in.frames_received;
	pl->windows_received = in.windows_received;
	pl->agents_connected = in.agents_connected;
	for (size_t i = 0; i < in.nrejected && pl->nrejected < METRICS_REASONS_MAX; i++) {
		if (!in.rejected[i].reason)
			continue;
		pl->rejected[pl->nrejected].reason = in.rejected[i].reason;
		pl->rejected[pl->nrejected].count = in.rejected[i].count;
		pl->nrejected++;
	}
	if (env->loki) {
		struct loki_stats ls;

		loki_stats(env->loki, &ls);
		pl->exporters[pl->nexporters].exporter = "loki";
		pl->exporters[pl->nexporters].sent = ls.sent;
		pl->exporters[pl->nexporters].dropped = ls.dropped_total;
		pl->nexporters++;
	}
	if (env->otlp) {
		struct otlp_stats os;

		otlp_stats(env->otlp, &os);
		pl->exporters[pl->nexporters].exporter = "otlp";
		pl->exporters[pl->nexporters].sent = os.sent;
		pl->exporters[pl->nexporters].dropped = os.dropped_total;
		pl->nexporters++;
	}
}

int api_metrics_get(struct req *rq, struct resp *rp)
{
	struct metrics_platform pl;
	struct metrics_request mr = {
		.store = req_store(rq),
		.detection = rq->env->detection,
		.tenant = rq->tenant,
		.openmetrics = prom_wants_openmetrics(rq->accept),
	};
	size_t len;
	char *body;
	int err;

	if (!mr.store)
		return resp_error(rp, 503, "unavailable", "the store cannot be read now");
	if (!strcmp(rq->tenant, REQ_DEFAULT_TENANT)) {
		platform_fill(rq, &pl);
		mr.platform = &pl;
	}
	body = metrics_render(&mr, &len, &err);
	if (!body)
		return resp_error(rp, 500, "internal", "cannot read the metric counters");
	return resp_text(rp, 200, body, len,
			 mr.openmetrics ? PROM_OPENMETRICS_CONTENT_TYPE : PROM_CONTENT_TYPE);
}
