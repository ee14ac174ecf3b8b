/*
 * Online backup and staged restore of the store (store_backup.h).
 *
 * Backup: sqlite3_backup_step(-1) copies every page in one step, under one
 * read transaction of a read-only connection of its own: the copy is one WAL
 * snapshot, and writers are never blocked. While it runs, checkpoints cannot
 * go past that snapshot, so the WAL of a busy store grows for the length of
 * the copy (a large store is copied at disk speed: seconds). The copy is a
 * fresh file nothing else opens before it is renamed, so it is written with
 * no journal and no syncs, then fsynced once. Its header keeps the source's
 * WAL mode: opened by store_open() it is a store like any other.
 *
 * Check: the file is untrusted (an operator's upload). Its header is read by
 * hand first (a text file gets a clear message, a cut copy is caught by its
 * size before SQLite reads past its end), then it is opened read-only and
 * immutable (no locks, no -wal or -shm read or made), with the schema's SQL
 * functions not trusted, for PRAGMA quick_check and the prp tables.
 *
 * Restore: staging only writes DIR/prp.db.restore; applying swaps it in at
 * start. The old store is moved aside with link() first, so until the
 * staged file is renamed over DIR/prp.db the store is untouched and a
 * failure undoes itself. Its -wal and -shm are unlinked before the rename:
 * SQLite would replay an old WAL into the new database (a WAL names no
 * database). A crash in between leaves DIR/prp.db without its WAL, but the
 * WAL is safe under the aside name and the staged file is applied again at
 * the next start.
 */
#include "aggregator/store/store_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aggregator/store/store.h"
#include "common/alloc.h"
#include "common/compiler.h"
#include "common/log.h"
#include "common/timeutil.h"

#define BACKUP_BUSY_TIMEOUT_MS 10000
#define BACKUP_BUSY_RETRIES    100 /* of 100 ms: a step that stays busy 10 s fails */
#define COPY_CHUNK_BYTES       (256u << 10)
/* The SQLite file header (https://sqlite.org/fileformat2.html#the_database_header) */
#define SQLITE_HEADER_BYTES 100

static void set_err(char *err, size_t errlen, const char *fmt, ...) PRP_PRINTF(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The errno of SQLite result @rc: the few that mean something else, else @dflt. */
static int rc_errno(int rc, int dflt)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_IOERR:
		return -EIO;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	default:
		return dflt;
	}
}

/* "@what '@path': SQLite's message" into @err; the errno of @rc (@dflt for most). */
static int db_fail(sqlite3 *db, int rc, int dflt, const char *what, const char *path, char *err,
		   size_t errlen)
{
	set_err(err, errlen, "%s '%s': %s", what, path,
		db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return rc_errno(rc, dflt);
}

/* ---- files ---- */

/* Creates @path, which must not exist, with mode 0600 (whatever the umask). An fd or -errno. */
static int create_private(const char *path, char *err, size_t errlen)
{
	int fd, ret;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		if (ret == -EEXIST)
			set_err(err, errlen,
				"'%s' exists: another copy is being written, or one was interrupted"
				" (remove it)",
				path);
		else
			set_err(err, errlen, "cannot create '%s': %s", path, strerror(-ret));
		return ret;
	}
	if (fchmod(fd, 0600)) {
		ret = -errno;
		set_err(err, errlen, "cannot set the mode of '%s': %s", path, strerror(-ret));
		close(fd);
		unlink(path);
		return ret;
	}
	return fd;
}

/* fsyncs the directory holding @path. 0 or -errno. */
static int dir_sync(const char *path)
{
	char *copy = xstrdup(path);
	int fd, ret = 0;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
	} else {
		if (fsync(fd))
			ret = -errno;
		close(fd);
	}
	free(copy);
	return ret;
}

/*
 * Logs when the rename of @path could not be made durable: its contents
 * were synced before the rename, so a power loss may lose the name, never
 * leave a half file under it. Not a failure of the call.
 */
