/*
 * The request mixes of prp-loadgen: what a realistic client of each demo
 * service sends, and in which proportions. Pure and deterministic for a seed,
 * so it is unit-tested without a network. One struct loadmix per thread.
 */
#ifndef PRP_DEMO_LOADMIX_H
#define PRP_DEMO_LOADMIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

enum loadmix_kind {
	LOADMIX_HEALTH = 0,
	LOADMIX_ORDERS = 1,
	LOADMIX_USERS = 2,
	LOADMIX_PAYMENTS = 3,
};

/* Ids this client created recently; reads pick among them, so they hit. */
#define LOADMIX_IDS 1024
/* Users the users service starts with (DESIGN.md: ids 1 to 1000). */
#define LOADMIX_SEEDED_USERS 1000

struct loadmix {
	enum loadmix_kind kind;
	uint64_t rng;
	uint64_t created[LOADMIX_IDS];
	size_t ncreated; /* up to LOADMIX_IDS */
	size_t next;	 /* ring position of the next created id */
};

struct loadmix_request {
	const char *method; /* a literal */
	char path[96];
	char body[256]; /* "" when there is none */
	bool is_create; /* a 201 answer carries an id worth remembering */
};

/* "orders", "users", "payments" or "health". Returns 0 or -EINVAL. */
PRP_MUST_CHECK int loadmix_init(struct loadmix *m, const char *name, uint64_t seed);
const char *loadmix_name(enum loadmix_kind kind);
/* Writes the next request of the mix to @r. */
void loadmix_next(struct loadmix *m, struct loadmix_request *r);
/* Remembers an id a create returned. */
void loadmix_created(struct loadmix *m, uint64_t id);

#endif
