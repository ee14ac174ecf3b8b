/*
 * `services list|health|show NAME [--since S]`, `anomalies list|show ID`
 * and `predictions [SERVICE]`: what the aggregator sees (docs/prpctl.md).
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_SERVICES_H
#define PRP_AGGREGATOR_CLI_CTL_SERVICES_H

#include "aggregator/cli/ctl_cmds.h"

ctl_cmd_fn ctl_services_list;
ctl_cmd_fn ctl_services_health;
ctl_cmd_fn ctl_services_show;
ctl_cmd_fn ctl_services_anomalies;
ctl_cmd_fn ctl_services_anomaly;
ctl_cmd_fn ctl_services_predictions;
ctl_cmd_fn ctl_services_status;

#endif
