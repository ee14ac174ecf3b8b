/*
 * Unsigned LEB128 varints, the integers of every prp wire form (the
 * histograms of common/hist.h, the windows payload of common/window_wire.h):
 * 7 bits per byte, least significant group first, the high bit set on every
 * byte but the last. A u64 takes 1 to VARINT_MAX_BYTES bytes.
 *
 * Reading is canonical: varint_read() accepts exactly what varint_put()
 * writes, so every value has one encoding. Pure functions, thread-safe.
 */
#ifndef PRP_COMMON_VARINT_H
#define PRP_COMMON_VARINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compiler.h"

/* A u64 takes at most ceil(64 / 7) = 10 bytes. */
#define VARINT_MAX_BYTES 10

/* Bytes varint_put() writes for @v: 1..VARINT_MAX_BYTES. */
size_t varint_len(uint64_t v);

/* Writes @v at @p, which has room for varint_len(@v) bytes; returns that length. */
size_t varint_put(unsigned char *p, uint64_t v);

/* Appends @v to @b. 0, or -E2BIG past the cap, leaving @b unchanged. */
PRP_MUST_CHECK int varint_append(struct buf *b, uint64_t v);

/*
 * Reads one varint from the @len bytes at @p (borrowed), starting at *@off,
 * which it advances past the varint. Returns 0, or -EPROTO when the input
 * ends early, or the varint is longer than 10 bytes, overlong (a final 0x00
 * byte after the first) or above 2^64 - 1; *@off is then unspecified.
 */
PRP_MUST_CHECK int varint_read(const unsigned char *p, size_t len, size_t *off, uint64_t *out);

#endif
