/*
 * Webhooks (webhooks.h): the hooks' changes, the dispatcher and the
 * delivery workers.
 *
 * One mutex, mu, guards the store (a struct store is one thread's at a
 * time), the set of hooks with a delivery in flight, and the counters.
 * It is never held across a request: a worker claims a delivery under mu,
 * sends it without, and writes the outcome under mu again. A hook is in
 * the busy set while one of its deliveries is in flight, and workers skip
 * the busy hooks, so no two of a hook's deliveries are ever in flight at
 * once; since the store only ever offers a hook's oldest pending delivery,
 * they also leave in order.
 *
 * The dispatcher sleeps on its own condition (wake_mu), which the bus's
 * wake-up signals and nothing else: the wake-up runs on the publishing
 * thread and must not wait for a store query. It also wakes once a second
 * on its own, so that events stored while a wake-up was missed (none
 * should be) or by another process are dispatched anyway.
 *
 * Hooks are read for each batch of events rather than cached: a batch
 * costs one SELECT of a few rows, and a change to a hook is then seen by
 * the next event without any invalidation.
 */
#include "aggregator/webhooks/webhooks.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregator/webhooks/webhooks_check.h"
#include "aggregator/webhooks/webhooks_format.h"
#include "aggregator/webhooks/webhooks_send.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

/* Events turned into deliveries per transaction. */
#define DISPATCH_BATCH 256
/* The dispatcher's own wake-up, and the longest a worker sleeps without one. */
#define DISPATCH_POLL_MS 1000
#define WORKER_POLL_MS	 5000
#define PRUNE_EVERY_MS	 60000
#define PRUNE_BATCH	 1000

struct webhooks {
	struct webhooks_config cfg; /* cfg.store.dir and cfg.ca_file point at dir and ca_file */
	char *dir, *ca_file;
	struct bus_watch *watch;
	bool curl_ready;

	pthread_mutex_t mu;  /* guards what follows, down to the wake-up's fields */
	pthread_cond_t work; /* deliveries queued or finished, or stopping */
	struct store *store;
	int64_t busy[WEBHOOKS_WORKERS_MAX]; /* hooks with a delivery in flight */
	size_t nbusy;
	bool stopping;
	int64_t cursor;
	int64_t pruned_at_ms;
	uint64_t sent, succeeded, failed;

	pthread_mutex_t wake_mu; /* guards woken and wake_stop */
	pthread_cond_t wake;
	bool woken, wake_stop;

	pthread_t dispatcher;
	bool dispatcher_started;
	pthread_t workers[WEBHOOKS_WORKERS_MAX];
	size_t nworkers;
};

static int64_t now_ms(void)
{
	return (int64_t)(time_real_ns() / NSEC_PER_MSEC);
}

/* Waits on @c (a CLOCK_MONOTONIC condition) for at most @ms. */
static void wait_ms(pthread_cond_t *c, pthread_mutex_t *m, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(c, m, &ts);
}

static void cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

/* ---- checks and changes of hooks ---- */

/* 0, or -EINVAL with @err naming the field. */
static int hook_check(const struct store_webhook *h, char *err, size_t errlen)
{
	json_t *headers;
	int ret;

	ret = webhooks_check_url(h->url, err, errlen);
	if (ret)
		return ret;
	if (h->events & ~(unsigned)BUS_ALL_TYPES) {
		snprintf(err, errlen, "events: unknown event types");
		return -EINVAL;
	}
	if (!webhooks_format_name(h->format)) {
		snprintf(err, errlen, "format: one of json, slack, pagerduty");
		return -EINVAL;
	}
	if (h->format == STORE_WEBHOOK_PAGERDUTY && (!h->routing_key || !*h->routing_key)) {
		snprintf(err, errlen, "routing_key: required with the pagerduty format");
		return -EINVAL;
	}
	if (h->routing_key && strlen(h->routing_key) > STORE_WEBHOOK_ROUTING_KEY_MAX) {
		snprintf(err, errlen, "routing_key: at most %d characters",
			 STORE_WEBHOOK_ROUTING_KEY_MAX);
		return -EINVAL;
	}
	if (h->secret && strlen(h->secret) > STORE_WEBHOOK_SECRET_MAX) {
		snprintf(err, errlen, "secret: at most %d characters", STORE_WEBHOOK_SECRET_MAX);
		return -EINVAL;
	}
	if (!h->headers)
		return 0;
	if (strlen(h->headers) > STORE_WEBHOOK_HEADERS_MAX) {
		snprintf(err, errlen, "headers: at most %u bytes", STORE_WEBHOOK_HEADERS_MAX);
		return -EINVAL;
	}
	headers = json_loads(h->headers, JSON_REJECT_DUPLICATES, NULL);
	ret = webhooks_check_headers(headers, err, errlen);
	json_decref(headers);
	return ret;
}

