/*
 * Service discovery from /proc (RECIPES.md §6): listening sockets come from
 * /proc/net/tcp{,6} (state 0A, the inode in column 10), their holders from
 * the /proc/PID/fd/N links that read "socket:[INODE]".
 *
 * Automatic discovery: the processes holding listening sockets (the
 * "holders"), except pid 1 and the agent, are grouped so that the holders
 * of one socket end up in one service: a socket shared after fork (nginx's
 * master and workers) is one service, whose owner is the holder whose parent
 * is not in the group. pid 1 is left out because on a host it holds sockets
 * only to pass them on (systemd's socket activation), never to serve them.
 * The service is named after the owner's executable (its comm when the exe
 * link cannot be read); groups of the same name that share a port (the
 * SO_REUSEPORT instances of one program) are one service, and different
 * services of the same name are told apart by their lowest port:
 * "prp-demo-service-8001".
 *
 * Cost model. discovery_refresh() runs every second, so a quiet host must
 * cost almost nothing:
 *  - every refresh reads /proc/net/tcp and /proc/net/tcp6 and lists /proc,
 *    with no per-process system call. The socket files dominate: the kernel
 *    walks its whole established-connection hash table to print them (and
 *    again for the read that finds the end), about 1 ms per file on a 24 GiB
 *    machine with 262144 buckets and almost no sockets, plus about 150 bytes
 *    per socket, connected ones included. netlink sock_diag asked for LISTEN
 *    alone walks only the listening table: 0.05 ms for both families there.
 *  - a process is scanned (one readlink per open fd, plus comm and cgroup
 *    when selectors need them) in each of its first DISCOVERY_YOUNG_REFRESHES
 *    refreshes: a young process is still settling (a wrapper exec()s the
 *    server, a daemon forks and closes inherited fds, systemd moves it into
 *    its cgroup).
 *  - when a listening socket appears, every process is scanned: any of them
 *    may hold it. This is the expensive step, one readlink per open fd on the
 *    host. When sockets only disappear, their inodes are dropped from memory
 *    without a system call.
 *  - every DISCOVERY_FULL_SCAN_REFRESHES refreshes everything is scanned too.
 *    That bounds how long we miss what the rules above cannot see: an old
 *    process that exec()s or changes its comm or cgroup, that receives a
 *    listening socket over a unix socket or closes an inherited one, and a
 *    pid reused between two refreshes.
 *  - the exe link and PPid are read only for processes that hold listening
 *    sockets, once per scan.
 *
 * Accepted approximations: /proc changes while we read it, so a refresh is
 * not an atomic snapshot; a process that vanishes mid-scan (ENOENT, ESRCH)
 * is dropped, and anything else missed is caught by a later refresh as
 * above. /proc/net/tcp shows the agent's network namespace only: services in
 * other namespaces are found by comm, cgroup and pid selectors, without
 * ports. Reading other users' /proc/PID/fd needs root or CAP_SYS_PTRACE.
 */
#include "agent/discovery.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/strparse.h"

/* Scans of a new process, one per refresh, before it counts as settled. */
#define DISCOVERY_YOUNG_REFRESHES 3
/* A full scan at least this often: at 1 s per refresh, once a minute. */
#define DISCOVERY_FULL_SCAN_REFRESHES 60
/* /proc/PID/comm holds at most TASK_COMM_LEN - 1 = 15 bytes. */
#define COMM_MAX 16
/* The kernel's PID_MAX_LIMIT on 64-bit: no pid is larger. */
#define DISCOVERY_PID_MAX 4194304
/* Pids written in one log line; the rest are counted. */
#define LOG_PIDS_MAX 16

enum selector_kind { SEL_PORT, SEL_COMM, SEL_CGROUP, SEL_PID };

static const char *const kind_names[] = {
	[SEL_PORT] = "port", [SEL_COMM] = "comm", [SEL_CGROUP] = "cgroup", [SEL_PID] = "pid"
};

struct selector {
	char name[SERVICE_NAME_MAX];
	enum selector_kind kind;
	uint32_t num; /* the port or the pid */
	char *text;   /* the comm or the cgroup path (no trailing '/'), heap; else NULL */
};

/* A listening socket. */
struct lsock {
	uint64_t ino;
	uint16_t port;
};

enum proc_have {
	HAVE_COMM = 1 << 0,
	HAVE_EXE = 1 << 1,
	HAVE_PPID = 1 << 2,
	HAVE_CGROUP = 1 << 3,
};

/* What we know of one process; reset by each scan of it. */
struct proc {
	uint32_t pid;
	uint32_t ppid;
	uint32_t age;  /* refreshes since first seen, saturating */
	unsigned have; /* enum proc_have: the attributes read since the last scan */
	bool gone;     /* vanished while we read it */
	char comm[COMM_MAX];
	char exe[SERVICE_NAME_MAX]; /* basename of /proc/PID/exe, "" when unreadable */
	char *cgroup;		    /* the cgroup v2 path, heap; NULL when unknown */
	uint64_t *inos;		    /* the sockets of d->socks it holds, sorted, heap */
	size_t ninos;
};

/* The name an id belongs to; ids are the indexes of discovery.ids. */
struct id_slot {
	char name[SERVICE_NAME_MAX]; /* "" while free */
	uint64_t last_seen;	     /* the generation that last reported it */
};

enum discovery_warned {
	WARNED_SERVICES = 1 << 0,
	WARNED_PIDS = 1 << 1,
	WARNED_PORTS = 1 << 2,
	WARNED_ACCESS = 1 << 3,
};

struct discovery {
	int proc_fd; /* the proc root, which every path is relative to */
	struct selector *sels;
	size_t nsels;
	bool need_comm, need_cgroup;
	uint32_t self_pid;
	uint64_t excluded[65536 / 64]; /* ports automatic discovery ignores, a bitmap */

