/*
 * Agent -> aggregator streaming, end to end, with the real programs: the demo
 * users service, prp-agent watching it through eBPF, prp-aggregator storing
 * what the agent sends. Requests sent are counted exactly by the aggregator
 * (GET /services/users), through aggregator crashes (kill -9), an agent
 * crash while the aggregator is away, and a long outage; forged frames are
 * refused and counted; a command goes to the agent and its result comes back.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aggregator/ingest.h"
#include "common/frame.h"
#include "common/timeutil.h"
#include "tests/lib/demo_services.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"

#define AGENT PRP_BUILD_DIR "/prp-agent"
#define AGGREGATOR PRP_BUILD_DIR "/prp-aggregator"
#define INGEST_URL "tcp://127.0.0.1:18470"
#define HTTP_LISTEN "127.0.0.1:18481"
#define API "http://" HTTP_LISTEN
#define KEY "test-key-0123456789abcdef"

static char dir[64], data[128], keys[128], spool[128], key_file[128], lock[128];
static struct demo_service users;
static struct proc agent, aggregator;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void setup(void)
{
	char path[256];

	cr_assert_eq(geteuid(), 0, "the streaming tests need root (the agent loads eBPF)");
	snprintf(dir, sizeof(dir), "/tmp/prp-stream-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	snprintf(key_file, sizeof(key_file), "%s/agent.key", dir);
	snprintf(lock, sizeof(lock), "%s/agent.lock", dir);
	snprintf(path, sizeof(path), "%s/default", keys);
	cr_assert_eq(mkdir(keys, 0700), 0);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/default/tenant.key", keys);
	write_file(path, KEY "\n");
	write_file(key_file, KEY "\n");
	/* released-looking: the helpers below release before each start */
	agent = (struct proc){ .out_fd = -1, .err_fd = -1 };
	aggregator = (struct proc){ .out_fd = -1, .err_fd = -1 };
	demo_service_start(&users, (const char *const[]){ "--name", "users", "--port", "0", NULL });
}

static void teardown(void)
{
	char cmd[160];

	if (agent.pid)
		proc_stop(&agent, 10000);
	proc_release(&agent);
	if (aggregator.pid)
		proc_stop(&aggregator, 10000);
	proc_release(&aggregator);
	proc_stop(&users.proc, 5000);
	proc_release(&users.proc);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
	test_no_leaks();
}

TestSuite(streaming, .init = setup, .fini = teardown, .timeout = 300);

static void aggregator_start(void)
{
	proc_release(&aggregator);
	cr_assert_eq(proc_start(&aggregator,
				(const char *const[]){ AGGREGATOR, "--data", data, "--keys-dir", keys,
						       "--listen", HTTP_LISTEN, "--ingest",
						       INGEST_URL, "--no-auth", NULL }),
		     0);
	cr_assert_eq(proc_wait_for(&aggregator, "HTTP on", 15000), 0, "aggregator: %s",
		     buf_str(&aggregator.err));
}

static void aggregator_kill9(void)
{
	kill(aggregator.pid, SIGKILL);
	cr_assert_eq(proc_wait_exit(&aggregator, 5000), 0);
}

static void agent_start(void)
{
	char svc[64];

	proc_release(&agent);
	snprintf(svc, sizeof(svc), "users=port:%d", users.port);
	cr_assert_eq(proc_start(&agent, (const char *const[]){ AGENT, "--aggregator", INGEST_URL,
							       "--key-file", key_file,
							       "--spool-dir", spool, "--agent-id",
							       "agent-1", "--interval-ms", "500",
							       "--lock-file", lock, "--service", svc,
							       NULL }),
		     0);
	cr_assert_eq(proc_wait_for(&agent, "agent: watching 1 services", 15000), 0, "agent: %s",
		     buf_str(&agent.err));
}

static void send_requests(int n)
{
	char path[64];

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/users/%d", 1 + i % 500);
		demo_request(&users, "GET", path, NULL, 200);
	}
}

/* GET @path on the aggregator's API: the parsed body, or NULL when it is down. */
static json_t *api_get(const char *path, long *status)
{
	char url[256];
	struct buf body;
	json_t *o = NULL;

	snprintf(url, sizeof(url), API "%s", path);
	buf_init(&body, 1 << 22);
	if (!http_call("GET", url, NULL, status, &body, NULL))
		o = json_loads(buf_str(&body), 0, NULL);
	buf_release(&body);
	return o;
}

