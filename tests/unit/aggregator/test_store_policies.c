/*
 * The policies, actions and audit tables of the store (store_policies.c,
 * store_actions.c, store_audit.c), and migration 3 that creates them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/store/store.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

/* ---- a temporary data directory per test ---- */

static char dir[64];

static void dir_make(void)
{
	tmpdir_make(dir, sizeof(dir), "policies");
}

static void fini(void)
{
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(store_policies, .init = dir_make, .fini = fini);

static struct store *open_store(bool read_only)
{
	struct store_options o = { .dir = dir, .read_only = read_only };
	struct store *s = NULL;

	cr_assert_eq(store_open(&s, &o), 0);
	return s;
}

/* Runs @sql on the database file behind the store's back. */
static void db_exec(const char *sql)
{
	char path[128];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/prp.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s", sql,
		     sqlite3_errmsg(db));
	sqlite3_close(db);
}

#define T0 1700000000000LL

static void assert_text_eq(const char *got, const char *want, const char *what)
{
	if (!want)
		cr_assert_null(got, "%s: expected NULL, got '%s'", what, got);
	else
		cr_assert(got && !strcmp(got, want), "%s: expected '%s', got '%s'", what, want,
			  got ? got : "(null)");
}

/* A string of @len bytes of @c; caller owns it: free(). */
static char *filled(size_t len, char c)
{
	char *v = malloc(len + 1);

	cr_assert_not_null(v);
	memset(v, c, len);
	v[len] = '\0';
	return v;
}

/* ---- policies ---- */

static void policy_sample(struct store_policy *p, const char *tenant, const char *name, int k)
{
	char buf[160];

	memset(p, 0, sizeof(*p));
	snprintf(p->tenant, sizeof(p->tenant), "%s", tenant);
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->enabled = k % 2 == 0;
	snprintf(buf, sizeof(buf), "name: %s\ncondition: error_rate > %d%%\n# \xc3\xa9t\xc3\xa9\n",
		 name, k);
	p->source = strdup(buf);
	p->origin = k % 3 ? strdup("api") : NULL;
	p->created_ms = T0 + k;
	p->updated_ms = T0 + 2 * k + 1;
}

static void policy_assert_same(const struct store_policy *got, const struct store_policy *want)
{
	cr_assert_eq(got->id, want->id);
	cr_assert_str_eq(got->tenant, want->tenant);
	cr_assert_str_eq(got->name, want->name);
	cr_assert_eq(got->enabled, want->enabled);
	assert_text_eq(got->source, want->source, "source");
	assert_text_eq(got->origin, want->origin, "origin");
	cr_assert_eq(got->created_ms, want->created_ms);
	cr_assert_eq(got->updated_ms, want->updated_ms);
}

static void policy_assert_stored(struct store *s, const struct store_policy *want)
{
	struct store_policy got;

	cr_assert_eq(store_policy_get(s, want->tenant, want->id, &got), 0);
	policy_assert_same(&got, want);
	store_policy_release(&got);
	cr_assert_eq(store_policy_find(s, want->tenant, want->name, &got), 0);
	policy_assert_same(&got, want);
	store_policy_release(&got);
}

static size_t policies_count(struct store *s, const char *tenant)
{
	struct store_policy *v;
	size_t n;

	cr_assert_eq(store_policies_list(s, tenant, &v, &n), 0);
	store_policies_free(v, n);
	return n;
}

Test(store_policies, came_with_schema_version_3)
{
	cr_assert_geq(store_schema_version(), 3);
}

Test(store_policies, policy_round_trips_every_field)
{
	struct store_policy a, b;
	struct store *s = open_store(false);

	policy_sample(&a, "default", "http-error-rate", 1); /* with an origin, disabled */
	policy_sample(&b, "default", "latency", 3);	    /* no origin */
	cr_assert_null(b.origin);
	cr_assert_eq(store_policy_put(s, &a), 0);
	cr_assert_gt(a.id, 0);
	cr_assert_eq(store_policy_put(s, &b), 0);
	cr_assert_gt(b.id, a.id);
	policy_assert_stored(s, &a);
	policy_assert_stored(s, &b);
	store_close(s);
	store_policy_release(&a);
	store_policy_release(&b);
	cr_assert_null(a.source);
	cr_assert_eq(a.id, 0, "released: zeroed");
	store_policy_release(NULL);
	store_policies_free(NULL, 3);
}

Test(store_policies, names_are_unique_per_tenant)
{
	struct store_policy a, dup, other, c;
	struct store *s = open_store(false);

	policy_sample(&a, "acme", "breaker", 0);
	cr_assert_eq(store_policy_put(s, &a), 0);

	policy_sample(&dup, "acme", "breaker", 2);
	cr_assert_eq(store_policy_put(s, &dup), -EEXIST);
	cr_assert_eq(dup.id, 0, "nothing written");
	policy_assert_stored(s, &a);

	policy_sample(&other, "globex", "breaker", 4); /* another tenant may have it */
	cr_assert_eq(store_policy_put(s, &other), 0);
	policy_assert_stored(s, &other);
	policy_assert_stored(s, &a);

	/* a rename onto a taken name is refused the same way */
	policy_sample(&c, "acme", "limiter", 6);
	cr_assert_eq(store_policy_put(s, &c), 0);
	snprintf(c.name, sizeof(c.name), "breaker");
	cr_assert_eq(store_policy_put(s, &c), -EEXIST);
	snprintf(c.name, sizeof(c.name), "limiter");
	policy_assert_stored(s, &c);
	policy_assert_stored(s, &a);

	/* once deleted, the name is free again */
	cr_assert_eq(store_policy_delete(s, "acme", a.id), 0);
	cr_assert_eq(store_policy_put(s, &dup), 0);
	cr_assert_gt(dup.id, c.id);
	policy_assert_stored(s, &dup);
	cr_assert_eq(policies_count(s, "acme"), 2);
	cr_assert_eq(policies_count(s, NULL), 3);
	store_close(s);
	store_policy_release(&a);
	store_policy_release(&dup);
	store_policy_release(&other);
	store_policy_release(&c);
}

