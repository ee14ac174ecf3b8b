/*
 * The agent's on-disk spool (spool.h has the layout and the contract).
 *
 * In memory the spool is the list of its segments, oldest first, each with
 * the offset of every valid record, so that a frame is found without reading
 * the files and the frames themselves stay on disk. A record's sequence
 * number is its segment's first seq + its index, so appends to a segment
 * must be contiguous: a frame whose seq is not the current segment's next
 * one (after a gap) starts a new segment.
 *
 * Invariants, under the mutex:
 *  - segs[] is ordered by first; segments never overlap in seq;
 *  - only the last segment is ever appended to, and its file size is the
 *    end of its last record (seg.size);
 *  - next_seq > every seq ever spooled, counted as skipped or acknowledged,
 *    in this run or (through the segment names and DIR/acked) an earlier
 *    one, so a seq the aggregator may have seen is never given out again;
 *  - bytes and frames count only records with seq > acked.
 *
 * Crashes. Each append is fdatasync()ed before it returns, and a new
 * segment's directory entry is made durable before its first record is
 * written, so a returned append survives. A crash mid-append leaves at most
 * one incomplete record at the end of the last segment, which open cuts off.
 * A complete record whose crc fails (a write the crash left as garbage, or
 * a disk that corrupted it) ends its segment; in the last segment the
 * complete records from it on are counted and next_seq skips their seqs
 * (the aggregator may have stored some), and new frames go to a new
 * segment. DIR/acked and DIR/lost are replaced atomically (temp file,
 * fsync, rename, directory fsync).
 *
 * Bytes are counted as on disk: each frame plus its 8-byte record header,
 * both for spool_stats.bytes and for the bound, so -EMSGSIZE means the
 * frame's record alone would exceed max_bytes.
 *
 * Threads: one mutex guards the spool, and it is held across the file I/O
 * of an append (its fdatasync) and of a read. There is a wait here: the
 * sender may wait for one fdatasync and the main loop for one read of at
 * most max_bytes; frames are one per second, so we accept it for a simple
 * proof that no frame is lost or read twice.
 *
 * Ordering chosen where a crash can fall between two steps: DIR/acked is
 * written before acknowledged segments are unlinked (a segment that comes
 * back is only skipped again), and DIR/lost before the dropped segments are
 * unlinked (a crash there over-counts lost frames, never hides a loss).
 */
#include "agent/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/log.h"

#define SPOOL_REC_HDR	  8u /* u32 length, u32 crc32, both little-endian */
#define SPOOL_NAME_DIGITS 20 /* UINT64_MAX has 20 decimal digits */
#define SPOOL_NAME_LEN	  (SPOOL_NAME_DIGITS + 4)
#define SPOOL_CHUNK	  (64u << 10) /* crc is computed at open in chunks this big */

struct seg {
	uint64_t first;	  /* seq of record 0, and the file's name */
	uint64_t count;	  /* valid records */
	uint64_t skipped; /* complete records after a bad crc (last segment at open only) */
	uint64_t size;	  /* end of the last valid record */
	uint64_t *off;	  /* offset of each valid record */
	size_t off_alloc;
};

struct spool {
	int dirfd;
	char *dir;
	uint64_t max_bytes;

	pthread_mutex_t lock; /* guards everything below */
	struct seg *segs;     /* oldest first */
	size_t nsegs, segs_alloc;
	int cur_fd; /* the last segment, open for appends; -1 until needed */
	uint64_t acked, lost, next_seq;
	uint64_t bytes, frames;
	unsigned char *scratch; /* one record at a time: reads and crc checks */
	size_t scratch_alloc;
};

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void seg_name(char out[SPOOL_NAME_LEN + 1], uint64_t first)
{
	snprintf(out, SPOOL_NAME_LEN + 1, "%020" PRIu64 ".seg", first);
}