/* Replaces *@field by a copy of @v; "" (with @empty_null) or NULL as NULL. */
static void set_text(char **field, const char *v, bool empty_null)
{
	if (*field) /* a secret is not left in freed memory */
		explicit_bzero(*field, strlen(*field));
	free(*field);
	*field = v && (*v || !empty_null) ? xstrdup(v) : NULL;
}

/* Applies the fields @c sets to @h. */
static void hook_apply(struct store_webhook *h, const struct webhooks_change *c)
{
	if (c->url)
		set_text(&h->url, c->url, false);
	if (c->events >= 0)
		h->events = (unsigned)c->events;
	if (c->secret)
		set_text(&h->secret, c->secret, true);
	if (c->enabled >= 0)
		h->enabled = c->enabled != 0;
	if (c->headers)
		set_text(&h->headers, strcmp(c->headers, "{}") ? c->headers : NULL, true);
	if (c->format >= 0)
		h->format = c->format;
	if (c->routing_key)
		set_text(&h->routing_key, c->routing_key, true);
}

/* A copy of @h into @out, for a caller that releases it. */
static void hook_copy(struct store_webhook *out, const struct store_webhook *h)
{
	*out = *h;
	out->url = h->url ? xstrdup(h->url) : NULL;
	out->secret = h->secret ? xstrdup(h->secret) : NULL;
	out->headers = h->headers ? xstrdup(h->headers) : NULL;
	out->routing_key = h->routing_key ? xstrdup(h->routing_key) : NULL;
}

int webhooks_create(struct webhooks *w, const char *tenant, const struct webhooks_change *c,
		    int64_t now, struct store_webhook *out, char *err, size_t errlen)
{
	struct store_webhook h = { .enabled = true, .format = STORE_WEBHOOK_JSON };
	int ret;

	memset(out, 0, sizeof(*out));
	if (!tenant || strlen(tenant) >= sizeof(h.tenant) || !*tenant) {
		snprintf(err, errlen, "tenant: not a tenant");
		return -EINVAL;
	}
	snprintf(h.tenant, sizeof(h.tenant), "%s", tenant);
	hook_apply(&h, c);
	h.created_ms = h.updated_ms = now;
	ret = hook_check(&h, err, errlen);
	if (!ret) {
		pthread_mutex_lock(&w->mu);
		ret = store_webhook_put(w->store, &h);
		pthread_mutex_unlock(&w->mu);
		if (ret)
			snprintf(err, errlen, "the webhook could not be stored");
	}
	if (!ret) {
		hook_copy(out, &h);
		log_info("webhooks: webhook %lld created tenant=%s", (long long)h.id, h.tenant);
	}
	store_webhook_release(&h);
	return ret;
}

int webhooks_update(struct webhooks *w, const char *tenant, int64_t id,
		    const struct webhooks_change *c, int64_t now, struct store_webhook *out,
		    char *err, size_t errlen)
{
	struct store_webhook h;
	int ret;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&w->mu);
	ret = store_webhook_get(w->store, tenant, id, &h);
	if (ret) {
		pthread_mutex_unlock(&w->mu);
		snprintf(err, errlen, "no webhook with id %lld", (long long)id);
		return ret == -EINVAL ? -ENOENT : ret;
	}
	hook_apply(&h, c);
	h.updated_ms = now > h.created_ms ? now : h.created_ms;
	ret = hook_check(&h, err, errlen);
	if (!ret) {
		ret = store_webhook_put(w->store, &h);
		if (ret)
			snprintf(err, errlen, "the webhook could not be stored");
	}
	/* re-enabled: its pending deliveries may be due */
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->mu);
	if (!ret)
		hook_copy(out, &h);
	store_webhook_release(&h);
	return ret;
}

