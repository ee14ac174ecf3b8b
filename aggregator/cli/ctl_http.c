/*
 * prpctl's HTTP client (ctl_http.h). Where an answer goes is decided at its
 * first byte, once the status line and headers are in: a 2xx answer that is
 * not JSON goes to the sink when there is one (the backup's database file),
 * everything else to memory, so an error envelope is never written into a
 * backup file.
 *
 * Invariant: the API key is copied only into the request's header list,
 * which is wiped before it is freed.
 */
#include "aggregator/cli/ctl_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/timeutil.h"

#define PROGRESS_EVERY_NS (100 * NSEC_PER_MSEC) /* ten updates a second reads as live */

_Static_assert(CTL_HTTP_ERROR_LEN >= CURL_ERROR_SIZE, "room for curl's error text");

/* One request in flight: what the callbacks share. */
struct xfer {
	CURL *h;
	const struct ctl_http_req *rq;
	struct ctl_http_resp *rs;
	bool decided;	  /* the first byte of the answer has been seen */
	int sink_err;	  /* -errno of a failed write to the sink */
	bool too_big;	  /* the in-memory answer passed CTL_HTTP_BODY_MAX */
	uint64_t last_ns; /* when the progress line was last written */
	bool shown;	  /* a progress line is on stderr */
};

int ctl_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void ctl_http_global_cleanup(void)
{
	curl_global_cleanup();
}

bool ctl_http_is_json(const char *ct)
{
	size_t n;

	if (!ct)
		return false;
	n = strcspn(ct, "; \t");
	return (n == 16 && !strncasecmp(ct, "application/json", 16)) ||
	       (n > 5 && !strncasecmp(ct + n - 5, "+json", 5));
}

char *ctl_http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* Decides, at the answer's first byte, whether it goes to the sink. */
static void decide(struct xfer *x)
{
	const char *ct = NULL;
	long status = 0;

	x->decided = true;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ct);
	x->rs->to_sink = x->rq->sink && status >= 200 && status <= 299 && !ctl_http_is_json(ct);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (!x->decided)
		decide(x);
	if (x->rs->to_sink) {
		if (fwrite(data, 1, len, x->rq->sink) != len) {
			x->sink_err = errno ? -errno : -EIO;
			return 0; /* curl stops with CURLE_WRITE_ERROR */
		}
		x->rs->sink_bytes += len;
		return len;
	}
	if (buf_append(&x->rs->body, data, len)) {
		x->too_big = true;
		return 0;
	}
	return len;
}

/* "812 KiB", "1.4 GiB". */
static void format_bytes(uint64_t n, char *out, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < PRP_ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%llu B", (unsigned long long)n);
	else
		snprintf(out, len, "%.1f %s", v, units[u]);
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = arg;
	uint64_t now = time_mono_ns();
	char got[32], total[32];

	(void)ultotal;
	(void)ulnow;
	if (dlnow <= 0 || (x->shown && now - x->last_ns < PROGRESS_EVERY_NS))
		return 0;
	x->last_ns = now;
	x->shown = true;
	format_bytes((uint64_t)dlnow, got, sizeof(got));
	if (dltotal > 0) {
		format_bytes((uint64_t)dltotal, total, sizeof(total));
		fprintf(stderr, "\r\033[Kprpctl: received %s of %s", got, total);
	} else {
		fprintf(stderr, "\r\033[Kprpctl: received %s", got);
	}
	fflush(stderr);
	return 0;
}

static void free_headers(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

static int append_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *next = curl_slist_append(*list, line);

	if (!next)
		return -ENOMEM;
	*list = next;
	return 0;
}

/* The request's header list: caller owns, curl_slist_free_all(). NULL when out of memory. */
static struct curl_slist *headers_of(const struct ctl_http_conn *conn,
				     const struct ctl_http_req *rq)
{
	struct curl_slist *list = NULL;
	char *line;
	int err = 0;

	line = xasprintf("Accept: %s", rq->accept ? rq->accept : "application/json");
	err |= append_header(&list, line);
	free(line);
	if (rq->body) {
		line = xasprintf("Content-Type: %s",
				 rq->content_type ? rq->content_type : "application/json");
		err |= append_header(&list, line);
		free(line);
	}
	/* no "100 Continue" round trip before a body: the API answers at once */
	err |= append_header(&list, "Expect:");
	if (conn->key) {
		line = xasprintf("X-API-Key: %s", conn->key);
		err |= append_header(&list, line);
		explicit_bzero(line, strlen(line));
		free(line);
	}
	if (err) {
		free_headers(list);
		return NULL;
	}
	return list;
}

