/*
 * The read-only views (ctl_services.h): services, anomalies, predictions
 * and the overall status. Filters are passed to the API as they are given;
 * the server checks them and answers 400 for a bad one.
 */
#include "aggregator/cli/ctl_services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/cli/ctl_args.h"
#include "aggregator/cli/ctl_call.h"
#include "aggregator/cli/ctl_http.h"
#include "aggregator/cli/ctl_opts.h"
#include "aggregator/cli/ctl_table.h"
#include "common/alloc.h"
#include "common/compiler.h"

/* GET @path and print each scalar member of the answer (or of its @member) as "key: value". */
static enum ctl_status show(const struct ctl_opts *o, const char *path, const char *member)
{
	struct ctl_answer ans;
	enum ctl_status st;
	struct ctl_table *t;
	const char *k;
	json_t *v, *obj;

	st = ctl_call(o, "GET", path, NULL, &ans);
	if (st != CTL_OK || ctl_call_print_raw(o, &ans.http))
		goto out;
	obj = member && json_is_object(json_object_get(ans.json, member))
		      ? json_object_get(ans.json, member)
		      : ans.json;
	t = ctl_table_new(2, NULL);
	json_object_foreach(obj, k, v)
		ctl_table_field(t, k, v);
	ctl_table_write(t, stdout);
	ctl_table_free(t);
out:
	ctl_answer_release(&ans);
	return st;
}

/* "@prefix/@arg" with @arg escaped as one path segment: caller owns, free(). */
static char *path_with(const char *prefix, const char *arg)
{
	char *e = ctl_http_escape(arg), *p = xasprintf("%s/%s", prefix, e);

	free(e);
	return p;
}

enum ctl_status ctl_services_list(const struct ctl_opts *o, const struct ctl_args *a)
{
	static const char *const heads[] = { "SERVICE", "HOSTS", "FIRST SEEN", "LAST SEEN" };
	static const char *const keys[] = { "service", "hosts", "first_seen", "last_seen" };

	(void)a;
	return ctl_call_list(o, "/services", "services", PRP_ARRAY_SIZE(heads), heads, keys);
}

enum ctl_status ctl_services_health(const struct ctl_opts *o, const struct ctl_args *a)
{
	(void)a;
	return show(o, "/services/health", NULL);
}

enum ctl_status ctl_services_show(const struct ctl_opts *o, const struct ctl_args *a)
{
	char *path = path_with("/services", a->pos[0]);
	enum ctl_status st;

	ctl_call_query(&path, "since", ctl_args_get(a, "--since"));
	st = show(o, path, NULL);
	free(path);
	return st;
}

enum ctl_status ctl_services_anomalies(const struct ctl_opts *o, const struct ctl_args *a)
{
	static const char *const heads[] = { "ID",     "SERVICE", "METRIC", "SEVERITY",
					     "STATUS", "VALUE",	  "STARTED" };
	static const char *const keys[] = { "id",     "service",       "metric",    "severity",
					    "status", "current_value", "started_at" };
	static const char *const filters[] = { "service", "severity", "status", "since", "limit" };
	char *path = xstrdup("/anomalies");
	enum ctl_status st;

	ctl_call_filters(&path, a, filters, PRP_ARRAY_SIZE(filters));
	st = ctl_call_list(o, path, "anomalies", PRP_ARRAY_SIZE(heads), heads, keys);
	free(path);
	return st;
}

enum ctl_status ctl_services_anomaly(const struct ctl_opts *o, const struct ctl_args *a)
{
	char *path = path_with("/anomalies", a->pos[0]);
	enum ctl_status st = show(o, path, NULL);

	free(path);
	return st;
}

enum ctl_status ctl_services_predictions(const struct ctl_opts *o, const struct ctl_args *a)
{
	static const char *const heads[] = { "SERVICE",	    "METRIC",	   "CURRENT",	"THRESHOLD",
					     "WILL BREACH", "BREACH IN S", "CONFIDENCE" };
	static const char *const keys[] = { "service",	   "metric",	  "current",   "threshold",
					    "will_breach", "breach_in_s", "confidence" };
	char *path = a->npos ? path_with("/predictions", a->pos[0]) : xstrdup("/predictions/all");
	enum ctl_status st =
		ctl_call_list(o, path, "predictions", PRP_ARRAY_SIZE(heads), heads, keys);

	free(path);
	return st;
}

enum ctl_status ctl_services_status(const struct ctl_opts *o, const struct ctl_args *a)
{
	struct ctl_answer health, status;
	enum ctl_status st;
	struct ctl_table *t;
	const char *k;
	json_t *v;

	(void)a;
	st = ctl_call(o, "GET", "/health", NULL, &health);
	if (st != CTL_OK) {
		ctl_answer_release(&health);
		return st;
	}
	st = ctl_call(o, "GET", "/status", NULL, &status);
	if (st != CTL_OK)
		goto out;
	if (o->json) {
		json_t *both =
			json_pack("{s:O, s:O}", "health", health.json, "status", status.json);

		json_dumpf(both, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		fputc('\n', stdout);
		json_decref(both);
		goto out;
	}
	t = ctl_table_new(2, NULL);
	ctl_table_field(t, "health", json_object_get(health.json, "status"));
	ctl_table_field(t, "version", json_object_get(health.json, "version"));
	ctl_table_field(t, "uptime_s", json_object_get(health.json, "uptime_s"));
	json_object_foreach(json_object_get(health.json, "components"), k, v)
		ctl_table_field(t, k, v);
	json_object_foreach(status.json, k, v)
		ctl_table_field(t, k, v);
	ctl_table_write(t, stdout);
	ctl_table_free(t);
out:
	ctl_answer_release(&status);
	ctl_answer_release(&health);
	return st;
}
