/*
 * TCP endpoints as text, the way commands name circuit-breaker targets:
 * "127.0.0.1:8003", "[::1]:8003", and the any addresses "0.0.0.0:8003" and
 * "[::]:8003" (every address of the family on that port, as agent/breaker.h
 * keys them). Numeric only: names are resolved by the aggregator, never here,
 * so a command cannot make the agent wait on DNS.
 *
 * Threads: no state; any thread.
 */
#ifndef PRP_AGENT_ENDPOINT_H
#define PRP_AGENT_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/compiler.h"

/* "[" + INET6_ADDRSTRLEN - 1 + "]:" + 5 digits + NUL, rounded up */
#define ENDPOINT_TEXT_MAX 64

/*
 * Parses "A.B.C.D:PORT" or "[IPV6]:PORT" (PORT 1..65535, no spaces, no zone
 * "%eth0": a breaker key has none) into @out (AF_INET or AF_INET6, the rest
 * zeroed) and its length into *@len (may be NULL). Returns 0, or -EINVAL
 * for anything else, @out then untouched.
 */
PRP_MUST_CHECK int endpoint_parse(const char *text, struct sockaddr_storage *out, socklen_t *len);

/* Writes @sa as endpoint_parse() reads it; "?" for another family. */
void endpoint_format(const struct sockaddr *sa, char *out, size_t len);

/* Whether @a and @b are the same family, address and port (nothing else compared). */
bool endpoint_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

#endif
