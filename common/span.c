/*
 * Span ids (span.h): random ids from getrandom(2), which reads the kernel's
 * CSPRNG without a file descriptor (so it works in a chroot and cannot run
 * out of descriptors), and their hex form.
 */
#include "common/span.h"

#include <errno.h>
#include <sys/random.h>

/*
 * Fills @out with @n random bytes, drawing again while they are all zero
 * (a chance of 2^-64 for a span id: the loop all but never runs twice).
 */
static int random_id(uint8_t *out, size_t n)
{
	do {
		size_t got = 0;

		while (got < n) {
			/* flags 0: blocks only before the kernel's pool is first seeded, at boot */
			ssize_t r = getrandom(out + got, n - got, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				int err = -errno;

				for (size_t i = 0; i < n; i++)
					out[i] = 0;
				return err;
			}
			got += (size_t)r;
		}
	} while (span_id_is_zero(out, n));
	return 0;
}

int span_new_trace_id(uint8_t out[SPAN_TRACE_ID_LEN])
{
	return random_id(out, SPAN_TRACE_ID_LEN);
}

int span_new_span_id(uint8_t out[SPAN_ID_LEN])
{
	return random_id(out, SPAN_ID_LEN);
}

bool span_id_is_zero(const uint8_t *id, size_t n)
{
	uint8_t any = 0;

	for (size_t i = 0; i < n; i++)
		any |= id[i];
	return !any;
}

bool span_is_root(const struct span *s)
{
	return span_id_is_zero(s->parent_span_id, sizeof(s->parent_span_id));
}

char *span_hex(const uint8_t *id, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 0xf];
	}
	out[2 * n] = '\0';
	return out;
}

/* The value of hex digit @c, or -1. */
static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int span_unhex(const char *hex, uint8_t *out, size_t n)
{
	uint8_t tmp[64];

	if (n > sizeof(tmp))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(hex[2 * i]), lo = hi < 0 ? -1 : hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL; /* a NUL before 2 * @n digits lands here too */
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	if (hex[2 * n] != '\0')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[i];
	return 0;
}
