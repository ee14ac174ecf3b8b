/*
 * Policy documents: YAML (JSON being YAML) into struct policy_doc.
 *
 * The text is first read as a stream of libyaml events, which refuses
 * aliases, a second document and nesting past POLICY_DOC_DEPTH_MAX before
 * anything is built; only then is it loaded as a document (whose nodes keep
 * their marks) and read against the schema. The size bound comes first of
 * all, so memory is bounded by POLICY_DOC_MAX_BYTES.
 */
#include "aggregator/policy/policy_doc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "aggregator/policy/policy_yaml.h"
#include "common/alloc.h"

/* policies > list > policy > actions > list > action > parameters > value: 8 */
#define POLICY_DOC_DEPTH_MAX 16
#define POLICY_TEXT_MAX	     1024 /* description */
#define POLICY_COOLDOWN_MAX_MS (7 * 86400 * 1000ll)

static int fail_parser(const yaml_parser_t *p, struct policy_error *err)
{
	const yaml_mark_t *m = p->error == YAML_READER_ERROR ? &p->mark : &p->problem_mark;

	return policy_yaml_fail_at(err, (int)m->line + 1, (int)m->column + 1, "",
				   "invalid YAML: %s", p->problem ? p->problem : "cannot parse");
}

/* The event pass: aliases, documents and depth, before any node is built. */
static int prescan(const char *text, size_t len, struct policy_error *err)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, docs = 0, ret = 0;
	bool done = false;

	if (!yaml_parser_initialize(&p))
		return policy_yaml_fail_at(err, 0, 0, "", "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	while (!ret && !done) {
		if (!yaml_parser_parse(&p, &ev)) {
			ret = fail_parser(&p, err);
			break;
		}
		int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;

		if (ev.type == YAML_ALIAS_EVENT)
			ret = policy_yaml_fail_at(err, line, col, "", "aliases are not supported");
		else if (ev.type == YAML_DOCUMENT_START_EVENT && docs++)
			ret = policy_yaml_fail_at(err, line, col, "", "expected one YAML document");
		else if ((ev.type == YAML_MAPPING_START_EVENT ||
			  ev.type == YAML_SEQUENCE_START_EVENT) &&
			 ++depth > POLICY_DOC_DEPTH_MAX)
			ret = policy_yaml_fail_at(err, line, col, "", "nested deeper than %d levels",
						  POLICY_DOC_DEPTH_MAX);
		else if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT)
			depth--;
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return ret;
}

/* Service names as agents report them: 1..63 printable bytes, no space; or "*". */
static bool service_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

static int add_service(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
		       struct policy *p)
{
	const char *s;
	int err = policy_yaml_text(y, n, field, 63, &s);

	if (!err && !service_ok(s))
		err = policy_yaml_fail(y, n, field,
				       "'%s' is not a service name (1..63 characters, no space) "
				       "or \"*\"",
				       s);
	if (!err && p->nservices >= POLICY_SERVICES_MAX)
		err = policy_yaml_fail(y, n, field, "more than %d services",
				       POLICY_SERVICES_MAX);
	if (err)
		return err;
	p->services = xreallocarray(p->services, p->nservices + 1, sizeof(*p->services));
	p->services[p->nservices++] = xstrdup(s);
	return 0;
}

/* "service: x", "services: [x, y]" (or a single "services: x"); both only if they agree. */
static int read_services(const struct policy_yaml *y, const yaml_node_t *one,
			 const yaml_node_t *list, const yaml_node_t *at, const char *prefix,
			 struct policy *p)
{
	char field[POLICY_FIELD_MAX];
	int err = 0;

	policy_yaml_field(field, prefix, list ? "services" : "service");
	if (!one && !list)
		return policy_yaml_fail(y, at, field,
					"missing: name a service, a list of them, or \"*\"");
	if (list && list->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = list->data.sequence.items.start;
		     !err && i < list->data.sequence.items.top; i++)
			err = add_service(y, policy_yaml_node(y, *i), field, p);
		if (!err && !p->nservices)
			err = policy_yaml_fail(y, list, field, "the list is empty");
	} else if (list) {
		err = add_service(y, list, field, p);
	}
	if (err || !one)
		return err;
	policy_yaml_field(field, prefix, "service");
	if (!list)
		return add_service(y, one, field, p);
	/* policy_to_json() writes both for one service: accept them when they agree */
	if (one->type != YAML_SCALAR_NODE || p->nservices != 1 ||
	    strcmp((const char *)one->data.scalar.value, p->services[0]))
		return policy_yaml_fail(y, one, field, "give service or services, not both");
	return 0;
}

