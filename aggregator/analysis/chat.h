/*
 * The operator's chat (POST /chat, API.md "Analysis"): a question read by
 * chat_intent.h, answered from live data with the analyst's other parts:
 * the series (health now), the evidence and root cause analysis (why),
 * summaries (what happened), the actions, detection's predictions and the
 * call graph. Every answer lists its sources (anomaly and action ids, the
 * series it read); a question it cannot answer gets an honest "I don't
 * know" and what it can answer instead. With an LLM configured, the prose
 * of "why" and "what happened" answers is the model's, from the same
 * facts; the built-in text is the fallback.
 *
 * Threads: the caller's (an HTTP worker), with its own store.
 */
#ifndef PRP_AGGREGATOR_ANALYSIS_CHAT_H
#define PRP_AGGREGATOR_ANALYSIS_CHAT_H

#include <jansson.h>
#include <stdint.h>

#include "aggregator/analysis/chat_intent.h"

struct store;
struct series;
struct detection;
struct llm;

/* What an answer may read; all borrowed. */
struct chat_world {
	struct store *store;	     /* read-only is enough */
	struct series *series;	     /* health now; may be NULL */
	struct detection *detection; /* predictions and SLOs; may be NULL */
	const struct llm *llm;	     /* may be NULL or off */
	const char *tenant;
	int64_t now_ms;
};

/*
 * The names of the services @w's tenant has (the store's, ever seen),
 * for chat_understand(); caller owns: chat_services_free().
 */
int chat_services(const struct chat_world *w, char ***names, size_t *n);
void chat_services_free(char **names, size_t n);

/*
 * Answers @q: a JSON object {answer (Markdown), confidence (0..1), sources
 * ["anomaly:12", "action:7", "series:payments", ...], intent, service
 * (or null), since, until, prose ("built-in" or "llm")}. Caller owns.
 * NULL only when the store fails.
 */
json_t *chat_answer(const struct chat_world *w, const struct chat_question *q);

#endif
