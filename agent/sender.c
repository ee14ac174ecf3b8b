/*
 * The sender thread. One request in flight at a time (a REQ socket allows no
 * more): HELLO, the results of the commands run since the last request, then
 * up to SENDER_REQUEST_BYTES of spooled frames after the acknowledged seq.
 * The reply's ACK frees the spool up to its seq. A request that gets no reply
 * in SENDER_REPLY_TIMEOUT_MS is given up and the next one is built afresh
 * from the spool (the aggregator drops what it already has), after a backoff
 * that doubles up to SENDER_BACKOFF_MAX_MS while the aggregator is away.
 */
#include "agent/sender.h"

#include <errno.h>
#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"

#define SENDER_REPLY_TIMEOUT_MS 5000
#define SENDER_RECV_SLICE_MS 250
#define SENDER_SEND_TIMEOUT_MS 1000
#define SENDER_BACKOFF_MIN_MS 100
#define SENDER_BACKOFF_MAX_MS 5000
#define SENDER_DONE_KEPT 64 /* command ids remembered, so a repeated command runs once */

struct done_command {
	uint64_t id;
	char *result; /* the COMMAND_RESULT payload */
	bool reported; /* sent at least once since it ran */
};

struct sender {
	struct sender_config cfg;
	char *url, *agent_id, *tenant, *host, *version;
	uint8_t key[KEY_FILE_MAX];
	int sock;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock; /* guards wake, stop, status */
	pthread_cond_t cond;
	bool wake, stop;
	struct sender_status status;

	struct done_command done[SENDER_DONE_KEPT]; /* thread only */
	size_t ndone;
};

static int64_t now_ms(void)
{
	return (int64_t)(time_real_ns() / 1000000);
}

/* Waits for a wake-up, stop, or @ms; true when stopping. */
static bool wait_ms(struct sender *s, unsigned ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->wake && !s->stop)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT)
			break;
	s->wake = false;
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static bool stopping(struct sender *s)
{
	bool stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void header(struct sender *s, struct frame_header *h, enum frame_type type, uint64_t seq)
{
	memset(h, 0, sizeof(*h));
	h->type = (uint8_t)type;
	snprintf(h->agent_id, sizeof(h->agent_id), "%s", s->agent_id);
	snprintf(h->tenant, sizeof(h->tenant), "%s", s->tenant);
	h->seq = seq;
	h->time_ms = now_ms();
}

static int add_hello(struct sender *s, struct buf *req)
{
	struct spool_stats st;
	struct frame_header h;
	json_t *o;
	char *text;
	int ret;

	spool_stats(s->cfg.spool, &st);
	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "version", s->version, "host",
		      s->host, "spool_bytes", (json_int_t)st.bytes, "spool_frames",
		      (json_int_t)st.frames, "spool_lost", (json_int_t)st.lost_frames, "acked_seq",
		      (json_int_t)st.acked_seq, "next_seq", (json_int_t)st.next_seq);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	header(s, &h, FRAME_HELLO, 0);
	ret = frame_encode(req, &h, text, strlen(text), s->key, s->cfg.keylen);
	free(text);
	return ret;
}

static void add_results(struct sender *s, struct buf *req)
{
	struct frame_header h;

	for (size_t i = 0; i < s->ndone; i++) {
		struct done_command *d = &s->done[i];

		if (d->reported)
			continue;
		header(s, &h, FRAME_COMMAND_RESULT, d->id);
		if (!frame_encode(req, &h, d->result, strlen(d->result), s->key, s->cfg.keylen))
			d->reported = true;
	}
}

/* ---- commands ---- */

static struct done_command *done_find(struct sender *s, uint64_t id)
{
	for (size_t i = 0; i < s->ndone; i++)
		if (s->done[i].id == id)
			return &s->done[i];
	return NULL;
}

