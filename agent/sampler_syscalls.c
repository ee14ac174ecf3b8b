/*
 * User-space half of bpf/syscalls.bpf.c. start() loads and attaches;
 * set_targets() keeps svc_by_tgid and the watch bitmap equal to a sorted
 * mirror (s->targets), so a resync costs one map update per change;
 * collect() runs the generation flip of bpf/syscalls.h and moves the old
 * generation's counts into the windows.
 *
 * collect() reads sc_counts with batch look-ups (a few syscalls per window
 * instead of one per entry), keeps the keys of every entry it added, and
 * deletes exactly those afterwards: entries of the new generation, created
 * meanwhile by the programs, are neither read nor deleted.
 */
#include "agent/sampler_syscalls.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <syscalls.skel.h>

#include "agent/syscall_names.h"
#include "bpf/hist.h"
#include "bpf/syscalls.h"
#include "common/alloc.h"
#include "common/hist.h"
#include "common/log.h"
#include "common/timeutil.h"

/* Entries per batch look-up: far more than a hash bucket ever holds (-ENOSPC). */
#define COLLECT_BATCH 1024

static void release(struct sampler_syscalls *s)
{
	syscalls_bpf__destroy(s->skel);
	free(s->targets);
	free(s->keys);
	free(s->values);
	free(s->done);
	memset(s, 0, sizeof(*s));
}

int sampler_syscalls_start(struct sampler_syscalls *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->ncpu = libbpf_num_possible_cpus();
	if (s->ncpu <= 0) {
		err = s->ncpu ? s->ncpu : -EINVAL;
		goto out_release;
	}
	s->skel = syscalls_bpf__open();
	if (!s->skel) {
		err = -errno;
		goto out_release;
	}
	err = syscalls_bpf__load(s->skel);
	if (err)
		goto out_release;
	/* .bss is mmap()ed: the programs see a store here at once */
	s->gen = 1;
	__atomic_store_n(&s->skel->bss->gen, s->gen, __ATOMIC_RELEASE);
	err = syscalls_bpf__attach(s->skel);
	if (err)
		goto out_release;
	s->attached = true;
	s->attached_at = s->last_collect = time_mono_ns();
	s->next_toggle = UINT64_MAX;
	s->keys = xcalloc(COLLECT_BATCH, sizeof(*s->keys));
	s->values = xcalloc((size_t)COLLECT_BATCH * (size_t)s->ncpu, sizeof(*s->values));
	s->done = xcalloc(SYSCALLS_MAX_COUNTS, sizeof(*s->done));
	log_info("sampler syscalls: attached to raw_syscalls sys_enter and sys_exit");
	return 0;

out_release:
	log_warn_err(err, "sampler syscalls: disabled");
	release(s);
	return err;
}

void sampler_syscalls_stop(struct sampler_syscalls *s)
{
	if (!s->skel)
		return;
	release(s);
}

/* ---- targets ------------------------------------------------------------- */

/* A target while the wanted list is built: @order keeps a tgid with its first service. */
struct wanted {
	uint32_t tgid;
	uint16_t svc;
	uint32_t order;
};

