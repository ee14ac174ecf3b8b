/*
 * `policies list`, `policies apply FILE`, `policies test ID|NAME
 * [--service S]` and `policies delete ID|NAME`. A policy is named by its id
 * (all digits) or its name, looked up in GET /policies.
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_POLICIES_H
#define PRP_AGGREGATOR_CLI_CTL_POLICIES_H

#include "aggregator/cli/ctl_cmds.h"

ctl_cmd_fn ctl_policies_list;
ctl_cmd_fn ctl_policies_apply;
ctl_cmd_fn ctl_policies_test;
ctl_cmd_fn ctl_policies_delete;

#endif
