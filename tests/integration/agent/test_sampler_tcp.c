/*
 * The TCP sampler on the real kernel: makes real TCP trouble and checks the
 * counts the sampler puts in the windows. All traffic runs in network
 * namespaces that the test's children create for themselves
 * (tests/lib/netns.h), so the host's own network is never touched: each
 * child enters its namespace, the test sets the sampler's targets (it knows
 * the child's pid from fork), then the child makes its trouble and reports.
 * Needs root; it fails, never skips, without it.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tcp.skel.h>

#include "agent/loader.h"
#include "agent/sampler_tcp.h"
#include "agent/services.h"
#include "common/window.h"
#include "tests/lib/fdio.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/netns.h"

TestSuite(agent_sampler_tcp, .fini = test_no_leaks, .timeout = 120);

/* Below the ephemeral range (32768-60999), so no host client socket has them as local port. */
#define PORT_SERVER 19731
#define PORT_CLOSED 19732

/* What a namespace child reports. */
struct ns_result {
	int done;			 /* units of work done */
	unsigned long long retrans_segs; /* the namespace's Tcp RetransSegs at the end */
	unsigned int client_retrans;	 /* tcpi_total_retrans of the client socket, */
	unsigned int server_retrans;	 /* and of the server's, after the last echo */
};

/* ---- child side (no criterion asserts here: report through the pipe) ---- */

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* @n connects to a port nobody listens on; each must fail with ECONNREFUSED. */
static int refused_connects(int n, void *result)
{
	struct ns_result *res = result;
	struct sockaddr_in a = loopback(PORT_CLOSED);

	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r, e;

		if (fd < 0)
			return -errno;
		r = connect(fd, (struct sockaddr *)&a, sizeof(a));
		e = errno;
		close(fd);
		if (r == 0)
			return -EPROTO;
		if (e != ECONNREFUSED)
			return -e;
		res->done++;
	}
	return 0;
}

#define ECHO_BYTES (64 * 1024)
/* Bounds of the lossy exchange: it stops once both ends have retransmitted. */
#define ECHO_MIN_ROUNDS 5
#define ECHO_MAX_ROUNDS 2000

/* Segments the kernel retransmitted on @fd so far. */
static unsigned int total_retrans(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return 0;
	return ti.tcpi_total_retrans;
}

/*
 * Accepts one connection on @lfd and echoes it, ECHO_BYTES at a time, until
 * EOF; after each echo, writes its socket's retransmit count to @status_fd.
 */
static int echo_server(int lfd, int status_fd)
{
	static char buf[ECHO_BYTES];
	int fd = accept(lfd, NULL, NULL), err;

	if (fd < 0)
		return -errno;
	for (;;) {
		unsigned int n;

		err = fdio_read_exact(fd, buf, sizeof(buf));
		if (err == -EPIPE) { /* the client is done */
			err = 0;
			break;
		}
		if (!err)
			err = fdio_write_exact(fd, buf, sizeof(buf));
		n = total_retrans(fd);
		if (!err)
			err = fdio_write_exact(status_fd, &n, sizeof(n));
		if (err)
			break;
	}
	close(fd);
	return err;
}

/*
 * A server (a grandchild, so a process of its own) on PORT_SERVER and a
 * client (this child) echoing ECHO_BYTES at a time over the lossy lo of the
 * namespace, until both sockets have retransmitted something (and at least
 * ECHO_MIN_ROUNDS times). Losses are random: stopping on what the kernel
 * says each socket did, rather than after a fixed amount, keeps the test
 * from failing on a lucky run.
 */