static void dir_sync_or_warn(const char *path)
{
	int ret = dir_sync(path);

	if (ret)
		log_warn_err(ret, "store: cannot sync the directory of '%s'", path);
}

/* fsyncs @path and gives its size. 0 or -errno. */
static int file_sync(const char *path, uint64_t *size, char *err, size_t errlen)
{
	struct stat sb;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		set_err(err, errlen, "cannot open '%s': %s", path, strerror(-ret));
		return ret;
	}
	if (fsync(fd) || fstat(fd, &sb)) {
		ret = -errno;
		set_err(err, errlen, "cannot sync '%s': %s", path, strerror(-ret));
	} else {
		*size = (uint64_t)sb.st_size;
	}
	close(fd);
	return ret;
}

/* Renames @from to @to unless @to exists (-EEXIST). 0 or -errno. */
static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* a file system without RENAME_NOREPLACE: link() refuses an existing name as well */
	if (link(from, to))
		return -errno;
	unlink(from);
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies the regular file @src into the new file @dst (mode 0600), fsynced; *size its bytes. */
static int file_copy(const char *src, const char *dst, uint64_t *size, char *err, size_t errlen)
{
	char *chunk = NULL;
	int in, out, ret = 0;
	ssize_t n;

	*size = 0;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		ret = -errno;
		set_err(err, errlen, "cannot open '%s': %s", src, strerror(-ret));
		return ret;
	}
	out = create_private(dst, err, errlen);
	if (out < 0) {
		ret = out;
		goto out_in;
	}
	chunk = xmalloc(COPY_CHUNK_BYTES);
	for (;;) {
		n = read(in, chunk, COPY_CHUNK_BYTES);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			set_err(err, errlen, "cannot read '%s': %s", src, strerror(-ret));
			goto out_unlink;
		}
		if (n == 0)
			break;
		ret = write_all(out, chunk, (size_t)n);
		if (ret) {
			set_err(err, errlen, "cannot write '%s': %s", dst, strerror(-ret));
			goto out_unlink;
		}
		*size += (uint64_t)n;
	}
	if (fsync(out)) {
		ret = -errno;
		set_err(err, errlen, "cannot sync '%s': %s", dst, strerror(-ret));
		goto out_unlink;
	}
	if (close(out)) {
		out = -1;
		ret = -errno;
		set_err(err, errlen, "cannot write '%s': %s", dst, strerror(-ret));
		goto out_unlink;
	}
	free(chunk);
	close(in);
	return 0;

out_unlink:
	if (out >= 0)
		close(out);
	unlink(dst);
	free(chunk);
out_in:
	close(in);
	return ret;
}

/* ---- check ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The header of the file open as @fd, against its size. 0, -EINVAL or -errno. */
static int header_check(int fd, const char *path, char *err, size_t errlen)
{
	unsigned char h[SQLITE_HEADER_BYTES];
	uint32_t page, pages;
	struct stat sb;
	ssize_t n;
	uint64_t size;
	int ret;

	if (fstat(fd, &sb)) {
		ret = -errno;
		set_err(err, errlen, "cannot read '%s': %s", path, strerror(-ret));
		return ret;
	}
	if (!S_ISREG(sb.st_mode)) {
		set_err(err, errlen, "'%s' is not a regular file", path);
		return -EINVAL;
	}
	do
		n = pread(fd, h, sizeof(h), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		ret = -errno;
		set_err(err, errlen, "cannot read '%s': %s", path, strerror(-ret));
		return ret;
	}
	if ((size_t)n < sizeof(h) || memcmp(h, "SQLite format 3", 16)) {
		set_err(err, errlen, "'%s' is not an SQLite database", path);
		return -EINVAL;
	}
	page = (uint32_t)h[16] << 8 | h[17];
	if (page == 1)
		page = 65536;
	if (page < 512 || page > 65536 || (page & (page - 1))) {
		set_err(err, errlen, "'%s' is damaged: its page size is %u", path, page);
		return -EINVAL;
	}
	size = (uint64_t)sb.st_size;
	if (size % page) {
		set_err(err, errlen,
			"'%s' is truncated or damaged: %llu bytes is not a whole number of %u-byte"
			" pages",
			path, (unsigned long long)size, page);
		return -EINVAL;
	}
	/* the header's page count holds when its version-valid-for is the change counter */
	pages = be32(h + 28);
	if (pages && be32(h + 24) == be32(h + 92) && size < (uint64_t)pages * page) {
		set_err(err, errlen,
			"'%s' is truncated: %llu bytes, its header says %u pages of %u", path,
			(unsigned long long)size, pages, page);
		return -EINVAL;
	}
	return 0;
}

