/*
 * Chaos state and its application. The setting is read under the lock as a
 * snapshot, then applied without it, so a long sleep or burn on one
 * connection never holds up another. A change (POST, DELETE, expiry) bumps
 * the generation; a request that sees the generation move while it sleeps or
 * burns stops at once and goes on as a normal request.
 *
 * Leaked blocks hang off a list and are freed by chaos_clear(), expiry and
 * chaos_release(). Each block is its own mmap(), not malloc(): glibc would
 * keep freed heap memory (its mmap threshold rises after the first large
 * free), and RSS must fall when chaos is cleared. Blocks are whole pages, so
 * RSS grows by the requested size rounded up to the page size.
 */
#include "demo/chaos.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "demo/body.h"

struct chaos_leak {
	struct chaos_leak *next;
	size_t len; /* of the whole mapping, this header included */
};

int chaos_settings_parse(json_t *obj, struct chaos_settings *out, char *err, size_t errlen)
{
	const struct {
		const char *key;
		double max;
		double *field;
	} fields[] = {
		{ "latency_ms", CHAOS_LATENCY_MAX_MS, &out->latency_ms },
		{ "jitter_ms", CHAOS_JITTER_MAX_MS, &out->jitter_ms },
		{ "error_rate", 1, &out->error_rate },
		{ "cpu_burn_ms", CHAOS_CPU_BURN_MAX_MS, &out->cpu_burn_ms },
		{ "leak_kb_per_req", CHAOS_LEAK_MAX_KB_PER_REQ, &out->leak_kb_per_req },
		{ "duration_s", CHAOS_DURATION_MAX_S, &out->duration_s },
	};
	const char *keys[PRP_ARRAY_SIZE(fields) + 1];
	int rc;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(fields); i++)
		keys[i] = fields[i].key;
	keys[PRP_ARRAY_SIZE(fields)] = NULL;
	memset(out, 0, sizeof(*out));
	rc = body_check_keys(obj, keys, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < PRP_ARRAY_SIZE(fields); i++) {
		json_t *v = NULL;

		rc = body_number(obj, fields[i].key, false, 0, fields[i].max, &v, NULL, err,
				 errlen);
		if (rc)
			return rc;
		if (v)
			*fields[i].field = json_number_value(v);
	}
	return 0;
}

void chaos_init(struct chaos *c, const char *label, size_t leak_cap_bytes)
{
	pthread_condattr_t attr;

	memset(c, 0, sizeof(*c));
	c->label = label;
	c->leak_cap_bytes = leak_cap_bytes;
	atomic_init(&c->stopping, false);
	atomic_init(&c->generation, 0);
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &attr);
	pthread_condattr_destroy(&attr);
}

static void chaos_free_leaks(struct chaos_leak *l)
{
	while (l) {
		struct chaos_leak *next = l->next;

		munmap(l, l->len);
		l = next;
	}
}

void chaos_release(struct chaos *c)
{
	chaos_free_leaks(c->leaks);
	c->leaks = NULL;
	c->leaked_bytes = 0;
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
}

static bool chaos_settings_active(const struct chaos_settings *s)
{
	return s->latency_ms > 0 || s->jitter_ms > 0 || s->error_rate > 0 || s->cpu_burn_ms > 0 ||
	       s->leak_kb_per_req > 0;
}

/* A change: bump the generation and wake the sleepers. Called with the lock held. */
static void chaos_changed(struct chaos *c)
{
	atomic_fetch_add(&c->generation, 1);
	pthread_cond_broadcast(&c->wake);
}

/*
 * Resets the setting and detaches the leaked blocks, which the caller frees
 * after unlocking. Called with the lock held.
 */
static struct chaos_leak *chaos_reset_locked(struct chaos *c)
{
	struct chaos_leak *leaks = c->leaks;

	memset(&c->set, 0, sizeof(c->set));
	c->expires_mono_ns = 0;
	c->leaks = NULL;
	c->leaked_bytes = 0;
	c->leak_cap_logged = false;
	c->leak_epoch++;
	chaos_changed(c);
	return leaks;
}

/* Switches an expired setting off; returns its leaks (or NULL). Lock held. */
static struct chaos_leak *chaos_expire_locked(struct chaos *c, uint64_t now, bool *expired)
{
	*expired = c->expires_mono_ns && now >= c->expires_mono_ns;
	return *expired ? chaos_reset_locked(c) : NULL;
}

