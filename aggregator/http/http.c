/*
 * libmicrohttpd glue. MHD calls the access handler several times per
 * request: first to set *con_cls, then once per chunk of body, then once
 * more to answer; the answer is queued only on that last call (RECIPES.md
 * §8). Request-scoped memory (struct http_request) belongs to MHD's
 * *con_cls and is freed in the completion callback, whatever happened.
 *
 * A body past its route's limit is read and dropped (memory stays bounded
 * by the limit) so that the 413 can be sent on a clean connection.
 *
 * Streams (resp_stream(), Server-Sent Events) are MHD callback responses
 * whose reader suspends the connection when it has nothing to send, and
 * http_stream_wake() resumes it; both under the stream's lock, so a wake
 * between "nothing" and "suspend" cannot be lost. A suspended connection
 * neither times out nor notices a client that left, so a ticker wakes
 * every stream each HTTP_STREAM_TICK_S: the reader then sends a keep-alive
 * (its own choice) and a dead client fails the write. Before MHD stops,
 * every stream is marked closing and resumed: MHD must not stop with
 * suspended connections.
 */
#include "aggregator/http/http.h"

/* netinet/in.h before microhttpd.h, which needs struct sockaddr_in (RECIPES.md §8) */
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/http/api_env.h"
#include "aggregator/http/blob.h"
#include "aggregator/http/dashboard.h"
#include "aggregator/http/gate.h"
#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"
#include "aggregator/http/routes.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/strparse.h"
#include "common/timeutil.h"

/*
 * Room per connection for the request line and headers: MHD's default is
 * 32 KiB, and MHD clears the used part for each request, so more costs
 * time on every request for no gain.
 */
#define HTTP_CONNECTION_MEMORY_BYTES (32 * 1024)
/* Longest path kept for the access log line. */
#define HTTP_LOG_PATH_MAX 200

/* How often every stream is woken, for its keep-alive and to notice dead clients. */
#define HTTP_STREAM_TICK_S 15

struct http_stream {
	pthread_mutex_t mu; /* suspended, closing; held around the reader */
	bool suspended, closing;
	struct MHD_Connection *conn;
	const struct resp_stream_ops *ops;
	void *ctx;
	struct http_server *server;
	struct http_stream *prev, *next; /* the server's list, under streams_mu */
};

/* An upgrade queued and not yet handed over: freed at stop if it never is. */
struct http_upgrade {
	const struct resp_upgrade_ops *ops;
	void *ctx;
	struct http_server *server;
	struct http_upgrade *prev, *next; /* the server's list, under streams_mu */
};

struct http_upgraded {
	struct MHD_UpgradeResponseHandle *urh;
};

struct http_server {
	struct MHD_Daemon *daemon;
	struct api_env *env;
	uint16_t port;
	bool access_log;
	pthread_mutex_t streams_mu; /* streams, stopping */
	pthread_cond_t ticker_cv;
	struct http_stream *streams;
	size_t nstreams;
	struct http_upgrade *upgrades;
	bool stopping;
	pthread_t ticker;
	bool ticker_running;
};

struct http_request {
	struct buf body;
	bool too_large;
	uint64_t start_ns;
	unsigned status;
	size_t bytes;
	char method[16];
	char path[HTTP_LOG_PATH_MAX + 1];
	char request_id[REQ_ID_MAX + 1];
	char actor[REQ_ACTOR_MAX];    /* who, once the gate has said */
	char ip[INET6_ADDRSTRLEN];
	struct http_upgrade *upgrade; /* queued, not handed over yet; under streams_mu */
};

static struct http_request *http_request_new(struct MHD_Connection *conn, const char *method,
					     const char *url)
{
	struct http_request *hr = xcalloc(1, sizeof(*hr));
	const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	const char *len =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	size_t max = routes_max_body(!strcmp(method, "HEAD") ? "GET" : method, url);
	uint64_t n;

	buf_init(&hr->body, max);
	hr->start_ns = time_mono_ns();
	snprintf(hr->method, sizeof(hr->method), "%s", method);
	snprintf(hr->path, sizeof(hr->path), "%s", url);
	if (id && req_id_valid(id))
		snprintf(hr->request_id, sizeof(hr->request_id), "%s", id);
	else
		req_id_generate(hr->request_id);
	/* refuse early what is announced too large; chunked bodies are caught as they stream */
	if (len && !strparse_u64(len, 0, UINT64_MAX, &n) && n > max)
		hr->too_large = true;
	return hr;
}

