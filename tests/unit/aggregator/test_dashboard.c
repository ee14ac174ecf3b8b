/*
 * aggregator/http/dashboard.c: the dashboard's files served by the real
 * HTTP server on 127.0.0.1 (an ephemeral port) from a temporary directory,
 * called with libcurl (paths sent as they are, so "/ui/../x" reaches the
 * server): bodies, types, the security and cache headers, ETags and 304,
 * gzip, HEAD, 404 and 405 in the API's envelope, names that must not load,
 * the API beside it unchanged; dashboard_load()'s bounds and errors; and
 * the repository's own dashboard/, when it has an index.html.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "aggregator/auth/keys.h"
#include "aggregator/http/api.h"
#include "aggregator/http/dashboard.h"
#include "aggregator/store/store.h"
#include "common/buf.h"
#include "tests/lib/api_client.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/repo.h"
#include "tests/lib/tmpdir.h"

TestSuite(dashboard, .fini = test_no_leaks);

static struct {
	char data[128]; /* the store's directory */
	char web[128];	/* the dashboard's files */
	struct store_options so;
	struct keys *keys;
	struct dashboard *dash;
	struct api *api;
} fx;

/* ---- the files ---- */

/* Writes @len bytes of @text to @rel under @dir, making its directories. */
static void put(const char *dir, const char *rel, const char *text, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (char *s = strchr(path + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		cr_assert(!mkdir(path, 0755) || errno == EEXIST, "mkdir %s", path);
		*s = '/';
	}
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	cr_assert_eq(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void put_text(const char *dir, const char *rel, const char *text)
{
	put(dir, rel, text, strlen(text));
}

/* A file of @size bytes (a hole: no disk used) at @rel under @dir. */
static void put_sized(const char *dir, const char *rel, off_t size)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0, "cannot make %s", path);
	cr_assert_eq(ftruncate(fd, size), 0);
	close(fd);
}

/* index.html: long and repetitive enough that its gzip copy is smaller */
static char index_html[4096];
static const char b_js[] = "export const answer = 42;\nexport function f() { return answer; }\n";
static const unsigned char logo_png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0 };

static void put_files(const char *dir)
{
	size_t n = (size_t)snprintf(index_html, sizeof(index_html),
				    "<!doctype html>\n<html><head><title>prp</title>"
				    "<script type=\"module\" src=\"/ui/a/b.js\"></script></head>"
				    "<body>\n");

	while (n + 64 < sizeof(index_html))
		n += (size_t)snprintf(index_html + n, sizeof(index_html) - n,
				      "<p class=\"row\">the same row, again</p>\n");
	put_text(dir, "index.html", index_html);
	put_text(dir, "ui/a/b.js", b_js);
	put(dir, "ui/logo.png", (const char *)logo_png, sizeof(logo_png));
	/* what must not load: outside ui/ it loads but no path reaches it */
	put_text(dir, "secret", "top secret\n");
	put_text(dir, "ui/.hidden.js", "top secret\n");
	put_text(dir, "ui/.git/config", "top secret\n");
	put_text(dir, ".env", "top secret\n");
	put_text(dir, "ui/bad name.js", "top secret\n");
	put_text(dir, "ui/bad~name.js", "top secret\n");
}

/* ---- the server ---- */

static void start(bool auth)
{
	struct store *st;
	char err[256] = "";
	struct api_config c = {
		.bind_address = "127.0.0.1",
		.threads = 2,
		.version = "test",
		.store = &fx.so,
	};

	memset(&fx, 0, sizeof(fx));
	tmpdir_make(fx.data, sizeof(fx.data), "dashboard-data");
	tmpdir_make(fx.web, sizeof(fx.web), "dashboard-web");
	put_files(fx.web);
	fx.so = (struct store_options){ .dir = fx.data, .raw_hours = 24, .minute_days = 14 };
	cr_assert_eq(store_open(&st, &fx.so), 0);
	store_close(st);
	if (auth) {
		cr_assert_eq(keys_open(&fx.keys, &fx.so), 0);
		c.keys = fx.keys;
		/* a small budget, so that charging the page's files would show */
		c.rate_limit = true;
		for (int r = 0; r < 4; r++) {
			c.limits.per_minute[r] = 5;
			c.limits.per_hour[r] = 50;
		}
	}
	fx.dash = dashboard_load(fx.web, err, sizeof(err));
	cr_assert_not_null(fx.dash, "%s", err);
	c.dashboard = fx.dash;
	cr_assert_eq(api_start(&fx.api, &c), 0);
}

