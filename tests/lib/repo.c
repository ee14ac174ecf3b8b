#include "tests/lib/repo.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A file only the repository's root has. */
#define ROOT_MARK "common/config.c"

void repo_path(char *out, size_t len, const char *rel)
{
	char dir[PATH_MAX / 2]; /* room for @rel after it in @out */
	ssize_t n;

	snprintf(out, len, "%s", rel);
	if (!access(ROOT_MARK, F_OK))
		return;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	cr_assert_gt(n, 0);
	dir[n] = '\0';
	for (int up = 0; up < 8; up++) {
		char probe[PATH_MAX], *slash = strrchr(dir, '/');

		if (!slash || slash == dir)
			break;
		*slash = '\0';
		snprintf(probe, sizeof(probe), "%s/" ROOT_MARK, dir);
		if (!access(probe, F_OK)) {
			snprintf(out, len, "%s/%s", dir, rel);
			return;
		}
	}
	cr_assert_fail("cannot find the repository root from here");
}

void expect_repo_file_is(const char *rel, const char *want, size_t len, const char *regen)
{
	char path[PATH_MAX], *have;
	size_t havelen;
	FILE *f;

	repo_path(path, sizeof(path), rel);
	if (getenv("PRP_WRITE_DOCS")) {
		f = fopen(path, "w");
		cr_assert_not_null(f, "cannot write %s", path);
		fwrite(want, 1, len, f);
		fclose(f);
	}
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s is missing: run PRP_WRITE_DOCS=1 %s", path, regen);
	have = calloc(1, len + 2);
	cr_assert_not_null(have);
	havelen = fread(have, 1, len + 1, f);
	fclose(f);
	cr_expect(havelen == len && !memcmp(have, want, len),
		  "%s differs from what the code prints: rerun with PRP_WRITE_DOCS=1 %s", path, regen);
	free(have);
}