/* Runs one command; the result JSON is the COMMAND_RESULT payload. */
static char *run_command(uint64_t id, const char *name, json_t *args)
{
	json_t *o;
	char *text;

	(void)args;
	if (!strcmp(name, "ping"))
		o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "status", "succeeded",
			      "result", "pong");
	else
		o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "status", "failed",
			      "result", "unknown command");
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static void on_command(struct sender *s, const struct frame_header *h, const struct buf *payload)
{
	json_t *o = json_loadb((const char *)payload->data, payload->len, 0, NULL);
	const char *name = json_string_value(json_object_get(o, "command"));
	struct done_command *d = done_find(s, h->seq);

	if (d) {
		d->reported = false; /* our result was lost: send it again */
		json_decref(o);
		return;
	}
	if (!name) {
		log_ratelimited(LOG_LEVEL_WARN, "sender: a command without a name, ignored");
		json_decref(o);
		return;
	}
	log_info("sender: running command %llu '%s'", (unsigned long long)h->seq, name);
	if (s->ndone == SENDER_DONE_KEPT) {
		free(s->done[0].result);
		memmove(&s->done[0], &s->done[1], (SENDER_DONE_KEPT - 1) * sizeof(s->done[0]));
		s->ndone--;
	}
	d = &s->done[s->ndone++];
	d->id = h->seq;
	d->result = run_command(h->seq, name, json_object_get(o, "args"));
	d->reported = false;
	pthread_mutex_lock(&s->lock);
	s->status.commands++;
	pthread_mutex_unlock(&s->lock);
	json_decref(o);
}

/* Walks the reply's frames: the ACK, then commands. 0, or -EPROTO if any frame is bad. */
static int on_reply(struct sender *s, const uint8_t *p, size_t len)
{
	struct frame_header h;
	struct buf payload;
	size_t off = 0, used;
	int ret = 0;

	buf_init(&payload, FRAME_PAYLOAD_MAX + 1);
	while (off < len) {
		ret = frame_decode(p + off, len - off, s->key, s->cfg.keylen, &h, &payload, &used);
		if (ret || strcmp(h.agent_id, s->agent_id)) {
			log_ratelimited(LOG_LEVEL_WARN, "sender: a reply frame failed its check: %s",
					frame_error_name(ret));
			ret = -EPROTO;
			break;
		}
		off += used;
		if (h.type == FRAME_ACK) {
			struct spool_stats st;

			spool_stats(s->cfg.spool, &st);
			if (h.seq >= st.next_seq)
				ret = spool_skip_to(s->cfg.spool, h.seq);
			else
				ret = spool_ack(s->cfg.spool, h.seq);
			if (ret)
				log_warn_err(ret, "sender: could not free the spool up to %llu",
					     (unsigned long long)h.seq);
			pthread_mutex_lock(&s->lock);
			s->status.acked_seq = h.seq;
			pthread_mutex_unlock(&s->lock);
		} else if (h.type == FRAME_COMMAND) {
			on_command(s, &h, &payload);
		}
	}
	buf_release(&payload);
	return ret;
}

/* ---- the loop ---- */

static void set_connected(struct sender *s, bool connected)
{
	struct spool_stats st;
	bool was;

	pthread_mutex_lock(&s->lock);
	was = s->status.connected;
	s->status.connected = connected;
	if (connected)
		s->status.last_reply_ms = now_ms();
	pthread_mutex_unlock(&s->lock);
	if (was == connected)
		return;
	spool_stats(s->cfg.spool, &st);
	if (connected)
		log_info("sender: connected to %s; %llu frames to send", s->url,
			 (unsigned long long)st.frames);
	else
		log_warn("sender: %s is not answering; spooling (%llu frames, %llu bytes so far)",
			 s->url, (unsigned long long)st.frames, (unsigned long long)st.bytes);
}

