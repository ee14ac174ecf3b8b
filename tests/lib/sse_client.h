/*
 * A small Server-Sent Events client for tests and benchmarks, on a raw
 * socket to 127.0.0.1: an HTTP/1.0 GET (so the stream comes unchunked and
 * ends with the connection), then events parsed as the SSE format says
 * (id:, event:, data: lines, a blank line ends one, ':' starts a comment).
 * One client, one thread; many clients may share a thread through their fds.
 */
#ifndef PRP_TESTS_LIB_SSE_CLIENT_H
#define PRP_TESTS_LIB_SSE_CLIENT_H

#include <stdint.h>

#include "common/buf.h"

struct sse_client {
	int fd;
	int status; /* the answer's status code, once the headers came */
	struct buf in; /* read, not parsed yet */
	int comments;  /* comment lines seen (keep-alives) */
};

struct sse_event {
	long long id; /* -1 without an id line */
	char type[64];
	char *data; /* owned: free(); "" without data */
};

/*
 * Connects and sends GET @path (with its query) with @api_key (NULL: none)
 * and @last_event_id (NULL: none); then reads the status line and headers
 * (up to @timeout_ms). 0 with c->status set, or -errno.
 */
int sse_client_open(struct sse_client *c, unsigned port, const char *path, const char *api_key,
		    const char *last_event_id, int timeout_ms);
/*
 * The next event, waiting up to @timeout_ms: 1 with @ev filled, 0 on
 * timeout, -1 when the stream ended or failed.
 */
int sse_client_next(struct sse_client *c, int timeout_ms, struct sse_event *ev);
/* Reads what the socket has now without waiting; the next event if a whole one is there (1), else 0, -1 at the end. */
int sse_client_poll(struct sse_client *c, struct sse_event *ev);
void sse_client_close(struct sse_client *c);

#endif
