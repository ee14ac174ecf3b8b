/*
 * Table-driven configuration: YAML (libyaml), flags, help and docs from one
 * struct cfg_key table.
 *
 * Invariants:
 *  - Text becomes a value in one place, convert(), for YAML scalars, flags
 *    and cfg_set() alike, through common/strparse.c.
 *  - Loaders never write the caller's struct while parsing. They fill a
 *    struct stage, one pending value per key, and stage_apply() moves it in
 *    only when the whole input is valid; stage_release() frees what was not
 *    moved. That makes every load all or nothing, and nothing leaks.
 *  - YAML is read as a stream of parser events, never through libyaml's
 *    document loader, so that size and depth are checked before anything
 *    is built, aliases are never expanded, and every unexpected node is an
 *    error at once: no subtree is ever skipped.
 */
#include "common/config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/strparse.h"
#include "common/timeutil.h"

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

struct staged {
	bool set;
	union cfg_value v; /* owned by the stage while set */
};

struct stage {
	const struct cfg_key *keys;
	struct staged *vals; /* one per key, in table order */
};

/* Room for a quoted excerpt of user text in a message. */
#define QUOTE_MAX 64
/* Room for one formatted default, range or type description. */
#define TEXT_MAX 256

/* ---- Small helpers ------------------------------------------------------ */

static PRP_PRINTF(4, 5) int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Copies up to 40 bytes of @s for a message, control bytes shown as '?'. */
static const char *quote(char out[QUOTE_MAX], const char *s, size_t len)
{
	size_t i, n = len < 40 ? len : 40;

	for (i = 0; i < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	strcpy(out + i, len > n ? "..." : "");
	return out;
}

static void *field(const struct cfg_key *k, void *conf)
{
	return (char *)conf + k->offset;
}

static size_t key_count(const struct cfg_key *keys)
{
	size_t n = 0;

	while (keys[n].name)
		n++;
	return n;
}

static const struct cfg_key *find_key(const struct cfg_key *keys, const char *name)
{
	for (; keys->name; keys++)
		if (!strcmp(keys->name, name))
			return keys;
	return NULL;
}

/* True when some key lives under @name: "http" for "http.listen". */
static bool is_section(const struct cfg_key *keys, const char *name)
{
	size_t n = strlen(name);

	for (; keys->name; keys++)
		if (!strncmp(keys->name, name, n) && keys->name[n] == '.')
			return true;
	return false;
}

static char flag_char(char c)
{
	return c == '.' || c == '_' ? '-' : c;
}

/* The key whose flag is the @n bytes at @flag ("http-listen"), or NULL. */
static const struct cfg_key *find_flag(const struct cfg_key *keys, const char *flag, size_t n)
{
	for (; keys->name; keys++) {
		size_t i;

		if (strlen(keys->name) != n)
			continue;
		for (i = 0; i < n && flag_char(keys->name[i]) == flag[i]; i++)
			;
		if (i == n)
			return keys;
	}
	return NULL;
}

static void flag_name(const struct cfg_key *k, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; k->name[i] && i + 1 < outlen; i++)
		out[i] = flag_char(k->name[i]);
	out[i] = '\0';
}

static void list_push(struct cfg_list *l, char *item) /* takes ownership of @item */
{
	l->items = xreallocarray(l->items, l->count + 1, sizeof(*l->items));
	l->items[l->count++] = item;
}