/* Parses a segment file name; false for anything else. */
static bool seg_parse_name(const char *name, uint64_t *first)
{
	uint64_t v = 0;
	int i;

	if (strlen(name) != SPOOL_NAME_LEN || strcmp(name + SPOOL_NAME_DIGITS, ".seg"))
		return false;
	for (i = 0; i < SPOOL_NAME_DIGITS; i++) {
		unsigned d = (unsigned)(name[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*first = v;
	return v > 0;
}

static void scratch_reserve(struct spool *sp, size_t n)
{
	if (n <= sp->scratch_alloc)
		return;
	sp->scratch = xreallocarray(sp->scratch, n, 1);
	sp->scratch_alloc = n;
}

/* pread() all of @n bytes; -EIO when the file ends first. */
static int pread_full(int fd, void *p, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (char *)p + done, n - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return 0;
}

static int fsync_dir(struct spool *sp)
{
	return fsync(sp->dirfd) ? -errno : 0;
}

/* ---- DIR/acked and DIR/lost: one decimal number, replaced atomically ---- */

static int counter_write(struct spool *sp, const char *name, uint64_t v)
{
	char tmp[32], text[32];
	int fd, err = 0, n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	n = snprintf(text, sizeof(text), "%" PRIu64 "\n", v);
	fd = openat(sp->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	errno = 0;
	if (write(fd, text, (size_t)n) != n)
		err = errno ? -errno : -EIO;
	else if (fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(sp->dirfd, tmp, sp->dirfd, name))
		err = -errno;
	if (!err)
		err = fsync_dir(sp);
	if (err)
		log_warn_err(err, "spool: cannot write '%s/%s'", sp->dir, name);
	return err;
}

/* 0 when the file is missing; an unreadable or corrupt one is logged and read as 0. */
static void counter_read(struct spool *sp, const char *name, uint64_t *v)
{
	char text[32], *end;
	ssize_t n;
	int fd;

	*v = 0;
	fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn_err(-errno, "spool: ignoring '%s/%s'", sp->dir, name);
		return;
	}
	do
		n = pread(fd, text, sizeof(text) - 1, 0);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0) {
		log_warn_err(-errno, "spool: ignoring '%s/%s'", sp->dir, name);
		return;
	}
	text[n] = '\0';
	errno = 0;
	*v = strtoull(text, &end, 10);
	if (n < 2 || text[0] < '0' || text[0] > '9' || errno || strcmp(end, "\n")) {
		log_warn("spool: ignoring corrupt '%s/%s'", sp->dir, name);
		*v = 0;
	}
}

/* ---- Segments in memory ---- */

static void seg_push_off(struct seg *s, uint64_t off)
{
	if (s->count == s->off_alloc) {
		s->off_alloc = s->off_alloc ? s->off_alloc * 2 : 16;
		s->off = xreallocarray(s->off, s->off_alloc, sizeof(*s->off));
	}
	s->off[s->count++] = off;
}

static struct seg *seg_add(struct spool *sp, uint64_t first)
{
	struct seg *s;

	if (sp->nsegs == sp->segs_alloc) {
		sp->segs_alloc = sp->segs_alloc ? sp->segs_alloc * 2 : 8;
		sp->segs = xreallocarray(sp->segs, sp->segs_alloc, sizeof(*sp->segs));
	}
	s = &sp->segs[sp->nsegs++];
	memset(s, 0, sizeof(*s));
	s->first = first;
	return s;
}

/* Forgets segment @i (the file is the caller's business). */
static void seg_remove(struct spool *sp, size_t i)
{
	if (i == sp->nsegs - 1 && sp->cur_fd >= 0) {
		close(sp->cur_fd);
		sp->cur_fd = -1;
	}
	free(sp->segs[i].off);
	memmove(&sp->segs[i], &sp->segs[i + 1], (sp->nsegs - i - 1) * sizeof(*sp->segs));
	sp->nsegs--;
}

static int seg_unlink(struct spool *sp, uint64_t first)
{
	char name[SPOOL_NAME_LEN + 1];

	seg_name(name, first);
	if (unlinkat(sp->dirfd, name, 0) && errno != ENOENT) {
		int err = -errno;

		log_warn_err(err, "spool: cannot delete '%s/%s'", sp->dir, name);
		return err;
	}
	return 0;
}

/* Index of @s's first record with seq > @acked. */
static uint64_t seg_first_unacked(const struct seg *s, uint64_t acked)
{
	if (acked < s->first)
		return 0;
	return acked - s->first + 1 < s->count ? acked - s->first + 1 : s->count;
}

static uint64_t seg_unacked_bytes(const struct seg *s, uint64_t acked)
{
	uint64_t i = seg_first_unacked(s, acked);

	return i < s->count ? s->size - s->off[i] : 0;
}

static void spool_recount(struct spool *sp)
{
	size_t i;

	sp->bytes = 0;
	sp->frames = 0;
	for (i = 0; i < sp->nsegs; i++) {
		struct seg *s = &sp->segs[i];

		sp->bytes += seg_unacked_bytes(s, sp->acked);
		sp->frames += s->count - seg_first_unacked(s, sp->acked);
	}
}

/* True when every seq @s holds or skipped is acknowledged. */
static bool seg_all_acked(const struct seg *s, uint64_t acked)
{
	return s->count + s->skipped > 0 && s->first + s->count + s->skipped - 1 <= acked;
}

/* Deletes the segments whose frames are all acknowledged. */
static void spool_delete_acked(struct spool *sp)
{
	size_t i = 0;

	while (i < sp->nsegs) {
		if (seg_all_acked(&sp->segs[i], sp->acked) && !seg_unlink(sp, sp->segs[i].first))
			seg_remove(sp, i);
		else
			i++;
	}
}

/* ---- Open: scan and validate the segments ---- */

/* crc32 of @len bytes at @off of @fd, read in chunks. */
static int crc_range(struct spool *sp, int fd, uint64_t off, uint64_t len, uint32_t *crc)
{
	uLong c = crc32(0L, Z_NULL, 0);
	int err;

	scratch_reserve(sp, SPOOL_CHUNK);
	while (len) {
		size_t n = len < SPOOL_CHUNK ? (size_t)len : SPOOL_CHUNK;

		err = pread_full(fd, sp->scratch, n, off);
		if (err)
			return err;
		c = crc32(c, sp->scratch, (uInt)n);
		off += n;
		len -= n;
	}
	*crc = (uint32_t)c;
	return 0;
}

/*
 * Reads the record header at @pos. 1 with the frame length when a complete
 * record (as its header says) fits before @end, 0 when not (a torn tail).
 */
static int rec_header(int fd, uint64_t pos, uint64_t end, uint32_t *len, uint32_t *crc)
{
	unsigned char h[SPOOL_REC_HDR];
	int err;

	if (end - pos < SPOOL_REC_HDR)
		return 0;
	err = pread_full(fd, h, sizeof(h), pos);
	if (err)
		return err;
	*len = get_le32(h);
	*crc = get_le32(h + 4);
	return *len > 0 && *len <= end - pos - SPOOL_REC_HDR;
}

/*
 * Fills @s from the file: the valid records up to the first bad one, then
 * the complete records from there on (skipped), and *complete_end, the end
 * of the last complete record.
 */
static int seg_scan(struct spool *sp, int fd, struct seg *s, uint64_t file_size,
		    uint64_t *complete_end)
{
	uint64_t pos = 0;
	uint32_t len = 0, crc = 0, got;
	bool bad = false;
	int r;

	for (;;) {
		r = rec_header(fd, pos, file_size, &len, &crc);
		if (r <= 0)
			break;
		if (!bad) {
			r = crc_range(sp, fd, pos + SPOOL_REC_HDR, len, &got);
			if (r)
				return r;
			bad = got != crc;
		}
		if (bad) {
			s->skipped++;
		} else {
			seg_push_off(s, pos);
			s->size = pos + SPOOL_REC_HDR + len;
		}
		pos += SPOOL_REC_HDR + len;
	}
	*complete_end = pos;
	return r;
}

/* Scans the file of segment @first and adds it, unless it is unusable. */
static int spool_load_seg(struct spool *sp, uint64_t first, bool last)
{
	char name[SPOOL_NAME_LEN + 1];
	uint64_t end, prev_end = 0;
	struct seg *s;
	struct stat st;
	int fd, err;

	seg_name(name, first);
	if (sp->nsegs)
		prev_end = sp->segs[sp->nsegs - 1].first + sp->segs[sp->nsegs - 1].count;
	if (first < prev_end) {
		log_warn("spool: ignoring '%s/%s': it overlaps the segment before it", sp->dir,
			 name);
		return 0;
	}
	fd = openat(sp->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		log_warn_err(-errno, "spool: ignoring '%s/%s'", sp->dir, name);
		return 0;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		log_warn("spool: ignoring '%s/%s': not a regular file", sp->dir, name);
		close(fd);
		return 0;
	}
	s = seg_add(sp, first);
	err = seg_scan(sp, fd, s, (uint64_t)st.st_size, &end);
	if (err) {
		log_error_err(err, "spool: cannot read '%s/%s'", sp->dir, name);
		goto out_close;
	}
	if (s->skipped)
		log_warn("spool: '%s/%s' ends at a bad crc after %" PRIu64
			 " frames, skipping %" PRIu64 " more",
			 sp->dir, name, s->count, s->skipped);
	if (!last)
		s->skipped = 0; /* the next segment's name already passes them */
	if (last && end < (uint64_t)st.st_size) {
		log_warn("spool: cutting a torn record of %" PRIu64 " bytes off '%s/%s'",
			 (uint64_t)st.st_size - end, sp->dir, name);
		if (ftruncate(fd, (off_t)end) || fdatasync(fd)) {
			err = -errno;
			log_error_err(err, "spool: cannot cut '%s/%s'", sp->dir, name);
			goto out_close;
		}
	}
	if (!last && !s->count) {
		log_info("spool: deleting empty segment '%s/%s'", sp->dir, name);
		sp->nsegs--;
		free(s->off);
		err = seg_unlink(sp, first);
		goto out_close;
	}
	if (last && s->size == end)
		sp->cur_fd = fd; /* appends may go on here */
	else
		close(fd);
	return 0;

out_close:
	close(fd);
	return err;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The first seqs of the segment files in the directory, sorted; logs others. */
static int spool_list(struct spool *sp, uint64_t **firsts, size_t *n)
{
	size_t alloc = 0;
	struct dirent *de;
	uint64_t first;
	DIR *d;
	int fd;

	*firsts = NULL;
	*n = 0;
	fd = openat(sp->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int err = -errno;

		close(fd);
		return err;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "acked") || !strcmp(de->d_name, "lost"))
			continue;
		if (!strcmp(de->d_name, "acked.tmp") || !strcmp(de->d_name, "lost.tmp")) {
			unlinkat(sp->dirfd, de->d_name, 0); /* a write a crash interrupted */
			continue;
		}
		if (!seg_parse_name(de->d_name, &first)) {
			log_warn("spool: ignoring foreign file '%s/%s'", sp->dir, de->d_name);
			continue;
		}
		if (*n == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			*firsts = xreallocarray(*firsts, alloc, sizeof(**firsts));
		}
		(*firsts)[(*n)++] = first;
	}
	closedir(d);
	if (*n)
		qsort(*firsts, *n, sizeof(**firsts), cmp_u64);
	return 0;
}

static int spool_load(struct spool *sp)
{
	uint64_t *firsts;
	size_t n, i;
	int err;

	counter_read(sp, "acked", &sp->acked);
	counter_read(sp, "lost", &sp->lost);
	err = spool_list(sp, &firsts, &n);
	if (err)
		return err;
	for (i = 0; i < n && !err; i++)
		err = spool_load_seg(sp, firsts[i], i == n - 1);
	free(firsts);
	if (err)
		return err;
	sp->next_seq = sp->acked + 1;
	if (sp->nsegs) {
		struct seg *s = &sp->segs[sp->nsegs - 1];

		if (s->first + s->count + s->skipped > sp->next_seq)
			sp->next_seq = s->first + s->count + s->skipped;
	}
	spool_delete_acked(sp);
	spool_recount(sp);
	return 0;
}

int spool_open(struct spool **out, const char *dir, uint64_t max_bytes)
{
	struct spool *sp;
	int err;

	*out = NULL;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	sp = xcalloc(1, sizeof(*sp));
	sp->cur_fd = -1;
	sp->max_bytes = max_bytes;
	sp->dir = xstrdup(dir);
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0) {
		err = -errno;
		goto out_free;
	}
	err = spool_load(sp);
	if (err)
		goto out_close;
	pthread_mutex_init(&sp->lock, NULL);
	log_info("spool: opened '%s': %" PRIu64 " frames, %" PRIu64 " bytes unacknowledged, "
		 "next seq %" PRIu64,
		 dir, sp->frames, sp->bytes, sp->next_seq);
	*out = sp;
	return 0;

out_close:
	close(sp->dirfd);
out_free:
	log_error_err(err, "spool: cannot open spool '%s'", dir);
	if (sp->cur_fd >= 0)
		close(sp->cur_fd);
	while (sp->nsegs)
		free(sp->segs[--sp->nsegs].off);
	free(sp->segs);
	free(sp->dir);
	free(sp);
	return err;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	if (sp->cur_fd >= 0)
		close(sp->cur_fd);
	while (sp->nsegs)
		free(sp->segs[--sp->nsegs].off);
	free(sp->segs);
	free(sp->scratch);
	close(sp->dirfd);
	pthread_mutex_destroy(&sp->lock);
	free(sp->dir);
	free(sp);
}

