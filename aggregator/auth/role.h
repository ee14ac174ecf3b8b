/*
 * Who may do what (API.md, Conventions): every route declares the least
 * role it needs, and every request carries the role of its key. Ordered:
 * a role may do everything the ones below it may. Constant data; any thread.
 */
#ifndef PRP_AGGREGATOR_AUTH_ROLE_H
#define PRP_AGGREGATOR_AUTH_ROLE_H

enum role {
	ROLE_PUBLIC = 0,   /* no key needed (/health); also a request without a key */
	ROLE_VIEWER = 1,   /* reads */
	ROLE_OPERATOR = 2, /* viewer + actions, evaluate, toggle, policies, webhooks */
	ROLE_ADMIN = 3,	   /* everything: keys, backup and restore, the audit log */
};

/* "public", "viewer", "operator", "admin". */
const char *role_name(enum role r);

/*
 * The role called @name: viewer, operator, admin, or the seed scopes read,
 * write, admin as aliases (case-insensitive). -1 for anything else,
 * "public" included: no key can have it.
 */
int role_parse(const char *name);

#endif
