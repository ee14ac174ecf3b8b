/*
 * ABI of bpf/syscalls.bpf.c: per-service syscall counts, errors by errno and
 * latency histograms, aggregated in the kernel and read by
 * agent/sampler_syscalls.c. See STYLE.md §2 for the rules on these structs.
 *
 * One map, sc_counts, holds everything, one per-CPU __u64 count per key:
 *  - kind SYSCALL_COUNT_BUCKET, sub = latency bucket (bpf/hist.h): each
 *    syscall that exits is counted in exactly one bucket, so the sum over the
 *    buckets of a (service, syscall) is its call count;
 *  - kind SYSCALL_COUNT_ERRNO, sub = positive errno: each syscall that returns
 *    -errno is counted here too, so the sum over the errnos is its error count.
 * One or two map updates per syscall, whatever is asked of it later.
 *
 * Generations. Every key carries the generation (.bss `gen`) that was current
 * when the syscall exited. User space bumps `gen`, waits SYSCALLS_GRACE_MS for
 * the programs that read the old value to finish, then reads and deletes every
 * entry whose generation is not the current one. No increment is lost: until
 * the flip the old entries are written and never read, after the grace period
 * they are read and never written.
 */
#ifndef PRP_BPF_SYSCALLS_H
#define PRP_BPF_SYSCALLS_H

#ifndef __VMLINUX_H__ /* user space; on the BPF side vmlinux.h defines the __u* types */
#include <linux/types.h>
#endif

/*
 * tgids are below PID_MAX_LIMIT, 2^22 on 64-bit kernels (include/linux/threads.h),
 * whatever kernel.pid_max says: the watch bitmap has one bit per possible tgid,
 * 2^22 / 64 = 65536 words, 512 KiB.
 */
#define SYSCALLS_TGID_LIMIT  (1u << 22)
#define SYSCALLS_WATCH_WORDS (SYSCALLS_TGID_LIMIT / 64)
/* Watched processes: every pid of every service (agent/services.h: 255 * 256 = 65280). */
#define SYSCALLS_MAX_TARGETS 65536
/* Threads of watched processes with a syscall in flight, or that made one lately. */
#define SYSCALLS_MAX_INFLIGHT 32768
/*
 * (generation, service, syscall, bucket or errno) entries, across the two
 * generations alive around a flip. Memory: 8 bytes per CPU per entry, so
 * 512 KiB per CPU.
 */
#define SYSCALLS_MAX_COUNTS 65536
/*
 * How long user space waits after a flip before it reads the old generation:
 * a program runs for about a microsecond with preemption off, so this only
 * has to outlast an interrupt or a vCPU the hypervisor has descheduled.
 */
#define SYSCALLS_GRACE_MS 5

/* Largest errno the kernel returns as a negative value (MAX_ERRNO). */
#define SYSCALLS_MAX_ERRNO 4095
/*
 * Set in syscall_key.nr for a 32-bit (ia32) syscall, whose number is from
 * the i386 table. x32 syscalls come with their own bit 30 set by the kernel
 * (__X32_SYSCALL_BIT), on x86_64 numbers.
 */
#define SYSCALLS_NR_IA32 (1u << 31)
#define SYSCALLS_NR_X32	 (1u << 30)

enum syscall_count_kind {
	SYSCALL_COUNT_BUCKET = 0, /* sub is a bucket index of bpf/hist.h */
	SYSCALL_COUNT_ERRNO = 1,  /* sub is a positive errno */
};

/* Key of sc_counts; the value is a per-CPU __u64 count. */
struct syscall_key {
	__u32 gen; /* the generation current when the syscall exited */
	__u32 nr;  /* syscall number, | SYSCALLS_NR_IA32 for i386 ones */
	__u32 sub; /* bucket index or errno, by kind */
	__u16 svc; /* service id, 1..255 (agent/services.h) */
	__u8 kind; /* enum syscall_count_kind */
	__u8 pad0;
};
_Static_assert(sizeof(struct syscall_key) == 16, "struct syscall_key is ABI");

/* Value of sc_inflight, keyed by pid_tgid: the thread's syscall in flight. */
struct syscall_inflight {
	__u64 start_ns; /* bpf_ktime_get_ns() at sys_enter; 0 when none is in flight */
	__u32 nr;	/* as in syscall_key */
	__u16 svc;
	__u16 epoch; /* the .bss epoch at sys_enter: a stamp of an older one is stale */
};
_Static_assert(sizeof(struct syscall_inflight) == 16, "struct syscall_inflight is ABI");

/* Value of sc_drops (a one-entry per-CPU array): what could not be counted. */
struct syscall_drops {
	__u64 counts_full; /* updates that found sc_counts full: syscalls not counted */
};
_Static_assert(sizeof(struct syscall_drops) == 8, "struct syscall_drops is ABI");

#endif
