/*
 * Calls from one demo service to another (orders -> users, payments).
 *
 * struct upstream is the interface the handlers use: a function and its
 * context, so unit tests plug in a fake. struct upstream_pool is the real
 * one: libcurl easy handles kept in a small mutex-protected pool and reused,
 * so calls travel over keep-alive connections.
 */
#ifndef PRP_DEMO_UPSTREAM_H
#define PRP_DEMO_UPSTREAM_H

#include <stddef.h>

#include "common/buf.h"
#include "common/compiler.h"

/* Largest upstream response body kept; a longer one fails the call (-E2BIG). */
#define UPSTREAM_MAX_BODY	    (1024 * 1024)
#define UPSTREAM_CONNECT_TIMEOUT_MS 2000
#define UPSTREAM_TIMEOUT_MS	    10000
/* Idle easy handles kept for reuse; more concurrent calls make and drop extras. */
#define UPSTREAM_POOL_MAX_IDLE 64
/* Named services one pool can reach. */
#define UPSTREAM_MAX_TARGETS 8

struct upstream_request {
	const char *service;	/* a name given to upstream_pool_add(): "users" */
	const char *method;	/* "GET" or "POST" */
	const char *path;	/* "/users/42" */
	const char *body;	/* JSON text to send, or NULL */
	const char *request_id; /* sent as X-Request-Id, or NULL */
};

struct upstream_response {
	long status;	 /* the HTTP status; 0 until a response arrived */
	struct buf body; /* capped at UPSTREAM_MAX_BODY */
};

/*
 * Makes one call. Returns 0 when a response arrived, whatever its status, or
 * a negative errno when none did (-ECONNREFUSED, -ETIMEDOUT, -E2BIG, -ENOENT
 * for an unknown service, -EIO otherwise) with a message in @err. Must be
 * callable from any thread at once.
 */
typedef int upstream_call_fn(void *ctx, const struct upstream_request *rq,
			     struct upstream_response *rs, char *err, size_t errlen);

struct upstream {
	upstream_call_fn *call; /* NULL: no upstream, every call fails with -ENOENT */
	void *ctx;		/* borrowed: must outlive every call */
};

/* Sets @rs empty; allocates nothing. */
void upstream_response_init(struct upstream_response *rs);
/* Frees the body. */
void upstream_response_release(struct upstream_response *rs);

/* Calls through @u; see upstream_call_fn. @rs must have been initialised. */
PRP_MUST_CHECK int upstream_call(const struct upstream *u, const struct upstream_request *rq,
				 struct upstream_response *rs, char *err, size_t errlen);

struct upstream_pool;

/*
 * A new pool with the given timeouts (caller owns: upstream_pool_free()).
 * curl_global_init() must have run.
 */
struct upstream_pool *upstream_pool_new(long connect_timeout_ms, long timeout_ms);
/* Frees the pool and its idle handles; no call may be running. NULL does nothing. */
void upstream_pool_free(struct upstream_pool *p);

/*
 * Names a service and its base URL ("http://127.0.0.1:8081", copied). Before
 * any call. Returns 0, -EEXIST for a name already given, or -E2BIG past
 * UPSTREAM_MAX_TARGETS.
 */
PRP_MUST_CHECK int upstream_pool_add(struct upstream_pool *p, const char *name,
				     const char *base_url);

/* The pool as an upstream_call_fn; @ctx is the struct upstream_pool. */
int upstream_pool_call(void *ctx, const struct upstream_request *rq, struct upstream_response *rs,
		       char *err, size_t errlen);

/* The pool as a struct upstream. */
struct upstream upstream_pool_as_upstream(struct upstream_pool *p);

#endif
