/*
 * The real build/prp-detect on small files: the output's shape (header, one
 * row per input row, echoed columns, scores in [0,1]), the online property
 * (a truncated file gives the same scores for the rows it keeps), and bad
 * input (one clear `prp-detect: FILE:LINE: ...` line, status 2; usage 1).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"

#define DETECT PRP_BUILD_DIR "/prp-detect"

static char dir[] = "/tmp/prp-detect-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (dir[strlen(dir) - 1] != 'X')
		cr_expect_eq(system(cmd), 0);
	test_no_leaks();
}

TestSuite(prp_detect, .init = setup, .fini = teardown, .timeout = 60);

/* Writes @text to @name in the test's directory; @path gets the full path. */
static void write_file(char *path, size_t len, const char *name, const char *text)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* Runs prp-detect with @args (NULL-terminated, after the program); returns its exit status. */
static int run(struct proc *p, const char *const *args)
{
	const char *argv[8] = { DETECT };
	int n = 1;

	while (args[n - 1] && n < 7) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	cr_assert_eq(proc_start(p, argv), 0, "cannot start %s", DETECT);
	cr_assert_eq(proc_wait_exit(p, 20000), 0, "prp-detect did not exit");
	cr_assert(WIFEXITED(p->status), "prp-detect crashed: %s", p->err.data);
	return WEXITSTATUS(p->status);
}

static const char *text(const struct buf *b)
{
	return b->data ? (const char *)b->data : "";
}

/* A series of @rows rows: noise around 10, a step to 40 at row 300. */
static char *series(int rows)
{
	size_t cap = 64 + (size_t)rows * 48, off;
	char *s = malloc(cap);

	cr_assert_not_null(s);
	off = (size_t)snprintf(s, cap, "timestamp,value\n");
	for (int i = 0; i < rows; i++)
		off += (size_t)snprintf(s + off, cap - off, "2014-04-%02d %02d:%02d:00,%.3f\n",
					1 + i / 288, i % 288 / 12, i % 12 * 5,
					(i >= 300 ? 40.0 : 10.0) + (i * 7919 % 101) / 50.0);
	return s;
}

Test(prp_detect, writes_one_scored_row_per_input_row)
{
	char path[256], *in = series(400), *save = NULL, *line;
	struct proc p;
	int rows = 0;
	double max_score = 0;

	write_file(path, sizeof(path), "in.csv", in);
	cr_assert_eq(run(&p, (const char *const[]){ path, NULL }), 0, "%s", text(&p.err));
	cr_expect_eq(p.err.len, 0, "stderr: %s", text(&p.err));
	line = strtok_r((char *)p.out.data, "\n", &save);
	cr_assert_str_eq(line, "timestamp,value,anomaly_score");
	for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char want[64];
		const char *last = strrchr(line, ',');
		double score = atof(last + 1);

		snprintf(want, sizeof(want), "2014-04-%02d %02d:%02d:00,", 1 + rows / 288,
			 rows % 288 / 12, rows % 12 * 5);
		cr_assert(!strncmp(line, want, strlen(want)), "row %d: %s", rows, line);
		cr_assert(score >= 0 && score <= 1, "row %d: score %f", rows, score);
		if (rows == 300 || rows == 301)
			max_score = fmax(max_score, score);
		rows++;
	}
	cr_expect_eq(rows, 400);
	cr_expect_gt(max_score, 0.5, "the step at row 300 scores %f", max_score);
	proc_release(&p);
	free(in);
}

Test(prp_detect, scores_are_online)
{
	char full[256], part[256], *in = series(400), *cut;
	struct proc a, b;

	write_file(full, sizeof(full), "full.csv", in);
	/* the first 350 rows: header + 350 lines */
	cut = in;
	for (int i = 0; i < 351; i++)
		cut = strchr(cut, '\n') + 1;
	*cut = '\0';
	write_file(part, sizeof(part), "part.csv", in);
	cr_assert_eq(run(&a, (const char *const[]){ full, NULL }), 0);
	cr_assert_eq(run(&b, (const char *const[]){ part, NULL }), 0);
	cr_assert_lt(b.out.len, a.out.len);
	cr_expect(!memcmp(a.out.data, b.out.data, b.out.len),
		  "the first 350 rows differ when the file is cut there");
	proc_release(&a);
	proc_release(&b);
	free(in);
}