Test(store_policies, policy_update_and_delete)
{
	struct store_policy a, b, got;
	struct store *s = open_store(false);
	int64_t id;

	policy_sample(&a, "default", "p1", 0);
	cr_assert_eq(store_policy_put(s, &a), 0);
	id = a.id;

	snprintf(a.name, sizeof(a.name), "p1-renamed");
	a.enabled = !a.enabled;
	free(a.source);
	a.source = strdup("name: p1-renamed\n");
	free(a.origin);
	a.origin = strdup("policies/p1.yaml");
	a.updated_ms += 5000;
	cr_assert_eq(store_policy_put(s, &a), 0);
	cr_assert_eq(a.id, id);
	policy_assert_stored(s, &a);
	cr_assert_eq(store_policy_find(s, "default", "p1", &got), -ENOENT);
	cr_assert_eq(policies_count(s, NULL), 1);

	/* unknown ids and another tenant's are not touched */
	policy_sample(&b, "default", "p2", 1);
	b.id = id + 100;
	cr_assert_eq(store_policy_put(s, &b), -ENOENT);
	b.id = id;
	snprintf(b.tenant, sizeof(b.tenant), "intruder");
	cr_assert_eq(store_policy_put(s, &b), -ENOENT);
	cr_assert_eq(store_policy_get(s, "intruder", id, &got), -ENOENT);
	cr_assert_null(got.source);
	cr_assert_eq(store_policy_delete(s, "intruder", id), -ENOENT);
	cr_assert_eq(store_policy_delete(s, "default", id + 100), -ENOENT);
	cr_assert_eq(store_policy_delete(s, "default", 0), -ENOENT);
	policy_assert_stored(s, &a);

	cr_assert_eq(store_policy_delete(s, "default", id), 0);
	cr_assert_eq(store_policy_get(s, "default", id, &got), -ENOENT);
	cr_assert_eq(store_policy_delete(s, "default", id), -ENOENT);
	cr_assert_eq(policies_count(s, NULL), 0);
	store_close(s);
	store_policy_release(&a);
	store_policy_release(&b);
}

