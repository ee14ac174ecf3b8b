/*
 * agent/procfs.c on the real /proc (root): the listening sockets asked of
 * netlink sock_diag are those /proc/net/tcp{,6} list, IPv4 and IPv6, with
 * our own listeners among them and our connected sockets not; the same with
 * enough listeners that netlink's answer spans many datagrams; the fall back
 * to the files when netlink fails (under a seccomp filter); and what each
 * way costs, logged (median of PROCFS_RUNS reads), not asserted.
 *
 * Other tests may open and close sockets on this host meanwhile, so a
 * comparison counts only when two netlink reads around the file read agree.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent/procfs.h"
#include "common/log.h"
#include "tests/lib/leakcheck.h"

/* Reads of each way for a median. */
#define PROCFS_RUNS 51
/* Tries for a moment when no other socket opened or closed. */
#define PROCFS_TRIES 50

TestSuite(procfs, .fini = test_no_leaks, .timeout = 60);

/* A copy of what procfs_listeners() returned, which is borrowed. */
struct listeners {
	struct procfs_sock *v;
	size_t n;
};

static void read_listeners(struct procfs *pf, struct listeners *out)
{
	const struct procfs_sock *socks;
	size_t n;

	cr_assert_eq(procfs_listeners(pf, &socks, &n), 0);
	free(out->v);
	out->v = malloc((n ? n : 1) * sizeof(*out->v));
	cr_assert_not_null(out->v);
	if (n)
		memcpy(out->v, socks, n * sizeof(*socks));
	out->n = n;
}

static bool listeners_equal(const struct listeners *a, const struct listeners *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].ino != b->v[i].ino || a->v[i].port != b->v[i].port)
			return false;
	return true;
}

static const struct procfs_sock *listeners_find(const struct listeners *l, uint64_t ino)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].ino == ino)
			return &l->v[i];
	return NULL;
}

/*
 * Reads the listeners by netlink (@nl), by the files (@files), and by
 * netlink again until both netlink reads agree; then they must be what the
 * files said. Leaves the files' answer in @by_files and netlink's in @by_nl.
 */
static void compare_ways(struct procfs *nl, struct procfs *files, struct listeners *by_nl,
			 struct listeners *by_files)
{
	struct listeners again = { 0 };
	int tries;

	for (tries = 0; tries < PROCFS_TRIES; tries++) {
		read_listeners(nl, by_nl);
		read_listeners(files, by_files);
		read_listeners(nl, &again);
		if (listeners_equal(by_nl, &again))
			break;
	}
	cr_assert_lt(tries, PROCFS_TRIES, "the host's listening sockets never held still");
	cr_assert(procfs_used_netlink(nl), "the netlink read fell back to the files");
	cr_assert_not(procfs_used_netlink(files));
	cr_assert_eq(by_nl->n, by_files->n, "netlink found %zu listeners, the files %zu", by_nl->n,
		     by_files->n);
	for (size_t i = 0; i < by_nl->n; i++) {
		cr_assert_eq(by_nl->v[i].ino, by_files->v[i].ino,
			     "listener %zu: inode %llu vs %llu", i,
			     (unsigned long long)by_nl->v[i].ino,
			     (unsigned long long)by_files->v[i].ino);
		cr_assert_eq(by_nl->v[i].port, by_files->v[i].port, "inode %llu: port %u vs %u",
			     (unsigned long long)by_nl->v[i].ino, by_nl->v[i].port,
			     by_files->v[i].port);
	}
	free(again.v);
}

/* A socket bound to loopback (@v6: ::1) on any port, listening when @backlog > 0. */
static int open_socket(bool v6, int backlog, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = v6 ? sizeof(*in6) : sizeof(*in4);
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	if (v6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
	} else {
		in4->sin_family = AF_INET;
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0, "bind: %s", strerror(errno));
	if (backlog)
		cr_assert_eq(listen(fd, backlog), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(v6 ? in6->sin6_port : in4->sin_port);
	return fd;
}

static uint64_t inode_of(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_ino;
}

/* Connects to the IPv4 loopback listener on @port; the accepted end in *@server. */
static int connect_to(int listener, uint16_t port, int *server)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
		     strerror(errno));
	*server = accept(listener, NULL, NULL);
	cr_assert_geq(*server, 0);
	return fd;
}

static struct procfs *open_proc(unsigned flags)
{
	char err[256] = "";
	struct procfs *pf = procfs_new("/proc", flags, err, sizeof(err));

	cr_assert_not_null(pf, "%s", err);
	return pf;
}

