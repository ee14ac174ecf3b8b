/*
 * prp-agent: watches the services of this host from the kernel and folds
 * what it sees into one window per service every --interval-ms.
 *
 * The main loop sleeps until the next event: a discovery refresh (which
 * services exist, their pids and ports; changes go to the samplers' BPF maps
 * and to the service view the other threads read) or the end of a window
 * (each sampler moves the kernel's counters into the windows, which are
 * printed with --print, added to the local /metrics counters when
 * metrics.listen is set, and then reset). The sender (agent/uplink.c),
 * remediation (agent/remediation.c) and the /metrics server
 * (agent/metrics_http.c) have threads of their own. Signal
 * handlers only set a flag; the loop then closes the last window, stops
 * sending, detaches every program, breaker and limit and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_config.h"
#include "agent/discovery.h"
#include "agent/instance.h"
#include "agent/loader.h"
#include "agent/log_print.h"
#include "agent/metrics_http.h"
#include "agent/node_metrics.h"
#include "agent/print.h"
#include "agent/remediation.h"
#include "agent/sampler_http.h"
#include "agent/sampler_logs.h"
#include "agent/sampler_syscalls.h"
#include "agent/sampler_tcp.h"
#include "agent/service_view.h"
#include "agent/services.h"
#include "agent/span_print.h"
#include "agent/spans.h"
#include "agent/uplink.h"
#include "bpf/http.h"
#include "common/window.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

#define AGENT_STATUS_EVERY_NS (60 * NSEC_PER_SEC)

struct agent {
	struct agent_config cfg;
	char host[256];
	int lock_fd;
	struct discovery *discovery;
	struct service_set *services;
	struct service_view *view; /* services, for the sender's and remediation's threads */
	struct remediation *remediation; /* NULL: commands but ping are unknown */
	struct window_set windows;
	struct sampler_http http;
	struct sampler_syscalls syscalls;
	struct sampler_tcp tcp;
	bool http_on, syscalls_on, tcp_on;
	struct sampler_logs logs;
	bool logs_on;
	struct spans *spans;	     /* NULL: traces off */
	uint64_t spans_lost_logged; /* spans' drops already logged */
	struct uplink *uplink; /* NULL: windows are not sent */
	struct node_metrics *metrics; /* NULL: no local /metrics */
	struct metrics_http *metrics_http; /* serves metrics */
	uint64_t start_ns; /* time_real_ns() at start */
	uint64_t windows_closed, requests_seen;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Sends the services to every running sampler. */
static void agent_set_targets(struct agent *a)
{
	/* names first: the kernel may use an id as soon as its maps have it */
	if (a->spans)
		spans_set_services(a->spans, a->services);
	if (a->http_on && sampler_http_set_targets(&a->http, a->services))
		log_warn("agent: the http sampler may miss services");
	if (a->syscalls_on && sampler_syscalls_set_targets(&a->syscalls, a->services))
		log_warn("agent: the syscalls sampler may miss services");
	if (a->tcp_on && sampler_tcp_set_targets(&a->tcp, a->services))
		log_warn("agent: the tcp sampler may miss services");
	if (a->logs_on && sampler_logs_set_targets(&a->logs, a->services))
		log_warn("agent: the logs sampler may miss services");
}

static void agent_refresh(struct agent *a)
{
	bool changed = false;
	int err = discovery_refresh(a->discovery, a->services, &changed);

	if (err) {
		log_ratelimited(LOG_LEVEL_WARN, "agent: discovery failed: %s", strerror(-err));
		return;
	}
	service_view_publish(a->view, a->services, changed);
	if (changed)
		agent_set_targets(a);
}

static uint64_t window_requests(const struct window *w)
{
	uint64_t n = 0;

	for (size_t i = 0; w && i < w->nhttp; i++)
		n += w->http[i].count;
	return n;
}

static void health_sampler(struct node_metrics_health *h, const char *name, bool on)
{
	if (h->nsamplers == NODE_METRICS_SAMPLERS_MAX)
		return;
	h->samplers[h->nsamplers].name = name;
	h->samplers[h->nsamplers++].on = on;
}

static void health_drop(struct node_metrics_health *h, const char *sampler, const char *reason,
			uint64_t count)
{
	if (h->ndrops == NODE_METRICS_DROPS_MAX)
		return;
	h->drops[h->ndrops].sampler = sampler;
	h->drops[h->ndrops].reason = reason;
	h->drops[h->ndrops++].count = count;
}

