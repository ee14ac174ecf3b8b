/*
 * common/strparse.c: each parser takes the whole string or nothing, tells
 * -EINVAL (not of the form) from -ERANGE (outside the bounds), writes *out
 * only on success, and knows every unit of its table.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <float.h>
#include <stdint.h>

#include "common/strparse.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"

TestSuite(strparse, .fini = test_no_leaks);

#define SENTINEL 0x5a5a5a5a5a5a5a5aull

/* ---- unsigned ---- */

Test(strparse, u64_reads_decimal_integers)
{
	uint64_t v;

	cr_assert_eq(strparse_u64("0", 0, UINT64_MAX, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(strparse_u64("42", 0, UINT64_MAX, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(strparse_u64("+7", 0, UINT64_MAX, &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(strparse_u64("007", 0, UINT64_MAX, &v), 0);
	cr_assert_eq(v, 7, "leading zeros are decimal, not octal");
	cr_assert_eq(strparse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	cr_assert_eq(v, UINT64_MAX);
}

Test(strparse, u64_enforces_bounds_with_erange)
{
	uint64_t v = SENTINEL;

	cr_assert_eq(strparse_u64("10", 10, 20, &v), 0);
	cr_assert_eq(strparse_u64("20", 10, 20, &v), 0);
	cr_assert_eq(v, 20);
	v = SENTINEL;
	cr_assert_eq(strparse_u64("9", 10, 20, &v), -ERANGE);
	cr_assert_eq(strparse_u64("21", 10, 20, &v), -ERANGE);
	cr_assert_eq(strparse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	cr_assert_eq(strparse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	cr_assert_eq(v, SENTINEL, "out is written only on success");
}

Test(strparse, u64_rejects_what_is_not_a_whole_decimal_number)
{
	static const char *const bad[] = { "",	  " 1",	  "1 ",	   "-1",  "-0", "1.5",
					   "1e3", "0x10", "12abc", "abc", "+",	"--1",
					   "+-1", ".5",	  "1,000", "\t1" };
	uint64_t v = SENTINEL;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		cr_assert_eq(strparse_u64(bad[i], 0, UINT64_MAX, &v), -EINVAL, "'%s'", bad[i]);
	cr_assert_eq(v, SENTINEL);
}

/* ---- signed ---- */

Test(strparse, i64_reads_signed_integers_to_both_limits)
{
	int64_t v;

	cr_assert_eq(strparse_i64("-42", INT64_MIN, INT64_MAX, &v), 0);
	cr_assert_eq(v, -42);
	cr_assert_eq(strparse_i64("+42", INT64_MIN, INT64_MAX, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(strparse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	cr_assert_eq(v, INT64_MIN);
	cr_assert_eq(strparse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	cr_assert_eq(v, INT64_MAX);
}

Test(strparse, i64_overflow_and_bounds_are_erange)
{
	int64_t v = 77;

	cr_assert_eq(strparse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
	cr_assert_eq(strparse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -ERANGE);
	cr_assert_eq(strparse_i64("-11", -10, 10, &v), -ERANGE);
	cr_assert_eq(strparse_i64("11", -10, 10, &v), -ERANGE);
	cr_assert_eq(v, 77);
	cr_assert_eq(strparse_i64("-10", -10, 10, &v), 0);
	cr_assert_eq(v, -10);
}

Test(strparse, i64_rejects_junk_fractions_and_double_signs)
{
	static const char *const bad[] = { "",	  "-",	  "1.0", "--1", "+-1", "-+1",
					   "1e3", "0x1f", " -1", "-1 ", "1-",  "one" };
	int64_t v = 77;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		cr_assert_eq(strparse_i64(bad[i], INT64_MIN, INT64_MAX, &v), -EINVAL, "'%s'",
			     bad[i]);
	cr_assert_eq(v, 77);
}

/* ---- doubles ---- */

Test(strparse, double_reads_decimal_and_exponent_forms)
{
	double v;

	cr_assert_eq(strparse_double("0.5", 0, 1, &v), 0);
	cr_assert_float_eq(v, 0.5, 1e-15);
	cr_assert_eq(strparse_double("-2.5", -10, 10, &v), 0);
	cr_assert_float_eq(v, -2.5, 1e-15);
	cr_assert_eq(strparse_double(".25", 0, 1, &v), 0);
	cr_assert_float_eq(v, 0.25, 1e-15);
	cr_assert_eq(strparse_double("1e3", 0, 1e6, &v), 0);
	cr_assert_float_eq(v, 1000, 1e-9);
	cr_assert_eq(strparse_double("1.5e-3", 0, 1, &v), 0);
	cr_assert_float_eq(v, 0.0015, 1e-15);
	cr_assert_eq(strparse_double("7", 0, 10, &v), 0);
	cr_assert_float_eq(v, 7, 1e-15);
}

Test(strparse, double_refuses_nan_inf_hex_and_junk)
{
	static const char *const bad[] = { "nan",   "NaN",  "inf", "-inf", "infinity",
					   "0x1p3", "0X10", "",	   ".",	   "-",
					   "1.5x",  " 1",   "1 ",  "e5",   "--1" };
	double v = 42;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		cr_assert_eq(strparse_double(bad[i], -DBL_MAX, DBL_MAX, &v), -EINVAL, "'%s'",
			     bad[i]);
	cr_assert_float_eq(v, 42, 0);
}

Test(strparse, double_bounds_and_overflow_are_erange)
{
	double v = 42;

	cr_assert_eq(strparse_double("1.0001", 0, 1, &v), -ERANGE);
	cr_assert_eq(strparse_double("-0.1", 0, 1, &v), -ERANGE);
	cr_assert_eq(strparse_double("1e999", -DBL_MAX, DBL_MAX, &v), -ERANGE);
	cr_assert_eq(strparse_double("-1e999", -DBL_MAX, DBL_MAX, &v), -ERANGE);
	cr_assert_float_eq(v, 42, 0);
	/* an underflow is a tiny number, which the bounds may well allow */
	cr_assert_eq(strparse_double("1e-999", 0, 1, &v), 0);
	cr_assert_float_eq(v, 0, 1e-300);
}

/* ---- booleans ---- */

Test(strparse, bool_takes_every_spelling_in_any_case)
{
	static const char *const yes[] = { "true", "TRUE", "True", "yes", "YES", "on", "On", "1" };
	static const char *const no[] = { "false", "FALSE", "no", "No", "off", "OFF", "0" };
	bool v;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(yes); i++) {
		v = false;
		cr_assert_eq(strparse_bool(yes[i], &v), 0, "'%s'", yes[i]);
		cr_assert_eq(v, true, "'%s'", yes[i]);
	}
	for (size_t i = 0; i < PRP_ARRAY_SIZE(no); i++) {
		v = true;
		cr_assert_eq(strparse_bool(no[i], &v), 0, "'%s'", no[i]);
		cr_assert_eq(v, false, "'%s'", no[i]);
	}
}

Test(strparse, bool_rejects_anything_else)
{
	static const char *const bad[] = { "",	    "2",     "y",     "n",	 "t",
					   "truee", " true", "true ", "enabled", "-1" };
	bool v = true;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		cr_assert_eq(strparse_bool(bad[i], &v), -EINVAL, "'%s'", bad[i]);
	cr_assert_eq(v, true);
}

/* ---- durations ---- */

Test(strparse, duration_knows_every_unit_from_ns_to_weeks)
{
	static const struct {
		const char *text;
		uint64_t ns;
	} cases[] = {
		{ "7ns", 7 },
		{ "7us", 7 * NSEC_PER_USEC },
		{ "7ms", 7 * NSEC_PER_MSEC },
		{ "7s", 7 * NSEC_PER_SEC },
		{ "7m", 7 * 60 * NSEC_PER_SEC },
		{ "7min", 7 * 60 * NSEC_PER_SEC },
		{ "7h", 7 * 3600 * NSEC_PER_SEC },
		{ "7d", 7 * 86400 * NSEC_PER_SEC },
		{ "7w", 7 * 7 * 86400 * NSEC_PER_SEC },
		{ "0s", 0 },
	};
	uint64_t v;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(cases); i++) {
		cr_assert_eq(strparse_duration_ns(cases[i].text, NSEC_PER_SEC, &v), 0, "%s",
			     cases[i].text);
		cr_assert_eq(v, cases[i].ns, "%s", cases[i].text);
	}
}

Test(strparse, duration_units_ignore_case)
{
	uint64_t v;

	cr_assert_eq(strparse_duration_ns("5MS", 1, &v), 0);
	cr_assert_eq(v, 5 * NSEC_PER_MSEC);
	cr_assert_eq(strparse_duration_ns("2H", 1, &v), 0);
	cr_assert_eq(v, 2 * 3600 * NSEC_PER_SEC);
	cr_assert_eq(strparse_duration_ns("3Min", 1, &v), 0);
	cr_assert_eq(v, 180 * NSEC_PER_SEC);
}

Test(strparse, duration_takes_fractions_and_rounds_to_the_ns)
{
	uint64_t v;

	cr_assert_eq(strparse_duration_ns("1.5s", 1, &v), 0);
	cr_assert_eq(v, 1500 * NSEC_PER_MSEC);
	cr_assert_eq(strparse_duration_ns("0.5ms", 1, &v), 0);
	cr_assert_eq(v, 500 * NSEC_PER_USEC);
	cr_assert_eq(strparse_duration_ns(".25h", 1, &v), 0);
	cr_assert_eq(v, 900 * NSEC_PER_SEC);
	cr_assert_eq(strparse_duration_ns("0.1s", 1, &v), 0);
	cr_assert_eq(v, 100 * NSEC_PER_MSEC, "0.1 is not exact in binary: rounded, not cut");
	cr_assert_eq(strparse_duration_ns("1.4ns", 1, &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(strparse_duration_ns("1.5ns", 1, &v), 0);
	cr_assert_eq(v, 2);
}

Test(strparse, bare_duration_is_in_the_given_unit)
{
	uint64_t v;

	cr_assert_eq(strparse_duration_ns("30", NSEC_PER_SEC, &v), 0);
	cr_assert_eq(v, 30 * NSEC_PER_SEC);
	cr_assert_eq(strparse_duration_ns("250", NSEC_PER_MSEC, &v), 0);
	cr_assert_eq(v, 250 * NSEC_PER_MSEC);
	cr_assert_eq(strparse_duration_ns("1.5", NSEC_PER_SEC, &v), 0);
	cr_assert_eq(v, 1500 * NSEC_PER_MSEC);
}

Test(strparse, duration_rejects_signs_spaces_and_unknown_units)
{
	static const char *const bad[] = { "",	   "s",	   "-1s", "+1s",    "1 s", " 1s",   "1s ",
					   "1sec", "1x",   "1ss", "1.2.3s", "1S5", "0x10s", "1e",
					   "ms",   "--1s", "nan", "inf",    "1y",  "1mo" };
	uint64_t v = SENTINEL;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		cr_assert_eq(strparse_duration_ns(bad[i], NSEC_PER_SEC, &v), -EINVAL, "'%s'",
			     bad[i]);
	cr_assert_eq(v, SENTINEL);
}

Test(strparse, duration_past_2_to_the_64_ns_is_erange)
{
	uint64_t v = SENTINEL;

	/* 2^64 ns is 213503.98 days */
	cr_assert_eq(strparse_duration_ns("213503d", 1, &v), 0);
	cr_assert_eq(v, 213503ull * 86400 * NSEC_PER_SEC);
	v = SENTINEL;
	cr_assert_eq(strparse_duration_ns("213504d", 1, &v), -ERANGE);
	cr_assert_eq(strparse_duration_ns("99999999999h", 1, &v), -ERANGE);
	cr_assert_eq(strparse_duration_ns("18446744073709551616ns", 1, &v), -ERANGE);
	cr_assert_eq(strparse_duration_ns("1e9999s", 1, &v), -ERANGE);
	cr_assert_eq(v, SENTINEL);
}

Test(strparse, duration_of_exactly_2_to_the_64_minus_1_ns_is_exact)
{
	uint64_t v = 0;

	cr_assert_eq(strparse_duration_ns("18446744073709551615ns", 1, &v), 0);
	cr_assert_eq(v, UINT64_MAX);
	cr_assert_eq(strparse_duration_ns("18446744073709551615.4", 1, &v), 0);
	cr_assert_eq(v, UINT64_MAX);
}

/* ---- sizes ---- */

Test(strparse, size_knows_decimal_and_binary_units)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{ "3B", 3 },
		{ "3kB", 3000 },
		{ "3MB", 3000000 },
		{ "3GB", 3000000000ull },
		{ "3TB", 3000000000000ull },
		{ "3K", 3ull << 10 },
		{ "3KiB", 3ull << 10 },
		{ "3M", 3ull << 20 },
		{ "3MiB", 3ull << 20 },
		{ "3G", 3ull << 30 },
		{ "3GiB", 3ull << 30 },
		{ "3T", 3ull << 40 },
		{ "3TiB", 3ull << 40 },
		{ "4096", 4096 },
		{ "0", 0 },
		{ "256MiB", 256ull << 20 },
	};
	uint64_t v;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(cases); i++) {
		cr_assert_eq(strparse_size(cases[i].text, &v), 0, "%s", cases[i].text);
		cr_assert_eq(v, cases[i].bytes, "%s", cases[i].text);
	}
}

Test(strparse, size_takes_fractions)
{
	uint64_t v;

	cr_assert_eq(strparse_size("1.5KiB", &v), 0);
	cr_assert_eq(v, 1536);
	cr_assert_eq(strparse_size("0.5MiB", &v), 0);
	cr_assert_eq(v, 512 * 1024);
	cr_assert_eq(strparse_size("2.5kB", &v), 0);
	cr_assert_eq(v, 2500);
}

Test(strparse, size_units_are_case_sensitive)
{
	static const char *const bad[] = { "1kb",  "1KB", "1mb", "1Mb", "1mib",
					   "1MIB", "1b",  "1gb", "1k",	"1m" };
	uint64_t v = SENTINEL;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		cr_assert_eq(strparse_size(bad[i], &v), -EINVAL, "'%s'", bad[i]);
	cr_assert_eq(v, SENTINEL);
}

Test(strparse, size_rejects_junk_signs_and_spaces)
{
	static const char *const bad[] = { "",	 "B",  "-1",   "-1K",  "+1K", "1 MiB",
					   " 1", "1 ", "1XiB", "0x10", "1e",  "MiB" };
	uint64_t v = SENTINEL;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		cr_assert_eq(strparse_size(bad[i], &v), -EINVAL, "'%s'", bad[i]);
	cr_assert_eq(v, SENTINEL);
}

Test(strparse, size_overflow_is_erange_and_the_maximum_is_exact)
{
	uint64_t v = 0;

	cr_assert_eq(strparse_size("16777215TiB", &v), 0);
	cr_assert_eq(v, 16777215ull << 40);
	cr_assert_eq(strparse_size("18446744073709551615", &v), 0);
	cr_assert_eq(v, UINT64_MAX, "2^64 - 1 must not round up and wrap to 0");
	v = SENTINEL;
	cr_assert_eq(strparse_size("16777216TiB", &v), -ERANGE, "that is 2^64");
	cr_assert_eq(strparse_size("18446744073709551616", &v), -ERANGE);
	cr_assert_eq(strparse_size("1e30", &v), -ERANGE);
	cr_assert_eq(v, SENTINEL);
}
