/*
 * Per-service series in memory (series.h has the model). Services live in
 * an open-addressing hash table keyed by (tenant, service), linear probing,
 * never deleted; a dense array of the same services serves iteration. Each
 * service has a ring of SERIES_SECONDS slots, second t in slot
 * t % SERIES_SECONDS, split into pages allocated when first written. A slot
 * whose second differs from the one being written is reset first, unless it
 * holds a newer second (then the window is stale).
 *
 * Invariants: a slot is valid for second t only when slot.t_s == t, so
 * readers never see a previous lap of the ring; the open seconds are the
 * two newest seconds a service has seen, so their slots are never reused
 * while they are open (that needs a second SERIES_SECONDS newer).
 */
#include "aggregator/series.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/hist.h"
#include "common/window.h"
#include "common/window_wire.h"

#define PAGE_SLOTS 60
#define PAGES	   (SERIES_SECONDS / PAGE_SLOTS)
_Static_assert(SERIES_SECONDS % PAGE_SLOTS == 0, "pages must tile the ring");

#define NS_PER_MS 1e6

/*
 * One second. Percentiles are floats: 24 bits of mantissa are far finer
 * than the histogram's 1/256, and they keep the slot at 80 bytes.
 */
struct slot {
	int64_t t_s; /* 0: empty */
	uint64_t requests, errors, syscalls, syscall_errors;
	uint64_t tcp_retransmits, tcp_resets, tcp_connect_failures;
	float p50_ms, p95_ms, p99_ms; /* meaningful when has_latency */
	uint32_t has_latency;
};
_Static_assert(sizeof(struct slot) == 80, "struct slot grew");

/* A second whose windows' latency is still being merged. */
struct open_second {
	int64_t t_s; /* 0: none */
	struct hist h;
};

struct svc {
	char tenant[FRAME_ID_MAX];
	char service[SERVICE_NAME_MAX];
	uint64_t hash;
	int64_t first_s;  /* oldest second ever seen */
	int64_t newest_s; /* newest second seen */
	struct slot *pages[PAGES];
	struct open_second open[2]; /* [0] the newest second seen, [1] the one seen before */
};

struct snapshot_entry {
	struct series_snapshot *snap; /* one reference held by the cache; NULL: unused */
	uint64_t used;		      /* cache_clock at the last use, for LRU */
};

struct series_snapshot {
	atomic_uint refs;
	int64_t now_s;
	unsigned window_s;
	size_t n;
	struct series_health health[]; /* sorted by tenant, then service */
};

struct series {
	pthread_rwlock_t lock; /* guards everything from here to build_mu */
	struct svc **table;    /* open addressing; NULL: empty */
	size_t table_cap;      /* a power of two */
	struct svc **svcs;     /* the same services, in creation order */
	size_t nsvcs, svcs_alloc;
	size_t max_services;
	struct hist scratch; /* a late window's own latency */
	uint64_t dropped, late_latency, stale, invalid;

	pthread_mutex_t build_mu; /* one snapshot builder at a time; guards sorted */
	struct svc **sorted;	  /* by tenant, service: svcs, re-sorted when it grew */
	size_t nsorted;

	pthread_mutex_t cache_mu; /* guards cache and cache_clock */
	struct snapshot_entry cache[SERIES_SNAPSHOT_CACHE];
	uint64_t cache_clock;
};

/* ---- Helpers ------------------------------------------------------------- */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* FNV-1a over tenant, a NUL, service. */
static uint64_t key_hash(const char *tenant, const char *service)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)tenant; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h *= 0x100000001b3ULL;
	for (p = (const unsigned char *)service; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return h;
}

static unsigned clamp_window(unsigned window_s)
{
	if (window_s < 1)
		return 1;
	return window_s > SERIES_SECONDS ? SERIES_SECONDS : window_s;
}

/* ---- Table --------------------------------------------------------------- */

static struct svc *svc_find(const struct series *s, const char *tenant, const char *service)
{
	uint64_t h;
	size_t mask, i;

	if (!s->table_cap)
		return NULL;
	h = key_hash(tenant, service);
	mask = s->table_cap - 1;
	for (i = h & mask; s->table[i]; i = (i + 1) & mask) {
		const struct svc *v = s->table[i];

		if (v->hash == h && !strcmp(v->tenant, tenant) && !strcmp(v->service, service))
			return s->table[i];
	}
	return NULL;
}

