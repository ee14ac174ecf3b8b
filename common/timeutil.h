/*
 * Clocks and instants. Intervals are measured on CLOCK_MONOTONIC, instants
 * shown to people or peers are CLOCK_REALTIME in RFC 3339 UTC with
 * milliseconds and a 'Z' (API.md's conventions). Thread-safe.
 */
#ifndef PRP_COMMON_TIMEUTIL_H
#define PRP_COMMON_TIMEUTIL_H

#include <stdint.h>

#include "common/compiler.h"

#define NSEC_PER_USEC 1000ull
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_SEC  1000000000ull

/* "2026-11-27T10:00:00.123Z" plus the terminator, with room to spare. */
#define TIME_ISO_LEN 32

uint64_t time_mono_ns(void);
uint64_t time_real_ns(void);

/* Writes @real_ns (ns since the epoch) as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void time_format_iso(uint64_t real_ns, char out[TIME_ISO_LEN]);

/*
 * Parses an instant: "YYYY-MM-DDTHH:MM:SS[.frac][Z|+HH:MM|-HH:MM]", a space
 * instead of the 'T' (the NAB CSV form), and a bare date "YYYY-MM-DD". With no
 * zone the time is UTC. Returns 0, or -EINVAL for anything else, including
 * out-of-range fields and instants before 1970 or past 2554-07-21T23:34:33Z
 * (2^64 ns).
 */
PRP_MUST_CHECK int time_parse_iso(const char *s, uint64_t *real_ns);

/*
 * Parses a `since`/`until` filter: an instant as above, or a duration before
 * @now_ns such as "15m", "2h", "7d" (API.md). Returns 0 or -EINVAL.
 */
PRP_MUST_CHECK int time_parse_since(const char *s, uint64_t now_ns, uint64_t *real_ns);

/* Sleeps @ns. Returns 0, or -EINTR when a signal cut the sleep short. */
int time_sleep_ns(uint64_t ns);

#endif
