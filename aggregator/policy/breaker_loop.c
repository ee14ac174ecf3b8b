/*
 * The breaker table: a small array (one entry per service with a breaker
 * open, a handful at most), searched linearly under one mutex. Times are
 * the caller's: the executor passes the wall clock in ms, the tests any
 * instant they like.
 */
#include "aggregator/policy/breaker_loop.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

struct breaker {
	struct executor_breaker pub;
	int64_t half_open_ms; /* when it went half-open */
	unsigned windows;     /* probe windows judged unknown since */
	bool in_flight;	      /* a transition is under way */
};

struct breaker_loop {
	pthread_mutex_t lock; /* guards v, n, alloc */
	struct breaker *v;
	size_t n, alloc;
};

struct breaker_loop *breaker_loop_new(void)
{
	struct breaker_loop *b = xcalloc(1, sizeof(*b));

	pthread_mutex_init(&b->lock, NULL);
	return b;
}

void breaker_loop_free(struct breaker_loop *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b->v);
	free(b);
}

/* The breaker of (@tenant, @service), or NULL; under the lock. */
static struct breaker *find(struct breaker_loop *b, const char *tenant, const char *service)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->v[i].pub.tenant, tenant) && !strcmp(b->v[i].pub.service, service))
			return &b->v[i];
	return NULL;
}

void breaker_loop_opened(struct breaker_loop *b, const char *tenant, const char *service,
			 const char *policy_name, int64_t duration_ms, int64_t now_ms)
{
	struct breaker *k;

	pthread_mutex_lock(&b->lock);
	k = find(b, tenant, service);
	if (!k) {
		if (b->n == b->alloc) {
			b->alloc = b->alloc ? b->alloc * 2 : 8;
			b->v = xreallocarray(b->v, b->alloc, sizeof(*b->v));
		}
		k = &b->v[b->n++];
		memset(k, 0, sizeof(*k));
		snprintf(k->pub.tenant, sizeof(k->pub.tenant), "%s", tenant);
		snprintf(k->pub.service, sizeof(k->pub.service), "%s", service);
		snprintf(k->pub.policy_name, sizeof(k->pub.policy_name), "%s", policy_name);
	}
	if (k->pub.state == EXECUTOR_BREAKER_OPEN && k->pub.next_ms > now_ms + duration_ms) {
		/* already open for longer: an open never shortens a breaker */
	} else {
		if (k->pub.state != EXECUTOR_BREAKER_OPEN)
			k->pub.opened_ms = now_ms;
		k->pub.next_ms = now_ms + duration_ms;
	}
	k->pub.state = EXECUTOR_BREAKER_OPEN;
	k->pub.duration_ms = duration_ms;
	k->windows = 0;
	k->in_flight = false;
	pthread_mutex_unlock(&b->lock);
}

bool breaker_loop_half_opened(struct breaker_loop *b, const char *tenant, const char *service,
			      int64_t now_ms, int64_t probe_window_ms)
{
	struct breaker *k;

	pthread_mutex_lock(&b->lock);
	k = find(b, tenant, service);
	if (k) {
		k->pub.state = EXECUTOR_BREAKER_HALF_OPEN;
		k->pub.next_ms = now_ms + probe_window_ms;
		k->half_open_ms = now_ms;
		k->windows = 0;
		k->in_flight = false;
	}
	pthread_mutex_unlock(&b->lock);
	return k != NULL;
}

bool breaker_loop_forget(struct breaker_loop *b, const char *tenant, const char *service)
{
	struct breaker *k;

	pthread_mutex_lock(&b->lock);
	k = find(b, tenant, service);
	if (k)
		*k = b->v[--b->n];
	pthread_mutex_unlock(&b->lock);
	return k != NULL;
}

void breaker_loop_settle(struct breaker_loop *b, const char *tenant, const char *service)
{
	struct breaker *k;

	pthread_mutex_lock(&b->lock);
	k = find(b, tenant, service);
	if (k)
		k->in_flight = false;
	pthread_mutex_unlock(&b->lock);
}

size_t breaker_loop_take_due(struct breaker_loop *b, int64_t now_ms, struct breaker_loop_due **out)
{
	struct breaker_loop_due *v = NULL;
	size_t n = 0;

	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; i < b->n; i++) {
		struct breaker *k = &b->v[i];

		if (k->in_flight || now_ms < k->pub.next_ms)
			continue;
		if (!v)
			v = xcalloc(b->n, sizeof(*v));
		k->in_flight = true;
		v[n].b = k->pub;
		v[n].kind = k->pub.state == EXECUTOR_BREAKER_OPEN ? BREAKER_LOOP_DUE_HALF_OPEN
								  : BREAKER_LOOP_DUE_JUDGE;
		v[n].half_open_ms = k->half_open_ms;
		v[n].windows = k->windows;
		n++;
	}
	pthread_mutex_unlock(&b->lock);
	*out = v;
	return n;
}

enum breaker_loop_verdict breaker_loop_judge(struct breaker_loop *b,
					     const struct breaker_loop_due *d,
					     enum executor_health health, int64_t now_ms,
					     int64_t probe_window_ms, char *reason, size_t len)
{
	enum breaker_loop_verdict v = BREAKER_LOOP_CLOSE;
	struct breaker *k;

	pthread_mutex_lock(&b->lock);
	k = find(b, d->b.tenant, d->b.service);
	if (!k) { /* closed by an action meanwhile */
		pthread_mutex_unlock(&b->lock);
		snprintf(reason, len, "closed meanwhile");
		return BREAKER_LOOP_STAY;
	}
	switch (health) {
	case EXECUTOR_HEALTH_GOOD:
		snprintf(reason, len, "closed: the service is healthy again");
		break;
	case EXECUTOR_HEALTH_BAD:
		v = BREAKER_LOOP_REOPEN;
		k->pub.reopened++;
		snprintf(reason, len,
			 "reopened: the service is still unhealthy while probing; open for another "
			 "%g s (reopened %u times)",
			 (double)k->pub.duration_ms / 1000, k->pub.reopened);
		break;
	default:
		if (++k->windows < BREAKER_LOOP_UNKNOWN_WINDOWS) {
			v = BREAKER_LOOP_STAY;
			k->pub.next_ms = now_ms + probe_window_ms;
			k->in_flight = false;
			snprintf(reason, len,
				 "half-open: no requests got through yet, probing for another "
				 "%g s (window %u of %d)",
				 (double)probe_window_ms / 1000, k->windows + 1,
				 BREAKER_LOOP_UNKNOWN_WINDOWS);
		} else {
			snprintf(reason, len,
				 "closed: no requests got through in %d probe windows, so no "
				 "evidence the service is sick",
				 BREAKER_LOOP_UNKNOWN_WINDOWS);
		}
		break;
	}
	pthread_mutex_unlock(&b->lock);
	return v;
}

int breaker_loop_list(struct breaker_loop *b, const char *tenant, struct executor_breaker **out,
		      size_t *n)
{
	struct executor_breaker *v;
	size_t len = 0;

	pthread_mutex_lock(&b->lock);
	v = xcalloc(b->n ? b->n : 1, sizeof(*v));
	for (size_t i = 0; i < b->n; i++)
		if (!tenant || !strcmp(b->v[i].pub.tenant, tenant))
			v[len++] = b->v[i].pub;
	pthread_mutex_unlock(&b->lock);
	*out = v;
	*n = len;
	return 0;
}

size_t breaker_loop_count(struct breaker_loop *b)
{
	size_t n;

	pthread_mutex_lock(&b->lock);
	n = b->n;
	pthread_mutex_unlock(&b->lock);
	return n;
}
