/*
 * Interfaces and addresses from getifaddrs(3) (see netif.h). It lists one
 * entry per address and one AF_PACKET entry per interface, so names repeat
 * and are folded here; an interface with no address still has its
 * AF_PACKET entry, so it is listed.
 */
#include "agent/netif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool listed(char (*names)[IF_NAMESIZE], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

int netif_names(char (*out)[IF_NAMESIZE], size_t max)
{
	struct ifaddrs *all, *ifa;
	size_t n = 0;

	if (getifaddrs(&all))
		return -errno;
	/* "lo" first: services reached over loopback are the common case */
	for (ifa = all; ifa && n < max; ifa = ifa->ifa_next)
		if (!strcmp(ifa->ifa_name, "lo")) {
			snprintf(out[n++], IF_NAMESIZE, "%s", ifa->ifa_name);
			break;
		}
	for (ifa = all; ifa && n < max; ifa = ifa->ifa_next) {
		if (!(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK) ||
		    strlen(ifa->ifa_name) >= IF_NAMESIZE || listed(out, n, ifa->ifa_name))
			continue;
		snprintf(out[n++], IF_NAMESIZE, "%s", ifa->ifa_name);
	}
	freeifaddrs(all);
	return (int)n;
}

int netif_addresses(char (*out)[NETIF_ADDR_TEXT_MAX], size_t max)
{
	struct ifaddrs *all, *ifa;
	char text[NETIF_ADDR_TEXT_MAX];
	size_t n = 0;
	bool seen;

	if (getifaddrs(&all))
		return -errno;
	for (ifa = all; ifa && n < max; ifa = ifa->ifa_next) {
		const struct sockaddr *sa = ifa->ifa_addr;
		const void *a;

		if (!sa || !(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK))
			continue;
		if (sa->sa_family == AF_INET)
			a = &((const struct sockaddr_in *)sa)->sin_addr;
		else if (sa->sa_family == AF_INET6)
			a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		else
			continue;
		if (!inet_ntop(sa->sa_family, a, text, sizeof(text)))
			continue;
		seen = false;
		for (size_t i = 0; i < n && !seen; i++)
			seen = !strcmp(out[i], text);
		if (!seen)
			snprintf(out[n++], NETIF_ADDR_TEXT_MAX, "%s", text);
	}
	freeifaddrs(all);
	return (int)n;
}
