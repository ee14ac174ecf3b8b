/*
 * agent/agent_config.c: the defaults, a file, flags over the file, the
 * repeatable --service, the checks beyond the table (selectors, excluded
 * ports, restart commands, the /metrics address), packaging/etc/agent.yaml, and
 * docs/config-agent.md, which must be
 * exactly what the table prints now. PRP_WRITE_DOCS=1 rewrites that file
 * instead of comparing it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_config.h"
#include "common/log.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/repo.h"

TestSuite(agent_config, .fini = test_no_leaks);

/* ---- helpers ---- */

/* Loads with the flags given (NULL-terminated), after the program name. */
static int load(struct agent_config *c, int *next, char *err, size_t errlen, ...)
{
	static char store[16][512];
	char *argv[17];
	int argc = 0;
	const char *arg;
	va_list ap;

	snprintf(store[argc], sizeof(store[argc]), "prp-agent");
	argv[argc] = store[argc];
	argc++;
	va_start(ap, errlen);
	while ((arg = va_arg(ap, const char *))) {
		cr_assert_lt(argc, 16);
		snprintf(store[argc], sizeof(store[argc]), "%s", arg);
		argv[argc] = store[argc];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;
	memset(c, 0, sizeof(*c));
	return agent_config_load(c, argc, argv, next, err, errlen);
}

static void write_tmp(char path[64], const char *content)
{
	FILE *f;
	int fd;

	snprintf(path, 64, "/tmp/prp-agent-config-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	fputs(content, f);
	fclose(f);
}

static void expect_defaults(const struct agent_config *c)
{
	cr_assert_str_eq(c->aggregator, "tcp://127.0.0.1:7070");
	cr_assert_eq(c->service.count, 0);
	cr_assert_eq(c->interval_ms, 1000);
	cr_assert_not(c->print);
	cr_assert_null(c->host);
	cr_assert_eq(c->log_level, LOG_LEVEL_INFO);
	cr_assert_str_eq(c->lock_file, "/run/prp-agent.lock");
	cr_assert_eq(c->discovery_refresh_ms, 1000);
	cr_assert_eq(c->discovery_exclude_ports.count, 0);
	cr_assert(c->samplers_http);
	cr_assert(c->samplers_syscalls);
	cr_assert(c->samplers_tcp);
	cr_assert_null(c->breaker_cgroup);
	cr_assert_eq(c->restart_command.count, 0);
	cr_assert_str_eq(c->metrics_listen, "");
	cr_assert_eq(c->metrics_series_per_service, 1000);
	cr_assert_not(c->print_spans);
	cr_assert_not(c->traces_enabled);
	cr_assert_eq(c->traces_sample_rate, 0.1);
	cr_assert_eq(c->traces_slow_ms, 500);
	cr_assert_eq(c->traces_max_spans_per_window, 10000);
	cr_assert_not(c->print_logs);
	cr_assert_not(c->logs_enabled);
	cr_assert_eq(c->logs_max_line, 16384);
	cr_assert_eq(c->logs_rate_limit, 1000);
	cr_assert_eq(c->logs_max_lines_per_window, 10000);
}

static const char full_yaml[] = "aggregator: tcp://10.0.0.5:7070\n"
				"service:\n"
				"  - orders=port:8001\n"
				"  - web=comm:nginx\n"
				"interval_ms: 5s\n"
				"print: true\n"
				"host: web-1\n"
				"log_level: debug\n"
				"lock_file: /tmp/x.lock\n"
				"discovery:\n"
				"  refresh_ms: 250ms\n"
				"  exclude_ports: [22, 9100]\n"
				"samplers:\n"
				"  http: false\n"
				"  syscalls: true\n"
				"  tcp: false\n"
				"breaker:\n"
				"  cgroup: /sys/fs/cgroup/unified/prp\n"
				"restart:\n"
				"  command:\n"
				"    - orders=/usr/local/bin/restart-orders --hard\n"
				"metrics:\n"
				"  listen: '[::1]:9464'\n"
				"  series_per_service: 50\n";

/* ---- tests ---- */

Test(agent_config, an_empty_file_leaves_every_default)
{
	struct agent_config c;
	char err[256] = "";
	int next = -1;

	cr_assert_eq(load(&c, &next, err, sizeof(err), "--config", "/dev/null", NULL), 0, "%s",
		     err);
	expect_defaults(&c);
	cr_assert_eq(next, 3);
	agent_config_release(&c);
}

Test(agent_config, defaults_hold_without_the_system_file)
{
	struct agent_config c;
	char err[256] = "";

	if (!access(AGENT_CONFIG_PATH, F_OK))
		cr_skip_test(AGENT_CONFIG_PATH " exists on this machine");
	cr_assert_eq(load(&c, NULL, err, sizeof(err), NULL), 0, "%s", err);
	expect_defaults(&c);
	agent_config_release(&c);
}

Test(agent_config, a_file_sets_every_key)
{
	struct agent_config c;
	char path[64], err[256] = "";

	write_tmp(path, full_yaml);
	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", path, NULL), 0, "%s", err);
	unlink(path);
	cr_assert_str_eq(c.aggregator, "tcp://10.0.0.5:7070");
	cr_assert_eq(c.service.count, 2);
	cr_assert_str_eq(c.service.items[0], "orders=port:8001");
	cr_assert_str_eq(c.service.items[1], "web=comm:nginx");
	cr_assert_eq(c.interval_ms, 5000);
	cr_assert(c.print);
	cr_assert_str_eq(c.host, "web-1");
	cr_assert_eq(c.log_level, LOG_LEVEL_DEBUG);
	cr_assert_str_eq(c.lock_file, "/tmp/x.lock");
	cr_assert_eq(c.discovery_refresh_ms, 250);
	cr_assert_eq(c.discovery_exclude_ports.count, 2);
	cr_assert_eq(agent_config_exclude_port(&c, 0), 22);
	cr_assert_eq(agent_config_exclude_port(&c, 1), 9100);
	cr_assert_eq(agent_config_exclude_port(&c, 2), 0);
	cr_assert_not(c.samplers_http);
	cr_assert(c.samplers_syscalls);
	cr_assert_not(c.samplers_tcp);
	cr_assert_str_eq(c.breaker_cgroup, "/sys/fs/cgroup/unified/prp");
	cr_assert_eq(c.restart_command.count, 1);
	cr_assert_str_eq(c.restart_command.items[0], "orders=/usr/local/bin/restart-orders --hard");
	cr_assert_str_eq(c.metrics_listen, "[::1]:9464");
	cr_assert_eq(c.metrics_series_per_service, 50);
	agent_config_release(&c);
}

Test(agent_config, flags_override_the_file)
{
	struct agent_config c;
	char path[64], err[256] = "";

	write_tmp(path, full_yaml);
	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--interval-ms", "2s", "--config", path,
			  "--aggregator=tcp://agg:7070", "--no-print", "--samplers-http",
			  "--log-level", "warn", "--discovery-refresh-ms", "500", NULL),
		     0, "%s", err);
	unlink(path);
	cr_assert_eq(c.interval_ms, 2000);
	cr_assert_str_eq(c.aggregator, "tcp://agg:7070");
	cr_assert_not(c.print);
	cr_assert(c.samplers_http);
	cr_assert_eq(c.log_level, LOG_LEVEL_WARN);
	cr_assert_eq(c.discovery_refresh_ms, 500);
	/* what no flag named comes from the file */
	cr_assert_str_eq(c.host, "web-1");
	cr_assert_eq(c.service.count, 2);
	cr_assert_not(c.samplers_tcp);
	agent_config_release(&c);
}

