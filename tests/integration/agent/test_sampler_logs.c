/*
 * The logs sampler on the real kernel. A forked child, watched, writes
 * known bytes to fds 1 and 2 with write(2) (its fds point at /dev/null or a
 * pipe of its own), and the lines must come out exactly once, in order per
 * stream, with the right stream and service:
 *  - in process: the sampler's windows, for lines split across writes,
 *    several lines in one write, a 20 KiB line (two pieces of
 *    logs.max_line), a write that fails (EBADF) and one a full non-blocking
 *    pipe refuses (EAGAIN) then takes when retried, and an unwatched
 *    process that is not heard;
 *  - end to end: prp-agent streaming to prp-aggregator, whose Loki
 *    exporter pushes to tests/lib/http_sink: the pushed JSON has the lines
 *    with the labels service_name, host, level and source.
 * Needs root; it fails, never skips, without it. Ports 19270 and 19281 are
 * this test's alone.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/loader.h"
#include "agent/sampler_logs.h"
#include "agent/services.h"
#include "common/timeutil.h"
#include "common/window.h"
#include "tests/lib/fdio.h"
#include "tests/lib/http_sink.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"
#include "tests/lib/tmpdir.h"

#define AGENT	   PRP_BUILD_DIR "/prp-agent"
#define AGGREGATOR PRP_BUILD_DIR "/prp-aggregator"
#define KEY	   "logs-test-key-0123456789"
#define BIG_LEN	   (20 * 1024)
#define MAX_LINE   16384

/* ---- the watched child ---- */

struct child {
	pid_t pid;
	int go;	    /* write end: one byte starts the script */
	int status; /* read end: the script's int result */
};

typedef int child_script_fn(void);

/* Forks a child with fds 1 and 2 on /dev/null that runs @script once told to. */
static void child_start(struct child *c, child_script_fn *script)
{
	int go[2], st[2];

	/* close-on-exec: an agent started later must not hold them */
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(st, O_CLOEXEC), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (!c->pid) {
		int null = open("/dev/null", O_WRONLY), rc;
		char b;

		/* nothing of the test's but its own pipes: another child's would keep it alive */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != go[0] && fd != st[1] && fd != null)
				close(fd);
		if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(1);
		close(null);
		if (read(go[0], &b, 1) != 1)
			_exit(1);
		rc = script();
		if (fdio_write_exact(st[1], &rc, sizeof(rc)))
			_exit(1);
		/* stay until told to go, so that the tgid is not reused meanwhile */
		(void)!read(go[0], &b, 1);
		_exit(0);
	}
	close(go[0]);
	close(st[1]);
	c->go = go[1];
	c->status = st[0];
}

/* Runs the script; returns its result. */
static int child_run(struct child *c)
{
	int rc = -1;

	cr_assert_eq(fdio_write_exact(c->go, "g", 1), 0);
	cr_assert_eq(fdio_read_exact(c->status, &rc, sizeof(rc)), 0, "the child died");
	return rc;
}

