/*
 * Splitting prpctl's argv (ctl_args.h). Nothing is copied: argv outlives
 * every use.
 */
#include "aggregator/cli/ctl_args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The table entry for @arg ("--name" or "--name=value"); NULL when none. */
static const struct ctl_flag *lookup(const struct ctl_flag *flags, const char *arg, size_t len)
{
	for (const struct ctl_flag *f = flags; f->name; f++)
		if (strlen(f->name) == len && !strncmp(f->name, arg, len))
			return f;
	return NULL;
}

static int add_flag(struct ctl_args *a, const char *name, const char *value, char *err,
		    size_t errlen)
{
	if (a->nflags == CTL_ARGS_MAX) {
		snprintf(err, errlen, "too many options");
		return -EINVAL;
	}
	a->names[a->nflags] = name;
	a->values[a->nflags] = value;
	a->nflags++;
	return 0;
}

static int add_pos(struct ctl_args *a, const char *arg, char *err, size_t errlen)
{
	if (a->npos == CTL_ARGS_MAX) {
		snprintf(err, errlen, "too many arguments");
		return -EINVAL;
	}
	a->pos[a->npos++] = arg;
	return 0;
}

int ctl_args_parse(struct ctl_args *a, int argc, char **argv, const struct ctl_flag *flags,
		   char *err, size_t errlen)
{
	bool only_pos = false;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq, *value;
		const struct ctl_flag *f;

		if (only_pos || arg[0] != '-' || !strcmp(arg, "-")) {
			if (add_pos(a, arg, err, errlen))
				return -EINVAL;
			continue;
		}
		if (!strcmp(arg, "--")) {
			only_pos = true;
			continue;
		}
		eq = !strncmp(arg, "--", 2) ? strchr(arg, '=') : NULL;
		f = lookup(flags, arg, eq ? (size_t)(eq - arg) : strlen(arg));
		if (!f) {
			snprintf(err, errlen, "unknown option '%.*s'", eq ? (int)(eq - arg) : 64,
				 arg);
			return -EINVAL;
		}
		if (!f->takes_value && eq) {
			snprintf(err, errlen, "option '%s' takes no value", f->name);
			return -EINVAL;
		}
		if (f->takes_value && !eq && i + 1 == argc) {
			snprintf(err, errlen, "option '%s' needs a value", f->name);
			return -EINVAL;
		}
		value = !f->takes_value ? "" : eq ? eq + 1 : argv[++i];
		if (add_flag(a, f->name, value, err, errlen))
			return -EINVAL;
	}
	return 0;
}

const char *ctl_args_get(const struct ctl_args *a, const char *name)
{
	for (size_t i = a->nflags; i-- > 0;)
		if (!strcmp(a->names[i], name))
			return a->values[i];
	return NULL;
}

void ctl_args_shift(struct ctl_args *a, size_t n)
{
	if (n > a->npos)
		n = a->npos;
	memmove(a->pos, a->pos + n, (a->npos - n) * sizeof(a->pos[0]));
	a->npos -= n;
}