/* The requests the aggregator counted for users over the last hour; -1 when unknown. */
static long stored_requests(void)
{
	long status = 0, n = -1;
	json_t *o = api_get("/services/users?since=1h", &status);

	if (o && status == 200)
		n = (long)json_integer_value(json_object_get(o, "requests"));
	json_decref(o);
	return n;
}

/* Waits until the stored count is @want, then checks it stays there (no late duplicate). */
static void expect_stored(long want, int timeout_s)
{
	long have = -1;

	for (int i = 0; i < timeout_s * 10; i++) {
		have = stored_requests();
		if (have >= want)
			break;
		time_sleep_ns(100 * NSEC_PER_MSEC);
	}
	cr_assert_eq(have, want,
		     "the aggregator counted %ld requests, %ld were sent\n"
		     "agent: %s\naggregator: %s",
		     have, want, buf_str(&agent.err), buf_str(&aggregator.err));
	time_sleep_ns(2 * NSEC_PER_SEC);
	cr_assert_eq(stored_requests(), want, "the count moved after it was reached");
}

Test(streaming, every_request_counted_exactly_once)
{
	aggregator_start();
	agent_start();
	send_requests(300);
	expect_stored(300, 20);
}

Test(streaming, aggregator_killed_three_times_loses_and_duplicates_nothing)
{
	aggregator_start();
	agent_start();
	for (int round = 0; round < 3; round++) {
		send_requests(100);
		time_sleep_ns(300 * NSEC_PER_MSEC); /* some frames stored, some in flight */
		aggregator_kill9();
		send_requests(100);
		time_sleep_ns(700 * NSEC_PER_MSEC);
		aggregator_start();
	}
	send_requests(50);
	expect_stored(650, 30);
}

Test(streaming, agent_killed_while_the_aggregator_is_away_keeps_its_spool)
{
	aggregator_start();
	agent_start();
	send_requests(100);
	expect_stored(100, 20);
	aggregator_kill9();
	send_requests(120);
	time_sleep_ns(1500 * NSEC_PER_MSEC); /* windows closed and spooled */
	kill(agent.pid, SIGKILL);
	cr_assert_eq(proc_wait_exit(&agent, 5000), 0);
	agent_start();
	aggregator_start();
	send_requests(80);
	expect_stored(300, 30);
}

/* The agent's own view of its spool (prp-agent --status). */
static json_t *agent_status(void)
{
	struct proc st = { 0 };
	json_t *o;

	cr_assert_eq(proc_start(&st, (const char *const[]){ AGENT, "--status", "--spool-dir",
							    spool, NULL }),
		     0);
	cr_assert_eq(proc_wait_exit(&st, 5000), 0);
	o = json_loads(buf_str(&st.out), 0, NULL);
	cr_assert_not_null(o, "--status printed: %s %s", buf_str(&st.out), buf_str(&st.err));
	proc_release(&st);
	return o;
}

Test(streaming, a_minute_without_aggregator_loses_nothing, .timeout = 400)
{
	long sent = 0, status = 0;
	json_t *st, *agents;

	aggregator_start();
	agent_start();
	send_requests(50);
	sent += 50;
	expect_stored(sent, 20);
	aggregator_kill9();
	for (int s = 0; s < 60; s++) {
		send_requests(20);
		sent += 20;
		time_sleep_ns(NSEC_PER_SEC);
	}
	st = agent_status();
	cr_expect(json_integer_value(json_object_get(st, "spool_bytes")) > 0,
		  "the agent's status shows no spool while the aggregator was away");
	cr_expect(json_integer_value(json_object_get(st, "spool_frames")) >= 100);
	cr_expect(json_is_false(json_object_get(st, "connected")));
	json_decref(st);
	aggregator_start();
	expect_stored(sent, 60);
	agents = api_get("/agents", &status);
	cr_assert_eq(status, 200);
	cr_expect_eq(json_array_size(json_object_get(agents, "agents")), 1);
	cr_expect_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(agents, "agents"), 0), "agent_id")),
			 "agent-1");
	json_decref(agents);
	st = agent_status();
	cr_expect_eq(json_integer_value(json_object_get(st, "spool_lost")), 0);
	json_decref(st);
}

