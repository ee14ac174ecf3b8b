/*
 * common/log.c: lines read back through log_set_fd() on a pipe. The line
 * format, level filtering, strerror suffixes, the cut of long lines, the
 * rate limiter and level names.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"

TestSuite(log, .fini = test_no_leaks);

/* Room for every line a test writes; log.c cuts each line at 2048 bytes. */
#define CAPTURE_MAX 65536

struct capture {
	int rfd, wfd;
	char text[CAPTURE_MAX];
	size_t len;
};

static void capture_start(struct capture *c, enum log_level min_level)
{
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	c->rfd = p[0];
	c->wfd = p[1];
	c->len = 0;
	log_init("test", min_level, LOG_TO_STDERR);
	log_set_fd(c->wfd);
}

/* Everything written so far, as one string. */
static const char *capture_read(struct capture *c)
{
	ssize_t n;

	while ((n = read(c->rfd, c->text + c->len, sizeof(c->text) - 1 - c->len)) > 0)
		c->len += (size_t)n;
	c->text[c->len] = '\0';
	return c->text;
}

static void capture_stop(struct capture *c)
{
	log_set_fd(2);
	close(c->rfd);
	close(c->wfd);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; (s = strchr(s, '\n')); s++)
		n++;
	return n;
}

static void assert_matches(const char *text, const char *pattern)
{
	regex_t re;

	cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0, "bad pattern %s", pattern);
	cr_assert_eq(regexec(&re, text, 0, NULL, 0), 0, "'%s' does not match %s", text, pattern);
	regfree(&re);
}

#define ISO_TIME "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

Test(log, line_is_time_level_message_and_one_newline)
{
	struct capture c;

	capture_start(&c, LOG_LEVEL_DEBUG);
	log_warn("spool: full at %d MiB, dropped %d frames agent=%s", 256, 12, "web-1");
	assert_matches(capture_read(&c),
		       "^" ISO_TIME
		       " warn spool: full at 256 MiB, dropped 12 frames agent=web-1\n$");
	capture_stop(&c);
}

Test(log, each_level_is_named_in_the_line)
{
	struct capture c;

	capture_start(&c, LOG_LEVEL_DEBUG);
	log_debug("d");
	log_info("i");
	log_warn("w");
	log_error("e");
	assert_matches(capture_read(&c), "^" ISO_TIME " debug d\n" ISO_TIME " info i\n" ISO_TIME
					 " warn w\n" ISO_TIME " error e\n$");
	capture_stop(&c);
}

Test(log, line_time_is_now)
{
	struct capture c;
	char before[TIME_ISO_LEN], after[TIME_ISO_LEN], got[TIME_ISO_LEN];

	capture_start(&c, LOG_LEVEL_INFO);
	time_format_iso(time_real_ns(), before);
	log_info("x");
	time_format_iso(time_real_ns(), after);
	memcpy(got, capture_read(&c), 24);
	got[24] = '\0';
	cr_assert(strcmp(before, got) <= 0 && strcmp(got, after) <= 0, "%s not in [%s, %s]", got,
		  before, after);
	capture_stop(&c);
}

Test(log, lines_below_the_least_level_are_dropped)
{
	struct capture c;

	capture_start(&c, LOG_LEVEL_WARN);
	cr_assert_not(log_enabled(LOG_LEVEL_INFO));
	cr_assert(log_enabled(LOG_LEVEL_WARN));
	cr_assert(log_enabled(LOG_LEVEL_ERROR));
	log_debug("no");
	log_info("no");
	log_warn("yes 1");
	log_error("yes 2");
	capture_read(&c);
	cr_assert_eq(count_lines(c.text), 2, "%s", c.text);
	cr_assert_null(strstr(c.text, "no"), "%s", c.text);
	cr_assert_not_null(strstr(c.text, "warn yes 1\n"));
	cr_assert_not_null(strstr(c.text, "error yes 2\n"));
	capture_stop(&c);
}

Test(log, warn_err_appends_strerror_of_the_negative_errno)
{
	struct capture c;

	capture_start(&c, LOG_LEVEL_INFO);
	log_warn_err(-ENOENT, "spool: cannot open '%s'", "/var/lib/prp/spool");
	log_error_err(-EACCES, "store: cannot write");
	log_warn_err(0, "no error");
	assert_matches(
		capture_read(&c),
		"^" ISO_TIME
		" warn spool: cannot open '/var/lib/prp/spool': No such file or directory\n" ISO_TIME
		" error store: cannot write: Permission denied\n" ISO_TIME " warn no error\n$");
	capture_stop(&c);
}

Test(log, logging_keeps_errno)
{
	struct capture c;

	capture_start(&c, LOG_LEVEL_INFO);
	errno = EAGAIN;
	log_info("x");
	cr_assert_eq(errno, EAGAIN);
	capture_stop(&c);
}

Test(log, long_line_is_cut_with_dots_and_keeps_its_newline)
{
	static char big[5000];
	struct capture c;
	const char *text;

	memset(big, 'x', sizeof(big) - 1);
	capture_start(&c, LOG_LEVEL_INFO);
	log_info("%s", big);
	text = capture_read(&c);
	cr_assert_eq(c.len, 2048, "a line is at most 2048 bytes with its newline, got %zu", c.len);
	cr_assert_eq(count_lines(text), 1);
	cr_assert_str_eq(text + c.len - 5, "x...\n");
	capture_stop(&c);
}

Test(log, long_line_with_an_error_is_cut_the_same_way)
{
	static char big[3000];
	struct capture c;

	memset(big, 'y', sizeof(big) - 1);
	capture_start(&c, LOG_LEVEL_INFO);
	log_warn_err(-EIO, "%s", big);
	capture_read(&c);
	cr_assert_eq(c.len, 2048);
	cr_assert_str_eq(c.text + c.len - 4, "...\n");
	capture_stop(&c);
}

