/*
 * prp-aggregator: receives the agents' windows (aggregator/ingest.c), keeps
 * them in the store (aggregator/store/) and in memory (aggregator/series.c),
 * watches them for anomalies and coming SLO breaches (aggregator/detect/),
 * acts on them by policy (aggregator/policy/), and serves the HTTP API
 * (aggregator/http/).
 *
 * The main thread starts the parts, then waits for a signal: SIGTERM or
 * SIGINT stops the API first (no new requests, streams closed), then the
 * policy engine, the executor (running actions finish, open breakers are
 * closed), ingest (its last batch is committed and answered, so
 * everything acknowledged is on disk, and its log lines and spans handed
 * to the exporters), the OTLP trace exporter (what it holds is flushed
 * for 2 s at most), the webhooks (pending deliveries wait in the store),
 * detection, the Loki exporter (what it holds is flushed for 2 s at
 * most), then the event bus, and exits 0.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator/aggregator_config.h"
#include "aggregator/analysis/llm.h"
#include "aggregator/auth/audit_log.h"
#include "aggregator/auth/keys.h"
#include "aggregator/detect/detection.h"
#include "aggregator/events/bus.h"
#include "aggregator/export/loki.h"
#include "aggregator/export/loki_config.h"
#include "aggregator/export/otlp.h"
#include "aggregator/http/api.h"
#include "aggregator/http/dashboard.h"
#include "aggregator/ingest.h"
#include "aggregator/policy/breaker_health.h"
#include "aggregator/policy/engine.h"
#include "aggregator/policy/executor.h"
#include "aggregator/series.h"
#include "aggregator/store/store.h"
#include "aggregator/store/store_backup.h"
#include "aggregator/webhooks/webhooks.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/compiler.h"
#include "common/timeutil.h"
#include "common/log.h"

static void ingest_status(void *arg, struct api_ingest_status *out)
{
	struct ingest_stats st;

	ingest_get_stats(arg, &st);
	out->running = st.running;
	out->frames_received = st.frames_stored;
	out->windows_received = st.windows_stored;
	out->agents_connected = st.agents_connected;
	out->nrejected = 0;
	for (int i = 0; i < INGEST_REJECT_COUNT && out->nrejected < API_INGEST_REASONS_MAX; i++) {
		out->rejected[out->nrejected].reason = ingest_reject_name((enum ingest_reject)i);
		out->rejected[out->nrejected].count = st.rejected[i];
		out->nrejected++;
	}
}

/* One HTTP worker per CPU this process may run on (its affinity, not the machine's). */
static unsigned http_threads(const struct aggregator_config *c)
{
	cpu_set_t set;
	int n;

	if (c->http_threads)
		return (unsigned)c->http_threads;
	if (sched_getaffinity(0, sizeof(set), &set))
		return 2;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

static int start_executor(struct executor **out, const struct aggregator_config *cfg,
			  const struct store_options *so, struct ingest *ingest,
			  struct breaker_health *bh, struct bus *bus, struct webhooks *webhooks)
{
	struct executor_config xc;

	executor_config_default(&xc);
	xc.store = *so;
	xc.ingest = ingest;
	xc.exec_allow = (const char *const *)cfg->action_exec_allow.items;
	xc.nexec_allow = cfg->action_exec_allow.count;
	xc.exec_timeout_ms = (unsigned)cfg->action_exec_timeout_ms;
	xc.agent_timeout_ms = (unsigned)cfg->action_agent_timeout_ms;
	xc.restart_timeout_ms = (unsigned)cfg->action_restart_timeout_ms;
	xc.probe_window_ms = (unsigned)cfg->action_probe_window_ms;
	xc.scale_command = or_null(cfg->action_scale_command);
	xc.kube_api = or_null(cfg->action_kube_api);
	xc.kube_namespace = or_null(cfg->action_kube_namespace);
	xc.kube_token_file = or_null(cfg->action_kube_token_file);
	xc.kube_ca_file = or_null(cfg->action_kube_ca_file);
	xc.alert_url = or_null(cfg->action_alert_url);
	xc.webhook_secret = or_null(cfg->action_webhook_secret);
	xc.health = breaker_health_judge;
	xc.health_arg = bh;
	xc.bus = bus;
	xc.webhooks = webhooks;
	return executor_start(out, &xc);
}

static int start_engine(struct engine **out, const struct aggregator_config *cfg,
			const struct store_options *so, struct series *series,
			struct detection *detection, struct executor *executor, struct bus *bus)
{
	struct engine_config ec;

	engine_config_default(&ec);
	ec.store = *so;
	ec.policies_dir = or_null(cfg->policy_dir);
	ec.series = series;
	ec.detection = detection;
	ec.executor = executor;
	ec.auto_remediation = cfg->policy_auto_remediation;
	ec.max_actions_per_hour = (unsigned)cfg->policy_max_actions_per_hour;
	ec.bus = bus;
	return engine_start(out, &ec);
}

/* --help, --check-config: handled before the config. */
static int early_flags(int argc, char **argv, bool *check_only)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: prp-aggregator [--config FILE] [--check-config] [--version] [flags]\n\n");
			aggregator_config_print_help(stdout);
			return 1;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("%s %s\n", "prp-aggregator", PRP_VERSION);
			return 1;
		}
		if (!strcmp(argv[i], "--check-config"))
			*check_only = true;
	}
	return 0;
}

