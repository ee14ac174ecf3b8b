/* Whole reads and writes on pipes and sockets, for test helpers. */
#ifndef PRP_TESTS_LIB_FDIO_H
#define PRP_TESTS_LIB_FDIO_H

#include <stddef.h>

/* Reads exactly @n bytes. Returns 0, -EPIPE at end of file, or -errno. */
int fdio_read_exact(int fd, void *p, size_t n);
/* Writes exactly @n bytes. Returns 0 or -errno. */
int fdio_write_exact(int fd, const void *p, size_t n);

#endif
