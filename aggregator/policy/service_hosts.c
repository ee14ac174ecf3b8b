/*
 * Service placement from the agents' HELLOs. The breaker's targets are
 * exact addresses rather than the any-address form the agent also accepts
 * (docs/breaker.md): "0.0.0.0:8003" would cut every service on port 8003
 * everywhere, including unrelated ones that happen to share the port on
 * other hosts.
 */
#include "aggregator/policy/service_hosts.h"

#include <stdio.h>
#include <string.h>

const struct ingest_agent_service *service_hosts_find(const struct ingest_agent_info *info,
						      const char *service)
{
	for (size_t i = 0; i < info->nservices; i++)
		if (!strcmp(info->services[i].name, service))
			return &info->services[i];
	return NULL;
}

size_t service_hosts_count(const struct ingest_agent_info *v, size_t n, const char *service)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		count += service_hosts_find(&v[i], service) != NULL;
	return count;
}

/* Appends "@addr:@port" unless present; false when the array is full. */
static bool add_target(json_t *targets, const char *addr, unsigned port, size_t *dropped)
{
	char t[80];
	json_t *e;
	size_t i;

	snprintf(t, sizeof(t), strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
	json_array_foreach(targets, i, e)
		if (!strcmp(json_string_value(e), t))
			return true;
	if (json_array_size(targets) >= SERVICE_HOSTS_TARGETS_MAX) {
		(*dropped)++;
		return false;
	}
	json_array_append_new(targets, json_string(t));
	return true;
}

json_t *service_hosts_targets(const struct ingest_agent_info *v, size_t n, const char *service,
			      const struct ingest_agent_info *receiver, size_t *dropped)
{
	const struct ingest_agent_service *own =
		receiver ? service_hosts_find(receiver, service) : NULL;
	json_t *targets = json_array();

	*dropped = 0;
	/* first: a local caller is the one surely cut off by this agent */
	for (size_t p = 0; own && p < own->nports; p++) {
		add_target(targets, "127.0.0.1", own->ports[p], dropped);
		add_target(targets, "::1", own->ports[p], dropped);
	}
	for (size_t i = 0; i < n; i++) {
		const struct ingest_agent_service *svc = service_hosts_find(&v[i], service);

		for (size_t a = 0; svc && a < v[i].naddresses; a++)
			for (size_t p = 0; p < svc->nports; p++)
				add_target(targets, v[i].addresses[a], svc->ports[p], dropped);
	}
	return targets;
}

json_t *service_hosts_ports(const struct ingest_agent_service *svc)
{
	json_t *ports = json_array();

	for (size_t i = 0; i < svc->nports; i++)
		json_array_append_new(ports, json_integer(svc->ports[i]));
	return ports;
}
