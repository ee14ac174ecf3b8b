/*
 * The cumulative counters behind GET /metrics (table metric_counters,
 * migration 8): per tenant, service and series, every request, call,
 * syscall and TCP event ever stored, with the request latencies folded
 * into Prometheus's fixed bins.
 *
 * They are written in the transaction that stores the windows they count
 * (summed in memory per transaction, added at commit by UPSERTs of
 * `column + excluded.column`), so after any crash the counters and the
 * stored windows agree and /metrics never goes backwards: a restart reads
 * them back as they were. Retention does not touch them.
 *
 * Cardinality: a service gets at most `metric_series_max` HTTP series
 * (server and client together). Past it, a new series is counted in its
 * family's overflow series (route "{overflow}", callee "{overflow}") and in
 * STORE_METRIC_OVERFLOW, so totals stay exact while the label sets stop
 * growing. The series a service has are read from the table the first time
 * the service is seen and remembered as 64-bit hashes.
 */
#include "aggregator/store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/hash.h"
#include "common/log.h"

/* OpenTelemetry's default bounds for http.*.request.duration, in ns. */
const uint64_t store_metric_bounds_ns[STORE_METRIC_BOUNDS] = {
	5000000,   10000000,   25000000,   50000000,   75000000,   100000000,  250000000,
	500000000, 750000000, 1000000000, 2500000000, 5000000000, 7500000000, 10000000000,
};

#define OVERFLOW_LABEL "{overflow}"
#define METRIC_SERIES_MAX_DEFAULT 1000
#define ACC_SLOTS_MIN 256

static uint64_t service_hash(const char *tenant, const char *service)
{
	uint64_t h = hash_fnv1a_bytes(HASH_FNV_OFFSET, tenant, strlen(tenant) + 1);

	return hash_fnv1a_bytes(h, service, strlen(service) + 1) | 1; /* never 0: 0 marks a free slot */
}

static uint64_t series_hash(const char *tenant, const struct store_metric *m)
{
	uint64_t h = service_hash(tenant, m->service);

	h = hash_fnv1a_bytes(h, &m->family, sizeof(m->family));
	h = hash_fnv1a_bytes(h, m->l1, strlen(m->l1) + 1);
	h = hash_fnv1a_bytes(h, m->l2, strlen(m->l2) + 1);
	return hash_fnv1a_bytes(h, &m->l3, sizeof(m->l3)) | 1;
}

/* ---- the set of known series, and each service's count of them ---- */

/* struct store_hashset grows at half full. */
static size_t hashset_slot(const struct store_hashset *hs, uint64_t key)
{
	size_t i = key & (hs->cap - 1);

	while (hs->keys[i] && hs->keys[i] != key)
		i = (i + 1) & (hs->cap - 1);
	return i;
}

/* The slot of @key, added when absent (*added); @hs->keys[slot] == key after. */
static size_t hashset_put(struct store_hashset *hs, uint64_t key, bool with_counts, bool *added)
{
	size_t i;

	if (2 * (hs->n + 1) > hs->cap) {
		struct store_hashset old = *hs;

		hs->cap = old.cap ? 2 * old.cap : 1024;
		hs->keys = xcalloc(hs->cap, sizeof(*hs->keys));
		hs->counts = with_counts ? xcalloc(hs->cap, sizeof(*hs->counts)) : NULL;
		for (size_t j = 0; j < old.cap; j++) {
			if (!old.keys[j])
				continue;
			i = hashset_slot(hs, old.keys[j]);
			hs->keys[i] = old.keys[j];
			if (with_counts)
				hs->counts[i] = old.counts[j];
		}
		free(old.keys);
		free(old.counts);
	}
	i = hashset_slot(hs, key);
	*added = !hs->keys[i];
	if (*added) {
		hs->keys[i] = key;
		hs->n++;
	}
	return i;
}

static bool hashset_has(const struct store_hashset *hs, uint64_t key)
{
	return hs->cap && hs->keys[hashset_slot(hs, key)] == key;
}

static void hashset_free(struct store_hashset *hs)
{
	free(hs->keys);
	free(hs->counts);
	memset(hs, 0, sizeof(*hs));
}

static bool capped(int family)
{
	return family == STORE_METRIC_HTTP_SERVER || family == STORE_METRIC_HTTP_CLIENT;
}

