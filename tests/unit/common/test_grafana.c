/*
 * packaging/grafana/ and packaging/prometheus/ (docs/grafana.md), and
 * tests/lib/promql_names.c that checks them. The dashboards must be plain
 * dashboard JSON with unique uids, use only the provisioned datasources,
 * and ask Prometheus only for the metric families and labels in families[]
 * below; every PromQL expression must parse for promtool, and the example
 * prometheus.yml must pass `promtool check config` (Debian's prometheus).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/compiler.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"
#include "tests/lib/promql_names.h"
#include "tests/lib/repo.h"
#include "tests/lib/tmpdir.h"

TestSuite(promql_names, .fini = test_no_leaks);
TestSuite(grafana, .fini = test_no_leaks);

/*
 * The metric families the aggregator exports at GET /metrics, with their
 * labels. This table mirrors docs/metrics.md: change both together. A
 * histogram is queried as NAME_bucket (which adds "le"), NAME_sum and
 * NAME_count; Prometheus adds job and instance to every series.
 */
struct family {
	const char *name;
	bool histogram;
	const char *labels[5]; /* NULL-terminated */
};

static const struct family families[] = {
	{ "http_server_request_duration_seconds",
	  true,
	  { "service_name", "http_request_method", "http_response_status_code", "http_route" } },
	{ "http_client_request_duration_seconds", true, { "service_name", "server_service_name" } },
	{ "prp_http_client_errors_total", false, { "service_name", "server_service_name" } },
	{ "prp_syscalls_total", false, { "service_name", "syscall" } },
	{ "prp_syscall_errors_total", false, { "service_name", "syscall", "errno" } },
	{ "prp_tcp_retransmits_total", false, { "service_name" } },
	{ "prp_tcp_resets_total", false, { "service_name" } },
	{ "prp_tcp_connect_failures_total", false, { "service_name" } },
	{ "prp_actions_total", false, { "action", "status" } },
	{ "prp_ingest_frames_total", false, { NULL } },
	{ "prp_ingest_windows_total", false, { NULL } },
	{ "prp_ingest_frames_rejected_total", false, { "reason" } },
	{ "prp_agent_spool_lost_frames_total", false, { "agent_id", "host" } },
	{ "prp_metrics_series_overflow_total", false, { "service_name" } },
	{ "prp_export_sent_total", false, { "exporter" } },
	{ "prp_export_dropped_total", false, { "exporter" } },
	{ "prp_anomaly_score", false, { "service_name", "metric" } },
	{ "prp_anomalies_open", false, { "service_name" } },
	{ "prp_prediction_seconds_to_breach", false, { "service_name", "metric" } },
	{ "prp_agents_connected", false, { NULL } },
	{ "prp_agent_spool_bytes", false, { "agent_id", "host" } },
	{ "prp_store_size_bytes", false, { NULL } },
	{ "prp_build_info", false, { "version" } },
	{ "prp_start_time_seconds", false, { NULL } },
};

/* Labels Prometheus puts on every scraped series. */
static const char *const scrape_labels[] = { "job", "instance", NULL };
/*
 * The labels the aggregator's Loki exporter puts on every stream
 * (aggregator/export/loki_format.c); static labels from the config may
 * come on top, but a dashboard cannot count on them.
 */
static const char *const loki_labels[] = {
	"service_name", "host", "level", "source", "tenant", NULL
};

/* The datasources packaging/grafana/provisioning/datasources/prp.yaml makes. */
#define UID_PROMETHEUS "prp-prometheus"
#define UID_LOKI       "prp-loki"
#define UID_JAEGER     "prp-jaeger"
/* What a dashboard may name besides them: Grafana's own and the mixed one. */
static const char *const datasource_uids[] = { UID_PROMETHEUS,	UID_LOKI,      UID_JAEGER,
					       "-- Grafana --", "-- Mixed --", NULL };

static const char *const dashboard_files[] = {
	"prp-overview.json",	 "prp-service.json",	       "prp-topology.json",
	"prp-syscalls-tcp.json", "prp-anomalies-actions.json", "prp-aggregator.json",
};

#define DASHBOARD_DIR "packaging/grafana/dashboards"

/* ---- helpers ---- */

static bool in_strv(const char *const *v, const char *s)
{
	for (; *v; v++)
		if (!strcmp(*v, s))
			return true;
	return false;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* The family of series @metric, or NULL; *@bucket says it is a NAME_bucket. */
static const struct family *family_of(const char *metric, bool *bucket)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };

	*bucket = false;
	for (size_t i = 0; i < PRP_ARRAY_SIZE(families); i++) {
		const struct family *f = &families[i];
		size_t n = strlen(f->name);

		if (!f->histogram) {
			if (!strcmp(metric, f->name))
				return f;
			continue;
		}
		if (strncmp(metric, f->name, n))
			continue;
		for (size_t k = 0; k < PRP_ARRAY_SIZE(suffixes); k++) {
			if (!strcmp(metric + n, suffixes[k])) {
				*bucket = k == 0;
				return f;
			}
		}
	}
	return NULL;
}

