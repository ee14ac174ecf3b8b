/*
 * The exporters' bounded FIFO (aggregator/export/export_ring.c): order kept
 * across the wrap, full at its cap, empty gives NULL.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "aggregator/export/export_ring.h"
#include "tests/lib/leakcheck.h"

TestSuite(export_ring, .fini = test_no_leaks);

Test(export_ring, keeps_order_across_the_wrap)
{
	void *slots[3];
	struct export_ring r;
	uintptr_t next_in = 1, next_out = 1;

	export_ring_init(&r, slots, 3);
	cr_assert_null(export_ring_first(&r));
	cr_assert_null(export_ring_pop(&r));
	for (int round = 0; round < 5; round++) {
		while (!export_ring_full(&r))
			export_ring_push(&r, (void *)next_in++);
		cr_assert_eq(r.count, 3);
		cr_assert_eq((uintptr_t)export_ring_first(&r), next_out);
		cr_assert_eq((uintptr_t)export_ring_pop(&r), next_out++);
		cr_assert_eq((uintptr_t)export_ring_pop(&r), next_out++);
		cr_assert_eq(r.count, 1);
	}
	cr_assert_eq((uintptr_t)export_ring_pop(&r), next_out++);
	cr_assert_eq(next_out, next_in);
	cr_assert_null(export_ring_pop(&r));
}
