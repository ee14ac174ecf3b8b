/*
 * User half of the circuit breakers (bpf/breaker.bpf.c). Loading attaches two
 * cgroup programs through BPF links that only this process holds: closing
 * them (breaker_stop(), or the exit of the process, crash included) detaches
 * the programs, so a breaker can never be left behind by a dead agent.
 *
 * Each open, half-open or closed breaker is one entry of the `breakers` map;
 * a state change is a read-modify-write of that entry, so the counters the
 * kernel keeps in it survive the change (bpf/breaker.bpf.c names the race).
 */
#include "agent/breaker.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <breaker.skel.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

struct breaker {
	struct breaker_bpf *skel; /* its links hold the attachments */
};

/* "[addr]:port" or "a.b.c.d:port" of a key, for the log. */
static void key_format(const struct breaker_key *key, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (key->family == BREAKER_FAMILY_V4) {
		inet_ntop(AF_INET, &key->addr[3], ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, key->port);
	} else {
		inet_ntop(AF_INET6, key->addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, key->port);
	}
}

/* The map key of @sa, laid out as bpf/breaker.h says. */
static int key_from_sockaddr(const struct sockaddr *sa, struct breaker_key *key)
{
	const struct sockaddr_in *in;
	const struct sockaddr_in6 *in6;

	memset(key, 0, sizeof(*key)); /* the kernel hashes the padding too */
	switch (sa->sa_family) {
	case AF_INET:
		in = (const struct sockaddr_in *)sa;
		key->addr[2] = htonl(0xffff);
		key->addr[3] = in->sin_addr.s_addr;
		key->port = ntohs(in->sin_port);
		key->family = BREAKER_FAMILY_V4;
		return 0;
	case AF_INET6:
		in6 = (const struct sockaddr_in6 *)sa;
		memcpy(key->addr, &in6->sin6_addr, sizeof(key->addr));
		key->port = ntohs(in6->sin6_port);
		/* the same entry as the IPv4 address, as the connect6 program folds it */
		key->family = IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ? BREAKER_FAMILY_V4
								    : BREAKER_FAMILY_V6;
		return 0;
	default:
		return -EAFNOSUPPORT;
	}
}

/* Opens @path and checks that it is a cgroup v2 directory. Returns the fd or -errno. */
static int open_cgroup2(const char *path)
{
	struct statfs st;
	int fd, err;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (st.f_type != CGROUP2_SUPER_MAGIC) {
		close(fd);
		return -ENOTDIR;
	}
	return fd;
}

int breaker_start(struct breaker **out, const char *cgroup_path)
{
	struct bpf_link *link;
	struct breaker *b;
	const char *what;
	int cgfd, err;

	*out = NULL;
	cgfd = open_cgroup2(cgroup_path);
	if (cgfd < 0) {
		err = cgfd;
		log_warn_err(err, "breaker: disabled, '%s' is not a cgroup v2 directory",
			     cgroup_path);
		return err;
	}
	b = xcalloc(1, sizeof(*b));
	b->skel = breaker_bpf__open();
	if (!b->skel) {
		err = -errno;
		what = "cannot open the BPF object";
		goto out_free;
	}
	err = breaker_bpf__load(b->skel);
	if (err) {
		what = "cannot load the cgroup connect programs (they need root or CAP_BPF and "
		       "CAP_NET_ADMIN, and a kernel with BPF atomics, 5.12 or later)";
		goto out_destroy;
	}
	/*
	 * A link attaches with BPF_F_ALLOW_MULTI: programs attached below or
	 * by others keep running, and ours goes away with the link's fd.
	 */
	link = bpf_program__attach_cgroup(b->skel->progs.brk_connect4, cgfd);
	if (!link) {
		err = -errno;
		what = "cannot attach connect4 (BPF links on cgroups need 5.7)";
		goto out_destroy;
	}
	b->skel->links.brk_connect4 = link; /* breaker_bpf__destroy() destroys it */
	link = bpf_program__attach_cgroup(b->skel->progs.brk_connect6, cgfd);
	if (!link) {
		err = -errno;
		what = "cannot attach connect6";
		goto out_destroy;
	}
	b->skel->links.brk_connect6 = link;
	/* the links hold the cgroup now */
	close(cgfd);
	log_info("breaker: attached to cgroup '%s'", cgroup_path);
	*out = b;
	return 0;

out_destroy:
	breaker_bpf__destroy(b->skel); /* NULL-safe; detaches connect4 if it was attached */
out_free:
	free(b);
	close(cgfd);
	log_warn_err(err, "breaker: disabled, %s cgroup='%s'", what, cgroup_path);
	return err;
}

