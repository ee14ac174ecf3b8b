/*
 * The HTTP sampler: loads bpf/http.bpf.c, attaches its tc program to every
 * network interface (loopback: ingress; others: ingress and egress) and its
 * socket-state tracepoint, and turns the kernel's counters into windows.
 * One owning thread (the agent's main loop).
 */
#ifndef PRP_AGENT_SAMPLER_HTTP_H
#define PRP_AGENT_SAMPLER_HTTP_H

#include <stdint.h>

#include "agent/services.h"
#include "common/window.h"
#include "common/compiler.h"

#define SAMPLER_HTTP_HOOKS_MAX 64

struct http_bpf;

struct sampler_http_hook {
	int ifindex;
	int attach_point;  /* BPF_TC_INGRESS or BPF_TC_EGRESS */
	int created_qdisc; /* we made the clsact qdisc, so we remove it */
};

struct sampler_http {
	struct http_bpf *skel;
	struct sampler_http_hook hooks[SAMPLER_HTTP_HOOKS_MAX];
	int nhooks;
	uint16_t *port_svc;		     /* shadow of the port_svc map, HTTP_PORTS entries */
	char (*port_name)[SERVICE_NAME_MAX]; /* port -> service name, for peers */
	uint32_t *tgids;		     /* tgids now in svc_by_tgid */
	size_t ntgids;
	uint64_t drops[3]; /* totals of http_drops, for the status line */
	uint32_t gen;	   /* the generation the kernel counts into (the http_gen map) */
};

/* Loads and attaches. Returns 0, or a negative errno after one warning line. */
PRP_MUST_CHECK int sampler_http_start(struct sampler_http *s);
/* Detaches everything, removes qdiscs we created, frees. Safe after a failed start. */
void sampler_http_stop(struct sampler_http *s);
/* Makes the kernel watch exactly the ports and processes of @set. */
PRP_MUST_CHECK int sampler_http_set_targets(struct sampler_http *s, const struct service_set *set);
/* Moves what the kernel counted since the last collect into @ws. */
PRP_MUST_CHECK int sampler_http_collect(struct sampler_http *s, struct window_set *ws);

/* "GET" for HTTP_METHOD_GET...; "OTHER" for unknown values. */
const char *sampler_http_method_name(unsigned method);

#endif
