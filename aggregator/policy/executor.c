/*
 * The executor: two queues and their threads, the store's copy of every
 * action, and the breaker loop's clock.
 *
 * Circuit breakers have a queue and a thread of their own: their steps are
 * short (one round trip to the agents, agent_timeout_ms at most) and late
 * ones hurt (a breaker left open cuts a healthy service off), so they must
 * never wait behind a restart (restart_timeout_ms) or a slow command
 * (exec_timeout_ms) on the general workers. Breaker steps run in order on
 * that one thread, so an open, its half-open and its close never race.
 *
 * Every change of an action is written to the store at once (one writer
 * connection, under store_lock), so GET /actions/{id}/status follows it
 * and a crash leaves it pending or running, which the next start marks
 * failed. Where an action ends (run_job(), end_with(), close_breakers())
 * its event goes to the bus, with no lock of ours held.
 */
#include "aggregator/policy/executor.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/policy/action_agent.h"
#include "aggregator/policy/action_ctx.h"
#include "aggregator/policy/action_exec.h"
#include "aggregator/policy/action_notify.h"
#include "aggregator/policy/action_scale.h"
#include "aggregator/policy/agent_cmd.h"
#include "aggregator/policy/breaker_loop.h"
#include "aggregator/policy/executor_events.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

#define STALE_BATCH 256 /* actions marked failed per store call at start */

static const struct {
	const char *type;
	action_run_fn *run;
	bool breaker_queue;
} handlers[] = {
	{ "restart", action_agent_restart, false },
	{ "scale", action_scale_run, false },
	{ "circuit_breaker", action_agent_breaker, true },
	{ "rate_limit", action_agent_rate_limit, false },
	{ "alert", action_notify_alert, false },
	{ "webhook", action_notify_webhook, false },
	{ "exec", action_exec_run, false },
};

struct job {
	struct store_action a;
	bool transition; /* a step of the breaker loop */
	struct job *next;
};

struct queue {
	struct job *head, *tail;
	size_t n;
};

struct worker {
	struct executor *x;
	struct queue *q;
	pthread_t thread;
};

struct executor {
	struct executor_config cfg; /* strings and exec_allow owned (copies) */
	struct breaker_loop *loop;

	pthread_mutex_t store_lock; /* guards store */
	struct store *store;

	pthread_mutex_t lock; /* guards general, breaker, stopping, running */
	pthread_cond_t wake;
	struct queue general, breaker;
	bool stopping;
	size_t running;

	struct worker *workers; /* cfg.workers general ones, then the breaker thread */
	size_t nworkers;

	atomic_uint_fast64_t submitted, succeeded, failed, timed_out, recorded;
};

static int64_t now_ms(void)
{
	return (int64_t)(time_real_ns() / NSEC_PER_MSEC);
}

/* @ms as seconds the way the canonical parameters write them: "60", "1.5". */
static void seconds_text(int64_t ms, char out[32])
{
	int n = snprintf(out, 32, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));

	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
}

