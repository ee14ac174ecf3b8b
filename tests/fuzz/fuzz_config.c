/*
 * libFuzzer target for common/config.c: arbitrary bytes as a YAML config,
 * against a table with every key type, nesting and a list. Whatever the
 * input, cfg_load_string() must return (no crash, hang or leak), leave the
 * struct releasable, and give a message when it fails.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

struct fuzz_conf {
	char *name;
	bool verbose;
	int64_t offset;
	uint64_t workers;
	double ratio;
	uint64_t interval_ms;
	uint64_t retention_s;
	uint64_t max_bytes;
	int level;
	struct cfg_list services;
	char *http_listen;
	bool http_tls_enabled;
	struct cfg_list deep_list;
	char *too_deep;
};

static const char *const levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const default_services[] = { "port:8001", NULL };

static const struct cfg_key fuzz_keys[] = {
	CFG_STR("name", struct fuzz_conf, name, "prp", "name"),
	CFG_BOOL("verbose", struct fuzz_conf, verbose, false, "bool"),
	CFG_INT("offset", struct fuzz_conf, offset, 0, -1000, 1000, "int"),
	CFG_UINT("workers", struct fuzz_conf, workers, 4, 1, 64, "uint"),
	CFG_DOUBLE("ratio", struct fuzz_conf, ratio, 0.5, 0, 1, "double"),
	CFG_MS("interval_ms", struct fuzz_conf, interval_ms, 1000, 1, 3600000, "ms"),
	CFG_SEC("retention_s", struct fuzz_conf, retention_s, 3600, 0, UINT64_MAX, "s"),
	CFG_SIZE("spool.max_bytes", struct fuzz_conf, max_bytes, 1 << 20, 0, UINT64_MAX, "size"),
	CFG_ENUM("log.level", struct fuzz_conf, level, 1, levels, "enum"),
	CFG_LIST("services", struct fuzz_conf, services, default_services, "list"),
	CFG_STR("http.listen", struct fuzz_conf, http_listen, NULL, "nested string"),
	CFG_BOOL("http.tls.enabled", struct fuzz_conf, http_tls_enabled, false, "nested bool"),
	/* a sequence at depth 8, the limit; a mapping at depth 9, past it */
	CFG_LIST("a.b.c.d.e.f.list", struct fuzz_conf, deep_list, NULL, "deepest list"),
	CFG_STR("a.b.c.d.e.f.g.h.i", struct fuzz_conf, too_deep, NULL, "unreachable"),
	CFG_END,
};

/* Keeps the results observable so that nothing is optimised away. */
static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_conf c;
	char err[256];
	int ret;

	memset(&c, 0, sizeof(c));
	cfg_defaults(fuzz_keys, &c);
	err[0] = '\0';
	ret = cfg_load_string(fuzz_keys, &c, (const char *)data, size, "fuzz", err, sizeof(err));
	if (ret && !err[0])
		abort(); /* every failure explains itself */
	if (ret > 0)
		abort();
	sink += (size_t)-ret + strlen(err) + c.services.count + c.deep_list.count +
		(c.name ? strlen(c.name) : 0) + (c.http_listen ? strlen(c.http_listen) : 0) +
		(size_t)c.workers + (size_t)c.level + (size_t)c.verbose;
	for (size_t i = 0; i < c.services.count; i++)
		sink += strlen(c.services.items[i]);
	cfg_release(fuzz_keys, &c);
	return 0;
}
