/*
 * The connection rate limit against the running kernel: agent/ratelimit.c
 * loads bpf/ratelimit.bpf.c onto lo's ingress, a real accept loop listens on
 * 127.0.0.1, and a client offers several times the limit in new connections
 * per second. Each connect is non-blocking and abandoned after
 * CONNECT_TIMEOUT_MS, well before the client kernel's first SYN
 * retransmission (1 s), so a dropped SYN costs the client one abandoned
 * attempt instead of stalling the offered rate. Needs root: it fails, never
 * skips, without it.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/ratelimit.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"

TestSuite(bpf_ratelimit, .fini = test_no_leaks, .timeout = 90);

/* the limit under test, and five times as much offered */
#define RATE_PER_S	   50
#define BURST		   10
#define OFFERED_PER_S	   (5 * RATE_PER_S)
#define CONNECT_TIMEOUT_MS 200
#define INFLIGHT_MAX	   256 /* OFFERED_PER_S * CONNECT_TIMEOUT_MS / 1000 = 50, with room */
#define ACCEPTS_MAX	   8192
#define TCX_INGRESS	   46 /* enum bpf_attach_type's BPF_TCX_INGRESS, absent from the headers */

/* ---- the server: an accept loop on 127.0.0.1 ----------------------------- */

struct server {
	int fd;
	__u16 port;
	pthread_t thread;
	atomic_int stop;
	atomic_uint naccepted;
	__u64 accepted_ns[ACCEPTS_MAX]; /* written by the thread before naccepted moves */
};

static void *server_run(void *arg)
{
	struct server *s = arg;
	struct pollfd p = { .fd = s->fd, .events = POLLIN };

	while (!atomic_load(&s->stop)) {
		int c;

		if (poll(&p, 1, 20) <= 0)
			continue;
		while ((c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			unsigned n = atomic_load(&s->naccepted);

			if (n < ACCEPTS_MAX)
				s->accepted_ns[n] = time_mono_ns();
			atomic_store(&s->naccepted, n + 1);
			close(c);
		}
	}
	return NULL;
}

/* Listens on an ephemeral port of 127.0.0.1; server_serve() starts accepting. */
static struct server *server_listen(void)
{
	struct server *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	cr_assert_not_null(s);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_geq(s->fd, 0);
	/* a deep backlog: the accept queue must never be what limits the rate */
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s->fd, 4096), 0);
	cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	return s;
}

static void server_serve(struct server *s)
{
	cr_assert_eq(pthread_create(&s->thread, NULL, server_run, s), 0);
}

static struct server *server_start(void)
{
	struct server *s = server_listen();

	server_serve(s);
	return s;
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->fd);
	free(s);
}

/* Accepts in [from_ns, to_ns). */
static unsigned server_accepted_between(struct server *s, __u64 from_ns, __u64 to_ns)
{
	unsigned n = atomic_load(&s->naccepted), k = 0;

	cr_assert_leq(n, ACCEPTS_MAX);
	for (unsigned i = 0; i < n; i++)
		k += s->accepted_ns[i] >= from_ns && s->accepted_ns[i] < to_ns;
	return k;
}

/* Waits until the server has accepted every connect that completed, or 1 s. */
static void server_wait_for(struct server *s, unsigned want)
{
	for (int i = 0; i < 100 && atomic_load(&s->naccepted) < want; i++)
		usleep(10000);
}

/* ---- the client: new connections at a fixed offered rate ---------------- */

struct load {
	__u64 start_ns, end_ns;
	unsigned offered;   /* connects started */
	unsigned connected; /* completed within CONNECT_TIMEOUT_MS */
	unsigned timed_out; /* abandoned: their SYN was dropped */
	unsigned failed;    /* any other error */
};

struct inflight {
	int fd;
	__u64 deadline_ns;
};

static void connect_start(struct inflight *f, __u16 port, __u64 now)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port) };

	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_geq(f->fd, 0);
	f->deadline_ns = now + CONNECT_TIMEOUT_MS * NSEC_PER_MSEC;
	if (connect(f->fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS)
		cr_assert_fail("connect: %s", strerror(errno));
}

