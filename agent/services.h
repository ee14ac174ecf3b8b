/*
 * The services the agent watches, as discovery found them: a name, the
 * processes (tgids) and the listening TCP ports. Each service has a small id,
 * stable for the agent's life, that the BPF programs use in their keys
 * (svc_by_tgid, svc_by_port maps) so user space never remaps per event.
 */
#ifndef PRP_AGENT_SERVICES_H
#define PRP_AGENT_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/window.h" /* SERVICE_NAME_MAX, SERVICES_MAX */

#define SERVICE_PIDS_MAX 256
#define SERVICE_PORTS_MAX 32

struct service {
	uint16_t id;
	char name[SERVICE_NAME_MAX];
	uint32_t pids[SERVICE_PIDS_MAX]; /* tgids, sorted */
	size_t npids;
	uint16_t ports[SERVICE_PORTS_MAX]; /* listening TCP ports, host order, sorted */
	size_t nports;
};

/* A snapshot of every watched service; plain data, copied freely. */
struct service_set {
	struct service items[SERVICES_MAX];
	size_t n;
};

/* The characters a service name is made of: letters, digits, '.', '_' and '-'. */
bool service_name_char(char c);
/* Whether @s is a service name: 1 to SERVICE_NAME_MAX - 1 of those characters. */
bool service_name_valid(const char *s);

/* The service with @id, or NULL. Borrowed from @set. */
const struct service *service_set_by_id(const struct service_set *set, uint16_t id);
/* The service with @name, or NULL. Borrowed from @set. */
const struct service *service_set_by_name(const struct service_set *set, const char *name);
/* Whether @a and @b have the same id, name, pids and ports. */
bool service_equal(const struct service *a, const struct service *b);

#endif
