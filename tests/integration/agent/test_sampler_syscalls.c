/*
 * The syscalls sampler on the real kernel: watches this test process (or a
 * child), makes syscalls whose number and result are known, and checks the
 * windows the sampler fills: exact call counts, exact errno counts, one
 * latency value per call, nothing from unwatched processes, and nothing lost
 * or counted twice while collects flip the generation under a busy thread.
 * The syscalls are made with syscall(2), so libc cannot swap them (open for
 * openat). Needs root; it fails, never skips, without it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/loader.h"
#include "agent/sampler_syscalls.h"
#include "agent/services.h"
#include "common/window.h"
#include "common/hist.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"

TestSuite(agent_sampler_syscalls, .fini = test_no_leaks, .timeout = 120);

#define MISSING_PATH "/nonexistent/prp-test-sampler-syscalls"

static void start(struct sampler_syscalls *s)
{
	int err;

	cr_assert_eq(geteuid(), 0, "the BPF tests need root");
	cr_assert_eq(loader_init(), 0);
	err = sampler_syscalls_start(s);
	cr_assert_eq(err, 0, "sampler_syscalls_start: %s", strerror(-err));
}

static struct service_set *set_new(void)
{
	struct service_set *set = calloc(1, sizeof(*set));

	cr_assert_not_null(set);
	return set;
}

static struct service *set_add(struct service_set *set, uint16_t id, const char *name, pid_t pid)
{
	struct service *svc = &set->items[set->n++];

	svc->id = id;
	snprintf(svc->name, sizeof(svc->name), "%s", name);
	svc->pids[svc->npids++] = (uint32_t)pid;
	return svc;
}

static void set_targets(struct sampler_syscalls *s, const struct service_set *set)
{
	int err = sampler_syscalls_set_targets(s, set);

	cr_assert_eq(err, 0, "sampler_syscalls_set_targets: %s", strerror(-err));
}

static void collect(struct sampler_syscalls *s, struct window_set *ws)
{
	int err = sampler_syscalls_collect(s, ws);

	cr_assert_eq(err, 0, "sampler_syscalls_collect: %s", strerror(-err));
}

/* Drops whatever the sampler has counted so far: the test starts from here. */
static void drain(struct sampler_syscalls *s)
{
	struct window_set ws;

	window_set_init(&ws);
	collect(s, &ws);
	window_set_release(&ws);
}

/* The entry of syscall @nr in service @id's window, or NULL. */
static const struct window_syscall *find(const struct window_set *ws, uint16_t id, uint32_t nr)
{
	const struct window *w = ws->by_id[id];

	for (size_t i = 0; w && i < w->nsyscalls; i++)
		if (w->syscalls[i].nr == nr)
			return &w->syscalls[i];
	return NULL;
}

static uint64_t calls_of(const struct window_set *ws, uint16_t id, uint32_t nr)
{
	const struct window_syscall *sc = find(ws, id, nr);

	return sc ? sc->count : 0;
}

static uint64_t errno_count(const struct window_syscall *sc, int err)
{
	for (size_t i = 0; i < sc->nerrnos; i++)
		if (sc->errnos[i].err == err)
			return sc->errnos[i].count;
	return 0;
}

/* Checks one syscall's entry: its name, @calls calls, all failing with @err (0: none failing). */
static void expect_syscall(const struct window_set *ws, uint16_t id, uint32_t nr, const char *name,
			   uint64_t calls, int err)
{
	const struct window_syscall *sc = find(ws, id, nr);

	cr_assert_not_null(sc, "no entry for %s", name);
	cr_expect_str_eq(sc->name, name);
	cr_expect_eq(sc->count, calls, "%s: %llu calls", name, (unsigned long long)sc->count);
	cr_expect_eq(hist_count(&sc->latency_ns), calls, "%s: %llu latencies", name,
		     (unsigned long long)hist_count(&sc->latency_ns));
	cr_expect_gt(hist_max(&sc->latency_ns), 0);
	if (!err) {
		cr_expect_eq(sc->errors, 0, "%s: %llu errors", name,
			     (unsigned long long)sc->errors);
		cr_expect_eq(sc->nerrnos, 0);
		return;
	}
	cr_expect_eq(sc->errors, calls, "%s: %llu errors", name, (unsigned long long)sc->errors);
	cr_expect_eq(sc->nerrnos, 1, "%s: %zu errnos", name, sc->nerrnos);
	cr_expect_eq(errno_count(sc, err), calls, "%s: %llu times errno %d", name,
		     (unsigned long long)errno_count(sc, err), err);
}

