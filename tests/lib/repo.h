/*
 * Files of the repository from a test: the tests run from the repository's
 * root (make test), or from anywhere with the binary below build/.
 */
#ifndef PRP_TESTS_LIB_REPO_H
#define PRP_TESTS_LIB_REPO_H

#include <stddef.h>

/* @rel under the repository root; fails the test when the root is not found. */
void repo_path(char *out, size_t len, const char *rel);

#endif
