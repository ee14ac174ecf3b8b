/*
 * Text tables (ctl_table.h). Widths count UTF-8 code points, not bytes, so
 * a name in another script keeps the columns straight (wide characters such
 * as CJK still take two cells on a terminal: an accepted approximation).
 */
#include "aggregator/cli/ctl_table.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#define TABLE_GAP 2

struct ctl_table {
	size_t ncols;
	const char *const *heads;
	char **cells; /* nrows * ncols, row after row */
	size_t nrows, alloc_rows;
};

struct ctl_table *ctl_table_new(size_t ncols, const char *const *heads)
{
	struct ctl_table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	t->heads = heads;
	return t;
}

void ctl_table_free(struct ctl_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* A copy of @s with control characters as '?': caller owns. */
static char *clean_copy(const char *s)
{
	char *c = xstrdup(s ? s : "-");

	for (char *p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return c;
}

/* Takes ownership of the @t->ncols strings in @row. */
static void add_owned(struct ctl_table *t, char **row)
{
	if (t->nrows == t->alloc_rows) {
		t->alloc_rows = t->alloc_rows ? 2 * t->alloc_rows : 16;
		t->cells = xreallocarray(t->cells, t->alloc_rows * t->ncols, sizeof(*t->cells));
	}
	memcpy(t->cells + t->nrows * t->ncols, row, t->ncols * sizeof(*row));
	t->nrows++;
}

void ctl_table_add(struct ctl_table *t, const char *const *cells)
{
	char **row = xcalloc(t->ncols, sizeof(*row));

	for (size_t c = 0; c < t->ncols; c++)
		row[c] = clean_copy(cells[c]);
	add_owned(t, row);
	free(row);
}

void ctl_table_add_json(struct ctl_table *t, const json_t *obj, const char *const *keys)
{
	char **row = xcalloc(t->ncols, sizeof(*row));

	for (size_t c = 0; c < t->ncols; c++) {
		char *text = ctl_table_text(json_object_get(obj, keys[c]));

		row[c] = clean_copy(text);
		free(text);
	}
	add_owned(t, row);
	free(row);
}

void ctl_table_field_text(struct ctl_table *t, const char *label, const char *text)
{
	char *row[2] = { xasprintf("%s:", label), clean_copy(text) };

	assert(t->ncols == 2);
	add_owned(t, row);
}

void ctl_table_field(struct ctl_table *t, const char *label, const json_t *v)
{
	char *text = ctl_table_text(v);

	ctl_table_field_text(t, label, text);
	free(text);
}

char *ctl_table_text(const json_t *v)
{
	char *dump;

	if (!v)
		return xstrdup("-"); /* json_typeof() dereferences */
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (!json_string_length(v))
			break; /* an empty cell would shift the eye to the next column */
		return xstrndup(json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		return xasprintf("%g", json_real_value(v));
	case JSON_TRUE:
		return xstrdup("yes");
	case JSON_FALSE:
		return xstrdup("no");
	case JSON_OBJECT:
	case JSON_ARRAY:
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (dump) {
			char *copy = xstrdup(dump);

			free(dump);
			return copy;
		}
		break;
	case JSON_NULL:
		break;
	}
	return xstrdup("-");
}

/* Code points in @s (UTF-8): every byte that does not continue a sequence. */
static size_t width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void write_row(const struct ctl_table *t, FILE *f, const char *const *row,
		      const size_t *widths)
{
	for (size_t c = 0; c < t->ncols; c++) {
		fputs(row[c], f);
		if (c + 1 < t->ncols)
			fprintf(f, "%*s", (int)(widths[c] - width(row[c]) + TABLE_GAP), "");
	}
	fputc('\n', f);
}

void ctl_table_write(const struct ctl_table *t, FILE *f)
{
	size_t *widths = xcalloc(t->ncols, sizeof(*widths));

	for (size_t c = 0; c < t->ncols; c++) {
		widths[c] = t->heads ? width(t->heads[c]) : 0;
		for (size_t r = 0; r < t->nrows; r++) {
			size_t w = width(t->cells[r * t->ncols + c]);

			if (w > widths[c])
				widths[c] = w;
		}
	}
	if (t->heads)
		write_row(t, f, t->heads, widths);
	for (size_t r = 0; r < t->nrows; r++)
		write_row(t, f, (const char *const *)(t->cells + r * t->ncols), widths);
	free(widths);
}