Test(log, line_that_just_fits_is_not_cut)
{
	char msg[2048];
	struct capture c;
	/* "<24-char time> info " is 30 bytes; 2047 in all before the newline */
	size_t room = 2047 - 30;

	memset(msg, 'z', room);
	msg[room] = '\0';
	capture_start(&c, LOG_LEVEL_INFO);
	log_info("%s", msg);
	capture_read(&c);
	cr_assert_eq(c.len, 2048);
	cr_assert_str_eq(c.text + c.len - 3, "zz\n");
	capture_stop(&c);
}

Test(log, ratelimit_suppresses_past_the_burst)
{
	struct capture c;

	capture_start(&c, LOG_LEVEL_INFO);
	for (int i = 0; i < LOG_RATELIMIT_BURST + 5; i++)
		log_ratelimited(LOG_LEVEL_WARN, "ingest: bad frame %d", i);
	capture_read(&c);
	cr_assert_eq(count_lines(c.text), LOG_RATELIMIT_BURST, "%s", c.text);
	cr_assert_not_null(strstr(c.text, "bad frame 9\n"));
	cr_assert_null(strstr(c.text, "bad frame 10\n"));
	capture_stop(&c);
}

Test(log, ratelimit_reports_the_suppressed_count_in_the_next_window)
{
	struct log_ratelimit rl = { 0 };
	struct capture c;

	capture_start(&c, LOG_LEVEL_INFO);
	for (int i = 0; i < LOG_RATELIMIT_BURST + 7; i++)
		log_msg_ratelimited(&rl, LOG_LEVEL_WARN, "ingest: bad frame %d", i);
	cr_assert_eq(rl.suppressed, 7);
	capture_read(&c);
	c.len = 0;
	/* pretend the window started a little over a window ago */
	rl.window_start_ns = time_mono_ns() - (LOG_RATELIMIT_WINDOW_S + 1) * NSEC_PER_SEC;
	log_msg_ratelimited(&rl, LOG_LEVEL_WARN, "ingest: bad frame again");
	assert_matches(capture_read(&c),
		       "^" ISO_TIME
		       " warn log: suppressed 7 similar messages in the last 60 s\n" ISO_TIME
		       " warn ingest: bad frame again\n$");
	cr_assert_eq(rl.suppressed, 0);
	cr_assert_eq(rl.lines, 1);
	capture_stop(&c);
}

Test(log, ratelimit_limits_each_call_site_apart)
{
	struct log_ratelimit a = { 0 }, b = { 0 };
	struct capture c;

	capture_start(&c, LOG_LEVEL_INFO);
	for (int i = 0; i < LOG_RATELIMIT_BURST; i++)
		log_msg_ratelimited(&a, LOG_LEVEL_WARN, "a");
	log_msg_ratelimited(&a, LOG_LEVEL_WARN, "a");
	log_msg_ratelimited(&b, LOG_LEVEL_WARN, "b");
	capture_read(&c);
	cr_assert_eq(count_lines(c.text), LOG_RATELIMIT_BURST + 1);
	cr_assert_eq(a.suppressed, 1);
	cr_assert_eq(b.suppressed, 0);
	capture_stop(&c);
}

Test(log, ratelimit_counts_nothing_below_the_least_level)
{
	struct log_ratelimit rl = { 0 };
	struct capture c;

	capture_start(&c, LOG_LEVEL_WARN);
	for (int i = 0; i < 20; i++)
		log_msg_ratelimited(&rl, LOG_LEVEL_INFO, "quiet");
	cr_assert_eq(rl.lines, 0);
	cr_assert_eq(rl.suppressed, 0);
	cr_assert_str_eq(capture_read(&c), "");
	capture_stop(&c);
}

Test(log, level_names_parse_in_any_case)
{
	static const struct {
		const char *name;
		enum log_level level;
	} cases[] = {
		{ "debug", LOG_LEVEL_DEBUG }, { "INFO", LOG_LEVEL_INFO },
		{ "Warn", LOG_LEVEL_WARN },   { "warning", LOG_LEVEL_WARN },
		{ "ERROR", LOG_LEVEL_ERROR },
	};
	enum log_level l;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(cases); i++) {
		l = (enum log_level) - 1;
		cr_assert_eq(log_level_parse(cases[i].name, &l), 0, "%s", cases[i].name);
		cr_assert_eq(l, cases[i].level, "%s", cases[i].name);
	}
}

Test(log, unknown_level_name_is_einval_and_leaves_out_alone)
{
	static const char *const bad[] = { "", "fatal", "trace", "warn ", "err", "3" };
	enum log_level l = LOG_LEVEL_INFO;

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++)
		cr_assert_eq(log_level_parse(bad[i], &l), -EINVAL, "'%s'", bad[i]);
	cr_assert_eq(l, LOG_LEVEL_INFO);
}

Test(log, level_name_round_trips_and_is_safe_out_of_range)
{
	enum log_level l;

	for (int i = LOG_LEVEL_DEBUG; i <= LOG_LEVEL_ERROR; i++) {
		cr_assert_eq(log_level_parse(log_level_name((enum log_level)i), &l), 0);
		cr_assert_eq((int)l, i);
	}
	cr_assert_str_eq(log_level_name((enum log_level)7), "?");
	cr_assert_str_eq(log_level_name((enum log_level) - 1), "?");
}

Test(log, fatal_logs_at_error_and_exits_1, .exit_code = 1)
{
	struct capture c;

	capture_start(&c, LOG_LEVEL_INFO);
	/* the pipe keeps the line for nobody: stderr shows it for a failing run */
	fatal("startup: cannot bind '%s'", ":8080");
}
