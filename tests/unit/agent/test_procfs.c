/*
 * agent/procfs.c on a fake /proc built under a temporary directory: the
 * parser of net/tcp{,6} (a fake root never asks netlink), its bound, the
 * pid list, and the per-process reads (comm, PPid, cgroup v2, exe, socket
 * fds), including what they give for a process that is gone.
 * tests/integration/agent/test_procfs.c compares the parser with netlink on
 * the real /proc.
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

#include "agent/procfs.h"
#include "common/log.h"
#include "tests/lib/leakcheck.h"

static char root[64];

static const char tcp_head[] = "  sl  local_address rem_address   st tx_queue rx_queue tr "
			       "tm->when retrnsmt   uid  timeout inode\n";

/* ---- The fake /proc ---- */

static PRP_PRINTF(2, 3) void write_file(const char *content, const char *fmt, ...)
{
	char rel[256], path[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	fputs(content, f);
	fclose(f);
}

static void mkdir_rel(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path, strerror(errno));
}

static void symlink_rel(const char *target, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	cr_assert_eq(symlink(target, path), 0, "symlink %s: %s", path, strerror(errno));
}

static void unlink_rel(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	cr_assert_eq(unlink(path), 0);
}

/* One line of net/tcp: @state 0x0A is LISTEN. */
static int tcp_line(char *out, size_t len, unsigned i, unsigned port, unsigned state,
		    unsigned long ino)
{
	return snprintf(out, len,
			"%4u: 0100007F:%04X 00000000:0000 %02X 00000000:00000000 00:00000000 "
			"00000000     0        0 %lu 1 0000000000000000 100 0 0 10 0\n",
			i, port, state, ino);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/prp-fakeproc-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	mkdir_rel("net");
	write_file(tcp_head, "net/tcp");
	write_file(tcp_head, "net/tcp6");
}

static void teardown(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	test_no_leaks();
}

TestSuite(procfs, .init = setup, .fini = teardown);

static struct procfs *open_root(void)
{
	char err[256] = "";
	struct procfs *pf = procfs_new(root, 0, err, sizeof(err));

	cr_assert_not_null(pf, "%s", err);
	return pf;
}

/* ---- Listening sockets ---- */

Test(procfs, files_give_the_listening_sockets_sorted_by_inode)
{
	static const char v6[] =
		"  sl  local_address                         remote_address                        "
		"st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 "
		"0A 00000000:00000000 00:00000000 00000000     0        0 3003 1 0000000000000000 "
		"100 0 0 10 0\n";
	char v4[4096];
	size_t n4 = 0, n;
	const struct procfs_sock *socks;
	struct procfs *pf;

	n4 += (size_t)snprintf(v4, sizeof(v4), "%s", tcp_head);
	n4 += (size_t)tcp_line(v4 + n4, sizeof(v4) - n4, 0, 8002, 0x0A, 2002);
	n4 += (size_t)tcp_line(v4 + n4, sizeof(v4) - n4, 1, 40000, 0x01, 5005); /* connected */
	n4 += (size_t)tcp_line(v4 + n4, sizeof(v4) - n4, 2, 0, 0x0A, 6006);	/* port 0 */
	n4 += (size_t)tcp_line(v4 + n4, sizeof(v4) - n4, 3, 9000, 0x0A, 0);	/* inode 0 */
	n4 += (size_t)tcp_line(v4 + n4, sizeof(v4) - n4, 4, 8001, 0x0A, 1001);
	v4[n4 - 1] = '\0'; /* the last line without its '\n' */
	write_file(v4, "net/tcp");
	write_file(v6, "net/tcp6");
	pf = open_root();
	cr_assert_eq(procfs_listeners(pf, &socks, &n), 0);
	cr_assert_not(procfs_used_netlink(pf), "a fake root never asks netlink");
	cr_assert_eq(n, 3);
	cr_assert_eq(socks[0].ino, 1001);
	cr_assert_eq(socks[0].port, 8001);
	cr_assert_eq(socks[1].ino, 2002);
	cr_assert_eq(socks[1].port, 8002);
	cr_assert_eq(socks[2].ino, 3003);
	cr_assert_eq(socks[2].port, 8080);
	procfs_free(pf);
	procfs_free(NULL);
}

Test(procfs, missing_tcp6_is_no_error_but_missing_tcp_is)
{
	const struct procfs_sock *socks = NULL;
	struct procfs *pf = open_root();
	char line[256];
	size_t n = 99;

	tcp_line(line, sizeof(line), 0, 8001, 0x0A, 1001);
	write_file(line, "net/tcp");
	unlink_rel("net/tcp6");
	cr_assert_eq(procfs_listeners(pf, &socks, &n), 0);
	cr_assert_eq(n, 1);
	unlink_rel("net/tcp");
	socks = NULL;
	n = 99;
	cr_assert_eq(procfs_listeners(pf, &socks, &n), -ENOENT);
	cr_assert_null(socks, "left unchanged");
	cr_assert_eq(n, 99);
	procfs_free(pf);
}

/* What the log said since the last call. */
static void read_log(int fd, char *out, size_t len)
{
	ssize_t n = read(fd, out, len - 1);

	out[n > 0 ? n : 0] = '\0';
}

