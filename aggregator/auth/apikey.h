/*
 * The API key itself (API.md): "prp_" and 43 URL-safe base64 characters,
 * the encoding of 32 random bytes from getrandom(2). Only its SHA-256 is
 * ever kept: 256 random bits need no salt or slow hash, since no guess can
 * hit one. Thread-safe.
 */
#ifndef PRP_AGGREGATOR_AUTH_APIKEY_H
#define PRP_AGGREGATOR_AUTH_APIKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define APIKEY_PREFIX "prp_"
#define APIKEY_LEN    (4 + 43) /* without the terminator */
#define APIKEY_HASH_LEN 32

/* A new random key into @out. 0, or -errno when the kernel gives no randomness. */
PRP_MUST_CHECK int apikey_generate(char out[APIKEY_LEN + 1]);

/* True when @s has a key's shape (prefix, length, alphabet); says nothing of its validity. */
bool apikey_well_formed(const char *s);

/* SHA-256 of the key's text into @out. 0 or -EIO. */
PRP_MUST_CHECK int apikey_hash(const char *key, uint8_t out[APIKEY_HASH_LEN]);

#endif
