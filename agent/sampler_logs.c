/*
 * User half of the logs sampler (bpf/logs.bpf.c): a drain thread that
 * empties the ring into the line reassembler (agent/log_lines.c), and the
 * main loop's collect, which moves the finished lines into the windows.
 *
 * Why a thread rather than the main loop: the kernel asks for a wake-up
 * only when the ring is half full, and whoever drains must then come at
 * once, whatever the main loop is doing (a window close waits on the
 * other samplers' grace periods); a thread blocked in epoll_wait() with a
 * LOGS_POLL_MS timeout does exactly that and costs nothing in between.
 * The ring is consumed under @lock only, by the thread or by collect.
 */
#include "agent/sampler_logs.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <logs.skel.h>

#include "bpf/logs.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

_Static_assert(SERVICES_MAX < 65536, "service ids fit the kernel's __u16");
_Static_assert(offsetof(struct logs_event, data) == LOGS_EVENT_HEADER, "a record's header");
_Static_assert(LOGS_MAX_TGIDS >= SERVICES_MAX * SERVICE_PIDS_MAX, "svc_by_tgid is too small");

/* A line's bytes on the wire besides its text: ts_ns (9), stream (1), len (3), rounded up. */
#define SAMPLER_LOGS_LINE_OVERHEAD 16
/* How often drops are reported in the log, at most. */
#define SAMPLER_LOGS_REPORT_NS (60ull * 1000 * 1000 * 1000)

static const char *const tracepoints[] = { "syscalls/sys_enter_write", "syscalls/sys_exit_write" };

static bool tracepoint_exists(const char *name)
{
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[256];

	for (size_t i = 0; i < PRP_ARRAY_SIZE(roots); i++) {
		snprintf(path, sizeof(path), "%s/events/%s", roots[i], name);
		if (!access(path, F_OK))
			return true;
	}
	return false;
}

/* A finished line, from the reassembler (under @lock). */
static void on_line(void *arg, uint16_t svc, uint8_t fd, uint64_t ts_ns, const char *text,
		    size_t len)
{
	struct sampler_logs *s = arg;
	struct window *w = window_set_get(&s->pending, svc);

	if (!w)
		return; /* id 0 or past SERVICES_MAX: never written by the program */
	if (w->nlogs >= s->max_lines_per_window) {
		s->window_full++;
		return;
	}
	if (s->pending_bytes + len + SAMPLER_LOGS_LINE_OVERHEAD > SAMPLER_LOGS_WINDOW_BYTES) {
		s->bytes_full++;
		return;
	}
	window_log_add(w, (int64_t)ts_ns + s->real_minus_mono_ns, fd, text, len);
	s->pending_bytes += len + SAMPLER_LOGS_LINE_OVERHEAD;
}

/* One ring record (under @lock): a chunk of one write. */
static int on_record(void *ctx, void *data, size_t size)
{
	struct sampler_logs *s = ctx;
	const struct logs_event *e = data;
	struct log_lines_chunk c;

	if (size < LOGS_EVENT_HEADER || e->len > size - LOGS_EVENT_HEADER || !e->len)
		return 0; /* not what the program writes */
	c = (struct log_lines_chunk){ .tgid = e->tgid,
				      .fd = e->fd,
				      .svc = e->svc,
				      .ts_ns = e->ts_ns,
				      .lost_seq = e->lost_seq,
				      .truncated = e->flags & LOGS_F_TRUNCATED,
				      .data = e->data,
				      .len = e->len };
	log_lines_feed(s->lines, &c);
	return 0;
}

/* Empties the ring and flushes the partial lines that are too old; under @lock. */
static void drain(struct sampler_logs *s)
{
	uint64_t mono = time_mono_ns();

	/* both clocks now: lines keep the offset of the drain that finished them */
	s->real_minus_mono_ns = (int64_t)(time_real_ns() - mono);
	ring_buffer__consume(s->rb);
	log_lines_expire(s->lines, time_mono_ns());
}