/* Offers OFFERED_PER_S new connections per second to 127.0.0.1:@port for @duration_ms. */
static struct load offer(__u16 port, unsigned duration_ms)
{
	const __u64 period_ns = NSEC_PER_SEC / OFFERED_PER_S;
	struct inflight fl[INFLIGHT_MAX];
	struct pollfd pfd[INFLIGHT_MAX];
	struct load r = { 0 };
	__u64 now, next, stop;
	int n = 0;

	r.start_ns = next = time_mono_ns();
	stop = r.start_ns + duration_ms * NSEC_PER_MSEC;
	while ((now = time_mono_ns()) < stop || n) {
		struct timespec ts;
		__u64 wait_ns = NSEC_PER_MSEC;

		while (now < stop && next <= now) {
			cr_assert_lt(n, INFLIGHT_MAX, "too many connects in flight");
			connect_start(&fl[n++], port, now);
			r.offered++;
			next += period_ns;
		}
		if (now < stop && next - now < wait_ns)
			wait_ns = next > now ? next - now : 0;
		for (int i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = fl[i].fd, .events = POLLOUT };
		ts.tv_sec = 0;
		ts.tv_nsec = (long)wait_ns;
		cr_assert_geq(ppoll(pfd, (nfds_t)n, &ts, NULL), 0);
		now = time_mono_ns();
		for (int i = n - 1; i >= 0; i--) {
			int err = 0;
			socklen_t len = sizeof(err);

			if (pfd[i].revents) {
				cr_assert_eq(getsockopt(fl[i].fd, SOL_SOCKET, SO_ERROR, &err, &len),
					     0);
				if (err)
					r.failed++;
				else
					r.connected++;
			} else if (now >= fl[i].deadline_ns) {
				r.timed_out++;
			} else {
				continue;
			}
			close(fl[i].fd);
			fl[i] = fl[--n];
		}
	}
	r.end_ns = stop;
	return r;
}

/* ---- what is attached to lo -------------------------------------------- */

/* Ids of the tcx programs on lo's ingress. */
static __u32 tcx_ids(__u32 *ids, __u32 cap)
{
	__u32 flags = 0, n = cap;

	cr_assert_eq(bpf_prog_query((int)if_nametoindex("lo"), (enum bpf_attach_type)TCX_INGRESS, 0,
				    &flags, ids, &n),
		     0, "bpf_prog_query(tcx ingress of lo): %s", strerror(errno));
	return n;
}

static int has_id(const __u32 *ids, __u32 n, __u32 id)
{
	for (__u32 i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* The one id in @after but not in @before (0 when there is not exactly one). */
static __u32 new_id(const __u32 *before, __u32 nb, const __u32 *after, __u32 na)
{
	__u32 id = 0, found = 0;

	for (__u32 i = 0; i < na; i++)
		if (!has_id(before, nb, after[i])) {
			id = after[i];
			found++;
		}
	return found == 1 ? id : 0;
}

static void expect_prog_named(__u32 id, const char *name)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	cr_assert_geq(fd, 0, "program %u: %s", id, strerror(errno));
	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	cr_expect_str_eq(info.name, name);
	close(fd);
}

/* Whether `tc filter show dev lo ingress` lists a filter running @prog_name. */
static int tc_lists(const char *prog_name)
{
	char line[512];
	int found = 0;
	FILE *p = popen("tc filter show dev lo ingress 2>/dev/null", "r");

	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p))
		found |= strstr(line, prog_name) != NULL;
	pclose(p);
	return found;
}

static void log_load(const char *what, const struct load *l)
{
	cr_log_info("%s: offered %u in %.2f s (%.0f/s): connected %u, timed out %u, failed %u",
		    what, l->offered, (double)(l->end_ns - l->start_ns) / NSEC_PER_SEC,
		    l->offered * (double)NSEC_PER_SEC / (double)(l->end_ns - l->start_ns),
		    l->connected, l->timed_out, l->failed);
}

/* ---- tests -------------------------------------------------------------- */

