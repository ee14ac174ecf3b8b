/*
 * Words and numbers for the analyst's prose (summaries and advice): values
 * with their units as an operator reads them ("312 ms", "12%", "45/s"),
 * metric labels, instants and durations, the evidence as a fact sheet for
 * an LLM, and the one way an answer's prose is handed to the LLM and taken
 * back (or not). Pure except narrate_prose(), which calls the LLM; any
 * thread.
 */
#ifndef PRP_AGGREGATOR_ANALYSIS_NARRATE_H
#define PRP_AGGREGATOR_ANALYSIS_NARRATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/store/store.h"
#include "common/buf.h"
#include "common/compiler.h"

struct evidence;
struct llm;

/* Room for any narrate_number()/narrate_value() text. */
#define NARRATE_VALUE_MAX 48
/* The fact sheet sent to a model: far below LLM_PROMPT_MAX, with room for the task. */
#define NARRATE_FACTS_MAX (96u << 10)
/* Largest prose (Markdown) of one answer. */
#define NARRATE_PROSE_MAX (64u << 10)

/*
 * @v with two or three significant figures, no exponent, no trailing zeros:
 * 312, 12.3, 1.5, 0.4, 0.00042; "n/a" when not finite. Returns @buf.
 */
const char *narrate_number(double v, char *buf, size_t cap);

/*
 * @v of @metric with its unit: "312 ms" (latency_*), "12%" (error_rate,
 * syscall_error_rate: a ratio shown in percent), "45/s" (request_rate,
 * tcp_*). Returns @buf.
 */
const char *narrate_value(const char *metric, double v, char *buf, size_t cap);

/* "p99", "error rate", "request rate", ...; @metric itself when unknown. Borrowed. */
const char *narrate_metric_label(const char *metric);

/* "info", "warning", "critical". Static. */
const char *narrate_severity(enum store_severity s);

/* "10:02:13Z", or with the date ("2026-11-27 10:02:13Z") when @with_date. Returns @buf. */
const char *narrate_instant(int64_t ms, bool with_date, char *buf, size_t cap);

/* "40 s", "12 min", "2 h 5 min", "3 d 4 h". Returns @buf. */
const char *narrate_duration(int64_t ms, char *buf, size_t cap);

/* A new JSON string "YYYY-MM-DDTHH:MM:SS.mmmZ" for @ms since the epoch (API.md instants). */
json_t *narrate_json_time(int64_t ms);

/*
 * printf-appends to @b; text past @b's cap is dropped (the cap bounds what
 * an operator or a model reads: the text is cut, the answer is not lost).
 */
void narrate_add(struct buf *b, const char *fmt, ...) PRP_PRINTF(2, 3);

/* The text of @b (then empty), "" when nothing was added. Caller owns: free(). */
char *narrate_detach(struct buf *b);

/*
 * The evidence as plain text for a model: the span and its baseline, each
 * service's figures against the baseline, the calls, the anomalies and the
 * actions, each line complete, at most NARRATE_FACTS_MAX bytes. Caller
 * owns: free().
 */
char *narrate_facts(const struct evidence *ev);

/*
 * Puts the answer's prose into @doc (a JSON object, borrowed): asks @l
 * (borrowed; NULL or off: no request) to write @field from @task and
 * @facts (both borrowed), and sets @field to the model's text; otherwise
 * @builtin (borrowed). Sets "prose" to "llm" (and "llm_model") or
 * "built-in", and "llm_error" with the reason when the model failed. The
 * HTTP worker's thread; may take up to the LLM's timeouts.
 */
void narrate_prose(json_t *doc, const char *field, const struct llm *l, const char *task,
		   const char *facts, const char *builtin);

#endif