	struct lsock *socks; /* the listening sockets, sorted by inode */
	size_t nsocks, socks_cap;
	struct proc *procs; /* every process, sorted by pid */
	size_t nprocs;
	struct lsock *fresh; /* scratch: the sockets being read */
	size_t nfresh, fresh_cap;
	uint32_t *pids; /* scratch: the pids being listed */
	size_t npids, pids_cap;

	uint64_t generation; /* refreshes done */
	uint32_t since_full; /* refreshes since the last full scan */
	struct id_slot ids[SERVICES_MAX + 1];
	struct service_set *prev; /* what the last refresh returned */
	struct service_set *next; /* scratch: what this refresh builds */
	unsigned warned;	  /* enum discovery_warned */
};

/* ---- Small helpers --------------------------------------------------------- */

static PRP_PRINTF(4, 5) int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static bool vanished(int err)
{
	return err == -ENOENT || err == -ESRCH;
}

/* Logs a warning the first time only: bounds are hit again on every refresh. */
static PRP_PRINTF(3, 4) void warn_once(struct discovery *d, unsigned what, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (d->warned & what)
		return;
	d->warned |= what;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("discovery: %s", msg);
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_lsock(const void *a, const void *b)
{
	return cmp_u64(&((const struct lsock *)a)->ino, &((const struct lsock *)b)->ino);
}

/* qsort() and bsearch(), which may not be given NULL, even for no elements. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static void *find(const void *key, const void *base, size_t n, size_t size,
		  int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}

/* Adds @pid to @s, whose pids are added in increasing order; false when full. */
static bool service_add_pid(struct service *s, uint32_t pid)
{
	if (s->npids == SERVICE_PIDS_MAX)
		return false;
	s->pids[s->npids++] = pid;
	return true;
}

/* Inserts @port into the sorted ports of @s; false when full. */
static bool service_add_port(struct service *s, uint16_t port)
{
	size_t i = s->nports;

	for (size_t j = 0; j < s->nports; j++)
		if (s->ports[j] == port)
			return true;
	if (s->nports == SERVICE_PORTS_MAX)
		return false;
	while (i > 0 && s->ports[i - 1] > port) {
		s->ports[i] = s->ports[i - 1];
		i--;
	}
	s->ports[i] = port;
	s->nports++;
	return true;
}

/* ---- Selectors --------------------------------------------------------------- */

/* Parses the VALUE of @text, whose kind @out has, into @out. */
static int selector_value(const char *text, const char *value, struct selector *out, char *err,
			  size_t errlen)
{
	uint64_t num;

	switch (out->kind) {
	case SEL_PORT:
		if (strparse_u64(value, 1, 65535, &num))
			return set_err(err, errlen, -EINVAL,
				       "service '%.80s': bad port '%.20s' (want 1..65535)", text,
				       value);
		out->num = (uint32_t)num;
		break;
	case SEL_PID:
		if (strparse_u64(value, 1, DISCOVERY_PID_MAX, &num))
			return set_err(err, errlen, -EINVAL,
				       "service '%.80s': bad pid '%.20s' (want 1..%d)", text, value,
				       DISCOVERY_PID_MAX);
		out->num = (uint32_t)num;
		break;
	case SEL_COMM:
		if (!*value || strlen(value) >= COMM_MAX)
			return set_err(err, errlen, -EINVAL,
				       "service '%.80s': comm must be 1 to %d bytes, as in "
				       "/proc/PID/comm",
				       text, COMM_MAX - 1);
		out->text = xstrdup(value);
		break;
	case SEL_CGROUP:
		if (value[0] != '/' || strlen(value) >= PATH_MAX)
			return set_err(err, errlen, -EINVAL,
				       "service '%.80s': cgroup must be an absolute path such as "
				       "/system.slice/x.service",
				       text);
		out->text = xstrdup(value);
		/* "/a/b/" is "/a/b"; "/" stays, and matches every process */
		for (size_t n = strlen(out->text); n > 1 && out->text[n - 1] == '/'; n--)
			out->text[n - 1] = '\0';
		break;
	}
	return 0;
}

/* Parses "NAME=KIND:VALUE" into @out (which then owns its text: selector_release()). */
static int selector_parse(const char *text, struct selector *out, char *err, size_t errlen)
{
	const char *eq = strchr(text, '='), *colon;
	size_t namelen, kindlen;
	int k;

	memset(out, 0, sizeof(*out));
	if (!eq)
		return set_err(err, errlen, -EINVAL, "service '%.80s': expected NAME=KIND:VALUE",
			       text);
	namelen = (size_t)(eq - text);
	for (size_t i = 0; i < namelen; i++)
		if (!name_char(text[i]))
			namelen = 0; /* and the loop ends */
	if (!namelen || namelen >= SERVICE_NAME_MAX)
		return set_err(err, errlen, -EINVAL,
			       "service '%.80s': the name must be 1 to %d of A-Z a-z 0-9 . _ -",
			       text, SERVICE_NAME_MAX - 1);
	memcpy(out->name, text, namelen);
	colon = strchr(eq + 1, ':');
	kindlen = colon ? (size_t)(colon - eq - 1) : strlen(eq + 1);
	for (k = 0; k < (int)PRP_ARRAY_SIZE(kind_names); k++)
		if (colon && strlen(kind_names[k]) == kindlen &&
		    !strncmp(eq + 1, kind_names[k], kindlen))
			break;
	if (k == (int)PRP_ARRAY_SIZE(kind_names))
		return set_err(err, errlen, -EINVAL,
			       "service '%.80s': unknown selector kind '%.*s' (want port:N, "
			       "comm:NAME, cgroup:PATH or pid:N)",
			       text, (int)kindlen, eq + 1);
	out->kind = (enum selector_kind)k;
	return selector_value(text, colon + 1, out, err, errlen);
}

static void selector_release(struct selector *s)
{
	free(s->text);
	s->text = NULL;
}

/* Parses all of @texts into @out (@n entries), which then owns their text. */
static int selectors_parse(const char *const *texts, size_t n, struct selector *out, char *err,
			   size_t errlen)
{
	int ret = 0;
	size_t i;

	if (n > SERVICES_MAX)
		return set_err(err, errlen, -E2BIG, "%zu services, at most %d", n, SERVICES_MAX);
	for (i = 0; i < n && !ret; i++) {
		ret = selector_parse(texts[i], &out[i], err, errlen);
		for (size_t j = 0; !ret && j < i; j++)
			if (!strcmp(out[j].name, out[i].name))
				ret = set_err(err, errlen, -EINVAL,
					      "service '%.80s': duplicate name '%s'", texts[i],
					      out[i].name);
	}
	if (ret)
		while (i--)
			selector_release(&out[i]);
	return ret;
}

int discovery_check_selectors(const char *const *selectors, size_t n, char *err, size_t errlen)
{
	struct selector *sels = xcalloc(n ? n : 1, sizeof(*sels));
	int ret = selectors_parse(selectors, n, sels, err, errlen);

	for (size_t i = 0; !ret && i < n; i++)
		selector_release(&sels[i]);
	free(sels);
	return ret;
}

/* ---- Reading /proc ------------------------------------------------------------ */

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

/* One line of /proc/net/tcp{,6}: a listening socket goes into d->fresh. */
static void tcp_line(struct discovery *d, const char *line)
{
	char local[128], *end;
	const char *colon;
	unsigned int st;
	unsigned long long ino;
	unsigned long port;

	if (sscanf(line, "%*d: %127s %*s %x %*s %*s %*s %*u %*u %llu", local, &st, &ino) != 3)
		return; /* the header, or a line we do not understand */
	colon = strrchr(local, ':');
	if (st != 0x0A || !ino || !colon)
		return;
	port = strtoul(colon + 1, &end, 16);
	if (*end || port == 0 || port > 65535)
		return;
	if (d->nfresh == d->fresh_cap) {
		d->fresh_cap = d->fresh_cap ? 2 * d->fresh_cap : 64;
		d->fresh = xreallocarray(d->fresh, d->fresh_cap, sizeof(*d->fresh));
	}
	d->fresh[d->nfresh++] = (struct lsock){ .ino = ino, .port = (uint16_t)port };
}

/* Appends the listening sockets of @path to d->fresh, streaming: the file may be large. */
static int read_tcp(struct discovery *d, const char *path)
{
	char buf[16384], *line, *nl;
	size_t have = 0;
	ssize_t n;
	int fd = openat(d->proc_fd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (;;) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return (int)n;
		}
		have += (size_t)n;
		buf[have] = '\0';
		for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
			*nl = '\0';
			tcp_line(d, line);
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		buf[have] = '\0';
		if (n == 0) {
			if (have) /* a last line without its '\n' */
				tcp_line(d, buf);
			break;
		}
		if (have == sizeof(buf) - 1)
			have = 0; /* longer than any line of the kernel's: drop it */
	}
	close(fd);
	return 0;
}