Test(store_policies, policies_list_by_id_per_tenant_or_all)
{
	static const char *const tenants[] = { "b-tenant", "a-tenant" };
	struct store_policy p[6], *v;
	struct store *s = open_store(false);
	size_t n;

	for (int i = 0; i < 6; i++) {
		char name[16];

		/* names in reverse order of ids: the order is by id */
		snprintf(name, sizeof(name), "z%d", 9 - i);
		policy_sample(&p[i], tenants[i % 2], name, i);
		cr_assert_eq(store_policy_put(s, &p[i]), 0);
	}
	cr_assert_eq(store_policies_list(s, NULL, &v, &n), 0);
	cr_assert_eq(n, 6);
	for (size_t i = 0; i < n; i++)
		policy_assert_same(&v[i], &p[i]);
	store_policies_free(v, n);

	cr_assert_eq(store_policies_list(s, "a-tenant", &v, &n), 0);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < n; i++)
		policy_assert_same(&v[i], &p[2 * i + 1]);
	store_policies_free(v, n);

	cr_assert_eq(store_policies_list(s, "nobody", &v, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(v);
	store_close(s);
	for (int i = 0; i < 6; i++)
		store_policy_release(&p[i]);
}

Test(store_policies, policy_bad_arguments_are_refused_without_writing)
{
	struct store_policy a, ok, got, *v;
	struct store *s = open_store(false);
	size_t n;

	policy_sample(&ok, "default", "ok", 0);
	cr_assert_eq(store_policy_put(s, &ok), 0);

	for (int update = 0; update < 2; update++) {
		int64_t id = update ? ok.id : 0;

		policy_sample(&a, "default", "", 1);
		a.id = id;
		cr_assert_eq(store_policy_put(s, &a), -EINVAL, "empty name");
		memset(a.name, 'n', sizeof(a.name));
		cr_assert_eq(store_policy_put(s, &a), -EINVAL, "name too long");
		snprintf(a.name, sizeof(a.name), "fine");
		memset(a.tenant, 't', sizeof(a.tenant));
		cr_assert_eq(store_policy_put(s, &a), -EINVAL, "tenant too long");
		a.tenant[0] = '\0';
		cr_assert_eq(store_policy_put(s, &a), -EINVAL, "empty tenant");
		snprintf(a.tenant, sizeof(a.tenant), "default");
		a.created_ms = -1;
		cr_assert_eq(store_policy_put(s, &a), -EINVAL, "negative time");
		a.created_ms = T0;
		a.updated_ms = -1;
		cr_assert_eq(store_policy_put(s, &a), -EINVAL, "negative time");
		a.updated_ms = T0;
		free(a.source);
		a.source = NULL;
		cr_assert_eq(store_policy_put(s, &a), -EINVAL, "no source");
		a.source = filled((256u << 10) + 1, 'y');
		cr_assert_eq(store_policy_put(s, &a), -E2BIG, "source too long");
		free(a.source);
		a.source = filled(256u << 10, 'y'); /* at the bound: fine, but not written here */
		free(a.origin);
		a.origin = filled(5000, 'o');
		cr_assert_eq(store_policy_put(s, &a), -E2BIG, "origin too long");
		cr_assert_eq(a.id, id);
		store_policy_release(&a);
	}
	policy_sample(&a, "default", "neg", 1);
	a.id = -3;
	cr_assert_eq(store_policy_put(s, &a), -EINVAL, "negative id");
	store_policy_release(&a);

	cr_assert_eq(policies_count(s, NULL), 1);
	policy_assert_stored(s, &ok);

	/* the largest source fits */
	policy_sample(&a, "default", "big", 1);
	free(a.source);
	a.source = filled(256u << 10, 'y');
	cr_assert_eq(store_policy_put(s, &a), 0);
	policy_assert_stored(s, &a);
	store_policy_release(&a);

	cr_assert_eq(store_policy_get(s, "", ok.id, &got), -EINVAL);
	cr_assert_eq(store_policy_get(s, "default", -1, &got), -ENOENT);
	cr_assert_eq(store_policy_find(s, "default", "", &got), -EINVAL);
	cr_assert_eq(store_policy_find(s, NULL, "ok", &got), -EINVAL);
	cr_assert_eq(store_policy_delete(s, "", ok.id), -EINVAL);
	cr_assert_eq(store_policies_list(s, "", &v, &n), -EINVAL);
	cr_assert_null(v);
	cr_assert_eq(policies_count(s, NULL), 2);
	store_close(s);
	store_policy_release(&ok);
}

/* ---- actions ---- */

static void action_sample(struct store_action *a, const char *tenant, const char *policy,
			  const char *service, const char *type, enum store_action_status status,
			  int k)
{
	char buf[160];

	memset(a, 0, sizeof(*a));
	snprintf(a->tenant, sizeof(a->tenant), "%s", tenant);
	snprintf(a->policy_name, sizeof(a->policy_name), "%s", policy);
	snprintf(a->service, sizeof(a->service), "%s", service);
	snprintf(a->type, sizeof(a->type), "%s", type);
	a->status = status;
	a->created_ms = T0 + k * 1000;
	if (k % 2) {
		snprintf(buf, sizeof(buf), "{\"state\":\"open\",\"duration\":\"%ds\"}", k);
		a->parameters = strdup(buf);
		snprintf(buf, sizeof(buf), "error_rate > %d%%", k);
		a->reason = strdup(buf);
		a->started_ms = a->created_ms + 10;
		a->completed_ms = a->created_ms + 20;
		snprintf(buf, sizeof(buf), "{\"exit\":%d}", k);
		a->result = strdup(buf);
		a->logs = strdup("line one\nline two\n");
	}
}

static void action_assert_same(const struct store_action *got, const struct store_action *want)
{
	cr_assert_eq(got->id, want->id);
	cr_assert_str_eq(got->tenant, want->tenant);
	cr_assert_str_eq(got->policy_name, want->policy_name);
	cr_assert_str_eq(got->service, want->service);
	cr_assert_str_eq(got->type, want->type);
	assert_text_eq(got->parameters, want->parameters, "parameters");
	assert_text_eq(got->reason, want->reason, "reason");
	cr_assert_eq(got->status, want->status);
	cr_assert_eq(got->created_ms, want->created_ms);
	cr_assert_eq(got->started_ms, want->started_ms);
	cr_assert_eq(got->completed_ms, want->completed_ms);
	assert_text_eq(got->result, want->result, "result");
	assert_text_eq(got->logs, want->logs, "logs");
}

static void action_assert_stored(struct store *s, const struct store_action *want)
{
	struct store_action got;

	cr_assert_eq(store_action_get(s, want->tenant, want->id, &got), 0);
	action_assert_same(&got, want);
	store_action_release(&got);
}

static size_t actions_count(struct store *s)
{
	struct store_action_filter f = { .status = -1 };
	struct store_action *v;
	size_t n;

	cr_assert_eq(store_actions_list(s, &f, &v, &n, NULL), 0);
	store_actions_free(v, n);
	return n;
}

Test(store_policies, status_names_round_trip)
{
	static const char *const names[] = { "pending", "running",   "succeeded",
					     "failed",	"timed_out", "skipped" };

	cr_assert_eq(STORE_ACTION_STATUS_COUNT, 6);
	for (int i = 0; i < STORE_ACTION_STATUS_COUNT; i++) {
		cr_assert_str_eq(store_action_status_name((enum store_action_status)i), names[i]);
		cr_assert_eq(store_action_status_find(names[i]), i);
	}
	cr_assert_null(store_action_status_name(STORE_ACTION_STATUS_COUNT));
	cr_assert_null(store_action_status_name((enum store_action_status)(-1)));
	cr_assert_eq(store_action_status_find("done"), -1);
	cr_assert_eq(store_action_status_find("Pending"), -1);
	cr_assert_eq(store_action_status_find(""), -1);
	cr_assert_eq(store_action_status_find(NULL), -1);
}

Test(store_policies, action_round_trips_every_field)
{
	struct store_action a, b;
	struct store *s = open_store(false);

	action_sample(&a, "default", "http-error-rate", "orders", "circuit_breaker",
		      STORE_ACTION_SUCCEEDED, 1);
	action_sample(&b, "default", "", "users", "restart", STORE_ACTION_PENDING, 2);
	cr_assert_null(b.parameters);
	cr_assert_eq(store_action_put(s, &a), 0);
	cr_assert_gt(a.id, 0);
	cr_assert_eq(store_action_put(s, &b), 0);
	cr_assert_gt(b.id, a.id);
	action_assert_stored(s, &a);
	action_assert_stored(s, &b); /* NULL texts read as NULL, the empty policy as "" */
	store_close(s);
	store_action_release(&a);
	store_action_release(&b);
	cr_assert_null(a.logs);
	cr_assert_eq(a.id, 0, "released: zeroed");
	store_action_release(NULL);
	store_actions_free(NULL, 2);
}

Test(store_policies, action_update_follows_its_run)
{
	struct store_action a, b, got;
	struct store *s = open_store(false);
	int64_t id;

	action_sample(&a, "default", "p", "orders", "rate_limit", STORE_ACTION_PENDING, 2);
	cr_assert_eq(store_action_put(s, &a), 0);
	id = a.id;

	a.status = STORE_ACTION_RUNNING;
	a.started_ms = a.created_ms + 5;
	cr_assert_eq(store_action_put(s, &a), 0);
	action_assert_stored(s, &a);
	a.status = STORE_ACTION_TIMED_OUT;
	a.completed_ms = a.started_ms + 30000;
	a.result = strdup("{\"error\":\"timeout\"}");
	a.logs = strdup("waited 30s\n");
	a.parameters = strdup("{\"limit\":50}");
	snprintf(a.service, sizeof(a.service), "orders-v2");
	cr_assert_eq(store_action_put(s, &a), 0);
	cr_assert_eq(a.id, id);
	action_assert_stored(s, &a);
	cr_assert_eq(actions_count(s), 1);

	action_sample(&b, "default", "p", "orders", "rate_limit", STORE_ACTION_FAILED, 3);
	b.id = id + 50;
	cr_assert_eq(store_action_put(s, &b), -ENOENT);
	b.id = id;
	snprintf(b.tenant, sizeof(b.tenant), "intruder");
	cr_assert_eq(store_action_put(s, &b), -ENOENT);
	cr_assert_eq(store_action_get(s, "intruder", id, &got), -ENOENT);
	cr_assert_null(got.reason);
	cr_assert_eq(store_action_get(s, "default", 0, &got), -ENOENT);
	action_assert_stored(s, &a);
	cr_assert_eq(actions_count(s), 1);
	store_close(s);
	store_action_release(&a);
	store_action_release(&b);
}

Test(store_policies, action_bad_arguments_are_refused_without_writing)
{
	struct store_action a, ok, got, *v;
	struct store_action_filter f = { .status = -1 };
	struct store *s = open_store(false);
	uint64_t count;
	size_t n;
	bool more;

	action_sample(&ok, "default", "p", "orders", "restart", STORE_ACTION_SUCCEEDED, 1);
	cr_assert_eq(store_action_put(s, &ok), 0);

	for (int update = 0; update < 2; update++) {
		int64_t id = update ? ok.id : 0;

		action_sample(&a, "default", "p", "", "restart", STORE_ACTION_PENDING, 3);
		a.id = id;
		cr_assert_eq(store_action_put(s, &a), -EINVAL, "empty service");
		snprintf(a.service, sizeof(a.service), "orders");
		a.type[0] = '\0';
		cr_assert_eq(store_action_put(s, &a), -EINVAL, "empty type");
		memset(a.type, 'x', sizeof(a.type));
		cr_assert_eq(store_action_put(s, &a), -EINVAL, "type too long");
		snprintf(a.type, sizeof(a.type), "restart");
		memset(a.policy_name, 'p', sizeof(a.policy_name));
		cr_assert_eq(store_action_put(s, &a), -EINVAL, "policy name too long");
		snprintf(a.policy_name, sizeof(a.policy_name), "p");
		memset(a.tenant, 't', sizeof(a.tenant));
		cr_assert_eq(store_action_put(s, &a), -EINVAL, "tenant too long");
		snprintf(a.tenant, sizeof(a.tenant), "default");
		a.status = STORE_ACTION_STATUS_COUNT;
		cr_assert_eq(store_action_put(s, &a), -EINVAL, "unknown status");
		a.status = (enum store_action_status)(-1);
		cr_assert_eq(store_action_put(s, &a), -EINVAL, "negative status");
		a.status = STORE_ACTION_RUNNING;
		a.started_ms = -1;
		cr_assert_eq(store_action_put(s, &a), -EINVAL, "negative time");
		a.started_ms = 0;
		a.completed_ms = -1;
		cr_assert_eq(store_action_put(s, &a), -EINVAL, "negative time");
		a.completed_ms = 0;
		a.created_ms = -1;
		cr_assert_eq(store_action_put(s, &a), -EINVAL, "negative time");
		a.created_ms = T0;

		free(a.parameters);
		a.parameters = filled((64u << 10) + 1, '{');
		cr_assert_eq(store_action_put(s, &a), -E2BIG, "parameters too long");
		free(a.parameters);
		a.parameters = NULL;
		free(a.reason);
		a.reason = filled((4u << 10) + 1, 'r');
		cr_assert_eq(store_action_put(s, &a), -E2BIG, "reason too long");
		free(a.reason);
		a.reason = NULL;
		free(a.result);
		a.result = filled((64u << 10) + 1, '[');
		cr_assert_eq(store_action_put(s, &a), -E2BIG, "result too long");
		free(a.result);
		a.result = NULL;
		free(a.logs);
		a.logs = filled((64u << 10) + 1, 'l');
		cr_assert_eq(store_action_put(s, &a), -E2BIG, "logs too long");
		cr_assert_eq(a.id, id);
		store_action_release(&a);
	}
	action_sample(&a, "default", "p", "orders", "restart", STORE_ACTION_PENDING, 3);
	a.id = -1;
	cr_assert_eq(store_action_put(s, &a), -EINVAL, "negative id");
	store_action_release(&a);
	cr_assert_eq(actions_count(s), 1);
	action_assert_stored(s, &ok);

	/* texts at their bounds fit */
	action_sample(&a, "default", "p", "orders", "exec", STORE_ACTION_FAILED, 4);
	a.parameters = filled(64u << 10, 'a');
	a.reason = filled(4u << 10, 'b');
	a.result = filled(64u << 10, 'c');
	a.logs = filled(64u << 10, 'd');
	cr_assert_eq(store_action_put(s, &a), 0);
	action_assert_stored(s, &a);
	store_action_release(&a);

	cr_assert_eq(store_action_get(s, "", ok.id, &got), -EINVAL);
	f.status = STORE_ACTION_STATUS_COUNT;
	cr_assert_eq(store_actions_list(s, &f, &v, &n, &more), -EINVAL);
	cr_assert_null(v);
	cr_assert_eq(n, 0);
	f.status = -2;
	cr_assert_eq(store_actions_list(s, &f, &v, &n, &more), -EINVAL);
	f.status = -1;
	f.service = "";
	cr_assert_eq(store_actions_list(s, &f, &v, &n, &more), -EINVAL);
	f.service = NULL;
	f.type = "";
	cr_assert_eq(store_actions_list(s, &f, &v, &n, &more), -EINVAL);
	f.type = NULL;
	f.before_id = -1;
	cr_assert_eq(store_actions_list(s, &f, &v, &n, &more), -EINVAL);
	f.before_id = 0;
	f.since_ms = -1;
	cr_assert_eq(store_actions_list(s, &f, &v, &n, &more), -EINVAL);
	cr_assert_eq(store_actions_list(s, NULL, &v, &n, &more), -EINVAL);
	cr_assert_eq(store_actions_count_executed(s, "", 0, &count), -EINVAL);
	cr_assert_eq(store_actions_count_executed(s, "default", -1, &count), -EINVAL);
	cr_assert_eq(actions_count(s), 2);
	store_close(s);
	store_action_release(&ok);
}

#define NACTIONS 36

/* Actions whose fields vary on different periods, created out of id order. */
static void put_actions(struct store *s, struct store_action *rows)
{
	static const char *const services[] = { "orders", "users", "payments" };
	static const char *const types[] = { "restart", "rate_limit" };
	static const char *const policies[] = { "p-a", "p-b", "p-c", "" };

	for (int i = 0; i < NACTIONS; i++) {
		struct store_action *a = &rows[i];

		action_sample(a, i % 5 == 4 ? "other" : "default", policies[i % 4], services[i % 3],
			      types[(i / 3) % 2],
			      (enum store_action_status)(i % STORE_ACTION_STATUS_COUNT),
			      (i * 7) % NACTIONS);
		cr_assert_eq(store_action_put(s, a), 0);
		if (i)
			cr_assert_gt(a->id, rows[i - 1].id);
	}
}

static void actions_release(struct store_action *rows)
{
	for (int i = 0; i < NACTIONS; i++)
		store_action_release(&rows[i]);
}

/* The filter's meaning, written independently of the SQL. */
static bool action_matches(const struct store_action_filter *f, const struct store_action *a)
{
	return (!f->tenant || !strcmp(f->tenant, a->tenant)) &&
	       (!f->service || !strcmp(f->service, a->service)) &&
	       (!f->type || !strcmp(f->type, a->type)) &&
	       (!f->policy_name || !strcmp(f->policy_name, a->policy_name)) &&
	       (f->status < 0 || (int)a->status == f->status) &&
	       (!f->since_ms || a->created_ms >= f->since_ms) &&
	       (!f->until_ms || a->created_ms < f->until_ms) &&
	       (!f->before_id || a->id < f->before_id);
}

/* The list of @f is exactly the matching rows, newest first, cut at the limit. */
static void check_actions(struct store *s, const struct store_action_filter *f,
			  const struct store_action *rows, const char *what)
{
	struct store_action *v;
	size_t n, want = 0;
	bool more;

	cr_assert_eq(store_actions_list(s, f, &v, &n, &more), 0, "%s", what);
	for (int i = NACTIONS - 1; i >= 0; i--) {
		if (!action_matches(f, &rows[i]))
			continue;
		if (f->limit && want == f->limit) {
			cr_assert(more, "%s: more expected after %zu", what, want);
			break;
		}
		cr_assert_lt(want, n, "%s: row id %lld missing", what, (long long)rows[i].id);
		action_assert_same(&v[want], &rows[i]);
		want++;
	}
	cr_assert_eq(n, want, "%s: %zu rows, expected %zu", what, n, want);
	if (!f->limit || n < f->limit)
		cr_assert_not(more, "%s", what);
	store_actions_free(v, n);
}

Test(store_policies, action_list_filters_each_work)
{
	struct store_action rows[NACTIONS];
	struct store *s = open_store(false);
	struct {
		const char *what;
		struct store_action_filter f;
	} cases[] = {
		{ "all", { .status = -1 } },
		{ "tenant", { .tenant = "default", .status = -1 } },
		{ "other tenant", { .tenant = "other", .status = -1 } },
		{ "no such tenant", { .tenant = "nobody", .status = -1 } },
		{ "service", { .service = "users", .status = -1 } },
		{ "type", { .type = "rate_limit", .status = -1 } },
		{ "policy", { .policy_name = "p-b", .status = -1 } },
		{ "manual", { .policy_name = "", .status = -1 } },
		{ "pending", { .status = STORE_ACTION_PENDING } },
		{ "skipped", { .status = STORE_ACTION_SKIPPED } },
		{ "timed out", { .status = STORE_ACTION_TIMED_OUT } },
		{ "since", { .status = -1, .since_ms = T0 + 20000 } },
		{ "until", { .status = -1, .until_ms = T0 + 20000 } },
		{ "since and until",
		  { .status = -1, .since_ms = T0 + 5000, .until_ms = T0 + 9000 } },
		{ "empty range", { .status = -1, .since_ms = T0 + 9000, .until_ms = T0 + 9000 } },
		{ "before id", { .status = -1 } },
		{ "limit", { .status = -1, .limit = 7 } },
		{ "everything at once",
		  { .tenant = "default",
		    .service = "orders",
		    .type = "restart",
		    .policy_name = "p-a",
		    .status = STORE_ACTION_PENDING,
		    .since_ms = T0,
		    .until_ms = T0 + 36000,
		    .limit = 2 } },
		{ "no match", { .service = "nope", .status = -1 } },
	};

	put_actions(s, rows);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!strcmp(cases[i].what, "before id"))
			cases[i].f.before_id = rows[NACTIONS / 2].id;
		check_actions(s, &cases[i].f, rows, cases[i].what);
	}
	store_close(s);
	actions_release(rows);
}

