/*
 * aggregator/aggregator_config.c: defaults, packaging/etc/aggregator.yaml,
 * flags, the listen address check, and docs/config-aggregator.md, which must
 * be exactly what the table prints (PRP_WRITE_DOCS=1 rewrites it).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/aggregator_config.h"
#include "aggregator/analysis/llm.h"
#include "aggregator/export/loki.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/repo.h"

TestSuite(aggregator_config, .fini = test_no_leaks);

static int load(struct aggregator_config *c, char *err, size_t errlen, const char *const *args)
{
	static char store[16][512];
	char *argv[16] = { store[0] };
	int argc = 1, next = 0;

	snprintf(store[0], sizeof(store[0]), "prp-aggregator");
	for (; args && args[argc - 1] && argc < 15; argc++) {
		snprintf(store[argc], sizeof(store[argc]), "%s", args[argc - 1]);
		argv[argc] = store[argc];
	}
	memset(c, 0, sizeof(*c));
	/* no system file in the way: an explicit empty config */
	return aggregator_config_load(c, argc, argv, &next, err, errlen);
}

static void expect_defaults(const struct aggregator_config *c)
{
	cr_expect_str_eq(c->listen, "0.0.0.0:8080");
	cr_expect_str_eq(c->ingest, "tcp://0.0.0.0:7070");
	cr_expect_str_eq(c->data, "/var/lib/prp");
	cr_expect_str_eq(c->keys_dir, "/etc/prp/keys");
	cr_expect_eq(c->http_threads, 0);
	cr_expect_eq(c->retention_raw_hours, 24);
	cr_expect_eq(c->retention_minute_days, 14);
	cr_expect_eq(c->ingest_batch_ms, 10);
}

Test(aggregator_config, the_packaged_file_states_the_defaults)
{
	struct aggregator_config c;
	char path[PATH_MAX], err[256] = "";

	repo_path(path, sizeof(path), "packaging/etc/aggregator.yaml");
	cr_assert_eq(load(&c, err, sizeof(err), (const char *const[]){ "--config", path, NULL }), 0,
		     "%s", err);
	expect_defaults(&c);
	aggregator_config_release(&c);
}

Test(aggregator_config, flags_set_keys_and_listen_splits)
{
	struct aggregator_config c;
	char err[256] = "", host[64];
	uint16_t port = 0;
	char path[PATH_MAX];

	repo_path(path, sizeof(path), "packaging/etc/aggregator.yaml");
	cr_assert_eq(load(&c, err, sizeof(err),
			  (const char *const[]){ "--config", path, "--listen", "127.0.0.1:9090",
						 "--data", "/tmp/x", "--retention-raw-hours", "6",
						 NULL }),
		     0, "%s", err);
	cr_expect_str_eq(c.data, "/tmp/x");
	cr_expect_eq(c.retention_raw_hours, 6);
	cr_assert_eq(aggregator_config_listen(&c, host, sizeof(host), &port), 0);
	cr_expect_str_eq(host, "127.0.0.1");
	cr_expect_eq(port, 9090);
	aggregator_config_release(&c);
}

Test(aggregator_config, a_bad_listen_address_is_refused_with_the_key)
{
	static const char *const bad[] = { "8080", ":8080", "host:", "host:0", "host:65536",
					   "host:80x" };
	struct aggregator_config c;
	char path[PATH_MAX];

	repo_path(path, sizeof(path), "packaging/etc/aggregator.yaml");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";

		cr_expect_eq(load(&c, err, sizeof(err),
				  (const char *const[]){ "--config", path, "--listen", bad[i],
							 NULL }),
			     -EINVAL, "%s accepted", bad[i]);
		cr_expect(strstr(err, "listen"), "%s: %s", bad[i], err);
		aggregator_config_release(&c);
	}
}

Test(aggregator_config, markdown_doc_is_what_the_table_prints)
{
	char *want = NULL;
	size_t wantlen = 0;
	FILE *f = open_memstream(&want, &wantlen);

	aggregator_config_write_markdown(f);
	fclose(f);
	expect_repo_file_is("docs/config-aggregator.md", want, wantlen, "build/tests/unit/aggregator/test_aggregator_config");
	free(want);
}