static bool series_has_label(const char *metric, const char *label)
{
	bool bucket;
	const struct family *f = family_of(metric, &bucket);

	if (!f)
		return false;
	if (in_strv(scrape_labels, label) || (bucket && !strcmp(label, "le")))
		return true;
	return in_strv(f->labels, label);
}

/*
 * Expects @expr to use only known metrics, and only labels that every one
 * of its metrics has (labels the expression makes itself aside). @where
 * names the expression in messages.
 */
static void expect_known_promql(const char *where, const char *expr)
{
	struct promql_names n;
	char err[256];
	bool bucket;
	int rc = promql_names(expr, &n, err, sizeof(err));

	cr_expect_eq(rc, 0, "%s: %s in: %s", where, err, expr);
	if (rc)
		return;
	cr_expect_gt(n.n_metrics, 0, "%s: no metric in: %s", where, expr);
	for (size_t i = 0; i < n.n_metrics; i++)
		cr_expect_not_null(family_of(n.metrics[i], &bucket),
				   "%s: '%s' is not a metric prp exports", where, n.metrics[i]);
	for (size_t l = 0; l < n.n_labels; l++) {
		if (n.label_uses[l] & PROMQL_LABEL_DST)
			continue;
		for (size_t i = 0; i < n.n_metrics; i++)
			cr_expect(!family_of(n.metrics[i], &bucket) ||
					  series_has_label(n.metrics[i], n.labels[l]),
				  "%s: label '%s' is not on '%s'", where, n.labels[l],
				  n.metrics[i]);
	}
	promql_names_release(&n);
}

/* Expects the stream selector of LogQL @expr to use only the Loki labels. */
static void expect_known_logql(const char *where, const char *expr)
{
	const char *open = strchr(expr, '{'), *close = open ? strchr(open, '}') : NULL;
	struct promql_names n;
	char *selector, err[256];
	int rc;

	cr_assert(open && close, "%s: no stream selector in: %s", where, expr);
	selector = xstrndup(open, (size_t)(close - open + 1));
	rc = promql_names(selector, &n, err, sizeof(err));
	cr_expect_eq(rc, 0, "%s: %s in: %s", where, err, selector);
	for (size_t l = 0; !rc && l < n.n_labels; l++)
		cr_expect(in_strv(loki_labels, n.labels[l]),
			  "%s: '%s' is not a label of prp's streams", where, n.labels[l]);
	if (!rc)
		promql_names_release(&n);
	free(selector);
}

/*
 * @expr as Prometheus will get it: Grafana's interval variables become
 * durations, other variables "x". "$1" (a label_replace group) stays.
 * Caller owns the result: free().
 */
static char *interpolate(const char *expr)
{
	size_t cap = strlen(expr) + 1, len = 0;
	char *out = xmalloc(cap);

	for (const char *p = expr; *p;) {
		const char *value = NULL, *end = p;
		char name[64] = "";

		if (p[0] == '$' && p[1] == '{') {
			end = strchr(p, '}');
			cr_assert_not_null(end, "unterminated variable in: %s", expr);
			end++;
			value = "x";
		} else if (p[0] == '$' && (p[1] == '_' || (p[1] >= 'a' && p[1] <= 'z') ||
					   (p[1] >= 'A' && p[1] <= 'Z'))) {
			for (end = p + 1;
			     *end == '_' || (*end >= '0' && *end <= '9') ||
			     (*end >= 'a' && *end <= 'z') || (*end >= 'A' && *end <= 'Z');
			     end++)
				;
			snprintf(name, sizeof(name), "%.*s", (int)(end - p - 1), p + 1);
			value = !strcmp(name, "__rate_interval") ? "5m"
				: !strcmp(name, "__interval")	 ? "1m"
				: !strcmp(name, "__range")	 ? "1h"
								 : "x";
		}
		if (!value) {
			out[len++] = *p++;
			continue;
		}
		/* Each replacement is no longer than what it replaces. */
		cr_assert_leq(strlen(value), (size_t)(end - p));
		memcpy(out + len, value, strlen(value));
		len += strlen(value);
		p = end;
	}
	out[len] = '\0';
	return out;
}

