/*
 * prpctl's text output: a table of columns padded to their widest cell, two
 * spaces apart, with or without a header line. Without one it serves as a
 * list of "label: value" fields. Cells are copied with control characters
 * replaced by '?': they come from the server.
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_TABLE_H
#define PRP_AGGREGATOR_CLI_CTL_TABLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

struct ctl_table;

/* @ncols columns titled @heads (borrowed until the free; NULL: no header line). Caller owns. */
struct ctl_table *ctl_table_new(size_t ncols, const char *const *heads);
void ctl_table_free(struct ctl_table *t);

/* Adds a row of @cells, one per column, copied. */
void ctl_table_add(struct ctl_table *t, const char *const *cells);
/* Adds a row of the members @keys (one per column) of @obj, each as ctl_table_text() puts it. */
void ctl_table_add_json(struct ctl_table *t, const json_t *obj, const char *const *keys);
/* Adds the row "@label:" and @v as ctl_table_text() puts it (a two-column table). */
void ctl_table_field(struct ctl_table *t, const char *label, const json_t *v);
/* Adds the row "@label:" and @text. */
void ctl_table_field_text(struct ctl_table *t, const char *label, const char *text);

/* Writes the rows; the last column is not padded. */
void ctl_table_write(const struct ctl_table *t, FILE *f);

/*
 * @v as a cell: a string as it is, a number, "yes"/"no", "-" for null,
 * absent (NULL) or "", anything else as compact JSON. Caller owns: free().
 */
char *ctl_table_text(const json_t *v);

#endif