void executor_config_default(struct executor_config *c)
{
	memset(c, 0, sizeof(*c));
	c->exec_timeout_ms = 30000;
	c->agent_timeout_ms = 10000;
	c->restart_timeout_ms = 60000;
	c->kube_namespace = "default";
	c->workers = 2;
	c->probe_window_ms = 10000;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* @c into x->cfg: copies of every string, zeros replaced by the defaults. */
static void config_copy(struct executor *x, const struct executor_config *c)
{
	struct executor_config d;
	char **allow = xcalloc(c->nexec_allow ? c->nexec_allow : 1, sizeof(*allow));

	executor_config_default(&d);
	x->cfg = *c;
	for (size_t i = 0; i < c->nexec_allow; i++)
		allow[i] = xstrdup(c->exec_allow[i]);
	x->cfg.exec_allow = (const char *const *)allow;
	x->cfg.store.dir = dup_or_null(c->store.dir);
	x->cfg.scale_command = dup_or_null(c->scale_command);
	x->cfg.kube_api = dup_or_null(c->kube_api);
	x->cfg.kube_namespace = xstrdup(c->kube_namespace ? c->kube_namespace : d.kube_namespace);
	x->cfg.kube_token_file = dup_or_null(c->kube_token_file);
	x->cfg.kube_ca_file = dup_or_null(c->kube_ca_file);
	x->cfg.alert_url = dup_or_null(c->alert_url);
	x->cfg.webhook_secret = dup_or_null(c->webhook_secret);
#define DEFAULT(f)                                                                                 \
	if (!x->cfg.f)                                                                             \
	x->cfg.f = d.f
	DEFAULT(exec_timeout_ms);
	DEFAULT(agent_timeout_ms);
	DEFAULT(restart_timeout_ms);
	DEFAULT(workers);
	DEFAULT(probe_window_ms);
#undef DEFAULT
}

/* Frees what config_copy() made; the casts undo its constness, the strings are ours. */
static void config_release(struct executor_config *c)
{
	for (size_t i = 0; i < c->nexec_allow; i++)
		free((void *)(uintptr_t)c->exec_allow[i]);
	free((void *)(uintptr_t)c->exec_allow);
	free((void *)(uintptr_t)c->store.dir);
	free((void *)(uintptr_t)c->scale_command);
	free((void *)(uintptr_t)c->kube_api);
	free((void *)(uintptr_t)c->kube_namespace);
	free((void *)(uintptr_t)c->kube_token_file);
	free((void *)(uintptr_t)c->kube_ca_file);
	free((void *)(uintptr_t)c->alert_url);
	free((void *)(uintptr_t)c->webhook_secret);
}

/* ---- the store ---- */

static int put(struct executor *x, struct store_action *a)
{
	int err;

	pthread_mutex_lock(&x->store_lock);
	err = store_action_put(x->store, a);
	pthread_mutex_unlock(&x->store_lock);
	if (err)
		log_warn_err(err, "executor: could not record action %lld (%s %s)",
			     (long long)a->id, a->type, a->service);
	return err;
}

/*
 * Ends @a with @status and the result {"error": @why}, stores it and, once
 * stored (a row left unfinished comes back at the next start), publishes it.
 */
static void end_with(struct executor *x, struct store_action *a, enum store_action_status status,
		     const char *why)
{
	json_t *r = json_pack("{s:s}", "error", why);

	free(a->result);
	a->result = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	a->status = status;
	a->completed_ms = now_ms();
	if (!a->started_ms)
		a->started_ms = a->completed_ms;
	if (put(x, a))
		return;
	if (status == STORE_ACTION_FAILED)
		atomic_fetch_add(&x->failed, 1);
	executor_events_publish(x->cfg.bus, a);
}

/* Marks what a previous run left pending or running as failed. */
static int mark_stale(struct executor *x)
{
	static const enum store_action_status stale[] = { STORE_ACTION_PENDING,
							  STORE_ACTION_RUNNING };
	size_t total = 0;

	for (size_t s = 0; s < PRP_ARRAY_SIZE(stale); s++) {
		size_t n;

		do {
			struct store_action_filter f = { .status = (int)stale[s],
							 .limit = STALE_BATCH };
			struct store_action *v = NULL;
			int err = store_actions_list(x->store, &f, &v, &n, NULL);

			for (size_t i = 0; !err && i < n; i++) {
				end_with(x, &v[i], STORE_ACTION_FAILED,
					 "the aggregator stopped while it ran");
				/* not stored: the same rows would come back forever */
				if (v[i].status != STORE_ACTION_FAILED)
					err = -EIO;
			}
			store_actions_free(v, n);
			if (err)
				return err;
			total += n;
		} while (n == STALE_BATCH);
	}
	atomic_store(&x->failed, 0); /* a previous run's, not this one's */
	if (total)
		log_info("executor: %zu actions a previous run left unfinished marked failed",
			 total);
	return 0;
}

/* ---- queues ---- */

static void queue_push(struct queue *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->n++;
}

static struct job *queue_pop(struct queue *q)
{
	struct job *j = q->head;

	if (!j)
		return NULL;
	q->head = j->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	return j;
}

static void job_free(struct job *j)
{
	store_action_release(&j->a);
	free(j);
}

/* ---- running one action ---- */

static int handler_find(const char *type)
{
	for (size_t i = 0; i < PRP_ARRAY_SIZE(handlers); i++)
		if (!strcmp(type, handlers[i].type))
			return (int)i;
	return -1;
}

static void save_cb(struct action_ctx *ctx, void *arg)
{
	put(arg, ctx->a);
}

static void count_end(struct executor *x, enum store_action_status st)
{
	if (st == STORE_ACTION_SUCCEEDED)
		atomic_fetch_add(&x->succeeded, 1);
	else if (st == STORE_ACTION_TIMED_OUT)
		atomic_fetch_add(&x->timed_out, 1);
	else
		atomic_fetch_add(&x->failed, 1);
}

static void run_job(struct executor *x, struct job *j)
{
	struct store_action *a = &j->a;
	enum store_action_status st;
	struct action_ctx ctx;
	bool params_ok;
	json_t *err;
	int h = handler_find(a->type);

	a->status = STORE_ACTION_RUNNING;
	a->started_ms = now_ms();
	put(x, a);
	log_info("executor: action %lld %s %s running policy=%s tenant=%s", (long long)a->id,
		 a->type, a->service, *a->policy_name ? a->policy_name : "(manual)", a->tenant);
	params_ok = action_ctx_init(&ctx, a, &x->cfg, x->loop) == 0;
	ctx.transition = j->transition;
	ctx.save = save_cb;
	ctx.save_arg = x;
	st = params_ok ? handlers[h].run(&ctx)
		       : action_ctx_fail(&ctx, "the parameters are not a JSON object");
	a->status = st;
	a->completed_ms = now_ms();
	action_ctx_save(&ctx);
	err = json_object_get(ctx.result, "error");
	log_msg(st == STORE_ACTION_SUCCEEDED ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, 0,
		"executor: action %lld %s %s %s%s%s in %lld ms", (long long)a->id, a->type,
		a->service, store_action_status_name(st), json_is_string(err) ? ": " : "",
		json_is_string(err) ? json_string_value(err) : "",
		(long long)(a->completed_ms - a->started_ms));
	count_end(x, st);
	executor_events_publish(x->cfg.bus, a);
	action_ctx_release(&ctx);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct executor *x = w->x;

	for (;;) {
		struct job *j;

		pthread_mutex_lock(&x->lock);
		while (!x->stopping && !w->q->head)
			pthread_cond_wait(&x->wake, &x->lock);
		if (x->stopping) { /* what is queued is failed by executor_stop() */
			pthread_mutex_unlock(&x->lock);
			return NULL;
		}
		j = queue_pop(w->q);
		x->running++;
		pthread_mutex_unlock(&x->lock);
		run_job(x, j);
		job_free(j);
		pthread_mutex_lock(&x->lock);
		x->running--;
		pthread_mutex_unlock(&x->lock);
	}
}

/* ---- start, stop ---- */

static void stop_workers(struct executor *x)
{
	pthread_mutex_lock(&x->lock);
	x->stopping = true;
	pthread_cond_broadcast(&x->wake);
	pthread_mutex_unlock(&x->lock);
	for (size_t i = 0; i < x->nworkers; i++)
		pthread_join(x->workers[i].thread, NULL);
	x->nworkers = 0;
}

static void executor_free(struct executor *x)
{
	store_close(x->store);
	breaker_loop_free(x->loop);
	pthread_mutex_destroy(&x->store_lock);
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->wake);
	config_release(&x->cfg);
	free(x->workers);
	free(x);
	curl_global_cleanup();
}

