#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo/cli.h"
#include "tests/lib/leakcheck.h"

TestSuite(cli, .fini = test_no_leaks);

static char err[256];

/* Parses a NULL-terminated argument list (the program name is added). */
static int parse_argv(struct cli_options *o, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)(uintptr_t) "prp-demo-service";
	while (*args)
		argv[argc++] = (char *)(uintptr_t)*args++;
	argv[argc] = NULL;
	err[0] = '\0';
	return cli_parse(argc, argv, o, err, sizeof(err));
}

#define PARSE(o, ...) parse_argv((o), (const char *const[]){ __VA_ARGS__, NULL })

Test(cli, users_needs_only_name_and_port)
{
	struct cli_options o;

	cr_assert_eq(PARSE(&o, "--name", "users", "--port", "8002"), 0, "%s", err);
	cr_assert_eq(o.role, SHOP_USERS);
	cr_assert_eq(o.port, 8002);
	cr_assert_str_eq(o.bind, "127.0.0.1");
	cr_assert_eq(o.log_level, LOG_LEVEL_INFO);
	cr_assert_not(o.help);
}

Test(cli, port_zero_is_allowed)
{
	struct cli_options o;

	cr_assert_eq(PARSE(&o, "--name", "payments", "--port", "0"), 0, "%s", err);
	cr_assert_eq(o.port, 0);
}

Test(cli, orders_takes_its_two_calls)
{
	struct cli_options o;

	cr_assert_eq(PARSE(&o, "--name", "orders", "--port", "8001", "--call",
			   "users=http://127.0.0.1:8002", "--call=payments=http://127.0.0.1:8003"),
		     0, "%s", err);
	cr_assert_str_eq(cli_call_url(&o, "users"), "http://127.0.0.1:8002");
	cr_assert_str_eq(cli_call_url(&o, "payments"), "http://127.0.0.1:8003");
	cr_assert_null(cli_call_url(&o, "user"));
}

Test(cli, orders_without_both_calls_is_an_error)
{
	struct cli_options o;

	cr_assert_eq(PARSE(&o, "--name", "orders", "--port", "1"), -EINVAL);
	cr_assert_not_null(strstr(err, "--call users="), "%s", err);
	cr_assert_eq(PARSE(&o, "--name", "orders", "--port", "1", "--call", "users=http://h:1"),
		     -EINVAL);
}

Test(cli, takes_the_equals_form_bind_and_log_level)
{
	struct cli_options o;

	cr_assert_eq(PARSE(&o, "--name=users", "--port=9", "--bind=0.0.0.0", "--log-level=debug"),
		     0, "%s", err);
	cr_assert_str_eq(o.bind, "0.0.0.0");
	cr_assert_eq(o.log_level, LOG_LEVEL_DEBUG);
	cr_assert_eq(PARSE(&o, "--name", "users", "--port", "9", "--bind", "::1"), 0, "%s", err);
	cr_assert_str_eq(o.bind, "::1");
}

Test(cli, help_wins)
{
	struct cli_options o;

	cr_assert_eq(PARSE(&o, "--help"), 0);
	cr_assert(o.help);
	cr_assert_eq(PARSE(&o, "--name", "users", "-h"), 0);
	cr_assert(o.help);
}

Test(cli, refuses_bad_flags_with_a_message)
{
	struct cli_options o;

	cr_assert_eq(PARSE(&o, "--port", "1"), -EINVAL);
	cr_assert_str_eq(err, "--name is required");
	cr_assert_eq(PARSE(&o, "--name", "users"), -EINVAL);
	cr_assert_str_eq(err, "--port is required");
	cr_assert_eq(PARSE(&o, "--name", "shop", "--port", "1"), -EINVAL);
	cr_assert_not_null(strstr(err, "'shop'"), "%s", err);
	cr_assert_eq(PARSE(&o, "--name", "users", "--port", "65536"), -EINVAL);
	cr_assert_eq(PARSE(&o, "--name", "users", "--port", "-1"), -EINVAL);
	cr_assert_eq(PARSE(&o, "--name", "users", "--port", "http"), -EINVAL);
	cr_assert_eq(PARSE(&o, "--name", "users", "--port"), -EINVAL);
	cr_assert_str_eq(err, "--port needs a value");
	cr_assert_eq(PARSE(&o, "--name", "users", "--port", "1", "--verbose"), -EINVAL);
	cr_assert_str_eq(err, "unknown flag '--verbose'");
	cr_assert_eq(PARSE(&o, "--name", "users", "--port", "1", "extra"), -EINVAL);
	cr_assert_eq(PARSE(&o, "--name", "users", "--port", "1", "--bind", "localhost"), -EINVAL);
	cr_assert_eq(PARSE(&o, "--name", "users", "--port", "1", "--log-level", "loud"), -EINVAL);
}

Test(cli, refuses_bad_calls)
{
	static const char *const bad[] = {
		"users",
		"=http://h:1",
		"users=",
		"users=ftp://h:1",
		"users=http://",
		"users=http:// h",
		"orders=http://h:1",
		"shop=http://h:1",
	};
	struct cli_options o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(PARSE(&o, "--name", "users", "--port", "1", "--call", bad[i]), -EINVAL,
			     "%s accepted", bad[i]);
	cr_assert_eq(PARSE(&o, "--name", "orders", "--port", "1", "--call", "users=http://a:1",
			   "--call", "users=http://b:1", "--call", "payments=http://c:1"),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "twice"), "%s", err);
}

Test(cli, usage_lists_every_flag)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cli_usage(f);
	fclose(f);
	for (const char *const *flag =
		     (const char *const[]){ "--name", "--port", "--bind", "--call", "--log-level",
					    "--help", NULL };
	     *flag; flag++)
		cr_assert_not_null(strstr(text, *flag), "%s missing", *flag);
	free(text);
}
