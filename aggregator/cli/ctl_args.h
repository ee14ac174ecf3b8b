/*
 * prpctl's command line, split into flags and positional arguments against
 * one table of the flags prpctl knows. Flags may come anywhere, before or
 * after the command words: `prpctl --json keys list` and `prpctl keys list
 * --json` are the same. Which flags a command accepts is checked after the
 * split (ctl_cmds.c), by name. A flag's arity is fixed by the table, so a
 * value is never mistaken for a flag: `--description --json` is a
 * description.
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_ARGS_H
#define PRP_AGGREGATOR_CLI_CTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"

/* More arguments than any prpctl command takes, with room for repeats. */
#define CTL_ARGS_MAX 64

struct ctl_flag {
	const char *name; /* "--role", or "-h" */
	bool takes_value;
};

/* What the split found: every string is borrowed from argv. */
struct ctl_args {
	const char *pos[CTL_ARGS_MAX]; /* positional arguments, in order */
	size_t npos;
	const char *names[CTL_ARGS_MAX];  /* the flags given, in order, as the table names them */
	const char *values[CTL_ARGS_MAX]; /* each one's value; "" for a switch */
	size_t nflags;
};

/*
 * Splits argv[1] to argv[@argc - 1] by @flags (ending with a NULL name).
 * Accepts "--name value" and "--name=value"; "-" is positional, and so is
 * everything after "--". Returns 0, or -EINVAL with @err set for an
 * unknown flag, a missing value, a value given to a switch, or more than
 * CTL_ARGS_MAX of either kind.
 */
PRP_MUST_CHECK int ctl_args_parse(struct ctl_args *a, int argc, char **argv,
				  const struct ctl_flag *flags, char *err, size_t errlen);

/* The value of flag @name, the last one given; "" for a switch; NULL when not given. */
const char *ctl_args_get(const struct ctl_args *a, const char *name);

/* Drops the first @n positional arguments (the command words). */
void ctl_args_shift(struct ctl_args *a, size_t n);

#endif
