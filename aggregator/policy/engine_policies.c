/*
 * The engine's policies: loading them (the store, then the policy files)
 * and the API's create, update, delete, list and get. Every change is
 * validated by policy_doc_parse(), written to the store, audited, and
 * replaces the in-memory policy under e->lock, so the next evaluation (and
 * none before it) sees it; then, e->lock released, it is published as
 * policy.changed (engine_unlock_publish()).
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/events/bus.h"
#include "aggregator/policy/engine_internal.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

#define ENGINE_FILE_MAX_BYTES POLICY_DOC_MAX_BYTES

void engine_policy_release(struct engine_policy *ep)
{
	policy_doc_free(ep->doc);
	free(ep->origin);
	free(ep->source);
	free(ep->holds);
	memset(ep, 0, sizeof(*ep));
}

static struct engine_policy *find_by_id(struct engine *e, const char *tenant, int64_t id)
{
	for (size_t i = 0; i < e->npolicies; i++)
		if (e->policies[i].id == id && !strcmp(e->policies[i].tenant, tenant))
			return &e->policies[i];
	return NULL;
}

static struct engine_policy *find_by_name(struct engine *e, const char *tenant, const char *name)
{
	for (size_t i = 0; i < e->npolicies; i++)
		if (!strcmp(e->policies[i].tenant, tenant) &&
		    !strcmp(engine_policy_of(&e->policies[i])->name, name))
			return &e->policies[i];
	return NULL;
}

static struct engine_policy *add_policy(struct engine *e)
{
	if (e->npolicies == e->policies_alloc) {
		e->policies_alloc = e->policies_alloc ? 2 * e->policies_alloc : 16;
		e->policies = xreallocarray(e->policies, e->policies_alloc, sizeof(*e->policies));
	}
	memset(&e->policies[e->npolicies], 0, sizeof(e->policies[0]));
	return &e->policies[e->npolicies++];
}

static void remove_policy(struct engine *e, struct engine_policy *ep)
{
	size_t i = (size_t)(ep - e->policies);

	engine_policy_release(ep);
	memmove(&e->policies[i], &e->policies[i + 1], (e->npolicies - i - 1) * sizeof(*ep));
	e->npolicies--;
}

/* Parses @text as exactly one policy. */
static int parse_one(const char *text, size_t len, struct policy_doc **out,
		     struct policy_error *err)
{
	int ret = policy_doc_parse(text, len, out, err);

	if (ret)
		return ret;
	if ((*out)->n != 1) {
		int n = (int)(*out)->n;

		policy_doc_free(*out);
		*out = NULL;
		snprintf(err->field, sizeof(err->field), "policies");
		snprintf(err->message, sizeof(err->message),
			 "expected exactly one policy, found %d", n);
		snprintf(err->text, sizeof(err->text), "1:1: field 'policies': %s", err->message);
		err->line = err->column = 1;
		return -EINVAL;
	}
	return 0;
}

static void fail_doc(struct engine_result *r, const struct policy_error *err)
{
	engine_fail(r, 422, "invalid_policy", "%s", err->text);
	json_t *o = json_object_get(r->body, "error");

	json_object_set_new(o, "line", json_integer(err->line));
	json_object_set_new(o, "column", json_integer(err->column));
	json_object_set_new(o, "field", json_string(err->field));
	json_object_set_new(o, "detail", json_string(err->message));
}

static json_t *iso_time(int64_t ms)
{
	char iso[TIME_ISO_LEN];

	time_format_iso((uint64_t)ms * NSEC_PER_MSEC, iso);
	return json_string(iso);
}

static json_t *policy_json(const struct engine_policy *ep)
{
	json_t *o = policy_to_json(engine_policy_of(ep));

	json_object_set_new(o, "id", json_integer(ep->id));
	json_object_set_new(o, "origin", json_string(ep->origin));
	json_object_set_new(o, "created_at", iso_time(ep->created_ms));
	json_object_set_new(o, "updated_at", iso_time(ep->updated_ms));
	return o;
}

/* The data of policy.changed: {id, name, change: created|updated|deleted, actor}. */
static json_t *change_json(const struct engine_policy *ep, const char *change, const char *actor)
{
	return json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)ep->id, "name",
			 engine_policy_of(ep)->name, "change", change, "actor", actor);
}

/* The service of the event of @ep: the one it names when it names one ("*" is not one), else "". */
static void change_service(const struct engine_policy *ep, char out[SERVICE_NAME_MAX])
{
	const struct policy *p = engine_policy_of(ep);

	out[0] = '\0';
	if (p->nservices == 1 && strcmp(p->services[0], "*"))
		snprintf(out, SERVICE_NAME_MAX, "%s", p->services[0]);
}

