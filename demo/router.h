/*
 * The demo's one route table: path, methods, role, and whether chaos
 * applies. router_handle() answers every request: it applies chaos to all
 * but /chaos, matches the path (404), the method (405 with Allow), parses an
 * {id} (400 invalid_id), and calls the handler. Thread-safe; no socket.
 */
#ifndef PRP_DEMO_ROUTER_H
#define PRP_DEMO_ROUTER_H

#include "demo/reply.h"
#include "demo/req.h"
#include "demo/shop.h"

/* Largest request body accepted, checked by the server as it streams in (413). */
#define ROUTER_MAX_BODY (64 * 1024)

/* Fills @rp with the answer to @rq; sets rq->id for {id} routes. */
void router_handle(struct shop *s, struct req *rq, struct reply *rp);

/* The 413 answer, for a body past ROUTER_MAX_BODY. */
void router_body_too_large(struct reply *rp);

#endif
