/*
 * User half of the TCP sampler (bpf/tcp.bpf.c). The kernel side counts per
 * (generation, service) in a per-CPU hash; collecting flips the generation,
 * waits until no program can still be counting under the old one, then reads
 * and deletes the old generation's entries. Events counted after the flip go
 * to the new generation and are read by the next collect, so nothing is lost
 * or read twice.
 */
#include "agent/sampler_tcp.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tcp.skel.h>

#include "bpf/tcp.h"
#include "common/alloc.h"
#include "common/log.h"

_Static_assert(SERVICES_MAX < TCP_SVC_IDS, "service ids must fit the stats keys");
_Static_assert(TCP_MAX_PORTS >= SERVICES_MAX * SERVICE_PORTS_MAX, "svc_by_port is too small");
_Static_assert(TCP_MAX_TGIDS >= SERVICES_MAX * SERVICE_PIDS_MAX, "svc_by_tgid is too small");

/*
 * How long a program may still be counting under the generation that was just
 * retired. Tracepoint programs run to completion with preemption off, in a
 * few microseconds at most; 5 ms leaves a margin of three orders of
 * magnitude. There is a race here: a program delayed longer (a hypervisor
 * stalling the vCPU in the middle of it) adds to an entry that was already
 * read, and that one count is lost.
 */
#define TCP_COLLECT_WAIT_MS 5

static const char *const tracefs_roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

/* Whether the tracepoint of a "tracepoint/<category>/<name>" section exists. */
static bool tracepoint_exists(const char *sec)
{
	static const char prefix[] = "tracepoint/";
	char path[256];

	if (strncmp(sec, prefix, sizeof(prefix) - 1))
		return true; /* not a tracepoint: let load and attach decide */
	for (size_t i = 0; i < PRP_ARRAY_SIZE(tracefs_roots); i++) {
		snprintf(path, sizeof(path), "%s/events/%s", tracefs_roots[i],
			 sec + sizeof(prefix) - 1);
		if (!access(path, F_OK))
			return true;
	}
	return false;
}

/* Switches off the programs whose tracepoint is missing; returns how many are left. */
static int disable_missing(struct tcp_bpf *skel)
{
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *sec = bpf_program__section_name(prog);

		if (tracepoint_exists(sec)) {
			n++;
			continue;
		}
		bpf_program__set_autoload(prog, false);
		log_warn("sampler tcp: no tracepoint '%s' in this kernel, program '%s' is off",
			 sec + strlen("tracepoint/"), bpf_program__name(prog));
	}
	return n;
}

int sampler_tcp_start(struct sampler_tcp *s)
{
	int err, nprogs;

	memset(s, 0, sizeof(*s));
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0) {
		err = s->ncpus ? s->ncpus : -EINVAL;
		log_warn_err(err, "sampler tcp: disabled, cannot count the CPUs");
		return err;
	}
	s->skel = tcp_bpf__open();
	if (!s->skel) {
		err = -errno;
		log_warn_err(err, "sampler tcp: disabled, cannot open the BPF object");
		return err;
	}
	nprogs = disable_missing(s->skel);
	if (!nprogs) {
		err = -ENOENT;
		goto out_destroy;
	}
	/* without tcp_destroy_sock, sk_owner entries must go at CLOSE */
	s->skel->rodata->owner_until_destroy = bpf_program__autoload(s->skel->progs.tcp_destroy);

	err = tcp_bpf__load(s->skel);
	if (err)
		goto out_destroy;
	err = tcp_bpf__attach(s->skel);
	if (err)
		goto out_destroy;
	s->percpu = xcalloc((size_t)s->ncpus, sizeof(*s->percpu));
	log_info("sampler tcp: attached to %d tracepoints", nprogs);
	return 0;

out_destroy:
	log_warn_err(err, "sampler tcp: disabled");
	tcp_bpf__destroy(s->skel);
	s->skel = NULL;
	return err;
}

