/*
 * Parsing of numbers, booleans, durations and sizes from text: config values,
 * command-line flags, query strings. The only place in prp that knows unit
 * names (STYLE.md §7). Each parser takes the whole string (no trailing junk,
 * no leading or trailing space) and returns 0, -EINVAL when it is not of the
 * form, or -ERANGE when it is outside the bounds; *out is written only on
 * success. Thread-safe.
 */
#ifndef PRP_COMMON_STRPARSE_H
#define PRP_COMMON_STRPARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"

PRP_MUST_CHECK int strparse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
PRP_MUST_CHECK int strparse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Finite decimal numbers only: "nan" and "inf" are -EINVAL. */
PRP_MUST_CHECK int strparse_double(const char *s, double min, double max, double *out);
/* true/false, yes/no, on/off, 1/0, any case. */
PRP_MUST_CHECK int strparse_bool(const char *s, bool *out);

/*
 * A duration as a number and a unit: ns, us, ms, s, m (or min), h, d, w, as
 * in "500ms", "1.5s", "5m". A bare number is in @bare_unit_ns ("30" with
 * NSEC_PER_SEC is 30 s). Negative durations are -EINVAL; past 2^64 ns -ERANGE.
 */
PRP_MUST_CHECK int strparse_duration_ns(const char *s, uint64_t bare_unit_ns, uint64_t *out_ns);

/*
 * A size: bytes, or a number and a unit: B; kB, MB, GB, TB (powers of 1000);
 * KiB, MiB, GiB, TiB and K, M, G, T (powers of 1024), as in "256MiB".
 */
PRP_MUST_CHECK int strparse_size(const char *s, uint64_t *out_bytes);

#endif
