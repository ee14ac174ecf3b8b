/*
 * prp-agent under many connections: 2,000 kept-alive connections at once,
 * then 30 s of connection churn. The kernel's per-connection state stays
 * bounded and empties when connections close, and the agent's memory stays
 * flat.
 */
#include <criterion/criterion.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "tests/lib/demo_services.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"

#define AGENT PRP_BUILD_DIR "/prp-agent"
#define LOADGEN PRP_BUILD_DIR "/prp-loadgen"

static struct demo_service users;
static struct proc agent;

static void setup(void)
{
	struct rlimit nofile = { 16384, 16384 };
	char selector[64];

	cr_assert_eq(geteuid(), 0, "the agent tests need root");
	/* 2,000 sockets on each side; children inherit the limit */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &nofile), 0);
	demo_service_start(&users, (const char *const[]){ "--name", "users", "--port", "0", NULL });
	snprintf(selector, sizeof(selector), "users=port:%d", users.port);
	cr_assert_eq(proc_start(&agent, (const char *const[]){ AGENT, "--service", selector,
							       "--lock-file",
							       "/tmp/prp-agent-churn.lock", NULL }),
		     0);
	cr_assert_eq(proc_wait_for(&agent, "agent: watching", 15000), 0, "%s",
		     buf_str(&agent.err));
}

static void teardown(void)
{
	proc_stop(&agent, 10000);
	proc_release(&agent);
	proc_stop(&users.proc, 10000);
	proc_release(&users.proc);
	test_no_leaks();
}

TestSuite(churn, .init = setup, .fini = teardown, .timeout = 240);

/* Entries now in the map called @name (the agent's; no other runs meanwhile). */
static long map_entries(const char *name, uint32_t *max_entries)
{
	uint32_t id = 0;
	long n = -1;

	while (!bpf_map_get_next_id(id, &id)) {
		struct bpf_map_info info = { 0 };
		uint32_t len = sizeof(info);
		unsigned char key[256], next[256];
		void *prev = NULL;
		int fd = bpf_map_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || strcmp(info.name, name) ||
		    info.key_size > sizeof(key)) {
			close(fd);
			continue;
		}
		n = 0;
		while (!bpf_map_get_next_key(fd, prev, next)) {
			memcpy(key, next, info.key_size);
			prev = key;
			n++;
		}
		*max_entries = info.max_entries;
		close(fd);
		break;
	}
	return n;
}

static void chaos(const char *json)
{
	char url[128];
	struct buf resp;
	long status = 0;

	buf_init(&resp, 1 << 16);
	snprintf(url, sizeof(url), "%s/chaos", users.url);
	cr_assert_eq(http_call(json ? "POST" : "DELETE", url, json, &status, &resp, NULL), 0);
	cr_assert_eq(status, 200);
	buf_release(&resp);
}

Test(churn, two_thousand_kept_alive_connections_leave_no_state_behind)
{
	uint32_t max = 0;
	long peak = 0, after;
	struct proc lg;

	/* each request held 1 s at 2,000 requests/s: about 2,000 connections open */
	chaos("{\"latency_ms\": 1000}");
	cr_assert_eq(proc_start(&lg, (const char *const[]){ LOADGEN, "--target", users.url, "--mix",
							    "users", "--rps", "2000", "--duration",
							    "4", "--connections", "2400",
							    "--progress-s", "0", NULL }),
		     0);
	while (proc_wait_exit(&lg, 250) == -ETIMEDOUT) {
		long n = map_entries("conns", &max);

		cr_assert_geq(n, 0, "no map 'conns': is the agent's http sampler on?");
		if (n > peak)
			peak = n;
	}
	cr_assert_not_null(strstr(buf_str(&lg.out), "errors 0"), "%s", buf_str(&lg.out));
	cr_expect_geq(peak, 1500, "only %ld connections tracked at the peak", peak);
	cr_expect_leq(peak, (long)max);
	proc_release(&lg);
	time_sleep_ns(1500 * NSEC_PER_MSEC);
	after = map_entries("conns", &max);
	cr_expect_leq(after, 10, "%ld connections still tracked after all closed", after);
	chaos(NULL);
}

Test(churn, thirty_seconds_of_new_connections_keep_memory_flat)
{
	uint32_t max = 0;
	long rss_start = 0, rss_end, most = 0, n;
	uint64_t t0 = time_mono_ns();
	struct proc lg;

	cr_assert_eq(proc_start(&lg, (const char *const[]){ LOADGEN, "--target", users.url, "--mix",
							    "users", "--rps", "400", "--duration",
							    "30", "--new-connections",
							    "--progress-s", "0", NULL }),
		     0);
	while (proc_wait_exit(&lg, 500) == -ETIMEDOUT) {
		if (!rss_start && time_mono_ns() - t0 > 5 * NSEC_PER_SEC)
			rss_start = proc_rss_kb(agent.pid);
		n = map_entries("conns", &max);
		if (n > most)
			most = n;
	}
	rss_end = proc_rss_kb(agent.pid);
	cr_assert_not_null(strstr(buf_str(&lg.out), "errors 0"), "%s", buf_str(&lg.out));
	proc_release(&lg);
	cr_expect_lt(most, 2000, "%ld connections tracked during churn", most);
	cr_expect_leq(rss_end - rss_start, 2048, "agent RSS %ld -> %ld kB", rss_start, rss_end);
	time_sleep_ns(1500 * NSEC_PER_MSEC);
	n = map_entries("conns", &max);
	cr_expect_leq(n, 10, "%ld connections still tracked after churn", n);
}