static void table_insert(struct svc **table, size_t cap, struct svc *v)
{
	size_t i;

	for (i = v->hash & (cap - 1); table[i]; i = (i + 1) & (cap - 1))
		;
	table[i] = v;
}

/* Keeps the load at most 70%, so probes stay short. */
static void table_reserve(struct series *s, size_t n)
{
	struct svc **table;
	size_t cap = s->table_cap ? s->table_cap : 64;

	while (n * 10 > cap * 7)
		cap *= 2;
	if (cap == s->table_cap)
		return;
	table = xcalloc(cap, sizeof(*table));
	for (size_t i = 0; i < s->nsvcs; i++)
		table_insert(table, cap, s->svcs[i]);
	free(s->table);
	s->table = table;
	s->table_cap = cap;
}

/* The service, created when new; NULL past max_services. Under the write lock. */
static struct svc *svc_get(struct series *s, const char *tenant, const char *service)
{
	struct svc *v = svc_find(s, tenant, service);

	if (v)
		return v;
	if (s->nsvcs >= s->max_services)
		return NULL;
	table_reserve(s, s->nsvcs + 1);
	v = xcalloc(1, sizeof(*v));
	copy_text(v->tenant, sizeof(v->tenant), tenant);
	copy_text(v->service, sizeof(v->service), service);
	v->hash = key_hash(tenant, service);
	hist_init(&v->open[0].h);
	hist_init(&v->open[1].h);
	table_insert(s->table, s->table_cap, v);
	if (s->nsvcs == s->svcs_alloc) {
		s->svcs_alloc = s->svcs_alloc ? 2 * s->svcs_alloc : 64;
		s->svcs = xreallocarray(s->svcs, s->svcs_alloc, sizeof(*s->svcs));
	}
	s->svcs[s->nsvcs++] = v;
	return v;
}

static void svc_free(struct svc *v)
{
	for (size_t i = 0; i < PAGES; i++)
		free(v->pages[i]);
	hist_release(&v->open[0].h);
	hist_release(&v->open[1].h);
	free(v);
}

/* ---- Slots and latency --------------------------------------------------- */

/* The slot of second @t (> 0), NULL while its page is unallocated. */
static const struct slot *slot_peek(const struct svc *v, int64_t t)
{
	size_t i = (size_t)(t % SERIES_SECONDS);
	const struct slot *page = v->pages[i / PAGE_SLOTS];

	return page ? &page[i % PAGE_SLOTS] : NULL;
}

static struct slot *slot_get(struct svc *v, int64_t t)
{
	size_t i = (size_t)(t % SERIES_SECONDS);
	struct slot **page = &v->pages[i / PAGE_SLOTS];

	if (!*page)
		*page = xcalloc(PAGE_SLOTS, sizeof(**page));
	return &(*page)[i % PAGE_SLOTS];
}

struct latency {
	bool known;
	double p50_ms, p95_ms, p99_ms;
};

static void hist_latency(const struct hist *h, struct latency *l)
{
	l->known = true;
	l->p50_ms = (double)hist_quantile(h, 0.50) / NS_PER_MS;
	l->p95_ms = (double)hist_quantile(h, 0.95) / NS_PER_MS;
	l->p99_ms = (double)hist_quantile(h, 0.99) / NS_PER_MS;
}

static struct latency slot_latency(const struct slot *sl)
{
	struct latency l = { 0 };

	if (sl->has_latency) {
		l.known = true;
		l.p50_ms = sl->p50_ms;
		l.p95_ms = sl->p95_ms;
		l.p99_ms = sl->p99_ms;
	}
	return l;
}

static void slot_set_latency(struct slot *sl, const struct hist *h)
{
	struct latency l;

	hist_latency(h, &l);
	sl->p50_ms = (float)l.p50_ms;
	sl->p95_ms = (float)l.p95_ms;
	sl->p99_ms = (float)l.p99_ms;
	sl->has_latency = 1;
}

/* Closes @o, keeping its chunks; its slot already holds its percentiles. */
static void open_close(struct open_second *o)
{
	hist_reset(&o->h);
	o->t_s = 0;
}

/* The open histogram of second @t, opening it if it is one of the two newest; NULL if late. */
static struct hist *open_for(struct svc *v, int64_t t)
{
	struct open_second *o0 = &v->open[0], *o1 = &v->open[1];

