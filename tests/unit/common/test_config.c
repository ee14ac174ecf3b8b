/*
 * common/config.c: every key type from YAML, flags and cfg_set(); nesting;
 * the load order of cfg_load(); help and docs; and the errors, with their
 * positions, that a broken file must give without touching the struct.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "tests/lib/leakcheck.h"

TestSuite(config, .fini = test_no_leaks);

enum color { COLOR_RED, COLOR_GREEN, COLOR_BLUE };

static const char *const colors[] = { "red", "green", "blue", NULL };
static const char *const default_tags[] = { "a", "b", NULL };

struct tconf {
	char *name;
	char *token;
	bool verbose;
	int64_t offset;
	uint64_t workers;
	double ratio;
	uint64_t interval_ms;
	uint64_t retention_s;
	uint64_t spool_max_bytes;
	int color;
	struct cfg_list tags;
	struct cfg_list services;
	char *http_listen;
	uint64_t http_timeout_ms;
	bool http_tls_enabled;
	char *http_tls_cert;
};

static const struct cfg_key keys[] = {
	CFG_STR("name", struct tconf, name, "prp", "instance name"),
	CFG_STR("token", struct tconf, token, NULL, "API token"),
	CFG_BOOL("verbose", struct tconf, verbose, false, "log more"),
	CFG_INT("offset", struct tconf, offset, -5, -100, 100, "signed offset"),
	CFG_UINT("workers", struct tconf, workers, 4, 1, 64, "worker threads"),
	CFG_DOUBLE("ratio", struct tconf, ratio, 0.5, 0.0, 1.0, "sampling ratio"),
	CFG_MS("interval_ms", struct tconf, interval_ms, 1000, 100, 60000, "window length"),
	CFG_SEC("retention_s", struct tconf, retention_s, 3600, 60, 604800, "how long to keep"),
	CFG_SIZE("spool.max_bytes", struct tconf, spool_max_bytes, 256ull << 20, 1ull << 20,
		 1ull << 30, "spool cap"),
	CFG_ENUM("color", struct tconf, color, COLOR_GREEN, colors, "a colour"),
	CFG_LIST("tags", struct tconf, tags, default_tags, "labels | attached"),
	CFG_LIST("services", struct tconf, services, NULL, "services to watch"),
	CFG_STR("http.listen", struct tconf, http_listen, "0.0.0.0:8080", "listen address"),
	CFG_MS("http.timeout_ms", struct tconf, http_timeout_ms, 5000, 1, 600000,
	       "request timeout"),
	CFG_BOOL("http.tls.enabled", struct tconf, http_tls_enabled, false, "serve HTTPS"),
	CFG_STR("http.tls.cert", struct tconf, http_tls_cert, NULL, "certificate file"),
	CFG_END,
};

/* ---- helpers ---- */

static int load(struct tconf *c, const char *yaml, char *err, size_t errlen)
{
	return cfg_load_string(keys, c, yaml, strlen(yaml), "t.yaml", err, errlen);
}

static void fresh(struct tconf *c)
{
	memset(c, 0, sizeof(*c));
	cfg_defaults(keys, c);
}

static void make_dir(char dir[32])
{
	strcpy(dir, "/tmp/prp-test-config-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

/* Removes @dir and the files in it (tests make no subdirectories). */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	cr_assert_eq(rmdir(dir), 0);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static void assert_list(const struct cfg_list *l, size_t n, const char *const *want)
{
	cr_assert_eq(l->count, n, "list has %zu items, want %zu", l->count, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(l->items[i], want[i]);
}

/* ---- defaults ---- */

Test(config, defaults_fill_every_type)
{
	struct tconf c;

	fresh(&c);
	cr_assert_str_eq(c.name, "prp");
	cr_assert_null(c.token);
	cr_assert_eq(c.verbose, false);
	cr_assert_eq(c.offset, -5);
	cr_assert_eq(c.workers, 4);
	cr_assert_float_eq(c.ratio, 0.5, 1e-12);
	cr_assert_eq(c.interval_ms, 1000);
	cr_assert_eq(c.retention_s, 3600);
	cr_assert_eq(c.spool_max_bytes, 256ull << 20);
	cr_assert_eq(c.color, COLOR_GREEN);
	assert_list(&c.tags, 2, (const char *const[]){ "a", "b" });
	cr_assert_eq(c.services.count, 0);
	cr_assert_null(c.services.items);
	cr_assert_str_eq(c.http_listen, "0.0.0.0:8080");
	cr_assert_eq(c.http_timeout_ms, 5000);
	cr_assert_eq(c.http_tls_enabled, false);
	cfg_release(keys, &c);
}

Test(config, release_empties_strings_and_lists_and_can_run_twice)
{
	struct tconf c;

	fresh(&c);
	cfg_release(keys, &c);
	cr_assert_null(c.name);
	cr_assert_null(c.http_listen);
	cr_assert_eq(c.tags.count, 0);
	cr_assert_null(c.tags.items);
	cfg_release(keys, &c);
	cfg_defaults(keys, &c);
	cr_assert_str_eq(c.name, "prp");
	cfg_release(keys, &c);
}

/* ---- YAML: values ---- */

Test(config, empty_input_is_valid_and_keeps_defaults)
{
	static const char *const inputs[] = { "",      "\n\n", "# only a comment\n",
					      "---\n", "~\n",  "---\n...\n" };
	struct tconf c;
	char err[256] = "";

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		fresh(&c);
		cr_assert_eq(load(&c, inputs[i], err, sizeof(err)), 0, "input %zu: %s", i, err);
		cr_assert_str_eq(c.name, "prp");
		cr_assert_eq(c.workers, 4);
		cfg_release(keys, &c);
	}
}

Test(config, loads_every_type_from_yaml)
{
	const char *yaml = "name: web-1\n"
			   "token: s3cret\n"
			   "verbose: yes\n"
			   "offset: -42\n"
			   "workers: 16\n"
			   "ratio: 0.25\n"
			   "interval_ms: 2s\n"
			   "retention_s: 2h\n"
			   "spool:\n"
			   "  max_bytes: 512MiB\n"
			   "color: blue\n"
			   "tags: [x, y, z]\n"
			   "services:\n"
			   "  - port:8001\n"
			   "  - comm:users\n";
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, yaml, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.name, "web-1");
	cr_assert_str_eq(c.token, "s3cret");
	cr_assert_eq(c.verbose, true);
	cr_assert_eq(c.offset, -42);
	cr_assert_eq(c.workers, 16);
	cr_assert_float_eq(c.ratio, 0.25, 1e-12);
	cr_assert_eq(c.interval_ms, 2000);
	cr_assert_eq(c.retention_s, 7200);
	cr_assert_eq(c.spool_max_bytes, 512ull << 20);
	cr_assert_eq(c.color, COLOR_BLUE);
	assert_list(&c.tags, 3, (const char *const[]){ "x", "y", "z" });
	assert_list(&c.services, 2, (const char *const[]){ "port:8001", "comm:users" });
	cfg_release(keys, &c);
}

Test(config, nested_mappings_set_dotted_keys)
{
	const char *yaml = "http:\n"
			   "  listen: 127.0.0.1:9090\n"
			   "  timeout_ms: 250ms\n"
			   "  tls: {enabled: true, cert: /etc/prp/cert.pem}\n";
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, yaml, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.http_listen, "127.0.0.1:9090");
	cr_assert_eq(c.http_timeout_ms, 250);
	cr_assert_eq(c.http_tls_enabled, true);
	cr_assert_str_eq(c.http_tls_cert, "/etc/prp/cert.pem");
	cfg_release(keys, &c);
}