/* Reads every listening socket into d->fresh, sorted by inode. */
static int read_sockets(struct discovery *d)
{
	int err;

	d->nfresh = 0;
	err = read_tcp(d, "net/tcp");
	if (err)
		return err;
	err = read_tcp(d, "net/tcp6");
	if (err && err != -ENOENT) /* no tcp6 when IPv6 is off */
		return err;
	sort(d->fresh, d->nfresh, sizeof(*d->fresh), cmp_lsock);
	return 0;
}

/* Lists the processes (the numeric entries of /proc) into d->pids, sorted. */
static int list_pids(struct discovery *d)
{
	struct dirent *de;
	unsigned long pid;
	char *end;
	DIR *dir;
	int fd = openat(d->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		int err = -errno;

		close(fd);
		return err;
	}
	d->npids = 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtoul(de->d_name, &end, 10);
		if (*end || pid > DISCOVERY_PID_MAX)
			continue;
		if (d->npids == d->pids_cap) {
			d->pids_cap = d->pids_cap ? 2 * d->pids_cap : 256;
			d->pids = xreallocarray(d->pids, d->pids_cap, sizeof(*d->pids));
		}
		d->pids[d->npids++] = (uint32_t)pid;
	}
	closedir(dir);
	sort(d->pids, d->npids, sizeof(*d->pids), cmp_u32);
	return 0;
}

static const struct lsock *sock_find(const struct discovery *d, uint64_t ino)
{
	struct lsock key = { .ino = ino };

	return find(&key, d->socks, d->nsocks, sizeof(*d->socks), cmp_lsock);
}

static bool port_excluded(const struct discovery *d, uint16_t port)
{
	return d->excluded[port / 64] & (1ull << (port % 64));
}

/* ---- One process -------------------------------------------------------------- */

static void proc_release(struct proc *p)
{
	free(p->cgroup);
	free(p->inos);
}

/* The process is gone when reading it failed with @err this way. */
static void proc_check_gone(struct proc *p, int err)
{
	if (vanished(err))
		p->gone = true;
}

static void proc_add_ino(struct proc *p, uint64_t ino)
{
	p->inos = xreallocarray(p->inos, p->ninos + 1, sizeof(*p->inos));
	p->inos[p->ninos++] = ino;
}