/* @text with every @from replaced by @to; caller owns the result: free(). */
static char *replace_all(const char *text, const char *from, const char *to)
{
	char *out = xstrdup(""), *next;
	const char *at;

	while ((at = strstr(text, from))) {
		next = xasprintf("%s%.*s%s", out, (int)(at - text), text, to);
		free(out);
		out = next;
		text = at + strlen(from);
	}
	next = xasprintf("%s%s", out, text);
	free(out);
	return next;
}

static char *read_text(const char *rel)
{
	char path[PATH_MAX], *text;
	FILE *f;
	long size;

	repo_path(path, sizeof(path), rel);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open '%s'", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	cr_assert_geq(size, 0);
	rewind(f);
	text = xmalloc((size_t)size + 1);
	cr_assert_eq(fread(text, 1, (size_t)size, f), (size_t)size);
	text[size] = '\0';
	fclose(f);
	return text;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot write '%s'", path);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
}

/* Path of @prog from $PATH into @out; fails the test when it is missing. */
static void find_program(const char *prog, char *out, size_t cap, const char *package)
{
	const char *path = getenv("PATH");
	char *dirs = xstrdup(path ? path : "/usr/bin:/bin"), *save = NULL;
	bool found = false;

	for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, cap, "%s/%s", d, prog);
		found = !access(out, X_OK);
	}
	free(dirs);
	cr_assert(found, "%s is missing: apt-get install %s", prog, package);
}

/*
 * Runs @argv to its end (at most a minute) and returns its exit status; its
 * stdout and stderr go into @out (@cap bytes) for the failure message.
 */
static int run_capture(const char *const argv[], char *out, size_t cap)
{
	struct proc p;

	cr_assert_eq(proc_start(&p, argv), 0, "cannot start %s", argv[0]);
	cr_assert_eq(proc_wait_exit(&p, 60000), 0, "%s did not exit within a minute", argv[0]);
	snprintf(out, cap, "%s%s", buf_str(&p.out), buf_str(&p.err));
	proc_release(&p);
	return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : 128;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json of DASHBOARD_DIR, sorted; caller frees each and the array. */
static char **list_dashboards(size_t *count)
{
	char dir[PATH_MAX], **names = NULL;
	struct dirent *e;
	DIR *d;

	*count = 0;
	repo_path(dir, sizeof(dir), DASHBOARD_DIR);
	d = opendir(dir);
	cr_assert_not_null(d, "cannot open '%s'", dir);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".json"))
			continue;
		names = xreallocarray(names, *count + 1, sizeof(*names));
		names[(*count)++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, *count, sizeof(*names), cmp_str);
	return names;
}

static json_t *load_dashboard(const char *name)
{
	char rel[PATH_MAX / 2], path[PATH_MAX];
	json_error_t jerr;
	json_t *root;

	snprintf(rel, sizeof(rel), DASHBOARD_DIR "/%s", name);
	repo_path(path, sizeof(path), rel);
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	cr_assert_not_null(root, "%s:%d:%d: %s", rel, jerr.line, jerr.column, jerr.text);
	cr_assert(json_is_object(root), "%s is not a JSON object", rel);
	return root;
}

/* ---- what a dashboard refers to ---- */

/* What the walk over one dashboard collects. */
struct refs {
	const char *file;
	bool check_names; /* false: only collect the expressions */
	json_t *promql;	  /* array of every Prometheus expression, for promtool */
	size_t n_prometheus;
	size_t n_loki;
};

/* The uid of datasource reference @ds ({"type", "uid"}), or NULL when absent. */
static const char *datasource_uid(const char *where, const json_t *ds)
{
	const json_t *uid;

	if (!ds || json_is_null(ds))
		return NULL;
	cr_assert(json_is_object(ds), "%s: a datasource must be {\"type\", \"uid\"}, not a name",
		  where);
	uid = json_object_get(ds, "uid");
	cr_assert(json_is_string(uid), "%s: datasource without a uid", where);
	cr_expect(in_strv(datasource_uids, json_string_value(uid)),
		  "%s: datasource '%s' is not provisioned", where, json_string_value(uid));
	return json_string_value(uid);
}

/* One query, Prometheus or Loki by @uid; @expr_key names its member. */
static void check_query(struct refs *r, const char *where, const char *uid, const json_t *q,
			const char *expr_key)
{
	const json_t *expr = json_object_get(q, expr_key);

	cr_assert_not_null(uid, "%s: no datasource on the query or its panel", where);
	cr_expect(strcmp(uid, "-- Mixed --"), "%s: a query of a mixed panel needs its datasource",
		  where);
	if (!strcmp(uid, UID_PROMETHEUS)) {
		cr_assert(json_is_string(expr), "%s: Prometheus query without '%s'", where,
			  expr_key);
		if (r->check_names)
			expect_known_promql(where, json_string_value(expr));
		json_array_append_new(r->promql, json_string(json_string_value(expr)));
		r->n_prometheus++;
	} else if (!strcmp(uid, UID_LOKI)) {
		cr_assert(json_is_string(expr), "%s: Loki query without '%s'", where, expr_key);
		if (r->check_names)
			expect_known_logql(where, json_string_value(expr));
		r->n_loki++;
	}
}