Test(config, keys_the_file_does_not_name_keep_their_values)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "workers: 8\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(load(&c, "name: second\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.workers, 8);
	cr_assert_str_eq(c.name, "second");
	cr_assert_str_eq(c.http_listen, "0.0.0.0:8080");
	cfg_release(keys, &c);
}

Test(config, milliseconds_take_units_or_a_bare_number_of_ms)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} cases[] = { { "500ms", 500 }, { "5s", 5000 },	     { "1.5s", 1500 }, { "1m", 60000 },
		      { "750", 750 },	{ "100000us", 100 }, { "0.1s", 100 } };
	struct tconf c;
	char yaml[64], err[256] = "";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fresh(&c);
		snprintf(yaml, sizeof(yaml), "interval_ms: %s\n", cases[i].text);
		cr_assert_eq(load(&c, yaml, err, sizeof(err)), 0, "%s: %s", cases[i].text, err);
		cr_assert_eq(c.interval_ms, cases[i].ms, "%s", cases[i].text);
		cfg_release(keys, &c);
	}
}

Test(config, seconds_take_units_or_a_bare_number_of_seconds)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "retention_s: 90\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.retention_s, 90);
	cr_assert_eq(load(&c, "retention_s: 7d\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.retention_s, 7 * 86400);
	cr_assert_eq(load(&c, "retention_s: 1500ms\n", err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "not a whole number of seconds"), "%s", err);
	cfg_release(keys, &c);
}

Test(config, a_duration_finer_than_the_field_is_rejected)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "interval_ms: 1500us\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(
		err,
		"t.yaml:1:14: key 'interval_ms': '1500us' is not a whole number of milliseconds");
	cr_assert_eq(c.interval_ms, 1000);
	cfg_release(keys, &c);
}

Test(config, sizes_take_binary_and_decimal_units)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = { { "1MiB", 1ull << 20 },	{ "1M", 1ull << 20 },	   { "1GiB", 1ull << 30 },
		      { "2MB", 2000000 },	{ "1048576", 1ull << 20 }, { "1.5MiB", 3ull << 19 },
		      { "1024KiB", 1ull << 20 } };
	struct tconf c;
	char yaml[64], err[256] = "";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fresh(&c);
		snprintf(yaml, sizeof(yaml), "spool: {max_bytes: %s}\n", cases[i].text);
		cr_assert_eq(load(&c, yaml, err, sizeof(err)), 0, "%s: %s", cases[i].text, err);
		cr_assert_eq(c.spool_max_bytes, cases[i].bytes, "%s", cases[i].text);
		cfg_release(keys, &c);
	}
}

Test(config, enum_takes_only_listed_names_and_the_error_lists_them)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "color: red\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.color, COLOR_RED);
	cr_assert_eq(load(&c, "color: purple\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err,
			 "t.yaml:1:8: key 'color': expected one of red, green, blue, got 'purple'");
	cr_assert_eq(load(&c, "color: Red\n", err, sizeof(err)), -EINVAL, "names are exact");
	cr_assert_eq(c.color, COLOR_RED);
	cfg_release(keys, &c);
}