static int wanted_cmp(const void *a, const void *b)
{
	const struct wanted *x = a, *y = b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

/* Sets or clears @tgid's bit in watch_bits. */
static int watch_bit_set(struct sampler_syscalls *s, uint32_t tgid, bool on)
{
	const struct bpf_map *map = s->skel->maps.watch_bits;
	uint32_t word = tgid / 64;
	uint64_t bits, bit = 1ULL << (tgid % 64);
	int err;

	err = bpf_map__lookup_elem(map, &word, sizeof(word), &bits, sizeof(bits), 0);
	if (err)
		return err;
	bits = on ? bits | bit : bits & ~bit;
	return bpf_map__update_elem(map, &word, sizeof(word), &bits, sizeof(bits), BPF_ANY);
}

/* svc_by_tgid first, then the bit: a set bit always finds its service. */
static int target_add(struct sampler_syscalls *s, const struct sampler_syscalls_target *t)
{
	int err;

	err = bpf_map__update_elem(s->skel->maps.svc_by_tgid, &t->tgid, sizeof(t->tgid), &t->svc,
				   sizeof(t->svc), BPF_ANY);
	if (err)
		return err;
	return watch_bit_set(s, t->tgid, true);
}

/* The bit first, then svc_by_tgid: the reverse of target_add(). */
static int target_remove(struct sampler_syscalls *s, const struct sampler_syscalls_target *t)
{
	int err;

	err = watch_bit_set(s, t->tgid, false);
	if (err)
		return err;
	err = bpf_map__delete_elem(s->skel->maps.svc_by_tgid, &t->tgid, sizeof(t->tgid), 0);
	return err == -ENOENT ? 0 : err;
}

/* The (tgid, service) pairs of @set, sorted by tgid, a tgid kept with its first service. */
static size_t targets_of(const struct service_set *set, struct sampler_syscalls_target *out)
{
	struct wanted *w = xcalloc((size_t)SERVICES_MAX * SERVICE_PIDS_MAX, sizeof(*w));
	size_t n = 0, kept = 0;

	for (size_t i = 0; i < set->n && i < SERVICES_MAX; i++) {
		const struct service *svc = &set->items[i];

		for (size_t j = 0; j < svc->npids && j < SERVICE_PIDS_MAX; j++) {
			if (!svc->pids[j] || svc->pids[j] >= SYSCALLS_TGID_LIMIT)
				continue;
			w[n].tgid = svc->pids[j];
			w[n].svc = svc->id;
			w[n].order = (uint32_t)n;
			n++;
		}
	}
	qsort(w, n, sizeof(*w), wanted_cmp);
	for (size_t i = 0; i < n; i++) {
		if (kept && out[kept - 1].tgid == w[i].tgid)
			continue;
		out[kept].tgid = w[i].tgid;
		out[kept].svc = w[i].svc;
		kept++;
	}
	free(w);
	return kept;
}

static int tgid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * Deletes the sc_inflight entries of the @ngone tgids in @gone (sorted). A
 * thread that was blocked in a syscall when its process stopped being watched
 * keeps its stamp, since sys_exit no longer looks; were the process watched
 * again, that stale stamp would be counted. Best effort: a program that read
 * the watch bit just before it was cleared may still stamp once.
 */
static void purge_inflight(struct sampler_syscalls *s, const uint32_t *gone, size_t ngone)
{
	int fd = bpf_map__fd(s->skel->maps.sc_inflight);
	uint64_t *keys = xcalloc(SYSCALLS_MAX_INFLIGHT, sizeof(*keys));
	uint64_t key, next, *prev = NULL;
	size_t n = 0;

	while (n < SYSCALLS_MAX_INFLIGHT && !bpf_map_get_next_key(fd, prev, &next)) {
		uint32_t tgid = (uint32_t)(next >> 32);

		if (bsearch(&tgid, gone, ngone, sizeof(*gone), tgid_cmp))
			keys[n++] = next;
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &keys[i]); /* -ENOENT: the LRU took it */
	free(keys);
}

/*
 * Brings the maps from s->targets to @want (both sorted by tgid); fills @now
 * with what they hold afterwards, failures included, and @gone with the tgids
 * removed. Returns the first error; *@nnow and *@ngone are set either way.
 */
static int targets_apply(struct sampler_syscalls *s, const struct sampler_syscalls_target *want,
			 size_t nwant, struct sampler_syscalls_target *now, size_t *nnow,
			 uint32_t *gone, size_t *ngone)
{
	size_t i = 0, j = 0, n = 0, g = 0;
	int err = 0, e;

	while (i < s->ntargets || j < nwant) {
		const struct sampler_syscalls_target *old = i < s->ntargets ? &s->targets[i] : NULL;
		const struct sampler_syscalls_target *new = j < nwant ? &want[j] : NULL;

		if (old && (!new || old->tgid < new->tgid)) {
			e = target_remove(s, old);
			if (e)
				now[n++] = *old;
			else
				gone[g++] = old->tgid;
			i++;
		} else if (!old || new->tgid < old->tgid) {
			e = target_add(s, new);
			if (!e)
				now[n++] = *new;
			j++;
		} else {
			e = old->svc == new->svc ? 0 : target_add(s, new);
			now[n++] = e ? *old : *new;
			i++;
			j++;
		}
		if (e && !err)
			err = e;
	}
	*nnow = n;
	*ngone = g;
	return err;
}

int sampler_syscalls_set_targets(struct sampler_syscalls *s, const struct service_set *set)
{
	struct sampler_syscalls_target *want, *now;
	size_t nwant, nnow, ngone;
	uint32_t *gone;
	int err;

	if (!s->skel)
		return -ENODEV;
	want = xcalloc((size_t)SERVICES_MAX * SERVICE_PIDS_MAX, sizeof(*want));
	nwant = targets_of(set, want);
	now = xcalloc(nwant + s->ntargets + 1, sizeof(*now));
	gone = xcalloc(s->ntargets + 1, sizeof(*gone));
	err = targets_apply(s, want, nwant, now, &nnow, gone, &ngone);
	if (ngone)
		purge_inflight(s, gone, ngone);
	free(gone);
	free(want);
	free(s->targets);
	s->targets = now;
	s->ntargets = nnow;
	if (err)
		log_warn_err(err, "sampler syscalls: cannot update the watched processes");
	return err;
}

/* ---- collect --------------------------------------------------------------- */

/* Sleeps @ns in full: a signal (SIGHUP, SIGTERM) must not shorten the grace period. */
static void grace_wait(uint64_t ns)
{
	uint64_t until = time_mono_ns() + ns, now;

	while ((now = time_mono_ns()) < until)
		(void)time_sleep_ns(until - now);
}

/* ---- sampling ------------------------------------------------------------ */

static bool sampling(const struct sampler_syscalls *s)
{
	return s->sample_ns && s->sample_ns < s->window_ns;
}

static void attach(struct sampler_syscalls *s, uint64_t now)
{
	int err;

	/* a new epoch first: stamps of the stretch before are stale (bpf/syscalls.bpf.c) */
	s->epoch++;
	__atomic_store_n(&s->skel->bss->epoch, s->epoch, __ATOMIC_RELEASE);
	err = syscalls_bpf__attach(s->skel);
	if (err) {
		log_ratelimited(LOG_LEVEL_WARN, "sampler syscalls: cannot attach: %s",
				strerror(-err));
		return;
	}
	s->attached = true;
	s->attached_at = now;
}

static void detach(struct sampler_syscalls *s, uint64_t now)
{
	syscalls_bpf__detach(s->skel);
	s->attached = false;
	s->attached_ns += now - s->attached_at;
}

void sampler_syscalls_set_sampling(struct sampler_syscalls *s, uint64_t sample_ns,
				   uint64_t window_ns)
{
	s->sample_ns = sample_ns;
	s->window_ns = window_ns;
	if (!s->skel || !sampling(s))
		return;
	/* this first window is seen whole: start sampling from the next one */
	s->next_toggle = UINT64_MAX;
	log_info("sampler syscalls: sampling %llu ms of every %llu ms window",
		 (unsigned long long)(sample_ns / NSEC_PER_MSEC),
		 (unsigned long long)(window_ns / NSEC_PER_MSEC));
}

uint64_t sampler_syscalls_tick(struct sampler_syscalls *s, uint64_t now)
{
	if (!s->skel || !sampling(s) || now < s->next_toggle)
		return s->skel ? s->next_toggle : UINT64_MAX;
	if (s->attached) {
		detach(s, now);
		s->next_toggle = UINT64_MAX; /* the next collect schedules the next stretch */
	} else {
		attach(s, now);
		s->next_toggle = now + s->sample_ns;
	}
	return s->next_toggle;
}

/*
 * After a collect: the next stretch starts at a random offset into the new
 * window, so that a workload with a period does not always look the same.
 */
static void schedule_stretch(struct sampler_syscalls *s, uint64_t now)
{
	uint64_t room = s->window_ns - s->sample_ns;

	s->next_toggle = now + (room ? (uint64_t)random() % room : 0);
}

/* Adds @n counts of @key, scaled by @scale, into its service's window. */
static void add_to_window(struct window_set *ws, const struct syscall_key *key, uint64_t n,
			  double scale, double ratio)
{
	char name[WINDOW_SYSCALL_NAME_MAX];
	struct window_syscall *sc;
	struct window *w;

	uint64_t scaled = scale == 1.0 ? n : (uint64_t)((double)n * scale + 0.5);

	w = window_set_get(ws, key->svc);
	if (!w)
		return;
	w->syscalls_sample_ratio = ratio;
	sc = window_syscall_get(w, key->nr, syscall_names_format(key->nr, name, sizeof(name)));
	if (!sc)
		return;
	if (key->kind == SYSCALL_COUNT_ERRNO) {
		sc->errors += scaled;
		window_syscall_add_errno(sc, (int)key->sub, scaled);
	} else if (hist_add_bucket(&sc->latency_ns, key->sub, n) == 0) {
		sc->count += scaled;
	}
}

/* Adds the entries of one batch that are not of the current generation; queues their keys. */
static void collect_batch(struct sampler_syscalls *s, struct window_set *ws, uint32_t count,
			  double scale, double ratio)
{
	for (uint32_t i = 0; i < count; i++) {
		const struct syscall_key *key = &s->keys[i];
		const uint64_t *per_cpu = &s->values[(size_t)i * (size_t)s->ncpu];
		uint64_t n = 0;

		if (key->gen == s->gen || s->ndone >= SYSCALLS_MAX_COUNTS)
			continue;
		for (int c = 0; c < s->ncpu; c++)
			n += per_cpu[c];
		if (n)
			add_to_window(ws, key, n, scale, ratio);
		s->done[s->ndone++] = *key;
	}
}

/* Reads every entry of an older generation into @ws; s->done gets their keys. */
static int collect_read(struct sampler_syscalls *s, struct window_set *ws, double scale,
			double ratio)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int fd = bpf_map__fd(s->skel->maps.sc_counts);
	uint64_t in_batch = 0, out_batch = 0;
	bool first = true;
	uint32_t count;
	int err;

	s->ndone = 0;
	for (;;) {
		count = COLLECT_BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, s->keys,
					   s->values, &count, &opts);
		if (err && err != -ENOENT)
			return err;
		collect_batch(s, ws, count, scale, ratio);
		if (err == -ENOENT) /* the end of the map */
			return 0;
		in_batch = out_batch;
		first = false;
	}
}