static void child_stop(struct child *c)
{
	int status;

	close(c->go);
	close(c->status);
	cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

static int put(int fd, const char *s)
{
	return write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -errno;
}

static char *big_line(void)
{
	char *b = malloc(BIG_LEN + 1);

	for (size_t i = 0; i < BIG_LEN; i++)
		b[i] = (char)('A' + i % 26);
	b[BIG_LEN] = '\n';
	return b;
}

/* Lines split across writes, several lines in a write, a 20 KiB line in one write. */
static int script_lines(void)
{
	char *big = big_line();
	int err = put(1, "out 1\n") ?: put(2, "err 1\n") ?: put(1, "out 2 first half ");

	if (!err)
		usleep(20000); /* a drain may come in between: the line waits for its end */
	err = err ?: put(1, "second half\n") ?: put(2, "err 2\nerr 3\n");
	if (!err && write(1, big, BIG_LEN + 1) != BIG_LEN + 1)
		err = -errno;
	err = err ?: put(1, "out 3\n") ?: put(2, "e4\ne5\ne6\ne7\ne8\n");
	free(big);
	return err;
}

/* A write that fails, and one refused by a full non-blocking pipe then retried. */
static int script_failures(void)
{
	char block[4096];
	int p[2], n = 0;

	close(1);
	if (write(1, "lost\n", 5) != -1 || errno != EBADF)
		return -EPROTO;
	if (open("/dev/null", O_WRONLY) != 1 || put(1, "after\n"))
		return -EIO;
	/* 64 lines of 63 'f': a write of PIPE_BUF bytes is all or nothing */
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = i % 64 == 63 ? '\n' : 'f';
	if (pipe2(p, O_NONBLOCK) || dup2(p[1], 1) != 1)
		return -errno;
	while (write(1, block, sizeof(block)) == (ssize_t)sizeof(block))
		n++;
	if (errno != EAGAIN || write(1, "retry\n", 6) != -1 || errno != EAGAIN)
		return -EPROTO;
	while (read(p[0], block, sizeof(block)) > 0)
		;
	if (put(1, "retry\n"))
		return -EIO;
	return n; /* blocks of filler written */
}

static int script_unwatched(void)
{
	return put(1, "nobody hears this\n");
}

/* ---- the sampler in process ---- */

static struct sampler_logs sampler;

static void sampler_setup(void)
{
	cr_assert_eq(geteuid(), 0, "the logs sampler needs root");
	cr_assert_eq(loader_init(), 0);
	cr_assert_eq(
		sampler_logs_start(&sampler,
				   &(struct sampler_logs_config){ .max_line = MAX_LINE,
								  .rate_limit = 0,
								  .max_lines_per_window = 10000 }),
		0);
}

static void sampler_teardown(void)
{
	sampler_logs_stop(&sampler);
	test_no_leaks();
}

TestSuite(agent_sampler_logs, .init = sampler_setup, .fini = sampler_teardown, .timeout = 120);

static void watch(const pid_t *pids, size_t n)
{
	struct service_set *set = calloc(1, sizeof(*set));

	set->n = 1;
	set->items[0].id = 7;
	snprintf(set->items[0].name, sizeof(set->items[0].name), "writer");
	for (size_t i = 0; i < n; i++)
		set->items[0].pids[i] = (uint32_t)pids[i];
	set->items[0].npids = n;
	cr_assert_eq(sampler_logs_set_targets(&sampler, set), 0);
	free(set);
}

/* The lines of service 7 on @fd, in order, into @out (a JSON array of strings). */
static json_t *lines_of(const struct window *w, uint8_t fd)
{
	json_t *a = json_array();

	for (size_t i = 0; w && i < w->nlogs; i++)
		if (w->logs[i].stream == fd)
			json_array_append_new(a, json_stringn(w->logs[i].text, w->logs[i].len));
	return a;
}

static void expect_lines(json_t *got, const char *const *want, size_t n, const char *what)
{
	cr_assert_eq(json_array_size(got), n, "%s: %zu lines, want %zu", what, json_array_size(got),
		     n);
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(json_string_value(json_array_get(got, i)), want[i], "%s line %zu",
				 what, i);
}

Test(agent_sampler_logs, every_line_once_in_order_with_its_stream_and_service)
{
	static const char *const err_want[] = { "err 1", "err 2", "err 3", "e4",
						"e5",	 "e6",	  "e7",	   "e8" };
	struct child c, other;
	struct window_set ws;
	struct window *w;
	json_t *out, *err;
	char *big = big_line();
	uint64_t before = time_real_ns();

	child_start(&c, script_lines);
	child_start(&other, script_unwatched);
	watch(&c.pid, 1);
	cr_assert_eq(child_run(&c), 0);
	cr_assert_eq(child_run(&other), 0);
	window_set_init(&ws);
	cr_assert_eq(sampler_logs_collect(&sampler, &ws), 0);
	w = ws.by_id[7];
	cr_assert_not_null(w, "no window for the service");
	out = lines_of(w, 1);
	err = lines_of(w, 2);
	cr_assert_eq(json_array_size(out), 5, "stdout lines: %zu", json_array_size(out));
	cr_expect_str_eq(json_string_value(json_array_get(out, 0)), "out 1");
	cr_expect_str_eq(json_string_value(json_array_get(out, 1)), "out 2 first half second half");
	cr_expect_eq(json_string_length(json_array_get(out, 2)), MAX_LINE);
	cr_expect_eq(memcmp(json_string_value(json_array_get(out, 2)), big, MAX_LINE), 0);
	cr_expect_eq(json_string_length(json_array_get(out, 3)), BIG_LEN - MAX_LINE);
	cr_expect_eq(memcmp(json_string_value(json_array_get(out, 3)), big + MAX_LINE,
			    BIG_LEN - MAX_LINE),
		     0);
	cr_expect_str_eq(json_string_value(json_array_get(out, 4)), "out 3");
	expect_lines(err, err_want, PRP_ARRAY_SIZE(err_want), "stderr");
	for (size_t i = 0; i < w->nlogs; i++) {
		cr_expect_geq(w->logs[i].ts_ns, (int64_t)before, "a unix time");
		cr_expect_leq(w->logs[i].ts_ns, (int64_t)time_real_ns());
		cr_expect_null(strstr(w->logs[i].text, "nobody"), "an unwatched process was heard");
	}
	for (uint16_t id = 1; id <= SERVICES_MAX; id++)
		cr_expect(id == 7 || !ws.by_id[id] || !ws.by_id[id]->nlogs, "lines for service %u",
			  id);
	json_decref(out);
	json_decref(err);
	window_set_release(&ws);
	child_stop(&c);
	child_stop(&other);
	free(big);
}

Test(agent_sampler_logs, only_what_a_write_wrote_counts)
{
	struct child c;
	struct window_set ws;
	struct window *w;
	json_t *out;
	size_t fillers = 0, retries = 0;
	int blocks;

	child_start(&c, script_failures);
	watch(&c.pid, 1);
	blocks = child_run(&c);
	cr_assert_gt(blocks, 0, "the script failed: %d", blocks);
	window_set_init(&ws);
	cr_assert_eq(sampler_logs_collect(&sampler, &ws), 0);
	w = ws.by_id[7];
	cr_assert_not_null(w);
	out = lines_of(w, 1);
	cr_expect_str_eq(json_string_value(json_array_get(out, 0)), "after",
			 "the failed write was heard, or the next one not");
	for (size_t i = 1; i < json_array_size(out); i++) {
		const char *s = json_string_value(json_array_get(out, i));

		if (!strcmp(s, "retry"))
			retries++;
		else if (strlen(s) == 63 && strspn(s, "f") == 63)
			fillers++;
		else
			cr_expect_fail("unexpected line '%.40s'", s);
	}
	cr_expect_eq(fillers, (size_t)blocks * 64, "filler lines: %zu for %d blocks", fillers,
		     blocks);
	cr_expect_eq(retries, 1, "the refused write was heard: %zu retries", retries);
	cr_expect_str_eq(json_string_value(json_array_get(out, json_array_size(out) - 1)), "retry");
	json_decref(out);
	window_set_release(&ws);
	child_stop(&c);
}

/* ---- end to end: agent, aggregator, Loki ---- */

static char dir[64];
static struct proc aggregator, agent;
static struct http_sink *loki;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void e2e_setup(void)
{
	static const int ok[] = { 204 };
	char data[128], keys[128], path[192], url[64];

	cr_assert_eq(geteuid(), 0, "the agent needs root");
	tmpdir_make(dir, sizeof(dir), "logs-e2e");
	aggregator = agent = (struct proc){ .out_fd = -1, .err_fd = -1 };
	loki = http_sink_start(ok, 1, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", http_sink_port(loki));
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	cr_assert_eq(mkdir(keys, 0700), 0);
	snprintf(path, sizeof(path), "%s/default", keys);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/default/tenant.key", keys);
	write_file(path, KEY "\n");
	cr_assert_eq(proc_start(&aggregator,
				(const char *const[]){
					AGGREGATOR, "--data", data, "--keys-dir", keys, "--listen",
					"127.0.0.1:19281", "--ingest", "tcp://127.0.0.1:19270",
					"--no-auth", "--no-http-access-log", "--loki-url", url,
					"--loki-flush-interval", "100ms", NULL }),
		     0);
	cr_assert_eq(proc_wait_for(&aggregator, "HTTP on", 15000), 0, "aggregator: %s",
		     buf_str(&aggregator.err));
}

static void e2e_teardown(void)
{
	if (agent.pid)
		proc_stop(&agent, 15000);
	proc_release(&agent);
	if (aggregator.pid)
		proc_stop(&aggregator, 15000);
	proc_release(&aggregator);
	http_sink_stop(loki);
	tmpdir_remove(dir);
	test_no_leaks();
}

static void e2e_agent_start(pid_t watched)
{
	char key_file[128], spool[128], lock[128], svc[64];

	snprintf(key_file, sizeof(key_file), "%s/agent.key", dir);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	snprintf(lock, sizeof(lock), "%s/agent.lock", dir);
	snprintf(svc, sizeof(svc), "writer=pid:%d", (int)watched);
	write_file(key_file, KEY "\n");
	/* the logs sampler alone: this test is about lines */
	cr_assert_eq(proc_start(&agent, (const char *const[]){ AGENT,
							       "--aggregator",
							       "tcp://127.0.0.1:19270",
							       "--key-file",
							       key_file,
							       "--spool-dir",
							       spool,
							       "--agent-id",
							       "logs-1",
							       "--host",
							       "logs-host",
							       "--lock-file",
							       lock,
							       "--service",
							       svc,
							       "--interval-ms",
							       "500",
							       "--logs-enabled",
							       "--no-samplers-http",
							       "--no-samplers-syscalls",
							       "--no-samplers-tcp",
							       NULL }),
		     0);
	cr_assert_eq(proc_wait_for(&agent, "agent: watching 1 services", 15000), 0, "agent: %s",
		     buf_str(&agent.err));
}

/*
 * Every entry pushed so far into @by_source ("stdout" and "stderr": arrays
 * of lines, in Loki's order); asserts the labels. Returns the entries.
 */
static size_t pushed(json_t *by_source)
{
	size_t total = 0;

	json_object_set_new(by_source, "stdout", json_array());
	json_object_set_new(by_source, "stderr", json_array());
	for (size_t i = 0; i < http_sink_count(loki); i++) {
		char *head, *body;
		json_t *o, *st;
		size_t j;

		cr_assert(http_sink_get(loki, i, &head, &body));
		o = json_loads(body, 0, NULL);
		cr_assert_not_null(o, "not JSON: %.200s", body);
		json_array_foreach(json_object_get(o, "streams"), j, st) {
			json_t *labels = json_object_get(st, "stream"), *v;
			const char *source = json_string_value(json_object_get(labels, "source"));
			size_t k;

			if (!source || (strcmp(source, "stdout") && strcmp(source, "stderr")))
				continue; /* an event, not a line */
			cr_expect_str_eq(json_string_value(json_object_get(labels, "service_name")),
					 "writer");
			cr_expect_str_eq(json_string_value(json_object_get(labels, "host")),
					 "logs-host");
			cr_expect_not_null(json_string_value(json_object_get(labels, "level")));
			json_array_foreach(json_object_get(st, "values"), k, v) {
				json_array_append(json_object_get(by_source, source),
						  json_array_get(v, 1));
				total++;
			}
		}
		json_decref(o);
		free(head);
		free(body);
	}
	return total;
}

TestSuite(agent_logs_e2e, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

Test(agent_logs_e2e, lines_reach_loki_with_their_labels)
{
	static const char *const err_want[] = { "err 1", "err 2", "err 3", "e4",
						"e5",	 "e6",	  "e7",	   "e8" };
	json_t *by = json_object(), *out;
	char *big = big_line();
	struct child c;
	size_t n = 0;

	child_start(&c, script_lines);
	e2e_agent_start(c.pid);
	cr_assert_eq(child_run(&c), 0);
	for (int waited = 0; (n = pushed(by)) < 13; waited += 100) {
		cr_assert_lt(waited, 20000, "%zu of 13 lines pushed\nagent: %s\naggregator: %s", n,
			     buf_str(&agent.err), buf_str(&aggregator.err));
		time_sleep_ns(100 * NSEC_PER_MSEC);
	}
	time_sleep_ns(1500 * NSEC_PER_MSEC); /* anything more would come now */
	cr_expect_eq(pushed(by), 13, "a line was pushed twice");
	out = json_object_get(by, "stdout");
	cr_assert_eq(json_array_size(out), 5);
	cr_expect_str_eq(json_string_value(json_array_get(out, 0)), "out 1");
	cr_expect_str_eq(json_string_value(json_array_get(out, 1)), "out 2 first half second half");
	cr_expect_eq(memcmp(json_string_value(json_array_get(out, 2)), big, MAX_LINE), 0);
	cr_expect_eq(memcmp(json_string_value(json_array_get(out, 3)), big + MAX_LINE,
			    BIG_LEN - MAX_LINE),
		     0);
	cr_expect_str_eq(json_string_value(json_array_get(out, 4)), "out 3");
	expect_lines(json_object_get(by, "stderr"), err_want, PRP_ARRAY_SIZE(err_want), "stderr");
	json_decref(by);
	child_stop(&c);
	free(big);
}

/* ---- prp-agent --print-logs, no aggregator ---- */

static struct proc printer;

static void print_teardown(void)
{
	if (printer.pid)
		proc_stop(&printer, 15000);
	proc_release(&printer);
	test_no_leaks();
}

TestSuite(agent_print_logs, .fini = print_teardown, .timeout = 120);

Test(agent_print_logs, prints_each_line_once_next_to_the_windows)
{
	static const char *const want[] = { "out 1", "err 1", "out 2 first half second half" };
	char svc[64], lock[64];
	size_t found[3] = { 0 };
	struct child c;
	const char *p;

	cr_assert_eq(geteuid(), 0, "the agent needs root");
	printer = (struct proc){ .out_fd = -1, .err_fd = -1 };
	child_start(&c, script_lines);
	snprintf(svc, sizeof(svc), "writer=pid:%d", (int)c.pid);
	snprintf(lock, sizeof(lock), "/tmp/prp-logs-print-%d.lock", (int)getpid());
	cr_assert_eq(proc_start(&printer,
				(const char *const[]){
					AGENT, "--aggregator", "", "--print", "--print-logs",
					"--logs-enabled", "--lock-file", lock, "--service", svc,
					"--interval-ms", "500", "--no-samplers-http",
					"--no-samplers-syscalls", "--no-samplers-tcp", NULL }),
		     0);
	cr_assert_eq(proc_wait_for(&printer, "agent: watching 1 services", 15000), 0, "agent: %s",
		     buf_str(&printer.err));
	cr_assert_eq(child_run(&c), 0);
	cr_assert_eq(proc_wait_for(&printer, "\"line\":\"e8\"", 15000), 0, "no line printed: %s",
		     buf_str(&printer.out));
	cr_assert_eq(proc_stop(&printer, 15000), 0);
	cr_assert(WIFEXITED(printer.status) && WEXITSTATUS(printer.status) == 0);
	for (p = buf_str(&printer.out); *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_t *o = json_loadb(p, len, 0, NULL), *line;

		cr_assert_not_null(o, "not JSON: %.*s", (int)len, p);
		line = json_object_get(o, "line");
		if (line) {
			cr_expect_str_eq(json_string_value(json_object_get(o, "service")),
					 "writer");
			for (size_t i = 0; i < PRP_ARRAY_SIZE(want); i++)
				if (!strcmp(json_string_value(line), want[i])) {
					found[i]++;
					cr_expect_str_eq(
						json_string_value(json_object_get(o, "stream")),
						i == 1 ? "stderr" : "stdout");
				}
		} else {
			cr_expect_not_null(json_object_get(o, "http"), "a window line");
		}
		json_decref(o);
		p += len + (nl ? 1 : 0);
	}
	for (size_t i = 0; i < PRP_ARRAY_SIZE(want); i++)
		cr_expect_eq(found[i], 1, "'%s' printed %zu times", want[i], found[i]);
	child_stop(&c);
}
