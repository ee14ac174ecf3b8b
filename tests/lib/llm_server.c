/*
 * The chat completions stand-in (llm_server.h): an accept thread and one
 * detached thread per connection, so that concurrent clients (and a client
 * retrying while a SLOW answer is still pending) are served at once; stop
 * waits for the connection threads to finish. One request per connection,
 * answered with Connection: close. Enough for libcurl; not an HTTP server.
 */
#include "tests/lib/llm_server.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "tests/lib/http_sink.h"

#define REQUEST_MAX (1u << 20) /* the client bounds its prompts well below this */
#define HUGE_BYTES  (2u << 20)

struct llm_server {
	int fd;
	unsigned port;
	char url[64];
	enum llm_server_mode *script;
	size_t nscript;
	pthread_t accepter;
	atomic_bool stop;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t idle;  /* signalled when active drops to 0 */
	unsigned active;      /* connection threads running */
	size_t seen;	      /* requests read completely, which picks the script's mode */
	char *text;	      /* NULL: echo */
	unsigned delay_ms;
	char *last_line, *last_auth, *last_body;
};

struct conn {
	struct llm_server *s;
	int fd;
};

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k <= 0)
			return; /* the client went away: nothing to do */
		p += k;
		n -= (size_t)k;
	}
}

static void answer(int fd, int status, const char *body, bool content_length)
{
	char head[256];

	if (content_length)
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d Test\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, strlen(body));
	else
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d Test\r\nContent-Type: application/json\r\n"
			 "Connection: close\r\n\r\n",
			 status);
	send_all(fd, head, strlen(head));
	send_all(fd, body, strlen(body));
}

/* A chat completion whose content is @content (NULL: JSON null); caller frees. */
static char *completion(const char *model, const char *content)
{
	json_t *o =
		json_pack("{s:s, s:s, s:i, s:s, s:[{s:i, s:{s:s, s:o}, s:s}], s:{s:i, s:i}}", "id",
			  "chatcmpl-test", "object", "chat.completion", "created", 0, "model",
			  model ? model : "", "choices", "index", 0, "message", "role", "assistant",
			  "content", content ? json_string(content) : json_null(), "finish_reason",
			  "stop", "usage", "prompt_tokens", 1, "completion_tokens", 1);
	char *s;

	cr_assert_not_null(o, "the test answer does not pack (content not UTF-8?)");
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static char *error_body(const char *message, const char *code)
{
	json_t *o = json_pack("{s:{s:s, s:s, s:s}}", "error", "message", message, "type",
			      "test_error", "code", code);
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

/* Sleeps @ms, or less when the server stops. */
static void nap(struct llm_server *s, unsigned ms)
{
	for (unsigned i = 0; i < ms && !atomic_load(&s->stop); i += 10) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
}

/*
 * Reads one request from @fd: its head and body, copies the caller frees.
 * false when it broke off or passed REQUEST_MAX.
 */
static bool read_request(struct llm_server *s, int fd, char **head, char **body)
{
	char *data = xmalloc(REQUEST_MAX + 1), *eoh = NULL, *cl;
	size_t len = 0, want = 0;
	bool ok = false;

	while (!atomic_load(&s->stop) && len < REQUEST_MAX) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0)
			break;
		n = read(fd, data + len, REQUEST_MAX - len);
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
		*head = xstrdup(data);
		*body = xstrndup(eoh + 4, want - (size_t)(eoh - data) - 4);
	}
	free(data);
	return ok;
}

/* Records the request and returns its mode and (a copy of) the text to answer with. */
static enum llm_server_mode record(struct llm_server *s, const char *head, const char *body,
				   char **text, unsigned *delay_ms)
{
	const char *eol = strstr(head, "\r\n");
	char *line = xstrndup(head, eol ? (size_t)(eol - head) : strlen(head));
	char *sp = strchr(line, ' ');
	enum llm_server_mode mode;

	/* "POST /v1/chat/completions HTTP/1.1" -> "POST /v1/chat/completions" */
	if (sp && (sp = strchr(sp + 1, ' ')))
		*sp = '\0';
	pthread_mutex_lock(&s->lock);
	mode = s->script[s->seen < s->nscript ? s->seen : s->nscript - 1];
	s->seen++;
	free(s->last_line);
	free(s->last_auth);
	free(s->last_body);
	s->last_line = line;
	s->last_auth = http_sink_header(head, "Authorization");
	s->last_body = xstrdup(body);
	*text = xstrdup(s->text ? s->text : body);
	*delay_ms = s->delay_ms;
	pthread_mutex_unlock(&s->lock);
	return mode;
}

