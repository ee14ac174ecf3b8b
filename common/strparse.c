/*
 * Strict parsers over strtoull/strtoll/strtod. Durations and sizes are a
 * decimal number (fractions allowed: "1.5s") times a unit from a table; the
 * product is computed in long double and range-checked before conversion,
 * so "99999999999h" is -ERANGE rather than a wrapped value.
 */
#include "common/strparse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct unit {
	const char *name;
	uint64_t factor;
};

static const struct unit duration_units[] = {
	{ "ns", 1ull },
	{ "us", 1000ull },
	{ "ms", 1000000ull },
	{ "s", 1000000000ull },
	{ "m", 60ull * 1000000000ull },
	{ "min", 60ull * 1000000000ull },
	{ "h", 3600ull * 1000000000ull },
	{ "d", 86400ull * 1000000000ull },
	{ "w", 7ull * 86400ull * 1000000000ull },
};

static const struct unit size_units[] = {
	{ "B", 1ull },
	{ "kB", 1000ull },
	{ "MB", 1000ull * 1000 },
	{ "GB", 1000ull * 1000 * 1000 },
	{ "TB", 1000ull * 1000 * 1000 * 1000 },
	{ "K", 1ull << 10 },
	{ "KiB", 1ull << 10 },
	{ "M", 1ull << 20 },
	{ "MiB", 1ull << 20 },
	{ "G", 1ull << 30 },
	{ "GiB", 1ull << 30 },
	{ "T", 1ull << 40 },
	{ "TiB", 1ull << 40 },
};

/* strto* accept leading space and signs we may not want: check the start. */
static bool starts_like_number(const char *s, bool allow_minus)
{
	if (*s == '-' && allow_minus)
		s++;
	else if (*s == '+')
		s++;
	/* strtod and strtold also read hex ("0x10", "0x1p4"): decimal only */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return false;
	return isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]));
}

int strparse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!starts_like_number(s, false) || *s == '.')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || end == s)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int strparse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	long long v;
	char *end;

	if (!starts_like_number(s, true) || strchr(s, '.'))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end || end == s)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int strparse_double(const char *s, double min, double max, double *out)
{
	double v;
	char *end;

	if (!starts_like_number(s, true))
		return -EINVAL;
	v = strtod(s, &end);
	if (*end || end == s)
		return -EINVAL;
	/*
	 * starts_like_number() keeps out "inf" and "nan", so a value that is not
	 * finite overflowed. An underflow reads as 0 or a subnormal: bounds decide.
	 */
	if (!isfinite(v) || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int strparse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < PRP_ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Splits "1.5s" into 1.5 and "s"; the number is non-negative and finite. */
static int split_quantity(const char *s, long double *value, const char **unit)
{
	char *end;

	if (!starts_like_number(s, false) || *s == '+')
		return -EINVAL;
	*value = strtold(s, &end);
	if (end == s)
		return -EINVAL;
	/* past LDBL_MAX (an underflow reads as 0 and is fine) */
	if (!isfinite(*value))
		return -ERANGE;
	*unit = end;
	return 0;
}

static int scale_quantity(const char *s, const struct unit *units, size_t nunits,
			  uint64_t bare_factor, bool case_sensitive, uint64_t *out)
{
	long double value, product;
	const char *unit;
	uint64_t factor = 0;
	int err;

	err = split_quantity(s, &value, &unit);
	if (err)
		return err;
	if (!*unit) {
		factor = bare_factor;
	} else {
		for (size_t i = 0; i < nunits; i++) {
			if (case_sensitive ? !strcmp(unit, units[i].name)
					   : !strcasecmp(unit, units[i].name)) {
				factor = units[i].factor;
				break;
			}
		}
		if (!factor)
			return -EINVAL;
	}
	/*
	 * Round first, then range-check: adding 0.5 after the check took
	 * 2^64 - 1 to 2^64, whose conversion is undefined (it gave 0 on x86).
	 */
	product = roundl(value * (long double)factor);
	if (product >= 18446744073709551616.0L)
		return -ERANGE;
	*out = (uint64_t)product;
	return 0;
}

int strparse_duration_ns(const char *s, uint64_t bare_unit_ns, uint64_t *out_ns)
{
	return scale_quantity(s, duration_units, PRP_ARRAY_SIZE(duration_units), bare_unit_ns,
			      false, out_ns);
}

int strparse_size(const char *s, uint64_t *out_bytes)
{
	/* case matters: "mB" and "Mb" are not sizes we want to guess at */
	return scale_quantity(s, size_units, PRP_ARRAY_SIZE(size_units), 1, true, out_bytes);
}
