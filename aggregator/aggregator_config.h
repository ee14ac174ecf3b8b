/*
 * prp-aggregator's configuration: the struct and its key table
 * (aggregator_config.c), which common/config.c turns into the YAML keys, the
 * flags, --help and docs/config-aggregator.md. Load order: defaults, then
 * AGGREGATOR_CONFIG_PATH when it exists or the --config file, then the flags.
 */
#ifndef PRP_AGGREGATOR_AGGREGATOR_CONFIG_H
#define PRP_AGGREGATOR_AGGREGATOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/compiler.h"
#include "common/config.h"

#define AGGREGATOR_CONFIG_PATH "/etc/prp/aggregator.yaml"

struct aggregator_config {
	char *listen;	   /* HTTP API "HOST:PORT" */
	char *ingest;	   /* nanomsg address agents send to */
	char *data;	   /* data directory: the store */
	char *keys_dir;	   /* aggregator/keyring.h */
	uint64_t http_threads;
	uint64_t http_connection_limit, http_per_ip_connection_limit, http_connection_timeout_s;
	bool auth, http_access_log, compat_ports;
	char *http_dashboard_dir; /* "auto", "" (off) or a directory: main.c */
	char *tls_cert, *tls_key;
	bool rate_limit_enabled;
	uint64_t rate_limit_per_minute, rate_limit_per_hour;
	struct cfg_list rate_limit_role;
	uint64_t retention_raw_hours;
	uint64_t retention_minute_days;
	uint64_t metrics_series_per_service;
	uint64_t ingest_batch_ms;
	int detect_method; /* enum detection_method */
	bool detect_enabled;
	uint64_t detect_warmup_s;
	uint64_t detect_resolve_after_s;
	uint64_t predict_horizon_s;
	double slo_latency_p99_ms;
	double slo_error_rate;
	struct cfg_list slo_service; /* aggregator/detect/slo.h */
	char *policy_dir;
	bool policy_auto_remediation;
	uint64_t policy_max_actions_per_hour;
	struct cfg_list action_exec_allow;
	uint64_t action_exec_timeout_ms, action_agent_timeout_ms, action_restart_timeout_ms;
	uint64_t action_probe_window_ms;
	char *action_scale_command, *action_kube_api, *action_kube_namespace,
		*action_kube_token_file, *action_kube_ca_file;
	char *action_alert_url, *action_webhook_secret;
	uint64_t webhooks_max_attempts, webhooks_backoff_ms, webhooks_backoff_max_ms,
		webhooks_timeout_ms, webhooks_workers;
	char *webhooks_ca_file;
	char *analysis_llm_url, *analysis_llm_model, *analysis_llm_api_key_env;
	uint64_t analysis_llm_timeout_ms;
	char *loki_url, *loki_tenant, *loki_labels, *loki_ca_file, *loki_username,
		*loki_password_file, *loki_bearer_token_file; /* aggregator/export/loki.h */
	uint64_t loki_batch, loki_flush_interval_ms, loki_queue_max, loki_timeout_ms,
		loki_max_retries;
	char *otlp_url, *otlp_headers_file, *otlp_ca_file; /* aggregator/export/otlp.h */
	double otlp_sample_rate;
	uint64_t otlp_slow_ms, otlp_batch, otlp_flush_interval_ms, otlp_queue_max, otlp_timeout_ms,
		otlp_max_retries;
	int log_level; /* enum log_level */
};

/* As agent_config_load(): 0, or -errno with the reason in @err; release either way. */
PRP_MUST_CHECK int aggregator_config_load(struct aggregator_config *c, int argc, char **argv,
					  int *next_arg, char *err, size_t errlen);
void aggregator_config_release(struct aggregator_config *c);
struct slo_table;
/* The objectives of slo.*: 0 (caller owns @t: slo_table_release()) or -EINVAL with @err. */
int aggregator_config_slo(const struct aggregator_config *c, struct slo_table *t, char *err,
			  size_t errlen);
struct llm_config;
/*
 * The analyst's LLM settings (analysis.llm.*, aggregator/analysis/llm.h)
 * into @out, with llm.h's defaults for the rest. @out's strings are borrowed
 * from @c: use @out (for llm_new(), which copies them) while @c lives.
 */
void aggregator_config_llm(const struct aggregator_config *c, struct llm_config *out);
struct loki_config;
/*
 * The Loki exporter's settings (loki.*, aggregator/export/loki.h) into
 * @out, the rest loki_config_default()'s; @out's strings are borrowed from
 * @c (loki_start() copies what it keeps). The store is not filled in.
 */
void aggregator_config_loki(const struct aggregator_config *c, struct loki_config *out);
struct otlp_config;
/*
 * The OTLP trace exporter's settings (otlp.*, aggregator/export/otlp.h)
 * into @out, the rest otlp_config_default()'s; @out's strings are borrowed
 * from @c (otlp_start() copies what it keeps).
 */
void aggregator_config_otlp(const struct aggregator_config *c, struct otlp_config *out);
struct api_limits;
/* The rate limits of api.rate_limit.* by role into @out: 0, or -EINVAL with @err. */
int aggregator_config_limits(const struct aggregator_config *c, struct api_limits *out, char *err,
			     size_t errlen);
/* Splits listen into a host and a port: 0, or -EINVAL. */
int aggregator_config_listen(const struct aggregator_config *c, char *host, size_t hostlen,
			     uint16_t *port);
void aggregator_config_print_help(FILE *f);
void aggregator_config_write_markdown(FILE *f);

#endif
