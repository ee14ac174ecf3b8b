/*
 * The WebSocket hub (ws_hub.h). Threads: a client struct is made on an
 * HTTP worker (ws_hub_client_new), filled in by the server thread that
 * hands the connection over (ws_hub_upgraded), and moves to the hub thread
 * through the pending list under hub->mu; from then on only the hub thread
 * touches it. The bus's wake-up only sets a flag and writes the eventfd.
 *
 * Each client's output is a queue of frames (struct ws_queue_item); an event's
 * frame is built once, kept in a small cache by id, and shared by
 * reference between the queues it is on (all on the hub thread, so the
 * counts need no atomics). A queue is sent with sendmsg() from its head,
 * whose first frame may be partly sent: a close cuts what follows it.
 *
 * A client is OPEN (messages read, events queued), then CLOSING (a close
 * frame queued; input read only to find the peer's close), then given back.
 * Handlers never free a client: they set @done, and client_settle(), the
 * last step of every path, flushes, then frees when it must.
 */
#include "aggregator/stream/ws_hub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aggregator/auth/keys.h"
#include "aggregator/http/http.h"
#include "aggregator/stream/ws_filter.h"
#include "aggregator/stream/ws_frame.h"
#include "aggregator/stream/ws_queue.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"

#define WS_HUB_BATCH	  32	/* events per bus_read() */
#define WS_HUB_CACHE	  64	/* event frames kept, by id modulo: a burst's worth */
#define WS_HUB_READ_BYTES 16384 /* per recv() ... */
#define WS_HUB_READS_MAX  4	/* ... and recv() calls per turn of one client */
#define WS_HUB_TICK_MS	  1000	/* pings, idle clients and close deadlines are checked this often */
#define WS_HUB_EPOLL_MAX  64

enum ws_state { WS_OPEN = 1, WS_CLOSING };

struct ws_hub_client {
	struct ws_hub *hub;
	/* set on the worker and the server thread, before the handover */
	struct http_upgraded *uh;
	int fd;
	unsigned char *extra; /* bytes the client sent past its handshake */
	size_t extra_len;
	char *greeting;
	size_t greeting_len;
	struct ws_hub_client *next_pending; /* the hub's pending list, under hub->mu */
	/* the hub thread's from the handover on */
	struct ws_hub_client *prev, *next;
	struct ws_filter filter;
	int64_t after_id;
	struct keys *keys; /* NULL: auth off */
	int64_t key_id;
	struct ws_reader rd;
	struct ws_queue q;
	enum ws_state state;
	bool catching_up; /* fed at its own pace until it reaches the newest event */
	bool reader_failed, peer_closed, rx_eof, done;
	uint32_t ep_events; /* as registered */
	unsigned errors;
	uint16_t close_code;
	const char *close_why; /* a literal, for the log line */
	unsigned long long serial, events_sent;
	uint64_t connected_ns, last_rx_ns, next_ping_ns, close_deadline_ns;
	char peer[64];
};

struct ws_hub {
	struct bus *bus;
	size_t queue_bytes;
	uint64_t ping_ns, idle_ns;
	int ep, efd;
	pthread_t thread;
	bool thread_running; /* the caller's thread (new, stop) */
	atomic_bool bus_woken;
	atomic_size_t nclients;
	atomic_ullong serial;
	pthread_mutex_t mu; /* pending, stopping */
	struct ws_hub_client *pending;
	bool stopping;
	/* the hub thread's */
	struct bus_watch *watch; /* while there are clients */
	struct ws_hub_client *clients;
	struct ws_queue_item *cache[WS_HUB_CACHE];
	uint64_t next_tick_ns;
	uint8_t rx[WS_HUB_READ_BYTES];
};

/* The frame of event @e, {"id": N, ...its JSON}, from the cache or made; a new reference. */
static struct ws_queue_item *hub_event_item(struct ws_hub *h, const struct bus_event *e)
{
	struct ws_queue_item **slot = &h->cache[(uint64_t)e->id % WS_HUB_CACHE];
	struct ws_queue_item *c;
	struct buf p;