/* Where column @col of the condition is in the document, when the scalar is written as is. */
static bool condition_mark(const yaml_node_t *n, int col, int *line, int *column)
{
	size_t raw = n->end_mark.index - n->start_mark.index, len = n->data.scalar.length;
	yaml_scalar_style_t st = n->data.scalar.style;
	size_t quotes = st == YAML_PLAIN_SCALAR_STYLE ? 0 : 2;

	if (st != YAML_PLAIN_SCALAR_STYLE && st != YAML_SINGLE_QUOTED_SCALAR_STYLE &&
	    st != YAML_DOUBLE_QUOTED_SCALAR_STYLE)
		return false;
	/* no escape, no folding, ASCII: the text is the source bytes one for one */
	if (n->start_mark.line != n->end_mark.line || raw != len + quotes)
		return false;
	for (size_t i = 0; i < len; i++)
		if (n->data.scalar.value[i] >= 0x80)
			return false;
	*line = (int)n->start_mark.line + 1;
	*column = (int)n->start_mark.column + 1 + (int)quotes / 2 + col - 1;
	return true;
}

static int read_condition(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
			  struct policy *p)
{
	struct condition_error ce = { 0 };
	const char *s;
	int err = policy_yaml_text(y, n, field, CONDITION_TEXT_MAX, &s), line, col;

	if (err)
		return err;
	err = condition_parse(s, &p->condition, &ce);
	if (!err) {
		p->condition_text = xstrdup(s);
		return 0;
	}
	if (condition_mark(n, ce.column, &line, &col))
		return policy_yaml_fail_at(y->err, line, col, field, "%s", ce.message);
	return policy_yaml_fail(y, n, field, "column %d of the condition: %s", ce.column,
				ce.message);
}

static int read_name(const struct policy_yaml *y, const yaml_node_t *n, const yaml_node_t *at,
		     const char *field, struct policy *p)
{
	const char *s;
	int err;

	if (!n)
		return policy_yaml_fail(y, at, field, "missing: every policy has a name");
	err = policy_yaml_text(y, n, field, POLICY_NAME_MAX - 1, &s);
	if (err)
		return err;
	if (!*s || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
			   strlen(s))
		return policy_yaml_fail(y, n, field,
					"'%s' is not a name: 1 to 63 of A-Z a-z 0-9 . _ -", s);
	memcpy(p->name, s, strlen(s) + 1);
	return 0;
}

static int read_actions(const struct policy_yaml *y, const yaml_node_t *one,
			const yaml_node_t *list, const yaml_node_t *at, const char *prefix,
			struct policy *p)
{
	char field[POLICY_FIELD_MAX], item[POLICY_FIELD_MAX + 16];
	int err = 0;

	if (one && list)
		return policy_yaml_fail(y, one, prefix, "give action or actions, not both");
	policy_yaml_field(field, prefix, list ? "actions" : "action");
	if (!one && !list)
		return policy_yaml_fail(y, at, field, "missing: a policy needs an action");
	if (one) {
		p->nactions = 1;
		return policy_action_parse(y, one, field, &p->actions[0]);
	}
	if (list->type != YAML_SEQUENCE_NODE)
		return policy_yaml_fail(y, list, field, "expected a list, got %s",
					policy_yaml_describe(list));
	for (yaml_node_item_t *i = list->data.sequence.items.start;
	     !err && i < list->data.sequence.items.top; i++) {
		if (p->nactions >= POLICY_ACTIONS_MAX)
			return policy_yaml_fail(y, policy_yaml_node(y, *i), field,
						"more than %d actions", POLICY_ACTIONS_MAX);
		snprintf(item, sizeof(item), "%s[%zu]", field, p->nactions);
		err = policy_action_parse(y, policy_yaml_node(y, *i), item,
					  &p->actions[p->nactions++]);
	}
	if (!err && !p->nactions)
		err = policy_yaml_fail(y, list, field, "the list is empty");
	return err;
}

enum policy_key { K_NAME, K_SERVICE, K_SERVICES, K_CONDITION, K_FOR, K_ACTION, K_ACTIONS,
		  K_COOLDOWN, K_ENABLED, K_DRY_RUN, K_DESCRIPTION, K_COUNT };
static const char *const policy_keys[K_COUNT] = {
	"name", "service", "services", "condition", "for", "action", "actions",
	"cooldown", "enabled", "dry_run", "description",
};

