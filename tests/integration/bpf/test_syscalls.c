/*
 * Loads the real syscalls skeleton into the running kernel, watches this
 * test's own process and checks that the counts in sc_stats are exact:
 * a known number of getppid() calls and of failing close(-1) calls. Needs
 * root (CAP_BPF); it fails, never skips, without it.
 */
#include <criterion/criterion.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <syscalls.skel.h>

#include "bpf/syscalls.h"
#include "tests/lib/kernel.h"
#include "tests/lib/leakcheck.h"

TestSuite(bpf_syscalls, .fini = test_no_leaks, .timeout = 60);

/* Sums the per-CPU values of one sc_stats entry; false when absent. */
static bool read_stats(struct syscalls_bpf *skel, __u32 tgid, __u32 nr, struct syscall_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct syscall_key key = { .tgid = tgid, .nr = nr };
	struct syscall_stats *per_cpu;
	bool found;

	cr_assert_gt(ncpu, 0);
	per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu));
	cr_assert_not_null(per_cpu);
	found = !bpf_map__lookup_elem(skel->maps.sc_stats, &key, sizeof(key), per_cpu,
				      (size_t)ncpu * sizeof(*per_cpu), 0);
	*sum = (struct syscall_stats){ 0 };
	for (int i = 0; found && i < ncpu; i++) {
		sum->count += per_cpu[i].count;
		sum->errors += per_cpu[i].errors;
		sum->total_ns += per_cpu[i].total_ns;
	}
	free(per_cpu);
	return found;
}

static struct syscalls_bpf *load_watching(__u32 tgid)
{
	struct syscalls_bpf *skel;
	__u8 one = 1;
	int err;

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	err = kernel_ensure_tracefs();
	cr_assert_eq(err, 0, "cannot mount tracefs: %d", err);
	skel = syscalls_bpf__open_and_load();
	cr_assert_not_null(skel, "cannot load syscalls.bpf.o: errno %d", errno);
	err = bpf_map__update_elem(skel->maps.targets, &tgid, sizeof(tgid), &one, sizeof(one),
				   BPF_ANY);
	cr_assert_eq(err, 0, "cannot add the target: %d", err);
	err = syscalls_bpf__attach(skel);
	cr_assert_eq(err, 0, "cannot attach: %d", err);
	return skel;
}

Test(bpf_syscalls, counts_each_call_of_a_watched_process_exactly)
{
	__u32 self = (__u32)getpid();
	struct syscalls_bpf *skel = load_watching(self);
	struct syscall_stats st;

	for (int i = 0; i < 1000; i++)
		syscall(SYS_getppid);
	for (int i = 0; i < 500; i++)
		cr_assert_eq(syscall(SYS_close, -1), -1);

	cr_assert(read_stats(skel, self, SYS_getppid, &st), "no getppid entry");
	cr_expect_eq(st.count, 1000, "getppid counted %llu times", (unsigned long long)st.count);
	cr_expect_eq(st.errors, 0);
	cr_expect_gt(st.total_ns, 0);

	cr_assert(read_stats(skel, self, SYS_close, &st), "no close entry");
	cr_expect_geq(st.count, 500);
	cr_expect_geq(st.errors, 500, "close(-1) errors counted %llu",
		      (unsigned long long)st.errors);
	syscalls_bpf__destroy(skel);
}

Test(bpf_syscalls, ignores_processes_that_are_not_watched)
{
	struct syscalls_bpf *skel = load_watching((__u32)getpid());
	struct syscall_stats st;
	int status;
	pid_t child = fork();

	cr_assert_geq(child, 0);
	if (child == 0) {
		for (int i = 0; i < 100; i++)
			syscall(SYS_getppid);
		_exit(0);
	}
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(!read_stats(skel, (__u32)child, SYS_getppid, &st),
		  "an unwatched child was counted");
	syscalls_bpf__destroy(skel);
}
