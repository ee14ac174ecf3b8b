/*
 * An immutable, reference-counted response body, so one rendered JSON text
 * (the cached /services/health) is sent to many clients at once without a
 * copy per request. Any thread may take or drop a reference.
 */
#ifndef PRP_AGGREGATOR_HTTP_BLOB_H
#define PRP_AGGREGATOR_HTTP_BLOB_H

#include <stdatomic.h>
#include <stddef.h>

struct blob {
	atomic_uint refs;
	size_t len;
	char data[]; /* len bytes and a NUL */
};

/* A blob holding a copy of @len bytes at @p, with one reference: the caller's. */
struct blob *blob_new(const char *p, size_t len);
/*
 * A blob of @len bytes at @p gzip-compressed at zlib @level (Z_BEST_SPEED for
 * bodies made often, Z_BEST_COMPRESSION for those made once), with one
 * reference; NULL when zlib fails.
 */
struct blob *blob_gzip(const char *p, size_t len, int level);
/* Takes one more reference; returns @b. */
struct blob *blob_ref(struct blob *b);
/* Drops one reference; the last frees it. blob_unref(NULL) does nothing. */
void blob_unref(struct blob *b);

#endif
