/*
 * TCP sockets from netlink sock_diag (see sockdiag.h).
 *
 * One dump request per address family: a struct inet_diag_req_v2 for
 * IPPROTO_TCP with the states wanted (1 << TCP_LISTEN for listeners), sent
 * with NLM_F_DUMP. The kernel answers with datagrams of SOCK_DIAG_BY_FAMILY
 * messages (a struct inet_diag_msg, then attributes we do not read) and ends
 * with NLMSG_DONE, or NLMSG_ERROR when it refuses. Destroying a connection
 * is one SOCK_DESTROY request naming the socket exactly (its id from the
 * dump, cookie included), acknowledged with an NLMSG_ERROR of 0 or -errno.
 *
 * Everything read from the kernel is bounded:
 *  - a datagram fits in SOCKDIAG_BUF_BYTES, or the call fails (-EMSGSIZE).
 *    The kernel never makes a dump datagram larger than 32 KiB (it caps
 *    them at SKB_WITH_OVERHEAD(32768) in netlink_dump()).
 *  - each message's length is checked against what is left of its datagram,
 *    and against the size of what it must carry, before it is read; messages
 *    are copied out, never read in place, so alignment does not matter.
 *  - datagrams not from the kernel and messages of another sequence number
 *    (a dump abandoned earlier) are skipped, and at most SOCKDIAG_IDLE_MAX
 *    datagrams per request may bring no socket: a dump that goes on without
 *    progress is malformed (-EPROTO).
 *  - the number of sockets is the caller's bound: its callback stops the
 *    dump.
 *  - each wait for a datagram is bounded by SO_RCVTIMEO.
 *
 * A dump is not an atomic snapshot: a socket that opens or closes meanwhile
 * may be missed or seen, as with /proc/net/tcp. We accept that; discovery
 * refreshes again a second later.
 */
#include "agent/sockdiag.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/alloc.h"

/* A datagram of the kernel's answer: 32 KiB at most, see above. */
#define SOCKDIAG_BUF_BYTES 32768
/* Datagrams of one request that may bring no socket before the answer is malformed. */
#define SOCKDIAG_IDLE_MAX 64
/*
 * Connections destroyed per dump. A dump is read to its end before the
 * destroy requests go out on the same socket; a batch bounds the memory.
 * Past SOCKDIAG_DESTROY_ROUNDS full batches per family (64 Ki connections to
 * one target) the rest is left: the next command resets them.
 */
#define SOCKDIAG_DESTROY_BATCH	4096
#define SOCKDIAG_DESTROY_ROUNDS 16
/* What on_connection() stops a dump with when its batch is full: no errno is positive. */
#define SOCKDIAG_BATCH_FULL 1

struct sockdiag {
	int fd;	      /* the netlink socket; -1 until opened, and after a failure */
	uint32_t seq; /* the sequence number of the last request */
	unsigned char buf[SOCKDIAG_BUF_BYTES]; /* one datagram */
};

/* The request for the listening sockets of @family. */
struct sockdiag_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 req;
};

static int sockdiag_open(struct sockdiag *sd)
{
	struct timeval tv = { .tv_sec = SOCKDIAG_TIMEOUT_MS / 1000,
			      .tv_usec = (SOCKDIAG_TIMEOUT_MS % 1000) * 1000 };
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	int err;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		err = -errno;
		close(fd);
		return err;
	}
	sd->fd = fd;
	return 0;
}

static void sockdiag_close(struct sockdiag *sd)
{
	if (sd->fd >= 0)
		close(sd->fd);
	sd->fd = -1;
}

static int send_request(struct sockdiag *sd, uint8_t family, uint32_t states)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK }; /* nl_pid 0: the kernel */
	struct sockdiag_req r;
	ssize_t n;

	memset(&r, 0, sizeof(r));
	r.nlh.nlmsg_len = sizeof(r);
	r.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	r.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r.nlh.nlmsg_seq = ++sd->seq;
	r.req.sdiag_family = family;
	r.req.sdiag_protocol = IPPROTO_TCP;
	r.req.idiag_states = states;
	do
		n = sendto(sd->fd, &r, sizeof(r), 0, (struct sockaddr *)&kernel, sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(r) ? 0 : -EPROTO;
}