Test(procfs, listening_sockets_past_the_bound_are_ignored_with_one_warning)
{
	const size_t total = PROCFS_SOCKS_MAX + 10;
	size_t cap = (total + 1) * 160, len = 0, n;
	char *text = malloc(cap), log[1024];
	const struct procfs_sock *socks;
	struct procfs *pf;
	int p[2];

	cr_assert_not_null(text);
	len += (size_t)snprintf(text, cap, "%s", tcp_head);
	for (size_t i = 0; i < total; i++)
		len += (size_t)tcp_line(text + len, cap - len, (unsigned)i, 1 + (unsigned)i % 65535,
					0x0A, 100000 + i);
	write_file(text, "net/tcp");
	free(text);
	cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
	log_set_fd(p[1]);
	pf = open_root();
	cr_assert_eq(procfs_listeners(pf, &socks, &n), 0);
	cr_assert_eq(n, PROCFS_SOCKS_MAX);
	read_log(p[0], log, sizeof(log));
	cr_assert_not_null(strstr(log, "more than 65536 listening sockets"), "%s", log);
	cr_assert_eq(procfs_listeners(pf, &socks, &n), 0);
	cr_assert_eq(n, PROCFS_SOCKS_MAX);
	read_log(p[0], log, sizeof(log));
	cr_assert_str_empty(log, "warned once only");
	procfs_free(pf);
	log_set_fd(2);
	close(p[0]);
	close(p[1]);
}

Test(procfs, missing_root_is_an_error_naming_it)
{
	char err[256] = "";

	cr_assert_null(procfs_new("/nonexistent/proc", 0, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "/nonexistent/proc"), "%s", err);
}

/* ---- Processes ---- */

Test(procfs, pids_are_the_numeric_entries_sorted)
{
	const uint32_t *pids;
	struct procfs *pf;
	size_t n;

	mkdir_rel("12");
	mkdir_rel("3");
	mkdir_rel("1x");
	mkdir_rel("0");
	mkdir_rel("99999999"); /* above PROCFS_PID_MAX */
	mkdir_rel("self");
	pf = open_root();
	cr_assert_eq(procfs_pids(pf, &pids, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(pids[0], 3);
	cr_assert_eq(pids[1], 12);
	procfs_free(pf);
}

Test(procfs, process_facts_are_read_and_cleaned)
{
	char comm[PROCFS_COMM_MAX], exe[8];
	uint32_t ppid;
	char *cgroup;
	struct procfs *pf;

	mkdir_rel("7");
	write_file("nginx\n", "7/comm");
	write_file("Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t7\nPid:\t7\n"
		   "PPid:\t5\nTracerPid:\t0\n",
		   "7/status");
	write_file("12:memory:/v1/only\n0::/system.slice/nginx.service\n", "7/cgroup");
	symlink_rel("/usr/sbin/nginx-server (deleted)", "7/exe");
	mkdir_rel("8");
	write_file("4:memory:/v1/only\n", "8/cgroup");
	symlink_rel("/usr/bin/x (deleted)", "8/exe");
	pf = open_root();
	cr_assert_eq(procfs_comm(pf, 7, comm), 0);
	cr_assert_str_eq(comm, "nginx");
	cr_assert_eq(procfs_ppid(pf, 7, &ppid), 0);
	cr_assert_eq(ppid, 5);
	cr_assert_eq(procfs_cgroup(pf, 7, &cgroup), 0);
	cr_assert_str_eq(cgroup, "/system.slice/nginx.service");
	free(cgroup);
	cr_assert_eq(procfs_exe(pf, 7, exe, sizeof(exe)), 0);
	cr_assert_str_eq(exe, "nginx-s", "the basename, cut to fit, without ' (deleted)'");
	cr_assert_eq(procfs_cgroup(pf, 8, &cgroup), 0);
	cr_assert_null(cgroup, "no cgroup v2 line");
	cr_assert_eq(procfs_exe(pf, 8, exe, sizeof(exe)), 0);
	cr_assert_str_eq(exe, "x");
	procfs_free(pf);
}

Test(procfs, a_gone_process_gives_enoent_and_empty_facts)
{
	char comm[PROCFS_COMM_MAX] = "old", exe[16] = "old";
	uint32_t ppid = 9;
	char *cgroup = (char *)1;
	struct procfs *pf = open_root();

	cr_assert_eq(procfs_comm(pf, 42, comm), -ENOENT);
	cr_assert_str_empty(comm);
	cr_assert_eq(procfs_ppid(pf, 42, &ppid), -ENOENT);
	cr_assert_eq(ppid, 0);
	cr_assert_eq(procfs_cgroup(pf, 42, &cgroup), -ENOENT);
	cr_assert_null(cgroup);
	cr_assert_eq(procfs_exe(pf, 42, exe, sizeof(exe)), -ENOENT);
	cr_assert_str_empty(exe);
	cr_assert_eq(procfs_sockets(pf, 42, NULL, NULL), -ENOENT);
	procfs_free(pf);
}

struct inos {
	uint64_t v[8];
	size_t n;
};

static void on_socket(uint64_t ino, void *arg)
{
	struct inos *got = arg;

	cr_assert_lt(got->n, 8);
	got->v[got->n++] = ino;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

Test(procfs, sockets_are_the_socket_fds_once_per_fd)
{
	struct inos got = { 0 };
	struct procfs *pf;

	mkdir_rel("7");
	mkdir_rel("7/fd");
	symlink_rel("/dev/null", "7/fd/0");
	symlink_rel("pipe:[77]", "7/fd/1");
	symlink_rel("socket:[1001]", "7/fd/3");
	symlink_rel("socket:[1001]", "7/fd/4"); /* dup()ed */
	symlink_rel("socket:[2002]", "7/fd/5");
	symlink_rel("socket:[20x]", "7/fd/6");
	pf = open_root();
	cr_assert_eq(procfs_sockets(pf, 7, on_socket, &got), 0);
	qsort(got.v, got.n, sizeof(got.v[0]), cmp_u64);
	cr_assert_eq(got.n, 3);
	cr_assert_eq(got.v[0], 1001);
	cr_assert_eq(got.v[1], 1001);
	cr_assert_eq(got.v[2], 2002);
	procfs_free(pf);
}