static enum MHD_Result http_add_query(void *cls, enum MHD_ValueKind kind, const char *key,
				      size_t key_size, const char *value, size_t value_size)
{
	(void)kind;
	(void)key_size;
	/* "%00" decodes to a NUL that would silently cut the value short */
	if (value && strlen(value) != value_size)
		value = REQ_VALUE_WITH_NUL;
	req_add_query(cls, key, value);
	return MHD_YES;
}

static void http_blob_free(void *cls)
{
	blob_unref(cls);
}

/* ---- streams ---- */

void http_stream_wake(struct http_stream *s)
{
	pthread_mutex_lock(&s->mu);
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
	pthread_mutex_unlock(&s->mu);
}

static ssize_t http_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *s = cls;
	long n;

	(void)pos;
	pthread_mutex_lock(&s->mu);
	n = s->closing ? -1 : s->ops->read(s->ctx, buf, max);
	if (n == 0) {
		s->suspended = true;
		MHD_suspend_connection(s->conn);
	}
	pthread_mutex_unlock(&s->mu);
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void http_stream_free(void *cls)
{
	struct http_stream *s = cls;
	struct http_server *hs = s->server;

	pthread_mutex_lock(&hs->streams_mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		hs->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	hs->nstreams--;
	pthread_mutex_unlock(&hs->streams_mu);
	s->ops->free(s->ctx); /* nothing wakes @s once it returns */
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* MHD's response for the stream of @rp, which it takes. NULL when MHD cannot. */
static struct MHD_Response *http_stream_response(struct http_server *hs,
						 struct MHD_Connection *conn, struct resp *rp)
{
	struct http_stream *s = xcalloc(1, sizeof(*s));
	struct MHD_Response *r;

	pthread_mutex_init(&s->mu, NULL);
	s->conn = conn;
	s->ops = rp->stream_ops;
	s->ctx = rp->stream_ctx;
	s->server = hs;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, http_stream_read, s,
					      http_stream_free);
	if (!r) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return NULL; /* rp still owns the ctx */
	}
	rp->stream_ops = NULL;
	rp->stream_ctx = NULL;
	pthread_mutex_lock(&hs->streams_mu);
	s->closing = hs->stopping;
	s->next = hs->streams;
	if (s->next)
		s->next->prev = s;
	hs->streams = s;
	hs->nstreams++;
	pthread_mutex_unlock(&hs->streams_mu);
	s->ops->start(s->ctx, s);
	return r;
}

/* Wakes every stream; with @closing, for the last time. */
static void http_streams_wake_all(struct http_server *hs, bool closing)
{
	pthread_mutex_lock(&hs->streams_mu);
	for (struct http_stream *s = hs->streams; s; s = s->next) {
		if (closing) {
			pthread_mutex_lock(&s->mu);
			s->closing = true;
			pthread_mutex_unlock(&s->mu);
		}
		http_stream_wake(s);
	}
	pthread_mutex_unlock(&hs->streams_mu);
}

static void *http_ticker_main(void *arg)
{
	struct http_server *hs = arg;

	pthread_mutex_lock(&hs->streams_mu);
	while (!hs->stopping) {
		uint64_t at = time_mono_ns() + HTTP_STREAM_TICK_S * NSEC_PER_SEC;
		struct timespec until = { .tv_sec = (time_t)(at / NSEC_PER_SEC),
					  .tv_nsec = (long)(at % NSEC_PER_SEC) };

		pthread_cond_timedwait(&hs->ticker_cv, &hs->streams_mu, &until);
		if (hs->stopping)
			break;
		pthread_mutex_unlock(&hs->streams_mu);
		http_streams_wake_all(hs, false);
		pthread_mutex_lock(&hs->streams_mu);
	}
	pthread_mutex_unlock(&hs->streams_mu);
	return NULL;
}

size_t http_streams(struct http_server *hs)
{
	size_t n;

	pthread_mutex_lock(&hs->streams_mu);
	n = hs->nstreams;
	pthread_mutex_unlock(&hs->streams_mu);
	return n;
}

static void http_server_init_streams(struct http_server *hs)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&hs->streams_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hs->ticker_cv, &ca);
	pthread_condattr_destroy(&ca);
}

