/*
 * Where a service runs, from what the agents' HELLOs said
 * (ingest_agents_info()): which agents host it, on which ports, and the
 * addresses a circuit breaker must cover so that no caller reaches it.
 * Pure functions over a snapshot; any thread.
 */
#ifndef PRP_AGGREGATOR_POLICY_SERVICE_HOSTS_H
#define PRP_AGGREGATOR_POLICY_SERVICE_HOSTS_H

#include <jansson.h>
#include <stddef.h>

#include "aggregator/ingest.h"

/* An agent takes at most 64 targets per breaker command (agent/breakers.h BREAKERS_TARGETS_MAX). */
#define SERVICE_HOSTS_TARGETS_MAX 64

/* @service's entry in @info, or NULL when that agent does not host it. */
const struct ingest_agent_service *service_hosts_find(const struct ingest_agent_info *info,
						      const char *service);
/* How many of the @n agents of @v host @service. */
size_t service_hosts_count(const struct ingest_agent_info *v, size_t n, const char *service);

/*
 * The breaker targets for @service as agent @receiver (one of @v) must
 * hold them: "127.0.0.1:P" and "[::1]:P" for the ports @receiver itself
 * hosts it on (loopback reaches only a local service), then
 * "ADDRESS:PORT" (IPv6 as "[ADDRESS]:PORT") for every address of every
 * agent hosting it times that agent's ports. No duplicates, at most
 * SERVICE_HOSTS_TARGETS_MAX, the local ones first (*dropped counts those
 * left out). New reference.
 */
json_t *service_hosts_targets(const struct ingest_agent_info *v, size_t n, const char *service,
			      const struct ingest_agent_info *receiver, size_t *dropped);

/* @svc's ports as a JSON array of integers; new reference. */
json_t *service_hosts_ports(const struct ingest_agent_service *svc);

#endif
