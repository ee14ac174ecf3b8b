/*
 * Requests and request ids. An id is a per-process random prefix and a
 * counter, so ids never repeat within a run and almost surely not across
 * runs either (the prefix has 32 random bits).
 */
#include "aggregator/http/req.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "aggregator/http/api_env.h"
#include "aggregator/http/readers.h"
#include "common/timeutil.h"

void req_init(struct req *rq, struct api_env *env, const char *method, const char *path,
	      const char *request_id)
{
	rq->method = method;
	rq->path = path;
	rq->request_id = request_id ? request_id : "";
	rq->tenant = REQ_DEFAULT_TENANT;
	rq->role = ROLE_PUBLIC;
	rq->key_id = 0;
	rq->key_name = NULL;
	snprintf(rq->actor, sizeof(rq->actor), "anonymous");
	rq->content_type = NULL;
	rq->accept_encoding = NULL;
	rq->accept = NULL;
	rq->if_none_match = NULL;
	rq->last_event_id = NULL;
	rq->upgrade = rq->connection = rq->ws_key = rq->ws_version = NULL;
	rq->body = NULL;
	rq->body_len = 0;
	rq->now_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	rq->env = env;
	rq->nquery = 0;
	rq->query_overflow = false;
	rq->nparams = 0;
	rq->scratch[0] = '\0';
}

void req_add_query(struct req *rq, const char *key, const char *value)
{
	if (rq->nquery == REQ_QUERY_MAX) {
		rq->query_overflow = true;
		return;
	}
	rq->query[rq->nquery].key = key ? key : "";
	rq->query[rq->nquery].value = value ? value : "";
	rq->nquery++;
}

/* True when the parameters of one Accept-Encoding entry (after its name) say q=0. */
static bool req_q_zero(const char *p, size_t n)
{
	const char *q = memmem(p, n, "q=", 2);

	if (!q)
		return false;
	for (q += 2; q < p + n && (*q == '0' || *q == '.'); q++)
		;
	return q == p + n || *q == ' ' || *q == ';';
}

bool req_accepts_gzip(const struct req *rq)
{
	const char *p = rq->accept_encoding;

	while (p && *p) {
		size_t n, name;

		p += strspn(p, " \t");
		n = strcspn(p, ",");
		name = strcspn(p, " \t;,");
		if (((name == 4 && !strncasecmp(p, "gzip", 4)) ||
		     (name == 6 && !strncasecmp(p, "x-gzip", 6)) || (name == 1 && *p == '*')) &&
		    !req_q_zero(p + name, n - name))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

const char *req_param(const struct req *rq, const char *name)
{
	for (size_t i = 0; i < rq->nparams; i++) {
		if (!strcmp(rq->params[i].key, name))
			return rq->params[i].value;
	}
	return NULL;
}

struct store *req_store(struct req *rq)
{
	return rq->env && rq->env->readers ? readers_get(rq->env->readers) : NULL;
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
	uint64_t x;

	if (getrandom(&req_prefix, sizeof(req_prefix), GRND_NONBLOCK) == sizeof(req_prefix))
		return;
	/* no entropy yet (early boot): distinct enough from the clock and the pid */
	x = time_real_ns() ^ ((uint64_t)getpid() << 32);
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
