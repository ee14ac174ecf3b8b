/*
 * HMAC-SHA256 (RFC 2104 over SHA-256) from GnuTLS, and the constant-time
 * comparison that any check of a MAC or a key hash must use. Thread-safe.
 */
#ifndef PRP_COMMON_HMAC_H
#define PRP_COMMON_HMAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define HMAC_SHA256_LEN 32
/* 64 hex digits and the terminator */
#define HMAC_SHA256_HEX_LEN 65

/* Writes the MAC of @msg under @key to @out. Returns 0, or -EIO from GnuTLS. */
PRP_MUST_CHECK int hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
			       uint8_t out[HMAC_SHA256_LEN]);
/* The same, as lowercase hex (the webhook X-Webhook-Signature form). */
PRP_MUST_CHECK int hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
				   char out[HMAC_SHA256_HEX_LEN]);
/* SHA-256 of @msg (API keys are stored as this). Returns 0 or -EIO. */
PRP_MUST_CHECK int hmac_sha256_digest(const void *msg, size_t msg_len,
				      uint8_t out[HMAC_SHA256_LEN]);

/* Compares @n bytes in time that depends only on @n, never on the contents. */
bool hmac_equal(const void *a, const void *b, size_t n);

#endif
