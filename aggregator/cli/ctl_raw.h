/*
 * prpctl's raw calls, for any route the other commands do not cover:
 * `get PATH`, `delete PATH`, `post PATH [BODY|-]` and `put PATH [BODY|-]`
 * (`-`: the body from stdin). A body is JSON unless --content-type says
 * otherwise (POST /policies takes application/yaml), and JSON is checked
 * before it is sent. The answer is printed indented by two when it is
 * JSON, as it came when it is not (GET /metrics) or with --json.
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_RAW_H
#define PRP_AGGREGATOR_CLI_CTL_RAW_H

#include "aggregator/cli/ctl_cmds.h"

ctl_cmd_fn ctl_raw_get;
ctl_cmd_fn ctl_raw_post;
ctl_cmd_fn ctl_raw_put;
ctl_cmd_fn ctl_raw_delete;

#endif
