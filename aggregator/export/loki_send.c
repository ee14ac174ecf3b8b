/*
 * One Loki push over libcurl (loki_send.h). The options that do not change
 * are set once on the handle; a push sets its body and its timeout. An
 * answer's body is kept only up to ANSWER_MAX bytes, for the excerpt that
 * goes into the error text (Loki says why it refused a push there: "entry
 * too far behind", "invalid labels"); the rest is read and dropped.
 */
#include "aggregator/export/loki_send.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/timeutil.h"

#define ANSWER_MAX  512 /* bytes of an answer kept */
#define EXCERPT_MAX 160 /* of them, quoted in the error */
#define POLL_MS	    50	/* how often a push in flight looks at the abort deadline */

struct loki_send {
	CURLM *m; /* runs the push, watched for the deadline; keeps the connection */
	CURL *h;
	struct curl_slist *headers;
	struct buf answer;
	char errbuf[CURL_ERROR_SIZE];
	const _Atomic uint64_t *abort_at_ns;
};

/* Keeps the answer up to its cap and reads the rest away. */
static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct buf *b = userdata;
	size_t room = b->max_bytes - b->len;

	if (room && buf_append(b, data, n < room ? n : room))
		return 0;
	return size * n;
}

/* Appends "@name: @value" (@value NULL: "@name:", which removes it); false: no memory. */
static bool header_add(struct loki_send *s, const char *name, const char *value)
{
	char *line = value ? xasprintf("%s: %s", name, value) : xasprintf("%s:", name);
	struct curl_slist *next = curl_slist_append(s->headers, line);

	explicit_bzero(line, strlen(line)); /* a bearer token */
	free(line);
	if (!next)
		return false;
	s->headers = next;
	return true;
}

struct loki_send *loki_send_new(const struct loki_send_config *c)
{
	struct loki_send *s = xcalloc(1, sizeof(*s));
	CURLcode rc = CURLE_OK;
	bool ok;

	buf_init(&s->answer, ANSWER_MAX);
	s->abort_at_ns = c->abort_at_ns;
	s->m = curl_multi_init();
	s->h = s->m ? curl_easy_init() : NULL;
	/* no 100-continue round trip for a body Loki will read anyway */
	ok = s->h && header_add(s, "Expect", NULL) &&
	     header_add(s, "Content-Type", "application/json");
	if (ok && c->tenant && *c->tenant)
		ok = header_add(s, "X-Scope-OrgID", c->tenant);
	if (ok && c->bearer_token && *c->bearer_token) {
		char *v = xasprintf("Bearer %s", c->bearer_token);

		ok = header_add(s, "Authorization", v);
		explicit_bzero(v, strlen(v));
		free(v);
	}
	if (!ok) {
		loki_send_free(s);
		return NULL;
	}
	rc |= curl_easy_setopt(s->h, CURLOPT_URL, c->url);
	rc |= curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(s->h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(s->h, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->headers);
	rc |= curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
	rc |= curl_easy_setopt(s->h, CURLOPT_WRITEDATA, &s->answer);
	rc |= curl_easy_setopt(s->h, CURLOPT_USERAGENT, "prp-aggregator/" PRP_VERSION);
	rc |= curl_easy_setopt(s->h, CURLOPT_POST, 1L);
	if (c->ca_file && *c->ca_file)
		rc |= curl_easy_setopt(s->h, CURLOPT_CAINFO, c->ca_file);
	rc |= curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->errbuf);
	/* curl copies string options: the caller may wipe its password once this returns */
	if (c->username && *c->username) {
		rc |= curl_easy_setopt(s->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		rc |= curl_easy_setopt(s->h, CURLOPT_USERNAME, c->username);
		rc |= curl_easy_setopt(s->h, CURLOPT_PASSWORD, c->password ? c->password : "");
	}
	if (rc != CURLE_OK) {
		loki_send_free(s);
		return NULL;
	}
	return s;
}

void loki_send_free(struct loki_send *s)
{
	if (!s)
		return;
	if (s->h)
		curl_easy_cleanup(s->h);
	if (s->m)
		curl_multi_cleanup(s->m);
	for (struct curl_slist *l = s->headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(s->headers);
	buf_release(&s->answer);
	free(s);
}

/* "HTTP 400: <the answer's first bytes, printable>" into @out. */
static void status_error(struct loki_send *s, struct loki_send_result *out)
{
	char excerpt[EXCERPT_MAX + 1];
	size_t n = s->answer.len < EXCERPT_MAX ? s->answer.len : EXCERPT_MAX, i;

	for (i = 0; i < n; i++) {
		unsigned char c = s->answer.data[i];

		/* a log line is no place for an answer's control bytes or half characters */
		excerpt[i] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
	}
	while (i && excerpt[i - 1] == ' ')
		i--;
	excerpt[i] = '\0';
	snprintf(out->error, sizeof(out->error), "HTTP %ld%s%s", out->status, i ? ": " : "",
		 excerpt);
}

/* True once the abort deadline has passed. */
static bool aborted(const struct loki_send *s)
{
	uint64_t at = s->abort_at_ns ? atomic_load(s->abort_at_ns) : 0;

	return at && time_mono_ns() >= at;
}

/* Runs the handle on the multi handle until it is done or aborted: curl's result. */
static CURLcode run(struct loki_send *s)
{
	CURLcode rc = CURLE_ABORTED_BY_CALLBACK;
	CURLMcode mc = CURLM_OK;
	int running = 1;

	if (curl_multi_add_handle(s->m, s->h) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running && mc == CURLM_OK && !aborted(s)) {
		mc = curl_multi_perform(s->m, &running);
		if (running && mc == CURLM_OK)
			mc = curl_multi_poll(s->m, NULL, 0, POLL_MS, NULL);
	}
	if (!running) {
		CURLMsg *msg;
		int left;

		while ((msg = curl_multi_info_read(s->m, &left)))
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == s->h)
				rc = msg->data.result;
	} else if (mc != CURLM_OK) {
		rc = CURLE_FAILED_INIT;
		snprintf(s->errbuf, sizeof(s->errbuf), "%s", curl_multi_strerror(mc));
	}
	/* an aborted push's connection is closed here: its answer will never be read */
	curl_multi_remove_handle(s->m, s->h);
	return rc;
}

int loki_send_post(struct loki_send *s, const char *body, size_t len, unsigned timeout_ms,
		   struct loki_send_result *out)
{
	CURLcode rc = CURLE_OK;

	out->status = 0;
	out->error[0] = '\0';
	s->errbuf[0] = '\0';
	buf_reset(&s->answer);
	rc |= curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, body);
	rc |= curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	rc |= curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	rc |= curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	if (rc == CURLE_OK)
		rc = run(s);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &out->status);
		if (out->status < 200 || out->status > 299)
			status_error(s, out);
		return 0;
	}
	snprintf(out->error, sizeof(out->error), "%s",
		 rc == CURLE_ABORTED_BY_CALLBACK ? "cut short by the stop"
		 : s->errbuf[0]			 ? s->errbuf
						 : curl_easy_strerror(rc));
	return rc == CURLE_OPERATION_TIMEDOUT	 ? -ETIMEDOUT
	       : rc == CURLE_ABORTED_BY_CALLBACK ? -ECANCELED
						 : -EIO;
}
