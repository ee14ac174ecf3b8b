/*
 * The TCP sockets of the agent's network namespace, asked of the kernel over
 * netlink (NETLINK_SOCK_DIAG, the interface ss(8) uses): the listening ones
 * for discovery, and the connections to a destination, to destroy them when
 * a circuit breaker opens (what `ss -K dst ADDR dport = PORT` does). Asked
 * for the LISTEN state alone, the kernel walks only its listening table,
 * where /proc/net/tcp{,6} walk the whole connection table (procfs.c says
 * what that costs).
 *
 * This is the mechanism only: agent/procfs.c decides when to use it for
 * listeners and falls back to the /proc/net files when it fails;
 * agent/remediation.c decides which connections to destroy.
 *
 * Threads: a struct sockdiag belongs to the thread that created it.
 */
#ifndef PRP_AGENT_SOCKDIAG_H
#define PRP_AGENT_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/compiler.h"

/* How long sockdiag_listeners() waits for each datagram of the kernel's answer. */
#define SOCKDIAG_TIMEOUT_MS 1000

struct sockdiag;

/*
 * Called once per listening socket, with its inode (as in the
 * /proc/PID/fd/N link "socket:[INODE]", never 0) and its local port (host
 * order, never 0). Returns 0 to go on, or a negative errno that stops the
 * dump and becomes sockdiag_listeners()'s result.
 */
typedef int sockdiag_listener_fn(uint64_t ino, uint16_t port, void *arg);

/*
 * A sockdiag; the caller owns it: sockdiag_free(). Allocates only: the
 * netlink socket is opened by the first call, in the network
 * namespace of the calling thread at that time.
 */
struct sockdiag *sockdiag_new(void);

/*
 * Calls @fn for every listening TCP socket, IPv4 then IPv6 (@arg is passed
 * through). Waits at most SOCKDIAG_TIMEOUT_MS for each answer of the kernel.
 * Returns 0; what @fn returned when it stopped the dump; or a negative errno
 * when the socket cannot be opened (-EPROTONOSUPPORT, -EPERM under seccomp),
 * the kernel refuses (-ENOENT without inet_diag) or does not answer in time
 * (-EAGAIN), or its answer is malformed (-EPROTO, -EMSGSIZE). After a
 * failure or a stop the socket is closed, which ends the kernel's half-read
 * dump; the next call opens a new one. @fn may have been called for some
 * sockets before a failure.
 */
PRP_MUST_CHECK int sockdiag_listeners(struct sockdiag *sd, sockdiag_listener_fn *fn, void *arg);

/*
 * Destroys every TCP connection of the namespace, established or still
 * connecting, whose remote end is one of @targets (@n of them, borrowed, as
 * agent/breaker.h reads destinations: an any address stands for every
 * address of its family on the port, and an IPv4 target also names its
 * v4-mapped IPv6 form). A connection whose local end is a target is left
 * alone: that is a server's accepted side, not a caller's. The kernel
 * aborts each one (tcp_abort(): a RST to the peer, and ECONNABORTED to the
 * next call on the socket), which is what a caller's keep-alive pool needs
 * to see a service it may no longer reach.
 *
 * Sets *@destroyed to the connections destroyed, even on failure. Needs
 * CAP_NET_ADMIN (-EPERM) and a kernel with CONFIG_INET_DIAG_DESTROY
 * (-EOPNOTSUPP); other errors as sockdiag_listeners(). Walks the whole
 * connection table of both families, at least once each: seldom, on a
 * command, never per window.
 */
PRP_MUST_CHECK int sockdiag_destroy_to(struct sockdiag *sd, const struct sockaddr_storage *targets,
				       size_t n, unsigned *destroyed);

/* Frees @sd and closes its socket; NULL does nothing. */
void sockdiag_free(struct sockdiag *sd);

#endif
