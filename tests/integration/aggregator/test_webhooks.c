/*
 * Webhook deliveries survive the aggregator's death: the real
 * prp-aggregator, a receiver that fails the first attempts, events
 * triggered, the daemon killed with SIGKILL while deliveries wait for a
 * retry, started again on the same data directory: every event reaches
 * the receiver, signed, and the delivery log says so.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/hmac.h"
#include "tests/lib/admin_key.h"
#include "tests/lib/http.h"
#include "tests/lib/http_sink.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"
#include "tests/lib/tmpdir.h"

#define AGGREGATOR PRP_BUILD_DIR "/prp-aggregator"
#define LISTEN	   "127.0.0.1:18981"
#define API	   "http://" LISTEN
#define SECRET	   "hook-secret-0123"
#define EVENTS	   3

static char dir[128];
static struct proc agg;

static void setup(void)
{
	cr_assert_eq(geteuid(), 0, "the integration tests run as root, as CI does");
	tmpdir_make(dir, sizeof(dir), "webhooks");
}

static void teardown(void)
{
	if (agg.pid)
		proc_stop(&agg, 5000);
	proc_release(&agg);
	http_set_api_key(NULL);
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(webhooks_daemon, .init = setup, .fini = teardown);

static void start(void)
{
	char data[192], keys[192], key[128] = "";

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	agg = (struct proc){ .out_fd = -1, .err_fd = -1 };
	/* retries 0.5 s, then at most 1 s apart: the kill lands while deliveries wait for one */
	cr_assert_eq(proc_start(&agg, (const char *const[]){ AGGREGATOR, "--data", data,
							     "--keys-dir", keys, "--listen", LISTEN,
							     "--ingest", "tcp://127.0.0.1:18970",
							     "--webhooks-backoff", "500ms",
							     "--webhooks-backoff-max", "1s",
							     "--webhooks-max-attempts", "20",
							     "--no-http-access-log", NULL }),
		     0);
	cr_assert_eq(proc_wait_for(&agg, ", auth o", 15000), 0, "%s", buf_str(&agg.err));
	cr_assert_eq(admin_key_read(data, key, sizeof(key)), 0);
	http_set_api_key(key);
}

static json_t *api(long want, const char *method, const char *path, const char *body)
{
	struct buf resp;
	long status = 0;
	json_t *d;
	char url[256];

	buf_init(&resp, 1 << 22);
	snprintf(url, sizeof(url), API "%s", path);
	cr_assert_eq(http_call(method, url, body, &status, &resp, NULL), 0, "%s %s", method, path);
	cr_assert_eq(status, want, "%s %s: %ld: %s", method, path, status, buf_str(&resp));
	d = json_loads(buf_str(&resp), 0, NULL);
	buf_release(&resp);
	return d;
}

Test(webhooks_daemon, pending_deliveries_survive_a_kill)
{
	/* the first four attempts fail, every later one succeeds */
	static const int script[] = { 500, 500, 500, 500, 200 };
	struct http_sink *sink = http_sink_start(script, 5, NULL);
	char body[256];
	int seen[EVENTS] = { 0 };
	json_t *d;

	start();
	snprintf(body, sizeof(body),
		 "{\"url\": \"http://127.0.0.1:%u/hook\", \"events\": [\"anomaly.detected\"], "
		 "\"secret\": \"" SECRET "\"}",
		 http_sink_port(sink));
	json_decref(api(201, "POST", "/webhooks", body));
	for (int i = 0; i < EVENTS; i++) {
		snprintf(body, sizeof(body),
			 "{\"event\": \"anomaly.detected\", \"data\": {\"service\": \"payments\", "
			 "\"n\": %d}}",
			 i);
		json_decref(api(202, "POST", "/trigger", body));
	}
	/* the first attempt failed: everything now waits for its retry */
	for (int i = 0; i < 500 && http_sink_count(sink) < 1; i++)
		usleep(10000);
	cr_assert_geq(http_sink_count(sink), 1);
	kill(agg.pid, SIGKILL);
	cr_assert_eq(proc_wait_exit(&agg, 5000), 0);
	cr_assert(WIFSIGNALED(agg.status));
	proc_release(&agg);

	start();
	for (int i = 0; i < 3000 && http_sink_count(sink) < 4 + EVENTS; i++)
		usleep(10000);
	cr_assert_geq(http_sink_count(sink), 4 + EVENTS, "%zu requests", http_sink_count(sink));
	/* the answered ones: each event, signed, in the order triggered */
	for (size_t r = 4; r < http_sink_count(sink); r++) {
		char *head, *text, *sig, want[80], mac[HMAC_SHA256_HEX_LEN];
		json_t *ev;
		int n;

		cr_assert(http_sink_get(sink, r, &head, &text));
		cr_assert_eq(hmac_sha256_hex(SECRET, strlen(SECRET), text, strlen(text), mac), 0);
		snprintf(want, sizeof(want), "sha256=%s", mac);
		sig = http_sink_header(head, "X-Webhook-Signature");
		cr_assert_not_null(sig);
		cr_assert_str_eq(sig, want);
		ev = json_loads(text, 0, NULL);
		n = (int)jget_int(json_object_get(ev, "data"), "n");
		cr_assert(n >= 0 && n < EVENTS);
		if (r < 4 + EVENTS)
			cr_assert_eq(n, (int)(r - 4), "out of order: event %d at %zu", n, r);
		seen[n]++;
		json_decref(ev);
		free(sig);
		free(head);
		free(text);
	}
	for (int i = 0; i < EVENTS; i++)
		cr_assert_geq(seen[i], 1, "event %d never delivered", i);
	/* the log agrees once the last delivery is written */
	for (int i = 0; i < 200; i++) {
		d = api(200, "GET", "/webhooks/history?status=succeeded", NULL);
		if (jget_int(d, "count") >= EVENTS)
			break;
		json_decref(d);
		d = NULL;
		usleep(20000);
	}
	cr_assert_not_null(d, "the delivery log never showed every event delivered");
	cr_assert_eq(jget_int(d, "count"), EVENTS);
	json_decref(d);
	cr_assert_eq(proc_stop(&agg, 20000), 0);
	http_sink_stop(sink);
}
