/*
 * The keys agents sign their frames with, as the aggregator finds them in
 * its keys directory:
 *
 *	KEYS_DIR/TENANT/tenant.key		every agent of TENANT may use this key
 *	KEYS_DIR/TENANT/agents/ID.key		agent ID of TENANT uses this key only
 *	KEYS_DIR/TENANT/tenant.key.next		the key replacing tenant.key
 *	KEYS_DIR/TENANT/agents/ID.key.next	the key replacing agents/ID.key
 *
 * An agent's own key wins over its tenant's. A *.key.next file is the
 * second key of a rotation (docs/protocol.md "Key rotation"): while it is
 * there a frame may be signed with either key. An agent has at most two:
 * its current key (ID.key, else tenant.key) and its next key (ID.key.next,
 * else, for an agent without an ID.key, tenant.key.next). So an agent
 * with its own key ignores its tenant's rotations, and an agent moving from
 * the tenant's key to its own has both while ID.key.next is there.
 *
 * A key file holds at least KEY_FILE_MIN bytes (common/keyfile.h), mode
 * 0600 advised. Lookups are cached: a miss is retried after
 * KEYRING_RETRY_S seconds, so a key added at run time is picked up without
 * a restart; an agent with a current key and no next one is checked for a
 * new *.key.next as often; one with a next key is read again as often, so
 * the end of its rotation (ID.key.next renamed over ID.key) or its abandon
 * (the .next removed) is seen. Otherwise a hit is kept until
 * keyring_reload(), which forgets everything. One thread (ingest).
 */
#ifndef PRP_AGGREGATOR_KEYRING_H
#define PRP_AGGREGATOR_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/keyfile.h"

#define KEYRING_MAX_KEY	 KEY_FILE_MAX
#define KEYRING_RETRY_S	 5
#define KEYRING_KEYS_MAX 2 /* current and next */

/* The keys one agent may sign with, the current one first. */
struct keyring_keys {
	const uint8_t *key[KEYRING_KEYS_MAX];
	size_t len[KEYRING_KEYS_MAX];
	bool next[KEYRING_KEYS_MAX]; /* key[i] was read from a *.key.next file */
	size_t n;		     /* 1 or 2 */
};

struct keyring;

/* Caller owns the keyring: keyring_free(). @dir is copied. */
struct keyring *keyring_new(const char *dir);
void keyring_free(struct keyring *k);
/*
 * The keys of agent @agent_id of @tenant at @now_s (seconds, any clock that
 * does not go back): 0 with @out filled, its keys borrowed until the next
 * call; -ENOKEY when there is none, -EINVAL for ids that cannot be file
 * names.
 */
PRP_MUST_CHECK int keyring_find(struct keyring *k, const char *tenant, const char *agent_id,
				uint64_t now_s, struct keyring_keys *out);
void keyring_reload(struct keyring *k);

#endif
