/*
 * The daemon's security, with the real prp-aggregator: the admin key made
 * at first start (printed once, DATA/admin.key 0600, never again), and
 * the same rules on the --compat-ports; HTTPS
 * with a certificate made here, plain HTTP refused on its port, and `ab -n
 * 1000 -c 10` over it with no failure; a backup taken while windows stream
 * in, restored into a new data directory: the same anomalies, actions,
 * policies and keys.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator/store/store.h"
#include "aggregator/store/store_backup.h"
#include "common/frame.h"
#include "common/hist.h"
#include "common/timeutil.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/admin_key.h"
#include "tests/lib/http.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"
#include "tests/lib/sse_client.h"
#include "tests/lib/tmpdir.h"

#define AGGREGATOR PRP_BUILD_DIR "/prp-aggregator"
#define INGEST_A   "tcp://127.0.0.1:18870"
#define LISTEN_A   "127.0.0.1:18881"
#define INGEST_B   "tcp://127.0.0.1:18871"
#define LISTEN_B   "127.0.0.1:18882"
#define AGENT_KEY  "security-test-key-0123456789"

static char dir[128], keys[192];

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

	cr_assert_eq(geteuid(), 0, "the security tests run as root, as CI does");
	tmpdir_make(dir, sizeof(dir), "security");
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	cr_assert_eq(mkdir(keys, 0700), 0);
	snprintf(path, sizeof(path), "%s/default", keys);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/default/tenant.key", keys);
	write_file(path, AGENT_KEY "\n");
}

/* Every aggregator started, so that a failed test leaves none running. */
static struct proc *started[4];