/* Hands the agent's own state to the local /metrics, with the counters added so far. */
static void agent_publish_metrics(struct agent *a)
{
	struct node_metrics_health h = { .windows = a->windows_closed,
					 .services_watched = a->services->n };
	struct uplink_stats us;

	health_sampler(&h, "http", a->http_on);
	health_sampler(&h, "syscalls", a->syscalls_on);
	health_sampler(&h, "tcp", a->tcp_on);
	health_sampler(&h, "logs", a->logs_on);
	/* what each sampler could not count (a retransmitted request is not a loss) */
	if (a->http_on) {
		health_drop(&h, "http", "map_full", a->http.drops[HTTP_DROP_STATS_FULL]);
		health_drop(&h, "http", "unanswered", a->http.drops[HTTP_DROP_UNANSWERED]);
	}
	if (a->syscalls_on) {
		health_drop(&h, "syscalls", "map_full", a->syscalls.dropped);
		health_drop(&h, "syscalls", "kernel_skipped", a->syscalls.missed);
	}
	if (a->logs_on) {
		struct sampler_logs_stats ls;

		sampler_logs_get_stats(&a->logs, &ls);
		health_drop(&h, "logs", "ring_full", ls.ring_full + ls.unread);
		health_drop(&h, "logs", "rate_limited", ls.lines.rate_limited);
		health_drop(&h, "logs", "window_full", ls.window_full + ls.bytes_full);
	}
	if (a->uplink) {
		uplink_get_stats(a->uplink, &us);
		h.uplink = true;
		h.uplink_connected = us.connected;
		h.frames_sent = us.frames_sent;
		h.frames_acked = us.frames_acked;
		h.spool_bytes = us.spool_bytes;
		h.spool_lost_frames = us.spool_lost_frames;
	}
	node_metrics_publish(a->metrics, &h);
}

/*
 * The local /metrics, when metrics.listen is set: after the samplers, so
 * that it says which run. 0, or -errno after one log line saying why.
 */
static int agent_start_metrics(struct agent *a)
{
	int err;

	if (!a->cfg.metrics_listen || !*a->cfg.metrics_listen)
		return 0;
	a->metrics = node_metrics_new(a->cfg.metrics_series_per_service,
				      (double)a->start_ns / NSEC_PER_SEC);
	agent_publish_metrics(a);
	err = metrics_http_start(&a->metrics_http, a->cfg.metrics_listen, node_metrics_render,
				 a->metrics);
	if (err) {
		node_metrics_free(a->metrics);
		a->metrics = NULL;
	}
	return err;
}

/*
 * A finished span: printed with --print-spans, and put into the window of
 * its service, so it rides the windows' frame (and its spool, acks and
 * dedup) to the aggregator, which hands it to its OTLP exporter.
 */
static void agent_emit_span(void *arg, const struct span *s)
{
	struct agent *a = arg;
	const struct service *svc = service_set_by_name(a->services, s->service);
	struct window *w;
	struct span *slot;

	if (a->cfg.print_spans && span_print(stdout, s))
		log_ratelimited(LOG_LEVEL_ERROR, "agent: cannot write to stdout");
	if (!svc) {
		/* its service went away between the request and now */
		log_ratelimited(LOG_LEVEL_WARN, "agent: a span of '%s', no longer watched, dropped",
				s->service);
		return;
	}
	w = window_set_get(&a->windows, svc->id);
	slot = w ? window_span_add(w) : NULL;
	if (slot)
		*slot = *s;
}

/*
 * Drains the kernel's span records and emits the traces due at @now_mono_ns
 * (UINT64_MAX: every one, at exit).
 */
static void agent_collect_spans(struct agent *a, uint64_t now_mono_ns)
{
	struct spans_stats st;
	uint64_t lost;

	if (sampler_http_spans_drain(&a->http) < 0)
		log_ratelimited(LOG_LEVEL_WARN, "agent: cannot read the span records");
	spans_collect(a->spans, now_mono_ns, agent_emit_span, a);
	spans_get_stats(a->spans, &st);
	lost = st.pending_dropped + st.traces_over_cap + a->http.drops[HTTP_DROP_SPANS_FULL];
	if (lost > a->spans_lost_logged) {
		log_ratelimited(LOG_LEVEL_WARN,
				"agent: spans lost: %llu records past the pending bound, %llu in a "
				"full kernel ring, %llu traces past traces.max_spans_per_window",
				(unsigned long long)st.pending_dropped,
				(unsigned long long)a->http.drops[HTTP_DROP_SPANS_FULL],
				(unsigned long long)st.traces_over_cap);
		a->spans_lost_logged = lost;
	}
}

