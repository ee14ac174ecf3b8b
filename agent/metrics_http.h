/*
 * The agent's own /metrics server (docs/agent.md, "Local /metrics"): a small
 * libmicrohttpd daemon with one internal thread that answers GET and HEAD
 * /metrics with what a render function writes (the Prometheus text format,
 * or OpenMetrics when the Accept header asks for it), 404 on any other path
 * and 405 for any other method, with a JSON error body shaped like the
 * aggregator's: {"error": {"status", "code", "message"}}. It has no
 * authentication: what it listens on is the whole access control. This is
 * the only file of the agent that calls libmicrohttpd.
 *
 * Threads: metrics_http_start() and metrics_http_stop() belong to the main
 * thread; the render function runs on the server's thread, one request at a
 * time, and must not wait for the main loop (agent/node_metrics.h does not).
 */
#ifndef PRP_AGENT_METRICS_HTTP_H
#define PRP_AGENT_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/compiler.h"

/* Connections served at once: a scraper or two, and a person with curl. */
#define METRICS_HTTP_CONNECTIONS_MAX 8
/* An idle or slow connection is closed after this long. */
#define METRICS_HTTP_TIMEOUT_S 5

/*
 * Writes the exposition; returns the text (*@len bytes), which the caller
 * then owns (free()), or NULL when it cannot (answered with a 500).
 */
typedef char *metrics_http_render_fn(void *arg, bool openmetrics, size_t *len);

struct metrics_http;

/*
 * Parses @text, "ADDRESS:PORT" with an IPv4 address (127.0.0.1:9464) or an
 * IPv6 one in brackets ([::1]:9464), literals only, port 1..65535, into
 * @addr. Returns 0, or -EINVAL with a message quoting @text in @err.
 */
PRP_MUST_CHECK int metrics_http_parse_address(const char *text, struct sockaddr_storage *addr,
					      char *err, size_t errlen);

/*
 * Listens on @listen (as metrics_http_parse_address() takes it) and starts
 * the server's thread, which calls @render(@arg, ...) for each scrape (both
 * borrowed: they must outlive the server). SIGINT, SIGTERM and SIGHUP are
 * blocked in that thread, so they reach the main loop. Logs one line:
 * listening, or why it cannot. Returns 0 with *@out set, or a negative
 * errno (-EADDRINUSE for a port already taken, -EINVAL for a bad address).
 */
PRP_MUST_CHECK int metrics_http_start(struct metrics_http **out, const char *listen,
				      metrics_http_render_fn *render, void *arg);

/* Closes the socket, ends the thread (after the request in progress) and frees; NULL is fine. */
void metrics_http_stop(struct metrics_http *m);

#endif