	if (*slot && (*slot)->id == e->id) {
		ws_queue_item_ref(*slot);
		return *slot;
	}
	if (e->json_len < 2 || e->json[0] != '{') {
		log_ratelimited(LOG_LEVEL_WARN, "ws: event %lld is not a JSON object",
				(long long)e->id);
		return NULL;
	}
	buf_init(&p, BUF_MAX_BYTES);
	if (buf_appendf(&p, "{\"id\":%lld%s", (long long)e->id, e->json[1] == '}' ? "" : ",") ||
	    buf_append(&p, e->json + 1, e->json_len - 1)) {
		buf_release(&p);
		return NULL;
	}
	c = ws_queue_item_new(WS_TEXT, p.data, p.len);
	buf_release(&p);
	if (!c)
		return NULL;
	c->id = e->id;
	ws_queue_item_unref(*slot);
	*slot = c;
	ws_queue_item_ref(c); /* the cache's */
	return c;
}

/* ---- one client ---- */

static void client_free(struct ws_hub_client *c)
{
	if (!c)
		return;
	ws_reader_release(&c->rd);
	ws_queue_release(&c->q);
	free(c->extra);
	free(c->greeting);
	free(c);
}

/* Starts the close: what is not begun is dropped, then a close frame. Once. */
static void client_close(struct ws_hub_client *c, uint16_t code, const char *reason,
			 const char *why)
{
	struct ws_queue_item *f;

	if (c->state != WS_OPEN)
		return;
	c->state = WS_CLOSING;
	c->catching_up = false;
	c->close_code = code;
	c->close_why = why;
	c->close_deadline_ns = time_mono_ns() + WS_HUB_CLOSE_LINGER_MS * NSEC_PER_MSEC;
	ws_queue_cut(&c->q);
	f = ws_queue_item_close(code, reason);
	if (f)
		ws_queue_push(&c->q, f);
}

/* Queues @f (taken) within the bound, else closes 1013; false when closed. */
static bool client_push(struct ws_hub_client *c, struct ws_queue_item *f)
{
	if (!f)
		return true;
	if (c->state != WS_OPEN) {
		ws_queue_item_unref(f);
		return false;
	}
	if (c->q.bytes + f->len > c->hub->queue_bytes) {
		ws_queue_item_unref(f);
		client_close(c, WS_CLOSE_TRY_AGAIN, "too slow", "too slow");
		return false;
	}
	ws_queue_push(&c->q, f);
	return true;
}

/* Queues @v (taken) as a text message. */
static void client_send_json(struct ws_hub_client *c, json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	if (text)
		client_push(c, ws_queue_item_new(WS_TEXT, text, strlen(text)));
	free(text);
}

static json_t *client_now(void)
{
	char iso[TIME_ISO_LEN];

	time_format_iso(time_real_ns(), iso);
	return json_string(iso);
}

/* Answers an error; the WS_HUB_ERRORS_MAX-th closes 1008 instead. */
static void client_error(struct ws_hub_client *c, const char *fmt, ...) PRP_PRINTF(2, 3);
static void client_error(struct ws_hub_client *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (++c->errors >= WS_HUB_ERRORS_MAX) {
		client_close(c, WS_CLOSE_POLICY, "too many errors", "too many errors");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_send_json(c, json_pack("{s:s, s:s}", "event", "error", "message", msg));
}

/* A text message: {"action": "subscribe" | "ping", ...}. */
static void client_on_text(struct ws_hub_client *c, const uint8_t *data, size_t len)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *action = json_string_value(json_object_get(doc, "action"));
	char err[160];

	if (!doc)
		client_error(c, "invalid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
			     jerr.column);
	else if (!json_is_object(doc) || !action)
		client_error(c, "a message is an object with an \"action\": subscribe or ping");
	else if (!strcmp(action, "ping"))
		client_send_json(
			c, json_pack("{s:s, s:o}", "event", "pong", "timestamp", client_now()));
	else if (strcmp(action, "subscribe"))
		client_error(c, "unknown action '%.32s': subscribe or ping", action);
	else if (ws_filter_parse(&c->filter, c->filter.tenant, json_object_get(doc, "filters"), err,
				 sizeof(err)))
		client_error(c, "%s", err);
	else
		client_send_json(c, json_pack("{s:s, s:o}", "event", "subscribed", "filters",
					      ws_filter_json(&c->filter)));
	json_decref(doc);
}