/* Pages of @f with the cursor: every matching row exactly once, newest first. */
static void page_actions(struct store *s, struct store_action_filter f,
			 const struct store_action *rows, size_t limit)
{
	size_t total = 0, want = 0;
	int64_t last = INT64_MAX;
	bool more = true;

	for (int i = 0; i < NACTIONS; i++)
		want += action_matches(&f, &rows[i]);
	f.limit = limit;
	f.before_id = 0;
	while (more) {
		struct store_action *v;
		size_t n;

		check_actions(s, &f, rows, "page");
		cr_assert_eq(store_actions_list(s, &f, &v, &n, &more), 0);
		cr_assert_leq(n, limit);
		cr_assert(n == limit || !more, "a short page is the last");
		for (size_t j = 0; j < n; j++) {
			cr_assert_lt(v[j].id, last, "newest first, never twice");
			last = v[j].id;
		}
		total += n;
		if (n)
			f.before_id = v[n - 1].id;
		store_actions_free(v, n);
		cr_assert_leq(total, want);
	}
	cr_assert_eq(total, want);
}

Test(store_policies, action_cursor_pages_through_every_row_exactly_once)
{
	struct store_action rows[NACTIONS];
	struct store *s = open_store(false);

	put_actions(s, rows);
	page_actions(s, (struct store_action_filter){ .status = -1 }, rows, 1);
	page_actions(s, (struct store_action_filter){ .status = -1 }, rows, 5);
	page_actions(s, (struct store_action_filter){ .status = -1 }, rows, 9); /* 36 = 4 pages */
	page_actions(s, (struct store_action_filter){ .status = -1 }, rows, NACTIONS);
	page_actions(s, (struct store_action_filter){ .status = -1 }, rows, NACTIONS + 1);
	page_actions(s, (struct store_action_filter){ .tenant = "default", .status = -1 }, rows, 4);
	page_actions(s, (struct store_action_filter){ .service = "payments", .status = -1 }, rows,
		     2);
	store_close(s);
	actions_release(rows);
}