/* Finds the listening sockets @p holds: one readlink per open fd. */
static void proc_scan_fds(struct discovery *d, struct proc *p)
{
	char path[32], link[64], *end;
	unsigned long long ino;
	struct dirent *de;
	size_t k = 0;
	ssize_t n;
	DIR *dir;
	int fd;

	snprintf(path, sizeof(path), "%u/fd", p->pid);
	fd = openat(d->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		proc_check_gone(p, -errno);
		if (errno == EACCES || errno == EPERM)
			warn_once(d, WARNED_ACCESS,
				  "cannot read other processes' fds: run as root or with "
				  "CAP_SYS_PTRACE, or their ports stay unknown");
		return;
	}
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	while ((de = readdir(dir))) {
		n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		if (n < 0) /* ".", "..", or closed meanwhile */
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:[", 8))
			continue;
		ino = strtoull(link + 8, &end, 10);
		if (strcmp(end, "]") || !sock_find(d, ino))
			continue;
		proc_add_ino(p, ino);
	}
	closedir(dir);
	/* a dup()ed socket shows up under several fds */
	sort(p->inos, p->ninos, sizeof(*p->inos), cmp_u64);
	for (size_t i = 0; i < p->ninos; i++)
		if (!k || p->inos[i] != p->inos[k - 1])
			p->inos[k++] = p->inos[i];
	p->ninos = k;
}

static const char *proc_comm(struct discovery *d, struct proc *p)
{
	char path[32];
	ssize_t n;

	if (p->have & HAVE_COMM)
		return p->comm;
	p->have |= HAVE_COMM;
	snprintf(path, sizeof(path), "%u/comm", p->pid);
	n = read_small(d->proc_fd, path, p->comm, sizeof(p->comm));
	if (n < 0) {
		proc_check_gone(p, (int)n);
		p->comm[0] = '\0';
	} else if (n > 0 && p->comm[n - 1] == '\n') {
		p->comm[n - 1] = '\0';
	}
	return p->comm;
}

/* The parent's pid from /proc/PID/status; 0 when unknown. */
static uint32_t proc_ppid(struct discovery *d, struct proc *p)
{
	char path[32], buf[4096];
	const char *at;
	ssize_t n;

	if (p->have & HAVE_PPID)
		return p->ppid;
	p->have |= HAVE_PPID;
	p->ppid = 0;
	snprintf(path, sizeof(path), "%u/status", p->pid);
	n = read_small(d->proc_fd, path, buf, sizeof(buf));
	if (n < 0) {
		proc_check_gone(p, (int)n);
		return 0;
	}
	at = strstr(buf, "\nPPid:");
	if (at)
		p->ppid = (uint32_t)strtoul(at + 6, NULL, 10);
	return p->ppid;
}

/* The cgroup v2 path, the "0::" line of /proc/PID/cgroup; NULL when there is none. */
static const char *proc_cgroup(struct discovery *d, struct proc *p)
{
	char path[32], buf[8192], *line, *nl;
	ssize_t n;

	if (p->have & HAVE_CGROUP)
		return p->cgroup;
	p->have |= HAVE_CGROUP;
	free(p->cgroup);
	p->cgroup = NULL;
	snprintf(path, sizeof(path), "%u/cgroup", p->pid);
	n = read_small(d->proc_fd, path, buf, sizeof(buf));
	if (n < 0) {
		proc_check_gone(p, (int)n);
		return NULL;
	}
	for (line = buf; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!strncmp(line, "0::", 3) && line[3] == '/') {
			p->cgroup = xstrdup(line + 3);
			break;
		}
		if (!nl)
			break;
	}
	return p->cgroup;
}

/* The basename of the executable; "" for kernel threads and when we may not read it. */
static const char *proc_exe(struct discovery *d, struct proc *p)
{
	static const char deleted[] = " (deleted)";
	char path[32], link[PATH_MAX];
	const char *base;
	size_t len;
	ssize_t n;

	if (p->have & HAVE_EXE)
		return p->exe;
	p->have |= HAVE_EXE;
	p->exe[0] = '\0';
	snprintf(path, sizeof(path), "%u/exe", p->pid);
	n = readlinkat(d->proc_fd, path, link, sizeof(link) - 1);
	if (n < 0) {
		proc_check_gone(p, -errno);
		return p->exe;
	}
	link[n] = '\0';
	/* an upgraded binary still running: keep its name */
	if ((size_t)n > sizeof(deleted) - 1 && !strcmp(link + n - (sizeof(deleted) - 1), deleted))
		link[n - (sizeof(deleted) - 1)] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	len = strnlen(base, sizeof(p->exe) - 1); /* the name is cut there anyway */
	memcpy(p->exe, base, len);
	p->exe[len] = '\0';
	return p->exe;
}

/* Forgets what we knew of @p and reads it again. */
static void proc_scan(struct discovery *d, struct proc *p)
{
	p->have = 0;
	p->ninos = 0;
	proc_scan_fds(d, p);
	if (d->need_comm)
		proc_comm(d, p);
	if (d->need_cgroup)
		proc_cgroup(d, p);
}

/* ---- Keeping the state current ---------------------------------------------- */

/* Moves d->fresh into d->socks. Returns whether a socket appeared. */
static bool socks_update(struct discovery *d)
{
	bool added = false, removed = false;
	size_t i = 0, j = 0, cap = d->socks_cap;
	struct lsock *old = d->socks;

	while (i < d->nsocks || j < d->nfresh) {
		if (j == d->nfresh || (i < d->nsocks && old[i].ino < d->fresh[j].ino)) {
			removed = true;
			i++;
		} else if (i == d->nsocks || d->fresh[j].ino < old[i].ino) {
			added = true;
			j++;
		} else {
			i++;
			j++;
		}
	}
	d->socks = d->fresh;
	d->nsocks = d->nfresh;
	d->socks_cap = d->fresh_cap;
	d->fresh = old;
	d->fresh_cap = cap;
	d->nfresh = 0;
	if (removed) {
		for (i = 0; i < d->nprocs; i++) {
			struct proc *p = &d->procs[i];
			size_t k = 0;

			for (j = 0; j < p->ninos; j++)
				if (sock_find(d, p->inos[j]))
					p->inos[k++] = p->inos[j];
			p->ninos = k;
		}
	}
	return added;
}

