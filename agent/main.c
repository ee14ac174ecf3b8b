/*
 * prp-agent: watches the services of this host from the kernel and folds
 * what it sees into one window per service every --interval-ms.
 *
 * The main loop sleeps until the next event: a discovery refresh (which
 * services exist, their pids and ports; changes go to the samplers' BPF maps
 * and to the service view the other threads read) or the end of a window
 * (each sampler moves the kernel's counters into the windows, which are
 * printed with --print and then reset). The sender (agent/uplink.c) and
 * remediation (agent/remediation.c) have threads of their own. Signal
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
#include "agent/print.h"
#include "agent/remediation.h"
#include "agent/sampler_http.h"
#include "agent/sampler_syscalls.h"
#include "agent/sampler_tcp.h"
#include "agent/service_view.h"
#include "agent/services.h"
#include "agent/uplink.h"
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
	struct uplink *uplink; /* NULL: windows are not sent */
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
	if (a->http_on && sampler_http_set_targets(&a->http, a->services))
		log_warn("agent: the http sampler may miss services");
	if (a->syscalls_on && sampler_syscalls_set_targets(&a->syscalls, a->services))
		log_warn("agent: the syscalls sampler may miss services");
	if (a->tcp_on && sampler_tcp_set_targets(&a->tcp, a->services))
		log_warn("agent: the tcp sampler may miss services");
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

/* Collects from every sampler and emits one window per watched service. */
static void agent_close_window(struct agent *a)
{
	uint64_t end = time_real_ns();

	if (a->http_on && sampler_http_collect(&a->http, &a->windows))
		log_ratelimited(LOG_LEVEL_WARN, "agent: http collect failed");
	if (a->syscalls_on && sampler_syscalls_collect(&a->syscalls, &a->windows))
		log_ratelimited(LOG_LEVEL_WARN, "agent: syscalls collect failed");
	if (a->tcp_on && sampler_tcp_collect(&a->tcp, &a->windows))
		log_ratelimited(LOG_LEVEL_WARN, "agent: tcp collect failed");
	for (size_t i = 0; i < a->services->n; i++) {
		const struct service *svc = &a->services->items[i];
		const struct window *w = a->windows.by_id[svc->id];

		a->requests_seen += window_requests(w);
		if (a->cfg.print && print_window(stdout, w, svc, a->host, end))
			log_ratelimited(LOG_LEVEL_ERROR, "agent: cannot write to stdout");
	}
	if (a->uplink)
		uplink_send(a->uplink, a->services, &a->windows, end, a->cfg.interval_ms);
	window_set_release(&a->windows);
	a->windows_closed++;
}

static int agent_start_samplers(struct agent *a)
{
	if (a->cfg.samplers_http)
		a->http_on = !sampler_http_start(&a->http);
	if (a->cfg.samplers_syscalls)
		a->syscalls_on = !sampler_syscalls_start(&a->syscalls);
	if (a->syscalls_on)
		sampler_syscalls_set_sampling(&a->syscalls,
					      a->cfg.samplers_syscalls_sample_ms * NSEC_PER_MSEC,
					      a->cfg.interval_ms * NSEC_PER_MSEC);
	if (a->cfg.samplers_tcp)
		a->tcp_on = !sampler_tcp_start(&a->tcp);
	if (!a->http_on && !a->syscalls_on && !a->tcp_on) {
		log_error("agent: no sampler could start; see the warnings above");
		return -ENOTSUP;
	}
	log_info("agent: samplers http %s, syscalls %s, tcp %s", a->http_on ? "on" : "off",
		 a->syscalls_on ? "on" : "off", a->tcp_on ? "on" : "off");
	return 0;
}

static void agent_stop_samplers(struct agent *a)
{
	if (a->http_on)
		sampler_http_stop(&a->http);
	if (a->syscalls_on)
		sampler_syscalls_stop(&a->syscalls);
	if (a->tcp_on)
		sampler_tcp_stop(&a->tcp);
	a->http_on = a->syscalls_on = a->tcp_on = false;
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
		if (next > now)
			time_sleep_ns(next - now); /* a signal cuts it short: fine */
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
	/* the last, partial window */
	agent_close_window(a);
}

/* Flags handled outside the config table: --help, --check-config, --status. */
static int early_flags(int argc, char **argv, bool *check_only, bool *status_only)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: prp-agent [--config FILE] [--check-config] [--status] [flags]\n\n"
			       "  --status prints the state of the spool of a running agent\n\n");
			agent_config_print_help(stdout);
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
	struct agent a = { .lock_fd = -1 };
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
	log_info("agent: watching %zu services on %s, windows of %llu ms%s", a.services->n, a.host,
		 (unsigned long long)a.cfg.interval_ms, a.cfg.print ? ", printing them" : "");
	agent_run(&a);
	/* the sender first: no command may arrive once remediation is gone */
	uplink_stop(a.uplink);
	remediation_stop(a.remediation);
	service_view_free(a.view);
	agent_stop_samplers(&a);
	window_set_release(&a.windows);
	free(a.services);
	log_info("agent: stopped after %llu windows", (unsigned long long)a.windows_closed);
out_unlock:
	instance_unlock(a.lock_fd, a.cfg.lock_file);
out_discovery:
	discovery_free(a.discovery);
out_config:
	agent_config_release(&a.cfg);
	return rc;
}
