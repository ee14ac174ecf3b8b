/*
 * Rate limits of the API (API.md, Conventions): per client (a key, or the
 * IP of a request without one), two token buckets: one of @per_minute
 * tokens refilled over a minute (the burst), one of @per_hour refilled over
 * an hour. A request takes a token from both, or is refused when either is
 * empty.
 *
 * Memory is bounded: clients live in a fixed table of sets of
 * RATELIMIT_WAYS slots; a new client takes an empty slot of its set or the
 * one used least recently. A client pushed out starts again with full
 * buckets; with RATELIMIT_SLOTS slots that takes as many other active
 * clients in its set, which an attacker cannot aim at without knowing the
 * seed of the hash. Thread-safe: one mutex per set.
 */
#ifndef PRP_AGGREGATOR_AUTH_RATELIMIT_H
#define PRP_AGGREGATOR_AUTH_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define RATELIMIT_SLOTS 16384
#define RATELIMIT_WAYS	8

struct ratelimit;

/* The answer for one request, with what the X-RateLimit-* headers show. */
struct ratelimit_verdict {
	bool allowed;
	uint64_t limit;	       /* X-RateLimit-Limit: the per-minute limit */
	uint64_t remaining;    /* X-RateLimit-Remaining: requests left now */
	int64_t reset_s;       /* X-RateLimit-Reset: epoch second the minute bucket is full */
	uint64_t retry_after_s; /* Retry-After when refused: seconds until a token */
};

struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl);

/*
 * Takes a token for @client (any string: "key:12", "ip:10.0.0.1"), whose
 * limits are @per_minute and @per_hour (0: unlimited on that bucket), at
 * @now_ms (wall clock, ms). Fills @v.
 */
void ratelimit_take(struct ratelimit *rl, const char *client, uint64_t per_minute,
		    uint64_t per_hour, int64_t now_ms, struct ratelimit_verdict *v);

#endif