/* Makes d->procs follow d->pids, keeping what we know of the processes still there. */
static void procs_update(struct discovery *d)
{
	struct proc *next;
	size_t i = 0;

	if (d->npids == d->nprocs) {
		while (i < d->npids && d->procs[i].pid == d->pids[i] && !d->procs[i].gone)
			i++;
		if (i == d->npids)
			return; /* the usual case: nothing started or ended */
	}
	next = xcalloc(d->npids ? d->npids : 1, sizeof(*next));
	i = 0;
	for (size_t j = 0; j < d->npids; j++) {
		while (i < d->nprocs && d->procs[i].pid < d->pids[j])
			proc_release(&d->procs[i++]);
		next[j].pid = d->pids[j];
		if (i < d->nprocs && d->procs[i].pid == d->pids[j]) {
			/* a pid that vanished and is listed again is a new process */
			if (d->procs[i].gone)
				proc_release(&d->procs[i]);
			else
				next[j] = d->procs[i];
			i++;
		}
	}
	while (i < d->nprocs)
		proc_release(&d->procs[i++]);
	free(d->procs);
	d->procs = next;
	d->nprocs = d->npids;
}

static struct proc *proc_find(struct discovery *d, uint32_t pid)
{
	return find(&pid, d->procs, d->nprocs, sizeof(*d->procs), cmp_u32);
}

/* Adds the listening ports of @p to @s; @taken (may be NULL) holds ports given out already. */
static void add_ports(struct discovery *d, struct service *s, const struct proc *p, bool exclude,
		      uint64_t *taken)
{
	for (size_t i = 0; i < p->ninos; i++) {
		const struct lsock *l = sock_find(d, p->inos[i]);

		if (!l || (exclude && port_excluded(d, l->port)))
			continue;
		if (taken && (taken[l->port / 64] & (1ull << (l->port % 64))))
			continue;
		if (taken)
			taken[l->port / 64] |= 1ull << (l->port % 64);
		if (!service_add_port(s, l->port))
			warn_once(d, WARNED_PORTS,
				  "service %s listens on more than %d ports, ignoring the rest",
				  s->name, SERVICE_PORTS_MAX);
	}
}

static void add_pid(struct discovery *d, struct service *s, uint32_t pid)
{
	if (!service_add_pid(s, pid))
		warn_once(d, WARNED_PIDS,
			  "service %s has more than %d processes, ignoring the rest", s->name,
			  SERVICE_PIDS_MAX);
}

/* ---- Services from selectors ---------------------------------------------------- */

static bool cgroup_under(const char *path, const char *top)
{
	size_t n = strlen(top);

	if (!path)
		return false;
	if (!strcmp(top, "/"))
		return true;
	return !strncmp(path, top, n) && (path[n] == '\0' || path[n] == '/');
}

static bool selector_matches(struct discovery *d, const struct selector *sel, struct proc *p)
{
	switch (sel->kind) {
	case SEL_PORT:
		for (size_t i = 0; i < p->ninos; i++) {
			const struct lsock *l = sock_find(d, p->inos[i]);

			if (l && l->port == sel->num)
				return true;
		}
		return false;
	case SEL_COMM:
		return !strcmp(proc_comm(d, p), sel->text);
	case SEL_CGROUP:
		return cgroup_under(proc_cgroup(d, p), sel->text);
	case SEL_PID:
		return p->pid == sel->num;
	}
	return false;
}

/* One service per selector, in order: a process and a port go to the first that matches. */
static void build_selected(struct discovery *d, struct service_set *set)
{
	bool *claimed = xcalloc(d->nprocs + 1, sizeof(*claimed));
	uint64_t taken[65536 / 64] = { 0 };

	for (size_t i = 0; i < d->nsels; i++) {
		const struct selector *sel = &d->sels[i];
		struct service *s = &set->items[i];

		memset(s, 0, sizeof(*s));
		s->id = (uint16_t)(i + 1);
		memcpy(s->name, sel->name, sizeof(s->name));
		for (size_t j = 0; j < d->nprocs; j++) {
			struct proc *p = &d->procs[j];

			if (claimed[j] || p->pid == d->self_pid || p->gone)
				continue;
			if (sel->kind == SEL_PID && p->pid != sel->num)
				continue; /* the cheap test first: no file to read */
			if (!selector_matches(d, sel, p) || p->gone)
				continue;
			claimed[j] = true;
			add_pid(d, s, p->pid);
			add_ports(d, s, p, false, taken);
		}
	}
	set->n = d->nsels;
	free(claimed);
}

/* ---- Automatic services ------------------------------------------------------------ */

/* The holders of a set of sockets, becoming a service. */
struct group {
	int32_t slot;	/* its index in the service set, -1 when left out */
	uint32_t first; /* the lowest pid */
	uint32_t owner; /* the member whose parent is not a member (the lowest such pid) */
	uint16_t low_port;
	char name[SERVICE_NAME_MAX];
};

/* A listening port of a group, to find the groups of one name that share a port. */
struct group_port {
	uint16_t port;
	int32_t group;
};

static int32_t uf_find(int32_t *up, int32_t i)
{
	while (up[i] != i) {
		up[i] = up[up[i]]; /* path halving */
		i = up[i];
	}
	return i;
}

static void uf_union(int32_t *up, int32_t a, int32_t b)
{
	a = uf_find(up, a);
	b = uf_find(up, b);
	if (a != b)
		up[a > b ? a : b] = a < b ? a : b; /* the lower index stays the root */
}

