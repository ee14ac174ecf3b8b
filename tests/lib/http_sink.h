/*
 * A tiny HTTP server for tests of outgoing requests (webhooks, alerts,
 * Kubernetes calls): listens on 127.0.0.1 at a free port, keeps every
 * request it gets (head and body, as received) and answers each with the
 * next status of a script (the last one repeats), an optional body (JSON
 * unless started with http_sink_start_raw()), and Connection: close.
 */
#ifndef PRP_TESTS_LIB_HTTP_SINK_H
#define PRP_TESTS_LIB_HTTP_SINK_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_SINK_MAX_REQUESTS 64

struct http_sink;

/* Starts it answering @statuses in turn (@n >= 1) with @body (NULL: none); asserts on failure. */
struct http_sink *http_sink_start(const int *statuses, size_t n, const char *body);
/*
 * As http_sink_start(), answering with the @len bytes at @body (any bytes,
 * NULs included) as @content_type (NULL: application/json).
 */
struct http_sink *http_sink_start_raw(const int *statuses, size_t n, const char *content_type,
				      const void *body, size_t len);
void http_sink_stop(struct http_sink *s);
unsigned http_sink_port(const struct http_sink *s);
size_t http_sink_count(struct http_sink *s);
/*
 * Request @i: its request line and headers, and its body; copies the
 * caller frees. false when there is no such request.
 */
bool http_sink_get(struct http_sink *s, size_t i, char **head, char **body);
/* The value of header @name (case-insensitive) in @head, copied; NULL when absent. */
char *http_sink_header(const char *head, const char *name);

#endif