static void *drain_main(void *arg)
{
	struct sampler_logs *s = arg;
	int efd = ring_buffer__epoll_fd(s->rb);

	while (!atomic_load(&s->stop)) {
		struct epoll_event ev;

		/* woken early only by the record that takes the ring past half full */
		(void)epoll_wait(efd, &ev, 1, LOGS_POLL_MS);
		pthread_mutex_lock(&s->lock);
		drain(s);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

int sampler_logs_start(struct sampler_logs *s, const struct sampler_logs_config *c)
{
	struct log_lines_config lc = { .max_line = c->max_line,
				       .max_age_ns = SAMPLER_LOGS_MAX_AGE_NS,
				       .rate_limit = c->rate_limit };
	int err;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < PRP_ARRAY_SIZE(tracepoints); i++)
		if (!tracepoint_exists(tracepoints[i])) {
			log_warn("sampler logs: disabled, no tracepoint '%s' in this kernel",
				 tracepoints[i]);
			return -ENOENT;
		}
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0) {
		err = s->ncpus ? s->ncpus : -EINVAL;
		log_warn_err(err, "sampler logs: disabled, cannot count the CPUs");
		return err;
	}
	s->skel = logs_bpf__open();
	if (!s->skel) {
		err = -errno;
		log_warn_err(err, "sampler logs: disabled, cannot open the BPF object");
		return err;
	}
	err = logs_bpf__load(s->skel);
	if (err)
		goto out_destroy;
	err = logs_bpf__attach(s->skel);
	if (err)
		goto out_destroy;
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.logs_events), on_record, s, NULL);
	if (!s->rb) {
		err = -errno;
		goto out_destroy;
	}
	s->lines = log_lines_new(&lc, on_line, s);
	s->max_lines_per_window = c->max_lines_per_window;
	s->percpu = xcalloc((size_t)s->ncpus, sizeof(*s->percpu));
	window_set_init(&s->pending);
	pthread_mutex_init(&s->lock, NULL);
	atomic_store(&s->stop, false);
	if (pthread_create(&s->thread, NULL, drain_main, s)) {
		err = -EAGAIN;
		pthread_mutex_destroy(&s->lock);
		log_lines_free(s->lines);
		free(s->percpu);
		ring_buffer__free(s->rb);
		goto out_destroy;
	}
	s->thread_on = true;
	log_info("sampler logs: attached to write(2) on fds 1 and 2, lines of at most %zu bytes, "
		 "%u lines/s and %zu lines per window per service",
		 c->max_line, c->rate_limit, c->max_lines_per_window);
	return 0;

out_destroy:
	log_warn_err(err, "sampler logs: disabled");
	logs_bpf__destroy(s->skel);
	memset(s, 0, sizeof(*s));
	return err;
}

