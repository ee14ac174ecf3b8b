/*
 * prp-agent's configuration: the struct and its key table (agent_config.c),
 * which common/config.c turns into the YAML file's keys, the flags, --help
 * and docs/config-agent.md (STYLE.md §7). Load order: defaults, then
 * AGENT_CONFIG_PATH when it exists or the --config file, then the flags.
 *
 * Threads: a struct agent_config belongs to the thread that loads it; the
 * functions here have no state of their own.
 */
#ifndef PRP_AGENT_AGENT_CONFIG_H
#define PRP_AGENT_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/compiler.h"
#include "common/config.h"

/* Read when it exists and no --config is given. */
#define AGENT_CONFIG_PATH "/etc/prp/agent.yaml"

/* Each field is one key of the table; strings and lists are owned by the struct. */
struct agent_config {
	char *aggregator;	 /* nanomsg address of the aggregator's ingest; "" sends nothing */
	char *agent_id;		 /* NULL: the host name */
	char *tenant;
	char *key_file;		 /* common/keyfile.h */
	char *spool_dir;	 /* agent/spool.h */
	uint64_t spool_max_bytes;
	struct cfg_list service; /* "NAME=KIND:VALUE" (agent/discovery.h); empty: automatic */
	uint64_t interval_ms;	 /* length of one window */
	bool print;		 /* write each closed window as a JSON line on stdout */
	bool print_logs;	 /* write each captured log line as a JSON line on stdout */
	bool print_spans;	 /* write each finished span as a JSON line on stdout */
	char *host;		 /* sent with every window; NULL: gethostname() */
	int log_level;		 /* enum log_level */
	char *lock_file;	 /* agent/instance.h */
	uint64_t discovery_refresh_ms;
	struct cfg_list discovery_exclude_ports; /* decimal ports, checked by the loader */
	bool samplers_http;
	bool samplers_syscalls;
	uint64_t samplers_syscalls_sample_ms; /* agent/sampler_syscalls.h: sampling */
	bool samplers_tcp;
	bool logs_enabled;		    /* agent/sampler_logs.h */
	uint64_t logs_max_line;		    /* bytes */
	uint64_t logs_rate_limit;	    /* lines/s per service; 0: none */
	uint64_t logs_max_lines_per_window; /* per service */
	bool traces_enabled;		      /* HTTP spans (agent/spans.h) */
	double traces_sample_rate;	      /* of traces kept, 0..1 */
	uint64_t traces_slow_ms;	      /* a trace with a longer span is kept; 0: no rule */
	uint64_t traces_max_spans_per_window; /* spans emitted per window at most */
	char *breaker_cgroup;		 /* NULL: agent/remediation.h's default */
	struct cfg_list restart_command; /* "SERVICE=PROGRAM [ARG]..." (agent/restart.h) */
	char *metrics_listen; /* ADDRESS:PORT of the local /metrics (agent/metrics_http.h); "": off */
	uint64_t metrics_series_per_service; /* agent/node_metrics.h: the HTTP series cap */
};

/*
 * Fills @c (fresh, or emptied by agent_config_release()): defaults, then
 * AGENT_CONFIG_PATH if it exists or the file of --config FILE (which must),
 * then the flags in @argv[1..@argc-1], which win (common/config.h,
 * cfg_load()). Also checks what the table cannot: each `service` selector
 * (discovery_check_selectors()), each `discovery.exclude_ports` item, each
 * `restart.command` entry (restart_check_commands()) and `metrics.listen`
 * (metrics_http_parse_address()).
 * Sets *@next_arg (may be NULL) to the index of the first argument that is
 * not an option. Returns 0, or a negative errno with a message in @err
 * naming the file, line and key, or the flag; @c then holds the defaults.
 * Either way @c must be released with agent_config_release().
 */
PRP_MUST_CHECK int agent_config_load(struct agent_config *c, int argc, char **argv, int *next_arg,
				     char *err, size_t errlen);

/* Frees the strings and lists of @c; releasing twice is harmless. */
void agent_config_release(struct agent_config *c);

/*
 * The @i-th item of discovery.exclude_ports as a number; only on a config
 * agent_config_load() accepted, whose items are 1..65535.
 */
uint16_t agent_config_exclude_port(const struct agent_config *c, size_t i);

/* One line per flag, for --help (the caller writes the usage line). */
void agent_config_print_help(FILE *f);

/* docs/config-agent.md, exactly: a test compares the committed file with this. */
void agent_config_write_markdown(FILE *f);

#endif
