/*
 * agent/spool.c in a temporary directory: order of append, read and ack;
 * reopening; a torn last record and a bad crc; deletion of whole acked
 * segments; the bound and its lost-frame count; spool_read's limits; a
 * process killed mid-append; one thread appending while another reads and
 * acknowledges.
 *
 * Test frames are [u32 length][u64 seq][pattern from seq], so the bytes
 * spool_read() returns back to back can be split and checked.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/spool.h"
#include "common/buf.h"
#include "common/log.h"
#include "tests/lib/leakcheck.h"

#define MIB	   (1ull << 20)
#define REC_HDR	   8u		   /* the spool's record header */
#define FRAME_HDR  12u		   /* the test frame's own header */
#define FRAME_1MIB (MIB - REC_HDR) /* a record of exactly 1 MiB: 4 fill a segment */

static char root[64], dir[96];

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/prp-spool-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/spool", root);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	test_no_leaks();
}

TestSuite(spool, .init = setup, .fini = teardown);

/* ---- Frames ---- */

static uint8_t pattern(uint64_t seq, size_t i)
{
	return (uint8_t)(seq * 131 + i * 7 + (i >> 8));
}

/* Builds the test frame for @seq, @len >= FRAME_HDR bytes; caller frees. */
static unsigned char *make_frame(uint64_t seq, size_t len)
{
	unsigned char *f = malloc(len);
	uint32_t l = (uint32_t)len;

	cr_assert_not_null(f);
	cr_assert_geq(len, FRAME_HDR);
	memcpy(f, &l, 4);
	memcpy(f + 4, &seq, 8);
	for (size_t i = FRAME_HDR; i < len; i++)
		f[i] = pattern(seq, i);
	return f;
}

static void append(struct spool *sp, uint64_t seq, size_t len)
{
	unsigned char *f = make_frame(seq, len);
	int err = spool_append(sp, seq, f, len);

	free(f);
	cr_assert_eq(err, 0, "append %" PRIu64 ": %s", seq, strerror(-err));
}

/* A size that varies with @seq, for the tests that need no exact layout. */
static size_t some_len(uint64_t seq)
{
	return FRAME_HDR + (size_t)(seq * 7919 % 997);
}

/*
 * Walks the frames in @b, checks each, and stores their seqs in @seqs (at
 * most @max). Returns how many there were.
 */
static size_t split(const struct buf *b, uint64_t *seqs, size_t max)
{
	size_t pos = 0, n = 0;

	while (pos < b->len) {
		uint32_t len;
		uint64_t seq;

		cr_assert_geq(b->len - pos, FRAME_HDR);
		memcpy(&len, b->data + pos, 4);
		memcpy(&seq, b->data + pos + 4, 8);
		cr_assert_geq(len, FRAME_HDR);
		cr_assert_leq(len, b->len - pos, "frame %" PRIu64 " runs past the read", seq);
		for (size_t i = FRAME_HDR; i < len; i++)
			cr_assert_eq(b->data[pos + i], pattern(seq, i),
				     "frame %" PRIu64 " byte %zu", seq, i);
		cr_assert_lt(n, max);
		seqs[n++] = seq;
		pos += len;
	}
	return n;
}

/* Reads everything after @after and checks it is exactly @want[0..n). */
static void expect_frames(struct spool *sp, uint64_t after, const uint64_t *want, size_t n)
{
	uint64_t got[4096], last = 12345;
	struct buf b;
	size_t k;

	buf_init(&b, 1ull << 30);
	cr_assert_eq(spool_read(sp, after, SIZE_MAX, &b, &last), 0);
	k = split(&b, got, PRP_ARRAY_SIZE(got));
	buf_release(&b);
	cr_assert_eq(k, n, "read %zu frames, want %zu", k, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "frame %zu is seq %" PRIu64 ", want %" PRIu64, i,
			     got[i], want[i]);
	cr_assert_eq(last, n ? want[n - 1] : after);
}

