/*
 * Backup and restore (ctl_backup.h). The download never writes FILE
 * itself: a failed or cut-off transfer leaves no FILE and no FILE.partial.
 * Without --force the final rename refuses to replace a FILE that appeared
 * during the download (RENAME_NOREPLACE), not only one that was there at
 * the start.
 */
#include "aggregator/cli/ctl_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator/cli/ctl_args.h"
#include "aggregator/cli/ctl_call.h"
#include "aggregator/cli/ctl_http.h"
#include "aggregator/cli/ctl_opts.h"
#include "aggregator/cli/ctl_table.h"
#include "common/alloc.h"

/* Moves @from to @to, refusing to replace an existing @to unless @force. */
static int move_into_place(const char *from, const char *to, bool force)
{
	if (force)
		return rename(from, to) ? -errno : 0;
	if (!renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* a file system without RENAME_NOREPLACE: link() refuses an existing name too */
	if (link(from, to))
		return -errno;
	unlink(from);
	return 0;
}

/* True when the file behind @fd starts as an SQLite database does. */
static bool is_sqlite(int fd)
{
	char head[sizeof(CTL_BACKUP_MAGIC)];

	return pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
	       !memcmp(head, CTL_BACKUP_MAGIC, sizeof(head));
}

/* Checks and closes the downloaded @f (of @bytes) and moves it to @file. */
static enum ctl_status finish(FILE *f, const char *partial, const char *file, bool force,
			      uint64_t bytes)
{
	int fd = fileno(f), err;

	if (fflush(f) || fsync(fd)) {
		fprintf(stderr, "prpctl: cannot write '%s': %s\n", partial, strerror(errno));
		fclose(f);
		return CTL_FAILED;
	}
	if (!is_sqlite(fd)) {
		fprintf(stderr,
			"prpctl: the answer (%llu bytes) is not an SQLite database: nothing written\n",
			(unsigned long long)bytes);
		fclose(f);
		return CTL_FAILED;
	}
	if (fclose(f)) {
		fprintf(stderr, "prpctl: cannot write '%s': %s\n", partial, strerror(errno));
		return CTL_FAILED;
	}
	err = move_into_place(partial, file, force);
	if (err) {
		fprintf(stderr, "prpctl: cannot rename '%s' to '%s': %s%s\n", partial, file,
			strerror(-err), err == -EEXIST ? " (give --force to replace it)" : "");
		return CTL_FAILED;
	}
	return CTL_OK;
}

static enum ctl_status download(const struct ctl_opts *o, const char *file, bool force)
{
	struct ctl_http_req rq = {
		.method = "POST",
		.path = "/admin/backup",
		.accept = "application/vnd.sqlite3, application/json;q=0.5",
		.progress = isatty(STDERR_FILENO),
	};
	struct ctl_http_resp rs;
	enum ctl_status st;
	struct stat sb;
	char *partial;
	int fd;

	if (!force && lstat(file, &sb) == 0) {
		fprintf(stderr, "prpctl: '%s' exists: give --force to replace it\n", file);
		return CTL_FAILED;
	}
	partial = xasprintf("%s.partial", file);
	/* 0600: the store holds key hashes and the audit log */
	fd = open(partial, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	rq.sink = fd >= 0 ? fdopen(fd, "w+b") : NULL; /* read back by is_sqlite() */
	if (!rq.sink) {
		fprintf(stderr, "prpctl: cannot create '%s': %s\n", partial, strerror(errno));
		if (fd >= 0)
			close(fd);
		st = CTL_FAILED;
		goto out_unlink;
	}
	st = ctl_call_http(o, &rq, &rs);
	if (st == CTL_OK && !rs.to_sink) {
		fprintf(stderr, "prpctl: the aggregator answered %s instead of a database file\n",
			rs.content_type ? rs.content_type : "no content type");
		st = CTL_FAILED;
	}
	if (st == CTL_OK) {
		st = finish(rq.sink, partial, file, force, rs.sink_bytes);
		if (st == CTL_OK)
			printf("wrote %llu bytes to %s\n", (unsigned long long)rs.sink_bytes, file);
	} else {
		fclose(rq.sink);
	}
	ctl_http_resp_release(&rs);
out_unlink:
	if (st != CTL_OK)
		unlink(partial);
	free(partial);
	return st;
}

/* @path made absolute against the working directory, not resolved: caller owns, free(). */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return xstrdup(path);
	return xasprintf("%s/%s", strcmp(cwd, "/") ? cwd : "", path);
}

static enum ctl_status server_backup(const struct ctl_opts *o, const char *path)
{
	char *abs = absolute(path), *bytes;
	json_t *body = json_pack("{s:s}", "path", abs);
	struct ctl_answer ans;
	enum ctl_status st;

	free(abs);
	if (!body) {
		fprintf(stderr, "prpctl: the path is not UTF-8\n");
		return CTL_USAGE;
	}
	st = ctl_call(o, "POST", "/admin/backup", body, &ans);
	json_decref(body);
	if (st == CTL_OK && !ctl_call_print_raw(o, &ans.http)) {
		bytes = ctl_table_text(json_object_get(ans.json, "bytes"));
		printf("the aggregator wrote %s bytes to %s\n", bytes,
		       json_string_value(json_object_get(ans.json, "path"))
			       ? json_string_value(json_object_get(ans.json, "path"))
			       : path);
		free(bytes);
	}
	ctl_answer_release(&ans);
	return st;
}

enum ctl_status ctl_backup_run(const struct ctl_opts *o, const struct ctl_args *a)
{
	const char *server = ctl_args_get(a, "--server-path");
	bool force = ctl_args_get(a, "--force") != NULL;

	if (server && (a->npos || force)) {
		fprintf(stderr, "prpctl: --server-path takes neither FILE nor --force\n");
		return CTL_USAGE;
	}
	if (server)
		return server_backup(o, server);
	if (a->npos != 1) {
		fprintf(stderr, "prpctl: backup needs FILE or --server-path PATH\n");
		return CTL_USAGE;
	}
	return download(o, a->pos[0], force);
}

enum ctl_status ctl_backup_restore(const struct ctl_opts *o, const struct ctl_args *a)
{
	char *abs = realpath(a->pos[0], NULL);
	const char *staged;
	struct ctl_answer ans;
	enum ctl_status st;
	json_t *body;

	if (!abs && a->pos[0][0] != '/') {
		fprintf(stderr, "prpctl: cannot find '%s': %s\n", a->pos[0], strerror(errno));
		return CTL_FAILED;
	}
	/* an absolute path that is not here may be on the aggregator's host: sent as given */
	body = json_pack("{s:s}", "path", abs ? abs : a->pos[0]);
	free(abs);
	if (!body) {
		fprintf(stderr, "prpctl: the path is not UTF-8\n");
		return CTL_USAGE;
	}
	st = ctl_call(o, "POST", "/admin/restore", body, &ans);
	json_decref(body);
	if (st == CTL_OK && !ctl_call_print_raw(o, &ans.http)) {
		staged = json_string_value(json_object_get(ans.json, "path"));
		if (json_is_false(json_object_get(ans.json, "restart_required")))
			printf("restored the store from %s\n", staged ? staged : a->pos[0]);
		else
			printf("staged %s as the store\n"
			       "the aggregator must be restarted to apply it\n",
			       staged ? staged : a->pos[0]);
	}
	ctl_answer_release(&ans);
	return st;
}
