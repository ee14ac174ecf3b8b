/*
 * Command-line parsing by hand rather than getopt_long(), whose global state
 * (optind) makes it awkward to test and whose messages we don't control.
 */
#include "demo/cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "common/strparse.h"

void cli_usage(FILE *f)
{
	fputs("usage: prp-demo-service --name orders|users|payments --port N [--bind ADDR]\n"
	      "                        [--call NAME=http://HOST:PORT]...\n"
	      "                        [--log-level debug|info|warn|error] [--help]\n"
	      "\n"
	      "A demo service for prp, with no instrumentation: prp sees it from the kernel.\n"
	      "  --name       the role: orders, users or payments\n"
	      "  --port       the TCP port; 0 takes an ephemeral one (see the log line)\n"
	      "  --bind       the address to listen on (default 127.0.0.1)\n"
	      "  --call       where another service is; orders needs users= and payments=\n"
	      "  --log-level  the least level logged (default info)\n"
	      "\n"
	      "Every role answers GET /health and GET, POST, DELETE /chaos.\n",
	      f);
}

const char *cli_call_url(const struct cli_options *o, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < o->ncalls; i++) {
		if (o->calls[i].name_len == n && !strncmp(o->calls[i].name, name, n))
			return o->calls[i].url;
	}
	return NULL;
}

/* "http://" then a host, and nothing that could end the URL early. */
static bool cli_url_valid(const char *url)
{
	const char *host = url + 7;

	if (strncmp(url, "http://", 7) || !*host || *host == '/' || *host == ':')
		return false;
	for (const char *p = url; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#')
			return false;
	}
	return true;
}

static int cli_add_call(struct cli_options *o, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : 0;
	char name[16];
	enum shop_role role;

	if (!eq || !n || n >= sizeof(name)) {
		snprintf(err, errlen, "--call wants NAME=http://HOST:PORT, got '%s'", arg);
		return -EINVAL;
	}
	memcpy(name, arg, n);
	name[n] = '\0';
	if (shop_role_parse(name, &role) || role == SHOP_ORDERS) {
		snprintf(err, errlen, "--call: unknown service '%s' (users or payments)", name);
		return -EINVAL;
	}
	if (cli_call_url(o, name)) {
		snprintf(err, errlen, "--call: '%s' given twice", name);
		return -EINVAL;
	}
	if (!cli_url_valid(eq + 1)) {
		snprintf(err, errlen, "--call: '%s' is not an http:// URL", eq + 1);
		return -EINVAL;
	}
	if (o->ncalls >= CLI_MAX_CALLS) {
		snprintf(err, errlen, "--call: too many services");
		return -EINVAL;
	}
	o->calls[o->ncalls++] = (struct cli_call){ .name = arg, .name_len = n, .url = eq + 1 };
	return 0;
}

/* Applies flag @flag with @value. */
static int cli_apply(struct cli_options *o, const char *flag, const char *value, bool *have_name,
		     bool *have_port, char *err, size_t errlen)
{
	unsigned char addr[sizeof(struct in6_addr)];
	uint64_t port;

	if (!strcmp(flag, "--name")) {
		if (shop_role_parse(value, &o->role)) {
			snprintf(err, errlen,
				 "--name: unknown role '%s' (orders, users or payments)", value);
			return -EINVAL;
		}
		*have_name = true;
	} else if (!strcmp(flag, "--port")) {
		if (strparse_u64(value, 0, 65535, &port)) {
			snprintf(err, errlen, "--port: '%s' is not a port from 0 to 65535", value);
			return -EINVAL;
		}
		o->port = (uint16_t)port;
		*have_port = true;
	} else if (!strcmp(flag, "--bind")) {
		if (inet_pton(AF_INET, value, addr) != 1 && inet_pton(AF_INET6, value, addr) != 1) {
			snprintf(err, errlen, "--bind: '%s' is not an IPv4 or IPv6 address", value);
			return -EINVAL;
		}
		o->bind = value;
	} else if (!strcmp(flag, "--call")) {
		return cli_add_call(o, value, err, errlen);
	} else if (!strcmp(flag, "--log-level")) {
		if (log_level_parse(value, &o->log_level)) {
			snprintf(err, errlen, "--log-level: unknown level '%s'", value);
			return -EINVAL;
		}
	} else {
		snprintf(err, errlen, "unknown flag '%s'", flag);
		return -EINVAL;
	}
	return 0;
}

/* After the flags: what must be there, and what orders needs. */
static int cli_check(const struct cli_options *o, bool have_name, bool have_port, char *err,
		     size_t errlen)
{
	if (!have_name) {
		snprintf(err, errlen, "--name is required");
		return -EINVAL;
	}
	if (!have_port) {
		snprintf(err, errlen, "--port is required");
		return -EINVAL;
	}
	if (o->role == SHOP_ORDERS && (!cli_call_url(o, "users") || !cli_call_url(o, "payments"))) {
		snprintf(err, errlen,
			 "orders needs --call users=http://HOST:PORT and "
			 "--call payments=http://HOST:PORT");
		return -EINVAL;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_options *o, char *err, size_t errlen)
{
	static const char *const valued[] = { "--name", "--port", "--bind", "--call",
					      "--log-level" };
	bool have_name = false, have_port = false;
	char flag[32];

	memset(o, 0, sizeof(*o));
	o->bind = "127.0.0.1";
	o->log_level = LOG_LEVEL_INFO;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq = strchr(arg, '='), *value;
		size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
		bool known = false;
		int ret;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			o->help = true;
			return 0;
		}
		if (n >= sizeof(flag) || strncmp(arg, "--", 2)) {
			snprintf(err, errlen, "unexpected argument '%s'", arg);
			return -EINVAL;
		}
		memcpy(flag, arg, n);
		flag[n] = '\0';
		for (size_t k = 0; k < PRP_ARRAY_SIZE(valued); k++)
			known |= !strcmp(flag, valued[k]);
		if (!known) {
			snprintf(err, errlen, "unknown flag '%s'", flag);
			return -EINVAL;
		}
		if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			snprintf(err, errlen, "%s needs a value", flag);
			return -EINVAL;
		}
		ret = cli_apply(o, flag, value, &have_name, &have_port, err, errlen);
		if (ret)
			return ret;
	}
	return cli_check(o, have_name, have_port, err, errlen);
}
