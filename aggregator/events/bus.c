/*
 * The event bus (bus.h). Publishing holds the ring's mutex while it stores
 * the event, so ids enter the ring in order and a reader never sees a hole
 * it would later have to fill. The ring is a circular array of the newest
 * BUS_RING_EVENTS events; a read after an id finds its place by binary
 * search (ids ascend), and falls back to the store when that id is older
 * than the ring's oldest. Wake-ups run after the ring's mutex is released,
 * under the watchers' mutex only, so a slow subscriber cannot hold up a
 * publisher's next event, and bus_unwatch() returning means no call is
 * running or will run.
 *
 * Events older than BUS_KEEP_DAYS are pruned from the store, a batch per
 * publish at most once a minute, on the publishing thread.
 */
#include "aggregator/events/bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

#define BUS_KEEP_DAYS	    7
#define BUS_PRUNE_EVERY_MS  60000
#define BUS_PRUNE_BATCH	    1000
/* Events read from the store per resume at most: a resume past that continues next read. */
#define BUS_STORE_READ_MAX 1000

static const char *const type_names[BUS_TYPE_COUNT] = {
	[BUS_ANOMALY_DETECTED] = "anomaly.detected",
	[BUS_ANOMALY_RESOLVED] = "anomaly.resolved",
	[BUS_INCIDENT_STARTED] = "incident.started",
	[BUS_INCIDENT_RESOLVED] = "incident.resolved",
	[BUS_PREDICTION_BREACH] = "prediction.breach",
	[BUS_ACTION_EXECUTED] = "action.executed",
	[BUS_ACTION_FAILED] = "action.failed",
	[BUS_POLICY_CHANGED] = "policy.changed",
	[BUS_WEBHOOK_TEST] = "webhook.test",
};

struct bus_watch {
	bus_wake_fn *fn;
	void *arg;
	struct bus_watch *next;
};

struct bus {
	pthread_mutex_t mu; /* the ring, the store, last_id */
	struct bus_event *ring[BUS_RING_EVENTS];
	size_t first, count; /* ring[first] is the oldest */
	_Atomic int64_t last_id;
	int64_t pruned_at_ms;
	struct store *store;

	pthread_mutex_t watch_mu;
	struct bus_watch *watches;
	size_t nwatches;
	bool closing;
};

const char *bus_type_name(enum bus_type t)
{
	return (unsigned)t < BUS_TYPE_COUNT ? type_names[t] : "unknown";
}

int bus_type_find(const char *name)
{
	for (int i = 0; name && i < BUS_TYPE_COUNT; i++)
		if (!strcmp(name, type_names[i]))
			return i;
	return -1;
}

void bus_event_ref(struct bus_event *e)
{
	__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
}

void bus_event_unref(struct bus_event *e)
{
	if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		free(e->json);
		free(e);
	}
}

bool bus_filter_match(const struct bus_filter *f, const struct bus_event *e)
{
	if (strcmp(f->tenant, e->tenant) || (f->types && !(f->types & (1u << e->type))) ||
	    e->severity < f->min_severity)
		return false;
	if (!f->services)
		return true;
	for (size_t i = 0; i < f->nservices; i++)
		if (!strcmp(f->services[i], e->service))
			return true;
	return false;
}

int bus_open(struct bus **out, const struct store_options *so)
{
	struct bus *b;
	int64_t last = 0;
	int err;

	if (so->read_only)
		return -EINVAL;
	b = xcalloc(1, sizeof(*b));
	err = store_open(&b->store, so);
	if (!err)
		err = store_events_last_id(b->store, &last);
	if (err) {
		store_close(b->store);
		free(b);
		return err;
	}
	atomic_init(&b->last_id, last);
	pthread_mutex_init(&b->mu, NULL);
	pthread_mutex_init(&b->watch_mu, NULL);
	*out = b;
	return 0;
}

void bus_close(struct bus *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->watch_mu);
	b->closing = true;
	while (b->watches) {
		struct bus_watch *w = b->watches;

		b->watches = w->next;
		free(w);
	}
	pthread_mutex_unlock(&b->watch_mu);
	for (size_t i = 0; i < b->count; i++)
		bus_event_unref(b->ring[(b->first + i) % BUS_RING_EVENTS]);
	store_close(b->store);
	pthread_mutex_destroy(&b->watch_mu);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

static struct bus_event *event_from(const struct store_event *se)
{
	struct bus_event *e = xcalloc(1, sizeof(*e));

	e->id = se->id;
	e->at_ms = se->at_ms;
	e->type = (unsigned)se->type < BUS_TYPE_COUNT ? (enum bus_type)se->type : BUS_WEBHOOK_TEST;
	e->severity = (enum store_severity)se->severity;
	memcpy(e->tenant, se->tenant, sizeof(e->tenant));
	memcpy(e->service, se->service, sizeof(e->service));
	e->json = xstrdup(se->json);
	e->json_len = strlen(e->json);
	e->refs = 1;
	return e;
}

/*
 * The event as webhooks send it (API.md): {"event", "timestamp", "data"};
 * the id travels beside it (SSE's id: line, the WebSocket message's id).
 * NULL when it cannot be encoded.
 */
static char *event_json(enum bus_type type, int64_t at_ms, json_t *data)
{
	char iso[TIME_ISO_LEN];
	json_t *doc;
	char *text;

	time_format_iso((uint64_t)at_ms * NSEC_PER_MSEC, iso);
	doc = data ? json_pack("{s:s, s:s, s:O}", "event", type_names[type], "timestamp", iso,
			       "data", data)
		   : json_pack("{s:s, s:s, s:{}}", "event", type_names[type], "timestamp", iso,
			       "data");
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	json_decref(doc);
	return text;
}

