/*
 * The sender thread. One request in flight at a time (a REQ socket allows no
 * more): HELLO, the results of the commands run since the last request, then
 * up to SENDER_REQUEST_BYTES of spooled frames after the acknowledged seq.
 * The reply's ACK frees the spool up to its seq. A request that gets no reply
 * in SENDER_REPLY_TIMEOUT_MS is given up and the next one is built afresh
 * from the spool (the aggregator drops what it already has), after a backoff
 * that doubles up to SENDER_BACKOFF_MAX_MS while the aggregator is away.
 *
 * Commands. The aggregator repeats a command on its replies until its
 * result comes back, so each is run once and remembered by id: a repeat
 * of a finished one sends its result again, a repeat of one still running
 * (a restart, on remediation's worker thread) is ignored. The worker hands
 * finished results over through a list under the lock, and wakes the loop
 * so they go out at once. An id is remembered with a hash of the command's
 * payload: an aggregator that restarted numbers its commands from 1 again,
 * and its new command 1 must not be answered with the old one's result.
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

#include "agent/netif.h"
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
_Static_assert(SENDER_DONE_KEPT > REMEDIATION_QUEUE_MAX, "room for more than the queued commands");
/* What the HELLO lists (docs/protocol.md): services, ports of each, addresses. */
#define SENDER_HELLO_SERVICES_MAX  64
#define SENDER_HELLO_PORTS_MAX	   16
#define SENDER_HELLO_ADDRESSES_MAX 16

struct done_command {
	uint64_t id;
	uint64_t hash; /* of the command's payload */
	char *result;  /* the COMMAND_RESULT payload; NULL while it runs */
	bool reported; /* sent at least once since it ran */
};

/* A result the worker finished, on its way to the done list. */
struct finished {
	uint64_t id;
	char *result;
	struct finished *next;
};

struct sender {
	struct sender_config cfg;
	char *url, *agent_id, *tenant, *host, *version;
	uint8_t key[KEY_FILE_MAX];
	int sock;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock; /* guards wake, stop, status, finished */
	pthread_cond_t cond;
	bool wake, stop;
	struct sender_status status;
	struct finished *finished; /* from remediation's worker, newest first */

	struct done_command done[SENDER_DONE_KEPT]; /* thread only, like the two below */
	size_t ndone;
	struct service_set *services; /* the HELLO's copy of cfg.services */
	uint64_t services_version;
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

/* The HELLO's "services": name and listening ports of each watched service. */
static json_t *hello_services(struct sender *s)
{
	json_t *list = json_array();

	if (!s->cfg.services)
		return list;
	service_view_copy(s->cfg.services, s->services, &s->services_version);
	for (size_t i = 0; i < s->services->n && i < SENDER_HELLO_SERVICES_MAX; i++) {
		const struct service *svc = &s->services->items[i];
		json_t *ports = json_array();

		for (size_t k = 0; k < svc->nports && k < SENDER_HELLO_PORTS_MAX; k++)
			json_array_append_new(ports, json_integer(svc->ports[k]));
		json_array_append_new(list,
				      json_pack("{s:s, s:o}", "name", svc->name, "ports", ports));
	}
	return list;
}

/* The HELLO's "addresses": where the aggregator may reach this host's services. */
static json_t *hello_addresses(void)
{
	char addrs[SENDER_HELLO_ADDRESSES_MAX][NETIF_ADDR_TEXT_MAX];
	int n = netif_addresses(addrs, SENDER_HELLO_ADDRESSES_MAX);
	json_t *list = json_array();

	if (n < 0)
		log_ratelimited(LOG_LEVEL_WARN, "sender: cannot list this host's addresses: %s",
				strerror(-n));
	for (int i = 0; i < n; i++)
		json_array_append_new(list, json_string(addrs[i]));
	return list;
}

static int add_hello(struct sender *s, struct buf *req)
{
	struct spool_stats st;
	struct frame_header h;
	json_t *o;
	char *text;
	int ret;

	spool_stats(s->cfg.spool, &st);
	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "version", s->version,
		      "host", s->host, "spool_bytes", (json_int_t)st.bytes, "spool_frames",
		      (json_int_t)st.frames, "spool_lost", (json_int_t)st.lost_frames, "acked_seq",
		      (json_int_t)st.acked_seq, "next_seq", (json_int_t)st.next_seq, "services",
		      hello_services(s), "addresses", hello_addresses());
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	header(s, &h, FRAME_HELLO, 0);
	ret = frame_encode(req, &h, text, strlen(text), s->key, s->cfg.keylen);
	free(text);
	return ret;
}