/* Sends @len bytes as one request; true when a reply came within @ms. */
static bool send_raw(const void *p, size_t len, int ms)
{
	int s = nn_socket(AF_SP, NN_REQ), got;
	char *reply = NULL;

	cr_assert_geq(s, 0);
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof(ms));
	cr_assert_geq(nn_connect(s, INGEST_URL), 0);
	cr_assert_eq(nn_send(s, p, len, 0), (int)len);
	got = nn_recv(s, &reply, NN_MSG, 0);
	if (got >= 0)
		nn_freemsg(reply);
	nn_close(s);
	return got >= 0;
}

/* The count /health shows for one rejection reason. */
static long health_rejected(const char *reason)
{
	long status = 0, n = -1;
	json_t *o = api_get("/health", &status), *rej;

	rej = json_object_get(json_object_get(json_object_get(o, "components"), "ingest"),
			      "rejected_by_reason");
	if (json_is_object(rej))
		n = (long)json_integer_value(json_object_get(rej, reason));
	json_decref(o);
	return n;
}

static void frame_of(struct buf *out, const char *tenant, const char *agent_id, const char *key,
		     uint64_t seq)
{
	struct frame_header h = { .type = FRAME_HELLO, .seq = seq, .time_ms = 1 };
	const char *hello = "{\"version\":\"x\",\"host\":\"h\"}";

	snprintf(h.agent_id, sizeof(h.agent_id), "%s", agent_id);
	snprintf(h.tenant, sizeof(h.tenant), "%s", tenant);
	cr_assert_eq(frame_encode(out, &h, hello, strlen(hello), key, strlen(key)), 0);
}

Test(streaming, forged_and_unknown_frames_are_refused_and_counted)
{
	struct buf f;

	aggregator_start();
	buf_init(&f, 1 << 20);
	frame_of(&f, "default", "good", KEY, 0);
	cr_expect(send_raw(f.data, f.len, 3000), "a well signed hello got no reply");

	buf_reset(&f);
	frame_of(&f, "default", "forger", "not-the-key-0123456789", 0);
	cr_expect_not(send_raw(f.data, f.len, 1000), "a frame with a bad HMAC was answered");
	cr_expect_eq(health_rejected("hmac"), 1);

	buf_reset(&f);
	frame_of(&f, "nosuchtenant", "x", KEY, 0);
	cr_expect_not(send_raw(f.data, f.len, 1000));
	cr_expect_eq(health_rejected("unknown_agent"), 1);

	/* garbage and a truncated frame: refused, and the aggregator goes on */
	cr_expect_not(send_raw("garbage!", 8, 1000));
	buf_reset(&f);
	frame_of(&f, "default", "good", KEY, 0);
	cr_expect_not(send_raw(f.data, f.len - 5, 1000));
	cr_expect_geq(health_rejected("magic") + health_rejected("truncated"), 2);
	buf_reset(&f);
	frame_of(&f, "default", "good", KEY, 0);
	cr_expect(send_raw(f.data, f.len, 3000), "the aggregator stopped answering");
	buf_release(&f);
}

/* A command through an in-process ingest to the real agent, and its result back. */
Test(streaming, a_ping_command_reaches_the_agent_and_its_result_comes_back)
{
	struct ingest *in = NULL;
	char db[160], *result = NULL;
	uint64_t id = 0;
	int ret = -EAGAIN;

	snprintf(db, sizeof(db), "%s/inproc", dir);
	cr_assert_eq(mkdir(db, 0700), 0);
	cr_assert_eq(ingest_start(&in, &(struct ingest_config){ .url = INGEST_URL,
								 .keys_dir = keys,
								 .store = { .dir = db } }),
		     0);
	agent_start();
	cr_assert_eq(ingest_command(in, "default", "agent-1", "ping", NULL, &id), 0);
	for (int i = 0; i < 100 && ret == -EAGAIN; i++) {
		time_sleep_ns(100 * NSEC_PER_MSEC);
		ret = ingest_command_result(in, id, &result);
	}
	cr_assert_eq(ret, 0, "no result for the ping command");
	cr_expect(strstr(result, "\"pong\""), "result: %s", result);
	cr_expect(strstr(result, "\"succeeded\""), "result: %s", result);
	free(result);
	proc_stop(&agent, 10000);
	ingest_stop(in);
}
