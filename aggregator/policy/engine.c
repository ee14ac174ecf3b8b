/*
 * The policy engine's evaluation (engine.h): once per second, 400 ms past
 * the second (after detection's cycle at +250 ms, so the anomalies and
 * predictions of the same second are in), every enabled policy against
 * every live service it covers. What fires becomes one action per entry of
 * the policy's actions, executed or recorded as skipped.
 */
#include "aggregator/policy/engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregator/detect/detection.h"
#include "aggregator/events/bus.h"
#include "aggregator/policy/engine_internal.h"
#include "aggregator/policy/executor.h"
#include "aggregator/policy/executor_events.h"
#include "aggregator/series.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

#define ENGINE_PHASE_MS	       400
#define ENGINE_LIVE_S	       60	       /* a service silent longer is not evaluated */
#define ENGINE_HOLD_FORGET_MS  (600 * 1000) /* state of a service gone this long is dropped */
#define ENGINE_HOUR_MS	       (3600 * 1000)
#define ENGINE_REASON_MAX      512

int64_t engine_now_ms(void)
{
	return (int64_t)(time_real_ns() / 1000000);
}

void engine_config_default(struct engine_config *c)
{
	memset(c, 0, sizeof(*c));
	c->auto_remediation = true;
	c->max_actions_per_hour = 20;
	c->interval_ms = 1000;
}

void engine_result_release(struct engine_result *r)
{
	json_decref(r->body);
	r->body = NULL;
}

void engine_fail(struct engine_result *r, int status, const char *code, const char *fmt, ...)
{
	char message[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	json_decref(r->body);
	r->status = status;
	r->body = json_pack("{s:{s:i, s:s, s:s}}", "error", "status", status, "code", code,
			    "message", message);
}

void engine_unlock_publish(struct engine *e, const char *tenant, enum bus_type type,
			   const char *service, enum store_severity severity, json_t *data)
{
	if (!data || !e->cfg.bus) {
		pthread_mutex_unlock(&e->lock);
		json_decref(data);
		return;
	}
	pthread_mutex_lock(&e->publish_mu);
	pthread_mutex_unlock(&e->lock);
	(void)bus_publish(e->cfg.bus, tenant, type, service, severity, data);
	pthread_mutex_unlock(&e->publish_mu);
}

void engine_audit(struct engine *e, const char *tenant, const char *actor, const char *action,
		  int64_t policy_id, json_t *detail)
{
	struct store_audit a = { .at_ms = engine_now_ms() };
	int ret;

	snprintf(a.tenant, sizeof(a.tenant), "%s", tenant);
	snprintf(a.actor, sizeof(a.actor), "%s", actor);
	snprintf(a.action, sizeof(a.action), "%s", action);
	if (policy_id)
		snprintf(a.subject, sizeof(a.subject), "policy:%lld", (long long)policy_id);
	else
		snprintf(a.subject, sizeof(a.subject), "engine");
	a.detail = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	json_decref(detail);
	ret = store_audit_append(e->store, &a);
	if (ret)
		log_warn_err(ret, "policy: cannot audit %s by %s", action, actor);
	free(a.detail);
}

/* ---- the brake ---- */

static void brake_expire(struct engine *e, int64_t now)
{
	size_t k = 0;

	while (k < e->nbrake && e->brake[k] <= now - ENGINE_HOUR_MS)
		k++;
	memmove(e->brake, e->brake + k, (e->nbrake - k) * sizeof(e->brake[0]));
	e->nbrake -= k;
}

static void brake_add(struct engine *e, int64_t t)
{
	if (e->nbrake == ENGINE_BRAKE_MAX) {
		memmove(e->brake, e->brake + 1, (ENGINE_BRAKE_MAX - 1) * sizeof(e->brake[0]));
		e->nbrake--;
	}
	e->brake[e->nbrake++] = t;
}

/*
 * Whether @t changes the system (and so counts against the hourly brake):
 * alerts and webhooks only tell, and must still go out when the brake
 * holds, which is exactly when someone should hear of it.
 */
static bool remediates(enum policy_action_type t)
{
	return t != POLICY_ACTION_ALERT && t != POLICY_ACTION_WEBHOOK;
}

static size_t remedies_of(const struct policy *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nactions; i++)
		n += remediates(p->actions[i].type);
	return n;
}