static void list_free(struct cfg_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

static void value_free(const struct cfg_key *k, union cfg_value *v)
{
	if (k->type == CFG_TYPE_STR) {
		free(v->str);
		v->str = NULL;
	} else if (k->type == CFG_TYPE_LIST) {
		list_free(&v->list);
	}
}

/* Frees what the field of @k in @conf owns. */
static void field_release(const struct cfg_key *k, void *conf)
{
	if (k->type == CFG_TYPE_STR) {
		char **s = field(k, conf);

		free(*s);
		*s = NULL;
	} else if (k->type == CFG_TYPE_LIST) {
		list_free(field(k, conf));
	}
}

/* ---- Describing keys: help, docs and messages share these ---------------- */

static void choices_text(const struct cfg_key *k, char *out, size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	for (const char *const *c = k->choices; *c && n < outlen; c++)
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", c == k->choices ? "" : ", ", *c);
}

/* What the docs, --help and messages say about each type, and its field's size. */
static const struct cfg_type_info {
	const char *name;    /* the docs' type column */
	const char *metavar; /* after the flag in --help */
	const char *desc;    /* "expected <desc>, got ..." */
	const char *unit;    /* after bare numbers: strparse.c alone knows unit names */
	size_t size;
} type_info[] = {
	[CFG_TYPE_STR] = { "string", "STRING", "a string", "", sizeof(char *) },
	[CFG_TYPE_BOOL] = { "boolean", "", "true or false", "", sizeof(bool) },
	[CFG_TYPE_INT] = { "integer", "INT", "an integer", "", sizeof(int64_t) },
	[CFG_TYPE_UINT] = { "unsigned integer", "N", "a non-negative integer", "",
			    sizeof(uint64_t) },
	[CFG_TYPE_DOUBLE] = { "number", "NUMBER", "a number", "", sizeof(double) },
	[CFG_TYPE_MS] = { "duration (ms)", "DURATION",
			  "a duration such as 500ms or 5s (a bare number is in ms)", " ms",
			  sizeof(uint64_t) },
	[CFG_TYPE_SEC] = { "duration (s)", "DURATION",
			   "a duration such as 30s or 5m (a bare number is in seconds)", " s",
			   sizeof(uint64_t) },
	[CFG_TYPE_SIZE] = { "size (bytes)", "SIZE", "a size such as 4096, 64KiB or 256MiB",
			    " bytes", sizeof(uint64_t) },
	[CFG_TYPE_ENUM] = { "choice", "CHOICE", "one of", "", sizeof(int) },
	[CFG_TYPE_LIST] = { "list of strings", "STRING", "a list of strings", "",
			    sizeof(struct cfg_list) },
};

static const struct cfg_type_info *info(const struct cfg_key *k)
{
	return &type_info[k->type];
}

/*
 * Moves @v into the field of @k in @conf, whose old value must be released:
 * the live member of the union is at its start, and has the field's type.
 */
static void field_store(const struct cfg_key *k, void *conf, const union cfg_value *v)
{
	memcpy(field(k, conf), v, info(k)->size);
}

/* What a value of @k looks like, for "expected ..." messages. */
static const char *type_desc(const struct cfg_key *k, char *out, size_t outlen)
{
	if (k->type != CFG_TYPE_ENUM)
		return info(k)->desc;
	snprintf(out, outlen, "one of ");
	choices_text(k, out + strlen(out), outlen - strlen(out));
	return out;
}

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
		snprintf(out, outlen, "%" PRIu64 "%s", k->def_u64, info(k)->unit);
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

/* "min..max" with the unit, one side left open at the type's limit; "" when both are. */
static void range_text(const struct cfg_key *k, char *out, size_t outlen)
{
	char lo[32] = "", hi[32] = "";

	out[0] = '\0';
	switch (k->type) {
	case CFG_TYPE_INT:
		if (k->min_i64 != INT64_MIN)
			snprintf(lo, sizeof(lo), "%" PRId64, k->min_i64);
		if (k->max_i64 != INT64_MAX)
			snprintf(hi, sizeof(hi), "%" PRId64, k->max_i64);
		break;
	case CFG_TYPE_UINT:
	case CFG_TYPE_MS:
	case CFG_TYPE_SEC:
	case CFG_TYPE_SIZE:
		if (k->min_u64)
			snprintf(lo, sizeof(lo), "%" PRIu64, k->min_u64);
		if (k->max_u64 != UINT64_MAX)
			snprintf(hi, sizeof(hi), "%" PRIu64, k->max_u64);
		break;
	case CFG_TYPE_DOUBLE:
		if (k->min_double > -DBL_MAX)
			snprintf(lo, sizeof(lo), "%g", k->min_double);
		if (k->max_double < DBL_MAX)
			snprintf(hi, sizeof(hi), "%g", k->max_double);
		break;
	case CFG_TYPE_ENUM:
		choices_text(k, out, outlen);
		return;
	default:
		return;
	}
	if (*lo || *hi)
		snprintf(out, outlen, "%s..%s%s", lo, hi, info(k)->unit);
}

/* ---- Converting text ------------------------------------------------------ */

/* A duration in whole multiples of @unit_ns ("1500us" is not a whole ms). */
static int convert_duration(const char *text, uint64_t unit_ns, uint64_t *out)
{
	uint64_t ns;
	int err = strparse_duration_ns(text, unit_ns, &ns);

	if (err)
		return err;
	if (ns % unit_ns)
		return -EDOM;
	*out = ns / unit_ns;
	return 0;
}

static int convert_enum(const struct cfg_key *k, const char *text, int *out)
{
	for (int i = 0; k->choices[i]; i++) {
		if (!strcmp(k->choices[i], text)) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Converts @text (a YAML null when @is_null) to a value of @k into @out;
 * for a list, to one item. Returns 0, or -EINVAL or -ERANGE with the reason
 * in @msg (no key: callers say where and which).
 */
static int convert(const struct cfg_key *k, const char *text, bool is_null, union cfg_value *out,
		   char *msg, size_t msglen)
{
	char q[QUOTE_MAX], desc[TEXT_MAX], range[TEXT_MAX];
	int err = 0;

	switch (k->type) {
	case CFG_TYPE_STR:
		out->str = is_null ? NULL : xstrdup(text);
		return 0;
	case CFG_TYPE_LIST:
		if (is_null)
			return set_err(msg, msglen, -EINVAL, "a list item cannot be empty");
		out->str = xstrdup(text);
		return 0;
	case CFG_TYPE_BOOL:
		err = strparse_bool(text, &out->b);
		break;
	case CFG_TYPE_INT:
		err = strparse_i64(text, k->min_i64, k->max_i64, &out->i64);
		break;
	case CFG_TYPE_UINT:
		err = strparse_u64(text, k->min_u64, k->max_u64, &out->u64);
		break;
	case CFG_TYPE_DOUBLE:
		err = strparse_double(text, k->min_double, k->max_double, &out->d);
		break;
	case CFG_TYPE_MS:
	case CFG_TYPE_SEC:
		err = convert_duration(text, k->type == CFG_TYPE_MS ? NSEC_PER_MSEC : NSEC_PER_SEC,
				       &out->u64);
		if (err == -EDOM)
			return set_err(msg, msglen, -EINVAL, "'%s' is not a whole number of %s",
				       quote(q, text, strlen(text)),
				       k->type == CFG_TYPE_MS ? "milliseconds" : "seconds");
		if (!err && (out->u64 < k->min_u64 || out->u64 > k->max_u64))
			err = -ERANGE;
		break;
	case CFG_TYPE_SIZE:
		err = strparse_size(text, &out->u64);
		if (!err && (out->u64 < k->min_u64 || out->u64 > k->max_u64))
			err = -ERANGE;
		break;
	case CFG_TYPE_ENUM:
		err = convert_enum(k, text, &out->e);
		break;
	}
	if (err == -ERANGE) {
		range_text(k, range, sizeof(range));
		return set_err(msg, msglen, err, "'%s' is out of range (%s)",
			       quote(q, text, strlen(text)), range);
	}
	if (err)
		return set_err(msg, msglen, -EINVAL, "expected %s, got '%s'",
			       type_desc(k, desc, sizeof(desc)), quote(q, text, strlen(text)));
	return 0;
}

/* ---- Staging -------------------------------------------------------------- */

static void stage_init(struct stage *st, const struct cfg_key *keys)
{
	st->keys = keys;
	st->vals = xcalloc(key_count(keys) + 1, sizeof(*st->vals));
}

static void stage_release(struct stage *st)
{
	for (size_t i = 0; st->keys[i].name; i++)
		if (st->vals[i].set)
			value_free(&st->keys[i], &st->vals[i].v);
	free(st->vals);
	st->vals = NULL;
}

static struct staged *staged_of(struct stage *st, const struct cfg_key *k)
{
	return &st->vals[k - st->keys];
}

/* Stages @v (taking what it owns) for the scalar key @k, replacing any staged value. */
static void stage_set(struct stage *st, const struct cfg_key *k, union cfg_value *v)
{
	struct staged *s = staged_of(st, k);

	if (s->set)
		value_free(k, &s->v);
	s->v = *v;
	s->set = true;
}

/* Stages an empty list for @k: what the next stage_push() calls fill. */
static void stage_list_reset(struct stage *st, const struct cfg_key *k)
{
	struct staged *s = staged_of(st, k);

	if (s->set)
		value_free(k, &s->v);
	memset(&s->v, 0, sizeof(s->v));
	s->set = true;
}

/* Appends @item (taken) to the staged list of @k, starting one if none is. */
static void stage_push(struct stage *st, const struct cfg_key *k, char *item)
{
	struct staged *s = staged_of(st, k);

	if (!s->set)
		stage_list_reset(st, k);
	list_push(&s->v.list, item);
}

static void stage_apply(struct stage *st, void *conf)
{
	for (size_t i = 0; st->keys[i].name; i++) {
		if (!st->vals[i].set)
			continue;
		field_release(&st->keys[i], conf);
		field_store(&st->keys[i], conf, &st->vals[i].v);
		st->vals[i].set = false; /* moved */
	}
}

/* ---- YAML ----------------------------------------------------------------- */

struct yaml_walk {
	yaml_parser_t parser;
	struct stage *st;
	const char *source;
	const unsigned char *input;
	size_t len;
	char *err;
	size_t errlen;
	char **seen; /* full names of the keys and sections met, to find duplicates */
	size_t nseen;
};

static PRP_PRINTF(4, 5) int fail_at(const struct yaml_walk *w, const yaml_mark_t *m, int code,
				    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return set_err(w->err, w->errlen, code, "%s:%zu:%zu: %s", w->source, m->line + 1,
		       m->column + 1, msg);
}

/* libyaml gives a reader error a byte offset only: count lines and characters up to it. */
static yaml_mark_t mark_of_offset(const struct yaml_walk *w, size_t offset)
{
	yaml_mark_t m = { .index = offset };

	for (size_t i = 0; i < offset && i < w->len; i++) {
		if (w->input[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if ((w->input[i] & 0xc0) != 0x80) {
			m.column++;
		}
	}
	return m;
}

static int fail_parser(const struct yaml_walk *w)
{
	const yaml_parser_t *p = &w->parser;
	const char *problem = p->problem ? p->problem : "invalid YAML";
	yaml_mark_t m;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return set_err(w->err, w->errlen, -ENOMEM, "%s: out of memory", w->source);
	case YAML_READER_ERROR:
		m = mark_of_offset(w, p->problem_offset);
		if (p->problem_value != -1)
			return fail_at(w, &m, -EINVAL, "%s (0x%x)", problem, p->problem_value);
		return fail_at(w, &m, -EINVAL, "%s", problem);
	default:
		if (p->context)
			return fail_at(w, &p->problem_mark, -EINVAL, "%s (%s at %zu:%zu)", problem,
				       p->context, p->context_mark.line + 1,
				       p->context_mark.column + 1);
		return fail_at(w, &p->problem_mark, -EINVAL, "%s", problem);
	}
}

static int next_event(struct yaml_walk *w, yaml_event_t *ev)
{
	return yaml_parser_parse(&w->parser, ev) ? 0 : fail_parser(w);
}

static const char *describe(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_ALIAS_EVENT:
		return "an alias (aliases are not supported)";
	default:
		return "a scalar";
	}
}

static const char *scalar_text(const yaml_event_t *ev)
{
	return (const char *)ev->data.scalar.value;
}

/* A plain empty, "~" or "null" scalar: YAML's null. */
static bool is_null(const yaml_event_t *ev)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < PRP_ARRAY_SIZE(nulls); i++)
		if (!strcmp(scalar_text(ev), nulls[i]))
			return true;
	return false;
}

/* Double-quoted scalars can spell a NUL ("\0"), which a C string cannot hold. */
static bool has_nul(const yaml_event_t *ev)
{
	return memchr(ev->data.scalar.value, '\0', ev->data.scalar.length) != NULL;
}

static int check_depth(const struct yaml_walk *w, const yaml_event_t *ev, int depth)
{
	if (depth > CFG_MAX_DEPTH)
		return fail_at(w, &ev->start_mark, -EINVAL, "nested deeper than %d levels",
			       CFG_MAX_DEPTH);
	return 0;
}

static int stage_scalar(struct yaml_walk *w, const struct cfg_key *k, const yaml_event_t *ev)
{
	char msg[TEXT_MAX + 128];
	union cfg_value v;
	int err;

	if (has_nul(ev))
		return fail_at(w, &ev->start_mark, -EINVAL, "key '%s': value holds a NUL byte",
			       k->name);
	err = convert(k, scalar_text(ev), is_null(ev), &v, msg, sizeof(msg));
	if (err)
		return fail_at(w, &ev->start_mark, err, "key '%s': %s", k->name, msg);
	if (k->type == CFG_TYPE_LIST)
		stage_push(w->st, k, v.str);
	else
		stage_set(w->st, k, &v);
	return 0;
}

/* The items of a YAML sequence, one scalar (a one-item list) or null (empty). */
static int walk_list(struct yaml_walk *w, const struct cfg_key *k, const yaml_event_t *val,
		     int depth)
{
	char desc[TEXT_MAX];
	yaml_event_t item;
	int err;

	stage_list_reset(w->st, k);
	if (val->type == YAML_SCALAR_EVENT)
		return is_null(val) ? 0 : stage_scalar(w, k, val);
	if (val->type != YAML_SEQUENCE_START_EVENT)
		return fail_at(w, &val->start_mark, -EINVAL, "key '%s': expected %s, got %s",
			       k->name, type_desc(k, desc, sizeof(desc)), describe(val));
	err = check_depth(w, val, depth + 1);
	while (!err) {
		err = next_event(w, &item);
		if (err)
			break;
		if (item.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&item);
			break;
		}
		if (item.type == YAML_SCALAR_EVENT)
			err = stage_scalar(w, k, &item);
		else
			err = fail_at(w, &item.start_mark, -EINVAL,
				      "key '%s': list items must be strings, got %s", k->name,
				      describe(&item));
		yaml_event_delete(&item);
	}
	return err;
}