static void walk_panels(struct refs *r, const json_t *panels, json_t *ids)
{
	const json_t *p;
	size_t i;

	cr_assert(json_is_array(panels), "%s: 'panels' is not an array", r->file);
	json_array_foreach(panels, i, p) {
		const json_t *title = json_object_get(p, "title"), *id = json_object_get(p, "id");
		const json_t *t, *nested = json_object_get(p, "panels");
		char where[512], key[32];
		const char *panel_uid;
		size_t k;

		snprintf(where, sizeof(where), "%s: panel '%s'", r->file,
			 json_is_string(title) ? json_string_value(title) : "?");
		cr_expect(json_is_string(title), "%s: panel %zu has no title", r->file, i);
		cr_assert(json_is_integer(id), "%s has no integer id", where);
		cr_expect(json_is_object(json_object_get(p, "gridPos")), "%s has no gridPos",
			  where);
		snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(id));
		cr_expect_null(json_object_get(ids, key), "%s: panel id %s used twice", where, key);
		json_object_set_new(ids, key, json_true());
		panel_uid = datasource_uid(where, json_object_get(p, "datasource"));
		json_array_foreach(json_object_get(p, "targets"), k, t) {
			const json_t *ref = json_object_get(t, "refId");
			const char *uid = datasource_uid(where, json_object_get(t, "datasource"));
			char twhere[600];

			snprintf(twhere, sizeof(twhere), "%s target %s", where,
				 json_is_string(ref) ? json_string_value(ref) : "?");
			check_query(r, twhere, uid ? uid : panel_uid, t, "expr");
		}
		if (nested)
			walk_panels(r, nested, ids);
	}
}

/* label_values(SELECTOR, LABEL): the selector is PromQL, the label one of its. */
static void check_label_values(struct refs *r, const char *where, const char *query)
{
	static const char prefix[] = "label_values(";
	const char *comma = strrchr(query, ','), *close = strrchr(query, ')');
	char *selector, *label, *expr;

	cr_assert(!strncmp(query, prefix, strlen(prefix)) && comma && close > comma,
		  "%s: expected label_values(METRIC, LABEL), got: %s", where, query);
	selector = xstrndup(query + strlen(prefix), (size_t)(comma - query) - strlen(prefix));
	for (comma++; *comma == ' '; comma++)
		;
	label = xstrndup(comma, (size_t)(close - comma));
	/* The label must be on the selector's metric, as if the query grouped by it. */
	expr = xasprintf("group by (%s) (%s)", label, selector);
	if (r->check_names)
		expect_known_promql(where, expr);
	json_array_append_new(r->promql, json_string(expr));
	free(expr);
	free(label);
	free(selector);
}

static void walk_templating(struct refs *r, const json_t *root)
{
	const json_t *list = json_object_get(json_object_get(root, "templating"), "list"), *v;
	size_t i;

	json_array_foreach(list, i, v) {
		const json_t *name = json_object_get(v, "name"), *q = json_object_get(v, "query");
		const char *uid, *type = json_string_value(json_object_get(v, "type"));
		char where[512];

		snprintf(where, sizeof(where), "%s: variable '%s'", r->file,
			 json_is_string(name) ? json_string_value(name) : "?");
		uid = datasource_uid(where, json_object_get(v, "datasource"));
		if (!type || strcmp(type, "query") || !uid || strcmp(uid, UID_PROMETHEUS))
			continue;
		if (json_is_object(q))
			q = json_object_get(q, "query");
		cr_assert(json_is_string(q), "%s has no query", where);
		check_label_values(r, where, json_string_value(q));
	}
}

static void walk_annotations(struct refs *r, const json_t *root)
{
	const json_t *list = json_object_get(json_object_get(root, "annotations"), "list"), *a;
	size_t i;

	json_array_foreach(list, i, a) {
		const json_t *name = json_object_get(a, "name");
		const char *uid;
		char where[512];

		snprintf(where, sizeof(where), "%s: annotation '%s'", r->file,
			 json_is_string(name) ? json_string_value(name) : "?");
		uid = datasource_uid(where, json_object_get(a, "datasource"));
		if (uid && (!strcmp(uid, UID_PROMETHEUS) || !strcmp(uid, UID_LOKI)))
			check_query(r, where, uid, a, "expr");
	}
}

/*
 * Checks every dashboard file (the names in queries too when @check_names);
 * returns its Prometheus expressions (caller owns: json_decref()).
 */
