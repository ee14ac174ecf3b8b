/*
 * Reference-counted bodies. The count is atomic; the bytes never change
 * after blob_new(), so readers need no lock.
 */
#include "aggregator/http/blob.h"

#include <stdlib.h>
#include <string.h>

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
