/*
 * aggregator/keyring.c: which key files an agent's keys come from (its own
 * and its tenant's, current and next), in which order, and when a change to
 * the files is seen: a miss and a new .next after KEYRING_RETRY_S, the end
 * of a rotation as soon, a changed current key only after keyring_reload().
 * The clock is the test's: every lookup says what time it is.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator/keyring.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

#define TENANT	  "acme"
#define AGENT	  "web-1"
#define T0	  1000 /* seconds; any clock */

#define CUR	  "current-key-0123456789"
#define NEXT	  "next-key-0123456789abc"
#define OWN	  "own-key-0123456789abcd"
#define OWN_NEXT  "own-next-key-0123456789"
#define CUR_NEXT2 "second-next-key-0123456"

static char dir[64];
static struct keyring *k;

static void setup(void)
{
	char path[256];

	tmpdir_make(dir, sizeof(dir), "keyring");
	snprintf(path, sizeof(path), "%s/" TENANT, dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/" TENANT "/agents", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	k = keyring_new(dir);
}

static void teardown(void)
{
	keyring_free(k);
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(keyring, .init = setup, .fini = teardown);

/* Writes @text and a newline (which the key drops) to @name under KEYS_DIR/TENANT. */
static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/" TENANT "/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fprintf(f, "%s\n", text);
	cr_assert_eq(fclose(f), 0);
}

static void rename_over(const char *from, const char *to)
{
	char a[256], b[256];

	snprintf(a, sizeof(a), "%s/" TENANT "/%s", dir, from);
	snprintf(b, sizeof(b), "%s/" TENANT "/%s", dir, to);
	cr_assert_eq(rename(a, b), 0, "%s", a);
}

static void drop(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/" TENANT "/%s", dir, name);
	cr_assert_eq(unlink(path), 0, "%s", path);
}

/* Asserts that agent AGENT's keys at @now_s are @want (NULL-terminated), .next ones marked. */
static void expect_keys(uint64_t now_s, const char *const *want, const bool *next)
{
	struct keyring_keys keys;
	size_t n = 0;

	while (want[n])
		n++;
	cr_assert_eq(keyring_find(k, TENANT, AGENT, now_s, &keys), 0);
	cr_assert_eq(keys.n, n, "%zu keys, want %zu", keys.n, n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(keys.len[i], strlen(want[i]), "key %zu", i);
		cr_expect_eq(memcmp(keys.key[i], want[i], keys.len[i]), 0, "key %zu is not %s", i,
			     want[i]);
		cr_expect_eq(keys.next[i], next[i], "key %zu: next %d", i, keys.next[i]);
	}
}

#define KEYS(...)  ((const char *const[]){ __VA_ARGS__, NULL })
#define FLAGS(...) ((const bool[]){ __VA_ARGS__ })

static int find(uint64_t now_s)
{
	struct keyring_keys keys;

	return keyring_find(k, TENANT, AGENT, now_s, &keys);
}

Test(keyring, the_current_key_alone)
{
	put("tenant.key", CUR);
	expect_keys(T0, KEYS(CUR), FLAGS(false));
}

Test(keyring, the_next_key_alone)
{
	put("tenant.key.next", NEXT);
	expect_keys(T0, KEYS(NEXT), FLAGS(true));
}

Test(keyring, both_keys_the_current_one_first)
{
	put("tenant.key", CUR);
	put("tenant.key.next", NEXT);
	expect_keys(T0, KEYS(CUR, NEXT), FLAGS(false, true));
}

Test(keyring, no_key_is_enokey_and_bad_ids_are_einval)
{
	struct keyring_keys keys;

	cr_expect_eq(find(T0), -ENOKEY);
	put("tenant.key", CUR);
	cr_expect_eq(keyring_find(k, TENANT, "..", T0, &keys), -EINVAL);
	cr_expect_eq(keyring_find(k, ".hidden", AGENT, T0, &keys), -EINVAL);
	cr_expect_eq(keyring_find(k, TENANT, "", T0, &keys), -EINVAL);
}

Test(keyring, a_next_key_file_too_short_is_no_key)
{
	put("tenant.key", CUR);
	put("tenant.key.next", "short");
	expect_keys(T0, KEYS(CUR), FLAGS(false));
}

Test(keyring, the_agent_key_beats_the_tenant_key_and_its_rotation)
{
	put("tenant.key", CUR);
	put("tenant.key.next", NEXT);
	put("agents/" AGENT ".key", OWN);
	expect_keys(T0, KEYS(OWN), FLAGS(false));
}

Test(keyring, the_agent_key_rotates_on_its_own)
{
	put("tenant.key", CUR);
	put("tenant.key.next", NEXT);
	put("agents/" AGENT ".key", OWN);
	put("agents/" AGENT ".key.next", OWN_NEXT);
	expect_keys(T0, KEYS(OWN, OWN_NEXT), FLAGS(false, true));
}

Test(keyring, an_agent_moving_to_its_own_key_keeps_the_tenant_key_meanwhile)
{
	put("tenant.key", CUR);
	put("tenant.key.next", NEXT);
	put("agents/" AGENT ".key.next", OWN_NEXT);
	expect_keys(T0, KEYS(CUR, OWN_NEXT), FLAGS(false, true));
}

Test(keyring, other_agents_of_the_tenant_keep_the_tenant_keys)
{
	struct keyring_keys keys;

	put("tenant.key", CUR);
	put("agents/" AGENT ".key", OWN);
	cr_assert_eq(keyring_find(k, TENANT, "web-2", T0, &keys), 0);
	cr_assert_eq(keys.n, 1);
	cr_expect_eq(memcmp(keys.key[0], CUR, strlen(CUR)), 0);
}

Test(keyring, a_miss_is_retried_after_the_retry_interval)
{
	cr_assert_eq(find(T0), -ENOKEY);
	put("tenant.key", CUR);
	cr_expect_eq(find(T0 + KEYRING_RETRY_S - 1), -ENOKEY, "a miss is cached");
	expect_keys(T0 + KEYRING_RETRY_S, KEYS(CUR), FLAGS(false));
}

Test(keyring, a_next_key_added_at_run_time_is_found_after_the_retry_interval)
{
	put("tenant.key", CUR);
	expect_keys(T0, KEYS(CUR), FLAGS(false));
	put("tenant.key.next", NEXT);
	expect_keys(T0 + KEYRING_RETRY_S - 1, KEYS(CUR), FLAGS(false));
	expect_keys(T0 + KEYRING_RETRY_S, KEYS(CUR, NEXT), FLAGS(false, true));
}

Test(keyring, the_agent_next_key_is_looked_for_too)
{
	put("agents/" AGENT ".key", OWN);
	expect_keys(T0, KEYS(OWN), FLAGS(false));
	put("agents/" AGENT ".key.next", OWN_NEXT);
	expect_keys(T0 + KEYRING_RETRY_S, KEYS(OWN, OWN_NEXT), FLAGS(false, true));
}

Test(keyring, the_next_key_renamed_over_the_current_one_ends_the_rotation)
{
	put("tenant.key", CUR);
	put("tenant.key.next", NEXT);
	expect_keys(T0, KEYS(CUR, NEXT), FLAGS(false, true));
	rename_over("tenant.key.next", "tenant.key");
	expect_keys(T0 + 1, KEYS(CUR, NEXT), FLAGS(false, true));
	expect_keys(T0 + KEYRING_RETRY_S, KEYS(NEXT), FLAGS(false));
	/* and the next rotation is seen like the first one */
	put("tenant.key.next", CUR_NEXT2);
	expect_keys(T0 + 2 * KEYRING_RETRY_S, KEYS(NEXT, CUR_NEXT2), FLAGS(false, true));
}

Test(keyring, a_rotation_given_up_is_seen_after_the_retry_interval)
{
	put("tenant.key", CUR);
	put("tenant.key.next", NEXT);
	expect_keys(T0, KEYS(CUR, NEXT), FLAGS(false, true));
	drop("tenant.key.next");
	expect_keys(T0 + KEYRING_RETRY_S, KEYS(CUR), FLAGS(false));
}

Test(keyring, a_changed_current_key_is_kept_until_reload)
{
	put("tenant.key", CUR);
	expect_keys(T0, KEYS(CUR), FLAGS(false));
	put("tenant.key", OWN);
	expect_keys(T0 + 10 * KEYRING_RETRY_S, KEYS(CUR), FLAGS(false));
	keyring_reload(k);
	expect_keys(T0 + 10 * KEYRING_RETRY_S, KEYS(OWN), FLAGS(false));
}

Test(keyring, reload_forgets_a_next_key_and_a_hit)
{
	put("tenant.key", CUR);
	put("tenant.key.next", NEXT);
	expect_keys(T0, KEYS(CUR, NEXT), FLAGS(false, true));
	drop("tenant.key.next");
	drop("tenant.key");
	keyring_reload(k);
	cr_expect_eq(find(T0), -ENOKEY);
}