/* ---- commands ---- */

static struct done_command *done_find(struct sender *s, uint64_t id)
{
	for (size_t i = 0; i < s->ndone; i++)
		if (s->done[i].id == id)
			return &s->done[i];
	return NULL;
}

/* remediation_done_fn: a queued command finished, on remediation's worker thread. */
static void on_finished(void *arg, uint64_t id, char *result)
{
	struct sender *s = arg;
	struct finished *f = xmalloc(sizeof(*f));

	f->id = id;
	f->result = result;
	pthread_mutex_lock(&s->lock);
	f->next = s->finished;
	s->finished = f;
	s->wake = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Moves the results the worker finished into the done list. */
static void collect_finished(struct sender *s)
{
	struct finished *f, *next;
	struct done_command *d;

	pthread_mutex_lock(&s->lock);
	f = s->finished;
	s->finished = NULL;
	pthread_mutex_unlock(&s->lock);
	for (; f; f = next) {
		next = f->next;
		d = done_find(s, f->id);
		if (d && !d->result) {
			d->result = f->result;
			d->reported = false;
		} else {
			free(f->result); /* cannot happen: a running command is never evicted */
		}
		free(f);
	}
}

static void add_results(struct sender *s, struct buf *req)
{
	struct frame_header h;

	collect_finished(s);
	for (size_t i = 0; i < s->ndone; i++) {
		struct done_command *d = &s->done[i];

		if (d->reported || !d->result)
			continue;
		header(s, &h, FRAME_COMMAND_RESULT, d->id);
		if (!frame_encode(req, &h, d->result, strlen(d->result), s->key, s->cfg.keylen))
			d->reported = true;
	}
}

/* FNV-1a, 64 bits: tells a repeated command from a new one with the same id. */
static uint64_t payload_hash(const struct buf *payload)
{
	uint64_t hash = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < payload->len; i++)
		hash = (hash ^ payload->data[i]) * 0x100000001b3ull;
	return hash;
}

/*
 * Runs one command: its COMMAND_RESULT payload, or NULL when remediation
 * queued it (on_finished() gets the result).
 */
static char *run_command(struct sender *s, uint64_t id, const char *name, json_t *args)
{
	json_t *o;
	char *text;

	if (strcmp(name, "ping") && s->cfg.remediation)
		return remediation_run(s->cfg.remediation, id, name, args);
	if (!strcmp(name, "ping"))
		o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "status", "succeeded",
			      "result", "pong");
	else
		o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "status", "failed",
			      "result", "unknown command");
	log_info("sender: command %llu '%s' %s", (unsigned long long)id, name,
		 strcmp(name, "ping") ? "failed: unknown command" : "succeeded: pong");
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* A free slot of the done list: the oldest finished command makes room. NULL when all run. */
static struct done_command *done_slot(struct sender *s)
{
	size_t i;

	if (s->ndone < SENDER_DONE_KEPT)
		return &s->done[s->ndone++];
	for (i = 0; i < s->ndone && !s->done[i].result; i++)
		;
	if (i == s->ndone)
		return NULL;
	free(s->done[i].result);
	memmove(&s->done[i], &s->done[i + 1], (s->ndone - i - 1) * sizeof(s->done[0]));
	return &s->done[s->ndone - 1];
}