static void setup(void)
{
	start(false);
}

static void setup_auth(void)
{
	start(true);
}

static void teardown(void)
{
	api_stop(fx.api);
	dashboard_free(fx.dash);
	keys_close(fx.keys);
	tmpdir_remove(fx.web);
	tmpdir_remove(fx.data);
	test_no_leaks();
}

/* ---- calling it ---- */

struct answer {
	long status;
	struct buf body, headers;
};

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
	return buf_append(userdata, p, size * n) ? 0 : size * n;
}

/* @method @path (sent as it is) with the header lines @hdrs (NULL-ended, or NULL). */
static struct answer fetch_from(unsigned port, const char *method, const char *path,
				const char *const *hdrs)
{
	struct answer a = { 0 };
	struct curl_slist *list = NULL;
	char url[1024];
	CURL *c = curl_easy_init();
	CURLcode rc;

	cr_assert_not_null(c);
	buf_init(&a.body, 16 << 20);
	buf_init(&a.headers, 64 << 10);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	for (size_t i = 0; hdrs && hdrs[i]; i++)
		list = curl_slist_append(list, hdrs[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* no dot segments removed by curl */
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &a.headers);
	rc = curl_easy_perform(c);
	cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(list);
	return a;
}

static struct answer fetch(const char *method, const char *path, const char *const *hdrs)
{
	return fetch_from(api_port(fx.api), method, path, hdrs);
}

static void answer_release(struct answer *a)
{
	buf_release(&a->body);
	buf_release(&a->headers);
}

/* The value of header @name of @a ("" without one), valid until the 8th call after. */
static const char *header(const struct answer *a, const char *name)
{
	static char v[8][1024];
	static unsigned next;
	char *out = v[next++ % 8];

	http_header_value(buf_str(&a->headers), name, out, sizeof(v[0]));
	return out;
}

static bool body_is(const struct answer *a, const void *want, size_t len)
{
	return a->body.len == len && (!len || !memcmp(a->body.data, want, len));
}

/* The headers every answer of the dashboard has. */
static void expect_page_headers(const struct answer *a, const char *what)
{
	cr_expect_str_eq(header(a, "Content-Security-Policy"), DASHBOARD_CSP, "%s", what);
	cr_expect_str_eq(header(a, "Referrer-Policy"), "no-referrer", "%s", what);
	cr_expect_str_eq(header(a, "X-Frame-Options"), "DENY", "%s", what);
	cr_expect_str_eq(header(a, "X-Content-Type-Options"), "nosniff", "%s", what);
}

/* A file's answer: 200, its bytes, its type, revalidated by ETag. */
static void expect_file(const struct answer *a, const void *want, size_t len, const char *type,
			const char *what)
{
	const char *etag = header(a, "ETag");

	cr_assert_eq(a->status, 200, "%s: %ld", what, a->status);
	cr_expect(body_is(a, want, len), "%s: %zu bytes, want %zu", what, a->body.len, len);
	cr_expect_eq(strncmp(header(a, "Content-Type"), type, strlen(type)), 0, "%s: type '%s'",
		     what, header(a, "Content-Type"));
	cr_expect_str_eq(header(a, "Cache-Control"), "no-cache", "%s", what);
	cr_expect_eq(strlen(etag), 18, "%s: ETag '%s'", what, etag);
	cr_expect(etag[0] == '"' && etag[17] == '"' && strspn(etag + 1, "0123456789abcdef") == 16,
		  "%s: ETag '%s'", what, etag);
	cr_expect_str_empty(header(a, "Content-Encoding"), "%s", what);
	expect_page_headers(a, what);
}

/* An error of the API's envelope, @status and @code, with the page's headers. */
static void expect_error(const struct answer *a, long status, const char *code, const char *what)
{
	json_error_t jerr;
	json_t *doc;

	cr_assert_eq(a->status, status, "%s: %ld", what, a->status);
	cr_expect_eq(strncmp(header(a, "Content-Type"), "application/json", 16), 0, "%s", what);
	doc = json_loadb((const char *)a->body.data, a->body.len, 0, &jerr);
	cr_assert_not_null(doc, "%s: not JSON: %s", what, jerr.text);
	api_client_check_error(doc, status, code, what);
	cr_expect_str_eq(
		json_string_value(json_object_get(json_object_get(doc, "error"), "request_id")),
		header(a, "X-Request-Id"), "%s", what);
	cr_expect_null(strstr(buf_str(&a->body), "top secret"), "%s", what);
	json_decref(doc);
}

/* @gz (gzip) inflated equals @want (@len bytes). */
static bool inflates_to(const struct buf *gz, const void *want, size_t len)
{
	z_stream z = { 0 };
	unsigned char *out = malloc(len + 16);
	bool ok;

	cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = gz->data;
	z.avail_in = (uInt)gz->len;
	z.next_out = out;
	z.avail_out = (uInt)(len + 16);
	ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == len && !memcmp(out, want, len);
	inflateEnd(&z);
	free(out);
	return ok;
}

/* ---- serving ---- */

Test(dashboard, root_is_index_html_with_the_page_headers, .init = setup, .fini = teardown)
{
	struct answer a = fetch("GET", "/", NULL);

	expect_file(&a, index_html, strlen(index_html), "text/html", "GET /");
	answer_release(&a);
	/* the same file by its own name */
	a = fetch("GET", "/ui/a/b.js", NULL);
	expect_file(&a, b_js, strlen(b_js), "text/javascript", "GET /ui/a/b.js");
	answer_release(&a);
	a = fetch("GET", "/ui/logo.png", NULL);
	expect_file(&a, logo_png, sizeof(logo_png), "image/png", "GET /ui/logo.png");
	answer_release(&a);
}

Test(dashboard, a_matching_etag_is_304_with_no_body, .init = setup, .fini = teardown)
{
	struct answer a = fetch("GET", "/", NULL), b;
	char etag[64], inm[128], weak[128], list[160];

	snprintf(etag, sizeof(etag), "%s", header(&a, "ETag"));
	answer_release(&a);
	cr_assert_str_not_empty(etag);
	snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
	snprintf(weak, sizeof(weak), "If-None-Match: W/%s", etag);
	snprintf(list, sizeof(list), "If-None-Match: \"0000000000000000\", %s", etag);
	for (const char *h[] = { inm, weak, list, "If-None-Match: *" }, **p = h; p < h + 4; p++) {
		b = fetch("GET", "/", (const char *const[]){ *p, NULL });
		cr_expect_eq(b.status, 304, "%s: %ld", *p, b.status);
		cr_expect_eq(b.body.len, 0, "%s", *p);
		cr_expect_str_eq(header(&b, "ETag"), etag, "%s", *p);
		cr_expect_str_eq(header(&b, "Cache-Control"), "no-cache", "%s", *p);
		expect_page_headers(&b, *p);
		answer_release(&b);
	}
	/* another version: the file */
	b = fetch("GET", "/", (const char *const[]){ "If-None-Match: \"0123456789abcdef\"", NULL });
	expect_file(&b, index_html, strlen(index_html), "text/html", "another ETag");
	answer_release(&b);
}

Test(dashboard, gzip_for_clients_that_accept_it, .init = setup, .fini = teardown)
{
	const char *const gz[] = { "Accept-Encoding: gzip, deflate", NULL };
	struct answer plain = fetch("GET", "/", NULL), a = fetch("GET", "/", gz), b;
	char inm[128];

	cr_assert_eq(a.status, 200);
	cr_expect_str_eq(header(&a, "Content-Encoding"), "gzip");
	cr_expect_str_eq(header(&a, "Vary"), "Accept-Encoding");
	cr_expect_lt(a.body.len, strlen(index_html));
	cr_expect(inflates_to(&a.body, index_html, strlen(index_html)));
	expect_page_headers(&a, "gzip");
	/* each representation has its own tag, and its own 304 */
	cr_expect_str_neq(header(&a, "ETag"), header(&plain, "ETag"));
	cr_expect_str_eq(header(&plain, "Vary"), "Accept-Encoding");
	snprintf(inm, sizeof(inm), "If-None-Match: %s", header(&a, "ETag"));
	b = fetch("GET", "/", (const char *const[]){ gz[0], inm, NULL });
	cr_expect_eq(b.status, 304);
	cr_expect_eq(b.body.len, 0);
	answer_release(&b);
	answer_release(&a);
	answer_release(&plain);
	/* a PNG is compressed already: sent as it is */
	a = fetch("GET", "/ui/logo.png", gz);
	expect_file(&a, logo_png, sizeof(logo_png), "image/png", "PNG with gzip accepted");
	answer_release(&a);
}

Test(dashboard, head_is_get_without_the_body, .init = setup, .fini = teardown)
{
	struct answer a = fetch("HEAD", "/", NULL);
	char len[32];

	snprintf(len, sizeof(len), "%zu", strlen(index_html));
	cr_assert_eq(a.status, 200);
	cr_expect_eq(a.body.len, 0);
	cr_expect_str_eq(header(&a, "Content-Length"), len);
	cr_expect_str_not_empty(header(&a, "ETag"));
	expect_page_headers(&a, "HEAD /");
	answer_release(&a);
}

Test(dashboard, a_missing_file_is_a_404_envelope, .init = setup, .fini = teardown)
{
	struct answer a = fetch("GET", "/ui/missing.js", NULL);

	expect_error(&a, 404, "not_found", "GET /ui/missing.js");
	expect_page_headers(&a, "GET /ui/missing.js");
	cr_expect_str_eq(header(&a, "Cache-Control"), "no-store");
	answer_release(&a);
	a = fetch("GET", "/ui/", NULL);
	expect_error(&a, 404, "not_found", "GET /ui/");
	answer_release(&a);
}

Test(dashboard, no_path_reaches_a_file_outside_the_table, .init = setup, .fini = teardown)
{
	static const char *const paths[] = {
		"/ui/../secret",     "/ui/%2e%2e/secret",
		"/ui/%2E%2E/secret", "/ui/..%2fsecret",
		"/ui/./a/b.js",	     "/ui//a/b.js",
		"/ui/.hidden.js",    "/ui/.git/config",
		"/ui/bad%20name.js", "/ui/bad~name.js",
		"/ui/%2e/a/b.js",    "/ui/../.env",
		"/secret",	     "/.env",
		"/index.html",	     "/ui/a/../a/b.js",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct answer a = fetch("GET", paths[i], NULL);

		expect_error(&a, 404, "not_found", paths[i]);
		/* those under /ui/ reach the dashboard as they are, and it says no */
		if (!strncmp(paths[i], "/ui/", 4))
			cr_expect_not_null(strstr(buf_str(&a.body), "the dashboard has no file"),
					   "%s: %s", paths[i], buf_str(&a.body));
		answer_release(&a);
	}
}

Test(dashboard, other_methods_are_405_with_allow, .init = setup, .fini = teardown)
{
	static const char *const cases[][2] = {
		{ "POST", "/" },
		{ "PUT", "/ui/a/b.js" },
		{ "DELETE", "/" },
		{ "POST", "/ui/missing" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct answer a = fetch(cases[i][0], cases[i][1], NULL);

		expect_error(&a, 405, "method_not_allowed", cases[i][1]);
		cr_expect_str_eq(header(&a, "Allow"), "GET, HEAD, OPTIONS");
		expect_page_headers(&a, cases[i][1]);
		answer_release(&a);
	}
	{
		struct answer a = fetch("OPTIONS", "/", NULL);

		cr_expect_eq(a.status, 204);
		cr_expect_eq(a.body.len, 0);
		cr_expect_str_eq(header(&a, "Allow"), "GET, HEAD, OPTIONS");
		answer_release(&a);
	}
}

Test(dashboard, the_api_beside_it_is_unchanged, .init = setup, .fini = teardown)
{
	struct answer a = fetch("GET", "/health", NULL);

	cr_assert_eq(a.status, 200);
	cr_expect_str_eq(header(&a, "Cache-Control"), "no-store");
	cr_expect_str_empty(header(&a, "ETag"));
	cr_expect_str_empty(header(&a, "Content-Security-Policy"));
	answer_release(&a);
	a = fetch("GET", "/nope", NULL);
	expect_error(&a, 404, "not_found", "GET /nope");
	cr_expect_str_empty(header(&a, "Content-Security-Policy"));
	answer_release(&a);
	a = fetch("GET", "/ui", NULL); /* not under /ui/: the API's 404 */
	expect_error(&a, 404, "not_found", "GET /ui");
	answer_release(&a);
	a = fetch("PUT", "/health", NULL);
	expect_error(&a, 405, "method_not_allowed", "PUT /health");
	cr_expect_str_eq(header(&a, "Allow"), "GET, HEAD, OPTIONS");
	answer_release(&a);
}

Test(dashboard, is_public_when_the_api_needs_a_key, .init = setup_auth, .fini = teardown)
{
	struct answer a = fetch("GET", "/", NULL);

	expect_file(&a, index_html, strlen(index_html), "text/html", "GET / without a key");
	answer_release(&a);
	a = fetch("GET", "/services", NULL);
	expect_error(&a, 401, "unauthorized", "GET /services without a key");
	answer_release(&a);
}

Test(dashboard, its_files_are_not_charged_to_the_rate_limit, .init = setup_auth, .fini = teardown)
{
	struct answer a;

	/* four page loads of the budget's five requests a minute, and more */
	for (int i = 0; i < 20; i++) {
		a = fetch("GET", i % 2 ? "/" : "/ui/a/b.js", NULL);
		cr_assert_eq(a.status, 200, "request %d: %ld", i, a.status);
		cr_expect_str_empty(header(&a, "X-RateLimit-Remaining"), "request %d", i);
		answer_release(&a);
	}
	/* the API beside it still is */
	for (int i = 0; i < 5; i++) {
		a = fetch("GET", "/health", NULL);
		cr_assert_eq(a.status, 200, "GET /health %d: %ld", i, a.status);
		answer_release(&a);
	}
	a = fetch("GET", "/health", NULL);
	expect_error(&a, 429, "rate_limited", "the sixth GET /health of the minute");
	answer_release(&a);
}

/* ---- loading ---- */

Test(dashboard, loads_only_the_names_it_may_serve)
{
	char dir[128], err[256] = "";
	struct dashboard *d;
	size_t bytes = 0;

	tmpdir_make(dir, sizeof(dir), "dashboard-load");
	put_files(dir);
	d = dashboard_load(dir, err, sizeof(err));
	cr_assert_not_null(d, "%s", err);
	/* index.html, ui/a/b.js, ui/logo.png and secret; no dotfile, no odd name */
	cr_expect_eq(dashboard_files(d, &bytes), 4);
	cr_expect_eq(bytes,
		     strlen(index_html) + strlen(b_js) + sizeof(logo_png) + strlen("top secret\n"));
	dashboard_free(d);
	dashboard_free(NULL);
	tmpdir_remove(dir);
}

Test(dashboard, a_missing_directory_is_an_error)
{
	char err[256] = "";

	cr_expect_null(dashboard_load("/nonexistent/prp-dashboard", err, sizeof(err)));
	cr_expect_not_null(strstr(err, "/nonexistent/prp-dashboard"), "%s", err);
	cr_expect_not_null(strstr(err, "No such file or directory"), "%s", err);
}

Test(dashboard, more_files_than_the_bound_is_an_error)
{
	char dir[128], err[256] = "", rel[PATH_MAX];

	tmpdir_make(dir, sizeof(dir), "dashboard-files");
	for (int i = 0; i <= DASHBOARD_FILES_MAX; i++) {
		snprintf(rel, sizeof(rel), "ui/f%03d.js", i);
		put_text(dir, rel, ";");
	}
	cr_expect_null(dashboard_load(dir, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "more than 256 files"), "%s", err);
	/* one fewer loads */
	snprintf(rel, sizeof(rel), "%s/ui/f000.js", dir);
	cr_assert_eq(unlink(rel), 0);
	{
		struct dashboard *d = dashboard_load(dir, err, sizeof(err));
		size_t bytes;

		cr_assert_not_null(d, "%s", err);
		cr_expect_eq(dashboard_files(d, &bytes), DASHBOARD_FILES_MAX);
		dashboard_free(d);
	}
	tmpdir_remove(dir);
}

Test(dashboard, more_bytes_than_the_bound_is_an_error)
{
	char dir[128], err[256] = "";

	tmpdir_make(dir, sizeof(dir), "dashboard-bytes");
	put_sized(dir, "big.js", (off_t)DASHBOARD_BYTES_MAX + 1);
	cr_expect_null(dashboard_load(dir, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "more than 8 MiB"), "%s", err);
	tmpdir_remove(dir);

	/* in all: two files of 5 MiB */
	tmpdir_make(dir, sizeof(dir), "dashboard-bytes");
	put_sized(dir, "a.js", (off_t)5 << 20);
	put_sized(dir, "b.js", (off_t)5 << 20);
	err[0] = '\0';
	cr_expect_null(dashboard_load(dir, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "more than 8 MiB"), "%s", err);
	tmpdir_remove(dir);
}

Test(dashboard, a_loop_of_links_is_an_error_not_a_hang)
{
	char dir[128], err[256] = "", link[PATH_MAX];

	tmpdir_make(dir, sizeof(dir), "dashboard-loop");
	put_text(dir, "index.html", "<!doctype html>");
	snprintf(link, sizeof(link), "%s/ui", dir);
	cr_assert_eq(symlink(".", link), 0);
	cr_expect_null(dashboard_load(dir, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "directories deep"), "%s", err);
	tmpdir_remove(dir);
}

/* ---- the repository's dashboard ---- */

/* Fetches each "/ui/..." (or "ui/...") that a src= or href= of @html names: 200 each. */
static size_t expect_references_served(unsigned port, const char *html)
{
	static const char *const attrs[] = { " src=\"", " href=\"", "\nsrc=\"", "\nhref=\"" };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		for (const char *p = strstr(html, attrs[i]); p; p = strstr(p + 1, attrs[i])) {
			const char *v = p + strlen(attrs[i]);
			size_t len = strcspn(v, "\"?#");
			char path[512];
			struct answer a;

			if (strncmp(v, "/ui/", 4) && strncmp(v, "ui/", 3))
				continue;
			snprintf(path, sizeof(path), "%s%.*s", *v == '/' ? "" : "/", (int)len, v);
			a = fetch_from(port, "GET", path, NULL);
			cr_expect_eq(a.status, 200, "index.html names %s: %ld", path, a.status);
			answer_release(&a);
			n++;
		}
	}
	return n;
}

Test(dashboard, the_repository_dashboard_serves_what_index_html_names)
{
	char dir[PATH_MAX], index[PATH_MAX], data[128], err[256] = "";
	struct store_options so;
	struct store *st;
	struct dashboard *d;
	struct api *api;
	struct answer a;
	size_t bytes, n;

	repo_path(dir, sizeof(dir), "dashboard");
	repo_path(index, sizeof(index), "dashboard/index.html");
	if (access(index, R_OK))
		cr_skip_test("no dashboard/index.html yet");
	d = dashboard_load(dir, err, sizeof(err));
	cr_assert_not_null(d, "%s", err);
	cr_expect_gt(dashboard_files(d, &bytes), 0);
	tmpdir_make(data, sizeof(data), "dashboard-repo");
	so = (struct store_options){ .dir = data, .raw_hours = 24, .minute_days = 14 };
	cr_assert_eq(store_open(&st, &so), 0);
	store_close(st);
	cr_assert_eq(api_start(&api, &(struct api_config){ .bind_address = "127.0.0.1",
							   .threads = 2,
							   .version = "test",
							   .store = &so,
							   .dashboard = d }),
		     0);
	a = fetch_from(api_port(api), "GET", "/", NULL);
	cr_expect_eq(a.status, 200);
	cr_expect_eq(strncmp(header(&a, "Content-Type"), "text/html", 9), 0);
	n = expect_references_served(api_port(api), buf_str(&a.body));
	cr_expect_gt(n, 0, "index.html names nothing under /ui/");
	answer_release(&a);
	api_stop(api);
	dashboard_free(d);
	tmpdir_remove(data);
}
