/*
 * The dashboard's files, loaded once and served from memory. Loading walks
 * the directory with openat() from directory descriptors, so each name is
 * opened where it was listed, and only names made of [A-Za-z0-9._-] that do
 * not start with '.' are taken: "..", dotfiles (.git, editors' swap files)
 * and odd names never enter the table, so no request path can reach a file
 * outside it, whatever its dots or escapes decode to. A request is served
 * by an exact match in the sorted table, never by the file system.
 *
 * Memory: at most DASHBOARD_BYTES_MAX of files, and gzip copies only where
 * they are smaller, so under twice that in all.
 */
#include "aggregator/http/dashboard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "aggregator/http/blob.h"
#include "common/alloc.h"
#include "common/hash.h"

#define DASHBOARD_ALLOW "GET, HEAD, OPTIONS"

struct dashboard_file {
	char *path;	   /* relative to the directory: "index.html", "ui/app.js" */
	const char *type;  /* Content-Type, a literal */
	struct blob *body; /* one reference owned */
	struct blob *gz;   /* its gzip copy (one reference owned), or NULL */
	char etag[RESP_ETAG_MAX], etag_gz[RESP_ETAG_MAX];
};

struct dashboard {
	struct dashboard_file *files; /* DASHBOARD_FILES_MAX slots, n used, sorted by path */
	size_t n;
	size_t bytes; /* of the bodies */
};

/* What a walk needs besides the table: where it started, and the error buffer. */
struct dashboard_walk {
	struct dashboard *d;
	const char *root;
	char *err;
	size_t errcap;
};

struct dashboard_type {
	const char *ext;
	const char *type;
	bool text; /* worth a gzip copy; png, ico and woff2 are compressed already */
};

static const struct dashboard_type dashboard_types[] = {
	{ "html", "text/html; charset=utf-8", true },
	{ "css", "text/css; charset=utf-8", true },
	{ "js", "text/javascript; charset=utf-8", true },
	{ "mjs", "text/javascript; charset=utf-8", true },
	{ "json", "application/json", true },
	{ "map", "application/json", true },
	{ "svg", "image/svg+xml", true },
	{ "txt", "text/plain; charset=utf-8", true },
	{ "png", "image/png", false },
	{ "ico", "image/x-icon", false },
	{ "woff2", "font/woff2", false },
};

/* Any other file is bytes: with nosniff, no browser runs or renders it. */
static const struct dashboard_type dashboard_octets = { "", "application/octet-stream", false };

/* The type of the file at @path, by the extension of its last segment. */
static const struct dashboard_type *dashboard_type_of(const char *path)
{
	const char *slash = strrchr(path, '/'), *dot = strrchr(slash ? slash : path, '.');

	for (size_t i = 0; dot && i < sizeof(dashboard_types) / sizeof(dashboard_types[0]); i++) {
		if (!strcmp(dot + 1, dashboard_types[i].ext))
			return &dashboard_types[i];
	}
	return &dashboard_octets;
}

/* A name the table may hold: [A-Za-z0-9._-]+, not starting with '.' (no "..", no dotfile). */
static bool dashboard_name_ok(const char *name)
{
	if (!name[0] || name[0] == '.')
		return false;
	for (const char *p = name; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	}
	return true;
}

/* Reads all of @fd (@size bytes by fstat()) into a new blob: 0, or -errno. */
static int dashboard_read(int fd, size_t size, struct blob **out)
{
	char *buf = xmalloc(size ? size : 1);
	size_t got = 0;

	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (n == 0)
			break; /* it shrank since fstat(): what is there now */
		got += (size_t)n;
	}
	*out = blob_new(buf, got);
	free(buf);
	return 0;
}