Test(bpf_ratelimit, limits_new_connections_to_the_rate_and_lifts_on_clear_and_stop)
{
	const unsigned run_ms = 4000;
	__u32 before[64], after[64], nb, na, ours;
	struct server *svc, *other;
	struct ratelimit *rl;
	struct load l;
	__u64 passed = 0, dropped = 0, steady_from;
	unsigned burst_window, steady;
	double steady_per_s;

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	svc = server_start();
	other = server_start();
	nb = tcx_ids(before, 64);
	cr_assert_eq(ratelimit_start(&rl, "lo"), 0);
	na = tcx_ids(after, 64);
	ours = new_id(before, nb, after, na);
	cr_assert_neq(ours, 0, "expected one new tcx program on lo ingress");
	expect_prog_named(ours, "rl_ingress");

	/* no limit yet: every connect passes */
	l = offer(svc->port, 500);
	log_load("before the limit", &l);
	cr_expect_eq(l.connected, l.offered);
	cr_expect_eq(ratelimit_stats(rl, svc->port, &passed, &dropped), -ENOENT);

	cr_assert_eq(ratelimit_set(rl, svc->port, RATE_PER_S, BURST), 0);
	atomic_store(&svc->naccepted, 0);
	l = offer(svc->port, run_ms);
	server_wait_for(svc, l.connected);
	log_load("limited", &l);
	cr_expect_eq(l.failed, 0);
	cr_expect_eq(atomic_load(&svc->naccepted), l.connected);
	/* the first second holds the burst; after it only the refill passes */
	steady_from = l.start_ns + NSEC_PER_SEC;
	burst_window = server_accepted_between(svc, l.start_ns, steady_from);
	steady = server_accepted_between(svc, steady_from, l.end_ns + NSEC_PER_SEC);
	steady_per_s = steady * (double)NSEC_PER_SEC / (double)(l.end_ns - steady_from);
	cr_log_info("limit %u/s burst %u: accepted %u in the first second, then %u in %.2f s = "
		    "%.1f/s",
		    RATE_PER_S, BURST, burst_window, steady,
		    (double)(l.end_ns - steady_from) / NSEC_PER_SEC, steady_per_s);
	cr_expect_leq(steady_per_s, RATE_PER_S * 1.1, "%.1f/s over the limit of %u/s", steady_per_s,
		      RATE_PER_S);
	cr_expect_geq(steady_per_s, RATE_PER_S * 0.8, "%.1f/s: the limit blocks too much",
		      steady_per_s);
	cr_expect_leq(burst_window, BURST + RATE_PER_S * 1.1);
	cr_assert_eq(ratelimit_stats(rl, svc->port, &passed, &dropped), 0);
	cr_log_info("kernel counters: passed %llu, dropped %llu", (unsigned long long)passed,
		    (unsigned long long)dropped);
	/* abandoned connects never retransmit: one SYN per attempt */
	cr_expect_eq(passed, l.connected);
	cr_expect_eq(dropped, l.timed_out);

	/* another port of the host is not limited */
	l = offer(other->port, 1000);
	log_load("another port", &l);
	cr_expect_eq(l.connected, l.offered);

	/* clearing restores the full rate */
	cr_assert_eq(ratelimit_clear(rl, svc->port), 0);
	cr_expect_eq(ratelimit_clear(rl, svc->port), -ENOENT);
	l = offer(svc->port, 1000);
	log_load("after clear", &l);
	cr_expect_eq(l.connected, l.offered);

	/* stopping with a limit set lifts it and leaves nothing on lo */
	cr_assert_eq(ratelimit_set(rl, svc->port, RATE_PER_S, BURST), 0);
	ratelimit_stop(rl);
	na = tcx_ids(after, 64);
	cr_expect_not(has_id(after, na, ours), "program %u still attached to lo", ours);
	cr_expect_not(tc_lists("rl_ingress"), "tc lists a filter rl_ingress on lo");
	l = offer(svc->port, 1000);
	log_load("after stop", &l);
	cr_expect_eq(l.connected, l.offered);
	ratelimit_stop(NULL);

	server_stop(svc);
	server_stop(other);
}

