/*
 * prpctl's global options: where the aggregator is, the API key, TLS, the
 * output form and the timeout. Flags win over the environment, which wins
 * over the config file, which wins over the defaults:
 *
 *	--url	   $PRP_URL, else the file's url, else http://127.0.0.1:8080
 *	--key	   --key-file FILE; else $PRP_API_KEY; else the file's key_file;
 *		   else CTL_OPTS_KEY_FILE when it is readable; else no key (an
 *		   aggregator run with --no-auth)
 *	--cacert   the file's cacert, else the system's CAs
 *	--output   table (--json is --output json)
 *	--timeout  30 s
 *
 * The config file is $PRP_CONFIG (which must then exist), else
 * ~/.config/prp/prpctl.yaml, else CTL_OPTS_CONFIG when either exists: YAML
 * with the keys url, key_file and cacert, read by common/config.c.
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
#define CTL_OPTS_CONFIG		    "/etc/prp/prpctl.yaml"
#define CTL_OPTS_KEY_MAX	    1024 /* far above the 47 bytes of a prp key */

struct ctl_opts {
	char *url; /* no trailing '/'; owned */
	char *key; /* NULL: none; owned, wiped by ctl_opts_release() */
	char *cfg_url, *cfg_key_file, *cfg_cacert; /* from the config file; NULL: not set; owned */
	bool json;		   /* --output json (--json): the answer as it came, not a table */
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
