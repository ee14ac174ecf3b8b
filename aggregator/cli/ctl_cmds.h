/*
 * prpctl's commands: the table of them, the usage text, and the run of one
 * command line. Each command lives in its own file (ctl_keys.c,
 * ctl_backup.c, ...) as a ctl_cmd_fn.
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_CMDS_H
#define PRP_AGGREGATOR_CLI_CTL_CMDS_H

#include <stdio.h>

/* How a command ended: prpctl's exit status. */
enum ctl_status {
	CTL_OK = 0,
	CTL_FAILED = 1, /* the API answered an error, or no answer came; reported on stderr */
	CTL_USAGE = 2,	/* the command line is wrong; the caller prints the usage line */
};

struct ctl_opts;
struct ctl_args;

/*
 * Runs one command with the global options @o and the arguments after its
 * name in @a (positional arguments and the command's own flags). A usage
 * error is reported by the command in one line; the dispatcher then adds
 * the usage line.
 */
typedef enum ctl_status ctl_cmd_fn(const struct ctl_opts *o, const struct ctl_args *a);

/* Runs the command line @argv: parses it, loads the options, runs the command. */
enum ctl_status ctl_cmds_run(int argc, char **argv);

/* The whole usage text (--help). */
void ctl_cmds_usage(FILE *f);

#endif
