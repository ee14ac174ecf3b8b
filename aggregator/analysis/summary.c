/*
 * Incident summaries (summary.h): union-find over the span's anomalies,
 * then each incident's actions and signals, then words. The evidence holds
 * at most EVIDENCE_ANOMALIES_MAX anomalies, so the quadratic pairing is at
 * most 8k comparisons.
 */
#include "aggregator/analysis/summary.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/narrate.h"
#include "common/alloc.h"

/* An errno or TCP count moved when it is at least this many in the span ... */
#define SUMMARY_COUNT_MIN 10
/* ... and this many times its rate before (per minute), and up by at least 1/min. */
#define SUMMARY_COUNT_RATIO 3.0

/* ---- grouping ---- */

static size_t uf_find(size_t *parent, size_t i)
{
	while (parent[i] != i) {
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

static void uf_join(size_t *parent, size_t a, size_t b)
{
	a = uf_find(parent, a);
	b = uf_find(parent, b);
	if (a != b)
		parent[a > b ? a : b] = a < b ? a : b; /* the oldest anomaly is the root */
}

static bool service_listed(const struct summary_options *o, const char *name)
{
	if (!o->services || !o->nservices)
		return true;
	for (size_t i = 0; i < o->nservices; i++)
		if (!strcmp(o->services[i], name))
			return true;
	return false;
}

/*
 * The component of each service in the call graph, into @comp (the index
 * of its root service); -1 for a service no edge touches.
 */
static void graph_components(const struct evidence *ev, int *comp)
{
	size_t *parent = xcalloc(ev->nservices + 1, sizeof(*parent));
	bool *touched = xcalloc(ev->nservices + 1, sizeof(*touched));

	for (size_t i = 0; i < ev->nservices; i++)
		parent[i] = i;
	for (size_t i = 0; i < ev->nedges; i++) {
		const struct evidence_edge *e = &ev->edges[i];

		if (e->from_idx < 0 || e->to_idx < 0)
			continue;
		touched[e->from_idx] = touched[e->to_idx] = true;
		uf_join(parent, (size_t)e->from_idx, (size_t)e->to_idx);
	}
	for (size_t i = 0; i < ev->nservices; i++)
		comp[i] = touched[i] ? (int)uf_find(parent, i) : -1;
	free(parent);
	free(touched);
}

/* Where anomaly @a's trouble ends for grouping: its resolution, or the span's end. */
static int64_t anomaly_end(const struct evidence *ev, const struct evidence_anomaly *a)
{
	return a->open || a->resolved_ms <= 0 ? ev->until_ms : a->resolved_ms;
}

static bool anomalies_related(const struct evidence *ev, const int *comp,
			      const struct evidence_anomaly *a, const struct evidence_anomaly *b)
{
	int ia = evidence_service_index(ev, a->service),
	    ib = evidence_service_index(ev, b->service);
	int64_t gap;

	if (a->started_ms <= b->started_ms)
		gap = b->started_ms - anomaly_end(ev, a);
	else
		gap = a->started_ms - anomaly_end(ev, b);
	if (gap > SUMMARY_JOIN_GAP_MS)
		return false;
	if (!strcmp(a->service, b->service) || ia < 0 || ib < 0)
		return true;
	return comp[ia] < 0 || comp[ib] < 0 || comp[ia] == comp[ib];
}

static void incident_add_service(struct summary_incident *inc, const char *name)
{
	for (size_t i = 0; i < inc->nservices; i++)
		if (!strcmp(inc->services[i], name))
			return;
	inc->services = xreallocarray(inc->services, inc->nservices + 1, sizeof(*inc->services));
	snprintf(inc->services[inc->nservices++], SERVICE_NAME_MAX, "%s", name);
}

static bool incident_has_service(const struct summary_incident *inc, const char *name)
{
	for (size_t i = 0; i < inc->nservices; i++)
		if (!strcmp(inc->services[i], name))
			return true;
	return false;
}

/* Adds anomaly @k of @ev to @inc and updates its times, severity and state. */
static void incident_add_anomaly(struct summary_incident *inc, const struct evidence *ev, size_t k)
{
	const struct evidence_anomaly *a = &ev->anomalies[k];

	inc->anomalies =
		xreallocarray(inc->anomalies, inc->nanomalies + 1, sizeof(*inc->anomalies));
	inc->anomalies[inc->nanomalies++] = k;
	if (inc->nanomalies == 1) {
		inc->id = a->id;
		inc->started_ms = a->started_ms;
		inc->severity = a->severity;
	}
	if (a->started_ms < inc->started_ms)
		inc->started_ms = a->started_ms;
	if (a->severity > inc->severity)
		inc->severity = a->severity;
	if (a->open) {
		inc->open = true;
		inc->nopen++;
	} else if (a->resolved_ms > inc->ended_ms) {
		inc->ended_ms = a->resolved_ms;
	}
	incident_add_service(inc, a->service);
}

static void summary_group(const struct evidence *ev, const struct summary_options *o,
			  struct summary *out)
{
	size_t n = ev->nanomalies, *parent = xcalloc(n + 1, sizeof(*parent));
	int *comp = xcalloc(ev->nservices + 1, sizeof(*comp));
	long *slot = xcalloc(n + 1, sizeof(*slot));
	bool *keep = xcalloc(n + 1, sizeof(*keep));

	graph_components(ev, comp);
	for (size_t i = 0; i < n; i++) {
		parent[i] = i;
		keep[i] = service_listed(o, ev->anomalies[i].service);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (keep[i] && keep[j] &&
			    anomalies_related(ev, comp, &ev->anomalies[i], &ev->anomalies[j]))
				uf_join(parent, i, j);
	/* oldest first: anomalies are sorted by start, and each root is its oldest */
	for (size_t i = 0; i < n; i++) {
		size_t r = uf_find(parent, i);

		if (!keep[i])
			continue;
		if (r == i) {
			out->incidents = xreallocarray(out->incidents, out->nincidents + 1,
						       sizeof(*out->incidents));
			memset(&out->incidents[out->nincidents], 0, sizeof(*out->incidents));
			slot[i] = (long)out->nincidents++;
		}
		incident_add_anomaly(&out->incidents[slot[r]], ev, i);
		out->nanomalies++;
	}
	for (size_t i = 0; i < out->nincidents; i++)
		if (out->incidents[i].open)
			out->incidents[i].ended_ms = 0;
	free(parent);
	free(comp);
	free(slot);
	free(keep);
}

/* ---- actions ---- */

static void summary_actions(const struct evidence *ev, const struct summary_options *o,
			    struct summary *out)
{
	for (size_t k = 0; k < ev->nactions; k++) {
		const struct evidence_action *ac = &ev->actions[k];
		struct summary_incident *best = NULL;

		if (!service_listed(o, ac->service))
			continue;
		for (size_t i = 0; i < out->nincidents; i++) {
			struct summary_incident *inc = &out->incidents[i];
			int64_t until =
				inc->open ? INT64_MAX : inc->ended_ms + SUMMARY_ACTION_AFTER_MS;

			if (ac->created_ms >= inc->started_ms - SUMMARY_ACTION_BEFORE_MS &&
			    ac->created_ms <= until && incident_has_service(inc, ac->service) &&
			    (!best || inc->started_ms >= best->started_ms))
				best = inc;
		}
		if (best) {
			best->actions = xreallocarray(best->actions, best->nactions + 1,
						      sizeof(*best->actions));
			best->actions[best->nactions++] = k;
		} else {
			out->other_actions =
				xreallocarray(out->other_actions, out->nother_actions + 1,
					      sizeof(*out->other_actions));
			out->other_actions[out->nother_actions++] = k;
		}
	}
}

/* ---- signals ---- */

static bool incident_has_signal(const struct summary_incident *inc, const char *service,
				const char *metric, const char *what)
{
	for (size_t i = 0; i < inc->nsignals; i++)
		if (!strcmp(inc->signals[i].service, service) &&
		    !strcmp(inc->signals[i].metric, metric) && !strcmp(inc->signals[i].what, what))
			return true;
	return false;
}

static struct summary_signal *incident_new_signal(struct summary_incident *inc, const char *service,
						  const char *metric, const char *what)
{
	struct summary_signal *s;

	if (inc->nsignals == SUMMARY_SIGNALS_MAX || incident_has_signal(inc, service, metric, what))
		return NULL;
	s = &inc->signals[inc->nsignals++];
	memset(s, 0, sizeof(*s));
	snprintf(s->service, sizeof(s->service), "%s", service);
	snprintf(s->metric, sizeof(s->metric), "%s", metric);
	snprintf(s->what, sizeof(s->what), "%s", what);
	return s;
}

/* Whether anomaly @a of @ev is worse than @b: severity, then score, then the older. */
static bool anomaly_worse(const struct evidence *ev, size_t a, size_t b)
{
	const struct evidence_anomaly *x = &ev->anomalies[a], *y = &ev->anomalies[b];

	if (x->severity != y->severity)
		return x->severity > y->severity;
	if (x->score != y->score)
		return x->score > y->score;
	return x->started_ms < y->started_ms;
}

static void signals_of_anomalies(const struct evidence *ev, struct summary_incident *inc)
{
	size_t *order = xcalloc(inc->nanomalies + 1, sizeof(*order));

	memcpy(order, inc->anomalies, inc->nanomalies * sizeof(*order));
	/* worst first; an insertion sort: a few anomalies, and qsort() has no context argument */
	for (size_t i = 1; i < inc->nanomalies; i++)
		for (size_t j = i; j > 0 && anomaly_worse(ev, order[j], order[j - 1]); j--) {
			size_t t = order[j - 1];

			order[j - 1] = order[j];
			order[j] = t;
		}
	for (size_t i = 0; i < inc->nanomalies; i++) {
		const struct evidence_anomaly *a = &ev->anomalies[order[i]];
		char v[NARRATE_VALUE_MAX], t[NARRATE_VALUE_MAX];
		struct summary_signal *s = incident_new_signal(inc, a->service, a->metric, "");

		if (!s)
			continue;
		s->value = a->peak_value;
		s->typical = a->expected_mean;
		s->anomaly_id = a->id;
		snprintf(s->text, sizeof(s->text), "%s %s %s vs %s typical", a->service,
			 narrate_metric_label(a->metric),
			 narrate_value(a->metric, a->peak_value, v, sizeof(v)),
			 narrate_value(a->metric, a->expected_mean, t, sizeof(t)));
	}
	free(order);
}

/* Adds a count that rose (per minute in the span against before) as a signal of @inc. */
static void signal_count(const struct evidence *ev, struct summary_incident *inc,
			 const char *service, const char *metric, const char *what, uint64_t span,
			 uint64_t base)
{
	double span_min = (double)(ev->until_ms - ev->since_ms) / 60000.0;
	double base_min = (double)(ev->since_ms - ev->baseline_since_ms) / 60000.0;
	double now = span_min > 0 ? (double)span / span_min : 0;
	double before = base_min > 0 ? (double)base / base_min : 0;
	char v[NARRATE_VALUE_MAX], t[NARRATE_VALUE_MAX];
	struct summary_signal *s;

	if (span < SUMMARY_COUNT_MIN || now < SUMMARY_COUNT_RATIO * before || now - before < 1)
		return;
	s = incident_new_signal(inc, service, metric, what);
	if (!s)
		return;
	s->value = now;
	s->typical = before;
	snprintf(s->text, sizeof(s->text), "%s %s %s/min vs %s/min before", service,
		 what[0] ? what : narrate_metric_label(metric), narrate_number(now, v, sizeof(v)),
		 narrate_number(before, t, sizeof(t)));
}

/* The kernel's view of the incident's services: errnos and TCP trouble that rose. */
static void signals_of_kernel(const struct evidence *ev, struct summary_incident *inc)
{
	for (size_t i = 0; i < inc->nservices; i++) {
		const struct evidence_service *sv = evidence_service_find(ev, inc->services[i]);

		if (!sv || !sv->observed)
			continue;
		for (size_t k = 0; k < sv->nerrnos; k++) {
			const struct evidence_errno *e = &sv->errnos[k];
			char what[32];

			snprintf(what, sizeof(what), "%s on %s", e->name, e->syscall);
			signal_count(ev, inc, sv->name, "errno", what, e->span, e->baseline);
		}
		signal_count(ev, inc, sv->name, "tcp_connect_failures", "",
			     sv->span.tcp.connect_failures, sv->baseline.tcp.connect_failures);
		signal_count(ev, inc, sv->name, "tcp_retransmits", "", sv->span.tcp.retransmits,
			     sv->baseline.tcp.retransmits);
		signal_count(ev, inc, sv->name, "tcp_resets", "", sv->span.tcp.resets,
			     sv->baseline.tcp.resets);
	}
}

/* ---- the whole ---- */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

void summary_build(const struct evidence *ev, const struct summary_options *o, struct summary *out)
{
	memset(out, 0, sizeof(*out));
	summary_group(ev, o, out);
	summary_actions(ev, o, out);
	for (size_t i = 0; i < out->nincidents; i++) {
		struct summary_incident *inc = &out->incidents[i];

		signals_of_anomalies(ev, inc);
		signals_of_kernel(ev, inc);
		out->severity[inc->severity < 3 ? inc->severity : 0]++;
		out->nopen += inc->open;
		for (size_t k = 0; k < inc->nservices; k++) {
			bool seen = false;

			for (size_t j = 0; j < out->naffected && !seen; j++)
				seen = !strcmp(out->affected[j], inc->services[k]);
			if (seen)
				continue;
			out->affected = xreallocarray(out->affected, out->naffected + 1,
						      sizeof(*out->affected));
			snprintf(out->affected[out->naffected++], SERVICE_NAME_MAX, "%s",
				 inc->services[k]);
		}
	}
	if (out->naffected > 1)
		qsort(out->affected, out->naffected, sizeof(*out->affected), cmp_name);
	if (o->services && o->nservices) {
		out->services_watched = o->nservices;
	} else {
		for (size_t i = 0; i < ev->nservices; i++)
			out->services_watched +=
				ev->services[i].observed && ev->services[i].span.windows > 0;
	}
	out->truncated = ev->anomalies_truncated || ev->actions_truncated;
}

void summary_release(struct summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nincidents; i++) {
		free(s->incidents[i].anomalies);
		free(s->incidents[i].services);
		free(s->incidents[i].actions);
	}
	free(s->incidents);
	free(s->affected);
	free(s->other_actions);
	memset(s, 0, sizeof(*s));
}

/* ---- Markdown ---- */

static bool span_with_date(const struct evidence *ev)
{
	return ev->until_ms - ev->since_ms > 20 * 3600 * 1000ll;
}

/* "the last 1h" (as asked), else the span's length. */
static const char *range_words(const struct evidence *ev, const struct summary_options *o,
			       char *buf, size_t cap)
{
	char d[40];

	if (o->range_text && o->range_text[0])
		snprintf(buf, cap, "the last %s", o->range_text);
	else
		snprintf(buf, cap, "the last %s",
			 narrate_duration(ev->until_ms - ev->since_ms, d, sizeof(d)));
	return buf;
}

static void md_services(struct buf *b, const struct summary_options *o)
{
	narrate_add(b, " on ");
	for (size_t i = 0; i < o->nservices; i++)
		narrate_add(b, "%s%s", i ? ", " : "", o->services[i]);
}

static void md_action(struct buf *b, const struct evidence_action *ac)
{
	if (ac->policy_name[0])
		narrate_add(b, "%s on %s (policy %s): %s", ac->type, ac->service, ac->policy_name,
			    store_action_status_name(ac->status) ?: "unknown");
	else
		narrate_add(b, "%s on %s (by hand): %s", ac->type, ac->service,
			    store_action_status_name(ac->status) ?: "unknown");
}

static void md_quiet(struct buf *b, const struct summary *s, const struct evidence *ev,
		     const struct summary_options *o)
{
	char r[64];

	narrate_add(b, "No incidents in %s", range_words(ev, o, r, sizeof(r)));
	if (o->services && o->nservices)
		md_services(b, o);
	if (!s->services_watched)
		narrate_add(b, ": no service has reported in that time (no agent data yet).");
	else if (s->services_watched == 1)
		narrate_add(b, ": 1 service watched, within its baseline.");
	else
		narrate_add(b, ": %zu services watched, all within their baselines.",
			    s->services_watched);
}

static void md_incident(struct buf *b, const struct summary_incident *inc, size_t nth,
			const struct evidence *ev)
{
	bool date = span_with_date(ev);
	char t1[40], t2[40], d[40];

	narrate_add(b, "\n\n### %zu. ", nth);
	for (size_t i = 0; i < inc->nservices && i < 4; i++)
		narrate_add(b, "%s%s", i ? ", " : "", inc->services[i]);
	if (inc->nservices > 4)
		narrate_add(b, " and %zu more", inc->nservices - 4);
	narrate_add(b, ": %s, %s\n", narrate_severity(inc->severity),
		    inc->open ? "open" : "resolved");
	if (inc->open)
		narrate_add(b, "- **When:** since %s (%s), still open\n",
			    narrate_instant(inc->started_ms, date, t1, sizeof(t1)),
			    narrate_duration(ev->until_ms - inc->started_ms, d, sizeof(d)));
	else
		narrate_add(b, "- **When:** %s to %s (%s)\n",
			    narrate_instant(inc->started_ms, date, t1, sizeof(t1)),
			    narrate_instant(inc->ended_ms, date, t2, sizeof(t2)),
			    narrate_duration(inc->ended_ms - inc->started_ms, d, sizeof(d)));
	narrate_add(b, "- **Started on:** %s (%s)", ev->anomalies[inc->anomalies[0]].service,
		    narrate_metric_label(ev->anomalies[inc->anomalies[0]].metric));
	for (size_t i = 1; i < inc->nservices && i < 4; i++) {
		int64_t first = 0;

		for (size_t k = 0; k < inc->nanomalies && !first; k++)
			if (!strcmp(ev->anomalies[inc->anomalies[k]].service, inc->services[i]))
				first = ev->anomalies[inc->anomalies[k]].started_ms;
		narrate_add(b, ", then %s (+%s)", inc->services[i],
			    narrate_duration(first - inc->started_ms, d, sizeof(d)));
	}
	narrate_add(b, "\n- **Signals:** ");
	for (size_t i = 0; i < inc->nsignals && i < 5; i++)
		narrate_add(b, "%s%s", i ? "; " : "", inc->signals[i].text);
	narrate_add(b, "\n- **prp did:** ");
	if (!inc->nactions)
		narrate_add(b, "nothing (no policy acted on it)");
	for (size_t i = 0; i < inc->nactions && i < 4; i++) {
		narrate_add(b, "%s", i ? "; " : "");
		md_action(b, &ev->actions[inc->actions[i]]);
	}
	if (inc->nactions > 4)
		narrate_add(b, "; and %zu more", inc->nactions - 4);
	if (inc->open)
		narrate_add(b, "\n- **Now:** open, %zu of %zu anomal%s still open", inc->nopen,
			    inc->nanomalies, inc->nanomalies == 1 ? "y" : "ies");
	else
		narrate_add(b, "\n- **Now:** resolved");
}

char *summary_markdown(const struct summary *s, const struct evidence *ev,
		       const struct summary_options *o)
{
	char r[64];
	struct buf b;

	buf_init(&b, NARRATE_PROSE_MAX);
	if (!s->nincidents) {
		md_quiet(&b, s, ev, o);
	} else {
		narrate_add(&b, "**%zu incident%s in %s", s->nincidents,
			    s->nincidents == 1 ? "" : "s", range_words(ev, o, r, sizeof(r)));
		if (o->services && o->nservices)
			md_services(&b, o);
		narrate_add(&b, "** (%zu open, %zu resolved; ", s->nopen, s->nincidents - s->nopen);
		for (int sev = 2, first = 1; sev >= 0; sev--) {
			if (!s->severity[sev])
				continue;
			narrate_add(&b, "%s%zu %s", first ? "" : ", ", s->severity[sev],
				    narrate_severity((enum store_severity)sev));
			first = 0;
		}
		narrate_add(&b, "), affecting ");
		for (size_t i = 0; i < s->naffected; i++)
			narrate_add(&b, "%s%s", i ? ", " : "", s->affected[i]);
		narrate_add(&b, "; %zu service%s watched.", s->services_watched,
			    s->services_watched == 1 ? "" : "s");
		for (size_t i = 0; i < s->nincidents && i < SUMMARY_PROSE_INCIDENTS; i++)
			md_incident(&b, &s->incidents[s->nincidents - 1 - i], i + 1, ev);
		if (s->nincidents > SUMMARY_PROSE_INCIDENTS)
			narrate_add(&b, "\n\n...and %zu older incident%s (see `incidents`).",
				    s->nincidents - SUMMARY_PROSE_INCIDENTS,
				    s->nincidents - SUMMARY_PROSE_INCIDENTS == 1 ? "" : "s");
	}
	if (s->nother_actions) {
		narrate_add(&b,
			    "\n\nprp also ran %zu action%s outside incidents: ", s->nother_actions,
			    s->nother_actions == 1 ? "" : "s");
		for (size_t i = 0; i < s->nother_actions && i < 4; i++) {
			narrate_add(&b, "%s", i ? "; " : "");
			md_action(&b, &ev->actions[s->other_actions[i]]);
		}
		if (s->nother_actions > 4)
			narrate_add(&b, "; and %zu more", s->nother_actions - 4);
		narrate_add(&b, ".");
	}
	if (s->truncated)
		narrate_add(&b,
			    "\n\n(Only the first %d anomalies and %d actions of the span were "
			    "read: narrow the time range for the rest.)",
			    EVIDENCE_ANOMALIES_MAX, EVIDENCE_ACTIONS_MAX);
	return narrate_detach(&b);
}

/* ---- JSON ---- */

static json_t *json_time_or_null(int64_t ms)
{
	return ms > 0 ? narrate_json_time(ms) : json_null();
}

static json_t *anomaly_json(const struct evidence_anomaly *a)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:f, s:f, s:f}", "id",
			 (json_int_t)a->id, "service", a->service, "metric", a->metric, "severity",
			 narrate_severity(a->severity), "status", a->open ? "open" : "resolved",
			 "started_at", narrate_json_time(a->started_ms), "resolved_at",
			 a->open ? json_null() : json_time_or_null(a->resolved_ms), "peak_value",
			 a->peak_value, "current_value", a->current_value, "expected_mean",
			 a->expected_mean);
}

