/* Look-ups in a service snapshot; sets are small (at most 255), so linear. */
#include "agent/services.h"

#include <string.h>

const struct service *service_set_by_id(const struct service_set *set, uint16_t id)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->items[i].id == id)
			return &set->items[i];
	return NULL;
}

const struct service *service_set_by_name(const struct service_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->items[i].name, name))
			return &set->items[i];
	return NULL;
}

bool service_equal(const struct service *a, const struct service *b)
{
	return a->id == b->id && !strcmp(a->name, b->name) && a->npids == b->npids &&
	       !memcmp(a->pids, b->pids, a->npids * sizeof(a->pids[0])) && a->nports == b->nports &&
	       !memcmp(a->ports, b->ports, a->nports * sizeof(a->ports[0]));
}

bool service_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

bool service_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= SERVICE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!service_name_char(s[i]))
			return false;
	return true;
}