static void client_on_message(struct ws_hub_client *c, const struct ws_message *m)
{
	switch (m->opcode) {
	case WS_TEXT:
		client_on_text(c, m->data, m->len);
		break;
	case WS_BINARY:
		client_close(c, WS_CLOSE_UNSUPPORTED, "binary messages are not accepted",
			     "binary message");
		break;
	case WS_PING:
		client_push(c, ws_queue_item_new(WS_PONG, m->data, m->len));
		break;
	case WS_CLOSE:
		/* echo the code, then give the socket back once it is sent */
		client_close(c, m->close_code, NULL, "closed by the client");
		c->peer_closed = true;
		break;
	default: /* WS_PONG: its arrival was the point */
		break;
	}
}

static const char *client_violation(int code)
{
	switch (code) {
	case WS_CLOSE_TOO_BIG:
		return "message too big";
	case WS_CLOSE_INVALID_DATA:
		return "invalid UTF-8";
	default:
		return "protocol error";
	}
}

/* Feeds the client's bytes to its reader, and the messages to their handlers. */
static void client_feed(struct ws_hub_client *c, const uint8_t *p, size_t len)
{
	while (len && !c->done && !c->peer_closed && !c->reader_failed) {
		struct ws_message m;
		size_t used = 0;
		int r = ws_reader_feed(&c->rd, p, len, &used, &m);

		if (r < 0) {
			c->reader_failed = true;
			client_close(c, (uint16_t)-r, client_violation(-r), client_violation(-r));
			return;
		}
		p += used;
		len -= used;
		if (r == 0)
			return;
		if (c->state == WS_OPEN)
			client_on_message(c, &m);
		else if (m.opcode == WS_CLOSE)
			c->peer_closed = true; /* the answer to ours */
	}
}

static void client_read(struct ws_hub_client *c)
{
	struct ws_hub *h = c->hub;

	for (int k = 0; k < WS_HUB_READS_MAX && !c->done && !c->rx_eof; k++) {
		ssize_t r = recv(c->fd, h->rx, sizeof(h->rx), MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			c->rx_eof = true;
			c->peer_closed = true;
			if (c->state == WS_OPEN) {
				c->done = true;
				c->close_why = r ? "connection lost" : "client left";
			}
			return;
		}
		c->last_rx_ns = time_mono_ns();
		client_feed(c, h->rx, (size_t)r);
		if ((size_t)r < sizeof(h->rx))
			return;
	}
}

/* Queues event @e for @c: false when it did not fit (the client is closed 1013). */
static bool client_push_event(struct ws_hub_client *c, const struct bus_event *e)
{
	struct ws_queue_item *f = hub_event_item(c->hub, e);

	if (!f)
		return true; /* logged; skipped */
	if (!client_push(c, f))
		return false;
	c->events_sent++;
	return true;
}

/*
 * Queues the events after c->after_id. Live (@lazy false): all there are,
 * which closes 1013 past the bound. Catching up (@lazy): while the queue is
 * under half the bound, then again once the socket has taken some.
 */
/* False, with the client closing (1008), once its key is revoked. */
static bool client_key_valid(struct ws_hub_client *c)
{
	if (!c->keys || !c->key_id || keys_valid(c->keys, c->key_id))
		return true;
	client_close(c, WS_CLOSE_POLICY, "key revoked", "key revoked");
	return false;
}

static void client_pump(struct ws_hub_client *c, bool lazy)
{
	struct ws_hub *h = c->hub;
	struct bus_event *ev[WS_HUB_BATCH];

	if (c->state == WS_OPEN && !client_key_valid(c))
		return;
	while (c->state == WS_OPEN) {
		size_t n = 0, i;
		int64_t next;
		bool full = false;

		if (bus_read(h->bus, c->after_id, &c->filter.f, ev, WS_HUB_BATCH, &n, &next)) {
			log_ratelimited(LOG_LEVEL_WARN, "ws: cannot read the events");
			c->catching_up = false;
			return;
		}
		for (i = 0; i < n; i++) {
			if (!full && lazy && c->q.bytes >= h->queue_bytes / 2) {
				full = true;
				c->after_id = ev[i]->id - 1; /* this one again next time */
			}
			if (!full && c->state == WS_OPEN)
				client_push_event(c, ev[i]);
			bus_event_unref(ev[i]);
		}
		if (full) {
			c->catching_up = true;
			return;
		}
		if ((!n && next == c->after_id) || next >= bus_last_id(h->bus)) {
			c->after_id = next;
			c->catching_up = false;
			return;
		}
		c->after_id = next;
	}
}

