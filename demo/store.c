/*
 * Bounded record store. Slots form a ring indexed by id % max_records, so the
 * live ids always lie in the window [next_id - max_records, next_id):
 * reserving id X evicts whatever X - max_records left in its slot. The byte
 * bound evicts from the oldest live id upwards. Every operation is O(1)
 * except store_list() and byte eviction, which walk the window; the walk
 * stops as soon as it has what it needs.
 *
 * Records are copied in and out as text under the lock and parsed outside
 * it, so a slow reader never holds the lock while jansson works.
 */
#include "demo/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "demo/reply.h"

struct store_slot {
	uint64_t id; /* 0: empty */
	char *text;  /* compact JSON, owned */
	size_t len;
};

struct store {
	size_t max_records;
	size_t max_bytes;
	pthread_mutex_t lock; /* guards every field below */
	struct store_slot *slots;
	uint64_t next_id; /* the next id to hand out; ids start at 1 */
	uint64_t oldest;  /* no live id is below this one */
	size_t count;
	size_t bytes;
};

struct store *store_new(size_t max_records, size_t max_bytes)
{
	struct store *s = xcalloc(1, sizeof(*s));

	s->max_records = max_records ? max_records : 1;
	s->max_bytes = max_bytes;
	s->slots = xcalloc(s->max_records, sizeof(*s->slots));
	s->next_id = 1;
	s->oldest = 1;
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->max_records; i++)
		free(s->slots[i].text);
	free(s->slots);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct store_slot *store_slot(struct store *s, uint64_t id)
{
	return &s->slots[id % s->max_records];
}

/* The lowest id still in the window. Called with the lock held. */
static uint64_t store_window_start(const struct store *s)
{
	return s->next_id > s->max_records ? s->next_id - s->max_records : 1;
}

static void store_evict_slot(struct store *s, struct store_slot *slot)
{
	if (!slot->id)
		return;
	free(slot->text);
	s->bytes -= slot->len;
	s->count--;
	memset(slot, 0, sizeof(*slot));
}

/* Evicts the oldest live record; false if none was found. Called with the lock held. */
static bool store_evict_oldest(struct store *s)
{
	uint64_t start = store_window_start(s);

	if (s->oldest < start)
		s->oldest = start;
	for (; s->oldest < s->next_id; s->oldest++) {
		struct store_slot *slot = store_slot(s, s->oldest);

		if (slot->id == s->oldest) {
			store_evict_slot(s, slot);
			s->oldest++;
			return true;
		}
	}
	return false;
}

uint64_t store_reserve_id(struct store *s)
{
	struct store_slot *slot;
	uint64_t id;

	pthread_mutex_lock(&s->lock);
	id = s->next_id++;
	slot = store_slot(s, id);
	/* the slot's record is max_records ids older: it leaves the window now */
	store_evict_slot(s, slot);
	pthread_mutex_unlock(&s->lock);
	return id;
}

int store_put(struct store *s, uint64_t id, json_t *rec)
{
	struct store_slot *slot;
	char *text;
	size_t len;

	text = json_dumps(rec, REPLY_JSON_FLAGS);
	if (!text)
		return -ENOMEM;
	len = strlen(text);

	pthread_mutex_lock(&s->lock);
	if (id < store_window_start(s) || id >= s->next_id || len > s->max_bytes) {
		pthread_mutex_unlock(&s->lock);
		free(text);
		return 0;
	}
	slot = store_slot(s, id);
	store_evict_slot(s, slot); /* a second put of the same id replaces it */
	while (s->count && s->bytes + len > s->max_bytes) {
		if (!store_evict_oldest(s))
			break;
	}
	slot->id = id;
	slot->text = text;
	slot->len = len;
	s->count++;
	s->bytes += len;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

json_t *store_get(struct store *s, uint64_t id)
{
	struct store_slot *slot;
	char *text = NULL;
	json_t *v;

	if (!id)
		return NULL;
	pthread_mutex_lock(&s->lock);
	slot = store_slot(s, id);
	if (slot->id == id)
		text = xstrndup(slot->text, slot->len);
	pthread_mutex_unlock(&s->lock);
	if (!text)
		return NULL;
	v = json_loads(text, 0, NULL);
	free(text);
	return v;
}

json_t *store_list(struct store *s, size_t limit)
{
	json_t *list = json_array();
	char **texts;
	size_t n = 0, want;

	if (!list)
		return NULL;
	pthread_mutex_lock(&s->lock);
	want = limit < s->count ? limit : s->count;
	texts = xcalloc(want ? want : 1, sizeof(*texts));
	for (uint64_t id = s->next_id - 1; n < want && id >= store_window_start(s) && id > 0;
	     id--) {
		struct store_slot *slot = store_slot(s, id);

		if (slot->id == id)
			texts[n++] = xstrndup(slot->text, slot->len);
	}
	pthread_mutex_unlock(&s->lock);

	for (size_t i = 0; i < n; i++) {
		json_t *v = json_loads(texts[i], 0, NULL);

		if (v)
			json_array_append_new(list, v);
		free(texts[i]);
	}
	free(texts);
	return list;
}

size_t store_count(struct store *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->count;
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t store_bytes(struct store *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->bytes;
	pthread_mutex_unlock(&s->lock);
	return n;
}
