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
	CTL_FAILED = 1,	       /* the API answered an error (or nonsense); reported on stderr */
	CTL_USAGE = 2,	       /* the command line is wrong; the caller prints the usage line */
	CTL_UNREACHABLE = 3,   /* no answer came: refused, timed out, TLS failed */
	CTL_DENIED = 4,	       /* 401 or 403: no key, a bad key, or a role too low */
	CTL_NOT_FOUND = 5,     /* 404: no such service, anomaly, policy, action or route */
	CTL_ACTION_FAILED = 6, /* actions watch: the action failed or timed out */
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
