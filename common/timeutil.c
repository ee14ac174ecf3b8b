/*
 * Clocks, RFC 3339 formatting and parsing. Parsing is strict and by hand
 * (strptime accepts too much and knows no fractions or offsets); the civil
 * date arithmetic is Howard Hinnant's days_from_civil, exact for every
 * proleptic Gregorian date.
 */
#include "common/timeutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/strparse.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t time_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t time_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

void time_format_iso(uint64_t real_ns, char out[TIME_ISO_LEN])
{
	time_t secs = (time_t)(real_ns / NSEC_PER_SEC);
	unsigned ms = (unsigned)(real_ns % NSEC_PER_SEC / NSEC_PER_MSEC);
	struct tm tm;
	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(out, TIME_ISO_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, TIME_ISO_LEN - n, ".%03uZ", ms);
}

/* Days from 1970-01-01 to y-m-d (Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Reads exactly @n digits at *@p into *@out and advances. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/*
 * Parses "[.frac]" into nanoseconds; digits past the ninth are ignored. A '.'
 * must be followed by at least one digit (RFC 3339's time-secfrac).
 */
static bool parse_fraction(const char **p, int64_t *ns)
{
	int64_t scale = 100000000;

	*ns = 0;
	if (**p != '.')
		return true;
	(*p)++;
	if (**p < '0' || **p > '9')
		return false;
	while (**p >= '0' && **p <= '9') {
		*ns += (**p - '0') * scale;
		scale /= 10;
		(*p)++;
	}
	return true;
}

/* Parses "Z", "+HH:MM", "-HH:MM" or nothing into seconds east of UTC. */
static bool parse_zone(const char **p, int64_t *offset_s)
{
	int sign, hh, mm;

	*offset_s = 0;
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		return true;
	}
	if (**p != '+' && **p != '-')
		return true;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (!digits(p, 2, &hh) || !expect(p, ':') || !digits(p, 2, &mm) || hh > 23 || mm > 59)
		return false;
	*offset_s = sign * (hh * 3600 + mm * 60);
	return true;
}

int time_parse_iso(const char *s, uint64_t *real_ns)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h = 0, mi = 0, sec = 0;
	int64_t frac_ns = 0, offset_s = 0, secs;
	const char *p = s;

	if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
	    !digits(&p, 2, &d))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
		return -EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) ||
		    !expect(&p, ':') || !digits(&p, 2, &sec))
			return -EINVAL;
		/* 60 admits a leap second; it reads as the next second */
		if (h > 23 || mi > 59 || sec > 60)
			return -EINVAL;
		if (!parse_fraction(&p, &frac_ns) || !parse_zone(&p, &offset_s))
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec -
	       offset_s;
	/* nanoseconds since 1970 fit in 64 bits until 2554-07-21 */
	if (secs < 0 || (uint64_t)secs > (UINT64_MAX - (uint64_t)frac_ns) / NSEC_PER_SEC)
		return -EINVAL;
	*real_ns = (uint64_t)secs * NSEC_PER_SEC + (uint64_t)frac_ns;
	return 0;
}

int time_parse_since(const char *s, uint64_t now_ns, uint64_t *real_ns)
{
	uint64_t ago_ns;

	if (!time_parse_iso(s, real_ns))
		return 0;
	/* a relative filter must carry its unit: "15" alone is ambiguous */
	if (!*s || (s[strlen(s) - 1] >= '0' && s[strlen(s) - 1] <= '9'))
		return -EINVAL;
	if (strparse_duration_ns(s, NSEC_PER_SEC, &ago_ns))
		return -EINVAL;
	*real_ns = ago_ns > now_ns ? 0 : now_ns - ago_ns;
	return 0;
}

int time_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NSEC_PER_SEC),
			       .tv_nsec = (long)(ns % NSEC_PER_SEC) };

	return nanosleep(&ts, NULL) ? -errno : 0;
}
