/*
 * User side of the HTTP sampler. The kernel counts; we flip the generation,
 * wait out programs still using the old one, then read and delete the old
 * generation's keys. The grace period is a few ms: a tc program or a
 * tracepoint runs in microseconds, without sleeping, so every program that
 * read the old `gen` has finished well within it.
 */
#include "agent/sampler_http.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <http.skel.h>

#include "agent/procfs.h"
#include "bpf/http.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

/* Our filter on each hook: a fixed handle and priority, so a restart replaces it. */
#define SAMPLER_HTTP_TC_HANDLE	 0x707270
#define SAMPLER_HTTP_TC_PRIORITY 0x7072
#define SAMPLER_HTTP_GRACE_NS	 (2 * NSEC_PER_MSEC)

const char *sampler_http_method_name(unsigned method)
{
	static const char *const names[] = { "OTHER",  "GET",  "POST",	"PUT",
					     "DELETE", "HEAD", "PATCH", "OPTIONS" };

	return method < PRP_ARRAY_SIZE(names) ? names[method] : "OTHER";
}

static int attach_hook(struct sampler_http *s, int ifindex, enum bpf_tc_attach_point point)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SAMPLER_HTTP_TC_HANDLE,
			    .priority = SAMPLER_HTTP_TC_PRIORITY, .flags = BPF_TC_F_REPLACE,
			    .prog_fd = bpf_program__fd(s->skel->progs.http_tc));
	struct sampler_http_hook *h;
	int err, created;

	if (s->nhooks == SAMPLER_HTTP_HOOKS_MAX)
		return -E2BIG;
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
	h->ifindex = ifindex;
	h->attach_point = point;
	h->created_qdisc = created;
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

int sampler_http_start(struct sampler_http *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->skel = http_bpf__open_and_load();
	if (!s->skel) {
		err = -errno;
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
	log_info("sampler http: attached to %d tc hooks", s->nhooks);
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
	h = window_http_get(w, sampler_http_method_name(k->method), route, k->status);
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
