/*
 * prpctl's backup and restore of the aggregator's store (admin).
 *
 * `backup FILE [--force]` downloads a consistent snapshot (POST
 * /admin/backup with no body answers the SQLite file itself) into
 * FILE.partial, checks that it is an SQLite database, syncs it and renames
 * it to FILE, so FILE is either absent or whole. An existing FILE is kept
 * unless --force. `backup --server-path PATH` has the aggregator write the
 * snapshot to PATH on its own host instead.
 *
 * `restore PATH` stages PATH, made absolute here, as the store to use at
 * the aggregator's next start (POST /admin/restore).
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_BACKUP_H
#define PRP_AGGREGATOR_CLI_CTL_BACKUP_H

#include "aggregator/cli/ctl_cmds.h"

/* The first 16 bytes of every SQLite 3 database file. */
#define CTL_BACKUP_MAGIC "SQLite format 3"

ctl_cmd_fn ctl_backup_run;
ctl_cmd_fn ctl_backup_restore;

#endif