Test(agent_config, service_flag_repeats_and_replaces_the_files_list)
{
	struct agent_config c;
	char path[64], err[256] = "";
	int next = 0;

	write_tmp(path, full_yaml);
	cr_assert_eq(load(&c, &next, err, sizeof(err), "--config", path, "--service",
			  "users=port:8002", "--service=db=pid:42", "--print", "extra", NULL),
		     0, "%s", err);
	unlink(path);
	cr_assert_eq(c.service.count, 2);
	cr_assert_str_eq(c.service.items[0], "users=port:8002");
	cr_assert_str_eq(c.service.items[1], "db=pid:42");
	cr_assert(c.print);
	cr_assert_eq(next, 7, "stops at the first argument that is not an option");
	agent_config_release(&c);
}

Test(agent_config, bad_selector_is_an_error_and_leaves_the_defaults)
{
	struct agent_config c;
	char err[256] = "";

	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", "/dev/null", "--service",
			  "users=port:99999", "--interval-ms", "3s", NULL),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "users=port:99999"), "%s", err);
	cr_assert_not_null(strstr(err, "bad port"), "%s", err);
	expect_defaults(&c);
	agent_config_release(&c);
}

Test(agent_config, duplicate_service_names_are_an_error)
{
	struct agent_config c;
	char err[256] = "";

	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", "/dev/null", "--service",
			  "a=port:1", "--service", "a=comm:x", NULL),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "duplicate name 'a'"), "%s", err);
	agent_config_release(&c);
}

