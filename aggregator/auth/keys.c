/*
 * The key registry (keys.h). Keys live in an array of entries (pointers,
 * so a grown array never moves an entry a reader holds) and the valid ones
 * in an open-addressing index by the first bytes of their hash, rebuilt
 * whole on every change: changes are rare, lookups are every request. The
 * index holds at most half its slots, so a probe ends quickly at an empty
 * one. The final comparison is of the whole hash, in constant time.
 *
 * The store connection is the registry's own writer; it is used under the
 * write lock (changes) or the flush mutex (last uses), never both at once
 * by two threads: writes hold flush_mu too.
 */
#include "aggregator/auth/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/hmac.h"
#include "common/log.h"
#include "common/timeutil.h"

struct key_entry {
	struct store_key rec; /* rec.last_used_ms: as loaded; never written after */
	_Atomic int64_t last_used_ms; /* newest use seen */
	int64_t stored_used_ms;	      /* the newest written back; the flusher's, under flush_mu */
};

struct keys {
	pthread_rwlock_t lock; /* entries, index */
	struct key_entry **entries;
	size_t n, alloc;
	struct key_entry **index; /* nslots, a power of two; NULL: empty slot */
	size_t nslots;

	pthread_mutex_t flush_mu; /* the store; the stop flag */
	pthread_cond_t flush_cv;
	bool stop;
	pthread_t flusher;
	bool flusher_running;
	struct store *store;
};

static uint64_t slot_of(const uint8_t *hash)
{
	uint64_t v;

	memcpy(&v, hash, sizeof(v));
	return v;
}

/* Rebuilds the index from the unrevoked entries. Under the write lock. */
static void index_rebuild(struct keys *k)
{
	size_t want = 16;

	while (want < 2 * k->n + 2)
		want *= 2;
	free(k->index);
	k->index = xcalloc(want, sizeof(*k->index));
	k->nslots = want;
	for (size_t i = 0; i < k->n; i++) {
		struct key_entry *e = k->entries[i];
		size_t s;

		if (e->rec.revoked_ms)
			continue;
		for (s = slot_of(e->rec.hash) & (want - 1); k->index[s]; s = (s + 1) & (want - 1))
			;
		k->index[s] = e;
	}
}

static void entry_add(struct keys *k, const struct store_key *rec)
{
	struct key_entry *e = xcalloc(1, sizeof(*e));

	e->rec = *rec;
	atomic_init(&e->last_used_ms, rec->last_used_ms);
	e->stored_used_ms = rec->last_used_ms;
	if (k->n == k->alloc) {
		k->alloc = k->alloc ? 2 * k->alloc : 16;
		k->entries = xreallocarray(k->entries, k->alloc, sizeof(*k->entries));
	}
	k->entries[k->n++] = e;
}

static void *flusher_main(void *arg)
{
	struct keys *k = arg;

	pthread_mutex_lock(&k->flush_mu);
	while (!k->stop) {
		uint64_t at = time_mono_ns() + (uint64_t)KEYS_FLUSH_MS * NSEC_PER_MSEC;
		struct timespec until = { .tv_sec = (time_t)(at / NSEC_PER_SEC),
					  .tv_nsec = (long)(at % NSEC_PER_SEC) };

		pthread_cond_timedwait(&k->flush_cv, &k->flush_mu, &until);
		if (k->stop)
			break;
		pthread_mutex_unlock(&k->flush_mu);
		(void)keys_flush(k);
		pthread_mutex_lock(&k->flush_mu);
	}
	pthread_mutex_unlock(&k->flush_mu);
	return NULL;
}