static int lossy_echo(int unused, void *result)
{
	struct ns_result *res = result;
	static char out[ECHO_BYTES], in[ECHO_BYTES];
	struct sockaddr_in a = loopback(PORT_SERVER);
	int lfd, fd = -1, one = 1, status, st[2], err = 0;
	pid_t server;

	(void)unused;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4) || pipe2(st, O_CLOEXEC)) {
		err = -errno;
		close(lfd);
		return err;
	}
	server = fork();
	if (server < 0) {
		err = -errno;
		goto out_pipe;
	}
	if (server == 0) {
		close(st[0]);
		_exit(echo_server(lfd, st[1]) ? 1 : 0);
	}
	close(lfd);
	close(st[1]);
	st[1] = -1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		err = -errno;
		goto out_server;
	}
	memset(out, 'x', sizeof(out));
	while (!err && res->done < ECHO_MAX_ROUNDS) {
		err = fdio_write_exact(fd, out, sizeof(out));
		if (!err)
			err = fdio_read_exact(fd, in, sizeof(in));
		if (!err)
			err = fdio_read_exact(st[0], &res->server_retrans, sizeof(res->server_retrans));
		if (err)
			break;
		res->done++;
		res->client_retrans = total_retrans(fd);
		if (res->done >= ECHO_MIN_ROUNDS && res->client_retrans && res->server_retrans)
			break;
	}
out_server:
	if (!err)
		err = netns_remove_loss();
	if (fd >= 0)
		close(fd);
	if (waitpid(server, &status, 0) != server || !WIFEXITED(status) || WEXITSTATUS(status))
		err = err ? err : -EPROTO;
	if (!err)
		err = netns_wait_tcp_quiet(30 * 1000);
	res->retrans_segs = netns_tcp_retrans_segs();
out_pipe:
	close(st[0]);
	if (st[1] >= 0)
		close(st[1]);
	return err;
}

/* Closes @fd with a reset instead of a FIN (SO_LINGER with a zero timeout). */
static void abort_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* Reads until the connection ends; 0 when it ended with a reset. */
static int read_until_reset(int fd)
{
	char buf[64];

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == ECONNRESET ? 0 : -errno;
		if (r == 0)
			return -EPROTO; /* a FIN, not a reset */
	}
}

/*
 * The server (a grandchild) on PORT_SERVER: on the first connection it waits
 * for the client's reset, on the second it resets the connection itself.
 */
static int reset_server(int lfd)
{
	int fd, err;

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return -errno;
	err = read_until_reset(fd);
	close(fd);
	if (err)
		return err;
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return -errno;
	abort_close(fd);
	return 0;
}

/*
 * Two connections to a server in its own process: the client (this child)
 * aborts the first, the server the second. The client's reset is sent after
 * its socket reached CLOSE, so it is attributed only if the socket's owner
 * outlives that state.
 */
static int resets_both_ways(int unused, void *result)
{
	struct ns_result *res = result;
	struct sockaddr_in a = loopback(PORT_SERVER);
	int lfd, fd, one = 1, status, err = 0;
	pid_t server;

	(void)unused;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4)) {
		err = -errno;
		close(lfd);
		return err;
	}
	server = fork();
	if (server < 0) {
		err = -errno;
		close(lfd);
		return err;
	}
	if (server == 0)
		_exit(reset_server(lfd) ? 1 : 0);
	close(lfd);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) || fdio_write_exact(fd, "x", 1)) {
		err = -errno;
		goto out;
	}
	abort_close(fd);
	res->done++;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		err = -errno;
		goto out;
	}
	err = read_until_reset(fd);
	close(fd);
	if (!err)
		res->done++;
out:
	if (waitpid(server, &status, 0) != server || !WIFEXITED(status) || WEXITSTATUS(status))
		err = err ? err : -EPROTO;
	return err;
}

/* ---- test side ---- */

/* Starts a child in a new network namespace, lo losing @loss_pct %, that waits for "go". */
static void ns_start(struct netns_child *c, int loss_pct, netns_work_fn *fn, int arg)
{
	int err = netns_child_start(c, loss_pct, fn, arg, sizeof(struct ns_result));

	cr_assert_eq(err, 0, "cannot start a namespace child: %s", strerror(-err));
}

static void ns_go(struct netns_child *c)
{
	cr_assert_eq(netns_child_go(c), 0);
}

/* Waits for the child's report and exit. */
static struct ns_result ns_finish(struct netns_child *c)
{
	struct ns_result res;
	int err = netns_child_finish(c, &res);

	cr_assert_eq(err, 0, "the namespace child failed: %s", strerror(-err));
	return res;
}