Test(agent_config, bad_excluded_port_is_an_error)
{
	struct agent_config c;
	char path[64], err[256] = "";

	write_tmp(path, "discovery:\n  exclude_ports: [22, ssh]\n");
	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", path, NULL), -EINVAL);
	unlink(path);
	cr_assert_not_null(strstr(err, "discovery.exclude_ports"), "%s", err);
	cr_assert_not_null(strstr(err, "'ssh'"), "%s", err);
	expect_defaults(&c);
	agent_config_release(&c);
}

Test(agent_config, bad_restart_command_is_an_error)
{
	struct agent_config c;
	char err[256] = "";

	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", "/dev/null", "--restart-command",
			  "orders=/bin/true", "--restart-command", "payments", NULL),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "restart.command"), "%s", err);
	cr_assert_not_null(strstr(err, "'payments'"), "%s", err);
	expect_defaults(&c);
	agent_config_release(&c);
}

Test(agent_config, metrics_listen_takes_ipv4_and_bracketed_ipv6_literals)
{
	static const char *const good[] = { "127.0.0.1:9464", "0.0.0.0:9464", "10.1.2.3:1",
					    "[::1]:9464",     "[::]:65535",   "[fe80::1]:9464" };
	static const char *const bad[] = { "nonsense",	      "localhost:9464", "::1:9464",
					   "127.0.0.1",	      "127.0.0.1:0",	"127.0.0.1:65536",
					   "127.0.0.1:",      ":9464",		"[::1]9464",
					   "[127.0.0.1]:9464", "[::1:9464",	"1.2.3.4:94x" };
	struct agent_config c;
	char err[256] = "";

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_expect_eq(load(&c, NULL, err, sizeof(err), "--config", "/dev/null",
				  "--metrics-listen", good[i], NULL),
			     0, "%s: %s", good[i], err);
		agent_config_release(&c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(load(&c, NULL, err, sizeof(err), "--config", "/dev/null",
				  "--metrics-listen", bad[i], NULL),
			     -EINVAL, "%s accepted", bad[i]);
		cr_expect_not_null(strstr(err, "metrics.listen"), "%s", err);
		cr_expect_not_null(strstr(err, bad[i]), "%s", err);
		expect_defaults(&c);
		agent_config_release(&c);
	}
	/* "" is the default: no /metrics */
	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", "/dev/null", "--metrics-listen",
			  "", NULL),
		     0, "%s", err);
	cr_assert_str_eq(c.metrics_listen, "");
	agent_config_release(&c);
}

