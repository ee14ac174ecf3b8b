/*
 * The daemons' whole lives under valgrind: prp-aggregator and prp-agent
 * start, stream real windows (the demo users service under load), answer the
 * API (good and bad requests), and stop on SIGTERM. Both must exit 0 with no
 * leak and no invalid access.
 *
 * The agent runs with --undef-value-errors=no: valgrind does not know that
 * the kernel fills the buffers of the bpf() commands it does not model (map
 * batch look-ups), so every value read from a BPF map would look undefined.
 * Invalid reads and writes and leaks are still errors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/admin_key.h"
#include "tests/lib/demo_services.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"

#define KEY "lifecycle-key-0123456789"
#define API "http://127.0.0.1:18491"
/* not the ports of the other suites: a leftover of one never blocks another */

static struct demo_service users;
static struct proc agg, agent;
static char dir[] = "/tmp/prp-life-XXXXXX";

/* Whatever a failed assertion left running is stopped here. */
static void teardown(void)
{
	char cmd[160];

	/* out_fd 0 is a never-started proc: the runner's stdin is never one of its pipes */
	if (agent.pid || agent.out_fd > 0)
		proc_release(&agent);
	if (agg.pid || agg.out_fd > 0)
		proc_release(&agg);
	if (users.proc.pid || users.proc.out_fd > 0)
		proc_release(&users.proc);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (dir[strlen(dir) - 1] != 'X')
		cr_expect_eq(system(cmd), 0);
	test_no_leaks();
}

TestSuite(daemons, .fini = teardown, .timeout = 300);

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static long get(const char *path, struct buf *body)
{
	char url[256];
	long status = 0;

	snprintf(url, sizeof(url), API "%s", path);
	buf_reset(body);
	cr_assert_eq(http_call("GET", url, NULL, &status, body, NULL), 0, "GET %s", path);
	return status;
}

/* The admin key made at first start: private to its owner, and sent by every later call. */
static void use_admin_key(const char *data)
{
	char path[256], key[128] = "";
	struct stat st;

	snprintf(path, sizeof(path), "%s/admin.key", data);
	cr_assert_eq(stat(path, &st), 0, "no %s", path);
	cr_assert_eq(st.st_mode & 0777, 0600, "%s has mode %o", path, st.st_mode & 0777);
	cr_assert_eq(admin_key_read(data, key, sizeof(key)), 0);
	cr_assert_eq(strncmp(key, "prp_", 4), 0);
	http_set_api_key(key);
}

/* @method @path with @body as the admin: the status. */
static long call(const char *method, const char *path, const char *body, struct buf *resp)
{
	char url[256];
	long status = 0;

	snprintf(url, sizeof(url), API "%s", path);
	buf_reset(resp);
	cr_assert_eq(http_call(method, url, body, &status, resp, NULL), 0, "%s %s", method, path);
	return status;
}

static void expect_clean_exit(struct proc *p, const char *name)
{
	cr_assert_eq(proc_stop(p, 60000), 0, "%s: no exit after SIGTERM", name);
	cr_assert(WIFEXITED(p->status), "%s killed by a signal: %s", name, buf_str(&p->err));
	cr_expect_eq(WEXITSTATUS(p->status), 0, "%s: exit %d: %s", name, WEXITSTATUS(p->status),
		     buf_str(&p->err));
	cr_expect_null(strstr(buf_str(&p->err), "definitely lost"), "%s", buf_str(&p->err));
}