int executor_start(struct executor **out, const struct executor_config *c)
{
	struct executor *x;
	int err;

	*out = NULL;
	if (!c || !c->store.dir || (c->nexec_allow && !c->exec_allow))
		return -EINVAL;
	/* before any thread: curl's global state is not made safely by threads racing */
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -EIO;
	x = xcalloc(1, sizeof(*x));
	config_copy(x, c);
	x->loop = breaker_loop_new();
	pthread_mutex_init(&x->store_lock, NULL);
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->wake, NULL);
	x->workers = xcalloc(x->cfg.workers + 1, sizeof(*x->workers));

	err = store_open(&x->store, &x->cfg.store);
	if (err) {
		log_error_err(err, "executor: cannot open the store in '%s'", x->cfg.store.dir);
		goto out_free;
	}
	err = mark_stale(x);
	if (err) {
		log_error_err(err,
			      "executor: cannot mark the unfinished actions of a previous run");
		goto out_free;
	}
	for (size_t i = 0; i <= x->cfg.workers; i++) {
		struct worker *w = &x->workers[i];

		w->x = x;
		w->q = i < x->cfg.workers ? &x->general : &x->breaker;
		if (pthread_create(&w->thread, NULL, worker_main, w)) {
			err = -EAGAIN;
			log_error("executor: cannot start a worker thread");
			goto out_stop;
		}
		x->nworkers++;
	}
	log_info("executor: %u workers and a breaker thread, %zu commands allowed for exec",
		 x->cfg.workers, x->cfg.nexec_allow);
	*out = x;
	return 0;