/* The remedies executed in the last hour, from the store: a restart does not reset the brake. */
static void brake_load(struct engine *e, int64_t now)
{
	struct store_action_filter f = { .status = -1,
					 .since_ms = now - ENGINE_HOUR_MS,
					 .limit = ENGINE_BRAKE_MAX * 4 };
	struct store_action *v = NULL;
	size_t n = 0;

	if (store_actions_list(e->store, &f, &v, &n, NULL))
		return;
	for (size_t i = n; i-- > 0;) { /* oldest first */
		int t = -1;

		for (int k = 0; k < POLICY_ACTION_COUNT && t < 0; k++)
			if (!strcmp(v[i].type, policy_action_type_name((enum policy_action_type)k)))
				t = k;
		if (t >= 0 && remediates((enum policy_action_type)t) &&
		    v[i].status != STORE_ACTION_SKIPPED)
			brake_add(e, v[i].created_ms);
	}
	store_actions_free(v, n);
}

/* ---- decisions ---- */

static struct engine_hold *hold_of(struct engine_policy *ep, const char *service)
{
	struct engine_hold *h;

	for (size_t i = 0; i < ep->nholds; i++)
		if (!strcmp(ep->holds[i].service, service))
			return &ep->holds[i];
	if (ep->nholds == ep->holds_alloc) {
		ep->holds_alloc = ep->holds_alloc ? 2 * ep->holds_alloc : 4;
		ep->holds = xreallocarray(ep->holds, ep->holds_alloc, sizeof(*ep->holds));
	}
	h = &ep->holds[ep->nholds++];
	memset(h, 0, sizeof(*h));
	snprintf(h->service, sizeof(h->service), "%s", service);
	return h;
}

static void holds_forget(struct engine_policy *ep, int64_t now)
{
	size_t k = 0;

	for (size_t i = 0; i < ep->nholds; i++)
		if (now - ep->holds[i].seen_ms < ENGINE_HOLD_FORGET_MS ||
		    now - ep->holds[i].last_fired_ms < engine_policy_of(ep)->cooldown_ms)
			ep->holds[k++] = ep->holds[i];
	ep->nholds = k;
}

struct reason_buf {
	char text[ENGINE_REASON_MAX];
	size_t len;
};

static void reason_atom(const char *atom, void *arg)
{
	struct reason_buf *b = arg;

	if (b->len < sizeof(b->text))
		b->len += (size_t)snprintf(b->text + b->len, sizeof(b->text) - b->len, "%s%s",
					   b->len ? " and " : "", atom);
}

/* "error_rate > 0.2 and anomaly(latency_p99) held for 10 s" */
static void reason_of(const struct policy *p, const struct condition_facts *f, char *out,
		      size_t cap)
{
	struct reason_buf b = { .len = 0 };

	b.text[0] = '\0';
	condition_matched(p->condition, f, reason_atom, &b);
	if (p->for_ms)
		snprintf(out, cap, "%.400s held for %lld s", b.text, (long long)(p->for_ms / 1000));
	else
		snprintf(out, cap, "%s", b.text);
}

/* Writes a decision that is not run. */
static int record(struct engine *e, struct store_action *a)
{
	if (e->cfg.executor)
		return executor_record(e->cfg.executor, a);
	return store_action_put(e->store, a);
}

static json_t *decision_json(const struct store_action *a)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "action_id", (json_int_t)a->id,
			 "policy_name", a->policy_name, "service", a->service, "action", a->type,
			 "status", store_action_status_name(a->status), "reason",
			 a->reason ? a->reason : "");
}

/*
 * The policy of @ep fired for @hold's service: one action per entry, run
 * or skipped for @skip (NULL: run). Appends each decision to @out (may be
 * NULL).
 */