/* Expects the frames @from..@to (none when @from > @to). */
static void expect_range(struct spool *sp, uint64_t after, uint64_t from, uint64_t to)
{
	uint64_t want[4096];
	size_t n = 0;

	for (uint64_t s = from; s <= to; s++)
		want[n++] = s;
	expect_frames(sp, after, want, n);
}

/* ---- Files ---- */

static void seg_path(char *out, size_t len, uint64_t first)
{
	snprintf(out, len, "%s/%020" PRIu64 ".seg", dir, first);
}

static bool seg_exists(uint64_t first)
{
	char path[160];

	seg_path(path, sizeof(path), first);
	return access(path, F_OK) == 0;
}

static off_t seg_size(uint64_t first)
{
	char path[160];
	struct stat st;

	seg_path(path, sizeof(path), first);
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	return st.st_size;
}

static int count_files(const char *suffix)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), s = strlen(suffix);

		n += l >= s && !strcmp(de->d_name + l - s, suffix) && de->d_name[0] != '.';
	}
	closedir(d);
	return n;
}

static void write_at(const char *path, off_t off, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY);

	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(pwrite(fd, p, n, off), (ssize_t)n);
	close(fd);
}

/* Creates an empty file. */
static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	cr_assert_geq(fd, 0, "%s", path);
	close(fd);
}

static void read_text(const char *name, char *out, size_t len)
{
	char path[160];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

static struct spool *open_spool(uint64_t max_bytes)
{
	struct spool *sp = NULL;

	cr_assert_eq(spool_open(&sp, dir, max_bytes), 0);
	cr_assert_not_null(sp);
	return sp;
}

static struct spool_stats stats(struct spool *sp)
{
	struct spool_stats st;

	spool_stats(sp, &st);
	return st;
}

/* ---- Order, reopen ---- */

Test(spool, appends_reads_and_acks_in_order)
{
	struct spool *sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	struct stat st;
	uint64_t bytes = 0;

	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "the directory is made 0700");
	cr_assert_eq(spool_next_seq(sp), 1, "sequence numbers start at 1");
	expect_range(sp, 0, 1, 0);
	for (uint64_t s = 1; s <= 10; s++) {
		append(sp, s, some_len(s));
		bytes += REC_HDR + some_len(s);
	}
	cr_assert_eq(spool_next_seq(sp), 11);
	cr_assert_eq(stats(sp).frames, 10);
	cr_assert_eq(stats(sp).bytes, bytes);
	expect_range(sp, 0, 1, 10);
	expect_range(sp, 4, 5, 10);
	expect_range(sp, 10, 1, 0);

	cr_assert_eq(spool_ack(sp, 4), 0);
	for (uint64_t s = 1; s <= 4; s++)
		bytes -= REC_HDR + some_len(s);
	cr_assert_eq(stats(sp).acked_seq, 4);
	cr_assert_eq(stats(sp).frames, 6);
	cr_assert_eq(stats(sp).bytes, bytes);
	expect_range(sp, 0, 5, 10); /* acknowledged frames are not read again */
	cr_assert_eq(spool_ack(sp, 2), 0, "an old ack is harmless");
	cr_assert_eq(stats(sp).acked_seq, 4);

	cr_assert_eq(spool_append(sp, 12, "0123456789abcdef", 16), -EINVAL, "seq must be next");
	cr_assert_eq(spool_append(sp, 11, "", 0), -EINVAL, "no empty frames");
	cr_assert_eq(spool_ack(sp, 11), -EINVAL, "a seq never given out");
	cr_assert_eq(spool_next_seq(sp), 11);
	cr_assert_eq(stats(sp).lost_frames, 0);
	spool_close(sp);
	spool_close(NULL);
}