/* Reads the capped series of (tenant, service) into the known set; its count. */
static int load_service(struct store *s, const char *tenant, const char *service, uint32_t *count)
{
	sqlite3_stmt *st = store_stmt(s, STMT_METRIC_SERIES);
	struct store_metric m;
	bool added;
	int rc;

	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, service, SERVICE_NAME_MAX);
	*count = 0;
	memset(&m, 0, sizeof(m));
	snprintf(m.service, sizeof(m.service), "%s", service);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		m.family = sqlite3_column_int(st, 0);
		snprintf(m.l1, sizeof(m.l1), "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(m.l2, sizeof(m.l2), "%s", (const char *)sqlite3_column_text(st, 2));
		m.l3 = sqlite3_column_int64(st, 3);
		hashset_put(&s->metric_series, series_hash(tenant, &m), false, &added);
		if (strcmp(m.l1, OVERFLOW_LABEL) && strcmp(m.l2, OVERFLOW_LABEL))
			(*count)++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_db_error(s, "cannot read the metric series");
}

/*
 * true when series @m of @tenant may be added: known already, or new and
 * within its service's cap (then remembered). -EIO on a read failure.
 */
static int admit(struct store *s, const char *tenant, const struct store_metric *m)
{
	uint64_t key = series_hash(tenant, m);
	size_t slot;
	bool added;
	int err;

	if (!capped(m->family) || hashset_has(&s->metric_series, key))
		return 1;
	slot = hashset_put(&s->metric_services, service_hash(tenant, m->service), true, &added);
	if (added) {
		uint32_t count;

		err = load_service(s, tenant, m->service, &count);
		if (err)
			return err;
		/* the load grew only the series' set: the slot still holds */
		s->metric_services.counts[slot] = count;
		if (hashset_has(&s->metric_series, key))
			return 1;
	}
	if (s->metric_services.counts[slot] >= s->metric_series_max)
		return 0;
	s->metric_services.counts[slot]++;
	hashset_put(&s->metric_series, key, false, &added);
	return 1;
}

/* ---- sums of one transaction ---- */

static void acc_clear(struct store *s)
{
	if (s->metric_acc)
		memset(s->metric_acc, 0, s->metric_acc_cap * sizeof(*s->metric_acc));
	s->metric_nacc = 0;
}

/*
 * A count as SQLite holds it. Counts only add up, so one past INT64_MAX
 * (an agent lying about its counts) stays there: SQLite would turn an
 * overflowing sum into a REAL and read it back clamped anyway.
 */
