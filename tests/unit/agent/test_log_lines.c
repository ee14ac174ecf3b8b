#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/log_lines.h"
#include "common/utf8.h"
#include "tests/lib/leakcheck.h"

TestSuite(log_lines, .fini = test_no_leaks);

#define MS	  1000000ull
#define LINES_MAX 512

/* What the emit callback got. */
struct got {
	size_t n;
	struct {
		uint16_t svc;
		uint8_t fd;
		uint64_t ts;
		char *text;
		size_t len;
	} line[LINES_MAX];
};

static void on_line(void *arg, uint16_t svc, uint8_t fd, uint64_t ts, const char *text, size_t len)
{
	struct got *g = arg;

	cr_assert_lt(g->n, LINES_MAX);
	cr_assert_geq(len, 1);
	cr_assert_eq(text[len], '\0', "NUL-terminated");
	cr_assert(utf8_valid(text, len), "valid UTF-8");
	cr_assert_null(memchr(text, '\n', len));
	cr_assert_null(memchr(text, '\0', len));
	g->line[g->n].svc = svc;
	g->line[g->n].fd = fd;
	g->line[g->n].ts = ts;
	g->line[g->n].text = malloc(len + 1);
	memcpy(g->line[g->n].text, text, len + 1);
	g->line[g->n].len = len;
	g->n++;
}

static void got_release(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->line[i].text);
	g->n = 0;
}

static struct log_lines *new_lines(struct got *g, size_t max_line, uint64_t max_age_ns,
				   uint32_t rate)
{
	struct log_lines_config c = { .max_line = max_line,
				      .max_age_ns = max_age_ns,
				      .rate_limit = rate };

	memset(g, 0, sizeof(*g));
	return log_lines_new(&c, on_line, g);
}

/* Feeds the @n bytes at @s as written by @tgid on @fd at @ts (service 1, nothing lost). */
static void feed_n(struct log_lines *l, uint32_t tgid, uint8_t fd, uint64_t ts, const void *s,
		   size_t n)
{
	struct log_lines_chunk c = {
		.tgid = tgid, .fd = fd, .svc = 1, .ts_ns = ts, .data = s, .len = n
	};

	log_lines_feed(l, &c);
}

static void feed(struct log_lines *l, uint32_t tgid, uint8_t fd, uint64_t ts, const char *s)
{
	feed_n(l, tgid, fd, ts, s, strlen(s));
}

static void expect_line(const struct got *g, size_t i, uint8_t fd, uint64_t ts, const char *text)
{
	cr_assert_gt(g->n, i, "line %zu missing", i);
	cr_assert_str_eq(g->line[i].text, text, "line %zu", i);
	cr_assert_eq(g->line[i].fd, fd, "line %zu: fd", i);
	cr_assert_eq(g->line[i].ts, ts, "line %zu: ts", i);
}

Test(log_lines, a_whole_line_in_one_write)
{
	struct got g;
	struct log_lines *l = new_lines(&g, 1024, 1000 * MS, 0);

	feed(l, 10, 1, 5 * MS, "hello world\n");
	cr_assert_eq(g.n, 1);
	expect_line(&g, 0, 1, 5 * MS, "hello world");
	cr_assert_eq(g.line[0].svc, 1);
	cr_assert_eq(log_lines_partials(l), 0, "nothing held");
	got_release(&g);
	log_lines_free(l);
}

Test(log_lines, several_lines_in_one_write)
{
	struct got g;
	struct log_lines *l = new_lines(&g, 1024, 1000 * MS, 0);

	feed(l, 10, 2, 7 * MS, "one\ntwo\nthree\n");
	cr_assert_eq(g.n, 3);
	expect_line(&g, 0, 2, 7 * MS, "one");
	expect_line(&g, 1, 2, 7 * MS, "two");
	expect_line(&g, 2, 2, 7 * MS, "three");
	got_release(&g);
	log_lines_free(l);
}

Test(log_lines, a_line_split_across_writes_takes_its_first_bytes_time)
{
	struct got g;
	struct log_lines *l = new_lines(&g, 1024, 1000 * MS, 0);

	feed(l, 10, 1, 1 * MS, "first half, ");
	cr_assert_eq(g.n, 0);
	cr_assert_eq(log_lines_partials(l), 1);
	feed(l, 10, 1, 2 * MS, "second half\nnext ");
	cr_assert_eq(g.n, 1);
	expect_line(&g, 0, 1, 1 * MS, "first half, second half");
	feed(l, 10, 1, 3 * MS, "line\n");
	expect_line(&g, 1, 1, 2 * MS, "next line");
	cr_assert_eq(log_lines_partials(l), 0);
	got_release(&g);
	log_lines_free(l);
}