static bool uri_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '/' || c == '-' || c == '.' || c == '_' || c == '~';
}

/* The URI that opens @path read-only and immutable; caller owns it: free(). */
static char *immutable_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char query[] = "?mode=ro&immutable=1";
	char *uri = xmalloc(sizeof("file://") + 3 * strlen(path) + sizeof(query));
	char *p;

	/* "file://" + "/abs": an empty authority, so a path starting "//" is no host */
	p = stpcpy(uri, path[0] == '/' ? "file://" : "file:");
	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		if (uri_plain(*c)) {
			*p++ = (char)*c;
		} else {
			*p++ = '%';
			*p++ = hex[*c >> 4];
			*p++ = hex[*c & 15];
		}
	}
	strcpy(p, query);
	return uri;
}

static int quick_check(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	const unsigned char *v;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, -EINVAL, "cannot read", path, err, errlen);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		v = sqlite3_column_text(st, 0);
		if (!v || strcmp((const char *)v, "ok")) {
			set_err(err, errlen, "'%s' fails the integrity check: %s", path,
				v ? (const char *)v : "?");
			ret = -EINVAL;
		}
	} else {
		ret = db_fail(db, rc, -EINVAL, "integrity check failed on", path, err, errlen);
	}
	sqlite3_finalize(st);
	return ret;
}

/* 1 when @db has the table @name, 0 when not, or -errno. */
static int has_table(sqlite3 *db, const char *name, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db,
				"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, -EINVAL, "cannot read", path, err, errlen);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_fail(db, rc, -EINVAL, "cannot read", path, err, errlen);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc == SQLITE_ROW;
	return rc_errno(rc, -EINVAL);
}

/* The one row of schema_version, between 1 and this build's version. */
static int version_check(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int64_t version = 0;
	int rc, rows = 0, ret;

	ret = has_table(db, "schema_version", path, err, errlen);
	if (ret <= 0) {
		if (ret == 0)
			set_err(err, errlen,
				"'%s' is not a prp store: it has no schema_version table", path);
		return ret ? ret : -EINVAL;
	}
	rc = sqlite3_prepare_v2(db, "SELECT version FROM schema_version LIMIT 2", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, -EINVAL, "cannot read the schema version of", path, err,
			       errlen);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows++;
		version = sqlite3_column_type(st, 0) == SQLITE_INTEGER ? sqlite3_column_int64(st, 0)
								       : -1;
	}
	ret = 0;
	if (rc != SQLITE_DONE)
		ret = db_fail(db, rc, -EINVAL, "cannot read the schema version of", path, err,
			      errlen);
	sqlite3_finalize(st);
	if (ret)
		return ret;
	if (rows != 1) {
		set_err(err, errlen, "'%s' is not a prp store: %s schema version", path,
			rows ? "more than one" : "no");
		return -EINVAL;
	}
	if (version > store_schema_version()) {
		set_err(err, errlen,
			"'%s' has schema version %lld, newer than this build's %d: restore it with"
			" a newer prp-aggregator",
			path, (long long)version, store_schema_version());
		return -EINVAL;
	}
	if (version < 1) {
		set_err(err, errlen, "'%s' is not a prp store: schema version %lld", path,
			(long long)version);
		return -EINVAL;
	}
	return 0;
}