/* Whether @p holds a listening socket automatic discovery counts. */
static bool is_holder(struct discovery *d, struct proc *p)
{
	bool holds = false;

	if (p->gone || p->pid == d->self_pid || p->pid == 1)
		return false;
	for (size_t i = 0; i < p->ninos && !holds; i++)
		holds = !port_excluded(d, sock_find(d, p->inos[i])->port);
	/* the parent rule needs the PPid: read it now, and drop a process gone meanwhile */
	return holds && (proc_ppid(d, p), !p->gone);
}

/* Copies @src into @out as a service name: bytes outside [A-Za-z0-9._-] become '_'. */
static void name_from(char out[SERVICE_NAME_MAX], const char *src)
{
	size_t i;

	for (i = 0; src[i] && i < SERVICE_NAME_MAX - 1; i++)
		out[i] = name_char(src[i]) ? src[i] : '_';
	out[i] = '\0';
}

/*
 * Unites the holders of each socket. On return @of[i] is the proc index of
 * the union-find root of holder i, or -1 for a process that is not a holder.
 */
static void group_holders(struct discovery *d, int32_t *of)
{
	int32_t *first = xmalloc((d->nsocks + 1) * sizeof(*first));

	for (size_t s = 0; s < d->nsocks; s++)
		first[s] = -1;
	for (size_t i = 0; i < d->nprocs; i++) {
		struct proc *p = &d->procs[i];

		of[i] = is_holder(d, p) ? (int32_t)i : -1;
		if (of[i] < 0)
			continue;
		for (size_t k = 0; k < p->ninos; k++) {
			/* never NULL: inos only name sockets of d->socks */
			const struct lsock *l = sock_find(d, p->inos[k]);
			size_t s = (size_t)(l - d->socks);

			if (port_excluded(d, l->port))
				continue;
			if (first[s] < 0)
				first[s] = (int32_t)i;
			else
				uf_union(of, (int32_t)i, first[s]);
		}
	}
	for (size_t i = 0; i < d->nprocs; i++)
		if (of[i] >= 0)
			of[i] = uf_find(of, (int32_t)i);
	free(first);
}

/*
 * Makes one group per set of united holders (@of from group_holders()) and
 * returns them (caller frees), their number in @n; on return @of[i] is
 * holder i's group index instead of its root.
 */
static struct group *groups_make(struct discovery *d, int32_t *of, size_t *n)
{
	int32_t *index = xmalloc((d->nprocs + 1) * sizeof(*index));
	struct group *g = xmalloc((d->nprocs + 1) * sizeof(*g));

	*n = 0;
	for (size_t i = 0; i < d->nprocs; i++)
		index[i] = -1;
	for (size_t i = 0; i < d->nprocs; i++) { /* in pid order: the first owner is the lowest */
		struct proc *p = &d->procs[i], *parent;
		struct group *cur;

		if (of[i] < 0)
			continue;
		if (index[of[i]] < 0) {
			index[of[i]] = (int32_t)*n;
			g[*n] = (struct group){ .slot = -1,
						.first = p->pid,
						.low_port = UINT16_MAX };
			++*n;
		}
		cur = &g[index[of[i]]];
		for (size_t k = 0; k < p->ninos; k++) {
			const struct lsock *l = sock_find(d, p->inos[k]);

			if (!port_excluded(d, l->port) && l->port < cur->low_port)
				cur->low_port = l->port;
		}
		/* the parent rule: the owner is the member whose parent is not a member */
		parent = proc_find(d, proc_ppid(d, p));
		if (!cur->owner && !(parent && of[parent - d->procs] == of[i]))
			cur->owner = p->pid;
	}
	for (size_t i = 0; i < d->nprocs; i++)
		if (of[i] >= 0)
			of[i] = index[of[i]];
	for (size_t k = 0; k < *n; k++) {
		struct proc *owner;

		if (!g[k].owner)
			g[k].owner = g[k].first;
		owner = proc_find(d, g[k].owner);
		name_from(g[k].name, proc_exe(d, owner));
		if (!g[k].name[0])
			name_from(g[k].name, proc_comm(d, owner));
		if (!g[k].name[0])
			snprintf(g[k].name, sizeof(g[k].name), "pid-%u", g[k].owner);
	}
	free(index);
	return g;
}

static int cmp_group_port(const void *a, const void *b)
{
	const struct group_port *x = a, *y = b;

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return (x->group > y->group) - (x->group < y->group);
}

/*
 * Merges the groups of one name that listen on a common port (the
 * SO_REUSEPORT instances of one program). Returns the union-find array over
 * the groups (caller frees); each root then has the lowest port and owner of
 * its merged groups.
 */
static int32_t *groups_merge(struct discovery *d, const int32_t *of, struct group *g, size_t n)
{
	int32_t *up = xmalloc((n + 1) * sizeof(*up));
	struct group_port *gp = NULL;
	size_t np = 0, cap = 0;

	for (size_t k = 0; k < n; k++)
		up[k] = (int32_t)k;
	for (size_t i = 0; i < d->nprocs; i++) {
		for (size_t k = 0; of[i] >= 0 && k < d->procs[i].ninos; k++) {
			const struct lsock *l = sock_find(d, d->procs[i].inos[k]);

			if (port_excluded(d, l->port))
				continue;
			if (np == cap) {
				cap = cap ? 2 * cap : 64;
				gp = xreallocarray(gp, cap, sizeof(*gp));
			}
			gp[np++] = (struct group_port){ .port = l->port, .group = of[i] };
		}
	}
	sort(gp, np, sizeof(*gp), cmp_group_port);
	for (size_t i = 1; i < np; i++)
		if (gp[i].port == gp[i - 1].port && gp[i].group != gp[i - 1].group &&
		    !strcmp(g[gp[i].group].name, g[gp[i - 1].group].name))
			uf_union(up, gp[i - 1].group, gp[i].group);
	free(gp);
	for (size_t k = 0; k < n; k++) {
		struct group *r = &g[uf_find(up, (int32_t)k)];

		if (g[k].low_port < r->low_port)
			r->low_port = g[k].low_port;
		if (g[k].owner < r->owner)
			r->owner = g[k].owner;
	}
	return up;
}

