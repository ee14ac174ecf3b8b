/*
 * /metrics scraped by a real Prometheus (Debian's prometheus package, on
 * loopback with a temporary config) during a run of the whole platform:
 * the demo services under load, watched by prp-agent through eBPF. Once
 * the load stops, PromQL's http_server_request_duration_seconds_count of
 * each service must equal the requests GET /services/{name} reports, and
 * promtool must find nothing wrong with the exposition. Prometheus
 * negotiates OpenMetrics, so its parser checks that format too.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/platform.h"
#include "tests/lib/proc.h"
#include "tests/lib/promql_names.h"
#include "tests/lib/repo.h"
#include "tests/lib/tmpdir.h"

#define INGEST_PORT 19170
#define HTTP_PORT   19181
#define PROM_PORT   19190
#define PROMETHEUS  "/usr/bin/prometheus"

static const char *const services[] = { "orders", "users", "payments" };

static struct platform pf;
static struct proc prom;
static char prom_dir[64];

static void setup(void)
{
	platform_start(&pf, INGEST_PORT, HTTP_PORT, NULL, NULL, "40");
}

static void teardown(void)
{
	if (prom.pid)
		cr_expect_eq(proc_stop(&prom, 10000), 0);
	proc_release(&prom);
	if (prom_dir[0])
		tmpdir_remove(prom_dir);
	platform_stop(&pf);
	test_no_leaks();
}

TestSuite(prometheus, .init = setup, .fini = teardown, .timeout = 300);

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* Starts Prometheus scraping the aggregator every second with the admin key. */
static void prometheus_start(void)
{
	char path[128], key[160], config[1024], flag_config[160], flag_data[160], flag_listen[64];

	cr_assert_eq(access(PROMETHEUS, X_OK), 0, "Debian's prometheus package is needed");
	tmpdir_make(prom_dir, sizeof(prom_dir), "prometheus");
	snprintf(key, sizeof(key), "%s/key", prom_dir);
	write_file(key, pf.admin_key);
	snprintf(config, sizeof(config),
		 "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
		 "scrape_configs:\n"
		 "  - job_name: prp\n"
		 "    authorization: {type: Bearer, credentials_file: %s}\n"
		 "    static_configs: [{targets: ['127.0.0.1:%d']}]\n",
		 key, HTTP_PORT);
	snprintf(path, sizeof(path), "%s/prometheus.yml", prom_dir);
	write_file(path, config);
	snprintf(flag_config, sizeof(flag_config), "--config.file=%s", path);
	snprintf(flag_data, sizeof(flag_data), "--storage.tsdb.path=%s/data", prom_dir);
	snprintf(flag_listen, sizeof(flag_listen), "--web.listen-address=127.0.0.1:%d", PROM_PORT);
	cr_assert_eq(proc_start(&prom, (const char *const[]){ PROMETHEUS, flag_config, flag_data,
							      flag_listen, "--log.level=warn",
							      NULL }),
		     0);
}

