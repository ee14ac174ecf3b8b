/*
 * The fake agent (fake_agent.h). One REQ socket, one request in flight:
 * HELLO, then the results not yet reported; the reply's COMMAND frames
 * are recorded and answered in the next request, each id once (as
 * prp-agent's sender does, a repeated id only re-sends its result).
 */
#include "tests/lib/fake_agent.h"

#include <criterion/criterion.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/frame.h"
#include "common/timeutil.h"

struct fake_agent {
	struct fake_agent_config cfg;
	char *url, *tenant, *agent_id, *key;
	int sock;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t lock; /* guards everything below */
	char *hello_extra;
	enum fake_agent_answer answer;
	json_t *commands; /* [{id, command, args}] */
	json_t *results;  /* [{id, text, reported}] */
	unsigned long replies;
};

static void header(struct fake_agent *a, struct frame_header *h, int type, uint64_t seq)
{
	memset(h, 0, sizeof(*h));
	h->type = (uint8_t)type;
	h->seq = seq;
	h->time_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	snprintf(h->agent_id, sizeof(h->agent_id), "%s", a->agent_id);
	snprintf(h->tenant, sizeof(h->tenant), "%s", a->tenant);
}

/* The request: HELLO and the results to report. */
static void build(struct fake_agent *a, struct buf *req)
{
	struct frame_header h;
	json_t *r;
	size_t i;
	char *hello;

	pthread_mutex_lock(&a->lock);
	hello = xasprintf("{\"version\":\"fake\",\"host\":\"%s-host\"%s%s}", a->agent_id,
			  a->hello_extra ? "," : "", a->hello_extra ? a->hello_extra : "");
	header(a, &h, FRAME_HELLO, 0);
	cr_assert_eq(frame_encode(req, &h, hello, strlen(hello), a->key, strlen(a->key)), 0);
	free(hello);
	json_array_foreach(a->results, i, r) {
		const char *text = json_string_value(json_object_get(r, "text"));

		if (json_is_true(json_object_get(r, "reported")))
			continue;
		header(a, &h, FRAME_COMMAND_RESULT,
		       (uint64_t)json_integer_value(json_object_get(r, "id")));
		cr_assert_eq(frame_encode(req, &h, text, strlen(text), a->key, strlen(a->key)), 0);
		json_object_set_new(r, "reported", json_true());
	}
	pthread_mutex_unlock(&a->lock);
}

static json_t *result_find(struct fake_agent *a, json_int_t id)
{
	json_t *r;
	size_t i;

	json_array_foreach(a->results, i, r)
		if (json_integer_value(json_object_get(r, "id")) == id)
			return r;
	return NULL;
}

static void on_command(struct fake_agent *a, const struct buf *payload)
{
	json_t *o = json_loadb((const char *)payload->data, payload->len, 0, NULL), *res;
	json_int_t id = json_integer_value(json_object_get(o, "id"));
	const char *name = json_string_value(json_object_get(o, "command"));
	char *text;

	cr_assert(json_is_object(o) && name, "a command that is not {id, command, args}");
	pthread_mutex_lock(&a->lock);
	res = result_find(a, id);
	if (res) { /* a repeat: our answer was lost, send it again */
		json_object_set_new(res, "reported", json_false());
	} else {
		json_array_append_new(a->commands,
				      json_pack("{s:I, s:s, s:O}", "id", id, "command", name,
						"args", json_object_get(o, "args")));
		if (a->answer != FAKE_AGENT_IGNORE) {
			json_t *ans =
				a->answer == FAKE_AGENT_SUCCEED
					? json_pack("{s:I, s:s, s:{s:s}}", "id", id, "status",
						    "succeeded", "result", "applied", name)
					: json_pack("{s:I, s:s, s:s}", "id", id, "status", "failed",
						    "result", "refused by the fake agent");

			text = json_dumps(ans, JSON_COMPACT);
			json_decref(ans);
			json_array_append_new(a->results, json_pack("{s:I, s:s, s:b}", "id", id,
								    "text", text, "reported", 0));
			free(text);
		}
	}
	pthread_mutex_unlock(&a->lock);
	json_decref(o);
}

static void on_reply(struct fake_agent *a, const uint8_t *p, size_t len)
{
	struct frame_header h;
	struct buf payload;
	size_t off = 0, used;

	buf_init(&payload, FRAME_PAYLOAD_MAX + 1);
	while (off < len) {
		if (frame_decode(p + off, len - off, a->key, strlen(a->key), &h, &payload, &used))
			break;
		off += used;
		if (h.type == FRAME_COMMAND)
			on_command(a, &payload);
	}
	buf_release(&payload);
	pthread_mutex_lock(&a->lock);
	a->replies++;
	pthread_mutex_unlock(&a->lock);
}

