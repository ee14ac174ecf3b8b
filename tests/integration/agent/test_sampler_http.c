/*
 * The HTTP sampler against the real demo services: exactly N requests per
 * route and status go in, exactly N come out of the kernel's counters, for
 * new and kept-alive connections, inbound and outbound; nothing else is
 * counted. Retransmitted segments, which loopback does not make on demand,
 * are crafted and run through the loaded program with BPF_PROG_TEST_RUN.
 * A watched client's kept-alive connection keeps its calls attributed when
 * a socket in another network namespace closes with the same local port.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <http.skel.h>

#include "agent/loader.h"
#include "agent/sampler_http.h"
#include "agent/services.h"
#include "bpf/http.h"
#include "common/window.h"
#include "common/alloc.h"
#include "tests/lib/demo_services.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/netns.h"

enum { SVC_USERS = 1, SVC_PAYMENTS = 2, SVC_ORDERS = 3 };

static struct demo_trio demo;
static struct sampler_http sampler;
static struct window_set windows;
static struct service_set *targets;

static void add_service(struct service_set *set, uint16_t id, const char *name,
			const struct demo_service *d)
{
	struct service *s = &set->items[set->n++];

	s->id = id;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->pids[0] = (uint32_t)d->proc.pid;
	s->npids = 1;
	s->ports[0] = (uint16_t)d->port;
	s->nports = 1;
}

static void setup(void)
{
	struct service_set *set = xcalloc(1, sizeof(*set));

	targets = set;
	cr_assert_eq(loader_init(), 0, "the agent tests need root");
	/* the sampler first: it learns client sockets when they connect */
	cr_assert_eq(sampler_http_start(&sampler), 0);
	demo_trio_start(&demo);
	add_service(set, SVC_USERS, "users", &demo.users);
	add_service(set, SVC_PAYMENTS, "payments", &demo.payments);
	add_service(set, SVC_ORDERS, "orders", &demo.orders);
	cr_assert_eq(sampler_http_set_targets(&sampler, set), 0);
	window_set_init(&windows);
}

static void teardown(void)
{
	demo_trio_stop(&demo);
	sampler_http_stop(&sampler);
	window_set_release(&windows);
	free(targets);
	test_no_leaks();
}

TestSuite(sampler_http, .init = setup, .fini = teardown, .timeout = 120);

/* The count of (service, method, route, status) after collecting. */
static uint64_t http_count(uint16_t svc, const char *method, const char *route, uint16_t status)
{
	struct window *w = windows.by_id[svc];

	for (size_t i = 0; w && i < w->nhttp; i++)
		if (!strcmp(w->http[i].method, method) && !strcmp(w->http[i].route, route) &&
		    w->http[i].status == status)
			return w->http[i].count;
	return 0;
}

static uint64_t http_total(uint16_t svc)
{
	struct window *w = windows.by_id[svc];
	uint64_t n = 0;

	for (size_t i = 0; w && i < w->nhttp; i++) {
		n += w->http[i].count;
		cr_assert_eq(hist_count(&w->http[i].latency_ns), w->http[i].count);
	}
	return n;
}

static const struct window_call *call_to(uint16_t svc, const char *peer)
{
	struct window *w = windows.by_id[svc];

	for (size_t i = 0; w && i < w->ncalls; i++)
		if (!strcmp(w->calls[i].peer, peer))
			return &w->calls[i];
	return NULL;
}

