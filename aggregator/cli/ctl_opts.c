/*
 * prpctl's global options (ctl_opts.h). The key is kept in one heap copy
 * (o->key), wiped when released; it is never printed.
 */
#include "aggregator/cli/ctl_opts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/config.h"
#include "common/strparse.h"
#include "common/timeutil.h"

const struct ctl_flag ctl_opts_flags[] = {
	{ "--url", true },    { "--key", true },       { "--key-file", true },
	{ "--cacert", true }, { "--insecure", false }, { "--json", false },
	{ "--output", true }, { "-o", true },	       { "--timeout", true },
	{ "--help", false },  { "-h", false },	       { "--version", false },
	{ NULL, false },
};

static const struct cfg_key config_keys[] = {
	CFG_STR("url", struct ctl_opts, cfg_url, NULL, "the aggregator's URL"),
	CFG_STR("key_file", struct ctl_opts, cfg_key_file, NULL, "a file holding the API key"),
	CFG_STR("cacert", struct ctl_opts, cfg_cacert, NULL, "the CA to trust for https"),
	CFG_END,
};

/* Loads the config file, when there is one, into o->cfg_*. */
static int load_config(struct ctl_opts *o, char *err, size_t errlen)
{
	const char *env = getenv("PRP_CONFIG"), *home = getenv("HOME");
	char user[4096] = "";
	const char *path = NULL;
	int ret;

	if (env && *env) {
		path = env;
	} else {
		if (home && *home)
			snprintf(user, sizeof(user), "%s/.config/prp/prpctl.yaml", home);
		if (*user && access(user, F_OK) == 0)
			path = user;
		else if (access(CTL_OPTS_CONFIG, F_OK) == 0)
			path = CTL_OPTS_CONFIG;
	}
	if (!path)
		return 0;
	ret = cfg_load_file(config_keys, o, path, err, errlen);
	return ret ? -EINVAL : 0;
}

/* A key can go in a header line: printable ASCII, no space. */
static bool key_ok(const char *key)
{
	if (!*key)
		return false;
	for (const char *p = key; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return false;
	return true;
}

/* Reads the key in @path, whitespace around it dropped, into o->key. */
static int read_key_file(struct ctl_opts *o, const char *path, char *err, size_t errlen)
{
	char buf[CTL_OPTS_KEY_MAX + 2], *start, *end;
	ssize_t n;
	size_t len = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot read the key file '%s': %s", path, strerror(errno));
		return ret;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "cannot read the key file '%s': %s", path,
				 strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	for (start = buf; isspace((unsigned char)*start); start++)
		;
	for (end = buf + len; end > start && isspace((unsigned char)end[-1]); end--)
		;
	*end = '\0';
	/* a NUL inside makes strlen() fall short of the trimmed length */
	if (len > CTL_OPTS_KEY_MAX || !key_ok(start) || strlen(start) != (size_t)(end - start)) {
		ret = -EBADMSG;
		snprintf(err, errlen, "the key file '%s' does not hold one key", path);
		goto out;
	}
	o->key = xstrdup(start);
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return ret;
}

static int load_key(struct ctl_opts *o, const struct ctl_args *a, char *err, size_t errlen)
{
	const char *key = ctl_args_get(a, "--key"), *file = ctl_args_get(a, "--key-file");

	if (!key && !file) {
		key = getenv("PRP_API_KEY");
		if (key && !*key)
			key = NULL;
		if (!key)
			file = o->cfg_key_file;
	}
	if (key) {
		if (!key_ok(key)) {
			snprintf(err, errlen,
				 "the key is empty or holds a space or a control character");
			return -EINVAL;
		}
		o->key = xstrdup(key);
		return 0;
	}
	if (!file && access(CTL_OPTS_KEY_FILE, R_OK) == 0)
		file = CTL_OPTS_KEY_FILE;
	return file ? read_key_file(o, file, err, errlen) : 0;
}

static int load_url(struct ctl_opts *o, const struct ctl_args *a, char *err, size_t errlen)
{
	const char *url = ctl_args_get(a, "--url");
	size_t len;

	if (!url)
		url = getenv("PRP_URL");
	if (!url || !*url)
		url = o->cfg_url;
	if (!url || !*url)
		url = CTL_OPTS_URL_DEFAULT;
	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
		snprintf(err, errlen, "the URL '%.200s' is not http:// or https://", url);
		return -EINVAL;
	}
	len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	o->url = xstrndup(url, len);
	return 0;
}

int ctl_opts_load(struct ctl_opts *o, const struct ctl_args *a, char *err, size_t errlen)
{
	const char *timeout = ctl_args_get(a, "--timeout"), *output;
	uint64_t ns = CTL_OPTS_TIMEOUT_MS_DEFAULT * NSEC_PER_MSEC;
	int ret;

	memset(o, 0, sizeof(*o));
	ret = load_config(o, err, errlen);
	if (ret)
		return ret;
	o->json = ctl_args_get(a, "--json") != NULL;
	output = ctl_args_get(a, "--output") ? ctl_args_get(a, "--output") : ctl_args_get(a, "-o");
	if (output && strcmp(output, "json") && strcmp(output, "table")) {
		snprintf(err, errlen, "--output '%.32s' is not json or table", output);
		return -EINVAL;
	}
	if (output)
		o->json = !strcmp(output, "json");
	if (timeout &&
	    (strparse_duration_ns(timeout, NSEC_PER_SEC, &ns) || ns > 24 * 3600 * NSEC_PER_SEC)) {
		snprintf(err, errlen, "--timeout '%.64s' is not a number of seconds up to a day",
			 timeout);
		return -EINVAL;
	}
	ret = load_url(o, a, err, errlen);
	if (ret)
		return ret;
	ret = load_key(o, a, err, errlen);
	if (ret)
		return ret;
	o->conn = (struct ctl_http_conn){
		.base_url = o->url,
		.key = o->key,
		.cacert = ctl_args_get(a, "--cacert") ? ctl_args_get(a, "--cacert") : o->cfg_cacert,
		.insecure = ctl_args_get(a, "--insecure") != NULL,
		/* a timeout below a millisecond would mean none to curl: round up */
		.timeout_ms = (ns + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC,
	};
	return 0;
}

void ctl_opts_release(struct ctl_opts *o)
{
	if (o->key) {
		explicit_bzero(o->key, strlen(o->key));
		free(o->key);
	}
	free(o->url);
	cfg_release(config_keys, o);
	memset(o, 0, sizeof(*o));
}
