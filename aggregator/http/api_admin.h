/*
 * Administration (API.md): POST /admin/backup and POST /admin/restore, and
 * GET /audit. Admin only (the route table says so).
 */
#ifndef PRP_AGGREGATOR_HTTP_API_ADMIN_H
#define PRP_AGGREGATOR_HTTP_API_ADMIN_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

#define API_ADMIN_BODY_MAX 8192

/*
 * A consistent snapshot of the store (SQLite's online backup API; ingest
 * goes on). Body {"path": "/abs/file"}: written there on the aggregator's
 * host → {status: "written", path, bytes}; no body (or no path): the file
 * itself as application/vnd.sqlite3.
 */
int api_admin_backup(struct req *rq, struct resp *rp);
/*
 * {"path": "/abs/file"}: checks the file, then stages it to replace the
 * store at the next start → 202 {status: "staged", path, restart_required};
 * 422 with the reason when the file is not a store this build can open.
 */
int api_admin_restore(struct req *rq, struct resp *rp);
/* {entries: [{id, timestamp, actor, action, target, details}], count, next_cursor}. */
int api_admin_audit(struct req *rq, struct resp *rp);

#endif
