/*
 * prpctl: the operator's client for the aggregator's HTTP API (API.md;
 * docs/prpctl.md). The commands are in ctl_cmds.c and the files it names;
 * this is only the process around them.
 *
 *   prpctl [--url URL] [--key KEY] [--output json|table] ... COMMAND [ARGS]
 *
 * Exit status: enum ctl_status (ctl_cmds.h): 0 done, 1 the API answered an
 * error, 2 usage error, 3 no answer, 4 unauthorized or forbidden, 5 not
 * found, 6 the action watched failed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/cli/ctl_cmds.h"

int main(int argc, char **argv)
{
	enum ctl_status st = ctl_cmds_run(argc, argv);

	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "prpctl: cannot write the output: %s\n", strerror(errno));
		return CTL_FAILED;
	}
	return (int)st;
}
