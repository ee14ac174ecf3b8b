/*
 * Pooled keep-alive libcurl client. Each easy handle keeps its own
 * connection cache, so a handle that goes back to the pool keeps its open
 * connections to users and payments, and the next call that takes it reuses
 * one (curl_easy_reset() keeps live connections). Handles are taken and given
 * back under a mutex; the transfer itself runs without it, on the caller's
 * thread. CURLOPT_NOSIGNAL keeps curl's timeouts from using signals, which
 * threads can't share.
 */
#include "demo/upstream.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

struct upstream_target {
	char *name;
	char *base_url;
};

struct upstream_pool {
	long connect_timeout_ms;
	long timeout_ms;
	struct upstream_target targets[UPSTREAM_MAX_TARGETS]; /* set before any call */
	size_t ntargets;
	pthread_mutex_t lock; /* guards idle and nidle */
	CURL *idle[UPSTREAM_POOL_MAX_IDLE];
	size_t nidle;
};

void upstream_response_init(struct upstream_response *rs)
{
	rs->status = 0;
	buf_init(&rs->body, UPSTREAM_MAX_BODY);
}

void upstream_response_release(struct upstream_response *rs)
{
	buf_release(&rs->body);
}

int upstream_call(const struct upstream *u, const struct upstream_request *rq,
		  struct upstream_response *rs, char *err, size_t errlen)
{
	if (!u->call) {
		snprintf(err, errlen, "no upstream configured for '%s'", rq->service);
		return -ENOENT;
	}
	return u->call(u->ctx, rq, rs, err, errlen);
}

struct upstream_pool *upstream_pool_new(long connect_timeout_ms, long timeout_ms)
{
	struct upstream_pool *p = xcalloc(1, sizeof(*p));

	p->connect_timeout_ms = connect_timeout_ms;
	p->timeout_ms = timeout_ms;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void upstream_pool_free(struct upstream_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nidle; i++)
		curl_easy_cleanup(p->idle[i]);
	for (size_t i = 0; i < p->ntargets; i++) {
		free(p->targets[i].name);
		free(p->targets[i].base_url);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static const char *upstream_pool_url(const struct upstream_pool *p, const char *name)
{
	for (size_t i = 0; i < p->ntargets; i++) {
		if (!strcmp(p->targets[i].name, name))
			return p->targets[i].base_url;
	}
	return NULL;
}

int upstream_pool_add(struct upstream_pool *p, const char *name, const char *base_url)
{
	size_t len = strlen(base_url);

	if (upstream_pool_url(p, name))
		return -EEXIST;
	if (p->ntargets >= UPSTREAM_MAX_TARGETS)
		return -E2BIG;
	while (len && base_url[len - 1] == '/')
		len--;
	p->targets[p->ntargets].name = xstrdup(name);
	p->targets[p->ntargets].base_url = xstrndup(base_url, len);
	p->ntargets++;
	return 0;
}

struct upstream upstream_pool_as_upstream(struct upstream_pool *p)
{
	return (struct upstream){ .call = upstream_pool_call, .ctx = p };
}

static CURL *upstream_pool_take(struct upstream_pool *p)
{
	CURL *h = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->nidle)
		h = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->lock);
	return h ? h : curl_easy_init();
}

/*
 * Resets @h first: it must not keep pointers to the finished call's stack
 * buffer and header list. The reset keeps its live connections.
 */
static void upstream_pool_give_back(struct upstream_pool *p, CURL *h)
{
	curl_easy_reset(h);
	pthread_mutex_lock(&p->lock);
	if (p->nidle < UPSTREAM_POOL_MAX_IDLE) {
		p->idle[p->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	if (h)
		curl_easy_cleanup(h);
}

static size_t upstream_on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct buf *b = userdata;

	/* curl documents size as always 1; returning short aborts with CURLE_WRITE_ERROR */
	if (buf_append(b, data, size * n))
		return 0;
	return size * n;
}

static int upstream_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_WRITE_ERROR: /* only upstream_on_body() fails writes: the body cap */
		return -E2BIG;
	default:
		return -EIO;
	}
}

/* Sets the options of one call; returns the header list to free, NULL on failure. */
static struct curl_slist *upstream_setup(struct upstream_pool *p, CURL *h, const char *url,
					 const struct upstream_request *rq,
					 struct upstream_response *rs, char *errbuf)
{
	struct curl_slist *headers = NULL, *next;
	char id_header[128];
	CURLcode rc = CURLE_OK;

	next = curl_slist_append(headers, "Content-Type: application/json");
	if (next)
		headers = next;
	next = next ? curl_slist_append(headers, "Expect:") : NULL; /* no 100-continue */
	if (next)
		headers = next;
	if (next && rq->request_id) {
		snprintf(id_header, sizeof(id_header), "X-Request-Id: %s", rq->request_id);
		next = curl_slist_append(headers, id_header);
		if (next)
			headers = next;
	}
	if (!next) {
		curl_slist_free_all(headers);
		return NULL;
	}

	rc |= curl_easy_setopt(h, CURLOPT_URL, url);
	rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, p->connect_timeout_ms);
	rc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, p->timeout_ms);
	rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, upstream_on_body);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, &rs->body);
	rc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	rc |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	if (rq->body) {
		rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->body));
		rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
	}
	if (rc != CURLE_OK) {
		curl_slist_free_all(headers);
		return NULL;
	}
	return headers;
}

int upstream_pool_call(void *ctx, const struct upstream_request *rq, struct upstream_response *rs,
		       char *err, size_t errlen)
{
	struct upstream_pool *p = ctx;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers;
	const char *base;
	char *url;
	CURL *h;
	CURLcode rc;
	int ret = 0;

	base = upstream_pool_url(p, rq->service);
	if (!base) {
		snprintf(err, errlen, "no URL for service '%s'", rq->service);
		return -ENOENT;
	}
	h = upstream_pool_take(p);
	if (!h) {
		snprintf(err, errlen, "cannot create a curl handle");
		return -ENOMEM;
	}
	url = xasprintf("%s%s", base, rq->path);
	headers = upstream_setup(p, h, url, rq, rs, errbuf);
	if (!headers) {
		snprintf(err, errlen, "cannot set up a call to '%s'", url);
		ret = -EIO;
		goto out;
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		ret = upstream_errno(rc);
		if (ret == -E2BIG)
			snprintf(err, errlen, "%s %s: response larger than %d bytes", rq->method,
				 url, UPSTREAM_MAX_BODY);
		else
			snprintf(err, errlen, "%s %s: %s", rq->method, url,
				 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
	}
	curl_slist_free_all(headers);
out:
	upstream_pool_give_back(p, h);
	free(url);
	return ret;
}
