/*
 * The ingest thread. One loop: gather the requests that arrive within
 * batch_ms (raw REP keeps each one's routing header), store every new frame
 * of all of them in one transaction, commit, then add the windows to the
 * in-memory series and answer each request with its ACK (and the commands
 * waiting for its agent). A commit that fails answers nobody: the agents
 * resend and nothing is acknowledged that is not on disk.
 */
#include "aggregator/ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/export/loki.h"
#include "aggregator/export/otlp.h"
#include "aggregator/keyring.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/frame.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/span.h"
#include "common/timeutil.h"
#include "common/window_wire.h"

#define INGEST_MAX_BATCH 256	       /* requests per group commit */
#define INGEST_RECV_TIMEOUT_MS 100     /* how often the thread looks at its stop flag */
#define INGEST_MAX_MESSAGE (FRAME_PAYLOAD_MAX + (1u << 20))
#define INGEST_AGENT_SLOTS 65536       /* power of two; agents tracked */
#define INGEST_CONNECTED_S 5	       /* heard from within this: connected */
#define INGEST_RESULTS_KEPT 4096       /* finished commands remembered */
#define INGEST_COMMAND_RESEND_S 2      /* a command is repeated this often until answered */
#define INGEST_FUTURE_S 60	       /* windows ending later than now + this skip the series */
/* command ids start at the wall clock in ms times this: see ingest_start() */
#define INGEST_COMMAND_IDS_PER_MS 1000

#define INGEST_STR(x)  #x
#define INGEST_XSTR(x) INGEST_STR(x) /* a bound's digits, for messages */

/* What the thread knows of one agent. */
struct agent_state {
	char tenant[FRAME_ID_MAX];
	char agent_id[FRAME_ID_MAX];
	uint64_t last_seq;
	bool last_seq_known; /* read from the store since the last failed commit */
	uint64_t heard_s;
	bool next_key_noted; /* "signs with the next key" logged, in this rotation */
	/*
	 * What ingest_agents_info() shows, made at the first request that
	 * passed every check (an agent id only claimed by a forged frame never
	 * gets one); its contents are guarded by ingest.info_lock.
	 */
	struct ingest_agent_info *info;
};

struct command {
	uint64_t id;
	char tenant[FRAME_ID_MAX];
	char agent_id[FRAME_ID_MAX];
	char *json;	    /* {"id", "command", "args"} as sent */
	char *result;	    /* NULL while pending */
	uint64_t sent_s;    /* last time it went out */
	struct command *next;
};

/* One request of the current batch. */
struct request {
	void *ctl;	/* nanomsg routing header, owned until the reply */
	void *body;	/* nanomsg message */
	int len;
	struct agent_state *agent;
	uint8_t key[KEYRING_MAX_KEY]; /* the reply's: the one the first frame verified with */
	size_t keylen;
	bool ok;
	uint32_t stored, duplicates;
	struct window_batch *batches; /* decoded views, for the series after commit */
	void **payloads;	      /* the bytes batches[i] borrows */
	size_t nbatches;
};

struct ingest {
	struct ingest_config cfg;
	char *url, *keys_dir;
	int sock;
	pthread_t thread;
	bool started; /* thread is running */
	atomic_bool stop;
	struct store *store;
	struct keyring *keys;
	struct agent_state **agents;
	size_t nagents;

	pthread_mutex_t info_lock; /* guards heard, nheard and every agent's info */
	struct agent_state **heard; /* the agents with an info, in the order first heard */
	size_t nheard, heard_alloc;

	pthread_mutex_t cmd_lock; /* guards commands, next_command_id */
	struct command *commands; /* newest first */
	uint64_t next_command_id;

	atomic_uint_fast64_t requests, replies, frames_stored, windows_stored, duplicates, commits,
		commit_failures, log_lines, spans, rejected[INGEST_REJECT_COUNT];
	atomic_uint agents_connected;
	atomic_bool running;
};

static const char *const reject_names[INGEST_REJECT_COUNT] = {
	[INGEST_REJECT_TRUNCATED] = "truncated",     [INGEST_REJECT_MAGIC] = "magic",
	[INGEST_REJECT_VERSION] = "version",	     [INGEST_REJECT_OVERSIZED] = "oversized",
	[INGEST_REJECT_HEADER] = "header",	     [INGEST_REJECT_HMAC] = "hmac",
	[INGEST_REJECT_PAYLOAD] = "payload",	     [INGEST_REJECT_UNKNOWN_AGENT] = "unknown_agent",
	[INGEST_REJECT_BAD_WINDOWS] = "bad_windows",
};

const char *ingest_reject_name(enum ingest_reject r)
{
	return (unsigned)r < INGEST_REJECT_COUNT ? reject_names[r] : "?";
}

