/*
 * The aggregator's HTTP API (API.md): a libmicrohttpd server on a thread
 * pool, one route table, JSON in and out, the error envelope on every
 * error. This is what aggregator/main.c calls; everything else under
 * aggregator/http/ is internal to it.
 *
 * Threads: api_start() and api_stop() are called by one thread (main). The
 * HTTP workers call back into the aggregator only through @ingest_status,
 * and read the in-memory series (which has its own lock) and the store,
 * through a read-only struct store each worker opens on its first request.
 * Changes (policies, toggles, manual actions) go through the policy engine,
 * which has the writer; reads of actions come from the workers' stores.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_H
#define PRP_AGGREGATOR_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

struct detection;
struct engine;
struct keys;
struct bus;
struct webhooks;
struct loki;
struct otlp;
struct audit_log;
struct dashboard;
struct executor;
struct llm;
struct series;
struct store_options;

/* Kinds of refused frames /health shows; more are summed in the last one. */
#define API_INGEST_REASONS_MAX 16

/* Ingest's state as /health shows it under components.ingest. */
struct api_ingest_status {
	bool running;		   /* false: /health says "degraded" */
	uint64_t frames_received;  /* frames that passed the checks and were stored */
	uint64_t windows_received; /* the service windows of those frames */
	uint64_t agents_connected; /* agents heard from within the last 5 s */
	struct {
		const char *reason; /* "hmac", "truncated", "duplicate"...: a literal */
		uint64_t count;
	} rejected[API_INGEST_REASONS_MAX];
	size_t nrejected;
};

/*
 * Fills @out (zeroed by the caller) with ingest's current state. Called by
 * any HTTP worker thread, possibly several at once: it must be thread-safe
 * and quick (a few atomic loads).
 */
typedef void api_ingest_status_fn(void *arg, struct api_ingest_status *out);

/*
 * Requests per minute (the burst) and per hour (API.md) by role, the
 * ROLE_PUBLIC one for requests without a key, each client on its own
 * buckets; a key may have its own. 0: no limit on that bucket.
 */
struct api_limits {
	uint64_t per_minute[4], per_hour[4]; /* by enum role */
};

struct api_config {
	const char *bind_address;      /* IPv4 or IPv6 literal; NULL: "0.0.0.0" */
	uint16_t port;		       /* 0: an ephemeral port, see api_port() */
	unsigned threads;	       /* worker threads; 0 means 1 */
	unsigned connection_limit;     /* 0: API_CONNECTION_LIMIT */
	unsigned per_ip_connection_limit; /* 0: none */
	unsigned connection_timeout_s; /* idle connections closed after; 0: API_CONNECTION_TIMEOUT_S
					*/
	const char *version;	       /* shown by /health; copied */
	struct series *series;	       /* borrowed; must outlive the api; NULL: no live series */
	/* copied (dir too); each worker opens the store read-only with these */
	const struct store_options *store;
	api_ingest_status_fn *ingest_status; /* NULL: ingest "not running" */
	void *ingest_arg;
	struct detection *detection; /* borrowed; must outlive the api; NULL: 503 on its routes */
	struct engine *engine;	     /* borrowed; must outlive the api; NULL: 503 on its routes */
	struct executor *executor;   /* borrowed; must outlive the api; NULL: /status without it */
	const struct llm *llm;	     /* borrowed; must outlive the api; NULL: no LLM */
	/*
	 * borrowed; must outlive the api. NULL: auth off, every request is an
	 * admin of the default tenant (--no-auth, and the tests of handlers)
	 */
	struct keys *keys;
	struct bus *bus;	 /* borrowed; must outlive the api; NULL: no streams */
	struct webhooks *webhooks; /* borrowed; must outlive the api; NULL: 503 on /webhooks */
	/* borrowed; must outlive the api; NULL: off. Their counts go to /metrics */
	struct loki *loki;
	struct otlp *otlp;
	struct audit_log *audit; /* borrowed; must outlive the api; NULL: key changes unaudited */
	/* borrowed; must outlive the api; NULL: no dashboard ("/" is a 404) */
	const struct dashboard *dashboard;
	bool rate_limit;	  /* false: no limits at all */
	struct api_limits limits; /* with rate_limit */
	bool access_log;   /* one info line per request (who, status, duration, request id) */
	bool compat_ports; /* also listen on API_COMPAT_PORTS (the earlier platform's) */
	/* HTTPS when both are set: PEM text (not paths), copied */
	const char *tls_cert_pem, *tls_key_pem;
};

/* --compat-ports (DESIGN.md): the earlier platform's ports, the same API on each */
#define API_COMPAT_PORTS { 8081, 8085, 8089, 8090 }
#define API_COMPAT_NPORTS 4
#define API_CONNECTION_LIMIT	 1024
#define API_CONNECTION_TIMEOUT_S 30
/* Largest request body of any route (a route may set a lower one): 413 past it. */
#define API_MAX_BODY_BYTES (1024 * 1024)

struct api;

/*
 * Starts listening and serving. On success *out is the running API (the
 * caller owns it: api_stop()). Returns 0, -EINVAL for a bad address or
 * config, or -EADDRINUSE (or another errno) when the daemon cannot start;
 * nothing is left running on failure. Not finding the store is not an
 * error: /health then says "degraded" until it appears.
 */
PRP_MUST_CHECK int api_start(struct api **out, const struct api_config *c);

/* The port it listens on (the ephemeral one when c->port was 0). */
uint16_t api_port(const struct api *a);

/*
 * Stops the daemon (waiting for requests in flight), closes every worker's
 * store and frees @a. api_stop(NULL) does nothing.
 */
void api_stop(struct api *a);

#endif
