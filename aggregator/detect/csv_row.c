/*
 * prp-detect's row parser (csv_row.h). Timestamps go through
 * common/timeutil's ISO-8601 parser, which takes the NAB form (a space for
 * the 'T') and also a 'T' or a zone; anything it refuses is refused here.
 */
#include "aggregator/detect/csv_row.h"

#include <errno.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/strparse.h"
#include "common/timeutil.h"

/* The longest timestamp field: "YYYY-MM-DD HH:MM:SS" with a 9-digit fraction and a zone. */
#define CSV_ROW_TIME_MAX 40

bool csv_row_is_header(const char *line)
{
	if (!strncmp(line, "\xef\xbb\xbf", 3))
		line += 3;
	return !strcmp(line, "timestamp,value");
}

int csv_row_parse(const char *line, double *t_s, double *value, size_t *comma, char *err,
		  size_t errlen)
{
	const char *sep = strchr(line, ',');
	char stamp[CSV_ROW_TIME_MAX + 1];
	size_t n = sep ? (size_t)(sep - line) : 0;
	uint64_t ns;

	if (!sep || strchr(sep + 1, ',')) {
		snprintf(err, errlen, "expected 2 columns: timestamp,value");
		return -EINVAL;
	}
	if (n > CSV_ROW_TIME_MAX) {
		snprintf(err, errlen, "bad timestamp '%.40s...': expected YYYY-MM-DD HH:MM:SS", line);
		return -EINVAL;
	}
	memcpy(stamp, line, n);
	stamp[n] = '\0';
	if (time_parse_iso(stamp, &ns)) {
		snprintf(err, errlen, "bad timestamp '%s': expected YYYY-MM-DD HH:MM:SS", stamp);
		return -EINVAL;
	}
	if (strparse_double(sep + 1, -DBL_MAX, DBL_MAX, value)) {
		snprintf(err, errlen, "bad value '%.40s': expected a finite number", sep + 1);
		return -EINVAL;
	}
	*t_s = (double)(ns / NSEC_PER_SEC) + (double)(ns % NSEC_PER_SEC) / 1e9;
	*comma = n;
	return 0;
}
