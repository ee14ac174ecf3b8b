/*
 * The HTTP sink (http_sink.h): one thread, one connection at a time, a
 * request read until its Content-Length is in. Enough for libcurl's
 * requests; not an HTTP server.
 */
#include "tests/lib/http_sink.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"

struct http_sink {
	int fd;
	unsigned port;
	int *statuses;
	size_t nstatuses;
	char *body; /* NULL: none */
	size_t body_len;
	char *content_type;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t lock; /* guards heads, bodies, n */
	char *heads[HTTP_SINK_MAX_REQUESTS];
	char *bodies[HTTP_SINK_MAX_REQUESTS];
	size_t n;
};

char *http_sink_header(const char *head, const char *name)
{
	size_t k = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!strncasecmp(line, name, k) && line[k] == ':') {
			const char *v = line + k + 1;

			while (*v == ' ')
				v++;
			return xstrndup(v, end ? (size_t)(end - v) : strlen(v));
		}
	}
	return NULL;
}

/* Reads one request from @c into the lists; false when it broke off. */
static bool read_request(struct http_sink *s, int c)
{
	char *data = xmalloc(1 << 20), *eoh = NULL, *cl;
	size_t len = 0, want = 0;
	bool ok = false;

	for (;;) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0)
			break;
		n = read(c, data + len, (1 << 20) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		data[len] = '\0';
		if (!eoh && (eoh = strstr(data, "\r\n\r\n"))) {
			*eoh = '\0';
			cl = http_sink_header(data, "Content-Length");
			want = (size_t)(eoh - data) + 4 + (cl ? strtoul(cl, NULL, 10) : 0);
			free(cl);
		}
		if (eoh && len >= want) {
			ok = true;
			break;
		}
	}
	if (ok) {
		pthread_mutex_lock(&s->lock);
		if (s->n < HTTP_SINK_MAX_REQUESTS) {
			s->heads[s->n] = xstrdup(data);
			s->bodies[s->n] = xstrndup(eoh + 4, want - (size_t)(eoh - data) - 4);
			s->n++;
		}
		pthread_mutex_unlock(&s->lock);
	}
	free(data);
	return ok;
}

/* Writes all @len bytes of @p; false when the client went away (no SIGPIPE). */
static bool write_all(int c, const void *p, size_t len)
{
	const char *q = p;

	while (len) {
		ssize_t n = send(c, q, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		q += n;
		len -= (size_t)n;
	}
	return true;
}

static void *sink_main(void *arg)
{
	struct http_sink *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		char answer[512];
		size_t i;
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		if (read_request(s, c)) {
			pthread_mutex_lock(&s->lock);
			i = s->n ? s->n - 1 : 0;
			pthread_mutex_unlock(&s->lock);
			if (i >= s->nstatuses)
				i = s->nstatuses - 1;
			snprintf(answer, sizeof(answer),
				 "HTTP/1.1 %d Test\r\nContent-Type: %s\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				 s->statuses[i], s->content_type, s->body_len);
			if (write_all(c, answer, strlen(answer)) && s->body)
				write_all(c, s->body, s->body_len); /* false: the client went away */
		}
		close(c);
	}
	return NULL;
}

struct http_sink *http_sink_start(const int *statuses, size_t n, const char *body)
{
	return http_sink_start_raw(statuses, n, NULL, body, body ? strlen(body) : 0);
}

struct http_sink *http_sink_start_raw(const int *statuses, size_t n, const char *content_type,
				      const void *body, size_t len)
{
	struct http_sink *s = xcalloc(1, sizeof(*s));
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);

	cr_assert_geq(n, 1);
	s->statuses = xcalloc(n, sizeof(*s->statuses));
	memcpy(s->statuses, statuses, n * sizeof(*statuses));
	s->nstatuses = n;
	if (body) {
		s->body = xmalloc(len + 1);
		memcpy(s->body, body, len);
		s->body_len = len;
	}
	s->content_type = xstrdup(content_type ? content_type : "application/json");
	pthread_mutex_init(&s->lock, NULL);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s->fd, 0);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s->fd, 16), 0);
	cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&sa, &salen), 0);
	s->port = ntohs(sa.sin_port);
	cr_assert_eq(pthread_create(&s->thread, NULL, sink_main, s), 0);
	return s;
}

void http_sink_stop(struct http_sink *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->fd);
	for (size_t i = 0; i < s->n; i++) {
		free(s->heads[i]);
		free(s->bodies[i]);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->statuses);
	free(s->body);
	free(s->content_type);
	free(s);
}

unsigned http_sink_port(const struct http_sink *s)
{
	return s->port;
}

size_t http_sink_count(struct http_sink *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

bool http_sink_get(struct http_sink *s, size_t i, char **head, char **body)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = i < s->n;
	if (ok) {
		*head = xstrdup(s->heads[i]);
		*body = xstrdup(s->bodies[i]);
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}