static void prune(struct bus *b, int64_t now_ms)
{
	size_t deleted = 0;

	if (now_ms - b->pruned_at_ms < BUS_PRUNE_EVERY_MS)
		return;
	b->pruned_at_ms = now_ms;
	if (store_events_prune(b->store, now_ms - BUS_KEEP_DAYS * 86400000ll, BUS_PRUNE_BATCH,
			       &deleted) == 0 &&
	    deleted)
		log_info("events: pruned %zu events older than %d days", deleted, BUS_KEEP_DAYS);
}

static void wake_all(struct bus *b)
{
	pthread_mutex_lock(&b->watch_mu);
	for (struct bus_watch *w = b->watches; w; w = w->next)
		w->fn(w->arg);
	pthread_mutex_unlock(&b->watch_mu);
}

int64_t bus_publish(struct bus *b, const char *tenant, enum bus_type type, const char *service,
		    enum store_severity severity, json_t *data)
{
	struct store_event se = { .at_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC),
				  .type = (int)type,
				  .severity = (int)severity };
	struct bus_event *e;
	int64_t id;
	int err;

	if ((unsigned)type >= BUS_TYPE_COUNT) {
		json_decref(data);
		return -EINVAL;
	}
	snprintf(se.tenant, sizeof(se.tenant), "%s", tenant);
	snprintf(se.service, sizeof(se.service), "%s", service ? service : "");
	se.json = event_json(type, se.at_ms, data);
	json_decref(data);
	pthread_mutex_lock(&b->mu);
	err = se.json ? store_event_insert(b->store, &se) : -ENOMEM;
	if (err) {
		pthread_mutex_unlock(&b->mu);
		log_warn_err(err, "events: cannot store %s of %s", type_names[type], se.service);
		free(se.json);
		return err;
	}
	e = event_from(&se);
	free(se.json);
	if (b->count == BUS_RING_EVENTS) {
		bus_event_unref(b->ring[b->first]);
		b->first = (b->first + 1) % BUS_RING_EVENTS;
		b->count--;
	}
	b->ring[(b->first + b->count) % BUS_RING_EVENTS] = e;
	b->count++;
	id = e->id; /* @e may leave the ring, and be freed, once the mutex is released */
	atomic_store(&b->last_id, id);
	prune(b, se.at_ms);
	pthread_mutex_unlock(&b->mu);
	wake_all(b);
	return id;
}

int64_t bus_last_id(struct bus *b)
{
	return atomic_load(&b->last_id);
}

/* Index (0..count) in the ring of the first event with an id above @after. Under mu. */
static size_t ring_after(const struct bus *b, int64_t after)
{
	size_t lo = 0, hi = b->count;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (b->ring[(b->first + mid) % BUS_RING_EVENTS]->id <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* From the store: the events after @after_id not in the ring any more. */
static int read_store(struct bus *b, int64_t after_id, const struct bus_filter *f,
		      struct bus_event **out, size_t max, size_t *n, int64_t *next_after)
{
	struct store_event *v;
	size_t nv;
	int err = store_events_after(b->store, f->tenant, after_id, BUS_STORE_READ_MAX, &v, &nv);

	if (err)
		return err;
	for (size_t i = 0; i < nv && *n < max; i++) {
		struct bus_event *e = event_from(&v[i]);

		*next_after = e->id;
		if (bus_filter_match(f, e))
			out[(*n)++] = e;
		else
			bus_event_unref(e);
	}
	store_events_free(v, nv);
	return 0;
}

int bus_read(struct bus *b, int64_t after_id, const struct bus_filter *f, struct bus_event **out,
	     size_t max, size_t *n, int64_t *next_after)
{
	size_t i;
	int err = 0;

	*n = 0;
	*next_after = after_id;
	pthread_mutex_lock(&b->mu);
	if (after_id < atomic_load(&b->last_id) &&
	    (!b->count || b->ring[b->first]->id > after_id + 1)) {
		/* what the ring has forgotten; the rest at the next read */
		err = read_store(b, after_id, f, out, max, n, next_after);
		if (err || *next_after > after_id || *n) {
			pthread_mutex_unlock(&b->mu);
			return err;
		}
		/* nothing of this tenant in the store past after_id: go on in the ring */
	}
	for (i = ring_after(b, *next_after); i < b->count && *n < max; i++) {
		struct bus_event *e = b->ring[(b->first + i) % BUS_RING_EVENTS];

		*next_after = e->id;
		if (bus_filter_match(f, e)) {
			bus_event_ref(e);
			out[(*n)++] = e;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return 0;
}

struct bus_watch *bus_watch(struct bus *b, bus_wake_fn *fn, void *arg)
{
	struct bus_watch *w = xcalloc(1, sizeof(*w));

	w->fn = fn;
	w->arg = arg;
	pthread_mutex_lock(&b->watch_mu);
	w->next = b->watches;
	b->watches = w;
	b->nwatches++;
	pthread_mutex_unlock(&b->watch_mu);
	return w;
}

void bus_unwatch(struct bus *b, struct bus_watch *w)
{
	pthread_mutex_lock(&b->watch_mu);
	for (struct bus_watch **p = &b->watches; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			b->nwatches--;
			free(w);
			break;
		}
	}
	pthread_mutex_unlock(&b->watch_mu);
}

size_t bus_watchers(struct bus *b)
{
	size_t n;

	pthread_mutex_lock(&b->watch_mu);
	n = b->nwatches;
	pthread_mutex_unlock(&b->watch_mu);
	return n;
}