static json_t *check_all_dashboards(bool check_names, size_t *n_files, size_t *n_prometheus,
				    size_t *n_loki)
{
	json_t *uids = json_object(), *promql = json_array();
	size_t count;
	char **names = list_dashboards(&count);

	*n_prometheus = *n_loki = 0;
	for (size_t i = 0; i < count; i++) {
		json_t *root = load_dashboard(names[i]), *ids = json_object();
		const json_t *uid = json_object_get(root, "uid");
		struct refs r = { .file = names[i], .check_names = check_names, .promql = promql };

		cr_expect_null(json_object_get(root, "dashboard"),
			       "%s is wrapped in {\"dashboard\": ...}: save the dashboard alone",
			       names[i]);
		cr_expect(json_is_string(json_object_get(root, "title")), "%s has no title",
			  names[i]);
		cr_expect_eq(json_integer_value(json_object_get(root, "schemaVersion")), 39,
			     "%s: schemaVersion is not 39", names[i]);
		cr_assert(json_is_string(uid), "%s has no uid", names[i]);
		cr_expect(!strncmp(json_string_value(uid), "prp-", 4), "%s: uid '%s' lacks 'prp-'",
			  names[i], json_string_value(uid));
		cr_expect_null(json_object_get(uids, json_string_value(uid)),
			       "%s: uid '%s' is also the uid of %s", names[i],
			       json_string_value(uid),
			       json_string_value(json_object_get(uids, json_string_value(uid))));
		json_object_set_new(uids, json_string_value(uid), json_string(names[i]));
		cr_assert_not_null(json_object_get(root, "panels"), "%s has no panels", names[i]);
		walk_panels(&r, json_object_get(root, "panels"), ids);
		walk_templating(&r, root);
		walk_annotations(&r, root);
		*n_prometheus += r.n_prometheus;
		*n_loki += r.n_loki;
		json_decref(ids);
		json_decref(root);
		free(names[i]);
	}
	free(names);
	json_decref(uids);
	*n_files = count;
	return promql;
}

/* ---- promql_names ---- */

static void names_ok(const char *expr, struct promql_names *n)
{
	char err[256] = "";

	cr_assert_eq(promql_names(expr, n, err, sizeof(err)), 0, "%s: %s", expr, err);
}

static void expect_strv(char *const *have, size_t n, const char *const *want, const char *what,
			const char *expr)
{
	size_t k = 0;

	for (; want[k]; k++) {
		cr_expect_lt(k, n, "%s: %s lacks '%s'", expr, what, want[k]);
		if (k < n)
			cr_expect_str_eq(have[k], want[k], "%s: %s %zu", expr, what, k);
	}
	cr_expect_eq(n, k, "%s: %zu %s, want %zu", expr, n, what, k);
}

/* Expects exactly @metrics and @labels (NULL-terminated, in order of first use). */
static void expect_names(const char *expr, const char *const *metrics, const char *const *labels)
{
	struct promql_names n;

	names_ok(expr, &n);
	expect_strv(n.metrics, n.n_metrics, metrics, "metrics", expr);
	expect_strv(n.labels, n.n_labels, labels, "labels", expr);
	promql_names_release(&n);
}

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE	   ((const char *const[]){ NULL })

/* Expects @expr to fail with @code and an error that contains @pos and @what. */
static void expect_error(const char *expr, int code, const char *pos, const char *what)
{
	struct promql_names n;
	char err[256] = "";

	cr_expect_eq(promql_names(expr, &n, err, sizeof(err)), code, "%s", expr);
	cr_expect(!strncmp(err, pos, strlen(pos)), "%s: error '%s' is not at %s", expr, err, pos);
	cr_expect_not_null(strstr(err, what), "%s: error '%s' lacks '%s'", expr, err, what);
	cr_expect_eq(n.n_metrics + n.n_labels, 0, "%s: names left after an error", expr);
	cr_expect_null(n.metrics);
	cr_expect_null(n.labels);
	promql_names_release(&n);
}

Test(promql_names, histogram_quantile_of_a_bucket_rate)
{
	expect_names("histogram_quantile(0.99, sum by (le, service_name) "
		     "(rate(x_bucket{service_name=\"$service\"}[$__rate_interval])))",
		     NAMES("x_bucket"), NAMES("le", "service_name"));
}

Test(promql_names, selectors_with_every_matcher_operator)
{
	expect_names("up{a=\"x\", b=~\"y|z\", c!=\"\", d!~\"[0-9]{2}\"} + on() down{e=~'.*'}",
		     NAMES("up", "down"), NAMES("a", "b", "c", "d", "e"));
	expect_names("{service_name=\"a\"}", NONE, NAMES("service_name"));
	expect_names("x{}", NAMES("x"), NONE);
}

