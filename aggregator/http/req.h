/*
 * A request as handlers see it: method, path, captured path parameters,
 * query parameters, body, request id, tenant, and the API's shared state,
 * with no libmicrohttpd type in sight, so handlers run without a socket
 * (STYLE.md §8). Strings are borrowed from the caller (http.c or a test)
 * and live as long as the request; path parameters are copied into the
 * request itself by routes_dispatch(). One request, one thread.
 */
#ifndef PRP_AGGREGATOR_HTTP_REQ_H
#define PRP_AGGREGATOR_HTTP_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/auth/role.h"
#include "common/compiler.h"

struct api_env;
struct store;

/* Query parameters kept per request; more make the request a 400. */
#define REQ_QUERY_MAX 32
/* Path parameters ({name}) per route. */
#define REQ_PARAMS_MAX 4
/* Room for the path parameters' names and values; a longer path is a 404. */
#define REQ_SCRATCH_BYTES 1024
/* Longest request id, without the terminator. */
#define REQ_ID_MAX 64
/* Tenant of requests without a key's (auth off). */
#define REQ_DEFAULT_TENANT "default"
/* "key:" and a key id, or "anonymous", "system": who a change is audited as */
#define REQ_ACTOR_MAX 32

/* Stands for a query value with a NUL byte in it ("%00"): no parameter accepts it. */
#define REQ_VALUE_WITH_NUL "<a value with a NUL byte>"

struct req_param {
	const char *key;
	const char *value; /* "" for a key with no '=' */
};

struct req {
	const char *method;	     /* "GET", "HEAD", ... */
	const char *path;	     /* decoded, without the query string */
	const char *request_id;	     /* echoed in X-Request-Id and in error bodies */
	const char *tenant;	     /* whose data the request sees: its key's */
	enum role role;		     /* its key's; ROLE_PUBLIC without one (req_init's) */
	int64_t key_id;		     /* 0: no key (anonymous, or auth off) */
	const char *key_name;	     /* its name; NULL without a key */
	char actor[REQ_ACTOR_MAX];   /* "key:12"; "anonymous"; "api" with auth off */
	const char *content_type;    /* NULL when absent */
	const char *accept_encoding; /* NULL when absent */
	const char *accept;	     /* NULL when absent */
	const char *if_none_match;   /* NULL when absent */
	const char *last_event_id;   /* Last-Event-ID (SSE resumes); NULL when absent */
	/* the WebSocket handshake's headers (RFC 6455 §4.2.1); each NULL when absent */
	const char *upgrade, *connection, *ws_key, *ws_version;
	const unsigned char *body;
	size_t body_len;
	int64_t now_ms; /* the instant the request is answered at; fixed per request */
	struct api_env *env;
	struct req_param query[REQ_QUERY_MAX];
	size_t nquery;
	bool query_overflow; /* more than REQ_QUERY_MAX parameters came */
	struct req_param params[REQ_PARAMS_MAX];
	size_t nparams;
	char scratch[REQ_SCRATCH_BYTES];
};

/*
 * Sets @rq to a request with no body, query or parameters, at the current
 * time, of the default tenant, with no key: ROLE_PUBLIC, so a route that
 * needs more answers 401 until the caller (gate.c, or a test) sets a role.
 */
void req_init(struct req *rq, struct api_env *env, const char *method, const char *path,
	      const char *request_id);

/* Adds a query parameter (both borrowed; NULL @value counts as ""); past REQ_QUERY_MAX sets
 * query_overflow. */
void req_add_query(struct req *rq, const char *key, const char *value);

/* True when Accept-Encoding allows gzip (listed, or "*", and not with q=0). */
bool req_accepts_gzip(const struct req *rq);

/* The path parameter @name (borrowed from @rq), or NULL. */
const char *req_param(const struct req *rq, const char *name);

/*
 * This thread's read-only store, opened on first use (borrowed: valid until
 * api_stop()), or NULL when it cannot be opened now (logged, retried later).
 */
struct store *req_store(struct req *rq);

/* True when @id may be echoed back as is: 1..REQ_ID_MAX of [A-Za-z0-9._-]. */
bool req_id_valid(const char *id);

/* Writes a new request id, unique in this process and most likely across restarts. Any thread. */
void req_id_generate(char out[REQ_ID_MAX + 1]);

#endif
