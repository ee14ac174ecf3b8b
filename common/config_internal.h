/*
 * Private to common/config*.c: what the pieces of the configuration module
 * share. Not for other modules, which include common/config.h only.
 *
 *   config.c       the key table, text to values, staging, loading (cfg_*)
 *   config_yaml.c  the libyaml event walk: a document to staged values
 *   config_args.c  command-line flags to staged values; flag names
 *   config_doc.c   --help and the Markdown table of keys
 *
 * Each name here starts with the file that defines it. Loaders never write
 * the caller's struct while parsing: they fill a struct config_stage, and
 * config_stage_apply() moves it in only once the whole input is valid.
 */
#ifndef PRP_COMMON_CONFIG_INTERNAL_H
#define PRP_COMMON_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/config.h"

/* Room for a quoted excerpt of user text in a message. */
#define CONFIG_QUOTE_MAX 64
/* Room for one formatted default, range or type description. */
#define CONFIG_TEXT_MAX 256

/* A converted value; which member is live follows the key's type. */
union cfg_value {
	char *str;
	bool b;
	int64_t i64;
	uint64_t u64;
	double d;
	int e;
	struct cfg_list list;
};

struct config_staged {
	bool set;
	union cfg_value v; /* owned by the stage while set */
};

/* Pending values for one load, one per key of @keys, in table order. */
struct config_stage {
	const struct cfg_key *keys;
	struct config_staged *vals;
};

/* What the docs, --help and messages say about each type, and its field's size. */
struct config_type_info {
	const char *name;    /* the docs' type column */
	const char *metavar; /* after the flag in --help */
	const char *desc;    /* "expected <desc>, got ..." */
	const char *unit;    /* after bare numbers: strparse.c alone knows unit names */
	size_t size;
};

/* ---- config.c ------------------------------------------------------------- */

/* Formats a message into @err (may be NULL or @errlen 0) and returns @code. */
PRP_PRINTF(4, 5) int config_set_err(char *err, size_t errlen, int code, const char *fmt, ...);

/* Copies up to 40 bytes of @s for a message, control bytes shown as '?'; returns @out. */
const char *config_quote(char out[CONFIG_QUOTE_MAX], const char *s, size_t len);

/* The key named @name ("http.listen", as in the table), or NULL. */
const struct cfg_key *config_find_key(const struct cfg_key *keys, const char *name);

/* True when some key lives under @name: "http" for "http.listen". */
bool config_is_section(const struct cfg_key *keys, const char *name);

/* The type table's entry for the type of @k. */
const struct config_type_info *config_type_info(const struct cfg_key *k);

/* What a value of @k looks like, for "expected ..." messages; may return @out. */
const char *config_type_desc(const struct cfg_key *k, char *out, size_t outlen);

/* "min..max" with the unit, one side left open at the type's limit; "" when both are. */
void config_range_text(const struct cfg_key *k, char *out, size_t outlen);

/*
 * Converts @text (a YAML null when @is_null) to a value of @k into @out;
 * for a list, to one item. Returns 0, or -EINVAL or -ERANGE with the reason
 * in @msg (no key: callers say where and which).
 */
int config_convert(const struct cfg_key *k, const char *text, bool is_null, union cfg_value *out,
		   char *msg, size_t msglen);

/* Allocates one empty slot per key of @keys; cannot fail. */
void config_stage_init(struct config_stage *st, const struct cfg_key *keys);
/* Frees every value still staged, that is, not moved by config_stage_apply(). */
void config_stage_release(struct config_stage *st);
/* Stages @v (taking what it owns) for the scalar key @k, replacing any staged value. */
void config_stage_set(struct config_stage *st, const struct cfg_key *k, union cfg_value *v);
/* Stages an empty list for @k: what the next config_stage_push() calls fill. */
void config_stage_list_reset(struct config_stage *st, const struct cfg_key *k);
/* Appends @item (taken) to the staged list of @k, starting one if none is. */
void config_stage_push(struct config_stage *st, const struct cfg_key *k, char *item);
/* Moves every staged value into @conf, releasing what each field held. */
void config_stage_apply(struct config_stage *st, void *conf);

/* ---- config_yaml.c -------------------------------------------------------- */

/*
 * Stages the keys of the YAML document in the @len bytes at @yaml; @source
 * names it in messages. Returns 0, or a negative errno with a message giving
 * the line and column in @err. Staged values are left for the caller to
 * apply or release, on error too.
 */
int config_yaml_parse(struct config_stage *st, const char *yaml, size_t len, const char *source,
		      char *err, size_t errlen);

/* ---- config_args.c -------------------------------------------------------- */

/*
 * Stages every flag of @argv, as cfg_parse_args() documents; with
 * @config_path, takes --config FILE too and points *@config_path at FILE
 * (borrowed from @argv). Sets *@next_arg (may be NULL) on success only.
 */
int config_args_stage(struct config_stage *st, int argc, char **argv, int *next_arg,
		      const char **config_path, char *err, size_t errlen);

/* The flag of @k without its dashes ("http-listen"), cut to fit @outlen. */
void config_args_flag_name(const struct cfg_key *k, char *out, size_t outlen);

#endif