static enum ingest_reject reject_of(int frame_err)
{
	switch (frame_err) {
	case FRAME_ERR_TRUNCATED:
		return INGEST_REJECT_TRUNCATED;
	case FRAME_ERR_MAGIC:
		return INGEST_REJECT_MAGIC;
	case FRAME_ERR_VERSION:
		return INGEST_REJECT_VERSION;
	case FRAME_ERR_OVERSIZED:
		return INGEST_REJECT_OVERSIZED;
	case FRAME_ERR_HMAC:
		return INGEST_REJECT_HMAC;
	case FRAME_ERR_PAYLOAD:
		return INGEST_REJECT_PAYLOAD;
	default:
		return INGEST_REJECT_HEADER;
	}
}

static void reject(struct ingest *in, enum ingest_reject r, const char *agent_id)
{
	atomic_fetch_add(&in->rejected[r], 1);
	log_ratelimited(LOG_LEVEL_WARN, "ingest: dropped a request from agent '%s': %s",
			agent_id && *agent_id ? agent_id : "?", ingest_reject_name(r));
}

/* ---- agents ---- */

/* The agent's state, made on first sight; NULL when the table is full. */
static struct agent_state *agent_get(struct ingest *in, const char *tenant, const char *agent_id)
{
	size_t i = hash_fnv1a_pair(tenant, agent_id) & (INGEST_AGENT_SLOTS - 1);
	struct agent_state *a;

	for (;; i = (i + 1) & (INGEST_AGENT_SLOTS - 1)) {
		a = in->agents[i];
		if (!a)
			break;
		if (!strcmp(a->tenant, tenant) && !strcmp(a->agent_id, agent_id))
			return a;
	}
	if (in->nagents >= INGEST_AGENT_SLOTS / 4 * 3)
		return NULL;
	a = xcalloc(1, sizeof(*a));
	snprintf(a->tenant, sizeof(a->tenant), "%s", tenant);
	snprintf(a->agent_id, sizeof(a->agent_id), "%s", agent_id);
	in->agents[i] = a;
	in->nagents++;
	log_info("ingest: first frame from agent '%s' (tenant '%s')", agent_id, tenant);
	return a;
}

static int agent_last_seq(struct ingest *in, struct agent_state *a, uint64_t *seq)
{
	if (!a->last_seq_known) {
		int ret = store_agent_last_seq(in->store, a->tenant, a->agent_id, &a->last_seq);

		if (ret)
			return ret;
		a->last_seq_known = true;
	}
	*seq = a->last_seq;
	return 0;
}

static void agents_forget_seqs(struct ingest *in)
{
	for (size_t i = 0; i < INGEST_AGENT_SLOTS; i++)
		if (in->agents[i])
			in->agents[i]->last_seq_known = false;
}

/* The one definition of "connected": GET /health's count and ingest_agents_info() agree. */
static bool heard_recently(uint64_t heard_s, uint64_t now_s)
{
	return heard_s + INGEST_CONNECTED_S > now_s;
}

static void count_connected(struct ingest *in, uint64_t now_s)
{
	unsigned n = 0;

	for (size_t i = 0; i < INGEST_AGENT_SLOTS; i++)
		if (in->agents[i] && heard_recently(in->agents[i]->heard_s, now_s))
			n++;
	atomic_store(&in->agents_connected, n);
}

/* @a's info, made on first use; the caller holds info_lock. */
static struct ingest_agent_info *agent_info(struct ingest *in, struct agent_state *a)
{
	if (a->info)
		return a->info;
	a->info = xcalloc(1, sizeof(*a->info));
	snprintf(a->info->tenant, sizeof(a->info->tenant), "%s", a->tenant);
	snprintf(a->info->agent_id, sizeof(a->info->agent_id), "%s", a->agent_id);
	if (in->nheard == in->heard_alloc) {
		in->heard_alloc = in->heard_alloc ? in->heard_alloc * 2 : 64;
		in->heard = xreallocarray(in->heard, in->heard_alloc, sizeof(*in->heard));
	}
	in->heard[in->nheard++] = a;
	return a->info;
}

/* A request of @a passed every check at @now_s. */
static void agent_heard(struct ingest *in, struct agent_state *a, uint64_t now_s)
{
	a->heard_s = now_s;
	pthread_mutex_lock(&in->info_lock);
	agent_info(in, a)->last_seen_ms = (int64_t)(time_real_ns() / 1000000);
	pthread_mutex_unlock(&in->info_lock);
}

/* ---- frames ---- */

static const char *json_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static uint64_t json_u64(json_t *o, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(o, k));

	return v > 0 ? (uint64_t)v : 0;
}