static int walk_mapping(struct yaml_walk *w, const char *prefix, int depth);

static int walk_section(struct yaml_walk *w, const char *name, const yaml_event_t *val, int depth)
{
	char *prefix;
	int err;

	if (is_null(val)) /* "http:" with every key under it commented out */
		return 0;
	if (val->type != YAML_MAPPING_START_EVENT)
		return fail_at(w, &val->start_mark, -EINVAL,
			       "key '%s' is a section: expected a mapping, got %s", name,
			       describe(val));
	err = check_depth(w, val, depth + 1);
	if (err)
		return err;
	prefix = xasprintf("%s.", name);
	err = walk_mapping(w, prefix, depth + 1);
	free(prefix);
	return err;
}

static bool seen_before(struct yaml_walk *w, const char *name)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (!strcmp(w->seen[i], name))
			return true;
	/* bounded: only names of the table and its sections get this far */
	w->seen = xreallocarray(w->seen, w->nseen + 1, sizeof(*w->seen));
	w->seen[w->nseen++] = xstrdup(name);
	return false;
}

/* One "key: value" pair of a mapping whose key event is @key. */
static int walk_entry(struct yaml_walk *w, const char *prefix, const yaml_event_t *key, int depth)
{
	const struct cfg_key *k;
	char q[QUOTE_MAX], desc[TEXT_MAX], *name;
	yaml_event_t val;
	int err;

	quote(q, scalar_text(key), key->data.scalar.length);
	if (!key->data.scalar.length || has_nul(key))
		return fail_at(w, &key->start_mark, -EINVAL, "invalid key name '%s'", q);
	if (strchr(scalar_text(key), '.'))
		return fail_at(w, &key->start_mark, -EINVAL,
			       "key '%s%s': write nested keys as mappings, not with dots", prefix,
			       q);
	name = xasprintf("%s%s", prefix, scalar_text(key));
	k = find_key(w->st->keys, name);
	if (!k && !is_section(w->st->keys, name)) {
		err = fail_at(w, &key->start_mark, -EINVAL, "unknown key '%s%s'", prefix, q);
		goto out;
	}
	if (seen_before(w, name)) {
		err = fail_at(w, &key->start_mark, -EINVAL, "duplicate key '%s'", name);
		goto out;
	}
	err = next_event(w, &val);
	if (err)
		goto out;
	if (k && k->type == CFG_TYPE_LIST)
		err = walk_list(w, k, &val, depth);
	else if (k && val.type == YAML_SCALAR_EVENT)
		err = stage_scalar(w, k, &val);
	else if (k)
		err = fail_at(w, &val.start_mark, -EINVAL, "key '%s': expected %s, got %s", name,
			      type_desc(k, desc, sizeof(desc)), describe(&val));
	else
		err = walk_section(w, name, &val, depth);
	yaml_event_delete(&val);
out:
	free(name);
	return err;
}