out_stop:
	stop_workers(x);
out_free:
	executor_free(x);
	return err;
}

/* One breaker being closed at the stop. */
struct closing {
	struct store_action a;
	struct action_ctx ctx;
	struct agent_cmds cmds;
	bool sent;
};

/* Closes every breaker still open, all at once, within one agent timeout. */
static void close_breakers(struct executor *x)
{
	struct executor_breaker *v = NULL;
	struct closing *c;
	size_t n = 0;
	int64_t deadline;

	breaker_loop_list(x->loop, NULL, &v, &n);
	c = xcalloc(n ? n : 1, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		struct store_action *a = &c[i].a;
		char err[256], duration[32];

		seconds_text(v[i].duration_ms, duration);
		snprintf(a->tenant, sizeof(a->tenant), "%s", v[i].tenant);
		snprintf(a->policy_name, sizeof(a->policy_name), "%s", v[i].policy_name);
		snprintf(a->service, sizeof(a->service), "%s", v[i].service);
		snprintf(a->type, sizeof(a->type), "circuit_breaker");
		a->parameters = xasprintf("{\"duration\":%s,\"state\":\"closed\"}", duration);
		a->reason = xstrdup("closed: the aggregator stopped");
		a->status = STORE_ACTION_RUNNING;
		a->created_ms = a->started_ms = now_ms();
		put(x, a);
		if (action_ctx_init(&c[i].ctx, a, &x->cfg, x->loop)) {
			/* our own JSON: cannot happen */
		}
		breaker_loop_forget(x->loop, a->tenant, a->service);
		log_info("executor: breaker %s closed: the aggregator stops tenant=%s", a->service,
			 a->tenant);
		if (!x->cfg.ingest) {
			action_ctx_fail(&c[i].ctx,
					"agent commands need ingest, which is not running");
			continue;
		}
		if (action_agent_breaker_cmds(x->cfg.ingest, a->tenant, a->service, "closed",
					      v[i].duration_ms, x->cfg.probe_window_ms, &c[i].cmds,
					      err, sizeof(err), &c[i].ctx)) {
			action_ctx_fail(&c[i].ctx, "%s", err);
			continue;
		}
		agent_cmds_send(&c[i].cmds, x->cfg.ingest, &c[i].ctx);
		c[i].sent = true;
	}
	deadline = agent_cmd_now_ms() + x->cfg.agent_timeout_ms;
	for (size_t i = 0; i < n; i++) {
		enum store_action_status st = STORE_ACTION_FAILED;

		if (c[i].sent) {
			agent_cmds_wait(&c[i].cmds, x->cfg.ingest, deadline, &c[i].ctx);
			st = agent_cmds_status(&c[i].cmds);
			action_ctx_result(&c[i].ctx,
					  json_pack("{s:s, s:o}", "state", "closed", "agents",
						    agent_cmds_json(&c[i].cmds)));
		}
		c[i].a.status = st;
		c[i].a.completed_ms = now_ms();
		c[i].ctx.save = save_cb;
		c[i].ctx.save_arg = x;
		action_ctx_save(&c[i].ctx);
		count_end(x, st);
		executor_events_publish(x->cfg.bus, &c[i].a);
		agent_cmds_release(&c[i].cmds);
		action_ctx_release(&c[i].ctx);
		store_action_release(&c[i].a);
	}
	free(c);
	free(v);
}

