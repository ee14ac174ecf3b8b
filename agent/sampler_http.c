/*
 * User side of the HTTP sampler. The kernel counts; we flip the generation,
 * wait out programs still using the old one, then read and delete the old
 * generation's keys. The grace period is a few ms: a tc program or a
 * tracepoint runs in microseconds, without sleeping, so every program that
 * read the old `gen` has finished well within it.
 *
 * With a span ring, records are handed on only when the caller drains
 * (sampler_http_spans_drain()) or waits (sampler_http_spans_wait(), which
 * returns early when the kernel signals a filling ring).
 */
#include "agent/sampler_http.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <http.skel.h>

#include "agent/http_method.h"
#include "agent/procfs.h"
#include "agent/tcx.h"
#include "bpf/http.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

/* Our filter on each hook: a fixed handle and priority, so a restart replaces it. */
#define SAMPLER_HTTP_TC_HANDLE	 0x707270
#define SAMPLER_HTTP_TC_PRIORITY 0x7072
#define SAMPLER_HTTP_GRACE_NS	 (2 * NSEC_PER_MSEC)

static int attach_hook(struct sampler_http *s, int ifindex, enum bpf_tc_attach_point point)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SAMPLER_HTTP_TC_HANDLE,
			    .priority = SAMPLER_HTTP_TC_PRIORITY, .flags = BPF_TC_F_REPLACE,
			    .prog_fd = bpf_program__fd(s->skel->progs.http_tc));
	struct sampler_http_hook *h;
	int err, created, link_fd;

	if (s->nhooks == SAMPLER_HTTP_HOOKS_MAX)
		return -E2BIG;
	/* a tcx link first (tcx.h): ours alone, beside any other agent's */
	link_fd = tcx_attach(opts.prog_fd, ifindex, point == BPF_TC_EGRESS);
	if (link_fd >= 0) {
		h = &s->hooks[s->nhooks++];
		*h = (struct sampler_http_hook){ .ifindex = ifindex, .attach_point = point,
						 .link_fd = link_fd };
		return 0;
	}
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	created = !err;
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		if (created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		return err;
	}
	h = &s->hooks[s->nhooks++];
	*h = (struct sampler_http_hook){ .ifindex = ifindex, .attach_point = point,
					 .created_qdisc = created, .link_fd = -1 };
	return 0;
}

static void detach_hooks(struct sampler_http *s)
{
	for (int i = s->nhooks - 1; i >= 0; i--) {
		struct sampler_http_hook *h = &s->hooks[i];
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex,
				    .attach_point = h->attach_point);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SAMPLER_HTTP_TC_HANDLE,
				    .priority = SAMPLER_HTTP_TC_PRIORITY);

		if (h->link_fd >= 0) {
			close(h->link_fd); /* the only reference: the kernel detaches it */
			continue;
		}
		bpf_tc_detach(&hook, &opts);
		if (h->created_qdisc) {
			/* a clsact qdisc holds both points: remove it once, at the last hook */
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
	}
	s->nhooks = 0;
}

/* Loopback: ingress sees every packet once. Other interfaces: both ways. */
static int attach_all(struct sampler_http *s)
{
	struct if_nameindex *ifs = if_nameindex(), *it;
	int err = 0, attached = 0;

	if (!ifs)
		return -errno;
	for (it = ifs; it->if_index && !err; it++) {
		bool lo = !strcmp(it->if_name, "lo");

		/* ifb devices carry copies of other interfaces' packets: counted there */
		if (!strncmp(it->if_name, "ifb", 3))
			continue;

		err = attach_hook(s, (int)it->if_index, BPF_TC_INGRESS);
		if (!err && !lo)
			err = attach_hook(s, (int)it->if_index, BPF_TC_EGRESS);
		if (err) {
			log_warn_err(err, "sampler http: cannot attach to interface %s",
				     it->if_name);
			/* an interface we cannot hook is not a reason to see nothing */
			err = 0;
			continue;
		}
		attached++;
	}
	if_freenameindex(ifs);
	return attached ? 0 : -ENODEV;
}

