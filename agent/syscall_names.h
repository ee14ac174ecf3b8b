/*
 * Names for what bpf/syscalls.bpf.c counts: syscall numbers as they appear in
 * struct syscall_key (x86_64 numbers, SYSCALLS_NR_IA32 for i386 ones, the x32
 * bit for x32 ones) and errno values. Pure functions on static tables; any
 * thread may call them.
 */
#ifndef PRP_AGENT_SYSCALL_NAMES_H
#define PRP_AGENT_SYSCALL_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* Longest name syscall_names_format() writes, with its NUL. */
#define SYSCALL_NAMES_MAX 32

/*
 * The name of x86_64 syscall @nr ("read"), or NULL when the table does not
 * know it (a number past the headers it was generated from, or one with an
 * ABI bit set). Borrowed: static storage.
 */
const char *syscall_names_lookup(uint32_t nr);

/*
 * Writes a printable name for @nr, a syscall_key.nr, into @buf (@len bytes,
 * truncated and always terminated when @len > 0): "read" for x86_64,
 * "ia32:read" and "x32:read" for the other ABIs, and "syscall_451" (with the
 * ABI prefix) for a number the tables do not name. Returns @buf.
 */
char *syscall_names_format(uint32_t nr, char *buf, size_t len);

/*
 * The symbolic name of positive errno @err ("EBADF"): glibc's
 * strerrorname_np(), plus the kernel-internal values 512..531 of
 * include/linux/errno.h, which a sys_exit hook sees and user space mostly
 * does not: ERESTARTSYS and its kin when a signal interrupts a syscall that
 * is then restarted, ENOTSUPP (524) when a driver leaks it. NULL when
 * unknown. Borrowed: static storage.
 */
const char *syscall_names_errno(int err);

/*
 * Writes a printable name for @err into @buf as syscall_names_format() does:
 * the symbolic name, "E<number>" when there is none, and "other" for 0
 * (struct window_errno's bucket for errnos past WINDOW_ERRNOS_MAX). Returns @buf.
 */
char *syscall_names_errno_format(int err, char *buf, size_t len);

#endif
