#include "tests/lib/leakcheck.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>

void test_no_leaks(void)
{
	if (__lsan_do_recoverable_leak_check()) {
		fprintf(stderr, "test_no_leaks: LeakSanitizer found a leak\n");
		abort();
	}
}
#else
void test_no_leaks(void)
{
}
#endif