static void make_known_syscalls(void)
{
	for (int i = 0; i < 1000; i++)
		syscall(SYS_getppid);
	for (int i = 0; i < 500; i++)
		cr_assert_eq(syscall(SYS_close, -1), -1);
	for (int i = 0; i < 300; i++)
		cr_assert_eq(syscall(SYS_open, MISSING_PATH, O_RDONLY), -1);
}

Test(agent_sampler_syscalls, counts_calls_errnos_and_latencies_exactly)
{
	struct sampler_syscalls s;
	struct service_set *set = set_new();
	struct window_set ws;

	start(&s);
	set_add(set, 1, "self", getpid());
	set_targets(&s, set);
	drain(&s);

	make_known_syscalls();
	window_set_init(&ws);
	collect(&s, &ws);
	expect_syscall(&ws, 1, SYS_getppid, "getppid", 1000, 0);
	expect_syscall(&ws, 1, SYS_close, "close", 500, EBADF);
	expect_syscall(&ws, 1, SYS_open, "open", 300, ENOENT);
	/* a syscall takes more than 0 and, here, less than a millisecond at the median */
	cr_expect_lt(hist_quantile(&find(&ws, 1, SYS_getppid)->latency_ns, 0.5), 1000000);
	for (uint16_t id = 2; id <= SERVICES_MAX; id++)
		cr_expect_null(ws.by_id[id], "service %u has a window", id);
	window_set_release(&ws);

	/* the next window starts from zero */
	window_set_init(&ws);
	collect(&s, &ws);
	cr_expect_eq(calls_of(&ws, 1, SYS_getppid), 0);
	cr_expect_eq(calls_of(&ws, 1, SYS_open), 0);
	window_set_release(&ws);

	cr_expect_eq(s.dropped, 0);
	cr_expect_eq(s.missed, 0);
	free(set);
	sampler_syscalls_stop(&s);
}

/*
 * A child that waits for a byte on @go_fd, makes @n getppid and @n close(-1),
 * then exits. It closes nothing else, and the test closes @go_fd only after
 * its last collect: neither close may be counted.
 */
static pid_t child_start(int *go_fd, int n)
{
	int p[2];
	pid_t pid;
	char c;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		for (int i = 0; i < n; i++) {
			syscall(SYS_getppid);
			syscall(SYS_close, -1);
		}
		_exit(0);
	}
	close(p[0]);
	*go_fd = p[1];
	return pid;
}