static json_t *action_json(const struct evidence_action *ac)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "action_id",
			 (json_int_t)ac->id, "action", ac->type, "service", ac->service,
			 "policy_name", ac->policy_name, "status",
			 store_action_status_name(ac->status) ?: "unknown", "created_at",
			 narrate_json_time(ac->created_ms), "completed_at",
			 json_time_or_null(ac->completed_ms), "reason", ac->reason);
}

static json_t *signal_json(const struct summary_signal *s)
{
	json_t *v = json_pack("{s:s, s:s, s:f, s:f, s:s}", "service", s->service, "metric",
			      s->metric, "value", s->value, "typical", s->typical, "text", s->text);

	if (v && s->what[0])
		json_object_set_new(v, "what", json_string(s->what));
	if (v && s->anomaly_id)
		json_object_set_new(v, "anomaly_id", json_integer(s->anomaly_id));
	else if (v)
		json_object_set_new(v, "per", json_string("minute"));
	return v;
}

static json_t *incident_json(const struct summary_incident *inc, const struct evidence *ev)
{
	json_t *services = json_array(), *anomalies = json_array(), *signals = json_array();
	json_t *actions = json_array();
	int64_t end = inc->open ? ev->until_ms : inc->ended_ms;

	for (size_t i = 0; i < inc->nservices; i++)
		json_array_append_new(services, json_string(inc->services[i]));
	for (size_t i = 0; i < inc->nanomalies; i++)
		json_array_append_new(anomalies, anomaly_json(&ev->anomalies[inc->anomalies[i]]));
	for (size_t i = 0; i < inc->nsignals; i++)
		json_array_append_new(signals, signal_json(&inc->signals[i]));
	for (size_t i = 0; i < inc->nactions; i++)
		json_array_append_new(actions, action_json(&ev->actions[inc->actions[i]]));
	return json_pack("{s:I, s:s, s:o, s:o, s:f, s:s, s:o, s:s, s:I, s:I, s:o, s:o, s:o}", "id",
			 (json_int_t)inc->id, "status", inc->open ? "open" : "resolved",
			 "started_at", narrate_json_time(inc->started_ms), "ended_at",
			 inc->open ? json_null() : json_time_or_null(inc->ended_ms), "duration_s",
			 (double)(end - inc->started_ms) / 1000.0, "severity",
			 narrate_severity(inc->severity), "services", services, "first_service",
			 ev->anomalies[inc->anomalies[0]].service, "anomaly_count",
			 (json_int_t)inc->nanomalies, "open_anomalies", (json_int_t)inc->nopen,
			 "anomalies", anomalies, "signals", signals, "actions", actions);
}

