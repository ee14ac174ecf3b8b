/*
 * Auth, roles, rate limits, tenants, keys, audit, backup and HTTPS of the
 * API, end to end: a real API on 127.0.0.1 with the key registry over a
 * temporary store, called over HTTP (and HTTPS) with libcurl. The route
 * table is walked whole with every role, so a route added later cannot
 * forget its role.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator/http/routes.h"
#include "aggregator/store/store_backup.h"
#include "common/timeutil.h"
#include "tests/lib/api_fixture.h"
#include "tests/lib/http.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"

TestSuite(http_auth, .fini = test_no_leaks);

static struct api_fixture fx;

static void setup(void)
{
	api_fixture_start(&fx, "http-auth", API_FIXTURE_ENGINE | API_FIXTURE_AUTH);
}

static void teardown(void)
{
	api_fixture_stop(&fx);
	test_no_leaks();
}

/* ---- calling it ---- */

struct answer {
	long status;
	json_t *doc; /* NULL when the body is not JSON */
	char headers[2048];
};

static void answer_free(struct answer *a)
{
	json_decref(a->doc);
}

/* @method @path with @body and the whole header line @auth ("" none). */
static struct answer call_as(const char *auth, const char *method, const char *path,
			     const char *body)
{
	struct answer a = { 0 };
	struct buf resp, hdrs;
	char url[512];

	buf_init(&resp, 64 << 20);
	buf_init(&hdrs, 1 << 16);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", api_fixture_port(&fx), path);
	cr_assert_eq(http_call_full(method, url, body, NULL, auth, &a.status, &resp, &hdrs), 0,
		     "%s %s: no answer", method, path);
	a.doc = resp.len ? json_loadb((const char *)resp.data, resp.len, 0, NULL) : NULL;
	snprintf(a.headers, sizeof(a.headers), "%s", hdrs.data ? (const char *)hdrs.data : "");
	buf_release(&resp);
	buf_release(&hdrs);
	return a;
}

static struct answer call_key(const char *key, const char *method, const char *path,
			      const char *body)
{
	char h[160] = "";

	if (key)
		snprintf(h, sizeof(h), "X-API-Key: %s", key);
	return call_as(h, method, path, body);
}

/* Expects @status; the document (caller decrefs). */
static json_t *expect_key(const char *key, long status, const char *method, const char *path,
			  const char *body)
{
	struct answer a = call_key(key, method, path, body);
	char *text = a.doc ? json_dumps(a.doc, 0) : NULL;

	cr_assert_eq(a.status, status, "%s %s: %ld, not %ld: %s", method, path, a.status, status,
		     text ? text : "");
	free(text);
	return a.doc;
}

/* A new key of @role in @tenant made by @by (an admin's key) through POST /keys. */
static void make_key(const char *by, const char *name, const char *role, const char *tenant,
		     char out[APIKEY_LEN + 1])
{
	char body[256];
	json_t *d;

	snprintf(body, sizeof(body), "{\"name\": \"%s\", \"role\": \"%s\"%s%s%s}", name, role,
		 tenant ? ", \"tenant\": \"" : "", tenant ? tenant : "", tenant ? "\"" : "");
	d = expect_key(by, 201, "POST", "/keys", body);
	snprintf(out, APIKEY_LEN + 1, "%s", jget_str(d, "key"));
	cr_assert_str_eq(jget_str(d, "role"), role);
	json_decref(d);
}

