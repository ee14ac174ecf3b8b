/*
 * UTF-8 validation and cleaning (common/utf8.h). The table of valid
 * sequences is RFC 3629 §4: the second byte's range narrows after E0
 * (no overlong 3-byte form), ED (no surrogates), F0 (no overlong 4-byte
 * form) and F4 (nothing past U+10FFFF); C0, C1 and F5..FF never appear.
 */
#include "common/utf8.h"

#include <string.h>

size_t utf8_char_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	unsigned lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

bool utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i = 0;

	while (i < n) {
		size_t k;

		/* ASCII runs are the common case */
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_char_len(s + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

size_t utf8_incomplete_tail(const void *p, size_t n)
{
	const unsigned char *s = p;

	/* a lead byte in the last 3 whose character needs more bytes than are left */
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		unsigned c = s[n - back];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		if (c >= 0xc2 && c <= 0xdf)
			need = 2;
		else if (c >= 0xe0 && c <= 0xef)
			need = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 4;
		else
			return 0;
		if (need <= back)
			return 0; /* complete (valid or not): nothing to keep */
		/* the bytes there so far must be a valid beginning */
		if (back >= 2) {
			unsigned lo = 0x80, hi = 0xbf, b1 = s[n - back + 1];

			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
			else if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
			if (b1 < lo || b1 > hi)
				return 0;
		}
		return back;
	}
	return 0;
}

size_t utf8_clean(char *dst, const void *src, size_t n, const char *bad, size_t nbad,
		  size_t *replaced)
{
	const unsigned char *s = src;
	size_t i = 0, out = 0, nrep = 0;

	while (i < n) {
		size_t k = utf8_char_len(s + i, n - i);

		if (k == 1 && nbad && memchr(bad, s[i], nbad))
			k = 0;
		if (!k) {
			memcpy(dst + out, UTF8_REPLACEMENT, UTF8_REPLACEMENT_LEN);
			out += UTF8_REPLACEMENT_LEN;
			nrep++;
			i++;
			continue;
		}
		memcpy(dst + out, s + i, k);
		out += k;
		i += k;
	}
	if (replaced)
		*replaced = nrep;
	return out;
}
