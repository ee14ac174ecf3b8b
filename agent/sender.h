/*
 * The agent's end of the wire protocol (docs/protocol.md): a thread that
 * sends the spool's unacknowledged frames to the aggregator in order, over a
 * nanomsg REQ socket, and frees them when the aggregator acknowledges them.
 * The main loop never waits for it: it appends each window's frame to the
 * spool and calls sender_wake(). So a slow or absent aggregator slows the
 * sending, never the sampling, and the spool holds what is not yet sent.
 *
 * Every request starts with a HELLO frame (the agent's status, its services
 * and addresses), so a request without windows is a heartbeat, sent at least
 * every SENDER_HEARTBEAT_MS. Commands come back on the replies; the thread
 * answers `ping` itself, hands the others to remediation (agent/remediation.h:
 * quick ones run on this thread, restarts on remediation's worker), and
 * returns their results on the next request after they finish.
 */
#ifndef PRP_AGENT_SENDER_H
#define PRP_AGENT_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/remediation.h"
#include "agent/service_view.h"
#include "agent/spool.h"
#include "common/frame.h"
#include "common/keyfile.h"

#define SENDER_HEARTBEAT_MS 1000
/* Bytes of spooled frames per request. */
#define SENDER_REQUEST_BYTES (4u << 20)

struct sender_config {
	const char *url; /* tcp://HOST:7070 */
	const char *agent_id;
	const char *tenant;
	const uint8_t *key;
	size_t keylen;
	const char *host;
	const char *version;
	struct spool *spool; /* borrowed; outlives the sender */
	/* borrowed, outlive the sender; NULL: commands but ping are unknown */
	struct remediation *remediation;
	/* borrowed, outlives the sender; NULL: the HELLO lists no services */
	struct service_view *services;
};

struct sender_status {
	bool connected;	      /* the last request was answered */
	uint64_t acked_seq;   /* as the aggregator last said */
	uint64_t requests, replies, commands;
	int64_t last_reply_ms; /* 0: never */
	/* since the sender started: spooled frames put in requests (resends included) */
	uint64_t frames_sent;
	uint64_t frames_acked; /* frames the aggregator acknowledged, each once */
};

struct sender;

int sender_start(struct sender **out, const struct sender_config *c);
/* Stops the thread (within about a second) and frees; the spool keeps what was not acknowledged. */
void sender_stop(struct sender *s);
/* A frame was appended to the spool. */
void sender_wake(struct sender *s);
void sender_get_status(struct sender *s, struct sender_status *st);

#endif
