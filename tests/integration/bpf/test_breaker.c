/*
 * The circuit breaker against the running kernel: agent/breaker.c loads
 * bpf/breaker.bpf.c and attaches it to a cgroup v2 directory, and real
 * connect() calls to real loopback listeners are refused (EPERM, in well
 * under a millisecond) or let through. Connects are made by a forked
 * "connector" child moved into a fresh cgroup made for the test under the
 * unified hierarchy; one test attaches at the root of the hierarchy and
 * checks that it covers processes in other cgroups. Needs root: it fails,
 * never skips, without it.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/breaker.h"
#include "common/timeutil.h"
#include "tests/lib/fdio.h"
#include "tests/lib/leakcheck.h"

TestSuite(bpf_breaker, .fini = test_no_leaks, .timeout = 60);

#define CG_ROOT "/sys/fs/cgroup/unified"
/* the brief's promise: a refused connect returns within a millisecond */
#define REFUSE_BUDGET_NS 1000000ull

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* ---- cgroups ---------------------------------------------------------- */

struct test_cgroup {
	char path[256];
	int fd;
};

static void cgroup_create(struct test_cgroup *cg)
{
	static int seq;

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	snprintf(cg->path, sizeof(cg->path), CG_ROOT "/prp-test-breaker-%d-%d", (int)getpid(),
		 seq++);
	cr_assert_eq(mkdir(cg->path, 0755), 0, "cannot create cgroup '%s': %s", cg->path,
		     strerror(errno));
	cg->fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(cg->fd, 0);
}

static void cgroup_add(const char *path, pid_t pid)
{
	char procs[300], line[32];
	int fd, n;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "cannot open '%s': %s", procs, strerror(errno));
	n = snprintf(line, sizeof(line), "%d\n", (int)pid);
	cr_assert_eq(write(fd, line, (size_t)n), n, "cannot move %d into '%s': %s", (int)pid, path,
		     strerror(errno));
	close(fd);
}

/* Removes the cgroup; its last process may take a moment to leave after being reaped. */
static void cgroup_remove(struct test_cgroup *cg)
{
	int err = 0;

	close(cg->fd);
	for (int i = 0; i < 200; i++) {
		err = rmdir(cg->path) ? errno : 0;
		if (err != EBUSY)
			break;
		usleep(5000);
	}
	cr_expect_eq(err, 0, "cannot remove cgroup '%s': %s", cg->path, strerror(err));
}

/* Ids of the programs attached to cgroup @fd for @type (effective ones excluded). */
static __u32 attached_ids(int fd, enum bpf_attach_type type, __u32 *ids, __u32 cap)
{
	__u32 flags = 0, n = cap;

	cr_assert_eq(bpf_prog_query(fd, type, 0, &flags, ids, &n), 0, "bpf_prog_query: %s",
		     strerror(errno));
	return n;
}

