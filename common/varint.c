/*
 * LEB128 varints (see common/varint.h). The reader refuses every
 * non-canonical form, which keeps the wire forms built on it canonical.
 */
#include "common/varint.h"

#include <errno.h>

size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

size_t varint_put(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

int varint_append(struct buf *b, uint64_t v)
{
	unsigned char tmp[VARINT_MAX_BYTES];

	return buf_append(b, tmp, varint_put(tmp, v));
}

int varint_read(const unsigned char *p, size_t len, size_t *off, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned int shift = 0; shift < 64; shift += 7) {
		unsigned char b;

		if (*off >= len)
			return -EPROTO;
		b = p[(*off)++];
		/* the 10th byte holds bit 63 only, and ends the varint */
		if (shift == 63 && b > 1)
			return -EPROTO;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			/* a final zero byte after the first is overlong */
			if (!b && shift)
				return -EPROTO;
			*out = v;
			return 0;
		}
	}
	return -EPROTO; /* not reached: the 10th byte ends it or fails */
}