Test(store_policies, count_executed_counts_every_status_but_skipped_in_the_window)
{
	struct store_action rows[NACTIONS], a;
	struct store *s = open_store(false);
	uint64_t n;

	put_actions(s, rows);
	for (int64_t since = T0 - 1000; since <= T0 + NACTIONS * 1000; since += 3500) {
		uint64_t want = 0;

		for (int i = 0; i < NACTIONS; i++)
			want += !strcmp(rows[i].tenant, "default") &&
				rows[i].status != STORE_ACTION_SKIPPED &&
				rows[i].created_ms >= since;
		cr_assert_eq(store_actions_count_executed(s, "default", since, &n), 0);
		cr_assert_eq(n, want, "since %lld: %llu, expected %llu", (long long)since,
			     (unsigned long long)n, (unsigned long long)want);
		/* NULL: every tenant */
		want = 0;
		for (int i = 0; i < NACTIONS; i++)
			want += rows[i].status != STORE_ACTION_SKIPPED && rows[i].created_ms >= since;
		cr_assert_eq(store_actions_count_executed(s, NULL, since, &n), 0);
		cr_assert_eq(n, want, "every tenant since %lld", (long long)since);
	}
	cr_assert_eq(store_actions_count_executed(s, "nobody", 0, &n), 0);
	cr_assert_eq(n, 0);

	/* each executed status counts, skipped does not */
	cr_assert_eq(store_actions_count_executed(s, "fresh", 0, &n), 0);
	cr_assert_eq(n, 0);
	for (int st = 0; st < STORE_ACTION_STATUS_COUNT; st++) {
		uint64_t before;

		cr_assert_eq(store_actions_count_executed(s, "fresh", T0, &before), 0);
		action_sample(&a, "fresh", "p", "orders", "restart", (enum store_action_status)st,
			      5);
		cr_assert_eq(store_action_put(s, &a), 0);
		cr_assert_eq(store_actions_count_executed(s, "fresh", T0, &n), 0);
		cr_assert_eq(n, before + (st != STORE_ACTION_SKIPPED), "status %d", st);
		/* before the window: never counted */
		cr_assert_eq(store_actions_count_executed(s, "fresh", T0 + 5001, &n), 0);
		cr_assert_eq(n, 0);
		store_action_release(&a);
	}
	store_close(s);
	actions_release(rows);
}

