/* The audit log's writer for the key registry and the admin routes (audit_log.h). */
#include "aggregator/auth/audit_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "aggregator/store/store.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

struct audit_log {
	pthread_mutex_t mu;
	struct store *store;
};

int audit_log_open(struct audit_log **out, const struct store_options *so)
{
	struct audit_log *al;
	int err;

	if (so->read_only)
		return -EINVAL;
	al = xcalloc(1, sizeof(*al));
	err = store_open(&al->store, so);
	if (err) {
		free(al);
		return err;
	}
	pthread_mutex_init(&al->mu, NULL);
	*out = al;
	return 0;
}

void audit_log_close(struct audit_log *al)
{
	if (!al)
		return;
	store_close(al->store);
	pthread_mutex_destroy(&al->mu);
	free(al);
}

int audit_log_write(struct audit_log *al, const char *tenant, const char *actor,
		    const char *action, const char *subject, json_t *detail)
{
	struct store_audit a = { .at_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC) };
	int err;

	snprintf(a.tenant, sizeof(a.tenant), "%s", tenant);
	snprintf(a.actor, sizeof(a.actor), "%s", actor);
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.subject, sizeof(a.subject), "%s", subject ? subject : "");
	a.detail = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	json_decref(detail);
	pthread_mutex_lock(&al->mu);
	err = store_audit_append(al->store, &a);
	pthread_mutex_unlock(&al->mu);
	if (err)
		log_warn_err(err, "audit: cannot record %s of %s by %s", action, a.subject, actor);
	free(a.detail);
	return err;
}