Test(promql_names, nested_functions_and_trailing_by)
{
	expect_names("sum(rate(a_total{x=\"1\"}[5m])) by (x, y) / ignoring(z) "
		     "max_over_time(deriv(b[1h])[1d:5m])",
		     NAMES("a_total", "b"), NAMES("x", "y", "z"));
	expect_names("round(clamp_min(abs(delta(c:recorded:rate5m[10m])), 0), 0.5)",
		     NAMES("c:recorded:rate5m"), NONE);
}

Test(promql_names, grouping_modifiers_are_labels)
{
	struct promql_names n;

	expect_names("a * on(service_name, host) group_left(version) b", NAMES("a", "b"),
		     NAMES("service_name", "host", "version"));
	expect_names("a / ignoring(code) group_right b", NAMES("a", "b"), NAMES("code"));
	expect_names("count without (instance, job) (a)", NAMES("a"), NAMES("instance", "job"));
	names_ok("sum by (x) (a{x=\"1\"})", &n);
	cr_expect_eq(promql_names_label_uses(&n, "x"),
		     PROMQL_LABEL_MATCHER | PROMQL_LABEL_GROUPING);
	cr_expect_eq(promql_names_label_uses(&n, "nope"), 0);
	cr_expect(promql_names_has_metric(&n, "a"));
	cr_expect(!promql_names_has_metric(&n, "x"));
	promql_names_release(&n);
}

Test(promql_names, label_replace_and_label_join_name_their_labels)
{
	struct promql_names n;

	names_ok("label_replace(label_join(m, \"id\", \"->\", \"src\", \"dst\"), "
		 "\"title\", \"$1\", \"id\", \"(.*)\")",
		 &n);
	expect_strv(n.metrics, n.n_metrics, NAMES("m"), "metrics", "label_join");
	expect_strv(n.labels, n.n_labels, NAMES("id", "src", "dst", "title"), "labels",
		    "label_join");
	cr_expect_eq(promql_names_label_uses(&n, "id"), PROMQL_LABEL_DST | PROMQL_LABEL_SRC);
	cr_expect_eq(promql_names_label_uses(&n, "src"), PROMQL_LABEL_SRC);
	cr_expect_eq(promql_names_label_uses(&n, "title"), PROMQL_LABEL_DST);
	promql_names_release(&n);
	/* Not literal label names: a variable, a regex, a separator, a replacement. */
	expect_names("label_replace(m, \"$dst\", \"${1}\", \"a-b\", \"(x)\")", NAMES("m"), NONE);
	expect_names("count_values(\"code\", m)", NAMES("m"), NAMES("code"));
	expect_names("sort_by_label(m, \"a\", 'b')", NAMES("m"), NAMES("a", "b"));
}

Test(promql_names, keywords_numbers_and_durations_are_skipped)
{
	expect_names("a and b or c unless d", NAMES("a", "b", "c", "d"), NONE);
	expect_names("a > bool 0.5 * 1e-3 + 0x1F - Inf + NaN - inf", NAMES("a"), NONE);
	expect_names("rate(a[5m] offset 1h30m) atan2 b @ 1609746000", NAMES("a", "b"), NONE);
	expect_names("SUM BY (x) (a) OR on (y) vector(0)", NAMES("a"), NAMES("x", "y"));
	expect_names("topk(5, quantile without (i) (0.9, a)) # b is only a comment", NAMES("a"),
		     NAMES("i"));
	expect_names("a[5m:1m] + b @ start()", NAMES("a", "b"), NONE);
}

Test(promql_names, grafana_variables_are_skipped)
{
	expect_names("topk($n, sum by (le) (increase(a_bucket{s=~\"${service:regex}\"}"
		     "[$__interval])))",
		     NAMES("a_bucket"), NAMES("le", "s"));
	expect_names("rate(b{h=\"[[host]]\"}[[[window]]]) / ${denominator} * $__range_s",
		     NAMES("b"), NAMES("h"));
	expect_names("metric_$suffix + ${prefix}_total + c", NAMES("c"), NONE);
}

Test(promql_names, name_matcher_and_strings)
{
	expect_names("{__name__=\"prp_up\", job=\"x\"}", NAMES("prp_up"), NAMES("job"));
	expect_names("{__name__=~\"prp_.*\"}", NONE, NAMES("__name__"));
	expect_names("a{m=\"{(unbalanced]\\\"\", n=`raw\\`}", NAMES("a"), NAMES("m", "n"));
}

Test(promql_names, names_are_listed_once_in_order_of_first_use)
{
	expect_names("b{y=\"1\"} / a{x=\"1\", y=\"2\"} + b", NAMES("b", "a"), NAMES("y", "x"));
}

