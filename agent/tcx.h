/*
 * tcx BPF links (kernel 6.6): a tc program attached to one interface's
 * ingress or egress as a link only this process holds. Several links
 * share a hook and each runs in turn, so two agents on one host (tests run
 * several) no longer replace each other's classic filter of the same
 * handle, and a crash detaches the program with the process.
 *
 * libbpf 1.1 (Debian 12) predates tcx and has no bpf_program__attach_tcx(),
 * so the link is made with bpf_link_create() and the attach type's number,
 * which is kernel ABI. Its generic path passes an unknown attach type
 * through unchanged, and the kernel reads the ifindex from target_fd's slot.
 *
 * A program on a tcx hook must answer TC_ACT_UNSPEC (TCX_NEXT) to let the
 * programs after it, and the classic filters, see the packet.
 */
#ifndef PRP_AGENT_TCX_H
#define PRP_AGENT_TCX_H

#include <stdbool.h>

/*
 * Links @prog_fd to @ifindex's ingress (or egress). Returns the link's fd,
 * or -errno: -EINVAL from a kernel without tcx, the caller's cue to fall
 * back to a classic filter.
 */
int tcx_attach(int prog_fd, int ifindex, bool egress);

#endif
