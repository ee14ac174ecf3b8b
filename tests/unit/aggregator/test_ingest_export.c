/*
 * aggregator/ingest.c hands the log lines and spans of committed windows to
 * the exporters: a real ingest on an ipc:// socket, a real Loki exporter
 * and OTLP exporter, each posting to tests/lib/http_sink. A version 2
 * frame's lines reach Loki once with their service, host and stream (a
 * replayed duplicate is not pushed again), its span reaches the OTLP
 * receiver with the window's service, a version 1 frame from an older
 * agent is stored and acknowledged as before, and with the exporters off
 * the lines are counted and dropped.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aggregator/export/loki.h"
#include "aggregator/export/otlp.h"
#include "aggregator/ingest.h"
#include "common/buf.h"
#include "common/frame.h"
#include "common/hist.h"
#include "common/span.h"
#include "common/timeutil.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/http_sink.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

#define TENANT "default"
#define KEY    "export-key-0123456789"

static char dir[64], data[128], keys[128], url[160];
static struct ingest *in;
static struct loki *lk;
static struct otlp *ot;
static struct http_sink *loki_sink, *otlp_sink;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void start(bool exporters)
{
	static const int ok[] = { 204 }, ok200[] = { 200 };
	char path[256], lurl[64], ourl[64];
	struct loki_config lc;
	struct otlp_config oc;

	tmpdir_make(dir, sizeof(dir), "ingest-export");
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(url, sizeof(url), "ipc://%s/ingest.ipc", dir);
	cr_assert_eq(mkdir(data, 0700), 0);
	cr_assert_eq(mkdir(keys, 0700), 0);
	snprintf(path, sizeof(path), "%s/" TENANT, keys);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/" TENANT "/tenant.key", keys);
	write_file(path, KEY "\n");
	if (exporters) {
		loki_sink = http_sink_start(ok, 1, NULL);
		otlp_sink = http_sink_start(ok200, 1, "{}");
		snprintf(lurl, sizeof(lurl), "http://127.0.0.1:%u", http_sink_port(loki_sink));
		snprintf(ourl, sizeof(ourl), "http://127.0.0.1:%u", http_sink_port(otlp_sink));
		loki_config_default(&lc);
		lc.url = lurl;
		lc.hostname = "aggregator-host";
		lc.flush_interval_ms = 50;
		cr_assert_eq(loki_start(&lk, &lc, NULL), 0);
		otlp_config_default(&oc);
		oc.url = ourl;
		oc.sample_rate = 1.0;
		oc.flush_interval_ms = 50;
		cr_assert_eq(otlp_start(&ot, &oc), 0);
	}
	cr_assert_eq(ingest_start(&in, &(struct ingest_config){ .url = url,
								.keys_dir = keys,
								.store = { .dir = data },
								.loki = lk,
								.otlp = ot }),
		     0);
}

static void stop(void)
{
	ingest_stop(in);
	otlp_stop(ot);
	loki_stop(lk);
	http_sink_stop(loki_sink);
	http_sink_stop(otlp_sink);
	in = NULL, ot = NULL, lk = NULL, loki_sink = otlp_sink = NULL;
	tmpdir_remove(dir);
}

static void start_with(void)
{
	start(true);
}

static void start_without(void)
{
	start(false);
}

static void fini(void)
{
	stop();
	test_no_leaks();
}

/* ---- frames ---- */

