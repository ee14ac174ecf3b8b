/*
 * The command table and the run of one command line (ctl_cmds.h). The
 * table says, for each command, its words, its usage, how many positional
 * arguments it takes and which flags besides the global ones; everything
 * that can be checked from it is checked here, before any command runs.
 */
#include "aggregator/cli/ctl_cmds.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/cli/ctl_actions.h"
#include "aggregator/cli/ctl_args.h"
#include "aggregator/cli/ctl_backup.h"
#include "aggregator/cli/ctl_http.h"
#include "aggregator/cli/ctl_info.h"
#include "aggregator/cli/ctl_keys.h"
#include "aggregator/cli/ctl_opts.h"
#include "aggregator/cli/ctl_policies.h"
#include "aggregator/cli/ctl_raw.h"
#include "aggregator/cli/ctl_services.h"
#include "common/compiler.h"

#define FLAGS_MAX 32 /* the union of every table below and the global flags */

struct cmd {
	const char *words; /* "keys create" */
	const char *args;  /* the usage after the words */
	const char *what;  /* one line for --help */
	size_t min_pos, max_pos;
	const struct ctl_flag *flags; /* besides the global ones; ends with a NULL name */
	ctl_cmd_fn *run;
};

static const struct ctl_flag no_flags[] = { { NULL, false } };
static const struct ctl_flag create_flags[] = {
	{ "--role", true },	  { "--description", true }, { "--tenant", true },
	{ "--per-minute", true }, { "--per-hour", true },    { NULL, false },
};
static const struct ctl_flag audit_flags[] = {
	{ "--limit", true }, { "--since", true }, { "--cursor", true }, { NULL, false }
};
static const struct ctl_flag backup_flags[] = { { "--force", false },
						{ "--server-path", true },
						{ NULL, false } };
static const struct ctl_flag since_flags[] = { { "--since", true }, { NULL, false } };
static const struct ctl_flag service_flags[] = { { "--service", true }, { NULL, false } };
static const struct ctl_flag anomaly_flags[] = {
	{ "--service", true }, { "--severity", true }, { "--status", true },
	{ "--since", true },   { "--limit", true },    { NULL, false },
};
static const struct ctl_flag action_flags[] = {
	{ "--service", true }, { "--action", true }, { "--policy", true }, { "--status", true },
	{ "--since", true },   { "--limit", true },  { NULL, false },
};
static const struct ctl_flag execute_flags[] = { { "--reason", true },
						 { "--param", true },
						 { NULL, false } };
static const struct ctl_flag body_flags[] = { { "--content-type", true }, { NULL, false } };

static const struct cmd cmds[] = {
	{ "status", "", "health, version, uptime and the policy engine's counters", 0, 0, no_flags,
	  ctl_services_status },
	{ "health", "", "status, version and uptime of the aggregator", 0, 0, no_flags,
	  ctl_info_health },
	{ "services list", "", "the services seen, with their hosts", 0, 0, no_flags,
	  ctl_services_list },
	{ "services health", "", "the health of every service", 0, 0, no_flags,
	  ctl_services_health },
	{ "services show", "NAME [--since S]", "one service's requests, errors and latency", 1, 1,
	  since_flags, ctl_services_show },
	{ "anomalies list",
	  "[--service S] [--severity SEV] [--status open|resolved] [--since S] [--limit N]",
	  "the anomalies, newest first", 0, 0, anomaly_flags, ctl_services_anomalies },
	{ "anomalies show", "ID", "one anomaly", 1, 1, no_flags, ctl_services_anomaly },
	{ "predictions", "[SERVICE]", "the predicted threshold breaches", 0, 1, no_flags,
	  ctl_services_predictions },
	{ "policies list", "", "the policies", 0, 0, no_flags, ctl_policies_list },
	{ "policies apply", "FILE",
	  "creates the policy in the YAML FILE, or updates the one of that name", 1, 1, no_flags,
	  ctl_policies_apply },
	{ "policies test", "ID|NAME [--service S]", "whether the policy would fire now", 1, 1,
	  service_flags, ctl_policies_test },
	{ "policies delete", "ID|NAME", "", 1, 1, no_flags, ctl_policies_delete },
	{ "actions list",
	  "[--service S] [--action A] [--policy P] [--status ST] [--since S] [--limit N]",
	  "the actions taken, newest first", 0, 0, action_flags, ctl_actions_list },
	{ "actions execute", "ACTION SERVICE [--reason TEXT] [--param KEY=VALUE ...]",
	  "runs an action now; prints its id", 2, 2, execute_flags, ctl_actions_execute },
	{ "actions watch", "ID [--timeout S]",
	  "prints each status change; exit 0 succeeded, 6 failed or timed out", 1, 1, no_flags,
	  ctl_actions_watch },
	{ "keys create",
	  "NAME --role viewer|operator|admin [--description TEXT] [--tenant T] "
	  "[--per-minute N] [--per-hour N]",
	  "a new API key; it is printed this once only", 1, 1, create_flags, ctl_keys_create },
	{ "keys list", "", "the API keys", 0, 0, no_flags, ctl_keys_list },
	{ "keys revoke", "ID", "revokes a key at once", 1, 1, no_flags, ctl_keys_revoke },
	{ "validate", "", "what the key in use may do, and its rate limit", 0, 0, no_flags,
	  ctl_keys_validate },
	{ "audit", "[--limit N] [--since S] [--cursor C]",
	  "who changed what: S is an instant or a time ago (15m, 2h, 7d)", 0, 0, audit_flags,
	  ctl_info_audit },
	{ "backup", "FILE [--force] | --server-path PATH",
	  "downloads a snapshot of the store to FILE, or has the aggregator write it to PATH", 0, 1,
	  backup_flags, ctl_backup_run },
	{ "restore", "PATH", "stages PATH as the store for the aggregator's next start", 1, 1,
	  no_flags, ctl_backup_restore },
	{ "get", "PATH", "any route; prints the answer", 1, 1, no_flags, ctl_raw_get },
	{ "post", "PATH [JSON|-] [--content-type TYPE]", "'-': the body from stdin", 1, 2,
	  body_flags, ctl_raw_post },
	{ "put", "PATH [JSON|-] [--content-type TYPE]", "", 1, 2, body_flags, ctl_raw_put },
	{ "delete", "PATH", "", 1, 1, no_flags, ctl_raw_delete },
};

