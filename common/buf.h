/*
 * A growable byte buffer with a hard cap, for every buffer that holds bytes
 * a peer sent us (request bodies, frames, spool records, CSV lines): the cap
 * is what keeps a hostile or broken peer from exhausting memory (STYLE.md §5,
 * the idea of curl's dynbuf). The contents are always NUL-terminated, so a
 * text body can be used as a C string without a copy.
 */
#ifndef PRP_COMMON_BUF_H
#define PRP_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

struct buf {
	unsigned char *data; /* NULL until the first append; then NUL-terminated */
	size_t len;
	size_t alloc;
	size_t max_bytes; /* appends past this fail with -E2BIG */
};

/* The largest cap: a larger @max_bytes for buf_init() is lowered to it. */
#define BUF_MAX_BYTES (SIZE_MAX / 2)

/* Sets @b empty with a cap of @max_bytes; allocates nothing. */
void buf_init(struct buf *b, size_t max_bytes);
/* Frees the storage; @b is then empty and may be reused. */
void buf_release(struct buf *b);
/* Empties @b, keeping its storage. */
void buf_reset(struct buf *b);

/* Appends @n bytes. Returns 0, or -E2BIG past the cap, leaving @b unchanged. */
PRP_MUST_CHECK int buf_append(struct buf *b, const void *p, size_t n);
PRP_MUST_CHECK int buf_append_str(struct buf *b, const char *s);
/* printf-appends. Returns 0, or -E2BIG past the cap, leaving @b unchanged. */
PRP_MUST_CHECK int buf_appendf(struct buf *b, const char *fmt, ...) PRP_PRINTF(2, 3);

/* Borrowed view as a C string, valid until the next change of @b; "" when empty. */
const char *buf_str(const struct buf *b);

/* Returns the storage and resets @b to empty; the caller owns it: free(). */
unsigned char *buf_detach(struct buf *b, size_t *len);

#endif
