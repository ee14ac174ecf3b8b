/*
 * Command-line flags: --key value, --key=value, --[no-]flag, each staged
 * like a YAML value so that a bad flag leaves the struct untouched. Also the
 * one mapping from key names to flag names, which --help and the docs use.
 */
#include "common/config_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "common/config.h"

/* ---- Flag names ---------------------------------------------------------- */

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

/* The flag of a key is its name with '.' and '_' as '-': "http.listen" is --http-listen. */
void config_args_flag_name(const struct cfg_key *k, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; k->name[i] && i + 1 < outlen; i++)
		out[i] = flag_char(k->name[i]);
	out[i] = '\0';
}

/* ---- Parsing ------------------------------------------------------------- */

static bool flag_is(const char *flag, size_t n, const char *want)
{
	return strlen(want) == n && !strncmp(flag, want, n);
}

/* Stages the flag argv[*@i], moving @i past the next argument when that is its value. */
static int stage_flag(struct config_stage *st, int argc, char **argv, int *i,
		      const char **config_path, char *err, size_t errlen)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '='), *value;
	size_t n = eq ? (size_t)(eq - name) : strlen(name);
	const struct cfg_key *k = find_flag(st->keys, name, n);
	char msg[CONFIG_TEXT_MAX + 128], q[CONFIG_QUOTE_MAX];
	union cfg_value v;
	int ret;

	config_quote(q, name, n);
	if (!k && n > 3 && !strncmp(name, "no-", 3)) {
		k = find_flag(st->keys, name + 3, n - 3);
		if (!k || k->type != CFG_TYPE_BOOL)
			return config_set_err(err, errlen, -EINVAL, "unknown option '--%s'", q);
		if (eq)
			return config_set_err(err, errlen, -EINVAL, "option '--%s' takes no value",
					      q);
		v.b = false;
		config_stage_set(st, k, &v);
		return 0;
	}
	if (!k && !(config_path && flag_is(name, n, "config")))
		return config_set_err(err, errlen, -EINVAL, "unknown option '--%s'", q);
	if (k && k->type == CFG_TYPE_BOOL && !eq) {
		v.b = true;
		config_stage_set(st, k, &v);
		return 0;
	}
	value = eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
	if (!value)
		return config_set_err(err, errlen, -EINVAL, "option '--%s' needs a value", q);
	if (!k) {
		/* --config: cfg_load() reads the file once every flag is known valid */
		*config_path = value;
		return 0;
	}
	ret = config_convert(k, value, false, &v, msg, sizeof(msg));
	if (ret)
		return config_set_err(err, errlen, ret, "option '--%s': %s", q, msg);
	if (k->type == CFG_TYPE_LIST)
		config_stage_push(st, k, v.str); /* the first use starts a new list: it replaces */
	else
		config_stage_set(st, k, &v);
	return 0;
}

/* Stages every flag; with @config_path, takes --config FILE too. */
int config_args_stage(struct config_stage *st, int argc, char **argv, int *next_arg,
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
			char q[CONFIG_QUOTE_MAX];

			return config_set_err(err, errlen, -EINVAL, "unknown option '%s'",
					      config_quote(q, arg, strlen(arg)));
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
	struct config_stage st;
	int ret;

	config_stage_init(&st, keys);
	ret = config_args_stage(&st, argc, argv, next_arg, NULL, err, errlen);
	if (!ret)
		config_stage_apply(&st, conf);
	config_stage_release(&st);
	return ret;
}