/* ---- audit ---- */

static void audit_sample(struct store_audit *a, const char *tenant, int k)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->tenant, sizeof(a->tenant), "%s", tenant);
	a->at_ms = T0 + k;
	snprintf(a->actor, sizeof(a->actor), "%s", k % 2 ? "key-7" : "system");
	snprintf(a->action, sizeof(a->action), "%s", k % 3 ? "policy.updated" : "toggle");
	snprintf(a->subject, sizeof(a->subject), "policy:%d", k);
	if (k % 2) {
		char buf[64];

		snprintf(buf, sizeof(buf), "{\"enabled\":%s}", k % 4 == 1 ? "true" : "false");
		a->detail = strdup(buf);
	}
}

static void audit_assert_same(const struct store_audit *got, const struct store_audit *want)
{
	cr_assert_eq(got->id, want->id);
	cr_assert_str_eq(got->tenant, want->tenant);
	cr_assert_eq(got->at_ms, want->at_ms);
	cr_assert_str_eq(got->actor, want->actor);
	cr_assert_str_eq(got->action, want->action);
	cr_assert_str_eq(got->subject, want->subject);
	assert_text_eq(got->detail, want->detail, "detail");
}

static size_t audit_count(struct store *s, const char *tenant)
{
	struct store_audit *v;
	size_t n;

	cr_assert_eq(store_audit_list(s, tenant, 0, 0, &v, &n, NULL), 0);
	store_audits_free(v, n);
	return n;
}

