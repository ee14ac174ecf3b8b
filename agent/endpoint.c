/*
 * Endpoint text (see endpoint.h). inet_pton() does the address: it takes
 * dotted quads only for IPv4 (no "127.1" shorthand, no leading zeros) and
 * rejects zones, so a target means exactly one key of the breaker map.
 */
#include "agent/endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/strparse.h"

int endpoint_parse(const char *text, struct sockaddr_storage *out, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon, *port_text, *h = text;
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	size_t hlen;
	uint64_t port;
	bool v6 = text[0] == '[';

	if (v6) {
		colon = strstr(text, "]:");
		if (!colon)
			return -EINVAL;
		h = text + 1;
		hlen = (size_t)(colon - h);
		port_text = colon + 2;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - text);
		port_text = colon + 1;
	}
	if (!hlen || hlen >= sizeof(host) || strparse_u64(port_text, 1, 65535, &port))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
	} else {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -EINVAL;
	}
	*out = ss;
	if (len)
		*len = v6 ? sizeof(*in6) : sizeof(*in);
	return 0;
}

void endpoint_format(const struct sockaddr *sa, char *out, size_t len)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(out, len, "?");
	}
}

bool endpoint_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)a,
				 *b4 = (const struct sockaddr_in *)b;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a,
				  *b6 = (const struct sockaddr_in6 *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port &&
		       !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
	return false;
}