static void start(struct sampler_tcp *s)
{
	int err;

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	cr_assert_eq(loader_init(), 0);
	err = sampler_tcp_start(s);
	cr_assert_eq(err, 0, "sampler_tcp_start: %s", strerror(-err));
}

static struct service_set *set_new(void)
{
	struct service_set *set = calloc(1, sizeof(*set));

	cr_assert_not_null(set);
	return set;
}

static struct service *set_add(struct service_set *set, uint16_t id, const char *name)
{
	struct service *svc = &set->items[set->n++];

	svc->id = id;
	snprintf(svc->name, sizeof(svc->name), "%s", name);
	return svc;
}

static void set_targets(struct sampler_tcp *s, const struct service_set *set)
{
	int err = sampler_tcp_set_targets(s, set);

	cr_assert_eq(err, 0, "sampler_tcp_set_targets: %s", strerror(-err));
}

static void collect(struct sampler_tcp *s, struct window_set *ws)
{
	int err = sampler_tcp_collect(s, ws);

	cr_assert_eq(err, 0, "sampler_tcp_collect: %s", strerror(-err));
}

static struct window_tcp tcp_of(const struct window_set *ws, uint16_t id)
{
	struct window_tcp none = { 0 };

	return ws->by_id[id] ? ws->by_id[id]->tcp : none;
}

/* No service but @a and @b (0: none) has any TCP count. */
static void expect_quiet_except(const struct window_set *ws, uint16_t a, uint16_t b)
{
	for (uint16_t id = 1; id <= SERVICES_MAX; id++) {
		struct window_tcp t = tcp_of(ws, id);

		if (id == a || id == b)
			continue;
		cr_expect(!t.retransmits && !t.resets && !t.connect_failures,
			  "service %u counted %llu/%llu/%llu", id,
			  (unsigned long long)t.retransmits, (unsigned long long)t.resets,
			  (unsigned long long)t.connect_failures);
	}
}

Test(agent_sampler_tcp, refuses_work_while_stopped)
{
	struct sampler_tcp s;
	struct service_set *set = set_new();
	struct window_set ws;

	window_set_init(&ws);
	start(&s);
	sampler_tcp_stop(&s);
	sampler_tcp_stop(&s); /* twice is fine */
	cr_expect_null(s.skel);
	cr_expect_eq(sampler_tcp_set_targets(&s, set), -ENODEV);
	cr_expect_eq(sampler_tcp_collect(&s, &ws), -ENODEV);
	expect_quiet_except(&ws, 0, 0);
	free(set);
}

Test(agent_sampler_tcp, counts_refused_connects_of_a_watched_process_exactly)
{
	struct sampler_tcp s;
	struct service_set *set = set_new();
	struct window_set ws;
	struct netns_child c;
	struct service *svc;
	struct window_tcp t;
	const int n = 25;

	start(&s);
	window_set_init(&ws);
	ns_start(&c, 0, refused_connects, n);
	svc = set_add(set, 7, "client");
	svc->pids[svc->npids++] = (uint32_t)c.pid;
	set_targets(&s, set);
	ns_go(&c);
	cr_assert_eq(ns_finish(&c).done, n);

	collect(&s, &ws);
	t = tcp_of(&ws, 7);
	cr_expect_eq(t.connect_failures, (uint64_t)n, "connect failures: %llu",
		     (unsigned long long)t.connect_failures);
	/* one RST received per connect; the RST sent had no socket and an unwatched port */
	cr_expect_eq(t.resets, (uint64_t)n, "resets: %llu", (unsigned long long)t.resets);
	cr_expect_eq(t.retransmits, 0);
	expect_quiet_except(&ws, 7, 0);

	/* a second window starts from zero */
	window_set_release(&ws);
	collect(&s, &ws);
	expect_quiet_except(&ws, 0, 0);

	window_set_release(&ws);
	free(set);
	sampler_tcp_stop(&s);
}

