/*
 * prp-aggregator's key table: the one description of its settings, from
 * which the YAML keys, the flags, --help and docs/config-aggregator.md come.
 */
#include "aggregator/aggregator_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/analysis/llm.h"
#include "aggregator/auth/role.h"
#include "aggregator/http/api.h"
#include "aggregator/detect/slo.h"
#include "aggregator/export/loki.h"
#include "aggregator/export/loki_config.h"
#include "aggregator/export/otlp.h"
#include "common/log.h"
#include "common/strparse.h"

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
_Static_assert(LOG_LEVEL_DEBUG == 0 && LOG_LEVEL_ERROR == 3, "log_levels[] follows enum log_level");

static const char *const detect_methods[] = { "robust", "slo", NULL };

static const struct cfg_key aggregator_keys[] = {
	CFG_STR("listen", struct aggregator_config, listen, "0.0.0.0:8080",
		"address of the HTTP API, HOST:PORT"),
	CFG_STR("ingest", struct aggregator_config, ingest, "tcp://0.0.0.0:7070",
		"nanomsg address the agents send their windows to"),
	CFG_STR("data", struct aggregator_config, data, "/var/lib/prp",
		"data directory: the store (prp.db) lives here"),
	CFG_STR("keys_dir", struct aggregator_config, keys_dir, "/etc/prp/keys",
		"agents' keys: KEYS_DIR/TENANT/tenant.key, or KEYS_DIR/TENANT/agents/ID.key for one "
		"agent"),
	CFG_UINT("http.threads", struct aggregator_config, http_threads, 0, 0, 256,
		 "threads answering HTTP requests; 0: one per CPU the aggregator may run on "
		 "(more threads than CPUs only queue requests behind each other)"),
	CFG_UINT("http.connection_limit", struct aggregator_config, http_connection_limit, 1024, 1,
		 1000000, "the most HTTP connections open at once; more are refused"),
	CFG_UINT("http.per_ip_connection_limit", struct aggregator_config,
		 http_per_ip_connection_limit, 0, 0, 1000000,
		 "the most HTTP connections open at once from one IP address; 0: no such limit"),
	CFG_SEC("http.connection_timeout", struct aggregator_config, http_connection_timeout_s, 30,
		1, 3600,
		"an HTTP connection idle this long is closed, a slow client's half-sent request "
		"too"),
	CFG_BOOL("http.access_log", struct aggregator_config, http_access_log, true,
		 "one info line per HTTP request: method, path, status, bytes, duration, the key "
		 "(key:ID) or anonymous, the client's IP and the request id"),
	CFG_STR("http.dashboard_dir", struct aggregator_config, http_dashboard_dir, "auto",
		"the browser dashboard's files, served to anyone at / and /ui/ (the page holds no "
		"data; its scripts send the key), read once at start: at most 256 files and 8 MiB. "
		"auto: /usr/share/prp/dashboard, else dashboard/ next to the binary's directory "
		"(build/ of a source tree), else none; empty: none; a directory: it must load or "
		"the aggregator does not start"),
	CFG_BOOL("compat_ports", struct aggregator_config, compat_ports, false,
		 "also serve the API on 8081, 8085, 8089 and 8090, the ports of the platform prp "
		 "replaces, so its clients work unchanged"),
	CFG_BOOL("auth", struct aggregator_config, auth, true,
		 "require API keys (X-API-Key or Authorization: Bearer); at first start an admin "
		 "key is made and written to DATA/admin.key. --no-auth: every request is an admin "
		 "of the default tenant"),
	CFG_STR("tls.cert", struct aggregator_config, tls_cert, "",
		"a PEM certificate (chain) file: serve HTTPS (TLS 1.2 and 1.3 only) instead of "
		"plain HTTP, which is then refused; needs tls.key"),
	CFG_STR("tls.key", struct aggregator_config, tls_key, "",
		"the PEM private key file of tls.cert"),
	CFG_BOOL("api.rate_limit.enabled", struct aggregator_config, rate_limit_enabled, true,
		 "limit the requests of each key (and of each IP without a key); 429 past it"),
	CFG_UINT("api.rate_limit.per_minute", struct aggregator_config, rate_limit_per_minute, 100,
		 0, 1000000000, "requests per minute of a client (the burst); 0: no such limit"),
	CFG_UINT("api.rate_limit.per_hour", struct aggregator_config, rate_limit_per_hour, 1000, 0,
		 1000000000, "requests per hour of a client; 0: no such limit"),
	CFG_LIST("api.rate_limit.role", struct aggregator_config, rate_limit_role, NULL,
		 "one role's own limits, ROLE:PER_MINUTE/PER_HOUR (anonymous, viewer, operator, "
		 "admin; 0: no limit), e.g. admin:1000/20000; a key's own limits beat its role's"),
	CFG_UINT("retention.raw_hours", struct aggregator_config, retention_raw_hours, 24, 1,
		 24 * 365, "hours the per-second windows are kept"),
	CFG_UINT("retention.minute_days", struct aggregator_config, retention_minute_days, 14, 1,
		 3650, "days the per-minute rollups are kept"),
	CFG_UINT("metrics.series_per_service", struct aggregator_config, metrics_series_per_service,
		 1000, 10, 1000000,
		 "HTTP series of /metrics per service, server and client together; past it a new "
		 "series is counted in the service's overflow series (docs/metrics.md)"),
	CFG_MS("ingest_batch_ms", struct aggregator_config, ingest_batch_ms, 10, 1, 1000,
	       "longest a frame waits to be stored with others in one transaction"),
	CFG_ENUM("detect.method", struct aggregator_config, detect_method, 0, detect_methods,
		 "robust: the streaming detector on every signal of every service; slo: only the SLO "
		 "thresholds (POST /ml/toggle switches at run time)"),
	CFG_BOOL("detect.enabled", struct aggregator_config, detect_enabled, true,
		 "run detection and prediction"),
	CFG_SEC("detect.warmup", struct aggregator_config, detect_warmup_s, 60, 10, 86400,
		"how long a signal is learnt before it may raise an anomaly"),
	CFG_SEC("detect.resolve_after", struct aggregator_config, detect_resolve_after_s, 15, 1,
		3600, "an anomaly resolves after this long back within its baseline"),
	CFG_SEC("predict.horizon", struct aggregator_config, predict_horizon_s, 600, 10, 86400,
		"a forecast breach of an SLO within this long is a prediction.breach"),
	CFG_DOUBLE("slo.latency_p99_ms", struct aggregator_config, slo_latency_p99_ms, 500, 0.001,
		   3600000, "every service's p99 latency objective, in ms"),
	CFG_DOUBLE("slo.error_rate", struct aggregator_config, slo_error_rate, 0.05, 0.0001, 1,
		   "every service's error-rate objective: the 5xx fraction of requests"),
	CFG_LIST("slo.service", struct aggregator_config, slo_service, NULL,
		 "one service's own objectives, SERVICE:latency_p99_ms=MS,error_rate=RATIO (either "
		 "or both); the defaults above apply to the rest"),
	CFG_STR("policy.dir", struct aggregator_config, policy_dir, "/etc/prp/policies",
		"policy files (*.yaml, *.yml) loaded at start; a missing directory loads none"),
	CFG_BOOL("policy.auto_remediation", struct aggregator_config, policy_auto_remediation,
		 true, "run the actions policies decide (POST /toggle flips it at run time); off: "
		       "they are only recorded, as skipped"),
	CFG_UINT("policy.max_actions_per_hour", struct aggregator_config,
		 policy_max_actions_per_hour, 20, 0, 100000,
		 "the brake on remediation storms: remedies (every action but alert and webhook) "
		 "past this many in the last hour are skipped; 0: no brake"),
	CFG_LIST("action.exec_allow", struct aggregator_config, action_exec_allow, NULL,
		 "the commands an exec action may run, each exactly as a policy writes it (run "
		 "with /bin/sh -c)"),
	CFG_MS("action.exec_timeout", struct aggregator_config, action_exec_timeout_ms, 30000,
	       100, 3600000, "an exec or scale command is killed after this long"),
	CFG_MS("action.agent_timeout", struct aggregator_config, action_agent_timeout_ms, 10000,
	       100, 600000, "how long agents have to answer a breaker or rate-limit command"),
	CFG_MS("action.restart_timeout", struct aggregator_config, action_restart_timeout_ms,
	       60000, 1000, 3600000, "how long a restart may take, the service back included"),
	CFG_MS("action.probe_window", struct aggregator_config, action_probe_window_ms, 10000,
	       1000, 3600000,
	       "a half-open circuit breaker is judged on the requests that got through in this "
	       "long"),
	CFG_STR("action.scale_command", struct aggregator_config, action_scale_command, "",
		"the command a scale action runs, {service} and {replicas} substituted; empty: "
		"none"),
	CFG_STR("action.kube_api", struct aggregator_config, action_kube_api, "",
		"the Kubernetes API a scale action patches (https://HOST:PORT); empty: none"),
	CFG_STR("action.kube_namespace", struct aggregator_config, action_kube_namespace,
		"default", "the namespace of the deployments a scale action patches"),
	CFG_STR("action.kube_token_file", struct aggregator_config, action_kube_token_file, "",
		"a file holding the bearer token for the Kubernetes API; empty: none"),
	CFG_STR("action.kube_ca_file", struct aggregator_config, action_kube_ca_file, "",
		"the CA bundle that signs the Kubernetes API's certificate; empty: the system's"),
	CFG_STR("action.alert_url", struct aggregator_config, action_alert_url, "",
		"where alert actions are POSTed (signed like webhooks); empty: alerts are logged"),
	CFG_STR("action.webhook_secret", struct aggregator_config, action_webhook_secret, "",
		"the secret that signs alert and webhook deliveries (X-Webhook-Signature); empty: "
		"unsigned"),
	CFG_UINT("webhooks.max_attempts", struct aggregator_config, webhooks_max_attempts, 8, 1, 100,
		 "attempts of one webhook delivery before it is marked failed"),
	CFG_MS("webhooks.backoff", struct aggregator_config, webhooks_backoff_ms, 1000, 10, 3600000,
	       "the pause after a delivery's first failed attempt; it doubles (with jitter) after "
	       "each next one"),
	CFG_MS("webhooks.backoff_max", struct aggregator_config, webhooks_backoff_max_ms, 600000, 10,
	       86400000, "the longest pause between two attempts of a delivery"),
	CFG_MS("webhooks.timeout", struct aggregator_config, webhooks_timeout_ms, 10000, 100, 300000,
	       "one delivery attempt, connecting included, is given up after this long"),
	CFG_UINT("webhooks.workers", struct aggregator_config, webhooks_workers, 2, 1, 32,
		 "deliveries to distinct hooks sent at once (a hook's own are sent in order)"),
	CFG_STR("webhooks.ca_file", struct aggregator_config, webhooks_ca_file, "",
		"a PEM bundle trusted for https hooks; empty: the system's"),
	CFG_STR("analysis.llm.url", struct aggregator_config, analysis_llm_url, "",
		"an OpenAI-compatible chat completions endpoint that writes the analyst's prose "
		"from its evidence: a base URL (http://127.0.0.1:11434, "
		"https://api.groq.com/openai/v1) or one ending in /chat/completions; empty: no LLM, "
		"the built-in prose"),
	CFG_STR("analysis.llm.model", struct aggregator_config, analysis_llm_model, "",
		"the model to ask (llama3.1:8b, gpt-4o-mini); required with analysis.llm.url"),
	CFG_STR("analysis.llm.api_key_env", struct aggregator_config, analysis_llm_api_key_env,
		LLM_API_KEY_ENV_DEFAULT,
		"the NAME of the environment variable holding the API key, sent as a bearer token "
		"(the key itself never goes in this file); empty: no key (a local server)"),
	CFG_MS("analysis.llm.timeout", struct aggregator_config, analysis_llm_timeout_ms,
	       LLM_TIMEOUT_MS_DEFAULT, 100, 300000,
	       "the longest one request to the LLM may take; it is tried once more after a "
	       "timeout, a network error, a 5xx or a 429, then the built-in prose is used"),
	CFG_STR("loki.url", struct aggregator_config, loki_url, "",
		"Loki's base URL (http://127.0.0.1:3100): anomaly, incident, prediction and action "
		"events and the services' log lines are pushed to URL/loki/api/v1/push "
		"(docs/loki.md); empty: no export"),
	CFG_STR("loki.tenant", struct aggregator_config, loki_tenant, "",
		"sent as X-Scope-OrgID, Loki's tenant; empty: not sent"),
	CFG_STR("loki.labels", struct aggregator_config, loki_labels, "",
		"labels added to every stream, NAME=VALUE,NAME=VALUE (cluster=prod,region=eu); "
		"names [a-zA-Z_][a-zA-Z0-9_]*, not service_name, host, level, source or tenant"),
	CFG_UINT("loki.batch", struct aggregator_config, loki_batch, LOKI_BATCH, 1, 100000,
		 "entries in one push at most (and 1 MiB of lines)"),
	CFG_MS("loki.flush_interval", struct aggregator_config, loki_flush_interval_ms,
	       LOKI_FLUSH_INTERVAL_MS, 10, 60000,
	       "the longest an entry waits for its batch to fill before it is pushed"),
	CFG_UINT("loki.queue_max", struct aggregator_config, loki_queue_max, LOKI_QUEUE_MAX, 1,
		 10000000,
		 "entries waiting to be pushed at most (and 64 MiB of lines); past it new ones are "
		 "dropped and counted, never waited for"),
	CFG_MS("loki.timeout", struct aggregator_config, loki_timeout_ms, LOKI_TIMEOUT_MS, 100,
	       300000, "one push, connecting included, is given up after this long"),
	CFG_UINT("loki.max_retries", struct aggregator_config, loki_max_retries, LOKI_MAX_RETRIES,
		 0, 100,
		 "a push that failed with a network error, a timeout, 429 or a 5xx is tried again "
		 "this many times (after 0.5 s, doubling to 30 s, with jitter), then dropped and "
		 "counted; other 4xx answers are dropped at once"),
	CFG_STR("loki.ca_file", struct aggregator_config, loki_ca_file, "",
		"a PEM bundle trusted for an https Loki; empty: the system's"),
	CFG_STR("loki.username", struct aggregator_config, loki_username, "",
		"basic auth user (Grafana Cloud: the Loki instance's user id); needs "
		"loki.password_file"),
	CFG_STR("loki.password_file", struct aggregator_config, loki_password_file, "",
		"a file whose first line is the basic auth password (Grafana Cloud: an access "
		"policy token), read at start"),
	CFG_STR("loki.bearer_token_file", struct aggregator_config, loki_bearer_token_file, "",
		"a file whose first line is a token sent as Authorization: Bearer, read at start; "
		"not with loki.username"),
	CFG_STR("otlp.url", struct aggregator_config, otlp_url, "",
		"an OTLP/HTTP receiver's base URL (an OpenTelemetry Collector, Jaeger or Tempo: "
		"http://127.0.0.1:4318): the agents' HTTP spans are posted to URL/v1/traces as "
		"OTLP JSON (docs/otlp.md); empty: no export"),
	CFG_STR("otlp.headers_file", struct aggregator_config, otlp_headers_file, "",
		"a file of extra headers sent with every post, one 'Name: value' a line (# starts "
		"a comment), e.g. 'Authorization: Bearer TOKEN'; read at start, so secrets stay "
		"off the command line; empty: none"),
	CFG_DOUBLE("otlp.sample_rate", struct aggregator_config, otlp_sample_rate,
		   OTLP_SAMPLE_RATE, 0, 1,
		   "the fraction of the agents' traces exported, decided from the trace id so that a "
		   "trace is kept whole or not at all; the agents sample already "
		   "(traces.sample_rate), so 1 keeps what they send; spans of a 5xx answer and slow "
		   "spans are kept anyway"),
	CFG_MS("otlp.slow_ms", struct aggregator_config, otlp_slow_ms, OTLP_SLOW_MS, 0, 3600000,
	       "a span that took longer than this is always exported, whatever the sampling; 0: "
	       "no such rule"),
	CFG_UINT("otlp.batch", struct aggregator_config, otlp_batch, OTLP_BATCH, 1, 100000,
		 "spans in one post at most"),
	CFG_MS("otlp.flush_interval", struct aggregator_config, otlp_flush_interval_ms,
	       OTLP_FLUSH_INTERVAL_MS, 10, 60000,
	       "the longest a span waits for its batch to fill before it is posted"),
	CFG_UINT("otlp.queue_max", struct aggregator_config, otlp_queue_max, OTLP_QUEUE_MAX, 1,
		 10000000,
		 "spans waiting to be posted at most; past it new ones are dropped and counted, "
		 "never waited for"),
	CFG_MS("otlp.timeout", struct aggregator_config, otlp_timeout_ms, OTLP_TIMEOUT_MS, 100,
	       300000, "one post, connecting included, is given up after this long"),
	CFG_UINT("otlp.max_retries", struct aggregator_config, otlp_max_retries, OTLP_MAX_RETRIES,
		 0, 100,
		 "a post that failed with a network error, a timeout, 429 or a 5xx is tried again "
		 "this many times (after the answer's Retry-After, else 0.5 s doubling to 30 s, "
		 "with jitter), then dropped and counted; other answers are dropped at once"),
	CFG_STR("otlp.ca_file", struct aggregator_config, otlp_ca_file, "",
		"a PEM bundle trusted for an https receiver; empty: the system's"),
	CFG_ENUM("log_level", struct aggregator_config, log_level, LOG_LEVEL_INFO, log_levels,
		 "the least important messages logged"),
	CFG_END,
};