/* Receives one datagram into sd->buf: its length (0 for one to skip), or -errno. */
static ssize_t recv_datagram(struct sockdiag *sd)
{
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = sd->buf, .iov_len = sizeof(sd->buf) };
	struct msghdr mh = {
		.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1
	};
	ssize_t n;

	do
		n = recvmsg(sd->fd, &mh, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (mh.msg_namelen < sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
		return 0; /* not from the kernel */
	return n;
}

/* The errno a NLMSG_DONE or NLMSG_ERROR message of @len bytes at @at carries, if any. */
static int message_errno(const unsigned char *at, uint32_t len)
{
	int e = 0;

	if (len >= NLMSG_LENGTH(sizeof(e)))
		memcpy(&e, at + NLMSG_HDRLEN, sizeof(e));
	return e;
}

/* Called per socket of a dump with its message copied out; returns as sockdiag_listener_fn. */
typedef int sock_fn(const struct inet_diag_msg *m, void *arg);

/*
 * One message of @len bytes at @at, answering the request for @family. Sets
 * *@done at the end of the dump and *@got when it carried a socket. Returns 0,
 * the kernel's error, -EPROTO, or what @fn returned.
 */
static int on_message(const unsigned char *at, const struct nlmsghdr *h, uint8_t family,
		      sock_fn *fn, void *arg, bool *done, bool *got)
{
	struct inet_diag_msg m;
	int e;

	switch (h->nlmsg_type) {
	case NLMSG_DONE:
		*done = true;
		/* a dump that failed in the kernel ends with its error here */
		e = message_errno(at, h->nlmsg_len);
		return e < 0 ? e : 0;
	case NLMSG_ERROR:
		/* 0 would be an acknowledgement, which a dump never sends */
		e = message_errno(at, h->nlmsg_len);
		return e < 0 ? e : -EPROTO;
	case SOCK_DIAG_BY_FAMILY:
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(m)))
			return -EPROTO;
		memcpy(&m, at + NLMSG_HDRLEN, sizeof(m));
		if (m.idiag_family != family)
			return 0; /* not what we asked for: skip it */
		*got = true;
		return fn(&m, arg);
	default:
		return 0; /* NLMSG_NOOP, or a type we do not know */
	}
}

/* Reads the answer to the last request, for @family, until NLMSG_DONE. */
static int read_dump(struct sockdiag *sd, uint8_t family, sock_fn *fn, void *arg)
{
	bool done = false, got;
	unsigned idle = 0;
	struct nlmsghdr h;
	ssize_t len;
	size_t off;
	int err;

	while (!done) {
		len = recv_datagram(sd);
		if (len < 0)
			return (int)len;
		got = false;
		for (off = 0; !done && off + sizeof(h) <= (size_t)len;
		     off += NLMSG_ALIGN(h.nlmsg_len)) {
			memcpy(&h, sd->buf + off, sizeof(h));
			if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > (size_t)len - off)
				return -EPROTO;
			if (h.nlmsg_seq != sd->seq)
				continue; /* left from a dump we abandoned */
			err = on_message(sd->buf + off, &h, family, fn, arg, &done, &got);
			if (err)
				return err;
		}
		if (!got && !done && ++idle > SOCKDIAG_IDLE_MAX)
			return -EPROTO;
	}
	return 0;
}

/* Dumps the TCP sockets of @family in @states (a mask of 1 << TCP_*) through @fn. */
static int dump(struct sockdiag *sd, uint8_t family, uint32_t states, sock_fn *fn, void *arg)
{
	int err = send_request(sd, family, states);

	return err ? err : read_dump(sd, family, fn, arg);
}

struct sockdiag *sockdiag_new(void)
{
	struct sockdiag *sd = xcalloc(1, sizeof(*sd));

	sd->fd = -1;
	return sd;
}

struct listeners_arg {
	sockdiag_listener_fn *fn;
	void *arg;
};

