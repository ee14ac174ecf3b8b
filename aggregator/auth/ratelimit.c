/*
 * Token buckets (ratelimit.h). A bucket holds tokens in millitokens, so a
 * refill of 100 per minute (one every 600 ms) needs no floating point:
 * elapsed ms × limit × 1000 / period_ms millitokens come back, capped at
 * the limit. A slot remembers the limits it was filled with; a change of
 * a key's limits starts it on full buckets of the new size.
 */
#include "aggregator/auth/ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/alloc.h"
#include "common/hash.h"

#define RATELIMIT_SETS	    (RATELIMIT_SLOTS / RATELIMIT_WAYS)
#define RATELIMIT_CLIENT_MAX 72 /* "ip:" and an IPv6 address; longer names are cut */
#define MINUTE_MS	    60000ll
#define HOUR_MS		    3600000ll
#define MILLI		    1000ull

struct bucket {
	uint64_t milli; /* tokens × 1000 */
	uint64_t limit; /* tokens when full; 0: unlimited */
	int64_t at_ms;	/* last refill */
};

struct slot {
	char client[RATELIMIT_CLIENT_MAX];
	int64_t used_ms; /* 0: empty */
	struct bucket minute, hour;
};

struct set {
	pthread_mutex_t mu;
	struct slot slots[RATELIMIT_WAYS];
};

struct ratelimit {
	uint64_t seed;
	struct set sets[RATELIMIT_SETS];
};

_Static_assert((RATELIMIT_SETS & (RATELIMIT_SETS - 1)) == 0, "sets are a power of two");

struct ratelimit *ratelimit_new(void)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	if (getrandom(&rl->seed, sizeof(rl->seed), 0) != sizeof(rl->seed))
		rl->seed = (uint64_t)(uintptr_t)rl;
	for (size_t i = 0; i < RATELIMIT_SETS; i++)
		pthread_mutex_init(&rl->sets[i].mu, NULL);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	for (size_t i = 0; i < RATELIMIT_SETS; i++)
		pthread_mutex_destroy(&rl->sets[i].mu);
	free(rl);
}

static void bucket_fill(struct bucket *b, uint64_t limit, int64_t now_ms)
{
	b->limit = limit;
	b->milli = limit * MILLI;
	b->at_ms = now_ms;
}

static void bucket_refill(struct bucket *b, int64_t period_ms, int64_t now_ms)
{
	uint64_t full = b->limit * MILLI, back;
	int64_t dt = now_ms - b->at_ms;

	if (dt <= 0) /* the clock went back: wait for it, refilling nothing */
		return;
	back = (uint64_t)dt >= (uint64_t)period_ms ? full : (uint64_t)dt * full / (uint64_t)period_ms;
	if (full - b->milli <= back) {
		b->milli = full;
		b->at_ms = now_ms;
		return;
	}
	b->milli += back;
	/* only the time the tokens given stand for: the remainder counts at the next refill */
	b->at_ms += (int64_t)(back * (uint64_t)period_ms / full);
}

/* Ms until @b holds @milli millitokens (0 when it does). */
static uint64_t bucket_wait_ms(const struct bucket *b, uint64_t milli, int64_t period_ms)
{
	uint64_t full = b->limit * MILLI;

	if (b->milli >= milli || !full)
		return 0;
	/* rounded up: at that time the tokens are there */
	return ((milli - b->milli) * (uint64_t)period_ms + full - 1) / full;
}

static struct slot *slot_find(struct set *set, const char *client, int64_t now_ms, bool *fresh)
{
	struct slot *victim = &set->slots[0];

	for (int i = 0; i < RATELIMIT_WAYS; i++) {
		struct slot *s = &set->slots[i];

		if (s->used_ms && !strcmp(s->client, client)) {
			*fresh = false;
			return s;
		}
		if (s->used_ms < victim->used_ms)
			victim = s;
	}
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->client, sizeof(victim->client), "%s", client);
	victim->used_ms = now_ms;
	*fresh = true;
	return victim;
}

void ratelimit_take(struct ratelimit *rl, const char *client, uint64_t per_minute,
		    uint64_t per_hour, int64_t now_ms, struct ratelimit_verdict *v)
{
	char name[RATELIMIT_CLIENT_MAX];
	struct set *set;
	struct slot *s;
	bool fresh;
	uint64_t wait;

	snprintf(name, sizeof(name), "%s", client);
	set = &rl->sets[(hash_fnv1a_str(HASH_FNV_OFFSET ^ rl->seed, name) >> 17) & (RATELIMIT_SETS - 1)];
	pthread_mutex_lock(&set->mu);
	s = slot_find(set, name, now_ms, &fresh);
	if (fresh || s->minute.limit != per_minute)
		bucket_fill(&s->minute, per_minute, now_ms);
	if (fresh || s->hour.limit != per_hour)
		bucket_fill(&s->hour, per_hour, now_ms);
	bucket_refill(&s->minute, MINUTE_MS, now_ms);
	bucket_refill(&s->hour, HOUR_MS, now_ms);
	s->used_ms = now_ms > 0 ? now_ms : 1;
	v->allowed = (!per_minute || s->minute.milli >= MILLI) && (!per_hour || s->hour.milli >= MILLI);
	if (v->allowed) {
		if (per_minute)
			s->minute.milli -= MILLI;
		if (per_hour)
			s->hour.milli -= MILLI;
	}
	v->limit = per_minute;
	v->remaining = per_minute ? s->minute.milli / MILLI : UINT64_MAX;
	if (per_hour && s->hour.milli / MILLI < v->remaining)
		v->remaining = s->hour.milli / MILLI;
	v->reset_s = (now_ms + (int64_t)bucket_wait_ms(&s->minute, per_minute * MILLI, MINUTE_MS) +
		      999) / 1000;
	wait = 0;
	if (!v->allowed) {
		uint64_t wm = per_minute ? bucket_wait_ms(&s->minute, MILLI, MINUTE_MS) : 0;
		uint64_t wh = per_hour ? bucket_wait_ms(&s->hour, MILLI, HOUR_MS) : 0;

		wait = wm > wh ? wm : wh;
	}
	v->retry_after_s = (wait + 999) / 1000;
	if (!v->allowed && !v->retry_after_s)
		v->retry_after_s = 1;
	pthread_mutex_unlock(&set->mu);
}