static void chaos_log_expired(struct chaos *c, double duration_s)
{
	log_info("demo: chaos expired after %g s, nothing injected now service=%s", duration_s,
		 c->label);
}

void chaos_set(struct chaos *c, const struct chaos_settings *set)
{
	char until[48];

	pthread_mutex_lock(&c->lock);
	c->set = *set;
	c->expires_mono_ns = 0;
	if (set->duration_s > 0)
		c->expires_mono_ns = time_mono_ns() + (uint64_t)(set->duration_s * NSEC_PER_SEC);
	chaos_changed(c);
	pthread_mutex_unlock(&c->lock);

	if (!chaos_settings_active(set)) {
		log_info("demo: chaos set, nothing injected service=%s", c->label);
		return;
	}
	if (set->duration_s > 0)
		snprintf(until, sizeof(until), "for %g s", set->duration_s);
	else
		snprintf(until, sizeof(until), "until DELETE");
	log_info("demo: chaos on: latency %g ms +/- %g ms, error rate %g, cpu burn %g ms, "
		 "leak %g KiB per request, %s service=%s",
		 set->latency_ms, set->jitter_ms, set->error_rate, set->cpu_burn_ms,
		 set->leak_kb_per_req, until, c->label);
}

void chaos_clear(struct chaos *c)
{
	struct chaos_leak *leaks;
	size_t leaked;

	pthread_mutex_lock(&c->lock);
	leaked = c->leaked_bytes;
	leaks = chaos_reset_locked(c);
	pthread_mutex_unlock(&c->lock);
	chaos_free_leaks(leaks);
	log_info("demo: chaos cleared, nothing injected, freed %zu KiB service=%s", leaked / 1024,
		 c->label);
}

void chaos_tick(struct chaos *c)
{
	struct chaos_leak *leaks;
	double duration_s;
	bool expired;

	pthread_mutex_lock(&c->lock);
	duration_s = c->set.duration_s;
	leaks = chaos_expire_locked(c, time_mono_ns(), &expired);
	pthread_mutex_unlock(&c->lock);
	chaos_free_leaks(leaks);
	if (expired)
		chaos_log_expired(c, duration_s);
}

void chaos_stop(struct chaos *c)
{
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->stopping, true);
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
}

