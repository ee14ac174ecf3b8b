/*
 * The whole platform for end-to-end tests: the three demo services,
 * prp-aggregator, prp-agent watching the three through eBPF and streaming
 * to it, and prp-loadgen driving orders. Needs root. Asserts on failure.
 */
#ifndef PRP_TESTS_LIB_PLATFORM_H
#define PRP_TESTS_LIB_PLATFORM_H

#include <jansson.h>

#include "tests/lib/demo_services.h"
#include "tests/lib/proc.h"

#define PLATFORM_KEY	  "test-key-0123456789abcdef"
#define PLATFORM_ARGS_MAX 24

struct platform {
	char dir[64];	      /* a temporary directory: data, keys, spool */
	char ingest_url[64];  /* "tcp://127.0.0.1:PORT" */
	char listen[32];      /* "127.0.0.1:PORT" */
	char api[64];	      /* "http://127.0.0.1:PORT" */
	char admin_key[128];  /* DATA/admin.key; sent by every http_call() until platform_stop() */
	struct demo_trio trio;
	struct proc aggregator, agent, loadgen;
};

/*
 * Starts everything: the aggregator on @ingest_port and @http_port with
 * @aggregator_args added (NULL-terminated, may be NULL), the agent with
 * @agent_args added, and prp-loadgen at @rps on orders (NULL: no load).
 */
void platform_start(struct platform *p, int ingest_port, int http_port,
		    const char *const *aggregator_args, const char *const *agent_args,
		    const char *rps);
/* Stops what runs (load, agent, aggregator, services), removes the directory. */
void platform_stop(struct platform *p);

/* @method @url with a JSON @body (may be NULL): the parsed answer (NULL when not JSON) and *status. */
json_t *platform_call(const char *method, const char *url, const char *body, long *status);
/* The same on the aggregator's API, asserting a 2xx answer. */
json_t *platform_api(const struct platform *p, const char *method, const char *path,
		     const char *body);

#endif