/* true when @s is 1..SERVICE_NAME_MAX-1 printable ASCII characters (a window's service name). */
static bool service_name_ok(const char *s)
{
	size_t n = strnlen(s, SERVICE_NAME_MAX);

	if (!n || n >= SERVICE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* Adds @port to @svc unless it is there; -E2BIG past INGEST_AGENT_PORTS_MAX. */
static int service_add_port(struct ingest_agent_service *svc, uint16_t port)
{
	for (size_t i = 0; i < svc->nports; i++)
		if (svc->ports[i] == port)
			return 0;
	if (svc->nports == INGEST_AGENT_PORTS_MAX)
		return -E2BIG;
	svc->ports[svc->nports++] = port;
	return 0;
}

/* One element of "services" into @info (merged with an entry of the same name). */
static const char *hello_service(json_t *e, struct ingest_agent_info *info)
{
	const char *name = json_string_value(json_object_get(e, "name"));
	json_t *ports = json_object_get(e, "ports"), *p;
	struct ingest_agent_service *svc = NULL;
	size_t i;

	if (!json_is_object(e) || !name || !service_name_ok(name))
		return "a service without a valid name (1 to 63 printable characters)";
	if (ports && !json_is_array(ports))
		return "ports is not an array";
	for (i = 0; i < info->nservices && !svc; i++)
		if (!strcmp(info->services[i].name, name))
			svc = &info->services[i];
	if (!svc) {
		if (info->nservices == INGEST_AGENT_SERVICES_MAX)
			return "more than " INGEST_XSTR(INGEST_AGENT_SERVICES_MAX) " services";
		svc = &info->services[info->nservices++];
		snprintf(svc->name, sizeof(svc->name), "%s", name);
	}
	json_array_foreach(ports, i, p) {
		json_int_t v = json_integer_value(p);

		if (!json_is_integer(p) || v < 1 || v > 65535)
			return "a port outside 1..65535";
		if (service_add_port(svc, (uint16_t)v))
			return "a service with more than " INGEST_XSTR(
				INGEST_AGENT_PORTS_MAX) " ports";
	}
	return NULL;
}

/*
 * The optional "services" of a HELLO into @info. NULL, or why the whole
 * list is refused: a list that is only partly right would make the
 * executor aim breakers and rate limits at the wrong ports.
 */
static const char *hello_services(json_t *v, struct ingest_agent_info *info)
{
	const char *why = NULL;
	json_t *e;
	size_t i;

	info->nservices = 0;
	if (!v)
		return NULL;
	if (!json_is_array(v))
		return "services is not an array";
	json_array_foreach(v, i, e) {
		why = hello_service(e, info);
		if (why)
			break;
	}
	if (why)
		info->nservices = 0;
	return why;
}

/* true for 127.0.0.0/8, ::1, 0.0.0.0 and ::, which name no host from another one. */
static bool address_local(int af, const unsigned char *a)
{
	static const unsigned char any6[16], loop6[16] = { [15] = 1 };

	if (af == AF_INET)
		return a[0] == 127 || !memcmp(a, any6, 4);
	return !memcmp(a, any6, 16) || !memcmp(a, loop6, 16);
}

/*
 * The optional "addresses" of a HELLO into @info, in inet_ntop()'s form
 * (one spelling per address, so duplicates are found); loopback and
 * unspecified addresses are left out. NULL, or why the list is refused.
 */
static const char *hello_addresses(json_t *v, struct ingest_agent_info *info)
{
	unsigned char bin[16];
	char text[INET6_ADDRSTRLEN];
	json_t *e;
	size_t i, j;

	info->naddresses = 0;
	if (!v)
		return NULL;
	if (!json_is_array(v))
		return "addresses is not an array";
	if (json_array_size(v) > INGEST_AGENT_ADDRESSES_MAX)
		return "more than " INGEST_XSTR(INGEST_AGENT_ADDRESSES_MAX) " addresses";
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		int af = AF_INET;

		if (!s || strlen(s) >= sizeof(text)) {
			info->naddresses = 0;
			return "an address that is not an IPv4 or IPv6 address";
		}
		if (inet_pton(AF_INET, s, bin) != 1) {
			af = AF_INET6;
			if (inet_pton(AF_INET6, s, bin) != 1) {
				info->naddresses = 0;
				return "an address that is not an IPv4 or IPv6 address";
			}
		}
		if (address_local(af, bin) || !inet_ntop(af, bin, text, sizeof(text)))
			continue;
		for (j = 0; j < info->naddresses && strcmp(info->addresses[j], text); j++)
			;
		if (j == info->naddresses)
			snprintf(info->addresses[info->naddresses++], sizeof(info->addresses[0]),
				 "%s", text);
	}
	return NULL;
}

/* What a HELLO says of the host, into @a's info: a list that does not validate is left empty. */
static void hello_host(struct ingest *in, struct agent_state *a, json_t *o)
{
	struct ingest_agent_info *tmp = xcalloc(1, sizeof(*tmp)), *info;
	const char *why_s = hello_services(json_object_get(o, "services"), tmp);
	const char *why_a = hello_addresses(json_object_get(o, "addresses"), tmp);

	if (why_s)
		log_ratelimited(LOG_LEVEL_WARN,
				"ingest: agent '%s' sent a hello with %s; its services are "
				"ignored until a valid hello",
				a->agent_id, why_s);
	if (why_a)
		log_ratelimited(LOG_LEVEL_WARN,
				"ingest: agent '%s' sent a hello with %s; its addresses are "
				"ignored until a valid hello",
				a->agent_id, why_a);
	pthread_mutex_lock(&in->info_lock);
	info = agent_info(in, a);
	snprintf(info->host, sizeof(info->host), "%s", json_str(o, "host"));
	memcpy(info->services, tmp->services, sizeof(info->services));
	info->nservices = tmp->nservices;
	memcpy(info->addresses, tmp->addresses, sizeof(info->addresses));
	info->naddresses = tmp->naddresses;
	pthread_mutex_unlock(&in->info_lock);
	free(tmp);
}

static void on_hello(struct ingest *in, struct agent_state *as, const struct frame_header *h,
		     const struct buf *payload)
{
	struct store_agent a = { .connected = true };
	json_t *o = json_loadb((const char *)payload->data, payload->len, 0, NULL);

	if (!json_is_object(o)) {
		log_ratelimited(LOG_LEVEL_WARN, "ingest: agent '%s' sent a hello that is not JSON",
				h->agent_id);
		json_decref(o);
		return;
	}
	snprintf(a.tenant, sizeof(a.tenant), "%s", h->tenant);
	snprintf(a.agent_id, sizeof(a.agent_id), "%s", h->agent_id);
	snprintf(a.host, sizeof(a.host), "%s", json_str(o, "host"));
	snprintf(a.version, sizeof(a.version), "%s", json_str(o, "version"));
	a.last_seen_ms = (int64_t)(time_real_ns() / 1000000);
	a.spool_bytes = json_u64(o, "spool_bytes");
	a.spool_lost = json_u64(o, "spool_lost");
	if (store_agent_update(in->store, &a))
		log_ratelimited(LOG_LEVEL_WARN, "ingest: could not record agent '%s'",
				h->agent_id);
	hello_host(in, as, o);
	json_decref(o);
}

static void on_command_result(struct ingest *in, const struct frame_header *h,
			      const struct buf *payload)
{
	json_t *o = json_loadb((const char *)payload->data, payload->len, 0, NULL);
	uint64_t id = json_u64(o, "id");

	pthread_mutex_lock(&in->cmd_lock);
	for (struct command *c = in->commands; c; c = c->next) {
		if (c->id != id || c->result || strcmp(c->agent_id, h->agent_id) ||
		    strcmp(c->tenant, h->tenant))
			continue;
		c->result = json_dumps(o, JSON_COMPACT);
		log_info("ingest: agent '%s' answered command %llu (%s)", h->agent_id,
			 (unsigned long long)id, json_str(o, "status"));
		break;
	}
	pthread_mutex_unlock(&in->cmd_lock);
	json_decref(o);
}

static int on_windows(struct ingest *in, struct request *r, const struct frame_header *h,
		      const struct buf *payload)
{
	struct window_batch b;
	uint64_t last;
	void *copy;
	int ret = agent_last_seq(in, r->agent, &last);

	if (ret)
		return ret;
	if (h->seq <= last) {
		r->duplicates++;
		atomic_fetch_add(&in->duplicates, 1);
		return 0;
	}
	/*
	 * The views borrow their bytes until the series has them, after the
	 * commit, and the next frame overwrites @payload: decode a copy.
	 */
	copy = xmalloc(payload->len ? payload->len : 1);
	memcpy(copy, payload->data, payload->len);
	if (window_batch_decode_view(copy, payload->len, &b)) {
		/*
		 * Authentic but undecodable: an agent bug. Refusing it would stop
		 * that agent's stream for good, so its seq is consumed, empty.
		 */
		reject(in, INGEST_REJECT_BAD_WINDOWS, h->agent_id);
		memset(&b, 0, sizeof(b));
	}
	ret = store_put_windows(in->store, h->tenant, h->agent_id, h->seq, &b);
	if (ret) {
		window_batch_release(&b);
		free(copy);
		return ret;
	}
	r->agent->last_seq = h->seq;
	r->stored++;
	r->batches = xreallocarray(r->batches, r->nbatches + 1, sizeof(*r->batches));
	r->payloads = xreallocarray(r->payloads, r->nbatches + 1, sizeof(*r->payloads));
	r->payloads[r->nbatches] = copy;
	r->batches[r->nbatches++] = b;
	return 0;
}

/* A frame of @r's agent verified with its next key (keyring.h): said once per rotation. */
static void on_next_key(struct request *r)
{
	if (r->agent->next_key_noted)
		return;
	r->agent->next_key_noted = true;
	log_info("ingest: agent '%s' (tenant '%s') signs with the next key", r->agent->agent_id,
		 r->agent->tenant);
}

/*
 * frame_decode() with each of the agent's keys in turn, the current one
 * first, for as long as only the HMAC fails. The key of the request's first
 * frame signs the reply: an agent signs its HELLO and results with the key
 * it holds now, which it checks the reply with, whereas the windows it
 * replays from its spool keep the key they were signed with when made,
 * maybe the one before.
 */
static int decode(struct request *r, const struct keyring_keys *keys, const uint8_t *p, size_t len,
		  bool first, struct frame_header *h, struct buf *payload, size_t *used)
{
	int ret = FRAME_ERR_HMAC;
	size_t i;

	for (i = 0; i < keys->n; i++) {
		ret = frame_decode(p, len, keys->key[i], keys->len[i], h, payload, used);
		if (ret != FRAME_ERR_HMAC)
			break;
	}
	if (ret)
		return ret;
	if (first) {
		memcpy(r->key, keys->key[i], keys->len[i]);
		r->keylen = keys->len[i];
	}
	if (keys->next[i])
		on_next_key(r);
	else if (keys->n == 1)
		r->agent->next_key_noted = false; /* no rotation: the next one is a new one */
	return 0;
}

/*
 * Checks and stores the frames of one request. -EIO (the store failed) ends
 * the batch; any other failure rejects this request only.
 */
static int process(struct ingest *in, struct request *r, struct buf *payload, uint64_t now_s)
{
	const uint8_t *p = r->body;
	size_t len = (size_t)r->len, off = 0;
	struct frame_header h, first;
	struct keyring_keys keys; /* borrowed from in->keys until its next lookup */
	int ret;

	while (off < len) {
		size_t used = 0;

		ret = frame_peek(p + off, len - off, &h);
		if (ret) {
			reject(in, reject_of(ret), off ? first.agent_id : NULL);
			return -EPROTO;
		}
		if (!off) {
			first = h;
			ret = keyring_find(in->keys, h.tenant, h.agent_id, now_s, &keys);
			if (ret) {
				reject(in, INGEST_REJECT_UNKNOWN_AGENT, h.agent_id);
				return -EPROTO;
			}
			r->agent = agent_get(in, h.tenant, h.agent_id);
			if (!r->agent) {
				log_ratelimited(LOG_LEVEL_ERROR, "ingest: too many agents");
				return -EPROTO;
			}
		} else if (strcmp(h.agent_id, first.agent_id) || strcmp(h.tenant, first.tenant)) {
			reject(in, INGEST_REJECT_HEADER, first.agent_id);
			return -EPROTO;
		}
		ret = decode(r, &keys, p + off, len - off, !off, &h, payload, &used);
		if (ret) {
			reject(in, reject_of(ret), h.agent_id);
			return -EPROTO;
		}
		off += used;
		switch (h.type) {
		case FRAME_HELLO:
			on_hello(in, r->agent, &h, payload);
			break;
		case FRAME_COMMAND_RESULT:
			on_command_result(in, &h, payload);
			break;
		case FRAME_WINDOWS:
			ret = on_windows(in, r, &h, payload);
			if (ret)
				return -EIO;
			break;
		default: /* ACK and COMMAND go the other way */
			reject(in, INGEST_REJECT_HEADER, h.agent_id);
			return -EPROTO;
		}
	}
	agent_heard(in, r->agent, now_s);
	r->ok = true;
	return 0;
}

/* ---- replies ---- */

static void reply(struct ingest *in, struct request *r, uint64_t now_s)
{
	struct frame_header h = { .type = FRAME_ACK };
	struct buf out;
	char ack[96];
	struct nn_msghdr hdr;
	struct nn_iovec iov;
	void *msg;

	buf_init(&out, INGEST_MAX_MESSAGE);
	snprintf(h.agent_id, sizeof(h.agent_id), "%s", r->agent->agent_id);
	snprintf(h.tenant, sizeof(h.tenant), "%s", r->agent->tenant);
	h.seq = r->agent->last_seq;
	h.time_ms = (int64_t)(time_real_ns() / 1000000);
	snprintf(ack, sizeof(ack), "{\"stored\":%u,\"duplicates\":%u}", r->stored, r->duplicates);
	if (frame_encode(&out, &h, ack, strlen(ack), r->key, r->keylen))
		goto drop;
	pthread_mutex_lock(&in->cmd_lock);
	for (struct command *c = in->commands; c; c = c->next) {
		if (c->result || strcmp(c->agent_id, h.agent_id) || strcmp(c->tenant, h.tenant) ||
		    (c->sent_s && now_s < c->sent_s + INGEST_COMMAND_RESEND_S))
			continue;
		h.type = FRAME_COMMAND;
		h.seq = c->id;
		if (!frame_encode(&out, &h, c->json, strlen(c->json), r->key, r->keylen))
			c->sent_s = now_s;
	}
	pthread_mutex_unlock(&in->cmd_lock);

	msg = nn_allocmsg(out.len, 0);
	if (!msg)
		goto drop;
	memcpy(msg, out.data, out.len);
	memset(&hdr, 0, sizeof(hdr));
	iov.iov_base = &msg;
	iov.iov_len = NN_MSG;
	hdr.msg_iov = &iov;
	hdr.msg_iovlen = 1;
	hdr.msg_control = &r->ctl;
	hdr.msg_controllen = NN_MSG;
	if (nn_sendmsg(in->sock, &hdr, NN_DONTWAIT) < 0) {
		/* the agent went away; it will resend and get its ACK then */
		nn_freemsg(msg);
		goto drop;
	}
	r->ctl = NULL; /* nanomsg owns it now */
	atomic_fetch_add(&in->replies, 1);
drop:
	buf_release(&out);
}

/* ---- exports ---- */

/* The log lines of window @it of @b, to Loki. Returns how many there were. */
static uint64_t export_lines(struct ingest *in, const char *tenant, const struct window_batch *b,
			     const struct window_batch_item *it)
{
	const struct window_view *v = &it->view;
	struct window_wire_iter iter;
	struct window_wire_log l;
	uint64_t n = 0;

	if (!v->nlogs || window_wire_iter_init_logs(&iter, v->logs_wire, v->logs_wire_len))
		return 0;
	while (window_wire_next_log(&iter, &l) == 1) {
		n++;
		/* queued or dropped and counted by the exporter (full queue): never waited for */
		if (in->cfg.loki)
			(void)loki_push_line(in->cfg.loki, tenant, it->service, b->host,
					     l.stream == WINDOW_LOG_STDERR ? "stderr" : "stdout",
					     l.ts_ns, l.text, l.len);
	}
	return n;
}

/* The spans of window @it of @b, to the OTLP exporter. Returns how many there were. */
static uint64_t export_spans(struct ingest *in, const char *tenant, const struct window_batch *b,
			     const struct window_batch_item *it)
{
	const struct window_view *v = &it->view;
	struct window_wire_iter iter;
	struct span s;
	uint64_t n = 0;

	if (!v->nspans || window_wire_iter_init_spans(&iter, v->spans_wire, v->spans_wire_len))
		return 0;
	while (window_wire_next_span(&iter, &s) == 1) {
		n++;
		if (!in->cfg.otlp)
			continue;
		/* the wire leaves out what the window and the batch say once */
		snprintf(s.service, sizeof(s.service), "%s", it->service);
		snprintf(s.host, sizeof(s.host), "%s", b->host);
		(void)otlp_push_span(in->cfg.otlp, tenant, &s);
	}
	return n;
}

/*
 * Hands the log lines and spans of @r's committed windows to the exporters,
 * which copy them into their queues (or drop and count them when full):
 * ingest never waits on an exporter.
 */
static void export_request(struct ingest *in, const struct request *r)
{
	uint64_t lines = 0, spans = 0;

	for (size_t j = 0; j < r->nbatches; j++) {
		const struct window_batch *b = &r->batches[j];

		for (size_t k = 0; k < b->n; k++) {
			lines += export_lines(in, r->agent->tenant, b, &b->items[k]);
			spans += export_spans(in, r->agent->tenant, b, &b->items[k]);
		}
	}
	atomic_fetch_add(&in->log_lines, lines);
	atomic_fetch_add(&in->spans, spans);
}

static void request_release(struct request *r)
{
	for (size_t i = 0; i < r->nbatches; i++) {
		window_batch_release(&r->batches[i]);
		free(r->payloads[i]);
	}
	free(r->batches);
	free(r->payloads);
	if (r->ctl)
		nn_freemsg(r->ctl);
	if (r->body)
		nn_freemsg(r->body);
	memset(r, 0, sizeof(*r));
}

/* ---- the loop ---- */

/* Receives one request; false on timeout or shutdown. */
static bool receive(struct ingest *in, struct request *r, int flags)
{
	struct nn_msghdr hdr;
	struct nn_iovec iov;
	void *body = NULL, *ctl = NULL;
	int n;

	memset(&hdr, 0, sizeof(hdr));
	iov.iov_base = &body;
	iov.iov_len = NN_MSG;
	hdr.msg_iov = &iov;
	hdr.msg_iovlen = 1;
	hdr.msg_control = &ctl;
	hdr.msg_controllen = NN_MSG;
	n = nn_recvmsg(in->sock, &hdr, flags);
	if (n < 0)
		return false;
	memset(r, 0, sizeof(*r));
	r->body = body;
	r->ctl = ctl;
	r->len = n;
	atomic_fetch_add(&in->requests, 1);
	return true;
}

static void handle_batch(struct ingest *in, struct request *reqs, size_t n, struct buf *payload)
{
	uint64_t now_s = time_real_ns() / 1000000000ull;
	bool failed = false;
	uint64_t frames = 0, windows = 0;

	if (store_begin(in->store)) {
		failed = true;
		goto out;
	}
	for (size_t i = 0; i < n && !failed; i++)
		if (process(in, &reqs[i], payload, now_s) == -EIO)
			failed = true;
	if (!failed && store_commit(in->store))
		failed = true;
	if (failed) {
		store_rollback(in->store);
		agents_forget_seqs(in);
		atomic_fetch_add(&in->commit_failures, 1);
		log_ratelimited(LOG_LEVEL_ERROR,
				"ingest: a batch of %zu requests was not stored; agents will resend",
				n);
		goto out;
	}
	atomic_fetch_add(&in->commits, 1);
	/*
	 * A request that failed part way (a later frame refused) still had its
	 * earlier frames committed: they count, feed the series and go to the
	 * exporters like any other, since its agent's resend will find them
	 * duplicates. Only the reply waits for a request that went through.
	 */
	for (size_t i = 0; i < n; i++) {
		frames += reqs[i].stored;
		for (size_t j = 0; j < reqs[i].nbatches; j++)
			windows += reqs[i].batches[j].n;
		for (size_t j = 0; in->cfg.series && j < reqs[i].nbatches; j++) {
			/* a clock far ahead would push a service's ring past its other hosts */
			if (reqs[i].batches[j].end_ms / 1000 > (int64_t)now_s + INGEST_FUTURE_S) {
				log_ratelimited(LOG_LEVEL_WARN,
						"ingest: agent '%s' sends windows from the future: "
						"is its clock right?",
						reqs[i].agent->agent_id);
				continue;
			}
			series_add(in->cfg.series, reqs[i].agent->tenant, &reqs[i].batches[j]);
		}
		if (reqs[i].ok)
			reply(in, &reqs[i], now_s);
		/* after the commit: a frame rolled back is sent again, and must not be exported twice */
		export_request(in, &reqs[i]);
	}
	atomic_fetch_add(&in->frames_stored, frames);
	atomic_fetch_add(&in->windows_stored, windows);
out:
	for (size_t i = 0; i < n; i++)
		request_release(&reqs[i]);
}

static void *ingest_main(void *arg)
{
	struct ingest *in = arg;
	struct request *reqs = xcalloc(INGEST_MAX_BATCH, sizeof(*reqs));
	struct buf payload;
	uint64_t last_maintain = 0;

	buf_init(&payload, FRAME_PAYLOAD_MAX + 1);
	atomic_store(&in->running, true);
	while (!atomic_load(&in->stop)) {
		uint64_t deadline, now = time_mono_ns();
		size_t n = 0;

		if (receive(in, &reqs[0], 0)) {
			n = 1;
			deadline = time_mono_ns() + (uint64_t)in->cfg.batch_ms * 1000000ull;
			while (n < INGEST_MAX_BATCH && time_mono_ns() < deadline) {
				if (receive(in, &reqs[n], NN_DONTWAIT))
					n++;
				else
					time_sleep_ns(200000);
			}
			handle_batch(in, reqs, n, &payload);
		}
		now = time_mono_ns();
		if (now - last_maintain >= 1000000000ull) {
			bool more = false;

			last_maintain = now;
			count_connected(in, time_real_ns() / 1000000000ull);
			if (store_maintain(in->store, (int64_t)(time_real_ns() / 1000000), &more))
				log_ratelimited(LOG_LEVEL_WARN, "ingest: store maintenance failed");
		}
	}
	atomic_store(&in->running, false);
	buf_release(&payload);
	free(reqs);
	return NULL;
}

int ingest_start(struct ingest **out, const struct ingest_config *c)
{
	struct ingest *in = xcalloc(1, sizeof(*in));
	int timeout = INGEST_RECV_TIMEOUT_MS, maxsize = (int)INGEST_MAX_MESSAGE, ret;

	/*
	 * Every request allocates and frees buffers of tens of KiB (nanomsg's
	 * messages, payload copies); glibc would hand the top of the thread's
	 * heap back after each with madvise(), a TLB shoot-down each time, 15%
	 * of ingest's CPU. Keep up to 64 MiB of free heap instead (process-wide).
	 */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 16 << 20);
	in->cfg = *c;
	in->url = xstrdup(c->url);
	in->keys_dir = xstrdup(c->keys_dir);
	in->cfg.url = in->url;
	in->cfg.keys_dir = in->keys_dir;
	if (!in->cfg.batch_ms)
		in->cfg.batch_ms = 10;
	/*
	 * An agent runs a command id once (it remembers the recent ones), so
	 * ids must not repeat across aggregator restarts: they start at the
	 * wall clock in ms times 1000. A new run can only reuse an id if the
	 * previous one issued more than 1000 commands per ms of its life, or
	 * if the clock went back. 2^53 (JSON's exact integers) is past 2255.
	 */
	in->next_command_id = time_real_ns() / 1000000 * INGEST_COMMAND_IDS_PER_MS + 1;
	pthread_mutex_init(&in->cmd_lock, NULL);
	pthread_mutex_init(&in->info_lock, NULL);
	in->agents = xcalloc(INGEST_AGENT_SLOTS, sizeof(*in->agents));
	in->keys = keyring_new(c->keys_dir);
	in->sock = -1;

	ret = store_open(&in->store, &c->store);
	if (ret)
		goto fail;
	in->sock = nn_socket(AF_SP_RAW, NN_REP);
	if (in->sock < 0 ||
	    nn_setsockopt(in->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout, sizeof(timeout)) < 0 ||
	    nn_setsockopt(in->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsize, sizeof(maxsize)) < 0 ||
	    nn_bind(in->sock, c->url) < 0) {
		ret = -nn_errno();
		log_error("ingest: cannot listen on %s: %s", c->url, nn_strerror(-ret));
		goto fail;
	}
	if (pthread_create(&in->thread, NULL, ingest_main, in)) {
		ret = -EAGAIN;
		goto fail;
	}
	in->started = true;
	log_info("ingest: listening on %s", c->url);
	*out = in;
	return 0;
fail:
	ingest_stop(in);
	return ret;
}