Test(config, booleans_take_yaml_spellings)
{
	static const char *const yes[] = { "true", "yes", "on", "True", "1" };
	static const char *const no[] = { "false", "no", "off", "FALSE", "0" };
	struct tconf c;
	char yaml[64], err[256] = "";

	fresh(&c);
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(yaml, sizeof(yaml), "verbose: %s\n", yes[i]);
		cr_assert_eq(load(&c, yaml, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(c.verbose, true, "%s", yes[i]);
		snprintf(yaml, sizeof(yaml), "verbose: %s\n", no[i]);
		cr_assert_eq(load(&c, yaml, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(c.verbose, false, "%s", no[i]);
	}
	cr_assert_eq(load(&c, "verbose: maybe\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:1:10: key 'verbose': expected true or false, got 'maybe'");
	cfg_release(keys, &c);
}

Test(config, quoted_scalars_convert_like_plain_ones)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(
		load(&c, "workers: '12'\ninterval_ms: \"3s\"\nname: \"a b\"\n", err, sizeof(err)),
		0, "%s", err);
	cr_assert_eq(c.workers, 12);
	cr_assert_eq(c.interval_ms, 3000);
	cr_assert_str_eq(c.name, "a b");
	cfg_release(keys, &c);
}

Test(config, yaml_null_unsets_a_string_but_quoted_null_is_text)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "name: ~\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_null(c.name);
	cr_assert_eq(load(&c, "name:\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_null(c.name);
	cr_assert_eq(load(&c, "name: 'null'\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.name, "null");
	cr_assert_eq(load(&c, "name: ''\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.name, "");
	cfg_release(keys, &c);
}

Test(config, null_for_a_number_is_an_error)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "workers:\n", err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "key 'workers': expected a non-negative integer, got ''"), "%s", err);
	cfg_release(keys, &c);
}

Test(config, utf8_strings_are_kept)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "name: \"caf\xc3\xa9 \xe2\x9c\x93\"\n", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(c.name, "caf\xc3\xa9 \xe2\x9c\x93");
	cfg_release(keys, &c);
}

Test(config, crlf_line_ends_are_accepted)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "name: x\r\nhttp:\r\n  listen: y\r\n", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(c.name, "x");
	cr_assert_str_eq(c.http_listen, "y");
	cfg_release(keys, &c);
}

Test(config, input_need_not_be_terminated)
{
	const char yaml[] = "workers: 7\nname: abc";
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	/* the length stops before "c": the "c" must not be read */
	cr_assert_eq(cfg_load_string(keys, &c, yaml, sizeof(yaml) - 2, NULL, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(c.workers, 7);
	cr_assert_str_eq(c.name, "ab");
	cfg_release(keys, &c);
}

/* ---- YAML: lists ---- */

Test(config, list_from_a_sequence_replaces_the_default)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "tags:\n  - one\n  - two\n", err, sizeof(err)), 0, "%s", err);
	assert_list(&c.tags, 2, (const char *const[]){ "one", "two" });
	cr_assert_eq(load(&c, "tags: [three]\n", err, sizeof(err)), 0, "%s", err);
	assert_list(&c.tags, 1, (const char *const[]){ "three" });
	cfg_release(keys, &c);
}

Test(config, list_from_a_single_scalar_has_one_item)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "services: pid:42\n", err, sizeof(err)), 0, "%s", err);
	assert_list(&c.services, 1, (const char *const[]){ "pid:42" });
	cfg_release(keys, &c);
}

Test(config, list_null_or_empty_sequence_empties_it)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "tags:\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.tags.count, 0);
	cfg_release(keys, &c);
	fresh(&c);
	cr_assert_eq(load(&c, "tags: []\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.tags.count, 0);
	cfg_release(keys, &c);
}

Test(config, list_items_must_be_scalars)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "tags:\n  - a\n  - {b: c}\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:3:5: key 'tags': list items must be strings, got a mapping");
	cr_assert_eq(load(&c, "tags: [a, ~]\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:1:11: key 'tags': a list item cannot be empty");
	cr_assert_eq(load(&c, "tags: {a: b}\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:1:7: key 'tags': expected a list of strings, got a mapping");
	assert_list(&c.tags, 2, (const char *const[]){ "a", "b" });
	cfg_release(keys, &c);
}

/* ---- YAML: errors and positions ---- */

Test(config, unknown_key_is_reported_with_line_and_column)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "name: x\n\n  # comment\nbogus: 1\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:4:1: unknown key 'bogus'");
	cfg_release(keys, &c);
}

Test(config, unknown_nested_key_is_named_by_its_full_path)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "http:\n  listen: x\n  tls:\n    nope: 1\n", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "t.yaml:4:5: unknown key 'http.tls.nope'");
	cfg_release(keys, &c);
}

Test(config, dotted_key_in_yaml_is_refused_with_advice)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "http.listen: x\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(
		err, "t.yaml:1:1: key 'http.listen': write nested keys as mappings, not with dots");
	cfg_release(keys, &c);
}

Test(config, mapping_where_a_scalar_is_expected_is_reported_at_the_value)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "name: x\nworkers:\n  a: 1\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(
		err, "t.yaml:3:3: key 'workers': expected a non-negative integer, got a mapping");
	cr_assert_eq(load(&c, "name: [a, b]\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:1:7: key 'name': expected a string, got a list");
	cfg_release(keys, &c);
}

Test(config, scalar_where_a_section_is_expected_is_an_error)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "http: 8080\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err,
			 "t.yaml:1:7: key 'http' is a section: expected a mapping, got a scalar");
	cr_assert_eq(load(&c, "http:\n", err, sizeof(err)), 0, "an empty section is fine: %s", err);
	cfg_release(keys, &c);
}

Test(config, text_for_an_integer_is_an_error_quoting_key_and_value)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "workers: abc\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err,
			 "t.yaml:1:10: key 'workers': expected a non-negative integer, got 'abc'");
	cr_assert_eq(load(&c, "offset: 1.5\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:1:9: key 'offset': expected an integer, got '1.5'");
	cr_assert_eq(load(&c, "ratio: half\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:1:8: key 'ratio': expected a number, got 'half'");
	cr_assert_eq(load(&c, "interval_ms: soon\n", err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "t.yaml:1:14: key 'interval_ms': expected a duration"), "%s", err);
	cr_assert_eq(load(&c, "spool: {max_bytes: 1 MiB}\n", err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "t.yaml:1:20: key 'spool.max_bytes': expected a size"), "%s", err);
	cfg_release(keys, &c);
}

Test(config, out_of_range_values_give_erange_and_the_bounds)
{
	static const struct {
		const char *yaml, *msg;
	} cases[] = {
		{ "workers: 65\n", "t.yaml:1:10: key 'workers': '65' is out of range (1..64)" },
		{ "workers: 0\n", "t.yaml:1:10: key 'workers': '0' is out of range (1..64)" },
		{ "offset: -101\n",
		  "t.yaml:1:9: key 'offset': '-101' is out of range (-100..100)" },
		{ "ratio: 1.01\n", "t.yaml:1:8: key 'ratio': '1.01' is out of range (0..1)" },
		{ "interval_ms: 99ms\n",
		  "t.yaml:1:14: key 'interval_ms': '99ms' is out of range (100..60000 ms)" },
		{ "interval_ms: 2m\n",
		  "t.yaml:1:14: key 'interval_ms': '2m' is out of range (100..60000 ms)" },
		{ "retention_s: 30\n",
		  "t.yaml:1:14: key 'retention_s': '30' is out of range (60..604800 s)" },
		{ "spool: {max_bytes: 2GiB}\n",
		  "t.yaml:1:20: key 'spool.max_bytes': '2GiB' is out of range (1048576..1073741824 bytes)" },
		{ "workers: 99999999999999999999999\n",
		  "t.yaml:1:10: key 'workers': '99999999999999999999999' is out of range (1..64)" },
	};
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(load(&c, cases[i].yaml, err, sizeof(err)), -ERANGE, "%s",
			     cases[i].yaml);
		cr_assert_str_eq(err, cases[i].msg);
	}
	cr_assert_eq(c.workers, 4);
	cfg_release(keys, &c);
}