Test(sampler_http, counts_each_route_and_status_exactly)
{
	char path[64];

	for (int i = 1; i <= 40; i++) {
		snprintf(path, sizeof(path), "/users/%d", i);
		demo_request(&demo.users, "GET", path, NULL, 200);
	}
	for (int i = 0; i < 7; i++)
		demo_request(&demo.users, "GET", "/nowhere/at/all", NULL, 404);
	for (int i = 0; i < 5; i++)
		demo_request(&demo.users, "POST", "/users",
			     "{\"name\": \"N\", \"email\": \"n@example.com\"}", 201);
	demo_request(&demo.users, "POST", "/chaos", "{\"error_rate\": 1}", 200);
	for (int i = 0; i < 9; i++)
		demo_request(&demo.users, "GET", "/users/3?verbose=1", NULL, 500);
	demo_request(&demo.users, "DELETE", "/chaos", NULL, 200);

	cr_assert_eq(sampler_http_collect(&sampler, &windows), 0);
	cr_expect_eq(http_count(SVC_USERS, "GET", "/users/{id}", 200), 40);
	cr_expect_eq(http_count(SVC_USERS, "GET", "/nowhere/at/all", 404), 7);
	cr_expect_eq(http_count(SVC_USERS, "POST", "/users", 201), 5);
	cr_expect_eq(http_count(SVC_USERS, "GET", "/users/{id}", 500), 9);
	cr_expect_eq(http_count(SVC_USERS, "POST", "/chaos", 200), 1);
	cr_expect_eq(http_count(SVC_USERS, "DELETE", "/chaos", 200), 1);
	cr_expect_eq(http_total(SVC_USERS), 63);
	cr_expect_eq(http_total(SVC_PAYMENTS), 0, "payments got no request");
}

Test(sampler_http, counts_kept_alive_requests_exactly_across_collects)
{
	struct proc lg;
	long sent = 0, ok = 0, errors = 0;
	char url[64];

	snprintf(url, sizeof(url), "%s", demo.users.url);
	cr_assert_eq(proc_start(&lg, (const char *const[]){ PRP_BUILD_DIR "/prp-loadgen",
							    "--target", url, "--mix", "users",
							    "--rps", "300", "--duration", "3",
							    "--connections", "8", NULL }),
		     0);
	/* collect while the load runs: nothing may fall between generations */
	while (proc_wait_exit(&lg, 200) == -ETIMEDOUT)
		cr_assert_eq(sampler_http_collect(&sampler, &windows), 0);
	cr_assert_eq(sampler_http_collect(&sampler, &windows), 0);
	cr_assert_eq(sscanf(buf_str(&lg.out), "sent %ld ok %ld errors %ld", &sent, &ok, &errors), 3,
		     "%s", buf_str(&lg.out));
	cr_assert_gt(sent, 800);
	cr_expect_eq(http_total(SVC_USERS), (uint64_t)sent, "counted %llu of %ld requests",
		     (unsigned long long)http_total(SVC_USERS), sent);
	proc_release(&lg);
}

Test(sampler_http, sees_orders_call_users_and_payments_once_per_order)
{
	const struct window_call *to_users, *to_payments;

	for (int i = 0; i < 12; i++)
		demo_request(&demo.orders, "POST", "/orders",
			     "{\"customer_id\": 5, \"items\": [1], \"total\": 3}", 201);
	cr_assert_eq(sampler_http_collect(&sampler, &windows), 0);
	cr_expect_eq(http_count(SVC_ORDERS, "POST", "/orders", 201), 12);
	cr_expect_eq(http_count(SVC_USERS, "GET", "/users/{id}", 200), 12);
	cr_expect_eq(http_count(SVC_PAYMENTS, "POST", "/payments", 201), 12);
	to_users = call_to(SVC_ORDERS, "users");
	to_payments = call_to(SVC_ORDERS, "payments");
	cr_assert_not_null(to_users, "no call orders -> users");
	cr_assert_not_null(to_payments, "no call orders -> payments");
	cr_expect_eq(to_users->count, 12);
	cr_expect_eq(to_payments->count, 12);
	cr_expect_eq(to_users->errors, 0);
	cr_expect_null(call_to(SVC_USERS, "payments"), "users calls nobody");
}

Test(sampler_http, attributes_calls_on_connections_made_before_it_watched)
{
	const struct window_call *to_users;

	/* orders opens its kept-alive connections while nothing watches */
	sampler_http_stop(&sampler);
	demo_request(&demo.orders, "POST", "/orders",
		     "{\"customer_id\": 5, \"items\": [1], \"total\": 3}", 201);
	cr_assert_eq(sampler_http_start(&sampler), 0);
	cr_assert_eq(sampler_http_set_targets(&sampler, targets), 0);
	for (int i = 0; i < 6; i++)
		demo_request(&demo.orders, "POST", "/orders",
			     "{\"customer_id\": 5, \"items\": [1], \"total\": 3}", 201);
	cr_assert_eq(sampler_http_collect(&sampler, &windows), 0);
	to_users = call_to(SVC_ORDERS, "users");
	cr_assert_not_null(to_users, "calls on the older connection were not attributed");
	cr_expect_eq(to_users->count, 6);
	cr_expect_eq(http_count(SVC_ORDERS, "POST", "/orders", 201), 6);
}