static void child_finish(pid_t pid, int go_fd)
{
	int status;

	cr_assert_eq(write(go_fd, "g", 1), 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(agent_sampler_syscalls, ignores_processes_that_are_not_watched)
{
	struct sampler_syscalls s;
	struct service_set *set = set_new();
	struct window_set ws;
	int go_fd;
	pid_t child;

	start(&s);
	child = child_start(&go_fd, 200);
	set_add(set, 1, "self", getpid());
	set_targets(&s, set);
	drain(&s);

	child_finish(child, go_fd);
	window_set_init(&ws);
	collect(&s, &ws);
	/* this process made neither call; the child's were not watched */
	cr_expect_eq(calls_of(&ws, 1, SYS_getppid), 0);
	cr_expect_eq(calls_of(&ws, 1, SYS_close), 0);
	for (uint16_t id = 2; id <= SERVICES_MAX; id++)
		cr_expect_null(ws.by_id[id], "service %u has a window", id);
	window_set_release(&ws);
	close(go_fd);
	free(set);
	sampler_syscalls_stop(&s);
}

Test(agent_sampler_syscalls, counts_each_process_under_its_own_service)
{
	struct sampler_syscalls s;
	struct service_set *set = set_new();
	struct window_set ws;
	int go_fd;
	pid_t child;

	start(&s);
	child = child_start(&go_fd, 200);
	set_add(set, 1, "self", getpid());
	set_add(set, 42, "child", child);
	set_targets(&s, set);
	drain(&s);

	child_finish(child, go_fd);
	syscall(SYS_getppid);
	window_set_init(&ws);
	collect(&s, &ws);
	expect_syscall(&ws, 42, SYS_getppid, "getppid", 200, 0);
	expect_syscall(&ws, 42, SYS_close, "close", 200, EBADF);
	expect_syscall(&ws, 1, SYS_getppid, "getppid", 1, 0);
	window_set_release(&ws);
	close(go_fd);

	/* watching nothing: this process's calls are no longer counted */
	set->n = 0;
	set_targets(&s, set);
	cr_expect_eq(s.ntargets, 0);
	drain(&s);
	make_known_syscalls();
	window_set_init(&ws);
	collect(&s, &ws);
	for (uint16_t id = 1; id <= SERVICES_MAX; id++)
		cr_expect_null(ws.by_id[id], "service %u has a window", id);
	window_set_release(&ws);
	free(set);
	sampler_syscalls_stop(&s);
}

struct spinner {
	pthread_t thread;
	volatile int stop;
	uint64_t calls;
};

static void *spin(void *arg)
{
	struct spinner *sp = arg;

	while (!__atomic_load_n(&sp->stop, __ATOMIC_ACQUIRE)) {
		syscall(SYS_getppid);
		sp->calls++;
	}
	return NULL;
}

Test(agent_sampler_syscalls, loses_nothing_across_generation_flips)
{
	struct sampler_syscalls s;
	struct service_set *set = set_new();
	struct spinner sp[2];
	uint64_t counted = 0, calls = 0;
	int busy_windows = 0;
	struct window_set ws;

	start(&s);
	set_add(set, 1, "self", getpid());
	set_targets(&s, set);
	drain(&s);

	/* two spinners and this thread on two CPUs: flips land mid-syscall, preemption too */
	memset(sp, 0, sizeof(sp));
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&sp[i].thread, NULL, spin, &sp[i]), 0);
	for (int i = 0; i < 20; i++) {
		uint64_t n;

		usleep(10000);
		window_set_init(&ws);
		collect(&s, &ws);
		n = calls_of(&ws, 1, SYS_getppid);
		busy_windows += n > 0;
		counted += n;
		window_set_release(&ws);
	}
	for (int i = 0; i < 2; i++) {
		__atomic_store_n(&sp[i].stop, 1, __ATOMIC_RELEASE);
		cr_assert_eq(pthread_join(sp[i].thread, NULL), 0);
		calls += sp[i].calls;
	}
	window_set_init(&ws);
	collect(&s, &ws);
	counted += calls_of(&ws, 1, SYS_getppid);
	window_set_release(&ws);

	cr_expect_eq(counted, calls, "counted %llu getppid, made %llu", (unsigned long long)counted,
		     (unsigned long long)calls);
	cr_expect_geq(busy_windows, 15, "only %d of 20 windows saw the spinners", busy_windows);
	cr_expect_eq(s.dropped, 0);
	cr_expect_eq(s.missed, 0, "the kernel skipped the programs %llu times",
		     (unsigned long long)s.missed);
	free(set);
	sampler_syscalls_stop(&s);
}

/* A thread that blocks in poll(pipe a), then in read(pipe b), then exits. */
struct blocker {
	pthread_t thread;
	int a[2], b[2];
	volatile pid_t tid;
};

static void *block(void *arg)
{
	struct blocker *bl = arg;
	struct pollfd pfd = { .fd = bl->a[0], .events = POLLIN };
	char c;

	bl->tid = (pid_t)syscall(SYS_gettid);
	syscall(SYS_poll, &pfd, 1, -1);
	syscall(SYS_read, bl->b[0], &c, 1);
	return NULL;
}

