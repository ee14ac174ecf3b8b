/*
 * agent/discovery.c on a fake /proc built under a temporary directory:
 * net/tcp and net/tcp6 with listening and connected sockets, and PID
 * directories with comm, status (PPid), cgroup, an exe link and fd links
 * "socket:[INODE]". Every selector kind, automatic discovery and its naming
 * rules, the parent rule for shared sockets, stable ids, `changed`, the
 * bounds, bad selectors, and what the cost model promises.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/discovery.h"
#include "agent/services.h"
#include "common/log.h"
#include "tests/lib/leakcheck.h"

static char root[64];
static struct service_set set; /* 300 KB: not on the stack */

/* The sockets of the fake net/tcp{,6}. */
struct fake_sock {
	unsigned long ino;
	unsigned port;
	bool v6;
	bool listening;
};
static struct fake_sock socks[512];
static size_t nsocks;

/* ---- The fake /proc ---- */

static void path_of(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", root, rel);
}

static PRP_PRINTF(2, 3) void write_file(const char *content, const char *fmt, ...)
{
	char rel[256], path[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	path_of(path, sizeof(path), rel);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	fputs(content, f);
	fclose(f);
}

static void write_tcp(void)
{
	static const char head4[] = "  sl  local_address rem_address   st tx_queue rx_queue tr "
				    "tm->when retrnsmt   uid  timeout inode\n";
	static const char head6[] =
		"  sl  local_address                         remote_address  "
		"                      st tx_queue rx_queue tr tm->when retrnsmt "
		"  uid  timeout inode\n";
	char v4[65536], v6[65536];
	size_t n4 = 0, n6 = 0;

	n4 += (size_t)snprintf(v4, sizeof(v4), "%s", head4);
	n6 += (size_t)snprintf(v6, sizeof(v6), "%s", head6);
	for (size_t i = 0; i < nsocks; i++) {
		const struct fake_sock *s = &socks[i];
		const char *st = s->listening ? "0A" : "01";
		const char *remote = s->listening ? "0000" : "D431";

		if (s->v6)
			n6 += (size_t)snprintf(
				v6 + n6, sizeof(v6) - n6,
				"%4zu: 00000000000000000000000001000000:%04X "
				"00000000000000000000000001000000:%s %s "
				"00000000:00000000 00:00000000 00000000     0        0 "
				"%lu 1 0000000000000000 100 0 0 10 0\n",
				i, s->port, remote, st, s->ino);
		else
			n4 += (size_t)snprintf(
				v4 + n4, sizeof(v4) - n4,
				"%4zu: 0100007F:%04X 0100007F:%s %s 00000000:00000000 "
				"00:00000000 00000000     0        0 %lu 1 "
				"0000000000000000 100 0 0 10 0\n",
				i, s->port, remote, st, s->ino);
	}
	write_file(v4, "net/tcp");
	write_file(v6, "net/tcp6");
}

static void sock_add(unsigned long ino, unsigned port, bool v6, bool listening)
{
	cr_assert_lt(nsocks, sizeof(socks) / sizeof(socks[0]));
	socks[nsocks++] = (struct fake_sock){ ino, port, v6, listening };
	write_tcp();
}

static void sock_del(unsigned long ino)
{
	for (size_t i = 0; i < nsocks; i++)
		if (socks[i].ino == ino)
			socks[i--] = socks[--nsocks];
	write_tcp();
}

static void mkdir_rel(const char *rel)
{
	char path[512];

	path_of(path, sizeof(path), rel);
	cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path, strerror(errno));
}

/* A process; @exe NULL: no exe link (a kernel thread, or one we may not read). */
static void proc_add(unsigned pid, unsigned ppid, const char *comm, const char *exe,
		     const char *cgroup)
{
	char rel[64], content[512], path[512];

	snprintf(rel, sizeof(rel), "%u", pid);
	mkdir_rel(rel);
	snprintf(rel, sizeof(rel), "%u/fd", pid);
	mkdir_rel(rel);
	snprintf(content, sizeof(content), "%s\n", comm);
	write_file(content, "%u/comm", pid);
	snprintf(content, sizeof(content),
		 "Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%u\nNgid:\t0\n"
		 "Pid:\t%u\nPPid:\t%u\nTracerPid:\t0\n",
		 comm, pid, pid, ppid);
	write_file(content, "%u/status", pid);
	snprintf(content, sizeof(content), "12:memory:/v1/only\n1:name=systemd:/x\n0::%s\n",
		 cgroup ? cgroup : "/");
	write_file(content, "%u/cgroup", pid);
	if (exe) {
		snprintf(rel, sizeof(rel), "%u/exe", pid);
		path_of(path, sizeof(path), rel);
		cr_assert_eq(symlink(exe, path), 0);
	}
	/* fds that are not listening sockets */
	snprintf(rel, sizeof(rel), "%u/fd/0", pid);
	path_of(path, sizeof(path), rel);
	cr_assert_eq(symlink("/dev/null", path), 0);
	snprintf(rel, sizeof(rel), "%u/fd/1", pid);
	path_of(path, sizeof(path), rel);
	cr_assert_eq(symlink("pipe:[77]", path), 0);
}

