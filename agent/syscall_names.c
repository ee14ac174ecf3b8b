/*
 * Syscall and errno names. The syscall tables are generated (syscall_table.c
 * says how); errno names come from glibc, except for the kernel-internal
 * values, which no libc knows. Everything here is a bounds-checked index into
 * static data.
 */
#include "agent/syscall_names.h"

#include <stdio.h>
#include <string.h>

#include "agent/syscall_table.h"
#include "bpf/syscalls.h"

/* include/linux/errno.h: the values 512..531 the kernel keeps to itself */
#define KERNEL_ERRNO_FIRST 512
static const char *const kernel_errnos[] = {
	"ERESTARTSYS",		 /* 512 */
	"ERESTARTNOINTR",	 /* 513 */
	"ERESTARTNOHAND",	 /* 514 */
	"ENOIOCTLCMD",		 /* 515 */
	"ERESTART_RESTARTBLOCK", /* 516 */
	"EPROBE_DEFER",		 /* 517 */
	"EOPENSTALE",		 /* 518 */
	"ENOPARAM",		 /* 519 */
	NULL,			 /* 520 is unused */
	"EBADHANDLE",		 /* 521 */
	"ENOTSYNC",		 /* 522 */
	"EBADCOOKIE",		 /* 523 */
	"ENOTSUPP",		 /* 524 */
	"ETOOSMALL",		 /* 525 */
	"ESERVERFAULT",		 /* 526 */
	"EBADTYPE",		 /* 527 */
	"EJUKEBOX",		 /* 528 */
	"EIOCBQUEUED",		 /* 529 */
	"ERECALLCONFLICT",	 /* 530 */
	"ENOGRACE",		 /* 531 */
};

static const char *table_get(const char *const *table, size_t len, uint32_t nr)
{
	return nr < len ? table[nr] : NULL;
}

const char *syscall_names_lookup(uint32_t nr)
{
	return table_get(syscall_table_x86_64, syscall_table_x86_64_len, nr);
}

char *syscall_names_format(uint32_t nr, char *buf, size_t len)
{
	const char *prefix = "", *name;

	if (nr & SYSCALLS_NR_IA32) {
		nr &= ~SYSCALLS_NR_IA32;
		prefix = "ia32:";
		name = table_get(syscall_table_ia32, syscall_table_ia32_len, nr);
	} else if (nr & SYSCALLS_NR_X32) {
		/* x32 uses the x86_64 numbers, plus the bit (and its own 512..547) */
		nr &= ~SYSCALLS_NR_X32;
		prefix = "x32:";
		name = syscall_names_lookup(nr);
	} else {
		name = syscall_names_lookup(nr);
	}
	if (!len)
		return buf;
	if (name)
		snprintf(buf, len, "%s%s", prefix, name);
	else
		snprintf(buf, len, "%ssyscall_%u", prefix, nr);
	return buf;
}

const char *syscall_names_errno(int err)
{
	size_t i;

	if (err <= 0)
		return NULL;
	if (err >= KERNEL_ERRNO_FIRST) {
		i = (size_t)(err - KERNEL_ERRNO_FIRST);
		return i < sizeof(kernel_errnos) / sizeof(kernel_errnos[0]) ? kernel_errnos[i]
									    : NULL;
	}
	return strerrorname_np(err);
}

char *syscall_names_errno_format(int err, char *buf, size_t len)
{
	const char *name = syscall_names_errno(err);

	if (!len)
		return buf;
	if (err == 0)
		snprintf(buf, len, "other");
	else if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "E%d", err);
	return buf;
}