static int cmp_group_order(const void *a, const void *b)
{
	const struct group *x = *(const struct group *const *)a,
			   *y = *(const struct group *const *)b;

	if (x->low_port != y->low_port)
		return x->low_port < y->low_port ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Appends @suffix to @name, cutting the name so that the suffix fits. */
static void name_suffix(char name[SERVICE_NAME_MAX], const char *suffix)
{
	size_t room = SERVICE_NAME_MAX - 1 - strlen(suffix);

	if (strlen(name) > room)
		name[room] = '\0';
	strcat(name, suffix);
}

static bool name_taken(struct group *const *order, size_t n, const char *name)
{
	for (size_t j = 0; j < n; j++)
		if (order[j]->slot >= 0 && !strcmp(order[j]->name, name))
			return true;
	return false;
}

/*
 * Makes the names of the @n groups of @order unique and gives each its slot.
 * Different services of one name get their lowest port as a suffix. A suffixed
 * name can still meet a program really named so ("x-80"): the owner's pid
 * then tells them apart, and in the unlikely case that does not either, the
 * later group is left out, since two services must never share a name.
 */
static size_t groups_name(struct group **order, size_t n)
{
	bool *clash = xcalloc(n + 1, sizeof(*clash));
	char suffix[24];
	size_t kept = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(order[i]->name, order[j]->name))
				clash[i] = clash[j] = true;
	for (size_t i = 0; i < n; i++) {
		if (!clash[i])
			continue;
		snprintf(suffix, sizeof(suffix), "-%u", order[i]->low_port);
		name_suffix(order[i]->name, suffix);
	}
	for (size_t i = 0; i < n; i++) {
		if (name_taken(order, i, order[i]->name)) {
			snprintf(suffix, sizeof(suffix), "-p%u", order[i]->owner);
			name_suffix(order[i]->name, suffix);
		}
		if (name_taken(order, i, order[i]->name)) {
			log_debug("discovery: two services named %s, ignoring pid %u",
				  order[i]->name, order[i]->owner);
			continue;
		}
		order[i]->slot = (int32_t)kept++;
	}
	free(clash);
	return kept;
}

/* ---- Ids ------------------------------------------------------------------------------ */

static uint16_t id_find(const struct discovery *d, const char *name)
{
	for (uint16_t id = 1; id <= SERVICES_MAX; id++)
		if (!strcmp(d->ids[id].name, name))
			return id;
	return 0;
}

/* A free id for @name, or else the id of the name unseen for longest. */
static uint16_t id_take(struct discovery *d, const char *name)
{
	uint16_t id, lru = 0;

	for (id = 1; id <= SERVICES_MAX && d->ids[id].name[0]; id++)
		if (d->ids[id].last_seen < d->generation &&
		    (!lru || d->ids[id].last_seen < d->ids[lru].last_seen))
			lru = id;
	if (id > SERVICES_MAX) {
		/* at most SERVICES_MAX services are seen at once: some id is unseen now */
		assert(lru);
		id = lru;
		log_info("discovery: id %u goes from service %s to %s, all %d ids were taken", id,
			 d->ids[id].name, name, SERVICES_MAX);
	}
	snprintf(d->ids[id].name, sizeof(d->ids[id].name), "%s", name);
	return id;
}

