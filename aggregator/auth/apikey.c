/* API keys' text: generation, shape, hash (apikey.h). */
#include "aggregator/auth/apikey.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "common/hmac.h"

_Static_assert(APIKEY_HASH_LEN == HMAC_SHA256_LEN, "a key's hash is a SHA-256");

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int apikey_generate(char out[APIKEY_LEN + 1])
{
	uint8_t raw[33] = { 0 }; /* 32 random bytes, one zero byte to make whole triples */
	size_t got = 0, o = sizeof(APIKEY_PREFIX) - 1;

	while (got < 32) {
		ssize_t n = getrandom(raw + got, 32 - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	memcpy(out, APIKEY_PREFIX, o);
	for (size_t i = 0; i < sizeof(raw); i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];

		for (int k = 3; k >= 0 && o < APIKEY_LEN; k--)
			out[o++] = b64url[(v >> (6 * k)) & 63];
	}
	out[APIKEY_LEN] = '\0';
	return 0;
}

bool apikey_well_formed(const char *s)
{
	size_t p = sizeof(APIKEY_PREFIX) - 1;

	if (!s || strncmp(s, APIKEY_PREFIX, p) || strlen(s) != APIKEY_LEN)
		return false;
	return strspn(s + p, b64url) == APIKEY_LEN - p;
}

int apikey_hash(const char *key, uint8_t out[APIKEY_HASH_LEN])
{
	return hmac_sha256_digest(key, strlen(key), out);
}