Test(log_lines, streams_are_kept_apart)
{
	struct got g;
	struct log_lines *l = new_lines(&g, 1024, 1000 * MS, 0);

	feed(l, 10, 1, 1 * MS, "out-a ");
	feed(l, 10, 2, 2 * MS, "err-a ");
	feed(l, 11, 1, 3 * MS, "other-a ");
	feed(l, 10, 2, 4 * MS, "err-b\n");
	feed(l, 10, 1, 5 * MS, "out-b\n");
	feed(l, 11, 1, 6 * MS, "other-b\n");
	cr_assert_eq(g.n, 3);
	expect_line(&g, 0, 2, 2 * MS, "err-a err-b");
	expect_line(&g, 1, 1, 1 * MS, "out-a out-b");
	expect_line(&g, 2, 1, 3 * MS, "other-a other-b");
	got_release(&g);
	log_lines_free(l);
}

Test(log_lines, strips_carriage_returns_and_skips_empty_lines)
{
	struct got g;
	struct log_lines_stats st;
	struct log_lines *l = new_lines(&g, 1024, 1000 * MS, 0);

	feed(l, 10, 1, 1 * MS, "windows\r\n\r\n\nprogress 10%\r20%\r\n");
	feed(l, 10, 1, 2 * MS, "split\r");
	feed(l, 10, 1, 3 * MS, "\n");
	cr_assert_eq(g.n, 3);
	expect_line(&g, 0, 1, 1 * MS, "windows");
	expect_line(&g, 1, 1, 1 * MS, "progress 10%\r20%");
	expect_line(&g, 2, 1, 2 * MS, "split");
	log_lines_get_stats(l, &st);
	cr_assert_eq(st.empty, 2);
	cr_assert_eq(st.lines, 3);
	got_release(&g);
	log_lines_free(l);
}

Test(log_lines, makes_invalid_utf8_and_nul_safe)
{
	struct got g;
	struct log_lines_stats st;
	struct log_lines *l = new_lines(&g, 1024, 1000 * MS, 0);

	feed_n(l, 10, 1, 1 * MS, "caf\xc3\xa9 \xff\xfe nul\0here\n", 18);
	cr_assert_eq(g.n, 1);
	expect_line(&g, 0, 1, 1 * MS, "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd nul\xef\xbf\xbdhere");
	log_lines_get_stats(l, &st);
	cr_assert_eq(st.replaced, 3);
	/* a character split across two writes is whole again */
	feed(l, 10, 1, 2 * MS, "euro \xe2\x82");
	feed(l, 10, 1, 3 * MS, "\xac\n");
	expect_line(&g, 1, 1, 2 * MS, "euro \xe2\x82\xac");
	got_release(&g);
	log_lines_free(l);
}

Test(log_lines, flushes_a_partial_line_by_age)
{
	struct got g;
	struct log_lines_stats st;
	struct log_lines *l = new_lines(&g, 1024, 1000 * MS, 0);

	feed(l, 10, 1, 100 * MS, "prompt> ");
	log_lines_expire(l, 1099 * MS);
	cr_assert_eq(g.n, 0, "not yet a second old");
	log_lines_expire(l, 1100 * MS);
	cr_assert_eq(g.n, 1);
	expect_line(&g, 0, 1, 100 * MS, "prompt> ");
	cr_assert_eq(log_lines_partials(l), 0);
	feed(l, 10, 1, 1200 * MS, "answer\n");
	expect_line(&g, 1, 1, 1200 * MS, "answer");
	log_lines_get_stats(l, &st);
	cr_assert_eq(st.flushed_by_age, 1);
	got_release(&g);
	log_lines_free(l);
}

Test(log_lines, flushes_a_long_line_in_pieces_of_max_line)
{
	struct got g;
	struct log_lines_stats st;
	struct log_lines *l = new_lines(&g, 16384, 1000 * MS, 0);
	size_t n = 20 * 1024, at = 0;
	char *big = malloc(n + 1);

	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\n';
	/* in one write, then in writes of 1000 bytes */
	feed_n(l, 10, 1, 1 * MS, big, n + 1);
	cr_assert_eq(g.n, 2);
	cr_assert_eq(g.line[0].len, 16384);
	cr_assert_eq(g.line[1].len, n - 16384);
	cr_assert_eq(memcmp(g.line[0].text, big, 16384), 0);
	cr_assert_eq(memcmp(g.line[1].text, big + 16384, n - 16384), 0);
	got_release(&g);
	for (uint64_t t = 2; at <= n; t++) {
		size_t k = n + 1 - at < 1000 ? n + 1 - at : 1000;

		feed_n(l, 10, 1, t * MS, big + at, k);
		at += k;
	}
	cr_assert_eq(g.n, 2);
	cr_assert_eq(g.line[0].len, 16384);
	cr_assert_eq(g.line[0].ts, 2 * MS, "the time of the line's first write");
	cr_assert_eq(memcmp(g.line[1].text, big + 16384, n - 16384), 0);
	log_lines_get_stats(l, &st);
	cr_assert_eq(st.flushed_by_length, 2);
	free(big);
	got_release(&g);
	log_lines_free(l);
}

