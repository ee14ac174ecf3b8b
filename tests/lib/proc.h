/*
 * Child processes for integration tests: start a program with its stdout and
 * stderr captured, wait for a line, stop it with SIGTERM and collect its exit
 * status. One struct proc per child, used from one thread.
 */
#ifndef PRP_TESTS_LIB_PROC_H
#define PRP_TESTS_LIB_PROC_H

#include <sys/types.h>

#include "common/buf.h"

struct proc {
	pid_t pid; /* 0 once reaped */
	int out_fd;
	int err_fd;
	struct buf out; /* everything the child wrote so far */
	struct buf err;
	int status; /* wait status once reaped */
};

/* Starts argv[0] (a path) with stdin from /dev/null. Returns 0 or -errno. */
int proc_start(struct proc *p, const char *const argv[]);
/*
 * Reads the child's output until @needle appears in stderr or stdout.
 * Returns 0, -ETIMEDOUT after @timeout_ms, or -ECHILD when the child exited.
 */
int proc_wait_for(struct proc *p, const char *needle, int timeout_ms);
/* Waits up to @timeout_ms for the child to exit on its own, reading its output. */
int proc_wait_exit(struct proc *p, int timeout_ms);
/* SIGTERM, then proc_wait_exit(); SIGKILL past @timeout_ms. Returns 0 or -ETIMEDOUT. */
int proc_stop(struct proc *p, int timeout_ms);
/* VmRSS of process @pid in KiB, or -1 when it cannot be read. */
long proc_rss_kb(pid_t pid);
/*
 * Live (not zombie) processes in process group @pgid. Zombies are left
 * out: a grandchild orphaned to a PID 1 that does not reap (a container's)
 * stays one, dead, for good.
 */
int proc_group_alive(pid_t pgid);
/* Kills the child if still running and frees the buffers. */
void proc_release(struct proc *p);
/*
 * Runs @argv (argv[0] a path) to its end, copying its output to ours as it
 * comes (a script's lines appear while it runs). Its exit status, or -1
 * when it did not exit by itself within @timeout_ms (it is then stopped).
 * Asserts that it starts.
 */
int proc_run_echo(const char *const argv[], int timeout_ms);

#endif