	if (t == o0->t_s)
		return &o0->h;
	if (t == o1->t_s)
		return &o1->h;
	if (t > o0->t_s) {
		struct open_second tmp;

		open_close(o1);
		/* the struct moves, its chunks with it: no self-pointers in a hist */
		tmp = *o1;
		*o1 = *o0;
		*o0 = tmp;
		o0->t_s = t;
		return &o0->h;
	}
	if (t > o1->t_s) {
		open_close(o1);
		o1->t_s = t;
		return &o1->h;
	}
	return NULL;
}

static void add_counts(struct slot *sl, const struct window_view *v)
{
	sl->requests = sat_add(sl->requests, v->requests);
	sl->errors = sat_add(sl->errors, v->errors);
	sl->syscalls = sat_add(sl->syscalls, v->syscalls);
	sl->syscall_errors = sat_add(sl->syscall_errors, v->syscall_errors);
	sl->tcp_retransmits = sat_add(sl->tcp_retransmits, v->tcp.retransmits);
	sl->tcp_resets = sat_add(sl->tcp_resets, v->tcp.resets);
	sl->tcp_connect_failures = sat_add(sl->tcp_connect_failures, v->tcp.connect_failures);
}

/* Merges the latency of every HTTP entry, straight from its wire form (checked by the view). */
static void merge_latency(struct hist *h, const struct window_view *v)
{
	struct window_wire_iter it;
	struct window_wire_http e;

	if (window_wire_iter_init(&it, v->http_wire, v->http_wire_len))
		return;
	while (window_wire_next_http(&it, &e) == 1)
		if (hist_merge_wire_checked(h, e.hist, e.hist_len))
			return;
}

/* Under the write lock. */
static void add_window(struct series *s, struct svc *v, int64_t t, const struct window_view *w)
{
	struct slot *sl;
	struct hist *h;

	if (v->newest_s && t <= v->newest_s - SERIES_SECONDS) {
		s->stale++;
		return;
	}
	sl = slot_get(v, t);
	if (sl->t_s != t) {
		if (sl->t_s > t) { /* cannot happen given the check above; cheap to keep */
			s->stale++;
			return;
		}
		memset(sl, 0, sizeof(*sl));
		sl->t_s = t;
	}
	add_counts(sl, w);
	if (t > v->newest_s)
		v->newest_s = t;
	if (!v->first_s || t < v->first_s)
		v->first_s = t;
	if (w->http_wire_len <= 1) /* no section, or a count of 0 */
		return;
	h = open_for(v, t);
	if (h) {
		/*
		 * Refreshing the percentiles now, with the histogram in cache,
		 * costs about 0.3 us; readers computing them from 2000 cold
		 * open histograms took 10 ms per health snapshot.
		 */
		merge_latency(h, w);
		if (hist_count(h))
			slot_set_latency(sl, h);
		return;
	}
	if (sl->has_latency) {
		s->late_latency++;
		return;
	}
	hist_reset(&s->scratch);
	merge_latency(&s->scratch, w);
	if (hist_count(&s->scratch))
		slot_set_latency(sl, &s->scratch);
}

/* ---- Life cycle and writes ----------------------------------------------- */

struct series *series_new_max(size_t max_services)
{
	struct series *s = xcalloc(1, sizeof(*s));
	pthread_rwlockattr_t attr;

	/*
	 * glibc's rwlocks prefer readers by default, which would let a steady
	 * stream of readers starve ingest; prefer the writer.
	 */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&s->build_mu, NULL);
	pthread_mutex_init(&s->cache_mu, NULL);
	s->max_services = max_services;
	hist_init(&s->scratch);
	return s;
}

struct series *series_new(void)
{
	return series_new_max(SERIES_MAX_SERVICES);
}

void series_free(struct series *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < SERIES_SNAPSHOT_CACHE; i++)
		series_snapshot_put(s->cache[i].snap);
	for (size_t i = 0; i < s->nsvcs; i++)
		svc_free(s->svcs[i]);
	free(s->svcs);
	free(s->table);
	free(s->sorted);
	hist_release(&s->scratch);
	pthread_mutex_destroy(&s->cache_mu);
	pthread_mutex_destroy(&s->build_mu);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

/* true when an item holds a struct window rather than a view */
static bool has_windows(const struct window_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].w)
			return true;
	return false;
}

