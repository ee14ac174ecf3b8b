/*
 * tcx BPF links (tcx.h).
 */
#include "agent/tcx.h"

#include <bpf/bpf.h>
#include <errno.h>

/* enum bpf_attach_type's BPF_TCX_INGRESS and BPF_TCX_EGRESS, absent from Debian 12's headers */
#define TCX_INGRESS 46
#define TCX_EGRESS  47

int tcx_attach(int prog_fd, int ifindex, bool egress)
{
	int fd = bpf_link_create(prog_fd, ifindex,
				 (enum bpf_attach_type)(egress ? TCX_EGRESS : TCX_INGRESS), NULL);

	return fd < 0 ? -errno : fd;
}
