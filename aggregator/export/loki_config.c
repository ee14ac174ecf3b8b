/*
 * The Loki exporter's settings (loki_config.h). The check is the one the
 * config file's keys get at load (aggregator_config.c) and loki_start()
 * again, so a bad label is refused before anything starts.
 */
#include "aggregator/export/loki_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/export/loki.h"
#include "aggregator/export/loki_format.h"
#include "common/alloc.h"

#define SECRET_MAX 4096 /* bytes of a password or token file */

void loki_config_default(struct loki_config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_retries = LOKI_MAX_RETRIES;
}

int loki_config_check(const struct loki_config *c, char *err, size_t errlen)
{
	struct loki_label labels[LOKI_LABELS_MAX];
	char why[200];
	size_t n;

	if (!c->url || !*c->url)
		return 0;
	if (strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8)) {
		snprintf(err, errlen, "key 'loki.url': '%.100s' is not an http:// or https:// URL",
			 c->url);
		return -EINVAL;
	}
	/* a header's value: a CR or LF in it would start another header */
	for (const char *p = c->tenant; p && *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen,
				 "key 'loki.tenant': control characters are not allowed");
			return -EINVAL;
		}
	}
	if (c->username && strpbrk(c->username, ":\r\n")) {
		snprintf(err, errlen, "key 'loki.username': no ':' or line breaks (basic auth)");
		return -EINVAL;
	}
	if (loki_format_labels_parse(c->labels, labels, LOKI_LABELS_MAX, &n, why, sizeof(why))) {
		snprintf(err, errlen, "key 'loki.labels': %s", why);
		return -EINVAL;
	}
	if (c->username && *c->username && (!c->password_file || !*c->password_file)) {
		snprintf(err, errlen, "key 'loki.username': needs loki.password_file");
		return -EINVAL;
	}
	if ((!c->username || !*c->username) && c->password_file && *c->password_file) {
		snprintf(err, errlen, "key 'loki.password_file': needs loki.username");
		return -EINVAL;
	}
	if (c->username && *c->username && c->bearer_token_file && *c->bearer_token_file) {
		snprintf(err, errlen,
			 "keys 'loki.username' and 'loki.bearer_token_file': one or the other");
		return -EINVAL;
	}
	return 0;
}

void loki_config_fill(struct loki_config *c)
{
	if (!c->batch)
		c->batch = LOKI_BATCH;
	if (!c->flush_interval_ms)
		c->flush_interval_ms = LOKI_FLUSH_INTERVAL_MS;
	if (!c->queue_max)
		c->queue_max = LOKI_QUEUE_MAX;
	if (!c->timeout_ms)
		c->timeout_ms = LOKI_TIMEOUT_MS;
	if (!c->backoff_ms)
		c->backoff_ms = LOKI_BACKOFF_MS;
	if (!c->backoff_max_ms)
		c->backoff_max_ms = LOKI_BACKOFF_MAX_MS;
	if (c->backoff_max_ms < c->backoff_ms)
		c->backoff_max_ms = c->backoff_ms;
	if (!c->stop_flush_ms)
		c->stop_flush_ms = LOKI_STOP_FLUSH_MS;
}

int loki_config_read_secret(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	char *s;
	size_t n;
	int err = 0;

	*out = NULL;
	if (!f)
		return -errno;
	s = xcalloc(1, SECRET_MAX + 1);
	n = fread(s, 1, SECRET_MAX, f);
	if (ferror(f))
		err = -EIO;
	fclose(f);
	s[n] = '\0';
	s[strcspn(s, "\r\n")] = '\0';
	for (n = strlen(s); n && (s[n - 1] == ' ' || s[n - 1] == '\t'); n--)
		s[n - 1] = '\0';
	if (!err && !*s)
		err = -ENOKEY;
	if (err) {
		explicit_bzero(s, SECRET_MAX);
		free(s);
		return err;
	}
	*out = s;
	return 0;
}
