/*
 * Logging: one line per event, on stderr (journald keeps it) or syslog.
 *
 *   2025-01-02T03:04:05.678Z warn spool: full at 256 MiB, dropped 12 frames agent=web-1
 *
 * The message starts with the component (the file prefix) and ends with ids as
 * key=value (STYLE.md §6). Every function here may be called from any thread:
 * each line is written with a single write(2), so lines never interleave.
 */
#ifndef PRP_COMMON_LOG_H
#define PRP_COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_WARN = 2,
	LOG_LEVEL_ERROR = 3,
};

enum log_target {
	LOG_TO_STDERR = 0,
	LOG_TO_SYSLOG = 1,
};

/*
 * Sets the program name (borrowed: keep it alive, usually a literal), the
 * least level written, and where lines go. Before any call the defaults are
 * "prp", info, stderr. Call from main() before starting threads.
 */
void log_init(const char *ident, enum log_level min_level, enum log_target target);
/* Sends stderr-target lines to @fd instead of 2 (tests use a pipe). */
void log_set_fd(int fd);
/* "debug", "info", "warn" (or "warning"), "error". Returns 0 or -EINVAL. */
PRP_MUST_CHECK int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);
bool log_enabled(enum log_level level);

/* Writes one line; with @err < 0 appends ": strerror(-err)". */
void log_msg(enum log_level level, int err, const char *fmt, ...) PRP_PRINTF(3, 4);

#define log_debug(...)		log_msg(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...)		log_msg(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_warn(...)		log_msg(LOG_LEVEL_WARN, 0, __VA_ARGS__)
#define log_error(...)		log_msg(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warn_err(err, ...)	log_msg(LOG_LEVEL_WARN, (err), __VA_ARGS__)
#define log_error_err(err, ...) log_msg(LOG_LEVEL_ERROR, (err), __VA_ARGS__)

/* Logs at error level and exits with status 1. For start-up failures only. */
PRP_NORETURN void fatal(const char *fmt, ...) PRP_PRINTF(1, 2);

/*
 * Rate limiting for messages a peer can trigger (Netdata's nd_log_limit): at
 * most LOG_RATELIMIT_BURST lines per call site every LOG_RATELIMIT_WINDOW_S
 * seconds; the next line after a quiet window says how many were suppressed.
 */
#define LOG_RATELIMIT_BURST    10
#define LOG_RATELIMIT_WINDOW_S 60

struct log_ratelimit {
	uint64_t window_start_ns;
	uint32_t lines;
	uint64_t suppressed;
};

void log_msg_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
	PRP_PRINTF(3, 4);

/* One limiter per call site. */
#define log_ratelimited(level, ...)                                                                \
	do {                                                                                       \
		static struct log_ratelimit log_rl_;                                               \
		log_msg_ratelimited(&log_rl_, (level), __VA_ARGS__);                               \
	} while (0)

#endif