/* Fills @ep from stored @sp: its source parsed. */
static int from_stored(struct engine_policy *ep, struct store_policy *sp)
{
	struct policy_error err;
	int ret = parse_one(sp->source, strlen(sp->source), &ep->doc, &err);

	if (ret) {
		log_warn("policy: stored policy %lld '%s' no longer validates, not loaded: %s",
			 (long long)sp->id, sp->name, err.text);
		return ret;
	}
	ep->id = sp->id;
	snprintf(ep->tenant, sizeof(ep->tenant), "%s", sp->tenant);
	ep->origin = sp->origin;
	ep->source = sp->source;
	sp->origin = sp->source = NULL;
	ep->created_ms = sp->created_ms;
	ep->updated_ms = sp->updated_ms;
	return 0;
}

/* Writes @doc's policy (text @source) as new or over @old_id, and into @ep. */
static int store_and_adopt(struct engine *e, const char *tenant, int64_t old_id,
			   const char *origin, const char *source, struct policy_doc *doc,
			   struct engine_policy *ep, int64_t created_ms)
{
	struct store_policy sp = { .id = old_id, .enabled = doc->policies[0].enabled };
	int64_t now = engine_now_ms(), id;
	int ret;

	snprintf(sp.tenant, sizeof(sp.tenant), "%s", tenant);
	snprintf(sp.name, sizeof(sp.name), "%s", doc->policies[0].name);
	sp.source = xstrdup(source);
	sp.origin = xstrdup(origin);
	sp.created_ms = created_ms ? created_ms : now;
	sp.updated_ms = now;
	ret = store_policy_put(e->store, &sp);
	id = sp.id;
	created_ms = sp.created_ms;
	store_policy_release(&sp);
	if (ret)
		return ret;
	free(ep->source);
	free(ep->origin);
	policy_doc_free(ep->doc);
	ep->id = id;
	snprintf(ep->tenant, sizeof(ep->tenant), "%s", tenant);
	ep->source = xstrdup(source);
	ep->origin = xstrdup(origin);
	ep->doc = doc;
	ep->created_ms = created_ms;
	ep->updated_ms = now;
	ep->nholds = 0; /* a changed policy starts its `for` and cooldowns afresh */
	return 0;
}

/* ---- loading ---- */

