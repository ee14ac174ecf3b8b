/*
 * Event latency to 1,000 live WebSocket subscribers, measured as
 * bench_stream.c measures the Server-Sent Events: the aggregator's API and
 * event bus in this process (over a fresh store), 1,000 WebSocket clients
 * of GET /stream/anomalies on sockets read by one epoll loop, and ROUNDS
 * events published 50 ms apart, each carrying the time it was published.
 * Every client's receipt of every event is a sample. Prints:
 *
 *	BENCH stream_ws_event_latency_ms <median> ms (p99 <p99> ms, 1000 subscribers)
 *	BENCH stream_ws_event_latency_p99_ms <p99> ms
 *
 * Target: as the SSE stream's, median <= 50 ms. The clients' own reading
 * is in the measure: a client reads its socket when epoll says, one after
 * another. The clients parse the server's frames themselves (unmasked,
 * FIN set: what the hub sends); benchmarks link no test helpers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/bench/stream_rig.h"

#define SUBSCRIBERS 1000
#define ROUNDS	    40
#define CLIENT_BUF  16384 /* the greeting (no anomalies here) and a few events */

struct client {
	int fd;
	unsigned char in[CLIENT_BUF];
	size_t nin;
	int upgraded; /* the 101's headers were read */
	int greeted;  /* the connected message came */
	int seen;     /* events received */
};

static struct client clients[SUBSCRIBERS];
static double samples[SUBSCRIBERS * ROUNDS];
static size_t nsamples;
static int ngreeted;

static void die(const char *what)
{
	fprintf(stderr, "bench_stream_ws: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void subscribe(struct client *c, unsigned port, int ep)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static const char req[] = "GET /stream/anomalies HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
				  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				  "Sec-WebSocket-Version: 13\r\n\r\n";
	struct epoll_event ev = { .events = EPOLLIN };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(c->fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		die("subscribe");
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev))
		die("epoll_ctl");
}

/* One whole text frame's payload, consumed from c->in: 1, or 0 when none is whole. */
static int client_frame(struct client *c, char *out, size_t cap)
{
	size_t hdr = 2, len;
	int text;

	if (c->nin < 2)
		return 0;
	text = (c->in[0] & 0x0f) == 0x1;
	len = c->in[1] & 0x7f;
	if (len == 126) {
		hdr = 4;
		if (c->nin < hdr)
			return 0;
		len = (size_t)c->in[2] << 8 | c->in[3];
	} else if (len == 127) {
		errno = EPROTO;
		die("a frame too long for the bench");
	}
	if (c->nin < hdr + len)
		return 0;
	if (len >= cap) {
		errno = EPROTO;
		die("a frame too long for the bench");
	}
	memcpy(out, c->in + hdr, text ? len : 0); /* a ping's payload is no message */
	out[text ? len : 0] = '\0';
	memmove(c->in, c->in + hdr + len, c->nin - hdr - len);
	c->nin -= hdr + len;
	return 1;
}

/* Reads what @c has; each whole text frame with a t_ns is one event received now. */
static void client_read(struct client *c)
{
	ssize_t n = read(c->fd, c->in + c->nin, sizeof(c->in) - c->nin);
	uint64_t now = time_mono_ns();
	char msg[CLIENT_BUF];

	if (n <= 0)
		die("a subscriber's connection ended");
	c->nin += (size_t)n;
	if (!c->upgraded) {
		unsigned char *end = memmem(c->in, c->nin, "\r\n\r\n", 4);
		size_t used;

		if (!end)
			return;
		if (memcmp(c->in, "HTTP/1.1 101", 12)) {
			errno = EPROTO;
			die("the handshake was refused");
		}
		used = (size_t)(end - c->in) + 4;
		memmove(c->in, c->in + used, c->nin - used);
		c->nin -= used;
		c->upgraded = 1;
	}
	while (client_frame(c, msg, sizeof(msg))) {
		const char *t = strstr(msg, "\"t_ns\":");

		if (!c->greeted && strstr(msg, "\"connected\"")) {
			c->greeted = 1;
			ngreeted++;
			continue;
		}
		if (!t)
			continue;
		if (nsamples < sizeof(samples) / sizeof(samples[0]))
			samples[nsamples++] =
				(double)(now - strtoull(t + 7, NULL, 10)) / NSEC_PER_MSEC;
		c->seen++;
	}
}

static int all_seen(int want)
{
	for (int i = 0; i < SUBSCRIBERS; i++)
		if (clients[i].seen < want)
			return 0;
	return 1;
}

static void pump(int ep, int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(ep, evs, 256, timeout_ms);

	for (int i = 0; i < n; i++)
		client_read(evs[i].data.ptr);
}

int main(void)
{
	struct stream_rig rig;
	uint64_t deadline;
	int ep;

	stream_rig_start(&rig, "bench_stream_ws", SUBSCRIBERS);
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < SUBSCRIBERS; i++)
		subscribe(&clients[i], api_port(rig.api), ep);
	/* a client is the hub's once its connected message came */
	deadline = time_mono_ns() + 20 * NSEC_PER_SEC;
	while (ngreeted < SUBSCRIBERS) {
		pump(ep, 100);
		if (time_mono_ns() > deadline)
			die("not every subscriber connected");
	}
	fprintf(stderr, "bench_stream_ws: %d subscribers connected\n", SUBSCRIBERS);
	for (int r = 1; r <= ROUNDS; r++) {
		stream_rig_publish(&rig);
		deadline = time_mono_ns() + 5 * NSEC_PER_SEC;
		while (!all_seen(r)) {
			pump(ep, 100);
			if (time_mono_ns() > deadline)
				die("an event did not reach every subscriber within 5 s");
		}
		usleep(50000);
	}
	stream_rig_report("stream_ws_event_latency_ms", "stream_ws_event_latency_p99_ms", samples,
			  nsamples, SUBSCRIBERS);
	for (int i = 0; i < SUBSCRIBERS; i++)
		close(clients[i].fd);
	close(ep);
	return stream_rig_stop(&rig);
}
