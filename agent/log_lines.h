/*
 * Lines from the bytes services write to stdout and stderr: the part of
 * the logs sampler (agent/sampler_logs.h) that needs no kernel, so that it
 * is tested on its own.
 *
 * Bytes come in chunks, each tagged with its stream (process and fd), its
 * service and the time its write began; a stream's chunks come in the
 * order written. A line ends at '\n'. A partial line is held per stream
 * until its end comes, and flushed as it is when it reaches max_line bytes
 * (the rest continues as the next line; a UTF-8 character is never cut in
 * two), when it is older than max_age_ns, when bytes of its stream were
 * lost (the kernel's lost_seq moved), or when its write was truncated.
 * Each finished line loses its trailing '\r's, becomes valid UTF-8 (a byte
 * that is not, and NUL, become U+FFFD), is dropped when empty, passes a
 * token bucket of its service (rate_limit lines per second, a second's
 * worth of burst), and goes to the emit callback with the time of its
 * first byte.
 *
 * Memory: at most LOG_LINES_PARTIALS_MAX partial lines of max_line bytes;
 * past that the oldest is flushed. One owning thread; no locks.
 */
#ifndef PRP_AGENT_LOG_LINES_H
#define PRP_AGENT_LOG_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Streams holding a partial line at once. */
#define LOG_LINES_PARTIALS_MAX 256
/* The bounds of max_line (the agent's logs.max_line). */
#define LOG_LINES_MAX_LINE_MIN 256
#define LOG_LINES_MAX_LINE_MAX 65536

struct log_lines_config {
	size_t max_line;     /* bytes, LOG_LINES_MAX_LINE_MIN..LOG_LINES_MAX_LINE_MAX */
	uint64_t max_age_ns; /* a partial line older than this is flushed; 0: never */
	uint32_t rate_limit; /* lines per second per service; 0: no limit */
};

/* One piece of what a process wrote to one fd. */
struct log_lines_chunk {
	uint32_t tgid;
	uint8_t fd;	   /* the stream: 1 stdout, 2 stderr */
	uint16_t svc;	   /* service id, 1..255 (the rate limit's key) */
	uint64_t ts_ns;	   /* when its write began, any monotonic clock */
	uint32_t lost_seq; /* the kernel's count of lost records when this one was made */
	bool truncated;	   /* the rest of its write was not copied */
	const void *data;  /* borrowed for the call */
	size_t len;
};

/*
 * A finished line: @len (>= 1) bytes at @text, valid UTF-8 without NUL or
 * LF (NUL-terminated too), borrowed for the call; @ts_ns is its first byte's
 * time in the clock of the chunks.
 */
typedef void log_lines_emit_fn(void *arg, uint16_t svc, uint8_t fd, uint64_t ts_ns,
			       const char *text, size_t len);

struct log_lines_stats {
	uint64_t lines;		    /* emitted */
	uint64_t bytes;		    /* emitted, after cleaning */
	uint64_t rate_limited;	    /* lines dropped by the rate limit */
	uint64_t flushed_by_length; /* pieces of lines longer than max_line */
	uint64_t flushed_by_age;    /* partial lines older than max_age_ns */
	uint64_t broken;	    /* partial lines flushed because bytes after them were lost */
	uint64_t evicted;	    /* partial lines flushed to make room for another stream's */
	uint64_t replaced;	    /* bytes that were not UTF-8, or NUL, replaced by U+FFFD */
	uint64_t empty;		    /* empty lines (after '\r's) skipped */
};

struct log_lines;

/*
 * A new reassembler that hands its lines to @emit(@arg, ...); @c is
 * copied. Caller owns it: log_lines_free(). @c's max_line is clamped to its
 * bounds.
 */
struct log_lines *log_lines_new(const struct log_lines_config *c, log_lines_emit_fn *emit,
				void *arg);
/* Frees @l without flushing (log_lines_flush() first to keep the partial lines). NULL is fine. */
void log_lines_free(struct log_lines *l);

/* Cuts @c into lines; emits the complete ones, keeps the rest of its stream's line. */
void log_lines_feed(struct log_lines *l, const struct log_lines_chunk *c);
/* Flushes the partial lines whose first byte is max_age_ns or more before @now_ns. */
void log_lines_expire(struct log_lines *l, uint64_t now_ns);
/* Flushes every partial line, as it is (at shutdown). */
void log_lines_flush(struct log_lines *l);
/* Partial lines held now. */
size_t log_lines_partials(const struct log_lines *l);

void log_lines_get_stats(const struct log_lines *l, struct log_lines_stats *out);

#endif
