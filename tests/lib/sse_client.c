#include "tests/lib/sse_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/timeutil.h"

#define SSE_CLIENT_MAX (16u << 20)

/* Reads once, waiting up to @timeout_ms: > 0 bytes, 0 timeout, -1 end or error. */
static int sse_client_fill(struct sse_client *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char chunk[8192];
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	n = read(c->fd, chunk, sizeof(chunk));
	if (n <= 0)
		return -1;
	return buf_append(&c->in, chunk, (size_t)n) ? -1 : (int)n;
}

int sse_client_open(struct sse_client *c, unsigned port, const char *path, const char *api_key,
		    const char *last_event_id, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[2048];
	uint64_t deadline = time_mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	int n;

	memset(c, 0, sizeof(*c));
	buf_init(&c->in, SSE_CLIENT_MAX);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		sse_client_close(c);
		return err;
	}
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%s%s%s%s%s%s\r\n",
		     path, api_key ? "X-API-Key: " : "", api_key ? api_key : "",
		     api_key ? "\r\n" : "", last_event_id ? "Last-Event-ID: " : "",
		     last_event_id ? last_event_id : "", last_event_id ? "\r\n" : "");
	if (n <= 0 || (size_t)n >= sizeof(req) || write(c->fd, req, (size_t)n) != n) {
		sse_client_close(c);
		return -EIO;
	}
	for (;;) {
		const char *end = c->in.len ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL;
		uint64_t now = time_mono_ns();

		if (end) {
			size_t used = (size_t)(end - (const char *)c->in.data) + 4;

			if (sscanf((const char *)c->in.data, "HTTP/%*d.%*d %d", &c->status) != 1)
				break;
			memmove(c->in.data, c->in.data + used, c->in.len - used);
			c->in.len -= used;
			return 0;
		}
		if (now >= deadline ||
		    sse_client_fill(c, (int)((deadline - now) / NSEC_PER_MSEC) + 1) < 0)
			break;
	}
	sse_client_close(c);
	return -EIO;
}

/* One whole event out of c->in: 1, or 0 when none is complete yet. */
static int sse_client_parse(struct sse_client *c, struct sse_event *ev)
{
	for (;;) {
		char *start = (char *)c->in.data, *end;
		size_t used;

		if (!c->in.len)
			return 0;
		end = memmem(start, c->in.len, "\n\n", 2);
		if (!end)
			return 0;
		*end = '\0';
		used = (size_t)(end - start) + 2;
		ev->id = -1;
		ev->type[0] = '\0';
		ev->data = NULL;
		for (char *line = start, *next; line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			if (line[0] == ':')
				c->comments++;
			else if (!strncmp(line, "id: ", 4))
				ev->id = atoll(line + 4);
			else if (!strncmp(line, "event: ", 7))
				snprintf(ev->type, sizeof(ev->type), "%s", line + 7);
			else if (!strncmp(line, "data: ", 6)) {
				free(ev->data);
				ev->data = strdup(line + 6);
			}
		}
		memmove(c->in.data, c->in.data + used, c->in.len - used);
		c->in.len -= used;
		if (ev->type[0] || ev->data) {
			if (!ev->data)
				ev->data = strdup("");
			return 1;
		}
		free(ev->data); /* a block of comments or retry: only */
	}
}

int sse_client_next(struct sse_client *c, int timeout_ms, struct sse_event *ev)
{
	uint64_t deadline = time_mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;

	for (;;) {
		uint64_t now;
		int r;

		if (sse_client_parse(c, ev))
			return 1;
		now = time_mono_ns();
		if (now >= deadline)
			return 0;
		r = sse_client_fill(c, (int)((deadline - now) / NSEC_PER_MSEC) + 1);
		if (r < 0)
			return -1;
	}
}

int sse_client_poll(struct sse_client *c, struct sse_event *ev)
{
	if (sse_client_parse(c, ev))
		return 1;
	if (sse_client_fill(c, 0) < 0)
		return -1;
	return sse_client_parse(c, ev);
}

void sse_client_close(struct sse_client *c)
{
	if (c->fd > 0)
		close(c->fd);
	c->fd = -1;
	buf_release(&c->in);
}
