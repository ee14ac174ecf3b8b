/*
 * libFuzzer target for prp-detect's row parser (aggregator/detect/csv_row.c):
 * its input is any CSV file a user points it at. Each input is one line.
 * What the parser accepts must be consistent: a finite value, a time at or
 * after the epoch, a separator inside the line; a refusal must say why.
 * Anything else, and ASan or UBSan findings, abort.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/detect/csv_row.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1), err[160];
	double t, v;
	size_t comma;

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	(void)csv_row_is_header(line);
	err[0] = '\0';
	if (csv_row_parse(line, &t, &v, &comma, err, sizeof(err)) == 0) {
		if (!isfinite(v) || !(t >= 0) || comma >= strlen(line) || line[comma] != ',')
			abort();
	} else if (!err[0]) {
		abort();
	}
	free(line);
	return 0;
}
