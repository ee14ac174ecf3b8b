/*
 * Writing the audit log (API.md: who changed what) from the parts that
 * have no store writer of their own to spare: the key registry and the
 * administration routes. The policy engine writes its own lines through
 * its writer. Appends only; a failure is logged and never stops the change
 * it records, which has happened already. Thread-safe (one mutex).
 */
#ifndef PRP_AGGREGATOR_AUTH_AUDIT_LOG_H
#define PRP_AGGREGATOR_AUTH_AUDIT_LOG_H

#include <jansson.h>
#include <stdint.h>

#include "common/compiler.h"

struct audit_log;
struct store_options;

/* Opens its own writer on the store of @so. 0 or -errno. */
PRP_MUST_CHECK int audit_log_open(struct audit_log **out, const struct store_options *so);
void audit_log_close(struct audit_log *al);

/*
 * Appends: @action ("key.created"), @subject ("key:12"), @detail a JSON
 * object (taken; may be NULL). 0 or -errno (logged).
 */
int audit_log_write(struct audit_log *al, const char *tenant, const char *actor,
		    const char *action, const char *subject, json_t *detail);

#endif
