/*
 * Bounded byte buffer. Invariant: data == NULL or data[len] == '\0', and
 * len <= max_bytes always.
 */
#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

void buf_init(struct buf *b, size_t max_bytes)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	/*
	 * Clamped so that len + n + 1, max_bytes + 1 and the doubling in
	 * buf_reserve() cannot wrap: with SIZE_MAX ("no cap") they did, and
	 * the first append overflowed a 1-byte allocation.
	 */
	b->max_bytes = max_bytes < BUF_MAX_BYTES ? max_bytes : BUF_MAX_BYTES;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max_bytes);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for @n more bytes plus the terminator. */
static int buf_reserve(struct buf *b, size_t n)
{
	size_t need, alloc;

	if (n > b->max_bytes - b->len)
		return -E2BIG;
	need = b->len + n + 1;
	if (need <= b->alloc)
		return 0;
	alloc = b->alloc ? b->alloc : 64;
	while (alloc < need)
		alloc *= 2;
	/* never hold more than the cap allows, plus the terminator */
	if (alloc > b->max_bytes + 1)
		alloc = b->max_bytes + 1;
	b->data = xreallocarray(b->data, alloc, 1);
	b->alloc = alloc;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int err = buf_reserve(b, n);

	if (err)
		return err;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	err = buf_reserve(b, (size_t)n);
	if (err)
		return err;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? (const char *)b->data : "";
}

unsigned char *buf_detach(struct buf *b, size_t *len)
{
	unsigned char *p = b->data;

	if (len)
		*len = b->len;
	if (!p)
		p = (unsigned char *)xstrdup("");
	buf_init(b, b->max_bytes);
	return p;
}
