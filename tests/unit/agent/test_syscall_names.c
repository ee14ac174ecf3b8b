/*
 * agent/syscall_names.c and its generated tables: numbers against libc's
 * SYS_* constants, the ABI prefixes, numbers past the tables, errno names from
 * glibc and from the kernel's internal range, and truncation.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#include "agent/syscall_names.h"
#include "agent/syscall_table.h"
#include "bpf/syscalls.h"
#include "tests/lib/leakcheck.h"

TestSuite(syscall_names, .fini = test_no_leaks);

static const char *fmt(uint32_t nr)
{
	static char buf[SYSCALL_NAMES_MAX];

	return syscall_names_format(nr, buf, sizeof(buf));
}

static const char *efmt(int err)
{
	static char buf[SYSCALL_NAMES_MAX];

	return syscall_names_errno_format(err, buf, sizeof(buf));
}

Test(syscall_names, agree_with_the_libc_numbers)
{
	static const struct {
		uint32_t nr;
		const char *name;
	} known[] = {
		{ SYS_read, "read" },
		{ SYS_write, "write" },
		{ SYS_open, "open" },
		{ SYS_close, "close" },
		{ SYS_getpid, "getpid" },
		{ SYS_getppid, "getppid" },
		{ SYS_recvfrom, "recvfrom" },
		{ SYS_sendmsg, "sendmsg" },
		{ SYS_epoll_wait, "epoll_wait" },
		{ SYS_exit_group, "exit_group" },
		{ SYS_openat, "openat" },
		{ SYS_rseq, "rseq" },
		{ SYS_pidfd_send_signal, "pidfd_send_signal" },
		{ SYS_io_uring_enter, "io_uring_enter" },
		{ SYS_clone3, "clone3" },
		{ SYS_futex_waitv, "futex_waitv" },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		cr_expect_str_eq(syscall_names_lookup(known[i].nr), known[i].name, "nr %u",
				 known[i].nr);
		cr_expect_str_eq(fmt(known[i].nr), known[i].name);
	}
}

Test(syscall_names, tables_cover_the_headers_without_duplicates)
{
	size_t named = 0;

	cr_expect_geq(syscall_table_x86_64_len, 451);
	cr_expect_geq(syscall_table_ia32_len, 451);
	for (size_t i = 0; i < syscall_table_x86_64_len; i++) {
		if (!syscall_table_x86_64[i])
			continue;
		named++;
		for (size_t j = 0; j < i; j++)
			cr_expect(!syscall_table_x86_64[j] ||
					  strcmp(syscall_table_x86_64[i], syscall_table_x86_64[j]),
				  "%s twice", syscall_table_x86_64[i]);
	}
	/* 0..334 and 424..450 in the 6.1 headers */
	cr_expect_geq(named, 362);
}

Test(syscall_names, unknown_numbers_get_a_numbered_name)
{
	/* the gap between rseq (334) and pidfd_send_signal (424) */
	cr_expect_null(syscall_names_lookup(335));
	cr_expect_str_eq(fmt(335), "syscall_335");
	cr_expect_null(syscall_names_lookup((uint32_t)syscall_table_x86_64_len));
	cr_expect_null(syscall_names_lookup(UINT32_MAX));
	cr_expect_str_eq(fmt(100000), "syscall_100000");
}

Test(syscall_names, prefix_the_other_abis)
{
	/* i386: 1 exit, 3 read, 20 getpid, 64 getppid */
	cr_expect_str_eq(fmt(SYSCALLS_NR_IA32 | 1), "ia32:exit");
	cr_expect_str_eq(fmt(SYSCALLS_NR_IA32 | 3), "ia32:read");
	cr_expect_str_eq(fmt(SYSCALLS_NR_IA32 | 64), "ia32:getppid");
	cr_expect_str_eq(fmt(SYSCALLS_NR_IA32 | 99999), "ia32:syscall_99999");
	/* x32: the x86_64 numbers plus bit 30 */
	cr_expect_str_eq(fmt(SYSCALLS_NR_X32 | SYS_read), "x32:read");
	cr_expect_null(syscall_names_lookup(SYSCALLS_NR_X32 | SYS_read));
}

Test(syscall_names, truncate_and_terminate)
{
	char buf[4] = "zzz";

	cr_expect_str_eq(syscall_names_format(SYS_getppid, buf, sizeof(buf)), "get");
	memcpy(buf, "zzz", 4);
	syscall_names_format(SYS_read, buf, 0);
	cr_expect_str_eq(buf, "zzz");
	cr_expect_str_eq(syscall_names_errno_format(ENOENT, buf, sizeof(buf)), "ENO");
	memcpy(buf, "zzz", 4);
	syscall_names_errno_format(ENOENT, buf, 0);
	cr_expect_str_eq(buf, "zzz");
}

Test(syscall_names, name_errnos_from_libc_and_the_kernel)
{
	cr_expect_str_eq(syscall_names_errno(EBADF), "EBADF");
	cr_expect_str_eq(syscall_names_errno(ENOENT), "ENOENT");
	cr_expect_str_eq(syscall_names_errno(EAGAIN), "EAGAIN");
	cr_expect_str_eq(syscall_names_errno(EHWPOISON), "EHWPOISON");
	cr_expect_str_eq(syscall_names_errno(512), "ERESTARTSYS");
	cr_expect_str_eq(syscall_names_errno(516), "ERESTART_RESTARTBLOCK");
	cr_expect_str_eq(syscall_names_errno(524), "ENOTSUPP");
	cr_expect_str_eq(syscall_names_errno(531), "ENOGRACE");
	cr_expect_null(syscall_names_errno(520));
	cr_expect_null(syscall_names_errno(532));
	cr_expect_null(syscall_names_errno(SYSCALLS_MAX_ERRNO));
	cr_expect_null(syscall_names_errno(0));
	cr_expect_null(syscall_names_errno(-EBADF));
}

Test(syscall_names, format_every_errno_distinctly)
{
	cr_expect_str_eq(efmt(EBADF), "EBADF");
	cr_expect_str_eq(efmt(512), "ERESTARTSYS");
	cr_expect_str_eq(efmt(520), "E520");
	cr_expect_str_eq(efmt(4000), "E4000");
	cr_expect_str_eq(efmt(0), "other");
}