/*
 * The one ESTABLISHED IPv4 socket of this namespace whose remote port is
 * @port (/proc/net/tcp): orders' kept-alive connection to users, when only
 * orders calls users. Returns its local port and sets @inode; asserts there
 * is exactly one.
 */
static uint16_t only_conn_to(int port, unsigned long *inode)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[256];
	unsigned int lport = 0, n = 0;

	cr_assert_not_null(f);
	if (!fgets(line, sizeof(line), f)) /* the header */
		line[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		unsigned int lp, rp, st;
		unsigned long ino;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, "%*s %*x:%x %*x:%x %x %*s %*s %*s %*u %*d %lu", &lp, &rp, &st,
			   &ino) != 4 ||
		    rp != (unsigned int)port || st != 0x01)
			continue;
		lport = lp;
		*inode = ino;
		n++;
	}
	fclose(f);
	cr_assert_eq(n, 1, "%u connections to port %d, not 1", n, port);
	return (uint16_t)lport;
}

/* Whether process @pid has the socket of inode @inode open. */
static bool holds_socket(pid_t pid, unsigned long inode)
{
	char dir[64], path[320], link[64], want[64];
	struct dirent *d;
	bool found = false;
	DIR *fds;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	fds = opendir(dir);
	cr_assert_not_null(fds, "cannot open '%s'", dir);
	while (!found && (d = readdir(fds))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		found = !strcmp(link, want);
	}
	closedir(fds);
	return found;
}

/*
 * In a network namespace of its own, where @port is free: a socket bound to
 * 127.0.0.1:@port connects to a listener there and is closed with a reset
 * (SO_LINGER with a zero timeout), so it reaches TCP_CLOSE with that local
 * port inside close() itself; then the server's end closes too. Reports the
 * local port the connection had in *(int *)@result.
 */
static int close_port_elsewhere(int port, void *result)
{
	/* any port but @port: the client binds that one */
	struct sockaddr_in srv = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)(port ^ 1)),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in cli = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	socklen_t len = sizeof(cli);
	int lfd, fd = -1, sfd = -1, one = 1, err = 0;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&srv, sizeof(srv)) || listen(lfd, 1)) {
		err = -errno;
		goto out;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&cli, sizeof(cli)) ||
	    connect(fd, (struct sockaddr *)&srv, sizeof(srv))) {
		err = -errno;
		goto out;
	}
	sfd = accept(lfd, NULL, NULL);
	if (sfd < 0 || getsockname(fd, (struct sockaddr *)&cli, &len) ||
	    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset))) {
		err = -errno;
		goto out;
	}
	*(int *)result = ntohs(cli.sin_port);
out:
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
	close(lfd);
	return err;
}

Test(sampler_http, keeps_attributing_calls_when_another_namespace_closes_the_same_port)
{
	const struct window_call *to_users;
	const int before = 5, after = 7;
	struct netns_child c;
	unsigned long inode, inode_after;
	uint16_t port;
	int closed = 0, err;

	/* sequential orders: the pool hands back the same handle, so one connection */
	for (int i = 0; i < before; i++)
		demo_request(&demo.orders, "POST", "/orders",
			     "{\"customer_id\": 5, \"items\": [1], \"total\": 3}", 201);
	cr_assert_eq(sampler_http_collect(&sampler, &windows), 0);
	to_users = call_to(SVC_ORDERS, "users");
	cr_assert_not_null(to_users, "no call orders -> users");
	cr_assert_eq(to_users->count, (uint64_t)before);
	port = only_conn_to(demo.users.port, &inode);
	cr_assert(holds_socket(demo.orders.proc.pid, inode), "orders does not hold port %u", port);

	/* the same port number opens and closes in another network namespace */
	err = netns_child_start(&c, 0, close_port_elsewhere, port, sizeof(closed));
	cr_assert_eq(err, 0, "cannot start a namespace child: %s", strerror(-err));
	cr_assert_eq(netns_child_go(&c), 0);
	err = netns_child_finish(&c, &closed);
	cr_assert_eq(err, 0, "the namespace child failed: %s", strerror(-err));
	cr_assert_eq(closed, port);

	for (int i = 0; i < after; i++)
		demo_request(&demo.orders, "POST", "/orders",
			     "{\"customer_id\": 5, \"items\": [1], \"total\": 3}", 201);
	cr_assert_eq(only_conn_to(demo.users.port, &inode_after), port);
	cr_assert_eq(inode_after, inode, "orders made a new connection to users");
	cr_assert_eq(sampler_http_collect(&sampler, &windows), 0);
	cr_expect_eq(http_count(SVC_USERS, "GET", "/users/{id}", 200), (uint64_t)(before + after));
	to_users = call_to(SVC_ORDERS, "users");
	cr_assert_not_null(to_users);
	cr_expect_eq(to_users->count, (uint64_t)(before + after),
		     "%llu of %d calls on port %u attributed to orders",
		     (unsigned long long)to_users->count, before + after, port);
}