Test(agent_sampler_tcp, ignores_processes_that_are_not_watched)
{
	struct sampler_tcp s;
	struct service_set *set = set_new();
	struct window_set ws;
	struct netns_child watched, other;
	struct service *svc;
	const int n = 40;

	start(&s);
	window_set_init(&ws);
	ns_start(&watched, 0, refused_connects, n);
	ns_start(&other, 0, refused_connects, n);
	svc = set_add(set, 3, "watched");
	svc->pids[svc->npids++] = (uint32_t)watched.pid;
	/* a watched service that makes no trouble itself */
	svc = set_add(set, 4, "quiet");
	svc->pids[svc->npids++] = (uint32_t)getpid();
	set_targets(&s, set);
	ns_go(&watched);
	ns_go(&other);
	cr_assert_eq(ns_finish(&watched).done, n);
	cr_assert_eq(ns_finish(&other).done, n);

	collect(&s, &ws);
	cr_expect_eq(tcp_of(&ws, 3).connect_failures, (uint64_t)n);
	cr_expect_eq(tcp_of(&ws, 3).resets, (uint64_t)n);
	expect_quiet_except(&ws, 3, 0);

	window_set_release(&ws);
	free(set);
	sampler_tcp_stop(&s);
}

Test(agent_sampler_tcp, counts_resets_sent_and_received_on_both_ends)
{
	struct sampler_tcp s;
	struct service_set *set = set_new();
	struct window_set ws;
	struct netns_child c;
	struct service *svc;
	struct window_tcp server, client;

	start(&s);
	window_set_init(&ws);
	ns_start(&c, 0, resets_both_ways, 0);
	svc = set_add(set, 21, "server"); /* by its listening port only */
	svc->ports[svc->nports++] = PORT_SERVER;
	svc = set_add(set, 22, "client"); /* by the process that connects */
	svc->pids[svc->npids++] = (uint32_t)c.pid;
	set_targets(&s, set);
	ns_go(&c);
	cr_assert_eq(ns_finish(&c).done, 2);

	collect(&s, &ws);
	server = tcp_of(&ws, 21);
	client = tcp_of(&ws, 22);
	/* each end sent one reset and received the other's */
	cr_expect_eq(server.resets, 2, "server resets: %llu", (unsigned long long)server.resets);
	cr_expect_eq(client.resets, 2, "client resets: %llu", (unsigned long long)client.resets);
	cr_expect_eq(server.connect_failures + client.connect_failures, 0);
	cr_expect_eq(server.retransmits + client.retransmits, 0);
	expect_quiet_except(&ws, 21, 22);

	window_set_release(&ws);
	free(set);
	sampler_tcp_stop(&s);
}

Test(agent_sampler_tcp, stops_counting_a_process_removed_from_the_targets)
{
	struct sampler_tcp s;
	struct service_set *set = set_new();
	struct window_set ws;
	struct netns_child c;
	struct service *svc;

	start(&s);
	window_set_init(&ws);
	ns_start(&c, 0, refused_connects, 10);
	svc = set_add(set, 9, "gone");
	svc->pids[svc->npids++] = (uint32_t)c.pid;
	svc->ports[svc->nports++] = PORT_CLOSED;
	set_targets(&s, set);
	set->n = 0;
	set_targets(&s, set); /* the maps must now be empty */
	ns_go(&c);
	cr_assert_eq(ns_finish(&c).done, 10);

	collect(&s, &ws);
	expect_quiet_except(&ws, 0, 0);

	window_set_release(&ws);
	free(set);
	sampler_tcp_stop(&s);
}

/* Logs the run count and mean cost of each program, from the kernel's BPF stats. */
static void log_cost(struct sampler_tcp *s)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, s->skel->obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			continue;
		fprintf(stderr, "tcp sampler cost: %-13s %6llu runs, %6.0f ns per run\n",
			bpf_program__name(prog), (unsigned long long)info.run_cnt,
			info.run_cnt ? (double)info.run_time_ns / (double)info.run_cnt : 0.0);
	}
}

