/*
 * Syscall number -> name tables, generated from the kernel's uapi headers
 * into agent/syscall_table.c (which says how). Entries the headers do not
 * name are NULL. Use agent/syscall_names.h, which knows the ABIs.
 */
#ifndef PRP_AGENT_SYSCALL_TABLE_H
#define PRP_AGENT_SYSCALL_TABLE_H

#include <stddef.h>

/* x86_64 ABI: asm/unistd_64.h */
extern const char *const syscall_table_x86_64[];
extern const size_t syscall_table_x86_64_len;
/* i386 ABI, used by 32-bit processes: asm/unistd_32.h */
extern const char *const syscall_table_ia32[];
extern const size_t syscall_table_ia32_len;

#endif
