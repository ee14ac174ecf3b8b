/*
 * prp-agent's key table and the checks it cannot express. The table is the
 * one description of the agent's settings: the YAML keys, the flags, --help
 * and docs/config-agent.md all come from it, so they cannot disagree.
 */
#include "agent/agent_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/discovery.h"
#include "agent/metrics_http.h"
#include "agent/restart.h"
#include "common/log.h"
#include "common/strparse.h"

/* log_level is an index into this list: keep it in enum log_level's order. */
static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
_Static_assert(LOG_LEVEL_DEBUG == 0 && LOG_LEVEL_INFO == 1 && LOG_LEVEL_WARN == 2 &&
		       LOG_LEVEL_ERROR == 3,
	       "log_levels[] follows enum log_level");

static const struct cfg_key agent_keys[] = {
	CFG_STR("aggregator", struct agent_config, aggregator, "tcp://127.0.0.1:7070",
		"where windows are sent: the aggregator's nanomsg ingest address; \"\" sends nothing"),
	CFG_STR("agent_id", struct agent_config, agent_id, NULL,
		"this agent's id on the aggregator, 1-63 of [A-Za-z0-9._-]; none: the host name"),
	CFG_STR("tenant", struct agent_config, tenant, "default",
		"the tenant this agent's services belong to"),
	CFG_STR("key_file", struct agent_config, key_file, "/etc/prp/agent.key",
		"the secret frames are signed with (at least 16 bytes); the aggregator holds the "
		"same one under KEYS_DIR/TENANT/tenant.key or KEYS_DIR/TENANT/agents/ID.key"),
	CFG_STR("spool.dir", struct agent_config, spool_dir, "/var/lib/prp/spool",
		"where frames wait until the aggregator acknowledges them"),
	CFG_SIZE("spool.max_bytes", struct agent_config, spool_max_bytes, 256ull << 20, 1ull << 20,
		 1ull << 40, "the spool's bound; past it the oldest frames are dropped, and counted"),
	CFG_LIST("service", struct agent_config, service, NULL,
		 "a service to watch, NAME=port:N, NAME=comm:NAME, NAME=cgroup:PATH or NAME=pid:N; "
		 "none: every process listening on TCP is a service, named after its program"),
	CFG_MS("interval_ms", struct agent_config, interval_ms, 1000, 100, 60000,
	       "length of one window"),
	CFG_BOOL("print", struct agent_config, print, false,
		 "also write each closed window as one JSON line on stdout"),
	CFG_BOOL("print_logs", struct agent_config, print_logs, false,
		 "also write each captured log line as one JSON line on stdout: {\"ts\", \"host\", "
		 "\"service\", \"stream\", \"line\"}"),
	CFG_BOOL("print_spans", struct agent_config, print_spans, false,
		 "also write each finished span as one JSON line on stdout (the line with a "
		 "\"trace_id\"); needs traces.enabled"),
	CFG_STR("host", struct agent_config, host, NULL,
		"host name sent with every window; none: the system's host name"),
	CFG_ENUM("log_level", struct agent_config, log_level, LOG_LEVEL_INFO, log_levels,
		 "the least important messages logged"),
	CFG_STR("lock_file", struct agent_config, lock_file, "/run/prp-agent.lock",
		"lock that keeps a second agent from running on this host"),
	CFG_MS("discovery.refresh_ms", struct agent_config, discovery_refresh_ms, 1000, 100, 60000,
	       "how often services are looked up in /proc"),
	CFG_LIST("discovery.exclude_ports", struct agent_config, discovery_exclude_ports, NULL,
		 "listening ports automatic discovery ignores, such as 22"),
	CFG_BOOL("samplers.http", struct agent_config, samplers_http, true,
		 "count and time HTTP/1.x requests and outbound calls"),
	CFG_BOOL("samplers.syscalls", struct agent_config, samplers_syscalls, true,
		 "count and time system calls, with their errors"),
	CFG_MS("samplers.syscalls_sample_ms", struct agent_config, samplers_syscalls_sample_ms,
	       100, 0, 60000,
	       "watch system calls during this much of each window only, and scale the counts up: "
	       "attached syscall hooks slow every process on the host; 0 watches all the time "
	       "(exact counts, see docs/agent.md for the cost)"),
	CFG_BOOL("samplers.tcp", struct agent_config, samplers_tcp, true,
		 "count TCP retransmits, resets and failed connects"),
	CFG_BOOL("logs.enabled", struct agent_config, logs_enabled, false,
		 "capture what the watched services write to stdout and stderr, line by line, and "
		 "send it with their windows (the aggregator pushes it to Loki); off by default: "
		 "every write(2) on the host pays for the hook, see docs/agent.md"),
	CFG_SIZE("logs.max_line", struct agent_config, logs_max_line, 16384, 256, 65536,
		 "a line longer than this goes out in pieces of this many bytes"),
	CFG_UINT("logs.rate_limit", struct agent_config, logs_rate_limit, 1000, 0, 1000000,
		 "lines per second a service may log, with a second's worth of burst; past it "
		 "lines are dropped and counted; 0: no limit"),
	CFG_UINT("logs.max_lines_per_window", struct agent_config, logs_max_lines_per_window,
		 10000, 1, 65536,
		 "lines one window of one service carries at most; past it lines are dropped and "
		 "counted"),
	CFG_BOOL("traces.enabled", struct agent_config, traces_enabled, false,
		 "HTTP spans: a server span per request a watched service answers, a client span "
		 "per call it makes, linked into traces (docs/agent.md, Spans); needs samplers.http"),
	CFG_DOUBLE("traces.sample_rate", struct agent_config, traces_sample_rate, 0.1, 0, 1,
		   "the fraction of traces kept, chosen by trace id as the aggregator's OTLP "
		   "exporter chooses; traces with an error (status 500 or more) or a slow span, "
		   "and traces whose incoming traceparent header says sampled, are always kept"),
	CFG_MS("traces.slow_ms", struct agent_config, traces_slow_ms, 500, 0, 3600000,
	       "a trace with a span longer than this is always kept; 0: no such rule"),
	CFG_UINT("traces.max_spans_per_window", struct agent_config, traces_max_spans_per_window,
		 10000, 1, 1000000,
		 "spans kept per window at most; past it whole traces are dropped, and counted"),
	CFG_STR("breaker.cgroup", struct agent_config, breaker_cgroup, NULL,
		"the cgroup v2 directory the circuit breakers cover (every process in it and "
		"below); none: /sys/fs/cgroup/unified, else /sys/fs/cgroup, that is every process "
		"of the host"),
	CFG_LIST("restart.command", struct agent_config, restart_command, NULL,
		 "how the restart command restarts a service, SERVICE=PROGRAM [ARG]... (split at "
		 "spaces, no shell); a service with none: systemctl restart SERVICE.service"),
	CFG_STR("metrics.listen", struct agent_config, metrics_listen, "",
		"serve the agent's own Prometheus /metrics on this ADDRESS:PORT, an IPv4 address or "
		"an IPv6 one in brackets: 127.0.0.1:9464 (OpenTelemetry's Prometheus port), "
		"[::1]:9464, 0.0.0.0:9464; no authentication, so bind it to a node-local address "
		"or firewall it; \"\" serves nothing"),
	CFG_UINT("metrics.series_per_service", struct agent_config, metrics_series_per_service,
		 1000, 1, 1000000,
		 "HTTP series (server and client together) the local /metrics keeps per service; "
		 "past it, new ones are counted in the service's overflow series"),
	CFG_END,
};

