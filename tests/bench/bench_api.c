/*
 * GET /services/health with 1,000 services known: the real
 * build/prp-aggregator on a fresh data directory, fed one frame by each of
 * 100 simulated agents of 10 services (so 1,000 services are live in its
 * series), then wrk on /services/health, as a dashboard or a script would
 * call it (gzip accepted) with the admin key, 3 runs of BENCH_SECONDS; and
 * the same on a second aggregator with --no-auth, the runs alternated.
 * Prints the medians:
 *
 *	BENCH api_services_health_rps <N> requests/s
 *	BENCH api_services_health_p99_ms <N> ms
 *	BENCH api_auth_overhead_ratio <R> (authenticated over auth off; target >= 0.9)
 *
 * wrk runs on CPU 1 and the aggregator on CPU 0, as the agent's benchmark
 * does, so that the load tool does not take the server's CPU.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/frame.h"
#include "common/hist.h"
#include "common/log.h"
#include "common/window.h"
#include "common/window_wire.h"

#define AGENTS 100
#define SERVICES_PER_AGENT 10
#define KEY "bench-api-key-0123456789"
#define RUNS 3

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &sl))
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_api: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One frame of agent @a: its 10 services, each with one route and a few latencies. */
static void agent_frame(int a, struct buf *out)
{
	struct window_batch b = { .end_ms = (int64_t)time(NULL) * 1000, .interval_ms = 1000 };
	struct window_batch_item items[SERVICES_PER_AGENT];
	struct window *w[SERVICES_PER_AGENT];
	struct frame_header h = { .type = FRAME_WINDOWS, .seq = 1, .time_ms = b.end_ms };
	struct buf payload;

	memset(items, 0, sizeof(items));
	snprintf(b.host, sizeof(b.host), "host-%03d", a);
	for (int s = 0; s < SERVICES_PER_AGENT; s++) {
		struct window_http *r;

		w[s] = window_new(0);
		r = window_http_get(w[s], "GET", "/items/{id}", 200);
		r->count = 50;
		for (int i = 0; i < 50; i++)
			hist_record(&r->latency_ns, 200000 + (uint64_t)i * 10000);
		snprintf(items[s].service, sizeof(items[s].service), "svc-%04d",
			 a * SERVICES_PER_AGENT + s);
		items[s].w = w[s];
	}
	b.items = items;
	b.n = SERVICES_PER_AGENT;
	buf_init(&payload, FRAME_PAYLOAD_MAX);
	if (window_batch_encode(&b, &payload))
		die("window_batch_encode");
	snprintf(h.agent_id, sizeof(h.agent_id), "agent-%03d", a);
	snprintf(h.tenant, sizeof(h.tenant), "default");
	if (frame_encode(out, &h, payload.data, payload.len, KEY, strlen(KEY)))
		die("frame_encode");
	buf_release(&payload);
	for (int s = 0; s < SERVICES_PER_AGENT; s++)
		window_free(w[s]);
}

