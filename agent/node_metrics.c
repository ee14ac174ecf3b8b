/*
 * The local /metrics counters (see node_metrics.h for what and why). Each
 * service keeps its series in an array, in the order they first appeared,
 * with an open-addressing index over them (hashes of the labels), so adding
 * a window costs one look-up per entry whatever the number of series. A
 * snapshot copies every service's series into one array: a few hundred
 * bytes per series per window, cheap next to the window itself.
 *
 * Latencies are folded into OpenTelemetry's bins with hist_bins(): each
 * histogram bucket counts at its midpoint clamped to [min, max], as the
 * aggregator does with hist_wire_bins(), so both /metrics put a request in
 * the same bin. _count is the entries' request count and _sum the
 * histograms' sum, both exact.
 */
#include "agent/node_metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/syscall_names.h"
#include "common/alloc.h"
#include "common/hash.h"
#include "common/hist.h"
#include "common/log.h"
#include "common/prom_text.h"

#define NS_PER_S	1e9
#define OVERFLOW_LABEL	"{overflow}"
#define OVERFLOW_METHOD "_OTHER"

/* The aggregator's bounds (aggregator/store/store_metrics.c), in ns. */
/* clang-format off */
static const uint64_t bounds_ns[NODE_METRICS_BOUNDS] = {
	5000000,   10000000,   25000000,   50000000,   75000000,   100000000,  250000000,
	500000000, 750000000, 1000000000, 2500000000, 5000000000, 7500000000, 10000000000,
};
/* clang-format on */

enum series_kind { SERIES_SERVER, SERIES_CLIENT, SERIES_SYSCALL, SERIES_ERRNO };

/* One labelled series: the labels by kind, then the counts. */
struct series {
	uint64_t hash; /* of kind and labels: the index's key */
	uint64_t count;
	uint64_t errors; /* client: calls answered with a 5xx */
	uint64_t sum_ns;
	uint64_t bins[NODE_METRICS_BOUNDS + 1]; /* not cumulative; the last: past the last bound */
	int32_t l3;				/* server: status; errno: the errno (0: "other") */
	uint8_t kind;				/* enum series_kind */
	bool overflow;				/* the service's overflow series of its kind */
	char l1[WINDOW_ADDRESS_MAX];		/* method, callee, syscall */
	char l2[WINDOW_ROUTE_MAX];		/* server: route */
};

struct svc {
	char name[SERVICE_NAME_MAX];
	uint64_t name_hash;
	struct series *v; /* in order of arrival */
	size_t n, cap;
	uint32_t *slots; /* index + 1 into v, 0 for a free slot; nslots is a power of two */
	size_t nslots;
	size_t nhttp; /* server and client series but the overflow ones: what the cap counts */
	uint64_t overflow;
	struct window_tcp tcp;
};

struct snap_svc {
	char name[SERVICE_NAME_MAX];
	size_t first, n; /* its series in snapshot.series */
	uint64_t overflow;
	struct window_tcp tcp;
};

/* What scrapes read: never changed once published; freed with its last reference. */
struct snapshot {
	atomic_uint refs;
	double start_time_s;
	struct node_metrics_health health;
	struct snap_svc *svcs;
	size_t nsvcs;
	struct series *series;
};

struct node_metrics {
	uint64_t series_max;
	double start_time_s;
	struct svc *svcs; /* main loop only */
	size_t nsvcs, svcs_cap;
	bool full_logged;
	pthread_mutex_t lock;	  /* guards current (the pointer; the snapshot needs none) */
	struct snapshot *current; /* never NULL */
};

/* ---- series look-up ---- */

static uint64_t series_hash(uint8_t kind, const char *l1, const char *l2, int32_t l3)
{
	uint64_t h = (HASH_FNV_OFFSET ^ kind) * HASH_FNV_PRIME;

	h = hash_fnv1a_str(h, l1);
	h = hash_fnv1a_str((h ^ 0xff) * HASH_FNV_PRIME, l2); /* 0xff: in no label, a separator */
	for (int i = 0; i < 4; i++)
		h = (h ^ (uint8_t)((uint32_t)l3 >> (8 * i))) * HASH_FNV_PRIME;
	return h;
}

static bool series_is(const struct series *x, uint64_t hash, uint8_t kind, const char *l1,
		      const char *l2, int32_t l3)
{
	return x->hash == hash && x->kind == kind && x->l3 == l3 && !strcmp(x->l1, l1) &&
	       !strcmp(x->l2, l2);
}

