/*
 * Attributes used across prp. Kept in one tiny header so that every module
 * spells them the same way; it includes nothing.
 */
#ifndef PRP_COMMON_COMPILER_H
#define PRP_COMMON_COMPILER_H

/* A fallible API: ignoring its result is a bug (STYLE.md §4). */
#define PRP_MUST_CHECK __attribute__((warn_unused_result))
/* printf-style checking for the function's format argument @f, varargs at @a. */
#define PRP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PRP_NORETURN __attribute__((noreturn))
#define PRP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