static int tables_check(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	static const char *const tables[] = { "anomalies", "policies", "actions", "audit" };
	int ret;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(tables); i++) {
		ret = has_table(db, tables[i], path, err, errlen);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			set_err(err, errlen, "'%s' is not a prp store: it has no table '%s'", path,
				tables[i]);
			return -EINVAL;
		}
	}
	return 0;
}

int store_backup_check(const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char *uri;
	int fd, rc, ret;

	if (!path || !path[0]) {
		set_err(err, errlen, "no file to check");
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		set_err(err, errlen, "cannot open '%s': %s", path, strerror(-ret));
		return ret;
	}
	ret = header_check(fd, path, err, errlen);
	close(fd);
	if (ret)
		return ret;

	uri = immutable_uri(path);
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
			     NULL);
	free(uri);
	if (rc != SQLITE_OK) {
		ret = db_fail(db, rc, -EINVAL, "cannot open", path, err, errlen);
		goto out_close;
	}
	sqlite3_extended_result_codes(db, 1);
	/* an untrusted file: its views and triggers may call no function with side effects */
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	ret = quick_check(db, path, err, errlen);
	if (!ret)
		ret = version_check(db, path, err, errlen);
	if (!ret)
		ret = tables_check(db, path, err, errlen);
out_close:
	sqlite3_close(db);
	return ret;
}

/* ---- backup ---- */

/* Copies one snapshot of the database @src into the empty file @dst. 0 or -errno. */
static int copy_snapshot(const char *src, const char *dst, char *err, size_t errlen)
{
	sqlite3 *from = NULL, *to = NULL;
	sqlite3_backup *b;
	int rc, ret = 0, busy = 0;

	rc = sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ret = db_fail(from, rc, -EIO, "cannot open", src, err, errlen);
		goto out_close;
	}
	sqlite3_extended_result_codes(from, 1);
	sqlite3_busy_timeout(from, BACKUP_BUSY_TIMEOUT_MS);
	rc = sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ret = db_fail(to, rc, -EIO, "cannot open", dst, err, errlen);
		goto out_close;
	}
	sqlite3_extended_result_codes(to, 1);
	/* no one else sees the copy before it is fsynced and renamed: no journal, no syncs */
	rc = sqlite3_exec(to, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", NULL, NULL,
			  NULL);
	if (rc != SQLITE_OK) {
		ret = db_fail(to, rc, -EIO, "cannot set up", dst, err, errlen);
		goto out_close;
	}
	b = sqlite3_backup_init(to, "main", from, "main");
	if (!b) {
		ret = db_fail(to, sqlite3_errcode(to), -EIO, "cannot start the backup to", dst, err,
			      errlen);
		goto out_close;
	}
	/* -1: every page in one step, in one read transaction of the source: one snapshot */
	do {
		rc = sqlite3_backup_step(b, -1);
		if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && busy++ < BACKUP_BUSY_RETRIES)
			sqlite3_sleep(100);
		else if (rc != SQLITE_OK)
			break;
	} while (true);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		/* the step's error is the destination connection's */
		set_err(err, errlen, "cannot copy '%s' to '%s': %s", src, dst,
			sqlite3_errcode(to) != SQLITE_OK ? sqlite3_errmsg(to) : sqlite3_errstr(rc));
		ret = rc_errno(rc, -EIO);
	}
out_close:
	/* every statement is finalized: close does not fail but on misuse */
	sqlite3_close(to);
	sqlite3_close(from);
	return ret;
}

