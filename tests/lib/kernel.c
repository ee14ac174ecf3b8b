#include "tests/lib/kernel.h"

#include <errno.h>
#include <sys/mount.h>
#include <unistd.h>

int kernel_ensure_tracefs(void)
{
	if (!access("/sys/kernel/tracing/events", F_OK))
		return 0;
	/* EBUSY: another test mounted it meanwhile */
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) && errno != EBUSY)
		return -errno;
	return 0;
}
