/* Role names and their aliases (role.h). */
#include "aggregator/auth/role.h"

#include <strings.h>

const char *role_name(enum role r)
{
	switch (r) {
	case ROLE_PUBLIC:
		return "public";
	case ROLE_VIEWER:
		return "viewer";
	case ROLE_OPERATOR:
		return "operator";
	case ROLE_ADMIN:
		return "admin";
	}
	return "unknown";
}

int role_parse(const char *name)
{
	static const struct {
		const char *name;
		enum role role;
	} names[] = {
		{ "viewer", ROLE_VIEWER }, { "operator", ROLE_OPERATOR }, { "admin", ROLE_ADMIN },
		{ "read", ROLE_VIEWER },   { "write", ROLE_OPERATOR },
	};

	if (!name)
		return -1;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(name, names[i].name))
			return (int)names[i].role;
	return -1;
}
