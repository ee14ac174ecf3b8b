/*
 * /health. Always 200 when the aggregator answers at all: the body says how
 * healthy it is (load balancers that want a status code can match on
 * "healthy"); it reads only cheap things, never a table scan.
 */
#include "aggregator/http/api_health.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "aggregator/http/api.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/json.h"
#include "common/timeutil.h"

static json_t *api_health_ingest(const struct api_ingest_status *in)
{
	json_t *rejected = json_object();
	uint64_t total = 0;

	for (size_t i = 0; i < in->nrejected && i < API_INGEST_REASONS_MAX; i++) {
		if (!in->rejected[i].reason)
			continue;
		json_object_set_new(rejected, in->rejected[i].reason,
				    json_u64(in->rejected[i].count));
		total += in->rejected[i].count;
	}
	return json_pack("{s:s, s:o, s:o, s:o}", "status", in->running ? "running" : "stopped",
			 "frames_received", json_u64(in->frames_received), "frames_rejected",
			 json_u64(total), "rejected_by_reason", rejected);
}

int api_health_get(struct req *rq, struct resp *rp)
{
	struct api_env *env = rq->env;
	struct api_ingest_status in = { 0 };
	bool store_ok = req_store(rq) != NULL;
	uint64_t uptime_ns = time_mono_ns() - env->start_mono_ns;

	if (env->ingest_status)
		env->ingest_status(env->ingest_arg, &in);
	return resp_json(rp, 200,
			 json_pack("{s:s, s:s, s:s, s:I, s:o, s:{s:s, s:o, s:o}}", "status",
				   store_ok && in.running ? "healthy" : "degraded", "service",
				   "prp-aggregator", "version", env->version, "uptime_s",
				   (json_int_t)(uptime_ns / NSEC_PER_SEC), "timestamp",
				   resp_time(rq->now_ms), "components", "store",
				   store_ok ? "ok" : "unavailable", "ingest",
				   api_health_ingest(&in), "agents_connected",
				   json_u64(in.agents_connected)));
}