/* Sum over the CPUs of sc_drops, and the recursion misses of both programs. */
static void collect_health(struct sampler_syscalls *s)
{
	struct syscall_drops *per_cpu = xcalloc((size_t)s->ncpu, sizeof(*per_cpu));
	const struct bpf_program *progs[] = { s->skel->progs.sc_enter, s->skel->progs.sc_exit };
	uint64_t dropped = 0, missed = 0;
	uint32_t zero = 0;

	if (!bpf_map__lookup_elem(s->skel->maps.sc_drops, &zero, sizeof(zero), per_cpu,
				  (size_t)s->ncpu * sizeof(*per_cpu), 0))
		for (int c = 0; c < s->ncpu; c++)
			dropped += per_cpu[c].counts_full;
	free(per_cpu);
	for (size_t i = 0; i < PRP_ARRAY_SIZE(progs); i++) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (!bpf_obj_get_info_by_fd(bpf_program__fd(progs[i]), &info, &len))
			missed += info.recursion_misses;
	}
	if (dropped > s->dropped)
		log_ratelimited(LOG_LEVEL_WARN,
				"sampler syscalls: counts map full, %llu syscalls not counted",
				(unsigned long long)(dropped - s->dropped));
	if (missed > s->missed)
		log_ratelimited(LOG_LEVEL_WARN,
				"sampler syscalls: the kernel skipped the programs %llu times",
				(unsigned long long)(missed - s->missed));
	s->dropped = dropped;
	s->missed = missed;
}