/* The pairs of a mapping whose start event was just read, up to its end. */
static int walk_mapping(struct yaml_walk *w, const char *prefix, int depth)
{
	yaml_event_t key;
	int err;

	for (;;) {
		err = next_event(w, &key);
		if (err)
			return err;
		if (key.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&key);
			return 0;
		}
		if (key.type == YAML_SCALAR_EVENT)
			err = walk_entry(w, prefix, &key, depth);
		else
			err = fail_at(w, &key.start_mark, -EINVAL, "expected a key name, got %s",
				      describe(&key));
		yaml_event_delete(&key);
		if (err)
			return err;
	}
}

/* The stream: at most one document, whose top level is a mapping or null. */
static int walk_stream(struct yaml_walk *w)
{
	yaml_event_t ev;
	int err, docs = 0;

	for (;;) {
		err = next_event(w, &ev);
		if (err)
			return err;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return 0;
		case YAML_DOCUMENT_START_EVENT:
			if (docs++)
				err = fail_at(w, &ev.start_mark, -EINVAL,
					      "a config file holds one YAML document");
			break;
		case YAML_MAPPING_START_EVENT:
			err = walk_mapping(w, "", 1);
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_ALIAS_EVENT:
			if (!is_null(&ev))
				err = fail_at(w, &ev.start_mark, -EINVAL,
					      "the top level must be a mapping of keys, got %s",
					      describe(&ev));
			break;
		default: /* stream start, document end */
			break;
		}
		yaml_event_delete(&ev);
		if (err)
			return err;
	}
}