int store_backup(const char *dir, const char *path, uint64_t *bytes, char *err, size_t errlen)
{
	uint64_t t0 = time_mono_ns(), size = 0;
	char *src, *partial;
	struct stat sb;
	int fd, ret;

	if (bytes)
		*bytes = 0;
	if (!dir || !dir[0] || !path || !path[0]) {
		set_err(err, errlen, "a backup needs a data directory and a file");
		return -EINVAL;
	}
	src = xasprintf("%s/prp.db", dir);
	partial = xasprintf("%s.partial", path);
	if (stat(src, &sb)) {
		ret = -errno;
		set_err(err, errlen, "no store in '%s': %s", dir, strerror(-ret));
		goto out_free;
	}
	/* checked again by the rename; this saves copying a store for nothing */
	if (lstat(path, &sb) == 0) {
		ret = -EEXIST;
		set_err(err, errlen, "'%s' exists", path);
		goto out_free;
	}
	fd = create_private(partial, err, errlen);
	if (fd < 0) {
		ret = fd;
		goto out_free;
	}
	/* SQLite opens it itself: closing an fd of ours beside it would drop SQLite's locks */
	close(fd);
	ret = copy_snapshot(src, partial, err, errlen);
	if (ret)
		goto out_unlink;
	ret = file_sync(partial, &size, err, errlen);
	if (ret)
		goto out_unlink;
	ret = rename_noreplace(partial, path);
	if (ret) {
		if (ret == -EEXIST)
			set_err(err, errlen, "'%s' exists", path);
		else
			set_err(err, errlen, "cannot rename '%s' to '%s': %s", partial, path,
				strerror(-ret));
		goto out_unlink;
	}
	dir_sync_or_warn(path);
	if (bytes)
		*bytes = size;
	log_info("store: backup of '%s' written to '%s': %llu bytes in %llu ms", src, path,
		 (unsigned long long)size, (unsigned long long)((time_mono_ns() - t0) / 1000000));
	goto out_free;

out_unlink:
	unlink(partial);
out_free:
	free(partial);
	free(src);
	return ret;
}

/* ---- restore ---- */

int store_restore_stage(const char *dir, const char *path, char *err, size_t errlen)
{
	char *staged, *partial;
	uint64_t size;
	int ret;

	if (!dir || !dir[0] || !path || !path[0]) {
		set_err(err, errlen, "a restore needs a data directory and a file");
		return -EINVAL;
	}
	ret = store_backup_check(path, err, errlen);
	if (ret)
		return ret;
	staged = xasprintf("%s/prp.db.restore", dir);
	partial = xasprintf("%s/prp.db.restore.partial", dir);
	ret = file_copy(path, partial, &size, err, errlen);
	if (ret)
		goto out_free;
	if (rename(partial, staged)) {
		ret = -errno;
		set_err(err, errlen, "cannot rename '%s' to '%s': %s", partial, staged,
			strerror(-ret));
		unlink(partial);
		goto out_free;
	}
	dir_sync_or_warn(staged);
	log_info("store: staged '%s' (%llu bytes) as '%s': it replaces the store at the next start",
		 path, (unsigned long long)size, staged);
out_free:
	free(partial);
	free(staged);
	return ret;
}

/* The files of a database: itself, its WAL and its WAL index. */
static const char *const db_suffixes[] = { "", "-wal", "-shm" };
#define DB_FILES PRP_ARRAY_SIZE(db_suffixes)

/*
 * Moves @db and its -wal and -shm (those that exist) to @aside + the same
 * suffix, and renames @staged to @db; *kept says whether @db existed. Nothing
 * changed on failure (but for a failed undo, which is logged).
 */
