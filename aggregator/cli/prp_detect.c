/*
 * prp-detect: runs the streaming anomaly detector (aggregator/detect/) over
 * one CSV series and writes each row's anomaly score (DESIGN.md, "Detect
 * and predict"; docs/detection.md).
 *
 *   prp-detect [--param NAME=VALUE]... [INPUT.csv | -] > OUTPUT.csv
 *
 * Input: the header `timestamp,value`, then one row per observation:
 * `YYYY-MM-DD HH:MM:SS[.ffffff],NUMBER`. Output: `timestamp,value,anomaly_score`,
 * the first two columns echoed as given. Scores are written as rows are read,
 * so each depends only on the rows before it. The first bad row stops the
 * run with `prp-detect: FILE:LINE: what is wrong` and status 2; rows before
 * it have been written.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/detect/csv_row.h"
#include "aggregator/detect/detector.h"
#include "common/compiler.h"
#include "common/strparse.h"

#define LINE_MAX_BYTES 4096 /* a row is two short fields: anything longer is not this format */
#define EXIT_USAGE     1
#define EXIT_BAD_INPUT 2

/* The tuning knobs --param can set: the fields of struct detector_params. */
struct param_key {
	const char *name;
	size_t offset;
	bool is_unsigned; /* unsigned, else double */
};

#define PKEY_D(f) { #f, offsetof(struct detector_params, f), false }
#define PKEY_U(f) { #f, offsetof(struct detector_params, f), true }

static const struct param_key param_keys[] = {
	PKEY_U(warmup_points),	PKEY_D(season_s),      PKEY_D(alarm_score),
	PKEY_U(suppress_points), PKEY_D(alpha_level),  PKEY_D(alpha_scale),
	PKEY_D(clip_z),		PKEY_D(range_floor),   PKEY_D(rel_floor),
	PKEY_D(abs_floor),	PKEY_U(season_bins),   PKEY_D(season_alpha),
	PKEY_D(offset_alpha),	PKEY_D(select_alpha),  PKEY_D(select_ratio),
	PKEY_U(short_points),	PKEY_D(window_power),    PKEY_D(u_cap),
	PKEY_D(point_weight),  PKEY_D(window_weight),
	PKEY_D(score_decades),	PKEY_D(cusum_k),       PKEY_D(cusum_h),
	PKEY_D(shift_score),	PKEY_D(suppress_damp), PKEY_D(tail_alpha),
	PKEY_D(tail_above),	PKEY_D(tail_power),	PKEY_D(tail_power_max),    PKEY_D(tail_q_min),
	PKEY_D(tail_prior),	PKEY_D(tail_learn_cap), PKEY_D(restart_z), PKEY_D(cusum_clip),	PKEY_U(season_peak_span), PKEY_D(season_peak_keep),
	PKEY_D(season_peak_weight), PKEY_D(tail_k_alpha), PKEY_D(tail_k_ratio),
};

static void usage(FILE *f)
{
	struct detector_params p;

	detector_params_default(&p);
	fprintf(f,
		"usage: prp-detect [--param NAME=VALUE]... [INPUT.csv | -] > OUTPUT.csv\n"
		"\n"
		"Scores each row of a time series for anomalies, online: a row's score\n"
		"depends only on that row and the ones before it.\n"
		"\n"
		"INPUT    CSV with the header 'timestamp,value'; rows 'YYYY-MM-DD HH:MM:SS[.ffffff],NUMBER'\n"
		"         in time order (repeated timestamps and gaps are fine). '-' or none: stdin.\n"
		"         Empty lines are skipped; lines may end with CRLF; at most %d bytes a line.\n"
		"OUTPUT   'timestamp,value,anomaly_score' on stdout, one row per input row,\n"
		"         the score in [0,1].\n"
		"\n"
		"  --param NAME=VALUE  override a detector parameter (docs/detection.md):\n",
		LINE_MAX_BYTES);
	for (size_t i = 0; i < PRP_ARRAY_SIZE(param_keys); i++) {
		const char *base = (const char *)&p + param_keys[i].offset;

		if (param_keys[i].is_unsigned)
			fprintf(f, "      %-16s default %u\n", param_keys[i].name,
				*(const unsigned *)(const void *)base);
		else
			fprintf(f, "      %-16s default %g\n", param_keys[i].name,
				*(const double *)(const void *)base);
	}
	fprintf(f, "  --help             this text\n"
		   "  --version          the version\n"
		   "\n"
		   "Exit status: 0 done, 1 usage error, 2 bad or unreadable input (one line on stderr:\n"
		   "'prp-detect: FILE:LINE: what is wrong').\n");
}