/* Every agent sends its frame and waits for the ACK. */
static void feed(const char *url)
{
	int timeout = 10000;

	for (int a = 0; a < AGENTS; a++) {
		int s = nn_socket(AF_SP, NN_REQ);
		struct buf f;
		char *reply = NULL;

		buf_init(&f, FRAME_PAYLOAD_MAX);
		agent_frame(a, &f);
		if (s < 0 || nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout,
					   sizeof(timeout)) < 0 ||
		    nn_connect(s, url) < 0 || nn_send(s, f.data, f.len, 0) < 0 ||
		    nn_recv(s, &reply, NN_MSG, 0) < 0)
			die("feeding the aggregator");
		nn_freemsg(reply);
		nn_close(s);
		buf_release(&f);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* wrk's "99%" line, in ms. */
static double wrk_p99_ms(const char *out)
{
	const char *p = strstr(out, "99%");
	double v;
	char unit[8] = "";

	if (!p || sscanf(p + 3, " %lf%7s", &v, unit) != 2)
		return -1;
	if (!strcmp(unit, "us"))
		return v / 1000;
	if (!strcmp(unit, "s"))
		return v * 1000;
	return v;
}

/* One aggregator under test: its ports, its process, its key ("" with auth off). */
struct server {
	const char *name;
	bool auth;
	pid_t pid;
	char ingest[64], listen[64], key[128];
	double rps[RUNS], p99[RUNS];
};

static struct server servers[2];

static void stop_all(void)
{
	for (int i = 0; i < 2; i++) {
		if (servers[i].pid > 0) {
			kill(servers[i].pid, SIGTERM);
			waitpid(servers[i].pid, NULL, 0);
			servers[i].pid = 0;
		}
	}
}

/*
 * Starts @s on CPU 0 over @dir/@s->name. Rate limits stay on, raised past
 * what wrk can send, so that the buckets' cost is in the measure.
 */
static void server_start(struct server *s, const char *dir)
{
	char data[160], keys[160], path[192];
	FILE *f;

	snprintf(s->ingest, sizeof(s->ingest), "tcp://127.0.0.1:%d", free_port());
	snprintf(s->listen, sizeof(s->listen), "127.0.0.1:%d", free_port());
	snprintf(data, sizeof(data), "%s/%s", dir, s->name);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	s->pid = fork();
	if (s->pid == 0) {
		execlp("taskset", "taskset", "-c", "0", "build/prp-aggregator", "--data", data,
		       "--keys-dir", keys, "--ingest", s->ingest, "--listen", s->listen,
		       "--log-level", "warn", "--no-http-access-log", "--api-rate-limit-role",
		       "admin:1000000000/1000000000",
		       s->auth ? "--auth" : "--no-auth", (char *)NULL);
		_exit(127);
	}
	sleep(1);
	feed(s->ingest);
	s->key[0] = '\0';
	snprintf(path, sizeof(path), "%s/admin.key", data);
	if (s->auth) {
		f = fopen(path, "r");
		if (!f || !fgets(s->key, sizeof(s->key), f))
			die(path);
		fclose(f);
		s->key[strcspn(s->key, "\n")] = '\0';
	}
}

/* One wrk run on @s into run @r. */
static void server_run(struct server *s, int r, int seconds)
{
	char cmd[768], out[8192], hdr[192] = "";
	size_t n;
	FILE *f;

	if (s->key[0])
		snprintf(hdr, sizeof(hdr), "-H 'X-API-Key: %s'", s->key);
	snprintf(cmd, sizeof(cmd),
		 "taskset -c 1 wrk -t1 -c32 -d%ds --latency -H 'Accept-Encoding: gzip' %s "
		 "http://%s/services/health 2>&1",
		 seconds, hdr, s->listen);
	f = popen(cmd, "r");
	if (!f)
		die("wrk");
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	pclose(f);
	s->rps[r] = strstr(out, "Requests/sec:") ? atof(strstr(out, "Requests/sec:") + 13) : 0;
	s->p99[r] = wrk_p99_ms(out);
	if (strstr(out, "Non-2xx"))
		fprintf(stderr, "bench_api: %s: wrk saw non-2xx answers\n", s->name);
	fprintf(stderr, "bench_api: %s run %d: %.0f requests/s, p99 %.2f ms\n", s->name, r + 1,
		s->rps[r], s->p99[r]);
}

int main(void)
{
	char dir[] = "/tmp/prp-bench-api-XXXXXX", path[256], cmd[512];
	int seconds = getenv("BENCH_SECONDS") ? atoi(getenv("BENCH_SECONDS")) : 5;
	struct server *on = &servers[0], *off = &servers[1];
	FILE *f;

	log_init("bench_api", LOG_LEVEL_WARN, LOG_TO_STDERR);
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(path, sizeof(path), "%s/keys", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/keys/default", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/keys/default/tenant.key", dir);
	f = fopen(path, "w");
	if (!f)
		die(path);
	fputs(KEY "\n", f);
	fclose(f);
	atexit(stop_all);
	*on = (struct server){ .name = "auth", .auth = true };
	*off = (struct server){ .name = "no-auth", .auth = false };
	server_start(on, dir);
	server_start(off, dir);
	sleep(2); /* the health snapshot is rebuilt at most once a second */
	/* alternated, so that a noisy moment of the machine hits both alike */
	for (int r = 0; r < RUNS; r++) {
		server_run(on, r, seconds);
		server_run(off, r, seconds);
	}
	for (int i = 0; i < 2; i++) {
		qsort(servers[i].rps, RUNS, sizeof(double), cmp_double);
		qsort(servers[i].p99, RUNS, sizeof(double), cmp_double);
	}
	printf("BENCH api_services_health_rps %.0f requests/s\n", on->rps[RUNS / 2]);
	printf("BENCH api_services_health_p99_ms %.2f ms\n", on->p99[RUNS / 2]);
	printf("BENCH api_auth_overhead_ratio %.3f (authenticated over auth off, median of %d)\n",
	       off->rps[RUNS / 2] > 0 ? on->rps[RUNS / 2] / off->rps[RUNS / 2] : 0, RUNS);
	stop_all();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}