/* Puts v[i] in the index; there is a free slot (the index is at most half full). */
static void index_put(struct svc *s, size_t i)
{
	size_t slot = s->v[i].hash & (s->nslots - 1);

	while (s->slots[slot])
		slot = (slot + 1) & (s->nslots - 1);
	s->slots[slot] = (uint32_t)i + 1;
}

/* Makes room for one more series: the array and, at half full, a twice larger index. */
static void svc_grow(struct svc *s)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	if (2 * (s->n + 1) <= s->nslots)
		return;
	free(s->slots);
	s->nslots = s->nslots ? 2 * s->nslots : 64;
	s->slots = xcalloc(s->nslots, sizeof(*s->slots));
	for (size_t i = 0; i < s->n; i++)
		index_put(s, i);
}

/*
 * The series of @kind with these labels (truncated to their fields), added
 * when absent, unless @capped and the service is at @max: NULL then.
 */
static struct series *series_get(struct svc *s, uint8_t kind, const char *l1, const char *l2,
				 int32_t l3, bool capped, uint64_t max)
{
	struct series key, *x;
	size_t slot;

	/* truncate first, so that the stored labels are the ones hashed */
	snprintf(key.l1, sizeof(key.l1), "%s", l1);
	snprintf(key.l2, sizeof(key.l2), "%s", l2);
	key.hash = series_hash(kind, key.l1, key.l2, l3);
	for (slot = s->nslots ? key.hash & (s->nslots - 1) : 0; s->nslots && s->slots[slot];
	     slot = (slot + 1) & (s->nslots - 1)) {
		x = &s->v[s->slots[slot] - 1];
		if (series_is(x, key.hash, kind, key.l1, key.l2, l3))
			return x;
	}
	if (capped && s->nhttp >= max)
		return NULL;
	svc_grow(s);
	x = &s->v[s->n];
	memset(x, 0, sizeof(*x));
	x->hash = key.hash;
	x->kind = kind;
	x->l3 = l3;
	memcpy(x->l1, key.l1, sizeof(x->l1));
	memcpy(x->l2, key.l2, sizeof(x->l2));
	index_put(s, s->n++);
	if (capped)
		s->nhttp++;
	return x;
}

/* The service's series, or its overflow series (counted) when it is at the cap. */
static struct series *http_series(const struct node_metrics *m, struct svc *s, uint8_t kind,
				  const char *l1, const char *l2, int32_t l3)
{
	struct series *x = series_get(s, kind, l1, l2, l3, true, m->series_max);

	if (x)
		return x;
	s->overflow++;
	if (kind == SERIES_SERVER)
		x = series_get(s, kind, OVERFLOW_METHOD, OVERFLOW_LABEL, 0, false, 0);
	else
		x = series_get(s, kind, OVERFLOW_LABEL, "", 0, false, 0);
	x->overflow = true;
	return x;
}

/* ---- adding windows (main loop) ---- */

static struct svc *svc_get(struct node_metrics *m, const char *name)
{
	uint64_t h = hash_fnv1a_str(HASH_FNV_OFFSET, name);
	struct svc *s;

