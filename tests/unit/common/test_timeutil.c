/*
 * common/timeutil.c: RFC 3339 formatting and strict parsing (UTC, offsets,
 * fractions, the NAB space form, bare dates, the calendar), `since` filters,
 * and the clocks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"

TestSuite(timeutil, .fini = test_no_leaks);

#define SENTINEL 0x5a5a5a5a5a5a5a5aull
/* 2014-04-10T07:15:00Z, the first row of a NAB file */
#define NAB_S 1397114100ull

static void assert_format(uint64_t ns, const char *want)
{
	char out[TIME_ISO_LEN];

	memset(out, 'x', sizeof(out));
	time_format_iso(ns, out);
	cr_assert_str_eq(out, want);
}

static void assert_parse(const char *s, uint64_t want_ns)
{
	uint64_t ns = SENTINEL;

	cr_assert_eq(time_parse_iso(s, &ns), 0, "'%s' should parse", s);
	cr_assert_eq(ns, want_ns, "'%s': got %llu, want %llu", s, (unsigned long long)ns,
		     (unsigned long long)want_ns);
}

static void assert_invalid(const char *s)
{
	uint64_t ns = SENTINEL;

	cr_assert_eq(time_parse_iso(s, &ns), -EINVAL, "'%s' should be refused", s);
	cr_assert_eq(ns, SENTINEL, "'%s': out written on failure", s);
}

/* ---- formatting ---- */

Test(timeutil, formats_known_instants)
{
	assert_format(0, "1970-01-01T00:00:00.000Z");
	assert_format(NAB_S * NSEC_PER_SEC, "2014-04-10T07:15:00.000Z");
	assert_format(951782400ull * NSEC_PER_SEC, "2000-02-29T00:00:00.000Z");
	assert_format(1735689599ull * NSEC_PER_SEC, "2024-12-31T23:59:59.000Z");
	assert_format(4102444800ull * NSEC_PER_SEC, "2100-01-01T00:00:00.000Z");
}

Test(timeutil, formats_milliseconds_truncated_never_rounded_up)
{
	assert_format(NAB_S * NSEC_PER_SEC + 123456789, "2014-04-10T07:15:00.123Z");
	assert_format(NAB_S * NSEC_PER_SEC + 1 * NSEC_PER_MSEC, "2014-04-10T07:15:00.001Z");
	assert_format(NAB_S * NSEC_PER_SEC + 999999, "2014-04-10T07:15:00.000Z");
	/* rounding would show the next second, an instant that has not happened yet */
	assert_format(999999999, "1970-01-01T00:00:00.999Z");
}

Test(timeutil, formats_the_largest_instant_within_the_buffer)
{
	assert_format(UINT64_MAX, "2554-07-21T23:34:33.709Z");
}

/* ---- parsing ---- */

Test(timeutil, parses_utc_with_z)
{
	assert_parse("1970-01-01T00:00:00Z", 0);
	assert_parse("2014-04-10T07:15:00Z", NAB_S * NSEC_PER_SEC);
	assert_parse("2014-04-10t07:15:00z", NAB_S * NSEC_PER_SEC);
}

Test(timeutil, no_zone_means_utc)
{
	assert_parse("2014-04-10T07:15:00", NAB_S * NSEC_PER_SEC);
}

Test(timeutil, parses_offsets_east_and_west)
{
	assert_parse("2014-04-10T09:15:00+02:00", NAB_S * NSEC_PER_SEC);
	assert_parse("2014-04-10T01:45:00-05:30", NAB_S * NSEC_PER_SEC);
	assert_parse("2014-04-10T07:15:00+00:00", NAB_S * NSEC_PER_SEC);
	assert_parse("2014-04-10T07:15:00-00:00", NAB_S * NSEC_PER_SEC);
	assert_parse("2014-04-11T07:14:00+23:59", NAB_S * NSEC_PER_SEC);
}

