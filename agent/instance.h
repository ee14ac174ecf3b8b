/*
 * One agent per host: an exclusive flock(2) on a lock file that holds the
 * running agent's pid. The kernel drops the lock when the last descriptor
 * of it closes, so a crashed or killed agent never blocks the next one, and
 * no stale-pid guessing is needed. The descriptor is close-on-exec, but a
 * child forked without exec() keeps the lock alive until it exits too.
 *
 * Threads: call from main(), before starting any.
 */
#ifndef PRP_AGENT_INSTANCE_H
#define PRP_AGENT_INSTANCE_H

#include <stddef.h>

#include "common/compiler.h"

/*
 * Opens or creates @path (borrowed; mode 0644) and locks it without
 * waiting, then writes our pid into it. On success *@fd_out is the
 * descriptor to keep open for the life of the process (instance_unlock()).
 * Returns 0, -EBUSY when another process holds the lock (@err then says
 * "another prp-agent is running (pid N, lock PATH)", with "pid unknown"
 * when it has not written its pid yet), or another negative errno with a
 * message naming @path.
 */
PRP_MUST_CHECK int instance_lock(const char *path, int *fd_out, char *err, size_t errlen);

/*
 * Empties the lock file and closes @fd, which releases the lock; @fd < 0
 * does nothing. The file stays: unlinking a lock file lets two processes
 * lock two different files of the same name.
 */
void instance_unlock(int fd, const char *path);

#endif