	for (size_t i = 0; i < m->nsvcs; i++)
		if (m->svcs[i].name_hash == h && !strcmp(m->svcs[i].name, name))
			return &m->svcs[i];
	if (m->nsvcs == NODE_METRICS_SERVICES_MAX) {
		if (!m->full_logged)
			log_warn("metrics: %d services already counted; '%s' and any later ones "
				 "are left out of /metrics until the agent restarts",
				 NODE_METRICS_SERVICES_MAX, name);
		m->full_logged = true;
		return NULL;
	}
	if (m->nsvcs == m->svcs_cap) {
		m->svcs_cap = m->svcs_cap ? 2 * m->svcs_cap : 16;
		m->svcs = xreallocarray(m->svcs, m->svcs_cap, sizeof(*m->svcs));
	}
	s = &m->svcs[m->nsvcs++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->name_hash = h;
	return s;
}

static void add_latency(struct series *x, const struct hist *h)
{
	hist_bins(h, bounds_ns, NODE_METRICS_BOUNDS, x->bins);
	x->sum_ns += hist_sum(h);
}

void node_metrics_add(struct node_metrics *m, const char *service, const struct window *w)
{
	struct svc *s = svc_get(m, service);
	char nr[16];

	if (!s || !w)
		return;
	for (size_t i = 0; i < w->nhttp; i++) {
		const struct window_http *e = &w->http[i];
		struct series *x = http_series(m, s, SERIES_SERVER, e->method, e->route, e->status);

		x->count += e->count;
		add_latency(x, &e->latency_ns);
	}
	for (size_t i = 0; i < w->ncalls; i++) {
		const struct window_call *e = &w->calls[i];
		/* the callee's service name, or its address when it is not a known service */
		struct series *x =
			http_series(m, s, SERIES_CLIENT, e->peer[0] ? e->peer : e->address, "", 0);

		x->count += e->count;
		x->errors += e->errors;
		add_latency(x, &e->latency_ns);
	}
	for (size_t i = 0; i < w->nsyscalls; i++) {
		const struct window_syscall *e = &w->syscalls[i];
		const char *name = e->name;

		if (!name[0]) {
			snprintf(nr, sizeof(nr), "nr_%u", e->nr);
			name = nr;
		}
		series_get(s, SERIES_SYSCALL, name, "", 0, false, 0)->count += e->count;
		for (size_t j = 0; j < e->nerrnos; j++)
			series_get(s, SERIES_ERRNO, name, "", e->errnos[j].err, false, 0)->count +=
				e->errnos[j].count;
	}
	s->tcp.retransmits += w->tcp.retransmits;
	s->tcp.resets += w->tcp.resets;
	s->tcp.connect_failures += w->tcp.connect_failures;
}

/* ---- snapshots ---- */

static void snapshot_put(struct snapshot *snap)
{
	if (!snap || atomic_fetch_sub(&snap->refs, 1) != 1)
		return;
	free(snap->series);
	free(snap->svcs);
	free(snap);
}

void node_metrics_publish(struct node_metrics *m, const struct node_metrics_health *h)
{
	struct snapshot *snap = xcalloc(1, sizeof(*snap)), *old;
	size_t total = 0;

	for (size_t i = 0; i < m->nsvcs; i++)
		total += m->svcs[i].n;
	atomic_init(&snap->refs, 1);
	snap->start_time_s = m->start_time_s;
	snap->health = *h;
	snap->svcs = xcalloc(m->nsvcs ? m->nsvcs : 1, sizeof(*snap->svcs));
	snap->series = xcalloc(total ? total : 1, sizeof(*snap->series));
	for (size_t i = 0, at = 0; i < m->nsvcs; i++) {
		const struct svc *s = &m->svcs[i];
		struct snap_svc *d = &snap->svcs[i];

		memcpy(d->name, s->name, sizeof(d->name));
		d->first = at;
		d->n = s->n;
		d->overflow = s->overflow;
		d->tcp = s->tcp;
		if (s->n)
			memcpy(&snap->series[at], s->v, s->n * sizeof(*s->v));
		at += s->n;
	}
	snap->nsvcs = m->nsvcs;
	pthread_mutex_lock(&m->lock);
	old = m->current;
	m->current = snap;
	pthread_mutex_unlock(&m->lock);
	snapshot_put(old);
}

struct node_metrics *node_metrics_new(uint64_t series_per_service, double start_time_s)
{
	struct node_metrics *m = xcalloc(1, sizeof(*m));
	struct node_metrics_health none = { 0 };