static int on_listener(const struct inet_diag_msg *m, void *arg)
{
	struct listeners_arg *la = arg;

	if (m->idiag_state != TCP_LISTEN || !m->idiag_inode || !m->id.idiag_sport)
		return 0; /* not what we asked for: skip it */
	return la->fn(m->idiag_inode, ntohs(m->id.idiag_sport), la->arg);
}

int sockdiag_listeners(struct sockdiag *sd, sockdiag_listener_fn *fn, void *arg)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	struct listeners_arg la = { fn, arg };
	int err = 0;

	if (sd->fd < 0)
		err = sockdiag_open(sd);
	for (size_t i = 0; !err && i < PRP_ARRAY_SIZE(families); i++)
		err = dump(sd, families[i], 1u << TCP_LISTEN, on_listener, &la);
	/* a dump left half-read would make the next request fail with EBUSY */
	if (err)
		sockdiag_close(sd);
	return err;
}

/* ---- destroying connections ---- */

/* The address of @family at @a (4 or 16 bytes, network order) with @port, as a sockaddr. */
static void to_sockaddr(uint8_t family, const __be32 *a, __be16 port, struct sockaddr_storage *out)
{
	struct sockaddr_in *in = (struct sockaddr_in *)out;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;

	memset(out, 0, sizeof(*out));
	if (family == AF_INET) {
		in->sin_family = AF_INET;
		in->sin_port = port;
		memcpy(&in->sin_addr, a, 4);
	} else {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = port;
		memcpy(&in6->sin6_addr, a, 16);
	}
}

/*
 * Whether endpoint @e (a socket's end) is @t (a target) as the breaker
 * reads targets: the same port, and the same address or @t's any address
 * of @e's family; an IPv4 @t also names the v4-mapped IPv6 form.
 */
static bool endpoint_matches(const struct sockaddr_storage *e, const struct sockaddr_storage *t)
{
	const struct sockaddr_in *t4 = (const struct sockaddr_in *)t;
	const struct sockaddr_in6 *t6 = (const struct sockaddr_in6 *)t;
	const struct sockaddr_in *e4 = (const struct sockaddr_in *)e;
	const struct sockaddr_in6 *e6 = (const struct sockaddr_in6 *)e;
	struct in_addr v4;

	if (e->ss_family == AF_INET) {
		if (t->ss_family != AF_INET || t4->sin_port != e4->sin_port)
			return false;
		return t4->sin_addr.s_addr == htonl(INADDR_ANY) ||
		       t4->sin_addr.s_addr == e4->sin_addr.s_addr;
	}
	if (t->ss_family == AF_INET6)
		return t6->sin6_port == e6->sin6_port &&
		       (IN6_IS_ADDR_UNSPECIFIED(&t6->sin6_addr) ||
			IN6_ARE_ADDR_EQUAL(&t6->sin6_addr, &e6->sin6_addr));
	/* an IPv4 target and an IPv6 socket: only through its v4-mapped form */
	if (t4->sin_port != e6->sin6_port || !IN6_IS_ADDR_V4MAPPED(&e6->sin6_addr))
		return false;
	memcpy(&v4, &e6->sin6_addr.s6_addr[12], sizeof(v4));
	return t4->sin_addr.s_addr == htonl(INADDR_ANY) || t4->sin_addr.s_addr == v4.s_addr;
}

struct destroy_arg {
	const struct sockaddr_storage *targets;
	size_t ntargets;
	struct inet_diag_sockid *ids; /* the sockets to destroy, SOCKDIAG_DESTROY_BATCH at most */
	size_t nids;
};