/* Sets one --param NAME=VALUE. Returns 0, or -EINVAL with a message on stderr. */
static int param_set(struct detector_params *p, const char *arg)
{
	const char *eq = strchr(arg, '=');

	for (size_t i = 0; eq && i < PRP_ARRAY_SIZE(param_keys); i++) {
		const struct param_key *k = &param_keys[i];
		char *base = (char *)p + k->offset;
		uint64_t u;
		double v;

		if (strlen(k->name) != (size_t)(eq - arg) || strncmp(k->name, arg, eq - arg))
			continue;
		if (k->is_unsigned) {
			if (strparse_u64(eq + 1, 0, UINT32_MAX, &u))
				break;
			*(unsigned *)(void *)base = (unsigned)u;
		} else {
			if (strparse_double(eq + 1, -1e300, 1e300, &v))
				break;
			*(double *)(void *)base = v;
		}
		return 0;
	}
	fprintf(stderr, "prp-detect: bad --param '%s': expected NAME=NUMBER with a NAME from --help\n",
		arg);
	return -EINVAL;
}

/*
 * Reads one line without its "\n" or "\r\n" into @buf (@cap bytes, NUL
 * terminated). Returns 1, 0 at end of file, -E2BIG past the bound, -EINVAL
 * on a NUL byte, -EIO on a read error.
 */
static int read_line(FILE *f, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0')
			return -EINVAL;
		if (n + 1 >= cap)
			return -E2BIG;
		buf[n++] = (char)c;
	}
	if (c == EOF && ferror(f))
		return -EIO;
	if (c == EOF && n == 0)
		return 0;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return 1;
}

struct input {
	FILE *f;
	const char *name; /* as shown in messages */
	unsigned long line;
	char buf[LINE_MAX_BYTES + 2];
};

static int input_error(const struct input *in, const char *what)
{
	fprintf(stderr, "prp-detect: %s:%lu: %s\n", in->name, in->line, what);
	return -EINVAL;
}

/* The next non-empty line into in->buf: 1, 0 at the end, or -EINVAL (reported). */
static int input_next(struct input *in)
{
	size_t len;
	int rc;

	do {
		in->line++;
		rc = read_line(in->f, in->buf, sizeof(in->buf), &len);
		if (rc == -E2BIG)
			return input_error(in, "line too long (more than 4096 bytes)");
		if (rc == -EINVAL)
			return input_error(in, "line holds a NUL byte: not a text CSV file");
		if (rc == -EIO) {
			char msg[96];

			snprintf(msg, sizeof(msg), "cannot read: %s", strerror(errno));
			return input_error(in, msg);
		}
	} while (rc == 1 && len == 0);
	return rc;
}

static int check_header(struct input *in)
{
	int rc = input_next(in);

	if (rc < 0)
		return rc;
	if (rc == 0) {
		in->line = 1;
		return input_error(in, "empty file: expected the header 'timestamp,value'");
	}
	if (!csv_row_is_header(in->buf))
		return input_error(in, "expected the header 'timestamp,value'");
	return 0;
}

/* Parses the row in in->buf; *@comma is the separator's index. */
static int parse_row(struct input *in, double *t, double *v, size_t *comma)
{
	char msg[160];

	if (csv_row_parse(in->buf, t, v, comma, msg, sizeof(msg)))
		return input_error(in, msg);
	return 0;
}

/* Scores every row of @in onto stdout. Returns 0 or -EINVAL (reported). */
static int run(struct input *in, const struct detector_params *p)
{
	struct detector *d = detector_new(p);
	struct detector_result r;
	double t, v;
	size_t comma;
	int rc;

	rc = check_header(in);
	if (rc)
		goto out;
	fputs("timestamp,value,anomaly_score\n", stdout);
	while ((rc = input_next(in)) == 1) {
		rc = parse_row(in, &t, &v, &comma);
		if (rc)
			goto out;
		detector_update(d, t, v, &r);
		printf("%.*s,%s,%.6f\n", (int)comma, in->buf, in->buf + comma + 1, r.score);
	}
out:
	detector_free(d);
	return rc;
}

static int parse_args(int argc, char **argv, struct detector_params *p, const char **path)
{
	*path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--version")) {
			printf("prp-detect %s\n", PRP_VERSION);
			exit(0);
		} else if (!strcmp(a, "--param") && i + 1 < argc) {
			if (param_set(p, argv[++i]))
				return -EINVAL;
		} else if (!strncmp(a, "--param=", 8)) {
			if (param_set(p, a + 8))
				return -EINVAL;
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "prp-detect: unknown option '%s' (see --help)\n", a);
			return -EINVAL;
		} else if (*path) {
			fprintf(stderr, "prp-detect: one input file only (see --help)\n");
			return -EINVAL;
		} else {
			*path = a;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct input in; /* static: the line buffer is 4 KiB */
	struct detector_params p;
	const char *path;
	int rc;

	detector_params_default(&p);
	if (parse_args(argc, argv, &p, &path))
		return EXIT_USAGE;
	if (!path || !strcmp(path, "-")) {
		in.f = stdin;
		in.name = "<stdin>";
	} else {
		in.f = fopen(path, "r");
		in.name = path;
		if (!in.f) {
			fprintf(stderr, "prp-detect: %s: cannot open: %s\n", path, strerror(errno));
			return EXIT_BAD_INPUT;
		}
	}
	rc = run(&in, &p);
	if (in.f != stdin)
		fclose(in.f);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "prp-detect: cannot write the output: %s\n", strerror(errno));
		return EXIT_BAD_INPUT;
	}
	return rc ? EXIT_BAD_INPUT : 0;
}
