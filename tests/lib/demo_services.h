/*
 * The demo services as real processes for integration tests: each starts on
 * an ephemeral port of 127.0.0.1 and its real address is read from its log.
 */
#ifndef PRP_TESTS_LIB_DEMO_SERVICES_H
#define PRP_TESTS_LIB_DEMO_SERVICES_H

#include "tests/lib/proc.h"

struct demo_service {
	struct proc proc;
	int port;
	char url[64];
};

/* The three, started in order: users, payments, then orders calling them. */
struct demo_trio {
	struct demo_service users, payments, orders;
};

/*
 * Starts build/prp-demo-service with @argv_tail (after the program path, NULL
 * terminated; must contain "--port", "0"). Asserts on failure.
 */
void demo_service_start(struct demo_service *s, const char *const argv_tail[]);
void demo_trio_start(struct demo_trio *t);
/* Sends @method @path (with a JSON @body or NULL) to @s and asserts the status is @want. */
void demo_request(const struct demo_service *s, const char *method, const char *path,
		  const char *body, long want);
/* SIGTERM each running service and frees everything. */
void demo_trio_stop(struct demo_trio *t);

#endif
