/*
 * Keys by (tenant, agent), cached in a small open hash table that is emptied
 * when it fills up: there are as many entries as agents, and a re-read costs
 * one open() per agent.
 */
#include "aggregator/keyring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/frame.h"
#include "common/hash.h"
#include "common/keyfile.h"
#include "common/log.h"

#define KEYRING_SLOTS 16384 /* power of two; emptied at 3/4 full */

struct key_entry {
	char tenant[FRAME_ID_MAX];
	char agent[FRAME_ID_MAX];
	uint64_t checked_s; /* when a miss was recorded; 0 for a hit */
	size_t len;	    /* 0: no key */
	uint8_t key[KEYRING_MAX_KEY];
};

struct keyring {
	char *dir;
	struct key_entry **slots;
	size_t used;
};

struct keyring *keyring_new(const char *dir)
{
	struct keyring *k = xcalloc(1, sizeof(*k));

	k->dir = xstrdup(dir);
	k->slots = xcalloc(KEYRING_SLOTS, sizeof(*k->slots));
	return k;
}

void keyring_reload(struct keyring *k)
{
	for (size_t i = 0; i < KEYRING_SLOTS; i++) {
		free(k->slots[i]);
		k->slots[i] = NULL;
	}
	k->used = 0;
}

void keyring_free(struct keyring *k)
{
	if (!k)
		return;
	keyring_reload(k);
	free(k->slots);
	free(k->dir);
	free(k);
}

/* frame_peek() allows [A-Za-z0-9._-]: refuse what a path would read as a directory. */
static bool id_is_file_name(const char *id)
{
	return id[0] && id[0] != '.';
}

static void load(struct keyring *k, struct key_entry *e)
{
	char path[4096];

	e->len = 0;
	snprintf(path, sizeof(path), "%s/%s/agents/%s.key", k->dir, e->tenant, e->agent);
	if (!key_file_read(path, e->key, sizeof(e->key), &e->len))
		return;
	snprintf(path, sizeof(path), "%s/%s/tenant.key", k->dir, e->tenant);
	if (!key_file_read(path, e->key, sizeof(e->key), &e->len))
		return;
	e->len = 0;
}

int keyring_find(struct keyring *k, const char *tenant, const char *agent_id, uint64_t now_s,
		 const uint8_t **key, size_t *len)
{
	size_t i = hash_fnv1a_pair(tenant, agent_id) & (KEYRING_SLOTS - 1);
	struct key_entry *e;

	if (!id_is_file_name(tenant) || !id_is_file_name(agent_id) ||
	    strlen(tenant) >= FRAME_ID_MAX || strlen(agent_id) >= FRAME_ID_MAX)
		return -EINVAL;
	for (;; i = (i + 1) & (KEYRING_SLOTS - 1)) {
		e = k->slots[i];
		if (!e)
			break;
		if (!strcmp(e->tenant, tenant) && !strcmp(e->agent, agent_id))
			goto found;
	}
	if (k->used >= KEYRING_SLOTS / 4 * 3) {
		keyring_reload(k);
		return keyring_find(k, tenant, agent_id, now_s, key, len);
	}
	e = xcalloc(1, sizeof(*e));
	strcpy(e->tenant, tenant);
	strcpy(e->agent, agent_id);
	k->slots[i] = e;
	k->used++;
	load(k, e);
	e->checked_s = now_s;
found:
	if (!e->len && now_s >= e->checked_s + KEYRING_RETRY_S) {
		load(k, e);
		e->checked_s = now_s;
	}
	if (!e->len)
		return -ENOKEY;
	*key = e->key;
	*len = e->len;
	return 0;
}