void ctl_cmds_usage(FILE *f)
{
	fprintf(f, "usage: prpctl [OPTIONS] COMMAND [ARGS]\n"
		   "\n"
		   "The operator's client for the prp aggregator's HTTP API.\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < PRP_ARRAY_SIZE(cmds); i++) {
		fprintf(f, "  %s%s%s\n", cmds[i].words, *cmds[i].args ? " " : "", cmds[i].args);
		if (*cmds[i].what)
			fprintf(f, "      %s\n", cmds[i].what);
	}
	fprintf(f,
		"\n"
		"Options (anywhere on the line):\n"
		"  --url URL         the aggregator; default $PRP_URL, else %s\n"
		"  --key KEY         the API key, sent as X-API-Key; default $PRP_API_KEY\n"
		"  --key-file FILE   read the key from FILE; with neither, %s\n"
		"                    when it is readable\n"
		"  --cacert FILE     trust this CA or certificate for https\n"
		"  --insecure        no TLS verification at all\n"
		"  --output json|table, -o   the answer's JSON as it came, or a table (the\n"
		"                    default); --json is --output json\n"
		"  --timeout SECS    give up after this long (a download: after this long\n"
		"                    without progress); default %d, 0 for never\n"
		"  --help, --version\n"
		"\n"
		"Config file: $PRP_CONFIG, else ~/.config/prp/prpctl.yaml, else %s,\n"
		"with the keys url, key_file and cacert. Flags win over the environment\n"
		"($PRP_URL, $PRP_API_KEY), which wins over the file, which wins over the\n"
		"defaults.\n"
		"\n"
		"Exit status: 0 done; 1 the aggregator answered an error (one line on\n"
		"stderr: 'prpctl: STATUS CODE: MESSAGE'); 2 usage error; 3 no answer\n"
		"(cannot connect, timed out, TLS); 4 unauthorized or forbidden (401, 403);\n"
		"5 not found (404); 6 actions watch: the action failed or timed out.\n",
		CTL_OPTS_URL_DEFAULT, CTL_OPTS_KEY_FILE, CTL_OPTS_TIMEOUT_MS_DEFAULT / 1000,
		CTL_OPTS_CONFIG);
}

/* Prints the usage line of every command whose words start with @prefix ("" for all). */
static void usage_lines(const char *prefix)
{
	size_t k = strlen(prefix), shown = 0;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(cmds); i++) {
		if (strncmp(cmds[i].words, prefix, k) ||
		    (k && cmds[i].words[k] != ' ' && cmds[i].words[k] != '\0'))
			continue;
		fprintf(stderr, "%s prpctl [OPTIONS] %s%s%s\n",
			shown++ ? "      " : "usage:", cmds[i].words, *cmds[i].args ? " " : "",
			cmds[i].args);
	}
	if (!shown)
		fprintf(stderr, "usage: prpctl [OPTIONS] COMMAND [ARGS]\n");
	if (!k || !shown)
		fprintf(stderr, "(prpctl --help lists the commands)\n");
}

