/*
 * The remediation commands (see remediation.h and docs/remediation.md):
 * the dispatch, the threads, and restarts. What breakers and limits a
 * service has is agent/breakers.c's and agent/limits.c's business.
 *
 * Threads and locks. `lock` guards breakers and limits: their commands take
 * it on the caller's thread, the lease thread takes it to undo what expired.
 * `jobs_lock` guards the restart queue and the done function; the worker
 * holds it while it calls the done function, which is what makes
 * remediation_set_done(NULL) a barrier. The two are never held together.
 * A restart runs with neither held, and reads the services from their view.
 */
#include "agent/remediation.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/breakers.h"
#include "agent/limits.h"
#include "agent/restart.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

#define TIMEOUT_DEFAULT_MS 30000
#define TIMEOUT_MIN_MS	   100
#define TIMEOUT_MAX_MS	   3600000ull
/* How often a restart looks at the services while it waits for its service to come back. */
#define CONFIRM_POLL_NS (50 * NSEC_PER_MSEC)

struct job {
	uint64_t id;
	char service[SERVICE_NAME_MAX];
	uint64_t timeout_ms;
};

struct remediation {
	char **restart_commands; /* owned copies */
	size_t nrestart_commands;
	struct service_view *services;

	pthread_mutex_t lock;	   /* guards the four below */
	pthread_cond_t lease_cond; /* CLOCK_MONOTONIC; the lease thread waits on it */
	struct breakers *breakers;
	struct limits *limits;
	bool lease_stop;

	pthread_mutex_t jobs_lock; /* guards the six below */
	pthread_cond_t jobs_cond;
	struct job jobs[REMEDIATION_QUEUE_MAX];
	size_t njobs;
	bool job_running;
	remediation_done_fn *done_fn;
	void *done_arg;

	atomic_bool stopping; /* read by restart_run() between its slices */
	pthread_t worker, leases;
	bool worker_on, leases_on;
};

/* ---- results ---- */

/*
 * The COMMAND_RESULT payload of @id (caller owns: free()); takes @result.
 * Logs the outcome: the message of a string result or of an "error", else
 * the result without its output.
 */
static char *finish(uint64_t id, const char *command, const char *status, json_t *result)
{
	json_t *o, *brief;
	char *text, *line = NULL;
	const char *summary;

	if (json_is_string(result)) {
		summary = json_string_value(result);
	} else if (json_is_string(json_object_get(result, "error"))) {
		summary = json_string_value(json_object_get(result, "error"));
	} else {
		brief = json_deep_copy(result);
		json_object_del(brief, "output");
		line = json_dumps(brief, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(brief);
		summary = line ? line : "";
	}
	log_msg(strcmp(status, "succeeded") ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, 0,
		"remediation: command %llu '%s' %s: %.300s", (unsigned long long)id, command,
		status, summary);
	free(line);
	o = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)id, "status", status, "result",
		      result ? result : json_null());
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static char *failed(uint64_t id, const char *command, json_t *result)
{
	return finish(id, command, "failed", result);
}

/* ---- breakers and limits ---- */

/* circuit_breaker or rate_limit, under the lock, on the caller's thread. */
static char *quick_command(struct remediation *r, uint64_t id, const char *command, json_t *args)
{
	json_t *result;
	bool ok;

	pthread_mutex_lock(&r->lock);
	if (!strcmp(command, "circuit_breaker"))
		ok = breakers_command(r->breakers, args, &result);
	else
		ok = limits_command(r->limits, args, &result);
	/* a lease may have been set, renewed or dropped */
	pthread_cond_signal(&r->lease_cond);
	pthread_mutex_unlock(&r->lock);
	return finish(id, command, ok ? "succeeded" : "failed", result);
}

/* ---- the lease thread ---- */

