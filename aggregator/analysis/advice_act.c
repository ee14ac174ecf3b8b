/*
 * What each recommended action says and sets (advice_internal.h): its
 * headline, risk, expected impact, what running it needs, and the policy
 * that would have taken it; then the advice as Markdown and JSON.
 * Thresholds of recommended conditions sit between the typical value and
 * the one seen, so that the policy would have fired on this anomaly and not
 * on a normal day.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/advice_internal.h"
#include "aggregator/analysis/narrate.h"
#include "common/buf.h"

/* ---- policies ---- */

/*
 * A threshold strictly between @typical and @seen, near @want (what a
 * normal day stays under), a round number of two significant figures when
 * one fits; @want itself when nothing was seen above @typical.
 */
static double threshold(double typical, double seen, double want)
{
	double t = want, mag, r;

	if (!(seen > typical))
		return t;
	if (t >= seen || t <= typical)
		t = (typical + seen) / 2;
	mag = pow(10, floor(log10(fabs(t) > 0 ? fabs(t) : 1)) - 1);
	r = round(t / mag) * mag;
	return r > typical && r < seen ? r : t;
}

/* What a normal day of @typical stays under: @factor times it, or @floor_delta above. */
static double above(double typical, double factor, double floor_delta)
{
	return typical * factor > typical + floor_delta ? typical * factor : typical + floor_delta;
}