void executor_stop(struct executor *x)
{
	struct queue *qs[2];
	size_t failed = 0;

	if (!x)
		return;
	qs[0] = &x->general;
	qs[1] = &x->breaker;
	stop_workers(x); /* each finishes the action it runs */
	for (size_t i = 0; i < 2; i++) {
		struct job *j;

		while ((j = queue_pop(qs[i]))) {
			if (j->transition)
				breaker_loop_settle(x->loop, j->a.tenant, j->a.service);
			end_with(x, &j->a, STORE_ACTION_FAILED, "the aggregator stopped");
			job_free(j);
			failed++;
		}
	}
	if (failed)
		log_info("executor: %zu queued actions failed: the aggregator stops", failed);
	close_breakers(x);
	executor_free(x);
}

/* ---- taking actions ---- */

/* A deep copy of @src for the queue. */
static void action_copy(struct store_action *dst, const struct store_action *src)
{
	*dst = *src;
	dst->parameters = dup_or_null(src->parameters);
	dst->reason = dup_or_null(src->reason);
	dst->result = dup_or_null(src->result);
	dst->logs = dup_or_null(src->logs);
}

static int submit(struct executor *x, struct store_action *a, bool transition)
{
	struct job *j;
	int h = handler_find(a->type), err;

	if (h < 0)
		return -EINVAL;
	pthread_mutex_lock(&x->lock);
	err = x->stopping ? -ESHUTDOWN : 0;
	pthread_mutex_unlock(&x->lock);
	if (err)
		return err;
	a->status = STORE_ACTION_PENDING;
	a->created_ms = now_ms();
	a->started_ms = a->completed_ms = 0;
	err = put(x, a);
	if (err)
		return err;
	j = xcalloc(1, sizeof(*j));
	action_copy(&j->a, a);
	j->transition = transition;
	pthread_mutex_lock(&x->lock);
	if (x->stopping) { /* it began while we stored: it is the stop's to fail */
		pthread_mutex_unlock(&x->lock);
		end_with(x, &j->a, STORE_ACTION_FAILED, "the aggregator stopped");
		job_free(j);
		return 0;
	}
	queue_push(handlers[h].breaker_queue ? &x->breaker : &x->general, j);
	pthread_cond_broadcast(&x->wake);
	pthread_mutex_unlock(&x->lock);
	atomic_fetch_add(&x->submitted, 1);
	log_debug("executor: action %lld %s %s queued", (long long)a->id, a->type, a->service);
	return 0;
}

int executor_submit(struct executor *x, struct store_action *a)
{
	return submit(x, a, false);
}

int executor_record(struct executor *x, struct store_action *a)
{
	int err;

	if (!a->created_ms)
		a->created_ms = now_ms();
	err = put(x, a);
	if (!err)
		atomic_fetch_add(&x->recorded, 1);
	return err;
}