static int load_config(struct aggregator_config *c, int argc, char **argv)
{
	char **args = xcalloc((size_t)argc + 1, sizeof(*args)), err[512];
	int n = 0, next = 0, ret;

	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--check-config"))
			args[n++] = argv[i];
	ret = aggregator_config_load(c, n, args, &next, err, sizeof(err));
	if (!ret && next < n) {
		snprintf(err, sizeof(err), "unexpected argument '%s'", args[next]);
		ret = -EINVAL;
	}
	free(args);
	if (ret)
		fprintf(stderr, "prp-aggregator: %s\n", err);
	return ret;
}

/* A staged restore (POST /admin/restore) replaces the store before anything opens it. */
static int apply_restore(const char *dir, bool *applied)
{
	char why[256];
	int ret = store_restore_apply(dir, applied, why, sizeof(why));

	if (ret)
		log_error("aggregator: the staged restore was refused and the store kept: %s", why);
	else if (*applied)
		log_info("aggregator: restored the store of %s from the staged backup", dir);
	return ret == -EINVAL ? 0 : ret; /* a bad staged file is set aside; start on the old store */
}

/* The key registry and the admin key at first start (DESIGN.md: printed once, DATA/admin.key). */
static int start_keys(struct keys **out, const struct store_options *so, struct audit_log *audit)
{
	char path[4096], key[APIKEY_LEN + 1];
	bool made = false;
	int ret = keys_open(out, so);

	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/admin.key", so->dir);
	ret = keys_bootstrap(*out, path, (int64_t)(time_real_ns() / NSEC_PER_MSEC), &made, key);
	if (ret) {
		log_error_err(ret, "aggregator: cannot make the admin key in %s", path);
		return ret;
	}
	if (made) {
		printf("prp-aggregator: admin API key (shown once, also in %s): %s\n", path, key);
		fflush(stdout);
		log_info("aggregator: made the admin API key at first start, in %s", path);
		audit_log_write(audit, KEYS_DEFAULT_TENANT, "system", "key.created", "key:bootstrap",
				json_pack("{s:s, s:s}", "role", "admin", "file", path));
		memset(key, 0, sizeof(key));
	}
	return 0;
}

/* The PEM text of @path into *out (caller frees): 0, or -errno logged. */
static int read_pem(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	struct buf b;
	char chunk[4096];
	size_t n;
	int ret = 0;

	if (!f) {
		ret = -errno;
		log_error_err(ret, "aggregator: cannot read %s", path);
		return ret;
	}
	buf_init(&b, 1 << 20); /* a certificate chain is a few KiB */
	while (!ret && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ret = buf_append(&b, chunk, n);
	if (!ret && ferror(f))
		ret = -EIO;
	if (!ret)
		ret = buf_append(&b, "", 1); /* GnuTLS reads it as a string */
	fclose(f);
	explicit_bzero(chunk, sizeof(chunk));
	if (ret) {
		log_error_err(ret, "aggregator: cannot read %s", path);
		buf_release(&b);
		return ret;
	}
	*out = (char *)b.data;
	return 0;
}

/* Where "auto" looks after /usr/share: a source tree's dashboard/, for build/prp-aggregator. */
static void dashboard_beside_binary(char *out, size_t cap)
{
	char exe[PATH_MAX - 16]; /* room for the suffix in @out */
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	exe[n > 0 ? n : 0] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, cap, "%s/../dashboard", slash ? exe : ".");
}

