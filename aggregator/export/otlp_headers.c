/*
 * The extra headers (otlp_headers.h). A header file holds secrets: its
 * bytes are wiped once parsed, and messages name a bad line by its number
 * and, at most, its header's name.
 */
#include "aggregator/export/otlp_headers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/compiler.h"
#include "common/log.h"

/* Headers the exporter or curl sets: an extra one would contradict them. */
static const char *const reserved[] = {
	"Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding", "Host",
	"Connection",	"Expect"
};

/* RFC 9110's tchar. */
static bool token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

int otlp_headers_check(const char *line, char *why, size_t whylen)
{
	const char *colon = strchr(line, ':'), *v;
	size_t n = colon ? (size_t)(colon - line) : 0;

	if (!colon || !n) {
		snprintf(why, whylen, "not 'Name: value'");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!token_char((unsigned char)line[i])) {
			/* not quoted: a line without its colon may be a bare token */
			snprintf(why, whylen,
				 "the header name has a character not allowed, at byte %zu", i + 1);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < PRP_ARRAY_SIZE(reserved); i++) {
		if (strlen(reserved[i]) == n && !strncasecmp(line, reserved[i], n)) {
			snprintf(why, whylen, "the header %s is set by the exporter", reserved[i]);
			return -EINVAL;
		}
	}
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (!*v) {
		snprintf(why, whylen, "the header %.*s has no value", (int)(n < 64 ? n : 64), line);
		return -EINVAL;
	}
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		/* a CR or LF would start another header */
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(why, whylen,
				 "the value of the header %.*s has a control character",
				 (int)(n < 64 ? n : 64), line);
			return -EINVAL;
		}
	}
	return 0;
}

/* Reads all of @path, at most OTLP_HEADERS_FILE_MAX bytes, into *@out: caller wipes, frees. */
static int read_small_file(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	char *s;
	size_t n;
	int err = 0;

	*out = NULL;
	if (!f)
		return errno ? -errno : -EIO;
	s = xcalloc(1, OTLP_HEADERS_FILE_MAX + 2);
	n = fread(s, 1, OTLP_HEADERS_FILE_MAX + 1, f);
	if (ferror(f))
		err = -EIO;
	else if (n > OTLP_HEADERS_FILE_MAX)
		err = -EFBIG;
	fclose(f);
	if (err) {
		explicit_bzero(s, OTLP_HEADERS_FILE_MAX + 2);
		free(s);
		return err;
	}
	s[n] = '\0';
	*out = s;
	return 0;
}

int otlp_headers_read_file(const char *path, char **v, size_t max, size_t *n)
{
	struct stat st;
	char *text, *line, *next, *stop, why[200];
	unsigned lineno = 0;
	int err = read_small_file(path, &text);

	if (err) {
		log_error_err(err, "otlp: cannot read otlp.headers_file %s", path);
		return err;
	}
	if (!stat(path, &st) && (st.st_mode & S_IROTH))
		log_warn("otlp: otlp.headers_file %s is readable by every user; it may hold a "
			 "token (chmod o-r)",
			 path);
	stop = text + strlen(text);
	for (line = text; !err && line < stop; line = next) {
		char *end, *p;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line); /* the last line, without a newline */
		for (end = line + strlen(line); end > line && strchr(" \t\r", end[-1]); end--)
			;
		*end = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (!*p || *p == '#')
			continue;
		if (*n == max) {
			log_error("otlp: otlp.headers_file %s:%u: more than %zu headers", path,
				  lineno, max);
			err = -EINVAL;
		} else if (otlp_headers_check(p, why, sizeof(why))) {
			log_error("otlp: otlp.headers_file %s:%u: %s", path, lineno, why);
			err = -EINVAL;
		} else {
			v[(*n)++] = xstrdup(p);
		}
	}
	explicit_bzero(text, OTLP_HEADERS_FILE_MAX + 2);
	free(text);
	return err;
}
