/*
 * What every sampler needs before it loads a BPF object: libbpf's messages
 * routed to our log, tracefs mounted (libbpf finds tracepoint ids there), and
 * a clear answer when the process may not use BPF at all.
 */
#ifndef PRP_AGENT_LOADER_H
#define PRP_AGENT_LOADER_H

#include "common/compiler.h"

/*
 * Prepares the process for loading BPF programs. Returns 0, -EPERM (with an
 * error logged that says what is needed: root, or CAP_BPF with CAP_PERFMON
 * and CAP_NET_ADMIN), or another negative errno. Call once from main().
 */
PRP_MUST_CHECK int loader_init(void);

#endif