static void cond_add(char *c, size_t cap, const char *fmt, ...) PRP_PRINTF(3, 4);
static void cond_add(char *c, size_t cap, const char *fmt, ...)
{
	char part[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(part, sizeof(part), fmt, ap);
	va_end(ap);
	advice_add(c, cap, "%s%s", c[0] ? " or " : "", part);
}

/* "latency_p99 > 150 or error_rate > 0.1": what made @h sick, as a condition on it. */
static void sick_condition(struct advice_policy *p, const struct advice_health *h,
			   const struct evidence_edge *e)
{
	if (h->latency_up)
		cond_add(p->condition, sizeof(p->condition), "latency_p99 > %.6g",
			 threshold(h->p99_typ, h->p99, above(h->p99_typ, 3, 25)));
	if (h->errors_up) {
		double t = threshold(h->err_typ, h->err, above(h->err_typ, 2, 0.05));

		cond_add(p->condition, sizeof(p->condition), "error_rate > %.6g",
			 t < 0.99 ? t : 0.99);
	}
	if (!p->condition[0] && e && e->span.p99_ms > e->baseline.p99_ms)
		cond_add(p->condition, sizeof(p->condition), "latency_p99 > %.6g",
			 threshold(e->baseline.p99_ms, e->span.p99_ms,
				   above(e->baseline.p99_ms, 3, 25)));
	if (!p->condition[0])
		snprintf(p->condition, sizeof(p->condition), "severity >= warning");
}

static void policy_name(struct advice_policy *p, const char *service, const char *what,
			enum policy_action_type action)
{
	char *s;

	snprintf(p->name, sizeof(p->name), "%s-%s-%s", service, what,
		 policy_action_type_name(action));
	for (s = p->name; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			*s = '_';
	snprintf(p->service, sizeof(p->service), "%s", service);
}

static void set_action(struct advice_ctx *c, enum advice_rule rule, enum policy_action_type action,
		       const char *target, double confidence, const char *risk)
{
	struct advice *a = c->out;

	a->rule = rule;
	a->action = action;
	snprintf(a->target, sizeof(a->target), "%s", target);
	a->confidence = confidence;
	a->risk_level = risk;
	a->action_needed = rule != ADVICE_RULE_HEALTHY;
	policy_name(&a->policy, target, c->metric, action);
}

void advice_restart(struct advice_ctx *c, enum advice_rule rule, const char *target,
		    const struct advice_health *h)
{
	struct advice *a = c->out;
	struct advice_policy *p = &a->policy;

	set_action(c, rule, POLICY_ACTION_RESTART, target, h->stopped ? 0.8 : 0.7,
		   h->stopped ? "low" : "medium");
	snprintf(a->headline, sizeof(a->headline), "Restart %s", target);
	if (h->stopped) {
		double floor_rate = h->rate_typ * 0.1;
		int64_t for_s = (int64_t)ceil(10.0 / (h->rate_typ > 0 ? h->rate_typ : 1));

		advice_add(a->rationale, sizeof(a->rationale), " %s stopped answering: ", target);
		advice_moves_text(a->rationale, sizeof(a->rationale), target, h);
		advice_add(a->rationale, sizeof(a->rationale), ".");
		snprintf(a->expected_impact, sizeof(a->expected_impact),
			 "%s answers again once restarted (the agent waits until it listens "
			 "again, up to the restart timeout), and its callers' failed connects "
			 "stop. It is not answering now, so little is lost.",
			 target);
		snprintf(p->condition, sizeof(p->condition), "request_rate < %.6g",
			 floor_rate >= 0.01 ? floor_rate : 0.01);
		p->for_s = for_s < 30 ? 30 : for_s > 300 ? 300 : for_s;
		p->cooldown_s = 600;
	} else {
		char now[NARRATE_VALUE_MAX], before[NARRATE_VALUE_MAX], r[NARRATE_VALUE_MAX];

		advice_add(
			a->rationale, sizeof(a->rationale),
			" %s leaks memory: %s memory syscalls (mmap, munmap, mremap, brk) per request "
			"vs %s before, while ",
			target, narrate_number(h->alloc, now, sizeof(now)),
			narrate_number(h->alloc_typ, before, sizeof(before)));
		advice_moves_text(a->rationale, sizeof(a->rationale), target, h);
		advice_add(a->rationale, sizeof(a->rationale),
			   ". A restart returns the memory; the code still needs fixing.");
		snprintf(a->expected_impact, sizeof(a->expected_impact),
			 "Memory is returned at the restart and latency goes back toward %s "
			 "typical; requests in flight during the restart fail. The leak comes back "
			 "with traffic until the code is fixed: the restart buys time.",
			 narrate_value("latency_p99", h->p99_typ, r, sizeof(r)));
		/* memory is not a fact of the condition language: the policy keys on the symptom */
		if (condition_metric_find(c->metric) >= 0)
			snprintf(p->condition, sizeof(p->condition),
				 "anomaly(%s) and severity >= warning", c->metric);
		else
			snprintf(p->condition, sizeof(p->condition), "severity >= warning");
		p->for_s = 60;
		p->cooldown_s = 1800;
	}
	snprintf(p->parameters, sizeof(p->parameters), "{}");
	snprintf(a->automation_note, sizeof(a->automation_note),
		 "The agents hosting %s run their restart command (restart.command in "
		 "agent.yaml, else `systemctl restart %s.service`) and report success once it "
		 "listens again: %s must be a systemd unit or have restart.command set on its "
		 "agents.",
		 target, target, target);
}

void advice_breaker(struct advice_ctx *c, enum advice_rule rule, const char *target,
		    const struct advice_health *h, const struct evidence_edge *e, size_t ncallers)
{
	struct advice *a = c->out;
	char r[NARRATE_VALUE_MAX];

	set_action(c, rule, POLICY_ACTION_CIRCUIT_BREAKER, target,
		   0.65 + 0.1 * (e && advice_edge_sick(e)) + 0.1 * (h->latency_up || h->errors_up),
		   ncallers >= ADVICE_MANY_CALLERS ? "high" : "medium");
	snprintf(a->headline, sizeof(a->headline), "Open a circuit breaker on %s", target);
	snprintf(a->expected_impact, sizeof(a->expected_impact),
		 "Callers of %s%s%s%s fail fast instead of waiting on it, so their requests no "
		 "longer pile up; calls that need %s fail during the 60 s open. %s gets no new "
		 "connections meanwhile, then one per second, and the breaker closes once it is "
		 "within its SLOs again.",
		 target, e ? " (" : "", e ? e->from : "", e ? ")" : "", target, target);
	if (e) {
		struct advice_health hc;

		advice_health_of(c->ev, e->from, &hc);
		if (hc.latency_up)
			advice_add(a->expected_impact, sizeof(a->expected_impact),
				   " The p99 of %s should fall back toward %s typical.", e->from,
				   narrate_value("latency_p99", hc.p99_typ, r, sizeof(r)));
	}
	sick_condition(&a->policy, h, e);
	a->policy.for_s = 10;
	a->policy.cooldown_s = 300;
	snprintf(a->policy.parameters, sizeof(a->policy.parameters),
		 "{\"state\":\"open\",\"duration\":60}");
	snprintf(a->automation_note, sizeof(a->automation_note),
		 "The executor sends the breaker to every connected agent with the addresses "
		 "where %s listens (from its agents' HELLOs); it half-opens after the duration "
		 "and closes once %s is healthy.%s",
		 target, target,
		 ncallers >= ADVICE_MANY_CALLERS ? " Many services call it: all of them fail fast "
						   "while it is open."
						 : "");
}

void advice_scale(struct advice_ctx *c, enum advice_rule rule, const char *target,
		  const struct advice_health *h)
{
	struct advice *a = c->out;
	char r[NARRATE_VALUE_MAX], s1[NARRATE_VALUE_MAX], s2[NARRATE_VALUE_MAX];

	set_action(c, rule, POLICY_ACTION_SCALE, target,
		   rule == ADVICE_RULE_CPU_BOUND ? 0.65 : 0.55, "low");
	snprintf(a->headline, sizeof(a->headline), "Scale out %s by one replica", target);
	if (rule == ADVICE_RULE_CPU_BOUND)
		advice_add(
			a->rationale, sizeof(a->rationale),
			" The latency of %s is CPU-bound: syscall time per request %s ms vs %s ms before, "
			"so the added time is spent computing, not waiting on I/O or a dependency: ",
			target, narrate_number(h->sys, s1, sizeof(s1)),
			narrate_number(h->sys_typ, s2, sizeof(s2)));
	else
		advice_add(
			a->rationale, sizeof(a->rationale),
			" %s is saturated: more requests than usual and slower answers: ", target);
	advice_moves_text(a->rationale, sizeof(a->rationale), target, h);
	advice_add(a->rationale, sizeof(a->rationale), ".");
	snprintf(
		a->expected_impact, sizeof(a->expected_impact),
		"Another replica shares the work: the p99 of %s should move back toward %s typical "
		"as requests spread. Nothing is refused meanwhile.",
		target, narrate_value("latency_p99", h->p99_typ, r, sizeof(r)));
	snprintf(a->policy.condition, sizeof(a->policy.condition), "latency_p99 > %.6g",
		 threshold(h->p99_typ, h->p99, above(h->p99_typ, 3, 25)));
	a->policy.for_s = 30;
	a->policy.cooldown_s = 600;
	snprintf(a->policy.parameters, sizeof(a->policy.parameters),
		 "{\"scale_up_by\":1,\"max\":%d}", ADVICE_SCALE_MAX);
	snprintf(a->automation_note, sizeof(a->automation_note),
		 "The executor runs action.scale_command (with {service} and {replicas}) or "
		 "patches the deployment's scale at action.kube_api; with neither configured "
		 "the action fails with 'scale is not configured'.");
}

void advice_rate_limit(struct advice_ctx *c, const char *target, const struct advice_health *h)
{
	struct advice *a = c->out;
	double base_peak = h->sv ? h->sv->baseline.request_rate.peak : 0;
	double normal = base_peak > h->rate_typ ? base_peak : h->rate_typ;
	double limit = threshold(h->rate_typ, h->rate, above(normal, 1.5, 3));
	char l[NARRATE_VALUE_MAX], r[NARRATE_VALUE_MAX];

	limit = ceil(limit);
	set_action(c, ADVICE_RULE_SURGE, POLICY_ACTION_RATE_LIMIT, target, 0.75, "medium");
	snprintf(a->headline, sizeof(a->headline), "Rate-limit %s to %s requests/s", target,
		 narrate_number(limit, l, sizeof(l)));
	advice_add(a->rationale, sizeof(a->rationale), " A surge of requests: ");
	advice_moves_text(a->rationale, sizeof(a->rationale), target, h);
	advice_add(a->rationale, sizeof(a->rationale), ".");
	if (h->latency_up || h->errors_up)
		advice_add(a->rationale, sizeof(a->rationale),
			   " It is hurting: the added load slows or fails requests.");
	snprintf(a->expected_impact, sizeof(a->expected_impact),
		 "New connections to %s beyond %s per second are dropped in the kernel (callers "
		 "retry them); the requests within the limit are served as usual (p99 %s "
		 "typical). The limit stays until a later command changes it.",
		 target, narrate_number(limit, l, sizeof(l)),
		 narrate_value("latency_p99", h->p99_typ, r, sizeof(r)));
	snprintf(a->policy.condition, sizeof(a->policy.condition), "request_rate > %.6g", limit);
	a->policy.for_s = 10;
	a->policy.cooldown_s = 300;
	snprintf(a->policy.parameters, sizeof(a->policy.parameters),
		 "{\"limit\":%.6g,\"window\":1}", limit);
	snprintf(a->automation_note, sizeof(a->automation_note),
		 "The agents hosting %s limit new connections to its ports to ceil(limit / "
		 "window) per second, with bursts of as many.",
		 target);
}

void advice_alert(struct advice_ctx *c, enum advice_rule rule, const char *why)
{
	struct advice *a = c->out;
	enum store_severity sev = c->t->anomaly ? c->t->anomaly->severity : c->t->severity;
	const char *sev_name = sev >= STORE_SEVERITY_CRITICAL ? "critical" : "warning";

	set_action(c, rule, POLICY_ACTION_ALERT, c->t->service,
		   rule == ADVICE_RULE_HEALTHY ? 0.6 : 0.5, "low");
	if (rule == ADVICE_RULE_HEALTHY)
		snprintf(a->headline, sizeof(a->headline),
			 "No action needed: %s is within its baselines; keep an alert on it",
			 c->t->service);
	else
		snprintf(a->headline, sizeof(a->headline),
			 "Alert a person about %s: nothing safe to automate", c->t->service);
	advice_add(a->rationale, sizeof(a->rationale), " %s", why);
	snprintf(a->expected_impact, sizeof(a->expected_impact),
		 rule == ADVICE_RULE_HEALTHY
			 ? "Nothing changes; the alert tells a person if it comes back."
			 : "A person is told at once, with the anomaly's numbers; nothing changes "
			   "on the service until they act.");
	if (condition_metric_find(c->metric) >= 0)
		snprintf(a->policy.condition, sizeof(a->policy.condition),
			 "anomaly(%s) and severity >= %s", c->metric, sev_name);
	else
		snprintf(a->policy.condition, sizeof(a->policy.condition), "severity >= %s",
			 sev_name);
	a->policy.for_s = 0;
	a->policy.cooldown_s = 900;
	snprintf(a->policy.parameters, sizeof(a->policy.parameters),
		 "{\"channel\":\"webhook\",\"severity\":\"%s\",\"message\":\"{service}: "
		 "{reason}\"}",
		 sev_name);
	snprintf(a->automation_note, sizeof(a->automation_note),
		 "The executor POSTs the alert (signed) to action.alert_url; without one it is "
		 "only written to the log.");
}

/* ---- output ---- */

const char *advice_rule_name(enum advice_rule r)
{
	static const char *const names[] = {
		[ADVICE_RULE_STOPPED] = "stopped",
		[ADVICE_RULE_DEPENDENCY] = "sick_dependency",
		[ADVICE_RULE_DEPENDENCY_FIX] = "sick_dependency_fix",
		[ADVICE_RULE_UNWATCHED] = "unwatched_dependency",
		[ADVICE_RULE_LEAK] = "memory_leak",
		[ADVICE_RULE_SURGE] = "surge",
		[ADVICE_RULE_CPU_BOUND] = "cpu_bound",
		[ADVICE_RULE_SATURATED] = "saturated",
		[ADVICE_RULE_CALLERS_PILE_UP] = "callers_pile_up",
		[ADVICE_RULE_NOTHING_SAFE] = "nothing_safe",
		[ADVICE_RULE_HEALTHY] = "healthy",
	};

	return (unsigned)r < ADVICE_RULE_COUNT ? names[r] : "unknown";
}

char *advice_markdown(const struct advice *a)
{
	struct buf b;

	buf_init(&b, NARRATE_PROSE_MAX);
	narrate_add(&b, "**%s** (`%s`; risk %s, confidence %.2f).\n\n%s\n\n**Expected:** %s\n\n",
		    a->headline, policy_action_type_name(a->action), a->risk_level, a->confidence,
		    a->rationale, a->expected_impact);
	narrate_add(&b, "**Automation:** %s %s\n\n",
		    a->automation_available
			    ? "prp can do it (POST /actions/execute, or the policy below)."
			    : "prp cannot run it here.",
		    a->automation_note);
	narrate_add(&b, "**Policy:** on `%s`, when `%s`", a->policy.service, a->policy.condition);
	if (a->policy.for_s)
		narrate_add(&b, " for %" PRId64 " s", a->policy.for_s);
	narrate_add(&b, ": `%s` `%s`, cooldown %" PRId64 " s.", policy_action_type_name(a->action),
		    a->policy.parameters, a->policy.cooldown_s);
	return narrate_detach(&b);
}

json_t *advice_policy_json(const struct advice *a)
{
	json_t *params = json_loads(a->policy.parameters, 0, NULL);

	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:[{s:s, s:o}]}", "name", a->policy.name,
			 "service", a->policy.service, "condition", a->policy.condition, "for",
			 (json_int_t)a->policy.for_s, "cooldown", (json_int_t)a->policy.cooldown_s,
			 "actions", "type", policy_action_type_name(a->action), "parameters",
			 params ? params : json_object());
}

