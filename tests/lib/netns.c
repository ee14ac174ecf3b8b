/*
 * Network namespaces for integration tests (netns.h). The child protocol on
 * result_fd: one byte, 'R' (ready) or 'E' (set-up failed); after "go", the
 * work function's int return value, then result_size bytes of result.
 */
#include "tests/lib/fdio.h"
#include "tests/lib/netns.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/compiler.h"

/* Brings lo up, with an Ethernet-sized MTU so that data goes in many segments. */
static int lo_up(void)
{
	struct ifreq ifr;
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ifr.ifr_mtu = 1500;
	if (ioctl(fd, SIOCSIFMTU, &ifr) < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

/*
 * Drops @loss_pct percent of what lo sends, at random, in the calling
 * process's namespace: a tc classifier on lo's egress, which every loopback packet
 * crosses once. This kernel has no sch_netem (CONFIG_NET_SCH_NETEM is off),
 * so `tc qdisc add dev lo root netem loss 30%` fails; the classifier is
 * seven instructions, loaded without an object file:
 *	r0 = bpf_get_prandom_u32(); r0 %= 100;
 *	return r0 < loss_pct ? TC_ACT_SHOT : TC_ACT_OK;
 */
static int add_loss(int loss_pct)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_prandom_u32 },
		{ .code = BPF_ALU64 | BPF_MOD | BPF_K, .dst_reg = BPF_REG_0, .imm = 100 },
		{ .code = BPF_JMP | BPF_JLT | BPF_K,
		  .dst_reg = BPF_REG_0,
		  .off = 2,
		  .imm = loss_pct },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_OK },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_SHOT },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)if_nametoindex("lo"),
		    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts);
	int fd, err;

	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "test_loss", "GPL", insns,
			   PRP_ARRAY_SIZE(insns), NULL);
	if (fd < 0)
		return fd;
	err = bpf_tc_hook_create(&hook);
	if (!err || err == -EEXIST) {
		opts.prog_fd = fd;
		err = bpf_tc_attach(&hook, &opts);
	}
	close(fd); /* the filter holds the program */
	return err;
}

/*
 * Makes this namespace's TCP recover from losses in milliseconds: a
 * retransmit timeout of at least 10 ms (not 200) that backs off to at most
 * 1 s (not 120), and SYNs retried at a fixed 1 s. Best effort: older kernels
 * lack some of these sysctls, and the test then just takes longer.
 */
static void quicken_rto(void)
{
	static const char *const knobs[][2] = {
		{ "/proc/sys/net/ipv4/tcp_rto_min_us", "10000" },
		{ "/proc/sys/net/ipv4/tcp_rto_max_ms", "1000" },
		{ "/proc/sys/net/ipv4/tcp_syn_linear_timeouts", "6" },
	};

	for (size_t i = 0; i < PRP_ARRAY_SIZE(knobs); i++) {
		FILE *f = fopen(knobs[i][0], "w");

		if (f) {
			fputs(knobs[i][1], f);
			fclose(f);
		}
	}
}

int netns_enter(int loss_pct)
{
	int err;

	if (unshare(CLONE_NEWNET))
		return -errno;
	err = lo_up();
	if (!err && loss_pct > 0) {
		quicken_rto(); /* the namespace's own sysctls */
		err = add_loss(loss_pct);
	}
	return err;
}

/* Takes the loss off lo again: destroys its clsact qdisc and so the classifier. */
int netns_remove_loss(void)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)if_nametoindex("lo"),
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	return bpf_tc_hook_destroy(&hook);
}

/*
 * Waits until no TCP socket of this namespace can send anything any more:
 * each is gone or in TIME_WAIT (state 06 in /proc/net/tcp). A socket that
 * lost its last segments retransmits them after close(), so the kernel's
 * counters are final only then.
 */
