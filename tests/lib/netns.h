/*
 * Network namespaces for integration tests that need real TCP trouble
 * (refused connects, resets, losses) without touching the host's network. A
 * test forks a child that enters a namespace of its own, reports "ready",
 * waits for "go" (so the test can first set up what watches the child, whose
 * pid it knows from fork), runs a work function and reports its result. The
 * namespace, with anything set up in it, goes away with its last process.
 * A child whose test died sees EOF on "go" and exits. Needs root.
 */
#ifndef PRP_TESTS_LIB_NETNS_H
#define PRP_TESTS_LIB_NETNS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Runs in the child, inside its namespace. Fills @result (result_size bytes,
 * zeroed before the call) and returns 0 or a negative errno.
 */
typedef int netns_work_fn(int arg, void *result);

struct netns_child {
	pid_t pid;
	int go_fd;     /* test -> child */
	int result_fd; /* child -> test: the ready byte, then the return value and the result */
	size_t result_size;
};

/*
 * Forks a child that enters a new network namespace (netns_enter(@loss_pct))
 * and waits for netns_child_go(). Returns 0 once the child is ready, or a
 * negative errno (the child is then reaped).
 */
int netns_child_start(struct netns_child *c, int loss_pct, netns_work_fn *fn, int arg,
		      size_t result_size);
/* Lets the child run its work function. Returns 0 or -errno. */
int netns_child_go(struct netns_child *c);
/*
 * Waits for the child's report and exit and copies its result to @result.
 * Returns the work function's return value, or -ECHILD when the child died
 * without reporting.
 */
int netns_child_finish(struct netns_child *c, void *result);

/*
 * In the calling process: unshare(CLONE_NEWNET), lo up with an MTU of 1500
 * (so data goes in many segments), and with @loss_pct > 0 a random loss of
 * that many percent of what lo sends, plus the fast retransmit timers of
 * netns_quicken_rto(). Returns 0 or a negative errno.
 */
int netns_enter(int loss_pct);
/* Takes the loss of netns_enter() off lo again. Returns 0 or a negative errno. */
int netns_remove_loss(void);
/*
 * Waits until no TCP socket of the namespace can send anything any more
 * (each is gone or in TIME_WAIT). Returns 0 or -ETIMEDOUT.
 */
int netns_wait_tcp_quiet(int timeout_ms);
/* Tcp RetransSegs of the calling process's namespace (0 when unreadable). */
unsigned long long netns_tcp_retrans_segs(void);

#endif
