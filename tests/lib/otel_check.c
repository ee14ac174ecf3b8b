/*
 * OpenTelemetry's own check of an OTLP/HTTP JSON body: tests/node/otlp_check.mjs
 * (the protobuf schema of @opentelemetry/otlp-transformer, strictly; see the
 * script), run with node after tests/node/install.sh installed its packages.
 * Fails the calling test, saying why, when node or npm is missing.
 */
#include "tests/lib/otel_check.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/repo.h"

/* Runs @cmd, its output into @out; its exit status, or -1 when it did not exit. */
static int run(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	size_t n;
	int st;

	cr_assert_not_null(p, "cannot run %s", cmd);
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	while (fgetc(p) != EOF) /* the rest, so the child is never stopped by a full pipe */
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Checks @body with tests/node/otlp_check.mjs: its exit status (0: valid
 * OTLP), its message in @msg. Installs the packages first; fails the test,
 * saying why, when node or npm is missing or the install fails.
 */
int otel_check(const char *body, char *msg, size_t msglen)
{
	char install[PATH_MAX], script[PATH_MAX], cmd[3 * PATH_MAX];
	char file[] = "/tmp/prp-test-otlp-XXXXXX";
	size_t len = strlen(body);
	int fd, rc;

	repo_path(install, sizeof(install), "tests/node/install.sh");
	repo_path(script, sizeof(script), "tests/node/otlp_check.mjs");
	snprintf(cmd, sizeof(cmd), "sh '%s' 2>&1", install);
	rc = run(cmd, msg, msglen);
	cr_assert_eq(rc, 0, "the OpenTelemetry checker cannot be installed (%s): %s", cmd, msg);
	fd = mkstemp(file);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, body, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "node '%s' < '%s' 2>&1", script, file);
	rc = run(cmd, msg, msglen);
	unlink(file);
	cr_assert(rc == 0 || rc == 1, "%s exited %d: %s", cmd, rc, msg);
	return rc;
}

