/*
 * Records and handlers of the three roles. Each role owns one store (users,
 * orders or payments); orders reaches the other two only through struct
 * upstream. Handlers validate every field of a body before touching a store,
 * so a rejected request changes nothing.
 */
#include "demo/shop.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/strparse.h"
#include "common/timeutil.h"
#include "demo/body.h"

#define SHOP_ERR_MAX 512

static const char *const shop_names[] = { "orders", "users", "payments" };
/* the record kind, for messages: "no user with id 7" */
static const char *const shop_nouns[] = { "order", "user", "payment" };

int shop_role_parse(const char *name, enum shop_role *out)
{
	for (size_t i = 0; i < PRP_ARRAY_SIZE(shop_names); i++) {
		if (!strcmp(name, shop_names[i])) {
			*out = (enum shop_role)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *shop_role_name(enum shop_role role)
{
	return (unsigned)role < PRP_ARRAY_SIZE(shop_names) ? shop_names[role] : "?";
}

void shop_config_init(struct shop_config *cfg, enum shop_role role)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->role = role;
	cfg->store_max_records = SHOP_STORE_MAX_RECORDS;
	cfg->store_max_bytes = SHOP_STORE_MAX_BYTES;
	cfg->leak_cap_bytes = CHAOS_LEAK_CAP_BYTES;
}

static void shop_now(char out[TIME_ISO_LEN])
{
	time_format_iso(time_real_ns(), out);
}

static void shop_seed_users(struct shop *s)
{
	char when[TIME_ISO_LEN];

	shop_now(when);
	for (int i = 1; i <= SHOP_SEED_USERS; i++) {
		uint64_t id = store_reserve_id(s->store);
		char name[32], email[48];
		json_t *u;

		snprintf(name, sizeof(name), "User %" PRIu64, id);
		snprintf(email, sizeof(email), "user%" PRIu64 "@example.com", id);
		u = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)id, "name", name,
			      "email", email, "role", "customer", "created_at", when);
		if (!u || store_put(s->store, id, u))
			log_warn("demo: cannot seed user %" PRIu64, id);
		json_decref(u);
	}
}

struct shop *shop_new(const struct shop_config *cfg)
{
	struct shop *s = xcalloc(1, sizeof(*s));

	s->role = cfg->role;
	s->name = shop_role_name(cfg->role);
	s->store = store_new(cfg->store_max_records, cfg->store_max_bytes);
	s->upstream = cfg->upstream;
	s->started_mono_ns = time_mono_ns();
	chaos_init(&s->chaos, s->name, cfg->leak_cap_bytes);
	if (s->role == SHOP_USERS)
		shop_seed_users(s);
	return s;
}

void shop_free(struct shop *s)
{
	if (!s)
		return;
	chaos_release(&s->chaos);
	store_free(s->store);
	free(s);
}

int shop_health(struct shop *s, const struct req *rq, struct reply *rp)
{
	uint64_t up_s = (time_mono_ns() - s->started_mono_ns) / NSEC_PER_SEC;

	(void)rq;
	return reply_json(rp, 200,
			  json_pack("{s:s, s:s, s:I}", "status", "healthy", "service", s->name,
				    "uptime_s", (json_int_t)up_s));
}

int shop_list(struct shop *s, const struct req *rq, struct reply *rp)
{
	const char *arg = req_query(rq, "limit");
	uint64_t limit = SHOP_LIST_DEFAULT;
	json_t *list;

	if (arg && strparse_u64(arg, 1, SHOP_LIST_MAX, &limit))
		return reply_error(rp, 400, "invalid_query",
				   "limit must be an integer from 1 to %d, got '%.32s'",
				   SHOP_LIST_MAX, arg);
	list = store_list(s->store, (size_t)limit);
	if (!list)
		return reply_error(rp, 500, "internal_error", "cannot list %s", s->name);
	return reply_json(
		rp, 200,
		json_pack("{s:o, s:I}", s->name, list, "count", (json_int_t)json_array_size(list)));
}

int shop_get(struct shop *s, const struct req *rq, struct reply *rp)
{
	json_t *rec = store_get(s->store, rq->id);

	if (!rec)
		return reply_error(rp, 404, "not_found", "no %s with id %" PRIu64,
				   shop_nouns[s->role], rq->id);
	return reply_json(rp, 200, rec);
}