Test(procfs, netlink_and_files_find_the_same_listeners)
{
	struct listeners by_nl = { 0 }, by_files = { 0 };
	struct procfs *nl = open_proc(0), *files = open_proc(PROCFS_NO_NETLINK);
	uint16_t p4, p6, pidle;
	int l4 = open_socket(false, 16, &p4), l6 = open_socket(true, 16, &p6);
	int idle = open_socket(false, 0, &pidle); /* bound, never listening */
	int server, client = connect_to(l4, p4, &server);
	const struct procfs_sock *s;

	compare_ways(nl, files, &by_nl, &by_files);
	s = listeners_find(&by_nl, inode_of(l4));
	cr_assert_not_null(s, "our IPv4 listener is missing");
	cr_assert_eq(s->port, p4);
	s = listeners_find(&by_nl, inode_of(l6));
	cr_assert_not_null(s, "our IPv6 listener is missing");
	cr_assert_eq(s->port, p6);
	cr_assert_null(listeners_find(&by_nl, inode_of(idle)));
	cr_assert_null(listeners_find(&by_nl, inode_of(client)));
	cr_assert_null(listeners_find(&by_nl, inode_of(server)));
	for (size_t i = 1; i < by_nl.n; i++)
		cr_assert_lt(by_nl.v[i - 1].ino, by_nl.v[i].ino, "sorted by inode");

	close(client);
	close(server);
	close(idle);
	close(l4);
	close(l6);
	free(by_nl.v);
	free(by_files.v);
	procfs_free(nl);
	procfs_free(files);
}

Test(procfs, netlink_reads_an_answer_of_many_datagrams_whole)
{
	/* about 150 bytes per socket: 600 sockets are some 90 KiB, three 32 KiB datagrams */
	enum { N = 600 };
	struct listeners by_nl = { 0 }, by_files = { 0 };
	struct procfs *nl = open_proc(0), *files = open_proc(PROCFS_NO_NETLINK);
	static int fds[N];
	uint16_t port;

	for (int i = 0; i < N; i++)
		fds[i] = open_socket(i % 2, 4, &port);
	compare_ways(nl, files, &by_nl, &by_files);
	for (int i = 0; i < N; i++)
		cr_assert_not_null(listeners_find(&by_nl, inode_of(fds[i])),
				   "listener %d is missing", i);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	free(by_nl.v);
	free(by_files.v);
	procfs_free(nl);
	procfs_free(files);
}

/* Makes socket(AF_NETLINK, ...) fail with EPERM in this process (criterion's worker). */
static void forbid_netlink(void)
{
#ifdef __x86_64__
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = PRP_ARRAY_SIZE(filter), .filter = filter };

	cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0, "seccomp: %s",
		     strerror(errno));
	cr_assert_lt(socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG), 0);
#else
	cr_skip_test("the seccomp filter here is written for x86-64");
#endif
}

/* What the log said since the last call. */
static void read_log(int fd, char *out, size_t len)
{
	ssize_t n = read(fd, out, len - 1);

	out[n > 0 ? n : 0] = '\0';
}

Test(procfs, netlink_failure_falls_back_to_the_files_for_good)
{
	struct listeners got = { 0 };
	struct procfs *nl;
	uint16_t port;
	int l4 = open_socket(false, 16, &port), p[2];
	char log[1024];

	cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
	log_set_fd(p[1]);
	forbid_netlink();
	nl = open_proc(0);
	read_listeners(nl, &got);
	cr_assert_not(procfs_used_netlink(nl));
	read_log(p[0], log, sizeof(log));
	cr_assert_not_null(strstr(log, "netlink sock_diag failed"), "%s", log);
	cr_assert_not_null(listeners_find(&got, inode_of(l4)), "our listener is missing");
	read_listeners(nl, &got);
	cr_assert_not(procfs_used_netlink(nl));
	read_log(p[0], log, sizeof(log));
	cr_assert_str_empty(log, "one warning, then the files without asking netlink again");
	cr_assert_not_null(listeners_find(&got, inode_of(l4)));
	log_set_fd(2);
	close(p[0]);
	close(p[1]);
	close(l4);
	free(got.v);
	procfs_free(nl);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median time of a procfs_listeners() of @pf, in milliseconds. */
static double median_ms(struct procfs *pf, size_t *n)
{
	double ms[PROCFS_RUNS];
	const struct procfs_sock *socks;
	struct timespec t0, t1;

	for (int i = 0; i < PROCFS_RUNS; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		cr_assert_eq(procfs_listeners(pf, &socks, n), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			(double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	}
	qsort(ms, PROCFS_RUNS, sizeof(ms[0]), cmp_double);
	return ms[PROCFS_RUNS / 2];
}

Test(procfs, logs_what_each_way_costs)
{
	struct procfs *nl = open_proc(0), *files = open_proc(PROCFS_NO_NETLINK);
	size_t n_nl, n_files;
	double t_nl = median_ms(nl, &n_nl), t_files = median_ms(files, &n_files);

	cr_assert(procfs_used_netlink(nl));
	/* a figure for the record, not a bound: it depends on the host */
	fprintf(stderr,
		"procfs: %zu listeners by netlink in %.3f ms, %zu by /proc/net/tcp{,6} in %.3f ms "
		"(median of %d)\n",
		n_nl, t_nl, n_files, t_files, PROCFS_RUNS);
	procfs_free(nl);
	procfs_free(files);
}
