/*
 * The one-agent-per-host lock (instance.h). Two rules keep it simple and
 * safe: the lock is flock(2), which the kernel releases with the process,
 * and the file is never removed (a process that opened the old file and one
 * that created a new one would both get a lock). The pid in the file is for
 * people and messages only; the lock alone decides.
 */
#include "agent/instance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/log.h"

/* The pid the holder wrote into @fd, or 0 when there is none yet. */
static long read_pid(int fd)
{
	char buf[32], *end;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return end != buf && (*end == '\n' || *end == '\0') && pid > 0 ? pid : 0;
}

static int write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0))
		return -errno;
	errno = 0;
	if (pwrite(fd, buf, (size_t)n, 0) != n)
		return errno ? -errno : -EIO;
	return 0;
}

int instance_lock(const char *path, int *fd_out, char *err, size_t errlen)
{
	int fd, ret;
	long pid;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open lock '%s': %s", path, strerror(-ret));
		return ret;
	}
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno == EINTR)
			continue;
		ret = -errno;
		if (ret == -EWOULDBLOCK) {
			pid = read_pid(fd);
			if (pid)
				snprintf(err, errlen,
					 "another prp-agent is running (pid %ld, lock %s)", pid,
					 path);
			else
				snprintf(err, errlen,
					 "another prp-agent is running (pid unknown, lock %s)",
					 path);
			ret = -EBUSY;
		} else {
			snprintf(err, errlen, "cannot lock '%s': %s", path, strerror(-ret));
		}
		goto out_close;
	}
	ret = write_pid(fd);
	if (ret) {
		snprintf(err, errlen, "cannot write our pid into lock '%s': %s", path,
			 strerror(-ret));
		goto out_close; /* closing releases the lock */
	}
	*fd_out = fd;
	log_debug("instance: locked '%s'", path);
	return 0;

out_close:
	close(fd);
	return ret;
}

void instance_unlock(int fd, const char *path)
{
	if (fd < 0)
		return;
	/* the pid would be stale: the next agent reads "pid unknown" rather than a wrong one */
	if (ftruncate(fd, 0))
		log_debug("instance: cannot empty lock '%s': %s", path, strerror(errno));
	close(fd);
}
