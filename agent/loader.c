/*
 * Process-wide BPF set-up. libbpf talks through libbpf_set_print(); we send
 * its warnings to our log at debug (a sampler that fails logs one line of its
 * own), and its errors at warn. tracefs may not be mounted on a fresh
 * machine: libbpf 1.1 reads tracepoint ids from it, so we mount it.
 */
#include "agent/loader.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common/log.h"

static int loader_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	if (level == LIBBPF_DEBUG && !log_enabled(LOG_LEVEL_DEBUG))
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_msg(LOG_LEVEL_DEBUG, 0, "libbpf: %s", line);
	return 0;
}

static int ensure_tracefs(void)
{
	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return 0;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) && errno != EBUSY)
		return -errno;
	log_info("loader: mounted tracefs at /sys/kernel/tracing");
	return 0;
}

int loader_init(void)
{
	int err;

	libbpf_set_print(loader_print);
	/* a BPF array map is the cheapest thing the kernel can refuse us */
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_ARRAY, NULL) != 1) {
		log_error("loader: this process may not use BPF: run prp-agent as root, or with "
			  "CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_RESOURCE (and "
			  "CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to read other users' /proc)");
		return -EPERM;
	}
	err = ensure_tracefs();
	if (err) {
		log_error_err(err, "loader: tracefs is not mounted and cannot be");
		return err;
	}
	return 0;
}