void series_add(struct series *s, const char *tenant, const struct window_batch *b)
{
	struct window_batch views;
	struct buf wire;
	int64_t t;

	if (!s || !b)
		return;
	if (b->n && b->items && has_windows(b)) {
		/* built in memory (tests, tools): through the wire form, as ingest sees it */
		buf_init(&wire, FRAME_PAYLOAD_MAX);
		if (window_batch_view_of(b, &wire, &views)) {
			pthread_rwlock_wrlock(&s->lock);
			s->invalid += b->n;
			pthread_rwlock_unlock(&s->lock);
		} else {
			series_add(s, tenant, &views);
			window_batch_release(&views);
		}
		buf_release(&wire);
		return;
	}
	pthread_rwlock_wrlock(&s->lock);
	if (!tenant || strnlen(tenant, FRAME_ID_MAX) >= FRAME_ID_MAX || b->end_ms < 1000) {
		s->invalid += b->n;
		goto out;
	}
	t = b->end_ms / 1000;
	for (size_t i = 0; i < b->n; i++) {
		const struct window_batch_item *it = &b->items[i];
		struct svc *v;

		if (strnlen(it->service, SERVICE_NAME_MAX) >= SERVICE_NAME_MAX) {
			s->invalid++;
			continue;
		}
		v = svc_get(s, tenant, it->service);
		if (!v) {
			s->dropped++;
			continue;
		}
		add_window(s, v, t, &it->view);
	}
out:
	pthread_rwlock_unlock(&s->lock);
}

/* ---- Reads --------------------------------------------------------------- */

/* Under the read lock. */
static void svc_health(const struct svc *v, int64_t now_s, unsigned window_s,
		       struct series_health *out)
{
	uint64_t errors = 0, requests = 0, syscalls = 0, syscall_errors = 0;
	double p50_weighted = 0, latency_requests = 0;
	int64_t lo, hi, seconds;

	memset(out, 0, sizeof(*out));
	memcpy(out->tenant, v->tenant, sizeof(out->tenant));
	memcpy(out->service, v->service, sizeof(out->service));
	out->last_seen_s = v->newest_s;
	if (now_s <= 0)
		return;
	lo = now_s - (int64_t)window_s + 1;
	if (lo < v->newest_s - SERIES_SECONDS + 1)
		lo = v->newest_s - SERIES_SECONDS + 1;
	if (lo < 1)
		lo = 1;
	hi = now_s < v->newest_s ? now_s : v->newest_s;
	/* page by page: the slots of a page are contiguous */
	for (int64_t t = lo; t <= hi;) {
		size_t i = (size_t)(t % SERIES_SECONDS), off = i % PAGE_SLOTS;
		int64_t run = PAGE_SLOTS - (int64_t)off;
		const struct slot *page = v->pages[i / PAGE_SLOTS];

		if (run > hi - t + 1)
			run = hi - t + 1;
		for (int64_t k = 0; page && k < run; k++) {
			const struct slot *sl = &page[off + (size_t)k];

			if (sl->t_s != t + k)
				continue;
			requests = sat_add(requests, sl->requests);
			errors = sat_add(errors, sl->errors);
			syscalls = sat_add(syscalls, sl->syscalls);
			syscall_errors = sat_add(syscall_errors, sl->syscall_errors);
			out->tcp_retransmits = sat_add(out->tcp_retransmits, sl->tcp_retransmits);
			out->tcp_resets = sat_add(out->tcp_resets, sl->tcp_resets);
			out->tcp_connect_failures =
				sat_add(out->tcp_connect_failures, sl->tcp_connect_failures);
			if (!sl->requests || !sl->has_latency)
				continue;
			p50_weighted += (double)sl->p50_ms * (double)sl->requests;
			latency_requests += (double)sl->requests;
			if (sl->p95_ms > out->latency_p95_ms)
				out->latency_p95_ms = sl->p95_ms;
			if (sl->p99_ms > out->latency_p99_ms)
				out->latency_p99_ms = sl->p99_ms;
		}
		t += run;
	}
	/* a service newer than the span is rated over the seconds it has existed */
	seconds = window_s;
	if (v->first_s && now_s - v->first_s + 1 < seconds)
		seconds = now_s - v->first_s + 1;
	if (seconds < 1)
		seconds = 1;
	out->request_rate = (double)requests / (double)seconds;
	out->error_rate = requests ? (double)errors / (double)requests : 0;
	out->syscall_error_rate = syscalls ? (double)syscall_errors / (double)syscalls : 0;
	if (latency_requests > 0)
		out->latency_p50_ms = p50_weighted / latency_requests;
}

