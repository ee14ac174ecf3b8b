/*
 * The Loki exporter's settings (docs/loki.md): what loki_start() takes, the
 * check the config file's keys get at load, and the secrets' files (the
 * LOKI_* defaults are in loki.h). Pure functions but for the file read;
 * any thread.
 */
#ifndef PRP_AGGREGATOR_EXPORT_LOKI_CONFIG_H
#define PRP_AGGREGATOR_EXPORT_LOKI_CONFIG_H

#include <stddef.h>

#include "aggregator/store/store.h"
#include "common/compiler.h"

struct loki_config {
	const char *url;    /* base URL, http:// or https://; NULL or "": the exporter is off */
	const char *tenant; /* sent as X-Scope-OrgID; NULL or "": not sent */
	const char *labels; /* static labels, "name=value,name=value"; NULL or "": none */
	unsigned batch;	    /* 0: LOKI_BATCH */
	unsigned flush_interval_ms;    /* 0: LOKI_FLUSH_INTERVAL_MS */
	unsigned queue_max;	       /* 0: LOKI_QUEUE_MAX */
	unsigned timeout_ms;	       /* 0: LOKI_TIMEOUT_MS */
	unsigned max_retries;	       /* retries after the first attempt; 0: none */
	unsigned backoff_ms;	       /* 0: LOKI_BACKOFF_MS */
	unsigned backoff_max_ms;       /* 0: LOKI_BACKOFF_MAX_MS */
	unsigned stop_flush_ms;	       /* 0: LOKI_STOP_FLUSH_MS */
	const char *ca_file;	       /* PEM bundle for https; NULL or "": the system's */
	const char *username;	       /* basic auth (Grafana Cloud); needs password_file */
	const char *password_file;     /* the basic auth password, read at start */
	const char *bearer_token_file; /* Authorization: Bearer, read at start; not with username */
	const char *hostname;	       /* the host label; NULL or "": gethostname() */
	/*
	 * The store the bus keeps its events in (copied, dir too): the reader
	 * opens its own read-only connection to it. Unused without a bus.
	 */
	struct store_options store;
};

/* Every string borrowed, every number 0 (its default), max_retries LOKI_MAX_RETRIES. */
void loki_config_default(struct loki_config *c);

/*
 * Checks @c as the config file gives it, without reading any file: the
 * URL's scheme, the static labels (names [a-zA-Z_][a-zA-Z0-9_]*, not one
 * of the labels the exporter sets, not "__" reserved ones, at most
 * LOKI_LABELS_MAX, no repeats, values not empty), the auth settings (a
 * username needs a password file; not both kinds). 0, or -EINVAL with the
 * key and the reason in @err.
 */
PRP_MUST_CHECK int loki_config_check(const struct loki_config *c, char *err, size_t errlen);

/* Sets the numbers left 0 to their defaults (LOKI_BATCH, ...; max_retries 0 stays: none). */
void loki_config_fill(struct loki_config *c);

/*
 * The first line of the file @path, trailing spaces dropped, into *@out
 * (caller owns: wipe it with explicit_bzero(), then free()). At most 4 KiB
 * are read. 0, -ENOKEY when the line is empty, or -errno.
 */
PRP_MUST_CHECK int loki_config_read_secret(const char *path, char **out);

#endif