static void decide(struct engine *e, struct engine_policy *ep, struct engine_hold *hold,
		   const char *reason, const char *skip_all, const char *skip_remedies,
		   int64_t now, json_t *out)
{
	const struct policy *p = engine_policy_of(ep);

	for (size_t i = 0; i < p->nactions; i++) {
		struct store_action a = { .created_ms = now };
		bool remedy = remediates(p->actions[i].type);
		const char *skip = skip_all ? skip_all : remedy ? skip_remedies : NULL;
		int ret;

		snprintf(a.tenant, sizeof(a.tenant), "%s", ep->tenant);
		snprintf(a.policy_name, sizeof(a.policy_name), "%s", p->name);
		snprintf(a.service, sizeof(a.service), "%s", hold->service);
		snprintf(a.type, sizeof(a.type), "%s", policy_action_type_name(p->actions[i].type));
		a.parameters = xstrdup(p->actions[i].params_json);
		a.reason = xstrdup(reason);
		if (skip || !e->cfg.executor) {
			json_t *why = json_pack("{s:s}", "skipped", skip ? skip : "no executor");
			char *result = json_dumps(why, JSON_COMPACT);

			json_decref(why);
			a.status = STORE_ACTION_SKIPPED;
			a.completed_ms = now;
			a.result = result;
			ret = record(e, &a);
			e->skipped++;
			log_info("policy: '%s' fired for %s: %s skipped (%s)", p->name, hold->service,
				 a.type, skip ? skip : "no executor");
		} else {
			a.status = STORE_ACTION_PENDING;
			ret = executor_submit(e->cfg.executor, &a);
			if (!ret) {
				e->executed++;
				if (remedy)
					brake_add(e, now);
			}
			log_info("policy: '%s' fired for %s: %s (%s)", p->name, hold->service,
				 a.type, reason);
		}
		if (ret)
			log_warn_err(ret, "policy: cannot record the %s of '%s'", a.type, p->name);
		else if (out)
			json_array_append_new(out, decision_json(&a));
		store_action_release(&a);
	}
	hold->last_fired_ms = now;
}

/* The decision for a policy whose condition has held long enough. */
static void fire(struct engine *e, struct engine_policy *ep, struct engine_hold *hold,
		 const struct condition_facts *f, int64_t now, json_t *out)
{
	const struct policy *p = engine_policy_of(ep);
	char reason[ENGINE_REASON_MAX], skip[160];
	size_t remedies = remedies_of(p);

	reason_of(p, f, reason, sizeof(reason));
	if (hold->last_fired_ms && now - hold->last_fired_ms < p->cooldown_ms) {
		/* once per cooldown, not every second it still holds */
		if (hold->last_skip_ms && hold->last_skip_ms >= hold->last_fired_ms)
			return;
		snprintf(skip, sizeof(skip), "cooldown: %lld s left",
			 (long long)((p->cooldown_ms - (now - hold->last_fired_ms) + 999) / 1000));
		hold->last_skip_ms = now;
		int64_t fired = hold->last_fired_ms;

		decide(e, ep, hold, reason, skip, NULL, now, out);
		hold->last_fired_ms = fired; /* a skip does not restart the cooldown */
		return;
	}
	brake_expire(e, now);
	if (p->dry_run) {
		decide(e, ep, hold, reason, "dry run", NULL, now, out);
	} else if (!e->auto_remediation) {
		decide(e, ep, hold, reason, "auto-remediation is off", NULL, now, out);
	} else if (remedies && e->cfg.max_actions_per_hour &&
		   e->nbrake + remedies > e->cfg.max_actions_per_hour) {
		snprintf(skip, sizeof(skip), "hourly brake: %zu of %u actions in the last hour",
			 e->nbrake, e->cfg.max_actions_per_hour);
		log_warn("policy: the hourly brake holds back '%s' for %s (%zu actions in the "
			 "last hour)",
			 p->name, hold->service, e->nbrake);
		decide(e, ep, hold, reason, NULL, skip, now, out);
	} else {
		decide(e, ep, hold, reason, NULL, NULL, now, out);
	}
}

