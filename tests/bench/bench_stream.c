/*
 * Event latency to 1,000 live subscribers: the aggregator's API and event
 * bus in this process (over a fresh store), 1,000 Server-Sent Events
 * clients on sockets read by one epoll loop, and ROUNDS events published
 * 50 ms apart, each carrying the time it was published. Every client's
 * receipt of every event is a sample. Prints:
 *
 *	BENCH stream_event_latency_ms <median> ms (p99 <p99> ms, 1000 subscribers)
 *	BENCH stream_event_latency_p99_ms <p99> ms
 *
 * Target (issue 9): median <= 50 ms. The clients' own reading is in the
 * measure: a client reads its socket when epoll says, one after another.
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

struct client {
	int fd;
	char line[4096]; /* the partial last line of the stream */
	size_t nline;
	int seen; /* events received */
};

static struct client clients[SUBSCRIBERS];
static double samples[SUBSCRIBERS * ROUNDS];
static size_t nsamples;

static void die(const char *what)
{
	fprintf(stderr, "bench_stream: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void subscribe(struct client *c, unsigned port, int ep)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static const char req[] = "GET /stream/events HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
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

/* Reads what @c has; each complete data: line is one event received now. */
static void client_read(struct client *c)
{
	char buf[16384];
	ssize_t n = read(c->fd, buf, sizeof(buf));
	uint64_t now = time_mono_ns();

	if (n <= 0)
		die("a subscriber's stream ended");
	for (ssize_t i = 0; i < n; i++) {
		const char *t;

		if (buf[i] != '\n') {
			if (c->nline < sizeof(c->line) - 1)
				c->line[c->nline++] = buf[i];
			continue;
		}
		c->line[c->nline] = '\0';
		c->nline = 0;
		if (strncmp(c->line, "data: ", 6) || !(t = strstr(c->line, "\"t_ns\":")))
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

int main(void)
{
	struct stream_rig rig;
	struct epoll_event evs[256];
	int ep;

	stream_rig_start(&rig, "bench_stream", SUBSCRIBERS);
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < SUBSCRIBERS; i++)
		subscribe(&clients[i], api_port(rig.api), ep);
	for (int i = 0; i < 1000 && bus_watchers(rig.bus) < SUBSCRIBERS; i++)
		usleep(10000);
	if (bus_watchers(rig.bus) < SUBSCRIBERS)
		die("not every subscriber connected");
	fprintf(stderr, "bench_stream: %d subscribers connected\n", SUBSCRIBERS);
	for (int r = 1; r <= ROUNDS; r++) {
		uint64_t deadline;

		stream_rig_publish(&rig);
		deadline = time_mono_ns() + 5 * NSEC_PER_SEC;
		while (!all_seen(r)) {
			int n = epoll_wait(ep, evs, 256, 100);

			for (int i = 0; i < n; i++)
				client_read(evs[i].data.ptr);
			if (time_mono_ns() > deadline)
				die("an event did not reach every subscriber within 5 s");
		}
		usleep(50000);
	}
	stream_rig_report("stream_event_latency_ms", "stream_event_latency_p99_ms", samples,
			  nsamples, SUBSCRIBERS);
	for (int i = 0; i < SUBSCRIBERS; i++)
		close(clients[i].fd);
	close(ep);
	return stream_rig_stop(&rig);
}