void ingest_stop(struct ingest *in)
{
	if (!in)
		return;
	atomic_store(&in->stop, true);
	if (in->started)
		pthread_join(in->thread, NULL);
	if (in->sock >= 0)
		nn_close(in->sock);
	store_close(in->store);
	keyring_free(in->keys);
	for (size_t i = 0; i < INGEST_AGENT_SLOTS; i++) {
		if (in->agents[i])
			free(in->agents[i]->info);
		free(in->agents[i]);
	}
	free(in->agents);
	free(in->heard);
	pthread_mutex_destroy(&in->info_lock);
	while (in->commands) {
		struct command *c = in->commands;

		in->commands = c->next;
		free(c->json);
		free(c->result);
		free(c);
	}
	pthread_mutex_destroy(&in->cmd_lock);
	free(in->url);
	free(in->keys_dir);
	free(in);
}

void ingest_get_stats(struct ingest *in, struct ingest_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->requests = atomic_load(&in->requests);
	st->replies = atomic_load(&in->replies);
	st->frames_stored = atomic_load(&in->frames_stored);
	st->windows_stored = atomic_load(&in->windows_stored);
	st->duplicates = atomic_load(&in->duplicates);
	st->commits = atomic_load(&in->commits);
	st->commit_failures = atomic_load(&in->commit_failures);
	st->log_lines = atomic_load(&in->log_lines);
	st->spans = atomic_load(&in->spans);
	for (int i = 0; i < INGEST_REJECT_COUNT; i++)
		st->rejected[i] = atomic_load(&in->rejected[i]);
	st->agents_connected = atomic_load(&in->agents_connected);
	st->running = atomic_load(&in->running);
}

