/*
 * Reading /proc for discovery (see procfs.h; RECIPES.md §6). Every path is
 * relative to the proc root, opened once, so tests can pass a fake tree.
 *
 * Listening sockets. /proc/net/tcp{,6} list every TCP socket, one line each
 * (state 0A is LISTEN, the inode is column 10). To print them the kernel
 * walks its whole established-connection hash table, and again for the read
 * that finds the end: on a 24 GiB machine with 262144 buckets and almost no
 * sockets, 1.6 ms for both files (median of 51 reads), plus about 150 bytes
 * per socket, connected ones included. netlink sock_diag asked for LISTEN
 * alone walks only the listening table (agent/sockdiag.c): 0.025 ms for both
 * families there, some 60 times cheaper (tests/integration/agent/
 * test_procfs.c logs both). So on the real /proc we ask netlink, and read
 * the files only for a fake root, when the caller asks, or once netlink has
 * failed: it fails for good on a kernel without inet_diag or under a seccomp
 * filter, and asking again every second would make the kernel try to load
 * the module every second. We accept that a passing failure costs the
 * expensive way until the agent restarts.
 *
 * Both ways see the network namespace of the agent only, and neither is an
 * atomic snapshot: a socket opened or closed meanwhile may be missed or
 * seen. The caller reads again on its next refresh.
 */
#include "agent/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/sockdiag.h"
#include "common/alloc.h"
#include "common/log.h"

struct procfs {
	int proc_fd;		   /* the proc root, which every path is relative to */
	struct sockdiag *diag;	   /* NULL: read the /proc/net files */
	bool used_netlink;	   /* by the last procfs_listeners() that succeeded */
	bool truncated;		   /* the listeners being read hit PROCFS_SOCKS_MAX */
	bool warned_truncated;	   /* and we said so once */
	struct procfs_sock *socks; /* the listeners read last */
	size_t nsocks, socks_cap;
	uint32_t *pids; /* the pids listed last */
	size_t npids, pids_cap;
};