static void evaluate_policy(struct engine *e, struct engine_policy *ep,
			    const struct series_health *h, size_t nh,
			    const struct store_anomaly *open, size_t nopen,
			    const struct detection_prediction *pred, size_t npred, int64_t now,
			    json_t *out)
{
	const struct policy *p = engine_policy_of(ep);
	int64_t now_s = engine_facts_now_s();

	for (size_t i = 0; i < nh; i++) {
		struct condition_facts f;
		struct engine_hold *hold;

		if (h[i].last_seen_s < now_s - ENGINE_LIVE_S ||
		    !policy_applies_to(p, h[i].service))
			continue;
		hold = hold_of(ep, h[i].service);
		hold->seen_ms = now;
		engine_facts_from(&h[i], open, nopen, pred, npred, &f);
		if (!condition_eval(p->condition, &f)) {
			hold->held_since_ms = 0;
			continue;
		}
		if (!hold->held_since_ms)
			hold->held_since_ms = now;
		if (now - hold->held_since_ms >= p->for_ms)
			fire(e, ep, hold, &f, now, out);
	}
	holds_forget(ep, now);
}

/* Evaluates the policies of @only (NULL: every tenant). Under e->lock. */
static void evaluate(struct engine *e, const char *only, json_t *out)
{
	int64_t now = engine_now_ms();

	for (size_t i = 0; i < e->npolicies; i++) {
		const char *tenant = e->policies[i].tenant;
		struct series_health *h = NULL;
		struct store_anomaly *open = NULL;
		struct detection_prediction *pred = NULL;
		size_t nh = 0, nopen = 0, npred = 0;
		struct store_anomaly_filter af = { .tenant = tenant, .status = 1 };
		bool seen = false;

		if (only && strcmp(tenant, only))
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(e->policies[j].tenant, tenant);
		if (seen)
			continue; /* its tenant was done with the first of its policies */
		if (series_health(e->cfg.series, tenant, engine_facts_now_s(),
				  ENGINE_FACTS_WINDOW_S, &h, &nh))
			continue;
		if (store_anomalies_list(e->store, &af, &open, &nopen, NULL))
			nopen = 0;
		if (e->cfg.detection &&
		    detection_predictions(e->cfg.detection, tenant, NULL, &pred, &npred))
			npred = 0;
		for (size_t j = i; j < e->npolicies; j++) {
			struct engine_policy *ep = &e->policies[j];

			if (!strcmp(ep->tenant, tenant) && engine_policy_of(ep)->enabled)
				evaluate_policy(e, ep, h, nh, open, nopen, pred, npred, now, out);
		}
		store_anomalies_free(open, nopen);
		free(pred);
		free(h);
	}
	e->evaluations++;
	e->last_check_ms = now;
}

/* ---- the thread ---- */

static bool wait_next(struct engine *e)
{
	struct timespec until;
	int64_t ms = engine_now_ms(), next;
	bool stopping;

	if (e->cfg.interval_ms == 1000) {
		next = (ms / 1000 + 1) * 1000 + ENGINE_PHASE_MS;
		if (next - ms > 1000)
			next -= 1000;
	} else {
		next = ms + e->cfg.interval_ms;
	}
	until.tv_sec = next / 1000;
	until.tv_nsec = (long)(next % 1000) * 1000000L;
	pthread_mutex_lock(&e->stop_mu);
	while (!e->stopping &&
	       pthread_cond_timedwait(&e->stop_cv, &e->stop_mu, &until) != ETIMEDOUT)
		;
	stopping = e->stopping;
	pthread_mutex_unlock(&e->stop_mu);
	return !stopping;
}

