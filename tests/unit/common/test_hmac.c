/*
 * common/hmac.c: HMAC-SHA256 against RFC 4231's test cases (1-4, 6, 7; case
 * 5 is about truncated output, which we never use), the hex form, SHA-256
 * against FIPS 180-2's "abc", and the constant-time comparison.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/hmac.h"
#include "tests/lib/leakcheck.h"

TestSuite(hmac, .fini = test_no_leaks);

/* Decodes @hex (even length, lowercase) into @out. */
static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void assert_mac(const void *key, size_t key_len, const void *msg, size_t msg_len,
		       const char *want_hex)
{
	uint8_t mac[HMAC_SHA256_LEN], want[HMAC_SHA256_LEN];
	char hex[HMAC_SHA256_HEX_LEN];

	cr_assert_eq(unhex(want_hex, want), HMAC_SHA256_LEN);
	cr_assert_eq(hmac_sha256(key, key_len, msg, msg_len, mac), 0);
	cr_assert_arr_eq(mac, want, HMAC_SHA256_LEN);
	cr_assert_eq(hmac_sha256_hex(key, key_len, msg, msg_len, hex), 0);
	cr_assert_str_eq(hex, want_hex);
}

Test(hmac, rfc4231_case_1)
{
	uint8_t key[20];

	memset(key, 0x0b, sizeof(key));
	assert_mac(key, sizeof(key), "Hi There", 8,
		   "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

Test(hmac, rfc4231_case_2_key_shorter_than_the_output)
{
	const char *msg = "what do ya want for nothing?";

	assert_mac("Jefe", 4, msg, strlen(msg),
		   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

Test(hmac, rfc4231_case_3)
{
	uint8_t key[20], msg[50];

	memset(key, 0xaa, sizeof(key));
	memset(msg, 0xdd, sizeof(msg));
	assert_mac(key, sizeof(key), msg, sizeof(msg),
		   "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
}

Test(hmac, rfc4231_case_4)
{
	uint8_t key[25], msg[50];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i + 1);
	memset(msg, 0xcd, sizeof(msg));
	assert_mac(key, sizeof(key), msg, sizeof(msg),
		   "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
}

Test(hmac, rfc4231_case_6_key_longer_than_a_block)
{
	const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
	uint8_t key[131];

	memset(key, 0xaa, sizeof(key));
	assert_mac(key, sizeof(key), msg, strlen(msg),
		   "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

Test(hmac, rfc4231_case_7_key_and_data_longer_than_a_block)
{
	const char *msg = "This is a test using a larger than block-size key and a larger than "
			  "block-size data. The key needs to be hashed before being used by the "
			  "HMAC algorithm.";
	uint8_t key[131];

	memset(key, 0xaa, sizeof(key));
	assert_mac(key, sizeof(key), msg, strlen(msg),
		   "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

Test(hmac, hex_form_is_64_lowercase_digits_and_terminated)
{
	char hex[HMAC_SHA256_HEX_LEN + 1];

	memset(hex, 'X', sizeof(hex));
	cr_assert_eq(hmac_sha256_hex("k", 1, "m", 1, hex), 0);
	cr_assert_eq(strlen(hex), 64);
	cr_assert_eq(hex[HMAC_SHA256_HEX_LEN], 'X', "writes exactly HMAC_SHA256_HEX_LEN bytes");
	for (int i = 0; i < 64; i++)
		cr_assert(strchr("0123456789abcdef", hex[i]), "'%c' at %d", hex[i], i);
}

Test(hmac, empty_message_has_a_mac)
{
	uint8_t a[HMAC_SHA256_LEN], b[HMAC_SHA256_LEN];

	cr_assert_eq(hmac_sha256("key", 3, "", 0, a), 0);
	cr_assert_eq(hmac_sha256("key", 3, "x", 1, b), 0);
	cr_assert_not(hmac_equal(a, b, sizeof(a)));
}

Test(hmac, sha256_of_abc)
{
	uint8_t digest[HMAC_SHA256_LEN], want[HMAC_SHA256_LEN];

	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
	cr_assert_eq(hmac_sha256_digest("abc", 3, digest), 0);
	cr_assert_arr_eq(digest, want, sizeof(want));
}

Test(hmac, sha256_of_nothing)
{
	uint8_t digest[HMAC_SHA256_LEN], want[HMAC_SHA256_LEN];

	unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
	cr_assert_eq(hmac_sha256_digest("", 0, digest), 0);
	cr_assert_arr_eq(digest, want, sizeof(want));
}

Test(hmac, equal_compares_every_byte)
{
	uint8_t a[HMAC_SHA256_LEN], b[HMAC_SHA256_LEN];

	memset(a, 0x5c, sizeof(a));
	memcpy(b, a, sizeof(b));
	cr_assert(hmac_equal(a, b, sizeof(a)));
	b[0] ^= 0x01;
	cr_assert_not(hmac_equal(a, b, sizeof(a)), "first byte");
	b[0] = a[0];
	b[31] ^= 0x80;
	cr_assert_not(hmac_equal(a, b, sizeof(a)), "last byte");
	cr_assert(hmac_equal(a, b, 31), "only the first @n bytes count");
	cr_assert(hmac_equal(a, b, 0), "nothing equals nothing");
}