int aggregator_config_listen(const struct aggregator_config *c, char *host, size_t hostlen,
			     uint16_t *port)
{
	const char *colon = strrchr(c->listen, ':');
	uint64_t p;

	if (!colon || colon == c->listen || (size_t)(colon - c->listen) >= hostlen ||
	    strparse_u64(colon + 1, 1, 65535, &p))
		return -EINVAL;
	memcpy(host, c->listen, (size_t)(colon - c->listen));
	host[colon - c->listen] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int aggregator_config_slo(const struct aggregator_config *c, struct slo_table *t, char *err,
			  size_t errlen)
{
	return slo_table_init(t, c->slo_latency_p99_ms, c->slo_error_rate,
			      (const char *const *)c->slo_service.items, c->slo_service.count, err,
			      errlen);
}

static int check_llm(const struct aggregator_config *c, char *err, size_t errlen)
{
	struct llm_config lc;
	char why[200];
	int ret;

	aggregator_config_llm(c, &lc);
	ret = llm_config_check(&lc, why, sizeof(why));
	if (ret)
		snprintf(err, errlen, "key 'analysis.llm': %s", why);
	return ret;
}

void aggregator_config_llm(const struct aggregator_config *c, struct llm_config *out)
{
	llm_config_init(out);
	out->url = c->analysis_llm_url;
	out->model = c->analysis_llm_model;
	out->api_key_env = c->analysis_llm_api_key_env;
	out->timeout_ms = (unsigned)c->analysis_llm_timeout_ms;
}

void aggregator_config_loki(const struct aggregator_config *c, struct loki_config *out)
{
	loki_config_default(out);
	out->url = c->loki_url;
	out->tenant = c->loki_tenant;
	out->labels = c->loki_labels;
	out->batch = (unsigned)c->loki_batch;
	out->flush_interval_ms = (unsigned)c->loki_flush_interval_ms;
	out->queue_max = (unsigned)c->loki_queue_max;
	out->timeout_ms = (unsigned)c->loki_timeout_ms;
	out->max_retries = (unsigned)c->loki_max_retries;
	out->ca_file = c->loki_ca_file;
	out->username = c->loki_username;
	out->password_file = c->loki_password_file;
	out->bearer_token_file = c->loki_bearer_token_file;
}

void aggregator_config_otlp(const struct aggregator_config *c, struct otlp_config *out)
{
	otlp_config_default(out);
	out->url = c->otlp_url;
	out->headers_file = c->otlp_headers_file;
	out->sample_rate = c->otlp_sample_rate;
	out->slow_ms = (unsigned)c->otlp_slow_ms;
	out->batch = (unsigned)c->otlp_batch;
	out->flush_interval_ms = (unsigned)c->otlp_flush_interval_ms;
	out->queue_max = (unsigned)c->otlp_queue_max;
	out->timeout_ms = (unsigned)c->otlp_timeout_ms;
	out->max_retries = (unsigned)c->otlp_max_retries;
	out->ca_file = c->otlp_ca_file;
}

int aggregator_config_limits(const struct aggregator_config *c, struct api_limits *out, char *err,
			     size_t errlen)
{
	for (int r = ROLE_PUBLIC; r <= ROLE_ADMIN; r++) {
		out->per_minute[r] = c->rate_limit_per_minute;
		out->per_hour[r] = c->rate_limit_per_hour;
	}
	for (size_t i = 0; i < c->rate_limit_role.count; i++) {
		const char *e = c->rate_limit_role.items[i];
		char buf[64], *colon, *slash;
		uint64_t pm, ph;
		int role;

		snprintf(buf, sizeof(buf), "%s", e);
		colon = strchr(buf, ':');
		slash = colon ? strchr(colon, '/') : NULL;
		if (!slash || strlen(e) >= sizeof(buf))
			goto bad;
		*colon = *slash = '\0';
		role = !strcmp(buf, "anonymous") ? ROLE_PUBLIC : role_parse(buf);
		if (role < 0 || strparse_u64(colon + 1, 0, 1000000000, &pm) ||
		    strparse_u64(slash + 1, 0, 1000000000, &ph))
			goto bad;
		out->per_minute[role] = pm;
		out->per_hour[role] = ph;
		continue;
bad:
		if (err)
			snprintf(err, errlen,
				 "key 'api.rate_limit.role': '%.100s' is not ROLE:PER_MINUTE/PER_HOUR "
				 "(anonymous, viewer, operator, admin)",
				 e);
		return -EINVAL;
	}
	return 0;
}

int aggregator_config_load(struct aggregator_config *c, int argc, char **argv, int *next_arg,
			   char *err, size_t errlen)
{
	struct slo_table slo;
	char host[256];
	uint16_t port;
	int ret = cfg_load(aggregator_keys, c, argc, argv, AGGREGATOR_CONFIG_PATH, next_arg, err,
			   errlen);

	if (ret)
		return ret;
	if (aggregator_config_listen(c, host, sizeof(host), &port)) {
		snprintf(err, errlen, "key 'listen': '%.100s' is not HOST:PORT", c->listen);
		ret = -EINVAL;
	} else if (!c->tls_cert[0] != !c->tls_key[0]) {
		snprintf(err, errlen, "keys 'tls.cert' and 'tls.key': one without the other");
		ret = -EINVAL;
	} else if (!(ret = aggregator_config_slo(c, &slo, err, errlen))) {
		struct api_limits limits;
		struct loki_config lk;
		struct otlp_config oc;

		slo_table_release(&slo);
		ret = check_llm(c, err, errlen);
		if (!ret)
			ret = aggregator_config_limits(c, &limits, err, errlen);
		aggregator_config_loki(c, &lk);
		if (!ret)
			ret = loki_config_check(&lk, err, errlen);
		aggregator_config_otlp(c, &oc);
		if (!ret)
			ret = otlp_config_check(&oc, err, errlen);
	}
	if (ret) {
		cfg_release(aggregator_keys, c);
		cfg_defaults(aggregator_keys, c);
	}
	return ret;
}

void aggregator_config_release(struct aggregator_config *c)
{
	cfg_release(aggregator_keys, c);
}

void aggregator_config_print_help(FILE *f)
{
	cfg_print_help(aggregator_keys, f);
}

void aggregator_config_write_markdown(FILE *f)
{
	fputs("# prp-aggregator configuration\n"
	      "\n"
	      "<!-- Generated from the key table in aggregator/aggregator_config.c by\n"
	      "     aggregator_config_write_markdown(); tests/unit/aggregator/test_aggregator_config.c\n"
	      "     fails when this file differs. To regenerate it:\n"
	      "     PRP_WRITE_DOCS=1 build/tests/unit/aggregator/test_aggregator_config -->\n"
	      "\n"
	      "prp-aggregator reads its settings in this order, each step overriding the one\n"
	      "before: the defaults below; `" AGGREGATOR_CONFIG_PATH "` when it exists, or the\n"
	      "file given with `--config FILE`; the command-line flags. A dotted key is a nested\n"
	      "mapping in YAML (`retention.raw_hours` is `retention: {raw_hours: 24}`).\n"
	      "\n",
	      f);
	cfg_write_markdown(aggregator_keys, f);
}