int keys_open(struct keys **out, const struct store_options *so)
{
	struct keys *k;
	struct store_key *v;
	size_t n;
	pthread_condattr_t ca;
	int err;

	if (so->read_only)
		return -EINVAL;
	k = xcalloc(1, sizeof(*k));
	pthread_rwlock_init(&k->lock, NULL);
	pthread_mutex_init(&k->flush_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->flush_cv, &ca);
	pthread_condattr_destroy(&ca);
	err = store_open(&k->store, so);
	if (!err)
		err = store_keys_list(k->store, &v, &n);
	if (err) {
		keys_close(k);
		return err;
	}
	for (size_t i = 0; i < n; i++)
		entry_add(k, &v[i]);
	free(v);
	index_rebuild(k);
	err = pthread_create(&k->flusher, NULL, flusher_main, k);
	if (err) {
		keys_close(k);
		return -err;
	}
	k->flusher_running = true;
	*out = k;
	return 0;
}

void keys_close(struct keys *k)
{
	if (!k)
		return;
	if (k->flusher_running) {
		pthread_mutex_lock(&k->flush_mu);
		k->stop = true;
		pthread_cond_signal(&k->flush_cv);
		pthread_mutex_unlock(&k->flush_mu);
		pthread_join(k->flusher, NULL);
	}
	if (k->store)
		(void)keys_flush(k);
	store_close(k->store);
	for (size_t i = 0; i < k->n; i++)
		free(k->entries[i]);
	free(k->entries);
	free(k->index);
	pthread_cond_destroy(&k->flush_cv);
	pthread_mutex_destroy(&k->flush_mu);
	pthread_rwlock_destroy(&k->lock);
	free(k);
}

int keys_verify(struct keys *k, const char *presented, int64_t now_ms, struct key_identity *who)
{
	uint8_t hash[APIKEY_HASH_LEN];
	struct key_entry *found = NULL;

	if (!apikey_well_formed(presented) || apikey_hash(presented, hash))
		return -EACCES;
	pthread_rwlock_rdlock(&k->lock);
	for (size_t s = slot_of(hash) & (k->nslots - 1); k->index[s]; s = (s + 1) & (k->nslots - 1)) {
		if (hmac_equal(k->index[s]->rec.hash, hash, sizeof(hash))) {
			found = k->index[s];
			break;
		}
	}
	if (found) {
		int64_t seen = atomic_load_explicit(&found->last_used_ms, memory_order_relaxed);

		while (seen < now_ms && !atomic_compare_exchange_weak_explicit(
						&found->last_used_ms, &seen, now_ms,
						memory_order_relaxed, memory_order_relaxed))
			;
		who->id = found->rec.id;
		memcpy(who->tenant, found->rec.tenant, sizeof(who->tenant));
		memcpy(who->name, found->rec.name, sizeof(who->name));
		who->role = (enum role)found->rec.role;
		who->per_minute = found->rec.per_minute;
		who->per_hour = found->rec.per_hour;
	}
	pthread_rwlock_unlock(&k->lock);
	return found ? 0 : -EACCES;
}

int keys_create(struct keys *k, struct store_key *rec, int64_t now_ms, char key_out[APIKEY_LEN + 1])
{
	int err;

	if (rec->role < ROLE_VIEWER || rec->role > ROLE_ADMIN)
		return -EINVAL;
	err = apikey_generate(key_out);
	if (!err)
		err = apikey_hash(key_out, rec->hash);
	if (err)
		return err;
	rec->id = 0;
	rec->created_ms = now_ms;
	rec->last_used_ms = 0;
	rec->revoked_ms = 0;
	pthread_mutex_lock(&k->flush_mu);
	pthread_rwlock_wrlock(&k->lock);
	err = store_key_insert(k->store, rec);
	if (!err) {
		entry_add(k, rec);
		index_rebuild(k);
	}
	pthread_rwlock_unlock(&k->lock);
	pthread_mutex_unlock(&k->flush_mu);
	if (err) {
		memset(key_out, 0, APIKEY_LEN + 1);
		return err;
	}
	log_info("keys: made key %lld '%s' (%s) of tenant %s", (long long)rec->id, rec->name,
		 role_name((enum role)rec->role), rec->tenant);
	return 0;
}

