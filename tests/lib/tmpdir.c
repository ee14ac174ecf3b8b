/*
 * Temporary directories for tests (tmpdir.h).
 */
#include "tests/lib/tmpdir.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static int tmpdir_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

void tmpdir_make(char *dir, size_t cap, const char *what)
{
	snprintf(dir, cap, "/tmp/prp-test-%s-XXXXXX", what);
	cr_assert_not_null(mkdtemp(dir), "cannot make %s", dir);
}

void tmpdir_remove(char *dir)
{
	if (dir[0])
		nftw(dir, tmpdir_rm_one, 8, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}