Test(spool, reopen_keeps_frames_acks_and_next_seq)
{
	struct spool *sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	struct spool_stats before, after;
	char text[32];

	for (uint64_t s = 1; s <= 20; s++)
		append(sp, s, some_len(s));
	cr_assert_eq(spool_ack(sp, 5), 0);
	before = stats(sp);
	spool_close(sp);

	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	after = stats(sp);
	cr_assert_eq(after.bytes, before.bytes);
	cr_assert_eq(after.frames, before.frames);
	cr_assert_eq(after.lost_frames, before.lost_frames);
	cr_assert_eq(after.acked_seq, 5);
	cr_assert_eq(stats(sp).next_seq, 21);
	cr_assert_eq(stats(sp).frames, 15);
	expect_range(sp, 0, 6, 20);
	append(sp, 21, some_len(21));

	/* everything acknowledged: no segment is left, the numbering goes on */
	cr_assert_eq(spool_ack(sp, 21), 0);
	cr_assert_eq(count_files(".seg"), 0);
	read_text("acked", text, sizeof(text));
	cr_assert_str_eq(text, "21\n");
	spool_close(sp);
	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	cr_assert_eq(spool_next_seq(sp), 22);
	cr_assert_eq(stats(sp).frames, 0);
	cr_assert_eq(stats(sp).bytes, 0);
	append(sp, 22, some_len(22));
	expect_range(sp, 0, 22, 22);
	cr_assert(seg_exists(22));
	spool_close(sp);
}

/* ---- Damage ---- */

Test(spool, torn_last_record_is_cut_and_the_rest_survives)
{
	struct spool *sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	char path[160];
	off_t full;
	size_t rec5 = REC_HDR + some_len(5);

	for (uint64_t s = 1; s <= 5; s++)
		append(sp, s, some_len(s));
	spool_close(sp);
	full = seg_size(1);

	/* mid-frame */
	seg_path(path, sizeof(path), 1);
	cr_assert_eq(truncate(path, full - 3), 0);
	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	cr_assert_eq(seg_size(1), full - (off_t)rec5, "the torn record is cut off the file");
	cr_assert_eq(spool_next_seq(sp), 5, "the torn append never returned: its seq is free");
	cr_assert_eq(stats(sp).frames, 4);
	expect_range(sp, 0, 1, 4);
	append(sp, 5, some_len(5));
	spool_close(sp);
	cr_assert_eq(seg_size(1), full);

	/* mid-header */
	cr_assert_eq(truncate(path, full - (off_t)rec5 + 5), 0);
	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	cr_assert_eq(seg_size(1), full - (off_t)rec5);
	cr_assert_eq(spool_next_seq(sp), 5);
	append(sp, 5, some_len(5));
	append(sp, 6, some_len(6));
	spool_close(sp);

	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	expect_range(sp, 0, 1, 6);
	cr_assert_eq(stats(sp).lost_frames, 0);
	spool_close(sp);
}

Test(spool, bad_crc_ends_the_last_segment_and_its_seqs_are_not_reused)
{
	struct spool *sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	char path[160];
	off_t off = 0, size;
	unsigned char crc0;

	for (uint64_t s = 1; s <= 6; s++)
		append(sp, s, some_len(s));
	spool_close(sp);
	for (uint64_t s = 1; s < 3; s++)
		off += REC_HDR + (off_t)some_len(s);
	seg_path(path, sizeof(path), 1);
	size = seg_size(1);
	{
		int fd = open(path, O_RDONLY);

		cr_assert_eq(pread(fd, &crc0, 1, off + 4), 1);
		close(fd);
	}
	crc0 ^= 0x40;
	write_at(path, off + 4, &crc0, 1); /* the crc of record 3 */

	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	expect_range(sp, 0, 1, 2);
	cr_assert_eq(stats(sp).frames, 2);
	/* 3..6 may have reached the aggregator: giving them out again would lose frames */
	cr_assert_eq(spool_next_seq(sp), 7);
	cr_assert_eq(seg_size(1), size, "complete records are not cut");
	append(sp, 7, some_len(7));
	cr_assert(seg_exists(7), "new frames go to a new segment");
	cr_assert_eq(seg_size(1), size);
	spool_close(sp);

	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	expect_frames(sp, 0, (uint64_t[]){ 1, 2, 7 }, 3);
	cr_assert_eq(spool_next_seq(sp), 8);
	cr_assert_eq(spool_ack(sp, 7), 0);
	cr_assert_eq(count_files(".seg"), 0);
	spool_close(sp);
}

