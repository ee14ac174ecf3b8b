/*
 * Frames from windows. The frame of a window set is spooled before the main
 * loop goes on, so a window is on disk within its interval whether or not
 * the aggregator is there; the sender is woken and does the rest.
 */
#include "agent/uplink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/sender.h"
#include "agent/spool.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/frame.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "common/window_wire.h"

struct uplink {
	struct spool *spool;
	struct sender *sender;
	char *dir;
	char agent_id[FRAME_ID_MAX];
	char tenant[FRAME_ID_MAX];
	char host[WINDOW_HOST_MAX];
	uint8_t key[KEY_FILE_MAX];
	size_t keylen;
	uint64_t lost_logged;
};

int uplink_start(struct uplink **out, const struct agent_config *c, const char *host,
		 struct remediation *remediation, struct service_view *services)
{
	struct uplink *u;
	struct sender_config sc;
	int ret;

	*out = NULL;
	if (!c->aggregator || !*c->aggregator) {
		log_info("uplink: no aggregator configured; windows are not sent");
		return 1;
	}
	u = xcalloc(1, sizeof(*u));
	ret = key_file_read(c->key_file, u->key, sizeof(u->key), &u->keylen);
	if (ret) {
		log_warn("uplink: key_file %s: %s; windows are NOT sent to %s", c->key_file,
			 ret == -ENOKEY ? "shorter than 16 bytes" : strerror(-ret), c->aggregator);
		free(u);
		return 1;
	}
	snprintf(u->agent_id, sizeof(u->agent_id), "%s", c->agent_id ? c->agent_id : host);
	snprintf(u->tenant, sizeof(u->tenant), "%s", c->tenant);
	snprintf(u->host, sizeof(u->host), "%s", host);
	u->dir = xstrdup(c->spool_dir);
	ret = spool_open(&u->spool, c->spool_dir, c->spool_max_bytes);
	if (ret) {
		log_error_err(ret, "uplink: cannot use the spool in %s", c->spool_dir);
		uplink_stop(u);
		return ret;
	}
	sc = (struct sender_config){ .url = c->aggregator,
				     .agent_id = u->agent_id,
				     .tenant = u->tenant,
				     .key = u->key,
				     .keylen = u->keylen,
				     .host = host,
				     .version = PRP_VERSION,
				     .spool = u->spool,
				     .remediation = remediation,
				     .services = services };
	ret = sender_start(&u->sender, &sc);
	if (ret) {
		uplink_stop(u);
		return ret;
	}
	*out = u;
	return 0;
}

void uplink_stop(struct uplink *u)
{
	if (!u)
		return;
	sender_stop(u->sender);
	spool_close(u->spool);
	free(u->dir);
	free(u);
}

/* DIR/status.json, replaced whole (rename) so a reader never sees half of it. */
static void write_status(struct uplink *u)
{
	struct spool_stats st;
	struct sender_status ss;
	char path[4096], tmp[4096];
	FILE *f;

	spool_stats(u->spool, &st);
	sender_get_status(u->sender, &ss);
	snprintf(path, sizeof(path), "%s/status.json", u->dir);
	snprintf(tmp, sizeof(tmp), "%s/status.json.tmp", u->dir);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f,
		"{\"agent_id\":\"%s\",\"tenant\":\"%s\",\"connected\":%s,\"spool_bytes\":%llu,"
		"\"spool_frames\":%llu,\"spool_lost\":%llu,\"acked_seq\":%llu,\"next_seq\":%llu,"
		"\"last_reply_ms\":%lld}\n",
		u->agent_id, u->tenant, ss.connected ? "true" : "false",
		(unsigned long long)st.bytes, (unsigned long long)st.frames,
		(unsigned long long)st.lost_frames, (unsigned long long)st.acked_seq,
		(unsigned long long)st.next_seq, (long long)ss.last_reply_ms);
	if (fclose(f) || rename(tmp, path))
		unlink(tmp);
}