int netns_wait_tcp_quiet(int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		char line[256];
		bool busy = false;
		FILE *f = fopen("/proc/net/tcp", "r");

		if (!f)
			return -errno;
		if (!fgets(line, sizeof(line), f)) /* the header */
			line[0] = '\0';
		while (fgets(line, sizeof(line), f)) {
			unsigned int st = 0;

			if (sscanf(line, "%*s %*s %*s %x", &st) == 1 && st != 0x06)
				busy = true;
		}
		fclose(f);
		if (!busy)
			return 0;
		usleep(10 * 1000);
	}
	return -ETIMEDOUT;
}

/* Tcp RetransSegs of the calling process's network namespace. */
unsigned long long netns_tcp_retrans_segs(void)
{
	char names[1024], values[1024];
	unsigned long long v = 0;
	FILE *f = fopen("/proc/net/snmp", "r");

	if (!f)
		return 0;
	while (fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		char *sn, *sv, *n, *val;

		if (strncmp(names, "Tcp:", 4))
			continue;
		n = strtok_r(names, " \n", &sn);
		val = strtok_r(values, " \n", &sv);
		while (n && val) {
			if (!strcmp(n, "RetransSegs"))
				v = strtoull(val, NULL, 10);
			n = strtok_r(NULL, " \n", &sn);
			val = strtok_r(NULL, " \n", &sv);
		}
	}
	fclose(f);
	return v;
}

static void child_main(int go_fd, int result_fd, int loss_pct, netns_work_fn *fn, int arg,
		       size_t result_size)
{
	void *result = calloc(1, result_size ? result_size : 1);
	char c;
	int ret;

	ret = result ? netns_enter(loss_pct) : -ENOMEM;
	c = ret ? 'E' : 'R';
	if (fdio_write_exact(result_fd, &c, 1) || ret)
		_exit(1);
	if (fdio_read_exact(go_fd, &c, 1))
		_exit(1); /* the test is gone */
	ret = fn(arg, result);
	if (fdio_write_exact(result_fd, &ret, sizeof(ret)) ||
	    fdio_write_exact(result_fd, result, result_size))
		_exit(1);
	_exit(0);
}

int netns_child_start(struct netns_child *c, int loss_pct, netns_work_fn *fn, int arg,
		      size_t result_size)
{
	int go[2], res[2], err;
	char ready = 0;

	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(res, O_CLOEXEC)) {
		err = -errno;
		goto out_go;
	}
	c->pid = fork();
	if (c->pid < 0) {
		err = -errno;
		goto out_res;
	}
	if (c->pid == 0) {
		close(go[1]);
		close(res[0]);
		child_main(go[0], res[1], loss_pct, fn, arg, result_size);
	}
	close(go[0]);
	close(res[1]);
	c->go_fd = go[1];
	c->result_fd = res[0];
	c->result_size = result_size;
	err = fdio_read_exact(c->result_fd, &ready, 1);
	if (!err && ready != 'R')
		err = -ENETDOWN;
	if (err) {
		close(c->go_fd);
		close(c->result_fd);
		waitpid(c->pid, NULL, 0);
		return err == -EPIPE ? -ECHILD : err;
	}
	return 0;

out_res:
	close(res[0]);
	close(res[1]);
out_go:
	close(go[0]);
	close(go[1]);
	return err;
}

int netns_child_go(struct netns_child *c)
{
	return fdio_write_exact(c->go_fd, "G", 1);
}

int netns_child_finish(struct netns_child *c, void *result)
{
	int ret, status, err;

	err = fdio_read_exact(c->result_fd, &ret, sizeof(ret));
	if (!err)
		err = fdio_read_exact(c->result_fd, result, c->result_size);
	close(c->go_fd);
	close(c->result_fd);
	if (waitpid(c->pid, &status, 0) != c->pid || !WIFEXITED(status) || WEXITSTATUS(status))
		err = err ? err : -ECHILD;
	if (err)
		return err == -EPIPE ? -ECHILD : err;
	return ret;
}
