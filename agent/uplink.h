/*
 * The agent's link to the aggregator: each closed window set becomes one
 * FRAME_WINDOWS frame (common/window_wire.h inside common/frame.h), appended
 * to the on-disk spool (agent/spool.h) and sent by the sender thread
 * (agent/sender.h). The spool's state is also written to DIR/status.json
 * after every window, for `prp-agent --status` and for people.
 */
#ifndef PRP_AGENT_UPLINK_H
#define PRP_AGENT_UPLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent_config.h"
#include "agent/remediation.h"
#include "agent/service_view.h"
#include "agent/services.h"
#include "common/window.h"

struct uplink;

/*
 * Opens the spool and starts the sender: 0 with *out set; 1 when sending is
 * off (aggregator ""), or impossible for a reason already logged (no key
 * file), *out NULL; a negative errno when the spool cannot be used.
 * @remediation runs the aggregator's commands and @services feeds the
 * HELLO (both borrowed, may be NULL, must outlive the uplink).
 */
int uplink_start(struct uplink **out, const struct agent_config *c, const char *host,
		 struct remediation *remediation, struct service_view *services);
void uplink_stop(struct uplink *u);

/* Spools the windows of every service in @set that ended at @end_ns. */
void uplink_send(struct uplink *u, const struct service_set *set, const struct window_set *ws,
		 uint64_t end_ns, uint64_t interval_ms);

/* What the local /metrics shows of the uplink (agent/node_metrics.h). */
struct uplink_stats {
	bool connected;		    /* the aggregator answered the last request */
	uint64_t frames_sent;	    /* since the agent started, resends included */
	uint64_t frames_acked;	    /* since the agent started */
	uint64_t spool_bytes;	    /* unacknowledged, on disk now */
	uint64_t spool_lost_frames; /* dropped at the spool's bound, ever (kept across restarts) */
};

/* Fills @st; any thread (the spool and the sender lock their own state). */
void uplink_get_stats(struct uplink *u, struct uplink_stats *st);

/* One log line with the spool's and the sender's state. */
void uplink_log_status(struct uplink *u);

/* Prints DIR/status.json of the spool in @dir; 0, or 1 after saying why. */
int uplink_print_status(const char *dir);

#endif
