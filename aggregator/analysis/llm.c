/*
 * The chat completions client (llm.h). A fresh curl easy handle per
 * attempt, as deliver.c does: calls come from the HTTP workers at an
 * operator's pace, and a shared connection pool would need a lock for no
 * measurable gain next to a model's seconds of latency.
 *
 * Invariant: the key lives in exactly two places, l->auth (the header
 * line, wiped by llm_free()) and the copy curl_slist_append() makes for one
 * attempt. Every reason written to @why passes through scrub() first, which
 * overwrites any occurrence of the key, whatever produced the text.
 */
#include "aggregator/analysis/llm.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"

#define LLM_ATTEMPTS 2 /* the call, and exactly one retry */

struct llm {
	bool enabled;
	bool curl_inited; /* curl_global_init() ran, and llm_free() owes a cleanup */
	char *endpoint;	  /* the full URL; "" when disabled */
	char *model;
	char *key_env;	  /* NAME; "" when no key is used */
	char *auth;	  /* "Authorization: Bearer KEY"; NULL when none (or not set) */
	bool key_missing; /* key_env names a variable that is not set: every call fails */
	unsigned timeout_ms, retry_pause_ms;
	double temperature;
	char *ca_file; /* NULL: the system's */
};

void llm_config_init(struct llm_config *c)
{
	*c = (struct llm_config){
		.url = NULL,
		.model = NULL,
		.api_key_env = LLM_API_KEY_ENV_DEFAULT,
		.timeout_ms = LLM_TIMEOUT_MS_DEFAULT,
		.retry_pause_ms = LLM_RETRY_PAUSE_MS_DEFAULT,
		.temperature = LLM_TEMPERATURE_DEFAULT,
		.ca_file = NULL,
	};
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t k = strlen(suffix);

	return len >= k && !strncmp(s + len - k, suffix, k);
}

/* The endpoint for base URL @url (llm.h): caller owns, free(). */
static char *endpoint_of(const char *url)
{
	size_t len = strlen(url);

	while (len && url[len - 1] == '/')
		len--;
	if (has_suffix(url, len, "/chat/completions"))
		return xstrndup(url, len);
	if (has_suffix(url, len, "/v1"))
		return xasprintf("%.*s/chat/completions", (int)len, url);
	return xasprintf("%.*s/v1/chat/completions", (int)len, url);
}

/* Reads the key named by l->key_env; -EINVAL when it cannot go in a header. */
static int read_key(struct llm *l, char *err, size_t errlen)
{
	const char *key;

	if (!*l->key_env)
		return 0;
	key = getenv(l->key_env);
	if (!key || !*key) {
		/* not an error here: the analyst still answers, and says why the LLM did not */
		l->key_missing = true;
		log_warn("llm: no API key in $%s, every request to the LLM will fail", l->key_env);
		return 0;
	}
	for (const char *p = key; *p; p++) {
		if (*p == '\r' || *p == '\n' || (unsigned char)*p < 0x20) {
			snprintf(err, errlen, "the API key in $%s holds a control character",
				 l->key_env);
			return -EINVAL;
		}
	}
	l->auth = xasprintf("Authorization: Bearer %s", key);
	return 0;
}

int llm_config_check(const struct llm_config *c, char *err, size_t errlen)
{
	if (c->url && *c->url && strncasecmp(c->url, "http://", 7) &&
	    strncasecmp(c->url, "https://", 8)) {
		/* not quoted: a URL may carry credentials (https://user:secret@host) */
		snprintf(err, errlen, "the LLM url is not http:// or https://");
		return -EINVAL;
	}
	if (c->url && *c->url && (!c->model || !*c->model)) {
		snprintf(err, errlen, "an LLM url needs a model");
		return -EINVAL;
	}
	if (!(c->temperature >= 0 && c->temperature <= 2)) {
		snprintf(err, errlen, "the LLM temperature %g is not within 0 to 2",
			 c->temperature);
		return -EINVAL;
	}
	return 0;
}