int webhooks_delete(struct webhooks *w, const char *tenant, int64_t id, int64_t now)
{
	int ret;

	pthread_mutex_lock(&w->mu);
	ret = store_webhook_delete(w->store, tenant, id, now);
	pthread_mutex_unlock(&w->mu);
	if (!ret)
		log_info("webhooks: webhook %lld deleted tenant=%s", (long long)id, tenant);
	return ret == -EINVAL ? -ENOENT : ret;
}

int webhooks_enqueue(struct webhooks *w, const char *tenant, int64_t id, enum bus_type type,
		     const char *service, enum store_severity severity, json_t *data, int64_t now,
		     int64_t *delivery_id)
{
	struct store_webhook_delivery d = { .event_id = 0, .type = (int)type };
	struct webhooks_event ev = { .type = type,
				     .severity = severity,
				     .tenant = tenant,
				     .service = service ? service : "" };
	struct store_webhook h;
	char *json;
	int ret;

	*delivery_id = 0;
	if ((unsigned)type >= BUS_TYPE_COUNT || (data && !json_is_object(data)))
		return -EINVAL;
	json = webhooks_format_event_json(type, now, data);
	if (!json)
		return -EINVAL;
	ev.json = json;
	ev.json_len = strlen(json);
	pthread_mutex_lock(&w->mu);
	ret = store_webhook_get(w->store, tenant, id, &h);
	if (ret == -EINVAL)
		ret = -ENOENT;
	if (!ret && !h.enabled)
		ret = -EPERM;
	if (!ret) {
		d.webhook_id = h.id;
		snprintf(d.tenant, sizeof(d.tenant), "%s", h.tenant);
		d.body = webhooks_format_body(h.format, h.routing_key, &ev, &d.body_len);
		d.next_attempt_ms = d.created_ms = now;
		ret = d.body ? store_webhook_deliveries_add(w->store, &d, 1, 0) : -EINVAL;
	}
	if (!ret) {
		*delivery_id = d.id;
		pthread_cond_broadcast(&w->work);
	}
	pthread_mutex_unlock(&w->mu);
	store_webhook_release(&h); /* zeroed by a get that failed */
	store_webhook_delivery_release(&d);
	free(json);
	return ret;
}

void webhooks_stats(struct webhooks *w, struct webhooks_stats *out)
{
	pthread_mutex_lock(&w->mu);
	out->cursor = w->cursor;
	out->in_flight = w->nbusy;
	out->sent = w->sent;
	out->succeeded = w->succeeded;
	out->failed = w->failed;
	pthread_mutex_unlock(&w->mu);
}

/* ---- the dispatcher ---- */

/* The bus's wake-up, on the publishing thread: only signals. */
static void on_publish(void *arg)
{
	struct webhooks *w = arg;

	pthread_mutex_lock(&w->wake_mu);
	w->woken = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->wake_mu);
}

static bool hook_wants(const struct store_webhook *h, const struct store_event *e)
{
	/* a hook gets the events that happened since it was made, not the backlog */
	return !strcmp(h->tenant, e->tenant) && (!h->events || (h->events & (1u << e->type))) &&
	       h->created_ms <= e->at_ms;
}

/* Adds the deliveries of @e to the hooks of @hooks that want it, to *@v. */
static void event_deliveries(const struct store_event *e, const struct store_webhook *hooks,
			     size_t nhooks, int64_t now, struct store_webhook_delivery **v,
			     size_t *n, size_t *alloc)
{
	struct webhooks_event ev = { .id = e->id,
				     .type = (enum bus_type)e->type,
				     .severity = (enum store_severity)e->severity,
				     .tenant = e->tenant,
				     .service = e->service,
				     .json = e->json,
				     .json_len = strlen(e->json) };

	if (e->type < 0 || e->type >= BUS_TYPE_COUNT)
		return;
	for (size_t i = 0; i < nhooks; i++) {
		struct store_webhook_delivery *d;
		size_t len;
		char *body;

		if (!hook_wants(&hooks[i], e))
			continue;
		body = webhooks_format_body(hooks[i].format, hooks[i].routing_key, &ev, &len);
		if (!body) {
			log_ratelimited(LOG_LEVEL_WARN,
					"webhooks: event %lld cannot be written as %s; not sent"
					" webhook=%lld tenant=%s",
					(long long)e->id, webhooks_format_name(hooks[i].format),
					(long long)hooks[i].id, e->tenant);
			continue;
		}
		if (*n == *alloc) {
			*alloc = *alloc ? *alloc * 2 : 16;
			*v = xreallocarray(*v, *alloc, sizeof(**v));
		}
		d = &(*v)[(*n)++];
		*d = (struct store_webhook_delivery){ .webhook_id = hooks[i].id,
						      .event_id = e->id,
						      .type = e->type,
						      .body = body,
						      .body_len = len,
						      .next_attempt_ms = now,
						      .created_ms = now };
		memcpy(d->tenant, e->tenant, sizeof(d->tenant));
	}
}