static int has_id(const __u32 *ids, __u32 n, __u32 id)
{
	for (__u32 i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* ---- the connector child ---------------------------------------------- */

struct connect_cmd {
	struct sockaddr_storage to;
	socklen_t len;
};

struct connect_res {
	int err; /* 0 or the errno of connect() */
	__u64 elapsed_ns;
};

/* Makes one fresh socket per connect: its cgroup is the one its creator was in then. */
static struct connect_res try_connect(const struct sockaddr *to, socklen_t len)
{
	struct connect_res r = { 0 };
	__u64 t0;
	int fd;

	fd = socket(to->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r.err = errno;
		return r;
	}
	t0 = mono_ns();
	if (connect(fd, to, len))
		r.err = errno;
	r.elapsed_ns = mono_ns() - t0;
	close(fd);
	return r;
}

struct connector {
	pid_t pid;
	int cmd_fd;
	int res_fd;
};

/*
 * Forks a child that connects where it is told, one fresh socket per
 * command, and moves it into @cgroup_path. It exits at EOF on its commands,
 * so it cannot outlive a test that died. Start it before breaker_start():
 * a child forked after shares the breaker's BPF link fds, and the programs
 * would stay attached until it exits.
 */
static void connector_start(struct connector *c, const char *cgroup_path)
{
	int cmd[2], res[2];

	cr_assert_eq(pipe2(cmd, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (c->pid == 0) {
		struct connect_cmd k;

		close(cmd[1]);
		close(res[0]);
		while (!fdio_read_exact(cmd[0], &k, sizeof(k))) {
			struct connect_res r = try_connect((struct sockaddr *)&k.to, k.len);

			if (fdio_write_exact(res[1], &r, sizeof(r)))
				break;
		}
		_exit(0);
	}
	close(cmd[0]);
	close(res[1]);
	c->cmd_fd = cmd[1];
	c->res_fd = res[0];
	/* before the first command, so that every socket it makes is in the cgroup */
	cgroup_add(cgroup_path, c->pid);
}

static struct connect_res connector_connect(struct connector *c, const struct sockaddr_storage *to,
					    socklen_t len)
{
	struct connect_cmd k = { .to = *to, .len = len };
	struct connect_res r;

	cr_assert_eq(fdio_write_exact(c->cmd_fd, &k, sizeof(k)), 0);
	cr_assert_eq(fdio_read_exact(c->res_fd, &r, sizeof(r)), 0, "the connector died");
	return r;
}

static void connector_stop(struct connector *c)
{
	int status;

	close(c->cmd_fd);
	close(c->res_fd);
	cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- listeners -------------------------------------------------------- */

struct listener {
	int fd;
	struct sockaddr_storage addr; /* where it listens: loopback, an ephemeral port */
	socklen_t len;
};

/* Returns 0, or -errno when the family has no loopback here (no ::1). */
static int listener_open(struct listener *l, int family)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&l->addr;
	int err;

	memset(&l->addr, 0, sizeof(l->addr));
	l->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -errno;
	if (family == AF_INET) {
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l->len = sizeof(*in);
	} else {
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		l->len = sizeof(*in6);
	}
	/* a deep backlog: nothing accepts, and every connect of a test must fit */
	if (bind(l->fd, (struct sockaddr *)&l->addr, l->len) || listen(l->fd, 4096) ||
	    getsockname(l->fd, (struct sockaddr *)&l->addr, &l->len)) {
		err = -errno;
		close(l->fd);
		return err;
	}
	return 0;
}

static __u16 listener_port(const struct listener *l)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)&l->addr;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&l->addr;

	return ntohs(l->addr.ss_family == AF_INET ? in->sin_port : in6->sin6_port);
}

static const struct sockaddr *sa(const struct sockaddr_storage *ss)
{
	return (const struct sockaddr *)ss;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* ---- tests ------------------------------------------------------------ */

Test(bpf_breaker, refuses_new_connects_fast_while_open_and_lets_them_through_when_closed)
{
	enum { N = 200 };
	struct listener svc, other;
	struct test_cgroup cg;
	struct connector c;
	struct breaker *b;
	struct connect_res r;
	__u64 *refused_ns = calloc(N, sizeof(*refused_ns)), count = 0, pass_ns;

	cr_assert_not_null(refused_ns);
	cgroup_create(&cg);
	cr_assert_eq(listener_open(&svc, AF_INET), 0);
	cr_assert_eq(listener_open(&other, AF_INET), 0);
	connector_start(&c, cg.path);
	cr_assert_eq(breaker_start(&b, cg.path), 0);

	/* closed: connects pass, and a closed breaker has no entry */
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_assert_eq(r.err, 0, "connect while closed: %s", strerror(r.err));
	pass_ns = r.elapsed_ns;
	cr_assert_eq(breaker_refused(b, sa(&svc.addr), &count), -ENOENT);

	cr_assert_eq(breaker_open(b, sa(&svc.addr)), 0);
	for (int i = 0; i < N; i++) {
		r = connector_connect(&c, &svc.addr, svc.len);
		cr_assert_eq(r.err, EPERM, "connect %d while open: %s", i, strerror(r.err));
		refused_ns[i] = r.elapsed_ns;
	}
	qsort(refused_ns, N, sizeof(*refused_ns), cmp_u64);
	cr_log_info("refused connect: min %llu ns, median %llu ns, p99 %llu ns, max %llu ns; "
		    "a passing one took %llu ns",
		    (unsigned long long)refused_ns[0], (unsigned long long)refused_ns[N / 2],
		    (unsigned long long)refused_ns[N * 99 / 100],
		    (unsigned long long)refused_ns[N - 1], (unsigned long long)pass_ns);
	/*
	 * The p99, not the max: the connector may be preempted by anything on
	 * the host between its two clock reads, which says nothing about us.
	 */
	cr_expect_lt(refused_ns[N * 99 / 100], REFUSE_BUDGET_NS, "p99 of a refused connect %llu ns",
		     (unsigned long long)refused_ns[N * 99 / 100]);
	cr_assert_eq(breaker_refused(b, sa(&svc.addr), &count), 0);
	cr_expect_eq(count, N, "refused %llu, expected %d", (unsigned long long)count, N);

	/* another port of the same address is not the service */
	r = connector_connect(&c, &other.addr, other.len);
	cr_expect_eq(r.err, 0, "another port while open: %s", strerror(r.err));
	/* and this process, in another cgroup than the attached one, is not covered */
	r = try_connect(sa(&svc.addr), svc.len);
	cr_expect_eq(r.err, 0, "a process outside the cgroup: %s", strerror(r.err));

	cr_assert_eq(breaker_close(b, sa(&svc.addr)), 0);
	cr_expect_eq(breaker_close(b, sa(&svc.addr)), -ENOENT);
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, 0, "connect after close: %s", strerror(r.err));

	connector_stop(&c);
	breaker_stop(b);
	close(svc.fd);
	close(other.fd);
	cgroup_remove(&cg);
	free(refused_ns);
}

Test(bpf_breaker, refuses_ipv6_and_v4_mapped_destinations)
{
	struct listener v4, v6;
	struct test_cgroup cg;
	struct connector c;
	struct breaker *b;
	struct connect_res r;
	struct sockaddr_storage mapped = { 0 };
	struct sockaddr_in6 *m6 = (struct sockaddr_in6 *)&mapped;
	__u64 count = 0;

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	if (listener_open(&v6, AF_INET6))
		cr_skip_test("no IPv6 loopback (::1) on this machine");
	cr_assert_eq(listener_open(&v4, AF_INET), 0);
	cgroup_create(&cg);
	connector_start(&c, cg.path);
	cr_assert_eq(breaker_start(&b, cg.path), 0);

	r = connector_connect(&c, &v6.addr, v6.len);
	cr_assert_eq(r.err, 0, "[::1] while closed: %s", strerror(r.err));
	cr_assert_eq(breaker_open(b, sa(&v6.addr)), 0);
	r = connector_connect(&c, &v6.addr, v6.len);
	cr_expect_eq(r.err, EPERM, "[::1] while open: %s", strerror(r.err));
	cr_expect_lt(r.elapsed_ns, REFUSE_BUDGET_NS);
	cr_assert_eq(breaker_refused(b, sa(&v6.addr), &count), 0);
	cr_expect_eq(count, 1);

	/* an IPv6 socket reaching the IPv4 service as ::ffff:127.0.0.1 meets its breaker */
	m6->sin6_family = AF_INET6;
	m6->sin6_port = htons(listener_port(&v4));
	m6->sin6_addr.s6_addr[10] = 0xff;
	m6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&m6->sin6_addr.s6_addr[12], &((struct sockaddr_in *)&v4.addr)->sin_addr, 4);
	r = connector_connect(&c, &mapped, sizeof(*m6));
	cr_assert_eq(r.err, 0, "v4-mapped while closed: %s", strerror(r.err));
	cr_assert_eq(breaker_open(b, sa(&v4.addr)), 0);
	r = connector_connect(&c, &mapped, sizeof(*m6));
	cr_expect_eq(r.err, EPERM, "v4-mapped while the IPv4 breaker is open: %s", strerror(r.err));
	r = connector_connect(&c, &v4.addr, v4.len);
	cr_expect_eq(r.err, EPERM);
	/* the two are one entry, whichever form names it */
	cr_assert_eq(breaker_refused(b, sa(&mapped), &count), 0);
	cr_expect_eq(count, 2);

	cr_assert_eq(breaker_close(b, sa(&v6.addr)), 0);
	r = connector_connect(&c, &v6.addr, v6.len);
	cr_expect_eq(r.err, 0, "[::1] after close: %s", strerror(r.err));

	connector_stop(&c);
	breaker_stop(b);
	close(v4.fd);
	close(v6.fd);
	cgroup_remove(&cg);
}

Test(bpf_breaker, any_address_entry_covers_every_address_on_its_port)
{
	struct listener svc, other;
	struct test_cgroup cg;
	struct connector c;
	struct breaker *b;
	struct connect_res r;
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	__u64 count = 0;

	cr_assert_eq(listener_open(&svc, AF_INET), 0);
	cr_assert_eq(listener_open(&other, AF_INET), 0);
	any.sin_port = htons(listener_port(&svc));
	cgroup_create(&cg);
	connector_start(&c, cg.path);
	cr_assert_eq(breaker_start(&b, cg.path), 0);

	cr_assert_eq(breaker_open(b, (struct sockaddr *)&any), 0);
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, EPERM, "127.0.0.1 under 0.0.0.0: %s", strerror(r.err));
	r = connector_connect(&c, &other.addr, other.len);
	cr_expect_eq(r.err, 0, "another port under 0.0.0.0: %s", strerror(r.err));
	cr_assert_eq(breaker_refused(b, (struct sockaddr *)&any, &count), 0);
	cr_expect_eq(count, 1);
	/* the exact entry is looked up first: a half-open one lets its probe through */
	cr_assert_eq(breaker_half_open(b, sa(&svc.addr), 60 * NSEC_PER_SEC), 0);
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, 0, "the exact entry's probe: %s", strerror(r.err));

	connector_stop(&c);
	breaker_stop(b);
	close(svc.fd);
	close(other.fd);
	cgroup_remove(&cg);
}