static int check_exclude_ports(const struct agent_config *c, char *err, size_t errlen)
{
	uint64_t port;

	for (size_t i = 0; i < c->discovery_exclude_ports.count; i++) {
		const char *item = c->discovery_exclude_ports.items[i];

		if (strparse_u64(item, 1, 65535, &port)) {
			snprintf(err, errlen,
				 "key 'discovery.exclude_ports': bad port '%.20s' (want 1..65535)",
				 item);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_metrics_listen(const struct agent_config *c, char *err, size_t errlen)
{
	struct sockaddr_storage addr;
	char why[192];

	if (!c->metrics_listen || !*c->metrics_listen)
		return 0;
	if (metrics_http_parse_address(c->metrics_listen, &addr, why, sizeof(why))) {
		snprintf(err, errlen, "key 'metrics.listen': %s", why);
		return -EINVAL;
	}
	return 0;
}

int agent_config_load(struct agent_config *c, int argc, char **argv, int *next_arg, char *err,
		      size_t errlen)
{
	int ret = cfg_load(agent_keys, c, argc, argv, AGENT_CONFIG_PATH, next_arg, err, errlen);

	if (ret)
		return ret;
	ret = discovery_check_selectors((const char *const *)c->service.items, c->service.count,
					err, errlen);
	if (!ret)
		ret = check_exclude_ports(c, err, errlen);
	if (!ret)
		ret = restart_check_commands((const char *const *)c->restart_command.items,
					     c->restart_command.count, err, errlen);
	if (!ret)
		ret = check_metrics_listen(c, err, errlen);
	if (ret) {
		/* as cfg_load() leaves it on error: the defaults */
		cfg_release(agent_keys, c);
		cfg_defaults(agent_keys, c);
	}
	return ret;
}

void agent_config_release(struct agent_config *c)
{
	cfg_release(agent_keys, c);
}

uint16_t agent_config_exclude_port(const struct agent_config *c, size_t i)
{
	uint64_t port = 0;

	if (i >= c->discovery_exclude_ports.count ||
	    strparse_u64(c->discovery_exclude_ports.items[i], 1, 65535, &port))
		return 0;
	return (uint16_t)port;
}

void agent_config_print_help(FILE *f)
{
	cfg_print_help(agent_keys, f);
}

void agent_config_write_markdown(FILE *f)
{
	fputs("# prp-agent configuration\n"
	      "\n"
	      "<!-- Generated from the key table in agent/agent_config.c by\n"
	      "     agent_config_write_markdown(); tests/unit/agent/test_agent_config.c fails when\n"
	      "     this file differs. To regenerate it:\n"
	      "     PRP_WRITE_DOCS=1 build/tests/unit/agent/test_agent_config -->\n"
	      "\n"
	      "prp-agent reads its settings in this order, each step overriding the one before:\n"
	      "\n"
	      "1. the defaults below;\n"
	      "2. `" AGENT_CONFIG_PATH "` when it exists, or the file given with `--config FILE`\n"
	      "   (which must exist);\n"
	      "3. the command-line flags.\n"
	      "\n"
	      "A dotted key is a nested mapping in YAML: `discovery.refresh_ms` is written\n"
	      "\n"
	      "```yaml\n"
	      "discovery:\n"
	      "  refresh_ms: 500ms\n"
	      "```\n"
	      "\n"
	      "and its flag is `--discovery-refresh-ms 500ms`. Durations take a unit (`500ms`,\n"
	      "`2s`); a bare number is in milliseconds. A boolean flag alone means true, and\n"
	      "`--no-FLAG` means false. A list flag such as `--service` may be repeated: the\n"
	      "flags replace the file's list. `packaging/etc/agent.yaml` lists every key with\n"
	      "its default.\n"
	      "\n"
	      "`--check-config` loads the configuration, prints `configuration OK` or the\n"
	      "error, and exits; `--help` lists the flags.\n"
	      "\n"
	      "## Keys\n"
	      "\n",
	      f);
	cfg_write_markdown(agent_keys, f);
	fputs("\n"
	      "## Services\n"
	      "\n"
	      "Each `service` is `NAME=KIND:VALUE`. NAME is 1 to 63 of `A-Z a-z 0-9 . _ -`;\n"
	      "KIND is one of:\n"
	      "\n"
	      "| Selector | Selects |\n"
	      "| --- | --- |\n"
	      "| `port:8001` | the processes holding a listening TCP socket on the port, IPv4 or IPv6 |\n"
	      "| `comm:NAME` | the processes whose `/proc/PID/comm` is NAME (at most 15 bytes) |\n"
	      "| `cgroup:PATH` | the processes whose cgroup v2 path is PATH or below it |\n"
	      "| `pid:N` | that process |\n"
	      "\n"
	      "A process belongs to the first service that selects it, and the agent to none.\n"
	      "A selected service is reported even while no process matches it, so that it\n"
	      "keeps its id. With no `service`, every group of processes sharing listening\n"
	      "TCP sockets is a service, named after its program's file name; two different\n"
	      "services of the same name get their lowest port as a suffix\n"
	      "(`prp-demo-service-8001`). Listening sockets are read from `/proc/net/tcp`,\n"
	      "that is in the agent's network namespace only.\n"
	      "\n"
	      "## Remediation\n"
	      "\n"
	      "The aggregator's commands (docs/remediation.md) use two keys. `breaker.cgroup`\n"
	      "narrows the circuit breakers to the processes of one cgroup v2 directory; by\n"
	      "default they cover the whole host. Each `restart.command` says how the\n"
	      "`restart` command restarts one service:\n"
	      "\n"
	      "```yaml\n"
	      "restart:\n"
	      "  command:\n"
	      "    - payments=/usr/local/bin/restart-payments --graceful\n"
	      "    - orders=systemctl restart orders-v2.service\n"
	      "```\n"
	      "\n"
	      "The text after `=` is split at spaces and tabs into the program (looked up\n"
	      "in `PATH`) and its arguments, and run without a shell: no quoting, no\n"
	      "variables, no pipes; put those in a script and name the script. A service\n"
	      "with no entry is restarted with `systemctl restart SERVICE.service`.\n"
	      "\n"
	      "## Local /metrics\n"
	      "\n"
	      "With `metrics.listen` set, the agent serves its own counters at\n"
	      "`GET /metrics` in the Prometheus text format, for a Prometheus that scrapes\n"
	      "each node (docs/agent.md, \"Local /metrics\"):\n"
	      "\n"
	      "```yaml\n"
	      "metrics:\n"
	      "  listen: 127.0.0.1:9464\n"
	      "```\n"
	      "\n"
	      "9464 is the port OpenTelemetry's Prometheus exporters use. The address is an\n"
	      "IPv4 literal or an IPv6 one in brackets (`[::1]:9464`); no host names. The\n"
	      "endpoint has no authentication: keep it on loopback, or on a node-local\n"
	      "address that only the scraper can reach (`0.0.0.0:9464` plus a firewall\n"
	      "rule, when Prometheus runs on another host). A port that cannot be bound\n"
	      "stops the agent at start.\n",
	      f);
}
