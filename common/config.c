/*
 * Table-driven configuration: the key table, text to values, staging, and
 * the loaders built on them. The YAML walk is config_yaml.c, flags are
 * config_args.c, --help and docs are config_doc.c; config_internal.h is what
 * they share.
 *
 * Invariants:
 *  - Text becomes a value in one place, config_convert(), for YAML scalars,
 *    flags and cfg_set() alike, through common/strparse.c.
 *  - Loaders never write the caller's struct while parsing. They fill a
 *    struct config_stage, one pending value per key, and config_stage_apply()
 *    moves it in only when the whole input is valid; config_stage_release()
 *    frees what was not moved. That makes every load all or nothing, and
 *    nothing leaks.
 */
#include "common/config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/config_internal.h"
#include "common/strparse.h"
#include "common/timeutil.h"

/* ---- Small helpers ------------------------------------------------------ */

PRP_PRINTF(4, 5) int config_set_err(char *err, size_t errlen, int code, const char *fmt, ...)
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
const char *config_quote(char out[CONFIG_QUOTE_MAX], const char *s, size_t len)
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

const struct cfg_key *config_find_key(const struct cfg_key *keys, const char *name)
{
	for (; keys->name; keys++)
		if (!strcmp(keys->name, name))
			return keys;
	return NULL;
}

