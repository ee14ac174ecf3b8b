/*
 * Shared first steps of the read handlers.
 */
#include "aggregator/http/api_common.h"

#include <errno.h>

#include "aggregator/store/store.h"

int api_common_query(struct req *rq, struct resp *rp, struct query *q, unsigned keys,
		     int64_t default_range_ms)
{
	char err[512];

	if (rq->query_overflow)
		return resp_error(rp, 400, "bad_request", "more than %d query parameters",
				  REQ_QUERY_MAX);
	if (query_parse(q, rq->query, rq->nquery, keys, rq->now_ms, default_range_ms, err,
			sizeof(err)))
		return resp_error(rp, 400, "bad_request", "%s", err);
	return 0;
}

struct store *api_common_store(struct req *rq, struct resp *rp)
{
	struct store *st = req_store(rq);

	if (!st)
		resp_error(rp, 503, "unavailable", "the store cannot be opened");
	return st;
}

int api_common_cursor(const struct query *q, struct resp *rp, char *key, size_t cap)
{
	key[0] = '\0';
	if (q->cursor && query_cursor_decode(q->cursor, key, cap))
		return resp_error(rp, 400, "bad_request", "cursor: not a cursor this API gave");
	return 0;
}