Test(aggregator_config, the_llm_is_off_by_default_and_configured_by_analysis_llm)
{
	struct aggregator_config c;
	struct llm_config lc;
	char err[256] = "", path[PATH_MAX];

	repo_path(path, sizeof(path), "packaging/etc/aggregator.yaml");
	cr_assert_eq(load(&c, err, sizeof(err), (const char *const[]){ "--config", path, NULL }), 0,
		     "%s", err);
	aggregator_config_llm(&c, &lc);
	cr_expect_str_eq(lc.url, "");
	cr_expect_str_eq(lc.model, "");
	cr_expect_str_eq(lc.api_key_env, "PRP_LLM_API_KEY");
	cr_expect_eq(lc.timeout_ms, 20000);
	aggregator_config_release(&c);

	cr_assert_eq(load(&c, err, sizeof(err),
			  (const char *const[]){ "--config", path, "--analysis-llm-url",
						 "http://127.0.0.1:11434", "--analysis-llm-model",
						 "llama3.1:8b", "--analysis-llm-api-key-env", "",
						 "--analysis-llm-timeout", "45s", NULL }),
		     0, "%s", err);
	aggregator_config_llm(&c, &lc);
	cr_expect_str_eq(lc.url, "http://127.0.0.1:11434");
	cr_expect_str_eq(lc.model, "llama3.1:8b");
	cr_expect_str_eq(lc.api_key_env, "");
	cr_expect_eq(lc.timeout_ms, 45000);
	aggregator_config_release(&c);
}

Test(aggregator_config, an_llm_url_without_a_model_or_not_http_is_refused)
{
	static const char *const bad[][2] = { { "http://127.0.0.1:11434", "" },
					      { "ftp://host/v1", "m" },
					      { "127.0.0.1:11434", "m" } };
	struct aggregator_config c;
	char path[PATH_MAX];

	repo_path(path, sizeof(path), "packaging/etc/aggregator.yaml");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";

		cr_expect_eq(load(&c, err, sizeof(err),
				  (const char *const[]){ "--config", path, "--analysis-llm-url",
							 bad[i][0], "--analysis-llm-model",
							 bad[i][1], NULL }),
			     -EINVAL, "%s accepted", bad[i][0]);
		cr_expect(strstr(err, "analysis.llm"), "%s: %s", bad[i][0], err);
		aggregator_config_release(&c);
	}
}

Test(aggregator_config, loki_is_off_by_default_and_its_labels_are_checked_at_load)
{
	static const char *const bad[] = { "Bad-Name=x", "host=web-1", "cluster" };
	struct aggregator_config c;
	struct loki_config lc;
	char err[256] = "", path[PATH_MAX];

	repo_path(path, sizeof(path), "packaging/etc/aggregator.yaml");
	cr_assert_eq(load(&c, err, sizeof(err), (const char *const[]){ "--config", path, NULL }), 0,
		     "%s", err);
	aggregator_config_loki(&c, &lc);
	cr_expect_str_eq(lc.url, "");
	cr_expect_eq(lc.batch, LOKI_BATCH);
	cr_expect_eq(lc.queue_max, LOKI_QUEUE_MAX);
	cr_expect_eq(lc.max_retries, LOKI_MAX_RETRIES);
	aggregator_config_release(&c);

	cr_assert_eq(load(&c, err, sizeof(err),
			  (const char *const[]){ "--config", path, "--loki-url",
						 "http://127.0.0.1:3100", "--loki-labels",
						 "cluster=prod,region=eu", "--loki-flush-interval",
						 "2s", "--loki-tenant", "ops", NULL }),
		     0, "%s", err);
	aggregator_config_loki(&c, &lc);
	cr_expect_str_eq(lc.url, "http://127.0.0.1:3100");
	cr_expect_str_eq(lc.labels, "cluster=prod,region=eu");
	cr_expect_str_eq(lc.tenant, "ops");
	cr_expect_eq(lc.flush_interval_ms, 2000);
	aggregator_config_release(&c);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(load(&c, err, sizeof(err),
				  (const char *const[]){ "--config", path, "--loki-url",
							 "http://127.0.0.1:3100", "--loki-labels",
							 bad[i], NULL }),
			     -EINVAL, "%s accepted", bad[i]);
		cr_expect(strstr(err, "loki.labels"), "%s: %s", bad[i], err);
		aggregator_config_release(&c);
	}
	cr_expect_eq(load(&c, err, sizeof(err),
			  (const char *const[]){ "--config", path, "--loki-url",
						 "http://127.0.0.1:3100", "--loki-username", "u",
						 NULL }),
		     -EINVAL);
	cr_expect(strstr(err, "loki.password_file"), "%s", err);
	aggregator_config_release(&c);
}