/* A windows frame of agent "logger", seq @seq, service "shop" with @nlines lines and a span. */
static void windows_frame(struct buf *out, uint64_t seq, size_t nlines)
{
	struct frame_header h = { .type = FRAME_WINDOWS, .seq = seq };
	struct window_batch b = { .interval_ms = 1000, .n = 1 };
	struct window_batch_item item = { 0 };
	struct window *w = window_new(1);
	struct window_http *hp = window_http_get(w, "GET", "/orders/{id}", 200);
	struct buf payload;

	h.time_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	snprintf(h.agent_id, sizeof(h.agent_id), "logger");
	snprintf(h.tenant, sizeof(h.tenant), TENANT);
	snprintf(b.host, sizeof(b.host), "web-7");
	b.end_ms = h.time_ms;
	snprintf(item.service, sizeof(item.service), "shop");
	hp->count = 1;
	hist_record(&hp->latency_ns, 2000000);
	for (size_t i = 0; i < nlines; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "seq %llu line %zu caf\xc3\xa9",
				 (unsigned long long)seq, i);

		window_log_add(w, (int64_t)time_real_ns() - 1000000,
			       i % 2 ? WINDOW_LOG_STDERR : WINDOW_LOG_STDOUT, line, (size_t)n);
	}
	if (nlines) {
		struct span *s = window_span_add(w);

		memset(s->trace_id, 0xab, sizeof(s->trace_id));
		memset(s->span_id, 0xcd, sizeof(s->span_id));
		s->start_ns = (int64_t)time_real_ns() - 3000000;
		s->end_ns = s->start_ns + 2000000;
		s->kind = SPAN_KIND_SERVER;
		s->status = 200;
		snprintf(s->method, sizeof(s->method), "GET");
		snprintf(s->route, sizeof(s->route), "/orders/{id}");
	}
	item.w = w;
	b.items = &item;
	buf_init(&payload, 1 << 20);
	cr_assert_eq(window_batch_encode(&b, &payload), 0);
	cr_assert_eq(payload.data[0], nlines ? 2 : 1, "the lowest version that carries it");
	cr_assert_eq(frame_encode(out, &h, payload.data, payload.len, KEY, strlen(KEY)), 0);
	buf_release(&payload);
	window_free(w);
}

/* Sends @req; true when an ACK of @acked comes back. */
static bool exchange(const struct buf *req, uint64_t acked)
{
	int sock = nn_socket(AF_SP, NN_REQ), timeout = 3000, n;
	struct frame_header h;
	struct buf payload;
	char *reply = NULL;
	size_t used;
	bool ok = false;

	cr_assert_geq(sock, 0);
	cr_assert_geq(nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout, sizeof(timeout)),
		      0);
	cr_assert_geq(nn_connect(sock, url), 0);
	cr_assert_eq(nn_send(sock, req->data, req->len, 0), (int)req->len);
	n = nn_recv(sock, &reply, NN_MSG, 0);
	if (n >= 0) {
		buf_init(&payload, FRAME_PAYLOAD_MAX + 1);
		ok = !frame_decode(reply, (size_t)n, KEY, strlen(KEY), &h, &payload, &used) &&
		     h.type == FRAME_ACK && h.seq == acked;
		buf_release(&payload);
		nn_freemsg(reply);
	}
	nn_close(sock);
	return ok;
}

static void send_frame(uint64_t seq, size_t nlines, uint64_t acked)
{
	struct buf req;

	buf_init(&req, 1 << 20);
	windows_frame(&req, seq, nlines);
	cr_assert(exchange(&req, acked), "no ACK of seq %llu", (unsigned long long)acked);
	buf_release(&req);
}

/* The stats once the batch just answered is counted (the counters follow the replies). */
static void settled_stats(struct ingest_stats *st)
{
	time_sleep_ns(100 * NSEC_PER_MSEC);
	ingest_get_stats(in, st);
}

/* ---- what the sinks got ---- */

/* The Loki entries pushed so far: appended to @lines as "source|service_name|host|line". */
static size_t loki_entries(json_t *lines)
{
	size_t total = 0;

	json_array_clear(lines);
	for (size_t i = 0; i < http_sink_count(loki_sink); i++) {
		char *head, *body;
		json_t *o, *streams, *st;
		size_t j;

		cr_assert(http_sink_get(loki_sink, i, &head, &body));
		o = json_loads(body, 0, NULL);
		cr_assert_not_null(o, "not JSON: %s", body);
		streams = json_object_get(o, "streams");
		json_array_foreach(streams, j, st) {
			json_t *labels = json_object_get(st, "stream"), *v;
			size_t k;

			json_array_foreach(json_object_get(st, "values"), k, v) {
				char e[512];

				snprintf(e, sizeof(e), "%s|%s|%s|%s",
					 json_string_value(json_object_get(labels, "source")),
					 json_string_value(json_object_get(labels, "service_name")),
					 json_string_value(json_object_get(labels, "host")),
					 json_string_value(json_array_get(v, 1)));
				json_array_append_new(lines, json_string(e));
				cr_assert_not_null(json_object_get(labels, "level"));
				total++;
			}
		}
		json_decref(o);
		free(head);
		free(body);
	}
	return total;
}