static void serve(struct llm_server *s, int fd)
{
	char *head, *body, *text, *out = NULL, *auth;
	const char *model;
	enum llm_server_mode mode;
	unsigned delay_ms;
	json_t *req;

	if (!read_request(s, fd, &head, &body))
		return;
	mode = record(s, head, body, &text, &delay_ms);
	req = json_loads(body, 0, NULL);
	model = json_string_value(json_object_get(req, "model"));
	switch (mode) {
	case LLM_SERVER_SLOW:
		nap(s, delay_ms);
		/* fall through */
	case LLM_SERVER_NORMAL:
		out = completion(model, text);
		answer(fd, 200, out, true);
		break;
	case LLM_SERVER_ERROR:
		out = error_body("the model crashed", "server_error");
		answer(fd, 500, out, true);
		break;
	case LLM_SERVER_TOO_MANY:
		out = error_body("slow down", "rate_limit_exceeded");
		answer(fd, 429, out, true);
		break;
	case LLM_SERVER_UNAUTHORIZED: {
		char *msg;

		auth = http_sink_header(head, "Authorization");
		/* as some providers do: the message quotes what it got */
		msg = xasprintf("Incorrect API key provided: %s", auth ? auth : "(none)");
		out = error_body(msg, "invalid_api_key");
		answer(fd, 401, out, true);
		free(msg);
		free(auth);
		break;
	}
	case LLM_SERVER_MALFORMED:
		answer(fd, 200, "{\"choices\": [{\"message\": {\"content\": \"cut", true);
		break;
	case LLM_SERVER_NO_CHOICES:
		answer(fd, 200,
		       "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion\",\"choices\":[]}",
		       true);
		break;
	case LLM_SERVER_NULL_CONTENT:
		out = completion(model, NULL);
		answer(fd, 200, out, true);
		break;
	case LLM_SERVER_HUGE:
	case LLM_SERVER_HUGE_STREAMED: {
		char *big = xmalloc(HUGE_BYTES + 1);

		memset(big, 'x', HUGE_BYTES);
		big[HUGE_BYTES] = '\0';
		out = completion(model, big);
		free(big);
		answer(fd, 200, out, mode == LLM_SERVER_HUGE);
		break;
	}
	case LLM_SERVER_CLOSE:
		break;
	}
	json_decref(req);
	free(out);
	free(text);
	free(head);
	free(body);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct llm_server *s = c->s;

	serve(s, c->fd);
	close(c->fd);
	free(c);
	pthread_mutex_lock(&s->lock);
	if (--s->active == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct llm_server *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		struct conn *c;
		pthread_attr_t attr;
		pthread_t t;
		int fd;

		if (poll(&p, 1, 20) <= 0)
			continue;
		fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		c = xmalloc(sizeof(*c));
		c->s = s;
		c->fd = fd;
		pthread_mutex_lock(&s->lock);
		s->active++;
		pthread_mutex_unlock(&s->lock);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, conn_main, c)) {
			close(fd);
			free(c);
			pthread_mutex_lock(&s->lock);
			s->active--;
			pthread_mutex_unlock(&s->lock);
		}
		pthread_attr_destroy(&attr);
	}
	return NULL;
}

struct llm_server *llm_server_start(const enum llm_server_mode *script, size_t n)
{
	struct llm_server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);

	cr_assert_geq(n, 1);
	s->script = xcalloc(n, sizeof(*s->script));
	memcpy(s->script, script, n * sizeof(*script));
	s->nscript = n;
	s->delay_ms = 1000;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s->fd, 0);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s->fd, 64), 0);
	cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&sa, &salen), 0);
	s->port = ntohs(sa.sin_port);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", s->port);
	cr_assert_eq(pthread_create(&s->accepter, NULL, accept_main, s), 0);
	return s;
}

void llm_server_stop(struct llm_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->accepter, NULL);
	pthread_mutex_lock(&s->lock);
	while (s->active)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	close(s->fd);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->lock);
	free(s->last_line);
	free(s->last_auth);
	free(s->last_body);
	free(s->text);
	free(s->script);
	free(s);
}

void llm_server_set_text(struct llm_server *s, const char *text)
{
	pthread_mutex_lock(&s->lock);
	free(s->text);
	s->text = text ? xstrdup(text) : NULL;
	pthread_mutex_unlock(&s->lock);
}

void llm_server_set_delay_ms(struct llm_server *s, unsigned ms)
{
	pthread_mutex_lock(&s->lock);
	s->delay_ms = ms;
	pthread_mutex_unlock(&s->lock);
}

unsigned llm_server_port(const struct llm_server *s)
{
	return s->port;
}

const char *llm_server_url(const struct llm_server *s)
{
	return s->url;
}

size_t llm_server_count(struct llm_server *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->seen;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int llm_server_last(struct llm_server *s, char **line, char **authorization, char **body)
{
	int err = 0;

	pthread_mutex_lock(&s->lock);
	if (!s->seen) {
		err = -ENOENT;
	} else {
		if (line)
			*line = xstrdup(s->last_line);
		if (authorization)
			*authorization = s->last_auth ? xstrdup(s->last_auth) : NULL;
		if (body)
			*body = xstrdup(s->last_body);
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}