Test(spool, bad_crc_in_an_older_segment_ends_only_that_segment)
{
	struct spool *sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	char path[160];
	unsigned char b;

	for (uint64_t s = 1; s <= 6; s++)
		append(sp, s, FRAME_1MIB);
	spool_close(sp);
	cr_assert(seg_exists(1) && seg_exists(5));
	seg_path(path, sizeof(path), 1);
	b = 0xff;
	write_at(path, (off_t)MIB + 4, &b, 1); /* the crc of record 2 */
	b = 0x00;
	write_at(path, (off_t)MIB + 5, &b, 1);

	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	expect_frames(sp, 0, (uint64_t[]){ 1, 5, 6 }, 3);
	cr_assert_eq(stats(sp).frames, 3);
	cr_assert_eq(stats(sp).bytes, 3 * MIB);
	cr_assert_eq(spool_next_seq(sp), 7);
	append(sp, 7, some_len(7));
	spool_close(sp);
	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	expect_frames(sp, 0, (uint64_t[]){ 1, 5, 6, 7 }, 4);
	spool_close(sp);
}

Test(spool, foreign_and_corrupt_files_are_skipped)
{
	struct spool *sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	char path[160];

	for (uint64_t s = 1; s <= 3; s++)
		append(sp, s, some_len(s));
	cr_assert_eq(spool_ack(sp, 1), 0);
	spool_close(sp);

	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	touch(path);
	snprintf(path, sizeof(path), "%s/99.seg", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/%020d.seg", dir, 77);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/lost", dir);
	touch(path);
	write_at(path, 0, "many\n", 5);

	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	expect_range(sp, 0, 2, 3);
	cr_assert_eq(stats(sp).lost_frames, 0, "a corrupt count reads as 0");
	cr_assert_eq(spool_next_seq(sp), 4);
	append(sp, 4, some_len(4));
	spool_close(sp);

	/* a corrupt acked file: everything is replayed, nothing is lost */
	snprintf(path, sizeof(path), "%s/acked", dir);
	cr_assert_eq(truncate(path, 0), 0);
	write_at(path, 0, "1x\n", 3);
	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	expect_range(sp, 0, 1, 4);
	spool_close(sp);
}

Test(spool, ack_deletes_a_segment_only_when_all_its_frames_are_acked)
{
	struct spool *sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);

	for (uint64_t s = 1; s <= 10; s++)
		append(sp, s, FRAME_1MIB);
	cr_assert_eq(count_files(".seg"), 3);
	cr_assert(seg_exists(1) && seg_exists(5) && seg_exists(9), "segments roll at 4 MiB");
	cr_assert_eq(seg_size(1), (off_t)(4 * MIB));

	cr_assert_eq(spool_ack(sp, 3), 0);
	cr_assert_eq(count_files(".seg"), 3, "segment 1 still holds frame 4");
	cr_assert_eq(stats(sp).bytes, 7 * MIB);
	cr_assert_eq(spool_ack(sp, 4), 0);
	cr_assert(!seg_exists(1) && seg_exists(5) && seg_exists(9));
	cr_assert_eq(spool_ack(sp, 9), 0);
	cr_assert(!seg_exists(5) && seg_exists(9));
	cr_assert_eq(stats(sp).frames, 1);
	cr_assert_eq(spool_ack(sp, 10), 0);
	cr_assert_eq(count_files(".seg"), 0, "the written segment goes too once all acked");
	cr_assert_eq(stats(sp).bytes, 0);
	append(sp, 11, some_len(11));
	cr_assert(seg_exists(11));
	expect_range(sp, 0, 11, 11);
	spool_close(sp);
}

/* ---- The bound ---- */

/* Captures the log into a file under root; returns its fd. */
static int capture_log(void)
{
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/log", root);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
	cr_assert_geq(fd, 0);
	log_set_fd(fd);
	return fd;
}

static int count_lines(int fd, const char *needle)
{
	char text[8192];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	int lines = 0;

	cr_assert_geq(n, 0);
	text[n] = '\0';
	for (char *p = text; (p = strstr(p, needle)); p++)
		lines++;
	return lines;
}

