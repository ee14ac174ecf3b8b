/*
 * Backup, restore and the audit log (api_admin.h). A restore is staged,
 * not applied under the running daemon: ingest, detection, the engine and
 * every worker hold the store open and keep state derived from it, so the
 * one safe moment to swap it is before any of them starts (main.c applies
 * a staged file at start). Backups and restores are audited.
 */
#include "aggregator/http/api_admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator/auth/audit_log.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "aggregator/store/store.h"
#include "aggregator/store/store_backup.h"

#define API_ADMIN_PATH_MAX 4096

/* The optional "path" of @body into @out ("" when absent): 0 or the 400 answered. */
static int api_admin_path(json_t *body, struct resp *rp, bool required, char *out, size_t cap)
{
	json_t *p = json_object_get(body, "path");
	static const char *const known[] = { "path" };

	out[0] = '\0';
	if (api_common_fields(body, rp, "this route", known, 1))
		return -EINVAL;
	if (!p)
		return required ? resp_error(rp, 400, "bad_request", "path: required") : 0;
	if (!json_is_string(p) || json_string_value(p)[0] != '/' ||
	    json_string_length(p) >= cap || strlen(json_string_value(p)) != json_string_length(p))
		return resp_error(rp, 400, "bad_request",
				  "path: an absolute path on the aggregator's host");
	memcpy(out, json_string_value(p), json_string_length(p) + 1);
	return 0;
}

static void api_admin_audit_write(struct req *rq, const char *action, const char *path,
				  json_t *detail)
{
	if (rq->env->audit)
		audit_log_write(rq->env->audit, rq->tenant, api_common_actor(rq), action,
				path[0] ? "store" : "store:download", detail);
	else
		json_decref(detail);
}

/* Backs up into a hidden file of the data directory, unlinked once open: sent, then gone. */
static int api_admin_download(struct req *rq, struct resp *rp)
{
	char tmp[API_ADMIN_PATH_MAX], err[256];
	uint64_t bytes = 0, nonce = 0;
	struct stat sb;
	int fd, ret;

	if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce))
		nonce = (uint64_t)rq->now_ms;
	snprintf(tmp, sizeof(tmp), "%s/.backup-%lld-%016llx.db", rq->env->data_dir,
		 (long long)rq->now_ms, (unsigned long long)nonce);
	ret = store_backup(rq->env->data_dir, tmp, &bytes, err, sizeof(err));
	if (ret)
		return resp_error(rp, 503, "unavailable", "backup failed: %s", err);
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	unlink(tmp);
	if (fd < 0 || fstat(fd, &sb)) {
		if (fd >= 0)
			close(fd);
		return resp_error(rp, 500, "internal", "cannot read the backup back");
	}
	api_admin_audit_write(rq, "backup", "",
			      json_pack("{s:I}", "bytes", (json_int_t)sb.st_size));
	return resp_file(rp, 200, fd, (uint64_t)sb.st_size, "application/vnd.sqlite3");
}

int api_admin_backup(struct req *rq, struct resp *rp)
{
	char path[API_ADMIN_PATH_MAX], err[256];
	uint64_t bytes = 0;
	json_t *body;
	int ret;

	if (api_common_platform(rq, rp, "a backup of the store") ||
	    api_common_body(rq, rp, true, &body))
		return -EINVAL;
	ret = api_admin_path(body, rp, false, path, sizeof(path));
	json_decref(body);
	if (ret)
		return ret;
	if (!path[0])
		return api_admin_download(rq, rp);
	ret = store_backup(rq->env->data_dir, path, &bytes, err, sizeof(err));
	if (ret == -EEXIST)
		return resp_error(rp, 409, "conflict", "%s exists already", path);
	if (ret == -ENOENT || ret == -EACCES || ret == -ENOTDIR)
		return resp_error(rp, 422, "unprocessable", "cannot write %s: %s", path, err);
	if (ret)
		return resp_error(rp, 503, "unavailable", "backup failed: %s", err);
	api_admin_audit_write(rq, "backup", path,
			      json_pack("{s:s, s:I}", "path", path, "bytes", (json_int_t)bytes));
	return resp_json(rp, 200,
			 json_pack("{s:s, s:s, s:I}", "status", "written", "path", path, "bytes",
				   (json_int_t)bytes));
}

int api_admin_restore(struct req *rq, struct resp *rp)
{
	char path[API_ADMIN_PATH_MAX], err[256];
	json_t *body;
	int ret;

	if (api_common_platform(rq, rp, "a restore of the store") ||
	    api_common_body(rq, rp, false, &body))
		return -EINVAL;
	ret = api_admin_path(body, rp, true, path, sizeof(path));
	json_decref(body);
	if (ret)
		return ret;
	ret = store_restore_stage(rq->env->data_dir, path, err, sizeof(err));
	if (ret == -ENOENT || ret == -EACCES)
		return resp_error(rp, 422, "unprocessable", "cannot read %s: %s", path, err);
	if (ret == -EINVAL)
		return resp_error(rp, 422, "unprocessable", "%s is not a store to restore: %s",
				  path, err);
	if (ret)
		return resp_error(rp, 500, "internal", "cannot stage the restore: %s", err);
	api_admin_audit_write(rq, "restore.staged", path, json_pack("{s:s}", "path", path));
	return resp_json(rp, 202,
			 json_pack("{s:s, s:s, s:b, s:s}", "status", "staged", "path", path,
				   "restart_required", true, "message",
				   "restart the aggregator to replace its store with this file"));
}

static json_t *api_admin_entry(const struct store_audit *a)
{
	json_t *detail = a->detail ? json_loads(a->detail, 0, NULL) : NULL;

	if (a->detail && !detail)
		detail = json_string(a->detail);
	return json_pack("{s:I, s:o, s:s, s:s, s:s, s:o}", "id", (json_int_t)a->id, "timestamp",
			 resp_time(a->at_ms), "actor", a->actor, "action", a->action, "target",
			 a->subject, "details", detail ? detail : json_null());
}

int api_admin_audit(struct req *rq, struct resp *rp)
{
	struct store *st;
	struct store_audit *v = NULL;
	int64_t before = 0;
	bool more = false;
	struct query q;
	json_t *list;
	size_t n = 0, shown;

	if (api_common_query(rq, rp, &q, QUERY_SINCE | QUERY_LIMIT | QUERY_CURSOR, QUERY_RANGE_MAX_MS) ||
	    api_common_before_id(&q, rp, &before))
		return -EINVAL;
	st = api_common_store(rq, rp);
	if (!st)
		return -EIO;
	if (store_audit_list(st, rq->tenant, before, q.limit, &v, &n, &more))
		return resp_error(rp, 500, "internal", "cannot read the audit log");
	list = json_array();
	for (shown = 0; shown < n; shown++) {
		/* newest first, and ids grow with time: the first one older than since ends it */
		if ((q.given & QUERY_SINCE) && v[shown].at_ms < q.since_ms) {
			more = false;
			break;
		}
		json_array_append_new(list, api_admin_entry(&v[shown]));
	}
	before = shown ? v[shown - 1].id : 0;
	store_audits_free(v, n);
	return resp_json(rp, 200, api_common_page("entries", list, more, before));
}
