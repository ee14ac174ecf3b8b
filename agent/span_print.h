/*
 * The --print-spans view: one span as one JSON line on stdout, next to
 * --print's window lines (a span line is the one with a "trace_id"). Keys
 * are sorted, ids are lowercase hex, times are unix ns (and the start as
 * RFC 3339 for people), the duration is in ms with three decimals as in
 * --print. Keys may be added, never removed.
 */
#ifndef PRP_AGENT_SPAN_PRINT_H
#define PRP_AGENT_SPAN_PRINT_H

#include <jansson.h>
#include <stdio.h>

#include "common/span.h"

/* The object for @s (caller owns: json_decref()), or NULL when out of memory. */
json_t *span_print_json(const struct span *s);
/* Writes it as one line to @f and flushes. Returns 0, -ENOMEM or -EIO. */
int span_print(FILE *f, const struct span *s);

#endif