int llm_new(const struct llm_config *c, struct llm **out, char *err, size_t errlen)
{
	struct llm *l;
	int ret;

	*out = NULL;
	ret = llm_config_check(c, err, errlen);
	if (ret)
		return ret;
	l = xcalloc(1, sizeof(*l));
	l->enabled = c->url && *c->url;
	l->endpoint = l->enabled ? endpoint_of(c->url) : xstrdup("");
	l->model = xstrdup(c->model ? c->model : "");
	l->key_env = xstrdup(c->api_key_env ? c->api_key_env : "");
	l->timeout_ms = c->timeout_ms ? c->timeout_ms : LLM_TIMEOUT_MS_DEFAULT;
	l->retry_pause_ms = c->retry_pause_ms;
	l->temperature = c->temperature;
	l->ca_file = c->ca_file && *c->ca_file ? xstrdup(c->ca_file) : NULL;
	if (!l->enabled) {
		*out = l;
		return 0;
	}
	ret = read_key(l, err, errlen);
	if (ret)
		goto out_free;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "libcurl could not be initialised");
		ret = -EIO;
		goto out_free;
	}
	l->curl_inited = true;
	*out = l;
	return 0;

out_free:
	llm_free(l);
	return ret;
}

void llm_free(struct llm *l)
{
	if (!l)
		return;
	if (l->auth) {
		explicit_bzero(l->auth, strlen(l->auth));
		free(l->auth);
	}
	if (l->curl_inited)
		curl_global_cleanup();
	free(l->endpoint);
	free(l->model);
	free(l->key_env);
	free(l->ca_file);
	free(l);
}

bool llm_enabled(const struct llm *l)
{
	return l && l->enabled;
}

const char *llm_endpoint(const struct llm *l)
{
	return l->endpoint;
}

const char *llm_model(const struct llm *l)
{
	return l->model;
}

/* Overwrites every occurrence of the key in @s with '*': the last guard before any text leaves. */
static void scrub(const struct llm *l, char *s)
{
	const char *key;
	size_t k;

	if (!l || !l->auth)
		return;
	key = l->auth + strlen("Authorization: Bearer ");
	k = strlen(key);
	for (char *p = strstr(s, key); p; p = strstr(p + k, key))
		memset(p, '*', k);
}

PRP_PRINTF(4, 5)
static void set_why(const struct llm *l, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	scrub(l, why);
}

/* What one attempt brought back. */
struct attempt {
	long status; /* 0: no HTTP answer */
	struct buf body;
	bool too_big; /* the answer passed LLM_RESPONSE_MAX */
	bool retry;   /* the failure is one a second attempt may fix */
};

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct attempt *a = userdata;

	if (buf_append(&a->body, data, size * n)) {
		a->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	return size * n;
}

/* "20 s" or "1500 ms". */
static void format_ms(unsigned ms, char *out, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(out, len, "%u s", ms / 1000);
	else
		snprintf(out, len, "%u ms", ms);
}

/*
 * The "code" of an OpenAI-style error answer ({"error": {"code": "model_not_found"}}),
 * copied into @out when it is a short identifier; the free-text message is never
 * used, because some providers quote part of the key in it.
 */
static void error_code(const struct buf *body, char *out, size_t len)
{
	json_t *root = json_loadb((const char *)body->data, body->len, 0, NULL);
	const char *code =
		json_string_value(json_object_get(json_object_get(root, "error"), "code"));
	size_t n = code ? strlen(code) : 0;

	out[0] = '\0';
	if (n && n < len && n <= 48) {
		bool ok = true;

		for (size_t i = 0; i < n && ok; i++)
			ok = isalnum((unsigned char)code[i]) || code[i] == '_' || code[i] == '-' ||
			     code[i] == '.';
		if (ok)
			memcpy(out, code, n + 1);
	}
	json_decref(root);
}

static struct curl_slist *headers_of(const struct llm *l)
{
	const char *lines[] = { "Content-Type: application/json", "Accept: application/json",
				"Expect:", l->auth };
	struct curl_slist *list = NULL, *next;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(lines) && lines[i]; i++) {
		next = curl_slist_append(list, lines[i]);
		if (!next) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = next;
	}
	return list;
}

/*
 * One POST of @body. Returns 0 with a 2xx answer in a->body, or -ETIMEDOUT
 * or -EIO with @why set and a->retry saying whether to try again.
 */
