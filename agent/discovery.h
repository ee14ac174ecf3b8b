/*
 * Service discovery: which processes form which service, read from /proc.
 *
 * Either the user names the services with selectors, "NAME=KIND:VALUE":
 *
 *   users=port:8002        the processes holding a listening TCP socket on
 *                          port 8002 (IPv4 or IPv6)
 *   web=comm:nginx         the processes whose /proc/PID/comm is "nginx"
 *   api=cgroup:/system.slice/api.service
 *                          the processes whose cgroup v2 path is that one
 *                          or below it
 *   db=pid:1234            that process
 *
 * or, with no selector, every process tree holding a listening TCP socket
 * is a service, named after its executable (see discovery_auto.c).
 *
 * A process belongs to one service at most (the BPF maps key services by
 * tgid): the first selector that matches it wins. The agent itself is never
 * part of a service, so that it does not watch its own work.
 *
 * Threads: a struct discovery belongs to the thread that created it (the
 * agent's main loop); nothing here has global state.
 */
#ifndef PRP_AGENT_DISCOVERY_H
#define PRP_AGENT_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/services.h"
#include "common/compiler.h"

struct discovery;

/*
 * Checks @selectors (@n strings "NAME=KIND:VALUE", borrowed) the way
 * discovery_new() does, without touching /proc: for `--check-config`.
 * Returns 0, -EINVAL with a message in @err naming the selector and what is
 * wrong with it (bad name, unknown kind, bad port or pid, duplicate name), or
 * -E2BIG past SERVICES_MAX selectors.
 */
PRP_MUST_CHECK int discovery_check_selectors(const char *const *selectors, size_t n, char *err,
					     size_t errlen);

/*
 * A discovery reading @proc_root ("/proc"; tests pass a fake tree), for the
 * services named by @selectors (@nselectors strings, checked as above), or
 * automatic when @nselectors is 0. Every argument is borrowed for the call.
 * Selector services get the ids 1..@nselectors in order. Returns the struct
 * (the caller owns it: discovery_free()), or NULL with a message in @err
 * when a selector is bad or @proc_root cannot be opened.
 */
struct discovery *discovery_new(const char *proc_root, const char *const *selectors,
				size_t nselectors, char *err, size_t errlen);

/*
 * Automatic discovery ignores listening sockets on @port: a process that
 * listens only on excluded ports is no service, and excluded ports are left
 * out of the services' port lists. Selectors are not affected. Call before
 * the first discovery_refresh(); by default nothing is excluded.
 */
void discovery_exclude_port(struct discovery *d, uint16_t port);

/*
 * Which process is the agent itself, never part of a service: getpid() by
 * default. Tests on a fake /proc name a fake pid, so that their fake
 * processes can never be the test process. Call before the first refresh.
 */
void discovery_set_self_pid(struct discovery *d, uint32_t pid);

/*
 * Fills @out with every service found now, ordered by id: selector services
 * always (with npids 0 while no process matches), automatic ones while they
 * listen. An id stays with its name for the life of @d, so a restarted
 * service keeps its id (the one exception: once SERVICES_MAX names have been
 * seen, a new name takes the id of the name gone the longest). Pids and
 * ports are sorted. Sets *@changed (may be NULL) to whether @out differs
 * from what the previous call returned, and logs one info line per service
 * found, changed or gone.
 *
 * Cheap enough to call every second (the cost model is in proctable.c).
 * Returns 0, or a negative errno when @proc_root, or /proc/net/tcp where it
 * is read (see procfs.h), cannot be read; @out is then left as it was.
 */
PRP_MUST_CHECK int discovery_refresh(struct discovery *d, struct service_set *out, bool *changed);

/* Frees @d; NULL does nothing. */
void discovery_free(struct discovery *d);

#endif
