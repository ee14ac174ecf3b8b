/*
 * Temporary directories for tests: made under /tmp with a name that says
 * which test made it, removed with everything in them.
 */
#ifndef PRP_TESTS_LIB_TMPDIR_H
#define PRP_TESTS_LIB_TMPDIR_H

#include <stddef.h>

/* Makes /tmp/prp-test-@what-XXXXXX into @dir (@cap bytes); asserts on failure. */
void tmpdir_make(char *dir, size_t cap, const char *what);
/* Removes @dir and everything under it, then empties @dir; "" does nothing. */
void tmpdir_remove(char *dir);

#endif