/* One IPv4 TCP segment 10.9.9.1:@sport -> 10.9.9.2:@dport through the loaded tc program. */
static void run_segment(uint16_t sport, uint16_t dport, uint32_t seq, const char *payload)
{
	struct {
		struct ethhdr eth;
		struct iphdr ip;
		struct tcphdr tcp;
		char payload[128];
	} __attribute__((packed)) pkt;
	size_t n = strlen(payload);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &pkt,
		    .data_size_in = (uint32_t)(sizeof(pkt) - sizeof(pkt.payload) + n));

	cr_assert_leq(n, sizeof(pkt.payload));
	memset(&pkt, 0, sizeof(pkt));
	pkt.eth.h_proto = htons(ETH_P_IP);
	pkt.ip.version = 4;
	pkt.ip.ihl = 5;
	pkt.ip.ttl = 64;
	pkt.ip.protocol = IPPROTO_TCP;
	pkt.ip.tot_len = htons((uint16_t)(sizeof(pkt.ip) + sizeof(pkt.tcp) + n));
	/* the two ends swap with the direction, so one connection is one key */
	pkt.ip.saddr = htonl(sport == 1 ? 0x0a090901 : 0x0a090902);
	pkt.ip.daddr = htonl(sport == 1 ? 0x0a090902 : 0x0a090901);
	pkt.tcp.source = htons(sport);
	pkt.tcp.dest = htons(dport);
	pkt.tcp.seq = htonl(seq);
	pkt.tcp.doff = 5;
	pkt.tcp.ack = 1;
	pkt.tcp.psh = 1;
	memcpy(pkt.payload, payload, n);
	cr_assert_eq(bpf_prog_test_run_opts(bpf_program__fd(sampler.skel->progs.http_tc), &opts),
		     0);
}

Test(sampler_http, counts_retransmitted_requests_and_responses_once)
{
	static const char req[] = "GET /users/77 HTTP/1.1\r\nHost: users\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	/* client port 1 is never an ephemeral port, so never a watched client socket */
	uint16_t client = 1, server = (uint16_t)demo.users.port;
	uint32_t cseq = 1000, sseq = 90000;
	uint64_t retransmits;

	run_segment(client, server, cseq, req);
	run_segment(client, server, cseq, req); /* retransmitted before the answer */
	run_segment(server, client, sseq, resp);
	run_segment(client, server, cseq, req);	 /* retransmitted after it */
	run_segment(server, client, sseq, resp); /* the answer again */
	/* the next request on the kept-alive connection, rewritten in place */
	cseq += sizeof(req) - 1;
	sseq += sizeof(resp) - 1;
	run_segment(client, server, cseq, "DELETE /users/78 HTTP/1.1\r\n\r\n");
	run_segment(client, server, cseq, "DELETE /users/78 HTTP/1.1\r\n\r\n");
	run_segment(server, client, sseq, "HTTP/1.1 404 Not Found\r\n\r\n");

	cr_assert_eq(sampler_http_collect(&sampler, &windows), 0);
	cr_expect_eq(http_count(SVC_USERS, "GET", "/users/{id}", 200), 1);
	cr_expect_eq(http_count(SVC_USERS, "DELETE", "/users/{id}", 404), 1);
	cr_expect_eq(http_total(SVC_USERS), 2);
	retransmits = sampler.drops[HTTP_DROP_RETRANSMIT];
	cr_expect_geq(retransmits, 3, "%llu retransmits seen", (unsigned long long)retransmits);
}

