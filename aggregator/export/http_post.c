/*
 * One HTTP POST over libcurl (http_post.h). The options that do not change
 * are set once on the handle; a post sets its body and its timeout. An
 * answer's body is kept only up to answer_max bytes: for the excerpt that
 * goes into the error text of a refusal (a receiver says why there: Loki's
 * "entry too far behind", a collector's message) and for what a caller
 * reads from a 2xx (OTLP's partial success); the rest is read and dropped.
 */
#include "aggregator/export/http_post.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/timeutil.h"

#define EXCERPT_MAX 160 /* bytes of an answer quoted in the error */

struct http_post {
	CURLM *m; /* runs the post, watched for the deadline; keeps the connection */
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

/* Appends @line (copied) to the list; false: no memory. */
static bool header_add(struct http_post *p, const char *line)
{
	struct curl_slist *next = curl_slist_append(p->headers, line);

	if (!next)
		return false;
	p->headers = next;
	return true;
}

struct http_post *http_post_new(const struct http_post_config *c)
{
	struct http_post *p = xcalloc(1, sizeof(*p));
	CURLcode rc = CURLE_OK;
	bool ok;

	buf_init(&p->answer, c->answer_max);
	p->abort_at_ns = c->abort_at_ns;
	p->m = curl_multi_init();
	p->h = p->m ? curl_easy_init() : NULL;
	/* no 100-continue round trip for a body the receiver will read anyway */
	ok = p->h && header_add(p, "Expect:") && header_add(p, "Content-Type: application/json");
	for (size_t i = 0; ok && i < c->nheaders; i++)
		ok = header_add(p, c->headers[i]);
	if (!ok) {
		http_post_free(p);
		return NULL;
	}
	rc |= curl_easy_setopt(p->h, CURLOPT_URL, c->url);
	rc |= curl_easy_setopt(p->h, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(p->h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(p->h, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, p->headers);
	rc |= curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, on_body);
	rc |= curl_easy_setopt(p->h, CURLOPT_WRITEDATA, &p->answer);
	rc |= curl_easy_setopt(p->h, CURLOPT_USERAGENT, "prp-aggregator/" PRP_VERSION);
	rc |= curl_easy_setopt(p->h, CURLOPT_POST, 1L);
	if (c->ca_file && *c->ca_file)
		rc |= curl_easy_setopt(p->h, CURLOPT_CAINFO, c->ca_file);
	rc |= curl_easy_setopt(p->h, CURLOPT_ERRORBUFFER, p->errbuf);
	/* curl copies string options: the caller may wipe its password once this returns */
	if (c->username && *c->username) {
		rc |= curl_easy_setopt(p->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		rc |= curl_easy_setopt(p->h, CURLOPT_USERNAME, c->username);
		rc |= curl_easy_setopt(p->h, CURLOPT_PASSWORD, c->password ? c->password : "");
	}
	if (rc != CURLE_OK) {
		http_post_free(p);
		return NULL;
	}
	return p;
}

void http_post_free(struct http_post *p)
{
	if (!p)
		return;
	if (p->h)
		curl_easy_cleanup(p->h);
	if (p->m)
		curl_multi_cleanup(p->m);
	/* an extra header may be a token */
	for (struct curl_slist *l = p->headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(p->headers);
	buf_release(&p->answer);
	free(p);
}

/* "HTTP 400: <the answer's first bytes, printable>" into @out. */
static void status_error(struct http_post *p, struct http_post_result *out)
{
	char excerpt[EXCERPT_MAX + 1];
	size_t n = p->answer.len < EXCERPT_MAX ? p->answer.len : EXCERPT_MAX, i;

	for (i = 0; i < n; i++) {
		unsigned char c = p->answer.data[i];

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
static bool aborted(const struct http_post *p)
{
	uint64_t at = p->abort_at_ns ? atomic_load(p->abort_at_ns) : 0;

	return at && time_mono_ns() >= at;
}

/* Runs the handle on the multi handle until it is done or aborted: curl's result. */
static CURLcode run(struct http_post *p)
{
	CURLcode rc = CURLE_ABORTED_BY_CALLBACK;
	CURLMcode mc = CURLM_OK;
	int running = 1;

	if (curl_multi_add_handle(p->m, p->h) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running && mc == CURLM_OK && !aborted(p)) {
		mc = curl_multi_perform(p->m, &running);
		if (running && mc == CURLM_OK)
			mc = curl_multi_poll(p->m, NULL, 0, HTTP_POST_POLL_MS, NULL);
	}
	if (!running) {
		CURLMsg *msg;
		int left;

		while ((msg = curl_multi_info_read(p->m, &left)))
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == p->h)
				rc = msg->data.result;
	} else if (mc != CURLM_OK) {
		rc = CURLE_FAILED_INIT;
		snprintf(p->errbuf, sizeof(p->errbuf), "%s", curl_multi_strerror(mc));
	}
	/* an aborted post's connection is closed here: its answer will never be read */
	curl_multi_remove_handle(p->m, p->h);
	return rc;
}

int http_post_send(struct http_post *p, const char *body, size_t len, unsigned timeout_ms,
		   struct http_post_result *out)
{
	CURLcode rc = CURLE_OK;
	curl_off_t retry_after = 0;

	out->status = 0;
	out->retry_after_ms = -1;
	out->error[0] = '\0';
	p->errbuf[0] = '\0';
	buf_reset(&p->answer);
	rc |= curl_easy_setopt(p->h, CURLOPT_POSTFIELDS, body);
	rc |= curl_easy_setopt(p->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	rc |= curl_easy_setopt(p->h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	rc |= curl_easy_setopt(p->h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	if (rc == CURLE_OK)
		rc = run(p);
	out->body = p->answer.data;
	out->body_len = p->answer.len;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(p->h, CURLINFO_RESPONSE_CODE, &out->status);
		/* curl reads both forms, delta-seconds and an HTTP-date */
		if (curl_easy_getinfo(p->h, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
		    retry_after > 0)
			out->retry_after_ms = retry_after > INT64_MAX / 1000
						      ? INT64_MAX
						      : (int64_t)retry_after * 1000;
		if (out->status < 200 || out->status > 299)
			status_error(p, out);
		return 0;
	}
	snprintf(out->error, sizeof(out->error), "%s",
		 rc == CURLE_ABORTED_BY_CALLBACK ? "cut short by the stop"
		 : p->errbuf[0]			 ? p->errbuf
						 : curl_easy_strerror(rc));
	return rc == CURLE_OPERATION_TIMEDOUT	 ? -ETIMEDOUT
	       : rc == CURLE_ABORTED_BY_CALLBACK ? -ECANCELED
						 : -EIO;
}
