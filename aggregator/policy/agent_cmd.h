/*
 * One command sent to several agents and their answers (docs/protocol.md,
 * FRAME_COMMAND / FRAME_COMMAND_RESULT): queued through ingest, which
 * sends each with the replies to its agent, then polled until every agent
 * answered or the time is up. A command left unanswered is withdrawn
 * (ingest_command_cancel()), so an agent that comes back later never runs
 * what the action already gave up on.
 *
 * The set as a whole: succeeded when every agent succeeded, failed when
 * any failed, timed_out otherwise. Used by one thread at a time.
 */
#ifndef PRP_AGGREGATOR_POLICY_AGENT_CMD_H
#define PRP_AGGREGATOR_POLICY_AGENT_CMD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/store/store.h"
#include "common/frame.h"

struct ingest;
struct action_ctx;

#define AGENT_CMD_POLL_MS    50	  /* how often the answers are looked for */
#define AGENT_CMD_RESULT_MAX 2048 /* an agent's result kept, as JSON text; longer is cut */

struct agent_cmd {
	char agent_id[FRAME_ID_MAX];
	json_t *args;			 /* owned */
	uint64_t id;			 /* ingest's command id; 0 until queued */
	enum store_action_status status; /* pending until it ends */
	json_t *result;			 /* owned: the agent's "result", or why not */
};

struct agent_cmds {
	char tenant[FRAME_ID_MAX];
	char command[32];
	struct agent_cmd *v;
	size_t n;
};

void agent_cmds_init(struct agent_cmds *c, const char *tenant, const char *command);
void agent_cmds_release(struct agent_cmds *c);
/* Adds the command for @agent_id with @args (takes ownership). */
void agent_cmds_add(struct agent_cmds *c, const char *agent_id, json_t *args);
/* Adds @agent_id as already failed with @why (it was not sent: "not connected"). */
void agent_cmds_add_failed(struct agent_cmds *c, const char *agent_id, const char *why);

/*
 * Queues every pending command; each that cannot be queued fails. Logs
 * "sent to agent a1" into @ctx (NULL: the daemon's log only).
 */
void agent_cmds_send(struct agent_cmds *c, struct ingest *in, struct action_ctx *ctx);
/*
 * Polls the answers until each came or CLOCK_MONOTONIC passes
 * @deadline_ms; what is left is timed_out and withdrawn. Logs each
 * answer ("a1: succeeded {...}").
 */
void agent_cmds_wait(struct agent_cmds *c, struct ingest *in, int64_t deadline_ms,
		     struct action_ctx *ctx);
/* The set's status (above); failed for an empty set. */
enum store_action_status agent_cmds_status(const struct agent_cmds *c);
/*
 * The agents that did not succeed, for an error message: "a1 failed: not
 * connected; a2 timed_out"; "" when all did. Cut to @len.
 */
void agent_cmds_failures(const struct agent_cmds *c, char *out, size_t len);
/* [{agent_id, status, result}, ...], new reference. */
json_t *agent_cmds_json(const struct agent_cmds *c);

/* CLOCK_MONOTONIC in ms, the clock of deadlines. */
int64_t agent_cmd_now_ms(void);

#endif
