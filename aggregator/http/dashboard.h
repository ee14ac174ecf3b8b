/*
 * The browser dashboard (docs/dashboard.md): the static files of one
 * directory, read into memory once at start and served at "/" (the
 * directory's index.html) and "/ui/<path>" (its file ui/<path>). The page
 * holds no data (its scripts send the key with each API call), so it is
 * public. Every answer carries a strict Content-Security-Policy; files are
 * revalidated by ETag (Cache-Control: no-cache), and text files have a
 * gzip copy made at load. A loaded dashboard never changes: any thread may
 * serve it at once without a lock.
 */
#ifndef PRP_AGGREGATOR_HTTP_DASHBOARD_H
#define PRP_AGGREGATOR_HTTP_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

/* What dashboard_load() accepts at most: a page is a few dozen files of some 100 KiB each. */
#define DASHBOARD_FILES_MAX 256
#define DASHBOARD_BYTES_MAX (8u << 20)
/* Directories below @dir; deeper is an error (and ends a loop of symbolic links). */
#define DASHBOARD_DEPTH_MAX 8
/* Longest path of a file relative to @dir. */
#define DASHBOARD_PATH_MAX 255

/* Every answer of the dashboard has these (http.c sends them when rp->page_headers). */
#define DASHBOARD_CSP                                                                              \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "         \
	"form-action 'self'"

struct dashboard;

/*
 * Reads every regular file under @dir (symbolic links followed) whose path
 * has only segments of [A-Za-z0-9._-] not starting with '.'; other names
 * are skipped. The caller owns the result: dashboard_free(). NULL, with
 * the reason in @err, when @dir cannot be read, a file cannot be read, or
 * there are more than DASHBOARD_FILES_MAX files, DASHBOARD_BYTES_MAX bytes
 * or DASHBOARD_DEPTH_MAX levels. Startup only (it reads the disk).
 */
struct dashboard *dashboard_load(const char *dir, char *err, size_t errcap);

/* Frees @d; dashboard_free(NULL) does nothing. After every server that serves it stopped. */
void dashboard_free(struct dashboard *d);

/* The number of files, and their size in *@bytes (not the gzip copies'), for the log. */
size_t dashboard_files(const struct dashboard *d, size_t *bytes);

/*
 * Answers @rq in @rp when its path is the dashboard's: "/" or "/ui/...".
 * GET and HEAD: the file (200), 304 when If-None-Match names its ETag, 404
 * for a file it does not have; OPTIONS: 204; another method: 405; each
 * with Allow "GET, HEAD, OPTIONS" where that applies, errors in the API's
 * envelope. Returns false, leaving @rp alone, for any other path. A body
 * is a reference to @d's (no copy), so an answer outlives @d safely; @d
 * itself must outlive every call. Any thread.
 */
bool dashboard_serve(const struct dashboard *d, struct req *rq, struct resp *rp);

#endif