void sampler_tcp_stop(struct sampler_tcp *s)
{
	if (s->skel)
		log_info("sampler tcp: detached");
	tcp_bpf__destroy(s->skel); /* NULL-safe */
	free(s->percpu);
	memset(s, 0, sizeof(*s));
}

/* One (key, service id) pair the maps should hold; @order is its place in the service set. */
struct tcp_target {
	__u32 key;
	__u32 order;
	__u16 svc_id;
};

static int cmp_key(const void *a, const void *b)
{
	const struct tcp_target *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

static int cmp_key_order(const void *a, const void *b)
{
	const struct tcp_target *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* A key of svc_by_port (__u16) or svc_by_tgid (__u32), by the map's key size. */
union tcp_map_key {
	__u16 port;
	__u32 tgid;
};

static __u32 key_get(const union tcp_map_key *k, size_t key_size)
{
	return key_size == sizeof(k->port) ? k->port : k->tgid;
}

static void key_set(union tcp_map_key *k, size_t key_size, __u32 v)
{
	if (key_size == sizeof(k->port))
		k->port = (__u16)v;
	else
		k->tgid = v;
}

/*
 * Makes @map (keys of @key_size bytes, values __u16) hold exactly the @n
 * pairs of @want, which is sorted by key and unique. Stale keys are gathered
 * before any is deleted: deleting the key a hash walk stands on restarts it.
 */
static int sync_map(struct bpf_map *map, size_t key_size, const struct tcp_target *want, size_t n,
		    size_t max_entries)
{
	union tcp_map_key *stale = xcalloc(max_entries, sizeof(*stale));
	union tcp_map_key cur, next, k;
	size_t nstale = 0;
	void *prev = NULL;
	int err = 0;

	while (nstale < max_entries && !bpf_map__get_next_key(map, prev, &next, key_size)) {
		struct tcp_target probe = { .key = key_get(&next, key_size) };

		if (!bsearch(&probe, want, n, sizeof(*want), cmp_key))
			stale[nstale++] = next;
		cur = next;
		prev = &cur;
	}
	for (size_t i = 0; i < nstale; i++) {
		err = bpf_map__delete_elem(map, &stale[i], key_size, 0);
		if (err && err != -ENOENT)
			goto out;
	}
	err = 0;
	for (size_t i = 0; i < n; i++) {
		key_set(&k, key_size, want[i].key);
		err = bpf_map__update_elem(map, &k, key_size, &want[i].svc_id,
					   sizeof(want[i].svc_id), BPF_ANY);
		if (err)
			goto out;
	}
out:
	free(stale);
	return err;
}

/* Sorts @t by key and drops later duplicates: the first service in the set wins. */
static size_t sort_unique(struct tcp_target *t, size_t n)
{
	size_t out = 0;

	qsort(t, n, sizeof(*t), cmp_key_order);
	for (size_t i = 0; i < n; i++)
		if (!out || t[out - 1].key != t[i].key)
			t[out++] = t[i];
	return out;
}

int sampler_tcp_set_targets(struct sampler_tcp *s, const struct service_set *set)
{
	struct tcp_target *ports, *tgids;
	size_t nports = 0, ntgids = 0;
	int err;

	if (!s->skel)
		return -ENODEV;
	ports = xcalloc(TCP_MAX_PORTS, sizeof(*ports));
	tgids = xcalloc(TCP_MAX_TGIDS, sizeof(*tgids));
	for (size_t i = 0; i < set->n && i < SERVICES_MAX; i++) {
		const struct service *svc = &set->items[i];

		if (!svc->id || svc->id > SERVICES_MAX)
			continue;
		for (size_t j = 0; j < svc->nports && j < SERVICE_PORTS_MAX; j++) {
			ports[nports] =
				(struct tcp_target){ svc->ports[j], (__u32)nports, svc->id };
			nports++;
		}
		for (size_t j = 0; j < svc->npids && j < SERVICE_PIDS_MAX; j++) {
			tgids[ntgids] = (struct tcp_target){ svc->pids[j], (__u32)ntgids, svc->id };
			ntgids++;
		}
	}
	nports = sort_unique(ports, nports);
	ntgids = sort_unique(tgids, ntgids);

	err = sync_map(s->skel->maps.svc_by_port, sizeof(__u16), ports, nports, TCP_MAX_PORTS);
	if (!err)
		err = sync_map(s->skel->maps.svc_by_tgid, sizeof(__u32), tgids, ntgids,
			       TCP_MAX_TGIDS);
	if (err)
		log_warn_err(err, "sampler tcp: cannot update the service maps");
	else
		log_debug("sampler tcp: watching %zu ports and %zu processes", nports, ntgids);
	free(tgids);
	free(ports);
	return err;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Reads and deletes one entry; sums its CPUs into @sum. */
static int take_entry(struct sampler_tcp *s, const struct tcp_trouble_key *key,
		      struct tcp_trouble *sum)
{
	struct bpf_map *map = s->skel->maps.tcp_stats;
	size_t vsize = (size_t)s->ncpus * sizeof(*s->percpu);
	int err;

	err = bpf_map__lookup_and_delete_elem(map, key, sizeof(*key), s->percpu, vsize, 0);
	if (err && err != -ENOENT) {
		/*
		 * Kernels before 5.14 have no lookup-and-delete on hashes (the
		 * kernel's ENOTSUPP, 524). Two steps are as good: after the
		 * wait, nothing writes to the old generation any more.
		 */
		err = bpf_map__lookup_elem(map, key, sizeof(*key), s->percpu, vsize, 0);
		if (!err)
			err = bpf_map__delete_elem(map, key, sizeof(*key), 0);
	}
	if (err)
		return err;
	*sum = (struct tcp_trouble){ 0 };
	for (int i = 0; i < s->ncpus; i++) {
		sum->retransmits += s->percpu[i].retransmits;
		sum->resets_sent += s->percpu[i].resets_sent;
		sum->resets_received += s->percpu[i].resets_received;
		sum->connect_failures += s->percpu[i].connect_failures;
	}
	return 0;
}

int sampler_tcp_collect(struct sampler_tcp *s, struct window_set *ws)
{
	struct tcp_trouble_key keys[TCP_MAX_STATS], cur, next, *prev = NULL;
	size_t nkeys = 0;
	__u32 old;
	int err = 0;

	if (!s->skel)
		return -ENODEV;
	/* only this thread writes gen; the programs read it through the mmap'ed .bss */
	old = s->skel->bss->gen;
	__atomic_store_n(&s->skel->bss->gen, old ^ 1, __ATOMIC_SEQ_CST);
	sleep_ms(TCP_COLLECT_WAIT_MS);

	/* gather first: deleting while walking a hash restarts the walk */
	while (nkeys < TCP_MAX_STATS &&
	       !bpf_map__get_next_key(s->skel->maps.tcp_stats, prev, &next, sizeof(next))) {
		if (next.gen == old)
			keys[nkeys++] = next;
		cur = next;
		prev = &cur;
	}
	for (size_t i = 0; i < nkeys; i++) {
		struct tcp_trouble sum;
		struct window *w;
		int e = take_entry(s, &keys[i], &sum);

		if (e) {
			if (e != -ENOENT && !err)
				err = e;
			continue;
		}
		w = window_set_get(ws, keys[i].svc_id);
		if (!w)
			continue; /* id 0 or past SERVICES_MAX: never written by the programs */
		w->tcp.retransmits += sum.retransmits;
		w->tcp.resets += sum.resets_sent + sum.resets_received;
		w->tcp.connect_failures += sum.connect_failures;
	}
	if (err)
		log_warn_err(err,
			     "sampler tcp: cannot read the counts, they come with the next window");
	return err;
}