int keys_revoke(struct keys *k, const char *tenant, int64_t id, int64_t now_ms)
{
	int err;

	pthread_mutex_lock(&k->flush_mu);
	pthread_rwlock_wrlock(&k->lock);
	err = store_key_revoke(k->store, tenant, id, now_ms);
	if (!err) {
		for (size_t i = 0; i < k->n; i++)
			if (k->entries[i]->rec.id == id)
				k->entries[i]->rec.revoked_ms = now_ms;
		index_rebuild(k);
	}
	pthread_rwlock_unlock(&k->lock);
	pthread_mutex_unlock(&k->flush_mu);
	if (!err)
		log_info("keys: revoked key %lld of tenant %s", (long long)id, tenant);
	return err;
}

bool keys_valid(struct keys *k, int64_t id)
{
	bool valid = false;

	pthread_rwlock_rdlock(&k->lock);
	for (size_t i = 0; i < k->n && !valid; i++)
		valid = k->entries[i]->rec.id == id && !k->entries[i]->rec.revoked_ms;
	pthread_rwlock_unlock(&k->lock);
	return valid;
}

void keys_list(struct keys *k, const char *tenant, bool revoked, struct store_key **out, size_t *n)
{
	size_t len = 0;

	pthread_rwlock_rdlock(&k->lock);
	*out = xcalloc(k->n ? k->n : 1, sizeof(**out));
	for (size_t i = 0; i < k->n; i++) {
		const struct key_entry *e = k->entries[i];

		if ((tenant && strcmp(e->rec.tenant, tenant)) || (e->rec.revoked_ms && !revoked))
			continue;
		(*out)[len] = e->rec;
		(*out)[len].last_used_ms = atomic_load(&e->last_used_ms);
		len++;
	}
	pthread_rwlock_unlock(&k->lock);
	*n = len;
}

int keys_flush(struct keys *k)
{
	int err = 0;

	pthread_mutex_lock(&k->flush_mu);
	pthread_rwlock_rdlock(&k->lock);
	for (size_t i = 0; i < k->n; i++) {
		struct key_entry *e = k->entries[i];
		int64_t used = atomic_load(&e->last_used_ms);

		if (used <= e->stored_used_ms)
			continue;
		if (store_key_touch(k->store, e->rec.id, used)) {
			err = -EIO;
			continue;
		}
		e->stored_used_ms = used;
	}
	pthread_rwlock_unlock(&k->lock);
	pthread_mutex_unlock(&k->flush_mu);
	return err;
}

int keys_bootstrap(struct keys *k, const char *path, int64_t now_ms, bool *made,
		   char key[APIKEY_LEN + 1])
{
	struct store_key rec = { .role = ROLE_ADMIN };
	size_t n;
	int fd, err;

	*made = false;
	pthread_rwlock_rdlock(&k->lock);
	n = k->n;
	pthread_rwlock_unlock(&k->lock);
	if (n)
		return 0;
	/* the file first: a key nobody can read must not exist */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* left by a start that died before storing its key: that key is nowhere */
		if (unlink(path))
			return -errno;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return -errno;
	snprintf(rec.tenant, sizeof(rec.tenant), "%s", KEYS_DEFAULT_TENANT);
	snprintf(rec.name, sizeof(rec.name), "admin");
	snprintf(rec.description, sizeof(rec.description), "made at first start");
	err = keys_create(k, &rec, now_ms, key);
	if (!err) {
		size_t len = strlen(key);

		key[len] = '\n';
		if (write(fd, key, len + 1) != (ssize_t)(len + 1) || fsync(fd))
			err = -EIO;
		key[len] = '\0';
	}
	close(fd);
	if (err) {
		if (rec.id)
			(void)keys_revoke(k, rec.tenant, rec.id, now_ms);
		unlink(path);
		memset(key, 0, APIKEY_LEN + 1);
		return err;
	}
	*made = true;
	return 0;
}