Test(log_lines, never_cuts_a_character_in_two)
{
	struct got g;
	struct log_lines *l = new_lines(&g, 256, 1000 * MS, 0);
	char line[300];

	/* 255 ASCII bytes then a 3-byte character across the 256-byte bound */
	memset(line, 'x', 255);
	memcpy(line + 255,
	       "\xe2\x82\xac"
	       "end\n",
	       7);
	feed_n(l, 10, 1, 1 * MS, line, 262);
	cr_assert_eq(g.n, 2);
	cr_assert_eq(g.line[0].len, 255, "the character waits for the next piece");
	cr_assert_str_eq(g.line[1].text, "\xe2\x82\xac"
					 "end");
	got_release(&g);
	log_lines_free(l);
}

Test(log_lines, rate_limits_each_service_with_a_second_of_burst)
{
	struct got g;
	struct log_lines_stats st;
	struct log_lines *l = new_lines(&g, 1024, 1000 * MS, 10);
	struct log_lines_chunk c = {
		.tgid = 20, .fd = 1, .svc = 2, .ts_ns = 1000 * MS, .data = "other\n", .len = 6
	};

	for (int i = 0; i < 25; i++)
		feed(l, 10, 1, 1000 * MS, "chatty\n");
	cr_assert_eq(g.n, 10, "a second's worth passes");
	log_lines_feed(l, &c);
	cr_assert_eq(g.n, 11, "another service has its own bucket");
	feed(l, 10, 1, 1500 * MS, "a\nb\nc\nd\ne\nf\n");
	cr_assert_eq(g.n, 16, "half a second refills five");
	feed(l, 10, 1, 9000 * MS, "later\n");
	cr_assert_eq(g.n, 17);
	log_lines_get_stats(l, &st);
	cr_assert_eq(st.rate_limited, 16);
	got_release(&g);
	log_lines_free(l);
}

Test(log_lines, ends_a_line_when_bytes_after_it_were_lost)
{
	struct got g;
	struct log_lines_stats st;
	struct log_lines *l = new_lines(&g, 1024, 1000 * MS, 0);
	struct log_lines_chunk c = { .tgid = 10,
				     .fd = 1,
				     .svc = 1,
				     .ts_ns = 2 * MS,
				     .lost_seq = 1,
				     .data = "tail\n",
				     .len = 5 };

	feed(l, 10, 1, 1 * MS, "head ");
	log_lines_feed(l, &c);
	cr_assert_eq(g.n, 2);
	expect_line(&g, 0, 1, 1 * MS, "head ");
	expect_line(&g, 1, 1, 2 * MS, "tail");
	c.truncated = true;
	c.data = "cut off";
	c.len = 7;
	log_lines_feed(l, &c);
	expect_line(&g, 2, 1, 2 * MS, "cut off");
	cr_assert_eq(log_lines_partials(l), 0);
	log_lines_get_stats(l, &st);
	cr_assert_eq(st.broken, 2);
	got_release(&g);
	log_lines_free(l);
}

Test(log_lines, bounds_the_partial_lines_and_flushes_them_at_the_end)
{
	struct got g;
	struct log_lines_stats st;
	struct log_lines *l = new_lines(&g, 1024, 0, 0);

	for (uint32_t t = 0; t <= LOG_LINES_PARTIALS_MAX; t++)
		feed(l, 100 + t, 1, (t + 1) * MS, "partial");
	cr_assert_eq(log_lines_partials(l), LOG_LINES_PARTIALS_MAX);
	cr_assert_eq(g.n, 1, "the oldest made room");
	cr_assert_eq(g.line[0].ts, 1 * MS);
	log_lines_expire(l, 1000000 * MS);
	cr_assert_eq(g.n, 1, "max_age_ns 0: no age limit");
	log_lines_flush(l);
	cr_assert_eq(g.n, LOG_LINES_PARTIALS_MAX + 1);
	cr_assert_eq(log_lines_partials(l), 0);
	log_lines_get_stats(l, &st);
	cr_assert_eq(st.evicted, 1);
	got_release(&g);
	log_lines_free(l);
}
