/*
 * Ingest throughput of the store: 1000 agents x 10 services of realistic
 * windows (4 routes, 15 syscalls with a couple of errnos, 2 calls, real
 * latency histograms), one frame per agent and second holding its 10
 * windows, 100 frames per transaction, on a fresh database in /tmp. The
 * windows are built before the clock starts, so this prices the store
 * alone (encoding the blobs, SQLite, fsync at each commit). Each run lasts
 * about BENCH_RUN_S seconds; the median of 3 runs is printed as
 *
 *	BENCH store_windows_per_s <N> windows/s
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "aggregator/store/store.h"
#include "common/hist.h"
#include "common/log.h"
#include "common/window.h"
#include "common/window_wire.h"

#define AGENTS		 1000
#define SERVICES	 10
#define FRAMES_PER_TXN	 100
#define BENCH_RUN_S	 4.0
#define RUNS		 3
/* distinct frames built up front (per agent, reused with new end times and seqs) */
#define TEMPLATES	 8

static uint64_t rng_state = 42;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* CPU time of this process, user and system: what the store costs, whatever else runs */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const syscall_names[15] = {
	"read",	  "write",   "openat", "close",	   "recvfrom", "sendto", "accept4", "connect",
	"epoll_wait", "futex", "poll",	"fstat", "mmap", "munmap", "writev",
};

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
		if (i < 3) {
			y->errors = 1 + rng() % 5;
			window_syscall_add_errno(y, EAGAIN, y->errors - 1);
			window_syscall_add_errno(y, i == 2 ? ENOENT : ECONNRESET, 1);
		}
	}
	for (int c = 0; c < 2; c++) {
		struct window_call *k = window_call_get(w, c ? "10.0.0.2:8003" : "10.0.0.3:8002");

		snprintf(k->peer, sizeof(k->peer), "%s", c ? "payments" : "users");
		k->count = 10 + rng() % 100;
		k->errors = rng() % 3 == 0;
		for (uint64_t i = 0; i < 16; i++)
			hist_record_n(&k->latency_ns, 1000000 + rng() % 5000000, k->count / 16 + 1);
	}
	w->tcp.retransmits = rng() % 2;
}

struct tmpl {
	struct window_set ws;
	struct window_batch_item items[SERVICES];
};

static void tmpl_make(struct tmpl *t)
{
	window_set_init(&t->ws);
	for (int i = 0; i < SERVICES; i++) {
		snprintf(t->items[i].service, sizeof(t->items[i].service), "service-%02d", i);
		t->items[i].w = window_set_get(&t->ws, (uint16_t)(i + 1));
		fill(t->items[i].w);
	}
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

/* One run on a fresh database: windows stored per second, and per CPU second in *per_cpu. */
static double run(struct tmpl *tmpls, double *per_cpu)
{
	char dir[] = "/tmp/prp-bench-store-XXXXXX";
	struct store_options o = { .dir = dir };
	struct window_batch b = { .interval_ms = 1000, .n = SERVICES };
	uint64_t windows = 0, *seq = calloc(AGENTS, sizeof(*seq));
	int64_t end_ms = 1700000000000LL;
	struct store *s;
	double t0, t, c0;
	int agent = 0;

	if (!seq || !mkdtemp(dir) || store_open(&s, &o)) {
		fprintf(stderr, "bench_store: cannot set up a store in /tmp\n");
		exit(1);
	}
	t0 = now_s();
	c0 = cpu_s();
	do {
		if (store_begin(s))
			exit(1);
		for (int f = 0; f < FRAMES_PER_TXN; f++) {
			char agent_id[32];

			snprintf(agent_id, sizeof(agent_id), "agent-%04d", agent);
			snprintf(b.host, sizeof(b.host), "host-%04d", agent);
			b.end_ms = end_ms;
			b.items = tmpls[(agent + end_ms / 1000) % TEMPLATES].items;
			if (store_put_windows(s, "default", agent_id, ++seq[agent], &b))
				exit(1);
			windows += SERVICES;
			if (++agent == AGENTS) {
				agent = 0;
				end_ms += 1000;
			}
		}
		if (store_commit(s))
			exit(1);
		t = now_s() - t0;
	} while (t < BENCH_RUN_S);
	*per_cpu = (double)windows / (cpu_s() - c0);
	fprintf(stderr, "bench_store: %lu windows in %.2f s (%.2f s of CPU), database %.1f MiB\n",
		(unsigned long)windows, t, cpu_s() - c0, (double)store_size_bytes(s) / (1 << 20));
	store_close(s);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(seq);
	return (double)windows / t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	struct tmpl tmpls[TEMPLATES];
	double r[RUNS], c[RUNS];

	log_init("bench_store", LOG_LEVEL_WARN, LOG_TO_STDERR);
	for (int i = 0; i < TEMPLATES; i++)
		tmpl_make(&tmpls[i]);
	for (int i = 0; i < RUNS; i++) {
		r[i] = run(tmpls, &c[i]);
		fprintf(stderr, "bench_store: run %d: %.0f windows/s, %.0f per CPU second\n", i + 1,
			r[i], c[i]);
	}
	qsort(r, RUNS, sizeof(r[0]), cmp_double);
	qsort(c, RUNS, sizeof(c[0]), cmp_double);
	printf("BENCH store_windows_per_s %.0f windows/s\n", r[RUNS / 2]);
	/* the same per second of this process's CPU: steady when other work shares the machine */
	printf("BENCH store_windows_per_cpu_s %.0f windows/s\n", c[RUNS / 2]);
	for (int i = 0; i < TEMPLATES; i++)
		window_set_release(&tmpls[i].ws);
	return 0;
}
