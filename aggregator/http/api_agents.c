/*
 * Agents, from the store's status rows (the store is what several
 * aggregators would share, so this is right even for an agent connected to
 * another one).
 */
#include "aggregator/http/api_agents.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/http/api_common.h"
#include "aggregator/http/json.h"
#include "aggregator/store/store.h"
#include "common/frame.h"

static int api_agents_by_id(const void *a, const void *b)
{
	return strcmp(((const struct store_agent *)a)->agent_id,
		      ((const struct store_agent *)b)->agent_id);
}

static json_t *api_agents_item(const struct store_agent *a, int64_t now_ms)
{
	bool connected = now_ms - a->last_seen_ms <= API_AGENT_CONNECTED_MS;

	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "agent_id",
			 a->agent_id, "tenant", a->tenant, "host", a->host, "version", a->version,
			 "connected", connected, "first_seen", resp_time(a->first_seen_ms),
			 "last_seen", resp_time(a->last_seen_ms), "frames", json_u64(a->frames),
			 "last_seq", json_u64(a->last_seq), "spool_bytes", json_u64(a->spool_bytes),
			 "spool_lost", json_u64(a->spool_lost));
}

int api_agents_list(struct req *rq, struct resp *rp)
{
	char after[2 * QUERY_CURSOR_MAX], next[2 * FRAME_ID_MAX + 1];
	struct store_agent *v = NULL;
	size_t n = 0, i = 0, count = 0;
	struct query q;
	struct store *st;
	json_t *list, *doc;

	if (api_common_query(rq, rp, &q, QUERY_LIMIT | QUERY_CURSOR, 0) ||
	    api_common_cursor(&q, rp, after, sizeof(after)) || !(st = api_common_store(rq, rp)))
		return -EINVAL;
	if (store_agents(st, rq->tenant, &v, &n))
		return resp_error(rp, 500, "internal", "cannot read the agents");
	/* the store sorts by id already; sorting again costs nothing and pins the order */
	if (n) /* qsort() of NULL is undefined, even for 0 items */
		qsort(v, n, sizeof(*v), api_agents_by_id);
	while (i < n && after[0] && strcmp(v[i].agent_id, after) <= 0)
		i++;
	list = json_array();
	for (; i < n && count < q.limit; i++, count++)
		json_array_append_new(list, api_agents_item(&v[i], rq->now_ms));
	doc = json_pack("{s:o, s:I, s:I}", "agents", list, "count", (json_int_t)count, "total",
			(json_int_t)n);
	if (doc && i < n && count && !query_cursor_encode(v[i - 1].agent_id, next, sizeof(next)))
		json_object_set_new(doc, "next_cursor", json_string(next));
	free(v);
	return resp_json(rp, 200, doc);
}