/* One request and its reply: 0 when answered; *more when frames remain. */
static int exchange(struct sender *s, struct buf *req, bool *more)
{
	struct spool_stats st;
	uint64_t last = 0;
	char *reply = NULL;
	int n, ret;

	buf_reset(req);
	ret = add_hello(s, req);
	if (ret)
		return ret;
	add_results(s, req);
	spool_stats(s->cfg.spool, &st);
	ret = spool_read(s->cfg.spool, st.acked_seq, SENDER_REQUEST_BYTES, req, &last);
	if (ret)
		return ret;
	*more = last + 1 < st.next_seq;
	pthread_mutex_lock(&s->lock);
	s->status.requests++;
	pthread_mutex_unlock(&s->lock);
	if (nn_send(s->sock, req->data, req->len, 0) < 0)
		return -nn_errno();
	/* in slices, so that a stop is seen within one */
	for (unsigned waited = 0;; waited += SENDER_RECV_SLICE_MS) {
		n = nn_recv(s->sock, &reply, NN_MSG, 0);
		if (n >= 0)
			break;
		if (nn_errno() != ETIMEDOUT || waited >= SENDER_REPLY_TIMEOUT_MS || stopping(s))
			return -ETIMEDOUT;
	}
	ret = on_reply(s, (const uint8_t *)reply, (size_t)n);
	nn_freemsg(reply);
	if (!ret) {
		pthread_mutex_lock(&s->lock);
		s->status.replies++;
		pthread_mutex_unlock(&s->lock);
	}
	return ret;
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	unsigned backoff = SENDER_BACKOFF_MIN_MS;
	struct buf req;

	buf_init(&req, SENDER_REQUEST_BYTES + FRAME_PAYLOAD_MAX + (1u << 20));
	while (!stopping(s)) {
		bool more = false;
		int ret = exchange(s, &req, &more);

		if (ret) {
			set_connected(s, false);
			if (ret != -ETIMEDOUT && ret != -EAGAIN && ret != -EPROTO)
				log_ratelimited(LOG_LEVEL_WARN, "sender: %s", strerror(-ret));
			if (wait_ms(s, backoff))
				break;
			backoff = backoff * 2 > SENDER_BACKOFF_MAX_MS ? SENDER_BACKOFF_MAX_MS
								      : backoff * 2;
			continue;
		}
		set_connected(s, true);
		backoff = SENDER_BACKOFF_MIN_MS;
		if (!more && wait_ms(s, SENDER_HEARTBEAT_MS))
			break;
	}
	buf_release(&req);
	return NULL;
}

int sender_start(struct sender **out, const struct sender_config *c)
{
	struct sender *s;
	int rcv = SENDER_RECV_SLICE_MS, snd = SENDER_SEND_TIMEOUT_MS, ivl = SENDER_BACKOFF_MIN_MS,
	    ivl_max = SENDER_BACKOFF_MAX_MS, resend = SENDER_REPLY_TIMEOUT_MS,
	    maxsize = (int)(FRAME_PAYLOAD_MAX + (1u << 20));

	if (c->keylen < KEY_FILE_MIN || c->keylen > KEY_FILE_MAX)
		return -EINVAL;
	s = xcalloc(1, sizeof(*s));
	s->cfg = *c;
	s->url = xstrdup(c->url);
	s->agent_id = xstrdup(c->agent_id);
	s->tenant = xstrdup(c->tenant);
	s->host = xstrdup(c->host);
	s->version = xstrdup(c->version);
	memcpy(s->key, c->key, c->keylen);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->sock = nn_socket(AF_SP, NN_REQ);
	if (s->sock < 0 ||
	    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &rcv, sizeof(rcv)) < 0 ||
	    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_SNDTIMEO, &snd, sizeof(snd)) < 0 ||
	    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl, sizeof(ivl)) < 0 ||
	    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &ivl_max,
			  sizeof(ivl_max)) < 0 ||
	    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsize, sizeof(maxsize)) < 0 ||
	    nn_setsockopt(s->sock, NN_REQ, NN_REQ_RESEND_IVL, &resend, sizeof(resend)) < 0 ||
	    nn_connect(s->sock, c->url) < 0) {
		int ret = -nn_errno();

		log_error("sender: cannot use %s: %s", c->url, nn_strerror(-ret));
		sender_stop(s);
		return ret;
	}
	if (pthread_create(&s->thread, NULL, sender_main, s)) {
		sender_stop(s);
		return -EAGAIN;
	}
	s->started = true;
	log_info("sender: sending to %s as agent '%s' (tenant '%s')", c->url, c->agent_id,
		 c->tenant);
	*out = s;
	return 0;
}

void sender_wake(struct sender *s)
{
	pthread_mutex_lock(&s->lock);
	s->wake = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void sender_stop(struct sender *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->started)
		pthread_join(s->thread, NULL);
	if (s->sock >= 0)
		nn_close(s->sock);
	for (size_t i = 0; i < s->ndone; i++)
		free(s->done[i].result);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->url);
	free(s->agent_id);
	free(s->tenant);
	free(s->host);
	free(s->version);
	free(s);
}

void sender_get_status(struct sender *s, struct sender_status *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->status;
	pthread_mutex_unlock(&s->lock);
}
