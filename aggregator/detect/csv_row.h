/*
 * The rows of prp-detect's input (DESIGN.md): a header `timestamp,value`,
 * then `YYYY-MM-DD HH:MM:SS[.ffffff],NUMBER` per observation. Untrusted
 * input: every function bounds what it reads and explains a refusal in
 * @err. Pure; any thread. Fuzzed by tests/fuzz/fuzz_csv_row.c.
 */
#ifndef PRP_AGGREGATOR_DETECT_CSV_ROW_H
#define PRP_AGGREGATOR_DETECT_CSV_ROW_H

#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"

/* True for the header line (a UTF-8 byte order mark before it is allowed). */
bool csv_row_is_header(const char *line);

/*
 * Parses one data row @line (without its line end). On success *@t_s is
 * the time in seconds since the epoch (UTC; fraction kept), *@value a
 * finite number, and *@comma the index of the separator, so the caller can
 * echo both fields as given. Returns 0, or -EINVAL with a message in @err
 * ("bad timestamp '...': ...", "bad value ...", "expected 2 columns ...").
 */
PRP_MUST_CHECK int csv_row_parse(const char *line, double *t_s, double *value, size_t *comma,
				 char *err, size_t errlen);

#endif
