/*
 * prpctl's read-only views of the aggregator: `health` (GET /health) and
 * `audit` (GET /audit), each as a short text table or, with --json, the
 * answer as it came.
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_INFO_H
#define PRP_AGGREGATOR_CLI_CTL_INFO_H

#include "aggregator/cli/ctl_cmds.h"

/* `health`: status, version, uptime (and agents and store when the answer has them). */
ctl_cmd_fn ctl_info_health;
/* `audit [--limit N] [--since S] [--cursor C]`: TIME ACTOR ACTION TARGET, as the server orders
 * them. */
ctl_cmd_fn ctl_info_audit;

#endif
