#include "aggregator/export/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/detect/detection.h"
#include "common/prom_text.h"
#include "aggregator/store/store.h"
#include "common/alloc.h"
#include "common/compiler.h"

#define NS_PER_S 1e9

/* Every counter series of the tenant, read once per scrape. */
struct rows {
	struct store_metric *v;
	size_t n, cap;
};

static int collect(void *arg, const struct store_metric *m)
{
	struct rows *r = arg;

	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 256;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	r->v[r->n++] = *m;
	return 0;
}

/* Starts @name only when some row of @family exists: no empty families. */
static bool has_family(const struct rows *r, int family)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].family == family)
			return true;
	return false;
}

static void http_server(struct prom_text *p, const struct rows *r, const double *bounds)
{
	char status[16];

	if (!has_family(r, STORE_METRIC_HTTP_SERVER))
		return;
	prom_family(p, "http_server_request_duration_seconds", PROM_HISTOGRAM,
		    "Duration of HTTP server requests, seen from the kernel by prp-agent.");
	for (size_t i = 0; i < r->n; i++) {
		const struct store_metric *m = &r->v[i];
		struct prom_label l[4] = {
			{ "service_name", m->service },
			{ "http_request_method", m->l1 },
			{ "http_route", m->l2 },
			{ "http_response_status_code", status },
		};

		if (m->family != STORE_METRIC_HTTP_SERVER)
			continue;
		snprintf(status, sizeof(status), "%lld", (long long)m->l3);
		/* the overflow series has no status of its own */
		prom_histogram(p, l, m->l3 ? 4 : 3, bounds, m->bins, STORE_METRIC_BOUNDS, m->count,
			       m->sum_ns / NS_PER_S);
	}
}

static void http_client(struct prom_text *p, const struct rows *r, const double *bounds)
{
	if (!has_family(r, STORE_METRIC_HTTP_CLIENT))
		return;
	prom_family(p, "http_client_request_duration_seconds", PROM_HISTOGRAM,
		    "Duration of HTTP calls between services, seen from the caller's kernel.");
	for (size_t i = 0; i < r->n; i++) {
		const struct store_metric *m = &r->v[i];
		struct prom_label l[2] = { { "service_name", m->service },
					   { "server_service_name", m->l1 } };

		if (m->family == STORE_METRIC_HTTP_CLIENT)
			prom_histogram(p, l, 2, bounds, m->bins, STORE_METRIC_BOUNDS, m->count,
				       m->sum_ns / NS_PER_S);
	}
	prom_family(p, "prp_http_client_errors_total", PROM_COUNTER,
		    "HTTP calls between services answered with a 5xx status.");
	for (size_t i = 0; i < r->n; i++) {
		const struct store_metric *m = &r->v[i];
		struct prom_label l[2] = { { "service_name", m->service },
					   { "server_service_name", m->l1 } };

		if (m->family == STORE_METRIC_HTTP_CLIENT)
			prom_sample_u64(p, l, 2, m->errors);
	}
}

static void syscalls(struct prom_text *p, const struct rows *r)
{
	char errname[32];

	if (!has_family(r, STORE_METRIC_SYSCALL))
		return;
	prom_family(p, "prp_syscalls_total", PROM_COUNTER,
		    "System calls made by the service's processes.");
	for (size_t i = 0; i < r->n; i++) {
		const struct store_metric *m = &r->v[i];
		struct prom_label l[2] = { { "service_name", m->service }, { "syscall", m->l1 } };

		if (m->family == STORE_METRIC_SYSCALL)
			prom_sample_u64(p, l, 2, m->count);
	}
	if (!has_family(r, STORE_METRIC_SYSCALL_ERRNO))
		return;
	prom_family(p, "prp_syscall_errors_total", PROM_COUNTER,
		    "System calls that failed, by errno (\"other\": past the agent's distinct errnos).");
	for (size_t i = 0; i < r->n; i++) {
		const struct store_metric *m = &r->v[i];
		struct prom_label l[3] = { { "service_name", m->service },
					   { "syscall", m->l1 },
					   { "errno", errname } };
		const char *name;

		if (m->family != STORE_METRIC_SYSCALL_ERRNO)
			continue;
		name = m->l3 > 0 && m->l3 < 4096 ? strerrorname_np((int)m->l3) : NULL;
		if (m->l3 == 0)
			snprintf(errname, sizeof(errname), "other");
		else if (name)
			snprintf(errname, sizeof(errname), "%s", name);
		else
			snprintf(errname, sizeof(errname), "%lld", (long long)m->l3);
		prom_sample_u64(p, l, 3, m->count);
	}
}

/* The services that have any series, sorted, each once: borrowed from the rows. */
struct services {
	const char **v;
	size_t n;
};

static int service_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void services_of(const struct rows *r, struct services *out)
{
	out->v = xreallocarray(NULL, r->n ? r->n : 1, sizeof(*out->v));
	out->n = 0;
	for (size_t i = 0; i < r->n; i++)
		out->v[out->n++] = r->v[i].service;
	qsort(out->v, out->n, sizeof(*out->v), service_cmp);
	if (!out->n)
		return;
	size_t k = 1;
	for (size_t i = 1; i < out->n; i++)
		if (strcmp(out->v[i], out->v[k - 1]))
			out->v[k++] = out->v[i];
	out->n = k;
}