Test(spool, bound_drops_oldest_segments_and_counts_the_unacked_frames)
{
	struct spool *sp = open_spool(10 * MIB);
	int logfd = capture_log();
	char text[32];

	for (uint64_t s = 1; s <= 10; s++)
		append(sp, s, FRAME_1MIB);
	cr_assert_eq(spool_ack(sp, 2), 0);
	append(sp, 11, FRAME_1MIB);
	append(sp, 12, FRAME_1MIB);
	cr_assert_eq(stats(sp).bytes, 10 * MIB, "exactly at the bound");
	cr_assert_eq(stats(sp).lost_frames, 0);
	cr_assert_eq(count_lines(logfd, "dropped"), 0);

	append(sp, 13, FRAME_1MIB); /* segment 1 goes: frames 3 and 4 were unacked */
	cr_assert_eq(stats(sp).lost_frames, 2);
	cr_assert(!seg_exists(1) && seg_exists(5) && seg_exists(9) && seg_exists(13));
	cr_assert_eq(stats(sp).frames, 9);
	cr_assert_eq(stats(sp).bytes, 9 * MIB);
	cr_assert_eq(count_lines(logfd, "dropped"), 1);
	cr_assert_eq(count_lines(logfd, "dropped 2 frames"), 1);
	read_text("lost", text, sizeof(text));
	cr_assert_str_eq(text, "2\n");
	expect_range(sp, 0, 5, 13);

	append(sp, 14, FRAME_1MIB);
	append(sp, 15, FRAME_1MIB); /* segment 5 goes: 4 frames */
	cr_assert_eq(stats(sp).lost_frames, 6);
	cr_assert(!seg_exists(5));
	cr_assert_eq(count_lines(logfd, "dropped"), 2);
	cr_assert_leq(stats(sp).bytes, 10 * MIB);
	spool_close(sp);
	log_set_fd(2);
	close(logfd);

	sp = open_spool(10 * MIB);
	cr_assert_eq(stats(sp).lost_frames, 6, "the count survives a restart");
	cr_assert_eq(spool_next_seq(sp), 16);
	expect_range(sp, 0, 9, 15);
	spool_close(sp);
}

Test(spool, bound_drops_the_written_segment_when_it_is_the_only_one)
{
	struct spool *sp = open_spool(5 * MIB / 2);

	append(sp, 1, FRAME_1MIB);
	append(sp, 2, FRAME_1MIB);
	append(sp, 3, FRAME_1MIB);
	cr_assert_eq(stats(sp).lost_frames, 2);
	cr_assert(!seg_exists(1) && seg_exists(3), "the new frame starts a fresh segment");
	cr_assert_eq(count_files(".seg"), 1);
	expect_range(sp, 0, 3, 3);
	append(sp, 4, FRAME_1MIB);
	expect_range(sp, 0, 3, 4);
	spool_close(sp);
	sp = open_spool(5 * MIB / 2);
	expect_range(sp, 0, 3, 4);
	cr_assert_eq(stats(sp).lost_frames, 2);
	spool_close(sp);
}

Test(spool, frame_larger_than_the_bound_is_emsgsize)
{
	struct spool *sp = open_spool(1000);
	unsigned char *f = make_frame(1, 1000);

	cr_assert_eq(spool_append(sp, 1, f, 1000 - REC_HDR + 1), -EMSGSIZE);
	cr_assert_eq(spool_append(sp, 1, f, 1000), -EMSGSIZE);
	cr_assert_eq(spool_next_seq(sp), 1);
	cr_assert_eq(count_files(".seg"), 0);
	free(f);
	append(sp, 1, 1000 - REC_HDR); /* a record of exactly the bound fits */
	append(sp, 2, 100);
	cr_assert_eq(stats(sp).lost_frames, 1);
	expect_range(sp, 0, 2, 2);
	spool_close(sp);
}

/* ---- spool_read's limits ---- */