Test(promql_names, unbalanced_brackets_fail_with_their_position)
{
	expect_error("sum(rate(x[5m])", -EINVAL, "1:4:", "'(': never closed");
	expect_error("x{a=\"b\"", -EINVAL, "1:2:", "'{': never closed");
	expect_error("rate(x[5m)", -EINVAL, "1:10:", "')': '[' opened at 1:7 is still open");
	expect_error("x{a=\"b\")", -EINVAL, "1:8:", "')'");
	expect_error("x)", -EINVAL, "1:2:", "nothing to close");
	expect_error("a +\n  b}", -EINVAL, "2:4:", "'}': nothing to close");
	expect_error("x[5m}", -EINVAL, "1:5:", "'[' opened at 1:2");
}

Test(promql_names, bad_tokens_fail)
{
	char deep[2 * 70 + 2];

	expect_error("x{a=\"b}", -EINVAL, "1:5:", "unterminated string");
	expect_error("x{a=`b}", -EINVAL, "1:5:", "unterminated string");
	expect_error("x{a=$}", -EINVAL, "1:5:", "'$' without a variable name");
	expect_error("rate(x[${w)", -EINVAL, "1:8:", "unterminated variable");
	expect_error("a ; b", -EINVAL, "1:3:", "unexpected character ';'");
	expect_error("a ! b", -EINVAL, "1:3:", "unexpected character '!'");
	expect_error("a \x01", -EINVAL, "1:3:", "unexpected byte 0x01");
	memset(deep, '(', 70);
	deep[70] = 'x';
	memset(deep + 71, ')', 70);
	deep[141] = '\0';
	expect_error(deep, -E2BIG, "1:65:", "nested deeper than 64");
}

Test(promql_names, error_buffer_may_be_absent_and_release_is_idempotent)
{
	struct promql_names n;

	cr_expect_eq(promql_names("(", &n, NULL, 0), -EINVAL);
	names_ok("a", &n);
	promql_names_release(&n);
	promql_names_release(&n);
	cr_expect_eq(n.n_metrics, 0);
}

/* ---- the allowed list itself ---- */

Test(grafana, the_family_table_matches_histogram_suffixes_only_where_allowed)
{
	bool bucket;

	cr_expect_not_null(family_of("http_server_request_duration_seconds_bucket", &bucket));
	cr_expect(bucket);
	cr_expect_not_null(family_of("http_client_request_duration_seconds_sum", &bucket));
	cr_expect(!bucket);
	cr_expect_null(family_of("http_server_request_duration_seconds", &bucket));
	cr_expect_null(family_of("prp_syscalls_total_count", &bucket));
	cr_expect_null(family_of("prp_syscalls", &bucket));
	cr_expect(series_has_label("http_server_request_duration_seconds_bucket", "le"));
	cr_expect(!series_has_label("http_server_request_duration_seconds_count", "le"));
	cr_expect(series_has_label("prp_store_size_bytes", "instance"));
	cr_expect(!series_has_label("prp_actions_total", "service_name"));
}

/* ---- dashboards ---- */

Test(grafana, the_named_dashboards_exist)
{
	for (size_t i = 0; i < PRP_ARRAY_SIZE(dashboard_files); i++) {
		json_t *root = load_dashboard(dashboard_files[i]);

		json_decref(root);
	}
}

Test(grafana, dashboards_use_only_exported_metrics_labels_and_provisioned_datasources)
{
	size_t files, n_prometheus, n_loki;
	json_t *promql = check_all_dashboards(true, &files, &n_prometheus, &n_loki);

	cr_expect_geq(files, PRP_ARRAY_SIZE(dashboard_files));
	cr_expect_gt(n_prometheus, 0, "no Prometheus query checked");
	cr_expect_gt(n_loki, 0, "no Loki query checked");
	json_decref(promql);
}

Test(grafana, service_dashboards_have_a_service_variable)
{
	static const char *const with_service[] = { "prp-overview.json", "prp-service.json",
						    "prp-syscalls-tcp.json",
						    "prp-anomalies-actions.json" };

	for (size_t i = 0; i < PRP_ARRAY_SIZE(with_service); i++) {
		json_t *root = load_dashboard(with_service[i]);
		const json_t *list = json_object_get(json_object_get(root, "templating"), "list");
		const json_t *v, *found = NULL;
		size_t k;

		json_array_foreach(list, k, v) {
			const char *name = json_string_value(json_object_get(v, "name"));

			if (name && !strcmp(name, "service"))
				found = v;
		}
		cr_expect_not_null(found, "%s has no $service", with_service[i]);
		if (found)
			cr_expect_str_eq(json_string_value(json_object_get(found, "definition")),
					 "label_values(http_server_request_duration_seconds_count, "
					 "service_name)",
					 "%s", with_service[i]);
		json_decref(root);
	}
}