/* The state letter of thread @tid of this process (/proc/self/task/TID/stat), or '?'. */
static char thread_state(pid_t tid)
{
	char path[64], line[512], *paren, state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return state;
	if (fgets(line, sizeof(line), f) && (paren = strrchr(line, ')')) && paren[1] == ' ')
		state = paren[2];
	fclose(f);
	return state;
}

/* The syscall thread @tid of this process is in (/proc/self/task/TID/syscall), or -2. */
static long thread_syscall(pid_t tid)
{
	char path[64], line[256];
	long nr = -2;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return nr;
	if (fgets(line, sizeof(line), f) && line[0] >= '0' && line[0] <= '9')
		nr = strtol(line, NULL, 10);
	fclose(f);
	return nr;
}

/*
 * Waits until thread @tid sleeps in syscall @nr. Sleeping ('S') matters: a
 * thread preempted on its way in has the number already but has not passed
 * the sys_enter tracepoint yet.
 */
static void wait_blocked_in(pid_t tid, long nr)
{
	for (int i = 0; i < 5000; i++) {
		if (thread_syscall(tid) == nr && thread_state(tid) == 'S' &&
		    thread_syscall(tid) == nr)
			return;
		usleep(1000);
	}
	cr_assert_fail("thread %d never slept in syscall %ld", (int)tid, nr);
}

Test(agent_sampler_syscalls, forgets_stamps_of_processes_no_longer_watched)
{
	struct sampler_syscalls s;
	struct service_set *set = set_new();
	struct blocker bl;
	struct window_set ws;

	start(&s);
	memset(&bl, 0, sizeof(bl));
	cr_assert_eq(pipe(bl.a), 0);
	cr_assert_eq(pipe(bl.b), 0);
	set_add(set, 1, "self", getpid());
	set_targets(&s, set);
	cr_assert_eq(pthread_create(&bl.thread, NULL, block, &bl), 0);
	while (!bl.tid)
		usleep(1000);
	/* stamped in poll while watched; poll returns while not watched */
	wait_blocked_in(bl.tid, SYS_poll);
	set->n = 0;
	set_targets(&s, set);
	cr_assert_eq(write(bl.a[1], "a", 1), 1);
	wait_blocked_in(bl.tid, SYS_read);
	/* watched again while read, entered unwatched, is in flight */
	set->n = 0;
	set_add(set, 1, "self", getpid());
	set_targets(&s, set);
	drain(&s);
	cr_assert_eq(write(bl.b[1], "b", 1), 1);
	cr_assert_eq(pthread_join(bl.thread, NULL), 0);

	window_set_init(&ws);
	collect(&s, &ws);
	/* neither the stale poll stamp nor the unstamped read may be counted */
	cr_expect_eq(calls_of(&ws, 1, SYS_poll), 0, "a stale stamp was counted");
	cr_expect_eq(calls_of(&ws, 1, SYS_read), 0, "read: %llu calls, longest %llu ns",
		     (unsigned long long)calls_of(&ws, 1, SYS_read),
		     (unsigned long long)(find(&ws, 1, SYS_read)
						  ? hist_max(&find(&ws, 1, SYS_read)->latency_ns)
						  : 0));
	window_set_release(&ws);
	for (int i = 0; i < 2; i++) {
		close(bl.a[i]);
		close(bl.b[i]);
	}
	free(set);
	sampler_syscalls_stop(&s);
}

Test(agent_sampler_syscalls, refuses_work_when_stopped)
{
	struct sampler_syscalls s;
	struct service_set *set = set_new();
	struct window_set ws;

	memset(&s, 0, sizeof(s));
	window_set_init(&ws);
	cr_expect_eq(sampler_syscalls_collect(&s, &ws), -ENODEV);
	cr_expect_eq(sampler_syscalls_set_targets(&s, set), -ENODEV);
	sampler_syscalls_stop(&s);
	start(&s);
	sampler_syscalls_stop(&s);
	sampler_syscalls_stop(&s);
	cr_expect_null(s.skel);
	cr_expect_eq(sampler_syscalls_collect(&s, &ws), -ENODEV);
	window_set_release(&ws);
	free(set);
}