uint64_t spool_next_seq(struct spool *sp)
{
	uint64_t seq;

	pthread_mutex_lock(&sp->lock);
	seq = sp->next_seq;
	pthread_mutex_unlock(&sp->lock);
	return seq;
}

/* ---- Append ---- */

/* Drops the oldest segments until @need more bytes fit under the bound. */
static int spool_make_room(struct spool *sp, uint64_t need)
{
	uint64_t bytes = sp->bytes, lost = sp->lost, frames;
	size_t n = 0, i;
	int err;

	while (n < sp->nsegs && bytes + need > sp->max_bytes) {
		bytes -= seg_unacked_bytes(&sp->segs[n], sp->acked);
		lost += sp->segs[n].count - seg_first_unacked(&sp->segs[n], sp->acked);
		n++;
	}
	if (!n)
		return 0;
	err = counter_write(sp, "lost", lost); /* first: a loss is never hidden */
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		struct seg *s = &sp->segs[0];

		frames = s->count - seg_first_unacked(s, sp->acked);
		log_warn("spool: full at %" PRIu64 " bytes, dropped %" PRIu64
			 " frames (seq %" PRIu64 "..%" PRIu64 ")",
			 sp->max_bytes, frames, s->first + s->count - frames,
			 s->first + s->count - 1);
		seg_unlink(sp, s->first);
		seg_remove(sp, 0);
	}
	sp->lost = lost;
	fsync_dir(sp);
	spool_recount(sp);
	return 0;
}