static int cmp_health_by_service(const void *a, const void *b)
{
	const struct series_health *x = a, *y = b;
	int c = strcmp(x->service, y->service);

	return c ? c : strcmp(x->tenant, y->tenant);
}

int series_health(struct series *s, const char *tenant, int64_t now_s, unsigned window_s,
		  struct series_health **out, size_t *n)
{
	struct series_health *h = NULL;
	size_t count = 0;

	if (!s || !out || !n)
		return -EINVAL;
	window_s = clamp_window(window_s);
	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; i < s->nsvcs; i++)
		if (!tenant || !strcmp(s->svcs[i]->tenant, tenant))
			count++;
	if (count) {
		size_t j = 0;

		h = xcalloc(count, sizeof(*h));
		for (size_t i = 0; i < s->nsvcs; i++)
			if (!tenant || !strcmp(s->svcs[i]->tenant, tenant))
				svc_health(s->svcs[i], now_s, window_s, &h[j++]);
	}
	pthread_rwlock_unlock(&s->lock);
	if (count)
		qsort(h, count, sizeof(*h), cmp_health_by_service);
	*out = h;
	*n = count;
	return 0;
}

int series_points(struct series *s, const char *tenant, const char *service, int64_t since_s,
		  struct series_point **out, size_t *n)
{
	struct series_point *p = NULL;
	const struct svc *v;
	size_t count = 0;
	int64_t lo;

	if (!s || !tenant || !service || !out || !n)
		return -EINVAL;
	pthread_rwlock_rdlock(&s->lock);
	v = svc_find(s, tenant, service);
	if (!v) {
		pthread_rwlock_unlock(&s->lock);
		return -ENOENT;
	}
	lo = v->newest_s - SERIES_SECONDS + 1;
	if (since_s > lo)
		lo = since_s;
	if (lo < 1)
		lo = 1;
	if (lo <= v->newest_s)
		p = xcalloc((size_t)(v->newest_s - lo + 1), sizeof(*p));
	for (int64_t t = lo; t <= v->newest_s; t++) {
		const struct slot *sl = slot_peek(v, t);
		struct series_point *pt;
		struct latency l;

		if (!sl || sl->t_s != t)
			continue;
		pt = &p[count++];
		pt->t_s = t;
		pt->requests = sl->requests;
		pt->errors = sl->errors;
		pt->syscalls = sl->syscalls;
		pt->syscall_errors = sl->syscall_errors;
		pt->tcp_retransmits = sl->tcp_retransmits;
		pt->tcp_resets = sl->tcp_resets;
		pt->tcp_connect_failures = sl->tcp_connect_failures;
		l = slot_latency(sl);
		pt->latency_p50_ms = l.p50_ms;
		pt->latency_p95_ms = l.p95_ms;
		pt->latency_p99_ms = l.p99_ms;
	}
	pthread_rwlock_unlock(&s->lock);
	if (!count) {
		free(p);
		p = NULL;
	}
	*out = p;
	*n = count;
	return 0;
}

void series_stats(struct series *s, struct series_stats *st)
{
	pthread_rwlock_rdlock(&s->lock);
	st->services = s->nsvcs;
	st->dropped = s->dropped;
	st->late_latency = s->late_latency;
	st->stale = s->stale;
	st->invalid = s->invalid;
	pthread_rwlock_unlock(&s->lock);
}

/* ---- Snapshots ----------------------------------------------------------- */

static int cmp_svc_by_tenant(const void *a, const void *b)
{
	const struct svc *x = *(const struct svc *const *)a, *y = *(const struct svc *const *)b;
	int c = strcmp(x->tenant, y->tenant);

	return c ? c : strcmp(x->service, y->service);
}

/* Under build_mu; takes the read lock. The caller owns the one reference. */
static struct series_snapshot *snapshot_build(struct series *s, int64_t now_s, unsigned window_s)
{
	struct series_snapshot *snap;

	pthread_rwlock_rdlock(&s->lock);
	/* services are only ever added, so a count that changed means new ones */
	if (s->nsorted != s->nsvcs) {
		s->sorted = xreallocarray(s->sorted, s->nsvcs, sizeof(*s->sorted));
		memcpy(s->sorted, s->svcs, s->nsvcs * sizeof(*s->sorted));
		s->nsorted = s->nsvcs;
		qsort(s->sorted, s->nsorted, sizeof(*s->sorted), cmp_svc_by_tenant);
	}
	snap = xmalloc(sizeof(*snap) + s->nsorted * sizeof(snap->health[0]));
	atomic_init(&snap->refs, 1);
	snap->now_s = now_s;
	snap->window_s = window_s;
	snap->n = s->nsorted;
	for (size_t i = 0; i < s->nsorted; i++)
		svc_health(s->sorted[i], now_s, window_s, &snap->health[i]);
	pthread_rwlock_unlock(&s->lock);
	return snap;
}

