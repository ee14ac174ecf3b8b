/*
 * Conversations (chat_sessions.h): a small array searched linearly. A few
 * hundred entries of one lookup per chat request cost nothing next to the
 * store reads the answer makes.
 */
#include "aggregator/analysis/chat_sessions.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/alloc.h"

struct chat_session {
	char tenant[FRAME_ID_MAX];
	char id[CHAT_ID_MAX];
	int64_t used_ms;
	struct chat_question last;
};

struct chat_sessions {
	pthread_mutex_t lock;
	struct chat_session *v;
	size_t n, max;
	int64_t ttl_ms;
};

struct chat_sessions *chat_sessions_new(size_t max, int64_t ttl_ms)
{
	struct chat_sessions *cs = xcalloc(1, sizeof(*cs));

	pthread_mutex_init(&cs->lock, NULL);
	cs->max = max ? max : 1;
	cs->ttl_ms = ttl_ms;
	cs->v = xcalloc(cs->max, sizeof(*cs->v));
	return cs;
}

void chat_sessions_free(struct chat_sessions *cs)
{
	if (!cs)
		return;
	pthread_mutex_destroy(&cs->lock);
	free(cs->v);
	free(cs);
}

bool chat_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (!n || n >= CHAT_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

void chat_id_new(char id[CHAT_ID_MAX])
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r ^= (uint64_t)(uintptr_t)&r * 0x9e3779b97f4a7c15ull; /* never fails in practice */
	snprintf(id, CHAT_ID_MAX, "c-%016llx", (unsigned long long)r);
}

static struct chat_session *find(struct chat_sessions *cs, const char *tenant, const char *id)
{
	for (size_t i = 0; i < cs->n; i++)
		if (!strcmp(cs->v[i].id, id) && !strcmp(cs->v[i].tenant, tenant))
			return &cs->v[i];
	return NULL;
}

bool chat_sessions_get(struct chat_sessions *cs, const char *tenant, const char *id,
		       int64_t now_ms, struct chat_question *out)
{
	struct chat_session *s;
	bool found = false;

	pthread_mutex_lock(&cs->lock);
	s = find(cs, tenant, id);
	if (s && now_ms - s->used_ms <= cs->ttl_ms) {
		*out = s->last;
		found = true;
	}
	pthread_mutex_unlock(&cs->lock);
	return found;
}

void chat_sessions_put(struct chat_sessions *cs, const char *tenant, const char *id,
		       int64_t now_ms, const struct chat_question *q)
{
	struct chat_session *s;

	pthread_mutex_lock(&cs->lock);
	s = find(cs, tenant, id);
	if (!s && cs->n < cs->max) {
		s = &cs->v[cs->n++];
	} else if (!s) {
		/* the least recently used (an expired one is older than any live one) */
		s = &cs->v[0];
		for (size_t i = 1; i < cs->n; i++)
			if (cs->v[i].used_ms < s->used_ms)
				s = &cs->v[i];
	}
	snprintf(s->tenant, sizeof(s->tenant), "%s", tenant);
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->used_ms = now_ms;
	s->last = *q;
	pthread_mutex_unlock(&cs->lock);
}

size_t chat_sessions_count(struct chat_sessions *cs)
{
	size_t n;

	pthread_mutex_lock(&cs->lock);
	n = cs->n;
	pthread_mutex_unlock(&cs->lock);
	return n;
}