/*
 * A per-service counter, written for every service that has any series
 * (0 when nothing happened): a TCP reset counter that appears only after
 * the first reset would make rate() blind to the first one. The family's
 * rows come sorted by service (the store's order, the same as strcmp's), so
 * one merge walk of both lists.
 */
static void per_service(struct prom_text *p, const struct rows *r, const struct services *svcs,
			int family, const char *name, const char *help)
{
	size_t j = 0;

	if (!svcs->n)
		return;
	prom_family(p, name, PROM_COUNTER, help);
	while (j < r->n && r->v[j].family != family)
		j++;
	for (size_t i = 0; i < svcs->n; i++) {
		struct prom_label l = { "service_name", svcs->v[i] };
		uint64_t n = 0;

		while (j < r->n && r->v[j].family == family &&
		       strcmp(r->v[j].service, svcs->v[i]) < 0)
			j++;
		if (j < r->n && r->v[j].family == family && !strcmp(r->v[j].service, svcs->v[i]))
			n = r->v[j].count;
		prom_sample_u64(p, &l, 1, n);
	}
}

static void overflow(struct prom_text *p, const struct rows *r)
{
	if (!has_family(r, STORE_METRIC_OVERFLOW))
		return;
	prom_family(p, "prp_metrics_series_overflow_total", PROM_COUNTER,
		    "Window entries counted in a service's overflow series, past its series cap.");
	for (size_t i = 0; i < r->n; i++) {
		const struct store_metric *m = &r->v[i];
		struct prom_label l = { "service_name", m->service };
		uint64_t n = m->count;

		if (m->family != STORE_METRIC_OVERFLOW)
			continue;
		/* rows come by service then l1: one sample per service */
		while (i + 1 < r->n && r->v[i + 1].family == m->family &&
		       !strcmp(r->v[i + 1].service, m->service))
			n += r->v[++i].count;
		prom_sample_u64(p, &l, 1, n);
	}
}

static void detection_live(struct prom_text *p, const struct metrics_request *rq)
{
	struct detection_prediction *pv = NULL;
	struct detection_score *sv = NULL;
	struct store_service *svc = NULL;
	size_t ns = 0, np = 0, nsvc = 0;
	bool started = false;

	if (!detection_scores(rq->detection, rq->tenant, &sv, &ns) && ns) {
		prom_family(p, "prp_anomaly_score", PROM_GAUGE,
			    "How unlikely the signal's last second is under its baseline, 0 to 1.");
		for (size_t i = 0; i < ns; i++) {
			struct prom_label l[2] = { { "service_name", sv[i].service },
						   { "metric", signal_def(sv[i].signal)->name } };

			prom_sample(p, l, 2, sv[i].score);
		}
	}
	free(sv);
	if (!store_services(rq->store, rq->tenant, &svc, &nsvc) && nsvc) {
		prom_family(p, "prp_anomalies_open", PROM_GAUGE, "Anomalies open on the service.");
		for (size_t i = 0; i < nsvc; i++) {
			struct prom_label l = { "service_name", svc[i].name };

			prom_sample(p, &l, 1,
				    (double)detection_open_count(rq->detection, rq->tenant,
								 svc[i].name));
		}
	}
	store_services_free(svc, nsvc);
	if (!detection_predictions(rq->detection, rq->tenant, NULL, &pv, &np)) {
		for (size_t i = 0; i < np; i++) {
			struct prom_label l[2] = { { "service_name", pv[i].service },
						   { "metric", pv[i].metric } };

			if (!pv[i].will_breach && !pv[i].breached)
				continue;
			if (!started)
				prom_family(p, "prp_prediction_seconds_to_breach", PROM_GAUGE,
					    "Seconds until the signal is forecast to breach its SLO"
					    " (0: breached now); absent when no breach is forecast.");
			started = true;
			prom_sample(p, l, 2, pv[i].breached ? 0 : pv[i].breach_in_s);
		}
	}
	free(pv);
}

/* prp_actions_total, written as the rows come. */
struct actions_out {
	struct prom_text *p;
	bool started;
};

static int action_total(void *arg, const char *type, enum store_action_status status,
			uint64_t count)
{
	struct actions_out *o = arg;
	struct prom_label l[2] = { { "action", type }, { "status", store_action_status_name(status) } };

	if (!o->started)
		prom_family(o->p, "prp_actions_total", PROM_COUNTER,
			    "Remediation actions that have ended, by type and outcome.");
	o->started = true;
	prom_sample_u64(o->p, l, 2, count);
	return 0;
}

