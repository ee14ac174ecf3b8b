/*
 * Listening TCP sockets from netlink sock_diag (see sockdiag.h).
 *
 * One request per address family: a struct inet_diag_req_v2 for
 * IPPROTO_TCP with idiag_states = 1 << TCP_LISTEN, sent with NLM_F_DUMP.
 * The kernel answers with datagrams of SOCK_DIAG_BY_FAMILY messages (a
 * struct inet_diag_msg, then attributes we do not read) and ends with
 * NLMSG_DONE, or NLMSG_ERROR when it refuses.
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

static int send_request(struct sockdiag *sd, uint8_t family)
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
	r.req.idiag_states = 1u << TCP_LISTEN;
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

/*
 * One message of @len bytes at @at, answering the request for @family. Sets
 * *@done at the end of the dump and *@got when it carried a socket. Returns 0,
 * the kernel's error, -EPROTO, or what @fn returned.
 */
static int on_message(const unsigned char *at, const struct nlmsghdr *h, uint8_t family,
		      sockdiag_listener_fn *fn, void *arg, bool *done, bool *got)
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
		if (m.idiag_family != family || m.idiag_state != TCP_LISTEN || !m.idiag_inode ||
		    !m.id.idiag_sport)
			return 0; /* not what we asked for: skip it */
		*got = true;
		return fn(m.idiag_inode, ntohs(m.id.idiag_sport), arg);
	default:
		return 0; /* NLMSG_NOOP, or a type we do not know */
	}
}

/* Reads the answer to the last request, for @family, until NLMSG_DONE. */
static int read_dump(struct sockdiag *sd, uint8_t family, sockdiag_listener_fn *fn, void *arg)
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

struct sockdiag *sockdiag_new(void)
{
	struct sockdiag *sd = xcalloc(1, sizeof(*sd));

	sd->fd = -1;
	return sd;
}

int sockdiag_listeners(struct sockdiag *sd, sockdiag_listener_fn *fn, void *arg)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	int err = 0;

	if (sd->fd < 0)
		err = sockdiag_open(sd);
	for (size_t i = 0; !err && i < PRP_ARRAY_SIZE(families); i++) {
		err = send_request(sd, families[i]);
		if (!err)
			err = read_dump(sd, families[i], fn, arg);
	}
	/* a dump left half-read would make the next request fail with EBUSY */
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
