/*
 * What the engine's files share: the engine itself, a loaded policy with
 * its per-service evaluation state, and the helpers that build answers.
 * Internal to aggregator/policy/engine*.c.
 *
 *   engine.c           start, stop, the evaluation thread, decisions, status
 *   engine_policies.c  loading (store, files) and the CRUD
 *   engine_facts.c     the facts a condition is evaluated against
 */
#ifndef PRP_AGGREGATOR_POLICY_ENGINE_INTERNAL_H
#define PRP_AGGREGATOR_POLICY_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "aggregator/events/bus.h"
#include "aggregator/policy/engine.h"

/* Where one policy stands for one service. */
struct engine_hold {
	char service[SERVICE_NAME_MAX];
	int64_t held_since_ms;	  /* 0: the condition does not hold */
	int64_t last_fired_ms;	  /* the last decision (executed or skipped), for the cooldown */
	int64_t last_skip_ms;	  /* the last cooldown skip recorded */
	int64_t seen_ms;	  /* the last evaluation that looked at it */
};

struct engine_policy {
	int64_t id;
	char tenant[FRAME_ID_MAX];
	char *origin; /* "api" or the file */
	char *source; /* the document text as stored */
	int64_t created_ms, updated_ms;
	struct policy_doc *doc; /* exactly one policy */
	struct engine_hold *holds;
	size_t nholds, holds_alloc;
};

/* Times of executed actions of the last hour, for the brake (a ring). */
#define ENGINE_BRAKE_MAX 4096

struct engine {
	struct engine_config cfg;
	char *policies_dir;

	pthread_mutex_t lock; /* guards everything below, and the store */
	struct store *store;  /* the engine's writer */
	struct engine_policy *policies;
	size_t npolicies, policies_alloc;
	bool auto_remediation;
	uint64_t executed, skipped, evaluations;
	int64_t last_check_ms;
	int64_t brake[ENGINE_BRAKE_MAX]; /* created_ms of executed actions, oldest first */
	size_t nbrake;

	/*
	 * Orders the events of changes: taken before lock is released and held
	 * while publishing (engine_unlock_publish()), so that events leave in
	 * the order of the changes without being published under lock.
	 */
	pthread_mutex_t publish_mu;

	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stopping;
	pthread_t thread;
	bool started;
};

static inline struct policy *engine_policy_of(const struct engine_policy *ep)
{
	return &ep->doc->policies[0];
}

int64_t engine_now_ms(void);

/* engine_policies.c */
void engine_policy_release(struct engine_policy *ep);
/* Loads the store's policies, then the files. Under e->lock. */
int engine_policies_load(struct engine *e);

/* engine_facts.c */
#define ENGINE_FACTS_WINDOW_S 5
struct series_health;
struct detection_prediction;
/* The last complete second, where the facts' window ends. */
int64_t engine_facts_now_s(void);
/*
 * The facts of the service of @h (NULL: no metrics) from the open
 * anomalies and the predictions given, of which those of other services are
 * ignored.
 */
void engine_facts_from(const struct series_health *h, const struct store_anomaly *open,
		       size_t nopen, const struct detection_prediction *pred, size_t npred,
		       struct condition_facts *f);

/* engine.c: an error answer {"error": {status, code, message, ...}}. */
void engine_fail(struct engine_result *r, int status, const char *code, const char *fmt, ...)
	PRP_PRINTF(4, 5);
/*
 * Releases e->lock (held), then publishes @data (taken; NULL: nothing) as
 * an event @type of @tenant and @service on the bus, when there is one.
 */
void engine_unlock_publish(struct engine *e, const char *tenant, enum bus_type type,
			   const char *service, enum store_severity severity, json_t *data);
/* Appends an audit line; failures are logged. Under e->lock. */
void engine_audit(struct engine *e, const char *tenant, const char *actor, const char *action,
		  int64_t policy_id, json_t *detail);

#endif