static int parse_yaml(struct stage *st, const char *yaml, size_t len, const char *source, char *err,
		      size_t errlen)
{
	struct yaml_walk w = {
		.st = st,
		.source = source,
		.input = (const unsigned char *)(len ? yaml : ""),
		.len = len,
		.err = err,
		.errlen = errlen,
	};
	int ret;

	if (!yaml_parser_initialize(&w.parser))
		return set_err(err, errlen, -ENOMEM, "%s: out of memory", source);
	yaml_parser_set_input_string(&w.parser, w.input, len);
	/* no guessing from a BOM: a UTF-16 file is not UTF-8, and is refused */
	yaml_parser_set_encoding(&w.parser, YAML_UTF8_ENCODING);
	ret = walk_stream(&w);
	yaml_parser_delete(&w.parser);
	for (size_t i = 0; i < w.nseen; i++)
		free(w.seen[i]);
	free(w.seen);
	return ret;
}

/* ---- API: loading ---------------------------------------------------------- */

void cfg_defaults(const struct cfg_key *keys, void *conf)
{
	for (const struct cfg_key *k = keys; k->name; k++) {
		union cfg_value v = { 0 };

		switch (k->type) {
		case CFG_TYPE_STR:
			v.str = k->def_str ? xstrdup(k->def_str) : NULL;
			break;
		case CFG_TYPE_BOOL:
			v.b = k->def_bool;
			break;
		case CFG_TYPE_INT:
			assert(k->min_i64 <= k->def_i64 && k->def_i64 <= k->max_i64);
			v.i64 = k->def_i64;
			break;
		case CFG_TYPE_UINT:
		case CFG_TYPE_MS:
		case CFG_TYPE_SEC:
		case CFG_TYPE_SIZE:
			assert(k->min_u64 <= k->def_u64 && k->def_u64 <= k->max_u64);
			v.u64 = k->def_u64;
			break;
		case CFG_TYPE_DOUBLE:
			assert(k->min_double <= k->def_double && k->def_double <= k->max_double);
			v.d = k->def_double;
			break;
		case CFG_TYPE_ENUM:
			assert(k->def_i64 >= 0 && k->def_i64 < INT_MAX && k->choices[k->def_i64]);
			v.e = (int)k->def_i64;
			break;
		case CFG_TYPE_LIST:
			for (const char *const *d = k->def_list; d && *d; d++)
				list_push(&v.list, xstrdup(*d));
			break;
		}
		field_store(k, conf, &v);
	}
}

