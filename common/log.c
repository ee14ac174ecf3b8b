/*
 * Line-oriented logger. Each line is formatted into a stack buffer and
 * written with one write(2) (or one syslog(3) call), so concurrent threads
 * never interleave inside a line. Lines longer than LOG_LINE_MAX are cut and
 * end in "...".
 */
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "common/timeutil.h"

#define LOG_LINE_MAX 2048

static const char *log_ident = "prp";
static enum log_level log_min_level = LOG_LEVEL_INFO;
static enum log_target log_target = LOG_TO_STDERR;
static int log_fd = 2;

/* guards every struct log_ratelimit; rate-limited lines are rare by design */
static pthread_mutex_t log_ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *ident, enum log_level min_level, enum log_target target)
{
	log_ident = ident;
	log_min_level = min_level;
	log_target = target;
	if (target == LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < PRP_ARRAY_SIZE(level_names); i++) {
		if (!strcasecmp(name, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(name, "warning")) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < PRP_ARRAY_SIZE(level_names) ? level_names[level] : "?";
}

bool log_enabled(enum log_level level)
{
	return level >= log_min_level;
}

static void log_write_line(enum log_level level, char *line, size_t len)
{
	static const int syslog_prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
	ssize_t n;

	if (log_target == LOG_TO_SYSLOG) {
		syslog(syslog_prio[level], "%s", line);
		return;
	}
	line[len++] = '\n';
	/* one write per line; a short write to stderr is not worth a retry loop */
	do {
		n = write(log_fd, line, len);
	} while (n < 0 && errno == EINTR);
}

/* Formats "<time> <level> <message>[: <strerror>]" into @line, cut to fit. */
static size_t log_format(char *line, size_t cap, enum log_level level, int err, const char *fmt,
			 va_list ap)
{
	char when[TIME_ISO_LEN];
	size_t len = 0;
	int n;

	if (log_target == LOG_TO_STDERR) {
		time_format_iso(time_real_ns(), when);
		n = snprintf(line, cap, "%s %s ", when, log_level_name(level));
		len = n > 0 ? (size_t)n : 0;
	}
	n = vsnprintf(line + len, cap - len, fmt, ap);
	if (n > 0)
		len += (size_t)n;
	if (err < 0 && len < cap) {
		n = snprintf(line + len, cap - len, ": %s", strerror(-err));
		if (n > 0)
			len += (size_t)n;
	}
	if (len >= cap) {
		len = cap - 1;
		memcpy(line + len - 3, "...", 3);
	}
	line[len] = '\0';
	return len;
}

static void log_vmsg(enum log_level level, int err, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX + 1]; /* +1: room for the newline */
	size_t len;
	int saved_errno = errno;

	len = log_format(line, LOG_LINE_MAX, level, err, fmt, ap);
	log_write_line(level, line, len);
	errno = saved_errno;
}

void log_msg(enum log_level level, int err, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vmsg(level, err, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}

void log_msg_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
{
	const uint64_t window_ns = (uint64_t)LOG_RATELIMIT_WINDOW_S * 1000000000u;
	uint64_t now = time_mono_ns(), suppressed = 0;
	bool emit;
	va_list ap;

	if (!log_enabled(level))
		return;
	pthread_mutex_lock(&log_ratelimit_lock);
	if (!rl->window_start_ns || now - rl->window_start_ns >= window_ns) {
		suppressed = rl->suppressed;
		rl->window_start_ns = now;
		rl->lines = 0;
		rl->suppressed = 0;
	}
	emit = rl->lines < LOG_RATELIMIT_BURST;
	if (emit)
		rl->lines++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&log_ratelimit_lock);

	if (suppressed)
		log_msg(level, 0, "log: suppressed %llu similar messages in the last %d s",
			(unsigned long long)suppressed, LOG_RATELIMIT_WINDOW_S);
	if (!emit)
		return;
	va_start(ap, fmt);
	log_vmsg(level, 0, fmt, ap);
	va_end(ap);
}
