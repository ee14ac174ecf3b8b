/*
 * Configuration: one key table per daemon drives the YAML file, the
 * command-line flags, --help and docs/config.md (STYLE.md §7, after Redis's
 * standardConfig and nginx's ngx_command_t). A table is a static const array
 * of CFG_*() entries ending in CFG_END; each entry names a field of a plain
 * struct the caller owns:
 *
 *   static const struct cfg_key agent_keys[] = {
 *           CFG_STR("aggregator", struct agent_config, aggregator, "tcp://127.0.0.1:7070",
 *                   "where windows are sent"),
 *           CFG_MS("interval_ms", struct agent_config, interval_ms, 1000, 100, 60000,
 *                  "length of one window"),
 *           CFG_END,
 *   };
 *
 * A dotted name is a nested key: "http.listen" is the YAML mapping
 * `http: {listen: ...}` and the flag --http-listen ('.' and '_' both become
 * '-' in flags). Values are converted from text by common/strparse.c only,
 * the same way for YAML scalars, flags and cfg_set().
 *
 * Every loader is all or nothing: it first converts the whole input into
 * staged values, and changes @conf only once all of it is valid. On error
 * @conf is exactly as it was, still valid for cfg_release() (cfg_load() is
 * the exception, see there). Input is bounded: CFG_MAX_BYTES of YAML,
 * CFG_MAX_DEPTH levels of nesting.
 *
 * Threads, for every function below: nothing here has global state. Any
 * thread may call any function on a struct that thread owns; tables are
 * read-only and may be shared. Every pointer parameter other than @conf is
 * borrowed for the call only: values are copied, never referenced.
 */
#ifndef PRP_COMMON_CONFIG_H
#define PRP_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/compiler.h"

/* A config file larger than this is refused (-EFBIG): configs are small. */
#define CFG_MAX_BYTES (1u << 20)
/* Collections nested deeper than this are refused (the top mapping is 1). */
#define CFG_MAX_DEPTH 8

enum cfg_type {
	CFG_TYPE_STR,	 /* char *, heap; NULL when unset */
	CFG_TYPE_BOOL,	 /* bool */
	CFG_TYPE_INT,	 /* int64_t, bounded */
	CFG_TYPE_UINT,	 /* uint64_t, bounded */
	CFG_TYPE_DOUBLE, /* double, bounded, finite */
	CFG_TYPE_MS,	 /* uint64_t milliseconds: "500ms", "5s", or a bare number of ms */
	CFG_TYPE_SEC,	 /* uint64_t seconds: "5m", "1h", or a bare number of s */
	CFG_TYPE_SIZE,	 /* uint64_t bytes: "256MiB", "10kB", or a bare number of bytes */
	CFG_TYPE_ENUM,	 /* int: the index of the chosen name in cfg_key.choices */
	CFG_TYPE_LIST,	 /* struct cfg_list: a YAML sequence, or a repeated flag */
};

/* A list of strings. The struct owns @items and each item: cfg_release(). */
struct cfg_list {
	char **items;
	size_t count;
};

/* One key. Build entries with the CFG_*() macros below, never by hand. */
struct cfg_key {
	const char *name; /* "interval_ms", "http.listen"; NULL ends the table */
	enum cfg_type type;
	size_t offset; /* of the field in the caller's struct */
	const char *help;
	const char *def_str;	     /* CFG_TYPE_STR: may be NULL */
	const char *const *def_list; /* CFG_TYPE_LIST: NULL-terminated, or NULL for none */
	const char *const *choices;  /* CFG_TYPE_ENUM: NULL-terminated names */
	bool def_bool;
	int64_t def_i64, min_i64, max_i64;  /* CFG_TYPE_INT; ENUM's default index */
	uint64_t def_u64, min_u64, max_u64; /* UINT, MS, SEC, SIZE (in ms, s, bytes) */
	double def_double, min_double, max_double;
};

/*
 * The offset of @f in @T, which must be of type @ft: a table entry that names
 * a field of the wrong type does not compile.
 */