/* Adds the regular file @fd (taken: closed) at @path to the table: 0, or -errno with the error. */
static int dashboard_add(struct dashboard_walk *w, int fd, const struct stat *st, const char *path)
{
	struct dashboard *d = w->d;
	struct dashboard_file *f;
	const struct dashboard_type *t;
	uint64_t h;
	int err;

	if (d->n == DASHBOARD_FILES_MAX) {
		snprintf(w->err, w->errcap, "'%s' has more than %d files", w->root,
			 DASHBOARD_FILES_MAX);
		close(fd);
		return -E2BIG;
	}
	if ((uint64_t)st->st_size > DASHBOARD_BYTES_MAX - d->bytes) {
		snprintf(w->err, w->errcap, "'%s' has more than %u MiB of files (at '%s')", w->root,
			 DASHBOARD_BYTES_MAX >> 20, path);
		close(fd);
		return -E2BIG;
	}
	f = &d->files[d->n];
	err = dashboard_read(fd, (size_t)st->st_size, &f->body);
	close(fd);
	if (err) {
		snprintf(w->err, w->errcap, "cannot read '%s/%s': %s", w->root, path,
			 strerror(-err));
		return err;
	}
	t = dashboard_type_of(path);
	f->path = xstrdup(path);
	f->type = t->type;
	/* made once, so at the best level; kept only when smaller */
	f->gz = t->text ? blob_gzip(f->body->data, f->body->len, Z_BEST_COMPRESSION) : NULL;
	if (f->gz && f->gz->len >= f->body->len) {
		blob_unref(f->gz);
		f->gz = NULL;
	}
	h = hash_fnv1a_bytes(HASH_FNV_OFFSET, f->body->data, f->body->len);
	/* the gzip copy is another representation: RFC 9110 §8.8.3 wants another tag */
	snprintf(f->etag, sizeof(f->etag), "\"%016llx\"", (unsigned long long)h);
	snprintf(f->etag_gz, sizeof(f->etag_gz), "\"%016llx-gz\"", (unsigned long long)h);
	d->bytes += f->body->len;
	d->n++;
	return 0;
}

static int dashboard_walk_dir(struct dashboard_walk *w, int dfd, const char *prefix,
			      unsigned depth);

/* The entry @name of directory @dfd, at @path: a file added, a directory walked, else skipped. */
static int dashboard_entry(struct dashboard_walk *w, int dfd, const char *name, const char *path,
			   unsigned depth)
{
	/* O_NONBLOCK: a FIFO must not hang the start; it is skipped below */
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	int err;

	if (fd < 0 || fstat(fd, &st)) {
		err = -errno;
		snprintf(w->err, w->errcap, "cannot open '%s/%s': %s", w->root, path,
			 strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	if (S_ISREG(st.st_mode))
		return dashboard_add(w, fd, &st, path);
	if (!S_ISDIR(st.st_mode)) {
		close(fd);
		return 0;
	}
	if (depth == DASHBOARD_DEPTH_MAX) {
		snprintf(w->err, w->errcap,
			 "'%s' is nested more than %d directories deep (at '%s')", w->root,
			 DASHBOARD_DEPTH_MAX, path);
		close(fd);
		return -ELOOP;
	}
	return dashboard_walk_dir(w, fd, path, depth + 1);
}

/* Walks the directory @dfd (taken: closed), whose path is @prefix ("" for the root). */
static int dashboard_walk_dir(struct dashboard_walk *w, int dfd, const char *prefix, unsigned depth)
{
	DIR *dir = fdopendir(dfd);
	struct dirent *e;
	int err = 0;

	if (!dir) {
		err = -errno;
		snprintf(w->err, w->errcap, "cannot list '%s/%s': %s", w->root, prefix,
			 strerror(-err));
		close(dfd);
		return err;
	}
	while (!err && (errno = 0, e = readdir(dir))) {
		char path[DASHBOARD_PATH_MAX + 1];
		int n;

		if (!dashboard_name_ok(e->d_name))
			continue;
		n = snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			snprintf(w->err, w->errcap,
				 "'%s' has a path longer than %d bytes under '%s'", w->root,
				 DASHBOARD_PATH_MAX, prefix);
			err = -ENAMETOOLONG;
			break;
		}
		err = dashboard_entry(w, dirfd(dir), e->d_name, path, depth);
	}
	if (!err && errno) {
		err = -errno;
		snprintf(w->err, w->errcap, "cannot list '%s/%s': %s", w->root, prefix,
			 strerror(-err));
	}
	closedir(dir);
	return err;
}

static int dashboard_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dashboard_file *)a)->path,
		      ((const struct dashboard_file *)b)->path);
}

