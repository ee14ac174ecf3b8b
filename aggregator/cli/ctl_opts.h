/*
 * prpctl's global options: where the aggregator is, the API key, TLS, the
 * output form and the timeout. Each has a default:
 *
 *	--url	   $PRP_URL, else http://127.0.0.1:8080
 *	--key	   $PRP_API_KEY; else --key-file FILE; else CTL_OPTS_KEY_FILE
 *		   when it is readable; else no key (an aggregator run with
 *		   --no-auth)
 *	--timeout  30 s
 *
 * An explicit --key-file wins over $PRP_API_KEY, an explicit --key over both.
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_OPTS_H
#define PRP_AGGREGATOR_CLI_CTL_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/cli/ctl_args.h"
#include "aggregator/cli/ctl_http.h"
#include "common/compiler.h"

#define CTL_OPTS_URL_DEFAULT	    "http://127.0.0.1:8080"
#define CTL_OPTS_KEY_FILE	    "/var/lib/prp/admin.key" /* the aggregator's first admin key */
#define CTL_OPTS_TIMEOUT_MS_DEFAULT 30000
#define CTL_OPTS_KEY_MAX	    1024 /* far above the 47 bytes of a prp key */

struct ctl_opts {
	char *url;		   /* no trailing '/'; owned */
	char *key;		   /* NULL: none; owned, wiped by ctl_opts_release() */
	bool json;		   /* --json: the answer as it came instead of a table */
	struct ctl_http_conn conn; /* views of the fields above; what requests use */
};

/* The global flags, for the table ctl_args_parse() splits by (ends with a NULL name). */
extern const struct ctl_flag ctl_opts_flags[];

/*
 * Fills @o from the global flags in @a and the environment. Returns 0;
 * -EINVAL for a bad value (a usage error); or another -errno when the key
 * cannot be read. Each failure sets @err. Release @o in every case.
 */
PRP_MUST_CHECK int ctl_opts_load(struct ctl_opts *o, const struct ctl_args *a, char *err,
				 size_t errlen);
void ctl_opts_release(struct ctl_opts *o);

#endif