static void *fake_agent_main(void *arg)
{
	struct fake_agent *a = arg;
	struct buf req;

	buf_init(&req, FRAME_PAYLOAD_MAX);
	while (!atomic_load(&a->stop)) {
		char *reply = NULL;
		int n;

		buf_reset(&req);
		build(a, &req);
		if (nn_send(a->sock, req.data, req.len, 0) >= 0) {
			n = nn_recv(a->sock, &reply, NN_MSG, 0);
			if (n >= 0) {
				on_reply(a, (const uint8_t *)reply, (size_t)n);
				nn_freemsg(reply);
			}
		}
		time_sleep_ns((uint64_t)a->cfg.interval_ms * NSEC_PER_MSEC);
	}
	buf_release(&req);
	return NULL;
}

struct fake_agent *fake_agent_start(const struct fake_agent_config *c)
{
	struct fake_agent *a = xcalloc(1, sizeof(*a));
	int timeout = 1000;

	a->cfg = *c;
	if (!a->cfg.interval_ms)
		a->cfg.interval_ms = 100;
	a->url = xstrdup(c->url);
	a->tenant = xstrdup(c->tenant);
	a->agent_id = xstrdup(c->agent_id);
	a->key = xstrdup(c->key);
	a->hello_extra = c->hello_extra ? xstrdup(c->hello_extra) : NULL;
	a->commands = json_array();
	a->results = json_array();
	pthread_mutex_init(&a->lock, NULL);
	a->sock = nn_socket(AF_SP, NN_REQ);
	cr_assert_geq(a->sock, 0);
	cr_assert_geq(nn_setsockopt(a->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout, sizeof(timeout)),
		      0);
	cr_assert_geq(nn_connect(a->sock, a->url), 0, "connect %s", a->url);
	cr_assert_eq(pthread_create(&a->thread, NULL, fake_agent_main, a), 0);
	return a;
}

void fake_agent_stop(struct fake_agent *a)
{
	if (!a)
		return;
	atomic_store(&a->stop, true);
	pthread_join(a->thread, NULL);
	nn_close(a->sock);
	json_decref(a->commands);
	json_decref(a->results);
	pthread_mutex_destroy(&a->lock);
	free(a->hello_extra);
	free(a->url);
	free(a->tenant);
	free(a->agent_id);
	free(a->key);
	free(a);
}

void fake_agent_set_answer(struct fake_agent *a, enum fake_agent_answer answer)
{
	pthread_mutex_lock(&a->lock);
	a->answer = answer;
	pthread_mutex_unlock(&a->lock);
}

void fake_agent_set_hello(struct fake_agent *a, const char *hello_extra)
{
	pthread_mutex_lock(&a->lock);
	free(a->hello_extra);
	a->hello_extra = hello_extra ? xstrdup(hello_extra) : NULL;
	pthread_mutex_unlock(&a->lock);
}

json_t *fake_agent_commands(struct fake_agent *a)
{
	json_t *copy;

	pthread_mutex_lock(&a->lock);
	copy = json_deep_copy(a->commands);
	pthread_mutex_unlock(&a->lock);
	return copy;
}

size_t fake_agent_count(struct fake_agent *a, const char *command)
{
	size_t n = 0, i;
	json_t *c;

	pthread_mutex_lock(&a->lock);
	json_array_foreach(a->commands, i, c)
		n += !command || !strcmp(json_string_value(json_object_get(c, "command")), command);
	pthread_mutex_unlock(&a->lock);
	return n;
}

bool fake_agent_wait(struct fake_agent *a, const char *command, size_t n, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		if (fake_agent_count(a, command) >= n)
			return true;
		time_sleep_ns(10 * NSEC_PER_MSEC);
	}
	return false;
}

bool fake_agent_sync(struct fake_agent *a, int timeout_ms)
{
	unsigned long start, now;

	pthread_mutex_lock(&a->lock);
	start = a->replies;
	pthread_mutex_unlock(&a->lock);
	/* two replies: the first may answer a request built before the call */
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		pthread_mutex_lock(&a->lock);
		now = a->replies;
		pthread_mutex_unlock(&a->lock);
		if (now >= start + 2)
			return true;
		time_sleep_ns(10 * NSEC_PER_MSEC);
	}
	return false;
}