static void *engine_thread(void *arg)
{
	struct engine *e = arg;

	while (wait_next(e)) {
		pthread_mutex_lock(&e->lock);
		evaluate(e, NULL, NULL);
		pthread_mutex_unlock(&e->lock);
		if (e->cfg.executor)
			executor_tick(e->cfg.executor, engine_now_ms());
	}
	return NULL;
}

int engine_start(struct engine **out, const struct engine_config *c)
{
	struct engine *e;
	int64_t now = engine_now_ms();
	int ret;

	*out = NULL;
	if (!c->series)
		return -EINVAL;
	e = xcalloc(1, sizeof(*e));
	e->cfg = *c;
	if (!e->cfg.interval_ms)
		e->cfg.interval_ms = 1000;
	e->policies_dir = c->policies_dir && *c->policies_dir ? xstrdup(c->policies_dir) : NULL;
	e->auto_remediation = c->auto_remediation;
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->publish_mu, NULL);
	pthread_mutex_init(&e->stop_mu, NULL);
	pthread_cond_init(&e->stop_cv, NULL);
	ret = store_open(&e->store, &c->store);
	if (ret) {
		log_error_err(ret, "policy: cannot open the store");
		goto fail;
	}
	ret = engine_policies_load(e);
	if (ret)
		goto fail;
	/* the brake counts what the previous run did in the last hour too */
	brake_load(e, now);
	ret = -pthread_create(&e->thread, NULL, engine_thread, e);
	if (ret) {
		log_error_err(ret, "policy: cannot start the engine's thread");
		goto fail;
	}
	e->started = true;
	log_info("policy: engine started: %zu policies, auto-remediation %s, at most %u actions "
		 "per hour",
		 e->npolicies, e->auto_remediation ? "on" : "off", e->cfg.max_actions_per_hour);
	*out = e;
	return 0;
fail:
	engine_stop(e);
	return ret;
}

void engine_stop(struct engine *e)
{
	if (!e)
		return;
	if (e->started) {
		pthread_mutex_lock(&e->stop_mu);
		e->stopping = true;
		pthread_cond_signal(&e->stop_cv);
		pthread_mutex_unlock(&e->stop_mu);
		pthread_join(e->thread, NULL);
		log_info("policy: engine stopped after %llu evaluations, %llu actions executed, "
			 "%llu skipped",
			 (unsigned long long)e->evaluations, (unsigned long long)e->executed,
			 (unsigned long long)e->skipped);
	}
	for (size_t i = 0; i < e->npolicies; i++)
		engine_policy_release(&e->policies[i]);
	free(e->policies);
	store_close(e->store);
	free(e->policies_dir);
	pthread_cond_destroy(&e->stop_cv);
	pthread_mutex_destroy(&e->stop_mu);
	pthread_mutex_destroy(&e->publish_mu);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

/* ---- control ---- */

void engine_evaluate_now(struct engine *e, const char *tenant, struct engine_result *r)
{
	json_t *actions = json_array();
	size_t n;

	pthread_mutex_lock(&e->lock);
	evaluate(e, tenant, actions);
	pthread_mutex_unlock(&e->lock);
	n = json_array_size(actions);
	r->status = 200;
	r->body = json_pack("{s:s+, s:o}", "message",
			    n ? "policies evaluated; decisions: " : "policies evaluated; ",
			    n ? "see actions" : "nothing fired", "actions", actions);
}

bool engine_toggle(struct engine *e, const char *tenant, const char *actor, int on)
{
	bool now_on;

	pthread_mutex_lock(&e->lock);
	e->auto_remediation = on < 0 ? !e->auto_remediation : on > 0;
	now_on = e->auto_remediation;
	engine_audit(e, tenant, actor, "toggle", 0,
		     json_pack("{s:b}", "auto_remediation_enabled", now_on));
	pthread_mutex_unlock(&e->lock);
	log_info("policy: auto-remediation %s by %s", now_on ? "on" : "off", actor);
	return now_on;
}

void engine_get_status(struct engine *e, struct engine_status *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&e->lock);
	brake_expire(e, engine_now_ms());
	st->auto_remediation_enabled = e->auto_remediation;
	st->policies_loaded = e->npolicies;
	for (size_t i = 0; i < e->npolicies; i++)
		st->policies_enabled += engine_policy_of(&e->policies[i])->enabled;
	st->actions_executed = e->executed;
	st->actions_skipped = e->skipped;
	st->evaluations = e->evaluations;
	st->last_check_ms = e->last_check_ms;
	st->max_actions_per_hour = e->cfg.max_actions_per_hour;
	st->actions_last_hour = e->nbrake;
	pthread_mutex_unlock(&e->lock);
}

