/*
 * The shared view of the services (see service_view.h): one copy of the
 * main loop's set under a mutex, with two counters. version goes up when
 * the set changes, refreshes at every publish. Both start at 0 for "nothing
 * published", and version is 1 after the first publish whatever it held, so
 * a reader starting at 0 always gets a first copy.
 */
#include "agent/service_view.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

struct service_view {
	pthread_mutex_t lock; /* guards everything below */
	struct service_set set;
	uint64_t version;
	uint64_t refreshes;
};

struct service_view *service_view_new(void)
{
	struct service_view *v = xcalloc(1, sizeof(*v));

	pthread_mutex_init(&v->lock, NULL);
	return v;
}

void service_view_free(struct service_view *v)
{
	if (!v)
		return;
	pthread_mutex_destroy(&v->lock);
	free(v);
}

void service_view_publish(struct service_view *v, const struct service_set *set, bool changed)
{
	pthread_mutex_lock(&v->lock);
	if (changed || !v->version) {
		v->set.n = set->n;
		memcpy(v->set.items, set->items, set->n * sizeof(set->items[0]));
		v->version++;
	}
	v->refreshes++;
	pthread_mutex_unlock(&v->lock);
}

bool service_view_get(struct service_view *v, const char *name, struct service *out,
		      uint64_t *refreshes)
{
	const struct service *svc;

	pthread_mutex_lock(&v->lock);
	svc = service_set_by_name(&v->set, name);
	if (svc && out)
		*out = *svc;
	if (refreshes)
		*refreshes = v->refreshes;
	pthread_mutex_unlock(&v->lock);
	return svc != NULL;
}

bool service_view_copy(struct service_view *v, struct service_set *out, uint64_t *version)
{
	bool copy;

	pthread_mutex_lock(&v->lock);
	copy = v->version != *version;
	if (copy) {
		out->n = v->set.n;
		memcpy(out->items, v->set.items, v->set.n * sizeof(v->set.items[0]));
		*version = v->version;
	}
	pthread_mutex_unlock(&v->lock);
	return copy;
}
