/*
 * End-to-end ingest throughput: the real build/prp-aggregator (a child
 * process on a fresh data directory in /tmp) and 1000 simulated agents of
 * 10 services each, one nanomsg REQ socket per agent, driven by a few
 * load processes (nanomsg allows 512 sockets per process). Each request is what agent/sender.c sends: a
 * FRAME_HELLO, then BENCH_FRAMES_PER_REQ spooled FRAME_WINDOWS frames of
 * increasing seq; each frame holds the agent's 10 windows (3-5 routes, 15
 * syscalls with a couple of errnos, 2 calls, real latency histograms),
 * encoded with window_batch_encode() and frame_encode() as agent/uplink.c
 * does. An agent sends its next request as soon as its ACK is back, so the
 * aggregator is saturated.
 *
 * Windows end near the wall clock (an agent sends several frames per
 * second, as if catching up), so the aggregator's minute rollups and
 * retention run as they would in production. To keep this process light, a
 * frame is compressed once per agent and FRAME_REUSE_S seconds; the frames
 * after it differ in seq only and are re-signed.
 *
 * After WARMUP_S, for MEASURE_S: windows acknowledged per second, the
 * aggregator's CPU seconds (utime + stime of /proc/PID/stat) and its RSS
 * at the start and the end. Median of RUNS runs:
 *
 *	BENCH ingest_windows_per_s <N> windows/s
 *	BENCH ingest_windows_per_cpu_s <N> windows/cpu-s
 *	BENCH ingest_aggregator_rss_mb <N> MB
 *	BENCH ingest_rss_growth_mb <N> MB
 *
 * PRP_AGGREGATOR overrides the program (default build/prp-aggregator),
 * BENCH_FRAMES_PER_REQ the frames per request (default 4), BENCH_RUNS and
 * BENCH_MEASURE_S the runs and their length.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/frame.h"
#include "common/hist.h"
#include "common/hmac.h"
#include "common/log.h"
#include "common/window.h"
#include "common/window_wire.h"

#define AGENTS	       1000
#define SERVICES       10
#define SERVICE_POOL   200 /* distinct service names; each agent runs 10 of them */
/* load processes: nanomsg allows 512 sockets per process (NN_MAX_SOCKETS) */
#define LOADERS	       4
#define TEMPLATES      8
#define WARMUP_S       5.0
#define MEASURE_S      10.0
#define RUNS	       3
#define TENANT	       "default"
#define KEY	       "bench-ingest-key-0123456789"
#define REQ_MAX_BYTES  (8u << 20)
#define SEND_TIMEOUT_MS 5000
/*
 * An agent's frame is compressed once per this many seconds (its windows end
 * on the first of them) and re-signed for each seq: deflating every frame
 * would take this process more CPU than the aggregator has on 2 vCPUs.
 */
#define FRAME_REUSE_S	 5

static uint64_t rng_state = 42;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t real_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- windows ---- */

static const char *const syscall_names[15] = {
	"read",	  "write",   "openat", "close",	   "recvfrom", "sendto", "accept4", "connect",
	"epoll_wait", "futex", "poll",	"fstat", "mmap", "munmap", "writev",
};

/* The windows of bench_store.c: what a busy service shows in one second. */
static void fill(struct window *w)
{
	static const char *const routes[5] = { "/users/{id}", "/orders", "/orders/{id}",
					       "/payments", "/health" };
	size_t nroutes = 3 + rng() % 3;

	for (size_t r = 0; r < nroutes; r++) {
		struct window_http *h = window_http_get(w, r % 2 ? "POST" : "GET", routes[r],
							r == 2 && rng() % 4 == 0 ? 503 : 200);
		uint64_t n = 20 + rng() % 200;

		h->count += n;
		for (uint64_t i = 0; i < n; i++)
			hist_record(&h->latency_ns, 200000 + rng() % 20000000);
	}
	for (uint32_t i = 0; i < 15; i++) {
		struct window_syscall *y = window_syscall_get(w, i, syscall_names[i]);

		y->count = 50 + rng() % 500;
		for (uint64_t j = 0; j < 20; j++)
			hist_record_n(&y->latency_ns, 1000 + rng() % 50000, y->count / 20 + 1);
		y->count = hist_count(&y->latency_ns);
		if (i < 3) {
			y->errors = 1 + rng() % 5;
			window_syscall_add_errno(y, EAGAIN, y->errors - 1);
			window_syscall_add_errno(y, i == 2 ? ENOENT : ECONNRESET, 1);
		}
	}
	for (int c = 0; c < 2; c++) {
		struct window_call *k = window_call_get(w, c ? "10.0.0.2:8003" : "10.0.0.3:8002");

		snprintf(k->peer, sizeof(k->peer), "%s", c ? "payments" : "users");
		for (uint64_t i = 0; i < 16; i++)
			hist_record_n(&k->latency_ns, 1000000 + rng() % 5000000, 1 + rng() % 6);
		k->count = hist_count(&k->latency_ns);
		k->errors = rng() % 3 == 0;
	}
	w->tcp.retransmits = rng() % 2;
}