void uplink_send(struct uplink *u, const struct service_set *set, const struct window_set *ws,
		 uint64_t end_ns, uint64_t interval_ms)
{
	static struct window empty; /* never written */
	struct window_batch b = { .end_ms = (int64_t)(end_ns / 1000000),
				  .interval_ms = (uint32_t)interval_ms };
	struct frame_header h = { .type = FRAME_WINDOWS };
	struct spool_stats st;
	struct buf payload, frame;
	int ret;

	spool_stats(u->spool, &st);
	snprintf(b.host, sizeof(b.host), "%s", u->host);
	b.spool_bytes = st.bytes;
	b.spool_lost = st.lost_frames;
	b.items = xcalloc(set->n ? set->n : 1, sizeof(*b.items));
	for (size_t i = 0; i < set->n; i++) {
		const struct service *svc = &set->items[i];
		struct window_batch_item *it = &b.items[b.n++];

		snprintf(it->service, sizeof(it->service), "%s", svc->name);
		it->npids = svc->npids < WINDOW_PIDS_MAX ? svc->npids : WINDOW_PIDS_MAX;
		memcpy(it->pids, svc->pids, it->npids * sizeof(it->pids[0]));
		/* a quiet service still sends its (empty) window: it is alive */
		it->w = ws->by_id[svc->id] ? ws->by_id[svc->id] : &empty;
	}
	buf_init(&payload, FRAME_PAYLOAD_MAX);
	buf_init(&frame, FRAME_PAYLOAD_MAX + (1u << 16));
	ret = window_batch_encode(&b, &payload);
	if (!ret) {
		snprintf(h.agent_id, sizeof(h.agent_id), "%s", u->agent_id);
		snprintf(h.tenant, sizeof(h.tenant), "%s", u->tenant);
		h.seq = spool_next_seq(u->spool);
		h.time_ms = b.end_ms;
		ret = frame_encode(&frame, &h, payload.data, payload.len, u->key, u->keylen);
	}
	if (!ret)
		ret = spool_append(u->spool, h.seq, frame.data, frame.len);
	if (ret)
		log_ratelimited(LOG_LEVEL_ERROR, "uplink: a window set was not spooled: %s",
				strerror(-ret));
	else
		sender_wake(u->sender);
	buf_release(&frame);
	buf_release(&payload);
	free(b.items);

	spool_stats(u->spool, &st);
	if (st.lost_frames > u->lost_logged) {
		log_warn("uplink: the spool is full: %llu frames dropped so far",
			 (unsigned long long)st.lost_frames);
		u->lost_logged = st.lost_frames;
	}
	write_status(u);
}

void uplink_get_stats(struct uplink *u, struct uplink_stats *st)
{
	struct spool_stats sp;
	struct sender_status ss;

	spool_stats(u->spool, &sp);
	sender_get_status(u->sender, &ss);
	*st = (struct uplink_stats){ .connected = ss.connected,
				     .frames_sent = ss.frames_sent,
				     .frames_acked = ss.frames_acked,
				     .spool_bytes = sp.bytes,
				     .spool_lost_frames = sp.lost_frames };
}

void uplink_log_status(struct uplink *u)
{
	struct spool_stats st;
	struct sender_status ss;

	spool_stats(u->spool, &st);
	sender_get_status(u->sender, &ss);
	log_info("uplink: %s, acknowledged up to %llu, spool %llu frames (%llu bytes), %llu lost",
		 ss.connected ? "connected" : "NOT connected", (unsigned long long)st.acked_seq,
		 (unsigned long long)st.frames, (unsigned long long)st.bytes,
		 (unsigned long long)st.lost_frames);
}

int uplink_print_status(const char *dir)
{
	char path[4096], line[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/status.json", dir);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "prp-agent: no status in %s: %s (is the agent sending?)\n", path,
			strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	return 0;
}