/* Collects from every sampler and emits one window per watched service. */
static void agent_close_window(struct agent *a)
{
	uint64_t end = time_real_ns();

	if (a->http_on && sampler_http_collect(&a->http, &a->windows))
		log_ratelimited(LOG_LEVEL_WARN, "agent: http collect failed");
	if (a->spans) {
		agent_collect_spans(a, time_mono_ns());
		spans_window_reset(a->spans);
	}
	if (a->syscalls_on && sampler_syscalls_collect(&a->syscalls, &a->windows))
		log_ratelimited(LOG_LEVEL_WARN, "agent: syscalls collect failed");
	if (a->tcp_on && sampler_tcp_collect(&a->tcp, &a->windows))
		log_ratelimited(LOG_LEVEL_WARN, "agent: tcp collect failed");
	if (a->logs_on && sampler_logs_collect(&a->logs, &a->windows))
		log_ratelimited(LOG_LEVEL_WARN, "agent: logs collect failed");
	for (size_t i = 0; i < a->services->n; i++) {
		const struct service *svc = &a->services->items[i];
		const struct window *w = a->windows.by_id[svc->id];

		a->requests_seen += window_requests(w);
		if (a->cfg.print && print_window(stdout, w, svc, a->host, end))
			log_ratelimited(LOG_LEVEL_ERROR, "agent: cannot write to stdout");
		if (a->cfg.print_logs && log_print(stdout, w, svc->name, a->host))
			log_ratelimited(LOG_LEVEL_ERROR, "agent: cannot write to stdout");
		if (a->metrics)
			node_metrics_add(a->metrics, svc->name, w);
	}
	if (a->uplink)
		uplink_send(a->uplink, a->services, &a->windows, end, a->cfg.interval_ms);
	window_set_release(&a->windows);
	a->windows_closed++;
	if (a->metrics)
		agent_publish_metrics(a);
}

static void agent_on_span(void *arg, const struct http_span_event *e)
{
	spans_add(arg, e);
}

static void agent_on_head(void *arg, const struct http_head_event *h)
{
	spans_add_head(arg, h);
}

/* The HTTP sampler, with a span ring and the span builder when traces are on. */
static bool agent_start_http(struct agent *a)
{
	struct sampler_http_opts o = { 0 };
	struct spans_config sc;

	if (!a->cfg.traces_enabled)
		return !sampler_http_start(&a->http);
	spans_config_default(&sc);
	sc.sample_rate = a->cfg.traces_sample_rate;
	sc.slow_ns = a->cfg.traces_slow_ms * NSEC_PER_MSEC;
	sc.max_spans_per_window = a->cfg.traces_max_spans_per_window;
	sc.host = a->host;
	a->spans = spans_new(&sc);
	o.spans_ring_bytes = HTTP_SPANS_RING_BYTES;
	o.on_span = agent_on_span;
	o.on_head = agent_on_head;
	o.span_arg = a->spans;
	if (sampler_http_start_opts(&a->http, &o)) {
		spans_free(a->spans);
		a->spans = NULL;
		return false;
	}
	if (sampler_http_spans_enable(&a->http, true)) {
		log_warn("agent: traces are off: cannot switch the kernel's span records on");
		spans_free(a->spans);
		a->spans = NULL;
		return true;
	}
	log_info("agent: traces on, sample rate %g, slow above %llu ms, at most %llu spans a window",
		 sc.sample_rate, (unsigned long long)a->cfg.traces_slow_ms,
		 (unsigned long long)sc.max_spans_per_window);
	return true;
}

static int agent_start_samplers(struct agent *a)
{
	if (a->cfg.samplers_http)
		a->http_on = agent_start_http(a);
	else if (a->cfg.traces_enabled)
		log_warn("agent: traces are off: they need samplers.http");
	if (a->cfg.print_spans && !a->spans)
		log_warn("agent: --print-spans will print nothing: traces are off");
	if (a->cfg.samplers_syscalls)
		a->syscalls_on = !sampler_syscalls_start(&a->syscalls);
	if (a->syscalls_on)
		sampler_syscalls_set_sampling(&a->syscalls,
					      a->cfg.samplers_syscalls_sample_ms * NSEC_PER_MSEC,
					      a->cfg.interval_ms * NSEC_PER_MSEC);
	if (a->cfg.samplers_tcp)
		a->tcp_on = !sampler_tcp_start(&a->tcp);
	if (a->cfg.logs_enabled)
		a->logs_on = !sampler_logs_start(
			&a->logs, &(struct sampler_logs_config){
					  .max_line = a->cfg.logs_max_line,
					  .rate_limit = (uint32_t)a->cfg.logs_rate_limit,
					  .max_lines_per_window = a->cfg.logs_max_lines_per_window });
	if (!a->http_on && !a->syscalls_on && !a->tcp_on && !a->logs_on) {
		log_error("agent: no sampler could start; see the warnings above");
		return -ENOTSUP;
	}
	log_info("agent: samplers http %s, syscalls %s, tcp %s, logs %s",
		 a->http_on ? "on" : "off", a->syscalls_on ? "on" : "off",
		 a->tcp_on ? "on" : "off", a->logs_on ? "on" : "off");
	return 0;
}