Test(agent_config, out_of_range_and_unknown_keys_say_where)
{
	struct agent_config c;
	char path[64], err[256] = "";

	write_tmp(path, "print: true\ninterval_ms: 50ms\n");
	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", path, NULL), -ERANGE);
	cr_assert_not_null(strstr(err, ":2:"), "%s", err);
	cr_assert_not_null(strstr(err, "interval_ms"), "%s", err);
	agent_config_release(&c);
	unlink(path);

	write_tmp(path, "samplers:\n  dns: true\n");
	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", path, NULL), -EINVAL);
	cr_assert_not_null(strstr(err, "samplers.dns"), "%s", err);
	agent_config_release(&c);
	unlink(path);

	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", "/dev/null", "--log-level",
			  "loud", NULL),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "log-level"), "%s", err);
	agent_config_release(&c);
}

Test(agent_config, traces_keys_load_and_a_rate_above_one_is_refused)
{
	struct agent_config c;
	char path[64], err[256] = "";

	write_tmp(path, "print_spans: true\ntraces:\n  enabled: true\n  sample_rate: 0.25\n"
			"  slow_ms: 2s\n  max_spans_per_window: 64\n");
	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", path, NULL), 0, "%s", err);
	cr_expect(c.print_spans);
	cr_expect(c.traces_enabled);
	cr_expect_eq(c.traces_sample_rate, 0.25);
	cr_expect_eq(c.traces_slow_ms, 2000);
	cr_expect_eq(c.traces_max_spans_per_window, 64);
	agent_config_release(&c);
	unlink(path);

	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", "/dev/null",
			  "--traces-sample-rate", "1.5", NULL),
		     -ERANGE);
	cr_assert_not_null(strstr(err, "traces-sample-rate"), "%s", err);
	agent_config_release(&c);
}

Test(agent_config, missing_config_file_is_an_error)
{
	struct agent_config c;
	char err[256] = "";

	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", "/nonexistent/agent.yaml", NULL),
		     -ENOENT);
	cr_assert_not_null(strstr(err, "/nonexistent/agent.yaml"), "%s", err);
	agent_config_release(&c);
}

Test(agent_config, packaged_file_loads_and_states_the_defaults)
{
	struct agent_config c;
	char path[PATH_MAX], err[256] = "";

	repo_path(path, sizeof(path), "packaging/etc/agent.yaml");
	cr_assert_eq(load(&c, NULL, err, sizeof(err), "--config", path, NULL), 0, "%s", err);
	expect_defaults(&c);
	agent_config_release(&c);
}

Test(agent_config, help_lists_every_flag)
{
	static const char *const flags[] = {
		"--config FILE",
		"--aggregator STRING",
		"--service STRING",
		"--interval-ms",
		"--[no-]print",
		"--host STRING",
		"--log-level",
		"--lock-file",
		"--discovery-refresh-ms",
		"--discovery-exclude-ports",
		"--[no-]samplers-http",
		"--[no-]samplers-syscalls",
		"--[no-]samplers-tcp",
		"--breaker-cgroup STRING",
		"--restart-command STRING",
		"--metrics-listen STRING",
		"--metrics-series-per-service",
		"--[no-]print-spans",
		"--[no-]traces-enabled",
		"--traces-sample-rate",
		"--traces-slow-ms",
		"--traces-max-spans-per-window",
		"--[no-]print-logs",
		"--[no-]logs-enabled",
		"--logs-max-line",
		"--logs-rate-limit",
		"--logs-max-lines-per-window",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	agent_config_print_help(f);
	fclose(f);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		cr_expect_not_null(strstr(text, flags[i]), "--help lacks %s:\n%s", flags[i], text);
	free(text);
}

Test(agent_config, markdown_doc_is_what_the_table_prints)
{
	char *want = NULL;
	size_t wantlen = 0;
	FILE *f = open_memstream(&want, &wantlen);

	agent_config_write_markdown(f);
	fclose(f);
	expect_repo_file_is("docs/config-agent.md", want, wantlen, "build/tests/unit/agent/test_agent_config");
	free(want);
}