/*
 * Scaling rounds errno and bucket counts apart, and a full sc_counts may keep
 * an error without its call: a window never says more errors than calls.
 */
static void clamp_errors(struct window_set *ws)
{
	for (size_t i = 0; i <= SERVICES_MAX; i++)
		for (size_t j = 0; ws->by_id[i] && j < ws->by_id[i]->nsyscalls; j++) {
			struct window_syscall *sc = &ws->by_id[i]->syscalls[j];

			if (sc->errors > sc->count)
				sc->count = sc->errors;
		}
}

int sampler_syscalls_collect(struct sampler_syscalls *s, struct window_set *ws)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	double scale = 1.0, ratio = 1.0;
	uint64_t now, seen, window;
	uint32_t n;
	int err;

	if (!s->skel)
		return -ENODEV;
	now = time_mono_ns();
	if (sampling(s)) {
		if (s->attached)
			detach(s, now);
		seen = s->attached_ns;
		window = now - s->last_collect;
		if (seen && window > seen) {
			ratio = (double)seen / (double)window;
			scale = 1.0 / ratio;
		}
		s->attached_ns = 0;
	}
	s->last_collect = now;
	s->gen++;
	if (!s->gen) /* the programs never see 0 after start: keep it so */
		s->gen = 1;
	__atomic_store_n(&s->skel->bss->gen, s->gen, __ATOMIC_RELEASE);
	/* the programs that read the old value finish their update meanwhile */
	grace_wait(SYSCALLS_GRACE_MS * NSEC_PER_MSEC);

	err = collect_read(s, ws, scale, ratio);
	/* delete what was added even after a failed read, or it would be added twice */
	n = (uint32_t)s->ndone;
	if (n) {
		int e = bpf_map_delete_batch(bpf_map__fd(s->skel->maps.sc_counts), s->done, &n,
					     &opts);
		if (e && !err)
			err = e;
	}
	clamp_errors(ws);
	collect_health(s);
	if (sampling(s))
		schedule_stretch(s, time_mono_ns());
	if (err)
		log_warn_err(err, "sampler syscalls: cannot read the counts");
	return err;
}