static sqlite3_int64 clamp(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int acc_write(struct store *s, const struct store_metric_acc *a)
{
	sqlite3_stmt *st = store_stmt(s, STMT_METRIC_UPSERT);
	const struct store_metric *m = &a->m;

	if (!st)
		return -EIO;
	store_bind_name(st, 1, a->tenant, FRAME_ID_MAX);
	store_bind_name(st, 2, m->service, SERVICE_NAME_MAX);
	sqlite3_bind_int(st, 3, m->family);
	store_bind_name(st, 4, m->l1, sizeof(m->l1));
	store_bind_name(st, 5, m->l2, sizeof(m->l2));
	sqlite3_bind_int64(st, 6, m->l3);
	sqlite3_bind_int64(st, 7, clamp(m->count));
	sqlite3_bind_int64(st, 8, clamp(m->errors));
	sqlite3_bind_double(st, 9, m->sum_ns);
	for (int i = 0; i <= STORE_METRIC_BOUNDS; i++)
		sqlite3_bind_int64(st, 10 + i, clamp(m->bins[i]));
	return store_step_done(s, st, "cannot store a metric counter");
}

int store_metrics_flush(struct store *s)
{
	int err = 0;

	for (size_t i = 0; i < s->metric_acc_cap && !err; i++)
		if (s->metric_acc[i].used)
			err = acc_write(s, &s->metric_acc[i]);
	acc_clear(s);
	return err;
}

void store_metrics_discard(struct store *s)
{
	acc_clear(s);
	/* what was admitted in the undone transaction may not be in the table */
	hashset_free(&s->metric_series);
	hashset_free(&s->metric_services);
}

void store_metrics_release(struct store *s)
{
	store_metrics_discard(s);
	free(s->metric_acc);
	s->metric_acc = NULL;
	s->metric_acc_cap = 0;
}

/* The accumulator of series @key (@m's labels), created zero; NULL after a failed flush. */
static struct store_metric_acc *acc_get(struct store *s, const char *tenant,
					const struct store_metric *m, int *err)
{
	uint64_t key = series_hash(tenant, m);
	struct store_metric_acc *a;
	size_t i;

	if (!s->metric_acc) {
		s->metric_acc_cap = ACC_SLOTS_MIN;
		s->metric_acc = xcalloc(s->metric_acc_cap, sizeof(*s->metric_acc));
	}
	for (i = key & (s->metric_acc_cap - 1);; i = (i + 1) & (s->metric_acc_cap - 1)) {
		a = &s->metric_acc[i];
		if (!a->used)
			break;
		if (a->key == key && a->m.family == m->family && a->m.l3 == m->l3 &&
		    !strcmp(a->tenant, tenant) && !strcmp(a->m.service, m->service) &&
		    !strcmp(a->m.l1, m->l1) && !strcmp(a->m.l2, m->l2))
			return a;
	}
	if (s->metric_nacc >= s->metric_acc_cap / 4 * 3) {
		/* full: add what we have (UPSERTs add up) and start over */
		*err = store_metrics_flush(s);
		return *err ? NULL : acc_get(s, tenant, m, err);
	}
	a->used = true;
	a->key = key;
	snprintf(a->tenant, sizeof(a->tenant), "%s", tenant);
	a->m = *m;
	memset(a->m.bins, 0, sizeof(a->m.bins));
	a->m.count = a->m.errors = 0;
	a->m.sum_ns = 0;
	s->metric_nacc++;
	return a;
}

static int add_counts(struct store *s, const char *tenant, const struct store_metric *m)
{
	struct store_metric_acc *a;
	int err = 0;

	a = acc_get(s, tenant, m, &err);
	if (!a)
		return err;
	a->m.count = sat_add(a->m.count, m->count);
	a->m.errors = sat_add(a->m.errors, m->errors);
	a->m.sum_ns += m->sum_ns;
	for (int i = 0; i <= STORE_METRIC_BOUNDS; i++)
		a->m.bins[i] = sat_add(a->m.bins[i], m->bins[i]);
	return 0;
}

/*
 * Adds @m's counts to its series, or to its family's overflow series when
 * its service is at the cap (and counts one overflow).
 */
static int add(struct store *s, const char *tenant, struct store_metric *m)
{
	struct store_metric over;
	int ok = admit(s, tenant, m), err;

	if (ok < 0)
		return ok;
	if (ok)
		return add_counts(s, tenant, m);
	over = *m;
	if (m->family == STORE_METRIC_HTTP_SERVER) {
		snprintf(over.l1, sizeof(over.l1), "_OTHER");
		snprintf(over.l2, sizeof(over.l2), OVERFLOW_LABEL);
		over.l3 = 0;
	} else {
		snprintf(over.l1, sizeof(over.l1), OVERFLOW_LABEL);
	}
	err = add_counts(s, tenant, &over);
	if (err)
		return err;
	memset(&over, 0, sizeof(over));
	snprintf(over.service, sizeof(over.service), "%s", m->service);
	over.family = STORE_METRIC_OVERFLOW;
	snprintf(over.l1, sizeof(over.l1), "%s",
		 m->family == STORE_METRIC_HTTP_SERVER ? "http_server" : "http_client");
	over.count = 1;
	return add_counts(s, tenant, &over);
}

static void copy_label(char *dst, size_t cap, const char *src, size_t len)
{
	if (len > cap - 1)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void metric_start(struct store_metric *m, const char *service, int family)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->service, sizeof(m->service), "%s", service);
	m->family = family;
}

static int add_http(struct store *s, const char *tenant, const char *service,
		    const struct window_view *v)
{
	struct window_wire_iter it;
	struct window_wire_http h;
	struct store_metric m;
	int ret = 0, err = 0;

	if (window_wire_iter_init(&it, v->http_wire, v->http_wire_len))
		return -EIO;
	while (!err && (ret = window_wire_next_http(&it, &h)) == 1) {
		uint64_t count = 0, sum = 0;

		metric_start(&m, service, STORE_METRIC_HTTP_SERVER);
		copy_label(m.l1, sizeof(m.l1), h.method, h.method_len);
		copy_label(m.l2, sizeof(m.l2), h.route, h.route_len);
		m.l3 = h.status;
		if (hist_wire_bins(h.hist, h.hist_len, store_metric_bounds_ns, STORE_METRIC_BOUNDS,
				   m.bins, &count, &sum))
			return -EIO;
		/*
		 * The entry's count is the request count. Its histogram holds as
		 * many from an honest agent; requests it lacks count in +Inf.
		 */
		m.count = h.count;
		m.sum_ns = (double)sum;
		err = add(s, tenant, &m);
	}
	return err ?: (ret < 0 ? -EIO : 0);
}

