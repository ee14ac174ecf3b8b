/*
 * Describing a key table to people: cfg_print_help() for --help and
 * cfg_write_markdown() for docs/config.md. Both say the same things about a
 * key (flag, type, default, bounds) with the words of config.c's type table,
 * so that the help, the docs and the error messages never disagree.
 */
#include "common/config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/config_internal.h"

/* The default as text; "" when there is none (a NULL string, an empty list). */
static void default_text(const struct cfg_key *k, char *out, size_t outlen)
{
	size_t n = 0;

	switch (k->type) {
	case CFG_TYPE_STR:
		snprintf(out, outlen, "%s", k->def_str ? k->def_str : "");
		break;
	case CFG_TYPE_BOOL:
		snprintf(out, outlen, "%s", k->def_bool ? "true" : "false");
		break;
	case CFG_TYPE_INT:
		snprintf(out, outlen, "%" PRId64, k->def_i64);
		break;
	case CFG_TYPE_UINT:
	case CFG_TYPE_MS:
	case CFG_TYPE_SEC:
	case CFG_TYPE_SIZE:
		snprintf(out, outlen, "%" PRIu64 "%s", k->def_u64, config_type_info(k)->unit);
		break;
	case CFG_TYPE_DOUBLE:
		snprintf(out, outlen, "%g", k->def_double);
		break;
	case CFG_TYPE_ENUM:
		snprintf(out, outlen, "%s", k->choices[k->def_i64]);
		break;
	case CFG_TYPE_LIST:
		out[0] = '\0';
		for (const char *const *d = k->def_list; d && *d && n < outlen; d++)
			n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", *d);
		break;
	}
}

/* "(default: 1000 ms; range: 100..60000 ms)" and the like, for --help. */
static void notes_text(const struct cfg_key *k, char *out, size_t outlen)
{
	char def[CONFIG_TEXT_MAX], range[CONFIG_TEXT_MAX];
	bool is_enum = k->type == CFG_TYPE_ENUM;

	default_text(k, def, sizeof(def));
	config_range_text(k, range, sizeof(range));
	snprintf(out, outlen, "(%s%s%s%sdefault: %s%s%s)",
		 k->type == CFG_TYPE_LIST ? "repeatable; " : "", is_enum ? "one of: " : "",
		 is_enum ? range : "", is_enum ? "; " : "", *def ? def : "none",
		 *range && !is_enum ? "; range: " : "", is_enum ? "" : range);
}

void cfg_print_help(const struct cfg_key *keys, FILE *f)
{
	char flag[128], col[160], notes[4 * CONFIG_TEXT_MAX];
	size_t width = strlen("--config FILE");

	for (const struct cfg_key *k = keys; k->name; k++)
		if (strlen(k->name) + strlen(config_type_info(k)->metavar) + 8 > width)
			width = strlen(k->name) + strlen(config_type_info(k)->metavar) + 8;
	if (width > 40)
		width = 40;
	fprintf(f, "  %-*s  read the configuration from FILE\n", (int)width, "--config FILE");
	for (const struct cfg_key *k = keys; k->name; k++) {
		config_args_flag_name(k, flag, sizeof(flag));
		if (k->type == CFG_TYPE_BOOL)
			snprintf(col, sizeof(col), "--[no-]%s", flag);
		else
			snprintf(col, sizeof(col), "--%s %s", flag, config_type_info(k)->metavar);
		/* a flag too long for the column gets a line of its own */
		if (strlen(col) > width)
			fprintf(f, "  %s\n  %-*s", col, (int)width, "");
		else
			fprintf(f, "  %-*s", (int)width, col);
		notes_text(k, notes, sizeof(notes));
		fprintf(f, "  %s %s\n", k->help, notes);
	}
}

/* Writes @s as a Markdown table cell: '|' escaped, line breaks as spaces. */
static void md_cell(FILE *f, const char *s, bool code)
{
	bool tick = code && *s;

	fputs(tick ? " `" : " ", f);
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else
			fputc(*s == '\n' ? ' ' : *s, f);
	}
	fputs(tick ? "` |" : " |", f);
}

void cfg_write_markdown(const struct cfg_key *keys, FILE *f)
{
	char flag[128], def[CONFIG_TEXT_MAX], range[CONFIG_TEXT_MAX], col[160];

	fputs("| Key | Flag | Type | Default | Allowed | Description |\n", f);
	fputs("| --- | --- | --- | --- | --- | --- |\n", f);
	for (const struct cfg_key *k = keys; k->name; k++) {
		config_args_flag_name(k, flag, sizeof(flag));
		snprintf(col, sizeof(col), "--%s%s", k->type == CFG_TYPE_BOOL ? "[no-]" : "", flag);
		default_text(k, def, sizeof(def));
		config_range_text(k, range, sizeof(range));
		fputc('|', f);
		md_cell(f, k->name, true);
		md_cell(f, col, true);
		md_cell(f, config_type_info(k)->name, false);
		md_cell(f, def, true);
		md_cell(f, range, false);
		md_cell(f, k->help, false);
		fputc('\n', f);
	}
}
