/*
 * The real build/prpctl against a stand-in for the aggregator: the HTTP sink
 * (tests/lib/http_sink.h) on 127.0.0.1, which records each request (method,
 * path, headers, body) and answers a canned status and body. Each command
 * must send the request API.md describes and print its answer; an error
 * envelope gives status 1 (4 for 401/403, 5 for 404) and one line on
 * stderr, a bad command line 2, no answer 3, and a backup lands whole in
 * its file or not at all. The policy commands also run against a real
 * prp-aggregator (policies_apply_*).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/timeutil.h"
#include "tests/lib/http_sink.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"
#include "tests/lib/tmpdir.h"

#define PRPCTL	 PRP_BUILD_DIR "/prpctl"
#define KEY	 "prp_test-key-0123456789"
#define ARGS_MAX 24

static char dir[PATH_MAX];

static void setup(void)
{
	tmpdir_make(dir, sizeof(dir), "prpctl");
	/* the defaults must come from the command line of each test only */
	unsetenv("PRP_URL");
	unsetenv("PRP_API_KEY");
	unsetenv("PRP_CONFIG");
}

static void teardown(void)
{
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(prpctl, .init = setup, .fini = teardown, .timeout = 60);

/* One request as the stand-in saw it; every field is owned. */
struct seen {
	char *head;
	char *method;
	char *path;
	char *key; /* X-API-Key; NULL when absent */
	char *body;
};

static void seen_get(struct http_sink *s, size_t i, struct seen *r)
{
	const char *sp1, *sp2;

	cr_assert(http_sink_get(s, i, &r->head, &r->body), "no request %zu", i);
	sp1 = strchr(r->head, ' ');
	cr_assert_not_null(sp1);
	sp2 = strchr(sp1 + 1, ' ');
	cr_assert_not_null(sp2);
	r->method = strndup(r->head, (size_t)(sp1 - r->head));
	r->path = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	r->key = http_sink_header(r->head, "X-API-Key");
}

static void seen_release(struct seen *r)
{
	free(r->head);
	free(r->method);
	free(r->path);
	free(r->key);
	free(r->body);
}

/* Checks request @i of @s: @method @path with the test key. */
static void expect_request(struct http_sink *s, size_t i, const char *method, const char *path)
{
	struct seen r;

	seen_get(s, i, &r);
	cr_expect_str_eq(r.method, method);
	cr_expect_str_eq(r.path, path);
	cr_expect(r.key && !strcmp(r.key, KEY), "X-API-Key: %s", r.key ? r.key : "(none)");
	seen_release(&r);
}

static const char *text(const struct buf *b)
{
	return b->data ? (const char *)b->data : "";
}

/* Runs @argv (NULL-terminated, argv[0] a path); returns its exit status. */
static int run_argv(struct proc *p, const char *const *argv)
{
	cr_assert_eq(proc_start(p, argv), 0, "cannot start %s", argv[0]);
	cr_assert_eq(proc_wait_exit(p, 30000), 0, "%s did not exit", argv[0]);
	cr_assert(WIFEXITED(p->status), "%s crashed: %s", argv[0], text(&p->err));
	return WEXITSTATUS(p->status);
}

/*
 * Runs prpctl --url (the sink's, when @s) --key KEY then @args
 * (NULL-terminated); returns its exit status.
 */
static int run(struct proc *p, struct http_sink *s, const char *const *args)
{
	static char url[64];
	const char *argv[ARGS_MAX] = { PRPCTL };
	int n = 1;

	if (s) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%u", http_sink_port(s));
		argv[n++] = "--url";
		argv[n++] = url;
		argv[n++] = "--key";
		argv[n++] = KEY;
	}
	for (int i = 0; args[i]; i++) {
		cr_assert_lt(n, ARGS_MAX - 1);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	return run_argv(p, argv);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static struct http_sink *sink(int status, const char *body)
{
	return http_sink_start(&status, 1, body);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* The whole of @path into a buffer the caller frees; *@len its size. NULL when absent. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *data;
	long n;

	if (!f)
		return NULL;
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	data = malloc((size_t)n + 1);
	cr_assert_eq(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return data;
}

static const char *envelope(void)
{
	return "{\"error\": {\"status\": 404, \"code\": \"not_found\", "
	       "\"message\": \"no key with id 9, or it is revoked\", \"request_id\": \"req-1\"}}";
}

/* ---- health, and where the URL and key come from -------------------------- */

static const char health_body[] = "{\"status\": \"healthy\", \"service\": \"prp-aggregator\", "
				  "\"version\": \"0.1.0\", \"uptime_s\": 90123, \"components\": "
				  "{\"store\": \"ok\", \"agents_connected\": 2}}";

Test(prpctl, health_prints_status_version_and_uptime)
{
	struct http_sink *s = sink(200, health_body);
	struct proc p;

	cr_assert_eq(run(&p, s, ARGS("health")), 0, "%s", text(&p.err));
	expect_request(s, 0, "GET", "/health");
	cr_expect_str_eq(text(&p.out), "status:   healthy\n"
				       "version:  0.1.0\n"
				       "uptime:   1d 1h 2m 3s\n"
				       "agents:   2\n"
				       "store:    ok\n");
	cr_expect_eq(p.err.len, 0, "stderr: %s", text(&p.err));
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, url_and_key_come_from_the_environment)
{
	struct http_sink *s = sink(200, health_body);
	char url[64];
	struct proc p;
	struct seen r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", http_sink_port(s));
	setenv("PRP_URL", url, 1);
	setenv("PRP_API_KEY", "prp_from-env", 1);
	cr_assert_eq(run(&p, NULL, ARGS("health")), 0, "%s", text(&p.err));
	proc_release(&p);
	/* --key wins over $PRP_API_KEY */
	cr_assert_eq(run(&p, NULL, ARGS("health", "--key", "prp_from-flag")), 0);
	proc_release(&p);
	cr_assert_eq(http_sink_count(s), 2);
	seen_get(s, 0, &r);
	cr_expect_str_eq(r.path, "/health", "the trailing '/' of the URL is dropped");
	cr_expect_str_eq(r.key, "prp_from-env");
	seen_release(&r);
	seen_get(s, 1, &r);
	cr_expect_str_eq(r.key, "prp_from-flag");
	seen_release(&r);
	http_sink_stop(s);
}

Test(prpctl, key_file_is_read_with_whitespace_trimmed)
{
	struct http_sink *s = sink(200, health_body);
	char url[64], path[PATH_MAX + 16];
	struct proc p;
	struct seen r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", http_sink_port(s));
	snprintf(path, sizeof(path), "%s/admin.key", dir);
	write_file(path, "  prp_from-file \n\n", 18);
	setenv("PRP_API_KEY", "prp_from-env", 1);
	/* an explicit --key-file wins over $PRP_API_KEY */
	cr_assert_eq(run(&p, NULL, ARGS("--url", url, "--key-file", path, "health")), 0, "%s",
		     text(&p.err));
	proc_release(&p);
	seen_get(s, 0, &r);
	cr_expect_str_eq(r.key, "prp_from-file");
	seen_release(&r);

	snprintf(path, sizeof(path), "%s/missing.key", dir);
	cr_expect_eq(run(&p, NULL, ARGS("--url", url, "--key-file", path, "health")), 1);
	cr_expect(strstr(text(&p.err), "missing.key"), "stderr: %s", text(&p.err));
	cr_expect_eq(http_sink_count(s), 1, "no request without the key asked for");
	proc_release(&p);
	http_sink_stop(s);
}

/* ---- keys and validate ------------------------------------------------------ */

Test(prpctl, keys_create_sends_the_key_request_and_prints_the_key_first)
{
	struct http_sink *s = sink(201, "{\"id\": 7, \"key\": \"prp_NEWKEY\", \"name\": \"ci\", "
					"\"role\": \"operator\", \"tenant\": \"team-a\", "
					"\"created_at\": \"2026-11-27T10:00:00.123Z\"}");
	struct proc p;
	struct seen r;
	json_t *body, *rl;

	cr_assert_eq(run(&p, s,
			 ARGS("keys", "create", "ci", "--role", "operator", "--description",
			      "the CI runner", "--tenant=team-a", "--per-minute", "60",
			      "--per-hour", "1000")),
		     0, "%s", text(&p.err));
	expect_request(s, 0, "POST", "/keys");
	seen_get(s, 0, &r);
	body = json_loads(r.body, 0, NULL);
	cr_assert_not_null(body, "body: %s", r.body);
	cr_expect_str_eq(json_string_value(json_object_get(body, "name")), "ci");
	cr_expect_str_eq(json_string_value(json_object_get(body, "role")), "operator");
	cr_expect_str_eq(json_string_value(json_object_get(body, "description")), "the CI runner");
	cr_expect_str_eq(json_string_value(json_object_get(body, "tenant")), "team-a");
	rl = json_object_get(body, "rate_limit");
	cr_expect_eq(json_integer_value(json_object_get(rl, "per_minute")), 60);
	cr_expect_eq(json_integer_value(json_object_get(rl, "per_hour")), 1000);
	cr_expect(strstr(r.head, "Content-Type: application/json"), "%s", r.head);
	json_decref(body);
	seen_release(&r);

	cr_expect_str_eq(text(&p.out), "prp_NEWKEY\n"
				       "id:       7\n"
				       "name:     ci\n"
				       "role:     operator\n"
				       "tenant:   team-a\n"
				       "created:  2026-11-27T10:00:00.123Z\n");
	cr_expect(strstr(text(&p.err), "shown only once"), "stderr: %s", text(&p.err));
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, keys_create_leaves_out_what_is_not_given)
{
	struct http_sink *s = sink(201, "{\"id\": 8, \"key\": \"prp_K\", \"name\": \"ro\", "
					"\"role\": \"viewer\", \"tenant\": \"default\", "
					"\"created_at\": \"2026-11-27T10:00:00.123Z\"}");
	struct proc p;
	struct seen r;

	/* global flags after the command work too, and --json prints the answer as it came */
	cr_assert_eq(run(&p, s, ARGS("keys", "create", "ro", "--role", "viewer", "--json")), 0,
		     "%s", text(&p.err));
	seen_get(s, 0, &r);
	cr_expect_str_eq(r.body, "{\"name\":\"ro\",\"role\":\"viewer\"}");
	seen_release(&r);
	cr_expect(!strncmp(text(&p.out), "{\"id\": 8, \"key\": \"prp_K\"", 24), "%s", text(&p.out));
	cr_expect(strstr(text(&p.err), "shown only once"), "the warning goes with --json too");
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, keys_create_checks_the_role_before_sending)
{
	struct http_sink *s = sink(201, "{}");
	struct proc p;

	cr_expect_eq(run(&p, s, ARGS("keys", "create", "ci")), 2);
	cr_expect(strstr(text(&p.err), "--role"), "stderr: %s", text(&p.err));
	cr_expect(strstr(text(&p.err), "usage: prpctl [OPTIONS] keys create NAME"), "%s",
		  text(&p.err));
	proc_release(&p);
	cr_expect_eq(run(&p, s, ARGS("keys", "create", "ci", "--role", "root")), 2);
	proc_release(&p);
	cr_expect_eq(
		run(&p, s, ARGS("keys", "create", "ci", "--role", "admin", "--per-hour", "many")),
		2);
	cr_expect(strstr(text(&p.err), "--per-hour"), "stderr: %s", text(&p.err));
	proc_release(&p);
	cr_expect_eq(run(&p, s, ARGS("keys", "create", "--role", "admin")), 2, "NAME is needed");
	proc_release(&p);
	cr_expect_eq(http_sink_count(s), 0);
	http_sink_stop(s);
}

Test(prpctl, keys_list_prints_a_table)
{
	struct http_sink *s = sink(
		200,
		"{\"keys\": [{\"id\": 1, \"name\": \"admin\", \"description\": \"first\", "
		"\"role\": \"admin\", \"tenant\": \"default\", \"created_at\": "
		"\"2026-11-27T10:00:00.000Z\", \"last_used_at\": \"2026-11-28T09:30:00.000Z\"}, "
		"{\"id\": 12, \"name\": \"grafana-ro\", \"description\": \"\", \"role\": "
		"\"viewer\", \"tenant\": \"team-a\", \"created_at\": "
		"\"2026-11-27T11:00:00.000Z\", \"last_used_at\": null}], \"total\": 2}");
	struct proc p;

	cr_assert_eq(run(&p, s, ARGS("keys", "list")), 0, "%s", text(&p.err));
	expect_request(s, 0, "GET", "/keys");
	cr_expect_str_eq(
		text(&p.out),
		"ID  NAME        ROLE    TENANT   CREATED                   LAST-USED\n"
		"1   admin       admin   default  2026-11-27T10:00:00.000Z  2026-11-28T09:30:00.000Z\n"
		"12  grafana-ro  viewer  team-a   2026-11-27T11:00:00.000Z  -\n");
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, keys_list_shows_revoked_keys_when_there_are_any)
{
	struct http_sink *s =
		sink(200, "{\"keys\": [{\"id\": 3, \"name\": \"old\", \"role\": \"operator\", "
			  "\"tenant\": \"default\", \"created_at\": \"2026-01-01T00:00:00.000Z\", "
			  "\"last_used_at\": null, \"revoked_at\": \"2026-02-01T00:00:00.000Z\"}], "
			  "\"total\": 1}");
	struct proc p;

	cr_assert_eq(run(&p, s, ARGS("keys", "list")), 0, "%s", text(&p.err));
	cr_expect_str_eq(
		text(&p.out),
		"ID  NAME  ROLE      TENANT   CREATED                   LAST-USED  REVOKED\n"
		"3   old   operator  default  2026-01-01T00:00:00.000Z  -          "
		"2026-02-01T00:00:00.000Z\n");
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, keys_revoke_deletes_by_id)
{
	struct http_sink *s = sink(200, "{\"status\": \"revoked\", \"id\": 7}");
	struct proc p;

	cr_assert_eq(run(&p, s, ARGS("keys", "revoke", "7")), 0, "%s", text(&p.err));
	expect_request(s, 0, "DELETE", "/keys/7");
	cr_expect_str_eq(text(&p.out), "revoked key 7\n");
	proc_release(&p);
	/* an id is one path segment, whatever it holds */
	cr_assert_eq(run(&p, s, ARGS("keys", "revoke", "a/b c")), 0, "%s", text(&p.err));
	expect_request(s, 1, "DELETE", "/keys/a%2Fb%20c");
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, validate_prints_what_the_key_may_do)
{
	struct http_sink *s =
		sink(200, "{\"valid\": true, \"name\": \"ci\", \"role\": \"operator\", "
			  "\"tenant\": \"default\", \"rate_limit\": {\"limit\": 100, "
			  "\"remaining\": 97, \"reset\": 1800000000}, \"allowed\": true}");
	struct proc p;
	struct seen r;

	cr_assert_eq(run(&p, s, ARGS("validate")), 0, "%s", text(&p.err));
	expect_request(s, 0, "POST", "/validate");
	seen_get(s, 0, &r);
	cr_expect_str_eq(r.body, "");
	cr_expect(strstr(r.head, "Content-Length: 0"), "%s", r.head);
	seen_release(&r);
	cr_expect_str_eq(text(&p.out),
			 "valid:       yes\n"
			 "name:        ci\n"
			 "role:        operator\n"
			 "tenant:      default\n"
			 "rate limit:  97 of 100 left, resets at 2027-01-15T08:00:00.000Z\n"
			 "allowed:     yes\n");
	proc_release(&p);
	http_sink_stop(s);
}

/* ---- audit ---------------------------------------------------------------- */

Test(prpctl, audit_passes_limit_and_since_and_prints_a_table)
{
	struct http_sink *s = sink(
		200,
		"{\"entries\": [{\"id\": 41, \"timestamp\": \"2026-11-27T10:00:00.000Z\", "
		"\"actor\": \"admin\", \"action\": \"key.create\", \"target\": \"ci\", "
		"\"details\": {\"role\": \"operator\"}}, {\"id\": 40, \"timestamp\": "
		"\"2026-11-27T09:00:00.000Z\", \"actor\": \"ops\", \"action\": \"backup\", "
		"\"target\": \"\", \"details\": null}], \"count\": 2, \"next_cursor\": \"3430\"}");
	struct proc p;

	cr_assert_eq(run(&p, s, ARGS("audit", "--limit", "2", "--since", "2h")), 0, "%s",
		     text(&p.err));
	expect_request(s, 0, "GET", "/audit?limit=2&since=2h");
	cr_expect_str_eq(text(&p.out), "TIME                      ACTOR  ACTION      TARGET\n"
				       "2026-11-27T10:00:00.000Z  admin  key.create  ci\n"
				       "2026-11-27T09:00:00.000Z  ops    backup      -\n");
	cr_expect(strstr(text(&p.err), "--cursor 3430"), "stderr: %s", text(&p.err));
	proc_release(&p);

	cr_assert_eq(run(&p, s, ARGS("audit", "--since", "2026-11-27T10:00:00+01:00")), 0);
	expect_request(s, 1, "GET", "/audit?since=2026-11-27T10%3A00%3A00%2B01%3A00");
	proc_release(&p);

	cr_expect_eq(run(&p, s, ARGS("audit", "--limit", "0")), 2);
	proc_release(&p);
	cr_expect_eq(run(&p, s, ARGS("audit", "--since", "yesterday")), 2);
	proc_release(&p);
	cr_expect_eq(http_sink_count(s), 2);
	http_sink_stop(s);
}

/* ---- backup and restore ---------------------------------------------------- */

#define DB_BYTES (3u << 20) /* several reads' worth: the download is streamed */

/* A fake database: the SQLite header, then bytes with NULs among them. */
static char *fake_db(void)
{
	char *db = malloc(DB_BYTES);

	cr_assert_not_null(db);
	memcpy(db, "SQLite format 3", 16);
	for (size_t i = 16; i < DB_BYTES; i++)
		db[i] = (char)(i * 7919 % 251);
	return db;
}

static struct http_sink *db_sink(const char *db)
{
	int status = 200;

	return http_sink_start_raw(&status, 1, "application/vnd.sqlite3", db, DB_BYTES);
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

Test(prpctl, backup_writes_the_download_to_the_file)
{
	char *db = fake_db(), *got, file[PATH_MAX + 16], partial[PATH_MAX + 32],
	     want[PATH_MAX + 64];
	struct http_sink *s = db_sink(db);
	struct proc p;
	struct seen r;
	struct stat sb;
	size_t len;

	snprintf(file, sizeof(file), "%s/store.db", dir);
	snprintf(partial, sizeof(partial), "%s.partial", file);
	cr_assert_eq(run(&p, s, ARGS("backup", file)), 0, "%s", text(&p.err));
	expect_request(s, 0, "POST", "/admin/backup");
	seen_get(s, 0, &r);
	cr_expect_str_eq(r.body, "", "the download asks with no body");
	cr_expect(strstr(r.head, "application/vnd.sqlite3"), "Accept: %s", r.head);
	seen_release(&r);

	got = read_file(file, &len);
	cr_assert_not_null(got);
	cr_expect_eq(len, DB_BYTES);
	cr_expect(!memcmp(got, db, DB_BYTES), "the file differs from what was sent");
	cr_expect(!exists(partial), "%s is left behind", partial);
	cr_assert_eq(stat(file, &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0600);
	snprintf(want, sizeof(want), "wrote %u bytes to %s\n", DB_BYTES, file);
	cr_expect_str_eq(text(&p.out), want);
	cr_expect_eq(p.err.len, 0, "no progress when stderr is not a terminal: %s", text(&p.err));
	free(got);
	free(db);
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, backup_refuses_an_existing_file_unless_forced)
{
	char *db = fake_db(), *got, file[PATH_MAX + 16];
	struct http_sink *s = db_sink(db);
	struct proc p;
	size_t len;

	snprintf(file, sizeof(file), "%s/store.db", dir);
	write_file(file, "keep me", 7);
	cr_expect_eq(run(&p, s, ARGS("backup", file)), 1);
	cr_expect(strstr(text(&p.err), "exists"), "stderr: %s", text(&p.err));
	cr_expect_eq(http_sink_count(s), 0, "nothing is downloaded for nothing");
	got = read_file(file, &len);
	cr_expect(len == 7 && !memcmp(got, "keep me", 7), "the file was changed");
	free(got);
	proc_release(&p);

	cr_assert_eq(run(&p, s, ARGS("backup", "--force", file)), 0, "%s", text(&p.err));
	got = read_file(file, &len);
	cr_expect(len == DB_BYTES && !memcmp(got, db, DB_BYTES), "--force did not replace it");
	free(got);
	free(db);
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, backup_that_fails_leaves_no_file)
{
	static const char *const answers[][2] = {
		{ "application/json", "{\"error\": {\"status\": 503, \"code\": \"unavailable\", "
				      "\"message\": \"backup failed: disk full\", "
				      "\"request_id\": \"r\"}}" },
		{ "application/octet-stream", "not a database at all" },
		{ "application/json", "{\"status\": \"written\", \"path\": \"/x\", \"bytes\": 1}" },
	};
	static const int statuses[] = { 503, 200, 200 };
	static const char *const why[] = { "prpctl: 503 unavailable: backup failed: disk full\n",
					   "not an SQLite database", "instead of a database" };
	char file[PATH_MAX + 16], partial[PATH_MAX + 32];

	snprintf(file, sizeof(file), "%s/store.db", dir);
	snprintf(partial, sizeof(partial), "%s.partial", file);
	for (size_t i = 0; i < 3; i++) {
		struct http_sink *s = http_sink_start_raw(&statuses[i], 1, answers[i][0],
							  answers[i][1], strlen(answers[i][1]));
		struct proc p;

		cr_expect_eq(run(&p, s, ARGS("backup", file)), 1, "answer %zu", i);
		cr_expect(strstr(text(&p.err), why[i]), "answer %zu: stderr: %s", i, text(&p.err));
		cr_expect(!exists(file) && !exists(partial), "answer %zu left a file", i);
		proc_release(&p);
		http_sink_stop(s);
	}
}

Test(prpctl, backup_to_a_server_path)
{
	struct http_sink *s = sink(
		200, "{\"status\": \"written\", \"path\": \"/srv/prp/b.db\", \"bytes\": 4096}");
	struct proc p;
	struct seen r;

	cr_assert_eq(run(&p, s, ARGS("backup", "--server-path", "/srv/prp/b.db")), 0, "%s",
		     text(&p.err));
	expect_request(s, 0, "POST", "/admin/backup");
	seen_get(s, 0, &r);
	cr_expect_str_eq(r.body, "{\"path\":\"/srv/prp/b.db\"}");
	seen_release(&r);
	cr_expect_str_eq(text(&p.out), "the aggregator wrote 4096 bytes to /srv/prp/b.db\n");
	proc_release(&p);

	cr_expect_eq(run(&p, s, ARGS("backup", "x.db", "--server-path", "/srv/prp/b.db")), 2);
	proc_release(&p);
	cr_expect_eq(run(&p, s, ARGS("backup")), 2);
	proc_release(&p);
	cr_expect_eq(http_sink_count(s), 1);
	http_sink_stop(s);
}

Test(prpctl, restore_sends_the_resolved_path_and_says_to_restart)
{
	struct http_sink *s = sink(202, "{\"status\": \"staged\", \"path\": \"/staged.db\", "
					"\"restart_required\": true}");
	char real[PATH_MAX + 16], link_[PATH_MAX + 16], arg[PATH_MAX + 32], *resolved;
	struct proc p;
	struct seen r;
	json_t *body;

	snprintf(real, sizeof(real), "%s/real.db", dir);
	snprintf(link_, sizeof(link_), "%s/link.db", dir);
	write_file(real, "SQLite format 3", 16);
	cr_assert_eq(symlink(real, link_), 0);
	snprintf(arg, sizeof(arg), "%s/./link.db", dir);
	cr_assert_eq(run(&p, s, ARGS("restore", arg)), 0, "%s", text(&p.err));
	expect_request(s, 0, "POST", "/admin/restore");
	seen_get(s, 0, &r);
	body = json_loads(r.body, 0, NULL);
	resolved = realpath(real, NULL);
	cr_expect_str_eq(json_string_value(json_object_get(body, "path")), resolved);
	free(resolved);
	json_decref(body);
	seen_release(&r);
	cr_expect(strstr(text(&p.out), "/staged.db"), "%s", text(&p.out));
	cr_expect(strstr(text(&p.out), "must be restarted"), "%s", text(&p.out));
	proc_release(&p);

	cr_expect_eq(run(&p, s, ARGS("restore", "no/such/file.db")), 1);
	cr_expect(strstr(text(&p.err), "no/such/file.db"), "stderr: %s", text(&p.err));
	proc_release(&p);
	cr_expect_eq(http_sink_count(s), 1);
	http_sink_stop(s);
}

/* ---- raw calls -------------------------------------------------------------- */

Test(prpctl, get_prints_json_indented)
{
	struct http_sink *s = sink(200, "{\"services\":[{\"service\":\"orders\",\"hosts\":1}],"
					"\"count\":1}");
	struct proc p;

	cr_assert_eq(run(&p, s, ARGS("get", "services?limit=1")), 0, "%s", text(&p.err));
	expect_request(s, 0, "GET", "/services?limit=1");
	cr_expect_str_eq(text(&p.out), "{\n"
				       "  \"services\": [\n"
				       "    {\n"
				       "      \"service\": \"orders\",\n"
				       "      \"hosts\": 1\n"
				       "    }\n"
				       "  ],\n"
				       "  \"count\": 1\n"
				       "}\n");
	proc_release(&p);
	cr_assert_eq(run(&p, s, ARGS("--json", "get", "/services")), 0);
	cr_expect_str_eq(text(&p.out), "{\"services\":[{\"service\":\"orders\",\"hosts\":1}],"
				       "\"count\":1}\n");
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, post_sends_the_body_given_or_from_stdin)
{
	struct http_sink *s = sink(201, "{\"id\": 3, \"status\": \"created\"}");
	char cmd[PATH_MAX + 256];
	struct proc p;
	struct seen r;

	cr_assert_eq(run(&p, s, ARGS("post", "/policies", "{\"name\": \"p1\"}")), 0, "%s",
		     text(&p.err));
	expect_request(s, 0, "POST", "/policies");
	seen_get(s, 0, &r);
	cr_expect_str_eq(r.body, "{\"name\": \"p1\"}");
	seen_release(&r);
	cr_expect_str_eq(text(&p.out), "{\n  \"id\": 3,\n  \"status\": \"created\"\n}\n");
	proc_release(&p);

	snprintf(cmd, sizeof(cmd),
		 "printf 'policies:\\n  - name: p2\\n' | %s --url http://127.0.0.1:%u --key %s "
		 "post /policies - --content-type application/yaml",
		 PRPCTL, http_sink_port(s), KEY);
	cr_assert_eq(run_argv(&p, ARGS("/bin/sh", "-c", cmd)), 0, "%s", text(&p.err));
	seen_get(s, 1, &r);
	cr_expect_str_eq(r.body, "policies:\n  - name: p2\n");
	cr_expect(strstr(r.head, "Content-Type: application/yaml"), "%s", r.head);
	seen_release(&r);
	proc_release(&p);

	cr_expect_eq(run(&p, s, ARGS("post", "/policies", "{not json")), 2);
	cr_expect(strstr(text(&p.err), "not JSON"), "stderr: %s", text(&p.err));
	proc_release(&p);
	cr_expect_eq(http_sink_count(s), 2);
	http_sink_stop(s);
}

Test(prpctl, put_and_delete_use_their_methods)
{
	struct http_sink *s = sink(200, "{\"id\": 3, \"status\": \"deleted\"}");
	struct proc p;
	struct seen r;

	cr_assert_eq(run(&p, s, ARGS("put", "/policies/3", "{\"enabled\": false}")), 0);
	expect_request(s, 0, "PUT", "/policies/3");
	seen_get(s, 0, &r);
	cr_expect_str_eq(r.body, "{\"enabled\": false}");
	seen_release(&r);
	proc_release(&p);
	cr_assert_eq(run(&p, s, ARGS("delete", "/policies/3")), 0);
	expect_request(s, 1, "DELETE", "/policies/3");
	proc_release(&p);
	http_sink_stop(s);
}

/* ---- failures ---------------------------------------------------------------- */

Test(prpctl, error_envelope_exits_5_for_404_with_its_message)
{
	struct http_sink *s = sink(404, envelope());
	struct proc p;

	cr_expect_eq(run(&p, s, ARGS("keys", "revoke", "9")), 5);
	cr_expect_str_eq(text(&p.err),
			 "prpctl: 404 not_found: no key with id 9, or it is revoked\n");
	cr_expect_eq(p.out.len, 0, "stdout: %s", text(&p.out));
	proc_release(&p);
	/* the same for every command, --json included */
	cr_expect_eq(run(&p, s, ARGS("--json", "get", "/anomalies/9")), 5);
	cr_expect_str_eq(text(&p.err),
			 "prpctl: 404 not_found: no key with id 9, or it is revoked\n");
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, error_without_an_envelope_exits_1)
{
	struct http_sink *s = sink(502, "<html>bad gateway</html>\nmore");
	struct proc p;

	cr_expect_eq(run(&p, s, ARGS("health")), 1);
	cr_expect_str_eq(text(&p.err), "prpctl: HTTP 502: <html>bad gateway</html>\n");
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, answer_that_is_not_json_exits_1)
{
	struct http_sink *s = sink(200, "healthy");
	struct proc p;

	cr_expect_eq(run(&p, s, ARGS("health")), 1);
	cr_expect(strstr(text(&p.err), "not JSON"), "stderr: %s", text(&p.err));
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, bad_command_lines_exit_2)
{
	static const char *const lines[][4] = {
		{ "frobnicate", NULL },
		{ "keys", NULL },
		{ "keys", "rotate", NULL },
		{ "health", "now", NULL },
		{ "health", "--limit", "3", NULL },
		{ "--frob", "health", NULL },
		{ "get", NULL },
		{ "--timeout", "soon", "health", NULL },
		{ "--url", "ftp://example.com", "health", NULL },
		{ "health", "--url", NULL },
	};
	struct http_sink *s = sink(200, health_body);
	struct proc p;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(lines); i++) {
		const char *argv[8] = { PRPCTL };

		for (size_t j = 0; lines[i][j]; j++)
			argv[j + 1] = lines[i][j];
		cr_expect_eq(run_argv(&p, argv), 2, "line %zu: %s", i, text(&p.err));
		cr_expect(strstr(text(&p.err), "usage: prpctl"), "line %zu: stderr: %s", i,
			  text(&p.err));
		cr_expect_eq(p.out.len, 0, "line %zu", i);
		proc_release(&p);
	}
	cr_expect_eq(run_argv(&p, ARGS(PRPCTL)), 2);
	proc_release(&p);
	cr_expect_eq(http_sink_count(s), 0);
	http_sink_stop(s);
}

Test(prpctl, help_and_version)
{
	struct proc p;

	cr_assert_eq(run(&p, NULL, ARGS("--help")), 0);
	cr_expect(strstr(text(&p.out), "keys create NAME --role"), "%s", text(&p.out));
	cr_expect(strstr(text(&p.out), "--key-file FILE"), "%s", text(&p.out));
	proc_release(&p);
	cr_assert_eq(run(&p, NULL, ARGS("--version")), 0);
	cr_expect_str_eq(text(&p.out), "prpctl " PRP_VERSION "\n");
	proc_release(&p);
}

/* A port on 127.0.0.1 that is bound to nothing: connections are refused. */
static unsigned closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

Test(prpctl, unreachable_aggregator_exits_3_with_curls_message)
{
	char url[64];
	struct proc p;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", closed_port());
	cr_expect_eq(run(&p, NULL, ARGS("--url", url, "health")), 3);
	cr_expect(!strncmp(text(&p.err), "prpctl: ", 8) && strstr(text(&p.err), "onnect"),
		  "stderr: %s", text(&p.err));
	proc_release(&p);
}

Test(prpctl, silent_aggregator_times_out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint64_t start;
	char url[64];
	struct proc p;

	/* listening, never accepting: the connection is made, no answer comes */
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
	start = time_mono_ns();
	cr_expect_eq(run(&p, NULL, ARGS("--url", url, "--timeout", "1", "health")), 3);
	cr_expect_lt(time_mono_ns() - start, 10 * NSEC_PER_SEC);
	cr_expect(strstr(text(&p.err), "timed out"), "stderr: %s", text(&p.err));
	proc_release(&p);
	close(fd);
}

Test(prpctl, https_to_a_plain_server_fails_cleanly)
{
	struct http_sink *s = sink(200, health_body);
	char url[64];
	struct proc p;

	snprintf(url, sizeof(url), "https://127.0.0.1:%u", http_sink_port(s));
	cr_expect_eq(run(&p, NULL, ARGS("--url", url, "--insecure", "--timeout", "2", "health")),
		     3);
	cr_expect(!strncmp(text(&p.err), "prpctl: ", 8), "stderr: %s", text(&p.err));
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, backup_shows_progress_on_a_terminal)
{
	char *db = fake_db(), file[PATH_MAX + 16], cmd[PATH_MAX + 256];
	struct http_sink *s = db_sink(db);
	struct proc p;

	if (access("/usr/bin/script", X_OK))
		cr_skip_test("script(1) is not installed: no terminal to test with");
	snprintf(file, sizeof(file), "%s/tty.db", dir);
	snprintf(cmd, sizeof(cmd), "%s --url http://127.0.0.1:%u --key %s backup %s", PRPCTL,
		 http_sink_port(s), KEY, file);
	/* script(1) runs the command on a pseudo-terminal and copies what it wrote */
	cr_assert_eq(run_argv(&p, ARGS("/usr/bin/script", "-qec", cmd, "/dev/null")), 0, "%s%s",
		     text(&p.out), text(&p.err));
	cr_expect(strstr(text(&p.out), "prpctl: received "), "%s", text(&p.out));
	cr_expect(strstr(text(&p.out), "wrote 3145728 bytes"), "%s", text(&p.out));
	cr_expect(exists(file));
	free(db);
	proc_release(&p);
	http_sink_stop(s);
}

/* ---- the operator's views: status, services, anomalies, predictions ---------- */

/* Checks that request @i of @s had the path @path (method GET). */
static void expect_get(struct http_sink *s, size_t i, const char *path)
{
	expect_request(s, i, "GET", path);
}

Test(prpctl, status_joins_health_and_status)
{
	struct http_sink *s = sink(200, health_body);
	struct proc p;
	json_t *doc;

	cr_assert_eq(run(&p, s, ARGS("status")), 0, "%s", text(&p.err));
	expect_get(s, 0, "/health");
	expect_get(s, 1, "/status");
	cr_expect(strstr(text(&p.out), "health:"), "%s", text(&p.out));
	cr_expect(strstr(text(&p.out), "healthy"), "%s", text(&p.out));
	proc_release(&p);
	cr_assert_eq(run(&p, s, ARGS("status", "--output", "json")), 0);
	doc = json_loads(text(&p.out), 0, NULL);
	cr_expect(json_is_object(json_object_get(doc, "health")), "%s", text(&p.out));
	cr_expect(json_is_object(json_object_get(doc, "status")), "%s", text(&p.out));
	json_decref(doc);
	proc_release(&p);
	http_sink_stop(s);
}

static const char services_body[] =
	"{\"services\": [{\"service\": \"orders\", \"hosts\": [\"web-1\"], "
	"\"first_seen\": \"2026-11-27T10:00:00Z\", \"last_seen\": \"2026-11-27T11:00:00Z\"}], "
	"\"count\": 1, \"total\": 1}";

Test(prpctl, services_list_in_table_and_json)
{
	struct http_sink *s = sink(200, services_body);
	struct proc p;

	cr_assert_eq(run(&p, s, ARGS("services", "list")), 0, "%s", text(&p.err));
	expect_get(s, 0, "/services");
	cr_expect(!strncmp(text(&p.out), "SERVICE  HOSTS", 14), "%s", text(&p.out));
	cr_expect(strstr(text(&p.out), "orders   [\"web-1\"]"), "%s", text(&p.out));
	proc_release(&p);
	cr_assert_eq(run(&p, s, ARGS("services", "list", "-o", "json")), 0);
	cr_expect(!strncmp(text(&p.out), services_body, sizeof(services_body) - 1), "%s",
		  text(&p.out));
	proc_release(&p);
	/* --json stays an alias, and --output table wins when given last */
	cr_assert_eq(run(&p, s, ARGS("--json", "services", "list")), 0);
	cr_expect_eq(text(&p.out)[0], '{');
	proc_release(&p);
	cr_assert_eq(run(&p, s, ARGS("--json", "--output", "table", "services", "list")), 0);
	cr_expect_eq(text(&p.out)[0], 'S');
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, services_show_passes_since)
{
	struct http_sink *s = sink(200, "{\"service\": \"orders\", \"requests\": 12}");
	struct proc p;

	cr_assert_eq(run(&p, s, ARGS("services", "show", "orders", "--since", "15m")), 0);
	expect_get(s, 0, "/services/orders?since=15m");
	cr_expect(strstr(text(&p.out), "requests:"), "%s", text(&p.out));
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, anomalies_list_passes_every_filter)
{
	struct http_sink *s = sink(
		200, "{\"anomalies\": [{\"id\": 4, \"service\": \"orders\", \"metric\": "
		     "\"error_rate\", \"severity\": \"critical\", \"status\": \"open\", "
		     "\"current_value\": 0.25, \"started_at\": \"2026-11-27T10:00:00Z\"}]}");
	struct proc p;

	cr_assert_eq(run(&p, s,
			 ARGS("anomalies", "list", "--service", "orders", "--severity", "critical",
			      "--status", "open", "--since", "1h", "--limit", "5")),
		     0, "%s", text(&p.err));
	expect_get(s, 0,
		   "/anomalies?service=orders&severity=critical&status=open&since=1h&limit=5");
	cr_expect(strstr(text(&p.out), "ID  SERVICE"), "%s", text(&p.out));
	cr_expect(strstr(text(&p.out), "4   orders   error_rate  critical"), "%s", text(&p.out));
	proc_release(&p);
	cr_assert_eq(run(&p, s, ARGS("anomalies", "list", "--output", "json")), 0);
	cr_expect(!strncmp(text(&p.out), "{\"anomalies\"", 12), "%s", text(&p.out));
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, anomalies_show_missing_exits_5)
{
	struct http_sink *s = sink(404, "{\"error\": {\"status\": 404, \"code\": \"not_found\", "
					"\"message\": \"no anomaly with id 99\", \"request_id\": "
					"\"r\"}}");
	struct proc p;

	cr_expect_eq(run(&p, s, ARGS("anomalies", "show", "99")), 5);
	expect_get(s, 0, "/anomalies/99");
	cr_expect_str_eq(text(&p.err), "prpctl: 404 not_found: no anomaly with id 99\n");
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, predictions_of_all_or_one_service)
{
	struct http_sink *s =
		sink(200, "{\"predictions\": [{\"service\": \"orders\", \"metric\": \"latency_p99\", "
			  "\"current\": 120.5, \"threshold\": 500, \"will_breach\": true, "
			  "\"breach_in_s\": 300, \"confidence\": 0.8}], \"count\": 1}");
	struct proc p;

	cr_assert_eq(run(&p, s, ARGS("predictions")), 0, "%s", text(&p.err));
	expect_get(s, 0, "/predictions/all");
	cr_expect(strstr(text(&p.out), "orders   latency_p99  120.5"), "%s", text(&p.out));
	proc_release(&p);
	cr_assert_eq(run(&p, s, ARGS("predictions", "orders", "--json")), 0);
	expect_get(s, 1, "/predictions/orders");
	cr_expect(!strncmp(text(&p.out), "{\"predictions\"", 14), "%s", text(&p.out));
	proc_release(&p);
	http_sink_stop(s);
}

/* ---- actions ------------------------------------------------------------------ */

Test(prpctl, actions_list_passes_filters)
{
	struct http_sink *s =
		sink(200, "{\"actions\": [{\"action_id\": 7, \"action\": \"alert\", \"service\": "
			  "\"orders\", \"status\": \"succeeded\", \"policy_name\": \"\", "
			  "\"created_at\": \"2026-11-27T10:00:00Z\"}]}");
	struct proc p;

	cr_assert_eq(run(&p, s,
			 ARGS("actions", "list", "--service", "orders", "--status", "failed",
			      "--action", "alert", "--limit", "3")),
		     0, "%s", text(&p.err));
	expect_get(s, 0, "/actions?service=orders&action=alert&status=failed&limit=3");
	cr_expect(strstr(text(&p.out), "7   alert   orders   succeeded"), "%s", text(&p.out));
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, actions_execute_sends_the_action_and_its_parameters)
{
	struct http_sink *s = sink(202, "{\"action_id\": 7, \"status\": \"pending\"}");
	struct seen r;
	struct proc p;
	json_t *body;

	cr_assert_eq(run(&p, s,
			 ARGS("actions", "execute", "alert", "orders", "--reason", "drill",
			      "--param", "channel=log", "--param", "message=a b=c")),
		     0, "%s", text(&p.err));
	expect_request(s, 0, "POST", "/actions/execute");
	seen_get(s, 0, &r);
	body = json_loads(r.body, 0, NULL);
	cr_expect_str_eq(json_string_value(json_object_get(body, "action")), "alert");
	cr_expect_str_eq(json_string_value(json_object_get(body, "service")), "orders");
	cr_expect_str_eq(json_string_value(json_object_get(body, "reason")), "drill");
	cr_expect_str_eq(json_string_value(json_object_get(
				 json_object_get(body, "parameters"), "channel")),
			 "log");
	cr_expect_str_eq(json_string_value(json_object_get(
				 json_object_get(body, "parameters"), "message")),
			 "a b=c");
	json_decref(body);
	seen_release(&r);
	cr_expect(strstr(text(&p.out), "action_id:  7"), "%s", text(&p.out));
	proc_release(&p);
	cr_expect_eq(run(&p, s, ARGS("actions", "execute", "alert", "orders", "--param", "x")), 2);
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, actions_watch_ends_0_on_succeeded)
{
	struct http_sink *s = sink(200, "{\"action_id\": 7, \"status\": \"succeeded\"}");
	struct proc p;

	cr_assert_eq(run(&p, s, ARGS("actions", "watch", "7")), 0, "%s", text(&p.err));
	expect_get(s, 0, "/actions/7/status");
	cr_expect(strstr(text(&p.out), "  succeeded\n"), "%s", text(&p.out));
	proc_release(&p);
	http_sink_stop(s);
}

Test(prpctl, actions_watch_ends_6_on_failed_or_timed_out)
{
	static const char *const bodies[] = {
		"{\"action_id\": 7, \"status\": \"failed\", \"result\": \"no agent\"}",
		"{\"action_id\": 7, \"status\": \"timed_out\"}",
	};

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bodies); i++) {
		struct http_sink *s = sink(200, bodies[i]);
		struct proc p;

		cr_expect_eq(run(&p, s, ARGS("actions", "watch", "7")), 6, "%s", text(&p.err));
		cr_expect(strstr(text(&p.err), "action 7"), "%s", text(&p.err));
		proc_release(&p);
		http_sink_stop(s);
	}
}

Test(prpctl, actions_watch_gives_up_after_its_timeout)
{
	struct http_sink *s = sink(200, "{\"action_id\": 7, \"status\": \"running\"}");
	struct proc p;

	cr_expect_eq(run(&p, s, ARGS("actions", "watch", "7", "--timeout", "2")), 6);
	cr_expect_eq(strstr(text(&p.out), "running") != NULL, true, "%s", text(&p.out));
	/* one line per change, not per poll */
	cr_expect_null(strstr(strstr(text(&p.out), "running") + 1, "running"), "%s",
		       text(&p.out));
	cr_expect_geq(http_sink_count(s), 2);
	proc_release(&p);
	http_sink_stop(s);
}

/* ---- exit codes ---------------------------------------------------------------- */

Test(prpctl, exit_codes_by_answer)
{
	static const struct {
		int status, exit;
	} cases[] = { { 400, 1 }, { 401, 4 }, { 403, 4 }, { 404, 5 }, { 409, 1 }, { 500, 1 } };

	for (size_t i = 0; i < PRP_ARRAY_SIZE(cases); i++) {
		struct http_sink *s = sink(cases[i].status, "{\"error\": {\"status\": 0, \"code\": "
							    "\"x\", \"message\": \"m\"}}");
		struct proc p;

		cr_expect_eq(run(&p, s, ARGS("services", "list")), cases[i].exit, "HTTP %d",
			     cases[i].status);
		proc_release(&p);
		http_sink_stop(s);
	}
}

Test(prpctl, bad_output_and_arguments_exit_2)
{
	static const char *const lines[][6] = {
		{ "-o", "yaml", "status", NULL },
		{ "services", "show", NULL },
		{ "anomalies", "list", "--reason", "x", NULL },
		{ "actions", "execute", "alert", NULL },
		{ "actions", "watch", NULL },
		{ "policies", "apply", NULL },
	};
	struct http_sink *s = sink(200, "{}");
	struct proc p;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(lines); i++) {
		const char *argv[10] = { PRPCTL };

		for (size_t j = 0; lines[i][j]; j++)
			argv[j + 1] = lines[i][j];
		cr_expect_eq(run_argv(&p, argv), 2, "line %zu: %s", i, text(&p.err));
		proc_release(&p);
	}
	cr_expect_eq(http_sink_count(s), 0);
	http_sink_stop(s);
}

/* ---- the config file ------------------------------------------------------------- */

Test(prpctl, config_file_then_env_then_flags)
{
	struct http_sink *s = sink(200, health_body), *other = sink(200, health_body);
	char cfg[PATH_MAX + 16], keyfile[PATH_MAX + 16], text_cfg[PATH_MAX + 128];
	char url[64], other_url[64];
	struct proc p;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", http_sink_port(s));
	snprintf(other_url, sizeof(other_url), "http://127.0.0.1:%u", http_sink_port(other));
	snprintf(cfg, sizeof(cfg), "%s/prpctl.yaml", dir);
	snprintf(keyfile, sizeof(keyfile), "%s/key", dir);
	write_file(keyfile, KEY "\n", strlen(KEY) + 1);
	snprintf(text_cfg, sizeof(text_cfg), "url: %s\nkey_file: %s\n", url, keyfile);
	write_file(cfg, text_cfg, strlen(text_cfg));
	setenv("PRP_CONFIG", cfg, 1);
	/* the file alone: its url and its key */
	cr_assert_eq(run_argv(&p, ARGS(PRPCTL, "health")), 0, "%s", text(&p.err));
	expect_get(s, 0, "/health");
	proc_release(&p);
	/* the environment beats the file */
	setenv("PRP_URL", other_url, 1);
	cr_assert_eq(run_argv(&p, ARGS(PRPCTL, "health")), 0, "%s", text(&p.err));
	expect_get(other, 0, "/health");
	proc_release(&p);
	/* a flag beats both */
	cr_assert_eq(run_argv(&p, ARGS(PRPCTL, "--url", url, "health")), 0, "%s", text(&p.err));
	expect_get(s, 1, "/health");
	proc_release(&p);
	unsetenv("PRP_URL");
	/* an unknown key in the file is an error, and so is a missing $PRP_CONFIG */
	write_file(cfg, "uri: x\n", 7);
	cr_expect_eq(run_argv(&p, ARGS(PRPCTL, "health")), 2);
	cr_expect(strstr(text(&p.err), "uri"), "%s", text(&p.err));
	proc_release(&p);
	snprintf(cfg, sizeof(cfg), "%s/none.yaml", dir);
	setenv("PRP_CONFIG", cfg, 1);
	cr_expect_eq(run_argv(&p, ARGS(PRPCTL, "health")), 2);
	proc_release(&p);
	unsetenv("PRP_CONFIG");
	cr_expect_eq(http_sink_count(s), 2);
	cr_expect_eq(http_sink_count(other), 1);
	http_sink_stop(s);
	http_sink_stop(other);
}

/* ---- policies, against a real aggregator ------------------------------------------- */

struct live {
	struct proc agg;
	char url[64];
	char key[128];
};

static void live_start(struct live *l)
{
	char listen[32], ingest[64], data[PATH_MAX], keys[PATH_MAX + 8], pol[PATH_MAX + 8];
	char keypath[PATH_MAX + 16];
	unsigned port = closed_port();

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	snprintf(ingest, sizeof(ingest), "tcp://127.0.0.1:%u", closed_port());
	snprintf(l->url, sizeof(l->url), "http://%s", listen);
	snprintf(data, sizeof(data), "%s", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(pol, sizeof(pol), "%s/pol", dir);
	cr_assert_eq(proc_start(&l->agg, ARGS(PRP_BUILD_DIR "/prp-aggregator", "--listen", listen,
					      "--ingest", ingest, "--data", data, "--keys-dir",
					      keys, "--policy-dir", pol,
					      "--no-api-rate-limit-enabled",
					      "--http-dashboard-dir", "")),
		     0);
	snprintf(keypath, sizeof(keypath), "%s/admin.key", dir);
	for (int i = 0; i < 100; i++) {
		struct proc p;
		size_t len;
		char *k;
		int st;

		usleep(100 * 1000);
		k = read_file(keypath, &len);
		if (!k)
			continue;
		while (len && (k[len - 1] == '\n' || k[len - 1] == ' '))
			len--;
		k[len] = '\0';
		snprintf(l->key, sizeof(l->key), "%s", k);
		free(k);
		st = run_argv(&p, ARGS(PRPCTL, "--url", l->url, "--key", l->key, "health"));
		proc_release(&p);
		if (st == 0)
			return;
	}
	cr_assert_fail("the aggregator did not start: %s", text(&l->agg.err));
}

static void live_stop(struct live *l)
{
	proc_stop(&l->agg, 5000);
	proc_release(&l->agg);
}

/* prpctl --url --key of @l, then @args; returns its exit status. */
static int live_run(struct live *l, struct proc *p, const char *const *args)
{
	const char *argv[ARGS_MAX] = { PRPCTL, "--url", l->url, "--key", l->key };
	int n = 5;

	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return run_argv(p, argv);
}

Test(prpctl, policies_apply_creates_then_updates_and_delete_removes)
{
	static const char yaml[] = "# a test policy\n"
				   "policies:\n"
				   "  - name: cli_alert\n"
				   "    services: [\"*\"]\n"
				   "    condition: \"error_rate > 10%\"\n"
				   "    action: alert\n";
	char file[PATH_MAX + 16], *changed;
	struct live l;
	struct proc p;

	snprintf(file, sizeof(file), "%s/p.yaml", dir);
	write_file(file, yaml, strlen(yaml));
	live_start(&l);
	cr_expect_eq(live_run(&l, &p, ARGS("policies", "apply", file)), 0, "%s", text(&p.err));
	cr_expect_str_eq(text(&p.out), "policy 'cli_alert' created (id 1)\n");
	proc_release(&p);
	changed = strdup(yaml);
	memcpy(strstr(changed, "10%"), "20%", 3);
	write_file(file, changed, strlen(changed));
	free(changed);
	cr_expect_eq(live_run(&l, &p, ARGS("policies", "apply", file)), 0, "%s", text(&p.err));
	cr_expect_str_eq(text(&p.out), "policy 'cli_alert' updated (id 1)\n");
	proc_release(&p);
	cr_expect_eq(live_run(&l, &p, ARGS("policies", "list")), 0);
	cr_expect(strstr(text(&p.out), "cli_alert"), "%s", text(&p.out));
	cr_expect(strstr(text(&p.out), "error_rate > 20%"), "%s", text(&p.out));
	proc_release(&p);
	cr_expect_eq(live_run(&l, &p, ARGS("policies", "list", "-o", "json")), 0);
	cr_expect(strstr(text(&p.out), "\"count\":1"), "%s", text(&p.out));
	proc_release(&p);
	cr_expect_eq(live_run(&l, &p, ARGS("policies", "test", "cli_alert")), 0, "%s",
		     text(&p.err));
	cr_expect(strstr(text(&p.out), "would_trigger:"), "%s", text(&p.out));
	proc_release(&p);
	cr_expect_eq(live_run(&l, &p, ARGS("policies", "delete", "cli_alert")), 0, "%s",
		     text(&p.err));
	cr_expect_str_eq(text(&p.out), "policy 1 deleted\n");
	proc_release(&p);
	cr_expect_eq(live_run(&l, &p, ARGS("policies", "delete", "cli_alert")), 5);
	proc_release(&p);
	cr_expect_eq(live_run(&l, &p, ARGS("policies", "delete", "1")), 5);
	proc_release(&p);
	/* exit codes against the real thing */
	cr_expect_eq(live_run(&l, &p, ARGS("anomalies", "show", "99")), 5);
	proc_release(&p);
	cr_expect_eq(run_argv(&p, ARGS(PRPCTL, "--url", l.url, "--key", "prp_bad-key", "status")),
		     4);
	proc_release(&p);
	live_stop(&l);
}
