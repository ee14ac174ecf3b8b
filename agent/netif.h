/*
 * The host's network interfaces, as remediation and the HELLO need them:
 * the interfaces a rate limit goes on, and the addresses the aggregator may
 * reach this host's services at (so it can name them as breaker targets).
 * Read with getifaddrs(3), in the agent's network namespace.
 *
 * Threads: no state; any thread.
 */
#ifndef PRP_AGENT_NETIF_H
#define PRP_AGENT_NETIF_H

#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>

#include "common/compiler.h"

/* An address as text, "10.0.0.5" or "fe80::1" */
#define NETIF_ADDR_TEXT_MAX INET6_ADDRSTRLEN

/*
 * Fills @out with "lo" first (when it exists), then every other interface
 * that is up and not a loopback, each once, at most @max in all. Returns
 * how many, or a negative errno when the interfaces cannot be read.
 */
PRP_MUST_CHECK int netif_names(char (*out)[IF_NAMESIZE], size_t max);

/*
 * Fills @out with the IPv4 and IPv6 addresses of the interfaces that are up
 * and not loopbacks (link-local ones included, without their zone), each
 * once, at most @max in all. Returns how many, or a negative errno.
 */
PRP_MUST_CHECK int netif_addresses(char (*out)[NETIF_ADDR_TEXT_MAX], size_t max);

#endif
