/*
 * The OTLP exporter's extra headers: what a receiver wants besides the
 * body, most often a secret (Authorization: Bearer ..., an API key header).
 * They come from otlp.headers_file, one "Name: value" a line, so that the
 * secret stays off the command line and out of the config file. Nothing
 * here quotes a header's value in a message. Pure functions but the file's
 * read; any thread.
 */
#ifndef PRP_AGGREGATOR_EXPORT_OTLP_HEADERS_H
#define PRP_AGGREGATOR_EXPORT_OTLP_HEADERS_H

#include <stddef.h>

#include "common/compiler.h"

#define OTLP_HEADERS_FILE_MAX (64u << 10) /* bytes of a headers file */

/*
 * Checks one header line, "Name: value": a name of RFC 9110 token
 * characters that is not one the exporter or curl sets (Content-Type,
 * Content-Length, Content-Encoding, Transfer-Encoding, Host, Connection,
 * Expect), a value that is not empty and has no control characters but
 * tabs. 0, or -EINVAL with the reason in @why.
 */
PRP_MUST_CHECK int otlp_headers_check(const char *line, char *why, size_t whylen);

/*
 * Appends the headers of the file @path to @v (room for @max; *@n in use):
 * a header a line, spaces around it dropped; blank lines and lines starting
 * with '#' skipped. Each appended string is the caller's: wipe it
 * (explicit_bzero()) and free() it, on failure too. 0, or -errno logged
 * with the line's number: the file's, -EFBIG past OTLP_HEADERS_FILE_MAX,
 * -EINVAL for a bad line or more than @max headers. A file other users
 * may read gets a warning.
 */
PRP_MUST_CHECK int otlp_headers_read_file(const char *path, char **v, size_t max, size_t *n);

#endif