/* A path for @pattern: each {capture} an id no record has, so nothing is changed. */
static void route_path(const char *pattern, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *p = pattern; *p && o + 8 < cap; p++) {
		if (*p == '{') {
			o += (size_t)snprintf(out + o, cap - o, "999999");
			p = strchr(p, '}');
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

/* ---- roles ---- */

Test(http_auth, every_route_with_every_role, .init = setup, .fini = teardown)
{
	char viewer[APIKEY_LEN + 1], operator[APIKEY_LEN + 1];
	const char *keys[] = { NULL, viewer, operator, fx.admin_key };
	const enum role roles[] = { ROLE_PUBLIC, ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN };
	const struct route *r;
	size_t n;

	make_key(fx.admin_key, "v", "viewer", NULL, viewer);
	make_key(fx.admin_key, "o", "operator", NULL, operator);
	r = routes_table(&n);
	for (size_t i = 0; i < n; i++) {
		char path[256];

		route_path(r[i].pattern, path, sizeof(path));
		/* a stream that passes goes on for ever: a bad filter ends it after the checks */
		if (!strcmp(r[i].pattern, "/stream/events"))
			snprintf(path, sizeof(path), "/stream/events?severity=none");
		for (size_t k = 0; k < 4; k++) {
			const char *body = strcmp(r[i].method, "GET") ? "{}" : NULL;
			struct answer a = call_key(keys[k], r[i].method, path, body);

			if (roles[k] >= r[i].role)
				cr_assert(a.status != 401 && a.status != 403,
					  "%s %s as %s: %ld", r[i].method, path,
					  role_name(roles[k]), a.status);
			else
				cr_assert_eq(a.status, roles[k] == ROLE_PUBLIC ? 401 : 403,
					     "%s %s as %s: %ld", r[i].method, path,
					     role_name(roles[k]), a.status);
			if (a.status == 401 || a.status == 403)
				cr_assert_str_eq(json_string_value(json_object_get(
							 json_object_get(a.doc, "error"), "code")),
						 a.status == 401 ? "unauthorized" : "forbidden");
			answer_free(&a);
		}
	}
}

Test(http_auth, an_invalid_key_is_401_on_every_path, .init = setup, .fini = teardown)
{
	const char *bad[] = {
		"X-API-Key: prp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"X-API-Key: not-a-key",
		"Authorization: Bearer prp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"Authorization: Basic YWRtaW46YWRtaW4=",
	};
	const char *paths[] = { "/health", "/services", "/keys", "/no/such/route", "/validate" };

	for (size_t b = 0; b < PRP_ARRAY_SIZE(bad); b++) {
		for (size_t p = 0; p < PRP_ARRAY_SIZE(paths); p++) {
			struct answer a = call_as(bad[b], "GET", paths[p], NULL);

			cr_assert_eq(a.status, 401, "%s on %s: %ld", bad[b], paths[p], a.status);
			cr_assert_not_null(json_object_get(a.doc, "error"));
			answer_free(&a);
		}
	}
}

Test(http_auth, both_header_forms_are_accepted, .init = setup, .fini = teardown)
{
	char h[160];
	struct answer a;

	snprintf(h, sizeof(h), "Authorization: Bearer %s", fx.admin_key);
	a = call_as(h, "GET", "/keys", NULL);
	cr_assert_eq(a.status, 200);
	answer_free(&a);
	a = call_key(fx.admin_key, "GET", "/keys", NULL);
	cr_assert_eq(a.status, 200);
	answer_free(&a);
	a = call_as("", "GET", "/health", NULL); /* /health needs no key */
	cr_assert_eq(a.status, 200);
	answer_free(&a);
}

/* ---- keys ---- */

Test(http_auth, a_key_is_shown_once_and_revoked_at_once, .init = setup, .fini = teardown)
{
	char viewer[APIKEY_LEN + 1], path[64];
	json_t *d, *list, *k;
	int64_t id = 0;
	size_t i;

	make_key(fx.admin_key, "grafana", "viewer", NULL, viewer);
	cr_assert_eq(strncmp(viewer, "prp_", 4), 0);
	cr_assert_eq(strlen(viewer), APIKEY_LEN);
	json_decref(expect_key(viewer, 200, "GET", "/services", NULL));
	json_decref(expect_key(viewer, 403, "POST", "/keys", "{\"name\": \"x\", \"role\": \"admin\"}"));
	d = expect_key(fx.admin_key, 200, "GET", "/keys", NULL);
	list = json_object_get(d, "keys");
	cr_assert_eq(jget_int(d, "total"), 2);
	json_array_foreach(list, i, k) {
		char *text = json_dumps(k, 0);

		cr_assert_null(strstr(text, viewer), "a list shows the key itself");
		cr_assert_null(json_object_get(k, "key"));
		free(text);
		if (!strcmp(jget_str(k, "name"), "grafana")) {
			id = jget_int(k, "id");
			cr_assert(json_is_string(json_object_get(k, "last_used_at")),
				  "the key was used: last_used_at is set");
		}
	}
	json_decref(d);
	cr_assert_gt(id, 0);
	snprintf(path, sizeof(path), "/keys/%lld", (long long)id);
	d = expect_key(fx.admin_key, 200, "DELETE", path, NULL);
	cr_assert_str_eq(jget_str(d, "status"), "revoked");
	json_decref(d);
	json_decref(expect_key(viewer, 401, "GET", "/services", NULL));
	json_decref(expect_key(fx.admin_key, 404, "DELETE", path, NULL));
}

Test(http_auth, scopes_are_aliases_of_roles, .init = setup, .fini = teardown)
{
	json_t *d = expect_key(fx.admin_key, 201, "POST", "/keys",
			       "{\"name\": \"ci\", \"scopes\": [\"read\", \"write\"]}");

	cr_assert_str_eq(jget_str(d, "role"), "operator");
	json_decref(d);
}

Test(http_auth, bad_key_requests_are_400, .init = setup, .fini = teardown)
{
	const char *bodies[] = {
		"{\"role\": \"viewer\"}",
		"{\"name\": \"x\"}",
		"{\"name\": \"x\", \"role\": \"root\"}",
		"{\"name\": \"x\", \"role\": \"viewer\", \"colour\": \"red\"}",
		"{\"name\": \"x\", \"scopes\": [\"read\", 7]}",
		"{\"name\": \"x\", \"role\": \"viewer\", \"rate_limit\": {\"per_minute\": -1}}",
		"{\"name\": \"x\", \"role\": \"viewer\", \"tenant\": \"a/b\"}",
		"{\"name\": \"x\", \"role\": \"viewer\"",
		"[]",
	};

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bodies); i++)
		json_decref(expect_key(fx.admin_key, 400, "POST", "/keys", bodies[i]));
}