/* Dispatches the next batch of events under mu: how many were read (0: none, or a failure). */
static size_t dispatch_batch(struct webhooks *w)
{
	struct store_webhook_delivery *v = NULL;
	struct store_webhook *hooks = NULL;
	size_t nev = 0, read = 0, nhooks = 0, n = 0, alloc = 0;
	struct store_event *ev = NULL;
	int64_t now = now_ms();
	int err;

	err = store_events_after(w->store, NULL, w->cursor, DISPATCH_BATCH, &ev, &nev);
	read = nev;
	if (!err && nev)
		err = store_webhooks_list(w->store, NULL, true, &hooks, &nhooks);
	if (!err && nev) {
		for (size_t i = 0; i < nev; i++)
			event_deliveries(&ev[i], hooks, nhooks, now, &v, &n, &alloc);
		err = store_webhook_deliveries_add(w->store, v, n, ev[nev - 1].id);
	}
	if (err) {
		log_ratelimited(LOG_LEVEL_WARN,
				"webhooks: cannot dispatch the events after %lld: %s",
				(long long)w->cursor, strerror(-err));
		nev = 0; /* again at the next wake-up: the cursor has not moved */
	} else if (nev) {
		w->cursor = ev[nev - 1].id;
		if (n)
			pthread_cond_broadcast(&w->work);
	}
	store_webhook_deliveries_free(v, n);
	store_webhooks_free(hooks, nhooks);
	store_events_free(ev, read);
	return nev;
}

/* Deletes the finished deliveries past WEBHOOKS_KEEP_DAYS, a batch a minute. Under mu. */
static void prune(struct webhooks *w)
{
	int64_t now = now_ms();
	size_t deleted = 0;

	if (now - w->pruned_at_ms < PRUNE_EVERY_MS)
		return;
	w->pruned_at_ms = now;
	if (!store_webhook_deliveries_prune(w->store, now - WEBHOOKS_KEEP_DAYS * 86400000ll,
					    PRUNE_BATCH, &deleted) &&
	    deleted)
		log_info("webhooks: pruned %zu deliveries older than %d days", deleted,
			 WEBHOOKS_KEEP_DAYS);
}

static void *dispatcher_main(void *arg)
{
	struct webhooks *w = arg;
	bool stop = false;

	while (!stop) {
		size_t n;

		pthread_mutex_lock(&w->mu);
		do
			n = dispatch_batch(w);
		while (n == DISPATCH_BATCH && !w->stopping);
		prune(w);
		pthread_mutex_unlock(&w->mu);

		pthread_mutex_lock(&w->wake_mu);
		if (!w->woken && !w->wake_stop)
			wait_ms(&w->wake, &w->wake_mu, DISPATCH_POLL_MS);
		w->woken = false;
		stop = w->wake_stop;
		pthread_mutex_unlock(&w->wake_mu);
	}
	return NULL;
}

/* ---- the workers ---- */

static bool busy_has(const struct webhooks *w, int64_t hook)
{
	for (size_t i = 0; i < w->nbusy; i++)
		if (w->busy[i] == hook)
			return true;
	return false;
}

static void busy_remove(struct webhooks *w, int64_t hook)
{
	for (size_t i = 0; i < w->nbusy; i++) {
		if (w->busy[i] == hook) {
			w->busy[i] = w->busy[--w->nbusy];
			return;
		}
	}
}

/* Fails @d for good with @why, at @now. Under mu. */
static void fail_now(struct webhooks *w, struct store_webhook_delivery *d, const char *why,
		     int64_t now)
{
	d->status = STORE_DELIVERY_FAILED;
	d->completed_ms = now;
	free(d->last_error);
	d->last_error = xstrdup(why);
	(void)store_webhook_delivery_update(w->store, d);
	w->failed++;
}