static void agent_stop_samplers(struct agent *a)
{
	if (a->http_on)
		sampler_http_stop(&a->http);
	spans_free(a->spans);
	a->spans = NULL;
	if (a->syscalls_on)
		sampler_syscalls_stop(&a->syscalls);
	if (a->tcp_on)
		sampler_tcp_stop(&a->tcp);
	if (a->logs_on)
		sampler_logs_stop(&a->logs);
	a->http_on = a->syscalls_on = a->tcp_on = a->logs_on = false;
}

static void agent_run(struct agent *a)
{
	const uint64_t interval = a->cfg.interval_ms * NSEC_PER_MSEC;
	const uint64_t refresh = a->cfg.discovery_refresh_ms * NSEC_PER_MSEC;
	uint64_t now = time_mono_ns(), next_window = now + interval, next_refresh = now + refresh;
	uint64_t next_status = now + AGENT_STATUS_EVERY_NS;

	while (!stop_requested) {
		uint64_t next = next_window < next_refresh ? next_window : next_refresh;
		uint64_t next_sample = a->syscalls_on ? sampler_syscalls_tick(&a->syscalls, now)
						      : UINT64_MAX;

		if (next_sample < next)
			next = next_sample;

		now = time_mono_ns();
		/* a signal cuts it short: fine; with traces, so does a filling span ring */
		if (next > now && a->spans) {
			/* woken by the ring: build what is due now, the window goes on */
			if (sampler_http_spans_wait(&a->http, next - now) > 0)
				spans_collect(a->spans, time_mono_ns(), agent_emit_span, a);
		} else if (next > now) {
			time_sleep_ns(next - now);
		}
		if (stop_requested)
			break;
		now = time_mono_ns();
		if (a->syscalls_on)
			sampler_syscalls_tick(&a->syscalls, now);
		if (now >= next_refresh) {
			agent_refresh(a);
			next_refresh += refresh;
			if (next_refresh <= now)
				next_refresh = now + refresh;
		}
		if (now >= next_window) {
			agent_close_window(a);
			next_window += interval;
			if (next_window <= now) {
				log_warn("agent: a window took longer than %llu ms; skipping ahead",
					 (unsigned long long)a->cfg.interval_ms);
				next_window = now + interval;
			}
		}
		if (now >= next_status) {
			log_info("agent: %llu windows, %llu requests seen, %zu services",
				 (unsigned long long)a->windows_closed,
				 (unsigned long long)a->requests_seen, a->services->n);
			if (a->uplink)
				uplink_log_status(a->uplink);
			next_status += AGENT_STATUS_EVERY_NS;
		}
	}
	/* the last, partial window with every partial log line and every trace still waiting */
	if (a->logs_on)
		sampler_logs_flush(&a->logs);
	if (a->spans)
		agent_collect_spans(a, UINT64_MAX);
	agent_close_window(a);
}

/* Flags handled outside the config table: --help, --check-config, --status. */
static int early_flags(int argc, char **argv, bool *check_only, bool *status_only)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: prp-agent [--config FILE] [--check-config] [--status] [--version] [flags]\n\n"
			       "  --status prints the state of the spool of a running agent\n\n");
			agent_config_print_help(stdout);
			return 1;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("%s %s\n", "prp-agent", PRP_VERSION);
			return 1;
		}
		if (!strcmp(argv[i], "--check-config"))
			*check_only = true;
		if (!strcmp(argv[i], "--status"))
			*status_only = true;
	}
	return 0;
}

/* argv without --check-config and --status, which the config table does not know. */
static char **config_argv(int argc, char **argv, int *out_argc)
{
	char **out = xcalloc((size_t)argc + 1, sizeof(*out));
	int n = 0;

	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--check-config") && strcmp(argv[i], "--status"))
			out[n++] = argv[i];
	*out_argc = n;
	return out;
}

