/*
 * Criterion forks each test, and a leak LeakSanitizer finds in the worker
 * does not fail it. Every suite therefore declares
 *     TestSuite(name, .fini = test_no_leaks);
 * which aborts the worker when the sanitizer
 * build finds a leak. criterion 2.4 only warns about a crash in .fini, so
 * tests/lib/run-suite.sh counts each such warning as a failure. Outside the
 * sanitizer build it does nothing.
 */
#ifndef PRP_TESTS_LIB_LEAKCHECK_H
#define PRP_TESTS_LIB_LEAKCHECK_H

void test_no_leaks(void);

#endif