Test(daemons, aggregator_and_agent_are_clean_under_valgrind_from_start_to_sigterm)
{
	char path[256], keys[128], data[128], spool[128], lock[128], key_file[160], svc[64];
	struct buf body;
	long requests = 0;

	cr_assert_eq(geteuid(), 0, "the agent needs root");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	snprintf(lock, sizeof(lock), "%s/lock", dir);
	snprintf(key_file, sizeof(key_file), "%s/default/tenant.key", keys);
	cr_assert_eq(mkdir(keys, 0700), 0);
	snprintf(path, sizeof(path), "%s/default", keys);
	cr_assert_eq(mkdir(path, 0700), 0);
	write_file(key_file, KEY);
	demo_service_start(&users, (const char *const[]){ "--name", "users", "--port", "0", NULL });

	cr_assert_eq(proc_start(&agg, (const char *const[]){ "/usr/bin/valgrind",
							     "--leak-check=full",
							     "--errors-for-leak-kinds=definite,indirect",
							     "--error-exitcode=99", "--quiet",
							     PRP_BUILD_DIR "/prp-aggregator", "--data",
							     data, "--keys-dir", keys, "--listen",
							     "127.0.0.1:18491", "--ingest",
							     "tcp://127.0.0.1:18490",
							     "--api-rate-limit-role", "admin:0/0",
							     NULL }),
		     0);
	cr_assert_eq(proc_wait_for(&agg, "HTTP on", 60000), 0, "%s", buf_str(&agg.err));
	use_admin_key(data);
	snprintf(svc, sizeof(svc), "users=port:%d", users.port);
	cr_assert_eq(proc_start(&agent,
				(const char *const[]){
					"/usr/bin/valgrind", "--leak-check=full",
					"--errors-for-leak-kinds=definite,indirect",
					"--undef-value-errors=no",
					"--suppressions=tests/valgrind/bpf.supp", "--error-exitcode=99",
					"--quiet", PRP_BUILD_DIR "/prp-agent", "--aggregator",
					"tcp://127.0.0.1:18490", "--key-file", key_file, "--spool-dir",
					spool, "--lock-file", lock, "--interval-ms", "500", "--service",
					svc, NULL }),
		     0);
	cr_assert_eq(proc_wait_for(&agent, "agent: watching 1 services", 120000), 0, "%s",
		     buf_str(&agent.err));
	for (int i = 0; i < 20; i++)
		demo_request(&users, "GET", "/users/7", NULL, 200);

	buf_init(&body, 1 << 22);
	for (int i = 0; i < 200 && requests < 20; i++) {
		usleep(100000);
		if (get("/services/users?since=1h", &body) == 200)
			requests = strtol(strstr(buf_str(&body), "\"requests\":") + 11, NULL, 10);
	}
	cr_expect_eq(requests, 20);
	cr_expect_eq(get("/health", &body), 200);
	cr_expect_eq(get("/services/health", &body), 200);
	cr_expect_eq(get("/topology", &body), 200);
	cr_expect_eq(get("/agents", &body), 200);
	cr_expect_eq(get("/services/users/series?metric=requests&since=5m", &body), 200);
	cr_expect_eq(get("/services/nosuch", &body), 404);
	cr_expect_eq(get("/services/users?since=garbage", &body), 400);
	cr_expect_eq(get("/nowhere", &body), 404);
	/* auth, keys, the audit log and a backup, under valgrind too */
	cr_expect_eq(call("POST", "/keys", "{\"name\": \"ci\", \"role\": \"viewer\"}", &body),
		     201);
	cr_expect_eq(call("GET", "/audit", NULL, &body), 200);
	snprintf(path, sizeof(path), "{\"path\": \"%s/backup.db\"}", data);
	cr_expect_eq(call("POST", "/admin/backup", path, &body), 200, "%s", buf_str(&body));
	http_set_api_key(NULL);
	cr_expect_eq(get("/services", &body), 401);
	cr_expect_eq(get("/health", &body), 200);
	buf_release(&body);
	/* the access log: who, what, how it ended (written once the answer is sent) */
	cr_expect_eq(proc_wait_for(&agg, "http: GET /services 401 ", 10000), 0, "%s",
		     buf_str(&agg.err));
	cr_expect_not_null(strstr(buf_str(&agg.err), " by key:1 from 127.0.0.1 request_id="));

	expect_clean_exit(&agent, "prp-agent");
	expect_clean_exit(&agg, "prp-aggregator");
	proc_stop(&users.proc, 5000);
}