/* Whether the series knows @service of @tenant (idle ones included). */
static bool service_known(struct engine *e, const char *tenant, const char *service)
{
	struct series_health *h = NULL;
	size_t n = 0;
	bool found = false;

	if (series_health(e->cfg.series, tenant, engine_facts_now_s(), ENGINE_FACTS_WINDOW_S, &h,
			  &n))
		return false;
	for (size_t i = 0; i < n && !found; i++)
		found = !strcmp(h[i].service, service);
	free(h);
	return found;
}

void engine_execute(struct engine *e, const char *tenant, const char *actor, const char *type,
		    const char *service, const char *reason, json_t *params,
		    struct engine_result *r)
{
	json_t *doc, *action;
	struct policy_doc *pd = NULL;
	struct policy_error err;
	struct store_action a = { .created_ms = engine_now_ms() };
	char *text;
	int ret;

	if (!type || !*type || !service || !*service) {
		engine_fail(r, 400, "bad_request", "%s is required", !type || !*type ? "action" : "service");
		return;
	}
	if (params && !json_is_object(params)) {
		engine_fail(r, 400, "bad_request", "parameters: must be an object");
		return;
	}
	/* validated exactly as a policy's action would be */
	action = json_pack("{s:s}", "type", type);
	if (params)
		json_object_set(action, "parameters", params);
	doc = json_pack("{s:s, s:s, s:s, s:[o]}", "name", "manual", "service", service, "condition",
			"error_rate >= 0", "actions", action);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	ret = policy_doc_parse(text, strlen(text), &pd, &err);
	free(text);
	if (ret) {
		const char *field = strncmp(err.field, "actions[0].", 11) ? err.field : err.field + 11;

		if (!strcmp(field, "actions[0]") || !strcmp(field, "type"))
			field = "action";
		engine_fail(r, 400, "bad_request", "%s: %s", field, err.message);
		return;
	}
	if (!service_known(e, tenant, service)) {
		policy_doc_free(pd);
		engine_fail(r, 404, "not_found", "no service '%s' reported by the agents", service);
		return;
	}
	snprintf(a.tenant, sizeof(a.tenant), "%s", tenant);
	snprintf(a.service, sizeof(a.service), "%s", service);
	snprintf(a.type, sizeof(a.type), "%s",
		 policy_action_type_name(pd->policies[0].actions[0].type));
	a.parameters = xstrdup(pd->policies[0].actions[0].params_json);
	a.reason = xstrdup(reason && *reason ? reason : "manual");
	pthread_mutex_lock(&e->lock);
	if (e->cfg.executor) {
		ret = executor_submit(e->cfg.executor, &a);
	} else {
		a.status = STORE_ACTION_FAILED;
		a.completed_ms = a.created_ms;
		a.result = xstrdup("{\"error\":\"no executor is running\"}");
		ret = store_action_put(e->store, &a);
	}
	if (!ret)
		engine_audit(e, tenant, actor, "action.execute", 0,
			     json_pack("{s:I, s:s, s:s}", "action_id", (json_int_t)a.id, "action",
				       a.type, "service", service));
	pthread_mutex_unlock(&e->lock);
	/* the executor publishes what it runs; an action failed here is ours to */
	if (!ret && !e->cfg.executor)
		executor_events_publish(e->cfg.bus, &a);
	policy_doc_free(pd);
	if (ret) {
		engine_fail(r, 503, "store", "cannot record the action: %s", strerror(-ret));
	} else {
		log_info("policy: manual %s on %s by %s (action %lld)", a.type, service, actor,
			 (long long)a.id);
		r->status = 202;
		r->body = json_pack("{s:I, s:s}", "action_id", (json_int_t)a.id, "status",
				    e->cfg.executor ? "pending" : "failed");
	}
	store_action_release(&a);
}

