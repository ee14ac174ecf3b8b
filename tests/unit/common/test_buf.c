#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "tests/lib/leakcheck.h"

TestSuite(buf, .fini = test_no_leaks);

Test(buf, starts_empty_as_empty_string)
{
	struct buf b;

	buf_init(&b, 16);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(buf_str(&b), "");
	buf_release(&b);
}

Test(buf, appends_and_stays_terminated)
{
	struct buf b;

	buf_init(&b, 1024);
	cr_assert_eq(buf_append(&b, "abc", 3), 0);
	cr_assert_eq(buf_append_str(&b, "def"), 0);
	cr_assert_eq(buf_appendf(&b, "-%d-", 42), 0);
	cr_assert_str_eq(buf_str(&b), "abcdef-42-");
	cr_assert_eq(b.len, 10);
	buf_release(&b);
}

Test(buf, refuses_past_cap_and_keeps_contents)
{
	struct buf b;

	buf_init(&b, 8);
	cr_assert_eq(buf_append(&b, "12345678", 8), 0);
	cr_assert_eq(buf_append(&b, "9", 1), -E2BIG);
	cr_assert_eq(buf_appendf(&b, "%s", "x"), -E2BIG);
	cr_assert_str_eq(buf_str(&b), "12345678");
	cr_assert_leq(b.alloc, 9, "never allocates past cap + terminator");
	buf_release(&b);
}

Test(buf, grows_across_many_appends)
{
	struct buf b;
	char expect[5000];

	buf_init(&b, sizeof(expect));
	for (int i = 0; i < 4999; i++) {
		cr_assert_eq(buf_append(&b, "x", 1), 0);
		expect[i] = 'x';
	}
	expect[4999] = '\0';
	cr_assert_str_eq(buf_str(&b), expect);
	buf_release(&b);
}

Test(buf, detach_hands_over_storage)
{
	struct buf b;
	unsigned char *p;
	size_t len;

	buf_init(&b, 64);
	cr_assert_eq(buf_append_str(&b, "hello"), 0);
	p = buf_detach(&b, &len);
	cr_assert_eq(len, 5);
	cr_assert_str_eq((char *)p, "hello");
	cr_assert_eq(b.len, 0);
	cr_assert_null(b.data);
	free(p);
	p = buf_detach(&b, &len);
	cr_assert_eq(len, 0);
	cr_assert_str_eq((char *)p, "");
	free(p);
}

Test(buf, reset_keeps_cap)
{
	struct buf b;

	buf_init(&b, 4);
	cr_assert_eq(buf_append_str(&b, "abcd"), 0);
	buf_reset(&b);
	cr_assert_str_eq(buf_str(&b), "");
	cr_assert_eq(buf_append_str(&b, "wxyz"), 0);
	buf_release(&b);
}

Test(buf, an_unbounded_cap_does_not_wrap_the_size_arithmetic)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	cr_assert_eq(b.max_bytes, BUF_MAX_BYTES);
	cr_assert_eq(buf_append_str(&b, "0123456789"), 0);
	cr_assert_eq(buf_appendf(&b, "%s", "abc"), 0);
	cr_assert_str_eq(buf_str(&b), "0123456789abc");
	buf_release(&b);
}