Test(store_policies, audit_round_trips_and_lists_newest_first)
{
	struct store_audit a[10], *v;
	struct store *s = open_store(false);
	size_t n;
	bool more;

	for (int i = 0; i < 10; i++) {
		audit_sample(&a[i], i % 3 == 2 ? "other" : "default", i);
		if (i == 4)
			a[i].subject[0] = '\0'; /* a change of nothing in particular */
		cr_assert_eq(store_audit_append(s, &a[i]), 0);
		cr_assert_gt(a[i].id, i ? a[i - 1].id : 0);
	}
	cr_assert_eq(store_audit_list(s, NULL, 0, 0, &v, &n, &more), 0);
	cr_assert_eq(n, 10);
	cr_assert_not(more);
	for (size_t i = 0; i < n; i++)
		audit_assert_same(&v[i], &a[9 - i]);
	store_audits_free(v, n);

	cr_assert_eq(store_audit_list(s, "other", 0, 0, &v, &n, &more), 0);
	cr_assert_eq(n, 3);
	audit_assert_same(&v[0], &a[8]);
	audit_assert_same(&v[1], &a[5]);
	audit_assert_same(&v[2], &a[2]);
	store_audits_free(v, n);

	cr_assert_eq(store_audit_list(s, "nobody", 0, 5, &v, &n, &more), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(v);
	cr_assert_not(more);
	store_close(s);
	for (int i = 0; i < 10; i++)
		store_audit_release(&a[i]);
	store_audit_release(NULL);
	store_audits_free(NULL, 1);
}

Test(store_policies, audit_pages_with_the_cursor)
{
	struct store_audit a[23];
	struct store *s = open_store(false);

	for (int i = 0; i < 23; i++) {
		audit_sample(&a[i], i % 4 == 3 ? "other" : "default", i);
		cr_assert_eq(store_audit_append(s, &a[i]), 0);
	}
	for (size_t limit = 1; limit <= 24; limit += 4) {
		int64_t before = 0;
		int next = 22; /* the newest of "default" not yet seen */
		bool more = true;

		while (more) {
			struct store_audit *v;
			size_t n;

			cr_assert_eq(store_audit_list(s, "default", before, limit, &v, &n, &more),
				     0);
			cr_assert_leq(n, limit);
			cr_assert(n == limit || !more, "a short page is the last");
			for (size_t j = 0; j < n; j++) {
				while (next >= 0 && strcmp(a[next].tenant, "default"))
					next--;
				cr_assert_geq(next, 0);
				audit_assert_same(&v[j], &a[next--]);
			}
			if (n)
				before = v[n - 1].id;
			store_audits_free(v, n);
		}
		while (next >= 0 && strcmp(a[next].tenant, "default"))
			next--;
		cr_assert_eq(next, -1, "limit %zu: every entry once", limit);
	}
	store_close(s);
	for (int i = 0; i < 23; i++)
		store_audit_release(&a[i]);
}

Test(store_policies, audit_bad_arguments_are_refused_without_writing)
{
	struct store_audit a, *v;
	struct store *s = open_store(false);
	size_t n;
	bool more;

	audit_sample(&a, "", 1);
	cr_assert_eq(store_audit_append(s, &a), -EINVAL, "empty tenant");
	snprintf(a.tenant, sizeof(a.tenant), "default");
	a.actor[0] = '\0';
	cr_assert_eq(store_audit_append(s, &a), -EINVAL, "empty actor");
	memset(a.actor, 'a', sizeof(a.actor));
	cr_assert_eq(store_audit_append(s, &a), -EINVAL, "actor too long");
	snprintf(a.actor, sizeof(a.actor), "key-1");
	a.action[0] = '\0';
	cr_assert_eq(store_audit_append(s, &a), -EINVAL, "empty action");
	snprintf(a.action, sizeof(a.action), "toggle");
	memset(a.subject, 's', sizeof(a.subject));
	cr_assert_eq(store_audit_append(s, &a), -EINVAL, "subject too long");
	snprintf(a.subject, sizeof(a.subject), "policy:1");
	a.at_ms = -1;
	cr_assert_eq(store_audit_append(s, &a), -EINVAL, "negative time");
	a.at_ms = T0;
	free(a.detail);
	a.detail = filled((64u << 10) + 1, '{');
	cr_assert_eq(store_audit_append(s, &a), -E2BIG, "detail too long");
	cr_assert_eq(a.id, 0);
	cr_assert_eq(audit_count(s, NULL), 0);
	free(a.detail);
	a.detail = filled(64u << 10, '{'); /* at the bound */
	cr_assert_eq(store_audit_append(s, &a), 0);
	cr_assert_eq(audit_count(s, NULL), 1);
	store_audit_release(&a);

	cr_assert_eq(store_audit_list(s, "", 0, 0, &v, &n, &more), -EINVAL);
	cr_assert_null(v);
	cr_assert_eq(n, 0);
	cr_assert_eq(store_audit_list(s, "default", -1, 0, &v, &n, &more), -EINVAL);
	store_close(s);
}

/* ---- writers only, outside ingest transactions ---- */

Test(store_policies, writes_commit_at_once_and_not_inside_an_ingest_transaction)
{
	struct store_policy p, got;
	struct store_action a;
	struct store_audit l;
	struct store *s = open_store(false), *r;

	policy_sample(&p, "default", "p", 1);
	cr_assert_eq(store_policy_put(s, &p), 0);
	r = open_store(true);
	policy_assert_stored(r, &p); /* another connection sees it: committed */

	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_policy_put(s, &p), -EINVAL);
	cr_assert_eq(store_policy_delete(s, "default", p.id), -EINVAL);
	action_sample(&a, "default", "p", "orders", "restart", STORE_ACTION_PENDING, 1);
	cr_assert_eq(store_action_put(s, &a), -EINVAL);
	cr_assert_eq(a.id, 0);
	audit_sample(&l, "default", 1);
	cr_assert_eq(store_audit_append(s, &l), -EINVAL);
	cr_assert_eq(l.id, 0);
	/* reads are fine inside */
	cr_assert_eq(store_policy_get(s, "default", p.id, &got), 0);
	store_policy_release(&got);
	store_rollback(s);

	cr_assert_eq(actions_count(r), 0);
	cr_assert_eq(audit_count(r, NULL), 0);
	policy_assert_stored(r, &p);
	store_close(r);
	store_close(s);
	store_policy_release(&p);
	store_action_release(&a);
	store_audit_release(&l);
}