static CURLcode set_method(CURL *h, const struct ctl_http_req *rq)
{
	CURLcode rc = CURLE_OK;
	bool post = !strcmp(rq->method, "POST");

	if (post || rq->body) {
		rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				       (curl_off_t)(rq->body ? rq->body_len : 0));
	}
	if (!post && strcmp(rq->method, "GET"))
		rc |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	return rc;
}

static CURLcode set_options(struct xfer *x, const struct ctl_http_conn *conn, const char *url,
			    struct curl_slist *headers, char *errbuf)
{
	CURL *h = x->h;
	CURLcode rc = CURLE_OK;

	rc |= curl_easy_setopt(h, CURLOPT_URL, url);
	rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(h, CURLOPT_USERAGENT, "prpctl/" PRP_VERSION);
	rc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	rc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	rc |= set_method(h, x->rq);
	if (conn->timeout_ms) {
		rc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)conn->timeout_ms);
		if (x->rq->sink) {
			/* a download may take long: give up only when it stalls */
			rc |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
			rc |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
					       (long)((conn->timeout_ms + 999) / 1000));
		} else {
			rc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)conn->timeout_ms);
		}
	}
	if (conn->cacert)
		rc |= curl_easy_setopt(h, CURLOPT_CAINFO, conn->cacert);
	if (conn->insecure) {
		rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (x->rq->progress) {
		rc |= curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		rc |= curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
		rc |= curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	return rc;
}

/* Sets rs->error and the return value from how the transfer ended. */
static int outcome(struct xfer *x, CURLcode rc, const char *errbuf)
{
	struct ctl_http_resp *rs = x->rs;

	if (x->sink_err) {
		snprintf(rs->error, sizeof(rs->error), "cannot write the answer: %s",
			 strerror(-x->sink_err));
		return x->sink_err;
	}
	if (x->too_big) {
		snprintf(rs->error, sizeof(rs->error), "the answer is larger than %u MiB",
			 CTL_HTTP_BODY_MAX >> 20);
		return -E2BIG;
	}
	if (rc != CURLE_OK) {
		snprintf(rs->error, sizeof(rs->error), "%s",
			 *errbuf ? errbuf : curl_easy_strerror(rc));
		rs->status = 0;
		return -EIO;
	}
	return 0;
}

int ctl_http_do(const struct ctl_http_conn *conn, const struct ctl_http_req *rq,
		struct ctl_http_resp *rs)
{
	struct xfer x = { .rq = rq, .rs = rs };
	char errbuf[CURL_ERROR_SIZE] = "", *url;
	const char *ct = NULL;
	struct curl_slist *headers;
	CURLcode rc;
	int err;

	memset(rs, 0, sizeof(*rs));
	buf_init(&rs->body, CTL_HTTP_BODY_MAX);
	x.h = curl_easy_init();
	headers = x.h ? headers_of(conn, rq) : NULL;
	if (!headers) {
		snprintf(rs->error, sizeof(rs->error), "libcurl could not start a request");
		err = -ENOMEM;
		goto out_cleanup;
	}
	url = xasprintf("%s%s", conn->base_url, rq->path);
	rc = set_options(&x, conn, url, headers, errbuf);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(x.h);
	free(url);
	if (x.shown) {
		fputs("\r\033[K", stderr); /* the final line replaces the progress line */
		fflush(stderr);
	}
	curl_easy_getinfo(x.h, CURLINFO_RESPONSE_CODE, &rs->status);
	if (curl_easy_getinfo(x.h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		rs->content_type = xstrdup(ct);
	err = outcome(&x, rc, errbuf);
	free_headers(headers);
out_cleanup:
	if (x.h)
		curl_easy_cleanup(x.h);
	return err;
}

void ctl_http_resp_release(struct ctl_http_resp *rs)
{
	buf_release(&rs->body);
	free(rs->content_type);
	rs->content_type = NULL;
}
