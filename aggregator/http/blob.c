/*
 * Reference-counted bodies. The count is atomic; the bytes never change
 * after blob_new(), so readers need no lock.
 */
#include "aggregator/http/blob.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/alloc.h"

struct blob *blob_new(const char *p, size_t len)
{
	struct blob *b = xmalloc(sizeof(*b) + len + 1);

	atomic_init(&b->refs, 1);
	b->len = len;
	memcpy(b->data, p, len);
	b->data[len] = '\0';
	return b;
}

struct blob *blob_ref(struct blob *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void blob_unref(struct blob *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		free(b);
}

struct blob *blob_gzip(const char *p, size_t len, int level)
{
	z_stream z = { 0 };
	struct blob *b = NULL;
	unsigned char *out;
	uLong cap;

	/* 15 window bits + 16: a gzip header and trailer instead of zlib's */
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&z, len);
	out = xmalloc(cap);
	z.next_in = (Bytef *)(uintptr_t)p; /* zlib's API is not const-correct; it only reads */
	z.avail_in = (uInt)len;		   /* callers' bodies are far below 4 GiB */
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) == Z_STREAM_END)
		b = blob_new((const char *)out, z.total_out);
	deflateEnd(&z);
	free(out);
	return b;
}