Test(prp_detect, accepts_crlf_fractions_and_repeated_timestamps)
{
	char path[256];
	struct proc p;

	write_file(path, sizeof(path), "crlf.csv",
		   "timestamp,value\r\n2014-01-01 00:00:00.500000,1\r\n"
		   "2014-01-01 00:00:00.500000,2.5\r\n2014-01-01 00:05:00,-3e2\r\n");
	cr_assert_eq(run(&p, (const char *const[]){ path, NULL }), 0, "%s", text(&p.err));
	cr_expect_str_eq(text(&p.out), "timestamp,value,anomaly_score\n"
				       "2014-01-01 00:00:00.500000,1,0.000000\n"
				       "2014-01-01 00:00:00.500000,2.5,0.000000\n"
				       "2014-01-01 00:05:00,-3e2,0.000000\n");
	proc_release(&p);
}

/* Each bad file must give status 2 and one line naming the file, the line and the fault. */
static void expect_rejected(const char *name, const char *content, const char *where,
			    const char *what)
{
	char path[256], want[320];
	struct proc p;

	write_file(path, sizeof(path), name, content);
	cr_expect_eq(run(&p, (const char *const[]){ path, NULL }), 2, "%s: status", name);
	snprintf(want, sizeof(want), "prp-detect: %s:%s: ", path, where);
	cr_expect(!strncmp(text(&p.err), want, strlen(want)), "%s: stderr '%s', want '%s...'",
		  name, text(&p.err), want);
	cr_expect_not_null(strstr(text(&p.err), what), "%s: stderr '%s' lacks '%s'", name,
			   text(&p.err), what);
	cr_expect_eq(strchr(text(&p.err), '\n'), text(&p.err) + p.err.len - 1,
		     "%s: one line only", name);
	proc_release(&p);
}

Test(prp_detect, rejects_bad_input_with_file_and_line)
{
	char *long_line = malloc(6000);

	expect_rejected("empty.csv", "", "1", "empty file");
	expect_rejected("noheader.csv", "2014-01-01 00:00:00,1\n", "1", "header");
	expect_rejected("header.csv", "time,value\n2014-01-01 00:00:00,1\n", "1", "header");
	expect_rejected("ts.csv", "timestamp,value\n2014-01-01 00:00:00,1\n2014-13-01 00:00:00,1\n",
			"3", "bad timestamp");
	expect_rejected("ts2.csv", "timestamp,value\n01/02/2014 00:00,1\n", "2", "bad timestamp");
	expect_rejected("val.csv", "timestamp,value\n2014-01-01 00:00:00,abc\n", "2", "bad value");
	expect_rejected("nan.csv", "timestamp,value\n2014-01-01 00:00:00,nan\n", "2", "bad value");
	expect_rejected("inf.csv", "timestamp,value\n2014-01-01 00:00:00,1e999\n", "2",
			"bad value");
	expect_rejected("cols.csv", "timestamp,value\n2014-01-01 00:00:00,1,2\n", "2",
			"2 columns");
	expect_rejected("cols1.csv", "timestamp,value\n2014-01-01 00:00:00\n", "2", "2 columns");
	cr_assert_not_null(long_line);
	strcpy(long_line, "timestamp,value\n2014-01-01 00:00:00,");
	memset(long_line + strlen(long_line), '1', 5000);
	strcpy(long_line + 37 + 5000, "\n");
	expect_rejected("long.csv", long_line, "2", "too long");
	free(long_line);
}

Test(prp_detect, reports_missing_file_and_usage_errors)
{
	struct proc p;

	cr_expect_eq(run(&p, (const char *const[]){ "/nonexistent/in.csv", NULL }), 2);
	cr_expect_not_null(strstr(text(&p.err), "prp-detect: /nonexistent/in.csv: cannot open"),
			   "stderr: %s", text(&p.err));
	proc_release(&p);
	cr_expect_eq(run(&p, (const char *const[]){ "--bogus", NULL }), 1);
	cr_expect_not_null(strstr(text(&p.err), "unknown option"));
	proc_release(&p);
	cr_expect_eq(run(&p, (const char *const[]){ "--param", "nope=1", NULL }), 1);
	proc_release(&p);
	cr_expect_eq(run(&p, (const char *const[]){ "--version", NULL }), 0);
	cr_expect(!strncmp(text(&p.out), "prp-detect ", 11), "%s", text(&p.out));
	proc_release(&p);
	cr_expect_eq(run(&p, (const char *const[]){ "--help", NULL }), 0);
	cr_expect_not_null(strstr(text(&p.out), "usage: prp-detect"));
	proc_release(&p);
}

Test(prp_detect, empty_stdin_is_an_error)
{
	struct proc p;

	/* proc_start gives the child /dev/null as stdin: an empty file */
	cr_expect_eq(run(&p, (const char *const[]){ "-", NULL }), 2);
	cr_expect_not_null(strstr(text(&p.err), "prp-detect: <stdin>:1: empty file"), "%s",
			   text(&p.err));
	proc_release(&p);
}
