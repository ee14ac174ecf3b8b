/*
 * A log line per kind of trouble at most every EXPORT_SAY_EVERY_NS, for the
 * exporters (loki.c, otlp.c): a failing receiver or a full queue writes one
 * warning per kind per interval, and the next says how many were held back.
 * Not thread-safe: the caller keeps each struct export_say under its lock.
 */
#ifndef PRP_AGGREGATOR_EXPORT_EXPORT_SAY_H
#define PRP_AGGREGATOR_EXPORT_EXPORT_SAY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/timeutil.h"

#define EXPORT_SAY_EVERY_NS (30 * NSEC_PER_SEC) /* one log line per kind this often */

/* One kind of trouble; zeroed is ready (nothing said yet). */
struct export_say {
	uint64_t at_ns;	     /* when a line was last due (CLOCK_MONOTONIC); 0: never */
	uint64_t suppressed; /* lines held back since */
};

/*
 * Whether a line of @s's kind is due now; if so *@suppressed is how many
 * were held back since the last one, else the hold-back is counted.
 */
bool export_say_due(struct export_say *s, uint64_t *suppressed);

#endif
