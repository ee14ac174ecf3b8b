/*
 * What every request passes before its route: who it is (the API key of
 * X-API-Key or Authorization: Bearer, API.md), whether it is within its
 * rate limit, then routes_dispatch(), which checks the route's role. With
 * no key registry (auth off) every request is an admin of the default
 * tenant. No libmicrohttpd type: the fuzz target calls it as http.c does.
 * Any thread.
 */
#ifndef PRP_AGGREGATOR_HTTP_GATE_H
#define PRP_AGGREGATOR_HTTP_GATE_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

/* The headers and peer the gate reads; each NULL when absent. */
struct gate_input {
	const char *x_api_key;
	const char *authorization;
	const char *client_ip; /* text form of the peer's address */
	size_t body_too_large; /* nonzero: the body passed this limit; 413 once the key is checked */
};

/*
 * Answers @rq in @rp: 401 for a key that is present but not valid (on
 * every path, /health included), 400 for two different keys, 429 past the
 * limit, else the route's answer; the rate-limit headers are set on @rp
 * whenever a limit applies.
 */
void gate_serve(struct req *rq, const struct gate_input *in, struct resp *rp);

#endif