static struct window_set tmpl_sets[TEMPLATES];

static void templates_make(void)
{
	for (int t = 0; t < TEMPLATES; t++) {
		window_set_init(&tmpl_sets[t]);
		for (int i = 0; i < SERVICES; i++)
			fill(window_set_get(&tmpl_sets[t], (uint16_t)(i + 1)));
	}
}

static void templates_free(void)
{
	for (int t = 0; t < TEMPLATES; t++)
		window_set_release(&tmpl_sets[t]);
}

/* ---- agents ---- */

struct agent {
	int sock;
	char id[32], host[32];
	uint64_t acked;	 /* highest seq acknowledged */
	uint64_t sent_to; /* highest seq of the request in flight */
	bool in_flight;
	/* the frame of the current second, compressed once; re-signed per seq */
	int64_t frame_s;
	struct buf frame;
	size_t signed_len; /* bytes under the MAC */
	struct buf hello;
};

/* Shared by the load processes and the parent (an anonymous shared mapping). */
struct counters {
	atomic_bool stop;
	atomic_uint_fast64_t windows_acked, requests, failures;
};

/* What one load process has. */
struct run {
	struct agent *agents;
	int frames_per_req;
	struct counters *shared;
};

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

/* The frame of @a for the current second, encoded once per second. */
static int frame_for_second(struct agent *a, int idx, int64_t t_s)
{
	struct window_batch_item items[SERVICES];
	struct window_batch b = { .interval_ms = 1000, .n = SERVICES, .items = items };
	struct frame_header h = { .type = FRAME_WINDOWS, .seq = 1 };
	const struct window_set *ws = &tmpl_sets[(size_t)(idx + t_s) % TEMPLATES];
	struct buf payload;
	int err;

	memset(items, 0, sizeof(items));
	for (int i = 0; i < SERVICES; i++) {
		snprintf(items[i].service, sizeof(items[i].service), "svc-%03d",
			 (idx % (SERVICE_POOL / SERVICES)) * SERVICES + i);
		items[i].npids = 1;
		items[i].pids[0] = 1000 + (uint32_t)i;
		items[i].w = ws->by_id[i + 1];
	}
	snprintf(b.host, sizeof(b.host), "%s", a->host);
	b.end_ms = t_s * 1000;
	buf_init(&payload, FRAME_PAYLOAD_MAX);
	err = window_batch_encode(&b, &payload);
	snprintf(h.agent_id, sizeof(h.agent_id), "%s", a->id);
	snprintf(h.tenant, sizeof(h.tenant), "%s", TENANT);
	h.time_ms = b.end_ms;
	buf_reset(&a->frame);
	if (!err)
		err = frame_encode(&a->frame, &h, payload.data, payload.len, KEY, strlen(KEY));
	buf_release(&payload);
	if (err)
		return err;
	a->signed_len = a->frame.len - FRAME_HMAC_BYTES;
	a->frame_s = t_s;
	return 0;
}

