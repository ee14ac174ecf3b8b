/*
 * The process table of discovery, kept current cheaply (see proctable.h).
 *
 * Cost model. discovery refreshes every second, so a quiet host must cost
 * almost nothing:
 *  - every refresh reads the listening sockets and lists /proc, with no
 *    per-process system call. On the real /proc the sockets come from
 *    netlink sock_diag, which walks only the kernel's listening table; the
 *    /proc/net/tcp{,6} files cost some 60 times more (procfs.c says why).
 *  - a process is scanned (one readlink per open fd, plus comm and cgroup
 *    when selectors need them) in each of its first PROCTABLE_YOUNG_REFRESHES
 *    refreshes: a young process is still settling (a wrapper exec()s the
 *    server, a daemon forks and closes inherited fds, systemd moves it into
 *    its cgroup).
 *  - when a listening socket appears, every process is scanned: any of them
 *    may hold it. This is the expensive step, one readlink per open fd on the
 *    host. When sockets only disappear, their inodes are dropped from memory
 *    without a system call.
 *  - every PROCTABLE_FULL_SCAN_REFRESHES refreshes everything is scanned too.
 *    That bounds how long we miss what the rules above cannot see: an old
 *    process that exec()s or changes its comm or cgroup, that receives a
 *    listening socket over a unix socket or closes an inherited one, and a
 *    pid reused between two refreshes.
 *  - the exe link and PPid are read only when asked for, which automatic
 *    discovery does only for processes that hold listening sockets, once per
 *    scan.
 *
 * Accepted approximations: /proc changes while we read it, so a refresh is
 * not an atomic snapshot; a process that vanishes mid-scan (ENOENT, ESRCH)
 * is marked gone and dropped at the next refresh, and anything else missed
 * is caught by a later refresh as above. Reading other users' /proc/PID/fd
 * needs root or CAP_SYS_PTRACE: without, their ports stay unknown (one
 * warning).
 */
#include "agent/proctable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

/* The facts of a process read since its last scan (proctable_proc.have). */
enum proctable_have {
	HAVE_COMM = 1 << 0,
	HAVE_EXE = 1 << 1,
	HAVE_PPID = 1 << 2,
	HAVE_CGROUP = 1 << 3,
};

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

static int cmp_sock(const void *a, const void *b)
{
	return cmp_u64(&((const struct procfs_sock *)a)->ino,
		       &((const struct procfs_sock *)b)->ino);
}

/* bsearch(), which may not be given NULL, even for no elements. */
static void *find(const void *key, const void *base, size_t n, size_t size,
		  int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}

const struct procfs_sock *proctable_sock(const struct proctable *t, uint64_t ino)
{
	struct procfs_sock key = { .ino = ino };

	return find(&key, t->socks, t->nsocks, sizeof(*t->socks), cmp_sock);
}

struct proctable_proc *proctable_find(struct proctable *t, uint32_t pid)
{
	return find(&pid, t->procs, t->nprocs, sizeof(*t->procs), cmp_u32);
}

/* ---- One process ------------------------------------------------------------------ */

static void proc_release(struct proctable_proc *p)
{
	free(p->cgroup);
	free(p->inos);
}

/* The process is gone when reading it failed with @err this way. */
static void proc_check_gone(struct proctable_proc *p, int err)
{
	if (err == -ENOENT || err == -ESRCH)
		p->gone = true;
}

/* What procfs_sockets() fills: the listening sockets of one process. */
struct fd_scan {
	const struct proctable *t;
	struct proctable_proc *p;
};

static void on_socket(uint64_t ino, void *arg)
{
	struct fd_scan *scan = arg;
	struct proctable_proc *p = scan->p;

	if (!proctable_sock(scan->t, ino))
		return;
	p->inos = xreallocarray(p->inos, p->ninos + 1, sizeof(*p->inos));
	p->inos[p->ninos++] = ino;
}

/* Finds the listening sockets @p holds: one readlink per open fd. */
static void proc_scan_fds(struct proctable *t, struct proctable_proc *p)
{
	struct fd_scan scan = { .t = t, .p = p };
	int err = procfs_sockets(t->pf, p->pid, on_socket, &scan);
	size_t k = 0;

	proc_check_gone(p, err);
	if ((err == -EACCES || err == -EPERM) && !t->warned_access) {
		t->warned_access = true;
		log_warn("discovery: cannot read other processes' fds: run as root or with "
			 "CAP_SYS_PTRACE, or their ports stay unknown");
	}
	/* a dup()ed socket shows up under several fds */
	if (p->ninos > 1)
		qsort(p->inos, p->ninos, sizeof(*p->inos), cmp_u64);
	for (size_t i = 0; i < p->ninos; i++)
		if (!k || p->inos[i] != p->inos[k - 1])
			p->inos[k++] = p->inos[i];
	p->ninos = k;
}

const char *proctable_comm(struct proctable *t, struct proctable_proc *p)
{
	if (!(p->have & HAVE_COMM)) {
		p->have |= HAVE_COMM;
		proc_check_gone(p, procfs_comm(t->pf, p->pid, p->comm));
	}
	return p->comm;
}

uint32_t proctable_ppid(struct proctable *t, struct proctable_proc *p)
{
	if (!(p->have & HAVE_PPID)) {
		p->have |= HAVE_PPID;
		proc_check_gone(p, procfs_ppid(t->pf, p->pid, &p->ppid));
	}
	return p->ppid;
}

