/*
 * What discovery knows of the processes and the listening TCP sockets, kept
 * current from /proc (agent/procfs.h) as cheaply as the cost model in
 * proctable.c says: each refresh reads the listening sockets and the pids,
 * and scans (reads the fds of) only the processes that may have changed.
 * Other facts (comm, cgroup, exe, parent) are read when first asked for
 * after a scan, and kept until the next scan of that process.
 *
 * Threads: a struct proctable belongs to the thread that created it.
 */
#ifndef PRP_AGENT_PROCTABLE_H
#define PRP_AGENT_PROCTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/procfs.h"
#include "agent/services.h"
#include "common/compiler.h"

/* Scans of a new process, one per refresh, before it counts as settled. */
#define PROCTABLE_YOUNG_REFRESHES 3
/* A full scan at least this often: at 1 s per refresh, once a minute. */
#define PROCTABLE_FULL_SCAN_REFRESHES 60
/* Words of a port bitmap (one bit per port): uint64_t ports[PROCTABLE_PORT_WORDS]. */
#define PROCTABLE_PORT_WORDS (65536 / 64)

/* What a scan reads besides the fds, for selectors that need it. */
enum proctable_reads {
	PROCTABLE_READ_COMM = 1 << 0,
	PROCTABLE_READ_CGROUP = 1 << 1,
};

/* What we know of one process; reset by each scan of it. Read-only outside proctable.c. */
struct proctable_proc {
	uint32_t pid;
	uint32_t ppid;		    /* read by proctable_ppid() */
	uint32_t age;		    /* refreshes since first seen, saturating */
	unsigned have;		    /* the facts read since the last scan */
	bool gone;		    /* vanished while we read it: ignore it */
	char comm[PROCFS_COMM_MAX]; /* read by proctable_comm() */
	char exe[SERVICE_NAME_MAX]; /* read by proctable_exe() */
	char *cgroup;		    /* read by proctable_cgroup(); heap */
	uint64_t *inos;		    /* the listening sockets it holds, sorted; heap */
	size_t ninos;
};

/* Read-only outside proctable.c. */
struct proctable {
	struct procfs *pf;
	unsigned reads;		   /* enum proctable_reads */
	struct procfs_sock *socks; /* the listening sockets, sorted by inode */
	size_t nsocks, socks_cap;
	struct proctable_proc *procs; /* every process, sorted by pid */
	size_t nprocs;
	uint64_t refreshes;  /* done */
	uint32_t since_full; /* refreshes since the last full scan */
	bool warned_access;  /* that other processes' fds cannot be read */
};

/*
 * A table of the processes of @proc_root (borrowed for the call; "/proc",
 * or a fake tree in tests), empty until the first proctable_refresh(). Scans
 * read what @reads (enum proctable_reads) asks for. Returns the table (the
 * caller owns it: proctable_free()), or NULL with a message in @err when
 * @proc_root cannot be opened.
 */
struct proctable *proctable_new(const char *proc_root, unsigned reads, char *err, size_t errlen);

/*
 * Reads the listening sockets and the pids, and scans the processes that
 * may have changed: every process when a listening socket appeared, on the
 * first refresh and every PROCTABLE_FULL_SCAN_REFRESHES; else only those
 * younger than PROCTABLE_YOUNG_REFRESHES. Returns 0, or the negative errno
 * of procfs_listeners() or procfs_pids(); the table is then unchanged.
 */
PRP_MUST_CHECK int proctable_refresh(struct proctable *t);

/* The listening socket with inode @ino, or NULL. Borrowed until the next refresh. */
const struct procfs_sock *proctable_sock(const struct proctable *t, uint64_t ino);

/* The process @pid, or NULL. Borrowed until the next refresh. */
struct proctable_proc *proctable_find(struct proctable *t, uint32_t pid);

/*
 * The facts of @p (a process of @t), read on first use after each scan. A
 * failed read gives "" (NULL for the cgroup, 0 for the parent) and sets
 * p->gone when the process has vanished. The strings are borrowed from @p.
 */
const char *proctable_comm(struct proctable *t, struct proctable_proc *p);
const char *proctable_exe(struct proctable *t, struct proctable_proc *p);
const char *proctable_cgroup(struct proctable *t, struct proctable_proc *p);
uint32_t proctable_ppid(struct proctable *t, struct proctable_proc *p);

/*
 * Adds the ports of the listening sockets @p holds to @s, sorted and
 * without duplicates. Ports in @skip (a bitmap of PROCTABLE_PORT_WORDS, may
 * be NULL) are left out; with @taken (likewise, may be NULL) so are the
 * ports in it, and the ports added are put in it. Returns false when @s had
 * no room for some port (SERVICE_PORTS_MAX), true otherwise.
 */
bool proctable_add_ports(const struct proctable *t, const struct proctable_proc *p,
			 struct service *s, const uint64_t *skip, uint64_t *taken);

/* Whether @port is in the bitmap @ports (PROCTABLE_PORT_WORDS words). */
static inline bool proctable_port_in(const uint64_t *ports, uint16_t port)
{
	return ports[port / 64] & (1ull << (port % 64));
}

/* Frees @t; NULL does nothing. */
void proctable_free(struct proctable *t);

#endif