static int load_file(struct engine *e, const char *dir, const char *name)
{
	char path[4096], origin[4200], *text;
	struct policy_doc *doc = NULL;
	struct policy_error err;
	size_t len = 0;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(origin, sizeof(origin), "file:%s", path);
	f = fopen(path, "re");
	if (!f) {
		log_error("policy: cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	text = xmalloc(ENGINE_FILE_MAX_BYTES + 1);
	len = fread(text, 1, ENGINE_FILE_MAX_BYTES + 1, f);
	fclose(f);
	if (len > ENGINE_FILE_MAX_BYTES) {
		log_error("policy: %s is larger than %d bytes", path, ENGINE_FILE_MAX_BYTES);
		free(text);
		return -E2BIG;
	}
	ret = policy_doc_parse(text, len, &doc, &err);
	free(text);
	if (ret) {
		log_error("policy: %s:%s", path, err.text);
		return ret;
	}
	for (size_t i = 0; i < doc->n && !ret; i++) {
		struct policy_doc *one = NULL;
		struct engine_policy *ep = find_by_name(e, ENGINE_DEFAULT_TENANT,
							doc->policies[i].name);
		json_t *pj = policy_to_json(&doc->policies[i]);
		char *source = json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS);

		json_decref(pj);
		if (ep && strncmp(ep->origin, "file:", 5)) {
			log_info("policy: %s: '%s' was changed through the API; keeping that one",
				 path, doc->policies[i].name);
		} else if (ep && !strcmp(ep->source, source)) {
			/* unchanged since the last start */
		} else if (!(ret = parse_one(source, strlen(source), &one, &err))) {
			bool fresh = !ep;

			if (fresh)
				ep = add_policy(e);
			ret = store_and_adopt(e, ENGINE_DEFAULT_TENANT, fresh ? 0 : ep->id, origin,
					      source, one, ep, fresh ? 0 : ep->created_ms);
			if (ret) {
				policy_doc_free(one);
				if (fresh)
					e->npolicies--;
				log_error_err(ret, "policy: cannot store '%s' of %s",
					      doc->policies[i].name, path);
			} else {
				char service[SERVICE_NAME_MAX];

				engine_audit(e, ENGINE_DEFAULT_TENANT, "config",
					     fresh ? "policy.created" : "policy.updated", ep->id,
					     json_pack("{s:s}", "origin", origin));
				/* at start: no other thread has the engine yet, no lock to leave */
				change_service(ep, service);
				if (e->cfg.bus)
					(void)bus_publish(
						e->cfg.bus, ENGINE_DEFAULT_TENANT,
						BUS_POLICY_CHANGED, service, STORE_SEVERITY_INFO,
						change_json(ep, fresh ? "created" : "updated",
							    "config"));
			}
		}
		free(source);
	}
	if (!ret)
		log_info("policy: loaded %zu %s from %s", doc->n,
			 doc->n == 1 ? "policy" : "policies", path);
	policy_doc_free(doc);
	return ret;
}

static int yaml_name(const struct dirent *d)
{
	return d->d_name[0] != '.' && (!fnmatch("*.yaml", d->d_name, 0) ||
				       !fnmatch("*.yml", d->d_name, 0));
}

static int load_dir(struct engine *e, const char *dir)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, yaml_name, alphasort), ret = 0;

	if (n < 0) {
		if (errno == ENOENT) {
			log_info("policy: no policies directory %s; none loaded from files", dir);
			return 0;
		}
		log_error("policy: cannot list %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		if (!ret)
			ret = load_file(e, dir, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return ret;
}

int engine_policies_load(struct engine *e)
{
	struct store_policy *v = NULL;
	size_t n = 0;
	int ret = store_policies_list(e->store, NULL, &v, &n);

	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++) {
		struct engine_policy *ep = add_policy(e);

		if (from_stored(ep, &v[i]))
			e->npolicies--;
	}
	store_policies_free(v, n);
	if (e->policies_dir)
		ret = load_dir(e, e->policies_dir);
	return ret;
}

/* ---- the API ---- */

void engine_policy_list(struct engine *e, const char *tenant, struct engine_result *r)
{
	json_t *list = json_array();

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->npolicies; i++)
		if (!strcmp(e->policies[i].tenant, tenant))
			json_array_append_new(list, policy_json(&e->policies[i]));
	pthread_mutex_unlock(&e->lock);
	r->status = 200;
	r->body = json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(list), "policies",
			    list);
}

void engine_policy_get(struct engine *e, const char *tenant, int64_t id, struct engine_result *r)
{
	struct engine_policy *ep;

	pthread_mutex_lock(&e->lock);
	ep = find_by_id(e, tenant, id);
	if (ep) {
		r->status = 200;
		r->body = policy_json(ep);
	} else {
		engine_fail(r, 404, "not_found", "no policy %lld", (long long)id);
	}
	pthread_mutex_unlock(&e->lock);
}

void engine_policy_create(struct engine *e, const char *tenant, const char *actor,
			  const char *body, size_t len, struct engine_result *r)
{
	struct policy_doc *doc = NULL;
	struct policy_error err;
	struct engine_policy *ep;
	char service[SERVICE_NAME_MAX] = "";
	json_t *event = NULL;
	int ret;

	if (parse_one(body, len, &doc, &err)) {
		fail_doc(r, &err);
		return;
	}
	pthread_mutex_lock(&e->lock);
	if (find_by_name(e, tenant, doc->policies[0].name)) {
		engine_fail(r, 409, "conflict", "a policy named '%s' exists",
			    doc->policies[0].name);
		policy_doc_free(doc);
		goto out;
	}
	ep = add_policy(e);
	{
		char *source = xstrndup(body, len);

		ret = store_and_adopt(e, tenant, 0, "api", source, doc, ep, 0);
		free(source);
	}
	if (ret) {
		e->npolicies--;
		policy_doc_free(doc);
		engine_fail(r, 503, "store", "cannot store the policy: %s", strerror(-ret));
		goto out;
	}
	engine_audit(e, tenant, actor, "policy.created", ep->id,
		     json_pack("{s:s}", "name", engine_policy_of(ep)->name));
	log_info("policy: '%s' created (id %lld) by %s", engine_policy_of(ep)->name,
		 (long long)ep->id, actor);
	r->status = 201;
	r->body = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)ep->id, "status", "created",
			    "policy", policy_json(ep));
	event = change_json(ep, "created", actor);
	change_service(ep, service);