struct dashboard *dashboard_load(const char *dir, char *err, size_t errcap)
{
	struct dashboard *d = xcalloc(1, sizeof(*d));
	struct dashboard_walk w = { .d = d, .root = dir, .err = err, .errcap = errcap };
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	d->files = xcalloc(DASHBOARD_FILES_MAX, sizeof(*d->files));
	if (fd < 0) {
		snprintf(err, errcap, "cannot open the directory '%s': %s", dir, strerror(errno));
		dashboard_free(d);
		return NULL;
	}
	if (dashboard_walk_dir(&w, fd, "", 0)) {
		dashboard_free(d);
		return NULL;
	}
	qsort(d->files, d->n, sizeof(*d->files), dashboard_cmp);
	return d;
}

void dashboard_free(struct dashboard *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->files[i].path);
		blob_unref(d->files[i].body);
		blob_unref(d->files[i].gz);
	}
	free(d->files);
	free(d);
}

size_t dashboard_files(const struct dashboard *d, size_t *bytes)
{
	*bytes = d->bytes;
	return d->n;
}

static const struct dashboard_file *dashboard_find(const struct dashboard *d, const char *path)
{
	struct dashboard_file key = { .path = (char *)(uintptr_t)path }; /* bsearch() only reads */

	return bsearch(&key, d->files, d->n, sizeof(*d->files), dashboard_cmp);
}

/*
 * True when If-None-Match (@inm, NULL when absent) names @etag or is "*".
 * The weak comparison of RFC 9110 §13.1.2: a W/ prefix is ignored.
 */
static bool dashboard_etag_match(const char *inm, const char *etag)
{
	size_t n = strlen(etag);

	while (inm && *inm) {
		inm += strspn(inm, " \t,");
		if (*inm == '*')
			return true;
		if (!strncmp(inm, "W/", 2))
			inm += 2;
		if (!strncmp(inm, etag, n) && strchr(" \t,", inm[n])) /* strchr finds the NUL too */
			return true;
		inm += strcspn(inm, ",");
	}
	return false;
}

/* A file of the table, or its 304: body, Content-Type, ETag, and when to ask again. */
static void dashboard_answer(const struct dashboard_file *f, struct req *rq, struct resp *rp)
{
	bool gzip = f->gz && req_accepts_gzip(rq);
	const char *etag = gzip ? f->etag_gz : f->etag;

	if (dashboard_etag_match(rq->if_none_match, etag))
		resp_empty(rp, 304); /* RFC 9110 §15.4.5: no body, the 200's validators */
	else
		resp_blob(rp, 200, blob_ref(gzip ? f->gz : f->body), gzip ? "gzip" : NULL);
	rp->content_type = f->type;
	snprintf(rp->etag, sizeof(rp->etag), "%s", etag);
	/* cached, but revalidated each time: a new version shows on the next load */
	rp->cache_control = "no-cache";
	rp->vary_encoding = f->gz != NULL;
}

bool dashboard_serve(const struct dashboard *d, struct req *rq, struct resp *rp)
{
	const struct dashboard_file *f;
	const char *path;

	if (!strcmp(rq->path, "/"))
		path = "index.html";
	else if (!strncmp(rq->path, "/ui/", 4))
		path = rq->path + 1; /* "/ui/app.js" is the file ui/app.js */
	else
		return false;
	if (!strcmp(rq->method, "OPTIONS")) {
		resp_empty(rp, 204);
		snprintf(rp->allow, sizeof(rp->allow), "%s", DASHBOARD_ALLOW);
	} else if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD")) {
		resp_error(rp, 405, "method_not_allowed",
			   "%.16s is not allowed on '%.200s'; allowed: %s", rq->method, rq->path,
			   DASHBOARD_ALLOW);
		snprintf(rp->allow, sizeof(rp->allow), "%s", DASHBOARD_ALLOW);
	} else if ((f = dashboard_find(d, path))) {
		dashboard_answer(f, rq, rp); /* HEAD as GET: the server sends no body */
	} else {
		resp_error(rp, 404, "not_found", "the dashboard has no file '%.200s'", rq->path);
	}
	rp->page_headers = true;
	return true;
}