int ingest_command(struct ingest *in, const char *tenant, const char *agent_id,
		   const char *command, const char *args_json, uint64_t *id)
{
	json_t *args = args_json ? json_loads(args_json, 0, NULL) : json_object(), *msg;
	struct command *c, **pp;
	size_t kept = 0;

	if (!args || !*command || strlen(tenant) >= FRAME_ID_MAX ||
	    strlen(agent_id) >= FRAME_ID_MAX) {
		json_decref(args);
		return -EINVAL;
	}
	c = xcalloc(1, sizeof(*c));
	snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
	snprintf(c->agent_id, sizeof(c->agent_id), "%s", agent_id);
	pthread_mutex_lock(&in->cmd_lock);
	c->id = in->next_command_id++;
	msg = json_pack("{s:I, s:s, s:O}", "id", (json_int_t)c->id, "command", command, "args",
			args);
	c->json = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	c->next = in->commands;
	in->commands = c;
	/* forget the oldest finished commands */
	for (pp = &in->commands; *pp;) {
		if ((*pp)->result && ++kept > INGEST_RESULTS_KEPT) {
			struct command *old = *pp;

			*pp = old->next;
			free(old->json);
			free(old->result);
			free(old);
			continue;
		}
		pp = &(*pp)->next;
	}
	*id = c->id;
	pthread_mutex_unlock(&in->cmd_lock);
	json_decref(args);
	log_info("ingest: command %llu '%s' queued for agent '%s'", (unsigned long long)*id,
		 command, agent_id);
	return 0;
}