int cfg_load_string(const struct cfg_key *keys, void *conf, const char *yaml, size_t len,
		    const char *source_name, char *err, size_t errlen)
{
	const char *source = source_name ? source_name : "<string>";
	struct stage st;
	int ret;

	if (len > CFG_MAX_BYTES)
		return set_err(err, errlen, -EFBIG, "%s: larger than the %u bytes allowed", source,
			       CFG_MAX_BYTES);
	stage_init(&st, keys);
	ret = parse_yaml(&st, yaml, len, source, err, errlen);
	if (!ret)
		stage_apply(&st, conf);
	stage_release(&st);
	return ret;
}

/* Reads all of @fd into @b: 0, -E2BIG past the cap of @b, or -errno. */
static int read_all(int fd, struct buf *b)
{
	char chunk[16384];
	ssize_t n;
	int err;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		err = buf_append(b, chunk, (size_t)n);
		if (err)
			return err;
	}
}

int cfg_load_file(const struct cfg_key *keys, void *conf, const char *path, char *err,
		  size_t errlen)
{
	struct buf b;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_err(err, errlen, -errno, "cannot open config '%s': %s", path,
			       strerror(errno));
	buf_init(&b, CFG_MAX_BYTES);
	ret = read_all(fd, &b);
	close(fd);
	if (ret == -E2BIG)
		ret = set_err(err, errlen, -EFBIG,
			      "config '%s' is larger than the %u bytes allowed", path,
			      CFG_MAX_BYTES);
	else if (ret)
		ret = set_err(err, errlen, ret, "cannot read config '%s': %s", path,
			      strerror(-ret));
	else
		ret = cfg_load_string(keys, conf, (const char *)buf_str(&b), b.len, path, err,
				      errlen);
	buf_release(&b);
	return ret;
}

