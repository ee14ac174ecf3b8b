/*
 * Request mixes. The proportions follow what a shop front end does: mostly
 * reads of single records, some lists, a steady share of creates, and a few
 * health checks. Reads of orders and payments use ids this client created,
 * so a healthy service answers them 200; until one exists, a create is sent.
 */
#include "demo/loadmix.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const mix_names[] = { "health", "orders", "users", "payments" };

int loadmix_init(struct loadmix *m, const char *name, uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	m->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < PRP_ARRAY_SIZE(mix_names); i++) {
		if (!strcmp(name, mix_names[i])) {
			m->kind = (enum loadmix_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *loadmix_name(enum loadmix_kind kind)
{
	return (unsigned)kind < PRP_ARRAY_SIZE(mix_names) ? mix_names[kind] : "?";
}

/* xorshift64*: fast, good enough for choosing requests */
static uint64_t next_random(struct loadmix *m)
{
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, n). */
static uint64_t below(struct loadmix *m, uint64_t n)
{
	return next_random(m) % n;
}

void loadmix_created(struct loadmix *m, uint64_t id)
{
	m->created[m->next] = id;
	m->next = (m->next + 1) % LOADMIX_IDS;
	if (m->ncreated < LOADMIX_IDS)
		m->ncreated++;
}

static uint64_t known_id(struct loadmix *m)
{
	return m->created[below(m, m->ncreated)];
}

static void set(struct loadmix_request *r, const char *method, bool is_create)
{
	r->method = method;
	r->is_create = is_create;
	r->path[0] = '\0';
	r->body[0] = '\0';
}

static void health(struct loadmix_request *r)
{
	set(r, "GET", false);
	snprintf(r->path, sizeof(r->path), "/health");
}

static void create_order(struct loadmix *m, struct loadmix_request *r)
{
	unsigned qty = 1 + (unsigned)below(m, 3), sku = 1 + (unsigned)below(m, 200);

	set(r, "POST", true);
	snprintf(r->path, sizeof(r->path), "/orders");
	snprintf(
		r->body, sizeof(r->body),
		"{\"customer_id\":%u,\"items\":[{\"sku\":\"sku-%u\",\"qty\":%u}],\"total\":%u.%02u}",
		1 + (unsigned)below(m, LOADMIX_SEEDED_USERS), sku, qty, qty * (5 + sku % 50),
		(unsigned)below(m, 100));
}

static void orders_mix(struct loadmix *m, struct loadmix_request *r)
{
	uint64_t dice = below(m, 100);

	if (dice < 30 || (dice < 80 && !m->ncreated)) {
		create_order(m, r);
	} else if (dice < 80) {
		set(r, "GET", false);
		snprintf(r->path, sizeof(r->path), "/orders/%llu", (unsigned long long)known_id(m));
	} else if (dice < 95) {
		set(r, "GET", false);
		snprintf(r->path, sizeof(r->path), "/orders?limit=10");
	} else {
		health(r);
	}
}

static void users_mix(struct loadmix *m, struct loadmix_request *r)
{
	uint64_t dice = below(m, 100);

	if (dice < 60) {
		set(r, "GET", false);
		snprintf(r->path, sizeof(r->path), "/users/%llu",
			 (unsigned long long)(1 + below(m, LOADMIX_SEEDED_USERS)));
	} else if (dice < 85) {
		set(r, "GET", false);
		snprintf(r->path, sizeof(r->path), "/users?limit=20");
	} else if (dice < 95) {
		unsigned n = (unsigned)below(m, 1000000);

		set(r, "POST", true);
		snprintf(r->path, sizeof(r->path), "/users");
		snprintf(r->body, sizeof(r->body),
			 "{\"name\":\"Load User %u\",\"email\":\"load%u@example.com\"}", n, n);
	} else {
		health(r);
	}
}

static void payments_mix(struct loadmix *m, struct loadmix_request *r)
{
	uint64_t dice = below(m, 100);

	if (dice < 60 || (dice < 95 && !m->ncreated)) {
		set(r, "POST", true);
		snprintf(r->path, sizeof(r->path), "/payments");
		snprintf(r->body, sizeof(r->body),
			 "{\"order_id\":%llu,\"amount\":%u.%02u,\"payment_method\":\"%s\"}",
			 (unsigned long long)(1 + below(m, 100000)), 1 + (unsigned)below(m, 500),
			 (unsigned)below(m, 100), below(m, 4) ? "card" : "paypal");
	} else if (dice < 95) {
		set(r, "GET", false);
		snprintf(r->path, sizeof(r->path), "/payments/%llu",
			 (unsigned long long)known_id(m));
	} else {
		health(r);
	}
}

void loadmix_next(struct loadmix *m, struct loadmix_request *r)
{
	switch (m->kind) {
	case LOADMIX_ORDERS:
		orders_mix(m, r);
		break;
	case LOADMIX_USERS:
		users_mix(m, r);
		break;
	case LOADMIX_PAYMENTS:
		payments_mix(m, r);
		break;
	case LOADMIX_HEALTH:
	default:
		health(r);
		break;
	}
}
