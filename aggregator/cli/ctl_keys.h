/*
 * prpctl's API key commands (admin): `keys create`, `keys list`,
 * `keys revoke`, and `validate`, which asks what the key in use is worth.
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_KEYS_H
#define PRP_AGGREGATOR_CLI_CTL_KEYS_H

#include "aggregator/cli/ctl_cmds.h"

/*
 * `keys create NAME --role viewer|operator|admin [--description TEXT]
 * [--tenant T] [--per-minute N] [--per-hour N]`: POST /keys. Prints the new
 * key alone on the first line of stdout, then its fields; a warning on
 * stderr that it is shown only this once.
 */
ctl_cmd_fn ctl_keys_create;
/* `keys list`: GET /keys as ID NAME ROLE TENANT CREATED LAST-USED (and REVOKED when any is). */
ctl_cmd_fn ctl_keys_list;
/* `keys revoke ID`: DELETE /keys/ID. */
ctl_cmd_fn ctl_keys_revoke;
/* `validate`: POST /validate. Fails (1) when the answer says the key is not valid or not allowed.
 */
ctl_cmd_fn ctl_keys_validate;

#endif
