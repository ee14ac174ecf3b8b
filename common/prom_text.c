#include "common/prom_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Memory streams fail only when memory is gone: like the x*alloc() wrappers, abort. */
static void out_of_memory(void)
{
	log_error("out of memory writing a metrics exposition");
	abort();
}

void prom_text_init(struct prom_text *p, bool openmetrics)
{
	memset(p, 0, sizeof(*p));
	p->openmetrics = openmetrics;
	p->f = open_memstream(&p->data, &p->len);
	if (!p->f)
		out_of_memory();
}

/* Writes @s with backslash, newline and, in label values (@quote), double quote escaped. */
static void put_escaped(FILE *f, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '"' && quote)
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

/* The shortest text of finite @v that reads back as @v; "1.0" for 1 in OpenMetrics. */
static void format_number(const struct prom_text *p, double v, char *s, size_t cap)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, cap, "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	/* OpenMetrics wants canonical floats, at least in le="": 1.0, not 1 */
	if (p->openmetrics && !strpbrk(s, ".e") && strlen(s) + 3 <= cap)
		strcat(s, ".0");
}

static void put_number(struct prom_text *p, double v)
{
	char s[40];

	if (isnan(v)) {
		fputs("NaN", p->f);
		return;
	}
	if (isinf(v)) {
		fputs(v > 0 ? "+Inf" : "-Inf", p->f);
		return;
	}
	format_number(p, v, s, sizeof(s));
	fputs(s, p->f);
}

void prom_family(struct prom_text *p, const char *name, enum prom_type type, const char *help)
{
	static const char *const names[] = { "counter", "gauge", "histogram" };
	size_t n = strlen(name);

	snprintf(p->family, sizeof(p->family), "%s", name);
	p->type = type;
	/* OpenMetrics names a counter's family without the suffix its samples carry */
	if (p->openmetrics && type == PROM_COUNTER && n > 6 && !strcmp(name + n - 6, "_total"))
		n -= 6;
	fprintf(p->f, "# HELP %.*s ", (int)n, name);
	/* OpenMetrics escapes quotes in HELP too; the text format must not */
	put_escaped(p->f, help, p->openmetrics);
	fprintf(p->f, "\n# TYPE %.*s %s\n", (int)n, name, names[type]);
}

static void put_labels(struct prom_text *p, const struct prom_label *labels, size_t n,
		       const char *le)
{
	bool first = true;

	if (!n && !le)
		return;
	fputc('{', p->f);
	for (size_t i = 0; i < n; i++) {
		fprintf(p->f, "%s%s=\"", first ? "" : ",", labels[i].name);
		put_escaped(p->f, labels[i].value, true);
		fputc('"', p->f);
		first = false;
	}
	if (le)
		fprintf(p->f, "%sle=\"%s\"", first ? "" : ",", le);
	fputc('}', p->f);
}

void prom_sample(struct prom_text *p, const struct prom_label *labels, size_t n, double value)
{
	fputs(p->family, p->f);
	put_labels(p, labels, n, NULL);
	fputc(' ', p->f);
	put_number(p, value);
	fputc('\n', p->f);
}

void prom_sample_u64(struct prom_text *p, const struct prom_label *labels, size_t n,
		     uint64_t value)
{
	fputs(p->family, p->f);
	put_labels(p, labels, n, NULL);
	fprintf(p->f, " %llu\n", (unsigned long long)value);
}

void prom_histogram(struct prom_text *p, const struct prom_label *labels, size_t n,
		    const double *bounds, const uint64_t *bins, size_t nbounds, uint64_t count,
		    double sum)
{
	uint64_t cum = 0;
	char le[40];

	for (size_t i = 0; i < nbounds; i++) {
		cum += bins[i];
		format_number(p, bounds[i], le, sizeof(le));
		fprintf(p->f, "%s_bucket", p->family);
		put_labels(p, labels, n, le);
		fprintf(p->f, " %llu\n", (unsigned long long)cum);
	}
	fprintf(p->f, "%s_bucket", p->family);
	put_labels(p, labels, n, "+Inf");
	fprintf(p->f, " %llu\n%s_sum", (unsigned long long)count, p->family);
	put_labels(p, labels, n, NULL);
	fputc(' ', p->f);
	put_number(p, sum);
	fprintf(p->f, "\n%s_count", p->family);
	put_labels(p, labels, n, NULL);
	fprintf(p->f, " %llu\n", (unsigned long long)count);
}

char *prom_text_finish(struct prom_text *p, size_t *len)
{
	char *data;

	if (p->openmetrics)
		fputs("# EOF\n", p->f);
	if (fclose(p->f))
		out_of_memory();
	data = p->data;
	*len = p->len;
	memset(p, 0, sizeof(*p));
	return data;
}

bool prom_wants_openmetrics(const char *accept)
{
	return accept && strstr(accept, "application/openmetrics-text");
}