Test(spool, read_stops_at_max_bytes_but_returns_at_least_one)
{
	struct spool *sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	uint64_t seqs[16], last;
	struct buf b, small;

	for (uint64_t s = 1; s <= 10; s++)
		append(sp, s, 100);
	buf_init(&b, 1 << 20);
	cr_assert_eq(spool_read(sp, 0, 250, &b, &last), 0);
	cr_assert_eq(split(&b, seqs, 16), 2);
	cr_assert_eq(last, 2);
	cr_assert_eq(b.len, 200);

	buf_reset(&b);
	cr_assert_eq(spool_read(sp, 2, 300, &b, &last), 0);
	cr_assert_eq(split(&b, seqs, 16), 3, "exactly fitting frames are taken");
	cr_assert_eq(last, 5);

	buf_reset(&b);
	cr_assert_eq(spool_read(sp, 5, 50, &b, &last), 0);
	cr_assert_eq(split(&b, seqs, 16), 1, "at least one, however small the limit");
	cr_assert_eq(seqs[0], 6);
	cr_assert_eq(last, 6);

	buf_reset(&b);
	cr_assert_eq(spool_read(sp, 6, 0, &b, &last), 0);
	cr_assert_eq(split(&b, seqs, 16), 1);
	cr_assert_eq(last, 7);

	/* frames are appended after what @out holds already */
	cr_assert_eq(spool_read(sp, 7, 100, &b, &last), 0);
	cr_assert_eq(split(&b, seqs, 16), 2);
	cr_assert_eq(seqs[1], 8);
	buf_release(&b);

	/* @out's own cap also ends the read; a first frame past it is an error */
	buf_init(&small, 250);
	cr_assert_eq(spool_read(sp, 0, SIZE_MAX, &small, &last), 0);
	cr_assert_eq(small.len, 200);
	cr_assert_eq(last, 2);
	buf_release(&small);
	buf_init(&small, 50);
	cr_assert_eq(spool_read(sp, 0, SIZE_MAX, &small, &last), -E2BIG);
	cr_assert_eq(small.len, 0);
	cr_assert_eq(last, 0);
	buf_release(&small);

	buf_init(&b, 1 << 20);
	cr_assert_eq(spool_read(sp, 10, 1000, &b, &last), 0);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(last, 10, "@after when there is nothing");
	buf_release(&b);
	spool_close(sp);
}

/* ---- A crash mid-append ---- */

static size_t big_len(uint64_t seq)
{
	return FRAME_HDR + (size_t)(seq * 104729 % (384 << 10));
}

/* Appends until killed, reporting each seq whose append returned. */
static PRP_NORETURN void child_appends(int wfd)
{
	struct spool *sp;

	if (spool_open(&sp, dir, SPOOL_DEFAULT_MAX_BYTES))
		_exit(2);
	for (;;) {
		uint64_t seq = spool_next_seq(sp);
		size_t len = big_len(seq);
		unsigned char *f = make_frame(seq, len);

		if (spool_append(sp, seq, f, len) ||
		    write(wfd, &seq, sizeof(seq)) != (ssize_t)sizeof(seq))
			_exit(3);
		free(f);
	}
}

/* Runs the child until it has appended past @until; returns the last seq it reported. */
static uint64_t append_until_killed(uint64_t until, useconds_t extra_us)
{
	uint64_t seq = 0, got;
	int p[2], status;
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		close(p[0]);
		child_appends(p[1]);
	}
	close(p[1]);
	while (seq < until)
		cr_assert_eq(read(p[0], &seq, sizeof(seq)), (ssize_t)sizeof(seq),
			     "the child stopped");
	usleep(extra_us);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status), "the child exited with %d", WEXITSTATUS(status));
	while (read(p[0], &got, sizeof(got)) == (ssize_t)sizeof(got))
		seq = got;
	close(p[0]);
	return seq;
}