Test(http_auth, validate_says_who_the_key_is, .init = setup, .fini = teardown)
{
	json_t *d = expect_key(fx.admin_key, 200, "POST", "/validate", NULL);

	cr_assert(json_is_true(json_object_get(d, "valid")));
	cr_assert_str_eq(jget_str(d, "role"), "admin");
	cr_assert_str_eq(jget_str(d, "name"), "admin");
	cr_assert_str_eq(jget_str(d, "tenant"), "default");
	json_decref(d);
	d = expect_key(NULL, 200, "POST", "/validate", NULL);
	cr_assert(json_is_false(json_object_get(d, "valid")));
	json_decref(d);
}

/* ---- tenants ---- */

Test(http_auth, a_tenant_sees_only_its_own, .init = setup, .fini = teardown)
{
	char team_b[APIKEY_LEN + 1];
	json_t *d;
	int64_t id;
	char path[64];

	d = expect_key(fx.admin_key, 201, "POST", "/policies",
		       "{\"name\": \"a-policy\", \"service\": \"users\", \"condition\": "
		       "\"error_rate > 0.5\", \"action\": \"alert\"}");
	id = jget_int(d, "id");
	json_decref(d);
	make_key(fx.admin_key, "b-admin", "admin", "team-b", team_b);

	d = expect_key(team_b, 200, "GET", "/policies", NULL);
	cr_assert_eq(jget_int(d, "count"), 0, "team-b sees default's policies");
	json_decref(d);
	snprintf(path, sizeof(path), "/policies/%lld", (long long)id);
	json_decref(expect_key(team_b, 404, "GET", path, NULL));
	json_decref(expect_key(team_b, 404, "DELETE", path, NULL));
	d = expect_key(team_b, 200, "GET", "/keys", NULL);
	cr_assert_eq(jget_int(d, "total"), 1, "team-b sees only its own key");
	json_decref(d);
	d = expect_key(team_b, 200, "GET", "/audit", NULL);
	cr_assert_eq(jget_int(d, "count"), 0, "team-b reads default's audit log");
	json_decref(d);
	json_decref(expect_key(team_b, 403, "POST", "/keys",
			       "{\"name\": \"x\", \"role\": \"admin\", \"tenant\": \"default\"}"));
	/* the whole store and the global switches are the platform's, not a tenant's */
	json_decref(expect_key(team_b, 403, "POST", "/admin/backup", NULL));
	json_decref(expect_key(team_b, 403, "POST", "/admin/restore", "{\"path\": \"/tmp/x\"}"));
	json_decref(expect_key(team_b, 403, "POST", "/toggle", NULL));
	/* and default still has its policy */
	d = expect_key(fx.admin_key, 200, "GET", "/policies", NULL);
	cr_assert_eq(jget_int(d, "count"), 1);
	json_decref(d);
}

/* ---- audit ---- */

Test(http_auth, changes_are_audited_with_their_key, .init = setup, .fini = teardown)
{
	char viewer[APIKEY_LEN + 1], actor[32];
	json_t *d, *e;
	const char *want[] = { "toggle", "key.created" }; /* newest first */

	make_key(fx.admin_key, "v", "viewer", NULL, viewer);
	json_decref(expect_key(fx.admin_key, 200, "POST", "/toggle", NULL));
	d = expect_key(fx.admin_key, 200, "GET", "/audit", NULL);
	cr_assert_geq(jget_int(d, "count"), 2);
	snprintf(actor, sizeof(actor), "key:%d", 1);
	for (size_t i = 0; i < PRP_ARRAY_SIZE(want); i++) {
		e = json_array_get(json_object_get(d, "entries"), i);
		cr_assert_str_eq(jget_str(e, "action"), want[i]);
		cr_assert_str_eq(jget_str(e, "actor"), actor, "the admin key is id 1");
		cr_assert(json_is_string(json_object_get(e, "timestamp")));
	}
	json_decref(d);
	json_decref(expect_key(viewer, 403, "GET", "/audit", NULL));
}