static int on_connection(const struct inet_diag_msg *m, void *arg)
{
	struct destroy_arg *da = arg;
	struct sockaddr_storage local, remote;
	bool hit = false;

	to_sockaddr(m->idiag_family, m->id.idiag_src, m->id.idiag_sport, &local);
	to_sockaddr(m->idiag_family, m->id.idiag_dst, m->id.idiag_dport, &remote);
	for (size_t i = 0; i < da->ntargets; i++) {
		/* a server's own accepted connection has the target as its local end */
		if (endpoint_matches(&local, &da->targets[i]))
			return 0;
		hit = hit || endpoint_matches(&remote, &da->targets[i]);
	}
	if (!hit)
		return 0;
	da->ids[da->nids++] = m->id;
	/* a full batch stops the dump; the caller destroys it and dumps again */
	return da->nids == SOCKDIAG_DESTROY_BATCH ? SOCKDIAG_BATCH_FULL : 0;
}

/*
 * Destroys one socket (SOCK_DESTROY, what `ss -K` sends) and reads the
 * kernel's acknowledgement. Returns 0, -ENOENT when it is already gone, or
 * the kernel's error (-EOPNOTSUPP without CONFIG_INET_DIAG_DESTROY, -EPERM
 * without CAP_NET_ADMIN).
 */
static int destroy_one(struct sockdiag *sd, uint8_t family, const struct inet_diag_sockid *id)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct sockdiag_req r;
	struct nlmsghdr h;
	ssize_t n, len;

	memset(&r, 0, sizeof(r));
	r.nlh.nlmsg_len = sizeof(r);
	r.nlh.nlmsg_type = SOCK_DESTROY;
	r.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	r.nlh.nlmsg_seq = ++sd->seq;
	r.req.sdiag_family = family;
	r.req.sdiag_protocol = IPPROTO_TCP;
	r.req.idiag_states = ~0u;
	r.req.id = *id; /* with the cookie: a reused 4-tuple is another socket, left alone */
	do
		n = sendto(sd->fd, &r, sizeof(r), 0, (struct sockaddr *)&kernel, sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (unsigned idle = 0; idle <= SOCKDIAG_IDLE_MAX; idle++) {
		len = recv_datagram(sd);
		if (len < 0)
			return (int)len;
		for (size_t off = 0; off + sizeof(h) <= (size_t)len;
		     off += NLMSG_ALIGN(h.nlmsg_len)) {
			memcpy(&h, sd->buf + off, sizeof(h));
			if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > (size_t)len - off)
				return -EPROTO;
			if (h.nlmsg_seq == sd->seq && h.nlmsg_type == NLMSG_ERROR)
				return message_errno(sd->buf + off, h.nlmsg_len);
		}
	}
	return -EPROTO;
}

int sockdiag_destroy_to(struct sockdiag *sd, const struct sockaddr_storage *targets, size_t n,
			unsigned *destroyed)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	const uint32_t states = (1u << TCP_ESTABLISHED) | (1u << TCP_SYN_SENT);
	struct destroy_arg da = { .targets = targets, .ntargets = n };
	int err = 0;

	*destroyed = 0;
	if (!n)
		return 0;
	da.ids = xcalloc(SOCKDIAG_DESTROY_BATCH, sizeof(*da.ids));
	if (sd->fd < 0)
		err = sockdiag_open(sd);
	for (size_t i = 0; !err && i < PRP_ARRAY_SIZE(families); i++) {
		/* a destroyed socket is closed and leaves the dump: each round finds new ones */
		for (unsigned round = 0; !err && round < SOCKDIAG_DESTROY_ROUNDS; round++) {
			bool full;

			da.nids = 0;
			err = dump(sd, families[i], states, on_connection, &da);
			full = err == SOCKDIAG_BATCH_FULL;
			if (full) {
				/* the dump stopped half-read: a new socket for what follows */
				sockdiag_close(sd);
				err = sockdiag_open(sd);
			}
			for (size_t k = 0; !err && k < da.nids; k++) {
				err = destroy_one(sd, families[i], &da.ids[k]);
				if (!err)
					(*destroyed)++;
				else if (err == -ENOENT)
					err = 0; /* closed meanwhile */
			}
			if (!full)
				break;
		}
	}
	free(da.ids);
	if (err)
		sockdiag_close(sd);
	return err;
}

void sockdiag_free(struct sockdiag *sd)
{
	if (!sd)
		return;
	sockdiag_close(sd);
	free(sd);
}