/* True when some key lives under @name: "http" for "http.listen". */
bool config_is_section(const struct cfg_key *keys, const char *name)
{
	size_t n = strlen(name);

	for (; keys->name; keys++)
		if (!strncmp(keys->name, name, n) && keys->name[n] == '.')
			return true;
	return false;
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

/* Indexed by enum cfg_type. */
static const struct config_type_info type_info[] = {
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

const struct config_type_info *config_type_info(const struct cfg_key *k)
{
	return &type_info[k->type];
}

/*
 * Moves @v into the field of @k in @conf, whose old value must be released:
 * the live member of the union is at its start, and has the field's type.
 */
static void field_store(const struct cfg_key *k, void *conf, const union cfg_value *v)
{
	memcpy(field(k, conf), v, config_type_info(k)->size);
}

/* What a value of @k looks like, for "expected ..." messages. */
const char *config_type_desc(const struct cfg_key *k, char *out, size_t outlen)
{
	if (k->type != CFG_TYPE_ENUM)
		return config_type_info(k)->desc;
	snprintf(out, outlen, "one of ");
	choices_text(k, out + strlen(out), outlen - strlen(out));
	return out;
}

/* The default as text; "" when there is none (a NULL string, an empty list). */

/* "min..max" with the unit, one side left open at the type's limit; "" when both are. */
void config_range_text(const struct cfg_key *k, char *out, size_t outlen)
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
		snprintf(out, outlen, "%s..%s%s", lo, hi, config_type_info(k)->unit);
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
int config_convert(const struct cfg_key *k, const char *text, bool is_null, union cfg_value *out,
		   char *msg, size_t msglen)
{
	char q[CONFIG_QUOTE_MAX], desc[CONFIG_TEXT_MAX], range[CONFIG_TEXT_MAX];
	int err = 0;

	switch (k->type) {
	case CFG_TYPE_STR:
		out->str = is_null ? NULL : xstrdup(text);
		return 0;
	case CFG_TYPE_LIST:
		if (is_null)
			return config_set_err(msg, msglen, -EINVAL, "a list item cannot be empty");
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
			return config_set_err(msg, msglen, -EINVAL,
					      "'%s' is not a whole number of %s",
					      config_quote(q, text, strlen(text)),
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
		config_range_text(k, range, sizeof(range));
		return config_set_err(msg, msglen, err, "'%s' is out of range (%s)",
				      config_quote(q, text, strlen(text)), range);
	}
	if (err)
		return config_set_err(msg, msglen, -EINVAL, "expected %s, got '%s'",
				      config_type_desc(k, desc, sizeof(desc)),
				      config_quote(q, text, strlen(text)));
	return 0;
}

/* ---- Staging -------------------------------------------------------------- */

void config_stage_init(struct config_stage *st, const struct cfg_key *keys)
{
	st->keys = keys;
	st->vals = xcalloc(key_count(keys) + 1, sizeof(*st->vals));
}

void config_stage_release(struct config_stage *st)
{
	for (size_t i = 0; st->keys[i].name; i++)
		if (st->vals[i].set)
			value_free(&st->keys[i], &st->vals[i].v);
	free(st->vals);
	st->vals = NULL;
}

static struct config_staged *staged_of(struct config_stage *st, const struct cfg_key *k)
{
	return &st->vals[k - st->keys];
}

/* Stages @v (taking what it owns) for the scalar key @k, replacing any staged value. */
void config_stage_set(struct config_stage *st, const struct cfg_key *k, union cfg_value *v)
{
	struct config_staged *s = staged_of(st, k);

	if (s->set)
		value_free(k, &s->v);
	s->v = *v;
	s->set = true;
}

/* Stages an empty list for @k: what the next config_stage_push() calls fill. */
void config_stage_list_reset(struct config_stage *st, const struct cfg_key *k)
{
	struct config_staged *s = staged_of(st, k);

	if (s->set)
		value_free(k, &s->v);
	memset(&s->v, 0, sizeof(s->v));
	s->set = true;
}

/* Appends @item (taken) to the staged list of @k, starting one if none is. */
void config_stage_push(struct config_stage *st, const struct cfg_key *k, char *item)
{
	struct config_staged *s = staged_of(st, k);

	if (!s->set)
		config_stage_list_reset(st, k);
	list_push(&s->v.list, item);
}

void config_stage_apply(struct config_stage *st, void *conf)
{
	for (size_t i = 0; st->keys[i].name; i++) {
		if (!st->vals[i].set)
			continue;
		field_release(&st->keys[i], conf);
		field_store(&st->keys[i], conf, &st->vals[i].v);
		st->vals[i].set = false; /* moved */
	}
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
	struct config_stage st;
	int ret;

	if (len > CFG_MAX_BYTES)
		return config_set_err(err, errlen, -EFBIG, "%s: larger than the %u bytes allowed",
				      source, CFG_MAX_BYTES);
	config_stage_init(&st, keys);
	ret = config_yaml_parse(&st, yaml, len, source, err, errlen);
	if (!ret)
		config_stage_apply(&st, conf);
	config_stage_release(&st);
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
		return config_set_err(err, errlen, -errno, "cannot open config '%s': %s", path,
				      strerror(errno));
	buf_init(&b, CFG_MAX_BYTES);
	ret = read_all(fd, &b);
	close(fd);
	if (ret == -E2BIG)
		ret = config_set_err(err, errlen, -EFBIG,
				     "config '%s' is larger than the %u bytes allowed", path,
				     CFG_MAX_BYTES);
	else if (ret)
		ret = config_set_err(err, errlen, ret, "cannot read config '%s': %s", path,
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
	const struct cfg_key *k = config_find_key(keys, name);
	char msg[CONFIG_TEXT_MAX + 128], q[CONFIG_QUOTE_MAX];
	union cfg_value v;
	int ret;

	if (!k)
		return config_set_err(err, errlen, -ENOENT, "unknown key '%s'",
				      config_quote(q, name, strlen(name)));
	ret = config_convert(k, value, false, &v, msg, sizeof(msg));
	if (ret)
		return config_set_err(err, errlen, ret, "key '%s': %s", k->name, msg);
	if (k->type == CFG_TYPE_LIST) {
		list_push(field(k, conf), v.str);
	} else {
		field_release(k, conf);
		field_store(k, conf, &v);
	}
	return 0;
}

int cfg_load(const struct cfg_key *keys, void *conf, int argc, char **argv,
	     const char *default_path, int *next_arg, char *err, size_t errlen)
{
	const char *path = NULL;
	struct config_stage st;
	int ret;

	cfg_defaults(keys, conf);
	config_stage_init(&st, keys);
	ret = config_args_stage(&st, argc, argv, next_arg, &path, err, errlen);
	if (ret)
		goto out;
	if (path) {
		ret = cfg_load_file(keys, conf, path, err, errlen);
	} else if (default_path) {
		ret = cfg_load_file(keys, conf, default_path, err, errlen);
		if (ret == -ENOENT)
			ret = config_set_err(err, errlen, 0, "%s", "");
	}
	if (ret)
		goto out;
	config_stage_apply(&st, conf);
out:
	config_stage_release(&st);
	return ret;
}

/* ---- API: release ---------------------------------------------------------- */

void cfg_release(const struct cfg_key *keys, void *conf)
{
	for (const struct cfg_key *k = keys; k->name; k++)
		field_release(k, conf);
}
