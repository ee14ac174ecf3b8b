/*
 * The connection rate limits of services, as the aggregator's `rate_limit`
 * commands set them (docs/remediation.md): one agent/ratelimit.h program
 * per interface ("lo" and every other interface that is up, attached on the
 * first command that sets a limit, and on later ones for interfaces that
 * came up since), and for each service the limited ports and the lease the
 * last command gave it. Every port is limited on every interface, each with
 * its own budget (docs/ratelimit.md).
 *
 * Commands are declarative, as for breakers (agent/breakers.h): each lists
 * all of the service's ports, and a port an earlier one listed that this
 * one does not is lifted.
 *
 * Threads: a struct limits belongs to its caller; agent/remediation.c calls
 * it under its lock from two threads.
 */
#ifndef PRP_AGENT_LIMITS_H
#define PRP_AGENT_LIMITS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Ports of one command. */
#define LIMITS_PORTS_MAX 16
/* Services with limits at once. */
#define LIMITS_SERVICES_MAX 64
/* Interfaces a limit goes on. */
#define LIMITS_INTERFACES_MAX 16

struct limits;

/* Nothing attached yet; the caller owns it: limits_free(). */
struct limits *limits_new(void);

/*
 * Carries out one rate_limit command with @args (borrowed): returns true
 * when it succeeded. *@result is set either way (the caller owns it:
 * json_decref()): docs/remediation.md's result object, or a message.
 */
bool limits_command(struct limits *ls, json_t *args, json_t **result);

/*
 * Lifts the limits of every service whose lease ended at @now_ns or before,
 * logging each. Returns the earliest lease end still to come, or UINT64_MAX.
 */
uint64_t limits_expire(struct limits *ls, uint64_t now_ns);

/* Detaches from every interface (every limit is lifted) and frees @ls; NULL does nothing. */
void limits_free(struct limits *ls);

#endif