static int attempt_once(const struct llm *l, const char *body, struct attempt *a, char *why,
			size_t whylen)
{
	char errbuf[CURL_ERROR_SIZE] = "", t[32], code[64];
	struct curl_slist *headers;
	CURLcode rc = CURLE_OK;
	CURL *h;

	a->status = 0;
	a->too_big = a->retry = false;
	buf_reset(&a->body);
	h = curl_easy_init();
	headers = h ? headers_of(l) : NULL;
	if (!headers) {
		if (h)
			curl_easy_cleanup(h);
		set_why(l, why, whylen, "libcurl could not start a request");
		return -EIO;
	}
	rc |= curl_easy_setopt(h, CURLOPT_URL, l->endpoint);
	rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)l->timeout_ms);
	rc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)l->timeout_ms);
	rc |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)LLM_RESPONSE_MAX);
	rc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	rc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	rc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	rc |= curl_easy_setopt(h, CURLOPT_USERAGENT, "prp-aggregator/" PRP_VERSION);
	if (l->ca_file)
		rc |= curl_easy_setopt(h, CURLOPT_CAINFO, l->ca_file);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);

	if (a->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		/* a server that answers 1 MiB of chat is broken, not busy: no retry */
		set_why(l, why, whylen, "response larger than %u MiB", LLM_RESPONSE_MAX >> 20);
		return -EIO;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		format_ms(l->timeout_ms, t, sizeof(t));
		set_why(l, why, whylen, "timed out after %s", t);
		a->retry = true;
		return -ETIMEDOUT;
	}
	if (rc != CURLE_OK) {
		set_why(l, why, whylen, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
		a->retry = true;
		return -EIO;
	}
	if (a->status >= 200 && a->status <= 299)
		return 0;
	a->retry = a->status == 429 || a->status >= 500;
	error_code(&a->body, code, sizeof(code));
	if (*code)
		set_why(l, why, whylen, "HTTP %ld (%s)", a->status, code);
	else
		set_why(l, why, whylen, "HTTP %ld", a->status);
	return -EIO;
}

/* Removes a leading <think>...</think> block and surrounding whitespace, in place. */
static char *trim_answer(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (!strncmp(s, "<think>", 7)) {
		char *close = strstr(s, "</think>");

		s = close ? close + 8 : s + strlen(s);
		while (isspace((unsigned char)*s))
			s++;
	}
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* choices[0].message.content of the answer in @body: 0 and *@out, or -EPROTO with @why. */
static int parse_answer(const struct llm *l, const struct buf *body, char **out, char *why,
			size_t whylen)
{
	json_error_t jerr;
	json_t *root, *choices, *message, *content;
	char *text;
	int err = -EPROTO;

	root = json_loadb((const char *)body->data, body->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		set_why(l, why, whylen, "malformed JSON: %.80s at %d:%d", jerr.text, jerr.line,
			jerr.column);
		return -EPROTO;
	}
	if (!json_is_object(root)) {
		set_why(l, why, whylen, "malformed JSON: the answer is not an object");
		goto out_decref;
	}
	choices = json_object_get(root, "choices");
	if (!json_is_array(choices) || !json_array_size(choices)) {
		set_why(l, why, whylen, "no choices");
		goto out_decref;
	}
	message = json_object_get(json_array_get(choices, 0), "message");
	if (!json_is_object(message)) {
		set_why(l, why, whylen, "choices[0].message is not an object");
		goto out_decref;
	}
	content = json_object_get(message, "content");
	if (!json_is_string(content)) {
		set_why(l, why, whylen, "choices[0].message.content is not a string");
		goto out_decref;
	}
	text = xstrndup(json_string_value(content), json_string_length(content));
	if (strlen(text) != json_string_length(content)) {
		set_why(l, why, whylen, "choices[0].message.content holds a NUL");
		free(text);
		goto out_decref;
	}
	{
		char *t = trim_answer(text);

		if (!*t) {
			set_why(l, why, whylen, "empty content");
			free(text);
			goto out_decref;
		}
		memmove(text, t, strlen(t) + 1);
	}
	*out = text;
	err = 0;

out_decref:
	json_decref(root);
	return err;
}

/* The request body: caller owns, free(); NULL when a prompt is not valid UTF-8. */
static char *request_body(const struct llm *l, const char *system, const char *user)
{
	json_t *o = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:f}", "model", l->model,
			      "messages", "role", "system", "content", system, "role", "user",
			      "content", user, "temperature", l->temperature);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return body;
}

