/*
 * Thin wrappers over GnuTLS's one-shot MAC and hash functions: we never
 * write cryptography ourselves. hmac_equal() is the one piece of our own,
 * a branch-free comparison so that the time taken leaks nothing about where
 * two MACs differ.
 */
#include "common/hmac.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

int hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
		uint8_t out[HMAC_SHA256_LEN])
{
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, key_len, msg, msg_len, out) < 0)
		return -EIO;
	return 0;
}

int hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
		    char out[HMAC_SHA256_HEX_LEN])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[HMAC_SHA256_LEN];
	int err = hmac_sha256(key, key_len, msg, msg_len, mac);

	if (err)
		return err;
	for (int i = 0; i < HMAC_SHA256_LEN; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 0xf];
	}
	out[2 * HMAC_SHA256_LEN] = '\0';
	return 0;
}

int hmac_sha256_digest(const void *msg, size_t msg_len, uint8_t out[HMAC_SHA256_LEN])
{
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, msg, msg_len, out) < 0)
		return -EIO;
	return 0;
}

bool hmac_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}