int ingest_command_result(struct ingest *in, uint64_t id, char **json)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&in->cmd_lock);
	for (struct command *c = in->commands; c; c = c->next) {
		if (c->id != id)
			continue;
		if (c->result) {
			*json = xstrdup(c->result);
			ret = 0;
		} else {
			ret = -EAGAIN;
		}
		break;
	}
	pthread_mutex_unlock(&in->cmd_lock);
	return ret;
}

int ingest_command_cancel(struct ingest *in, uint64_t id)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&in->cmd_lock);
	for (struct command **pp = &in->commands; *pp; pp = &(*pp)->next) {
		struct command *c = *pp;

		if (c->id != id)
			continue;
		if (!c->result) {
			*pp = c->next;
			free(c->json);
			free(c);
			ret = 0;
		}
		break;
	}
	pthread_mutex_unlock(&in->cmd_lock);
	return ret;
}

static int info_cmp(const void *a, const void *b)
{
	const struct ingest_agent_info *x = a, *y = b;
	int c = strcmp(x->agent_id, y->agent_id);

	return c ? c : strcmp(x->tenant, y->tenant);
}

int ingest_agents_info(struct ingest *in, const char *tenant, struct ingest_agent_info **out,
		       size_t *n)
{
	uint64_t now_s = time_real_ns() / 1000000000ull;
	struct ingest_agent_info *v;
	size_t len = 0;

	pthread_mutex_lock(&in->info_lock);
	v = xcalloc(in->nheard ? in->nheard : 1, sizeof(*v));
	for (size_t i = 0; i < in->nheard; i++) {
		const struct agent_state *a = in->heard[i];

		if (tenant && strcmp(a->tenant, tenant))
			continue;
		v[len] = *a->info;
		/* heard_s is the ingest thread's; its last_seen_ms copy is read under the lock */
		v[len].connected = heard_recently((uint64_t)a->info->last_seen_ms / 1000, now_s);
		len++;
	}
	pthread_mutex_unlock(&in->info_lock);
	qsort(v, len, sizeof(*v), info_cmp);
	*out = v;
	*n = len;
	return 0;
}