/* A PromQL instant query through Prometheus's HTTP API: its result array (caller decrefs). */
static json_t *promql(const char *query)
{
	char url[512], *q;
	struct buf resp;
	long status = 0;
	json_t *doc, *result = NULL;
	CURL *c = curl_easy_init();

	q = curl_easy_escape(c, query, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/query?query=%s", PROM_PORT, q);
	curl_free(q);
	curl_easy_cleanup(c);
	buf_init(&resp, 16 << 20);
	if (http_call("GET", url, NULL, &status, &resp, NULL) || status != 200) {
		buf_release(&resp);
		return NULL;
	}
	doc = json_loadb((const char *)resp.data, resp.len, 0, NULL);
	buf_release(&resp);
	if (doc)
		result = json_incref(json_object_get(json_object_get(doc, "data"), "result"));
	json_decref(doc);
	return result;
}

/* The value of the sample whose label @label is @value in @result, or -1. */
static double sample_of(const json_t *result, const char *label, const char *value)
{
	size_t i;
	json_t *s;

	json_array_foreach(result, i, s) {
		const char *v = json_string_value(json_object_get(json_object_get(s, "metric"), label));

		if (v && !strcmp(v, value))
			return atof(json_string_value(json_array_get(json_object_get(s, "value"), 1)));
	}
	return -1;
}

/* GET /services/@name's request count over the last hour. */
static long long service_requests(const char *name)
{
	char path[128];
	json_t *d;
	long long n;

	snprintf(path, sizeof(path), "/services/%s?since=1h", name);
	d = platform_api(&pf, "GET", path, NULL);
	n = (long long)json_integer_value(json_object_get(d, "requests"));
	json_decref(d);
	return n;
}

/* Waits until every service's count has held still for 3 s: the last windows are in. */
static void wait_settled(long long counts[3])
{
	long long prev[3] = { -1, -1, -1 };

	for (int i = 0; i < 60; i++) {
		bool same = true;

		for (int k = 0; k < 3; k++) {
			counts[k] = service_requests(services[k]);
			same = same && counts[k] == prev[k] && counts[k] > 0;
			prev[k] = counts[k];
		}
		if (same)
			return;
		time_sleep_ns(3 * NSEC_PER_SEC);
	}
	cr_assert_fail("the request counts did not settle");
}

/* ---- the dashboards against the live exposition ---- */

/*
 * Families /metrics writes only when there is something to say: a breach
 * forecast, an ended action, a series cap hit, a signal past warm-up, an
 * exporter configured. A dashboard may use them although this run has none.
 */
static const char *const conditional[] = {
	"prp_prediction_seconds_to_breach", "prp_actions_total", "prp_metrics_series_overflow_total",
	"prp_anomaly_score",		    "prp_export_sent_total", "prp_export_dropped_total",
};

/* Each family of the exposition, with the label names its samples carry. */
struct live {
	json_t *families; /* {family: {label: true}} */
};

static void live_parse(struct live *l, const char *text)
{
	l->families = json_object();
	for (const char *line = text; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
		char name[160];
		size_t n = strcspn(line, "{ \n");
		json_t *labels;

		if (*line == '#' || *line == '\n' || n == 0 || n >= sizeof(name))
			continue;
		memcpy(name, line, n);
		name[n] = '\0';
		labels = json_object_get(l->families, name);
		if (!labels) {
			labels = json_object();
			json_object_set_new(l->families, name, labels);
		}
		if (line[n] != '{')
			continue;
		for (const char *p = line + n + 1; *p && *p != '}';) {
			size_t k = strcspn(p, "=");
			char label[64];
			const char *q;

			if (k >= sizeof(label))
				break;
			memcpy(label, p, k);
			label[k] = '\0';
			json_object_set_new(labels, label, json_true());
			/* past the quoted value, escapes included */
			for (q = p + k + 2; *q && *q != '"'; q++)
				if (*q == '\\' && q[1])
					q++;
			p = *q ? q + 1 : q;
			if (*p == ',')
				p++;
		}
	}
}

static bool is_conditional(const char *metric)
{
	for (size_t i = 0; i < sizeof(conditional) / sizeof(conditional[0]); i++)
		if (!strcmp(conditional[i], metric))
			return true;
	return false;
}

/* One PromQL expression of dashboard @file: its metrics and labels exist live. */
static void check_expr(const struct live *l, const char *file, const char *expr, size_t *checked)
{
	struct promql_names pn;
	char err[256];

	cr_assert_eq(promql_names(expr, &pn, err, sizeof(err)), 0, "%s: %s: %s", file, expr, err);
	for (size_t i = 0; i < pn.n_metrics; i++) {
		json_t *labels = json_object_get(l->families, pn.metrics[i]);

		if (!labels) {
			cr_assert(is_conditional(pn.metrics[i]),
				  "%s uses %s, which /metrics does not export: %s", file,
				  pn.metrics[i], expr);
			continue;
		}
		for (size_t k = 0; k < pn.n_labels; k++) {
			const char *lb = pn.labels[k];

			/* a label the expression makes itself need not exist */
			if ((pn.label_uses[k] & PROMQL_LABEL_DST) || !strcmp(lb, "job") ||
			    !strcmp(lb, "instance") || !strcmp(lb, "__name__"))
				continue;
			/* a label one metric of the expression has is enough here: the unit test
			 * holds each metric to its own list */
			bool found = false;

			for (size_t j = 0; j < pn.n_metrics && !found; j++) {
				json_t *ls = json_object_get(l->families, pn.metrics[j]);

				found = ls && json_object_get(ls, lb);
			}
			cr_assert(found || is_conditional(pn.metrics[i]),
				  "%s: no metric of '%s' has label %s live", file, expr, lb);
		}
		(*checked)++;
	}
	promql_names_release(&pn);
}

/* Walks @v, whose datasource is @uid, checking each Prometheus "expr". */
static void check_node(const struct live *l, const char *file, json_t *v, const char *uid,
		       size_t *checked)
{
	const char *key;
	json_t *child;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			check_node(l, file, child, uid, checked);
		return;
	}
	if (!json_is_object(v))
		return;
	child = json_object_get(json_object_get(v, "datasource"), "uid");
	if (json_is_string(child))
		uid = json_string_value(child);
	child = json_object_get(v, "expr");
	if (json_is_string(child) && uid && !strcmp(uid, "prp-prometheus"))
		check_expr(l, file, json_string_value(child), checked);
	json_object_foreach(v, key, child)
		if (strcmp(key, "datasource"))
			check_node(l, file, child, uid, checked);
}

