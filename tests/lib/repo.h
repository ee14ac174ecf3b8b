/*
 * Files of the repository from a test: the tests run from the repository's
 * root (make test), or from anywhere with the binary below build/.
 */
#ifndef PRP_TESTS_LIB_REPO_H
#define PRP_TESTS_LIB_REPO_H

#include <stddef.h>

/* @rel under the repository root; fails the test when the root is not found. */
void repo_path(char *out, size_t len, const char *rel);

/*
 * Expects the repository file @rel to hold exactly @want (@len bytes): for
 * generated docs. With PRP_WRITE_DOCS set in the environment it first
 * writes @want there. @regen names the command that regenerates it.
 */
void expect_repo_file_is(const char *rel, const char *want, size_t len, const char *regen);

#endif