static int count_links(const struct sampler_http *s)
{
	int n = 0;

	for (int i = 0; i < s->nhooks; i++)
		n += s->hooks[i].link_fd >= 0;
	return n;
}

static int span_sample(void *ctx, void *data, size_t size)
{
	struct sampler_http *s = ctx;

	/* the two kinds of record share the ring, told apart by their size */
	if (size == sizeof(struct http_head_event)) {
		if (s->on_head)
			s->on_head(s->span_arg, data);
	} else if (size >= sizeof(struct http_span_event)) {
		s->on_span(s->span_arg, data);
	}
	return 0;
}

/* Sizes the span ring before load: the asked size, or one page without spans. */
static int size_spans_ring(struct sampler_http *s, const struct sampler_http_opts *o)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = o->spans_ring_bytes;

	if (!bytes)
		bytes = page;
	if (bytes < page || (bytes & (bytes - 1)) || bytes > (1u << 30) ||
	    (o->spans_ring_bytes && !o->on_span))
		return -EINVAL;
	s->skel->rodata->spans_ring_bytes = (uint32_t)bytes;
	return bpf_map__set_max_entries(s->skel->maps.http_spans, (uint32_t)bytes);
}

/*
 * Our own epoll on the ring, edge-triggered: libbpf's ring_buffer__poll()
 * is level-triggered, so once woken it would return at once for as long as
 * the ring is never quite empty when it is called, which under load is
 * always (a busy loop). Edge-triggered, it reports the kernel's wake-ups
 * only, the crossings of bpf/http.bpf.c.
 */
static int open_spans_epoll(struct sampler_http *s)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };

	s->spans_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->spans_epfd < 0)
		return -errno;
	if (epoll_ctl(s->spans_epfd, EPOLL_CTL_ADD, bpf_map__fd(s->skel->maps.http_spans), &ev))
		return -errno;
	return 0;
}

int sampler_http_start(struct sampler_http *s)
{
	return sampler_http_start_opts(s, &(struct sampler_http_opts){ 0 });
}

int sampler_http_start_opts(struct sampler_http *s, const struct sampler_http_opts *o)
{
	int err;

	_Static_assert(PRP_ARRAY_SIZE(s->drops) == HTTP_DROP_MAX, "one total per http_drops index");
	memset(s, 0, sizeof(*s));
	s->skel = http_bpf__open();
	if (!s->skel) {
		err = -errno;
		goto out_fail;
	}
	err = size_spans_ring(s, o);
	if (!err)
		err = http_bpf__load(s->skel);
	if (err)
		goto out_fail;
	if (o->spans_ring_bytes) {
		s->on_span = o->on_span;
		s->on_head = o->on_head;
		s->span_arg = o->span_arg;
		s->spans_rb = ring_buffer__new(bpf_map__fd(s->skel->maps.http_spans), span_sample,
					       s, NULL);
		if (!s->spans_rb) {
			err = -errno;
			goto out_fail;
		}
		err = open_spans_epoll(s);
		if (err)
			goto out_fail;
	}
	err = http_bpf__attach(s->skel);
	if (err)
		goto out_fail;
	err = attach_all(s);
	if (err)
		goto out_fail;
	s->port_svc = xcalloc(HTTP_PORTS, sizeof(*s->port_svc));
	s->port_name = xcalloc(HTTP_PORTS, sizeof(*s->port_name));
	log_info("sampler http: attached to %d tc hooks (%d as tcx links)", s->nhooks,
		 count_links(s));
	return 0;

out_fail:
	log_warn_err(err, "sampler http: disabled");
	sampler_http_stop(s);
	return err;
}

void sampler_http_stop(struct sampler_http *s)
{
	if (s->skel)
		detach_hooks(s);
	/* records still in the ring are dropped: the caller drains first if it wants them */
	if (s->spans_rb && s->spans_epfd >= 0)
		close(s->spans_epfd);
	ring_buffer__free(s->spans_rb);
	http_bpf__destroy(s->skel);
	free(s->port_svc);
	free(s->port_name);
	free(s->tgids);
	memset(s, 0, sizeof(*s));
}

