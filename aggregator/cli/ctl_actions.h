/*
 * `actions list [filters]`, `actions execute ACTION SERVICE [--reason R]
 * [--param K=V ...]` and `actions watch ID [--timeout S]`.
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_ACTIONS_H
#define PRP_AGGREGATOR_CLI_CTL_ACTIONS_H

#include "aggregator/cli/ctl_cmds.h"

ctl_cmd_fn ctl_actions_list;
ctl_cmd_fn ctl_actions_execute;
ctl_cmd_fn ctl_actions_watch;

#endif