/* ---- Helpers ----------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_sock(const void *a, const void *b)
{
	uint64_t x = ((const struct procfs_sock *)a)->ino, y = ((const struct procfs_sock *)b)->ino;

	return x < y ? -1 : x > y;
}

/* qsort(), which may not be given NULL, even for no elements. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* Reads up to @len - 1 bytes of @path under @dirfd into @buf, terminated: the length or -errno. */
static ssize_t read_small(int dirfd, const char *path, char *buf, size_t len)
{
	size_t total = 0;
	ssize_t n;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (total < len - 1) {
		n = read(fd, buf + total, len - 1 - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		total += (size_t)n;
	}
	close(fd);
	buf[total] = '\0';
	return (ssize_t)total;
}

/* ---- Listening sockets ------------------------------------------------------------ */

/* Appends a listener to pf->socks: 0, or -E2BIG past PROCFS_SOCKS_MAX. */
static int sock_add(struct procfs *pf, uint64_t ino, uint16_t port)
{
	if (pf->nsocks == PROCFS_SOCKS_MAX) {
		pf->truncated = true;
		return -E2BIG;
	}
	if (pf->nsocks == pf->socks_cap) {
		pf->socks_cap = pf->socks_cap ? 2 * pf->socks_cap : 64;
		pf->socks = xreallocarray(pf->socks, pf->socks_cap, sizeof(*pf->socks));
	}
	pf->socks[pf->nsocks++] = (struct procfs_sock){ .ino = ino, .port = port };
	return 0;
}

static int on_listener(uint64_t ino, uint16_t port, void *arg)
{
	return sock_add(arg, ino, port);
}

/* One line of /proc/net/tcp{,6}: a listening socket goes into pf->socks. 0 or -E2BIG. */
static int tcp_line(struct procfs *pf, const char *line)
{
	char local[128], *end;
	const char *colon;
	unsigned int st;
	unsigned long long ino;
	unsigned long port;

	if (sscanf(line, "%*d: %127s %*s %x %*s %*s %*s %*u %*u %llu", local, &st, &ino) != 3)
		return 0; /* the header, or a line we do not understand */
	colon = strrchr(local, ':');
	if (st != 0x0A || !ino || !colon)
		return 0;
	port = strtoul(colon + 1, &end, 16);
	if (*end || port == 0 || port > 65535)
		return 0;
	return sock_add(pf, ino, (uint16_t)port);
}

/* Appends the listening sockets of @path to pf->socks, streaming: the file may be large. */
static int read_tcp(struct procfs *pf, const char *path)
{
	char buf[16384], *line, *nl;
	size_t have = 0;
	ssize_t n;
	int err = 0, fd = openat(pf->proc_fd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (!err) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		have += (size_t)n;
		buf[have] = '\0';
		for (line = buf; !err && (nl = strchr(line, '\n')); line = nl + 1) {
			*nl = '\0';
			err = tcp_line(pf, line);
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		buf[have] = '\0';
		if (n == 0) {
			if (have && !err) /* a last line without its '\n' */
				err = tcp_line(pf, buf);
			break;
		}
		if (have == sizeof(buf) - 1)
			have = 0; /* longer than any line of the kernel's: drop it */
	}
	close(fd);
	return err;
}

static int listeners_from_files(struct procfs *pf)
{
	int err = read_tcp(pf, "net/tcp");

	if (err)
		return err;
	err = read_tcp(pf, "net/tcp6");
	return err == -ENOENT ? 0 : err; /* no tcp6 when IPv6 is off */
}

/* Fills pf->socks, from netlink while it works, else from the files. */
static int listeners_read(struct procfs *pf)
{
	int err;

	pf->nsocks = 0;
	pf->truncated = false;
	if (pf->diag) {
		err = sockdiag_listeners(pf->diag, on_listener, pf);
		if (!err || pf->truncated)
			return err;
		log_warn_err(err,
			     "procfs: netlink sock_diag failed, reading /proc/net/tcp{,6} from "
			     "now on");
		sockdiag_free(pf->diag);
		pf->diag = NULL;
		pf->nsocks = 0;
	}
	return listeners_from_files(pf);
}

int procfs_listeners(struct procfs *pf, const struct procfs_sock **socks, size_t *n)
{
	int err = listeners_read(pf);

	if (err && !pf->truncated)
		return err;
	if (pf->truncated && !pf->warned_truncated) {
		pf->warned_truncated = true;
		log_warn("procfs: more than %d listening sockets, ignoring the rest",
			 PROCFS_SOCKS_MAX);
	}
	sort(pf->socks, pf->nsocks, sizeof(*pf->socks), cmp_sock);
	pf->used_netlink = pf->diag != NULL;
	*socks = pf->socks;
	*n = pf->nsocks;
	return 0;
}

bool procfs_used_netlink(const struct procfs *pf)
{
	return pf->used_netlink;
}

/* ---- Processes -------------------------------------------------------------------- */

int procfs_pids(struct procfs *pf, const uint32_t **pids, size_t *n)
{
	struct dirent *de;
	unsigned long pid;
	char *end;
	DIR *dir;
	int err, fd = openat(pf->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		err = -errno;
		close(fd);
		return err;
	}
	pf->npids = 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtoul(de->d_name, &end, 10);
		if (*end || pid > PROCFS_PID_MAX)
			continue;
		if (pf->npids == pf->pids_cap) {
			pf->pids_cap = pf->pids_cap ? 2 * pf->pids_cap : 256;
			pf->pids = xreallocarray(pf->pids, pf->pids_cap, sizeof(*pf->pids));
		}
		pf->pids[pf->npids++] = (uint32_t)pid;
	}
	closedir(dir);
	sort(pf->pids, pf->npids, sizeof(*pf->pids), cmp_u32);
	*pids = pf->pids;
	*n = pf->npids;
	return 0;
}

int procfs_sockets(const struct procfs *pf, uint32_t pid, procfs_socket_fn *fn, void *arg)
{
	char path[32], link[64], *end;
	unsigned long long ino;
	struct dirent *de;
	ssize_t n;
	DIR *dir;
	int err, fd;

	snprintf(path, sizeof(path), "%u/fd", pid);
	fd = openat(pf->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((de = readdir(dir))) {
		n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		if (n < 0) /* ".", "..", or closed meanwhile */
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:[", 8))
			continue;
		ino = strtoull(link + 8, &end, 10);
		if (strcmp(end, "]"))
			continue;
		fn(ino, arg);
	}
	closedir(dir);
	return 0;
}

int procfs_comm(const struct procfs *pf, uint32_t pid, char comm[PROCFS_COMM_MAX])
{
	char path[32];
	ssize_t n;

	snprintf(path, sizeof(path), "%u/comm", pid);
	n = read_small(pf->proc_fd, path, comm, PROCFS_COMM_MAX);
	if (n < 0) {
		comm[0] = '\0';
		return (int)n;
	}
	if (n > 0 && comm[n - 1] == '\n')
		comm[n - 1] = '\0';
	return 0;
}

int procfs_ppid(const struct procfs *pf, uint32_t pid, uint32_t *ppid)
{
	char path[32], buf[4096]; /* PPid is on the 7th line, in the first 200 bytes */
	const char *at;
	ssize_t n;

	*ppid = 0;
	snprintf(path, sizeof(path), "%u/status", pid);
	n = read_small(pf->proc_fd, path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	at = strstr(buf, "\nPPid:");
	if (at)
		*ppid = (uint32_t)strtoul(at + 6, NULL, 10);
	return 0;
}

int procfs_cgroup(const struct procfs *pf, uint32_t pid, char **path)
{
	char rel[32], buf[8192], *line, *nl;
	ssize_t n;

	*path = NULL;
	snprintf(rel, sizeof(rel), "%u/cgroup", pid);
	n = read_small(pf->proc_fd, rel, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	for (line = buf; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!strncmp(line, "0::", 3) && line[3] == '/') {
			*path = xstrdup(line + 3);
			break;
		}
		if (!nl)
			break;
	}
	return 0;
}

int procfs_exe(const struct procfs *pf, uint32_t pid, char *name, size_t len)
{
	static const char deleted[] = " (deleted)";
	char path[32], link[PATH_MAX];
	const char *base;
	size_t k;
	ssize_t n;

	name[0] = '\0';
	snprintf(path, sizeof(path), "%u/exe", pid);
	n = readlinkat(pf->proc_fd, path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	/* an upgraded binary still running: keep its name */
	if ((size_t)n > sizeof(deleted) - 1 && !strcmp(link + n - (sizeof(deleted) - 1), deleted))
		link[n - (sizeof(deleted) - 1)] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	k = strnlen(base, len - 1); /* the name is cut there anyway */
	memcpy(name, base, k);
	name[k] = '\0';
	return 0;
}

/* ---- Life cycle ------------------------------------------------------------------------ */

struct procfs *procfs_new(const char *proc_root, unsigned flags, char *err, size_t errlen)
{
	struct procfs *pf;
	int fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		if (err && errlen)
			snprintf(err, errlen, "cannot open '%s': %s", proc_root, strerror(errno));
		return NULL;
	}
	pf = xcalloc(1, sizeof(*pf));
	pf->proc_fd = fd;
	/* /proc/net/tcp shows the reader's network namespace, netlink its creator's: ours both */
	if (!strcmp(proc_root, "/proc") && !(flags & PROCFS_NO_NETLINK))
		pf->diag = sockdiag_new();
	return pf;
}

void procfs_free(struct procfs *pf)
{
	if (!pf)
		return;
	sockdiag_free(pf->diag);
	free(pf->socks);
	free(pf->pids);
	close(pf->proc_fd);
	free(pf);
}
