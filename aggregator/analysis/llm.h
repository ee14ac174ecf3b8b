/*
 * The optional LLM behind the built-in analyst: a client for any
 * OpenAI-compatible chat completions endpoint (OpenAI, Groq, Ollama, vLLM,
 * llama.cpp's server), over libcurl. The analyst gathers the evidence and
 * keeps every structured field its own; the model only writes the prose,
 * and any failure here means the built-in prose is used instead.
 *
 * The endpoint: the configured URL is a base URL, and requests go to
 *   - the URL itself when it already ends in "/chat/completions";
 *   - URL + "/chat/completions" when it ends in "/v1" (Groq's
 *     https://api.groq.com/openai/v1, OpenAI's https://api.openai.com/v1);
 *   - URL + "/v1/chat/completions" otherwise (http://127.0.0.1:11434 for
 *     Ollama, http://127.0.0.1:8080 for llama.cpp);
 * a trailing '/' is ignored. Only http:// and https:// URLs are accepted.
 *
 * The key: read once, by llm_new(), from the environment variable whose
 * NAME is configured (never the key itself: configs get copied, printed and
 * committed). It is sent only as "Authorization: Bearer KEY", and appears in
 * no log line, no @why and no error of this module. An empty NAME sends no
 * Authorization (a local server); a NAME that is not set makes every call
 * fail at once with "no API key in $NAME", without a request.
 *
 * One call is at most two attempts: the second only after a transport error
 * (refused, reset, timed out), a 5xx or a 429, and after a pause
 * (retry_pause_ms). Each attempt is bounded by timeout_ms, connect included,
 * so a call takes at most 2 * timeout_ms + retry_pause_ms. The answer is
 * bounded to LLM_RESPONSE_MAX bytes and parsed strictly:
 * choices[0].message.content must be a non-empty string.
 *
 * Threads: a struct llm is immutable once made, and every call uses its own
 * curl handle, so any number of threads may call llm_complete() on one
 * struct llm at once (the HTTP workers do). llm_new() and llm_free() are for
 * the main thread, before the workers start and after they stop.
 */
#ifndef PRP_AGGREGATOR_ANALYSIS_LLM_H
#define PRP_AGGREGATOR_ANALYSIS_LLM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"

#define LLM_TIMEOUT_MS_DEFAULT	   20000
#define LLM_RETRY_PAUSE_MS_DEFAULT 500
#define LLM_TEMPERATURE_DEFAULT	   0.2 /* low: a summary of evidence, not a story */
#define LLM_API_KEY_ENV_DEFAULT	   "PRP_LLM_API_KEY"
/* The largest answer read; a longer one is a failure (a chat answer is a few kB). */
#define LLM_RESPONSE_MAX (1u << 20)
/* The largest system + user text sent; a longer one is refused (-E2BIG), not cut. */
#define LLM_PROMPT_MAX (256u << 10)
/* Room for any reason llm_complete() writes; a shorter @why gets it cut. */
#define LLM_WHY_MAX 160

struct llm_config {
	const char *url;	 /* the base URL, see above; NULL or "": no LLM */
	const char *model;	 /* required when url is set */
	const char *api_key_env; /* NAME of the variable holding the key; NULL or "": none */
	unsigned timeout_ms;	 /* per attempt, connect included; 0: LLM_TIMEOUT_MS_DEFAULT */
	unsigned retry_pause_ms; /* before the second attempt */
	double temperature;	 /* 0 to 2 */
	const char *ca_file;	 /* PEM bundle for https; NULL: the system's */
};

struct llm;

/* Sets @c to the defaults: no URL, LLM_API_KEY_ENV_DEFAULT, the *_DEFAULT values. */
void llm_config_init(struct llm_config *c);

/*
 * Checks @c (borrowed) without using it: 0, or -EINVAL with a reason in
 * @err (a URL that is not http(s), a URL without a model, a temperature
 * outside 0 to 2). A config without a URL is valid: the LLM is off.
 */
PRP_MUST_CHECK int llm_config_check(const struct llm_config *c, char *err, size_t errlen);

/*
 * Makes a client from @c (borrowed for the call: everything is copied) and
 * reads the key from the environment now. Returns 0 and *@out (caller owns:
 * llm_free()), or -EINVAL with a reason in @err (llm_config_check(), or a
 * key holding a control character; a key that is not set is not an error
 * here, see above), or -EIO when libcurl cannot start. A disabled config
 * (no URL) is valid and makes a client that llm_enabled() says is off.
 * Calls curl_global_init() (reference-counted; llm_free() releases it).
 */
PRP_MUST_CHECK int llm_new(const struct llm_config *c, struct llm **out, char *err, size_t errlen);
/* Frees @l and wipes its copy of the key. NULL does nothing. */
void llm_free(struct llm *l);

/* Whether @l will send requests at all: false for NULL and for a config without a URL. */
bool llm_enabled(const struct llm *l);
/* The full endpoint URL requests go to ("" when disabled); borrowed, lives as long as @l. */
const char *llm_endpoint(const struct llm *l);
/* The configured model; borrowed, lives as long as @l. */
const char *llm_model(const struct llm *l);

/*
 * Asks the model: @system and @user (borrowed) as the two messages. Returns
 * 0 with *@out_text (caller owns: free()), the answer's content with
 * surrounding whitespace (and a leading <think>...</think> block of
 * reasoning models) removed; or a negative errno with a short reason in
 * @why, which never holds the key or the answer:
 *   -EOPNOTSUPP  "no LLM configured"
 *   -ENOKEY      "no API key in $NAME"
 *   -E2BIG       "prompt larger than 256 KiB"
 *   -ETIMEDOUT   "timed out after 20 s"
 *   -EIO         "connection refused", another transport error, "HTTP 500",
 *                "HTTP 404 (model_not_found)", "response larger than 1 MiB"
 *   -EPROTO      "malformed JSON: <jansson's text> at 1:17", "no choices",
 *                "choices[0].message.content is not a string", "empty content"
 * The reason is that of the last attempt. Failures are logged at warn (rate
 * limited), successes at debug. Any thread.
 */
PRP_MUST_CHECK int llm_complete(const struct llm *l, const char *system, const char *user,
				char **out_text, char *why, size_t whylen);

/*
 * The analyst's standard prompt. The system message: write only from the
 * evidence given, concisely, no number, service or event that is not in it,
 * and say so when the evidence does not answer. Borrowed, static.
 */
const char *llm_system_prompt(void);
/*
 * The user message for @task ("Explain the root cause of ...", or an
 * operator's question; borrowed) over @evidence (borrowed; the analyst's
 * evidence as text). Caller owns: free().
 */
char *llm_user_prompt(const char *task, const char *evidence);
/* llm_complete() with llm_system_prompt() and llm_user_prompt(@task, @evidence). */
PRP_MUST_CHECK int llm_explain(const struct llm *l, const char *task, const char *evidence,
			       char **out_text, char *why, size_t whylen);

#endif
