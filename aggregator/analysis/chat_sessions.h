/*
 * The conversations of POST /chat: for each conversation_id, the last
 * question, so that a follow-up ("and users?") can be read against it.
 * Bounded: at most @max conversations, the least recently used one
 * forgotten first, and none kept past @ttl_ms of silence. In memory only:
 * a restart forgets them, which costs a follow-up its context, nothing else.
 *
 * Threads: any; one lock.
 */
#ifndef PRP_AGGREGATOR_ANALYSIS_CHAT_SESSIONS_H
#define PRP_AGGREGATOR_ANALYSIS_CHAT_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/analysis/chat_intent.h"
#include "common/frame.h"

#define CHAT_ID_MAX 64 /* with the NUL: ids are 1..63 of [A-Za-z0-9._-] */

struct chat_sessions;

struct chat_sessions *chat_sessions_new(size_t max, int64_t ttl_ms);
void chat_sessions_free(struct chat_sessions *cs);

/* Whether @id is a valid conversation id. */
bool chat_id_valid(const char *id);
/* A new random id ("c-" and 16 hex digits) into @id (CHAT_ID_MAX bytes). */
void chat_id_new(char id[CHAT_ID_MAX]);

/* The last question of @tenant's conversation @id at @now_ms into @out: false when none. */
bool chat_sessions_get(struct chat_sessions *cs, const char *tenant, const char *id,
		       int64_t now_ms, struct chat_question *out);
/* Records @q as the last question of the conversation. */
void chat_sessions_put(struct chat_sessions *cs, const char *tenant, const char *id,
		       int64_t now_ms, const struct chat_question *q);
size_t chat_sessions_count(struct chat_sessions *cs);

#endif