Test(bpf_breaker, half_open_lets_one_connect_through_per_interval)
{
	const __u64 interval_ns = 300 * NSEC_PER_MSEC;
	struct breaker_entry e;
	struct listener svc;
	struct test_cgroup cg;
	struct connector c;
	struct breaker *b;
	struct connect_res r;
	__u64 t0;

	cr_assert_eq(listener_open(&svc, AF_INET), 0);
	cgroup_create(&cg);
	connector_start(&c, cg.path);
	cr_assert_eq(breaker_start(&b, cg.path), 0);

	cr_assert_eq(breaker_open(b, sa(&svc.addr)), 0);
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_assert_eq(r.err, EPERM);
	cr_assert_eq(breaker_half_open(b, sa(&svc.addr), 0), -EINVAL);

	/* the first connect after the switch is the probe; the next ones wait an interval */
	t0 = mono_ns();
	cr_assert_eq(breaker_half_open(b, sa(&svc.addr), interval_ns), 0);
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, 0, "the first probe: %s", strerror(r.err));
	for (int i = 0; i < 5; i++) {
		r = connector_connect(&c, &svc.addr, svc.len);
		cr_expect_eq(r.err, EPERM, "connect %d within the interval: %s", i,
			     strerror(r.err));
	}
	cr_assert_lt(mono_ns() - t0, interval_ns, "too slow to test the interval");
	usleep((useconds_t)(interval_ns / NSEC_PER_USEC + 50000));
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, 0, "the probe after an interval: %s", strerror(r.err));
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, EPERM);

	cr_assert_eq(breaker_lookup(b, sa(&svc.addr), &e), 0);
	cr_expect_eq(e.state, BREAKER_HALF_OPEN);
	cr_expect_eq(e.probes, 2);
	cr_expect_eq(e.refused, 1 + 5 + 1, "refused %llu", (unsigned long long)e.refused);
	cr_expect_eq(e.probe_interval_ns, interval_ns);
	cr_expect_neq(e.opened_at_ns, 0);

	/* a failed probe: open again, the counters stay */
	cr_assert_eq(breaker_open(b, sa(&svc.addr)), 0);
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, EPERM);
	cr_assert_eq(breaker_lookup(b, sa(&svc.addr), &e), 0);
	cr_expect_eq(e.state, BREAKER_OPEN);
	cr_expect_eq(e.refused, 8);

	connector_stop(&c);
	breaker_stop(b);
	close(svc.fd);
	cgroup_remove(&cg);
}

