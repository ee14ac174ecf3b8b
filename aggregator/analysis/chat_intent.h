/*
 * What an operator's question to POST /chat asks: one of a few intents,
 * the service it is about, and the span of time, read from plain words
 * ("why is payments slow?", "what happened since 10:00", "and users?").
 * A follow-up takes what it leaves out from the previous question of the
 * conversation. No grammar and no model: keywords, the names of the
 * services prp knows, and time expressions; what matches none is
 * CHAT_UNKNOWN, which the answer says honestly.
 *
 * Pure: no I/O, no clock (now is given), any thread.
 */
#ifndef PRP_AGGREGATOR_ANALYSIS_CHAT_INTENT_H
#define PRP_AGGREGATOR_ANALYSIS_CHAT_INTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/window.h"

#define CHAT_QUERY_MAX 2000 /* bytes of a question */

enum chat_intent {
	CHAT_UNKNOWN = 0,
	CHAT_HEALTH,	/* which services are unhealthy; how is X */
	CHAT_WHY,	/* why is X slow / failing: root cause */
	CHAT_HAPPENED,	/* what happened since T: incidents */
	CHAT_ACTIONS,	/* what did prp do */
	CHAT_PREDICT,	/* what is predicted */
	CHAT_TOPOLOGY,	/* who calls whom */
	CHAT_ANOMALIES, /* which anomalies are open */
	CHAT_HELP,	/* what can you answer */
	CHAT_INTENT_COUNT
};

struct chat_question {
	enum chat_intent intent;
	char service[SERVICE_NAME_MAX]; /* "" when none is named or carried over */
	int64_t since_ms, until_ms;	/* the span asked about (a default per intent) */
	bool range_given;		/* the question said when */
	bool followup;			/* something was taken from the previous question */
};

/* "health", "why", ...: the intent's name for answers and logs. */
const char *chat_intent_name(enum chat_intent i);

/*
 * Reads @query (NUL-terminated, any bytes) at @now_ms. @services are the
 * names prp knows (borrowed, any order); the longest one the query names
 * as a word wins. @prev (may be NULL) is the conversation's previous
 * question: a query naming no intent but a service ("and users?") asks the
 * previous intent about it; one naming an intent but no service ("why?")
 * is about the previous service.
 */
void chat_understand(const char *query, const char *const *services, size_t nservices,
		     const struct chat_question *prev, int64_t now_ms, struct chat_question *out);

/*
 * A time expression of @query: "last 30 minutes", "past 2h", "in the last
 * hour", "since 10:00" (UTC, today, or yesterday when that is still to
 * come), "since 2026-11-27T10:00:00Z", "today". Sets *since_ms and returns
 * true when there is one.
 */
bool chat_time_range(const char *query, int64_t now_ms, int64_t *since_ms);

#endif