/* Loads the config and checks the selectors. Returns 0, or 2 after saying why. */
static int agent_init(struct agent *a, int argc, char **argv)
{
	char err[512];
	int cargc, next = 0, rc;
	char **cargv = config_argv(argc, argv, &cargc);

	rc = agent_config_load(&a->cfg, cargc, cargv, &next, err, sizeof(err));
	if (!rc && next < cargc) {
		snprintf(err, sizeof(err), "unexpected argument '%s'", cargv[next]);
		rc = -EINVAL;
	}
	free(cargv);
	if (rc) {
		fprintf(stderr, "prp-agent: %s\n", err);
		return 2;
	}
	log_init("prp-agent", (enum log_level)a->cfg.log_level, LOG_TO_STDERR);
	if (a->cfg.host)
		snprintf(a->host, sizeof(a->host), "%s", a->cfg.host);
	else if (gethostname(a->host, sizeof(a->host) - 1))
		snprintf(a->host, sizeof(a->host), "unknown");
	a->discovery = discovery_new("/proc", (const char *const *)a->cfg.service.items,
				     a->cfg.service.count, err, sizeof(err));
	if (!a->discovery) {
		fprintf(stderr, "prp-agent: %s\n", err);
		return 2;
	}
	for (size_t i = 0; i < a->cfg.discovery_exclude_ports.count; i++)
		discovery_exclude_port(a->discovery, agent_config_exclude_port(&a->cfg, i));
	return 0;
}

int main(int argc, char **argv)
{
	struct agent a = { .lock_fd = -1, .start_ns = time_real_ns() };
	bool check_only = false, status_only = false;
	char err[512];
	int rc;

	log_init("prp-agent", LOG_LEVEL_INFO, LOG_TO_STDERR);
	if (early_flags(argc, argv, &check_only, &status_only))
		return 0;
	rc = agent_init(&a, argc, argv);
	if (rc)
		goto out_config;
	if (check_only) {
		printf("configuration OK\n");
		goto out_discovery;
	}
	if (status_only) {
		rc = uplink_print_status(a.cfg.spool_dir);
		goto out_discovery;
	}
	if (instance_lock(a.cfg.lock_file, &a.lock_fd, err, sizeof(err))) {
		log_error("agent: %s", err);
		rc = 1;
		goto out_discovery;
	}
	if (loader_init() || agent_start_samplers(&a)) {
		rc = 1;
		goto out_unlock;
	}
	a.view = service_view_new();
	/*
	 * After the samplers, and before anything that could fork (breaker.h).
	 * Commands come only from an aggregator: with none, nothing attaches.
	 */
	if (a.cfg.aggregator && *a.cfg.aggregator &&
	    remediation_start(&a.remediation,
			      &(struct remediation_config){
				      .cgroup_path = a.cfg.breaker_cgroup,
				      .restart_commands =
					      (const char *const *)a.cfg.restart_command.items,
				      .nrestart_commands = a.cfg.restart_command.count,
				      .services = a.view }))
		log_warn("agent: remediation is off; the aggregator's commands will fail");
	if (uplink_start(&a.uplink, &a.cfg, a.host, a.remediation, a.view) < 0) {
		remediation_stop(a.remediation);
		service_view_free(a.view);
		agent_stop_samplers(&a);
		rc = 1;
		goto out_unlock;
	}
	if (!a.uplink && a.remediation) {
		/* no sender (no key file, said above): no command can come */
		remediation_stop(a.remediation);
		a.remediation = NULL;
	}
	a.services = xcalloc(1, sizeof(*a.services));
	window_set_init(&a.windows);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	agent_refresh(&a);
	if (agent_start_metrics(&a)) {
		log_error("agent: cannot serve /metrics on '%s'; not starting",
			  a.cfg.metrics_listen);
		rc = 1;
		goto out_stop;
	}
	log_info("agent: watching %zu services on %s, windows of %llu ms%s", a.services->n, a.host,
		 (unsigned long long)a.cfg.interval_ms, a.cfg.print ? ", printing them" : "");
	agent_run(&a);
out_stop:
	/* the last window is published: no scrape is served from here on */
	metrics_http_stop(a.metrics_http);
	node_metrics_free(a.metrics);
	/* the sender first: no command may arrive once remediation is gone */
	uplink_stop(a.uplink);
	remediation_stop(a.remediation);
	service_view_free(a.view);
	agent_stop_samplers(&a);
	window_set_release(&a.windows);
	free(a.services);
	if (!rc)
		log_info("agent: stopped after %llu windows", (unsigned long long)a.windows_closed);
out_unlock:
	instance_unlock(a.lock_fd, a.cfg.lock_file);
out_discovery:
	discovery_free(a.discovery);
out_config:
	agent_config_release(&a.cfg);
	return rc;
}