Test(config, duplicate_key_is_reported_at_the_second_one)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "name: a\nworkers: 2\nname: b\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:3:1: duplicate key 'name'");
	cr_assert_eq(load(&c, "http:\n  listen: a\n  listen: b\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:3:3: duplicate key 'http.listen'");
	cr_assert_eq(load(&c, "http: {listen: a}\nhttp: {timeout_ms: 5}\n", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "t.yaml:2:1: duplicate key 'http'");
	cr_assert_str_eq(c.name, "prp");
	cfg_release(keys, &c);
}

Test(config, syntax_error_gives_libyaml_problem_and_position)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "name: x\ntags: [a, b\nworkers: 3\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(
		err,
		"t.yaml:3:8: did not find expected ',' or ']' (while parsing a flow sequence at 2:7)");
	cr_assert_eq(load(&c, "name: x\n  workers: 3\n", err, sizeof(err)), -EINVAL);
	cr_assert(!strncmp(err, "t.yaml:2:10: mapping values are not allowed", 43), "%s", err);
	cr_assert_eq(load(&c, "name: x\n\tworkers: 3\n", err, sizeof(err)), -EINVAL);
	cr_assert(!strncmp(err, "t.yaml:2:1: ", 12), "a tab is not indentation: %s", err);
	cfg_release(keys, &c);
}

Test(config, top_level_must_be_a_mapping)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "- a\n- b\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:1:1: the top level must be a mapping of keys, got a list");
	cr_assert_eq(load(&c, "just text\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:1:1: the top level must be a mapping of keys, got a scalar");
	cfg_release(keys, &c);
}

Test(config, a_second_document_is_an_error)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "name: a\n---\nname: b\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:2:1: a config file holds one YAML document");
	cr_assert_str_eq(c.name, "prp");
	cfg_release(keys, &c);
}

Test(config, aliases_are_refused)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "name: &n x\ntoken: *n\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(
		err,
		"t.yaml:2:8: key 'token': expected a string, got an alias (aliases are not supported)");
	cfg_release(keys, &c);
}

Test(config, keys_must_be_scalars)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "? [a, b]\n: 1\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:1:3: expected a key name, got a list");
	cr_assert_eq(load(&c, "'': 1\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:1:1: invalid key name ''");
	cfg_release(keys, &c);
}

Test(config, invalid_utf8_is_an_error_with_position)
{
	const char yaml[] = "name: x\nworkers: \xc3\x28\n";
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(cfg_load_string(keys, &c, yaml, sizeof(yaml) - 1, "t.yaml", err, sizeof(err)),
		     -EINVAL);
	/* the position of the byte that breaks the sequence: the 0x28 */
	cr_assert_str_eq(err, "t.yaml:2:11: invalid trailing UTF-8 octet (0x28)");
	cfg_release(keys, &c);
}

Test(config, binary_input_is_an_error_not_a_crash)
{
	static const unsigned char inputs[][8] = {
		{ 'a', ':', ' ', 0x00, 'b', '\n' },
		{ 0x01, 0x02, 0x03, 0xff, 0xfe },
		{ 0xff, 0xfe, 'a', 0, ':', 0 }, /* UTF-16LE: refused, never guessed */
		{ 0x80, 0x80, 0x80 },
	};
	struct tconf c;
	char err[256];

	fresh(&c);
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(cfg_load_string(keys, &c, (const char *)inputs[i], sizeof(inputs[i]),
					     "bin", err, sizeof(err)),
			     -EINVAL, "input %zu", i);
		cr_assert(!strncmp(err, "bin:1:", 6), "input %zu: %s", i, err);
	}
	cr_assert_str_eq(c.name, "prp");
	cfg_release(keys, &c);
}

Test(config, escaped_nul_in_a_value_is_refused)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, "name: \"a\\0b\"\n", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.yaml:1:7: key 'name': value holds a NUL byte");
	cfg_release(keys, &c);
}

Test(config, input_over_one_mib_is_refused)
{
	size_t len = CFG_MAX_BYTES + 1;
	char *big = malloc(len), dir[32], path[64];
	struct tconf c;
	char err[256] = "";

	cr_assert_not_null(big);
	memset(big, '#', len); /* one long comment: valid YAML but for its size */
	fresh(&c);
	cr_assert_eq(cfg_load_string(keys, &c, big, len, "big", err, sizeof(err)), -EFBIG);
	cr_assert_str_eq(err, "big: larger than the 1048576 bytes allowed");
	cr_assert_eq(cfg_load_string(keys, &c, big, len - 1, "big", err, sizeof(err)), 0, "%s",
		     err);
	make_dir(dir);
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	write_file(path, big, len);
	cr_assert_eq(cfg_load_file(keys, &c, path, err, sizeof(err)), -EFBIG);
	cr_assert(strstr(err, "is larger than the 1048576 bytes allowed"), "%s", err);
	remove_dir(dir);
	free(big);
	cfg_release(keys, &c);
}

static const struct cfg_key deep_keys[] = {
	CFG_STR("l1.l2.l3.l4.l5.l6.l7.x", struct tconf, name, NULL, "eight levels"),
	CFG_STR("l1.l2.l3.l4.l5.l6.l7.l8.x", struct tconf, token, NULL, "nine levels"),
	CFG_LIST("l1.l2.l3.l4.l5.l6.l7.list", struct tconf, tags, NULL, "a list at level nine"),
	CFG_END,
};

