/*
 * Rendered /services/health bodies and their refresher. The lock covers only
 * look-ups and swaps, never a render, so a worker never waits for one. The
 * race we accept: a worker that finds a body too old (the refresher fell
 * behind) renders it too; whichever finishes last wins, and the other's
 * work is wasted.
 */
#include "aggregator/http/health_cache.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>
#include <zlib.h>

#include "aggregator/detect/detection.h"
#include "aggregator/http/blob.h"
#include "aggregator/http/json.h"
#include "aggregator/http/resp.h"
#include "aggregator/http/svc_status.h"
#include "aggregator/series.h"
#include "common/alloc.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/timeutil.h"

struct health_entry {
	char tenant[FRAME_ID_MAX];
	struct blob *body;  /* NULL for an unused entry */
	struct blob *gz;    /* the body gzipped; set with body */
	uint64_t built_ns;  /* monotonic */
	uint64_t wanted_ns; /* monotonic: the last request for it */
};

struct health_cache {
	struct series *series;
	struct detection *detection; /* may be NULL */
	pthread_t refresher;
	bool has_refresher;
	pthread_mutex_t lock; /* guards entries and stop */
	pthread_cond_t wake;  /* on CLOCK_MONOTONIC; signalled to stop */
	bool stop;
	struct health_entry entries[HEALTH_CACHE_TENANTS];
};

static void *health_cache_refresh(void *arg);

int health_cache_new(struct health_cache **out, struct series *series,
		     struct detection *detection)
{
	struct health_cache *hc = xcalloc(1, sizeof(*hc));
	pthread_condattr_t attr;
	int err;

	hc->series = series;
	hc->detection = detection;
	pthread_mutex_init(&hc->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&hc->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (series) {
		err = -pthread_create(&hc->refresher, NULL, health_cache_refresh, hc);
		if (err) {
			pthread_cond_destroy(&hc->wake);
			pthread_mutex_destroy(&hc->lock);
			free(hc);
			return err;
		}
		hc->has_refresher = true;
	}
	*out = hc;
	return 0;
}

void health_cache_free(struct health_cache *hc)
{
	if (!hc)
		return;
	if (hc->has_refresher) {
		pthread_mutex_lock(&hc->lock);
		hc->stop = true;
		pthread_cond_signal(&hc->wake);
		pthread_mutex_unlock(&hc->lock);
		pthread_join(hc->refresher, NULL);
	}
	for (size_t i = 0; i < HEALTH_CACHE_TENANTS; i++) {
		blob_unref(hc->entries[i].body);
		blob_unref(hc->entries[i].gz);
	}
	pthread_cond_destroy(&hc->wake);
	pthread_mutex_destroy(&hc->lock);
	free(hc);
}

static json_t *health_cache_service(const struct health_cache *hc, const struct series_health *h)
{
	size_t open = hc->detection ? detection_open_count(hc->detection, h->tenant, h->service) : 0;

	return json_pack("{s:s, s:s, s:o, s:{s:f, s:f, s:f, s:f, s:f, s:f, s:o, s:o, s:o}, s:i}",
			 "service", h->service, "status", svc_status_name(h), "last_seen",
			 resp_time(h->last_seen_s * 1000), "metrics", "request_rate",
			 h->request_rate, "error_rate", h->error_rate, "latency_p50",
			 h->latency_p50_ms, "latency_p95", h->latency_p95_ms, "latency_p99",
			 h->latency_p99_ms, "syscall_error_rate", h->syscall_error_rate,
			 "tcp_retransmits", json_u64(h->tcp_retransmits), "tcp_resets",
			 json_u64(h->tcp_resets), "tcp_connect_failures",
			 json_u64(h->tcp_connect_failures), "anomalies_detected",
			 (int)open);
}

/* Renders the body of @tenant into *body and *gz (both owned by the caller); false on failure. */
static bool health_cache_render(const struct health_cache *hc, const char *tenant,
				int64_t now_ms, struct blob **body, struct blob **gz)
{
	struct series *series = hc->series;
	size_t n = 0;
	struct series_snapshot *snap =
		series ? series_snapshot_get(series, now_ms / 1000, HEALTH_CACHE_WINDOW_S) : NULL;
	const struct series_health *h = snap ? series_snapshot_health(snap, tenant, &n) : NULL;
	json_t *list = json_array(), *doc;
	char *text;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, health_cache_service(hc, &h[i]));
	series_snapshot_put(snap);
	doc = json_pack("{s:o, s:I, s:i, s:o}", "services", list, "count", (json_int_t)n,
			"window_s", HEALTH_CACHE_WINDOW_S, "timestamp", resp_time(now_ms));
	text = doc ? json_dumps(doc, HEALTH_CACHE_JSON_FLAGS) : NULL;
	json_decref(doc);
	if (!text)
		return false;
	*body = blob_new(text, strlen(text));
	*gz = blob_gzip(text, strlen(text), Z_BEST_SPEED);
	free(text);
	if (!*gz) {
		blob_unref(*body);
		return false;
	}
	return true;
}