/* The optional scalars: for, cooldown, enabled, dry_run, description. */
static int read_options(const struct policy_yaml *y, const yaml_node_t **v, const char *prefix,
			struct policy *p)
{
	char f[POLICY_FIELD_MAX];
	const char *s;
	int err = 0;

	p->cooldown_ms = POLICY_DEFAULT_COOLDOWN_MS;
	p->enabled = true;
	if (v[K_FOR] && !policy_yaml_is_null(v[K_FOR])) {
		policy_yaml_field(f, prefix, "for");
		err = policy_yaml_duration_ms(y, v[K_FOR], f, 0, 86400 * 1000ll, &p->for_ms);
	}
	if (!err && v[K_COOLDOWN]) {
		policy_yaml_field(f, prefix, "cooldown");
		err = policy_yaml_duration_ms(y, v[K_COOLDOWN], f, 0, POLICY_COOLDOWN_MAX_MS,
					      &p->cooldown_ms);
	}
	if (!err && v[K_ENABLED]) {
		policy_yaml_field(f, prefix, "enabled");
		err = policy_yaml_bool(y, v[K_ENABLED], f, &p->enabled);
	}
	if (!err && v[K_DRY_RUN]) {
		policy_yaml_field(f, prefix, "dry_run");
		err = policy_yaml_bool(y, v[K_DRY_RUN], f, &p->dry_run);
	}
	if (!err && v[K_DESCRIPTION] && !policy_yaml_is_null(v[K_DESCRIPTION])) {
		policy_yaml_field(f, prefix, "description");
		err = policy_yaml_text(y, v[K_DESCRIPTION], f, POLICY_TEXT_MAX, &s);
		if (!err)
			p->description = xstrdup(s);
	}
	return err;
}

static int read_policy(const struct policy_yaml *y, const yaml_node_t *n, const char *prefix,
		       struct policy *p)
{
	const yaml_node_t *v[K_COUNT];
	char f[POLICY_FIELD_MAX];
	int err;

	p->line = (int)n->start_mark.line + 1;
	p->column = (int)n->start_mark.column + 1;
	err = policy_yaml_map(y, n, prefix, policy_keys, K_COUNT, v);
	if (err)
		return err;
	policy_yaml_field(f, prefix, "name");
	err = read_name(y, v[K_NAME], n, f, p);
	if (!err)
		err = read_services(y, v[K_SERVICE], v[K_SERVICES], n, prefix, p);
	policy_yaml_field(f, prefix, "condition");
	if (!err && !v[K_CONDITION])
		err = policy_yaml_fail(y, n, f, "missing: a policy needs a condition");
	if (!err)
		err = read_condition(y, v[K_CONDITION], f, p);
	if (!err)
		err = read_options(y, v, prefix, p);
	if (!err)
		err = read_actions(y, v[K_ACTION], v[K_ACTIONS], n, prefix, p);
	return err;
}

static void policy_release(struct policy *p)
{
	for (size_t i = 0; i < p->nservices; i++)
		free(p->services[i]);
	free(p->services);
	free(p->condition_text);
	condition_free(p->condition);
	free(p->description);
	for (size_t i = 0; i < POLICY_ACTIONS_MAX; i++)
		policy_action_release(&p->actions[i]);
}

void policy_doc_free(struct policy_doc *doc)
{
	if (!doc)
		return;
	for (size_t i = 0; i < doc->n; i++)
		policy_release(&doc->policies[i]);
	free(doc->policies);
	free(doc);
}

/* The next policy of @doc, zeroed; released with the doc even if reading it fails. */
static struct policy *push_policy(struct policy_doc *doc)
{
	doc->policies = xreallocarray(doc->policies, doc->n + 1, sizeof(*doc->policies));
	memset(&doc->policies[doc->n], 0, sizeof(doc->policies[0]));
	return &doc->policies[doc->n++];
}

static int check_unique(const struct policy_yaml *y, const struct policy_doc *doc,
			const yaml_node_t *n, const char *prefix)
{
	const struct policy *last = &doc->policies[doc->n - 1];
	char f[POLICY_FIELD_MAX];

	for (size_t i = 0; i + 1 < doc->n; i++) {
		if (strcmp(doc->policies[i].name, last->name))
			continue;
		policy_yaml_field(f, prefix, "name");
		return policy_yaml_fail(y, n, f, "duplicate name '%s' (first at line %d)",
					last->name, doc->policies[i].line);
	}
	return 0;
}