static size_t wait_loki_entries(json_t *lines, size_t want)
{
	size_t n = 0;

	for (int waited = 0; waited < 5000; waited += 20) {
		n = loki_entries(lines);
		if (n >= want)
			break;
		time_sleep_ns(20 * NSEC_PER_MSEC);
	}
	return n;
}

static bool has(json_t *lines, const char *e)
{
	json_t *v;
	size_t i;

	json_array_foreach(lines, i, v)
		if (!strcmp(json_string_value(v), e))
			return true;
	return false;
}

TestSuite(ingest_export, .init = start_with, .fini = fini, .timeout = 60);

Test(ingest_export, lines_reach_loki_once_with_their_labels)
{
	json_t *lines = json_array();
	struct ingest_stats st;

	send_frame(1, 2, 1);
	cr_assert_eq(wait_loki_entries(lines, 2), 2);
	cr_expect(has(lines, "stdout|shop|web-7|seq 1 line 0 caf\xc3\xa9"));
	cr_expect(has(lines, "stderr|shop|web-7|seq 1 line 1 caf\xc3\xa9"));
	/* the agent did not get the ACK, say, and replays seq 1: stored once, pushed once */
	send_frame(1, 2, 1);
	send_frame(2, 3, 2);
	cr_assert_eq(wait_loki_entries(lines, 5), 5);
	time_sleep_ns(300 * NSEC_PER_MSEC);
	cr_expect_eq(loki_entries(lines), 5, "the duplicate was pushed again");
	settled_stats(&st);
	cr_expect_eq(st.log_lines, 5);
	cr_expect_eq(st.spans, 2);
	cr_expect_eq(st.duplicates, 1);
	json_decref(lines);
}

Test(ingest_export, a_span_reaches_the_otlp_receiver_with_its_service)
{
	char *head = NULL, *body = NULL;

	send_frame(1, 1, 1);
	for (int waited = 0; !http_sink_count(otlp_sink); waited += 20) {
		cr_assert_lt(waited, 5000, "nothing posted to the OTLP receiver");
		time_sleep_ns(20 * NSEC_PER_MSEC);
	}
	cr_assert(http_sink_get(otlp_sink, 0, &head, &body));
	cr_expect_not_null(strstr(body, "\"shop\""), "no service.name: %s", body);
	cr_expect_not_null(strstr(body, "abababababababababababababababab"), "no trace id: %s",
			   body);
	cr_expect_not_null(strstr(body, "/orders/{id}"), "no route: %s", body);
	free(head);
	free(body);
}

Test(ingest_export, a_version_1_frame_of_an_older_agent_is_stored_and_acknowledged)
{
	json_t *lines = json_array();
	struct ingest_stats st;

	send_frame(1, 0, 1);
	send_frame(2, 0, 2);
	settled_stats(&st);
	cr_expect_eq(st.frames_stored, 2);
	cr_expect_eq(st.rejected[INGEST_REJECT_BAD_WINDOWS], 0);
	cr_expect_eq(st.log_lines, 0);
	time_sleep_ns(200 * NSEC_PER_MSEC);
	cr_expect_eq(loki_entries(lines), 0);
	json_decref(lines);
}

TestSuite(ingest_export_off, .init = start_without, .fini = fini, .timeout = 60);

Test(ingest_export_off, lines_and_spans_are_counted_and_dropped)
{
	struct ingest_stats st;

	send_frame(1, 4, 1);
	settled_stats(&st);
	cr_expect_eq(st.frames_stored, 1);
	cr_expect_eq(st.log_lines, 4);
	cr_expect_eq(st.spans, 1);
}