/* Parses the body into *@obj (caller owns), or fills @rp with the 400. */
static int shop_body(const struct req *rq, json_t **obj, struct reply *rp)
{
	char err[SHOP_ERR_MAX];

	if (body_parse_object(rq->body, rq->body_len, obj, err, sizeof(err)))
		return reply_error(rp, 400, "invalid_json", "%s", err);
	return 0;
}

/* Stores @rec (borrowed) under @id and answers 201 with it. */
static int shop_store_created(struct shop *s, uint64_t id, json_t *rec, struct reply *rp)
{
	if (store_put(s->store, id, rec))
		return reply_error(rp, 500, "internal_error", "cannot store the %s",
				   shop_nouns[s->role]);
	return reply_json(rp, 201, json_incref(rec));
}

int shop_users_create(struct shop *s, const struct req *rq, struct reply *rp)
{
	static const char *const keys[] = { "name", "email", "role", NULL };
	const char *name = NULL, *email = NULL, *role = "customer";
	char err[SHOP_ERR_MAX], when[TIME_ISO_LEN];
	json_t *obj, *rec;
	uint64_t id;
	int ret;

	ret = shop_body(rq, &obj, rp);
	if (ret)
		return ret;
	if (body_check_keys(obj, keys, err, sizeof(err)) ||
	    body_string(obj, "name", true, true, &name, NULL, err, sizeof(err)) ||
	    body_string(obj, "email", true, true, &email, NULL, err, sizeof(err)) ||
	    body_string(obj, "role", false, true, &role, NULL, err, sizeof(err))) {
		ret = reply_error(rp, 400, "invalid_field", "%s", err);
		goto out;
	}
	if (!strchr(email, '@')) {
		ret = reply_error(rp, 400, "invalid_field", "field 'email' must contain '@'");
		goto out;
	}
	shop_now(when);
	id = store_reserve_id(s->store);
	rec = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)id, "name", name, "email",
			email, "role", role, "created_at", when);
	ret = rec ? shop_store_created(s, id, rec, rp)
		  : reply_error(rp, 500, "internal_error", "cannot build the user");
	json_decref(rec);
out:
	json_decref(obj);
	return ret;
}

int shop_payments_create(struct shop *s, const struct req *rq, struct reply *rp)
{
	static const char *const keys[] = { "order_id", "amount", "payment_method", NULL };
	char err[SHOP_ERR_MAX], when[TIME_ISO_LEN];
	const char *method = NULL;
	json_int_t order_id = 0;
	json_t *obj, *amount = NULL, *rec;
	uint64_t id;
	int ret;

	ret = shop_body(rq, &obj, rp);
	if (ret)
		return ret;
	if (body_check_keys(obj, keys, err, sizeof(err)) ||
	    body_int(obj, "order_id", true, 1, INT64_MAX, &order_id, NULL, err, sizeof(err)) ||
	    body_number(obj, "amount", true, 0, SHOP_AMOUNT_MAX, &amount, NULL, err, sizeof(err)) ||
	    body_string(obj, "payment_method", true, true, &method, NULL, err, sizeof(err))) {
		ret = reply_error(rp, 400, "invalid_field", "%s", err);
		goto out;
	}
	shop_now(when);
	id = store_reserve_id(s->store);
	rec = json_pack("{s:I, s:I, s:O, s:s, s:s, s:s}", "id", (json_int_t)id, "order_id",
			order_id, "amount", amount, "payment_method", method, "status", "completed",
			"created_at", when);
	ret = rec ? shop_store_created(s, id, rec, rp)
		  : reply_error(rp, 500, "internal_error", "cannot build the payment");
	json_decref(rec);
out:
	json_decref(obj);
	return ret;
}

struct shop_order_input {
	json_int_t customer_id;
	json_t *items;		    /* borrowed from the body */
	json_t *total;		    /* borrowed from the body */
	const char *payment_method; /* borrowed from the body, or a literal */
};

static int shop_order_parse(json_t *obj, struct shop_order_input *in, struct reply *rp)
{
	static const char *const keys[] = { "customer_id", "items", "total", "payment_method",
					    NULL };
	char err[SHOP_ERR_MAX];

	in->payment_method = "card";
	if (body_check_keys(obj, keys, err, sizeof(err)) ||
	    body_int(obj, "customer_id", true, 1, INT64_MAX, &in->customer_id, NULL, err,
		     sizeof(err)) ||
	    body_array(obj, "items", &in->items, err, sizeof(err)) ||
	    body_number(obj, "total", true, 0, SHOP_AMOUNT_MAX, &in->total, NULL, err,
			sizeof(err)) ||
	    body_string(obj, "payment_method", false, true, &in->payment_method, NULL, err,
			sizeof(err)))
		return reply_error(rp, 400, "invalid_field", "%s", err);
	return 0;
}

