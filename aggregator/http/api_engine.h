/*
 * The bridge between the routes that change policies or run actions and
 * the policy engine (aggregator/policy/engine.h): finding the engine, and
 * turning its answers (struct engine_result) into the API's, whose errors
 * are the envelope of API.md.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_ENGINE_H
#define PRP_AGGREGATOR_HTTP_API_ENGINE_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"
#include "aggregator/policy/engine.h"

/* The running engine (borrowed), or NULL with the 503 already answered. */
struct engine *api_engine_get(struct req *rq, struct resp *rp);

/*
 * Answers @r and releases it. A success body is sent as it is, with its
 * status. An error ({error, message, line?, column?, field?}) becomes the
 * envelope, its code the engine's "error" and every other member of it
 * (line, column, field) added to the envelope's error object. Returns 0,
 * or resp_error()'s value for an error.
 */
int api_engine_answer(struct resp *rp, struct engine_result *r);

#endif