/* Runs one window of @window_ns the way the agent's loop does: ticks, then collect. */
static void sampled_window(struct sampler_syscalls *s, struct window_set *ws, uint64_t window_ns)
{
	uint64_t end = time_mono_ns() + window_ns, now;

	while ((now = time_mono_ns()) < end) {
		uint64_t next = sampler_syscalls_tick(s, now);

		time_sleep_ns((next < end ? next : end) - now);
	}
	collect(s, ws);
}

/* A thread that sleeps in poll() for 120 ms at a time, again and again. */
static void *nap(void *arg)
{
	struct spinner *sp = arg;

	while (!__atomic_load_n(&sp->stop, __ATOMIC_ACQUIRE)) {
		syscall(SYS_poll, NULL, 0, 120); /* poll(2) itself: libc may use ppoll */
		sp->calls++;
	}
	return NULL;
}

/*
 * Sampling mode: attached 50 ms of every 200 ms window, the counts are scaled
 * up by the fraction seen, which the window says; a syscall whose enter and
 * exit fell in different attached stretches is not timed across the gap.
 */
Test(agent_sampler_syscalls, samples_part_of_each_window_and_scales_up)
{
	const uint64_t window = 200 * NSEC_PER_MSEC, sample = 50 * NSEC_PER_MSEC;
	struct sampler_syscalls s;
	struct service_set *set = set_new();
	struct spinner sp, napper;
	uint64_t estimated = 0, poll_max = 0;
	double ratio_sum = 0;
	struct window_set ws;

	start(&s);
	set_add(set, 1, "self", getpid());
	set_targets(&s, set);
	sampler_syscalls_set_sampling(&s, sample, window);
	drain(&s);
	memset(&sp, 0, sizeof(sp));
	memset(&napper, 0, sizeof(napper));
	cr_assert_eq(pthread_create(&sp.thread, NULL, spin, &sp), 0);
	cr_assert_eq(pthread_create(&napper.thread, NULL, nap, &napper), 0);
	for (int i = 0; i < 20; i++) {
		const struct window_syscall *pl;

		window_set_init(&ws);
		sampled_window(&s, &ws, window);
		estimated += calls_of(&ws, 1, SYS_getppid);
		if (ws.by_id[1])
			ratio_sum += ws.by_id[1]->syscalls_sample_ratio;
		pl = find(&ws, 1, SYS_poll);
		if (pl && hist_count(&pl->latency_ns) && hist_max(&pl->latency_ns) > poll_max)
			poll_max = hist_max(&pl->latency_ns);
		window_set_release(&ws);
	}
	__atomic_store_n(&sp.stop, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&napper.stop, 1, __ATOMIC_RELEASE);
	cr_assert_eq(pthread_join(sp.thread, NULL), 0);
	cr_assert_eq(pthread_join(napper.thread, NULL), 0);

	/* each window saw about a quarter of itself */
	cr_expect(ratio_sum / 20 > 0.2 && ratio_sum / 20 < 0.35, "mean ratio %.3f",
		  ratio_sum / 20);
	/*
	 * The estimate is the true count within the bias of watching: a spinner
	 * making nothing but syscalls runs slower while the hooks are attached.
	 */
	cr_expect(estimated > sp.calls / 2 && estimated < sp.calls * 5 / 4,
		  "estimated %llu getppid, made %llu", (unsigned long long)estimated,
		  (unsigned long long)sp.calls);
	/* a 120 ms poll never fits a 50 ms stretch: none is timed across two */
	cr_expect_gt(napper.calls, 20);
	cr_expect_lt(poll_max, sample + 10 * NSEC_PER_MSEC, "a poll timed at %llu ns",
		     (unsigned long long)poll_max);
	free(set);
	sampler_syscalls_stop(&s);
}