static void client_set_events(struct ws_hub_client *c)
{
	uint32_t want = (c->rx_eof ? 0 : EPOLLIN) |
			(c->q.n || (c->catching_up && c->state == WS_OPEN) ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = want, .data.ptr = c };

	if (want != c->ep_events && !epoll_ctl(c->hub->ep, EPOLL_CTL_MOD, c->fd, &ev))
		c->ep_events = want;
}

/* Gives the socket back and frees @c. */
static void client_finish(struct ws_hub_client *c)
{
	struct ws_hub *h = c->hub;
	double secs = (double)(time_mono_ns() - c->connected_ns) / NSEC_PER_SEC;
	char code[16] = "";

	epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
	http_upgraded_close(c->uh);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub(&h->nclients, 1);
	if (!h->clients && h->watch) {
		bus_unwatch(h->bus, h->watch);
		h->watch = NULL;
		/* nobody to share them with: the cached frames are memory for nothing */
		for (size_t i = 0; i < WS_HUB_CACHE; i++) {
			ws_queue_item_unref(h->cache[i]);
			h->cache[i] = NULL;
		}
	}
	if (c->close_code)
		snprintf(code, sizeof(code), " (%u)", c->close_code);
	log_ratelimited(LOG_LEVEL_INFO,
			"ws: client closed: %s%s after %.1f s, %llu events client=%llu tenant=%s "
			"peer=%s",
			c->close_why ? c->close_why : "closed", code, secs, c->events_sent,
			c->serial, c->filter.tenant, c->peer);
	client_free(c);
}

/* The last step of every path: sends what it can, then gives back or waits. */
static void client_settle(struct ws_hub_client *c)
{
	int err = c->done ? 0 : ws_queue_send(&c->q, c->fd);

	if (err) {
		c->done = true;
		if (c->state == WS_OPEN)
			c->close_why = "connection lost";
	}
	if (!c->done && c->state == WS_CLOSING &&
	    ((!c->q.n && c->peer_closed) || time_mono_ns() >= c->close_deadline_ns))
		c->done = true;
	if (c->done) {
		client_finish(c);
		return;
	}
	client_set_events(c);
}

static void client_on_io(struct ws_hub_client *c, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_read(c);
	if (!c->done && (events & EPOLLOUT) && c->catching_up && c->state == WS_OPEN) {
		int err = ws_queue_send(&c->q, c->fd);

		if (err) {
			c->done = true;
			c->close_why = "connection lost";
		} else if (c->q.bytes < c->hub->queue_bytes / 2) {
			client_pump(c, true);
		}
	}
	client_settle(c);
}

/* A connection the hub will not serve (it stops): a close frame if the socket takes it. */
static void client_reject(struct ws_hub_client *c)
{
	struct ws_queue_item *f = ws_queue_item_close(WS_CLOSE_GOING_AWAY, "server stopping");

	if (f && send(c->fd, f->data, f->len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("ws: no close frame for a connection refused at stop");
	ws_queue_item_unref(f);
	http_upgraded_close(c->uh);
	client_free(c);
}

static void client_peer_name(struct ws_hub_client *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "-";
	unsigned port = 0;

	if (!getpeername(c->fd, (struct sockaddr *)&ss, &sl)) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
			port = ntohs(a->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
			port = ntohs(a->sin6_port);
		}
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, port);
}

/* ---- the hub ---- */

static void hub_signal(struct ws_hub *h)
{
	uint64_t one = 1;

	/* a full counter (2^64 - 2 wakes unread) still wakes the thread: ignore EAGAIN */
	if (write(h->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_LEVEL_WARN, "ws: cannot wake the hub: %s", strerror(errno));
}

static void hub_bus_wake(void *arg)
{
	struct ws_hub *h = arg;

	atomic_store(&h->bus_woken, true);
	hub_signal(h);
}

/* Takes over a handed-over connection: greeting, the bytes past the handshake, its backlog. */
static void hub_add(struct ws_hub *h, struct ws_hub_client *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	struct ws_queue_item *greeting;
	int fl = fcntl(c->fd, F_GETFL);
	uint64_t now = time_mono_ns();

	c->state = WS_OPEN;
	c->serial = atomic_fetch_add(&h->serial, 1) + 1;
	c->connected_ns = c->last_rx_ns = now;
	c->next_ping_ns = now + h->ping_ns;
	client_peer_name(c);
	c->next = h->clients;
	if (c->next)
		c->next->prev = c;
	h->clients = c;
	atomic_fetch_add(&h->nclients, 1);
	/* watch before the first read: nothing published from here on is missed */
	if (!h->watch)
		h->watch = bus_watch(h->bus, hub_bus_wake, h);
	if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) ||
	    epoll_ctl(h->ep, EPOLL_CTL_ADD, c->fd, &ev)) {
		log_warn_err(-errno, "ws: cannot take connection client=%llu", c->serial);
		c->done = true;
		c->close_why = "not taken";
		client_finish(c);
		return;
	}
	c->ep_events = EPOLLIN;
	log_ratelimited(LOG_LEVEL_INFO,
			"ws: client connected, after event %lld client=%llu tenant=%s peer=%s "
			"clients=%zu",
			(long long)c->after_id, c->serial, c->filter.tenant, c->peer,
			atomic_load(&h->nclients));
	/* outside the bound: it is as large as the open anomalies are many, and comes once */
	greeting = ws_queue_item_new(WS_TEXT, c->greeting, c->greeting_len);
	if (greeting)
		ws_queue_push(&c->q, greeting);
	free(c->greeting);
	c->greeting = NULL;
	if (c->extra_len)
		client_feed(c, c->extra, c->extra_len);
	free(c->extra);
	c->extra = NULL;
	client_pump(c, true);
	client_settle(c);
}

