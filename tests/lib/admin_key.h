/*
 * The admin key a prp-aggregator made at its first start (DESIGN.md:
 * DATA/admin.key), for the tests that run the daemon.
 */
#ifndef PRP_TESTS_LIB_ADMIN_KEY_H
#define PRP_TESTS_LIB_ADMIN_KEY_H

#include <stddef.h>

/* The key of data directory @data into @out (@cap bytes): 0, or -errno with @out "". */
int admin_key_read(const char *data, char *out, size_t cap);

#endif
