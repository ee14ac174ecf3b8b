/*
 * The services the agents report:
 *   GET /services                 {services: [{service, hosts, first_seen, last_seen}], count,
 * total, next_cursor?} GET /services/health          health_cache.h's body (last 60 s, from the
 * in-memory series) GET /services/{name}          exact totals over since/until (default the last 5
 * min) GET /services/{name}/series   one metric as [[t, v]...] over since/until (default the last
 * hour)
 */
#ifndef PRP_AGGREGATOR_HTTP_API_SERVICES_H
#define PRP_AGGREGATOR_HTTP_API_SERVICES_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

/* Default span of /services/{name} and of /topology. */
#define API_SUMMARY_RANGE_MS (5 * 60 * 1000)
/* Default span of /services/{name}/series. */
#define API_SERIES_RANGE_MS (60 * 60 * 1000)

int api_services_list(struct req *rq, struct resp *rp);
int api_services_health(struct req *rq, struct resp *rp);
int api_services_get(struct req *rq, struct resp *rp);
int api_services_series(struct req *rq, struct resp *rp);

#endif