const char *proctable_cgroup(struct proctable *t, struct proctable_proc *p)
{
	if (!(p->have & HAVE_CGROUP)) {
		p->have |= HAVE_CGROUP;
		free(p->cgroup);
		proc_check_gone(p, procfs_cgroup(t->pf, p->pid, &p->cgroup));
	}
	return p->cgroup;
}

const char *proctable_exe(struct proctable *t, struct proctable_proc *p)
{
	if (!(p->have & HAVE_EXE)) {
		p->have |= HAVE_EXE;
		proc_check_gone(p, procfs_exe(t->pf, p->pid, p->exe, sizeof(p->exe)));
	}
	return p->exe;
}

/* Forgets what we knew of @p and reads it again. */
static void proc_scan(struct proctable *t, struct proctable_proc *p)
{
	p->have = 0;
	p->ninos = 0;
	proc_scan_fds(t, p);
	if (t->reads & PROCTABLE_READ_COMM)
		proctable_comm(t, p);
	if (t->reads & PROCTABLE_READ_CGROUP)
		proctable_cgroup(t, p);
}

/* ---- Keeping the table current ------------------------------------------------------ */

/* Makes t->socks the @n listening sockets @fresh. Returns whether a socket appeared. */
static bool socks_update(struct proctable *t, const struct procfs_sock *fresh, size_t n)
{
	bool added = false, removed = false;
	size_t i = 0, j = 0;

	while (i < t->nsocks || j < n) {
		if (j == n || (i < t->nsocks && t->socks[i].ino < fresh[j].ino)) {
			removed = true;
			i++;
		} else if (i == t->nsocks || fresh[j].ino < t->socks[i].ino) {
			added = true;
			j++;
		} else {
			i++;
			j++;
		}
	}
	if (n > t->socks_cap) {
		t->socks_cap = n;
		t->socks = xreallocarray(t->socks, n, sizeof(*t->socks));
	}
	if (n)
		memcpy(t->socks, fresh, n * sizeof(*t->socks));
	t->nsocks = n;
	if (removed) {
		for (i = 0; i < t->nprocs; i++) {
			struct proctable_proc *p = &t->procs[i];
			size_t k = 0;

			for (j = 0; j < p->ninos; j++)
				if (proctable_sock(t, p->inos[j]))
					p->inos[k++] = p->inos[j];
			p->ninos = k;
		}
	}
	return added;
}

/* Makes t->procs follow the @n sorted @pids, keeping what we know of the processes still there. */
static void procs_update(struct proctable *t, const uint32_t *pids, size_t n)
{
	struct proctable_proc *next;
	size_t i = 0;

	if (n == t->nprocs) {
		while (i < n && t->procs[i].pid == pids[i] && !t->procs[i].gone)
			i++;
		if (i == n)
			return; /* the usual case: nothing started or ended */
	}
	next = xcalloc(n ? n : 1, sizeof(*next));
	i = 0;
	for (size_t j = 0; j < n; j++) {
		while (i < t->nprocs && t->procs[i].pid < pids[j])
			proc_release(&t->procs[i++]);
		next[j].pid = pids[j];
		if (i < t->nprocs && t->procs[i].pid == pids[j]) {
			/* a pid that vanished and is listed again is a new process */
			if (t->procs[i].gone)
				proc_release(&t->procs[i]);
			else
				next[j] = t->procs[i];
			i++;
		}
	}
	while (i < t->nprocs)
		proc_release(&t->procs[i++]);
	free(t->procs);
	t->procs = next;
	t->nprocs = n;
}

int proctable_refresh(struct proctable *t)
{
	const struct procfs_sock *socks;
	const uint32_t *pids;
	size_t nsocks, npids;
	bool full;
	int err;

	err = procfs_listeners(t->pf, &socks, &nsocks);
	if (!err)
		err = procfs_pids(t->pf, &pids, &npids);
	if (err)
		return err;
	full = socks_update(t, socks, nsocks) || !t->refreshes ||
	       ++t->since_full >= PROCTABLE_FULL_SCAN_REFRESHES;
	if (full)
		t->since_full = 0;
	procs_update(t, pids, npids);
	for (size_t i = 0; i < t->nprocs; i++) {
		struct proctable_proc *p = &t->procs[i];

		if (full || p->age < PROCTABLE_YOUNG_REFRESHES)
			proc_scan(t, p);
		if (p->age < UINT32_MAX)
			p->age++;
	}
	t->refreshes++;
	return 0;
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

bool proctable_add_ports(const struct proctable *t, const struct proctable_proc *p,
			 struct service *s, const uint64_t *skip, uint64_t *taken)
{
	bool fits = true;

	for (size_t i = 0; i < p->ninos; i++) {
		const struct procfs_sock *l = proctable_sock(t, p->inos[i]);

		if (!l || (skip && proctable_port_in(skip, l->port)))
			continue;
		if (taken && proctable_port_in(taken, l->port))
			continue;
		if (taken)
			taken[l->port / 64] |= 1ull << (l->port % 64);
		fits &= service_add_port(s, l->port);
	}
	return fits;
}

/* ---- Life cycle --------------------------------------------------------------------- */

struct proctable *proctable_new(const char *proc_root, unsigned reads, char *err, size_t errlen)
{
	struct procfs *pf = procfs_new(proc_root, 0, err, errlen);
	struct proctable *t;

	if (!pf)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->pf = pf;
	t->reads = reads;
	return t;
}

void proctable_free(struct proctable *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nprocs; i++)
		proc_release(&t->procs[i]);
	free(t->procs);
	free(t->socks);
	procfs_free(t->pf);
	free(t);
}
