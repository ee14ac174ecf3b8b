/*
 * User half of the connection rate limits (bpf/ratelimit.bpf.c). The program
 * is attached to one interface's ingress, preferably as a tcx BPF link that
 * only this process holds (agent/tcx.h; like agent/breaker.c's cgroup links,
 * closing it detaches the program, crash included), else as a classic tc
 * filter.
 *
 * Each limited port is one entry of `rl_buckets`; changing a limit is a
 * read-modify-write of that entry so the counters and the bucket level the
 * kernel keeps in it survive. There is a race here, as in agent/breaker.c:
 * SYNs the kernel counts on the old value between our read and our write are
 * lost from the counters, and the bucket level can be off by those tokens. A
 * limit changes seldom; the error is a few SYNs at the moment of the change.
 */
#include "agent/ratelimit.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ratelimit.skel.h>

#include "agent/tcx.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

/*
 * The classic filter: a fixed handle, so a restart after a crash replaces the
 * filter left behind, and a priority number below the HTTP sampler's 0x7072
 * so ours runs first (a filter answering TC_ACT_OK ends the chain; ours
 * answers TC_ACT_UNSPEC on pass, so the sampler still sees every packet).
 */
#define RATELIMIT_TC_HANDLE   0x707271
#define RATELIMIT_TC_PRIORITY 0x7071

struct ratelimit {
	struct ratelimit_bpf *skel;
	char ifname[IF_NAMESIZE];
	int ifindex;
	int link_fd; /* the tcx link, or -1 with a classic filter */
};

/*
 * A classic filter on the clsact qdisc, created when absent. The qdisc is
 * never removed by us: other filters (the HTTP sampler's) may share it, and
 * an empty clsact costs nothing.
 */
static int attach_classic(struct ratelimit *rl)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = rl->ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = RATELIMIT_TC_HANDLE,
			    .priority = RATELIMIT_TC_PRIORITY, .flags = BPF_TC_F_REPLACE,
			    .prog_fd = bpf_program__fd(rl->skel->progs.rl_ingress));
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

static void detach_classic(struct ratelimit *rl)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = rl->ifindex,
			    .attach_point = BPF_TC_INGRESS);
	/* detach wants only handle and priority: no prog_fd, prog_id or flags */
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = RATELIMIT_TC_HANDLE,
			    .priority = RATELIMIT_TC_PRIORITY);

	bpf_tc_detach(&hook, &opts);
}

int ratelimit_start(struct ratelimit **out, const char *ifname)
{
	struct ratelimit *rl;
	const char *what;
	int err;

	*out = NULL;
	rl = xcalloc(1, sizeof(*rl));
	rl->link_fd = -1;
	snprintf(rl->ifname, sizeof(rl->ifname), "%s", ifname);
	rl->ifindex = (int)if_nametoindex(ifname);
	if (!rl->ifindex) {
		err = -ENODEV;
		what = "no such interface";
		goto out_free;
	}
	rl->skel = ratelimit_bpf__open();
	if (!rl->skel) {
		err = -errno;
		what = "cannot open the BPF object";
		goto out_free;
	}
	err = ratelimit_bpf__load(rl->skel);
	if (err) {
		what = "cannot load the tc program (it needs root or CAP_BPF and CAP_NET_ADMIN, "
		       "and a kernel with BPF atomics, 5.12 or later)";
		goto out_destroy;
	}
	rl->link_fd = tcx_attach(bpf_program__fd(rl->skel->progs.rl_ingress), rl->ifindex, false);
	if (rl->link_fd < 0) {
		/* -EINVAL: a kernel without tcx does not know the attach type */
		log_debug("ratelimit: no tcx link (%s), using a classic tc filter",
			  strerror(-rl->link_fd));
		rl->link_fd = -1;
		err = attach_classic(rl);
		if (err) {
			what = "cannot attach to tc ingress";
			goto out_destroy;
		}
	}
	log_info("ratelimit: attached to %s ingress (%s)", ifname,
		 rl->link_fd >= 0 ? "tcx link" : "classic tc filter");
	*out = rl;
	return 0;

out_destroy:
	ratelimit_bpf__destroy(rl->skel);
out_free:
	free(rl);
	log_warn_err(err, "ratelimit: disabled, %s dev=%s", what, ifname);
	return err;
}

void ratelimit_stop(struct ratelimit *rl)
{
	if (!rl)
		return;
	if (rl->link_fd >= 0)
		close(rl->link_fd); /* the only reference: the kernel detaches the program */
	else
		detach_classic(rl);
	ratelimit_bpf__destroy(rl->skel);
	log_info("ratelimit: detached from %s, every limit is lifted", rl->ifname);
	free(rl);
}

int ratelimit_set(struct ratelimit *rl, __u16 port, __u32 rate_per_s, __u32 burst)
{
	struct bpf_map *map = rl->skel->maps.rl_buckets;
	struct ratelimit_key key;
	struct ratelimit_bucket b;
	int err;

	/* the kernel side divides 1 s by the rate: at most one token per nanosecond */
	if (!port || !rate_per_s || !burst || rate_per_s > NSEC_PER_SEC)
		return -EINVAL;
	memset(&key, 0, sizeof(key)); /* the kernel hashes the padding too */
	key.port = port;
	err = bpf_map__lookup_elem(map, &key, sizeof(key), &b, sizeof(b), 0);
	if (err == -ENOENT)
		memset(&b, 0, sizeof(b)); /* tat_ns 0: a full bucket */
	else if (err)
		return err;
	b.rate_per_s = rate_per_s;
	b.burst = burst;
	err = bpf_map__update_elem(map, &key, sizeof(key), &b, sizeof(b), BPF_ANY);
	if (err) {
		/* a full hash map answers -E2BIG */
		log_warn_err(err, "ratelimit: cannot limit port %u", port);
		return err;
	}
	log_info("ratelimit: limited to %u new connections/s, burst %u port=%u dev=%s", rate_per_s,
		 burst, port, rl->ifname);
	return 0;
}

int ratelimit_clear(struct ratelimit *rl, __u16 port)
{
	struct ratelimit_key key;
	int err;

	memset(&key, 0, sizeof(key));
	key.port = port;
	err = bpf_map__delete_elem(rl->skel->maps.rl_buckets, &key, sizeof(key), 0);
	if (err)
		return err;
	log_info("ratelimit: limit lifted port=%u dev=%s", port, rl->ifname);
	return 0;
}

int ratelimit_stats(struct ratelimit *rl, __u16 port, __u64 *passed, __u64 *dropped)
{
	struct ratelimit_key key;
	struct ratelimit_bucket b;
	int err;

	memset(&key, 0, sizeof(key));
	key.port = port;
	err = bpf_map__lookup_elem(rl->skel->maps.rl_buckets, &key, sizeof(key), &b, sizeof(b), 0);
	if (err)
		return err;
	*passed = b.passed;
	*dropped = b.dropped;
	return 0;
}