/* ---- rate limits ---- */

static void setup_limited(void)
{
	struct api_limits l;

	for (int r = 0; r < 4; r++) {
		l.per_minute[r] = 100;
		l.per_hour[r] = 1000;
	}
	api_fixture_start_auth(&fx, "http-auth", API_FIXTURE_AUTH,
			       &(struct api_fixture_auth){ .limits = &l });
}

static long header_num(const char *headers, const char *name)
{
	char v[32];

	http_header_value(headers, name, v, sizeof(v));
	cr_assert(v[0], "no %s header", name);
	return atol(v);
}

Test(http_auth, the_101st_request_in_a_minute_is_429, .init = setup_limited, .fini = teardown)
{
	struct answer a;
	long retry;

	for (int i = 0; i < 100; i++) {
		a = call_key(fx.admin_key, "GET", "/services", NULL);
		cr_assert_eq(a.status, 200, "request %d: %ld", i + 1, a.status);
		cr_assert_eq(header_num(a.headers, "X-RateLimit-Limit"), 100);
		cr_assert_eq(header_num(a.headers, "X-RateLimit-Remaining"), 99 - i);
		cr_assert_geq(header_num(a.headers, "X-RateLimit-Reset"),
			      (long)(time_real_ns() / NSEC_PER_SEC));
		answer_free(&a);
	}
	a = call_key(fx.admin_key, "GET", "/services", NULL);
	cr_assert_eq(a.status, 429);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(a.doc, "error"), "code")),
			 "rate_limited");
	retry = header_num(a.headers, "Retry-After");
	cr_assert(retry >= 1 && retry <= 60, "Retry-After %ld", retry);
	answer_free(&a);
	/* another client (no key: its IP) has its own budget */
	a = call_key(NULL, "GET", "/health", NULL);
	cr_assert_eq(a.status, 200);
	answer_free(&a);
	/* wrong keys charge their IP as anonymous requests do: 401s, then 429 */
	for (int i = 0; i < 99; i++) {
		a = call_as("X-API-Key: prp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "GET",
			    "/health", NULL);
		cr_assert_eq(a.status, 401, "guess %d: %ld", i + 1, a.status);
		answer_free(&a);
	}
	a = call_as("X-API-Key: prp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "GET", "/health",
		    NULL);
	cr_assert_eq(a.status, 429, "the 101st request of the IP: %ld", a.status);
	answer_free(&a);
	/* a token comes back every 600 ms: after Retry-After the key succeeds again */
	sleep((unsigned)retry);
	a = call_key(fx.admin_key, "GET", "/services", NULL);
	cr_assert_eq(a.status, 200, "after Retry-After: %ld", a.status);
	answer_free(&a);
}

Test(http_auth, a_keys_own_limit_beats_its_roles, .init = setup_limited, .fini = teardown)
{
	json_t *d = expect_key(fx.admin_key, 201, "POST", "/keys",
			       "{\"name\": \"slow\", \"role\": \"viewer\", \"rate_limit\": "
			       "{\"per_minute\": 3, \"per_hour\": 10}}");
	char key[APIKEY_LEN + 1];

	snprintf(key, sizeof(key), "%s", jget_str(d, "key"));
	json_decref(d);
	for (int i = 0; i < 3; i++)
		json_decref(expect_key(key, 200, "GET", "/services", NULL));
	json_decref(expect_key(key, 429, "GET", "/services", NULL));
}

/* ---- bodies ---- */

Test(http_auth, a_bad_key_with_a_large_body_is_401_and_a_good_one_413, .init = setup,
     .fini = teardown)
{
	size_t n = 64 << 10;
	char *big = malloc(n + 1);

	memset(big, 'a', n);
	big[n] = '\0';
	json_decref(expect_key("prp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401, "POST",
			       "/keys", big));
	json_decref(expect_key(fx.admin_key, 413, "POST", "/keys", big));
	free(big);
}

/* ---- backup ---- */

