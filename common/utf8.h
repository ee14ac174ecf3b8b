/*
 * UTF-8 checks for text that crosses the wire as "any line a service
 * wrote" (the log lines of common/window_wire.h): valid UTF-8 in the sense
 * of RFC 3629 (no overlong forms, no surrogates, nothing past U+10FFFF),
 * and a cleaner that makes any bytes valid by putting U+FFFD in place of
 * each byte that does not start a valid character (the "maximal subpart"
 * practice of Unicode §3.9 counted per byte, as loki_format does). Pure
 * functions; any thread.
 */
#ifndef PRP_COMMON_UTF8_H
#define PRP_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* U+FFFD REPLACEMENT CHARACTER, and its length in UTF-8. */
#define UTF8_REPLACEMENT     "\xef\xbf\xbd"
#define UTF8_REPLACEMENT_LEN 3
/* The longest a cleaned text can grow: every byte replaced. */
#define UTF8_CLEAN_MAX(n) ((n)*UTF8_REPLACEMENT_LEN)

/*
 * The length (1..4) of the valid UTF-8 character at @p, of which @n >= 1
 * bytes are readable; 0 when the bytes there are not one.
 */
size_t utf8_char_len(const unsigned char *p, size_t n);

/* True when the @n bytes at @p are valid UTF-8 (the empty text is). */
bool utf8_valid(const void *p, size_t n);

/*
 * The number of bytes at the end of the @n bytes at @p that begin a
 * character which the bytes stop in the middle of (0..3): what a cut made
 * at @n would split, and what a reader of more bytes should keep for later.
 */
size_t utf8_incomplete_tail(const void *p, size_t n);

/*
 * Writes the @n bytes at @src to @dst as valid UTF-8: each byte that does
 * not start a valid character becomes U+FFFD, and so does each of the
 * @nbad ASCII bytes at @bad found in the text (a set to refuse, such as
 * NUL and LF; @nbad 0: none). @dst has room for UTF8_CLEAN_MAX(@n) bytes.
 * Returns the length written; *@replaced (may be NULL) gets the number of
 * bytes replaced.
 */
size_t utf8_clean(char *dst, const void *src, size_t n, const char *bad, size_t nbad,
		  size_t *replaced);

#endif