void breaker_stop(struct breaker *b)
{
	if (!b)
		return;
	breaker_bpf__destroy(b->skel);
	free(b);
	log_info("breaker: detached, every breaker is closed");
}

/*
 * Moves the entry of @addr to @state (BREAKER_OPEN or BREAKER_HALF_OPEN),
 * creating it when there is none; see the header for what is kept.
 */
static int set_state(struct breaker *b, const struct sockaddr *addr, __u8 state,
		     __u64 probe_interval_ns)
{
	struct bpf_map *map = b->skel->maps.breakers;
	struct breaker_entry e;
	struct breaker_key key;
	char name[INET6_ADDRSTRLEN + 8];
	__u64 now = time_mono_ns();
	int err;

	err = key_from_sockaddr(addr, &key);
	if (err)
		return err;
	err = bpf_map__lookup_elem(map, &key, sizeof(key), &e, sizeof(e), 0);
	if (err == -ENOENT)
		memset(&e, 0, sizeof(e)); /* state BREAKER_CLOSED */
	else if (err)
		return err;
	if (state == BREAKER_OPEN && e.state != BREAKER_OPEN)
		e.opened_at_ns = now;
	if (state == BREAKER_HALF_OPEN) {
		if (e.state == BREAKER_CLOSED)
			e.opened_at_ns = now;
		/* entering half-open lets a probe through at once; staying keeps the schedule */
		if (e.state != BREAKER_HALF_OPEN)
			e.next_probe_ns = 0;
		e.probe_interval_ns = probe_interval_ns;
	}
	e.state = state;
	err = bpf_map__update_elem(map, &key, sizeof(key), &e, sizeof(e), BPF_ANY);
	key_format(&key, name, sizeof(name));
	if (err) {
		/* a full hash map answers -E2BIG */
		log_warn_err(err, "breaker: cannot set the breaker of %s", name);
		return err;
	}
	if (state == BREAKER_OPEN)
		log_info("breaker: open dst=%s", name);
	else
		log_info("breaker: half-open, one probe every %llu ms dst=%s",
			 (unsigned long long)(probe_interval_ns / NSEC_PER_MSEC), name);
	return 0;
}

int breaker_open(struct breaker *b, const struct sockaddr *addr)
{
	return set_state(b, addr, BREAKER_OPEN, 0);
}

int breaker_half_open(struct breaker *b, const struct sockaddr *addr, __u64 probe_interval_ns)
{
	if (!probe_interval_ns)
		return -EINVAL;
	return set_state(b, addr, BREAKER_HALF_OPEN, probe_interval_ns);
}

int breaker_close(struct breaker *b, const struct sockaddr *addr)
{
	struct breaker_key key;
	char name[INET6_ADDRSTRLEN + 8];
	int err;

	err = key_from_sockaddr(addr, &key);
	if (err)
		return err;
	err = bpf_map__delete_elem(b->skel->maps.breakers, &key, sizeof(key), 0);
	if (err)
		return err;
	key_format(&key, name, sizeof(name));
	log_info("breaker: closed dst=%s", name);
	return 0;
}

int breaker_lookup(struct breaker *b, const struct sockaddr *addr, struct breaker_entry *out)
{
	struct breaker_key key;
	int err;

	err = key_from_sockaddr(addr, &key);
	if (err)
		return err;
	return bpf_map__lookup_elem(b->skel->maps.breakers, &key, sizeof(key), out, sizeof(*out),
				    0);
}

int breaker_refused(struct breaker *b, const struct sockaddr *addr, __u64 *count)
{
	struct breaker_entry e;
	int err;

	err = breaker_lookup(b, addr, &e);
	if (err)
		return err;
	*count = e.refused;
	return 0;
}