/*
 * Under mu: the next due delivery of a hook that is not busy, and its
 * hook, into @d and @h (release both): 1; 0 when none is due, with
 * *next_ms when the next one will be (INT64_MAX: none queued).
 */
static int claim(struct webhooks *w, struct store_webhook_delivery *d, struct store_webhook *h,
		 int64_t *next_ms)
{
	struct store_webhook_delivery *v;
	int64_t now = now_ms();
	size_t n, i;
	int found = 0;

	/* one more than the busy hooks: at least one of them is not busy, if one is due */
	if (store_webhook_deliveries_due(w->store, now, w->nbusy + 1, &v, &n, next_ms)) {
		*next_ms = now + DISPATCH_POLL_MS;
		return 0;
	}
	for (i = 0; i < n && !found; i++) {
		if (busy_has(w, v[i].webhook_id))
			continue;
		if (store_webhook_get(w->store, v[i].tenant, v[i].webhook_id, h)) {
			/* its hook is gone (store_webhook_delete() fails them; a belt on that) */
			fail_now(w, &v[i], "the webhook was deleted", now);
			*next_ms = now;
			continue;
		}
		*d = v[i];
		memset(&v[i], 0, sizeof(v[i]));
		found = 1;
	}
	if (!found && i < n)
		*next_ms = now;
	store_webhook_deliveries_free(v, n);
	return found;
}

/* xorshift64*: the jitter needs no quality, only independence between workers. */
static double next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) / (double)(1ull << 53);
}

/* Writes the outcome of the attempt on @d (@err its result) to the store. Under mu. */
static void record(struct webhooks *w, const struct store_webhook *h,
		   struct store_webhook_delivery *d, int err, const struct webhooks_attempt *at,
		   uint64_t *rng)
{
	int64_t now = now_ms();
	int ret;

	w->sent++;
	d->attempts++;
	d->last_status_code = at->status_code;
	free(d->last_error);
	d->last_error = err ? xstrdup(at->error) : NULL;
	if (!err) {
		d->status = STORE_DELIVERY_SUCCEEDED;
		d->completed_ms = now;
	} else if (d->attempts >= w->cfg.max_attempts) {
		d->status = STORE_DELIVERY_FAILED;
		d->completed_ms = now;
		log_warn("webhooks: delivery %lld failed for good after %u attempts: %s"
			 " webhook=%lld tenant=%s",
			 (long long)d->id, d->attempts, at->error, (long long)h->id, h->tenant);
	} else {
		d->next_attempt_ms =
			now + webhooks_send_backoff_ms(d->attempts, w->cfg.backoff_ms,
						       w->cfg.backoff_max_ms, next_random(rng));
		log_ratelimited(LOG_LEVEL_WARN,
				"webhooks: delivery %lld attempt %u failed (%s), again in %lld ms"
				" webhook=%lld tenant=%s",
				(long long)d->id, d->attempts, at->error,
				(long long)(d->next_attempt_ms - now), (long long)h->id, h->tenant);
	}
	ret = store_webhook_delivery_update(w->store, d);
	if (!ret && d->status == STORE_DELIVERY_SUCCEEDED)
		w->succeeded++;
	else if (!ret && d->status == STORE_DELIVERY_FAILED)
		w->failed++;
	else if (ret == -ENOENT) /* its hook was deleted meanwhile, which failed it */
		return;
	else if (ret) /* it stays pending as it was: sent again, which receivers must bear anyway */
		log_ratelimited(LOG_LEVEL_WARN,
				"webhooks: cannot record delivery %lld: %s; it will be sent again",
				(long long)d->id, strerror(-ret));
}