/*
 * The dashboard "auto" finds into *out and its directory into @dir: the
 * first of its places that loads; *out NULL (warned) when none does.
 */
static void find_dashboard(struct dashboard **out, char dir[PATH_MAX])
{
	char why[512], beside[PATH_MAX];
	const char *places[] = { "/usr/share/prp/dashboard", beside };

	dashboard_beside_binary(beside, sizeof(beside));
	for (size_t i = 0; !*out && i < PRP_ARRAY_SIZE(places); i++) {
		if (!realpath(places[i], dir))
			continue; /* not there: the next place */
		*out = dashboard_load(dir, why, sizeof(why));
		if (!*out)
			log_warn("dashboard: skipping %s: %s", dir, why);
	}
	if (!*out)
		log_warn("dashboard: off (http.dashboard_dir is auto; no dashboard in %s nor %s)",
			 places[0], beside);
}

/*
 * The dashboard of http.dashboard_dir into *out (NULL: none): 0, or -EINVAL
 * when a directory named there does not load. "auto" starts without one
 * when it finds none.
 */
static int start_dashboard(struct dashboard **out, const char *setting)
{
	char why[512], dir[PATH_MAX];
	size_t bytes, n;

	*out = NULL;
	if (!*setting) {
		log_info("dashboard: off (http.dashboard_dir is empty)");
		return 0;
	}
	if (!strcmp(setting, "auto")) {
		find_dashboard(out, dir);
		if (!*out)
			return 0;
	} else {
		*out = dashboard_load(setting, why, sizeof(why));
		if (!*out) {
			log_error("dashboard: http.dashboard_dir: %s", why);
			return -EINVAL;
		}
		snprintf(dir, sizeof(dir), "%s", setting);
	}
	n = dashboard_files(*out, &bytes);
	log_info("dashboard: %zu files (%zu KiB) from %s at /", n, (bytes + 1023) / 1024, dir);
	return 0;
}