/* GET /users/{id} on the users service: 0 if the customer exists, else the reply is set. */
static int shop_order_check_customer(struct shop *s, const struct req *rq, json_int_t id,
				     struct reply *rp)
{
	struct upstream_response rs;
	char path[64], err[SHOP_ERR_MAX];
	struct upstream_request call = {
		.service = "users", .method = "GET", .path = path, .request_id = rq->request_id
	};
	int ret = 0;

	snprintf(path, sizeof(path), "/users/%lld", (long long)id);
	upstream_response_init(&rs);
	if (upstream_call(&s->upstream, &call, &rs, err, sizeof(err)))
		ret = reply_error(rp, 502, "upstream_failed", "users service failed: %s", err);
	else if (rs.status == 404)
		ret = reply_error(rp, 422, "unknown_customer", "no customer with id %lld",
				  (long long)id);
	else if (rs.status < 200 || rs.status > 299)
		ret = reply_error(rp, 502, "upstream_failed", "users service answered %ld",
				  rs.status);
	upstream_response_release(&rs);
	return ret;
}

/* The payment's id from a payments answer, or 0 if it has none. */
static json_int_t shop_payment_id(const struct buf *body)
{
	json_t *v = json_loadb((const char *)body->data, body->len, 0, NULL);
	json_t *id = json_object_get(v, "id");
	json_int_t n = json_is_integer(id) ? json_integer_value(id) : 0;

	json_decref(v);
	return n > 0 ? n : 0;
}

/* POST /payments for order @order_id: 0 with *@payment_id set, else the reply is set. */
static int shop_order_charge(struct shop *s, const struct req *rq, uint64_t order_id,
			     const struct shop_order_input *in, json_int_t *payment_id,
			     struct reply *rp)
{
	struct upstream_response rs;
	char err[SHOP_ERR_MAX];
	struct upstream_request call = { .service = "payments",
					 .method = "POST",
					 .path = "/payments",
					 .request_id = rq->request_id };
	json_t *charge;
	char *text;
	int ret = 0;

	charge = json_pack("{s:I, s:O, s:s}", "order_id", (json_int_t)order_id, "amount", in->total,
			   "payment_method", in->payment_method);
	text = charge ? json_dumps(charge, REPLY_JSON_FLAGS) : NULL;
	json_decref(charge);
	if (!text)
		return reply_error(rp, 500, "internal_error", "cannot build the payment");
	call.body = text;
	upstream_response_init(&rs);
	if (upstream_call(&s->upstream, &call, &rs, err, sizeof(err)))
		ret = reply_error(rp, 502, "upstream_failed", "payments service failed: %s", err);
	else if (rs.status < 200 || rs.status > 299)
		ret = reply_error(rp, 502, "upstream_failed", "payments service answered %ld",
				  rs.status);
	else if (!(*payment_id = shop_payment_id(&rs.body)))
		ret = reply_error(rp, 502, "upstream_failed",
				  "payments service answered without a payment id");
	upstream_response_release(&rs);
	free(text);
	return ret;
}

int shop_orders_create(struct shop *s, const struct req *rq, struct reply *rp)
{
	struct shop_order_input in;
	char when[TIME_ISO_LEN];
	json_int_t payment_id = 0;
	json_t *obj, *rec;
	uint64_t id;
	int ret;

	ret = shop_body(rq, &obj, rp);
	if (ret)
		return ret;
	ret = shop_order_parse(obj, &in, rp);
	if (ret)
		goto out;
	ret = shop_order_check_customer(s, rq, in.customer_id, rp);
	if (ret)
		goto out;
	id = store_reserve_id(s->store);
	ret = shop_order_charge(s, rq, id, &in, &payment_id, rp);
	if (ret)
		goto out; /* the reserved id stays unused: the order is not stored */
	shop_now(when);
	rec = json_pack("{s:I, s:I, s:O, s:O, s:s, s:I, s:s}", "id", (json_int_t)id, "customer_id",
			in.customer_id, "items", in.items, "total", in.total, "status", "paid",
			"payment_id", payment_id, "created_at", when);
	if (!rec || store_put(s->store, id, rec))
		ret = reply_error(rp, 500, "internal_error", "cannot store the order");
	else
		ret = reply_json(rp, 201, json_incref(rec));
	json_decref(rec);
out:
	json_decref(obj);
	return ret;
}