static void *leases_main(void *arg)
{
	struct remediation *r = arg;
	struct timespec ts;
	uint64_t next;

	pthread_mutex_lock(&r->lock);
	while (!r->lease_stop) {
		uint64_t now = time_mono_ns(), next_limit;

		next = breakers_expire(r->breakers, now);
		next_limit = limits_expire(r->limits, now);
		next = next_limit < next ? next_limit : next;
		if (next == UINT64_MAX) {
			pthread_cond_wait(&r->lease_cond, &r->lock);
			continue;
		}
		ts.tv_sec = (time_t)(next / NSEC_PER_SEC);
		ts.tv_nsec = (long)(next % NSEC_PER_SEC);
		pthread_cond_timedwait(&r->lease_cond, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* ---- restarts ---- */

static json_t *pids_json(const struct service *svc)
{
	json_t *a = json_array();

	for (size_t i = 0; i < svc->npids; i++)
		json_array_append_new(a, json_integer(svc->pids[i]));
	return a;
}

/* @run's output for the result, saying when its beginning was lost. */
static json_t *output_json(const struct restart_run *run)
{
	char *text;
	json_t *o;

	if (!run->truncated)
		return json_string(run->output);
	text = xasprintf("[earlier output dropped]\n%s", run->output);
	o = json_string(text);
	free(text);
	return o;
}

/*
 * After the command exited 0: waits, until @deadline_ns, for the service to
 * listen with processes, as seen by a discovery refresh that began after
 * the exit (so not the processes the command just stopped). True when it
 * did; *@after is the last look either way.
 */
static bool restart_confirm(struct remediation *r, const char *service, uint64_t deadline_ns,
			    struct service *after)
{
	uint64_t start, now;

	memset(after, 0, sizeof(*after));
	service_view_get(r->services, service, NULL, &start);
	for (;;) {
		uint64_t refreshes = 0;
		bool found = service_view_get(r->services, service, after, &refreshes);

		/* the refresh running at the exit may have read /proc before it: wait for two */
		if (found && refreshes >= start + 2 && after->npids && after->nports)
			return true;
		if (!found)
			memset(after, 0, sizeof(*after));
		now = time_mono_ns();
		if (now >= deadline_ns || atomic_load(&r->stopping))
			return false;
		time_sleep_ns(deadline_ns - now < CONFIRM_POLL_NS ? deadline_ns - now
								  : CONFIRM_POLL_NS);
	}
}

/* The result of the restart @job, on the worker thread. */
static char *restart_job(struct remediation *r, const struct job *job)
{
	const char *cmd = "restart";
	char store[RESTART_COMMAND_MAX], *argv[RESTART_ARGS_MAX + 1];
	uint64_t deadline = time_mono_ns() + job->timeout_ms * NSEC_PER_MSEC;
	struct service *before = xcalloc(2, sizeof(*before)), *after = before + 1;
	struct restart_run *run = xmalloc(sizeof(*run));
	char *text;
	int err;

	if (!service_view_get(r->services, job->service, before, NULL)) {
		text = failed(job->id, cmd,
			      json_sprintf("service '%s' is not watched by this agent", job->service));
		goto out;
	}
	err = restart_argv((const char *const *)r->restart_commands, r->nrestart_commands,
			   job->service, store, sizeof(store), argv);
	if (err < 0) {
		text = failed(job->id, cmd, json_sprintf("no restart command for '%s'", job->service));
		goto out;
	}
	log_info("remediation: restarting '%s' with '%s'%s, %llu ms at most id=%llu", job->service,
		 argv[0], argv[1] ? " ..." : "", (unsigned long long)job->timeout_ms,
		 (unsigned long long)job->id);
	err = restart_run(argv, job->timeout_ms, &r->stopping, run);
	if (err) {
		text = failed(job->id, cmd,
			      json_sprintf("cannot run '%s': %s", argv[0], strerror(-err)));
		goto out;
	}
	if (run->outcome == RESTART_TIMED_OUT) {
		text = finish(job->id, cmd, "timed_out",
			      json_pack("{s:s, s:o, s:o}", "service", job->service, "error",
					json_sprintf("the restart command did not finish within %llu "
						"ms; its process group was killed",
						(unsigned long long)job->timeout_ms),
					"output", output_json(run)));
	} else if (run->outcome == RESTART_STOPPED) {
		text = failed(job->id, cmd, json_sprintf("the agent stopped during the restart"));
	} else if (run->exit_status) {
		text = failed(job->id, cmd,
			      json_pack("{s:s, s:o, s:i, s:o}", "service", job->service, "error",
					json_sprintf("the restart command exited with status %d",
						run->exit_status),
					"exit_status", run->exit_status, "output",
					output_json(run)));
	} else if (restart_confirm(r, job->service, deadline, after)) {
		text = finish(job->id, cmd, "succeeded",
			      json_pack("{s:s, s:o, s:o, s:o}", "service", job->service,
					"pids_before", pids_json(before), "pids_after",
					pids_json(after), "output", output_json(run)));
	} else {
		text = failed(job->id, cmd,
			      json_pack("{s:s, s:o, s:o, s:o, s:o}", "service", job->service,
					"error",
					json_sprintf("the service did not come back listening within "
						"%llu ms",
						(unsigned long long)job->timeout_ms),
					"pids_before", pids_json(before), "pids_after",
					pids_json(after), "output", output_json(run)));
	}
out:
	free(run);
	free(before);
	return text;
}

static void *worker_main(void *arg)
{
	struct remediation *r = arg;
	struct job job;
	char *text;

	pthread_mutex_lock(&r->jobs_lock);
	while (!atomic_load(&r->stopping)) {
		if (!r->njobs) {
			pthread_cond_wait(&r->jobs_cond, &r->jobs_lock);
			continue;
		}
		job = r->jobs[0];
		memmove(&r->jobs[0], &r->jobs[1], --r->njobs * sizeof(r->jobs[0]));
		r->job_running = true;
		pthread_mutex_unlock(&r->jobs_lock);
		text = restart_job(r, &job);
		pthread_mutex_lock(&r->jobs_lock);
		r->job_running = false;
		if (r->done_fn && !atomic_load(&r->stopping)) {
			r->done_fn(r->done_arg, job.id, text);
		} else {
			log_info("remediation: the result of command %llu has nowhere to go",
				 (unsigned long long)job.id);
			free(text);
		}
	}
	if (r->njobs)
		log_warn("remediation: stopping with %zu restarts queued; they do not run",
			 r->njobs);
	pthread_mutex_unlock(&r->jobs_lock);
	return NULL;
}

static char *restart_command(struct remediation *r, uint64_t id, json_t *args)
{
	const char *cmd = "restart", *service;
	json_int_t timeout_ms = TIMEOUT_DEFAULT_MS;
	json_error_t jerr;
	struct job *job;
	size_t busy;

	if (!json_is_object(args))
		return failed(id, cmd, json_sprintf("bad args: not an object"));
	if (json_unpack_ex(args, &jerr, JSON_STRICT, "{s:s, s?I}", "service", &service,
			   "timeout_ms", &timeout_ms))
		return failed(id, cmd, json_sprintf("bad args: %s", jerr.text));
	if (!service_name_valid(service))
		return failed(id, cmd,
			      json_sprintf("bad args: service '%.80s' is not 1-63 of [A-Za-z0-9._-]",
				      service));
	if (timeout_ms < TIMEOUT_MIN_MS || (uint64_t)timeout_ms > TIMEOUT_MAX_MS)
		return failed(id, cmd,
			      json_sprintf("bad args: timeout_ms %lld is not %d..%llu",
				      (long long)timeout_ms, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS));
	if (!r->services)
		return failed(id, cmd,
			      json_sprintf("restarts are unavailable: this agent has no "
				      "discovery to confirm them"));
	if (!service_view_get(r->services, service, NULL, NULL))
		return failed(id, cmd,
			      json_sprintf("service '%s' is not watched by this agent", service));
	pthread_mutex_lock(&r->jobs_lock);
	busy = r->njobs + r->job_running;
	if (busy >= REMEDIATION_QUEUE_MAX) {
		pthread_mutex_unlock(&r->jobs_lock);
		return failed(id, cmd,
			      json_sprintf("busy: %zu restarts are queued or running already", busy));
	}
	job = &r->jobs[r->njobs++];
	job->id = id;
	snprintf(job->service, sizeof(job->service), "%s", service);
	job->timeout_ms = (uint64_t)timeout_ms;
	pthread_cond_signal(&r->jobs_cond);
	pthread_mutex_unlock(&r->jobs_lock);
	log_info("remediation: restart of '%s' queued behind %zu id=%llu", service, busy,
		 (unsigned long long)id);
	return NULL;
}

/* ---- life cycle ---- */

char *remediation_run(struct remediation *r, uint64_t id, const char *command, json_t *args)
{
	if (!strcmp(command, "circuit_breaker") || !strcmp(command, "rate_limit"))
		return quick_command(r, id, command, args);
	if (!strcmp(command, "restart"))
		return restart_command(r, id, args);
	return failed(id, command, json_sprintf("unknown command '%.60s'", command));
}

void remediation_set_done(struct remediation *r, remediation_done_fn *fn, void *arg)
{
	pthread_mutex_lock(&r->jobs_lock);
	r->done_fn = fn;
	r->done_arg = arg;
	pthread_mutex_unlock(&r->jobs_lock);
}

int remediation_start(struct remediation **out, const struct remediation_config *c)
{
	struct remediation *r = xcalloc(1, sizeof(*r));
	pthread_condattr_t ca;

	*out = NULL;
	r->services = c->services;
	r->nrestart_commands = c->nrestart_commands;
	r->restart_commands = xcalloc(c->nrestart_commands + 1, sizeof(char *));
	for (size_t i = 0; i < c->nrestart_commands; i++)
		r->restart_commands[i] = xstrdup(c->restart_commands[i]);
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->lease_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&r->jobs_lock, NULL);
	pthread_cond_init(&r->jobs_cond, NULL);
	atomic_init(&r->stopping, false);
	r->breakers = breakers_new(c->cgroup_path);
	r->limits = limits_new();
	r->worker_on = !pthread_create(&r->worker, NULL, worker_main, r);
	r->leases_on = !pthread_create(&r->leases, NULL, leases_main, r);
	if (!r->worker_on || !r->leases_on) {
		log_error("remediation: cannot start its threads");
		remediation_stop(r);
		return -EAGAIN;
	}
	log_info("remediation: ready; circuit breakers %s, rate limits attach on the first "
		 "rate_limit, %zu restart commands configured",
		 breakers_attached(r->breakers) ? "attached" : "UNAVAILABLE", c->nrestart_commands);
	*out = r;
	return 0;
}

void remediation_stop(struct remediation *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->jobs_lock);
	atomic_store(&r->stopping, true);
	pthread_cond_signal(&r->jobs_cond);
	pthread_mutex_unlock(&r->jobs_lock);
	if (r->worker_on)
		pthread_join(r->worker, NULL); /* a running restart is killed within a slice */
	pthread_mutex_lock(&r->lock);
	r->lease_stop = true;
	pthread_cond_signal(&r->lease_cond);
	pthread_mutex_unlock(&r->lock);
	if (r->leases_on)
		pthread_join(r->leases, NULL);
	/* detaching closes every breaker and lifts every limit at once */
	breakers_free(r->breakers);
	limits_free(r->limits);
	for (size_t i = 0; i < r->nrestart_commands; i++)
		free(r->restart_commands[i]);
	free(r->restart_commands);
	pthread_cond_destroy(&r->jobs_cond);
	pthread_mutex_destroy(&r->jobs_lock);
	pthread_cond_destroy(&r->lease_cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
	log_info("remediation: stopped; no breaker or rate limit is left");
}
