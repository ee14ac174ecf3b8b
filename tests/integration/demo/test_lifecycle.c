/*
 * The demo service's whole life under valgrind: start, serve real requests
 * (including bad ones and chaos), SIGTERM. It must exit 0 with no memory
 * error and no leak.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"

TestSuite(lifecycle, .fini = test_no_leaks, .timeout = 180);

static void request(const char *method, int port, const char *path, const char *body, long expect)
{
	char url[128];
	struct buf resp;
	long status = 0;

	buf_init(&resp, 1 << 20);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	cr_assert_eq(http_call(method, url, body, &status, &resp, NULL), 0);
	cr_expect_eq(status, expect, "%s %s: %ld %s", method, path, status, buf_str(&resp));
	buf_release(&resp);
}

Test(lifecycle, demo_service_is_clean_under_valgrind_from_start_to_sigterm)
{
	struct proc p;
	const char *at;
	int port = 0;

	cr_assert_eq(
		proc_start(&p, (const char *const[]){ "/usr/bin/valgrind", "--leak-check=full",
						      "--errors-for-leak-kinds=definite,indirect",
						      "--error-exitcode=99", "--quiet",
						      PRP_BUILD_DIR "/prp-demo-service", "--name",
						      "users", "--port", "0", NULL }),
		0);
	cr_assert_eq(proc_wait_for(&p, "listening on http://", 60000), 0, "%s", buf_str(&p.err));
	at = strstr(buf_str(&p.err), "listening on http://");
	cr_assert_eq(sscanf(at, "listening on http://127.0.0.1:%d", &port), 1);

	request("GET", port, "/health", NULL, 200);
	request("GET", port, "/users/3", NULL, 200);
	request("GET", port, "/users?limit=5", NULL, 200);
	request("POST", port, "/users", "{\"name\": \"Ada\", \"email\": \"ada@example.com\"}", 201);
	request("POST", port, "/users", "{\"name\": ", 400);
	request("POST", port, "/users", "[1, 2]", 400);
	request("GET", port, "/users/abc", NULL, 400);
	request("DELETE", port, "/users", NULL, 405);
	request("GET", port, "/missing", NULL, 404);
	request("POST", port, "/chaos", "{\"leak_kb_per_req\": 64, \"error_rate\": 0}", 200);
	request("GET", port, "/users/4", NULL, 200);
	request("POST", port, "/chaos", "{\"error_rate\": 1}", 200);
	request("GET", port, "/users/4", NULL, 500);

	cr_assert_eq(proc_stop(&p, 60000), 0, "no exit after SIGTERM");
	cr_assert(WIFEXITED(p.status), "killed by a signal: %s", buf_str(&p.err));
	cr_assert_eq(WEXITSTATUS(p.status), 0, "exit %d: %s", WEXITSTATUS(p.status),
		     buf_str(&p.err));
	cr_assert_null(strstr(buf_str(&p.err), "definitely lost"), "%s", buf_str(&p.err));
	proc_release(&p);
}
