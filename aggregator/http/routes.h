/*
 * The API's one route table (STYLE.md §8): method, path pattern with {param}
 * captures, handler, the least role allowed (auth enforces it later) and
 * the largest body. routes_dispatch() answers every request: 404 for a path
 * no route has, 405 with Allow for a known path and another method, HEAD
 * as GET (the server drops the body), OPTIONS as 204 with Allow; 401 when
 * the route needs a key and the request has none, 403 when its key's role
 * is below the route's. The table is constant; any thread.
 */
#ifndef PRP_AGGREGATOR_HTTP_ROUTES_H
#define PRP_AGGREGATOR_HTTP_ROUTES_H

#include <stddef.h>

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"


/* A handler answers through @resp; its return value (0 or resp_error()'s) is for tests and logs. */
typedef int api_handler_fn(struct req *req, struct resp *resp);

struct route {
	const char *method;  /* "GET", "POST", ... */
	const char *pattern; /* "/services/{name}/series": literal segments and {captures} */
	api_handler_fn *handler;
	enum role role; /* the least role allowed */
	size_t max_body; /* bytes; 0: API_MAX_BODY_BYTES */
};

/* The table (borrowed, static) and its length, for tests and docs. */
const struct route *routes_table(size_t *n);

/* The body limit of the route @method @path would reach; API_MAX_BODY_BYTES when none. */
size_t routes_max_body(const char *method, const char *path);

/* Finds the route, fills rq->params, and calls its handler; or answers 404/405/OPTIONS. */
void routes_dispatch(struct req *rq, struct resp *rp);

#endif