Test(timeutil, parses_fractions_to_the_nanosecond)
{
	assert_parse("2014-04-10T07:15:00.5Z", NAB_S * NSEC_PER_SEC + 500000000);
	assert_parse("2014-04-10T07:15:00.123Z", NAB_S * NSEC_PER_SEC + 123000000);
	assert_parse("2014-04-10T07:15:00.123456789Z", NAB_S * NSEC_PER_SEC + 123456789);
	assert_parse("2014-04-10T07:15:00.000000001+01:00", (NAB_S - 3600) * NSEC_PER_SEC + 1);
	/* digits past the ninth are ignored, not rounded */
	assert_parse("2014-04-10T07:15:00.1234567899999Z", NAB_S * NSEC_PER_SEC + 123456789);
}

Test(timeutil, parses_the_space_form_of_nab_files)
{
	assert_parse("2014-04-10 07:15:00", NAB_S * NSEC_PER_SEC);
	assert_parse("2014-04-10 07:15:00.250", NAB_S * NSEC_PER_SEC + 250000000);
}

Test(timeutil, parses_a_bare_date_as_midnight_utc)
{
	assert_parse("2014-04-10", (NAB_S - (7 * 3600 + 15 * 60)) * NSEC_PER_SEC);
	assert_parse("1970-01-01", 0);
}

Test(timeutil, knows_leap_years)
{
	assert_parse("2000-02-29", 951782400ull * NSEC_PER_SEC);
	assert_parse("2024-02-29", 1709164800ull * NSEC_PER_SEC);
	assert_parse("2024-03-01", 1709251200ull * NSEC_PER_SEC);
	assert_parse("2023-03-01", 1677628800ull * NSEC_PER_SEC);
	assert_invalid("2023-02-29");
	assert_invalid("1900-02-29");
	assert_invalid("2100-02-29");
	assert_invalid("2024-02-30");
}

Test(timeutil, refuses_days_a_month_does_not_have)
{
	static const char *const bad[] = { "2014-04-31", "2014-06-31", "2014-09-31",
					   "2014-11-31", "2014-01-32", "2014-01-00" };

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		assert_invalid(bad[i]);
	assert_parse("2014-01-31", 1391126400ull * NSEC_PER_SEC);
	assert_parse("2014-12-31", 1419984000ull * NSEC_PER_SEC);
}

Test(timeutil, refuses_out_of_range_fields)
{
	static const char *const bad[] = {
		"2014-00-10",
		"2014-13-10",
		"2014-04-10T24:00:00Z",
		"2014-04-10T07:60:00Z",
		"2014-04-10T07:15:61Z",
		"2014-04-10T07:15:00+24:00",
		"2014-04-10T07:15:00+01:60",
	};

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		assert_invalid(bad[i]);
}

Test(timeutil, a_leap_second_reads_as_the_next_second)
{
	assert_parse("2016-12-31T23:59:60Z", 1483228800ull * NSEC_PER_SEC);
}

Test(timeutil, refuses_malformed_text_and_trailing_junk)
{
	static const char *const bad[] = {
		"",
		"2014",
		"2014-04",
		"2014-4-10",
		"14-04-10",
		"2014/04/10",
		"2014-04-10T",
		"2014-04-10T07:15",
		"2014-04-10T7:15:00",
		"2014-04-10T07:15:00.",
		"2014-04-10T07:15:00.Z",
		"2014-04-10T07:15:00ZZ",
		"2014-04-10T07:15:00 ",
		" 2014-04-10",
		"2014-04-10x",
		"2014-04-10Z",
		"2014-04-10T07:15:00+0200",
		"2014-04-10T07:15:00+02",
		"2014-04-10T07:15:00UTC",
		"2014-04-10_07:15:00",
		"now",
		"1397114100",
	};

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		assert_invalid(bad[i]);
}

Test(timeutil, refuses_instants_before_1970)
{
	assert_invalid("1969-12-31T23:59:59Z");
	assert_invalid("1969-12-31");
	assert_invalid("0000-01-01");
	assert_invalid("1970-01-01T00:00:00+00:01");
	assert_parse("1970-01-01T01:00:00+01:00", 0);
	assert_parse("1969-12-31T23:00:00-01:00", 0);
}

Test(timeutil, refuses_instants_past_2_to_the_64_ns)
{
	assert_parse("2554-07-21T23:34:33.709551615Z", UINT64_MAX);
	assert_invalid("2554-07-21T23:34:33.709551616Z");
	assert_invalid("2554-07-21T23:34:34Z");
	assert_invalid("2600-01-01");
	assert_invalid("9999-12-31T23:59:59Z");
}

