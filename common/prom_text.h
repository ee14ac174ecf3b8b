/*
 * A writer of the Prometheus text exposition format (version 0.0.4) and of
 * OpenMetrics 1.0, which differ only in a few places this hides: a
 * counter's family is named without `_total` in OpenMetrics, and its text
 * ends with `# EOF`. Families must be written whole, one after another
 * (both formats want a family's samples together). Label values are
 * escaped; names are the caller's literals.
 */
#ifndef PRP_COMMON_PROM_TEXT_H
#define PRP_COMMON_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_OPENMETRICS_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM };

struct prom_label {
	const char *name, *value;
};

struct prom_text {
	FILE *f; /* an open_memstream */
	char *data;
	size_t len;
	bool openmetrics;
	enum prom_type type;
	char family[128]; /* the family being written, as given */
};

/* Starts an empty text. */
void prom_text_init(struct prom_text *p, bool openmetrics);
/*
 * Starts family @name (a counter's ends in "_total"; histograms get
 * _bucket, _sum and _count) with its HELP line.
 */
void prom_family(struct prom_text *p, const char *name, enum prom_type type, const char *help);
/* One sample of the current counter or gauge. */
void prom_sample(struct prom_text *p, const struct prom_label *labels, size_t n, double value);
/* The same for an integer counter: exact past 2^53. */
void prom_sample_u64(struct prom_text *p, const struct prom_label *labels, size_t n,
		     uint64_t value);
/*
 * One series of the current histogram: @bins[i] values <= @bounds[i] (not
 * cumulative; bins[nbounds] past the last), their @count and @sum.
 */
void prom_histogram(struct prom_text *p, const struct prom_label *labels, size_t n,
		    const double *bounds, const uint64_t *bins, size_t nbounds, uint64_t count,
		    double sum);
/* Ends the text: *@len bytes at the returned pointer, the caller's to free(). */
char *prom_text_finish(struct prom_text *p, size_t *len);

/* true when an Accept header asks for OpenMetrics (as Prometheus does, first). */
bool prom_wants_openmetrics(const char *accept);

#endif