static int set_port(struct sampler_http *s, uint32_t port, uint16_t svc)
{
	if (s->port_svc[port] == svc)
		return 0;
	s->port_svc[port] = svc;
	return bpf_map__update_elem(s->skel->maps.port_svc, &port, sizeof(port), &svc, sizeof(svc),
				    BPF_ANY);
}

/* Socket inodes of one service's processes, gathered through procfs. */
struct inode_set {
	uint64_t *ino;
	size_t n, alloc;
};

static void add_inode(uint64_t ino, void *arg)
{
	struct inode_set *is = arg;

	if (is->n == is->alloc) {
		is->alloc = is->alloc ? 2 * is->alloc : 64;
		is->ino = xreallocarray(is->ino, is->alloc, sizeof(*is->ino));
	}
	is->ino[is->n++] = ino;
}

static bool has_inode(const struct inode_set *is, uint64_t ino)
{
	for (size_t i = 0; i < is->n; i++)
		if (is->ino[i] == ino)
			return true;
	return false;
}

/*
 * Client sockets a watched process connected before we were watching it
 * never passed SYN_SENT under our tracepoint: find its established TCP
 * sockets in /proc/net/tcp{,6} and claim their local ports, so its calls are
 * attributed too. The tracepoint clears the port when the socket closes.
 * Runs only when the targets change.
 */
static void claim_established(struct sampler_http *s, const struct service *sv, struct procfs *pf)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	struct inode_set is = { 0 };

	for (size_t i = 0; i < sv->npids; i++)
		if (procfs_sockets(pf, sv->pids[i], add_inode, &is))
			continue; /* the process left meanwhile */
	for (size_t f = 0; f < PRP_ARRAY_SIZE(files) && is.n; f++) {
		FILE *in = fopen(files[f], "r");
		char line[512];

		while (in && fgets(line, sizeof(line), in)) {
			char local[128];
			unsigned st;
			unsigned long ino;
			const char *colon;
			uint32_t port;

			if (sscanf(line, "%*d: %127s %*s %x %*s %*s %*s %*u %*u %lu", local, &st,
				   &ino) != 3 ||
			    st != 0x01 /* TCP_ESTABLISHED */ || !has_inode(&is, ino))
				continue;
			colon = strrchr(local, ':');
			port = colon ? (uint32_t)strtoul(colon + 1, NULL, 16) : 0;
			/* a connection accepted on the service's own port is not a call */
			if (!port || port >= HTTP_PORTS || s->port_svc[port])
				continue;
			bpf_map__update_elem(s->skel->maps.client_svc, &port, sizeof(port), &sv->id,
					     sizeof(sv->id), BPF_ANY);
		}
		if (in)
			fclose(in);
	}
	free(is.ino);
}

int sampler_http_set_targets(struct sampler_http *s, const struct service_set *set)
{
	uint16_t *want = xcalloc(HTTP_PORTS, sizeof(*want));
	uint32_t *tgids = NULL;
	size_t ntgids = 0, alloc = 0;
	int err = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct service *sv = &set->items[i];

		for (size_t j = 0; j < sv->nports; j++) {
			want[sv->ports[j]] = sv->id;
			snprintf(s->port_name[sv->ports[j]], SERVICE_NAME_MAX, "%s", sv->name);
		}
		for (size_t j = 0; j < sv->npids; j++) {
			if (ntgids == alloc) {
				alloc = alloc ? 2 * alloc : 64;
				tgids = xreallocarray(tgids, alloc, sizeof(*tgids));
			}
			tgids[ntgids++] = sv->pids[j];
			err = bpf_map__update_elem(s->skel->maps.svc_by_tgid, &sv->pids[j],
						   sizeof(uint32_t), &sv->id, sizeof(sv->id),
						   BPF_ANY);
			if (err)
				goto out;
		}
	}
	for (uint32_t port = 0; port < HTTP_PORTS && !err; port++)
		err = set_port(s, port, want[port]);
	if (!err) {
		char perr[128];
		struct procfs *pf = procfs_new("/proc", 0, perr, sizeof(perr));

		for (size_t i = 0; pf && i < set->n; i++)
			claim_established(s, &set->items[i], pf);
		procfs_free(pf);
	}
	/* forget processes that left */
	for (size_t i = 0; i < s->ntgids; i++) {
		bool kept = false;

		for (size_t j = 0; j < ntgids && !kept; j++)
			kept = tgids[j] == s->tgids[i];
		if (!kept)
			bpf_map__delete_elem(s->skel->maps.svc_by_tgid, &s->tgids[i],
					     sizeof(uint32_t), 0);
	}