/* The call, with its reason in @why (LLM_WHY_MAX or more). */
static int complete(const struct llm *l, const char *system, const char *user, char **out_text,
		    char *why, size_t whylen)
{
	struct attempt a = { 0 };
	uint64_t start = time_mono_ns();
	unsigned tries = 0;
	char *body;
	int err;

	if (!llm_enabled(l)) {
		set_why(l, why, whylen, "no LLM configured");
		return -EOPNOTSUPP;
	}
	if (l->key_missing) {
		set_why(l, why, whylen, "no API key in $%s", l->key_env);
		return -ENOKEY;
	}
	if (strlen(system) + strlen(user) > LLM_PROMPT_MAX) {
		set_why(l, why, whylen, "prompt larger than %u KiB", LLM_PROMPT_MAX >> 10);
		return -E2BIG;
	}
	body = request_body(l, system, user);
	if (!body) {
		set_why(l, why, whylen, "prompt is not valid UTF-8");
		return -EINVAL;
	}
	buf_init(&a.body, LLM_RESPONSE_MAX);
	for (;;) {
		err = attempt_once(l, body, &a, why, whylen);
		tries++;
		if (!err || !a.retry || tries == LLM_ATTEMPTS)
			break;
		log_debug("llm: %s, trying again in %u ms model=%s", why, l->retry_pause_ms,
			  l->model);
		time_sleep_ns((uint64_t)l->retry_pause_ms * NSEC_PER_MSEC);
	}
	if (!err)
		err = parse_answer(l, &a.body, out_text, why, whylen);
	if (err)
		log_ratelimited(LOG_LEVEL_WARN, "llm: no answer after %u attempt%s: %s model=%s",
				tries, tries == 1 ? "" : "s", why, l->model);
	else
		log_debug("llm: answered in %llu ms, %zu bytes model=%s",
			  (unsigned long long)((time_mono_ns() - start) / NSEC_PER_MSEC),
			  strlen(*out_text), l->model);
	buf_release(&a.body);
	free(body);
	return err;
}

int llm_complete(const struct llm *l, const char *system, const char *user, char **out_text,
		 char *why, size_t whylen)
{
	char reason[2 * LLM_WHY_MAX] = "";
	int err;

	*out_text = NULL;
	err = complete(l, system, user, out_text, reason, sizeof(reason));
	if (why && whylen)
		snprintf(why, whylen, "%s", err ? reason : "");
	return err;
}

const char *llm_system_prompt(void)
{
	return "You are the incident analyst of prp, a reliability platform. You explain what "
	       "its measurements show to the engineer on call.\n"
	       "Rules:\n"
	       "- Use only the evidence in the user's message. Do not add causes, services, "
	       "events, times or numbers that are not in it; quote numbers exactly as given, "
	       "with their units.\n"
	       "- If the evidence does not answer the question, say so in one sentence and say "
	       "what it does show.\n"
	       "- Be concise: at most a short paragraph or five bullet points, plain Markdown, "
	       "no headings, no preamble, no closing offer of help.\n"
	       "- Name the most likely cause first when the evidence ranks one.";
}

char *llm_user_prompt(const char *task, const char *evidence)
{
	return xasprintf("%s\n\nEvidence gathered by prp (the only facts you may use):\n"
			 "<evidence>\n%s\n</evidence>",
			 task,
			 evidence && *evidence ? evidence : "(none: prp has no data on this)");
}

int llm_explain(const struct llm *l, const char *task, const char *evidence, char **out_text,
		char *why, size_t whylen)
{
	char *user = llm_user_prompt(task, evidence);
	int err = llm_complete(l, llm_system_prompt(), user, out_text, why, whylen);

	free(user);
	return err;
}