	m->series_max = series_per_service;
	m->start_time_s = start_time_s;
	pthread_mutex_init(&m->lock, NULL);
	node_metrics_publish(m, &none);
	return m;
}

void node_metrics_free(struct node_metrics *m)
{
	if (!m)
		return;
	snapshot_put(m->current);
	for (size_t i = 0; i < m->nsvcs; i++) {
		free(m->svcs[i].v);
		free(m->svcs[i].slots);
	}
	free(m->svcs);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* ---- the exposition (any thread, from a snapshot) ---- */

static bool has_kind(const struct snapshot *snap, uint8_t kind)
{
	for (size_t i = 0; i < snap->nsvcs; i++) {
		const struct snap_svc *d = &snap->svcs[i];

		for (size_t j = 0; j < d->n; j++)
			if (snap->series[d->first + j].kind == kind)
				return true;
	}
	return false;
}

static void write_http_server(struct prom_text *p, const struct snapshot *snap,
			      const double *bounds)
{
	char status[16];

	if (!has_kind(snap, SERIES_SERVER))
		return;
	prom_family(p, "http_server_request_duration_seconds", PROM_HISTOGRAM,
		    "Duration of HTTP server requests, seen from the kernel by prp-agent.");
	for (size_t i = 0; i < snap->nsvcs; i++) {
		const struct snap_svc *d = &snap->svcs[i];

		for (size_t j = 0; j < d->n; j++) {
			const struct series *x = &snap->series[d->first + j];
			struct prom_label l[4] = { { "service_name", d->name },
						   { "http_request_method", x->l1 },
						   { "http_route", x->l2 },
						   { "http_response_status_code", status } };

			if (x->kind != SERIES_SERVER)
				continue;
			snprintf(status, sizeof(status), "%d", (int)x->l3);
			/* the overflow series has no status of its own */
			prom_histogram(p, l, x->overflow ? 3 : 4, bounds, x->bins,
				       NODE_METRICS_BOUNDS, x->count, (double)x->sum_ns / NS_PER_S);
		}
	}
}

static void write_http_client(struct prom_text *p, const struct snapshot *snap,
			      const double *bounds)
{
	if (!has_kind(snap, SERIES_CLIENT))
		return;
	prom_family(p, "http_client_request_duration_seconds", PROM_HISTOGRAM,
		    "Duration of HTTP calls between services, seen from the caller's kernel.");
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			prom_family(p, "prp_http_client_errors_total", PROM_COUNTER,
				    "HTTP calls between services answered with a 5xx status.");
		for (size_t i = 0; i < snap->nsvcs; i++) {
			const struct snap_svc *d = &snap->svcs[i];

			for (size_t j = 0; j < d->n; j++) {
				const struct series *x = &snap->series[d->first + j];
				struct prom_label l[2] = { { "service_name", d->name },
							   { "server_service_name", x->l1 } };

				if (x->kind != SERIES_CLIENT)
					continue;
				if (pass == 0)
					prom_histogram(p, l, 2, bounds, x->bins,
						       NODE_METRICS_BOUNDS, x->count,
						       (double)x->sum_ns / NS_PER_S);
				else
					prom_sample_u64(p, l, 2, x->errors);
			}
		}
	}
}

static void write_syscalls(struct prom_text *p, const struct snapshot *snap)
{
	char errname[32];

	if (has_kind(snap, SERIES_SYSCALL)) {
		prom_family(p, "prp_syscalls_total", PROM_COUNTER,
			    "System calls made by the service's processes.");
		for (size_t i = 0; i < snap->nsvcs; i++) {
			const struct snap_svc *d = &snap->svcs[i];

			for (size_t j = 0; j < d->n; j++) {
				const struct series *x = &snap->series[d->first + j];
				struct prom_label l[2] = { { "service_name", d->name },
							   { "syscall", x->l1 } };

				if (x->kind == SERIES_SYSCALL)
					prom_sample_u64(p, l, 2, x->count);
			}
		}
	}
	if (!has_kind(snap, SERIES_ERRNO))
		return;
	prom_family(
		p, "prp_syscall_errors_total", PROM_COUNTER,
		"System calls that failed, by errno (\"other\": past the agent's distinct errnos).");
	for (size_t i = 0; i < snap->nsvcs; i++) {
		const struct snap_svc *d = &snap->svcs[i];

		for (size_t j = 0; j < d->n; j++) {
			const struct series *x = &snap->series[d->first + j];
			struct prom_label l[3] = { { "service_name", d->name },
						   { "syscall", x->l1 },
						   { "errno", errname } };

			if (x->kind != SERIES_ERRNO)
				continue;
			syscall_names_errno_format(x->l3, errname, sizeof(errname));
			prom_sample_u64(p, l, 3, x->count);
		}
	}
}

enum svc_counter { SVC_RETRANSMITS, SVC_RESETS, SVC_CONNECT_FAILURES, SVC_OVERFLOW };

/* One counter of every service known, zero included: a rate needs the series from 0. */
static void write_per_service(struct prom_text *p, const struct snapshot *snap,
			      enum svc_counter which, const char *name, const char *help)
{
	if (!snap->nsvcs)
		return;
	prom_family(p, name, PROM_COUNTER, help);
	for (size_t i = 0; i < snap->nsvcs; i++) {
		const struct snap_svc *d = &snap->svcs[i];
		struct prom_label l = { "service_name", d->name };
		const uint64_t v[] = { d->tcp.retransmits, d->tcp.resets, d->tcp.connect_failures,
				       d->overflow };

		prom_sample_u64(p, &l, 1, v[which]);
	}
}

static void write_health(struct prom_text *p, const struct snapshot *snap)
{
	const struct node_metrics_health *h = &snap->health;
	struct prom_label l[2];

	l[0] = (struct prom_label){ "version", PRP_VERSION };
	prom_family(p, "prp_agent_build_info", PROM_GAUGE, "The agent's version; always 1.");
	prom_sample(p, l, 1, 1);
	prom_family(p, "prp_agent_start_time_seconds", PROM_GAUGE,
		    "When the agent started, in seconds since the epoch.");
	prom_sample(p, NULL, 0, snap->start_time_s);
	prom_family(p, "prp_agent_windows_total", PROM_COUNTER,
		    "Windows closed since the agent started.");
	prom_sample_u64(p, NULL, 0, h->windows);
	prom_family(p, "prp_agent_services_watched", PROM_GAUGE, "Services the agent watches now.");
	prom_sample_u64(p, NULL, 0, h->services_watched);
	if (h->nsamplers) {
		prom_family(p, "prp_agent_sampler_enabled", PROM_GAUGE,
			    "1 when the sampler runs, 0 when it is off (by config, or switched off "
			    "because the kernel lacks what it needs).");
		for (size_t i = 0; i < h->nsamplers; i++) {
			l[0] = (struct prom_label){ "sampler", h->samplers[i].name };
			prom_sample(p, l, 1, h->samplers[i].on ? 1 : 0);
		}
	}
	if (h->ndrops) {
		prom_family(p, "prp_agent_sampler_drops_total", PROM_COUNTER,
			    "Events a sampler could not count, by reason, since it started.");
		for (size_t i = 0; i < h->ndrops; i++) {
			l[0] = (struct prom_label){ "sampler", h->drops[i].sampler };
			l[1] = (struct prom_label){ "reason", h->drops[i].reason };
			prom_sample_u64(p, l, 2, h->drops[i].count);
		}
	}
	if (!h->uplink)
		return;
	prom_family(p, "prp_agent_uplink_connected", PROM_GAUGE,
		    "1 when the aggregator answered the agent's last request, else 0.");
	prom_sample(p, NULL, 0, h->uplink_connected ? 1 : 0);
	prom_family(p, "prp_agent_frames_sent_total", PROM_COUNTER,
		    "Frames of windows sent to the aggregator since the agent started, resends "
		    "included.");
	prom_sample_u64(p, NULL, 0, h->frames_sent);
	prom_family(p, "prp_agent_frames_acked_total", PROM_COUNTER,
		    "Frames the aggregator acknowledged since the agent started.");
	prom_sample_u64(p, NULL, 0, h->frames_acked);
	prom_family(p, "prp_agent_spool_bytes", PROM_GAUGE,
		    "Bytes of frames the spool holds, not yet acknowledged.");
	prom_sample_u64(p, NULL, 0, h->spool_bytes);
	prom_family(p, "prp_agent_spool_lost_frames_total", PROM_COUNTER,
		    "Frames the spool dropped at its size bound (kept across restarts).");
	prom_sample_u64(p, NULL, 0, h->spool_lost_frames);
}

static char *render_snapshot(const struct snapshot *snap, bool openmetrics, size_t *len)
{
	double bounds[NODE_METRICS_BOUNDS];
	struct prom_text p;

	for (int i = 0; i < NODE_METRICS_BOUNDS; i++)
		bounds[i] = (double)bounds_ns[i] / NS_PER_S;
	prom_text_init(&p, openmetrics);
	write_http_server(&p, snap, bounds);
	write_http_client(&p, snap, bounds);
	write_syscalls(&p, snap);
	write_per_service(&p, snap, SVC_RETRANSMITS, "prp_tcp_retransmits_total",
			  "TCP segments the service's sockets retransmitted.");
	write_per_service(&p, snap, SVC_RESETS, "prp_tcp_resets_total",
			  "TCP resets sent or received on the service's sockets.");
	write_per_service(&p, snap, SVC_CONNECT_FAILURES, "prp_tcp_connect_failures_total",
			  "Outgoing TCP connections of the service that failed.");
	write_per_service(&p, snap, SVC_OVERFLOW, "prp_metrics_series_overflow_total",
			  "Window entries counted in a service's overflow series, past its series "
			  "cap.");
	write_health(&p, snap);
	return prom_text_finish(&p, len);
}

char *node_metrics_render(void *arg, bool openmetrics, size_t *len)
{
	struct node_metrics *m = arg;
	struct snapshot *snap;
	char *text;

	pthread_mutex_lock(&m->lock);
	snap = m->current;
	atomic_fetch_add(&snap->refs, 1);
	pthread_mutex_unlock(&m->lock);
	text = render_snapshot(snap, openmetrics, len);
	snapshot_put(snap);
	return text;
}
