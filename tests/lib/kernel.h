/*
 * Kernel preconditions of the BPF tests. libbpf finds tracepoint ids in
 * tracefs, which a fresh machine may not have mounted (this one does not).
 */
#ifndef PRP_TESTS_LIB_KERNEL_H
#define PRP_TESTS_LIB_KERNEL_H

/* Mounts tracefs at /sys/kernel/tracing unless it is there. Returns 0 or -errno. */
int kernel_ensure_tracefs(void);

#endif