static int add_calls(struct store *s, const char *tenant, const char *service,
		     const struct window_view *v)
{
	struct window_wire_iter it;
	struct window_wire_call c;
	struct store_metric m;
	int ret = 0, err = 0;

	if (window_wire_iter_init(&it, v->calls_wire, v->calls_wire_len))
		return -EIO;
	while (!err && (ret = window_wire_next_call(&it, &c)) == 1) {
		uint64_t count = 0, sum = 0;

		metric_start(&m, service, STORE_METRIC_HTTP_CLIENT);
		if (c.peer_len)
			copy_label(m.l1, sizeof(m.l1), c.peer, c.peer_len);
		else
			copy_label(m.l1, sizeof(m.l1), c.address, c.address_len);
		if (hist_wire_bins(c.hist, c.hist_len, store_metric_bounds_ns, STORE_METRIC_BOUNDS,
				   m.bins, &count, &sum))
			return -EIO;
		m.count = c.count;
		m.sum_ns = (double)sum;
		m.errors = c.errors;
		err = add(s, tenant, &m);
	}
	return err ?: (ret < 0 ? -EIO : 0);
}

static int add_syscalls(struct store *s, const char *tenant, const char *service,
			const struct window_view *v)
{
	struct window_wire_iter it;
	struct window_wire_syscall c;
	struct store_metric m;
	int ret = 0, err = 0;

	if (window_wire_iter_init(&it, v->syscalls_wire, v->syscalls_wire_len))
		return -EIO;
	while (!err && (ret = window_wire_next_syscall(&it, &c)) == 1) {
		metric_start(&m, service, STORE_METRIC_SYSCALL);
		if (c.name_len)
			copy_label(m.l1, sizeof(m.l1), c.name, c.name_len);
		else
			snprintf(m.l1, sizeof(m.l1), "nr_%u", c.nr);
		m.count = c.count;
		m.errors = c.errors;
		err = add(s, tenant, &m);
		for (size_t i = 0; i < c.nerrnos && !err; i++) {
			m.family = STORE_METRIC_SYSCALL_ERRNO;
			m.count = c.errnos[i].count;
			m.errors = 0;
			m.l3 = c.errnos[i].err;
			err = add(s, tenant, &m);
		}
	}
	return err ?: (ret < 0 ? -EIO : 0);
}

static int add_tcp(struct store *s, const char *tenant, const char *service, int family,
		   uint64_t n)
{
	struct store_metric m;

	if (!n)
		return 0;
	metric_start(&m, service, family);
	m.count = n;
	return add(s, tenant, &m);
}

int store_metrics_add(struct store *s, const char *tenant, const char *service,
		      const struct window_view *v)
{
	if (!s->metric_series_max)
		s->metric_series_max = METRIC_SERIES_MAX_DEFAULT;
	return add_http(s, tenant, service, v) ?: add_calls(s, tenant, service, v)
		?: add_syscalls(s, tenant, service, v)
		?: add_tcp(s, tenant, service, STORE_METRIC_TCP_RETRANSMITS, v->tcp.retransmits)
		?: add_tcp(s, tenant, service, STORE_METRIC_TCP_RESETS, v->tcp.resets)
		?: add_tcp(s, tenant, service, STORE_METRIC_TCP_CONNECT_FAILURES,
			   v->tcp.connect_failures);
}

/* ---- reading ---- */

int store_metrics_each(struct store *s, const char *tenant, store_metric_fn *fn, void *arg)
{
	sqlite3_stmt *st = store_stmt(s, STMT_METRICS_TENANT);
	struct store_metric m;
	int rc, err = 0;

	if (!st)
		return -EIO;
	store_bind_name(st, 1, tenant, FRAME_ID_MAX);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&m, 0, sizeof(m));
		snprintf(m.service, sizeof(m.service), "%s", (const char *)sqlite3_column_text(st, 0));
		m.family = sqlite3_column_int(st, 1);
		snprintf(m.l1, sizeof(m.l1), "%s", (const char *)sqlite3_column_text(st, 2));
		snprintf(m.l2, sizeof(m.l2), "%s", (const char *)sqlite3_column_text(st, 3));
		m.l3 = sqlite3_column_int64(st, 4);
		m.count = (uint64_t)sqlite3_column_int64(st, 5);
		m.errors = (uint64_t)sqlite3_column_int64(st, 6);
		m.sum_ns = sqlite3_column_double(st, 7);
		for (int i = 0; i <= STORE_METRIC_BOUNDS; i++)
			m.bins[i] = (uint64_t)sqlite3_column_int64(st, 8 + i);
		err = fn(arg, &m);
	}
	sqlite3_reset(st);
	if (err)
		return err;
	return rc == SQLITE_DONE ? 0 : store_db_error(s, "cannot read the metric counters");
}