Test(bpf_breaker, attached_at_the_root_covers_processes_in_other_cgroups)
{
	__u32 before[64], after[64], ours[2] = { 0 }, n_before, n_after, n_ours = 0;
	struct listener svc;
	struct test_cgroup cg;
	struct connector c;
	struct breaker *b;
	struct connect_res r;
	int root_fd, old_fd, accepted;
	char buf[4] = { 0 };

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	root_fd = open(CG_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(root_fd, 0);
	cr_assert_eq(listener_open(&svc, AF_INET), 0);
	cgroup_create(&cg);
	connector_start(&c, cg.path);

	n_before = attached_ids(root_fd, BPF_CGROUP_INET4_CONNECT, before, 64);
	cr_assert_eq(breaker_start(&b, CG_ROOT), 0);
	n_after = attached_ids(root_fd, BPF_CGROUP_INET4_CONNECT, after, 64);
	for (__u32 i = 0; i < n_after; i++)
		if (!has_id(before, n_before, after[i]) && n_ours < 2)
			ours[n_ours++] = after[i];
	cr_assert_eq(n_ours, 1, "expected one new program at the root, found %u", n_ours);

	/* a connection made before the breaker opens */
	old_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(old_fd, 0);
	cr_assert_eq(connect(old_fd, sa(&svc.addr), svc.len), 0);
	accepted = accept(svc.fd, NULL, NULL);
	cr_assert_geq(accepted, 0);

	cr_assert_eq(breaker_open(b, sa(&svc.addr)), 0);
	/* the connector is in the test cgroup, a child of the root */
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, EPERM, "a process in another cgroup: %s", strerror(r.err));
	cr_expect_lt(r.elapsed_ns, REFUSE_BUDGET_NS);
	/* and this process, in the root cgroup itself */
	r = try_connect(sa(&svc.addr), svc.len);
	cr_expect_eq(r.err, EPERM, "a process in the root cgroup: %s", strerror(r.err));
	/* new connections only: the established one still carries data */
	cr_expect_eq(write(old_fd, "ok!", 3), 3);
	cr_expect_eq(read(accepted, buf, 3), 3);
	cr_expect_str_eq(buf, "ok!");

	breaker_stop(b);
	n_after = attached_ids(root_fd, BPF_CGROUP_INET4_CONNECT, after, 64);
	cr_expect_not(has_id(after, n_after, ours[0]), "program %u still attached at the root",
		      ours[0]);
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, 0, "after stop: %s", strerror(r.err));

	connector_stop(&c);
	close(accepted);
	close(old_fd);
	close(svc.fd);
	close(root_fd);
	cgroup_remove(&cg);
}

