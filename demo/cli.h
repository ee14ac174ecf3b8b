/*
 * Command line of prp-demo-service:
 *   --name orders|users|payments --port N [--bind ADDR]
 *   [--call NAME=http://HOST:PORT]... [--log-level debug|info|warn|error] [--help]
 * Each flag also takes the --flag=value form. Parsing allocates nothing:
 * every string in struct cli_options is borrowed from argv.
 */
#ifndef PRP_DEMO_CLI_H
#define PRP_DEMO_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/compiler.h"
#include "common/log.h"
#include "demo/shop.h"

/* --call flags accepted: one per service name. */
#define CLI_MAX_CALLS UPSTREAM_MAX_TARGETS

struct cli_call {
	const char *name; /* points into argv, not terminated at '=': use name_len */
	size_t name_len;
	const char *url;
};

struct cli_options {
	bool help; /* --help: nothing else was checked */
	enum shop_role role;
	uint16_t port;
	const char *bind; /* "127.0.0.1" unless --bind */
	struct cli_call calls[CLI_MAX_CALLS];
	size_t ncalls;
	enum log_level log_level;
};

/*
 * Parses @argv into @o. Returns 0, or -EINVAL with a one-line reason in @err
 * (unknown flag, missing or bad value, orders without --call users= and
 * --call payments=).
 */
PRP_MUST_CHECK int cli_parse(int argc, char **argv, struct cli_options *o, char *err,
			     size_t errlen);

/* The URL given with --call @name, or NULL. Borrowed from argv. */
const char *cli_call_url(const struct cli_options *o, const char *name);

/* Writes the usage text to @f. */
void cli_usage(FILE *f);

#endif