static void check_dashboards(const char *exposition)
{
	char dir[512], path[1024];
	struct live l;
	struct dirent *e;
	size_t checked = 0, files = 0;
	DIR *d;

	live_parse(&l, exposition);
	repo_path(dir, sizeof(dir), "packaging/grafana/dashboards");
	d = opendir(dir);
	cr_assert_not_null(d, "%s", dir);
	while ((e = readdir(d))) {
		json_t *doc;

		if (!strstr(e->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		doc = json_load_file(path, 0, NULL);
		cr_assert_not_null(doc, "%s", path);
		check_node(&l, e->d_name, doc, NULL, &checked);
		json_decref(doc);
		files++;
	}
	closedir(d);
	json_decref(l.families);
	printf("prometheus: %zu dashboards, %zu metric references checked against /metrics\n",
	       files, checked);
	cr_assert_geq(files, 6);
	cr_assert_geq(checked, 40);
}

Test(prometheus, promql_counts_equal_the_api_and_promtool_is_clean)
{
	long long want[3];
	double got[3] = { -1, -1, -1 };
	char url[128];
	struct buf body;
	long status;
	FILE *p;
	int st;

	prometheus_start();
	time_sleep_ns(8 * NSEC_PER_SEC); /* load for a while, with Prometheus scraping */
	cr_assert_eq(proc_stop(&pf.loadgen, 10000), 0);
	wait_settled(want);

	/* Prometheus's latest scrape of the settled counters */
	for (int i = 0; i < 60; i++) {
		json_t *r = promql("sum by (service_name) (http_server_request_duration_seconds_count"
				   "{job=\"prp\"})");
		bool all = r != NULL;

		for (int k = 0; k < 3 && r; k++) {
			got[k] = sample_of(r, "service_name", services[k]);
			all = all && got[k] == (double)want[k];
		}
		json_decref(r);
		if (all)
			break;
		time_sleep_ns(NSEC_PER_SEC);
	}
	for (int k = 0; k < 3; k++) {
		printf("prometheus: %s: PromQL %.0f, GET /services %lld\n", services[k], got[k],
		       want[k]);
		cr_assert_eq(got[k], (double)want[k], "%s: PromQL says %.0f, the API %lld",
			     services[k], got[k], want[k]);
	}
	{
		json_t *up = promql("up{job=\"prp\"}");

		cr_assert_eq(sample_of(up, "job", "prp"), 1, "the scrape is up");
		json_decref(up);
	}

	/* the text format, checked by Prometheus's own linter */
	snprintf(url, sizeof(url), "%s/metrics", pf.api);
	buf_init(&body, 64 << 20);
	http_set_api_key(pf.admin_key);
	cr_assert_eq(http_call("GET", url, NULL, &status, &body, NULL), 0);
	cr_assert_eq(status, 200);
	p = popen("promtool check metrics", "w");
	cr_assert_not_null(p);
	fwrite(body.data, 1, body.len, p);
	st = pclose(p);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "promtool check metrics failed");
	for (int k = 0; k < 3; k++) {
		char needle[128];

		snprintf(needle, sizeof(needle),
			 "http_server_request_duration_seconds_count{service_name=\"%s\"",
			 services[k]);
		cr_assert_not_null(strstr(buf_str(&body), needle), "no series of %s", services[k]);
	}
	cr_assert_not_null(strstr(buf_str(&body), "http_client_request_duration_seconds_count{"
						  "service_name=\"orders\",server_service_name="
						  "\"users\"}"),
			   "the call orders -> users");
	check_dashboards(buf_str(&body));
	buf_release(&body);
}