static void http_server_free(struct http_server *hs)
{
	pthread_cond_destroy(&hs->ticker_cv);
	pthread_mutex_destroy(&hs->streams_mu);
	free(hs);
}

/* ---- upgrades ---- */

static void http_upgrade_unlink(struct http_upgrade *u)
{
	if (u->prev)
		u->prev->next = u->next;
	else
		u->server->upgrades = u->next;
	if (u->next)
		u->next->prev = u->prev;
}

static void http_on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
			    const char *extra_in, size_t extra_in_size, MHD_socket sock,
			    struct MHD_UpgradeResponseHandle *urh)
{
	struct http_upgrade *u = cls;
	struct http_request *hr = con_cls;
	struct http_upgraded *h = xcalloc(1, sizeof(*h));

	(void)conn;
	pthread_mutex_lock(&u->server->streams_mu);
	http_upgrade_unlink(u);
	if (hr)
		hr->upgrade = NULL; /* handed over: the completion has nothing to free */
	pthread_mutex_unlock(&u->server->streams_mu);
	h->urh = urh;
	u->ops->upgraded(u->ctx, sock, extra_in, extra_in_size, h);
	free(u);
}

void http_upgraded_close(struct http_upgraded *h)
{
	if (!h)
		return;
	MHD_upgrade_action(h->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(h);
}

static struct MHD_Response *http_upgrade_response(struct http_server *hs,
						  struct http_request *hr, struct resp *rp)
{
	struct http_upgrade *u = xcalloc(1, sizeof(*u));
	struct MHD_Response *r = MHD_create_response_for_upgrade(http_on_upgrade, u);

	if (!r) {
		free(u);
		return NULL; /* rp still owns the ctx */
	}
	u->ops = rp->upgrade_ops;
	u->ctx = rp->upgrade_ctx;
	u->server = hs;
	rp->upgrade_ops = NULL;
	rp->upgrade_ctx = NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", rp->ws_accept);
	pthread_mutex_lock(&hs->streams_mu);
	u->next = hs->upgrades;
	if (u->next)
		u->next->prev = u;
	hs->upgrades = u;
	hr->upgrade = u;
	pthread_mutex_unlock(&hs->streams_mu);
	return r;
}

/*
 * At the end of a request: an upgrade it queued and MHD never handed over
 * (the client left before the 101, or MHD refused it) is freed now, not at
 * stop: else each such handshake would hold its context until then.
 */
static void http_upgrade_abandon(struct http_server *hs, struct http_request *hr)
{
	struct http_upgrade *u;

	pthread_mutex_lock(&hs->streams_mu);
	u = hr->upgrade;
	if (u)
		http_upgrade_unlink(u);
	hr->upgrade = NULL;
	pthread_mutex_unlock(&hs->streams_mu);
	if (u) {
		u->ops->free(u->ctx);
		free(u);
	}
}

/* Builds MHD's response from @rp, taking its body. NULL when MHD cannot. */
static struct MHD_Response *http_response(struct http_server *hs, struct MHD_Connection *conn,
					  struct http_request *hr, struct resp *rp)
{
	struct MHD_Response *r;

	if (rp->stream_ops)
		return http_stream_response(hs, conn, rp);
	if (rp->upgrade_ops)
		return http_upgrade_response(hs, hr, rp);
	if (rp->fd >= 0) {
		r = MHD_create_response_from_fd64(rp->fd_size, rp->fd);
		if (r)
			rp->fd = -1; /* MHD closes it */
		return r;
	}
	if (rp->blob) {
		r = MHD_create_response_from_buffer_with_free_callback_cls(
			rp->blob->len, rp->blob->data, http_blob_free, rp->blob);
		if (r)
			rp->blob = NULL;
		return r;
	}
	if (rp->body) {
		r = MHD_create_response_from_buffer(rp->body_len, rp->body, MHD_RESPMEM_MUST_FREE);
		if (r)
			rp->body = NULL;
		return r;
	}
	return MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result http_send(struct http_server *hs, struct MHD_Connection *conn,
				 struct http_request *hr, struct resp *rp)
{
	size_t len = rp->body_len;
	struct MHD_Response *r = http_response(hs, conn, hr, rp);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (rp->status != 204 && rp->status != 101)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					rp->content_type ? rp->content_type : "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
				rp->cache_control ? rp->cache_control : "no-store");
	if (rp->etag[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, rp->etag);
	if (rp->page_headers) {
		/* the dashboard's: its own scripts only, never framed, nothing sniffed */
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, DASHBOARD_CSP);
		MHD_add_response_header(r, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
		MHD_add_response_header(r, MHD_HTTP_HEADER_X_FRAME_OPTIONS, "DENY");
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	}
	if (rp->status == 200 && rp->content_type && !strcmp(rp->content_type, "text/event-stream"))
		MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* proxies: do not hold it */
	MHD_add_response_header(r, "X-Request-Id", hr->request_id);
	if (rp->allow[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rp->allow);
	if (rp->rate_limited) {
		char v[24];

		snprintf(v, sizeof(v), "%llu", (unsigned long long)rp->rate_limit);
		MHD_add_response_header(r, "X-RateLimit-Limit", v);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)rp->rate_remaining);
		MHD_add_response_header(r, "X-RateLimit-Remaining", v);
		snprintf(v, sizeof(v), "%lld", (long long)rp->rate_reset_s);
		MHD_add_response_header(r, "X-RateLimit-Reset", v);
	}
	if (rp->retry_after_s) {
		char v[24];

		snprintf(v, sizeof(v), "%llu", (unsigned long long)rp->retry_after_s);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
	}
	if (rp->content_encoding)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, rp->content_encoding);
	if (rp->content_encoding || rp->vary_encoding)
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	hr->status = rp->status;
	hr->bytes = len;
	ret = MHD_queue_response(conn, rp->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The peer's address as text into @out, or NULL when MHD cannot tell. */
static const char *http_client_ip(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (!sa)
		return NULL;
	if (sa->sa_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
				 out, (socklen_t)cap);
	if (sa->sa_family == AF_INET6)
		return inet_ntop(AF_INET6,
				 &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
				 (socklen_t)cap);
	return NULL;
}

static void http_answer(struct http_server *hs, struct MHD_Connection *conn,
			struct http_request *hr, const char *method, const char *url,
			struct req *rq, struct resp *rp)
{
	req_init(rq, hs->env, method, url, hr->request_id);
	rq->body = hr->body.data;
	rq->body_len = hr->body.len;
	rq->content_type =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	rq->accept_encoding =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	rq->accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	rq->if_none_match =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	rq->last_event_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
	rq->upgrade = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
	rq->connection =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
	rq->ws_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	rq->ws_version =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, http_add_query, rq);
	resp_init(rp, hr->request_id);
	gate_serve(rq,
		   &(struct gate_input){
			   .x_api_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-API-Key"),
			   .authorization = MHD_lookup_connection_value(
				   conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
			   .client_ip = http_client_ip(conn, hr->ip, sizeof(hr->ip)),
			   .body_too_large = hr->too_large ? hr->body.max_bytes : 0,
		   },
		   rp);
	memcpy(hr->actor, rq->actor, sizeof(hr->actor));
}

static enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
				       const char *method, const char *version,
				       const char *upload_data, size_t *upload_data_size,
				       void **con_cls)
{
	struct http_request *hr = *con_cls;
	struct resp rp;
	enum MHD_Result ret;
	struct req *rq;

	(void)version;
	if (!hr) {
		*con_cls = http_request_new(conn, method, url);
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* past the cap, keep reading and dropping so the 413 can be sent */
		if (!hr->too_large && buf_append(&hr->body, upload_data, *upload_data_size)) {
			hr->too_large = true;
			buf_release(&hr->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* struct req carries a 1 KiB scratch: keep it off MHD's small thread stacks */
	rq = xmalloc(sizeof(*rq));
	http_answer(cls, conn, hr, method, url, rq, &rp);
	ret = http_send(cls, conn, hr, &rp);
	resp_release(&rp);
	free(rq);
	return ret;
}

static void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct http_server *hs = cls;
	struct http_request *hr = *con_cls;
	enum log_level level = hs->access_log ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;

	(void)conn;
	if (!hr)
		return;
	http_upgrade_abandon(hs, hr);
	if (log_enabled(level))
		log_msg(level, 0, "http: %s %s %u %zu bytes in %.3f ms%s by %s from %s request_id=%s",
			hr->method, hr->path, hr->status, hr->bytes,
			(double)(time_mono_ns() - hr->start_ns) / NSEC_PER_MSEC,
			toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)",
			hr->actor[0] ? hr->actor : "-", hr->ip[0] ? hr->ip : "-",
			hr->request_id);
	buf_release(&hr->body);
	free(hr);
	*con_cls = NULL;
}

static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_ratelimited(LOG_LEVEL_WARN, "http: libmicrohttpd: %s", line);
}

union http_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

static int http_addr_parse(const char *host, uint16_t port, union http_addr *a, bool *v6)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, host, &a->in4.sin_addr) == 1) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons(port);
		*v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(port);
		*v6 = true;
		return 0;
	}
	return -EINVAL;
}

