/*
 * What common/window_wire.c and common/window_wire_v2.c share, and nothing
 * else includes: the reader of a payload, its checked primitives, and the
 * sections version 2 adds to each window (docs/protocol.md). The rules of
 * window_wire.c's header apply: the encoder refuses (-EINVAL) what the
 * decoder refuses (-EPROTO).
 */
#ifndef PRP_COMMON_WINDOW_WIRE_INTERNAL_H
#define PRP_COMMON_WINDOW_WIRE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/window.h"
#include "common/window_wire.h"

/* The bytes being decoded (borrowed) and the offset of the next one. */
struct ww_reader {
	const unsigned char *p;
	size_t len;
	size_t off;
};

/* A varint no larger than @max. 0 or -EPROTO. */
int ww_get_uint(struct ww_reader *r, uint64_t max, uint64_t *v);
/* A string of @min_len..@cap - 1 printable ASCII characters, borrowed. 0 or -EPROTO. */
int ww_get_text(struct ww_reader *r, const char **s, size_t *n, size_t cap, size_t min_len);
/* Appends @s (checked by the caller) as a varint length and its bytes. */
int ww_put_str(struct buf *out, const char *s, size_t cap);
/* True when @s ends within @cap and has @min_len or more printable ASCII characters. */
bool ww_str_ok(const char *s, size_t cap, size_t min_len);

/* Starts a walk of a section whose count is at most @max (window_wire_iter_init()). */
int ww_iter_start(struct window_wire_iter *it, const void *p, size_t len, uint64_t max);
/* 1 while entries are left, 0 at an end that used every byte, else -EPROTO. */
int ww_iter_more(const struct window_wire_iter *it);

/* ---- window_wire_v2.c: the logs and spans sections of a version 2 window ---- */

/* Appends both sections of @w. 0, -EINVAL (a rule broken), -E2BIG (@out's cap). */
int ww_put_v2(struct buf *out, const struct window *w);
/* Reads both sections into @w (which owns what is added). 0 or -EPROTO. */
int ww_get_v2(struct ww_reader *r, struct window *w);
/* Checks both sections and points @v at them. 0 or -EPROTO. */
int ww_view_v2(struct ww_reader *r, struct window_view *v);

#endif