static struct series_snapshot *snapshot_ref(struct series_snapshot *snap)
{
	atomic_fetch_add_explicit(&snap->refs, 1, memory_order_relaxed);
	return snap;
}

void series_snapshot_put(struct series_snapshot *snap)
{
	if (snap && atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel) == 1)
		free(snap);
}

/* Under cache_mu. */
static struct snapshot_entry *cache_find(struct series *s, unsigned window_s)
{
	for (size_t i = 0; i < SERIES_SNAPSHOT_CACHE; i++)
		if (s->cache[i].snap && s->cache[i].snap->window_s == window_s)
			return &s->cache[i];
	return NULL;
}

/* Under cache_mu: a referenced snapshot good for @now_s, or NULL. */
static struct series_snapshot *cache_fresh(struct series *s, int64_t now_s, unsigned window_s)
{
	struct snapshot_entry *e = cache_find(s, window_s);

	if (!e || (e->snap->now_s != now_s && e->snap->now_s != now_s + 1))
		return NULL;
	e->used = ++s->cache_clock;
	return snapshot_ref(e->snap);
}

/* Under cache_mu: replaces the entry of the same span, or the least recently used one. */
static void cache_install(struct series *s, struct series_snapshot *snap)
{
	struct snapshot_entry *e = cache_find(s, snap->window_s);

	if (e && e->snap->now_s > snap->now_s)
		return; /* a caller asked for the past: keep the newer one */
	if (!e) {
		e = &s->cache[0];
		for (size_t i = 1; i < SERIES_SNAPSHOT_CACHE && e->snap; i++)
			if (!s->cache[i].snap || s->cache[i].used < e->used)
				e = &s->cache[i];
	}
	series_snapshot_put(e->snap);
	e->snap = snapshot_ref(snap);
	e->used = ++s->cache_clock;
}

struct series_snapshot *series_snapshot_get(struct series *s, int64_t now_s, unsigned window_s)
{
	struct series_snapshot *snap, *stale = NULL;
	struct snapshot_entry *e;

	window_s = clamp_window(window_s);
	pthread_mutex_lock(&s->cache_mu);
	snap = cache_fresh(s, now_s, window_s);
	if (!snap) {
		e = cache_find(s, window_s);
		if (e && e->snap->now_s == now_s - 1)
			stale = snapshot_ref(e->snap);
	}
	pthread_mutex_unlock(&s->cache_mu);
	if (snap)
		return snap;

	if (stale) {
		/* somebody is rebuilding: a second-old answer beats waiting for it */
		if (pthread_mutex_trylock(&s->build_mu))
			return stale;
	} else {
		pthread_mutex_lock(&s->build_mu);
	}
	/* the builder we waited for may have built just what we need */
	pthread_mutex_lock(&s->cache_mu);
	snap = cache_fresh(s, now_s, window_s);
	pthread_mutex_unlock(&s->cache_mu);
	if (!snap) {
		snap = snapshot_build(s, now_s, window_s);
		pthread_mutex_lock(&s->cache_mu);
		cache_install(s, snap);
		pthread_mutex_unlock(&s->cache_mu);
	}
	pthread_mutex_unlock(&s->build_mu);
	series_snapshot_put(stale);
	return snap;
}

int64_t series_snapshot_now(const struct series_snapshot *snap)
{
	return snap->now_s;
}

unsigned series_snapshot_window(const struct series_snapshot *snap)
{
	return snap->window_s;
}

const struct series_health *series_snapshot_health(const struct series_snapshot *snap,
						   const char *tenant, size_t *n)
{
	size_t lo = 0, hi = snap->n, first;

	if (!tenant) {
		*n = snap->n;
		return snap->n ? snap->health : NULL;
	}
	/* the first entry of @tenant or after it, then the first after it */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(snap->health[mid].tenant, tenant) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	hi = snap->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(snap->health[mid].tenant, tenant) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*n = lo - first;
	return *n ? &snap->health[first] : NULL;
}
