/*
 * aggregator/ingest.c, its key checks during a key rotation (keyring.h,
 * docs/protocol.md "Key rotation"): with tenant.key and tenant.key.next in
 * place, agents on either key are accepted and get replies (and commands)
 * signed with their own key; a request whose spooled windows are signed
 * with the key before is accepted and answered with the key of its first
 * frame; a key that is neither is refused and counted as "hmac". A real
 * ingest on an ipc:// socket, fake agents (tests/lib/fake_agent.h) and raw
 * requests.
 */
#include <criterion/criterion.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aggregator/ingest.h"
#include "common/buf.h"
#include "common/frame.h"
#include "common/timeutil.h"
#include "common/window_wire.h"
#include "tests/lib/fake_agent.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

#define TENANT "default"
#define CUR    "current-key-0123456789"
#define NEXT   "next-key-0123456789abc"
#define OTHER  "unrelated-key-01234567"

static char dir[64], data[128], keys[128], url[160];
static struct ingest *in;

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

	tmpdir_make(dir, sizeof(dir), "ingest");
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(url, sizeof(url), "ipc://%s/ingest.ipc", dir);
	cr_assert_eq(mkdir(data, 0700), 0);
	cr_assert_eq(mkdir(keys, 0700), 0);
	snprintf(path, sizeof(path), "%s/" TENANT, keys);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/" TENANT "/tenant.key", keys);
	write_file(path, CUR "\n");
	snprintf(path, sizeof(path), "%s/" TENANT "/tenant.key.next", keys);
	write_file(path, NEXT "\n");
	cr_assert_eq(ingest_start(&in, &(struct ingest_config){ .url = url,
								.keys_dir = keys,
								.store = { .dir = data } }),
		     0);
}

static void teardown(void)
{
	ingest_stop(in);
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(ingest, .init = setup, .fini = teardown, .timeout = 60);

static struct fake_agent *agent(const char *id, const char *key)
{
	return fake_agent_start(&(struct fake_agent_config){
		.url = url, .tenant = TENANT, .agent_id = id, .key = key, .interval_ms = 50 });
}

/* true when ingest lists agent @id (a request of it passed every check). */
static bool heard(const char *id)
{
	struct ingest_agent_info *v = NULL;
	size_t n = 0;
	bool found = false;

	cr_assert_eq(ingest_agents_info(in, TENANT, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		found |= !strcmp(v[i].agent_id, id);
	free(v);
	return found;
}

static void wait_heard(const char *id)
{
	for (int waited = 0; !heard(id); waited += 20) {
		cr_assert_lt(waited, 5000, "agent '%s' was not heard", id);
		time_sleep_ns(20 * NSEC_PER_MSEC);
	}
}

static uint64_t rejected(enum ingest_reject r)
{
	struct ingest_stats st;

	ingest_get_stats(in, &st);
	return st.rejected[r];
}

Test(ingest, an_agent_on_the_next_key_is_accepted_while_another_stays_on_the_current)
{
	struct fake_agent *on_next = agent("on-next", NEXT), *on_cur = agent("on-cur", CUR);
	uint64_t id;

	wait_heard("on-next");
	wait_heard("on-cur");
	/* a command arrives only in a reply the agent could check with its key */
	cr_assert_eq(ingest_command(in, TENANT, "on-next", "ping", NULL, &id), 0);
	cr_assert_eq(ingest_command(in, TENANT, "on-cur", "ping", NULL, &id), 0);
	cr_expect(fake_agent_wait(on_next, "ping", 1, 5000), "no command for the next key's agent");
	cr_expect(fake_agent_wait(on_cur, "ping", 1, 5000),
		  "no command for the current key's agent");
	cr_expect_eq(rejected(INGEST_REJECT_HMAC), 0);
	fake_agent_stop(on_next);
	fake_agent_stop(on_cur);
}

Test(ingest, a_frame_signed_with_an_unrelated_key_is_refused_as_hmac)
{
	struct fake_agent *forger = agent("forger", OTHER), *good = agent("good", NEXT);

	for (int waited = 0; !rejected(INGEST_REJECT_HMAC); waited += 20) {
		cr_assert_lt(waited, 5000, "no frame refused as hmac");
		time_sleep_ns(20 * NSEC_PER_MSEC);
	}
	wait_heard("good");
	cr_expect_not(heard("forger"));
	cr_expect_eq(rejected(INGEST_REJECT_UNKNOWN_AGENT), 0);
	fake_agent_stop(forger);
	fake_agent_stop(good);
}

/* ---- raw requests ---- */

static void frame_of(struct buf *out, int type, uint64_t seq, const char *key)
{
	struct frame_header h = { .type = (uint8_t)type, .seq = seq };
	struct buf payload;
	struct window_batch b = { .interval_ms = 1000 };

	h.time_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	snprintf(h.agent_id, sizeof(h.agent_id), "replayer");
	snprintf(h.tenant, sizeof(h.tenant), TENANT);
	buf_init(&payload, 1 << 16);
	if (type == FRAME_WINDOWS) {
		snprintf(b.host, sizeof(b.host), "replayer-host");
		b.end_ms = h.time_ms - 1000 * (int64_t)(3 - seq);
		cr_assert_eq(window_batch_encode(&b, &payload), 0);
	} else {
		cr_assert_eq(buf_append_str(&payload,
					    "{\"version\":\"test\",\"host\":\"replayer-host\"}"),
			     0);
	}
	cr_assert_eq(frame_encode(out, &h, payload.data, payload.len, key, strlen(key)), 0);
	buf_release(&payload);
}

/*
 * Sends @req and checks the reply with @key: true when it came and its
 * first frame is an ACK of @acked.
 */
static bool exchange(const struct buf *req, const char *key, uint64_t acked)
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
		ok = !frame_decode(reply, (size_t)n, key, strlen(key), &h, &payload, &used) &&
		     h.type == FRAME_ACK && h.seq == acked;
		buf_release(&payload);
		nn_freemsg(reply);
	}
	nn_close(sock);
	return ok;
}

/*
 * What prp-agent sends right after it got the next key: its HELLO signed with
 * it, then the windows of its spool, signed when they were made: with the
 * key before.
 */
Test(ingest, spooled_windows_on_the_key_before_pass_and_the_reply_uses_the_first_frame_key)
{
	struct buf req;

	buf_init(&req, 1 << 20);
	frame_of(&req, FRAME_HELLO, 0, NEXT);
	frame_of(&req, FRAME_WINDOWS, 1, CUR);
	frame_of(&req, FRAME_WINDOWS, 2, CUR);
	cr_expect(exchange(&req, NEXT, 2), "no ACK of seq 2 signed with the next key");

	/* an agent still on the current key gets its replies signed with it */
	buf_reset(&req);
	frame_of(&req, FRAME_HELLO, 0, CUR);
	cr_expect(exchange(&req, CUR, 2), "no ACK signed with the current key");
	cr_expect_eq(rejected(INGEST_REJECT_HMAC), 0);
	cr_expect_eq(rejected(INGEST_REJECT_BAD_WINDOWS), 0);

	/* one frame on neither key spoils the request: no reply, counted */
	buf_reset(&req);
	frame_of(&req, FRAME_HELLO, 0, NEXT);
	frame_of(&req, FRAME_WINDOWS, 3, OTHER);
	cr_expect_not(exchange(&req, NEXT, 3), "a request with a forged frame was answered");
	cr_expect_eq(rejected(INGEST_REJECT_HMAC), 1);
	buf_release(&req);
}
