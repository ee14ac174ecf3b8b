/*
 * Ingest: the aggregator's end of the wire protocol (docs/protocol.md). One
 * thread receives agents' requests on a raw nanomsg REP socket, so that it
 * can hold the replies of many requests while it stores their frames in one
 * transaction (group commit), and acknowledges a frame only once it is
 * durable. Duplicates (seq at or below the agent's last stored one, kept in
 * the store) are dropped but acknowledged; frames that fail any check are
 * counted by reason, logged at a limited rate, and get no reply.
 *
 * Commands for agents ride on the replies: ingest_command() queues one, it is
 * sent with every reply to that agent until the agent's result comes back,
 * and ingest_command_result() returns the result.
 */
#ifndef PRP_AGGREGATOR_INGEST_H
#define PRP_AGGREGATOR_INGEST_H

#include <stdatomic.h>
#include <stdint.h>

#include "aggregator/series.h"
#include "aggregator/store/store.h"

struct loki;
struct otlp;

struct ingest_config {
	const char *url;      /* "tcp://0.0.0.0:7070" */
	const char *keys_dir; /* see aggregator/keyring.h */
	struct store_options store;
	struct series *series; /* may be NULL */
	unsigned batch_ms;     /* longest a request waits for its group commit (default 10) */
	/*
	 * The exporters the windows' log lines and spans go to once their
	 * frame is committed (never before: a rolled back frame is sent again
	 * by its agent); borrowed, started before ingest_start() and stopped
	 * after ingest_stop(). NULL: that exporter is off, and what it would
	 * get is dropped (lines are not stored).
	 */
	struct loki *loki; /* aggregator/export/loki.h */
	struct otlp *otlp; /* aggregator/export/otlp.h */
};

/* Counters; each read on its own (atomically), so a snapshot is not a cut. */
enum ingest_reject {
	INGEST_REJECT_TRUNCATED,
	INGEST_REJECT_MAGIC,
	INGEST_REJECT_VERSION,
	INGEST_REJECT_OVERSIZED,
	INGEST_REJECT_HEADER,
	INGEST_REJECT_HMAC,
	INGEST_REJECT_PAYLOAD,
	INGEST_REJECT_UNKNOWN_AGENT, /* no key for it */
	INGEST_REJECT_BAD_WINDOWS,   /* authenticated, but the windows do not decode */
	INGEST_REJECT_COUNT,
};

struct ingest_stats {
	uint64_t requests, replies;
	uint64_t frames_stored, windows_stored, duplicates;
	uint64_t commits, commit_failures;
	uint64_t log_lines, spans; /* in committed windows (handed to the exporters that are on) */
	uint64_t rejected[INGEST_REJECT_COUNT];
	unsigned agents_connected; /* agents heard from in the last 5 s */
	bool running;
};

struct ingest;

/* Binds and starts the thread. 0 or -errno (the store or the bind failed, logged). */
int ingest_start(struct ingest **out, const struct ingest_config *c);
/* Stops the thread after its current batch is committed and answered; frees. */
void ingest_stop(struct ingest *in);
void ingest_get_stats(struct ingest *in, struct ingest_stats *st);
const char *ingest_reject_name(enum ingest_reject r);

/*
 * Queues @command (JSON @args, may be NULL) for the agent; *id is its id,
 * unique across aggregator restarts too (docs/aggregator.md "Commands to
 * agents"). Any thread.
 */
int ingest_command(struct ingest *in, const char *tenant, const char *agent_id,
		   const char *command, const char *args_json, uint64_t *id);
/*
 * The result of command @id: 0 with *json (malloc()ed: {id, status, result})
 * once the agent answered, -EAGAIN while pending, -ENOENT for an unknown id.
 */
int ingest_command_result(struct ingest *in, uint64_t id, char **json);
/*
 * Withdraws command @id while it is unanswered: it is no longer sent, so an
 * agent that comes back later never runs what its sender gave up on (a
 * late answer is ignored). 0, or -ENOENT when unknown or already answered.
 * Any thread.
 */
int ingest_command_cancel(struct ingest *in, uint64_t id);

/*
 * What an agent's latest HELLO said about its host (docs/protocol.md): the
 * services it watches with their listening ports, and the host's
 * addresses. Kept in memory for the agents heard since the start.
 */
#define INGEST_AGENT_ADDRESSES_MAX 16
#define INGEST_AGENT_SERVICES_MAX  64
#define INGEST_AGENT_PORTS_MAX	   16
struct ingest_agent_service {
	char name[SERVICE_NAME_MAX];
	uint16_t ports[INGEST_AGENT_PORTS_MAX]; /* host order */
	size_t nports;
};
struct ingest_agent_info {
	char tenant[FRAME_ID_MAX];
	char agent_id[FRAME_ID_MAX];
	char host[WINDOW_HOST_MAX];
	bool connected;	      /* a request in the last 5 s */
	int64_t last_seen_ms;
	struct ingest_agent_service services[INGEST_AGENT_SERVICES_MAX];
	size_t nservices;
	char addresses[INGEST_AGENT_ADDRESSES_MAX][46]; /* non-loopback, "10.0.0.5", "fe80::1" */
	size_t naddresses;
};
/*
 * The agents of @tenant (NULL: all) heard since the start (a request that
 * passed every check), by agent id; caller owns *out: free(). Returns 0.
 * Lists that did not validate in the latest HELLO are empty. Any thread.
 */
int ingest_agents_info(struct ingest *in, const char *tenant, struct ingest_agent_info **out,
		       size_t *n);

#endif
