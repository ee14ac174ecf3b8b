/*
 * Online backup of the store and staged restore (store_backup.c).
 *
 * A backup is a consistent snapshot of DIR/prp.db taken while the
 * aggregator runs: SQLite's online backup API reads one WAL snapshot from a
 * read-only connection of its own, so ingest and the other writers go on.
 *
 * A restore is never done under a running store. It is staged (checked and
 * copied next to the store as DIR/prp.db.restore) and applied at the next
 * start, before anything opens the store; the store it replaces is kept
 * aside, with its WAL, as DIR/prp.db.before-restore.<unix seconds>.
 *
 * Every file this module writes is written under a ".partial" name, fsynced
 * and renamed, and the directory is fsynced: a crash leaves either the old
 * state or the new one, never a half file under the final name. A
 * ".partial" file a crash left behind is not reused (another call may be
 * writing it): the next call fails with -EEXIST until it is removed.
 *
 * Every function returns 0 or a negative errno and, on failure, writes the
 * reason into @err (@errlen bytes, may be 0). They open connections of
 * their own and share nothing: any thread may call them.
 */
#ifndef PRP_AGGREGATOR_STORE_BACKUP_H
#define PRP_AGGREGATOR_STORE_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A consistent snapshot of the store of data directory @dir into the new file @path
 * (created with mode 0600; -EEXIST when it exists; parent directory must exist), made with
 * SQLite's online backup API (sqlite3_backup_init/step/finish) from a read-only connection of
 * its own, so ingest and the other writers go on while it runs (WAL: a reader sees one
 * snapshot). The copy is written to PATH.partial and renamed at the end, fsynced, so a crash
 * never leaves a half file under @path. *bytes (may be NULL) gets the file's size.
 * 0, or -errno with a reason in @err: -ENOENT when @dir has no store (or the parent of @path
 * is missing), -EEXIST when @path or PATH.partial exists, -EIO for a database failure.
 * Any thread.
 */
int store_backup(const char *dir, const char *path, uint64_t *bytes, char *err, size_t errlen);

/*
 * Whether @path is a prp store this build can open: an SQLite database (header check before
 * opening, so a text file is a clear "not an SQLite database"), PRAGMA quick_check "ok",
 * a schema_version table whose version is between 1 and store_schema_version(), and the
 * tables anomalies, policies, actions, audit present. Opened read-only and immutable
 * (never modified; a -wal next to it is not read, so check a backup or a staged copy, not
 * a live store). 0 or -EINVAL with the reason in @err (-ENOENT/-EACCES when unreadable,
 * -EIO for a read error). Any thread.
 */
int store_backup_check(const char *path, char *err, size_t errlen);

/*
 * Stages @path as the store of @dir for the next start: checks it (store_backup_check),
 * copies it to DIR/prp.db.restore.partial, fsyncs, renames to DIR/prp.db.restore (replacing
 * a copy staged before). The running store is not touched. 0 or -errno (-EINVAL: @path fails
 * the check; -EEXIST: DIR/prp.db.restore.partial exists). Any thread.
 */
int store_restore_stage(const char *dir, const char *path, char *err, size_t errlen);

/*
 * At start, before anything opens the store of @dir: when DIR/prp.db.restore exists, checks
 * it again, moves DIR/prp.db (with its -wal and -shm files, if any) aside to
 * DIR/prp.db.before-restore.<unix seconds> (first checkpointing nothing: the aside copy keeps
 * its wal/shm next to it under the same new name + "-wal"/"-shm"), and renames the staged file
 * to DIR/prp.db; *applied says whether it did. A staged file that fails the check is renamed
 * DIR/prp.db.restore.rejected and the current store is kept (returns -EINVAL, reason in @err).
 * Nothing staged: 0 with *applied false. -EEXIST when the aside name is taken (two restores
 * within a second): nothing is changed, a later start applies it. Main thread, at start.
 */
int store_restore_apply(const char *dir, bool *applied, char *err, size_t errlen);

#endif