static void *worker_main(void *arg)
{
	struct webhooks *w = arg;
	uint64_t rng = time_real_ns() ^ (uint64_t)(uintptr_t)&rng;

	if (!rng)
		rng = 1;
	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		struct store_webhook_delivery d;
		struct webhooks_attempt at;
		struct store_webhook h;
		int64_t next_ms, wait;
		int err;

		if (!claim(w, &d, &h, &next_ms)) {
			wait = next_ms == INT64_MAX ? WORKER_POLL_MS : next_ms - now_ms();
			if (wait > 0)
				wait_ms(&w->work, &w->mu,
					wait < WORKER_POLL_MS ? wait : WORKER_POLL_MS);
			continue;
		}
		w->busy[w->nbusy++] = h.id;
		pthread_mutex_unlock(&w->mu);
		err = webhooks_send(&h, &d, w->cfg.timeout_ms, w->cfg.ca_file, now_ms(), &at);
		pthread_mutex_lock(&w->mu);
		busy_remove(w, h.id);
		record(w, &h, &d, err, &at, &rng);
		/* this hook's next delivery, if any, may go now: to any worker */
		pthread_cond_broadcast(&w->work);
		store_webhook_delivery_release(&d);
		store_webhook_release(&h);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- start and stop ---- */

static void config_defaults(struct webhooks_config *c)
{
	if (!c->max_attempts)
		c->max_attempts = WEBHOOKS_MAX_ATTEMPTS;
	if (!c->backoff_ms)
		c->backoff_ms = WEBHOOKS_BACKOFF_MS;
	if (!c->backoff_max_ms)
		c->backoff_max_ms = WEBHOOKS_BACKOFF_MAX_MS;
	if (c->backoff_max_ms < c->backoff_ms)
		c->backoff_max_ms = c->backoff_ms;
	if (!c->timeout_ms)
		c->timeout_ms = WEBHOOKS_TIMEOUT_MS;
	if (!c->workers)
		c->workers = WEBHOOKS_WORKERS;
}

/* Stops and joins the threads started so far; unwatches the bus first. */
static void threads_stop(struct webhooks *w)
{
	if (w->watch)
		bus_unwatch(w->cfg.bus, w->watch); /* no wake-up runs past this */
	w->watch = NULL;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_lock(&w->wake_mu);
	w->wake_stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->wake_mu);
	if (w->dispatcher_started)
		pthread_join(w->dispatcher, NULL);
	w->dispatcher_started = false;
	for (size_t i = 0; i < w->nworkers; i++)
		pthread_join(w->workers[i], NULL);
	w->nworkers = 0;
}

static void webhooks_free(struct webhooks *w)
{
	store_close(w->store);
	if (w->curl_ready)
		curl_global_cleanup();
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->wake_mu);
	free(w->dir);
	free(w->ca_file);
	free(w);
}

int webhooks_start(struct webhooks **out, const struct webhooks_config *c)
{
	struct webhooks *w;
	int err;

	*out = NULL;
	if (!c->store.dir || c->store.read_only || c->workers > WEBHOOKS_WORKERS_MAX)
		return -EINVAL;
	w = xcalloc(1, sizeof(*w));
	w->cfg = *c;
	config_defaults(&w->cfg);
	w->dir = xstrdup(c->store.dir);
	w->cfg.store.dir = w->dir;
	w->ca_file = c->ca_file ? xstrdup(c->ca_file) : NULL;
	w->cfg.ca_file = w->ca_file;
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->wake_mu, NULL);
	cond_init(&w->work);
	cond_init(&w->wake);
	w->woken = true; /* the backlog first */
	err = store_open(&w->store, &w->cfg.store);
	if (!err)
		err = store_webhook_cursor(w->store, &w->cursor);
	if (err)
		goto out_free;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		err = -EIO;
		goto out_free;
	}
	w->curl_ready = true;
	if (w->cfg.bus)
		w->watch = bus_watch(w->cfg.bus, on_publish, w);
	err = -pthread_create(&w->dispatcher, NULL, dispatcher_main, w);
	if (err)
		goto out_threads;
	w->dispatcher_started = true;
	for (unsigned i = 0; i < w->cfg.workers; i++) {
		err = -pthread_create(&w->workers[i], NULL, worker_main, w);
		if (err)
			goto out_threads;
		w->nworkers++;
	}
	log_info("webhooks: started, %u workers, up to %u attempts, events after %lld",
		 w->cfg.workers, w->cfg.max_attempts, (long long)w->cursor);
	*out = w;
	return 0;

out_threads:
	threads_stop(w);
out_free:
	log_warn_err(err, "webhooks: cannot start");
	webhooks_free(w);
	return err;
}

void webhooks_stop(struct webhooks *w)
{
	if (!w)
		return;
	threads_stop(w);
	log_info("webhooks: stopped, %llu attempts made, %llu delivered, %llu failed",
		 (unsigned long long)w->sent, (unsigned long long)w->succeeded,
		 (unsigned long long)w->failed);
	webhooks_free(w);
}
