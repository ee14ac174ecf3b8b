/*
 * Allocation that cannot fail: on exhaustion it logs and aborts (STYLE.md §4).
 * prp bounds its inputs instead of handling out-of-memory.
 */
#ifndef PRP_COMMON_ALLOC_H
#define PRP_COMMON_ALLOC_H

#include <stddef.h>

#include "common/compiler.h"

/* Each returns memory the caller owns: free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
/* Like realloc(); @nmemb * @size is checked for overflow. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) PRP_PRINTF(1, 2);

#endif