/* The entry of @tenant, or the one to reuse for it (unused, else the oldest). Under the lock. */
static struct health_entry *health_cache_slot(struct health_cache *hc, const char *tenant)
{
	struct health_entry *oldest = &hc->entries[0];

	for (size_t i = 0; i < HEALTH_CACHE_TENANTS; i++) {
		struct health_entry *e = &hc->entries[i];

		if (e->body && !strcmp(e->tenant, tenant))
			return e;
		if (!e->body)
			oldest = e;
		else if (oldest->body && e->built_ns < oldest->built_ns)
			oldest = e;
	}
	return oldest;
}

/* Puts a fresh render in @tenant's entry (taking @body and @gz). Under the lock. */
static struct health_entry *health_cache_store(struct health_cache *hc, const char *tenant,
					       struct blob *body, struct blob *gz,
					       uint64_t built_ns)
{
	struct health_entry *e = health_cache_slot(hc, tenant);

	if (!e->body || strcmp(e->tenant, tenant)) {
		snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
		e->wanted_ns = built_ns;
	}
	blob_unref(e->body);
	blob_unref(e->gz);
	e->body = body;
	e->gz = gz;
	e->built_ns = built_ns;
	return e;
}

struct blob *health_cache_get(struct health_cache *hc, const char *tenant, int64_t now_ms,
			      bool gzip)
{
	uint64_t now = time_mono_ns();
	struct blob *body, *gz, *b = NULL;
	struct health_entry *e;

	pthread_mutex_lock(&hc->lock);
	e = health_cache_slot(hc, tenant);
	if (e->body && !strcmp(e->tenant, tenant) &&
	    now - e->built_ns < HEALTH_CACHE_MAX_AGE_MS * NSEC_PER_MSEC) {
		b = blob_ref(gzip ? e->gz : e->body);
		e->wanted_ns = now;
	}
	pthread_mutex_unlock(&hc->lock);
	if (b)
		return b;

	if (!health_cache_render(hc, tenant, now_ms, &body, &gz))
		return NULL;
	pthread_mutex_lock(&hc->lock);
	e = health_cache_store(hc, tenant, body, gz, now);
	e->wanted_ns = now;
	b = blob_ref(gzip ? gz : body);
	pthread_mutex_unlock(&hc->lock);
	return b;
}

/* Copies the tenants due for a refresh at @now into @due; returns how many. Under the lock. */
static size_t health_cache_due(struct health_cache *hc, uint64_t now, char due[][FRAME_ID_MAX])
{
	size_t n = 0;

	for (size_t i = 0; i < HEALTH_CACHE_TENANTS; i++) {
		const struct health_entry *e = &hc->entries[i];

		if (e->body && now - e->wanted_ns < HEALTH_CACHE_IDLE_S * NSEC_PER_SEC &&
		    now - e->built_ns >= HEALTH_CACHE_REFRESH_MS * NSEC_PER_MSEC)
			memcpy(due[n++], e->tenant, FRAME_ID_MAX);
	}
	return n;
}

static void *health_cache_refresh(void *arg)
{
	struct health_cache *hc = arg;
	char due[HEALTH_CACHE_TENANTS][FRAME_ID_MAX];
	struct blob *body, *gz;
	struct timespec until;
	uint64_t t;
	size_t n;

	/*
	 * Background work: at the lowest priority, the render (tens of ms for a
	 * thousand services) yields to the workers answering requests, instead
	 * of holding a core they wait for (Linux applies nice per thread).
	 */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), 19))
		log_debug("health cache: cannot lower the refresher's priority");
	pthread_mutex_lock(&hc->lock);
	while (!hc->stop) {
		t = time_mono_ns() + HEALTH_CACHE_TICK_MS * NSEC_PER_MSEC;
		until.tv_sec = (time_t)(t / NSEC_PER_SEC);
		until.tv_nsec = (long)(t % NSEC_PER_SEC);
		if (pthread_cond_timedwait(&hc->wake, &hc->lock, &until) != ETIMEDOUT)
			continue;
		n = health_cache_due(hc, time_mono_ns(), due);
		for (size_t i = 0; i < n && !hc->stop; i++) {
			pthread_mutex_unlock(&hc->lock);
			t = time_mono_ns();
			if (health_cache_render(hc, due[i],
						(int64_t)(time_real_ns() / NSEC_PER_MSEC), &body,
						&gz)) {
				pthread_mutex_lock(&hc->lock);
				health_cache_store(hc, due[i], body, gz, t);
			} else {
				pthread_mutex_lock(&hc->lock);
			}
		}
	}
	pthread_mutex_unlock(&hc->lock);
	return NULL;
}