/* Adds the flags of @add not yet in @all (of *@n): the union the split uses. */
static void add_flags(struct ctl_flag *all, size_t *n, const struct ctl_flag *add)
{
	for (; add->name; add++) {
		size_t i;

		for (i = 0; i < *n && strcmp(all[i].name, add->name); i++)
			;
		if (i < *n) {
			/* one name, one arity: the split cannot know which command's it is */
			assert(all[i].takes_value == add->takes_value);
			continue;
		}
		assert(*n < FLAGS_MAX - 1); /* FLAGS_MAX is a constant: raise it with the tables */
		all[(*n)++] = *add;
	}
	all[*n] = (struct ctl_flag){ NULL, false };
}

/* The command the first positional words name; *@nwords gets how many. NULL when none. */
static const struct cmd *find_cmd(const struct ctl_args *a, size_t *nwords)
{
	for (size_t i = 0; i < PRP_ARRAY_SIZE(cmds); i++) {
		const char *w = cmds[i].words, *sp = strchr(w, ' ');

		if (a->npos >= 1 && !sp && !strcmp(a->pos[0], w)) {
			*nwords = 1;
			return &cmds[i];
		}
		if (a->npos >= 2 && sp && !strncmp(a->pos[0], w, (size_t)(sp - w)) &&
		    a->pos[0][sp - w] == '\0' && !strcmp(a->pos[1], sp + 1)) {
			*nwords = 2;
			return &cmds[i];
		}
	}
	return NULL;
}

static bool has_flag(const struct ctl_flag *flags, const char *name)
{
	for (; flags->name; flags++)
		if (!strcmp(flags->name, name))
			return true;
	return false;
}

/* Checks @a against @c: its flags and how many arguments. */
static bool fits(const struct cmd *c, const struct ctl_args *a)
{
	for (size_t i = 0; i < a->nflags; i++) {
		if (!has_flag(ctl_opts_flags, a->names[i]) && !has_flag(c->flags, a->names[i])) {
			fprintf(stderr, "prpctl: %s takes no option '%s'\n", c->words, a->names[i]);
			return false;
		}
	}
	if (a->npos < c->min_pos || a->npos > c->max_pos) {
		fprintf(stderr, "prpctl: %s takes %s arguments\n", c->words,
			a->npos < c->min_pos ? "more" : "fewer");
		return false;
	}
	return true;
}

/* Splits @argv and finds the command; CTL_OK, or the status to exit with. */
static enum ctl_status parse(int argc, char **argv, struct ctl_args *a, const struct cmd **cmd)
{
	struct ctl_flag all[FLAGS_MAX];
	char err[256];
	size_t n = 0, nwords;

	add_flags(all, &n, ctl_opts_flags);
	for (size_t i = 0; i < PRP_ARRAY_SIZE(cmds); i++)
		add_flags(all, &n, cmds[i].flags);
	if (ctl_args_parse(a, argc, argv, all, err, sizeof(err))) {
		fprintf(stderr, "prpctl: %s\n", err);
		usage_lines(a->npos ? a->pos[0] : "");
		return CTL_USAGE;
	}
	if (ctl_args_get(a, "--help") || ctl_args_get(a, "-h")) {
		ctl_cmds_usage(stdout);
		return CTL_OK;
	}
	if (ctl_args_get(a, "--version")) {
		printf("prpctl %s\n", PRP_VERSION);
		return CTL_OK;
	}
	*cmd = find_cmd(a, &nwords);
	if (!*cmd) {
		if (a->npos)
			fprintf(stderr, "prpctl: unknown command '%s%s%s'\n", a->pos[0],
				a->npos > 1 ? " " : "", a->npos > 1 ? a->pos[1] : "");
		else
			fprintf(stderr, "prpctl: no command given\n");
		usage_lines(a->npos ? a->pos[0] : "");
		return CTL_USAGE;
	}
	ctl_args_shift(a, nwords);
	if (!fits(*cmd, a)) {
		usage_lines((*cmd)->words);
		return CTL_USAGE;
	}
	return CTL_OK;
}

enum ctl_status ctl_cmds_run(int argc, char **argv)
{
	const struct cmd *cmd = NULL;
	struct ctl_args a;
	struct ctl_opts o;
	enum ctl_status st;
	char err[512];
	int ret;

	st = parse(argc, argv, &a, &cmd);
	if (st != CTL_OK || !cmd)
		return st;
	ret = ctl_opts_load(&o, &a, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "prpctl: %s\n", err);
		if (ret == -EINVAL)
			usage_lines(cmd->words);
		st = ret == -EINVAL ? CTL_USAGE : CTL_FAILED;
		goto out_release;
	}
	if (ctl_http_global_init()) {
		fprintf(stderr, "prpctl: libcurl could not be initialised\n");
		st = CTL_FAILED;
		goto out_release;
	}
	st = cmd->run(&o, &a);
	if (st == CTL_USAGE)
		usage_lines(cmd->words);
	ctl_http_global_cleanup();
out_release:
	ctl_opts_release(&o);
	return st;
}
