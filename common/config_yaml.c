/*
 * The YAML half of cfg_load_string(): walks a document with libyaml and
 * stages the value of each key it names, or fails with the line and column
 * of the first problem.
 *
 * YAML is read as a stream of parser events, never through libyaml's
 * document loader, so that size and depth are checked before anything is
 * built, aliases are never expanded, and every unexpected node is an error
 * at once: no subtree is ever skipped. Only names of the table and its
 * sections are ever kept (to find duplicates), so memory is bounded by the
 * table, not by the input.
 */
#include "common/config_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/alloc.h"
#include "common/compiler.h"
#include "common/config.h"

struct yaml_walk {
	yaml_parser_t parser;
	struct config_stage *st;
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
	return config_set_err(w->err, w->errlen, code, "%s:%zu:%zu: %s", w->source, m->line + 1,
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
		return config_set_err(w->err, w->errlen, -ENOMEM, "%s: out of memory", w->source);
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
	char msg[CONFIG_TEXT_MAX + 128];
	union cfg_value v;
	int err;

	if (has_nul(ev))
		return fail_at(w, &ev->start_mark, -EINVAL, "key '%s': value holds a NUL byte",
			       k->name);
	err = config_convert(k, scalar_text(ev), is_null(ev), &v, msg, sizeof(msg));
	if (err)
		return fail_at(w, &ev->start_mark, err, "key '%s': %s", k->name, msg);
	if (k->type == CFG_TYPE_LIST)
		config_stage_push(w->st, k, v.str);
	else
		config_stage_set(w->st, k, &v);
	return 0;
}

/* The items of a YAML sequence, one scalar (a one-item list) or null (empty). */
static int walk_list(struct yaml_walk *w, const struct cfg_key *k, const yaml_event_t *val,
		     int depth)
{
	char desc[CONFIG_TEXT_MAX];
	yaml_event_t item;
	int err;

	config_stage_list_reset(w->st, k);
	if (val->type == YAML_SCALAR_EVENT)
		return is_null(val) ? 0 : stage_scalar(w, k, val);
	if (val->type != YAML_SEQUENCE_START_EVENT)
		return fail_at(w, &val->start_mark, -EINVAL, "key '%s': expected %s, got %s",
			       k->name, config_type_desc(k, desc, sizeof(desc)), describe(val));
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
	char q[CONFIG_QUOTE_MAX], desc[CONFIG_TEXT_MAX], *name;
	yaml_event_t val;
	int err;

	config_quote(q, scalar_text(key), key->data.scalar.length);
	if (!key->data.scalar.length || has_nul(key))
		return fail_at(w, &key->start_mark, -EINVAL, "invalid key name '%s'", q);
	if (strchr(scalar_text(key), '.'))
		return fail_at(w, &key->start_mark, -EINVAL,
			       "key '%s%s': write nested keys as mappings, not with dots", prefix,
			       q);
	name = xasprintf("%s%s", prefix, scalar_text(key));
	k = config_find_key(w->st->keys, name);
	if (!k && !config_is_section(w->st->keys, name)) {
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
			      config_type_desc(k, desc, sizeof(desc)), describe(&val));
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

int config_yaml_parse(struct config_stage *st, const char *yaml, size_t len, const char *source,
		      char *err, size_t errlen)
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
		return config_set_err(err, errlen, -ENOMEM, "%s: out of memory", source);
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