void sampler_logs_stop(struct sampler_logs *s)
{
	if (!s->skel)
		return;
	atomic_store(&s->stop, true);
	if (s->thread_on)
		pthread_join(s->thread, NULL);
	/* detach first: nothing is written once the ring is freed */
	logs_bpf__destroy(s->skel);
	ring_buffer__free(s->rb);
	log_lines_free(s->lines);
	window_set_release(&s->pending);
	pthread_mutex_destroy(&s->lock);
	free(s->tgids);
	free(s->percpu);
	log_info("sampler logs: detached");
	memset(s, 0, sizeof(*s));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* One (tgid, service) pair svc_by_tgid should hold; @order is its place in the service set. */
struct logs_target {
	uint32_t tgid;
	uint32_t order;
	uint16_t svc;
};

static int cmp_target(const void *a, const void *b)
{
	const struct logs_target *x = a, *y = b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

int sampler_logs_set_targets(struct sampler_logs *s, const struct service_set *set)
{
	struct logs_target *t;
	uint32_t *tgids;
	size_t n = 0, nt = 0;
	int err = 0;

	if (!s->skel)
		return -ENODEV;
	t = xcalloc((size_t)SERVICES_MAX * SERVICE_PIDS_MAX, sizeof(*t));
	for (size_t i = 0; i < set->n && i < SERVICES_MAX; i++) {
		const struct service *sv = &set->items[i];

		for (size_t j = 0; j < sv->npids && j < SERVICE_PIDS_MAX; j++, n++)
			t[n] = (struct logs_target){ sv->pids[j], (uint32_t)n, sv->id };
	}
	/* the first service that has a process wins it, as in the other samplers */
	qsort(t, n, sizeof(*t), cmp_target);
	tgids = xcalloc(n + s->ntgids + 1, sizeof(*tgids));
	for (size_t i = 0; i < n; i++) {
		if (nt && tgids[nt - 1] == t[i].tgid)
			continue;
		err = bpf_map__update_elem(s->skel->maps.svc_by_tgid, &t[i].tgid, sizeof(t[i].tgid),
					   &t[i].svc, sizeof(t[i].svc), BPF_ANY);
		if (err)
			break;
		tgids[nt++] = t[i].tgid;
	}
	/* forget the processes that left; after a failure, remember them to try again */
	n = nt; /* the sorted part */
	for (size_t i = 0; i < s->ntgids; i++) {
		if (bsearch(&s->tgids[i], tgids, n, sizeof(*tgids), cmp_u32))
			continue;
		if (err || bpf_map__delete_elem(s->skel->maps.svc_by_tgid, &s->tgids[i],
						sizeof(s->tgids[i]), 0) == -EBUSY)
			tgids[nt++] = s->tgids[i];
	}
	qsort(tgids, nt, sizeof(*tgids), cmp_u32);
	if (err)
		log_warn_err(err, "sampler logs: cannot update the watched processes");
	free(s->tgids);
	s->tgids = tgids;
	s->ntgids = nt;
	free(t);
	return err;
}

/* Sums the kernel's per-CPU counters into @out. */
static void read_kernel_drops(struct sampler_logs *s, struct sampler_logs_stats *out)
{
	__u32 zero = 0;

	if (bpf_map__lookup_elem(s->skel->maps.logs_drops, &zero, sizeof(zero), s->percpu,
				 (size_t)s->ncpus * sizeof(*s->percpu), 0))
		return;
	for (int i = 0; i < s->ncpus; i++) {
		out->writes += s->percpu[i].writes;
		out->ring_full += s->percpu[i].ring_full;
		out->truncated += s->percpu[i].truncated;
		out->unread += s->percpu[i].unread;
	}
}

/* One warning a minute at most, when lines were lost since the last one. */
static void report_drops(struct sampler_logs *s)
{
	struct sampler_logs_stats st;
	uint64_t now = time_mono_ns(), total;

	if (s->last_report_ns && now - s->last_report_ns < SAMPLER_LOGS_REPORT_NS)
		return;
	sampler_logs_get_stats(s, &st);
	total = st.ring_full + st.unread + st.lines.rate_limited + st.window_full + st.bytes_full;
	if (total == s->drops_logged)
		return;
	s->last_report_ns = now;
	s->drops_logged = total;
	log_warn("sampler logs: lost so far: %llu records (ring full), %llu lines over "
		 "logs.rate_limit, %llu over logs.max_lines_per_window, %llu over the window's "
		 "%u bytes; %llu writes cut at %u bytes",
		 (unsigned long long)(st.ring_full + st.unread),
		 (unsigned long long)st.lines.rate_limited, (unsigned long long)st.window_full,
		 (unsigned long long)st.bytes_full, SAMPLER_LOGS_WINDOW_BYTES,
		 (unsigned long long)st.truncated, LOGS_CHUNK * LOGS_CHUNKS_MAX);
}

/* Moves the lines of @from to the end of @to's. */
static void move_lines(struct window *to, struct window *from)
{
	if (!to->nlogs) {
		free(to->logs);
		to->logs = from->logs;
		to->nlogs = from->nlogs;
		to->logs_alloc = from->logs_alloc;
	} else {
		for (size_t i = 0; i < from->nlogs; i++) {
			if (to->nlogs == to->logs_alloc) {
				to->logs_alloc *= 2;
				to->logs =
					xreallocarray(to->logs, to->logs_alloc, sizeof(*to->logs));
			}
			to->logs[to->nlogs++] = from->logs[i]; /* the text moves with it */
		}
		free(from->logs);
	}
	from->logs = NULL;
	from->nlogs = from->logs_alloc = 0;
}

int sampler_logs_collect(struct sampler_logs *s, struct window_set *ws)
{
	if (!s->skel)
		return -ENODEV;
	pthread_mutex_lock(&s->lock);
	drain(s);
	for (uint16_t id = 1; id <= SERVICES_MAX; id++) {
		struct window *from = s->pending.by_id[id];

		if (from && from->nlogs)
			move_lines(window_set_get(ws, id), from);
	}
	s->pending_bytes = 0;
	pthread_mutex_unlock(&s->lock);
	report_drops(s);
	return 0;
}

void sampler_logs_flush(struct sampler_logs *s)
{
	if (!s->skel)
		return;
	pthread_mutex_lock(&s->lock);
	drain(s);
	log_lines_flush(s->lines);
	pthread_mutex_unlock(&s->lock);
}

void sampler_logs_get_stats(struct sampler_logs *s, struct sampler_logs_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!s->skel)
		return;
	pthread_mutex_lock(&s->lock);
	log_lines_get_stats(s->lines, &out->lines);
	out->window_full = s->window_full;
	out->bytes_full = s->bytes_full;
	pthread_mutex_unlock(&s->lock);
	read_kernel_drops(s, out);
}
