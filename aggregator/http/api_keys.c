/*
 * The keys routes (API.md: Keys). A key is shown once, in the answer that
 * makes it; lists show what it is, never it. An admin sees and changes the
 * keys of its own tenant; only an admin of the default tenant (who runs the
 * platform) may make the first key of another tenant, and it then sees
 * nothing of that tenant's data or keys.
 */
#include "aggregator/http/api_keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/auth/audit_log.h"
#include "aggregator/auth/keys.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "common/compiler.h"

static json_t *api_keys_time(int64_t ms)
{
	return ms ? resp_time(ms) : json_null();
}

static json_t *api_keys_item(const struct store_key *k)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:{s:I, s:I}}", "id",
			 (json_int_t)k->id, "name", k->name, "description", k->description, "role",
			 role_name((enum role)k->role), "tenant", k->tenant, "created_at",
			 resp_time(k->created_ms), "last_used_at", api_keys_time(k->last_used_ms),
			 "revoked_at", api_keys_time(k->revoked_ms), "rate_limit", "per_minute",
			 (json_int_t)k->per_minute, "per_hour", (json_int_t)k->per_hour);
}

/* The registry, or NULL with the 404 answered: with auth off there are no keys to manage. */
static struct keys *api_keys_registry(struct req *rq, struct resp *rp)
{
	if (!rq->env || !rq->env->keys)
		resp_error(rp, 404, "not_found", "auth is off (--no-auth): there are no API keys");
	return rq->env ? rq->env->keys : NULL;
}

/* The role of "role", or the highest of "scopes": 0 or the 400 answered. */
static int api_keys_role(json_t *body, struct resp *rp, int *role)
{
	json_t *r = json_object_get(body, "role"), *scopes = json_object_get(body, "scopes"), *s;
	size_t i;

	*role = -1;
	if (r) {
		*role = json_is_string(r) ? role_parse(json_string_value(r)) : -1;
		if (*role < 0)
			return resp_error(rp, 400, "bad_request",
					  "role: one of viewer, operator, admin");
	}
	if (scopes) {
		if (!json_is_array(scopes) || !json_array_size(scopes))
			return resp_error(rp, 400, "bad_request",
					  "scopes: a non-empty list of read, write, admin");
		json_array_foreach(scopes, i, s) {
			int v = json_is_string(s) ? role_parse(json_string_value(s)) : -1;

			if (v < 0)
				return resp_error(rp, 400, "bad_request",
						  "scopes[%zu]: one of read, write, admin", i);
			if (!r && v > *role)
				*role = v;
		}
	}
	if (*role < 0)
		return resp_error(rp, 400, "bad_request", "role: required (viewer, operator, admin)");
	return 0;
}

/*
 * A string field into @out (@cap bytes, @min length at least), left as it
 * is when absent unless @required: 0 or the 400 answered.
 */
static int api_keys_text(json_t *body, struct resp *rp, const char *field, bool required,
			 size_t min, char *out, size_t cap)
{
	json_t *v = json_object_get(body, field);
	size_t n;

	if (!v)
		return required ? resp_error(rp, 400, "bad_request", "%s: required", field) : 0;
	if (!json_is_string(v))
		return resp_error(rp, 400, "bad_request", "%s: a string", field);
	n = json_string_length(v);
	if (n < min || n >= cap || strlen(json_string_value(v)) != n)
		return resp_error(rp, 400, "bad_request", "%s: %zu to %zu characters", field, min,
				  cap - 1);
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

/* rate_limit {per_minute, per_hour} into @k: 0 or the 400 answered. */
static int api_keys_limits(json_t *body, struct resp *rp, struct store_key *k)
{
	json_t *rl = json_object_get(body, "rate_limit"), *v;
	const char *name;

	if (!rl)
		return 0;
	if (!json_is_object(rl))
		return resp_error(rp, 400, "bad_request", "rate_limit: {per_minute, per_hour}");
	json_object_foreach(rl, name, v) {
		uint64_t *dst = !strcmp(name, "per_minute") ? &k->per_minute :
				!strcmp(name, "per_hour")   ? &k->per_hour :
							      NULL;

		if (!dst)
			return resp_error(rp, 400, "bad_request",
					  "rate_limit.%.64s: not a field (per_minute, per_hour)",
					  name);
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1000000000)
			return resp_error(rp, 400, "bad_request",
					  "rate_limit.%s: an integer from 1 to 1000000000", name);
		*dst = (uint64_t)json_integer_value(v);
	}
	return 0;
}

/* Only the fields API.md names: a misspelt one is an error, not silently ignored. */
static const char *const api_keys_known[] = { "name",	"description", "role",
					      "scopes", "tenant",	"rate_limit" };