static void teardown(void)
{
	for (size_t i = 0; i < 4; i++)
		if (started[i] && started[i]->pid) {
			proc_stop(started[i], 5000);
			proc_release(started[i]);
		}
	http_set_api_key(NULL);
	http_set_cacert(NULL);
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(security, .init = setup, .fini = teardown);

/* Starts prp-aggregator on @data with @extra flags (NULL-terminated, may be NULL). */
static void start(struct proc *p, const char *data, const char *ingest, const char *listen,
		  const char *const *extra)
{
	/*
	 * No access log: its lines would fill the pipe this test reads only
	 * now and then, and block the daemon (test_lifecycle checks the log).
	 */
	const char *argv[32] = { AGGREGATOR, "--data", data, "--keys-dir", keys, "--ingest",
				 ingest, "--listen", listen, "--api-rate-limit-role", "admin:0/0",
				 "--no-http-access-log" };
	size_t n = 12;

	for (; extra && *extra; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	*p = (struct proc){ .out_fd = -1, .err_fd = -1 };
	cr_assert_eq(proc_start(p, argv), 0);
	for (size_t i = 0; i < 4; i++)
		if (!started[i] || started[i] == p || !started[i]->pid) {
			started[i] = p;
			break;
		}
	/* the line that says it is up: "... HTTP on HOST:PORT, auth on" */
	cr_assert_eq(proc_wait_for(p, ", auth o", 15000), 0, "%s", buf_str(&p->err));
}

static void stop(struct proc *p)
{
	cr_assert_eq(proc_stop(p, 20000), 0);
	cr_assert(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0, "exit status %d",
		  p->status);
	proc_release(p);
}

static void read_key(const char *data, char *out, size_t cap)
{
	cr_assert_eq(admin_key_read(data, out, cap), 0, "no admin key in %s", data);
}

/* @method @base@path as the process's key, expecting @status: the JSON (caller decrefs). */
static json_t *api(const char *base, long want, const char *method, const char *path,
		   const char *body)
{
	struct buf resp;
	char url[512];
	long status = 0;
	json_t *doc;

	buf_init(&resp, 16 << 20);
	snprintf(url, sizeof(url), "%s%s", base, path);
	cr_assert_eq(http_call(method, url, body, &status, &resp, NULL), 0, "%s %s", method, url);
	cr_assert_eq(status, want, "%s %s: %ld: %s", method, path, status, buf_str(&resp));
	doc = json_loads(buf_str(&resp), 0, NULL);
	buf_release(&resp);
	return doc;
}

/* ---- the admin key ---- */

Test(security, the_admin_key_is_made_once_printed_once_and_private)
{
	char data[192], key[128], path[256];
	static struct proc agg;
	struct stat st;
	json_t *d;

	snprintf(data, sizeof(data), "%s/data", dir);
	start(&agg, data, INGEST_A, LISTEN_A, NULL);
	read_key(data, key, sizeof(key));
	cr_assert_eq(strlen(key), 47);
	cr_assert_not_null(strstr(buf_str(&agg.out), key), "the key was not printed: %s",
			   buf_str(&agg.out));
	cr_assert_null(strstr(buf_str(&agg.err), key), "the key is in the log");
	snprintf(path, sizeof(path), "%s/admin.key", data);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	json_decref(api("http://" LISTEN_A, 401, "GET", "/services", NULL));
	http_set_api_key(key);
	d = api("http://" LISTEN_A, 200, "POST", "/validate", NULL);
	cr_assert_str_eq(jget_str(d, "role"), "admin");
	json_decref(d);
	stop(&agg);

	/* the second start makes none and prints none; the key still works */
	start(&agg, data, INGEST_A, LISTEN_A, NULL);
	cr_assert_null(strstr(buf_str(&agg.out), "admin API key"), "%s", buf_str(&agg.out));
	json_decref(api("http://" LISTEN_A, 200, "GET", "/services", NULL));
	stop(&agg);

	/* --compat-ports: the same API, the same rules, on the earlier platform's ports */
	start(&agg, data, INGEST_A, LISTEN_A, (const char *const[]){ "--compat-ports", NULL });
	json_decref(api("http://127.0.0.1:8085", 200, "GET", "/health", NULL));
	json_decref(api("http://127.0.0.1:8090", 200, "GET", "/services", NULL));
	http_set_api_key(NULL);
	json_decref(api("http://127.0.0.1:8081", 401, "GET", "/services", NULL));
	json_decref(api("http://127.0.0.1:8089", 200, "GET", "/health", NULL));
	stop(&agg);

	/* --no-auth: no key needed, and none made */
	snprintf(data, sizeof(data), "%s/data-open", dir);
	http_set_api_key(NULL);
	start(&agg, data, INGEST_A, LISTEN_A, (const char *const[]){ "--no-auth", NULL });
	json_decref(api("http://" LISTEN_A, 200, "GET", "/services", NULL));
	snprintf(path, sizeof(path), "%s/admin.key", data);
	cr_assert_eq(access(path, F_OK), -1);
	stop(&agg);
}

/* ---- HTTPS ---- */

Test(security, https_with_ab_and_plain_http_refused)
{
	char data[192], cert[256], keyf[256], cmd[1024], key[128], out[4096];
	struct buf resp;
	static struct proc agg;
	long status = 0;
	size_t n;
	FILE *f;

	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(keyf, sizeof(keyf), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout %s -out %s -days 1 -subj /CN=127.0.0.1 "
		 "-addext subjectAltName=IP:127.0.0.1 2>/dev/null",
		 keyf, cert);
	cr_assert_eq(system(cmd), 0, "openssl");
	snprintf(data, sizeof(data), "%s/data", dir);
	start(&agg, data, INGEST_A, LISTEN_A,
	      (const char *const[]){ "--tls-cert", cert, "--tls-key", keyf, NULL });
	cr_assert_not_null(strstr(buf_str(&agg.err), "HTTPS on"));
	read_key(data, key, sizeof(key));
	http_set_api_key(key);
	http_set_cacert(cert);
	json_decref(api("https://" LISTEN_A, 200, "GET", "/keys", NULL));

	buf_init(&resp, 1 << 20);
	cr_assert_neq(http_call("GET", "http://" LISTEN_A "/health", NULL, &status, &resp, NULL), 0,
		      "plain HTTP answered %ld", status);
	buf_release(&resp);

	snprintf(cmd, sizeof(cmd),
		 "ab -n 1000 -c 10 -H 'X-API-Key: %s' https://" LISTEN_A "/health 2>&1", key);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	cr_assert_eq(pclose(f), 0, "ab failed: %s", out);
	cr_assert_not_null(strstr(out, "Complete requests:      1000"), "%s", out);
	cr_assert_not_null(strstr(out, "Failed requests:        0"), "%s", out);
	cr_assert_null(strstr(out, "Non-2xx"), "%s", out);
	stop(&agg);
}

/* ---- backup and restore ---- */

struct load {
	pthread_t thread;
	atomic_bool stop;
	atomic_uint sent;
};

/* Windows of three services from one agent, a frame every 20 ms, until told to stop. */
static void *load_main(void *arg)
{
	struct load *l = arg;
	int s = nn_socket(AF_SP, NN_REQ), timeout = 5000;
	uint64_t seq = 1;

	cr_assert_geq(s, 0);
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout, sizeof(timeout));
	cr_assert_geq(nn_connect(s, INGEST_A), 0);
	while (!atomic_load(&l->stop)) {
		int64_t now = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
		struct window_batch b = { .end_ms = now, .interval_ms = 1000, .host = "h1" };
		struct window_batch_item items[3] = { { .service = "orders" },
						      { .service = "users" },
						      { .service = "payments" } };
		struct frame_header h = { .type = FRAME_WINDOWS, .seq = seq++, .time_ms = now,
					  .agent_id = "load", .tenant = "default" };
		struct buf payload, frame;
		char *reply = NULL;

		for (int i = 0; i < 3; i++) {
			struct window_http *r;

			items[i].w = window_new(0);
			r = window_http_get(items[i].w, "GET", "/x", 200);
			r->count = 10;
			hist_record(&r->latency_ns, 1000000);
		}
		b.items = items;
		b.n = 3;
		buf_init(&payload, FRAME_PAYLOAD_MAX);
		buf_init(&frame, FRAME_PAYLOAD_MAX);
		cr_assert_eq(window_batch_encode(&b, &payload), 0);
		cr_assert_eq(frame_encode(&frame, &h, payload.data, payload.len, AGENT_KEY,
					  strlen(AGENT_KEY)),
			     0);
		if (nn_send(s, frame.data, frame.len, 0) >= 0 && nn_recv(s, &reply, NN_MSG, 0) >= 0) {
			nn_freemsg(reply);
			atomic_fetch_add(&l->sent, 1);
		}
		buf_release(&payload);
		buf_release(&frame);
		for (int i = 0; i < 3; i++)
			window_free(items[i].w);
		usleep(20000);
	}
	nn_close(s);
	return NULL;
}

/* Anomalies as detection would have written them, before the daemon starts. */
static void seed_anomalies(const char *data)
{
	struct store_options so = { .dir = data, .raw_hours = 24, .minute_days = 14 };
	int64_t t = (int64_t)(time_real_ns() / NSEC_PER_MSEC) - 60000;
	struct store *s;

	cr_assert_eq(mkdir(data, 0750), 0);
	cr_assert_eq(store_open(&s, &so), 0);
	for (int i = 0; i < 3; i++) {
		struct store_anomaly a = { .tenant = "default", .metric = "latency_p99",
					   .severity = STORE_SEVERITY_WARNING, .open = i == 0,
					   .score = 0.5 + 0.1 * i, .confidence = 0.9,
					   .current_value = 200 + i, .peak_value = 300,
					   .expected_min = 10, .expected_max = 90, .expected_mean = 50,
					   .started_ms = t + i, .updated_ms = t + i + 1,
					   .resolved_ms = i ? t + i + 2 : 0 };

		snprintf(a.service, sizeof(a.service), "%s", i ? "users" : "payments");
		cr_assert_eq(store_anomaly_put(s, &a), 0);
	}
	store_close(s);
}

/* The JSON text of @path's answer without the members that change by themselves. */
static char *snapshot(const char *base, const char *path)
{
	json_t *d = api(base, 200, "GET", path, NULL);
	char *text;

	json_object_del(d, "timestamp");
	text = json_dumps(d, JSON_SORT_KEYS);
	json_decref(d);
	return text;
}

Test(security, a_backup_under_load_restores_into_a_new_data_directory, .timeout = 120)
{
	const char *lists[] = { "/anomalies?limit=1000", "/actions?limit=1000", "/policies" };
	char data_a[192], data_b[192], key_a[128], key_b[128], path[256], body[320], why[256];
	char *before[3];
	static struct proc a, b;
	struct load load = { 0 };
	json_t *d;

	snprintf(data_a, sizeof(data_a), "%s/a", dir);
	snprintf(data_b, sizeof(data_b), "%s/b", dir);
	seed_anomalies(data_a);
	start(&a, data_a, INGEST_A, LISTEN_A, NULL);
	read_key(data_a, key_a, sizeof(key_a));
	http_set_api_key(key_a);
	json_decref(api("http://" LISTEN_A, 201, "POST", "/policies",
			"{\"name\": \"p1\", \"service\": \"payments\", \"condition\": "
			"\"error_rate > 0.5\", \"action\": \"alert\"}"));
	json_decref(api("http://" LISTEN_A, 201, "POST", "/keys",
			"{\"name\": \"grafana\", \"role\": \"viewer\"}"));

	cr_assert_eq(pthread_create(&load.thread, NULL, load_main, &load), 0);
	while (atomic_load(&load.sent) < 20)
		usleep(10000);
	/* an action, once payments is known */
	d = api("http://" LISTEN_A, 202, "POST", "/actions/execute",
		"{\"service\": \"payments\", \"action\": \"alert\", \"parameters\": "
		"{\"message\": \"test\"}}");
	snprintf(path, sizeof(path), "/actions/%lld/status", (long long)jget_int(d, "action_id"));
	json_decref(d);
	for (int i = 0; i < 100; i++) { /* done before the backup: its row changes no more */
		const char *st;

		d = api("http://" LISTEN_A, 200, "GET", path, NULL);
		st = jget_str(d, "status");
		i = strcmp(st, "pending") && strcmp(st, "running") ? 100 : i;
		json_decref(d);
		usleep(50000);
	}
	snprintf(path, sizeof(path), "%s/backup.db", dir);
	snprintf(body, sizeof(body), "{\"path\": \"%s\"}", path);
	d = api("http://" LISTEN_A, 200, "POST", "/admin/backup", body);
	cr_assert_gt(jget_int(d, "bytes"), 0);
	json_decref(d);
	cr_assert_lt(atomic_load(&load.sent), 1000u);
	usleep(200000); /* the load goes on after the backup */
	atomic_store(&load.stop, true);
	pthread_join(load.thread, NULL);
	cr_assert_eq(store_backup_check(path, why, sizeof(why)), 0, "%s", why);
	for (int i = 0; i < 3; i++)
		before[i] = snapshot("http://" LISTEN_A, lists[i]);
	stop(&a);

	/* a new aggregator, a new data directory, its own admin key */
	start(&b, data_b, INGEST_B, LISTEN_B, NULL);
	read_key(data_b, key_b, sizeof(key_b));
	http_set_api_key(key_b);
	d = api("http://" LISTEN_B, 202, "POST", "/admin/restore", body);
	cr_assert(json_is_true(json_object_get(d, "restart_required")));
	json_decref(d);
	stop(&b);
	start(&b, data_b, INGEST_B, LISTEN_B, NULL);
	cr_assert_not_null(strstr(buf_str(&b.err), "restored the store"), "%s", buf_str(&b.err));
	/* A's keys came with the store; B's own bootstrap key went with its old store */
	http_set_api_key(key_b);
	json_decref(api("http://" LISTEN_B, 401, "GET", "/services", NULL));
	http_set_api_key(key_a);
	for (int i = 0; i < 3; i++) {
		char *after = snapshot("http://" LISTEN_B, lists[i]);

		cr_assert_str_eq(after, before[i], "%s differs after the restore", lists[i]);
		free(after);
		free(before[i]);
	}
	d = api("http://" LISTEN_B, 200, "GET", "/keys", NULL);
	cr_assert_eq(jget_int(d, "total"), 2, "the admin key and grafana");
	json_decref(d);
	d = api("http://" LISTEN_B, 200, "GET", "/audit", NULL);
	cr_assert_geq(jget_int(d, "count"), 3, "the audit log came too");
	json_decref(d);
	stop(&b);
}

/* ---- the event stream of the real daemon ---- */

static void expect_sse(struct sse_client *c, const char *type)
{
	struct sse_event ev;

	cr_assert_eq(sse_client_next(c, 5000, &ev), 1, "no %s within 5 s", type);
	cr_assert_str_eq(ev.type, type, "%s", ev.data);
	free(ev.data);
}

Test(security, policy_changes_reach_the_stream_of_their_tenant_only)
{
	char data[192], key[128];
	static struct proc agg;
	struct sse_client c, b;
	json_t *d;
	char bkey[128];

	snprintf(data, sizeof(data), "%s/data", dir);
	start(&agg, data, INGEST_A, LISTEN_A, NULL);
	read_key(data, key, sizeof(key));
	http_set_api_key(key);
	d = api("http://" LISTEN_A, 201, "POST", "/keys",
		"{\"name\": \"b\", \"role\": \"viewer\", \"tenant\": \"team-b\"}");
	snprintf(bkey, sizeof(bkey), "%s", jget_str(d, "key"));
	json_decref(d);
	cr_assert_eq(sse_client_open(&c, 18881, "/stream/events", key, NULL, 5000), 0);
	cr_assert_eq(c.status, 200);
	cr_assert_eq(sse_client_open(&b, 18881, "/stream/events", bkey, NULL, 5000), 0);
	cr_assert_eq(b.status, 200);
	json_decref(api("http://" LISTEN_A, 201, "POST", "/policies",
			"{\"name\": \"p1\", \"service\": \"payments\", \"condition\": "
			"\"error_rate > 0.5\", \"action\": \"alert\"}"));
	expect_sse(&c, "policy.changed");
	json_decref(api("http://" LISTEN_A, 200, "DELETE", "/policies/1", NULL));
	expect_sse(&c, "policy.changed");
	{
		struct sse_event ev;

		cr_assert_eq(sse_client_next(&b, 300, &ev), 0, "team-b saw default's events");
	}
	sse_client_close(&c);
	sse_client_close(&b);
	stop(&agg);
}