/* Checks the spool holds exactly 1..n, for some n in [@reported, @reported+2]. */
static uint64_t check_after_crash(uint64_t reported)
{
	struct spool *sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	uint64_t n = spool_next_seq(sp) - 1, disk = 0, rec = 0;
	struct dirent *de;
	DIR *d;

	cr_assert_geq(n, reported, "an append that returned was lost");
	/* one more may be whole (returned, not reported); one more written, not synced */
	cr_assert_leq(n, reported + 2);
	cr_assert_eq(stats(sp).frames, n);
	expect_range(sp, 0, 1, n);
	for (uint64_t s = 1; s <= n; s++)
		rec += REC_HDR + big_len(s);
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		uint64_t first;

		if (sscanf(de->d_name, "%20" SCNu64 ".seg", &first) == 1 &&
		    strlen(de->d_name) == 24)
			disk += (uint64_t)seg_size(first);
	}
	closedir(d);
	cr_assert_eq(disk, rec, "nothing after the last whole record is left on disk");
	spool_close(sp);
	return n;
}

Test(spool, process_killed_mid_append_keeps_every_returned_frame)
{
	uint64_t n = 0;

	for (int round = 0; round < 4; round++) {
		uint64_t reported = append_until_killed(n + 20, (useconds_t)round * 3000);

		n = check_after_crash(reported);
	}
	cr_assert_geq(n, 80);
}

/* ---- Threads ---- */

#define NTHREAD_FRAMES 3000

static void *appender(void *arg)
{
	struct spool *sp = arg;

	for (uint64_t s = 1; s <= NTHREAD_FRAMES; s++) {
		size_t len = FRAME_HDR + (size_t)(s % 61);
		unsigned char *f = make_frame(s, len);
		int err = spool_append(sp, s, f, len);

		free(f);
		if (err)
			return (void *)(uintptr_t)s;
	}
	return NULL;
}

Test(spool, concurrent_append_and_read_ack_lose_and_duplicate_nothing)
{
	struct spool *sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	uint64_t expect = 1, last = 0, seqs[512];
	pthread_t th;
	void *ret;
	struct buf b;

	buf_init(&b, 1 << 20);
	cr_assert_eq(pthread_create(&th, NULL, appender, sp), 0);
	while (last < NTHREAD_FRAMES) {
		uint64_t l;
		size_t n;

		buf_reset(&b);
		cr_assert_eq(spool_read(sp, last, 2048, &b, &l), 0);
		n = split(&b, seqs, PRP_ARRAY_SIZE(seqs));
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(seqs[i], expect++, "a frame lost or repeated");
		if (!n) {
			cr_assert_eq(l, last);
			usleep(200);
			continue;
		}
		cr_assert_eq(l, expect - 1);
		last = l;
		cr_assert_eq(spool_ack(sp, last), 0);
	}
	cr_assert_eq(pthread_join(th, &ret), 0);
	cr_assert_null(ret, "append failed");
	buf_release(&b);
	cr_assert_eq(stats(sp).frames, 0);
	cr_assert_eq(stats(sp).bytes, 0);
	cr_assert_eq(stats(sp).lost_frames, 0);
	cr_assert_eq(count_files(".seg"), 0);
	spool_close(sp);
}

Test(spool, skip_to_drops_what_the_aggregator_would_take_for_duplicates)
{
	struct spool *sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	struct spool_stats st;

	for (uint64_t seq = 1; seq <= 3; seq++)
		append(sp, seq, some_len(seq));
	cr_assert_eq(spool_skip_to(sp, 2), 0); /* below next_seq: nothing to do */
	st = stats(sp);
	cr_expect_eq(st.frames, 3);
	cr_expect_eq(st.next_seq, 4);
	cr_assert_eq(spool_skip_to(sp, 10), 0);
	st = stats(sp);
	cr_expect_eq(st.frames, 0);
	cr_expect_eq(st.bytes, 0);
	cr_expect_eq(st.lost_frames, 3);
	cr_expect_eq(st.acked_seq, 10);
	cr_expect_eq(st.next_seq, 11);
	append(sp, 11, some_len(11));
	spool_close(sp);

	sp = open_spool(SPOOL_DEFAULT_MAX_BYTES);
	st = stats(sp);
	cr_expect_eq(st.lost_frames, 3);
	cr_expect_eq(st.next_seq, 12);
	expect_range(sp, 10, 11, 11);
	spool_close(sp);
}