/* ---- the breaker loop ---- */

/* Queues the step @state of breaker @b with @reason; false when it could not be. */
static bool step(struct executor *x, const struct executor_breaker *b, const char *state,
		 const char *reason)
{
	struct store_action a = { 0 };
	char duration[32];
	int err;

	seconds_text(b->duration_ms, duration);
	snprintf(a.tenant, sizeof(a.tenant), "%s", b->tenant);
	snprintf(a.policy_name, sizeof(a.policy_name), "%s", b->policy_name);
	snprintf(a.service, sizeof(a.service), "%s", b->service);
	snprintf(a.type, sizeof(a.type), "circuit_breaker");
	if (!strcmp(state, "half_open"))
		a.parameters = xasprintf("{\"duration\":%s,\"probe_interval_ms\":%d,"
					 "\"state\":\"half_open\"}",
					 duration, ACTION_AGENT_PROBE_INTERVAL_MS);
	else
		a.parameters = xasprintf("{\"duration\":%s,\"state\":\"%s\"}", duration, state);
	a.reason = xstrdup(reason);
	err = submit(x, &a, true);
	if (err)
		log_warn_err(err, "executor: breaker %s: could not queue '%s'", b->service, reason);
	else
		log_debug("executor: breaker %s: %s tenant=%s", b->service, reason, b->tenant);
	store_action_release(&a);
	return !err;
}

static void judge(struct executor *x, const struct breaker_loop_due *d, int64_t now)
{
	enum executor_health h = EXECUTOR_HEALTH_GOOD;
	enum breaker_loop_verdict v;
	char reason[256];

	if (x->cfg.health)
		h = x->cfg.health(d->b.tenant, d->b.service, d->half_open_ms, x->cfg.health_arg);
	v = breaker_loop_judge(x->loop, d, h, now, x->cfg.probe_window_ms, reason, sizeof(reason));
	if (v == BREAKER_LOOP_CLOSE && !x->cfg.health)
		snprintf(reason, sizeof(reason),
			 "closed: the probe window is over (no health judge configured)");
	if (v == BREAKER_LOOP_STAY) {
		log_info("executor: breaker %s %s tenant=%s", d->b.service, reason, d->b.tenant);
		return;
	}
	if (!step(x, &d->b, v == BREAKER_LOOP_CLOSE ? "closed" : "open", reason))
		breaker_loop_settle(x->loop, d->b.tenant, d->b.service);
}

void executor_tick(struct executor *x, int64_t now)
{
	struct breaker_loop_due *due = NULL;
	size_t n = breaker_loop_take_due(x->loop, now, &due);

	for (size_t i = 0; i < n; i++) {
		char reason[128];

		if (due[i].kind == BREAKER_LOOP_DUE_JUDGE) {
			judge(x, &due[i], now);
			continue;
		}
		snprintf(reason, sizeof(reason), "half-open: probing after %g s open",
			 (double)(now - due[i].b.opened_ms) / 1000);
		if (!step(x, &due[i].b, "half_open", reason))
			breaker_loop_settle(x->loop, due[i].b.tenant, due[i].b.service);
	}
	free(due);
}

int executor_breakers(struct executor *x, const char *tenant, struct executor_breaker **out,
		      size_t *n)
{
	return breaker_loop_list(x->loop, tenant, out, n);
}

void executor_get_stats(struct executor *x, struct executor_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->submitted = atomic_load(&x->submitted);
	st->succeeded = atomic_load(&x->succeeded);
	st->failed = atomic_load(&x->failed);
	st->timed_out = atomic_load(&x->timed_out);
	st->recorded = atomic_load(&x->recorded);
	pthread_mutex_lock(&x->lock);
	st->queued = x->general.n + x->breaker.n;
	st->running = x->running;
	pthread_mutex_unlock(&x->lock);
	st->breakers_open = breaker_loop_count(x->loop);
}