static int hello_make(struct agent *a)
{
	struct frame_header h = { .type = FRAME_HELLO };
	char json[256];

	snprintf(h.agent_id, sizeof(h.agent_id), "%s", a->id);
	snprintf(h.tenant, sizeof(h.tenant), "%s", TENANT);
	h.time_ms = real_s() * 1000;
	snprintf(json, sizeof(json),
		 "{\"version\":\"bench\",\"host\":\"%s\",\"spool_bytes\":0,\"spool_frames\":0,"
		 "\"spool_lost\":0,\"acked_seq\":0,\"next_seq\":1}",
		 a->host);
	return frame_encode(&a->hello, &h, json, strlen(json), KEY, strlen(KEY));
}

/* Sends HELLO and the next frames after the acknowledged seq. */
static int send_request(struct run *r, struct agent *a, int idx, struct buf *req)
{
	/* see FRAME_REUSE_S */
	int64_t t_s = real_s() / FRAME_REUSE_S * FRAME_REUSE_S;
	int err;

	if (a->frame_s != t_s) {
		err = frame_for_second(a, idx, t_s);
		if (err)
			return err;
	}
	buf_reset(req);
	err = buf_append(req, a->hello.data, a->hello.len);
	for (int k = 1; k <= r->frames_per_req && !err; k++) {
		put_be64(a->frame.data + 8, a->acked + (uint64_t)k);
		if (hmac_sha256(KEY, strlen(KEY), a->frame.data, a->signed_len,
				a->frame.data + a->signed_len))
			return -EIO;
		err = buf_append(req, a->frame.data, a->frame.len);
	}
	if (err)
		return err;
	if (nn_send(a->sock, req->data, req->len, 0) < 0)
		return -nn_errno();
	a->sent_to = a->acked + (uint64_t)r->frames_per_req;
	a->in_flight = true;
	atomic_fetch_add(&r->shared->requests, 1);
	return 0;
}

/* Reads the ACK; counts the windows it acknowledges. */
static void on_reply(struct run *r, struct agent *a, const void *msg, size_t len,
		     struct buf *payload)
{
	struct frame_header h;
	size_t used;

	a->in_flight = false;
	if (frame_decode(msg, len, KEY, strlen(KEY), &h, payload, &used) != FRAME_OK ||
	    h.type != FRAME_ACK) {
		atomic_fetch_add(&r->shared->failures, 1);
		return;
	}
	if (h.seq > a->acked) {
		atomic_fetch_add(&r->shared->windows_acked, (h.seq - a->acked) * SERVICES);
		a->acked = h.seq;
	}
}

/* One load process: agents [first, first + n), all in one nn_poll() loop. */
static void loader_main(struct run *r, int first, int n, const char *url)
{
	struct nn_pollfd *pfd = calloc((size_t)n, sizeof(*pfd));
	int maxsize = 1 << 20, snd = SEND_TIMEOUT_MS, resend = 60000;
	struct buf req, payload;

	r->agents = calloc((size_t)n, sizeof(*r->agents));
	for (int i = 0; i < n; i++) {
		struct agent *a = &r->agents[i];

		snprintf(a->id, sizeof(a->id), "agent-%04d", first + i);
		snprintf(a->host, sizeof(a->host), "host-%04d", first + i);
		buf_init(&a->frame, FRAME_PAYLOAD_MAX);
		buf_init(&a->hello, 4096);
		a->frame_s = -1;
		if (hello_make(a))
			_exit(1);
		a->sock = nn_socket(AF_SP, NN_REQ);
		if (a->sock < 0 ||
		    nn_setsockopt(a->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsize,
				  sizeof(maxsize)) < 0 ||
		    nn_setsockopt(a->sock, NN_SOL_SOCKET, NN_SNDTIMEO, &snd, sizeof(snd)) < 0 ||
		    nn_setsockopt(a->sock, NN_REQ, NN_REQ_RESEND_IVL, &resend, sizeof(resend)) < 0 ||
		    nn_connect(a->sock, url) < 0) {
			fprintf(stderr, "bench_ingest: socket %d: %s\n", first + i,
				nn_strerror(nn_errno()));
			_exit(1);
		}
		pfd[i].fd = a->sock;
		pfd[i].events = NN_POLLIN;
	}
	buf_init(&req, REQ_MAX_BYTES);
	buf_init(&payload, 1u << 20);
	while (!atomic_load(&r->shared->stop)) {
		for (int i = 0; i < n; i++) {
			struct agent *a = &r->agents[i];

			if (!a->in_flight && send_request(r, a, first + i, &req))
				atomic_fetch_add(&r->shared->failures, 1);
		}
		if (nn_poll(pfd, n, 100) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			struct agent *a = &r->agents[i];
			void *msg = NULL;
			int len;

			if (!(pfd[i].revents & NN_POLLIN))
				continue;
			len = nn_recv(a->sock, &msg, NN_MSG, NN_DONTWAIT);
			if (len < 0)
				continue;
			on_reply(r, a, msg, (size_t)len, &payload);
			nn_freemsg(msg);
		}
	}
	for (int i = 0; i < n; i++) {
		nn_close(r->agents[i].sock);
		buf_release(&r->agents[i].frame);
		buf_release(&r->agents[i].hello);
	}
	buf_release(&req);
	buf_release(&payload);
	free(pfd);
	free(r->agents);
}

