/*
 * The keys agents sign their frames with, as the aggregator finds them in
 * its keys directory:
 *
 *	KEYS_DIR/TENANT/tenant.key	  every agent of TENANT may use this key
 *	KEYS_DIR/TENANT/agents/ID.key	  agent ID of TENANT uses this key only
 *
 * An agent's own key wins over its tenant's. A key file holds at least
 * KEY_FILE_MIN bytes (common/keyfile.h), mode 0600 advised.
 * Lookups are cached; a miss is retried after KEYRING_RETRY_S seconds, so a
 * key added at run time is picked up without a restart, and
 * keyring_reload() (SIGHUP) forgets everything. One thread (ingest).
 */
#ifndef PRP_AGGREGATOR_KEYRING_H
#define PRP_AGGREGATOR_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "common/keyfile.h"

#define KEYRING_MAX_KEY KEY_FILE_MAX
#define KEYRING_RETRY_S 5

struct keyring;

struct keyring *keyring_new(const char *dir);
void keyring_free(struct keyring *k);
/*
 * The key of agent @agent_id of @tenant: 0 with *key borrowed until the next
 * call, -ENOKEY when there is none, -EINVAL for ids that cannot be file names.
 */
int keyring_find(struct keyring *k, const char *tenant, const char *agent_id, uint64_t now_s,
		 const uint8_t **key, size_t *len);
void keyring_reload(struct keyring *k);

#endif
