/*
 * The API keys routes (API.md, Keys): POST/GET /keys, DELETE /keys/{id}
 * (admin), and POST /validate (any caller: who its key is and its limit).
 */
#ifndef PRP_AGGREGATOR_HTTP_API_KEYS_H
#define PRP_AGGREGATOR_HTTP_API_KEYS_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

/* Largest body of POST /keys. */
#define API_KEYS_BODY_MAX 4096

/*
 * {name, description?, role | scopes, tenant?, rate_limit?: {per_minute,
 * per_hour}} → 201 {id, key, name, description, role, tenant, created_at,
 * last_used_at, revoked_at, rate_limit}; the key appears only here.
 */
int api_keys_create(struct req *rq, struct resp *rp);
/* {keys, total}: the caller's tenant's keys; revoked ones with ?include_revoked=true. */
int api_keys_list(struct req *rq, struct resp *rp);
/* {status: "revoked", id}; 404 for an id the tenant has not, or revoked already. */
int api_keys_delete(struct req *rq, struct resp *rp);
/* {valid, name, role, tenant, rate_limit: {limit, remaining, reset} | null, allowed, auth}. */
int api_keys_validate(struct req *rq, struct resp *rp);

#endif