#define CFG_FIELD_(T, f, ft)                                                                       \
	(offsetof(T, f) +                                                                          \
	 0 * sizeof(struct {                                                                       \
		 int ok_;                                                                          \
		 _Static_assert(__builtin_types_compatible_p(__typeof__(((T *)0)->f), ft),         \
				"config field '" #f "' must be " #ft);                             \
	 }))

#define CFG_STR(name_, T, f, def, help_)                                                           \
	{                                                                                          \
		.name = (name_), .type = CFG_TYPE_STR, .offset = CFG_FIELD_(T, f, char *),         \
		.def_str = (def), .help = (help_)                                                  \
	}
#define CFG_BOOL(name_, T, f, def, help_)                                                          \
	{                                                                                          \
		.name = (name_), .type = CFG_TYPE_BOOL, .offset = CFG_FIELD_(T, f, bool),          \
		.def_bool = (def), .help = (help_)                                                 \
	}
#define CFG_INT(name_, T, f, def, min, max, help_)                                                 \
	{                                                                                          \
		.name = (name_), .type = CFG_TYPE_INT, .offset = CFG_FIELD_(T, f, int64_t),        \
		.def_i64 = (def), .min_i64 = (min), .max_i64 = (max), .help = (help_)              \
	}
#define CFG_UINT_(name_, type_, T, f, def, min, max, help_)                                        \
	{                                                                                          \
		.name = (name_), .type = (type_), .offset = CFG_FIELD_(T, f, uint64_t),            \
		.def_u64 = (def), .min_u64 = (min), .max_u64 = (max), .help = (help_)              \
	}
#define CFG_UINT(name_, T, f, def, min, max, help_)                                                \
	CFG_UINT_(name_, CFG_TYPE_UINT, T, f, def, min, max, help_)
/* Default and bounds in milliseconds. */
#define CFG_MS(name_, T, f, def, min, max, help_)                                                  \
	CFG_UINT_(name_, CFG_TYPE_MS, T, f, def, min, max, help_)
/* Default and bounds in seconds; for fields named *_s. */
#define CFG_SEC(name_, T, f, def, min, max, help_)                                                 \
	CFG_UINT_(name_, CFG_TYPE_SEC, T, f, def, min, max, help_)
/* Default and bounds in bytes. */
#define CFG_SIZE(name_, T, f, def, min, max, help_)                                                \
	CFG_UINT_(name_, CFG_TYPE_SIZE, T, f, def, min, max, help_)
#define CFG_DOUBLE(name_, T, f, def, min, max, help_)                                              \
	{                                                                                          \
		.name = (name_), .type = CFG_TYPE_DOUBLE, .offset = CFG_FIELD_(T, f, double),      \
		.def_double = (def), .min_double = (min), .max_double = (max), .help = (help_)     \
	}
/* @choices: a NULL-terminated array of names; the int field holds the index. */
#define CFG_ENUM(name_, T, f, def, choices_, help_)                                                \
	{                                                                                          \
		.name = (name_), .type = CFG_TYPE_ENUM, .offset = CFG_FIELD_(T, f, int),           \
		.def_i64 = (def), .choices = (choices_), .help = (help_)                           \
	}
/* @defs: a NULL-terminated array of default items, or NULL for an empty list. */
#define CFG_LIST(name_, T, f, defs, help_)                                                         \
	{                                                                                          \
		.name = (name_), .type = CFG_TYPE_LIST,                                            \
		.offset = CFG_FIELD_(T, f, struct cfg_list), .def_list = (defs), .help = (help_)   \
	}
#define CFG_END                                                                                    \
	{                                                                                          \
		.name = NULL                                                                       \
	}

/*
 * Sets every key of @conf to its default. Strings and lists are allocated:
 * @conf then owns them (cfg_release()). Overwrites without freeing, so call
 * it on a fresh struct or one cfg_release() emptied. Cannot fail.
 */
void cfg_defaults(const struct cfg_key *keys, void *conf);

/*
 * Loads the YAML file @path (borrowed) over @conf: keys the file names are
 * replaced, the others kept. An empty file changes nothing. Returns 0, or a
 * negative errno with a message in @err (always terminated, cut to @errlen)
 * naming the file, the line and column (1-based) and the key: -ENOENT when
 * the file is missing, another -errno when it cannot be read, -EFBIG past
 * CFG_MAX_BYTES, -EINVAL for syntax errors, unknown or duplicate keys, bad
 * types, invalid UTF-8 and nesting past CFG_MAX_DEPTH, -ERANGE for values
 * outside their bounds. On error @conf is unchanged.
 */
PRP_MUST_CHECK int cfg_load_file(const struct cfg_key *keys, void *conf, const char *path,
				 char *err, size_t errlen);

/*
 * As cfg_load_file(), from the @len bytes at @yaml (borrowed; need not be
 * terminated and may hold any bytes). @source_name (borrowed, may be NULL)
 * stands for the file name in messages.
 */
PRP_MUST_CHECK int cfg_load_string(const struct cfg_key *keys, void *conf, const char *yaml,
				   size_t len, const char *source_name, char *err, size_t errlen);

/*
 * Sets the key named @name ("http.listen", as in the table) from the text
 * @value (borrowed), converted as a YAML scalar is: for a list, appends
 * @value. Returns 0, -ENOENT for an unknown key, -EINVAL or -ERANGE for a
 * bad value, with a message quoting the key in @err; on error @conf is
 * unchanged.
 */
PRP_MUST_CHECK int cfg_set(const struct cfg_key *keys, void *conf, const char *name,
			   const char *value, char *err, size_t errlen);

/*
 * Applies command-line flags from @argv[1..@argc-1] (argv[0], the program
 * name, is skipped): --key value, --key=value, and for booleans --flag,
 * --no-flag or --flag=false (a boolean never takes the next argument).
 * A list flag may repeat: its first use replaces what @conf held, the next
 * ones append. Stops after "--" or before the first argument that is not an
 * option ("-" is not one) and sets *@next_arg (may be NULL) to its index, or
 * to @argc. Returns 0, or -EINVAL (unknown option, single-dash option,
 * missing value) or -ERANGE with a message naming the flag in @err; on error
 * @conf is unchanged. The argv strings are copied, not kept.
 */
PRP_MUST_CHECK int cfg_parse_args(const struct cfg_key *keys, void *conf, int argc, char **argv,
				  int *next_arg, char *err, size_t errlen);

/*
 * The standard sequence: cfg_defaults(), then the file given by --config FILE
 * (or --config=FILE; it must exist) or else @default_path (NULL for none; a
 * missing default file is not an error), then the other flags, which win.
 * "config" is therefore not a key name for tables used here. @conf must be
 * fresh or released. Every flag is checked before the file is read. Returns
 * 0 or the first error, as the functions above. Each step being all or
 * nothing, on error @conf holds exactly the defaults, and must still be
 * released with cfg_release().
 */
PRP_MUST_CHECK int cfg_load(const struct cfg_key *keys, void *conf, int argc, char **argv,
			    const char *default_path, int *next_arg, char *err, size_t errlen);

/*
 * Writes one line per flag to @f: --config FILE, then for each key its flag,
 * value type, help, default and bounds. Output errors are left on @f.
 */
void cfg_print_help(const struct cfg_key *keys, FILE *f);

/*
 * Writes a Markdown table of the keys to @f, one row per key: name, flag,
 * type, default, allowed values, help (docs/config.md).
 */
void cfg_write_markdown(const struct cfg_key *keys, FILE *f);

/*
 * Frees the strings and lists of @conf and sets them to NULL and empty; the
 * other fields are left as they are. @conf may then be freed, or filled
 * again with cfg_defaults(). Releasing twice is harmless.
 */
void cfg_release(const struct cfg_key *keys, void *conf);

#endif