/* ---- the aggregator ---- */

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

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "bench_ingest: cannot write %s\n", path);
		exit(1);
	}
	chmod(path, 0600);
}

/* The running aggregator, stopped by an early exit() too. */
static pid_t child_pid;

static void child_kill(void)
{
	if (child_pid > 0)
		kill(child_pid, SIGTERM);
}

static pid_t aggregator_start(const char *dir, int ingest_port)
{
	char data[512], keys[512], tenant[600], key[700], logf[512], ingest[64], listen[64];
	const char *prog = getenv("PRP_AGGREGATOR") ? getenv("PRP_AGGREGATOR")
						   : "build/prp-aggregator";
	int http_port = free_port();
	pid_t pid;

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(tenant, sizeof(tenant), "%s/" TENANT, keys);
	snprintf(key, sizeof(key), "%s/tenant.key", tenant);
	snprintf(logf, sizeof(logf), "%s/aggregator.log", dir);
	snprintf(ingest, sizeof(ingest), "tcp://127.0.0.1:%d", ingest_port);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", http_port);
	if (mkdir(keys, 0700) || mkdir(tenant, 0700)) {
		fprintf(stderr, "bench_ingest: cannot create %s\n", tenant);
		exit(1);
	}
	write_file(key, KEY "\n");
	pid = fork();
	if (pid == 0) {
		int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execl(prog, prog, "--data", data, "--keys-dir", keys, "--ingest", ingest,
		      "--listen", listen, "--log-level", "warn", (char *)NULL);
		fprintf(stderr, "bench_ingest: cannot run %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		fprintf(stderr, "bench_ingest: fork: %s\n", strerror(errno));
		exit(1);
	}
	child_pid = pid;
	return pid;
}

/* utime + stime of @pid, in seconds. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], line[2048], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	/* after "pid (comm) ": state is field 3; utime and stime are 14 and 15 */
	p = strrchr(line, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double proc_rss_mb(pid_t pid)
{
	char path[64], line[256];
	double kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lf kB", &kb) == 1)
			break;
	fclose(f);
	return kb / 1024.0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

/* ---- one run ---- */

struct result {
	double per_s, per_cpu_s, rss_mb, rss_growth_mb, cpu_share;
};

static void run_once(int frames_per_req, double measure_s, struct result *out)
{
	char dir[] = "/tmp/prp-bench-ingest-XXXXXX", url[64], dbpath[600];
	struct counters *sh;
	pid_t pid, loaders[LOADERS];
	uint64_t w0, w1;
	double t0, t1, c0, c1, rss0, rss1, db_mb;
	struct stat sb;
	int port, status;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || !mkdtemp(dir)) {
		fprintf(stderr, "bench_ingest: cannot set up in /tmp\n");
		exit(1);
	}
	memset(sh, 0, sizeof(*sh));
	port = free_port();
	pid = aggregator_start(dir, port);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	usleep(300000); /* let the aggregator bind; REQ sockets reconnect anyway */
	for (int l = 0; l < LOADERS; l++) {
		int first = l * AGENTS / LOADERS, n = (l + 1) * AGENTS / LOADERS - first;

		loaders[l] = fork();
		if (loaders[l] == 0) {
			struct run r = { .frames_per_req = frames_per_req, .shared = sh };

			child_pid = 0; /* the parent stops the aggregator */
			loader_main(&r, first, n, url);
			_exit(0);
		}
		if (loaders[l] < 0) {
			fprintf(stderr, "bench_ingest: fork: %s\n", strerror(errno));
			exit(1);
		}
	}
	usleep((useconds_t)(WARMUP_S * 1e6));
	t0 = now_s();
	c0 = proc_cpu_s(pid);
	w0 = atomic_load(&sh->windows_acked);
	rss0 = proc_rss_mb(pid);
	usleep((useconds_t)(measure_s * 1e6));
	t1 = now_s();
	c1 = proc_cpu_s(pid);
	w1 = atomic_load(&sh->windows_acked);
	rss1 = proc_rss_mb(pid);
	atomic_store(&sh->stop, true);
	for (int l = 0; l < LOADERS; l++)
		waitpid(loaders[l], &status, 0);
	snprintf(dbpath, sizeof(dbpath), "%s/data/prp.db", dir);
	db_mb = stat(dbpath, &sb) ? 0 : (double)sb.st_size / (1 << 20);
	kill(pid, SIGTERM);
	child_pid = 0;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "bench_ingest: the aggregator did not exit cleanly (see %s)\n",
			dir);
		exit(1);
	}
	out->per_s = (double)(w1 - w0) / (t1 - t0);
	out->per_cpu_s = c1 > c0 ? (double)(w1 - w0) / (c1 - c0) : 0;
	out->cpu_share = (c1 - c0) / (t1 - t0);
	out->rss_mb = rss1;
	out->rss_growth_mb = rss1 - rss0;
	fprintf(stderr,
		"bench_ingest: %llu windows in %.1f s, aggregator %.2f CPU/s, RSS %.1f -> %.1f MB,"
		" %llu requests, %llu failures, db %.0f MiB\n",
		(unsigned long long)(w1 - w0), t1 - t0, out->cpu_share, rss0, rss1,
		(unsigned long long)atomic_load(&sh->requests),
		(unsigned long long)atomic_load(&sh->failures), db_mb);
	munmap(sh, sizeof(*sh));
	if (!getenv("BENCH_KEEP"))
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int env_int(const char *name, int def, int lo, int hi)
{
	const char *v = getenv(name);
	int n = v ? atoi(v) : def;

	return n < lo || n > hi ? def : n;
}

int main(void)
{
	int fpr = env_int("BENCH_FRAMES_PER_REQ", 4, 1, 64), runs = env_int("BENCH_RUNS", RUNS, 1, 9);
	double measure_s = env_int("BENCH_MEASURE_S", (int)MEASURE_S, 1, 600);
	double ps[9], pc[9], rss[9], growth[9];
	struct result res;

	struct rlimit rl;

	log_init("bench_ingest", LOG_LEVEL_WARN, LOG_TO_STDERR);
	signal(SIGPIPE, SIG_IGN);
	/* a socket per agent, and nanomsg's own descriptors: more than the usual 1024 */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 4 * AGENTS + 256) {
		rl.rlim_cur = rl.rlim_max < 4 * AGENTS + 256 ? rl.rlim_max : 4 * AGENTS + 256;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	atexit(child_kill);
	templates_make();
	for (int i = 0; i < runs; i++) {
		run_once(fpr, measure_s, &res);
		ps[i] = res.per_s;
		pc[i] = res.per_cpu_s;
		rss[i] = res.rss_mb;
		growth[i] = res.rss_growth_mb;
		fprintf(stderr, "bench_ingest: run %d: %.0f windows/s, %.0f per CPU second\n", i + 1,
			res.per_s, res.per_cpu_s);
	}
	printf("BENCH ingest_windows_per_s %.0f windows/s\n", median(ps, runs));
	/* per second of the aggregator's CPU: steady when other work shares the machine */
	printf("BENCH ingest_windows_per_cpu_s %.0f windows/cpu-s\n", median(pc, runs));
	printf("BENCH ingest_aggregator_rss_mb %.1f MB\n", median(rss, runs));
	printf("BENCH ingest_rss_growth_mb %.1f MB\n", median(growth, runs));
	templates_free();
	return 0;
}