static void on_command(struct sender *s, const struct frame_header *h, const struct buf *payload)
{
	json_t *o = json_loadb((const char *)payload->data, payload->len, 0, NULL);
	const char *name = json_string_value(json_object_get(o, "command"));
	struct done_command *d = done_find(s, h->seq);
	uint64_t hash = payload_hash(payload);

	if (d && (d->hash == hash || !d->result)) {
		/* a repeat: send a lost result again; one still running is on its way */
		if (d->result)
			d->reported = false;
		else if (d->hash != hash)
			log_ratelimited(LOG_LEVEL_WARN,
					"sender: command %llu is another command while the first "
					"runs; ignored",
					(unsigned long long)h->seq);
		json_decref(o);
		return;
	}
	if (!name) {
		log_ratelimited(LOG_LEVEL_WARN, "sender: a command without a name, ignored");
		json_decref(o);
		return;
	}
	if (d) {
		/* the aggregator restarted and numbers its commands afresh */
		free(d->result);
	} else if (!(d = done_slot(s))) {
		log_ratelimited(LOG_LEVEL_WARN,
				"sender: %d commands are running; command %llu waits for a repeat",
				SENDER_DONE_KEPT, (unsigned long long)h->seq);
		json_decref(o);
		return;
	}
	log_info("sender: running command %llu '%s'", (unsigned long long)h->seq, name);
	d->id = h->seq;
	d->hash = hash;
	d->reported = false;
	d->result = run_command(s, h->seq, name, json_object_get(o, "args"));
	pthread_mutex_lock(&s->lock);
	s->status.commands++;
	if (d->result)
		s->wake = true; /* the result goes out now, not with the next heartbeat */
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
			uint64_t lo;
			bool skip;

			spool_stats(s->cfg.spool, &st);
			skip = h.seq >= st.next_seq;
			if (skip)
				ret = spool_skip_to(s->cfg.spool, h.seq);
			else
				ret = spool_ack(s->cfg.spool, h.seq);
			if (ret)
				log_warn_err(ret, "sender: could not free the spool up to %llu",
					     (unsigned long long)h.seq);
			/*
			 * The spool holds seqs next_seq - frames .. next_seq - 1 unacknowledged
			 * (lost frames leave the front): count those the ACK covers. Frames
			 * skipped over were never stored: lost, not acknowledged.
			 */
			lo = st.next_seq - st.frames - 1;
			lo = lo > st.acked_seq ? lo : st.acked_seq;
			pthread_mutex_lock(&s->lock);
			s->status.acked_seq = h.seq;
			if (!ret && !skip && h.seq > lo)
				s->status.frames_acked += h.seq - lo;
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
	struct frame_header first;
	uint64_t last = 0, nframes = 0;
	size_t start;
	char *reply = NULL;
	int n, ret;

	buf_reset(req);
	ret = add_hello(s, req);
	if (ret)
		return ret;
	add_results(s, req);
	spool_stats(s->cfg.spool, &st);
	start = req->len;
	ret = spool_read(s->cfg.spool, st.acked_seq, SENDER_REQUEST_BYTES, req, &last);
	if (ret)
		return ret;
	*more = last + 1 < st.next_seq;
	/* the spool's frames are numbered without gaps: the first one's seq gives the count */
	if (last > st.acked_seq && frame_peek(req->data + start, req->len - start, &first) == 0 &&
	    first.seq <= last)
		nframes = last - first.seq + 1;
	pthread_mutex_lock(&s->lock);
	s->status.requests++;
	pthread_mutex_unlock(&s->lock);
	if (nn_send(s->sock, req->data, req->len, 0) < 0)
		return -nn_errno();
	pthread_mutex_lock(&s->lock);
	s->status.frames_sent += nframes;
	pthread_mutex_unlock(&s->lock);
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
	if (c->services)
		s->services = xcalloc(1, sizeof(*s->services));
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
	if (c->remediation)
		remediation_set_done(c->remediation, on_finished, s);
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
	/* from here on no result is handed over: s can go */
	if (s->cfg.remediation)
		remediation_set_done(s->cfg.remediation, NULL, NULL);
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
	while (s->finished) {
		struct finished *f = s->finished;

		s->finished = f->next;
		free(f->result);
		free(f);
	}
	free(s->services);
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
