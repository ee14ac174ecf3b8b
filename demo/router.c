/*
 * Route table and dispatch (STYLE.md §8). A path names one route; each route
 * lists its methods, which also make its Allow header. Routes are per role:
 * orders has no /users, so a request there is a 404, not a 405.
 */
#include "demo/router.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/compiler.h"
#include "common/strparse.h"
#include "demo/body.h"
#include "demo/chaos.h"

#define ROUTE_ANY_ROLE	  0x7u
#define ROUTE_ROLE(r)	  (1u << (r))
#define ROUTE_MAX_METHODS 3

struct route_method {
	const char *method;
	shop_handler_fn *fn;
};

struct route {
	unsigned roles;	  /* ROUTE_ROLE() bits */
	const char *path; /* "/users"; with has_id, the part before "/{id}" */
	bool has_id;
	bool chaos; /* chaos applies to this route */
	const char *allow;
	struct route_method methods[ROUTE_MAX_METHODS];
};

static int router_chaos_get(struct shop *s, const struct req *rq, struct reply *rp)
{
	(void)rq;
	return reply_json(rp, 200, chaos_to_json(&s->chaos));
}

static int router_chaos_post(struct shop *s, const struct req *rq, struct reply *rp)
{
	struct chaos_settings set;
	char err[512];
	json_t *obj;
	int ret;

	if (body_parse_object(rq->body, rq->body_len, &obj, err, sizeof(err)))
		return reply_error(rp, 400, "invalid_json", "%s", err);
	ret = chaos_settings_parse(obj, &set, err, sizeof(err));
	json_decref(obj);
	if (ret)
		return reply_error(rp, 400, "invalid_field", "%s", err);
	chaos_set(&s->chaos, &set);
	return reply_json(rp, 200, chaos_to_json(&s->chaos));
}

static int router_chaos_delete(struct shop *s, const struct req *rq, struct reply *rp)
{
	(void)rq;
	chaos_clear(&s->chaos);
	return reply_json(rp, 200, chaos_to_json(&s->chaos));
}

/* One line per route, as in STYLE.md §8; kept aligned by hand. */
/* clang-format off */
static const struct route routes[] = {
	/* roles                     path         {id}   chaos  Allow */
	{ ROUTE_ANY_ROLE,             "/health",   false, true,  "GET",
	  { { "GET", shop_health } } },
	{ ROUTE_ANY_ROLE,             "/chaos",    false, false, "GET, POST, DELETE",
	  { { "GET", router_chaos_get }, { "POST", router_chaos_post },
	    { "DELETE", router_chaos_delete } } },
	{ ROUTE_ROLE(SHOP_USERS),     "/users",    false, true,  "GET, POST",
	  { { "GET", shop_list }, { "POST", shop_users_create } } },
	{ ROUTE_ROLE(SHOP_USERS),     "/users",    true,  true,  "GET",
	  { { "GET", shop_get } } },
	{ ROUTE_ROLE(SHOP_ORDERS),    "/orders",   false, true,  "GET, POST",
	  { { "GET", shop_list }, { "POST", shop_orders_create } } },
	{ ROUTE_ROLE(SHOP_ORDERS),    "/orders",   true,  true,  "GET",
	  { { "GET", shop_get } } },
	{ ROUTE_ROLE(SHOP_PAYMENTS),  "/payments", false, true,  "POST",
	  { { "POST", shop_payments_create } } },
	{ ROUTE_ROLE(SHOP_PAYMENTS),  "/payments", true,  true,  "GET",
	  { { "GET", shop_get } } },
};
/* clang-format on */

/* Matches @path against @r; for an {id} route *@id_seg is the text after the slash. */
static bool router_match(const struct route *r, const char *path, const char **id_seg)
{
	size_t n = strlen(r->path);

	if (strncmp(path, r->path, n))
		return false;
	if (!r->has_id)
		return path[n] == '\0';
	if (path[n] != '/' || strchr(path + n + 1, '/'))
		return false;
	*id_seg = path + n + 1;
	return true;
}

static const struct route *router_find(enum shop_role role, const char *path, const char **id_seg)
{
	for (size_t i = 0; i < PRP_ARRAY_SIZE(routes); i++) {
		if ((routes[i].roles & ROUTE_ROLE(role)) && router_match(&routes[i], path, id_seg))
			return &routes[i];
	}
	return NULL;
}

static shop_handler_fn *router_method(const struct route *r, const char *method)
{
	for (size_t i = 0; i < ROUTE_MAX_METHODS && r->methods[i].method; i++) {
		if (!strcmp(r->methods[i].method, method))
			return r->methods[i].fn;
	}
	return NULL;
}

void router_handle(struct shop *s, struct req *rq, struct reply *rp)
{
	const char *id_seg = NULL;
	const struct route *r;
	shop_handler_fn *fn;

	r = router_find(s->role, rq->path, &id_seg);
	/* chaos hits every request but /chaos, unknown paths included */
	if ((!r || r->chaos) && chaos_apply(&s->chaos)) {
		reply_error(rp, 500, "chaos_injected", "error injected by chaos");
		return;
	}
	if (!r) {
		reply_error(rp, 404, "not_found", "no route for '%.200s'", rq->path);
		return;
	}
	fn = router_method(r, rq->method);
	if (!fn) {
		reply_error(rp, 405, "method_not_allowed", "%.16s is not allowed on '%.200s'",
			    rq->method, rq->path);
		rp->allow = r->allow;
		return;
	}
	rq->id = 0;
	if (r->has_id && strparse_u64(id_seg, 1, INT64_MAX, &rq->id)) {
		reply_error(rp, 400, "invalid_id",
			    "id must be an integer from 1 to %lld, got '%.32s'",
			    (long long)INT64_MAX, id_seg);
		return;
	}
	fn(s, rq, rp);
}

void router_body_too_large(struct reply *rp)
{
	reply_error(rp, 413, "body_too_large", "the request body is larger than %d bytes",
		    ROUTER_MAX_BODY);
}
