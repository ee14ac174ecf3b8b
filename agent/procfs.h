/*
 * What the kernel says about processes and listening sockets, read from a
 * proc root: "/proc", or a fake tree in tests. The listening TCP sockets
 * (from netlink sock_diag on the real /proc, else /proc/net/tcp{,6}), the
 * pids, and per process its comm, parent, cgroup v2 path, executable and
 * the sockets among its open fds.
 *
 * Nothing here decides anything: agent/discovery.c makes services of it.
 * Per-process reads return -ENOENT or -ESRCH when the process is gone; any
 * read may race with the process changing, and the caller reads again later.
 *
 * Threads: a struct procfs belongs to the thread that created it.
 */
#ifndef PRP_AGENT_PROCFS_H
#define PRP_AGENT_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

/* /proc/PID/comm holds at most TASK_COMM_LEN - 1 = 15 bytes. */
#define PROCFS_COMM_MAX 16
/* The kernel's PID_MAX_LIMIT on 64-bit: no pid is larger. */
#define PROCFS_PID_MAX 4194304
/*
 * Listening sockets read at most; the rest are ignored, with one warning.
 * Every (address, port) a process listens on is one socket, and SO_REUSEPORT
 * servers open one per worker: far more than a host serves. 1 MiB of memory.
 */
#define PROCFS_SOCKS_MAX 65536

enum procfs_flags {
	/* read /proc/net/tcp{,6} even when the root is "/proc": for tests */
	PROCFS_NO_NETLINK = 1 << 0,
};

/* A listening TCP socket, IPv4 or IPv6. */
struct procfs_sock {
	uint64_t ino;  /* as in the /proc/PID/fd/N link "socket:[INO]"; never 0 */
	uint16_t port; /* the local port, host order; never 0 */
};

struct procfs;

/*
 * Opens @proc_root (borrowed for the call). When it is "/proc" and @flags
 * (enum procfs_flags) allow, listening sockets are asked of netlink. Returns
 * the struct (the caller owns it: procfs_free()), or NULL with a message in
 * @err naming @proc_root when it cannot be opened.
 */
struct procfs *procfs_new(const char *proc_root, unsigned flags, char *err, size_t errlen);

/*
 * Reads every listening TCP socket of the agent's network namespace into
 * *@socks (sorted by inode, at most PROCFS_SOCKS_MAX) and their number into
 * *@n. *@socks is borrowed: valid until the next call or procfs_free().
 *
 * With netlink (see procfs_new()), a failure of netlink is logged once, and
 * from then on this reads the files. Returns 0, or a negative errno when
 * <root>/net/tcp cannot be read (a missing net/tcp6 is no error: IPv6 may be
 * off); *@socks and *@n are then unchanged.
 */
PRP_MUST_CHECK int procfs_listeners(struct procfs *pf, const struct procfs_sock **socks, size_t *n);

/* Whether the last procfs_listeners() that succeeded asked netlink, not the files. */
bool procfs_used_netlink(const struct procfs *pf);

/*
 * Lists the processes (the numeric entries of the root; none is above
 * PROCFS_PID_MAX) into *@pids, sorted, and their number into *@n. *@pids is
 * borrowed: valid until the next call or procfs_free(). Returns 0 or a
 * negative errno.
 */
PRP_MUST_CHECK int procfs_pids(struct procfs *pf, const uint32_t **pids, size_t *n);

/* Called with the inode of each socket among a process's fds (listening or not). */
typedef void procfs_socket_fn(uint64_t ino, void *arg);

/*
 * Calls @fn (with @arg) for every fd of @pid that is a socket: one readlink
 * per open fd, in directory order; a socket dup()ed under several fds is
 * passed once per fd. Returns 0, or a negative errno: -EACCES or -EPERM
 * without root or CAP_SYS_PTRACE.
 */
PRP_MUST_CHECK int procfs_sockets(const struct procfs *pf, uint32_t pid, procfs_socket_fn *fn,
				  void *arg);

/* Reads /proc/PID/comm into @comm, without its '\n'. Returns 0, or -errno with @comm "". */
PRP_MUST_CHECK int procfs_comm(const struct procfs *pf, uint32_t pid, char comm[PROCFS_COMM_MAX]);

/* Reads the PPid of /proc/PID/status into *@ppid (0 when absent). Returns 0 or -errno. */
PRP_MUST_CHECK int procfs_ppid(const struct procfs *pf, uint32_t pid, uint32_t *ppid);

/*
 * Reads the cgroup v2 path of @pid, the "0::" line of /proc/PID/cgroup, into
 * *@path: the caller owns it (free()); NULL when there is no such line.
 * Returns 0, or -errno with *@path NULL.
 */
PRP_MUST_CHECK int procfs_cgroup(const struct procfs *pf, uint32_t pid, char **path);

/*
 * Writes the basename of /proc/PID/exe into @name (@len bytes, cut to fit),
 * without the " (deleted)" of an upgraded binary still running. Returns 0,
 * or -errno with @name "" (kernel threads have no exe; other users' need
 * root or CAP_SYS_PTRACE).
 */
PRP_MUST_CHECK int procfs_exe(const struct procfs *pf, uint32_t pid, char *name, size_t len);

/* Frees @pf; NULL does nothing. */
void procfs_free(struct procfs *pf);

#endif