int cfg_set(const struct cfg_key *keys, void *conf, const char *name, const char *value, char *err,
	    size_t errlen)
{
	const struct cfg_key *k = find_key(keys, name);
	char msg[TEXT_MAX + 128], q[QUOTE_MAX];
	union cfg_value v;
	int ret;

	if (!k)
		return set_err(err, errlen, -ENOENT, "unknown key '%s'",
			       quote(q, name, strlen(name)));
	ret = convert(k, value, false, &v, msg, sizeof(msg));
	if (ret)
		return set_err(err, errlen, ret, "key '%s': %s", k->name, msg);
	if (k->type == CFG_TYPE_LIST) {
		list_push(field(k, conf), v.str);
	} else {
		field_release(k, conf);
		field_store(k, conf, &v);
	}
	return 0;
}

/* ---- API: flags ------------------------------------------------------------ */

static bool flag_is(const char *flag, size_t n, const char *want)
{
	return strlen(want) == n && !strncmp(flag, want, n);
}

/* Stages the flag argv[*@i], moving @i past the next argument when that is its value. */
static int stage_flag(struct stage *st, int argc, char **argv, int *i, const char **config_path,
		      char *err, size_t errlen)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '='), *value;
	size_t n = eq ? (size_t)(eq - name) : strlen(name);
	const struct cfg_key *k = find_flag(st->keys, name, n);
	char msg[TEXT_MAX + 128], q[QUOTE_MAX];
	union cfg_value v;
	int ret;

	quote(q, name, n);
	if (!k && n > 3 && !strncmp(name, "no-", 3)) {
		k = find_flag(st->keys, name + 3, n - 3);
		if (!k || k->type != CFG_TYPE_BOOL)
			return set_err(err, errlen, -EINVAL, "unknown option '--%s'", q);
		if (eq)
			return set_err(err, errlen, -EINVAL, "option '--%s' takes no value", q);
		v.b = false;
		stage_set(st, k, &v);
		return 0;
	}
	if (!k && !(config_path && flag_is(name, n, "config")))
		return set_err(err, errlen, -EINVAL, "unknown option '--%s'", q);
	if (k && k->type == CFG_TYPE_BOOL && !eq) {
		v.b = true;
		stage_set(st, k, &v);
		return 0;
	}
	value = eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
	if (!value)
		return set_err(err, errlen, -EINVAL, "option '--%s' needs a value", q);
	if (!k) {
		/* --config: cfg_load() reads the file once every flag is known valid */
		*config_path = value;
		return 0;
	}
	ret = convert(k, value, false, &v, msg, sizeof(msg));
	if (ret)
		return set_err(err, errlen, ret, "option '--%s': %s", q, msg);
	if (k->type == CFG_TYPE_LIST)
		stage_push(st, k, v.str); /* the first use starts a new list: it replaces */
	else
		stage_set(st, k, &v);
	return 0;
}

/* Stages every flag; with @config_path, takes --config FILE too. */
static int stage_args(struct stage *st, int argc, char **argv, int *next_arg,
		      const char **config_path, char *err, size_t errlen)
{
	int i, ret = 0;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "--")) {
			i++;
			break;
		}
		if (arg[0] != '-' || !arg[1])
			break;
		if (arg[1] != '-') {
			char q[QUOTE_MAX];

			return set_err(err, errlen, -EINVAL, "unknown option '%s'",
				       quote(q, arg, strlen(arg)));
		}
		ret = stage_flag(st, argc, argv, &i, config_path, err, errlen);
		if (ret)
			return ret;
	}
	if (next_arg)
		*next_arg = i;
	return 0;
}

