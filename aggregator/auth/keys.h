/*
 * The API key registry: every key of the store (aggregator/store, table
 * api_keys) held in memory, so that checking the key of a request costs a
 * SHA-256 and a hash-table probe, never a query. Keys are made and revoked
 * through it (written to the store first, then to memory: a revocation
 * holds from the next request on). The time of each key's last use is
 * kept in memory and written back every KEYS_FLUSH_MS by a thread of its
 * own, and at keys_close().
 *
 * Thread-safe: lookups take a read lock; changes a write lock.
 */
#ifndef PRP_AGGREGATOR_AUTH_KEYS_H
#define PRP_AGGREGATOR_AUTH_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/auth/apikey.h"
#include "aggregator/auth/role.h"
#include "aggregator/store/store.h"
#include "common/compiler.h"

#define KEYS_FLUSH_MS 10000
/* The tenant of the bootstrap key and of a key made without one. */
#define KEYS_DEFAULT_TENANT "default"

struct keys;

/* Who a valid key is. */
struct key_identity {
	int64_t id;
	char tenant[FRAME_ID_MAX];
	char name[STORE_KEY_NAME_MAX];
	enum role role;
	uint64_t per_minute, per_hour; /* the key's own limits; 0: its role's */
};

/*
 * Opens the store of @so (its own writer connection: @so must not be
 * read-only) and loads every key. 0 or -errno.
 */
PRP_MUST_CHECK int keys_open(struct keys **out, const struct store_options *so);
/* Writes back the last uses, stops the thread, closes. NULL does nothing. */
void keys_close(struct keys *k);

/*
 * At first start (no key in the store at all): makes an admin key of the
 * default tenant, writes it to @path (mode 0600, created new; the directory
 * must exist), copies it to @key (for the one time it is printed) and sets
 * *made. A key already there: nothing, *made false. 0 or -errno (the key is
 * not kept when the file cannot be written).
 */
PRP_MUST_CHECK int keys_bootstrap(struct keys *k, const char *path, int64_t now_ms, bool *made,
				  char key[APIKEY_LEN + 1]);

/*
 * The identity of the key @presented (the header's value), recording its
 * use at @now_ms. 0, or -EACCES for a malformed, unknown or revoked key.
 */
int keys_verify(struct keys *k, const char *presented, int64_t now_ms, struct key_identity *who);

/*
 * Whether key @id is known and not revoked: streams opened with a key ask
 * again as they go, so a revocation ends them too. Any thread.
 */
bool keys_valid(struct keys *k, int64_t id);

/*
 * Makes the key @rec describes (its tenant, name, description, role,
 * per_minute, per_hour): fills the rest of @rec (id, hash, created_ms) and @key_out,
 * the key itself, which is nowhere else. 0, -EINVAL (a field out of range),
 * or -EIO.
 */
PRP_MUST_CHECK int keys_create(struct keys *k, struct store_key *rec, int64_t now_ms,
			       char key_out[APIKEY_LEN + 1]);

/* Revokes key @id of @tenant: 0, -ENOENT (none, or revoked already), -EIO. */
int keys_revoke(struct keys *k, const char *tenant, int64_t id, int64_t now_ms);

/*
 * Copies of the keys of @tenant (NULL: every tenant), revoked ones when
 * @revoked, by id, with their last use as known now; caller frees *out.
 */
void keys_list(struct keys *k, const char *tenant, bool revoked, struct store_key **out,
	       size_t *n);

/* Writes the last uses not yet in the store. 0 or -EIO. */
int keys_flush(struct keys *k);

#endif