/* Span records and request heads drained from the ring, for the test below. */
struct span_records {
	struct http_span_event ev[8];
	size_t n;
	struct http_head_event head[2];
	size_t nheads;
};

static void take_record(void *arg, const struct http_span_event *e)
{
	struct span_records *r = arg;

	if (r->n < PRP_ARRAY_SIZE(r->ev))
		r->ev[r->n] = *e;
	r->n++;
}

static void take_head(void *arg, const struct http_head_event *h)
{
	struct span_records *r = arg;

	if (r->nheads < PRP_ARRAY_SIZE(r->head))
		r->head[r->nheads] = *h;
	r->nheads++;
}

Test(sampler_http, writes_one_span_record_per_answered_request_when_spans_are_on)
{
	static const char resp[] = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
	static const char req[] = "POST /users/6/orders?x=1 HTTP/1.1\r\n\r\n";
	struct span_records got = { 0 };
	struct sampler_http_opts o = { .spans_ring_bytes = 1 << 16, .on_span = take_record,
				       .on_head = take_head, .span_arg = &got };
	const struct http_head_event *h = &got.head[0];
	uint16_t client = 1, server = (uint16_t)demo.users.port;
	const struct http_span_event *e = &got.ev[0];

	sampler_http_stop(&sampler);
	cr_assert_eq(sampler_http_start_opts(&sampler, &o), 0);
	cr_assert_eq(sampler_http_set_targets(&sampler, targets), 0);
	/* off until enabled: no record */
	run_segment(client, server, 100, "GET /users/5 HTTP/1.1\r\n\r\n");
	run_segment(server, client, 900, resp);
	cr_assert_eq(sampler_http_spans_drain(&sampler), 0);
	cr_assert_eq(sampler_http_spans_enable(&sampler, true), 0);
	run_segment(client, server, 200, req);
	run_segment(server, client, 1000, resp);
	run_segment(server, client, 1000, resp); /* an answer again: no second record */
	/* a request from outside: its head first, then its span record */
	cr_assert_eq(sampler_http_spans_drain(&sampler), 2);
	cr_assert_eq(got.n, 1);
	cr_assert_eq(got.nheads, 1);
	cr_expect_eq(h->len, sizeof(req) - 1);
	cr_expect_arr_eq(h->data, req, sizeof(req) - 1);
	cr_expect_eq(h->start_ns, e->start_ns);
	cr_expect_eq(h->cport, client);
	cr_expect_eq(h->sport, server);
	cr_expect_arr_eq(h->caddr, e->caddr, sizeof(h->caddr));
	cr_expect_arr_eq(h->saddr, e->saddr, sizeof(h->saddr));
	cr_expect_str_eq(e->route, "/users/{id}/orders");
	cr_expect_eq(e->method, HTTP_METHOD_POST);
	cr_expect_eq(e->status, 201);
	cr_expect_eq(e->server_svc, SVC_USERS);
	cr_expect_eq(e->client_svc, 0);
	cr_expect_eq(e->family, 4);
	cr_expect_eq(e->cport, client);
	cr_expect_eq(e->sport, server);
	cr_expect_eq(ntohl(*(const uint32_t *)e->caddr), 0x0a090901);
	cr_expect_eq(ntohl(*(const uint32_t *)e->saddr), 0x0a090902);
	cr_expect_gt(e->start_ns, 0);
	cr_expect_geq(e->end_ns, e->start_ns);
	/* BPF_PROG_TEST_RUN runs in our context: both segments "sent" by this thread */
	cr_expect_eq(e->req_tid, (uint32_t)gettid());
	cr_expect_eq(e->resp_tid, (uint32_t)gettid());
	cr_assert_eq(sampler_http_spans_enable(&sampler, false), 0);
	run_segment(client, server, 300, "GET /users/7 HTTP/1.1\r\n\r\n");
	run_segment(server, client, 1100, resp);
	cr_expect_eq(sampler_http_spans_drain(&sampler), 0);
}
