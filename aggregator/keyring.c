/*
 * Keys by (tenant, agent), cached in a small open hash table that is emptied
 * when it fills up: there are as many entries as agents, and a re-read costs
 * a few open() calls per agent.
 *
 * An entry holds the agent's keys as last read (none: a miss) and when its
 * files were last looked at. KEYRING_RETRY_S later they are looked at again,
 * according to what it holds: a miss, or a rotation (a next key), is read
 * again whole; a current key alone is kept, and only the .next files that
 * would start a rotation are looked for, with access() (one failed lookup
 * each, no descriptor).
 */
#include "aggregator/keyring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/frame.h"
#include "common/hash.h"
#include "common/keyfile.h"
#include "common/log.h"

#define KEYRING_SLOTS 16384 /* power of two; emptied at 3/4 full */

enum key_file { KEY_AGENT, KEY_AGENT_NEXT, KEY_TENANT, KEY_TENANT_NEXT };

struct key_entry {
	char tenant[FRAME_ID_MAX];
	char agent[FRAME_ID_MAX];
	uint64_t checked_s; /* when the files were last read or looked for */
	bool own;	    /* the current key is the agent's own (agents/ID.key) */
	size_t n;	    /* keys held, the current one first; 0: a miss */
	bool next[KEYRING_KEYS_MAX];
	size_t len[KEYRING_KEYS_MAX];
	uint8_t key[KEYRING_KEYS_MAX][KEYRING_MAX_KEY];
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

static bool key_file_is_next(enum key_file f)
{
	return f == KEY_AGENT_NEXT || f == KEY_TENANT_NEXT;
}

static void key_path(const struct keyring *k, const struct key_entry *e, enum key_file f,
		     char *path, size_t cap)
{
	const char *suffix = key_file_is_next(f) ? ".next" : "";

	if (f == KEY_AGENT || f == KEY_AGENT_NEXT)
		snprintf(path, cap, "%s/%s/agents/%s.key%s", k->dir, e->tenant, e->agent, suffix);
	else
		snprintf(path, cap, "%s/%s/tenant.key%s", k->dir, e->tenant, suffix);
}

/* Adds the key in file @f after @e's keys; false when the file holds none. */
static bool add_key(const struct keyring *k, struct key_entry *e, enum key_file f)
{
	char path[4096];
	size_t i = e->n;

	key_path(k, e, f, path, sizeof(path));
	if (key_file_read(path, e->key[i], sizeof(e->key[i]), &e->len[i]))
		return false;
	e->next[i] = key_file_is_next(f);
	e->n++;
	return true;
}

/* Reads @e's keys: the current one, then the next one (keyring.h says which files). */
static void load(const struct keyring *k, struct key_entry *e, uint64_t now_s)
{
	e->n = 0;
	e->own = add_key(k, e, KEY_AGENT);
	if (!e->own)
		add_key(k, e, KEY_TENANT);
	if (!add_key(k, e, KEY_AGENT_NEXT) && !e->own)
		add_key(k, e, KEY_TENANT_NEXT);
	e->checked_s = now_s;
}

/* true when a .next file that load() would read is there: a rotation begins. */
static bool next_appeared(const struct keyring *k, const struct key_entry *e)
{
	char path[4096];

	key_path(k, e, KEY_AGENT_NEXT, path, sizeof(path));
	if (!access(path, F_OK))
		return true;
	if (e->own)
		return false;
	key_path(k, e, KEY_TENANT_NEXT, path, sizeof(path));
	return !access(path, F_OK);
}

/* Looks at @e's files again once KEYRING_RETRY_S have passed since the last time. */
static void refresh(const struct keyring *k, struct key_entry *e, uint64_t now_s)
{
	if (now_s < e->checked_s + KEYRING_RETRY_S)
		return;
	if (e->n == 1 && !e->next[0] && !next_appeared(k, e)) {
		e->checked_s = now_s;
		return;
	}
	load(k, e, now_s);
}

int keyring_find(struct keyring *k, const char *tenant, const char *agent_id, uint64_t now_s,
		 struct keyring_keys *out)
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
		return keyring_find(k, tenant, agent_id, now_s, out);
	}
	e = xcalloc(1, sizeof(*e));
	strcpy(e->tenant, tenant);
	strcpy(e->agent, agent_id);
	k->slots[i] = e;
	k->used++;
	load(k, e, now_s);
found:
	refresh(k, e, now_s);
	if (!e->n)
		return -ENOKEY;
	memset(out, 0, sizeof(*out));
	for (size_t j = 0; j < e->n; j++) {
		out->key[j] = e->key[j];
		out->len[j] = e->len[j];
		out->next[j] = e->next[j];
	}
	out->n = e->n;
	return 0;
}
