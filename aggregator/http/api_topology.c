/*
 * The call graph. Nodes are the services seen in the range plus both ends of
 * every edge, sorted and de-duplicated; statuses come from the series'
 * cached snapshot (sorted by name, so a binary search per node).
 */
#include "aggregator/http/api_topology.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/api_services.h"
#include "aggregator/http/health_cache.h"
#include "aggregator/http/json.h"
#include "aggregator/http/svc_status.h"
#include "aggregator/series.h"
#include "aggregator/store/store.h"
#include "common/alloc.h"

static int api_topology_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int api_topology_cmp_health(const void *key, const void *elt)
{
	return strcmp(key, ((const struct series_health *)elt)->service);
}

/* The names of the nodes, sorted, each once; borrowed from @svc and @e. free() the array. */
static const char **api_topology_names(const struct store_service *svc, size_t nsvc,
				       const struct query *q, const struct store_edge *e, size_t ne,
				       size_t *n)
{
	const char **names = xcalloc(nsvc + 2 * ne + 1, sizeof(*names));
	size_t k = 0, out = 0;

	for (size_t i = 0; i < nsvc; i++) {
		if (svc[i].last_seen_ms >= q->since_ms && svc[i].first_seen_ms < q->until_ms)
			names[k++] = svc[i].name;
	}
	for (size_t i = 0; i < ne; i++) {
		names[k++] = e[i].from;
		names[k++] = e[i].to;
	}
	qsort(names, k, sizeof(*names), api_topology_cmp_str);
	for (size_t i = 0; i < k; i++) {
		if (!out || strcmp(names[out - 1], names[i]))
			names[out++] = names[i];
	}
	*n = out;
	return names;
}

static json_t *api_topology_nodes(struct req *rq, const char **names, size_t n)
{
	struct series_snapshot *snap =
		rq->env->series ? series_snapshot_get(rq->env->series, rq->now_ms / 1000,
						      HEALTH_CACHE_WINDOW_S)
				: NULL;
	size_t nh = 0;
	/* one tenant's services are sorted by name */
	const struct series_health *h = snap ? series_snapshot_health(snap, rq->tenant, &nh) : NULL;
	json_t *nodes = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct series_health *found =
			nh ? bsearch(names[i], h, nh, sizeof(*h), api_topology_cmp_health) : NULL;

		json_array_append_new(nodes, json_pack("{s:s, s:s}", "service", names[i], "status",
						       found ? svc_status_name(found) : "unknown"));
	}
	series_snapshot_put(snap);
	return nodes;
}

static json_t *api_topology_edges(const struct store_edge *e, size_t n)
{
	json_t *edges = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(
			edges, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "from", e[i].from, "to",
					 e[i].to, "requests", json_u64(e[i].requests), "errors",
					 json_u64(e[i].errors), "error_rate",
					 json_ratio(e[i].errors, e[i].requests), "latency_p99",
					 json_hist_ms(&e[i].latency_ns, 0.99)));
	return edges;
}

int api_topology_get(struct req *rq, struct resp *rp)
{
	struct store_service *svc = NULL;
	struct store_edge *e = NULL;
	size_t nsvc = 0, ne = 0, nnames;
	const char **names;
	struct query q;
	struct store *st;
	json_t *doc;

	if (api_common_query(rq, rp, &q, QUERY_SINCE | QUERY_UNTIL, API_SUMMARY_RANGE_MS) ||
	    !(st = api_common_store(rq, rp)))
		return -EINVAL;
	if (store_services(st, rq->tenant, &svc, &nsvc))
		return resp_error(rp, 500, "internal", "cannot read the services");
	if (store_topology(st, rq->tenant, q.since_ms, q.until_ms, &e, &ne)) {
		store_services_free(svc, nsvc);
		return resp_error(rp, 500, "internal", "cannot read the call graph");
	}
	names = api_topology_names(svc, nsvc, &q, e, ne, &nnames);
	doc = json_pack("{s:o, s:o, s:o, s:o}", "since", resp_time(q.since_ms), "until",
			resp_time(q.until_ms), "nodes", api_topology_nodes(rq, names, nnames),
			"edges", api_topology_edges(e, ne));
	free(names);
	store_topology_free(e, ne);
	store_services_free(svc, nsvc);
	return resp_json(rp, 200, doc);
}