static void fd_add(unsigned pid, unsigned fd, unsigned long ino)
{
	char rel[64], path[512], target[64];

	snprintf(rel, sizeof(rel), "%u/fd/%u", pid, fd);
	path_of(path, sizeof(path), rel);
	snprintf(target, sizeof(target), "socket:[%lu]", ino);
	cr_assert_eq(symlink(target, path), 0, "symlink %s: %s", path, strerror(errno));
}

/* A process listening on @port (IPv4) through a socket of its own, inode @ino. */
static void listener_add(unsigned pid, const char *exe_base, unsigned port, unsigned long ino)
{
	char exe[128];

	snprintf(exe, sizeof(exe), "/usr/bin/%s", exe_base);
	proc_add(pid, 1, exe_base, exe, "/");
	sock_add(ino, port, false, true);
	fd_add(pid, 3, ino);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rel(const char *rel)
{
	char path[512];

	path_of(path, sizeof(path), rel);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void proc_del(unsigned pid)
{
	char rel[32];

	snprintf(rel, sizeof(rel), "%u", pid);
	rm_rel(rel);
}

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/prp-fakeproc-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	mkdir_rel("net");
	nsocks = 0;
	write_tcp();
	memset(&set, 0, sizeof(set));
}

static void teardown(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	test_no_leaks();
}

TestSuite(discovery, .init = setup, .fini = teardown);

/* ---- Helpers on the discovery side ---- */

/* The agent's own pid in the fake tree: no fake process of a test uses it. */
#define FAKE_SELF_PID 4242u

static struct discovery *new_with(const char *const *sels, size_t n)
{
	char err[256] = "";
	struct discovery *d = discovery_new(root, sels, n, err, sizeof(err));

	cr_assert_not_null(d, "discovery_new: %s", err);
	discovery_set_self_pid(d, FAKE_SELF_PID);
	return d;
}

static bool refresh(struct discovery *d)
{
	bool changed = false;

	cr_assert_eq(discovery_refresh(d, &set, &changed), 0);
	return changed;
}

static const struct service *svc(const char *name)
{
	const struct service *s = service_set_by_name(&set, name);

	cr_assert_not_null(s, "no service '%s' among %zu", name, set.n);
	return s;
}

/* Checks the pids (or ports) of @s against the list that follows, ended by 0. */
static void expect_list(const struct service *s, bool ports, ...)
{
	size_t n = ports ? s->nports : s->npids, i = 0;
	const char *what = ports ? "port" : "pid";
	unsigned want;
	va_list ap;

	va_start(ap, ports);
	for (; (want = va_arg(ap, unsigned)); i++) {
		unsigned have = ports ? s->ports[i] : s->pids[i];

		cr_assert_lt(i, n, "service %s: %zu %ss, want more", s->name, n, what);
		cr_assert_eq(have, want, "service %s: %s[%zu] %u, want %u", s->name, what, i, have,
			     want);
	}
	va_end(ap);
	cr_assert_eq(n, i, "service %s: %zu %ss, want %zu", s->name, n, what, i);
}

#define expect_pids(s, ...)  expect_list((s), false, __VA_ARGS__, 0u)
#define expect_ports(s, ...) expect_list((s), true, __VA_ARGS__, 0u)
#define NONE		     0u

/* ---- Selectors ---- */

Test(discovery, port_selector_finds_the_holders_on_ipv4_and_ipv6)
{
	const char *sels[] = { "orders=port:8001", "users=port:8002" };
	struct discovery *d;

	proc_add(100, 1, "orders", "/usr/bin/orders", "/");
	sock_add(1001, 8001, false, true);
	fd_add(100, 3, 1001);
	proc_add(200, 1, "users", "/usr/bin/users", "/");
	sock_add(2001, 8002, true, true);
	fd_add(200, 3, 2001);
	/* a connected socket on 8001, held by another process: not a listener */
	proc_add(300, 1, "client", "/usr/bin/client", "/");
	sock_add(3001, 8001, false, false);
	fd_add(300, 3, 3001);

	d = new_with(sels, 2);
	cr_assert(refresh(d));
	cr_assert_eq(set.n, 2);
	cr_assert_eq(svc("orders")->id, 1);
	cr_assert_eq(svc("users")->id, 2);
	expect_pids(svc("orders"), 100);
	expect_ports(svc("orders"), 8001);
	expect_pids(svc("users"), 200);
	expect_ports(svc("users"), 8002);
	discovery_free(d);
}

Test(discovery, port_selector_lists_every_port_of_its_processes)
{
	const char *sels[] = { "api=port:8080" };
	struct discovery *d;

	proc_add(100, 1, "api", "/usr/bin/api", "/");
	sock_add(1001, 9090, false, true);
	sock_add(1002, 8080, false, true);
	sock_add(1003, 8080, true, true);
	fd_add(100, 3, 1001);
	fd_add(100, 4, 1002);
	fd_add(100, 5, 1003);
	fd_add(100, 6, 1002); /* a dup() */

	d = new_with(sels, 1);
	refresh(d);
	expect_pids(svc("api"), 100);
	expect_ports(svc("api"), 8080, 9090);
	discovery_free(d);
}

Test(discovery, comm_selector_matches_the_exact_comm)
{
	const char *sels[] = { "web=comm:nginx" };
	struct discovery *d;

	proc_add(300, 1, "nginx", "/usr/sbin/nginx", "/");
	proc_add(120, 300, "nginx", "/usr/sbin/nginx", "/");
	proc_add(130, 1, "nginx2", "/usr/sbin/nginx2", "/");
	proc_add(140, 1, "ngin", "/usr/sbin/ngin", "/");

	d = new_with(sels, 1);
	refresh(d);
	expect_pids(svc("web"), 120, 300);
	expect_ports(svc("web"), NONE);
	discovery_free(d);
}

Test(discovery, cgroup_selector_matches_the_path_and_below_it)
{
	const char *sels[] = { "api=cgroup:/system.slice/api.service/" };
	struct discovery *d;

	proc_add(100, 1, "a", "/a", "/system.slice/api.service");
	proc_add(101, 1, "b", "/b", "/system.slice/api.service/worker");
	proc_add(102, 1, "c", "/c", "/system.slice/api.service2");
	proc_add(103, 1, "d", "/d", "/system.slice");
	proc_add(104, 1, "e", "/e", "/");

	d = new_with(sels, 1);
	refresh(d);
	expect_pids(svc("api"), 100, 101);
	discovery_free(d);
}

Test(discovery, cgroup_selector_of_the_root_matches_every_process)
{
	const char *sels[] = { "all=cgroup:/" };
	struct discovery *d;

	proc_add(100, 1, "a", "/a", "/system.slice/api.service");
	proc_add(101, 1, "b", "/b", "/");

	d = new_with(sels, 1);
	refresh(d);
	expect_pids(svc("all"), 100, 101);
	discovery_free(d);
}

Test(discovery, pid_selector_takes_that_process_only)
{
	const char *sels[] = { "db=pid:101" };
	struct discovery *d;

	proc_add(100, 1, "db", "/db", "/");
	proc_add(101, 100, "db", "/db", "/");
	proc_add(102, 101, "db", "/db", "/");
	sock_add(1001, 5432, false, true);
	fd_add(101, 3, 1001);

	d = new_with(sels, 1);
	refresh(d);
	expect_pids(svc("db"), 101);
	expect_ports(svc("db"), 5432);
	discovery_free(d);
}

Test(discovery, selector_service_without_process_is_listed_with_no_pids)
{
	const char *sels[] = { "users=port:8002", "db=pid:4000" };
	struct discovery *d;

	listener_add(100, "orders", 8001, 1001);
	d = new_with(sels, 2);
	cr_assert(refresh(d), "the first refresh differs from nothing");
	cr_assert_eq(set.n, 2);
	cr_assert_eq(svc("users")->id, 1);
	cr_assert_eq(svc("users")->npids, 0);
	cr_assert_eq(svc("users")->nports, 0);
	cr_assert_eq(svc("db")->id, 2);
	cr_assert_eq(svc("db")->npids, 0);
	cr_assert_not(refresh(d));
	discovery_free(d);
}

Test(discovery, first_matching_selector_takes_a_process_and_its_ports)
{
	const char *sels[] = { "api=port:8080", "metrics=port:9090", "all=comm:api" };
	struct discovery *d;

	proc_add(100, 1, "api", "/usr/bin/api", "/");
	proc_add(101, 1, "api", "/usr/bin/api", "/");
	sock_add(1001, 8080, false, true);
	sock_add(1002, 9090, false, true);
	fd_add(100, 3, 1001);
	fd_add(100, 4, 1002);

	d = new_with(sels, 3);
	refresh(d);
	expect_pids(svc("api"), 100);
	expect_ports(svc("api"), 8080, 9090);
	cr_assert_eq(svc("metrics")->npids, 0);
	expect_pids(svc("all"), 101);
	discovery_free(d);
}

Test(discovery, selectors_never_include_the_agent_itself)
{
	const char *sels[] = { "all=cgroup:/" };
	struct discovery *d;

	proc_add(FAKE_SELF_PID, 1, "prp-agent", "/usr/bin/prp-agent", "/");
	proc_add(100, 1, "a", "/a", "/");

	d = new_with(sels, 1);
	refresh(d);
	expect_pids(svc("all"), 100);
	discovery_free(d);
}

/* ---- Automatic discovery ---- */

Test(discovery, automatic_names_services_after_their_executable)
{
	struct discovery *d;

	listener_add(100, "prp-demo-service", 8001, 1001);
	listener_add(200, "nginx", 80, 2001);
	proc_add(300, 1, "bash", "/usr/bin/bash", "/"); /* listens on nothing */
	sock_add(3001, 5555, false, false);
	fd_add(300, 3, 3001);

	d = new_with(NULL, 0);
	cr_assert(refresh(d));
	cr_assert_eq(set.n, 2);
	expect_pids(svc("prp-demo-service"), 100);
	expect_ports(svc("prp-demo-service"), 8001);
	expect_pids(svc("nginx"), 200);
	expect_ports(svc("nginx"), 80);
	cr_assert_neq(svc("nginx")->id, svc("prp-demo-service")->id);
	cr_assert(svc("nginx")->id >= 1 && svc("nginx")->id <= SERVICES_MAX);
	cr_assert_lt(set.items[0].id, set.items[1].id, "the set is ordered by id");
	discovery_free(d);
}

Test(discovery, automatic_falls_back_to_comm_and_cleans_names)
{
	struct discovery *d;

	proc_add(100, 1, "kworker", NULL, "/");
	sock_add(1001, 7000, false, true);
	fd_add(100, 3, 1001);
	proc_add(200, 1, "x", "/opt/my server (v2)", "/");
	sock_add(2001, 7001, false, true);
	fd_add(200, 3, 2001);
	proc_add(300, 1, "y", "/usr/sbin/upgraded (deleted)", "/");
	sock_add(3001, 7002, false, true);
	fd_add(300, 3, 3001);

	d = new_with(NULL, 0);
	refresh(d);
	cr_assert_eq(set.n, 3);
	expect_pids(svc("kworker"), 100);
	expect_pids(svc("my_server__v2_"), 200);
	expect_pids(svc("upgraded"), 300);
	discovery_free(d);
}

Test(discovery, automatic_suffixes_the_lowest_port_when_names_collide)
{
	struct discovery *d;

	listener_add(100, "prp-demo-service", 8001, 1001);
	sock_add(1002, 9001, false, true);
	fd_add(100, 4, 1002);
	listener_add(200, "prp-demo-service", 8002, 2001);
	listener_add(300, "prp-demo-service", 8003, 3001);
	listener_add(400, "nginx", 80, 4001);

	d = new_with(NULL, 0);
	refresh(d);
	cr_assert_eq(set.n, 4);
	expect_pids(svc("prp-demo-service-8001"), 100);
	expect_ports(svc("prp-demo-service-8001"), 8001, 9001);
	expect_pids(svc("prp-demo-service-8002"), 200);
	expect_pids(svc("prp-demo-service-8003"), 300);
	expect_pids(svc("nginx"), 400);
	discovery_free(d);
}

Test(discovery, automatic_shared_socket_belongs_to_the_holder_whose_parent_is_not_one)
{
	struct discovery *d;

	/* an nginx-like tree: the master forks workers that inherit its socket */
	proc_add(500, 1, "master", "/usr/sbin/master-bin", "/");
	proc_add(300, 500, "worker", "/usr/sbin/worker-bin", "/");
	proc_add(700, 500, "worker", "/usr/sbin/worker-bin", "/");
	proc_add(800, 700, "helper", "/usr/bin/helper", "/"); /* a worker's child, fd leaked */
	proc_add(900, 500, "logger", "/usr/bin/logger", "/"); /* a child without the socket */
	sock_add(5001, 80, false, true);
	sock_add(5002, 80, true, true);
	fd_add(500, 6, 5001);
	fd_add(500, 7, 5002);
	fd_add(300, 6, 5001);
	fd_add(300, 7, 5002);
	fd_add(700, 6, 5001);
	fd_add(800, 9, 5002);

	d = new_with(NULL, 0);
	refresh(d);
	cr_assert_eq(set.n, 1);
	expect_pids(svc("master-bin"), 300, 500, 700, 800);
	expect_ports(svc("master-bin"), 80);
	discovery_free(d);
}

Test(discovery, automatic_merges_instances_of_one_program_sharing_a_port)
{
	struct discovery *d;

	/* SO_REUSEPORT: a socket each, the same port */
	listener_add(100, "envoy", 10000, 1001);
	listener_add(200, "envoy", 10000, 2001);
	/* another program on the same port stays apart */
	listener_add(300, "other", 10000, 3001);

	d = new_with(NULL, 0);
	refresh(d);
	cr_assert_eq(set.n, 2);
	expect_pids(svc("envoy"), 100, 200);
	expect_pids(svc("other"), 300);
	discovery_free(d);
}

Test(discovery, automatic_leaves_out_the_agent_init_and_excluded_ports)
{
	struct discovery *d;

	listener_add(FAKE_SELF_PID, "prp-agent", 9100, 1001);
	listener_add(1, "systemd", 9090, 1002); /* socket activation */
	listener_add(100, "sshd", 22, 1003);
	listener_add(200, "api", 8080, 1004);
	sock_add(1005, 22, false, true);
	fd_add(200, 4, 1005);

	d = new_with(NULL, 0);
	discovery_exclude_port(d, 22);
	refresh(d);
	cr_assert_eq(set.n, 1, "got %zu services", set.n);
	expect_pids(svc("api"), 200);
	expect_ports(svc("api"), 8080);
	discovery_free(d);
}

Test(discovery, automatic_without_tcp6_reads_ipv4_alone)
{
	struct discovery *d;

	listener_add(100, "api", 8080, 1001);
	rm_rel("net/tcp6");
	d = new_with(NULL, 0);
	refresh(d);
	expect_pids(svc("api"), 100);
	discovery_free(d);
}

/* ---- Ids and changes ---- */

Test(discovery, restarted_service_keeps_its_id_with_its_new_pid)
{
	struct discovery *d;
	uint16_t users, orders;

	listener_add(100, "users", 8002, 1001);
	listener_add(200, "orders", 8001, 2001);
	d = new_with(NULL, 0);
	refresh(d);
	users = svc("users")->id;
	orders = svc("orders")->id;

	/* users dies and comes back with a new pid and a new socket */
	proc_del(100);
	sock_del(1001);
	cr_assert(refresh(d));
	cr_assert_null(service_set_by_name(&set, "users"));
	cr_assert_eq(set.n, 1);
	listener_add(150, "users", 8002, 1501);
	listener_add(300, "payments", 8003, 3001);
	cr_assert(refresh(d));
	cr_assert_eq(svc("users")->id, users);
	expect_pids(svc("users"), 150);
	cr_assert_eq(svc("orders")->id, orders);
	cr_assert_neq(svc("payments")->id, users);
	cr_assert_neq(svc("payments")->id, orders);
	discovery_free(d);
}

Test(discovery, restart_within_one_refresh_keeps_the_id)
{
	const char *sels[] = { "users=port:8002" };
	struct discovery *d;

	listener_add(100, "users", 8002, 1001);
	d = new_with(sels, 1);
	refresh(d);
	proc_del(100);
	sock_del(1001);
	listener_add(101, "users", 8002, 1002);
	cr_assert(refresh(d));
	cr_assert_eq(svc("users")->id, 1);
	expect_pids(svc("users"), 101);
	discovery_free(d);
}

Test(discovery, changed_says_whether_the_services_differ)
{
	struct discovery *d;

	d = new_with(NULL, 0);
	cr_assert_not(refresh(d), "nothing found, nothing changed");
	listener_add(100, "api", 8080, 1001);
	cr_assert(refresh(d));
	cr_assert_not(refresh(d));
	/* a process that listens on nothing does not change the services */
	proc_add(400, 1, "sleep", "/usr/bin/sleep", "/");
	cr_assert_not(refresh(d));
	/* a worker forked with the socket does */
	proc_add(101, 100, "api", "/usr/bin/api", "/");
	fd_add(101, 3, 1001);
	cr_assert(refresh(d));
	expect_pids(svc("api"), 100, 101);
	/* a new port of the same process does */
	sock_add(1002, 9090, false, true);
	fd_add(100, 4, 1002);
	cr_assert(refresh(d));
	expect_ports(svc("api"), 8080, 9090);
	cr_assert_not(refresh(d));
	discovery_free(d);
}

Test(discovery, process_vanishing_mid_scan_is_skipped)
{
	struct discovery *d;

	listener_add(100, "api", 8080, 1001);
	/* a pid directory whose files are already gone */
	mkdir_rel("200");
	d = new_with(NULL, 0);
	refresh(d);
	cr_assert_eq(set.n, 1);
	expect_pids(svc("api"), 100);
	/* a holder whose exe and status vanished after its fds were read */
	listener_add(300, "web", 8081, 3001);
	rm_rel("300/status");
	rm_rel("300/exe");
	rm_rel("300/comm");
	refresh(d);
	cr_assert_eq(set.n, 1, "the vanished process is dropped");
	discovery_free(d);
}

/* ---- The cost model ---- */

Test(discovery, settled_process_is_not_rescanned_until_a_socket_appears)
{
	const char *sels[] = { "web=comm:web" };
	struct discovery *d;

	listener_add(100, "api", 8080, 1001);
	proc_add(200, 1, "web", "/usr/bin/web", "/");
	d = new_with(sels, 1);
	for (int i = 0; i < 4; i++) /* past the first refreshes of a young process */
		refresh(d);
	expect_ports(svc("web"), NONE);

	/* web receives api's socket over a unix socket: not seen, no rescan */
	fd_add(200, 5, 1001);
	cr_assert_not(refresh(d));
	expect_ports(svc("web"), NONE);

	/* a new listening socket makes every process be read again */
	sock_add(2001, 9000, false, true);
	cr_assert(refresh(d));
	expect_ports(svc("web"), 8080);
	discovery_free(d);
}

Test(discovery, closed_socket_leaves_its_service_without_a_rescan)
{
	const char *sels[] = { "api=comm:api" };
	struct discovery *d[2];

	listener_add(100, "api", 8080, 1001);
	sock_add(1002, 9090, false, true);
	fd_add(100, 4, 1002);
	d[0] = new_with(sels, 1);
	d[1] = new_with(NULL, 0);
	for (int i = 0; i < 4; i++) {
		refresh(d[0]);
		refresh(d[1]);
	}
	/* api stops listening on 9090 and lives on */
	sock_del(1002);
	rm_rel("100/fd/4");
	for (int i = 0; i < 2; i++) {
		cr_assert(refresh(d[i]));
		expect_pids(svc("api"), 100);
		expect_ports(svc("api"), 8080);
		discovery_free(d[i]);
	}
}

Test(discovery, young_process_is_read_again_after_it_execs)
{
	const char *sels[] = { "srv=comm:server" };
	struct discovery *d;

	d = new_with(sels, 1);
	refresh(d);
	proc_add(100, 1, "sh", "/bin/sh", "/");
	refresh(d);
	cr_assert_eq(svc("srv")->npids, 0);
	/* the wrapper exec()s the server: the same pid, a new comm */
	write_file("server\n", "100/comm");
	cr_assert(refresh(d));
	expect_pids(svc("srv"), 100);
	discovery_free(d);
}

Test(discovery, a_full_scan_comes_at_least_once_a_minute)
{
	const char *sels[] = { "srv=comm:server" };
	struct discovery *d;
	int n;

	proc_add(100, 1, "sh", "/bin/sh", "/");
	d = new_with(sels, 1);
	for (int i = 0; i < 5; i++)
		refresh(d);
	write_file("server\n", "100/comm");
	for (n = 1; n <= 60 && !refresh(d); n++)
		;
	cr_assert_leq(n, 60, "the renamed process was never seen");
	cr_assert_gt(n, 1, "a settled process was read on every refresh");
	expect_pids(svc("srv"), 100);
	discovery_free(d);
}

/* ---- Bounds ---- */

Test(discovery, pids_past_the_bound_are_ignored)
{
	const char *sels[] = { "many=comm:w" };
	struct discovery *d;
	unsigned n = SERVICE_PIDS_MAX + 20;

	for (unsigned i = 0; i < n; i++)
		proc_add(100 + i, 1, "w", "/w", "/");
	d = new_with(sels, 1);
	refresh(d);
	cr_assert_eq(svc("many")->npids, SERVICE_PIDS_MAX);
	cr_assert_eq(svc("many")->pids[0], 100);
	cr_assert_eq(svc("many")->pids[SERVICE_PIDS_MAX - 1], 100 + SERVICE_PIDS_MAX - 1);
	discovery_free(d);
}

Test(discovery, ports_past_the_bound_are_ignored)
{
	struct discovery *d;

	proc_add(100, 1, "wide", "/wide", "/");
	for (unsigned i = 0; i < SERVICE_PORTS_MAX + 8; i++) {
		sock_add(1000 + i, 20000 - i, false, true);
		fd_add(100, 10 + i, 1000 + i);
	}
	d = new_with(NULL, 0);
	refresh(d);
	cr_assert_eq(svc("wide")->nports, SERVICE_PORTS_MAX);
	for (size_t i = 1; i < SERVICE_PORTS_MAX; i++)
		cr_assert_lt(svc("wide")->ports[i - 1], svc("wide")->ports[i]);
	discovery_free(d);
}

Test(discovery, services_past_the_bound_are_ignored)
{
	struct discovery *d;
	unsigned n = SERVICES_MAX + 5;
	char exe[32];

	for (unsigned i = 0; i < n; i++) {
		snprintf(exe, sizeof(exe), "svc%u", i);
		listener_add(100 + i, exe, 30000 + i, 1000 + i);
	}
	d = new_with(NULL, 0);
	refresh(d);
	cr_assert_eq(set.n, SERVICES_MAX);
	/* the lowest ports are kept, every id is distinct and in range */
	cr_assert_not_null(service_set_by_name(&set, "svc0"));
	cr_assert_null(service_set_by_name(&set, "svc259"));
	for (size_t i = 0; i < set.n; i++)
		cr_assert_eq(set.items[i].id, i + 1);
	discovery_free(d);
}

Test(discovery, long_socket_tables_are_read_whole)
{
	struct discovery *d;
	char exe[32];
	struct stat st;
	char path[512];

	/* connected sockets first, so that the listeners straddle the 16 KiB reads */
	for (unsigned i = 0; i < 150; i++)
		sock_add(50000 + i, 40000 + i, i % 2, false);
	for (unsigned i = 0; i < 200; i++) {
		snprintf(exe, sizeof(exe), "svc%u", i);
		listener_add(100 + i, exe, 30000 + i, 1000 + i);
	}
	path_of(path, sizeof(path), "net/tcp");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_gt(st.st_size, 2 * 16384);
	d = new_with(NULL, 0);
	refresh(d);
	cr_assert_eq(set.n, 200);
	discovery_free(d);
}

Test(discovery, ids_are_reused_only_once_every_id_was_taken)
{
	struct discovery *d;
	char exe[32];

	d = new_with(NULL, 0);
	/* SERVICES_MAX + 1 names, one at a time: the first name's id goes to the last */
	for (unsigned i = 0; i <= SERVICES_MAX; i++) {
		snprintf(exe, sizeof(exe), "svc%u", i);
		listener_add(100 + i, exe, 30000 + i, 1000 + i);
		refresh(d);
		cr_assert_eq(set.n, 1);
		cr_assert_eq(set.items[0].id, i < SERVICES_MAX ? i + 1 : 1);
		proc_del(100 + i);
		sock_del(1000 + i);
	}
	discovery_free(d);
}

/* ---- Bad selectors ---- */

static void expect_bad(const char *const *sels, size_t n, int code, const char *needle)
{
	char err[256] = "";
	struct discovery *d = discovery_new(root, sels, n, err, sizeof(err));

	cr_assert_null(d, "'%s' was accepted", sels[n - 1]);
	cr_assert_not_null(strstr(err, needle), "'%s': message '%s' lacks '%s'", sels[n - 1], err,
			   needle);
	cr_assert_eq(discovery_check_selectors(sels, n, err, sizeof(err)), code);
	cr_assert_not_null(strstr(err, needle));
}

Test(discovery, bad_selectors_are_refused_with_the_reason)
{
	static const struct {
		const char *sel;
		const char *why;
	} bad[] = {
		{ "", "expected NAME=KIND:VALUE" },
		{ "users", "expected NAME=KIND:VALUE" },
		{ "=port:8001", "the name must be 1 to 63" },
		{ "my users=port:8001", "the name must be" },
		{ "users/x=port:8001", "the name must be" },
		{ "users=8001", "unknown selector kind '8001'" },
		{ "users=tcp:8001", "unknown selector kind 'tcp'" },
		{ "users=port:0", "bad port '0'" },
		{ "users=port:65536", "bad port '65536'" },
		{ "users=port:80a", "bad port '80a'" },
		{ "users=port:", "bad port ''" },
		{ "users=pid:0", "bad pid '0'" },
		{ "users=pid:-3", "bad pid" },
		{ "users=comm:", "comm must be 1 to 15 bytes" },
		{ "users=comm:0123456789abcdef", "comm must be 1 to 15 bytes" },
		{ "users=cgroup:system.slice", "cgroup must be an absolute path" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *sels[] = { bad[i].sel };

		expect_bad(sels, 1, -EINVAL, bad[i].why);
		/* the message names the selector */
		if (bad[i].sel[0])
			expect_bad(sels, 1, -EINVAL, bad[i].sel);
	}
}

Test(discovery, long_and_duplicate_names_are_refused)
{
	char sel[128];
	const char *one[] = { sel };
	const char *dup[] = { "users=port:8001", "orders=port:8002", "users=comm:users" };

	memset(sel, 'a', 64);
	snprintf(sel + 64, sizeof(sel) - 64, "=port:80");
	expect_bad(one, 1, -EINVAL, "the name must be 1 to 63");
	sel[63] = '=';
	snprintf(sel + 63, sizeof(sel) - 63, "=port:80");
	cr_assert_eq(discovery_check_selectors(one, 1, NULL, 0), 0, "63 characters are fine");
	expect_bad(dup, 3, -EINVAL, "duplicate name 'users'");
}

Test(discovery, more_selectors_than_ids_are_refused)
{
	static char texts[SERVICES_MAX + 1][32];
	const char *sels[SERVICES_MAX + 1];
	char err[128];

	for (size_t i = 0; i <= SERVICES_MAX; i++) {
		snprintf(texts[i], sizeof(texts[i]), "s%zu=port:%zu", i, 1000 + i);
		sels[i] = texts[i];
	}
	cr_assert_eq(discovery_check_selectors(sels, SERVICES_MAX, err, sizeof(err)), 0);
	cr_assert_eq(discovery_check_selectors(sels, SERVICES_MAX + 1, err, sizeof(err)), -E2BIG);
	cr_assert_null(discovery_new(root, sels, SERVICES_MAX + 1, err, sizeof(err)));
}

Test(discovery, missing_proc_root_is_an_error)
{
	char err[256] = "";

	cr_assert_null(discovery_new("/nonexistent/proc", NULL, 0, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "/nonexistent/proc"), "%s", err);
}

Test(discovery, missing_net_tcp_fails_the_refresh_and_keeps_the_set)
{
	struct discovery *d;

	listener_add(100, "api", 8080, 1001);
	d = new_with(NULL, 0);
	refresh(d);
	rm_rel("net/tcp");
	cr_assert_eq(discovery_refresh(d, &set, NULL), -ENOENT);
	expect_pids(svc("api"), 100);
	discovery_free(d);
	discovery_free(NULL);
}

/* ---- Logging ---- */

/* What the log said since the last call. */
static void read_log(int fd, char *out, size_t len)
{
	ssize_t n = read(fd, out, len - 1);

	out[n > 0 ? n : 0] = '\0';
}

Test(discovery, logs_one_line_when_a_service_is_found_changes_or_goes)
{
	struct discovery *d;
	char text[4096];
	int p[2];

	cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
	log_set_fd(p[1]);
	listener_add(100, "users", 8002, 1001);
	d = new_with(NULL, 0);
	read_log(p[0], text, sizeof(text));
	refresh(d);
	read_log(p[0], text, sizeof(text));
	cr_assert_not_null(strstr(text, "discovery: service users found pids=100 ports=8002"), "%s",
			   text);
	refresh(d);
	read_log(p[0], text, sizeof(text));
	cr_assert_str_empty(text, "a quiet refresh logs nothing");
	proc_add(101, 100, "users", "/usr/bin/users", "/");
	fd_add(101, 3, 1001);
	refresh(d);
	read_log(p[0], text, sizeof(text));
	cr_assert_not_null(strstr(text, "discovery: service users changed pids=100,101 ports=8002"),
			   "%s", text);
	proc_del(100);
	proc_del(101);
	sock_del(1001);
	refresh(d);
	read_log(p[0], text, sizeof(text));
	cr_assert_not_null(strstr(text, "discovery: service users gone"), "%s", text);
	discovery_free(d);
	log_set_fd(2);
	close(p[0]);
	close(p[1]);
}