out:
	free(s->tgids);
	s->tgids = tgids;
	s->ntgids = ntgids;
	free(want);
	if (err)
		log_warn_err(err, "sampler http: cannot update the watched services");
	return err;
}

/*
 * Reads every key of @map whose generation is @old_gen (found at @gen_off in
 * the key), hands its count to @visit, then deletes it.
 */
typedef void sampler_http_visit_fn(struct sampler_http *s, struct window_set *ws, const void *key,
				   uint64_t count);

static int drain_generation(struct sampler_http *s, struct window_set *ws,
			    const struct bpf_map *map, size_t key_size, size_t gen_off,
			    uint32_t old_gen, sampler_http_visit_fn *visit)
{
	int fd = bpf_map__fd(map);
	unsigned char *keys = NULL, *prev = NULL, cur[128];
	size_t nkeys = 0, alloc = 0;
	int err = 0;

	if (key_size > sizeof(cur))
		return -EINVAL;
	while (!bpf_map_get_next_key(fd, prev, cur)) {
		uint32_t g;

		memcpy(&g, cur + gen_off, sizeof(g));
		if (g == old_gen) {
			if (nkeys == alloc) {
				alloc = alloc ? 2 * alloc : 256;
				keys = xreallocarray(keys, alloc, key_size);
			}
			memcpy(keys + nkeys * key_size, cur, key_size);
			nkeys++;
		}
		prev = prev ? prev : xmalloc(key_size);
		memcpy(prev, cur, key_size);
	}
	for (size_t i = 0; i < nkeys; i++) {
		const void *k = keys + i * key_size;
		uint64_t count;

		/* one shared counter per key (atomic adds in the kernel), not per CPU */
		if (bpf_map_lookup_elem(fd, k, &count)) {
			err = -errno;
			continue;
		}
		bpf_map_delete_elem(fd, k);
		if (count)
			visit(s, ws, k, count);
	}
	free(keys);
	free(prev);
	return err;
}