static int swap_in(const char *db, const char *staged, const char *aside, bool *kept, char *err,
		   size_t errlen)
{
	char *from[DB_FILES], *to[DB_FILES];
	bool linked[DB_FILES] = { false };
	size_t i;
	int ret = 0;

	for (i = 0; i < DB_FILES; i++) {
		from[i] = xasprintf("%s%s", db, db_suffixes[i]);
		to[i] = xasprintf("%s%s", aside, db_suffixes[i]);
	}
	/* the aside names first: until the rename below, the store itself is untouched */
	for (i = 0; i < DB_FILES; i++) {
		if (link(from[i], to[i]) == 0) {
			linked[i] = true;
		} else if (errno != ENOENT) {
			ret = -errno;
			set_err(err, errlen, "cannot keep '%s' as '%s': %s", from[i], to[i],
				strerror(-ret));
			goto out_unlink_aside;
		}
	}
	ret = dir_sync(db);
	if (ret) {
		set_err(err, errlen, "cannot sync the directory of '%s': %s", db, strerror(-ret));
		goto out_unlink_aside;
	}
	/* the old WAL and its index must not meet the new database */
	for (i = 1; i < DB_FILES; i++) {
		if (linked[i] && unlink(from[i]) && errno != ENOENT) {
			ret = -errno;
			set_err(err, errlen, "cannot remove '%s': %s", from[i], strerror(-ret));
			goto out_relink;
		}
	}
	if (rename(staged, db)) {
		ret = -errno;
		set_err(err, errlen, "cannot rename '%s' to '%s': %s", staged, db, strerror(-ret));
		goto out_relink;
	}
	dir_sync_or_warn(db);
	*kept = linked[0];
	goto out_free;

out_relink:
	for (i = 1; i < DB_FILES; i++) {
		if (linked[i] && access(from[i], F_OK) && link(to[i], from[i]))
			log_error_err(-errno, "store: cannot put '%s' back as '%s'", to[i],
				      from[i]);
	}
out_unlink_aside:
	for (i = 0; i < DB_FILES; i++) {
		if (linked[i])
			unlink(to[i]);
	}
out_free:
	for (i = 0; i < DB_FILES; i++) {
		free(from[i]);
		free(to[i]);
	}
	return ret;
}

/* Renames the staged file that failed its check to DIR/prp.db.restore.rejected. -EINVAL. */
static int reject(const char *dir, const char *staged, const char *reason, char *err, size_t errlen)
{
	char *rejected = xasprintf("%s/prp.db.restore.rejected", dir);

	if (rename(staged, rejected)) {
		log_error_err(-errno, "store: cannot rename '%s' to '%s'", staged, rejected);
		set_err(err, errlen, "the staged restore is rejected, kept the current store: %s",
			reason);
	} else {
		dir_sync_or_warn(rejected);
		set_err(err, errlen,
			"the staged restore is rejected (kept as '%s'), kept the current store: %s",
			rejected, reason);
	}
	log_warn("store: rejected the staged restore of '%s', kept the current store: %s", dir,
		 reason);
	free(rejected);
	return -EINVAL;
}

int store_restore_apply(const char *dir, bool *applied, char *err, size_t errlen)
{
	char reason[512], *db, *staged, *aside = NULL;
	bool kept = false;
	struct stat sb;
	int ret;

	*applied = false;
	if (!dir || !dir[0]) {
		set_err(err, errlen, "no data directory");
		return -EINVAL;
	}
	db = xasprintf("%s/prp.db", dir);
	staged = xasprintf("%s/prp.db.restore", dir);
	if (lstat(staged, &sb)) {
		ret = errno == ENOENT ? 0 : -errno;
		if (ret)
			set_err(err, errlen, "cannot read '%s': %s", staged, strerror(-ret));
		goto out_free;
	}
	reason[0] = '\0';
	/* what is renamed to DIR/prp.db must be the file checked, not a link to one */
	if (!S_ISREG(sb.st_mode)) {
		snprintf(reason, sizeof(reason), "'%s' is not a regular file", staged);
		ret = -EINVAL;
	} else {
		ret = store_backup_check(staged, reason, sizeof(reason));
	}
	if (ret == -EINVAL) {
		ret = reject(dir, staged, reason, err, errlen);
		goto out_free;
	}
	if (ret) { /* unreadable now: kept staged for the next start */
		set_err(err, errlen, "%s", reason);
		goto out_free;
	}
	aside = xasprintf("%s.before-restore.%lld", db, (long long)time(NULL));
	ret = swap_in(db, staged, aside, &kept, err, errlen);
	if (ret)
		goto out_free;
	*applied = true;
	if (kept)
		log_info("store: restored '%s' from the staged copy (%llu bytes); the store it"
			 " replaced is '%s'",
			 db, (unsigned long long)sb.st_size, aside);
	else
		log_info("store: restored '%s' from the staged copy (%llu bytes); there was no"
			 " store before",
			 db, (unsigned long long)sb.st_size);
out_free:
	free(aside);
	free(staged);
	free(db);
	return ret;
}
