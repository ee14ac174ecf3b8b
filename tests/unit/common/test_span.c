/*
 * common/span.c: random trace and span ids (never all zero, never the same
 * twice in a run), their lowercase hex form and back, and roots.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/span.h"
#include "tests/lib/leakcheck.h"

TestSuite(span, .fini = test_no_leaks);

Test(span, new_ids_are_random_and_never_zero)
{
	uint8_t a[SPAN_TRACE_ID_LEN], b[SPAN_TRACE_ID_LEN], s[SPAN_ID_LEN], t[SPAN_ID_LEN];

	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(span_new_trace_id(a), 0);
		cr_assert_eq(span_new_trace_id(b), 0);
		cr_assert_eq(span_new_span_id(s), 0);
		cr_assert_eq(span_new_span_id(t), 0);
		cr_assert_not(span_id_is_zero(a, sizeof(a)));
		cr_assert_not(span_id_is_zero(s, sizeof(s)));
		/* a repeat is a chance of 2^-128 and 2^-64: it means a broken generator */
		cr_assert_neq(memcmp(a, b, sizeof(a)), 0);
		cr_assert_neq(memcmp(s, t, sizeof(s)), 0);
	}
}

Test(span, hex_is_lowercase_and_reads_back)
{
	const uint8_t id[SPAN_ID_LEN] = { 0x00, 0x0f, 0xa0, 0xff, 0x12, 0x34, 0xab, 0xcd };
	uint8_t back[SPAN_ID_LEN] = { 0 }, keep[SPAN_ID_LEN];
	char hex[SPAN_ID_HEX_LEN];

	cr_assert_str_eq(span_hex(id, sizeof(id), hex), "000fa0ff1234abcd");
	cr_assert_eq(span_unhex(hex, back, sizeof(back)), 0);
	cr_assert_arr_eq(back, id, sizeof(id));
	cr_assert_eq(span_unhex("000FA0FF1234ABCD", back, sizeof(back)), 0, "either case reads");
	cr_assert_arr_eq(back, id, sizeof(id));
	memcpy(keep, back, sizeof(keep));
	/* a digit short, one too many, not hex: refused, the output untouched */
	cr_assert_eq(span_unhex("000fa0ff1234abc", back, sizeof(back)), -EINVAL);
	cr_assert_eq(span_unhex("000fa0ff1234abcd0", back, sizeof(back)), -EINVAL);
	cr_assert_eq(span_unhex("000fa0ff1234abcg", back, sizeof(back)), -EINVAL);
	cr_assert_eq(span_unhex("", back, sizeof(back)), -EINVAL);
	cr_assert_arr_eq(back, keep, sizeof(keep));
}

Test(span, a_root_has_an_all_zero_parent)
{
	struct span s = { 0 };

	cr_assert(span_is_root(&s));
	s.parent_span_id[7] = 1;
	cr_assert_not(span_is_root(&s));
	cr_assert(span_id_is_zero(s.trace_id, sizeof(s.trace_id)));
}