int http_start(struct http_server **out, const struct http_options *o)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE;
	struct http_server *hs;
	union http_addr addr;
	const union MHD_DaemonInfo *info;
	bool v6;
	size_t k = 0;
	struct MHD_OptionItem opts[16];
	bool tls = o->tls_cert_pem && o->tls_key_pem;

	if (http_addr_parse(o->bind_address, o->port, &addr, &v6)) {
		log_error("http: cannot parse the address '%s'", o->bind_address);
		return -EINVAL;
	}
	if (v6)
		flags |= MHD_USE_IPv6;
	if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		log_error("http: this libmicrohttpd has no TLS: cannot serve HTTPS");
		return -ENOTSUP;
	}
	if (tls)
		flags |= MHD_USE_TLS;
	hs = xcalloc(1, sizeof(*hs));
	hs->env = o->env;
	hs->access_log = o->access_log;
	http_server_init_streams(hs);
	/* the logger first: MHD warns about options it reads before it */
	opts[k++] =
		(struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)http_mhd_log, NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &addr.sa };
	opts[k++] =
		(struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, o->connection_limit, NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout_s,
					     NULL };
	if (o->per_ip_connection_limit)
		opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
						     o->per_ip_connection_limit, NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
					     HTTP_CONNECTION_MEMORY_BYTES, NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
					     (intptr_t)http_on_completed, hs };
	/* a pool of one draws a warning from MHD: one internal thread is the same */
	if (o->threads > 1)
		opts[k++] =
			(struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL };
	if (tls) {
		opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
						     (void *)(uintptr_t)o->tls_cert_pem };
		opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
						     (void *)(uintptr_t)o->tls_key_pem };
		opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
						     (void *)(uintptr_t)HTTP_TLS_PRIORITIES };
	}
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	errno = 0;
	hs->daemon = MHD_start_daemon(flags, o->port, NULL, NULL, http_on_request, hs,
				      MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!hs->daemon) {
		int err = errno ? -errno : -EIO;

		log_error_err(err, "http: cannot listen on %s port %u", o->bind_address, o->port);
		http_server_free(hs);
		return err;
	}
	if (pthread_create(&hs->ticker, NULL, http_ticker_main, hs) == 0)
		hs->ticker_running = true;
	else
		log_warn("http: no stream ticker: idle streams get no keep-alive");
	info = MHD_get_daemon_info(hs->daemon, MHD_DAEMON_INFO_BIND_PORT);
	hs->port = info ? info->port : o->port;
	log_info("http: listening on %s port %u (%s), %u threads", o->bind_address, hs->port,
		 tls ? "HTTPS, TLS 1.2 and 1.3" : "plain HTTP", o->threads);
	*out = hs;
	return 0;
}

uint16_t http_port(const struct http_server *h)
{
	return h->port;
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->streams_mu);
	h->stopping = true;
	pthread_cond_signal(&h->ticker_cv);
	pthread_mutex_unlock(&h->streams_mu);
	if (h->ticker_running)
		pthread_join(h->ticker, NULL);
	/* MHD must not stop with a suspended connection: end every stream first */
	http_streams_wake_all(h, true);
	for (int i = 0; i < 100 && http_streams(h); i++)
		time_sleep_ns(10 * NSEC_PER_MSEC);
	MHD_stop_daemon(h->daemon);
	/* upgrades MHD never handed over: their connections are gone */
	while (h->upgrades) {
		struct http_upgrade *u = h->upgrades;

		http_upgrade_unlink(u);
		u->ops->free(u->ctx);
		free(u);
	}
	http_server_free(h);
}