Test(http_auth, backup_to_a_path_and_download, .init = setup, .fini = teardown)
{
	char path[256], body[320], why[256];
	struct buf resp;
	long status;
	char url[128], h[128];
	json_t *d;

	snprintf(path, sizeof(path), "%s/backup.db", fx.dir);
	snprintf(body, sizeof(body), "{\"path\": \"%s\"}", path);
	d = expect_key(fx.admin_key, 200, "POST", "/admin/backup", body);
	cr_assert_str_eq(jget_str(d, "status"), "written");
	cr_assert_gt(jget_int(d, "bytes"), 0);
	json_decref(d);
	cr_assert_eq(store_backup_check(path, why, sizeof(why)), 0, "%s", why);
	json_decref(expect_key(fx.admin_key, 409, "POST", "/admin/backup", body));

	buf_init(&resp, 64 << 20);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/admin/backup", api_fixture_port(&fx));
	snprintf(h, sizeof(h), "X-API-Key: %s", fx.admin_key);
	cr_assert_eq(http_call_full("POST", url, NULL, NULL, h, &status, &resp, NULL), 0);
	cr_assert_eq(status, 200);
	cr_assert_gt(resp.len, 100);
	cr_assert_eq(memcmp(resp.data, "SQLite format 3", 16), 0);
	buf_release(&resp);

	/* restore: a store is staged, anything else refused */
	d = expect_key(fx.admin_key, 202, "POST", "/admin/restore", body);
	cr_assert(json_is_true(json_object_get(d, "restart_required")));
	json_decref(d);
	snprintf(body, sizeof(body), "{\"path\": \"%s/prp.db.restore\"}", fx.dir);
	cr_assert_eq(access(body + 10, F_OK), -1); /* (the JSON is not a path) */
	snprintf(path, sizeof(path), "%s/prp.db.restore", fx.dir);
	cr_assert_eq(access(path, R_OK), 0, "the restore is staged");
	snprintf(path, sizeof(path), "%s/not-a-store", fx.dir);
	FILE *f = fopen(path, "w");
	fputs("hello\n", f);
	fclose(f);
	snprintf(body, sizeof(body), "{\"path\": \"%s\"}", path);
	json_decref(expect_key(fx.admin_key, 422, "POST", "/admin/restore", body));
	json_decref(expect_key(fx.admin_key, 400, "POST", "/admin/restore", "{\"path\": \"rel\"}"));
}

/* ---- HTTPS ---- */

static char tls_dir[128];

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 65536);

	cr_assert_not_null(f, "%s", path);
	cr_assert_gt(fread(text, 1, 65535, f), 0);
	fclose(f);
	return text;
}

static void setup_tls(void)
{
	char cmd[1024], cert[256], key[256];
	char *cert_pem, *key_pem;

	tmpdir_make(tls_dir, sizeof(tls_dir), "http-auth-tls");
	snprintf(cert, sizeof(cert), "%s/cert.pem", tls_dir);
	snprintf(key, sizeof(key), "%s/key.pem", tls_dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout %s -out %s -days 1 -subj /CN=127.0.0.1 "
		 "-addext subjectAltName=IP:127.0.0.1 2>/dev/null",
		 key, cert);
	cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
	cert_pem = slurp(cert);
	key_pem = slurp(key);
	api_fixture_start_auth(&fx, "http-auth", API_FIXTURE_AUTH,
			       &(struct api_fixture_auth){ .tls_cert_pem = cert_pem,
							   .tls_key_pem = key_pem });
	free(cert_pem);
	free(key_pem);
	http_set_cacert(cert);
}

static void teardown_tls(void)
{
	http_set_cacert(NULL);
	api_fixture_stop(&fx);
	tmpdir_remove(tls_dir);
	test_no_leaks();
}

Test(http_auth, https_serves_and_plain_http_is_refused, .init = setup_tls, .fini = teardown_tls)
{
	struct buf resp;
	long status = 0;
	char url[128], h[128];

	buf_init(&resp, 1 << 20);
	snprintf(h, sizeof(h), "X-API-Key: %s", fx.admin_key);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/keys", api_fixture_port(&fx));
	cr_assert_eq(http_call_full("GET", url, NULL, NULL, h, &status, &resp, NULL), 0);
	cr_assert_eq(status, 200);
	buf_reset(&resp);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", api_fixture_port(&fx));
	status = 0;
	cr_assert_neq(http_call_full("GET", url, NULL, NULL, h, &status, &resp, NULL), 0,
		      "plain HTTP got an answer (%ld) from the HTTPS port", status);
	buf_release(&resp);
	/* TLS 1.1 is refused */
	snprintf(url, sizeof(url),
		 "openssl s_client -connect 127.0.0.1:%u -tls1_1 </dev/null >/dev/null 2>&1",
		 api_fixture_port(&fx));
	cr_assert_neq(system(url), 0, "a TLS 1.1 handshake succeeded");
}