static void hub_pump_all(struct ws_hub *h)
{
	for (struct ws_hub_client *c = h->clients, *next; c; c = next) {
		next = c->next;
		if (c->state == WS_OPEN && !c->catching_up) {
			client_pump(c, false);
			client_settle(c);
		}
	}
}

/* Pings, idle clients, close deadlines. */
static void hub_tick(struct ws_hub *h)
{
	uint64_t now = time_mono_ns();

	if (now < h->next_tick_ns)
		return;
	h->next_tick_ns = now + WS_HUB_TICK_MS * NSEC_PER_MSEC;
	for (struct ws_hub_client *c = h->clients, *next; c; c = next) {
		next = c->next;
		if (c->state == WS_OPEN && !client_key_valid(c)) {
			/* closing: revoked while idle */
		} else if (c->state == WS_OPEN && now - c->last_rx_ns >= h->idle_ns) {
			client_close(c, WS_CLOSE_GOING_AWAY, "idle timeout", "idle timeout");
		} else if (c->state == WS_OPEN && now >= c->next_ping_ns) {
			c->next_ping_ns = now + h->ping_ns;
			client_push(c, ws_queue_item_new(WS_PING, NULL, 0));
		}
		client_settle(c);
	}
}

/* At stop: a close frame 1001 to each, without waiting, and every socket given back. */
static void hub_close_all(struct ws_hub *h)
{
	while (h->clients) {
		struct ws_hub_client *c = h->clients;

		client_close(c, WS_CLOSE_GOING_AWAY, "server stopping", "server stopping");
		if (ws_queue_send(&c->q, c->fd))
			log_debug("ws: no close frame at stop client=%llu", c->serial);
		c->done = true;
		client_finish(c);
	}
}

/* The pending list, oldest first, and whether the hub stops. */
static struct ws_hub_client *hub_take_pending(struct ws_hub *h, bool *stopping)
{
	struct ws_hub_client *in, *fifo = NULL;

	pthread_mutex_lock(&h->mu);
	*stopping = h->stopping;
	in = h->pending;
	h->pending = NULL;
	pthread_mutex_unlock(&h->mu);
	while (in) {
		struct ws_hub_client *next = in->next_pending;

		in->next_pending = fifo;
		fifo = in;
		in = next;
	}
	return fifo;
}