static bool api_keys_tenant_ok(const char *t)
{
	size_t n = strlen(t);

	return n && n < FRAME_ID_MAX &&
	       strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int api_keys_create(struct req *rq, struct resp *rp)
{
	struct keys *reg = api_keys_registry(rq, rp);
	struct store_key k = { 0 };
	char key[APIKEY_LEN + 1];
	json_t *body, *doc;
	int err;

	if (!reg || api_common_body(rq, rp, false, &body))
		return -EINVAL;
	snprintf(k.tenant, sizeof(k.tenant), "%s", rq->tenant);
	err = api_common_fields(body, rp, "a key", api_keys_known, PRP_ARRAY_SIZE(api_keys_known));
	if (!err)
		err = api_keys_text(body, rp, "name", true, 1, k.name, sizeof(k.name));
	if (!err)
		err = api_keys_text(body, rp, "description", false, 0, k.description,
				    sizeof(k.description));
	if (!err)
		err = api_keys_text(body, rp, "tenant", false, 1, k.tenant, sizeof(k.tenant));
	if (!err)
		err = api_keys_role(body, rp, &k.role);
	if (!err)
		err = api_keys_limits(body, rp, &k);
	json_decref(body);
	if (err)
		return err;
	if (!api_keys_tenant_ok(k.tenant))
		return resp_error(rp, 400, "bad_request", "tenant: letters, digits, '.', '_', '-'");
	if (strcmp(k.tenant, rq->tenant) && strcmp(rq->tenant, KEYS_DEFAULT_TENANT))
		return resp_error(rp, 403, "forbidden",
				  "only an admin of the default tenant makes keys of other tenants");
	err = keys_create(reg, &k, rq->now_ms, key);
	if (err)
		return resp_error(rp, 500, "internal", "cannot make the key");
	doc = api_keys_item(&k);
	if (rq->env->audit) {
		char subject[32];

		snprintf(subject, sizeof(subject), "key:%lld", (long long)k.id);
		/* in the actor's log: a key made for another tenant is the platform admin's act */
		audit_log_write(rq->env->audit, rq->tenant, api_common_actor(rq), "key.created",
				subject, json_deep_copy(doc));
	}
	json_object_set_new(doc, "key", json_string(key));
	memset(key, 0, sizeof(key));
	return resp_json(rp, 201, doc);
}

int api_keys_list(struct req *rq, struct resp *rp)
{
	struct keys *reg = api_keys_registry(rq, rp);
	struct store_key *v;
	const char *revoked;
	json_t *list;
	size_t n;

	if (!reg || api_common_param(rq, rp, "include_revoked", &revoked))
		return -EINVAL;
	if (revoked && strcmp(revoked, "true") && strcmp(revoked, "false"))
		return resp_error(rp, 400, "bad_request", "include_revoked: true or false");
	keys_list(reg, rq->tenant, revoked && !strcmp(revoked, "true"), &v, &n);
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, api_keys_item(&v[i]));
	free(v);
	return resp_json(rp, 200, json_pack("{s:o, s:I}", "keys", list, "total", (json_int_t)n));
}

int api_keys_delete(struct req *rq, struct resp *rp)
{
	struct keys *reg = api_keys_registry(rq, rp);
	char subject[32];
	int64_t id;
	int err;

	if (!reg || api_common_id(rq, rp, "key", &id))
		return -EINVAL;
	err = keys_revoke(reg, rq->tenant, id, rq->now_ms);
	if (err == -ENOENT)
		return resp_error(rp, 404, "not_found", "no key with id %lld, or it is revoked",
				  (long long)id);
	if (err)
		return resp_error(rp, 500, "internal", "cannot revoke the key");
	snprintf(subject, sizeof(subject), "key:%lld", (long long)id);
	if (rq->env->audit)
		audit_log_write(rq->env->audit, rq->tenant, api_common_actor(rq), "key.revoked",
				subject, NULL);
	return resp_json(rp, 200, json_pack("{s:s, s:I}", "status", "revoked", "id", (json_int_t)id));
}

int api_keys_validate(struct req *rq, struct resp *rp)
{
	bool auth = rq->env && rq->env->keys;
	bool valid = rq->key_id || !auth;
	json_t *doc, *rl;

	/* a request with a bad key never gets here: the gate answers 401 */
	rl = rp->rate_limited ? json_pack("{s:I, s:I, s:I}", "limit", (json_int_t)rp->rate_limit,
					  "remaining", (json_int_t)rp->rate_remaining, "reset",
					  (json_int_t)rp->rate_reset_s) :
				json_null();
	doc = json_pack("{s:b, s:s, s:s, s:s, s:o, s:b, s:b}", "valid", valid, "name",
			rq->key_name ? rq->key_name : "", "role",
			role_name(rq->role), "tenant", rq->tenant, "rate_limit", rl, "allowed", true,
			"auth", auth);
	if (rq->key_id)
		json_object_set_new(doc, "key_id", json_integer(rq->key_id));
	return resp_json(rp, 200, doc);
}