/* Makes sure the last segment can take record @seq of @rec bytes. */
static int spool_pick_seg(struct spool *sp, uint64_t seq, uint64_t rec)
{
	char name[SPOOL_NAME_LEN + 1];
	struct seg *s = sp->nsegs ? &sp->segs[sp->nsegs - 1] : NULL;
	int fd, err;

	/*
	 * cur_fd is open only while the last segment's file ends at its last
	 * valid record; a segment left with a bad tail is never appended to.
	 */
	if (s && sp->cur_fd >= 0 && s->first + s->count == seq &&
	    (!s->size || s->size + rec <= SPOOL_SEGMENT_BYTES))
		return 0;
	if (sp->cur_fd >= 0) {
		close(sp->cur_fd);
		sp->cur_fd = -1;
	}
	seg_name(name, seq);
	fd = openat(sp->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	err = fsync_dir(sp); /* the name must outlive a crash as the records will */
	if (err) {
		close(fd);
		unlinkat(sp->dirfd, name, 0);
		return err;
	}
	seg_add(sp, seq);
	sp->cur_fd = fd;
	return 0;
}

static int spool_write_rec(struct spool *sp, const void *frame, size_t len)
{
	struct seg *s = &sp->segs[sp->nsegs - 1];
	unsigned char h[SPOOL_REC_HDR];
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)(uintptr_t)frame, len } };
	uint64_t done = 0, total = SPOOL_REC_HDR + len;
	ssize_t r;
	int err = 0;

	put_le32(h, (uint32_t)len);
	put_le32(h + 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), frame, (uInt)len));
	while (done < total) {
		r = pwritev(sp->cur_fd, iov, 2, (off_t)(s->size + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			break;
		}
		done += (uint64_t)r;
		/* skip what was written in the iovecs */
		for (int i = 0; i < 2; i++) {
			size_t k = (size_t)r < iov[i].iov_len ? (size_t)r : iov[i].iov_len;

			iov[i].iov_base = (char *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			r -= (ssize_t)k;
		}
	}
	if (!err && fdatasync(sp->cur_fd))
		err = -errno;
	if (err) {
		/* the record is not there: a retry appends the same seq at the same place */
		if (ftruncate(sp->cur_fd, (off_t)s->size))
			log_warn_err(-errno, "spool: cannot cut a failed append in '%s'", sp->dir);
		return err;
	}
	seg_push_off(s, s->size);
	s->size += total;
	return 0;
}

int spool_append(struct spool *sp, uint64_t seq, const void *frame, size_t len)
{
	uint64_t rec = SPOOL_REC_HDR + (uint64_t)len;
	int err;

	if (!len)
		return -EINVAL;
	if (len > UINT32_MAX - SPOOL_REC_HDR || rec > sp->max_bytes)
		return -EMSGSIZE;
	pthread_mutex_lock(&sp->lock);
	if (seq != sp->next_seq) {
		err = -EINVAL;
		goto out_unlock;
	}
	err = spool_make_room(sp, rec);
	if (err)
		goto out_unlock;
	err = spool_pick_seg(sp, seq, rec);
	if (err)
		goto out_unlock;
	err = spool_write_rec(sp, frame, len);
	if (err)
		goto out_unlock;
	sp->next_seq++;
	sp->bytes += rec;
	sp->frames++;
out_unlock:
	pthread_mutex_unlock(&sp->lock);
	if (err && err != -EINVAL)
		log_warn_err(err, "spool: cannot append seq %" PRIu64 " to '%s'", seq, sp->dir);
	return err;
}

/* ---- Read and acknowledge ---- */

/*
 * Appends the records of @s from index @i on to @out. Returns 1 when @out is
 * full (stop), 0 to go on with the next segment, or -errno.
 */
static int seg_read(struct spool *sp, const struct seg *s, uint64_t i, size_t max_bytes,
		    struct buf *out, size_t start, uint64_t *last)
{
	char name[SPOOL_NAME_LEN + 1];
	int fd, err = 0;

	seg_name(name, s->first);
	fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	for (; i < s->count; i++) {
		uint64_t end = i + 1 < s->count ? s->off[i + 1] : s->size;
		size_t rec = (size_t)(end - s->off[i]), len = rec - SPOOL_REC_HDR;
		bool some = out->len > start;

		if (some && out->len - start + len > max_bytes) {
			err = 1;
			break;
		}
		scratch_reserve(sp, rec);
		err = pread_full(fd, sp->scratch, rec, s->off[i]);
		if (err)
			break;
		if (get_le32(sp->scratch) != len ||
		    get_le32(sp->scratch + 4) != (uint32_t)crc32(crc32(0L, Z_NULL, 0),
								 sp->scratch + SPOOL_REC_HDR,
								 (uInt)len)) {
			log_ratelimited(LOG_LEVEL_ERROR,
					"spool: skipping seq %" PRIu64 ": corrupt in '%s/%s'",
					s->first + i, sp->dir, name);
			continue;
		}
		err = buf_append(out, sp->scratch + SPOOL_REC_HDR, len);
		if (err == -E2BIG && some) {
			err = 1; /* @out's own cap: what is there is a good answer */
			break;
		}
		if (err)
			break;
		*last = s->first + i;
	}
	close(fd);
	return err;
}

int spool_read(struct spool *sp, uint64_t after, size_t max_bytes, struct buf *out, uint64_t *last)
{
	size_t start = out->len, k;
	uint64_t from;
	int err = 0;

	*last = after;
	pthread_mutex_lock(&sp->lock);
	from = after > sp->acked ? after : sp->acked;
	for (k = 0; k < sp->nsegs && !err; k++) {
		const struct seg *s = &sp->segs[k];

		if (s->first + s->count <= from + 1)
			continue;
		err = seg_read(sp, s, seg_first_unacked(s, from), max_bytes, out, start, last);
	}
	pthread_mutex_unlock(&sp->lock);
	if (err < 0) {
		if (err != -E2BIG)
			log_warn_err(err, "spool: cannot read '%s'", sp->dir);
		out->len = start; /* nothing half-read is handed out */
		if (out->data)
			out->data[start] = '\0';
		*last = after;
		return err;
	}
	return 0;
}

int spool_ack(struct spool *sp, uint64_t seq)
{
	int err = 0;

	pthread_mutex_lock(&sp->lock);
	if (seq >= sp->next_seq) {
		err = -EINVAL; /* never given out: a confused peer */
		goto out_unlock;
	}
	if (seq <= sp->acked)
		goto out_unlock;
	err = counter_write(sp, "acked", seq);
	if (err)
		goto out_unlock;
	sp->acked = seq;
	spool_delete_acked(sp);
	spool_recount(sp);
out_unlock:
	pthread_mutex_unlock(&sp->lock);
	return err;
}

int spool_skip_to(struct spool *sp, uint64_t seq)
{
	uint64_t dropped;
	int err = 0;

	pthread_mutex_lock(&sp->lock);
	if (seq < sp->next_seq)
		goto out_unlock;
	dropped = sp->frames;
	err = counter_write(sp, "lost", sp->lost + dropped);
	if (!err)
		err = counter_write(sp, "acked", seq);
	if (err)
		goto out_unlock;
	sp->lost += dropped;
	sp->acked = seq;
	sp->next_seq = seq + 1;
	spool_delete_acked(sp);
	spool_recount(sp);
	log_error("spool: the aggregator already holds seq %" PRIu64 " of this agent, past what "
		  "'%s' ever gave out: the spool was reset or another agent uses this id; "
		  "%" PRIu64 " unsent frames dropped, numbering goes on from %" PRIu64,
		  seq, sp->dir, dropped, sp->next_seq);
out_unlock:
	pthread_mutex_unlock(&sp->lock);
	return err;
}

void spool_stats(struct spool *sp, struct spool_stats *st)
{
	pthread_mutex_lock(&sp->lock);
	st->bytes = sp->bytes;
	st->frames = sp->frames;
	st->lost_frames = sp->lost;
	st->acked_seq = sp->acked;
	st->next_seq = sp->next_seq;
	pthread_mutex_unlock(&sp->lock);
}
