/*
 * Route folding, shared by bpf/http.bpf.c (which folds the path of each
 * request in the kernel, so that /users/1 .. /users/1000 are one stats key)
 * and user space (tests, and anything that must fold the same way). Like
 * bpf/hist.h: `static inline`, no libc, bounded, so it compiles for BPF.
 *
 * A path is folded segment by segment: a segment of digits only, or an
 * id-like segment (at least 8 characters, hexadecimal digits and '-' only,
 * with at least one digit: hex ids, UUIDs) becomes "{id}". The query string
 * and fragment are dropped. The result is at most ROUTE_MAX - 1 bytes; a
 * longer path is cut at a segment boundary and ends in "/...".
 *
 *	/users/42              -> /users/{id}
 *	/orders/17/items?x=1   -> /orders/{id}/items
 *	/a/550e8400-e29b-41d4-a716-446655440000 -> /a/{id}
 *	/v2/health             -> /v2/health
 */
#ifndef PRP_BPF_ROUTE_H
#define PRP_BPF_ROUTE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define ROUTE_MAX	 64 /* bytes of a folded route, terminator included */
#define ROUTE_ID_MIN_LEN 8

struct route_fold {
	char out[ROUTE_MAX];
	__u32 len;	 /* bytes in out, < ROUTE_MAX */
	__u32 seg_start; /* index in out of the current segment's first byte */
	__u32 seg_len;
	__u8 seg_digits; /* every byte of the segment so far is a digit */
	__u8 seg_hex;	 /* every byte is a hex digit or '-' */
	__u8 seg_has_digit;
	__u8 done;
};

static inline void route_fold_init(struct route_fold *f)
{
	/* a builtin, not libc: word stores in BPF, not 64 byte stores */
	__builtin_memset(f->out, 0, ROUTE_MAX);
	f->len = 0;
	f->seg_start = 0;
	f->seg_len = 0;
	f->seg_digits = 1;
	f->seg_hex = 1;
	f->seg_has_digit = 0;
	f->done = 0;
}

/* Replaces the segment just ended by "{id}" when it is id-like. */
static inline void route_fold_close_segment(struct route_fold *f)
{
	__u32 at = f->seg_start;

	if (f->seg_len &&
	    (f->seg_digits || (f->seg_hex && f->seg_has_digit && f->seg_len >= ROUTE_ID_MIN_LEN)) &&
	    at + 4 < ROUTE_MAX) {
		f->out[at & (ROUTE_MAX - 1)] = '{';
		f->out[(at + 1) & (ROUTE_MAX - 1)] = 'i';
		f->out[(at + 2) & (ROUTE_MAX - 1)] = 'd';
		f->out[(at + 3) & (ROUTE_MAX - 1)] = '}';
		f->len = at + 4;
	}
	f->seg_len = 0;
	f->seg_digits = 1;
	f->seg_hex = 1;
	f->seg_has_digit = 0;
}

/* Marks a cut path: the last whole segment is kept, then "/...". */
static inline void route_fold_cut(struct route_fold *f)
{
	__u32 at = f->seg_start;

	/* seg_start is just past a '/', and "..." fits: ROUTE_MAX - 4 is the limit below */
	f->out[at & (ROUTE_MAX - 1)] = '.';
	f->out[(at + 1) & (ROUTE_MAX - 1)] = '.';
	f->out[(at + 2) & (ROUTE_MAX - 1)] = '.';
	f->len = at + 3;
	f->done = 1;
}

static inline int route_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline int route_is_hex(char c)
{
	return route_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-';
}

/*
 * Feeds one byte of the request target. Returns 1 once the route is complete
 * (a space, '?', '#', CR, LF or NUL ended it, or it was cut); later bytes are
 * ignored.
 */
static inline int route_fold_step(struct route_fold *f, char c)
{
	if (f->done)
		return 1;
	if (c == ' ' || c == '?' || c == '#' || c == '\r' || c == '\n' || c == 0) {
		route_fold_close_segment(f);
		f->done = 1;
		return 1;
	}
	if (c == '/') {
		route_fold_close_segment(f);
		if (f->len >= ROUTE_MAX - 5) { /* room for "/..." and the terminator */
			route_fold_cut(f);
			return 1;
		}
		f->out[f->len & (ROUTE_MAX - 1)] = '/';
		f->len++;
		f->seg_start = f->len;
		return 0;
	}
	if (f->len >= ROUTE_MAX - 5) {
		route_fold_cut(f);
		return 1;
	}
	f->out[f->len & (ROUTE_MAX - 1)] = c;
	f->len++;
	f->seg_len++;
	if (!route_is_digit(c))
		f->seg_digits = 0;
	else
		f->seg_has_digit = 1;
	if (!route_is_hex(c))
		f->seg_hex = 0;
	return 0;
}

/*
 * Ends the route (also when the input ran out before a terminator) and zeroes
 * the bytes past it: the whole buffer is part of a map key.
 */
static inline void route_fold_finish(struct route_fold *f)
{
	if (!f->done) {
		route_fold_close_segment(f);
		f->done = 1;
	}
	if (f->len == 0) {
		f->out[0] = '/';
		f->len = 1;
	}
	/*
	 * Bytes past len may hold what a segment folded to "{id}" or a cut
	 * left: up to the next multiple of 8 byte by byte, then 8 at a time
	 * (16 steps instead of 64; this runs once per request).
	 */
	__u32 word = (f->len + 7) & ~7u;

	for (__u32 k = 0; k < 8; k++)
		if (f->len + k < word)
			f->out[(f->len + k) & (ROUTE_MAX - 1)] = 0;
	for (__u32 i = 0; i < ROUTE_MAX; i += 8)
		if (i >= word)
			__builtin_memset(f->out + i, 0, 8);
}

#endif