Test(store_policies, a_reader_refuses_to_write_but_reads)
{
	struct store_policy p, q;
	struct store_action a, b;
	struct store_audit l, m, *v;
	struct store *s = open_store(false), *r;
	uint64_t count;
	size_t n;

	policy_sample(&p, "default", "p", 1);
	cr_assert_eq(store_policy_put(s, &p), 0);
	action_sample(&a, "default", "p", "orders", "restart", STORE_ACTION_RUNNING, 1);
	cr_assert_eq(store_action_put(s, &a), 0);
	audit_sample(&l, "default", 1);
	cr_assert_eq(store_audit_append(s, &l), 0);
	r = open_store(true);

	policy_sample(&q, "default", "q", 2);
	cr_assert_eq(store_policy_put(r, &q), -EROFS);
	cr_assert_eq(q.id, 0);
	q.id = p.id;
	cr_assert_eq(store_policy_put(r, &q), -EROFS);
	cr_assert_eq(store_policy_delete(r, "default", p.id), -EROFS);
	action_sample(&b, "default", "p", "orders", "restart", STORE_ACTION_FAILED, 2);
	cr_assert_eq(store_action_put(r, &b), -EROFS);
	b.id = a.id;
	cr_assert_eq(store_action_put(r, &b), -EROFS);
	audit_sample(&m, "default", 2);
	cr_assert_eq(store_audit_append(r, &m), -EROFS);
	cr_assert_eq(m.id, 0);

	policy_assert_stored(r, &p);
	cr_assert_eq(policies_count(r, NULL), 1);
	action_assert_stored(r, &a);
	cr_assert_eq(actions_count(r), 1);
	cr_assert_eq(store_actions_count_executed(r, "default", 0, &count), 0);
	cr_assert_eq(count, 1);
	cr_assert_eq(store_audit_list(r, "default", 0, 0, &v, &n, NULL), 0);
	cr_assert_eq(n, 1);
	audit_assert_same(&v[0], &l);
	store_audits_free(v, n);
	store_close(r);
	store_close(s);
	store_policy_release(&p);
	store_policy_release(&q);
	store_action_release(&a);
	store_action_release(&b);
	store_audit_release(&l);
	store_audit_release(&m);
}

/* ---- ids and migration ---- */

Test(store_policies, ids_survive_reopening_and_are_never_reused)
{
	struct store_policy p[3], got;
	struct store_action a[3];
	struct store_audit l[3];
	struct store *s = open_store(false);

	for (int i = 0; i < 2; i++) {
		char name[8];

		snprintf(name, sizeof(name), "p%d", i);
		policy_sample(&p[i], "default", name, i);
		cr_assert_eq(store_policy_put(s, &p[i]), 0);
		action_sample(&a[i], "default", name, "orders", "restart", STORE_ACTION_PENDING, i);
		cr_assert_eq(store_action_put(s, &a[i]), 0);
		audit_sample(&l[i], "default", i);
		cr_assert_eq(store_audit_append(s, &l[i]), 0);
	}
	/* the newest policy goes: its id must not come back */
	cr_assert_eq(store_policy_delete(s, "default", p[1].id), 0);
	store_close(s);
	db_exec("DELETE FROM actions WHERE id = (SELECT max(id) FROM actions);"
		"DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)");

	s = open_store(false);
	policy_assert_stored(s, &p[0]);
	action_assert_stored(s, &a[0]);
	cr_assert_eq(store_policy_get(s, "default", p[1].id, &got), -ENOENT);

	policy_sample(&p[2], "default", "p1", 2);
	cr_assert_eq(store_policy_put(s, &p[2]), 0);
	cr_assert_gt(p[2].id, p[1].id);
	action_sample(&a[2], "default", "p1", "orders", "restart", STORE_ACTION_PENDING, 2);
	cr_assert_eq(store_action_put(s, &a[2]), 0);
	cr_assert_gt(a[2].id, a[1].id);
	audit_sample(&l[2], "default", 2);
	cr_assert_eq(store_audit_append(s, &l[2]), 0);
	cr_assert_gt(l[2].id, l[1].id);
	store_close(s);
	for (int i = 0; i < 3; i++) {
		store_policy_release(&p[i]);
		store_action_release(&a[i]);
		store_audit_release(&l[i]);
	}
}

Test(store_policies, migrates_a_version_2_database_keeping_its_anomalies)
{
	struct store_anomaly an = {
		.tenant = "default",
		.service = "orders",
		.metric = "latency_p99",
		.severity = STORE_SEVERITY_WARNING,
		.open = true,
		.score = 0.75,
		.confidence = 0.5,
		.current_value = 250,
		.peak_value = 300,
		.expected_min = 10,
		.expected_max = 90,
		.expected_mean = 50,
		.started_ms = T0,
		.updated_ms = T0 + 1000,
	};
	struct store_anomaly got;
	struct store_policy p;
	struct store *s, *r = NULL;
	struct store_options ro = { .dir = dir, .read_only = true };

	/* a version 2 database: this build's, less what migrations 3 and later added */
	s = open_store(false);
	cr_assert_eq(store_anomaly_put(s, &an), 0);
	store_close(s);
	db_exec("DROP TABLE policies; DROP TABLE actions; DROP TABLE audit; DROP TABLE api_keys;"
		" DROP TABLE events; DROP TABLE webhooks; DROP TABLE webhook_deliveries;"
		" DROP TABLE webhook_cursor; DROP TABLE metric_counters;"
		" UPDATE schema_version SET version = 2");

	/* a reader does not migrate: it refuses the old version */
	cr_assert_eq(store_open(&r, &ro), -EPROTO);
	cr_assert_null(r);

	s = open_store(false);
	cr_assert_eq(store_anomaly_get(s, "default", an.id, &got), 0);
	cr_assert_str_eq(got.metric, "latency_p99");
	cr_assert_eq(got.peak_value, 300);
	cr_assert_eq(got.started_ms, T0);
	store_anomaly_release(&got);
	policy_sample(&p, "default", "p", 1);
	cr_assert_eq(store_policy_put(s, &p), 0);
	policy_assert_stored(s, &p);
	store_close(s);
	store_policy_release(&p);

	r = open_store(true);
	store_close(r);
}
