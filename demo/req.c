/*
 * Request view and request ids. Ids are "<8 hex of a per-process random
 * prefix>-<counter>": unique within the process and unlikely to collide
 * across the three demo processes, whose logs are read side by side.
 */
#include "demo/req.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"

void req_init(struct req *rq, const char *method, const char *path, const char *request_id)
{
	memset(rq, 0, sizeof(*rq));
	rq->method = method;
	rq->path = path;
	rq->request_id = request_id;
}

int req_add_query(struct req *rq, const char *key, const char *value)
{
	if (rq->query_len >= REQ_QUERY_MAX)
		return -E2BIG;
	rq->query[rq->query_len].key = key;
	rq->query[rq->query_len].value = value ? value : "";
	rq->query_len++;
	return 0;
}

const char *req_query(const struct req *rq, const char *key)
{
	for (size_t i = 0; i < rq->query_len; i++) {
		if (!strcmp(rq->query[i].key, key))
			return rq->query[i].value;
	}
	return NULL;
}

bool req_id_valid(const char *id)
{
	size_t n = 0;

	for (const char *p = id; *p; p++, n++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';

		if (!ok || n >= REQ_ID_MAX)
			return false;
	}
	return n > 0;
}

static atomic_uint_fast64_t req_counter;
static uint32_t req_prefix;
static pthread_once_t req_prefix_once = PTHREAD_ONCE_INIT;

static void req_prefix_init(void)
{
	/* not a secret, just distinct per process: mix the clock and the pid */
	uint64_t x = time_real_ns() ^ ((uint64_t)getpid() << 32);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	req_prefix = (uint32_t)x;
}

void req_id_generate(char out[REQ_ID_MAX + 1])
{
	uint64_t n;

	pthread_once(&req_prefix_once, req_prefix_init);
	n = atomic_fetch_add(&req_counter, 1) + 1;
	snprintf(out, REQ_ID_MAX + 1, "%08x-%llu", req_prefix, (unsigned long long)n);
}
