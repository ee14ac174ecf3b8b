/*
 * The request as the demo's handlers see it: method, path, query, body and
 * request id, with no libmicrohttpd type in sight, so handlers are tested
 * without a socket (STYLE.md §8). Everything in it is borrowed from the
 * caller (demo_service.c or a test) and lives as long as the request.
 */
#ifndef PRP_DEMO_REQ_H
#define PRP_DEMO_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

/* Query parameters kept per request; later ones are ignored. */
#define REQ_QUERY_MAX 16
/* Longest request id, without the terminator. */
#define REQ_ID_MAX 64

struct req_param {
	const char *key;
	const char *value;
};

struct req {
	const char *method;	/* "GET", "POST", ... */
	const char *path;	/* decoded, without the query string */
	const char *request_id; /* echoed in X-Request-Id and in error bodies */
	const unsigned char *body;
	size_t body_len;
	uint64_t id; /* the {id} path parameter; set by the router, 0 otherwise */
	struct req_param query[REQ_QUERY_MAX];
	size_t query_len;
};

/* Sets @rq to a request with no body, query or id. All strings borrowed. */
void req_init(struct req *rq, const char *method, const char *path, const char *request_id);

/* Adds a query parameter (both borrowed). Returns 0, or -E2BIG when full. */
PRP_MUST_CHECK int req_add_query(struct req *rq, const char *key, const char *value);

/* The first value of query parameter @key (borrowed from @rq), or NULL. */
const char *req_query(const struct req *rq, const char *key);

/* True when @id may be echoed back as is: 1..REQ_ID_MAX of [A-Za-z0-9._-]. */
bool req_id_valid(const char *id);

/* Writes a new process-unique request id. Any thread. */
void req_id_generate(char out[REQ_ID_MAX + 1]);

#endif