static void agents(struct prom_text *p, const struct metrics_request *rq)
{
	struct store_agent *a = NULL;
	size_t n = 0;

	if (store_agents(rq->store, rq->tenant, &a, &n) || !n) {
		free(a);
		return;
	}
	prom_family(p, "prp_agent_spool_bytes", PROM_GAUGE,
		    "Bytes the agent held unacknowledged in its spool, as it last reported.");
	for (size_t i = 0; i < n; i++) {
		struct prom_label l[2] = { { "agent_id", a[i].agent_id }, { "host", a[i].host } };

		prom_sample_u64(p, l, 2, a[i].spool_bytes);
	}
	prom_family(p, "prp_agent_spool_lost_frames_total", PROM_COUNTER,
		    "Frames the agent's spool dropped at its size bound.");
	for (size_t i = 0; i < n; i++) {
		struct prom_label l[2] = { { "agent_id", a[i].agent_id }, { "host", a[i].host } };

		prom_sample_u64(p, l, 2, a[i].spool_lost);
	}
	free(a);
}

static void platform(struct prom_text *p, const struct metrics_request *rq)
{
	const struct metrics_platform *pl = rq->platform;
	struct prom_label l;

	l = (struct prom_label){ "version", pl->version };
	prom_family(p, "prp_build_info", PROM_GAUGE, "The aggregator's version; always 1.");
	prom_sample(p, &l, 1, 1);
	prom_family(p, "prp_start_time_seconds", PROM_GAUGE,
		    "When the aggregator started, in seconds since the epoch.");
	prom_sample(p, NULL, 0, pl->start_time_s);
	prom_family(p, "prp_ingest_frames_total", PROM_COUNTER,
		    "Agent frames stored since the aggregator started.");
	prom_sample_u64(p, NULL, 0, pl->frames_received);
	prom_family(p, "prp_ingest_windows_total", PROM_COUNTER,
		    "Service windows stored since the aggregator started.");
	prom_sample_u64(p, NULL, 0, pl->windows_received);
	prom_family(p, "prp_ingest_frames_rejected_total", PROM_COUNTER,
		    "Agent frames refused since the aggregator started, by reason.");
	for (size_t i = 0; i < pl->nrejected; i++) {
		l = (struct prom_label){ "reason", pl->rejected[i].reason };
		prom_sample_u64(p, &l, 1, pl->rejected[i].count);
	}
	prom_family(p, "prp_agents_connected", PROM_GAUGE,
		    "Agents heard from within the last 5 seconds.");
	prom_sample_u64(p, NULL, 0, pl->agents_connected);
	prom_family(p, "prp_store_size_bytes", PROM_GAUGE, "Size of the store's database files.");
	prom_sample(p, NULL, 0, (double)store_size_bytes(rq->store));
	if (!pl->nexporters)
		return;
	prom_family(p, "prp_export_sent_total", PROM_COUNTER,
		    "Entries an exporter delivered since the aggregator started.");
	for (size_t i = 0; i < pl->nexporters; i++) {
		l = (struct prom_label){ "exporter", pl->exporters[i].exporter };
		prom_sample_u64(p, &l, 1, pl->exporters[i].sent);
	}
	prom_family(p, "prp_export_dropped_total", PROM_COUNTER,
		    "Entries an exporter dropped (queue full, refused, retries exhausted).");
	for (size_t i = 0; i < pl->nexporters; i++) {
		l = (struct prom_label){ "exporter", pl->exporters[i].exporter };
		prom_sample_u64(p, &l, 1, pl->exporters[i].dropped);
	}
}

char *metrics_render(const struct metrics_request *rq, size_t *len, int *err)
{
	struct rows rows = { 0 };
	struct services svcs;
	double bounds[STORE_METRIC_BOUNDS];
	struct actions_out ao;
	struct prom_text p;

	*err = store_metrics_each(rq->store, rq->tenant, collect, &rows);
	if (*err) {
		free(rows.v);
		return NULL;
	}
	for (int i = 0; i < STORE_METRIC_BOUNDS; i++)
		bounds[i] = (double)store_metric_bounds_ns[i] / NS_PER_S;
	prom_text_init(&p, rq->openmetrics);
	http_server(&p, &rows, bounds);
	http_client(&p, &rows, bounds);
	syscalls(&p, &rows);
	services_of(&rows, &svcs);
	per_service(&p, &rows, &svcs, STORE_METRIC_TCP_RETRANSMITS, "prp_tcp_retransmits_total",
		    "TCP segments the service's sockets retransmitted.");
	per_service(&p, &rows, &svcs, STORE_METRIC_TCP_RESETS, "prp_tcp_resets_total",
		    "TCP resets sent or received on the service's sockets.");
	per_service(&p, &rows, &svcs, STORE_METRIC_TCP_CONNECT_FAILURES, "prp_tcp_connect_failures_total",
		    "Outgoing TCP connections of the service that failed.");
	overflow(&p, &rows);
	free(svcs.v);
	free(rows.v);
	if (rq->detection)
		detection_live(&p, rq);
	ao = (struct actions_out){ .p = &p };
	(void)store_actions_totals(rq->store, rq->tenant, action_total, &ao);
	agents(&p, rq);
	if (rq->platform)
		platform(&p, rq);
	return prom_text_finish(&p, len);
}