/* ---- dry runs ---- */

struct matched_list {
	json_t *list;
};

static void matched_add(const char *atom, void *arg)
{
	json_array_append_new(((struct matched_list *)arg)->list, json_string(atom));
}

static json_t *test_one(const struct policy *p, const char *service,
			const struct condition_facts *f, bool *fires)
{
	struct matched_list m = { json_array() };

	*fires = condition_eval(p->condition, f);
	condition_matched(p->condition, f, matched_add, &m);
	return json_pack("{s:s?, s:b, s:o, s:o}", "service", service, "would_trigger", *fires,
			 "matched_conditions", m.list, "facts", engine_facts_json(f));
}

void engine_policy_test(struct engine *e, const char *tenant, int64_t id, const char *service,
			const struct condition_facts *given, struct engine_result *r)
{
	struct engine_policy *ep = NULL;
	struct policy_doc *copy = NULL;
	struct policy_error err;
	struct series_health *h = NULL;
	size_t nh = 0;
	json_t *services = json_array(), *matched = json_array(), *todo = json_array();
	bool any = false;
	char *source = NULL;

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->npolicies && !ep; i++)
		if (e->policies[i].id == id && !strcmp(e->policies[i].tenant, tenant))
			ep = &e->policies[i];
	if (ep)
		source = xstrdup(ep->source);
	pthread_mutex_unlock(&e->lock);
	/* a private copy: the policy may change or go while the facts are gathered */
	if (!source || policy_doc_parse(source, strlen(source), &copy, &err)) {
		free(source);
		json_decref(services);
		json_decref(matched);
		json_decref(todo);
		engine_fail(r, 404, "not_found", "no policy %lld", (long long)id);
		return;
	}
	free(source);
	const struct policy *p = &copy->policies[0];

	if (given) {
		bool fires;
		json_t *one = test_one(p, service, given, &fires);

		json_array_extend(matched, json_object_get(one, "matched_conditions"));
		json_array_append_new(services, one);
		any = fires;
	} else {
		bool found = false;

		if (series_health(e->cfg.series, tenant, engine_facts_now_s(),
				  ENGINE_FACTS_WINDOW_S, &h, &nh))
			nh = 0;
		for (size_t i = 0; i < nh; i++) {
			struct condition_facts f;
			bool fires;
			json_t *one;

			if (service ? strcmp(h[i].service, service)
				    : !policy_applies_to(p, h[i].service))
				continue;
			found = true;
			engine_facts(e, tenant, h[i].service, &f);
			one = test_one(p, h[i].service, &f, &fires);
			if (fires && !any)
				json_array_extend(matched, json_object_get(one, "matched_conditions"));
			any |= fires;
			json_array_append_new(services, one);
		}
		free(h);
		if (service && !found) {
			json_decref(services);
			json_decref(matched);
			json_decref(todo);
			policy_doc_free(copy);
			engine_fail(r, 400, "bad_request", "service: no service '%s' reported by the agents",
				    service);
			return;
		}
	}
	for (size_t i = 0; any && i < p->nactions; i++)
		json_array_append_new(todo, json_pack("{s:s, s:o}", "type",
						      policy_action_type_name(p->actions[i].type),
						      "parameters",
						      json_loads(p->actions[i].params_json, 0, NULL)));
	r->status = 200;
	r->body = json_pack("{s:I, s:s, s:b, s:o, s:o, s:o, s:b}", "policy_id", (json_int_t)id,
			    "policy_name", p->name, "would_trigger", any, "matched_conditions",
			    matched, "actions_to_execute", todo, "services", services, "dry_run", 1);
	policy_doc_free(copy);
}
