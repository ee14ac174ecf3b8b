/*
 * What the Loki exporter sends (docs/loki.md): an entry (its labels, its
 * time and its line), made from a bus event or a service's log line, the
 * static labels of the config, and the JSON body of one push:
 *
 *   {"streams":[{"stream":{"service_name":"orders","host":"web-1",
 *                          "level":"error","source":"stderr",...},
 *                "values":[["1700000000123456789","the line"],...]}]}
 *
 * one stream per label set, its values in time order. Pure functions; any
 * thread.
 */
#ifndef PRP_AGGREGATOR_EXPORT_LOKI_FORMAT_H
#define PRP_AGGREGATOR_EXPORT_LOKI_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/store/store.h"
#include "common/buf.h"
#include "common/compiler.h"

#define LOKI_FORMAT_HOST_MAX	    256 /* bytes of a host label, terminator included */
#define LOKI_FORMAT_LABEL_NAME_MAX  64
#define LOKI_FORMAT_LABEL_VALUE_MAX 256

/* The level label's values. */
enum loki_level {
	LOKI_LEVEL_CRITICAL = 0,
	LOKI_LEVEL_ERROR,
	LOKI_LEVEL_WARNING,
	LOKI_LEVEL_INFO,
	LOKI_LEVEL_DEBUG,
	LOKI_LEVEL_COUNT
};
/* The source label's values: what made the entry. */
enum loki_source {
	LOKI_SOURCE_ANOMALY = 0,
	LOKI_SOURCE_INCIDENT,
	LOKI_SOURCE_PREDICTION,
	LOKI_SOURCE_ACTION,
	LOKI_SOURCE_STDOUT,
	LOKI_SOURCE_STDERR,
	LOKI_SOURCE_COUNT
};

/* "critical", ...; "info" past them. */
const char *loki_format_level_name(enum loki_level l);
/* "anomaly", ..., "stderr"; "unknown" past them. */
const char *loki_format_source_name(enum loki_source s);
/* The source of a line called @name ("stdout", "stderr"), or -1. */
int loki_format_line_source(const char *name);
/* The source of events of type @type (enum bus_type), or -1 for types not exported. */
int loki_format_event_source(int type);

/*
 * An event's level: action.failed is error; anomaly.resolved and
 * incident.resolved are info (the trouble is over, whatever its
 * severity was); the others follow the severity: critical, warning, info.
 */
enum loki_level loki_format_event_level(int type, enum store_severity severity);

/*
 * A line's level, guessed: the first level word among its first 256 bytes
 * (FATAL, PANIC, CRIT, CRITICAL: critical; ERROR, ERR: error; WARN,
 * WARNING: warning; INFO, NOTICE: info; DEBUG, TRACE: debug), in capitals
 * as a whole word, or in any case as a logfmt or JSON level field
 * (level=warn, "level":"error"); else error on stderr and info on stdout.
 */
enum loki_level loki_format_line_level(const char *line, size_t len, bool is_stderr);

/* One entry: its labels, time and line. Allocated in one block: free(). */
struct loki_entry {
	int64_t ts_ns;	  /* ns since the epoch */
	uint64_t mono_ns; /* when it was queued (CLOCK_MONOTONIC) */
	uint64_t seq;	  /* queue order: the tie-break between equal times */
	uint8_t level;	  /* enum loki_level */
	uint8_t source;	  /* enum loki_source */
	char tenant[FRAME_ID_MAX];
	char service[SERVICE_NAME_MAX]; /* never "": "aggregator" stands for none */
	char host[LOKI_FORMAT_HOST_MAX];
	size_t len;  /* of line, at most LOKI_LINE_MAX */
	char line[]; /* valid UTF-8, NUL-terminated (it may hold NULs of its own) */
};

/*
 * A new entry (caller frees) of the @len bytes at @line, cleaned: a
 * trailing "\n" or "\r\n" dropped, bytes that are not UTF-8 replaced by
 * U+FFFD, and past LOKI_LINE_MAX bytes cut at a character with the marker
 * " [truncated from N bytes]". "" or NULL @tenant is "default", @service
 * "aggregator"; labels longer than their fields are cut.
 */
struct loki_entry *loki_format_entry(const char *tenant, const char *service, const char *host,
				     enum loki_level level, enum loki_source source, int64_t ts_ns,
				     const char *line, size_t len);

/*
 * The entry of event @e (a bus event as stored), or NULL when its type is
 * not exported or its JSON is unreadable. The line is compact JSON:
 * {"type", "service", "message", "severity", "tenant", "event_id",
 * "timestamp", "data"}, the message the event's one-line summary (the
 * one Slack gets); the host is the data's "host" when it has one, else
 * @host. Caller frees.
 */
struct loki_entry *loki_format_event(const struct store_event *e, const char *host);

/* One static label. */
struct loki_label {
	char name[LOKI_FORMAT_LABEL_NAME_MAX];
	char value[LOKI_FORMAT_LABEL_VALUE_MAX];
};

/* A Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*. */
bool loki_format_label_name_ok(const char *name);

/*
 * Parses @text, "name=value,name=value" (spaces around each part
 * ignored; NULL or "": none), into @out (room for @max) and *@n. 0, or
 * -EINVAL with the reason in @err: a bad name, a name the exporter sets
 * itself (service_name, host, level, source, tenant) or one starting with
 * "__", a repeat, an empty or too long value, more than @max.
 */
PRP_MUST_CHECK int loki_format_labels_parse(const char *text, struct loki_label *out, size_t max,
					    size_t *n, char *err, size_t errlen);

/*
 * Appends the push body of the @n entries @v (borrowed; reordered in
 * place by label set and time) with the static labels @labels to @b.
 * 0, or -E2BIG when @b's cap is passed.
 */
PRP_MUST_CHECK int loki_format_body(struct buf *b, struct loki_entry **v, size_t n,
				    const struct loki_label *labels, size_t nlabels);

#endif