out:
	engine_unlock_publish(e, tenant, BUS_POLICY_CHANGED, service, STORE_SEVERITY_INFO, event);
}

/*
 * The text of @ep with the keys of JSON object @patch put over it; a key
 * that has an alternative spelling (service/services, action/actions)
 * removes the other.
 */
static char *merge_json(const struct engine_policy *ep, json_t *patch)
{
	json_t *base = policy_to_json(engine_policy_of(ep));
	char *text;

	if (json_object_get(patch, "service") || json_object_get(patch, "services")) {
		json_object_del(base, "service");
		json_object_del(base, "services");
	}
	if (json_object_get(patch, "action") || json_object_get(patch, "actions")) {
		json_object_del(base, "action");
		json_object_del(base, "actions");
	}
	json_object_update(base, patch);
	text = json_dumps(base, JSON_COMPACT);
	json_decref(base);
	return text;
}

void engine_policy_update(struct engine *e, const char *tenant, const char *actor, int64_t id,
			  const char *body, size_t len, bool yaml, struct engine_result *r)
{
	struct policy_doc *doc = NULL;
	struct policy_error err;
	struct engine_policy *ep, *other;
	char *source = NULL, service[SERVICE_NAME_MAX] = "";
	json_t *patch = NULL, *event = NULL;
	int ret;

	if (!yaml) {
		json_error_t jerr;

		patch = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(patch)) {
			engine_fail(r, 400, "invalid_json", "the body is not a JSON object: %s",
				    patch ? "not an object" : jerr.text);
			json_decref(patch);
			return;
		}
	}
	pthread_mutex_lock(&e->lock);
	ep = find_by_id(e, tenant, id);
	if (!ep) {
		engine_fail(r, 404, "not_found", "no policy %lld", (long long)id);
		goto out;
	}
	source = patch ? merge_json(ep, patch) : xstrndup(body, len);
	if (parse_one(source, strlen(source), &doc, &err)) {
		fail_doc(r, &err);
		goto out;
	}
	other = find_by_name(e, tenant, doc->policies[0].name);
	if (other && other != ep) {
		engine_fail(r, 409, "conflict", "a policy named '%s' exists",
			    doc->policies[0].name);
		policy_doc_free(doc);
		goto out;
	}
	ret = store_and_adopt(e, tenant, ep->id, "api", source, doc, ep, ep->created_ms);
	if (ret) {
		policy_doc_free(doc);
		engine_fail(r, ret == -EEXIST ? 409 : 503, ret == -EEXIST ? "conflict" : "store",
			    "cannot store the policy: %s", strerror(-ret));
		goto out;
	}
	engine_audit(e, tenant, actor, "policy.updated", ep->id,
		     json_pack("{s:s}", "name", engine_policy_of(ep)->name));
	log_info("policy: '%s' updated (id %lld) by %s", engine_policy_of(ep)->name,
		 (long long)ep->id, actor);
	r->status = 200;
	r->body = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)ep->id, "status", "updated",
			    "policy", policy_json(ep));
	event = change_json(ep, "updated", actor);
	change_service(ep, service);
out:
	engine_unlock_publish(e, tenant, BUS_POLICY_CHANGED, service, STORE_SEVERITY_INFO, event);
	free(source);
	json_decref(patch);
}

void engine_policy_delete(struct engine *e, const char *tenant, const char *actor, int64_t id,
			  struct engine_result *r)
{
	struct engine_policy *ep;
	char service[SERVICE_NAME_MAX] = "";
	json_t *event = NULL;
	int ret;

	pthread_mutex_lock(&e->lock);
	ep = find_by_id(e, tenant, id);
	if (!ep) {
		engine_fail(r, 404, "not_found", "no policy %lld", (long long)id);
		goto out;
	}
	ret = store_policy_delete(e->store, tenant, id);
	if (ret && ret != -ENOENT) {
		engine_fail(r, 503, "store", "cannot delete the policy: %s", strerror(-ret));
		goto out;
	}
	engine_audit(e, tenant, actor, "policy.deleted", id,
		     json_pack("{s:s}", "name", engine_policy_of(ep)->name));
	log_info("policy: '%s' deleted (id %lld) by %s", engine_policy_of(ep)->name,
		 (long long)id, actor);
	event = change_json(ep, "deleted", actor);
	change_service(ep, service);
	remove_policy(e, ep);
	r->status = 200;
	r->body = json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "deleted");
out:
	engine_unlock_publish(e, tenant, BUS_POLICY_CHANGED, service, STORE_SEVERITY_INFO, event);
}
