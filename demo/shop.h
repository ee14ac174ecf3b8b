/*
 * The three roles of the demo workload, orders, users and payments: their
 * records, their stores and their handlers. One struct shop per process,
 * shared by every connection thread; handlers are thread-safe and never see
 * libmicrohttpd, so tests call them directly.
 *
 * Records (created_at is RFC 3339 UTC with milliseconds):
 *   user    {id, name, email, role, created_at}
 *   payment {id, order_id, amount, payment_method, status: "completed", created_at}
 *   order   {id, customer_id, items, total, status: "paid", payment_id, created_at}
 */
#ifndef PRP_DEMO_SHOP_H
#define PRP_DEMO_SHOP_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "demo/chaos.h"
#include "demo/reply.h"
#include "demo/req.h"
#include "demo/store.h"
#include "demo/upstream.h"

enum shop_role {
	SHOP_ORDERS = 0,
	SHOP_USERS = 1,
	SHOP_PAYMENTS = 2,
};

/*
 * Store bounds: 100000 records of at most 256 MiB of JSON text per service.
 * A record is at most a 64 KiB body plus a few fields, so the byte bound is
 * what holds when bodies are large; past either the oldest are evicted.
 */
#define SHOP_STORE_MAX_RECORDS 100000
#define SHOP_STORE_MAX_BYTES   (256u << 20)
/* users 1..SHOP_SEED_USERS exist at start. */
#define SHOP_SEED_USERS 1000
/* Lists: the default and largest `limit`. */
#define SHOP_LIST_DEFAULT 100
#define SHOP_LIST_MAX	  1000
/* Largest amount or total accepted: any demo order is far below it. */
#define SHOP_AMOUNT_MAX 1e12

struct shop_config {
	enum shop_role role;
	size_t store_max_records;
	size_t store_max_bytes;
	size_t leak_cap_bytes;
	struct upstream upstream; /* orders only: reaches "users" and "payments" */
};

struct shop {
	enum shop_role role;
	const char *name; /* "orders", "users", "payments": a literal */
	struct store *store;
	struct upstream upstream;
	uint64_t started_mono_ns;
	struct chaos chaos;
};

/* Handlers fill @rp and return 0, or the negative errno of reply_error(). */
typedef int shop_handler_fn(struct shop *s, const struct req *rq, struct reply *rp);

/* "orders", "users", "payments" -> the role. Returns 0 or -EINVAL. */
PRP_MUST_CHECK int shop_role_parse(const char *name, enum shop_role *out);
/* The role's name, a literal. */
const char *shop_role_name(enum shop_role role);

/* @cfg with the default bounds for @role and no upstream. */
void shop_config_init(struct shop_config *cfg, enum shop_role role);

/*
 * A new service (caller owns: shop_free()); users are seeded. The upstream's
 * context is borrowed and must outlive the shop.
 */
struct shop *shop_new(const struct shop_config *cfg);
/* Frees @s; no handler may be running. NULL does nothing. */
void shop_free(struct shop *s);

/* GET /health: {"status": "healthy", "service", "uptime_s"}. */
int shop_health(struct shop *s, const struct req *rq, struct reply *rp);
/* GET /<name>?limit=N: {"<name>": [...newest first], "count"}. */
int shop_list(struct shop *s, const struct req *rq, struct reply *rp);
/* GET /<name>/{id} (rq->id): the record, or 404. */
int shop_get(struct shop *s, const struct req *rq, struct reply *rp);
/* POST /users {name, email, role?} -> 201 with the user. */
int shop_users_create(struct shop *s, const struct req *rq, struct reply *rp);
/* POST /payments {order_id, amount, payment_method} -> 201 with the payment. */
int shop_payments_create(struct shop *s, const struct req *rq, struct reply *rp);
/*
 * POST /orders {customer_id, items, total, payment_method?}: checks the
 * customer on users (404 -> 422), charges payments (failure -> 502, nothing
 * stored), then 201 with the order.
 */
int shop_orders_create(struct shop *s, const struct req *rq, struct reply *rp);

#endif
