/*
 * Chaos: faults a demo service injects into its own requests on demand, so
 * that prp has something to detect. One struct chaos per process, shared by
 * every connection thread; all functions are thread-safe.
 *
 * Applied to a request, in order: burn CPU on the request's thread, sleep
 * latency +/- uniform jitter (never below 0), leak memory (allocated and
 * touched, so RSS grows, up to a total cap), then fail with probability
 * error_rate. A setting with a duration switches itself off when it passes;
 * clearing (DELETE or expiry) also frees the leaked memory.
 */
#ifndef PRP_DEMO_CHAOS_H
#define PRP_DEMO_CHAOS_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

/* Upper bounds of the settings: large enough for any demo, small enough to stay sane. */
#define CHAOS_LATENCY_MAX_MS	  60000
#define CHAOS_JITTER_MAX_MS	  60000
#define CHAOS_CPU_BURN_MAX_MS	  10000
#define CHAOS_LEAK_MAX_KB_PER_REQ 10240
#define CHAOS_DURATION_MAX_S	  86400
/* Default cap on the memory leaked in total: 1 GiB. */
#define CHAOS_LEAK_CAP_BYTES (1ull << 30)

/* What POST /chaos sets; every field 0 means "not injected". */
struct chaos_settings {
	double latency_ms;
	double jitter_ms;
	double error_rate; /* 0..1 */
	double cpu_burn_ms;
	double leak_kb_per_req;
	double duration_s; /* 0: until cleared */
};

struct chaos_leak;

struct chaos {
	const char *label;		 /* borrowed: the service name, for logs */
	size_t leak_cap_bytes;		 /* total leak allowed */
	atomic_bool stopping;		 /* set once by chaos_stop(): ends sleeps and burns */
	atomic_uint_fast64_t generation; /* bumps on every change: ends sleeps and burns */
	pthread_mutex_t lock;		 /* guards every field below */
	pthread_cond_t wake;		 /* broadcast with each generation bump and on stop */
	struct chaos_settings set;
	uint64_t expires_mono_ns; /* 0: no expiry */
	struct chaos_leak *leaks;
	size_t leaked_bytes;
	uint64_t leak_epoch; /* bumps when the leaks are freed */
	bool leak_cap_logged;
};

/*
 * Parses a POST /chaos body (borrowed) into @out: each field optional, a
 * number within its bound. Unknown fields and bad values are -EINVAL with a
 * message naming the field in @err.
 */
PRP_MUST_CHECK int chaos_settings_parse(json_t *obj, struct chaos_settings *out, char *err,
					size_t errlen);

/* Sets @c to "nothing injected". @label is borrowed; allocates nothing. */
void chaos_init(struct chaos *c, const char *label, size_t leak_cap_bytes);
/* Frees the leaked memory; no request may be in chaos_apply(). */
void chaos_release(struct chaos *c);

/* Replaces the whole setting (the leaked memory stays) and logs what is now injected. */
void chaos_set(struct chaos *c, const struct chaos_settings *set);
/* Switches chaos off and frees the leaked memory; logs one line. */
void chaos_clear(struct chaos *c);
/* Switches an expired setting off (logs one line); call it now and then. */
void chaos_tick(struct chaos *c);
/* Wakes every sleeping or burning request for good: before stopping the server. */
void chaos_stop(struct chaos *c);

/*
 * The state: the settings, "active", "remaining_s" (null without expiry) and
 * "leaked_kb". A new object (caller owns), NULL only if jansson fails.
 */
json_t *chaos_to_json(struct chaos *c);

/*
 * Applies the current setting to one request, on the request's thread (it may
 * burn and sleep for a while). Returns true when the request must fail with
 * an injected 500.
 */
bool chaos_apply(struct chaos *c);

/* Total memory leaked so far, in bytes. */
size_t chaos_leaked_bytes(struct chaos *c);

#endif