Test(timeutil, format_then_parse_round_trips_to_the_millisecond)
{
	static const uint64_t instants[] = { 0,
					     1,
					     NAB_S * NSEC_PER_SEC + 123456789,
					     951782400ull * NSEC_PER_SEC + 999999999,
					     1735689599999000000ull,
					     16725225600ull * NSEC_PER_SEC + 42 };
	char text[TIME_ISO_LEN];
	uint64_t back;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(instants); i++) {
		time_format_iso(instants[i], text);
		cr_assert_eq(time_parse_iso(text, &back), 0, "%s", text);
		cr_assert_eq(back, instants[i] / NSEC_PER_MSEC * NSEC_PER_MSEC, "%s", text);
	}
}

Test(timeutil, parse_then_format_round_trips_canonical_text)
{
	static const char *const texts[] = { "1970-01-01T00:00:00.000Z", "2014-04-10T07:15:00.123Z",
					     "2000-02-29T23:59:59.999Z",
					     "2038-01-19T03:14:08.000Z" };
	char out[TIME_ISO_LEN];
	uint64_t ns;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(texts); i++) {
		cr_assert_eq(time_parse_iso(texts[i], &ns), 0, "%s", texts[i]);
		time_format_iso(ns, out);
		cr_assert_str_eq(out, texts[i]);
	}
}

/* ---- since ---- */

Test(timeutil, since_takes_an_instant)
{
	uint64_t ns;

	cr_assert_eq(time_parse_since("2014-04-10T07:15:00Z", 5, &ns), 0);
	cr_assert_eq(ns, NAB_S * NSEC_PER_SEC);
}

Test(timeutil, since_takes_a_duration_before_now)
{
	const uint64_t now = 1700000000ull * NSEC_PER_SEC;
	uint64_t ns;

	cr_assert_eq(time_parse_since("15m", now, &ns), 0);
	cr_assert_eq(ns, now - 900 * NSEC_PER_SEC);
	cr_assert_eq(time_parse_since("2h", now, &ns), 0);
	cr_assert_eq(ns, now - 7200 * NSEC_PER_SEC);
	cr_assert_eq(time_parse_since("7d", now, &ns), 0);
	cr_assert_eq(ns, now - 7 * 86400 * NSEC_PER_SEC);
	cr_assert_eq(time_parse_since("90s", now, &ns), 0);
	cr_assert_eq(ns, now - 90 * NSEC_PER_SEC);
	cr_assert_eq(time_parse_since("0s", now, &ns), 0);
	cr_assert_eq(ns, now);
}

Test(timeutil, since_further_back_than_the_epoch_is_the_epoch)
{
	uint64_t ns = SENTINEL;

	cr_assert_eq(time_parse_since("7d", 3600 * NSEC_PER_SEC, &ns), 0);
	cr_assert_eq(ns, 0);
}

Test(timeutil, since_needs_a_unit_or_a_valid_instant)
{
	static const char *const bad[] = { "",	  "15",	       "0",	     "-15m", "15 m",
					   "15x", "yesterday", "2014-13-01", "m" };
	uint64_t ns = SENTINEL;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		cr_assert_eq(time_parse_since(bad[i], 1700000000ull * NSEC_PER_SEC, &ns), -EINVAL,
			     "'%s'", bad[i]);
	cr_assert_eq(ns, SENTINEL);
}

/* ---- clocks ---- */

Test(timeutil, monotonic_clock_moves_forward)
{
	uint64_t a = time_mono_ns(), b;

	cr_assert_eq(time_sleep_ns(2 * NSEC_PER_MSEC), 0);
	b = time_mono_ns();
	cr_assert_geq(b - a, 2 * NSEC_PER_MSEC, "slept %llu ns", (unsigned long long)(b - a));
	for (int i = 0; i < 1000; i++) {
		a = b;
		b = time_mono_ns();
		cr_assert_geq(b, a);
	}
}

Test(timeutil, real_clock_is_after_2024)
{
	cr_assert_gt(time_real_ns(), 1704067200ull * NSEC_PER_SEC);
}

Test(timeutil, sleep_of_zero_returns_at_once)
{
	cr_assert_eq(time_sleep_ns(0), 0);
}