json_t *summary_json(const struct summary *s, const struct evidence *ev)
{
	json_t *affected = json_array(), *incidents = json_array(), *other = json_array();

	for (size_t i = 0; i < s->naffected; i++)
		json_array_append_new(affected, json_string(s->affected[i]));
	for (size_t i = 0; i < s->nincidents; i++)
		json_array_append_new(incidents, incident_json(&s->incidents[i], ev));
	for (size_t i = 0; i < s->nother_actions; i++)
		json_array_append_new(other, action_json(&ev->actions[s->other_actions[i]]));
	return json_pack("{s:I, s:o, s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:o, s:o, s:b}",
			 "incident_count", (json_int_t)s->nincidents, "affected_services", affected,
			 "severity_breakdown", "critical", (json_int_t)s->severity[2], "warning",
			 (json_int_t)s->severity[1], "info", (json_int_t)s->severity[0],
			 "anomaly_count", (json_int_t)s->nanomalies, "open_incidents",
			 (json_int_t)s->nopen, "services_watched", (json_int_t)s->services_watched,
			 "incidents", incidents, "other_actions", other, "truncated", s->truncated);
}

char *summary_llm_task(const struct summary_options *o, const char *markdown)
{
	struct buf b;

	buf_init(&b, NARRATE_PROSE_MAX + 4096);
	narrate_add(&b,
		    "Summarize for an on-call operator what happened in the last %s: the "
		    "incidents, when each started and ended, which services, the signals that "
		    "moved with their numbers, what prp did and the state now. Write short "
		    "Markdown. prp's own summary follows; keep its incidents, numbers and "
		    "states exactly, improve only the wording, and say plainly when nothing "
		    "happened.\n\nprp's summary:\n%s",
		    o->range_text && o->range_text[0] ? o->range_text : "span", markdown);
	return narrate_detach(&b);
}
