/*
 * prpctl: the operator's client for the aggregator's HTTP API (API.md;
 * docs/prpctl.md). The commands are in ctl_cmds.c and the files it names;
 * this is only the process around them.
 *
 *   prpctl [--url URL] [--key KEY] [--json] ... COMMAND [ARGS]
 *
 * Exit status: 0 done, 1 the API answered an error or could not be reached,
 * 2 usage error.
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
