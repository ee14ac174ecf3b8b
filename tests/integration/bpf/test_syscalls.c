/*
 * Loads the real syscalls skeleton into the running kernel, with no help from
 * agent/, and checks sc_counts key by key: a watched process's calls land
 * under its service id and the current generation, one bucket count per call
 * and one errno count per failure; the generation in .bss moves new counts to
 * new keys; unwatched processes leave nothing. Needs root (CAP_BPF); it
 * fails, never skips, without it. agent/sampler_syscalls.c has its own test.
 */
#include <criterion/criterion.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <syscalls.skel.h>

#include "bpf/hist.h"
#include "bpf/syscalls.h"
#include "tests/lib/kernel.h"
#include "tests/lib/leakcheck.h"

TestSuite(bpf_syscalls, .fini = test_no_leaks, .timeout = 60);

#define SVC 7
/* the generation load_watching() leaves current */
#define GEN 2

/* Totals of the sc_counts entries of one (generation, service, syscall). */
struct totals {
	__u64 calls;  /* over the bucket entries */
	__u64 errors; /* over the errno entries */
	__u64 errno_calls[SYSCALLS_MAX_ERRNO + 1];
	__u32 bucket_entries;
	__u32 bad_buckets; /* bucket entries with an index past the histogram */
};

static void read_totals(struct syscalls_bpf *skel, __u32 gen, __u16 svc, __u32 nr, struct totals *t)
{
	int fd = bpf_map__fd(skel->maps.sc_counts), ncpu = libbpf_num_possible_cpus();
	struct syscall_key key, next, *prev = NULL;
	__u64 *per_cpu;

	cr_assert_gt(ncpu, 0);
	per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu));
	cr_assert_not_null(per_cpu);
	memset(t, 0, sizeof(*t));
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		__u64 n = 0;

		key = next;
		prev = &key;
		if (key.gen != gen || key.svc != svc || key.nr != nr)
			continue;
		cr_assert_eq(key.pad0, 0);
		cr_assert_eq(bpf_map_lookup_elem(fd, &key, per_cpu), 0);
		for (int c = 0; c < ncpu; c++)
			n += per_cpu[c];
		if (key.kind == SYSCALL_COUNT_BUCKET) {
			t->calls += n;
			t->bucket_entries++;
			t->bad_buckets += key.sub >= HIST_BUCKETS;
		} else {
			cr_assert_eq(key.kind, SYSCALL_COUNT_ERRNO);
			cr_assert(key.sub >= 1 && key.sub <= SYSCALLS_MAX_ERRNO);
			t->errors += n;
			t->errno_calls[key.sub] += n;
		}
	}
	free(per_cpu);
}

static struct syscalls_bpf *load_watching(__u32 tgid, __u16 svc)
{
	struct syscalls_bpf *skel;
	__u32 word = tgid / 64;
	__u64 bits = 1ULL << (tgid % 64);
	int err;

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	err = kernel_ensure_tracefs();
	cr_assert_eq(err, 0, "cannot mount tracefs: %d", err);
	/* its first call opens and closes a sysfs file: make it before counting starts */
	cr_assert_gt(libbpf_num_possible_cpus(), 0);
	skel = syscalls_bpf__open_and_load();
	cr_assert_not_null(skel, "cannot load syscalls.bpf.o: errno %d", errno);
	err = bpf_map__update_elem(skel->maps.svc_by_tgid, &tgid, sizeof(tgid), &svc, sizeof(svc),
				   BPF_ANY);
	cr_assert_eq(err, 0, "cannot add the target: %d", err);
	err = bpf_map__update_elem(skel->maps.watch_bits, &word, sizeof(word), &bits, sizeof(bits),
				   BPF_ANY);
	cr_assert_eq(err, 0, "cannot set the watch bit: %d", err);
	err = syscalls_bpf__attach(skel);
	cr_assert_eq(err, 0, "cannot attach: %d", err);
	/* libbpf makes (and closes) fds between the two attachments: count from here */
	skel->bss->gen = GEN;
	return skel;
}

Test(bpf_syscalls, counts_each_call_of_a_watched_process_exactly)
{
	__u32 self = (__u32)getpid();
	struct syscalls_bpf *skel = load_watching(self, SVC);
	struct totals *t = calloc(1, sizeof(*t));

	cr_assert_not_null(t);
	for (int i = 0; i < 1000; i++)
		syscall(SYS_getppid);
	for (int i = 0; i < 500; i++)
		cr_assert_eq(syscall(SYS_close, -1), -1);

	read_totals(skel, GEN, SVC, SYS_getppid, t);
	cr_expect_eq(t->calls, 1000, "getppid counted %llu times", (unsigned long long)t->calls);
	cr_expect_eq(t->errors, 0);
	cr_expect_gt(t->bucket_entries, 0);
	cr_expect_eq(t->bad_buckets, 0);

	read_totals(skel, GEN, SVC, SYS_close, t);
	cr_expect_eq(t->calls, 500, "close counted %llu times", (unsigned long long)t->calls);
	cr_expect_eq(t->errors, 500, "close errors %llu", (unsigned long long)t->errors);
	cr_expect_eq(t->errno_calls[EBADF], 500);

	/* a new generation: new counts go to new keys, the old ones stay as they were */
	skel->bss->gen = GEN + 1;
	for (int i = 0; i < 10; i++)
		syscall(SYS_getppid);
	read_totals(skel, GEN + 1, SVC, SYS_getppid, t);
	cr_expect_eq(t->calls, 10);
	read_totals(skel, GEN, SVC, SYS_getppid, t);
	cr_expect_eq(t->calls, 1000);
	free(t);
	syscalls_bpf__destroy(skel);
}

Test(bpf_syscalls, ignores_processes_that_are_not_watched)
{
	struct syscalls_bpf *skel = load_watching((__u32)getpid(), SVC);
	int fd = bpf_map__fd(skel->maps.sc_counts);
	struct syscall_key key, next, *prev = NULL;
	int status;
	pid_t child = fork();

	cr_assert_geq(child, 0);
	if (child == 0) {
		for (int i = 0; i < 100; i++)
			syscall(SYS_getppid);
		_exit(0);
	}
	cr_assert_eq(waitpid(child, &status, 0), child);
	/* this process made no getppid: any entry for it is the child's */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		cr_expect_neq(key.nr, SYS_getppid, "an unwatched child was counted");
		cr_expect_eq(key.svc, SVC);
	}
	syscalls_bpf__destroy(skel);
}