Test(grafana, every_prometheus_expression_parses_for_promtool)
{
	size_t files, n_prometheus, n_loki, i;
	json_t *promql = check_all_dashboards(false, &files, &n_prometheus, &n_loki), *e;
	char dir[PATH_MAX / 2], rules[PATH_MAX], tool[PATH_MAX], out[16384];
	char *yaml = xstrdup("groups:\n  - name: dashboards\n    rules:\n");
	int status;

	find_program("promtool", tool, sizeof(tool), "prometheus");
	json_array_foreach(promql, i, e) {
		char *expr = interpolate(json_string_value(e));
		json_t *str = json_string(expr);
		char *quoted = json_dumps(str, JSON_ENCODE_ANY);
		/* A JSON string is a YAML double-quoted scalar. */
		char *next = xasprintf("%s      - record: dashboard_expr_%zu\n        expr: %s\n",
				       yaml, i, quoted);

		free(yaml);
		yaml = next;
		free(quoted);
		json_decref(str);
		free(expr);
	}
	tmpdir_make(dir, sizeof(dir), "grafana");
	snprintf(rules, sizeof(rules), "%s/rules.yml", dir);
	write_text(rules, yaml);
	status = run_capture((const char *const[]){ tool, "check", "rules", rules, NULL }, out,
			     sizeof(out));
	cr_expect_eq(status, 0, "promtool check rules failed:\n%s", out);
	tmpdir_remove(dir);
	free(yaml);
	json_decref(promql);
}

/* ---- provisioning and Prometheus ---- */

Test(grafana, provisioning_names_the_three_datasources_and_the_dashboard_folder)
{
	static const char *const want_ds[] = {
		"uid: " UID_PROMETHEUS,
		"url: http://127.0.0.1:9090",
		"type: prometheus",
		"uid: " UID_LOKI,
		"url: http://127.0.0.1:3100",
		"type: loki",
		"uid: " UID_JAEGER,
		"url: http://127.0.0.1:16686",
		"type: jaeger",
		"apiVersion: 1",
		NULL,
	};
	static const char *const want_dash[] = { "apiVersion: 1", "type: file",
						 "path: /var/lib/grafana/dashboards/prp", NULL };
	char *ds = read_text("packaging/grafana/provisioning/datasources/prp.yaml");
	char *dash = read_text("packaging/grafana/provisioning/dashboards/prp.yaml");

	for (size_t i = 0; want_ds[i]; i++)
		cr_expect_not_null(strstr(ds, want_ds[i]), "datasources/prp.yaml lacks '%s'",
				   want_ds[i]);
	for (size_t i = 0; want_dash[i]; i++)
		cr_expect_not_null(strstr(dash, want_dash[i]), "dashboards/prp.yaml lacks '%s'",
				   want_dash[i]);
	free(ds);
	free(dash);
}

Test(grafana, prometheus_yml_passes_promtool_check_config)
{
	static const char key_path[] = "/etc/prometheus/prp.key";
	char dir[PATH_MAX / 2], key[PATH_MAX], conf[PATH_MAX], tool[PATH_MAX], out[16384];
	char *text = read_text("packaging/prometheus/prometheus.yml"), *copy;
	int status;

	find_program("promtool", tool, sizeof(tool), "prometheus");
	cr_expect_not_null(strstr(text, "127.0.0.1:8080"));
	cr_expect_not_null(strstr(text, "metrics_path: /metrics"));
	cr_expect_not_null(strstr(text, "type: Bearer"));
	cr_expect_not_null(strstr(text, "--role viewer"), "say how to make the viewer key");
	cr_expect_not_null(strstr(text, "127.0.0.1:9464"), "keep the agent's job as an example");
	cr_assert_not_null(strstr(text, key_path), "prometheus.yml does not read the key from %s",
			   key_path);
	/* promtool checks that the key file exists: point it at a temporary one. */
	tmpdir_make(dir, sizeof(dir), "grafana");
	snprintf(key, sizeof(key), "%s/prp.key", dir);
	write_text(key, "prp_not_a_real_key\n");
	copy = replace_all(text, key_path, key);
	snprintf(conf, sizeof(conf), "%s/prometheus.yml", dir);
	write_text(conf, copy);
	status = run_capture((const char *const[]){ tool, "check", "config", conf, NULL }, out,
			     sizeof(out));
	cr_expect_eq(status, 0, "promtool check config failed:\n%s", out);
	cr_expect_not_null(strstr(out, "SUCCESS"), "%s", out);
	tmpdir_remove(dir);
	free(copy);
	free(text);
}
