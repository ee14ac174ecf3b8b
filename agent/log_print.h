/*
 * The --print-logs view: each log line a watched service wrote
 * (agent/sampler_logs.h) as one JSON line on stdout, next to --print's
 * window lines (a log line is the one with a "line"):
 * {"host", "line", "service", "stream": "stdout" | "stderr", "ts" (RFC 3339),
 * "ts_ns" (unix ns)}. Keys are sorted; keys may be added, never removed.
 */
#ifndef PRP_AGENT_LOG_PRINT_H
#define PRP_AGENT_LOG_PRINT_H

#include <jansson.h>
#include <stdio.h>

#include "common/window.h"

/* The object for @l of @service on @host (caller owns: json_decref()), or NULL. */
json_t *log_print_json(const struct window_log *l, const char *service, const char *host);
/* Writes every line of @w (NULL: none) as one JSON line each to @f, then flushes. 0 or -EIO. */
int log_print(FILE *f, const struct window *w, const char *service, const char *host);

#endif