json_t *advice_json(const struct advice *a)
{
	json_t *params = json_loads(a->policy.parameters, 0, NULL);

	return json_pack(
		"{s:s, s:f, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:b, s:s, "
		"s:{s:s, s:s, s:o, s:s, s:s, s:I, s:I, s:o}}",
		"action", policy_action_type_name(a->action), "confidence", a->confidence,
		"rationale", a->rationale, "expected_impact", a->expected_impact, "risk_level",
		a->risk_level, "automation_available", a->automation_available, "automation_note",
		a->automation_note, "target_service", a->target, "rule", advice_rule_name(a->rule),
		"action_needed", a->action_needed, "headline", a->headline, "policy_recommendation",
		"condition", a->policy.condition, "action", policy_action_type_name(a->action),
		"parameters", params ? params : json_object(), "name", a->policy.name, "service",
		a->policy.service, "for", (json_int_t)a->policy.for_s, "cooldown",
		(json_int_t)a->policy.cooldown_s, "policy", advice_policy_json(a));
}

char *advice_llm_task(const struct advice_target *t, const char *markdown, const char *context)
{
	struct buf b;

	buf_init(&b, NARRATE_PROSE_MAX + 8192);
	narrate_add(&b,
		    "Advise an on-call operator what to do about %s%s%s%s. prp's analyst has "
		    "chosen the action below from the evidence; explain it in short Markdown: "
		    "the action, why (with the evidence's numbers), what it should change, its "
		    "risk, and whether prp can do it by itself. Keep the same action, service and "
		    "numbers; do not recommend another action.\n\nprp's advice:\n%s",
		    t->service, t->metric ? " (" : "", t->metric ? t->metric : "",
		    t->metric ? ")" : "", markdown);
	if (context && context[0])
		narrate_add(&b, "\n\nThe operator's context (not evidence): %s", context);
	return narrate_detach(&b);
}
