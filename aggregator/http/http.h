/*
 * The HTTP server: the only file of the aggregator that calls
 * libmicrohttpd. It turns each request into a struct req, checks the body
 * limit while the upload streams in (413), gives every request an id, calls
 * routes_dispatch(), sends the struct resp, and logs one debug line per
 * request. Threads: MHD's internal epoll threads (a pool of @threads);
 * http_start() and http_stop() from one thread.
 */
#ifndef PRP_AGGREGATOR_HTTP_HTTP_H
#define PRP_AGGREGATOR_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

struct api_env;
struct http_server;

struct http_options {
	const char *bind_address; /* IPv4 or IPv6 literal */
	uint16_t port;		  /* 0: ephemeral */
	unsigned threads;	  /* >= 1 */
	unsigned connection_limit;
	unsigned per_ip_connection_limit; /* 0: none */
	unsigned connection_timeout_s;
	struct api_env *env; /* borrowed; must outlive the server */
	bool access_log;     /* one info line per request; else at debug level */
	/* HTTPS when both are set: PEM text, borrowed until http_start() returns */
	const char *tls_cert_pem, *tls_key_pem;
};

/* TLS 1.2 and 1.3 only, GnuTLS's default ciphers of those (RECIPES.md). */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/*
 * Starts listening. 0, -EINVAL for a bad address, -ENOTSUP for TLS when
 * libmicrohttpd has none, or the errno of the failed start (a certificate
 * GnuTLS cannot load fails here too, logged).
 */
PRP_MUST_CHECK int http_start(struct http_server **out, const struct http_options *o);
/* The bound port. */
uint16_t http_port(const struct http_server *h);
/* Wakes a stream's connection (resp.h, struct resp_stream_ops) to read from it again. Any thread. */
struct http_stream;
void http_stream_wake(struct http_stream *s);
/* Gives an upgraded connection (resp_upgrade_ops) back: closes its socket. Any thread. */
struct http_upgraded;
void http_upgraded_close(struct http_upgraded *h);
/* Streams open now. */
size_t http_streams(struct http_server *h);

/*
 * Stops: ends every stream, then waits for the worker threads to finish;
 * frees @h. NULL does nothing.
 */
void http_stop(struct http_server *h);

#endif
