/*
 * Per-thread stores. Each thread finds its slot through a pthread key; the
 * slots are also linked into a list under @lock so readers_free() can close
 * them after the threads are gone (the key has no destructor: the threads
 * are MHD's and exit inside MHD_stop_daemon()).
 */
#include "aggregator/http/readers.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "aggregator/store/store.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

struct reader_slot {
	struct store *store;	  /* NULL until opened */
	uint64_t next_try_ns;	  /* monotonic; after a failure, no retry before */
	struct reader_slot *next; /* guarded by readers.lock */
};

struct readers {
	pthread_key_t key;
	struct store_options opts;
	char *dir;
	pthread_mutex_t lock; /* guards slots */
	struct reader_slot *slots;
};

int readers_new(struct readers **out, const struct store_options *o)
{
	struct readers *r = xcalloc(1, sizeof(*r));
	int err;

	r->opts = *o;
	r->dir = xstrdup(o->dir ? o->dir : ".");
	r->opts.dir = r->dir;
	r->opts.read_only = true;
	err = -pthread_key_create(&r->key, NULL);
	if (err) {
		free(r->dir);
		free(r);
		return err;
	}
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;
}

static struct reader_slot *readers_slot(struct readers *r)
{
	struct reader_slot *slot = pthread_getspecific(r->key);

	if (slot)
		return slot;
	slot = xcalloc(1, sizeof(*slot));
	pthread_mutex_lock(&r->lock);
	slot->next = r->slots;
	r->slots = slot;
	pthread_mutex_unlock(&r->lock);
	pthread_setspecific(r->key, slot);
	return slot;
}

struct store *readers_get(struct readers *r)
{
	struct reader_slot *slot = readers_slot(r);
	uint64_t now;
	int err;

	if (slot->store)
		return slot->store;
	now = time_mono_ns();
	if (now < slot->next_try_ns)
		return NULL;
	err = store_open(&slot->store, &r->opts);
	if (err) {
		slot->store = NULL;
		slot->next_try_ns = now + READERS_RETRY_MS * NSEC_PER_MSEC;
		log_warn_err(err, "readers: cannot open the store in '%s' for reading", r->dir);
		return NULL;
	}
	return slot->store;
}

void readers_free(struct readers *r)
{
	struct reader_slot *slot, *next;

	if (!r)
		return;
	for (slot = r->slots; slot; slot = next) {
		next = slot->next;
		if (slot->store)
			store_close(slot->store);
		free(slot);
	}
	pthread_key_delete(r->key);
	pthread_mutex_destroy(&r->lock);
	free(r->dir);
	free(r);
}