Test(bpf_breaker, stop_detaches_both_programs_from_the_cgroup)
{
	__u32 ids[8];
	struct listener svc;
	struct test_cgroup cg;
	struct connector c;
	struct breaker *b;
	struct connect_res r;

	cr_assert_eq(listener_open(&svc, AF_INET), 0);
	cgroup_create(&cg);
	/* first: a child forked later would share the breaker's link fds, and keep it attached */
	connector_start(&c, cg.path);
	cr_expect_eq(attached_ids(cg.fd, BPF_CGROUP_INET4_CONNECT, ids, 8), 0);
	cr_assert_eq(breaker_start(&b, cg.path), 0);
	cr_expect_eq(attached_ids(cg.fd, BPF_CGROUP_INET4_CONNECT, ids, 8), 1);
	cr_expect_eq(attached_ids(cg.fd, BPF_CGROUP_INET6_CONNECT, ids, 8), 1);
	cr_assert_eq(breaker_open(b, sa(&svc.addr)), 0);
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_assert_eq(r.err, EPERM);

	/* stopping with a breaker still open closes it with the rest */
	breaker_stop(b);
	cr_expect_eq(attached_ids(cg.fd, BPF_CGROUP_INET4_CONNECT, ids, 8), 0);
	cr_expect_eq(attached_ids(cg.fd, BPF_CGROUP_INET6_CONNECT, ids, 8), 0);
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, 0, "after stop: %s", strerror(r.err));
	breaker_stop(NULL);

	connector_stop(&c);
	close(svc.fd);
	cgroup_remove(&cg);
}