static int cmp_service_id(const void *a, const void *b)
{
	const struct service *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* Gives each service of @set its name's id, then orders @set by id. */
static void assign_ids(struct discovery *d, struct service_set *set)
{
	/* the names still here first, so that a new one cannot take their ids */
	for (size_t i = 0; i < set->n; i++) {
		set->items[i].id = id_find(d, set->items[i].name);
		if (set->items[i].id)
			d->ids[set->items[i].id].last_seen = d->generation;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (!set->items[i].id)
			set->items[i].id = id_take(d, set->items[i].name);
		d->ids[set->items[i].id].last_seen = d->generation;
	}
	sort(set->items, set->n, sizeof(*set->items), cmp_service_id);
}

/* One service per group of holders, the SERVICES_MAX with the lowest ports. */
static void build_auto(struct discovery *d, struct service_set *set)
{
	int32_t *of = xmalloc((d->nprocs + 1) * sizeof(*of)), *up;
	struct group *g, **order;
	size_t n, nroots = 0, kept;

	group_holders(d, of);
	g = groups_make(d, of, &n);
	up = groups_merge(d, of, g, n);
	order = xmalloc((n + 1) * sizeof(*order));
	for (size_t k = 0; k < n; k++)
		if (uf_find(up, (int32_t)k) == (int32_t)k)
			order[nroots++] = &g[k];
	sort(order, nroots, sizeof(*order), cmp_group_order);
	if (nroots > SERVICES_MAX) {
		warn_once(d, WARNED_SERVICES,
			  "%zu services listen, watching the %d with the lowest ports", nroots,
			  SERVICES_MAX);
		nroots = SERVICES_MAX;
	}
	kept = groups_name(order, nroots);
	for (size_t k = 0; k < nroots; k++) {
		struct service *s;

		if (order[k]->slot < 0)
			continue;
		s = &set->items[order[k]->slot];
		memset(s, 0, sizeof(*s));
		memcpy(s->name, order[k]->name, sizeof(s->name));
	}
	for (size_t i = 0; i < d->nprocs; i++) { /* in pid order: the pids come sorted */
		const struct group *r = of[i] < 0 ? NULL : &g[uf_find(up, of[i])];

		if (!r || r->slot < 0)
			continue;
		add_pid(d, &set->items[r->slot], d->procs[i].pid);
		add_ports(d, &set->items[r->slot], &d->procs[i], true, NULL);
	}
	set->n = kept;
	assign_ids(d, set);
	free(order);
	free(up);
	free(g);
	free(of);
}

/* ---- Reporting ---------------------------------------------------------------------- */

/* "pids=1,2 ports=8001" for the log, at most LOG_PIDS_MAX pids. */
static void describe(const struct service *s, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "pids=");

	for (size_t i = 0; i < s->npids && i < LOG_PIDS_MAX && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%u", i ? "," : "", s->pids[i]);
	if (s->npids > LOG_PIDS_MAX && n < len)
		n += (size_t)snprintf(out + n, len - n, ",+%zu", s->npids - LOG_PIDS_MAX);
	if (n < len)
		n += (size_t)snprintf(out + n, len - n, " ports=%s", s->nports ? "" : "none");
	for (size_t i = 0; i < s->nports && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%u", i ? "," : "", s->ports[i]);
}

/* Logs what happened to one service between two refreshes (@was or @now may be NULL). */
static void report_one(const struct service *was, const struct service *now)
{
	bool had = was && was->npids, has = now && now->npids;
	char text[512];

	if (has)
		describe(now, text, sizeof(text));
	if (has && !had)
		log_info("discovery: service %s found %s id=%u", now->name, text, now->id);
	else if (has && !service_equal(was, now))
		log_info("discovery: service %s changed %s id=%u", now->name, text, now->id);
	else if (had && !has)
		log_info("discovery: service %s gone id=%u", was->name, was->id);
}

/* Logs the differences between d->prev and @now, both ordered by id; returns whether any. */
static bool report(const struct discovery *d, const struct service_set *now)
{
	const struct service_set *was = d->prev;
	bool changed = now->n != was->n;
	size_t i = 0, j = 0;

	while (i < now->n || j < was->n) {
		const struct service *a = i < now->n ? &now->items[i] : NULL;
		const struct service *b = j < was->n ? &was->items[j] : NULL;

		if (a && b && a->id == b->id && !strcmp(a->name, b->name)) {
			changed |= !service_equal(a, b);
			report_one(b, a);
			i++;
			j++;
		} else if (a && (!b || a->id <= b->id)) {
			changed = true; /* new, or an id given to another name */
			report_one(NULL, a);
			i++;
		} else {
			changed = true;
			report_one(b, NULL);
			j++;
		}
	}
	return changed;
}

/* ---- API -------------------------------------------------------------------------------- */

struct discovery *discovery_new(const char *proc_root, const char *const *selectors,
				size_t nselectors, char *err, size_t errlen)
{
	struct discovery *d = xcalloc(1, sizeof(*d));

	d->proc_fd = -1;
	d->sels = xcalloc(nselectors + 1, sizeof(*d->sels));
	if (selectors_parse(selectors, nselectors, d->sels, err, errlen))
		goto out_free;
	d->nsels = nselectors;
	d->proc_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->proc_fd < 0) {
		set_err(err, errlen, -errno, "cannot open '%s': %s", proc_root, strerror(errno));
		goto out_free;
	}
	for (size_t i = 0; i < d->nsels; i++) {
		d->need_comm |= d->sels[i].kind == SEL_COMM;
		d->need_cgroup |= d->sels[i].kind == SEL_CGROUP;
		/* selector ids are fixed: never given to another name */
		memcpy(d->ids[i + 1].name, d->sels[i].name, SERVICE_NAME_MAX);
		d->ids[i + 1].last_seen = UINT64_MAX;
	}
	d->self_pid = (uint32_t)getpid();
	d->prev = xcalloc(1, sizeof(*d->prev));
	d->next = xcalloc(1, sizeof(*d->next));
	if (d->nsels)
		log_info("discovery: watching %zu services named by selectors", d->nsels);
	else
		log_info("discovery: automatic, from listening TCP sockets");
	return d;

out_free:
	discovery_free(d);
	return NULL;
}

void discovery_exclude_port(struct discovery *d, uint16_t port)
{
	d->excluded[port / 64] |= 1ull << (port % 64);
}

int discovery_refresh(struct discovery *d, struct service_set *out, bool *changed)
{
	struct service_set *tmp;
	bool full, diff;
	int err;

	err = read_sockets(d);
	if (!err)
		err = list_pids(d);
	if (err)
		return err;
	full = socks_update(d) || !d->generation ||
	       ++d->since_full >= DISCOVERY_FULL_SCAN_REFRESHES;
	if (full)
		d->since_full = 0;
	procs_update(d);
	for (size_t i = 0; i < d->nprocs; i++) {
		struct proc *p = &d->procs[i];

		if (full || p->age < DISCOVERY_YOUNG_REFRESHES)
			proc_scan(d, p);
		if (p->age < UINT32_MAX)
			p->age++;
	}
	d->generation++;
	if (d->nsels)
		build_selected(d, d->next);
	else
		build_auto(d, d->next);
	diff = report(d, d->next);
	if (changed)
		*changed = diff;
	out->n = d->next->n;
	memcpy(out->items, d->next->items, out->n * sizeof(out->items[0]));
	tmp = d->prev;
	d->prev = d->next;
	d->next = tmp;
	return 0;
}

void discovery_free(struct discovery *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nsels; i++)
		selector_release(&d->sels[i]);
	free(d->sels);
	for (size_t i = 0; i < d->nprocs; i++)
		proc_release(&d->procs[i]);
	free(d->procs);
	free(d->socks);
	free(d->fresh);
	free(d->pids);
	free(d->prev);
	free(d->next);
	if (d->proc_fd >= 0)
		close(d->proc_fd);
	free(d);
}