/* An integral value as a JSON integer (200, not 200.0), anything else as a real. */
static json_t *chaos_number(double v)
{
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

json_t *chaos_to_json(struct chaos *c)
{
	struct chaos_settings set;
	struct chaos_leak *leaks;
	uint64_t now = time_mono_ns(), expires;
	double duration_s;
	size_t leaked;
	bool expired;
	json_t *remaining;

	pthread_mutex_lock(&c->lock);
	duration_s = c->set.duration_s;
	leaks = chaos_expire_locked(c, now, &expired);
	set = c->set;
	expires = c->expires_mono_ns;
	leaked = c->leaked_bytes;
	pthread_mutex_unlock(&c->lock);
	chaos_free_leaks(leaks);
	if (expired)
		chaos_log_expired(c, duration_s);

	/* whole seconds, rounded up: a setting with time left never shows 0 */
	remaining = expires ? json_integer((json_int_t)((expires - now + NSEC_PER_SEC - 1) /
							NSEC_PER_SEC))
			    : json_null();
	return json_pack("{s:o, s:o, s:f, s:o, s:o, s:o, s:b, s:o, s:I}", "latency_ms",
			 chaos_number(set.latency_ms), "jitter_ms", chaos_number(set.jitter_ms),
			 "error_rate", set.error_rate, "cpu_burn_ms", chaos_number(set.cpu_burn_ms),
			 "leak_kb_per_req", chaos_number(set.leak_kb_per_req), "duration_s",
			 chaos_number(set.duration_s), "active", chaos_settings_active(&set),
			 "remaining_s", remaining, "leaked_kb", (json_int_t)(leaked / 1024));
}

/* A uniform double in [0, 1): xorshift64* per thread, seeded from the clock and the stack. */
static double chaos_random(void)
{
	static __thread uint64_t state;
	uint64_t x;

	if (!state)
		state = (time_mono_ns() ^ (uint64_t)(uintptr_t)&x) | 1;
	x = state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	state = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
}

/* True while nothing has changed since @gen was read. */
static bool chaos_unchanged(struct chaos *c, uint64_t gen)
{
	return !atomic_load(&c->stopping) && atomic_load(&c->generation) == gen;
}

static uint64_t chaos_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/*
 * Busy-loops until this thread has spent @ms of CPU: CPU time, not wall
 * time, so a busy machine makes the request slower rather than cheaper.
 * Returns false if cut short by a change.
 */
static bool chaos_burn(struct chaos *c, uint64_t gen, double ms)
{
	uint64_t end = chaos_thread_cpu_ns() + (uint64_t)(ms * NSEC_PER_MSEC);
	volatile uint64_t sink = 0;

	while (chaos_thread_cpu_ns() < end) {
		for (int i = 0; i < 1000; i++)
			sink = sink * 6364136223846793005ull + 1442695040888963407ull;
		if (!chaos_unchanged(c, gen))
			return false;
	}
	return true;
}

/* Sleeps @ms; false if cut short by a change. */
static bool chaos_sleep(struct chaos *c, uint64_t gen, double ms)
{
	uint64_t end = time_mono_ns() + (uint64_t)(ms * NSEC_PER_MSEC);
	struct timespec ts = { .tv_sec = (time_t)(end / NSEC_PER_SEC),
			       .tv_nsec = (long)(end % NSEC_PER_SEC) };
	bool unchanged;

	pthread_mutex_lock(&c->lock);
	while ((unchanged = chaos_unchanged(c, gen)) && time_mono_ns() < end) {
		if (pthread_cond_timedwait(&c->wake, &c->lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&c->lock);
	return unchanged;
}

/* Gives back a reservation whose mapping failed, unless a clear already dropped it. */
static void chaos_unreserve(struct chaos *c, uint64_t epoch, size_t len)
{
	pthread_mutex_lock(&c->lock);
	if (c->leak_epoch == epoch)
		c->leaked_bytes -= len;
	pthread_mutex_unlock(&c->lock);
}

/* Leaks @kb KiB, touched, unless the cap is reached. */
static void chaos_leak(struct chaos *c, double kb)
{
	size_t len = (size_t)(kb * 1024);
	struct chaos_leak *l;
	bool log_cap = false;
	uint64_t epoch;

	if (!len)
		return;
	/* the list header lives in the block: a block is never smaller than it */
	if (len < sizeof(*l))
		len = sizeof(*l);
	pthread_mutex_lock(&c->lock);
	if (c->leaked_bytes + len > c->leak_cap_bytes) {
		log_cap = !c->leak_cap_logged;
		c->leak_cap_logged = true;
		pthread_mutex_unlock(&c->lock);
		if (log_cap)
			log_info("demo: chaos leak cap of %zu KiB reached, no longer leaking "
				 "service=%s",
				 c->leak_cap_bytes / 1024, c->label);
		return;
	}
	/* count it now so concurrent requests can't overshoot the cap */
	c->leaked_bytes += len;
	epoch = c->leak_epoch;
	pthread_mutex_unlock(&c->lock);

	l = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l == MAP_FAILED) {
		chaos_unreserve(c, epoch, len);
		return;
	}
	memset(l, 0xa5, len); /* touch every page: RSS must grow */
	l->len = len;

	pthread_mutex_lock(&c->lock);
	if (c->leak_epoch == epoch) {
		l->next = c->leaks;
		c->leaks = l;
		l = NULL;
	}
	/* else: cleared meanwhile, and leaked_bytes was reset with it */
	pthread_mutex_unlock(&c->lock);
	if (l)
		munmap(l, len);
}

bool chaos_apply(struct chaos *c)
{
	struct chaos_settings set;
	struct chaos_leak *leaks;
	double duration_s, ms;
	bool expired;
	uint64_t gen;

	pthread_mutex_lock(&c->lock);
	duration_s = c->set.duration_s;
	leaks = chaos_expire_locked(c, time_mono_ns(), &expired);
	set = c->set;
	gen = atomic_load(&c->generation);
	pthread_mutex_unlock(&c->lock);
	chaos_free_leaks(leaks);
	if (expired)
		chaos_log_expired(c, duration_s);
	if (!chaos_settings_active(&set))
		return false;

	if (set.cpu_burn_ms > 0 && !chaos_burn(c, gen, set.cpu_burn_ms))
		return false;
	ms = set.latency_ms + set.jitter_ms * (2 * chaos_random() - 1);
	if (ms > 0 && !chaos_sleep(c, gen, ms))
		return false;
	if (set.leak_kb_per_req > 0)
		chaos_leak(c, set.leak_kb_per_req);
	return set.error_rate > 0 && chaos_random() < set.error_rate;
}

size_t chaos_leaked_bytes(struct chaos *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->leaked_bytes;
	pthread_mutex_unlock(&c->lock);
	return n;
}
