#include <criterion/criterion.h>
#include <string.h>

#include "common/utf8.h"
#include "tests/lib/leakcheck.h"

TestSuite(utf8, .fini = test_no_leaks);

Test(utf8, accepts_what_rfc_3629_allows)
{
	static const char *const good[] = {
		"",
		"plain ASCII \t\x1b\x7f",
		"caf\xc3\xa9",
		"\xc2\x80 \xdf\xbf", /* U+0080, U+07FF */
		"\xe0\xa0\x80",
		"\xed\x9f\xbf \xee\x80\x80", /* U+0800, around surrogates */
		"\xef\xbf\xbd",
		"\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf", /* U+10000, U+10FFFF */
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(utf8_valid(good[i], strlen(good[i])), "%zu", i);
	cr_assert(utf8_valid("a\0b", 3), "NUL is UTF-8; the wire refuses it on its own");
}

Test(utf8, refuses_overlongs_surrogates_and_stray_bytes)
{
	static const char *const bad[] = {
		"\x80",
		"\xbf",
		"\xc0\x80",
		"\xc1\xbf",
		"\xe0\x9f\xbf",
		"\xed\xa0\x80",
		"\xed\xbf\xbf",
		"\xf0\x8f\xbf\xbf",
		"\xf4\x90\x80\x80",
		"\xf5\x80\x80\x80",
		"\xff",
		"\xc3",
		"\xe2\x82",
		"\xe2\x28\xa1",
		"a\xc3\x28",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(utf8_valid(bad[i], strlen(bad[i])), "%zu", i);
}

Test(utf8, cleans_each_bad_byte_into_one_replacement)
{
	char out[64];
	size_t rep, n;

	n = utf8_clean(out,
		       "a\xff"
		       "b\xc3",
		       4, NULL, 0, &rep);
	cr_assert_eq(n, 2 + 2 * UTF8_REPLACEMENT_LEN);
	cr_assert_eq(memcmp(out,
			    "a\xef\xbf\xbd"
			    "b\xef\xbf\xbd",
			    n),
		     0);
	cr_assert_eq(rep, 2);
	n = utf8_clean(out, "\xed\xa0\x80", 3, NULL, 0, &rep);
	cr_assert_eq(rep, 3, "a surrogate's three bytes");
	cr_assert(utf8_valid(out, n));
	n = utf8_clean(out, "x\0y\nz", 5, "\0\n", 2, &rep);
	cr_assert_eq(rep, 2);
	cr_assert_eq(memcmp(out, "x\xef\xbf\xbdy\xef\xbf\xbdz", n), 0);
	n = utf8_clean(out, "caf\xc3\xa9", 5, "\0\n", 2, &rep);
	cr_assert_eq(n, 5);
	cr_assert_eq(rep, 0, "valid text is copied as it is");
}

Test(utf8, finds_a_character_cut_at_the_end)
{
	cr_assert_eq(utf8_incomplete_tail("abc", 3), 0);
	cr_assert_eq(utf8_incomplete_tail("ab\xc3", 3), 1);
	cr_assert_eq(utf8_incomplete_tail("ab\xc3\xa9", 4), 0, "complete");
	cr_assert_eq(utf8_incomplete_tail("\xe2\x82", 2), 2);
	cr_assert_eq(utf8_incomplete_tail("\xf0\x9f\x98", 3), 3);
	cr_assert_eq(utf8_incomplete_tail("\xf0\x9f\x98\x80", 4), 0);
	cr_assert_eq(utf8_incomplete_tail("\x80\x80\x80", 3), 0, "no lead byte");
	cr_assert_eq(utf8_incomplete_tail("\xed\xa0", 2), 0, "a surrogate never completes");
	cr_assert_eq(utf8_incomplete_tail("\xff", 1), 0);
	cr_assert_eq(utf8_incomplete_tail("", 0), 0);
}