/* Every stream subscriber is a socket: as many descriptors as the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		log_warn("aggregator: cannot raise the open files limit to %llu",
			 (unsigned long long)rl.rlim_max);
}

/* Blocks until SIGTERM or SIGINT. */
static void wait_for_stop(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	while (sigwait(&set, &sig) == 0)
		if (sig == SIGTERM || sig == SIGINT)
			break;
	log_info("aggregator: %s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
}

int main(int argc, char **argv)
{
	struct aggregator_config cfg = { 0 };
	struct store_options so;
	struct ingest *ingest = NULL;
	struct series *series = NULL;
	struct api *api = NULL;
	struct dashboard *dashboard = NULL; /* freed after the API stops, which serves it */
	struct detection *detection = NULL;
	struct detection_config dc;
	struct executor *executor = NULL;
	struct engine *engine = NULL;
	struct breaker_health bh = { 0 };
	struct llm_config lc;
	struct llm *llm = NULL;
	struct keys *keys = NULL;
	struct bus *bus = NULL;
	struct webhooks *webhooks = NULL;
	/*
	 * The Loki exporter (aggregator/export/loki.h); NULL when loki.url is
	 * empty, which every loki_*() takes. Started right after the bus and
	 * stopped right before it, so it sees every event; for /metrics
	 * (loki_stats()) and the agents' log lines (loki_push_line()).
	 */
	struct loki *loki = NULL;
	struct loki_config lkc;
	/*
	 * The OTLP trace exporter (aggregator/export/otlp.h); NULL when
	 * otlp.url is empty, which every otlp_*() takes. For the agents' spans
	 * (otlp_push_span(), from ingest) and /metrics (otlp_stats()). Started
	 * after the bus and before ingest, stopped after ingest (which calls
	 * otlp_push_span() until it stops) and before the webhooks.
	 */
	struct otlp *otlp = NULL;
	struct otlp_config otc;
	struct audit_log *audit = NULL;
	struct api_limits limits = { 0 };
	char *tls_cert = NULL, *tls_key = NULL;
	bool restored = false;
	char why[256];
	bool check_only = false;
	char host[256];
	uint16_t port = 0;
	sigset_t set;
	int rc = 1, ret;

	log_init("prp-aggregator", LOG_LEVEL_INFO, LOG_TO_STDERR);
	if (early_flags(argc, argv, &check_only))
		return 0;
	if (load_config(&cfg, argc, argv)) {
		aggregator_config_release(&cfg);
		return 2;
	}
	if (check_only) {
		printf("configuration OK\n");
		aggregator_config_release(&cfg);
		return 0;
	}
	log_init("prp-aggregator", (enum log_level)cfg.log_level, LOG_TO_STDERR);
	(void)aggregator_config_listen(&cfg, host, sizeof(host), &port); /* checked at load */

	/* every thread started from here on leaves the stop signals to sigwait() */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	if (mkdir(cfg.data, 0750) && errno != EEXIST) {
		log_error("aggregator: cannot create the data directory %s: %s", cfg.data,
			  strerror(errno));
		goto out;
	}
	so = (struct store_options){ .dir = cfg.data,
				     .raw_hours = (unsigned)cfg.retention_raw_hours,
				     .minute_days = (unsigned)cfg.retention_minute_days,
				     .metric_series_max = (unsigned)cfg.metrics_series_per_service };
	if (apply_restore(cfg.data, &restored))
		goto out;
	if (cfg.tls_cert[0] &&
	    (read_pem(cfg.tls_cert, &tls_cert) || read_pem(cfg.tls_key, &tls_key)))
		goto out;
	if (start_dashboard(&dashboard, cfg.http_dashboard_dir))
		goto out;
	series = series_new();
	ret = bus_open(&bus, &so);
	if (ret) {
		log_error_err(ret, "aggregator: the event bus could not open");
		goto out;
	}
	aggregator_config_loki(&cfg, &lkc);
	lkc.store = so;
	ret = loki_start(&loki, &lkc, bus);
	if (ret) {
		log_error_err(ret, "aggregator: the Loki exporter could not start");
		goto out;
	}
	aggregator_config_otlp(&cfg, &otc);
	ret = otlp_start(&otlp, &otc);
	if (ret) {
		log_error_err(ret, "aggregator: the OTLP trace exporter could not start");
		goto out;
	}
	/* after the exporters it hands the agents' log lines and spans to, stopped before them */
	ret = ingest_start(&ingest, &(struct ingest_config){ .url = cfg.ingest,
							      .keys_dir = cfg.keys_dir,
							      .store = so,
							      .series = series,
							      .batch_ms = (unsigned)cfg.ingest_batch_ms,
							      .loki = loki,
							      .otlp = otlp });
	if (ret) {
		log_error_err(ret, "aggregator: ingest could not start");
		goto out;
	}
	detection_config_default(&dc);
	dc.series = series;
	dc.store = so;
	dc.method = (enum detection_method)cfg.detect_method;
	dc.enabled = cfg.detect_enabled;
	dc.warmup_s = (unsigned)cfg.detect_warmup_s;
	dc.resolve_after_s = (unsigned)cfg.detect_resolve_after_s;
	dc.horizon_s = (unsigned)cfg.predict_horizon_s;
	dc.bus = bus;
	(void)aggregator_config_slo(&cfg, &dc.slo, NULL, 0); /* checked at load */
	ret = detection_start(&detection, &dc);
	slo_table_release(&dc.slo); /* detection keeps its own copy */
	if (ret) {
		log_error_err(ret, "aggregator: detection could not start");
		goto out;
	}
	ret = webhooks_start(&webhooks,
			     &(struct webhooks_config){
				     .store = so,
				     .bus = bus,
				     .max_attempts = (unsigned)cfg.webhooks_max_attempts,
				     .backoff_ms = (unsigned)cfg.webhooks_backoff_ms,
				     .backoff_max_ms = (unsigned)cfg.webhooks_backoff_max_ms,
				     .timeout_ms = (unsigned)cfg.webhooks_timeout_ms,
				     .workers = (unsigned)cfg.webhooks_workers,
				     .ca_file = or_null(cfg.webhooks_ca_file) });
	if (ret) {
		log_error_err(ret, "aggregator: webhooks could not start");
		goto out;
	}
	bh = (struct breaker_health){ .series = series, .detection = detection };
	ret = start_executor(&executor, &cfg, &so, ingest, &bh, bus, webhooks);
	if (ret) {
		log_error_err(ret, "aggregator: the action executor could not start");
		goto out;
	}
	ret = start_engine(&engine, &cfg, &so, series, detection, executor, bus);
	if (ret) {
		log_error_err(ret, "aggregator: the policy engine could not start");
		goto out;
	}
	aggregator_config_llm(&cfg, &lc);
	ret = llm_new(&lc, &llm, why, sizeof(why));
	if (ret) {
		log_error("aggregator: analysis.llm: %s", why);
		goto out;
	}
	if (llm_enabled(llm))
		log_info("aggregator: analysis prose by the model %s at %s", llm_model(llm),
			 llm_endpoint(llm));
	ret = audit_log_open(&audit, &so);
	if (ret) {
		log_error_err(ret, "aggregator: the audit log could not open");
		goto out;
	}
	if (restored) /* in the restored store's own log */
		audit_log_write(audit, KEYS_DEFAULT_TENANT, "system", "restore.applied", "store",
				NULL);
	if (cfg.auth && start_keys(&keys, &so, audit))
		goto out;
	if (!cfg.auth)
		log_warn("aggregator: auth is off (--no-auth): anyone who reaches port %u is an admin",
			 (unsigned)port);
	(void)aggregator_config_limits(&cfg, &limits, NULL, 0); /* checked at load */
	so.read_only = true;
	ret = api_start(&api, &(struct api_config){ .bind_address = host,
						     .port = port,
						     .threads = http_threads(&cfg),
						     .version = PRP_VERSION,
						     .series = series,
						     .store = &so,
						     .ingest_status = ingest_status,
						     .ingest_arg = ingest,
						     .detection = detection,
						     .engine = engine,
						     .executor = executor,
						     .llm = llm,
						     .keys = keys,
						     .bus = bus,
						     .webhooks = webhooks,
						     .loki = loki,
						     .otlp = otlp,
						     .audit = audit,
						     .dashboard = dashboard,
						     .rate_limit = cfg.rate_limit_enabled,
						     .limits = limits,
						     .connection_limit =
							     (unsigned)cfg.http_connection_limit,
						     .per_ip_connection_limit = (unsigned)
							     cfg.http_per_ip_connection_limit,
						     .connection_timeout_s =
							     (unsigned)cfg.http_connection_timeout_s,
						     .access_log = cfg.http_access_log,
						     .compat_ports = cfg.compat_ports,
						     .tls_cert_pem = tls_cert,
						     .tls_key_pem = tls_key });
	if (ret) {
		log_error_err(ret, "aggregator: the HTTP API could not start on %s%s", cfg.listen,
			      cfg.compat_ports ? " or a --compat-ports port (the line above names it)" :
						 "");
		goto out;
	}
	log_info("aggregator: version %s, data in %s, keys in %s, ingest on %s, %s on %s:%u, auth "
		 "%s",
		 PRP_VERSION, cfg.data, cfg.keys_dir, cfg.ingest, tls_cert ? "HTTPS" : "HTTP", host,
		 (unsigned)api_port(api), keys ? "on" : "off");
	wait_for_stop();
	rc = 0;
out:
	api_stop(api);
	dashboard_free(dashboard);
	keys_close(keys);
	audit_log_close(audit);
	free(tls_cert);
	if (tls_key)
		explicit_bzero(tls_key, strlen(tls_key));
	free(tls_key);
	llm_free(llm);
	engine_stop(engine);
	executor_stop(executor); /* it queues commands on ingest */
	/*
	 * ingest after the executor and before the exporters it pushes to: its
	 * last batch is committed and answered (everything acknowledged is on
	 * disk) and its lines and spans queued, then the exporters flush them
	 */
	if (ingest) {
		struct ingest_stats st;

		ingest_get_stats(ingest, &st);
		ingest_stop(ingest);
		log_info("aggregator: stopped; %llu frames stored, %llu duplicates dropped",
			 (unsigned long long)st.frames_stored, (unsigned long long)st.duplicates);
	}
	otlp_stop(otlp); /* flushes for 2 s at most */
	/* after the executor, which queues deliveries; pending ones wait in the store */
	webhooks_stop(webhooks);
	detection_stop(detection);
	/* after every publisher, so that their last events are exported; flushes for 2 s at most */
	loki_stop(loki);
	bus_close(bus); /* after every publisher: detection, the engine, the executor */
	series_free(series);
	aggregator_config_release(&cfg);
	return rc;
}