Test(bpf_ratelimit, changing_a_limit_keeps_its_counters)
{
	struct server *svc;
	struct ratelimit *rl;
	struct load l;
	__u64 passed = 0, dropped = 0, p2 = 0, d2 = 0;

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	svc = server_start();
	cr_assert_eq(ratelimit_start(&rl, "lo"), 0);
	cr_assert_eq(ratelimit_set(rl, svc->port, RATE_PER_S, BURST), 0);
	l = offer(svc->port, 500);
	cr_assert_eq(ratelimit_stats(rl, svc->port, &passed, &dropped), 0);
	cr_expect_gt(dropped, 0);
	cr_expect_eq(passed + dropped, l.offered);
	/* a much higher limit: everything passes, the counts go on */
	cr_assert_eq(ratelimit_set(rl, svc->port, 100000, 100000), 0);
	l = offer(svc->port, 500);
	log_load("raised limit", &l);
	cr_expect_eq(l.connected, l.offered);
	cr_assert_eq(ratelimit_stats(rl, svc->port, &p2, &d2), 0);
	cr_expect_eq(d2, dropped);
	cr_expect_eq(p2, passed + l.offered);
	ratelimit_stop(rl);
	server_stop(svc);
}

Test(bpf_ratelimit, a_dead_agent_leaves_nothing_attached)
{
	__u32 before[64], after[64], nb, na, ours;
	struct server *svc;
	struct load l;
	int ready[2], status;
	__u16 port;
	char byte;
	pid_t agent;

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	/* the thread after the fork: a child of a threaded process may deadlock in malloc */
	svc = server_listen();
	port = svc->port;
	nb = tcx_ids(before, 64);
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	agent = fork();
	cr_assert_geq(agent, 0);
	if (agent == 0) {
		struct ratelimit *rl;

		/* an "agent" that limits the port to almost nothing and is killed */
		if (ratelimit_start(&rl, "lo") || ratelimit_set(rl, port, 1, 1))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	cr_assert_eq(read(ready[0], &byte, 1), 1, "the agent child failed");
	close(ready[0]);
	na = tcx_ids(after, 64);
	ours = new_id(before, nb, after, na);
	cr_assert_neq(ours, 0);
	/* the backlog completes handshakes without the accept thread: the limit is what drops */
	l = offer(port, 300);
	log_load("while the agent lives", &l);
	cr_expect_gt(l.timed_out, 0);
	cr_expect_leq(l.connected, 2);

	kill(agent, SIGKILL);
	cr_assert_eq(waitpid(agent, &status, 0), agent);
	/* the link is released when the dead process's files are, a moment after the reap */
	for (int i = 0; i < 100; i++) {
		na = tcx_ids(after, 64);
		if (!has_id(after, na, ours))
			break;
		usleep(10000);
	}
	cr_expect_not(has_id(after, na, ours), "program %u outlived its agent", ours);

	server_serve(svc);
	l = offer(port, 500);
	log_load("after the agent died", &l);
	cr_expect_eq(l.connected, l.offered);
	server_stop(svc);
}

Test(bpf_ratelimit, rejects_bad_arguments_and_missing_interfaces)
{
	struct ratelimit *rl = (struct ratelimit *)&rl; /* anything but NULL */
	__u64 passed, dropped;

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	cr_expect_eq(ratelimit_start(&rl, "prp-no-such-if"), -ENODEV);
	cr_expect_null(rl);
	cr_assert_eq(ratelimit_start(&rl, "lo"), 0);
	cr_expect_eq(ratelimit_set(rl, 0, 10, 1), -EINVAL);
	cr_expect_eq(ratelimit_set(rl, 8080, 0, 1), -EINVAL);
	cr_expect_eq(ratelimit_set(rl, 8080, 10, 0), -EINVAL);
	cr_expect_eq(ratelimit_set(rl, 8080, 2000000000u, 1), -EINVAL);
	cr_expect_eq(ratelimit_clear(rl, 8080), -ENOENT);
	cr_expect_eq(ratelimit_stats(rl, 8080, &passed, &dropped), -ENOENT);
	ratelimit_stop(rl);
}