static void visit_stats(struct sampler_http *s, struct window_set *ws, const void *key,
			uint64_t count)
{
	const struct http_stats_key *k = key;
	struct window *w = window_set_get(ws, k->svc);
	struct window_http *h;
	char route[ROUTE_MAX];

	(void)s;
	if (!w)
		return;
	memcpy(route, k->route, ROUTE_MAX);
	route[ROUTE_MAX - 1] = '\0';
	/* a client may send any byte in a path: keep routes printable (the wire wants it) */
	for (char *c = route; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	h = window_http_get(w, http_method_name(k->method), route, k->status);
	h->count += count;
	if (hist_add_bucket(&h->latency_ns, k->bucket, count))
		log_ratelimited(LOG_LEVEL_WARN, "sampler http: bad latency bucket %u", k->bucket);
}

static void visit_call(struct sampler_http *s, struct window_set *ws, const void *key,
		       uint64_t count)
{
	const struct http_call_key *k = key;
	struct window *w = window_set_get(ws, k->svc);
	char host[INET6_ADDRSTRLEN], address[WINDOW_ADDRESS_MAX];
	struct window_call *c;

	if (!w)
		return;
	inet_ntop(k->family == 6 ? AF_INET6 : AF_INET, k->daddr, host, sizeof(host));
	snprintf(address, sizeof(address), k->family == 6 ? "[%s]:%u" : "%s:%u", host,
		 (unsigned)k->dport);
	c = window_call_get(w, address);
	if (!c->peer[0])
		snprintf(c->peer, sizeof(c->peer), "%s", s->port_name[k->dport]);
	c->count += count;
	if (k->error)
		c->errors += count;
	if (hist_add_bucket(&c->latency_ns, k->bucket, count))
		log_ratelimited(LOG_LEVEL_WARN, "sampler http: bad latency bucket %u", k->bucket);
}

static void read_drops(struct sampler_http *s)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v = xcalloc((size_t)ncpu, sizeof(*v));

	for (uint32_t i = 0; i < HTTP_DROP_MAX && i < PRP_ARRAY_SIZE(s->drops); i++) {
		uint64_t total = 0;

		if (bpf_map__lookup_elem(s->skel->maps.http_drops, &i, sizeof(i), v,
					 (size_t)ncpu * sizeof(*v), 0))
			continue;
		for (int c = 0; c < ncpu; c++)
			total += v[c];
		if (i == HTTP_DROP_STATS_FULL && total > s->drops[i])
			log_ratelimited(LOG_LEVEL_WARN,
					"sampler http: stats map full, %llu requests not counted",
					(unsigned long long)(total - s->drops[i]));
		if (i == HTTP_DROP_SPANS_FULL && total > s->drops[i])
			log_ratelimited(LOG_LEVEL_WARN,
					"sampler http: span ring full, %llu span records lost",
					(unsigned long long)(total - s->drops[i]));
		s->drops[i] = total;
	}
	free(v);
}

int sampler_http_collect(struct sampler_http *s, struct window_set *ws)
{
	uint32_t old = s->gen, next = old ^ 1, zero = 0;
	int err, err2;

	/* from here on the programs count into the other generation */
	err = bpf_map__update_elem(s->skel->maps.http_gen, &zero, sizeof(zero), &next, sizeof(next),
				   BPF_ANY);
	if (err)
		return err;
	s->gen = next;
	/* the whole grace period, even when a signal interrupts the sleep */
	for (uint64_t until = time_mono_ns() + SAMPLER_HTTP_GRACE_NS, now;
	     (now = time_mono_ns()) < until;)
		time_sleep_ns(until - now);
	err = drain_generation(s, ws, s->skel->maps.http_stats, sizeof(struct http_stats_key),
			       offsetof(struct http_stats_key, gen), old, visit_stats);
	err2 = drain_generation(s, ws, s->skel->maps.http_calls, sizeof(struct http_call_key),
				offsetof(struct http_call_key, gen), old, visit_call);
	read_drops(s);
	return err ? err : err2;
}

int sampler_http_spans_enable(struct sampler_http *s, bool on)
{
	struct http_span_cfg cfg = { .on = on };
	uint32_t zero = 0;

	if (!s->spans_rb)
		return on ? -ENOTSUP : 0;
	return bpf_map__update_elem(s->skel->maps.http_span_cfg, &zero, sizeof(zero), &cfg,
				    sizeof(cfg), BPF_ANY);
}

int sampler_http_spans_drain(struct sampler_http *s)
{
	return s->spans_rb ? ring_buffer__consume(s->spans_rb) : 0;
}

int sampler_http_spans_wait(struct sampler_http *s, uint64_t timeout_ns)
{
	uint64_t ms = (timeout_ns + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;

	if (!s->spans_rb) {
		time_sleep_ns(timeout_ns);
		return 0;
	}
	struct epoll_event ev;
	int n;

	/* the records carry no wake-up: epoll reports only the kernel's crossings */
	n = epoll_wait(s->spans_epfd, &ev, 1, ms > INT32_MAX ? INT32_MAX : (int)ms);
	if (n < 0)
		return -errno;
	return n ? ring_buffer__consume(s->spans_rb) : 0;
}