static int read_list(const struct policy_yaml *y, const yaml_node_t *list, struct policy_doc *doc)
{
	char prefix[32];
	int err = 0;

	if (list->type != YAML_SEQUENCE_NODE)
		return policy_yaml_fail(y, list, "policies", "expected a list, got %s",
					policy_yaml_describe(list));
	for (yaml_node_item_t *i = list->data.sequence.items.start;
	     !err && i < list->data.sequence.items.top; i++) {
		const yaml_node_t *n = policy_yaml_node(y, *i);

		if (doc->n >= POLICY_DOC_MAX_POLICIES)
			return policy_yaml_fail(y, n, "policies", "more than %d policies",
						POLICY_DOC_MAX_POLICIES);
		snprintf(prefix, sizeof(prefix), "policies[%zu]", doc->n);
		err = read_policy(y, n, prefix, push_policy(doc));
		if (!err)
			err = check_unique(y, doc, n, prefix);
	}
	return err;
}

/* The root: null (no policy), {policies: [...]}, a bare list, or one policy. */
static int read_root(const struct policy_yaml *y, struct policy_doc *doc)
{
	static const char *const top_keys[] = { "policies" };
	const yaml_node_t *root = policy_yaml_node(y, 1) /* the root is the first node */, *list;
	int err;

	if (!root || policy_yaml_is_null(root))
		return 0;
	if (root->type == YAML_SEQUENCE_NODE)
		return read_list(y, root, doc);
	if (root->type != YAML_MAPPING_NODE)
		return policy_yaml_fail(y, root, "", "expected a policy or policies: [...], got %s",
					policy_yaml_describe(root));
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *k = policy_yaml_node(y, p->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value,
							   "policies")) {
			err = policy_yaml_map(y, root, "", top_keys, 1, &list);
			return err ? err : policy_yaml_is_null(list) ? 0 : read_list(y, list, doc);
		}
	}
	return read_policy(y, root, "", push_policy(doc));
}

int policy_doc_parse(const char *text, size_t len, struct policy_doc **out,
		     struct policy_error *err)
{
	struct policy_yaml y = { .err = err };
	yaml_parser_t parser;
	struct policy_doc *doc;
	int ret;

	*out = NULL;
	if (len > POLICY_DOC_MAX_BYTES) {
		policy_yaml_fail_at(err, 0, 0, "", "document larger than %d KiB",
				    POLICY_DOC_MAX_BYTES / 1024);
		return -E2BIG;
	}
	ret = prescan(text, len, err);
	if (ret)
		return ret;
	if (!yaml_parser_initialize(&parser))
		return policy_yaml_fail_at(err, 0, 0, "", "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	if (!yaml_parser_load(&parser, &y.doc)) {
		ret = fail_parser(&parser, err);
		goto out_parser;
	}
	doc = xcalloc(1, sizeof(*doc));
	ret = read_root(&y, doc);
	if (ret)
		policy_doc_free(doc);
	else
		*out = doc;
	yaml_document_delete(&y.doc);
out_parser:
	yaml_parser_delete(&parser);
	return ret;
}

bool policy_applies_to(const struct policy *p, const char *service)
{
	for (size_t i = 0; i < p->nservices; i++)
		if (!strcmp(p->services[i], "*") || !strcmp(p->services[i], service))
			return true;
	return false;
}

/* Seconds as the API shows durations: 10, or 0.5 when not whole. */
static json_t *seconds_json(int64_t ms)
{
	if (ms % 1000 == 0)
		return json_integer(ms / 1000);
	return json_real((double)ms / 1000);
}

static json_t *actions_json(const struct policy *p)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < p->nactions; i++) {
		json_t *params = json_loads(p->actions[i].params_json, 0, NULL);

		json_array_append_new(arr, json_pack("{s:s, s:o}", "type",
						     policy_action_type_name(p->actions[i].type),
						     "parameters", params ? params : json_object()));
	}
	return arr;
}

json_t *policy_to_json(const struct policy *p)
{
	json_t *services = json_array(), *o;

	for (size_t i = 0; i < p->nservices; i++)
		json_array_append_new(services, json_string(p->services[i]));
	o = json_pack("{s:s, s:o, s:s, s:o, s:o, s:b, s:b, s:o}", "name", p->name, "services",
		      services, "condition", p->condition_text, "for", seconds_json(p->for_ms),
		      "cooldown", seconds_json(p->cooldown_ms), "enabled", p->enabled, "dry_run",
		      p->dry_run, "actions", actions_json(p));
	if (o && p->nservices == 1)
		json_object_set_new(o, "service", json_string(p->services[0]));
	if (o && p->description)
		json_object_set_new(o, "description", json_string(p->description));
	return o;
}
