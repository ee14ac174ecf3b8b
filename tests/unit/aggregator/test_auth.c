/*
 * The parts of auth below the HTTP layer: the key's text, roles, the key
 * registry over a real store (persistence, revocation, last use written
 * back, the bootstrap admin key file), and the token buckets (the 101st
 * request, refill, separate clients, bounded memory).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator/auth/apikey.h"
#include "aggregator/auth/keys.h"
#include "aggregator/auth/ratelimit.h"
#include "aggregator/auth/role.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

TestSuite(auth, .fini = test_no_leaks);

#define T0 1700000000000ll

static char dir[128];

static void setup(void)
{
	tmpdir_make(dir, sizeof(dir), "auth");
}

static void teardown(void)
{
	tmpdir_remove(dir);
	test_no_leaks();
}

static struct store_options opts(void)
{
	return (struct store_options){ .dir = dir, .raw_hours = 24, .minute_days = 14 };
}

/* ---- the key's text ---- */

Test(auth, keys_are_prp_and_43_url_safe_characters_and_never_repeat)
{
	char a[APIKEY_LEN + 1], b[APIKEY_LEN + 1];

	for (int i = 0; i < 200; i++) {
		cr_assert_eq(apikey_generate(a), 0);
		cr_assert_eq(apikey_generate(b), 0);
		cr_assert(apikey_well_formed(a), "%s", a);
		cr_assert_eq(strlen(a), 47);
		cr_assert_str_neq(a, b);
	}
	cr_assert_not(apikey_well_formed("prp_short"));
	cr_assert_not(apikey_well_formed("xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	cr_assert_not(apikey_well_formed("prp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+"));
	cr_assert_not(apikey_well_formed(NULL));
}

Test(auth, roles_and_their_aliases)
{
	cr_assert_eq(role_parse("viewer"), ROLE_VIEWER);
	cr_assert_eq(role_parse("READ"), ROLE_VIEWER);
	cr_assert_eq(role_parse("write"), ROLE_OPERATOR);
	cr_assert_eq(role_parse("operator"), ROLE_OPERATOR);
	cr_assert_eq(role_parse("admin"), ROLE_ADMIN);
	cr_assert_eq(role_parse("public"), -1, "no key can be public");
	cr_assert_eq(role_parse("root"), -1);
	cr_assert_eq(role_parse(NULL), -1);
	cr_assert_str_eq(role_name(ROLE_OPERATOR), "operator");
}

/* ---- the registry ---- */

static void make(struct keys *k, const char *tenant, const char *name, enum role role,
		 char key[APIKEY_LEN + 1], int64_t *id)
{
	struct store_key rec = { .role = role };

	snprintf(rec.tenant, sizeof(rec.tenant), "%s", tenant);
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	cr_assert_eq(keys_create(k, &rec, T0, key), 0);
	cr_assert_gt(rec.id, 0);
	if (id)
		*id = rec.id;
}

Test(auth, a_key_survives_a_restart_and_its_revocation_too, .init = setup, .fini = teardown)
{
	struct store_options so = opts();
	char a[APIKEY_LEN + 1], b[APIKEY_LEN + 1];
	struct key_identity who;
	struct keys *k;
	int64_t ida, idb;

	cr_assert_eq(keys_open(&k, &so), 0);
	make(k, "default", "grafana", ROLE_VIEWER, a, &ida);
	make(k, "team-b", "ops", ROLE_OPERATOR, b, &idb);
	cr_assert_eq(keys_verify(k, a, T0 + 5, &who), 0);
	cr_assert_eq(who.id, ida);
	cr_assert_str_eq(who.tenant, "default");
	cr_assert_eq(who.role, ROLE_VIEWER);
	cr_assert_eq(keys_revoke(k, "team-b", ida, T0 + 6), -ENOENT, "another tenant's key");
	cr_assert_eq(keys_revoke(k, "default", ida, T0 + 6), 0);
	cr_assert_eq(keys_verify(k, a, T0 + 7, &who), -EACCES, "revoked, yet valid");
	cr_assert_eq(keys_revoke(k, "default", ida, T0 + 8), -ENOENT, "revoked twice");
	keys_close(k);

	cr_assert_eq(keys_open(&k, &so), 0);
	cr_assert_eq(keys_verify(k, a, T0 + 9, &who), -EACCES, "revived by a restart");
	cr_assert_eq(keys_verify(k, b, T0 + 9, &who), 0);
	cr_assert_eq(who.role, ROLE_OPERATOR);
	cr_assert_str_eq(who.tenant, "team-b");
	keys_close(k);
}

Test(auth, only_the_hash_is_stored_and_the_last_use_is_written_back, .init = setup,
     .fini = teardown)
{
	struct store_options so = opts();
	char key[APIKEY_LEN + 1], cmd[512], line[256];
	struct key_identity who;
	struct store_key *v;
	struct keys *k;
	size_t n;
	FILE *p;
	bool found = false;

	cr_assert_eq(keys_open(&k, &so), 0);
	make(k, "default", "ci", ROLE_ADMIN, key, NULL);
	cr_assert_eq(keys_verify(k, key, T0 + 1234, &who), 0);
	keys_close(k); /* writes the last use back */

	snprintf(cmd, sizeof(cmd), "grep -c -a -F '%s' %s/prp.db %s/prp.db-wal 2>/dev/null", key + 4,
		 dir, dir);
	p = popen(cmd, "r");
	while (fgets(line, sizeof(line), p))
		found |= strcmp(strchr(line, ':') ? strchr(line, ':') + 1 : line, "0\n") != 0;
	pclose(p);
	cr_assert_not(found, "the key itself is in the database files");

	cr_assert_eq(keys_open(&k, &so), 0);
	keys_list(k, NULL, true, &v, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].last_used_ms, T0 + 1234);
	free(v);
	keys_close(k);
}

Test(auth, lists_are_per_tenant, .init = setup, .fini = teardown)
{
	struct store_options so = opts();
	char key[APIKEY_LEN + 1];
	struct store_key *v;
	struct keys *k;
	size_t n;
	int64_t id;

	cr_assert_eq(keys_open(&k, &so), 0);
	make(k, "default", "a", ROLE_VIEWER, key, &id);
	make(k, "default", "b", ROLE_VIEWER, key, NULL);
	make(k, "team-b", "c", ROLE_VIEWER, key, NULL);
	cr_assert_eq(keys_revoke(k, "default", id, T0), 0);
	keys_list(k, "default", false, &v, &n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(v[0].name, "b");
	free(v);
	keys_list(k, "default", true, &v, &n);
	cr_assert_eq(n, 2);
	free(v);
	keys_list(k, NULL, false, &v, &n);
	cr_assert_eq(n, 2);
	free(v);
	keys_close(k);
}

Test(auth, the_admin_key_is_made_once_into_a_private_file, .init = setup, .fini = teardown)
{
	struct store_options so = opts();
	char path[256], key[APIKEY_LEN + 1], again[APIKEY_LEN + 1], text[128] = "";
	struct key_identity who;
	struct keys *k;
	struct stat st;
	bool made;
	FILE *f;

	snprintf(path, sizeof(path), "%s/admin.key", dir);
	cr_assert_eq(keys_open(&k, &so), 0);
	cr_assert_eq(keys_bootstrap(k, path, T0, &made, key), 0);
	cr_assert(made);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	cr_assert_not_null(fgets(text, sizeof(text), f));
	fclose(f);
	cr_assert_eq(strncmp(text, key, APIKEY_LEN), 0);
	cr_assert_eq(keys_verify(k, key, T0, &who), 0);
	cr_assert_eq(who.role, ROLE_ADMIN);
	cr_assert_str_eq(who.tenant, "default");
	keys_close(k);

	/* a second start makes none */
	cr_assert_eq(keys_open(&k, &so), 0);
	cr_assert_eq(keys_bootstrap(k, path, T0, &made, again), 0);
	cr_assert_not(made);
	keys_close(k);
}

/* ---- rate limits ---- */

Test(auth, the_101st_request_of_a_minute_waits_for_its_token)
{
	struct ratelimit *rl = ratelimit_new();
	struct ratelimit_verdict v;

	for (int i = 0; i < 100; i++) {
		ratelimit_take(rl, "key:1", 100, 1000, T0, &v);
		cr_assert(v.allowed, "request %d", i + 1);
		cr_assert_eq(v.remaining, (uint64_t)(99 - i));
		cr_assert_eq(v.limit, 100);
	}
	ratelimit_take(rl, "key:1", 100, 1000, T0, &v);
	cr_assert_not(v.allowed);
	cr_assert_eq(v.retry_after_s, 1, "a token every 0.6 s");
	cr_assert_eq(v.reset_s, (T0 + 60000) / 1000, "full again a minute later");
	ratelimit_take(rl, "key:2", 100, 1000, T0, &v);
	cr_assert(v.allowed, "another client pays for the first");
	ratelimit_take(rl, "key:1", 100, 1000, T0 + 599, &v);
	cr_assert_not(v.allowed);
	ratelimit_take(rl, "key:1", 100, 1000, T0 + 600, &v);
	cr_assert(v.allowed, "the token of 600 ms later");
	ratelimit_free(rl);
}

Test(auth, the_hourly_bucket_holds_past_the_minutes)
{
	struct ratelimit *rl = ratelimit_new();
	struct ratelimit_verdict v;
	int allowed = 0;

	/* 100 a minute for 15 minutes is 1,500: the hour allows 1,000 and what refills */
	for (int m = 0; m < 15; m++) {
		for (int i = 0; i < 100; i++) {
			ratelimit_take(rl, "ip:10.0.0.1", 100, 1000, T0 + m * 60000ll, &v);
			allowed += v.allowed;
		}
	}
	cr_assert_lt(allowed, 1300, "%d allowed", allowed);
	cr_assert_geq(allowed, 1000 + 14 * 16, "%d allowed", allowed);
	ratelimit_take(rl, "ip:10.0.0.1", 100, 1000, T0 + 15 * 60000ll, &v);
	cr_assert(v.retry_after_s <= 4, "an hourly token every 3.6 s: %llu",
		  (unsigned long long)v.retry_after_s);
	ratelimit_free(rl);
}

Test(auth, zero_is_no_limit)
{
	struct ratelimit *rl = ratelimit_new();
	struct ratelimit_verdict v;

	for (int i = 0; i < 5000; i++) {
		ratelimit_take(rl, "key:9", 0, 0, T0, &v);
		cr_assert(v.allowed);
	}
	ratelimit_free(rl);
}

Test(auth, memory_is_bounded_and_a_busy_client_keeps_its_slot)
{
	struct ratelimit *rl = ratelimit_new();
	struct ratelimit_verdict v;
	char ip[32];

	for (int i = 0; i < 100; i++)
		ratelimit_take(rl, "ip:192.0.2.1", 100, 1000, T0, &v);
	/* many more clients than slots, each once, all older than the busy one's last use */
	for (int i = 0; i < 4 * RATELIMIT_SLOTS; i++) {
		snprintf(ip, sizeof(ip), "ip:10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
		ratelimit_take(rl, ip, 100, 1000, T0 - 1, &v);
	}
	ratelimit_take(rl, "ip:192.0.2.1", 100, 1000, T0, &v);
	cr_assert_not(v.allowed, "the drained client was forgotten and refilled");
	ratelimit_free(rl);
}
