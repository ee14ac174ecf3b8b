/*
 * What every handler may reach, besides its request: the running API's
 * shared, read-mostly state. Set up by api_start() before the daemon
 * starts and left unchanged until api_stop(), so workers read it without
 * a lock; each member documents its own thread-safety.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_ENV_H
#define PRP_AGGREGATOR_HTTP_API_ENV_H

#include <stdint.h>

#include "aggregator/http/api.h"

struct health_cache;
struct llm;
struct chat_sessions;
struct readers;
struct keys;
struct bus;
struct webhooks;
struct loki;
struct otlp;
struct audit_log;
struct ratelimit;
struct ws_hub;
struct dashboard;

struct api_env {
	const char *version;	     /* owned by struct api */
	uint64_t start_mono_ns;	     /* for uptime_s */
	struct series *series;	     /* borrowed; has its own rwlock; may be NULL */
	struct readers *readers;     /* per-thread read-only stores */
	struct health_cache *health; /* rendered /services/health bodies; has its own lock */
	api_ingest_status_fn *ingest_status; /* may be NULL */
	void *ingest_arg;
	struct detection *detection; /* borrowed; thread-safe (detection.h); may be NULL */
	struct engine *engine;	     /* borrowed; thread-safe (engine.h); may be NULL */
	struct executor *executor;   /* borrowed; thread-safe (executor.h); may be NULL */
	const struct llm *llm;	     /* borrowed; thread-safe (llm.h); NULL or off: built-in prose */
	struct chat_sessions *chat;  /* owned by struct api; its own lock */
	struct keys *keys;	     /* borrowed; thread-safe (keys.h); NULL: auth off */
	struct bus *bus;	     /* borrowed; thread-safe (bus.h); NULL: no streams (503) */
	struct ws_hub *ws_hub;	     /* owned by struct api; thread-safe (ws_hub.h); NULL without a bus */
	struct webhooks *webhooks;   /* borrowed; thread-safe (webhooks.h); NULL: 503 on /webhooks */
	struct loki *loki;	     /* borrowed; thread-safe (loki.h); NULL: off */
	struct otlp *otlp;	     /* borrowed; thread-safe (otlp.h); NULL: off */
	struct audit_log *audit;     /* borrowed; thread-safe; NULL: changes here go unaudited */
	const char *data_dir;	     /* owned by struct api: the store's directory */
	struct ratelimit *ratelimit; /* owned by struct api; thread-safe; NULL: no limits */
	const struct dashboard *dashboard; /* borrowed; read-only after start; NULL: no dashboard */
	struct api_limits limits;
};

#endif