Test(agent_sampler_tcp, loses_nothing_across_collects)
{
	struct sampler_tcp s;
	struct service_set *set = set_new();
	struct window_tcp sum = { 0 };
	struct netns_child c;
	struct service *svc;
	int ncollects = 0, nonempty = 0, status, stats_fd;
	const int n = 3000;

	start(&s);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	ns_start(&c, 0, refused_connects, n);
	svc = set_add(set, 5, "busy");
	svc->pids[svc->npids++] = (uint32_t)c.pid;
	set_targets(&s, set);
	ns_go(&c);
	/* collect, each time into a fresh window set, while the child connects */
	for (bool running = true; running; ncollects++) {
		struct window_set ws;
		struct window_tcp t;

		running = waitpid(c.pid, &status, WNOHANG) == 0;
		window_set_init(&ws);
		collect(&s, &ws); /* after the child is gone: the final collect */
		t = tcp_of(&ws, 5);
		sum.connect_failures += t.connect_failures;
		sum.resets += t.resets;
		sum.retransmits += t.retransmits;
		nonempty += t.connect_failures > 0;
		expect_quiet_except(&ws, 5, 0);
		window_set_release(&ws);
	}
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed");
	close(c.go_fd);
	close(c.result_fd);

	cr_expect_eq(sum.connect_failures, (uint64_t)n, "connect failures over %d collects: %llu",
		     ncollects, (unsigned long long)sum.connect_failures);
	cr_expect_eq(sum.resets, (uint64_t)n, "resets over %d collects: %llu", ncollects,
		     (unsigned long long)sum.resets);
	cr_expect_eq(sum.retransmits, 0);
	/* otherwise the test proved nothing about collecting while counting */
	cr_expect_geq(nonempty, 3, "only %d of %d collects saw counts", nonempty, ncollects);

	if (stats_fd >= 0) {
		log_cost(&s);
		close(stats_fd);
	}
	free(set);
	sampler_tcp_stop(&s);
}

Test(agent_sampler_tcp, attributes_retransmits_to_the_server_port_and_the_client_process)
{
	struct sampler_tcp s;
	struct service_set *set = set_new();
	struct window_set ws;
	struct netns_child c;
	struct ns_result res;
	struct service *svc;
	struct window_tcp server, client;
	int stats_fd;

	start(&s);
	/* the kernel measures each program's run time while this fd is open */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	window_set_init(&ws);
	ns_start(&c, 30, lossy_echo, 0);
	svc = set_add(set, 11, "server"); /* by its listening port only */
	svc->ports[svc->nports++] = PORT_SERVER;
	svc = set_add(set, 12, "client"); /* by the process that connects */
	svc->pids[svc->npids++] = (uint32_t)c.pid;
	set_targets(&s, set);
	ns_go(&c);
	res = ns_finish(&c);
	cr_assert(res.client_retrans && res.server_retrans,
		  "no retransmits after %d rounds at 30%% loss (client %u, server %u)", res.done,
		  res.client_retrans, res.server_retrans);

	collect(&s, &ws);
	server = tcp_of(&ws, 11);
	client = tcp_of(&ws, 12);
	fprintf(stderr,
		"tcp sampler: 30%% loss, %d x %d KiB echoed: counted server %llu, client %llu "
		"retransmits; kernel: server socket %u, client socket %u, namespace %llu segments\n",
		res.done, ECHO_BYTES / 1024, (unsigned long long)server.retransmits,
		(unsigned long long)client.retransmits, res.server_retrans, res.client_retrans,
		res.retrans_segs);
	cr_expect_gt(server.retransmits, 0);
	cr_expect_gt(client.retransmits, 0);
	/*
	 * The kernel counts segments, we count retransmissions (of one segment
	 * or more), and the namespace had no other socket: at most its count.
	 */
	cr_expect_leq(server.retransmits + client.retransmits, res.retrans_segs);
	cr_expect_eq(server.connect_failures, 0);
	cr_expect_eq(client.connect_failures, 0);
	expect_quiet_except(&ws, 11, 12);

	if (stats_fd >= 0) {
		log_cost(&s);
		close(stats_fd);
	}
	window_set_release(&ws);
	free(set);
	sampler_tcp_stop(&s);
}