int cfg_parse_args(const struct cfg_key *keys, void *conf, int argc, char **argv, int *next_arg,
		   char *err, size_t errlen)
{
	struct stage st;
	int ret;

	stage_init(&st, keys);
	ret = stage_args(&st, argc, argv, next_arg, NULL, err, errlen);
	if (!ret)
		stage_apply(&st, conf);
	stage_release(&st);
	return ret;
}

int cfg_load(const struct cfg_key *keys, void *conf, int argc, char **argv,
	     const char *default_path, int *next_arg, char *err, size_t errlen)
{
	const char *path = NULL;
	struct stage st;
	int ret;

	cfg_defaults(keys, conf);
	stage_init(&st, keys);
	ret = stage_args(&st, argc, argv, next_arg, &path, err, errlen);
	if (ret)
		goto out;
	if (path) {
		ret = cfg_load_file(keys, conf, path, err, errlen);
	} else if (default_path) {
		ret = cfg_load_file(keys, conf, default_path, err, errlen);
		if (ret == -ENOENT)
			ret = set_err(err, errlen, 0, "%s", "");
	}
	if (ret)
		goto out;
	stage_apply(&st, conf);
out:
	stage_release(&st);
	return ret;
}

/* ---- API: help and docs ---------------------------------------------------- */

/* "(default: 1000 ms; range: 100..60000 ms)" and the like, for --help. */
static void notes_text(const struct cfg_key *k, char *out, size_t outlen)
{
	char def[TEXT_MAX], range[TEXT_MAX];
	bool is_enum = k->type == CFG_TYPE_ENUM;

	default_text(k, def, sizeof(def));
	range_text(k, range, sizeof(range));
	snprintf(out, outlen, "(%s%s%s%sdefault: %s%s%s)",
		 k->type == CFG_TYPE_LIST ? "repeatable; " : "", is_enum ? "one of: " : "",
		 is_enum ? range : "", is_enum ? "; " : "", *def ? def : "none",
		 *range && !is_enum ? "; range: " : "", is_enum ? "" : range);
}

void cfg_print_help(const struct cfg_key *keys, FILE *f)
{
	char flag[128], col[160], notes[4 * TEXT_MAX];
	size_t width = strlen("--config FILE");

	for (const struct cfg_key *k = keys; k->name; k++)
		if (strlen(k->name) + strlen(info(k)->metavar) + 8 > width)
			width = strlen(k->name) + strlen(info(k)->metavar) + 8;
	if (width > 40)
		width = 40;
	fprintf(f, "  %-*s  read the configuration from FILE\n", (int)width, "--config FILE");
	for (const struct cfg_key *k = keys; k->name; k++) {
		flag_name(k, flag, sizeof(flag));
		if (k->type == CFG_TYPE_BOOL)
			snprintf(col, sizeof(col), "--[no-]%s", flag);
		else
			snprintf(col, sizeof(col), "--%s %s", flag, info(k)->metavar);
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
	char flag[128], def[TEXT_MAX], range[TEXT_MAX], col[160];

	fputs("| Key | Flag | Type | Default | Allowed | Description |\n", f);
	fputs("| --- | --- | --- | --- | --- | --- |\n", f);
	for (const struct cfg_key *k = keys; k->name; k++) {
		flag_name(k, flag, sizeof(flag));
		snprintf(col, sizeof(col), "--%s%s", k->type == CFG_TYPE_BOOL ? "[no-]" : "", flag);
		default_text(k, def, sizeof(def));
		range_text(k, range, sizeof(range));
		fputc('|', f);
		md_cell(f, k->name, true);
		md_cell(f, col, true);
		md_cell(f, info(k)->name, false);
		md_cell(f, def, true);
		md_cell(f, range, false);
		md_cell(f, k->help, false);
		fputc('\n', f);
	}
}

/* ---- API: release ---------------------------------------------------------- */

void cfg_release(const struct cfg_key *keys, void *conf)
{
	for (const struct cfg_key *k = keys; k->name; k++)
		field_release(k, conf);
}