static void *hub_main(void *arg)
{
	struct ws_hub *h = arg;
	struct epoll_event evs[WS_HUB_EPOLL_MAX];

	for (;;) {
		int n = epoll_wait(h->ep, evs, WS_HUB_EPOLL_MAX, WS_HUB_TICK_MS);
		struct ws_hub_client *in;
		bool stopping;

		for (int i = 0; i < n; i++) {
			uint64_t v;

			if (evs[i].data.ptr)
				client_on_io(evs[i].data.ptr, evs[i].events);
			else if (read(h->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_ratelimited(LOG_LEVEL_WARN, "ws: eventfd: %s", strerror(errno));
		}
		in = hub_take_pending(h, &stopping);
		while (in) {
			struct ws_hub_client *next = in->next_pending;

			if (stopping)
				client_reject(in);
			else
				hub_add(h, in);
			in = next;
		}
		if (stopping)
			break;
		if (atomic_exchange(&h->bus_woken, false))
			hub_pump_all(h);
		hub_tick(h);
	}
	hub_close_all(h);
	return NULL;
}

int ws_hub_new(struct ws_hub **out, const struct ws_hub_options *o)
{
	struct ws_hub *h;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int err;

	if (!o->bus)
		return -EINVAL;
	h = xcalloc(1, sizeof(*h));
	h->bus = o->bus;
	h->queue_bytes = o->queue_bytes ? o->queue_bytes : WS_HUB_QUEUE_BYTES;
	h->ping_ns = (o->ping_ms ? o->ping_ms : WS_HUB_PING_MS) * NSEC_PER_MSEC;
	h->idle_ns = (o->idle_ms ? o->idle_ms : WS_HUB_IDLE_MS) * NSEC_PER_MSEC;
	pthread_mutex_init(&h->mu, NULL);
	h->ep = epoll_create1(EPOLL_CLOEXEC);
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->ep < 0 || h->efd < 0 || epoll_ctl(h->ep, EPOLL_CTL_ADD, h->efd, &ev)) {
		err = -errno;
		goto out_free;
	}
	err = -pthread_create(&h->thread, NULL, hub_main, h);
	if (err)
		goto out_free;
	h->thread_running = true;
	*out = h;
	return 0;

out_free:
	log_error_err(err, "ws: cannot start the WebSocket hub");
	if (h->ep >= 0)
		close(h->ep);
	if (h->efd >= 0)
		close(h->efd);
	pthread_mutex_destroy(&h->mu);
	free(h);
	return err;
}

void ws_hub_stop(struct ws_hub *h)
{
	if (!h || !h->thread_running)
		return;
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	pthread_mutex_unlock(&h->mu);
	hub_signal(h);
	pthread_join(h->thread, NULL);
	h->thread_running = false;
}

void ws_hub_free(struct ws_hub *h)
{
	if (!h)
		return;
	ws_hub_stop(h);
	for (size_t i = 0; i < WS_HUB_CACHE; i++)
		ws_queue_item_unref(h->cache[i]);
	close(h->ep);
	close(h->efd);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

size_t ws_hub_clients(const struct ws_hub *h)
{
	return h ? atomic_load(&h->nclients) : 0;
}

/* ---- the handover ---- */

struct ws_hub_client *ws_hub_client_new(struct ws_hub *h, const struct bus_filter *f,
					int64_t after_id, char *greeting, size_t len,
					struct keys *keys, int64_t key_id)
{
	struct ws_hub_client *c = xcalloc(1, sizeof(*c));

	c->hub = h;
	c->keys = keys;
	c->key_id = key_id;
	c->fd = -1;
	ws_filter_set(&c->filter, f);
	c->after_id = after_id;
	c->greeting = greeting;
	c->greeting_len = len;
	ws_reader_init(&c->rd, WS_HUB_MAX_MESSAGE);
	return c;
}

/* On the server thread that sent the 101: queue the connection for the hub. */
static void ws_hub_upgraded(void *ctx, int fd, const void *extra, size_t extra_len,
			    struct http_upgraded *uh)
{
	struct ws_hub_client *c = ctx;
	struct ws_hub *h = c->hub;
	bool stopping;

	c->fd = fd;
	c->uh = uh;
	if (extra_len) {
		c->extra = xmalloc(extra_len);
		memcpy(c->extra, extra, extra_len);
		c->extra_len = extra_len;
	}
	pthread_mutex_lock(&h->mu);
	stopping = h->stopping;
	if (!stopping) {
		c->next_pending = h->pending;
		h->pending = c;
	}
	pthread_mutex_unlock(&h->mu);
	if (stopping)
		client_reject(c);
	else
		hub_signal(h);
}

static void ws_hub_upgrade_free(void *ctx)
{
	client_free(ctx);
}

const struct resp_upgrade_ops ws_hub_upgrade_ops = {
	.upgraded = ws_hub_upgraded,
	.free = ws_hub_upgrade_free,
};