Test(bpf_breaker, a_dead_agent_leaves_no_breaker_behind)
{
	__u32 ids[8];
	struct listener svc;
	struct test_cgroup cg;
	struct connector c;
	struct connect_res r;
	int ready[2], status;
	char byte;
	pid_t agent;

	cr_assert_eq(listener_open(&svc, AF_INET), 0);
	cgroup_create(&cg);
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	agent = fork();
	cr_assert_geq(agent, 0);
	if (agent == 0) {
		struct breaker *b;

		/* an "agent" that opens a breaker and is killed without stopping */
		if (breaker_start(&b, cg.path) || breaker_open(b, sa(&svc.addr)))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	cr_assert_eq(read(ready[0], &byte, 1), 1, "the agent child failed");
	close(ready[0]);
	connector_start(&c, cg.path);
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, EPERM);

	kill(agent, SIGKILL);
	cr_assert_eq(waitpid(agent, &status, 0), agent);
	cr_expect_eq(attached_ids(cg.fd, BPF_CGROUP_INET4_CONNECT, ids, 8), 0);
	cr_expect_eq(attached_ids(cg.fd, BPF_CGROUP_INET6_CONNECT, ids, 8), 0);
	r = connector_connect(&c, &svc.addr, svc.len);
	cr_expect_eq(r.err, 0, "after the agent died: %s", strerror(r.err));

	connector_stop(&c);
	close(svc.fd);
	cgroup_remove(&cg);
}

Test(bpf_breaker, start_fails_cleanly_without_a_cgroup2_directory)
{
	struct breaker *b = (struct breaker *)&b; /* anything but NULL */

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	cr_expect_eq(breaker_start(&b, "/tmp"), -ENOTDIR);
	cr_expect_null(b);
	cr_expect_eq(breaker_start(&b, CG_ROOT "/prp-no-such-cgroup"), -ENOENT);
	cr_expect_null(b);
}

Test(bpf_breaker, rejects_addresses_it_cannot_key)
{
	struct sockaddr_un_like {
		sa_family_t family;
		char path[32];
	} un = { .family = AF_UNIX };
	struct test_cgroup cg;
	struct breaker *b;
	__u64 count;

	cgroup_create(&cg);
	cr_assert_eq(breaker_start(&b, cg.path), 0);
	cr_expect_eq(breaker_open(b, (struct sockaddr *)&un), -EAFNOSUPPORT);
	cr_expect_eq(breaker_refused(b, (struct sockaddr *)&un, &count), -EAFNOSUPPORT);
	cr_expect_eq(breaker_close(b, (struct sockaddr *)&un), -EAFNOSUPPORT);
	breaker_stop(b);
	cgroup_remove(&cg);
}