Test(config, nesting_past_eight_levels_is_refused)
{
	const char *ok = "l1: {l2: {l3: {l4: {l5: {l6: {l7: {x: deep}}}}}}}\n";
	const char *deep = "l1: {l2: {l3: {l4: {l5: {l6: {l7: {l8: {x: deeper}}}}}}}}\n";
	const char *list = "l1: {l2: {l3: {l4: {l5: {l6: {l7: {list: [a]}}}}}}}\n";
	struct tconf c = { 0 };
	char err[256] = "";

	cfg_defaults(deep_keys, &c);
	cr_assert_eq(cfg_load_string(deep_keys, &c, ok, strlen(ok), "d", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(c.name, "deep");
	cr_assert_eq(cfg_load_string(deep_keys, &c, deep, strlen(deep), "d", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "d:1:40: nested deeper than 8 levels");
	cr_assert_eq(cfg_load_string(deep_keys, &c, list, strlen(list), "d", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "d:1:42: nested deeper than 8 levels");
	cr_assert_null(c.token);
	cfg_release(deep_keys, &c);
}

Test(config, deep_nesting_of_unknown_keys_stops_at_the_first_key)
{
	struct tconf c;
	char *yaml = malloc(200001);
	char err[256] = "";

	cr_assert_not_null(yaml);
	memset(yaml, '[', 200000);
	yaml[200000] = '\0';
	fresh(&c);
	cr_assert_eq(load(&c, yaml, err, sizeof(err)), -EINVAL);
	cr_assert(!strncmp(err, "t.yaml:1:1: ", 12), "%s", err);
	free(yaml);
	cfg_release(keys, &c);
}

Test(config, failed_load_leaves_the_struct_unchanged)
{
	const char *yaml = "name: changed\n"
			   "tags: [p, q]\n"
			   "workers: 9\n"
			   "http: {listen: elsewhere}\n"
			   "ratio: 7\n"; /* out of range, after everything else */
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(load(&c, yaml, err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err, "t.yaml:5:8: key 'ratio': '7' is out of range (0..1)");
	cr_assert_str_eq(c.name, "prp");
	cr_assert_eq(c.workers, 4);
	cr_assert_str_eq(c.http_listen, "0.0.0.0:8080");
	assert_list(&c.tags, 2, (const char *const[]){ "a", "b" });
	cfg_release(keys, &c);
}

Test(config, reload_into_a_fresh_struct_and_swap_on_success)
{
	struct tconf running, next;
	char err[256] = "";

	fresh(&running);
	cr_assert_eq(load(&running, "name: v1\n", err, sizeof(err)), 0, "%s", err);
	fresh(&next);
	if (load(&next, "name: v2\nworkers: nope\n", err, sizeof(err))) {
		cfg_release(keys, &next); /* keep the running config */
	} else {
		cfg_release(keys, &running);
		running = next;
	}
	cr_assert_str_eq(running.name, "v1");
	fresh(&next);
	cr_assert_eq(load(&next, "name: v2\n", err, sizeof(err)), 0, "%s", err);
	cfg_release(keys, &running);
	running = next;
	cr_assert_str_eq(running.name, "v2");
	cfg_release(keys, &running);
}

Test(config, error_buffer_is_optional_and_always_terminated)
{
	struct tconf c;
	char small[8];

	fresh(&c);
	cr_assert_eq(load(&c, "bogus: 1\n", NULL, 0), -EINVAL);
	memset(small, 'x', sizeof(small));
	cr_assert_eq(load(&c, "bogus: 1\n", small, sizeof(small)), -EINVAL);
	cr_assert_str_eq(small, "t.yaml:");
	cfg_release(keys, &c);
}

Test(config, a_very_long_unknown_key_is_quoted_shortened)
{
	char yaml[600], err[256] = "";
	struct tconf c;

	memset(yaml, 'k', 500);
	strcpy(yaml + 500, ": 1\n");
	fresh(&c);
	cr_assert_eq(load(&c, yaml, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err,
			 "t.yaml:1:1: unknown key 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...'");
	cfg_release(keys, &c);
}

/* ---- files ---- */

Test(config, load_file_reads_yaml_and_names_the_file_in_errors)
{
	char dir[32], path[64], err[256] = "", want[128];
	struct tconf c;

	make_dir(dir);
	snprintf(path, sizeof(path), "%s/agent.yaml", dir);
	write_file(path, "workers: 3\nnope: 1\n", 19);
	fresh(&c);
	cr_assert_eq(cfg_load_file(keys, &c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2:1: unknown key 'nope'", path);
	cr_assert_str_eq(err, want);
	write_file(path, "workers: 3\n", 11);
	cr_assert_eq(cfg_load_file(keys, &c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.workers, 3);
	write_file(path, "", 0);
	cr_assert_eq(cfg_load_file(keys, &c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.workers, 3);
	remove_dir(dir);
	cfg_release(keys, &c);
}

Test(config, missing_file_is_enoent_naming_the_path)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(cfg_load_file(keys, &c, "/nonexistent/prp.yaml", err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err,
			 "cannot open config '/nonexistent/prp.yaml': No such file or directory");
	cfg_release(keys, &c);
}

Test(config, a_directory_is_not_a_config_file)
{
	char dir[32], err[256] = "";
	struct tconf c;

	make_dir(dir);
	fresh(&c);
	cr_assert_eq(cfg_load_file(keys, &c, dir, err, sizeof(err)), -EISDIR);
	cr_assert(strstr(err, "cannot read config"), "%s", err);
	remove_dir(dir);
	cfg_release(keys, &c);
}

/* ---- cfg_set ---- */

Test(config, set_converts_like_yaml_for_every_type)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(cfg_set(keys, &c, "name", "n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_set(keys, &c, "verbose", "on", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_set(keys, &c, "offset", "-1", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_set(keys, &c, "workers", "2", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_set(keys, &c, "ratio", "1", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_set(keys, &c, "interval_ms", "1m", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_set(keys, &c, "retention_s", "1w", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_set(keys, &c, "spool.max_bytes", "1G", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_set(keys, &c, "color", "red", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_set(keys, &c, "http.tls.enabled", "true", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.name, "n");
	cr_assert_eq(c.verbose, true);
	cr_assert_eq(c.offset, -1);
	cr_assert_eq(c.workers, 2);
	cr_assert_float_eq(c.ratio, 1.0, 1e-12);
	cr_assert_eq(c.interval_ms, 60000);
	cr_assert_eq(c.retention_s, 604800);
	cr_assert_eq(c.spool_max_bytes, 1ull << 30);
	cr_assert_eq(c.color, COLOR_RED);
	cr_assert_eq(c.http_tls_enabled, true);
	cfg_release(keys, &c);
}

Test(config, set_on_a_list_appends)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(cfg_set(keys, &c, "tags", "c", err, sizeof(err)), 0, "%s", err);
	assert_list(&c.tags, 3, (const char *const[]){ "a", "b", "c" });
	cfg_release(keys, &c);
}

Test(config, set_rejects_unknown_keys_and_bad_values_without_change)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(cfg_set(keys, &c, "nope", "1", err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, "unknown key 'nope'");
	cr_assert_eq(cfg_set(keys, &c, "workers", "x", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "key 'workers': expected a non-negative integer, got 'x'");
	cr_assert_eq(cfg_set(keys, &c, "workers", "100", err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err, "key 'workers': '100' is out of range (1..64)");
	cr_assert_eq(cfg_set(keys, &c, "http-listen", "x", err, sizeof(err)), -ENOENT,
		     "keys are named as in the table, not as flags");
	cr_assert_eq(c.workers, 4);
	cfg_release(keys, &c);
}

/* ---- flags ---- */

/* argv as main() gets it: writable copies, "prog" first, NULL last. */
struct args {
	int argc;
	char *argv[32];
};

static void args_init(struct args *a, const char *const *list)
{
	a->argc = 0;
	a->argv[a->argc++] = strdup("prog");
	for (; *list; list++)
		a->argv[a->argc++] = strdup(*list);
	a->argv[a->argc] = NULL;
}

static void args_free(struct args *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
}

static int parse(struct tconf *c, int *next, char *err, size_t errlen, const char *const *list)
{
	struct args a;
	int ret;

	args_init(&a, list);
	ret = cfg_parse_args(keys, c, a.argc, a.argv, next, err, errlen);
	args_free(&a);
	return ret;
}

static int load_args(struct tconf *c, const char *def, int *next, char *err, size_t errlen,
		     const char *const *list)
{
	struct args a;
	int ret;

	args_init(&a, list);
	ret = cfg_load(keys, c, a.argc, a.argv, def, next, err, errlen);
	args_free(&a);
	return ret;
}

#define PARSE(c, next, err, ...)                                                                   \
	parse((c), (next), (err), sizeof(err), (const char *const[]){ __VA_ARGS__, NULL })
#define LOAD(c, def, next, err, ...)                                                               \
	load_args((c), (def), (next), (err), sizeof(err),                                          \
		  (const char *const[]){ __VA_ARGS__, NULL })

Test(config, flags_take_separate_or_equals_values)
{
	struct tconf c;
	char err[256] = "";
	int next = -1;

	fresh(&c);
	cr_assert_eq(PARSE(&c, &next, err, "--name", "a b", "--workers=12", "--ratio", "0.75",
			   "--offset=-3"),
		     0, "%s", err);
	cr_assert_eq(next, 7);
	cr_assert_str_eq(c.name, "a b");
	cr_assert_eq(c.workers, 12);
	cr_assert_float_eq(c.ratio, 0.75, 1e-12);
	cr_assert_eq(c.offset, -3);
	cfg_release(keys, &c);
}

Test(config, flags_spell_dots_and_underscores_as_dashes)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(PARSE(&c, NULL, err, "--http-listen", ":1", "--interval-ms", "250",
			   "--spool-max-bytes=2MiB", "--http-tls-enabled", "--retention-s=1d"),
		     0, "%s", err);
	cr_assert_str_eq(c.http_listen, ":1");
	cr_assert_eq(c.interval_ms, 250);
	cr_assert_eq(c.spool_max_bytes, 2ull << 20);
	cr_assert_eq(c.http_tls_enabled, true);
	cr_assert_eq(c.retention_s, 86400);
	cr_assert_eq(PARSE(&c, NULL, err, "--interval_ms", "250"), -EINVAL);
	cr_assert_str_eq(err, "unknown option '--interval_ms'");
	cr_assert_eq(PARSE(&c, NULL, err, "--http.listen=x"), -EINVAL);
	cfg_release(keys, &c);
}

Test(config, bool_flags_take_no_flag_and_equals_forms)
{
	struct tconf c;
	char err[256] = "";
	int next;

	fresh(&c);
	cr_assert_eq(PARSE(&c, NULL, err, "--verbose"), 0, "%s", err);
	cr_assert_eq(c.verbose, true);
	cr_assert_eq(PARSE(&c, NULL, err, "--no-verbose"), 0, "%s", err);
	cr_assert_eq(c.verbose, false);
	cr_assert_eq(PARSE(&c, NULL, err, "--verbose=yes"), 0, "%s", err);
	cr_assert_eq(c.verbose, true);
	cr_assert_eq(PARSE(&c, NULL, err, "--verbose=false"), 0, "%s", err);
	cr_assert_eq(c.verbose, false);
	cr_assert_eq(PARSE(&c, NULL, err, "--verbose", "--no-verbose", "--verbose"), 0, "%s", err);
	cr_assert_eq(c.verbose, true, "the last one wins");
	/* a boolean never takes the next argument: "false" is the first operand */
	cr_assert_eq(PARSE(&c, &next, err, "--no-verbose", "--verbose", "false"), 0, "%s", err);
	cr_assert_eq(c.verbose, true);
	cr_assert_eq(next, 3);
	cfg_release(keys, &c);
}

Test(config, bad_bool_flag_forms_are_errors)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(PARSE(&c, NULL, err, "--no-verbose=true"), -EINVAL);
	cr_assert_str_eq(err, "option '--no-verbose' takes no value");
	cr_assert_eq(PARSE(&c, NULL, err, "--verbose=perhaps"), -EINVAL);
	cr_assert_str_eq(err, "option '--verbose': expected true or false, got 'perhaps'");
	cr_assert_eq(PARSE(&c, NULL, err, "--no-workers"), -EINVAL);
	cr_assert_str_eq(err, "unknown option '--no-workers'");
	cfg_release(keys, &c);
}

Test(config, parsing_stops_at_double_dash_or_the_first_operand)
{
	struct tconf c;
	char err[256] = "";
	int next = -1;

	fresh(&c);
	cr_assert_eq(PARSE(&c, &next, err, "--workers", "2", "--", "--workers", "3"), 0, "%s", err);
	cr_assert_eq(next, 4);
	cr_assert_eq(c.workers, 2);
	cr_assert_eq(PARSE(&c, &next, err, "--workers", "5", "input.csv", "--workers", "6"), 0,
		     "%s", err);
	cr_assert_eq(next, 3);
	cr_assert_eq(c.workers, 5);
	cr_assert_eq(PARSE(&c, &next, err, "-", "--workers", "6"), 0, "%s", err);
	cr_assert_eq(next, 1, "'-' is an operand");
	cr_assert_eq(parse(&c, &next, err, sizeof(err), (const char *const[]){ NULL }), 0);
	cr_assert_eq(next, 1);
	cr_assert_eq(c.workers, 5);
	cfg_release(keys, &c);
}

Test(config, unknown_flag_is_an_error_naming_it)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(PARSE(&c, NULL, err, "--workers", "2", "--bogus=1"), -EINVAL);
	cr_assert_str_eq(err, "unknown option '--bogus'");
	cr_assert_eq(PARSE(&c, NULL, err, "-v"), -EINVAL);
	cr_assert_str_eq(err, "unknown option '-v'");
	cr_assert_eq(PARSE(&c, NULL, err, "--config", "x.yaml"), -EINVAL,
		     "--config belongs to cfg_load()");
	cr_assert_eq(c.workers, 4, "a failed parse applies nothing");
	cfg_release(keys, &c);
}

Test(config, flag_without_its_value_is_an_error)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(PARSE(&c, NULL, err, "--name"), -EINVAL);
	cr_assert_str_eq(err, "option '--name' needs a value");
	cr_assert_eq(PARSE(&c, NULL, err, "--workers", "65"), -ERANGE);
	cr_assert_str_eq(err, "option '--workers': '65' is out of range (1..64)");
	cfg_release(keys, &c);
}

Test(config, flag_value_may_start_with_dashes_and_be_empty)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(PARSE(&c, NULL, err, "--name", "--odd", "--token="), 0, "%s", err);
	cr_assert_str_eq(c.name, "--odd");
	cr_assert_str_eq(c.token, "");
	cfg_release(keys, &c);
}

Test(config, repeated_list_flag_replaces_then_appends)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(PARSE(&c, NULL, err, "--tags", "x", "--workers", "2", "--tags=y"), 0, "%s",
		     err);
	assert_list(&c.tags, 2, (const char *const[]){ "x", "y" });
	cr_assert_eq(PARSE(&c, NULL, err, "--tags", "z"), 0, "%s", err);
	assert_list(&c.tags, 1, (const char *const[]){ "z" });
	cr_assert_eq(PARSE(&c, NULL, err, "--workers", "3"), 0, "%s", err);
	assert_list(&c.tags, 1, (const char *const[]){ "z" });
	cfg_release(keys, &c);
}

Test(config, failed_flag_parse_leaves_the_struct_unchanged)
{
	struct tconf c;
	char err[256] = "";

	fresh(&c);
	cr_assert_eq(PARSE(&c, NULL, err, "--name", "x", "--tags", "t", "--workers", "0"), -ERANGE);
	cr_assert_str_eq(c.name, "prp");
	assert_list(&c.tags, 2, (const char *const[]){ "a", "b" });
	cfg_release(keys, &c);
}

/* ---- cfg_load: defaults, file, flags ---- */

Test(config, flags_override_the_file_which_overrides_defaults)
{
	char dir[32], path[64], err[256] = "";
	struct tconf c = { 0 };
	int next = -1;

	make_dir(dir);
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	write_file(path, "name: from-file\nworkers: 8\ntags: [f1, f2]\n", 42);
	cr_assert_eq(LOAD(&c, NULL, &next, err, "--workers", "9", "--config", path, "--tags", "c1",
			  "--tags", "c2", "rest"),
		     0, "%s", err);
	cr_assert_eq(next, 9);
	cr_assert_str_eq(c.name, "from-file");
	cr_assert_eq(c.workers, 9, "the flag wins though it comes before --config");
	assert_list(&c.tags, 2, (const char *const[]){ "c1", "c2" });
	cr_assert_eq(c.interval_ms, 1000);
	cfg_release(keys, &c);
	remove_dir(dir);
}

Test(config, default_path_is_used_when_no_config_flag)
{
	char dir[32], path[64], other[64], err[256] = "";
	struct tconf c = { 0 };

	make_dir(dir);
	snprintf(path, sizeof(path), "%s/default.yaml", dir);
	snprintf(other, sizeof(other), "--config=%s/other.yaml", dir);
	write_file(path, "workers: 5\n", 11);
	cr_assert_eq(LOAD(&c, path, NULL, err, "--name", "n"), 0, "%s", err);
	cr_assert_eq(c.workers, 5);
	cr_assert_str_eq(c.name, "n");
	cfg_release(keys, &c);
	snprintf(path, sizeof(path), "%s/other.yaml", dir);
	write_file(path, "workers: 6\n", 11);
	cr_assert_eq(LOAD(&c, "/nonexistent.yaml", NULL, err, other), 0, "%s", err);
	cr_assert_eq(c.workers, 6, "--config=FILE replaces the default path");
	cfg_release(keys, &c);
	remove_dir(dir);
}

Test(config, missing_default_file_is_fine_but_a_missing_config_flag_file_is_not)
{
	struct tconf c = { 0 };
	char err[256] = "";

	cr_assert_eq(LOAD(&c, "/nonexistent/agent.yaml", NULL, err, "--workers", "2"), 0, "%s",
		     err);
	cr_assert_str_eq(err, "");
	cr_assert_eq(c.workers, 2);
	cfg_release(keys, &c);
	cr_assert_eq(LOAD(&c, NULL, NULL, err, "--config", "/nonexistent/x.yaml"), -ENOENT);
	cr_assert_str_eq(err,
			 "cannot open config '/nonexistent/x.yaml': No such file or directory");
	cfg_release(keys, &c);
	cr_assert_eq(load_args(&c, NULL, NULL, err, sizeof(err), (const char *const[]){ NULL }), 0);
	cr_assert_str_eq(c.name, "prp");
	cfg_release(keys, &c);
}

Test(config, load_reports_errors_from_flags_and_file)
{
	char dir[32], path[64], want[128], err[256] = "";
	struct tconf c = { 0 };

	cr_assert_eq(LOAD(&c, NULL, NULL, err, "--config"), -EINVAL);
	cr_assert_str_eq(err, "option '--config' needs a value");
	cfg_release(keys, &c);
	cr_assert_eq(LOAD(&c, NULL, NULL, err, "--nope"), -EINVAL);
	cr_assert_str_eq(err, "unknown option '--nope'");
	cfg_release(keys, &c);
	make_dir(dir);
	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	write_file(path, "workers: 100\n", 13);
	cr_assert_eq(LOAD(&c, path, NULL, err, "--name", "x"), -ERANGE);
	snprintf(want, sizeof(want), "%s:1:10: key 'workers': '100' is out of range (1..64)", path);
	cr_assert_str_eq(err, want);
	cr_assert_str_eq(c.name, "prp", "flags are not applied after a bad file");
	cfg_release(keys, &c);
	remove_dir(dir);
}

/* ---- help and docs ---- */

static char *capture(void (*fn)(const struct cfg_key *, FILE *), const struct cfg_key *k)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	cr_assert_not_null(f);
	fn(k, f);
	cr_assert_eq(fclose(f), 0);
	return out;
}

Test(config, help_lists_every_flag_with_its_default)
{
	char *help = capture(cfg_print_help, keys);
	char flag[64];

	for (const struct cfg_key *k = keys; k->name; k++) {
		size_t i;

		for (i = 0; k->name[i]; i++)
			flag[i] = k->name[i] == '.' || k->name[i] == '_' ? '-' : k->name[i];
		flag[i] = '\0';
		cr_assert(strstr(help, flag), "no flag for %s in:\n%s", k->name, help);
		cr_assert(strstr(help, k->help), "no help for %s", k->name);
	}
	cr_assert(strstr(help, "--config FILE"), "%s", help);
	cr_assert(strstr(help, "--[no-]verbose"), "%s", help);
	cr_assert(strstr(help, "--interval-ms DURATION"), "%s", help);
	cr_assert(strstr(help, "(default: 1000 ms; range: 100..60000 ms)"), "%s", help);
	cr_assert(strstr(help, "(default: 268435456 bytes; range: 1048576..1073741824 bytes)"),
		  "%s", help);
	cr_assert(strstr(help, "(one of: red, green, blue; default: green)"), "%s", help);
	cr_assert(strstr(help, "(repeatable; default: a, b)"), "%s", help);
	cr_assert(strstr(help, "API token (default: none)"), "%s", help);
	cr_assert(strstr(help, "(default: -5; range: -100..100)"), "%s", help);
	cr_assert(strstr(help, "(default: 0.5; range: 0..1)"), "%s", help);
	free(help);
}

Test(config, markdown_has_a_row_per_key)
{
	char *md = capture(cfg_write_markdown, keys);
	size_t rows = 0;

	for (const char *p = md; (p = strchr(p, '\n')); p++)
		rows++;
	cr_assert_eq(rows, 2 + PRP_ARRAY_SIZE(keys) - 1, "%s", md);
	cr_assert(!strncmp(md, "| Key | Flag | Type | Default | Allowed | Description |\n", 55));
	for (const struct cfg_key *k = keys; k->name; k++) {
		char cell[80];

		snprintf(cell, sizeof(cell), "| `%s` |", k->name);
		cr_assert(strstr(md, cell), "no row for %s in:\n%s", k->name, md);
	}
	cr_assert(
		strstr(md,
		       "| `interval_ms` | `--interval-ms` | duration (ms) | `1000 ms` | 100..60000 ms | window length |"),
		"%s", md);
	cr_assert(strstr(md, "| `verbose` | `--[no-]verbose` | boolean | `false` |  | log more |"),
		  "%s", md);
	cr_assert(strstr(md, "labels \\| attached"), "a '|' in help is escaped: %s", md);
	cr_assert(strstr(md, "| choice | `green` | red, green, blue |"), "%s", md);
	free(md);
}

struct unbounded {
	int64_t i;
	uint64_t u;
	double d;
	char *long_name_for_a_string_with_a_very_long_flag;
};

static const struct cfg_key unbounded_keys[] = {
	CFG_INT("i", struct unbounded, i, 0, INT64_MIN, INT64_MAX, "any integer"),
	CFG_UINT("u", struct unbounded, u, 0, 0, UINT64_MAX, "any count"),
	CFG_DOUBLE("d", struct unbounded, d, 0, -DBL_MAX, DBL_MAX, "any number"),
	CFG_STR("long_name_for_a_string_with_a_very_long_flag", struct unbounded,
		long_name_for_a_string_with_a_very_long_flag, NULL, "long one"),
	CFG_END,
};

Test(config, help_leaves_out_open_ranges_and_wraps_long_flags)
{
	char *help = capture(cfg_print_help, unbounded_keys);
	struct unbounded u = { 0 };
	char err[256] = "";

	cr_assert(strstr(help, "any integer (default: 0)\n"), "%s", help);
	cr_assert(strstr(help, "any count (default: 0)\n"), "%s", help);
	cr_assert(strstr(help, "--long-name-for-a-string-with-a-very-long-flag STRING\n"), "%s",
		  help);
	free(help);
	cfg_defaults(unbounded_keys, &u);
	cr_assert_eq(cfg_set(unbounded_keys, &u, "i", "-9223372036854775808", err, sizeof(err)), 0);
	cr_assert_eq(u.i, INT64_MIN);
	cr_assert_eq(cfg_set(unbounded_keys, &u, "u", "18446744073709551615", err, sizeof(err)), 0);
	cr_assert_eq(u.u, UINT64_MAX);
	cr_assert_eq(cfg_set(unbounded_keys, &u, "d", "1e308", err, sizeof(err)), 0);
	cfg_release(unbounded_keys, &u);
}
