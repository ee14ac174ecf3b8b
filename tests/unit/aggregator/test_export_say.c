/*
 * The exporters' rate-limited warnings (aggregator/export/export_say.c):
 * the first line is due, the next ones within EXPORT_SAY_EVERY_NS are held
 * back and counted, and the count is handed to the next line due.
 */
#include <criterion/criterion.h>

#include "aggregator/export/export_say.h"
#include "tests/lib/leakcheck.h"

TestSuite(export_say, .fini = test_no_leaks);

Test(export_say, the_first_is_due_and_the_next_are_held_back)
{
	struct export_say s = { 0 };
	uint64_t held = 99;

	cr_assert(export_say_due(&s, &held));
	cr_assert_eq(held, 0);
	for (int i = 0; i < 4; i++)
		cr_assert_not(export_say_due(&s, &held));
	cr_assert_eq(s.suppressed, 4);
	s.at_ns -= EXPORT_SAY_EVERY_NS; /* as if the interval had passed */
	cr_assert(export_say_due(&s, &held));
	cr_assert_eq(held, 4);
	cr_assert_eq(s.suppressed, 0);
}
