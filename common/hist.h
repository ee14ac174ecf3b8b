/*
 * Log-linear (HDR-style) histograms of u64 values, latencies in ns above all:
 * O(1) record, mergeable across windows and agents, with a serialized form for
 * the wire. The buckets are those of bpf/hist.h, so a BPF map of bucket counts
 * loads into a struct hist bucket by bucket (hist_add_bucket).
 *
 * Error bound. Below 256 every value has its own bucket, so results are exact.
 * Above, a value v with highest set bit m lies in a bucket of width
 * w = 2^(m-7) that starts at a value of at least 128 * w. A quantile is
 * reported as the midpoint of its bucket, which is within w / 2 of every value
 * of the bucket, and w / 2 <= v / 256: the relative error is at most 1/256
 * (0.39%). Clamping to [min, max] only moves the answer towards the true
 * value. count, min, max and sum are kept exactly (sum saturates at 2^64 - 1,
 * and so would count, after 2^64 records).
 *
 * Memory. struct hist is embeddable (496 bytes, no allocation while empty);
 * bucket counts live in lazily allocated chunks, one per group of 128 buckets,
 * that is one per power of two above 128, of about 1 KiB each: latencies from
 * 10 us to 100 ms (2^13 to 2^27 ns) take 14 chunks.
 *
 * Threads: a struct hist has one owning thread and no lock. The functions that
 * take a const struct hist only read, so several threads may call them at once
 * on a histogram that nobody is changing.
 *
 * Serialized form, version 1. A version byte, then unsigned LEB128 varints
 * (7 bits per byte, least significant group first, high bit set on every byte
 * but the last):
 *
 *	u8	version		HIST_WIRE_VERSION (1)
 *	varint	count		number of values recorded
 *	varint	min		smallest value; 0 when count is 0
 *	varint	max		largest value; 0 when count is 0
 *	varint	sum		sum of the values, saturated at 2^64 - 1
 *	varint	nbuckets	number of non-empty buckets, <= HIST_BUCKETS
 *	nbuckets times, in increasing bucket index:
 *	varint	delta		the bucket index for the first pair; after that,
 *				index minus the previous index (>= 1)
 *	varint	n		the bucket's count (>= 1)
 *
 * For example, the values 5 and 300 encode as the 13 bytes
 *
 *	01  02  05  ac 02  b1 02  02  05 01  91 02 01
 *
 * version 1, count 2, min 5, max 300, sum 305, 2 buckets: bucket 5 holds 1,
 * and bucket 5 + 273 = 278 holds 1 (300 has msb 8, so shift 1 and index
 * (1 + 1) * 128 + (150 - 128) = 278). The empty histogram is 01 00 00 00 00 00.
 *
 * The form is canonical: a histogram has exactly one encoding, and
 * hist_deserialize() accepts nothing else. It rejects, with -EPROTO, a
 * version other than 1; a varint that is longer than 10 bytes, overlong (a
 * final 0x00 byte after the first), or above 2^64 - 1; input that ends early;
 * a bucket index past HIST_BUCKETS - 1 or not increasing; a bucket count of 0;
 * bucket counts whose sum (saturated at 2^64 - 1) is not count; min, max or
 * sum not 0 when count is 0; min > max; min not in the first non-empty bucket
 * or max not in the last; min != max for a single value; and a sum outside
 * [count * min, count * max] (saturated). So every accepted encoding is a
 * consistent histogram, and re-serializes to the same bytes.
 */
#ifndef PRP_COMMON_HIST_H
#define PRP_COMMON_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/hist.h"
#include "common/buf.h"
#include "common/compiler.h"

#define HIST_WIRE_VERSION 1
/* Largest serialized histogram: version, 5 varints, a (delta, count) pair per bucket. */
#define HIST_WIRE_MAX_BYTES (1 + 5 * 10 + (size_t)HIST_BUCKETS * (2 + 10))

struct hist {
	/*
	 * chunks[g] is NULL until a value lands in group g (buckets
	 * g * 128 .. g * 128 + 127). Then it holds 1 + 128 counts: [0] is the
	 * group's total, [1 + i] the count of bucket g * 128 + i. Every count
	 * saturates at 2^64 - 1, so total == the saturated sum of the buckets.
	 */
	uint64_t *chunks[HIST_GROUPS];
	uint64_t count; /* saturated sum of all the bucket counts */
	uint64_t min;	/* UINT64_MAX while empty: hist_min() reports 0 */
	uint64_t max;
	uint64_t sum; /* saturating */
};

/* Sets @h empty. Allocates nothing. */
void hist_init(struct hist *h);
/* Frees the chunks; @h is then empty and may be reused without hist_init(). */
void hist_release(struct hist *h);
/* Empties @h, keeping its chunks for reuse (one window after another). */
void hist_reset(struct hist *h);

/* Records @value once. */
void hist_record(struct hist *h, uint64_t value);
/* Records @value @n times; @n = 0 changes nothing. */
void hist_record_n(struct hist *h, uint64_t value, uint64_t n);

/*
 * Adds @n to bucket @idx, as read from a BPF map of bucket counts. The values
 * are not known, only their bucket, so each counts as the bucket's midpoint
 * for min, max and sum (within 1/256 of the true value, as everything else).
 * Returns 0, or -EINVAL with @h unchanged when @idx >= HIST_BUCKETS.
 */
PRP_MUST_CHECK int hist_add_bucket(struct hist *h, uint32_t idx, uint64_t n);

/* Adds every count of @src to @dst, as if @dst had recorded @src's values too. @src may be @dst. */
void hist_merge(struct hist *dst, const struct hist *src);

uint64_t hist_count(const struct hist *h);
/* Smallest and largest values recorded; 0 when empty. */
uint64_t hist_min(const struct hist *h);
uint64_t hist_max(const struct hist *h);
/* Sum of the values recorded, saturated at UINT64_MAX. */
uint64_t hist_sum(const struct hist *h);
/* sum / count; 0 when empty. */
double hist_mean(const struct hist *h);
/* The count of bucket @idx; 0 for an @idx past the end. */
uint64_t hist_bucket_count(const struct hist *h, uint32_t idx);

/*
 * The @q quantile, nearest rank: the ceil(q * count)-th smallest value (the
 * first for q = 0), within 1/256 relative. Reported as the midpoint of the
 * bucket that holds it, clamped to [min, max]; the first and last ranks are
 * min and max exactly. @q is clamped to [0, 1] (NaN counts as 0). Returns 0
 * when @h is empty. O(HIST_GROUPS + HIST_SUB_BUCKETS).
 */
uint64_t hist_quantile(const struct hist *h, double q);

/* true when @a and @b have the same count, min, max, sum and bucket counts. */
bool hist_equal(const struct hist *a, const struct hist *b);

/*
 * Appends the serialized form of @h to @out. Returns 0, or -E2BIG when it
 * would pass @out's cap, leaving @out unchanged. At most HIST_WIRE_MAX_BYTES.
 */
PRP_MUST_CHECK int hist_serialize(const struct hist *h, struct buf *out);

/*
 * Parses one serialized histogram from the @len bytes at @p (borrowed, read
 * only during the call), which may be followed by other data: *@consumed is
 * set to the bytes used. With @consumed NULL the histogram must fill all
 * @len bytes. @h must have been initialised; on success its contents are
 * replaced, on failure it is unchanged. The input is untrusted: this never
 * reads past @len, does O(len) work bounded by HIST_WIRE_MAX_BYTES, allocates
 * at most HIST_GROUPS chunks, and returns -EPROTO for any input that is not
 * exactly what hist_serialize() writes (see the format above).
 */
PRP_MUST_CHECK int hist_deserialize(struct hist *h, const void *p, size_t len, size_t *consumed);

/*
 * Checks one serialized histogram at @p (untrusted, @len bytes, possibly
 * followed by other data) by exactly the rules of hist_deserialize(), without
 * allocating: 0 with *@consumed its bytes and *@count its count, or -EPROTO.
 */
PRP_MUST_CHECK int hist_wire_check(const void *p, size_t len, size_t *consumed, uint64_t *count);

/*
 * hist_deserialize() then hist_merge() into @h, without the intermediate
 * histogram: the input is checked whole first (the same rules), so on
 * -EPROTO @h is unchanged. @consumed as for hist_deserialize().
 */
PRP_MUST_CHECK int hist_merge_wire(struct hist *h, const void *p, size_t len, size_t *consumed);

/*
 * hist_merge_wire() in one pass, for bytes hist_wire_check() already
 * accepted (ingest checks every histogram of a frame when it decodes it):
 * reads stay in bounds whatever the bytes, but a bad input may leave @h
 * partly merged before -EPROTO.
 */
PRP_MUST_CHECK int hist_merge_wire_checked(struct hist *h, const void *p, size_t len);

/*
 * Folds a serialized histogram that hist_wire_check() accepted into fixed
 * bins, as Prometheus histograms want them: each bucket's count is added to
 * bins[i] for the first i with bounds[i] >= the bucket's value, or to
 * bins[@nbounds] past the last bound (so @bins has @nbounds + 1 entries).
 * A bucket counts as its midpoint clamped to [min, max], so a value within
 * 1/256 of a bound may land on its other side; a histogram of one value
 * lands exactly. @bounds is increasing. Adds the histogram's count and sum
 * to *@count and *@sum (saturating). Reads stay in bounds whatever the
 * bytes; -EPROTO on a bad input may leave @bins partly added to.
 */
PRP_MUST_CHECK int hist_wire_bins(const void *p, size_t len, const uint64_t *bounds,
				  size_t nbounds, uint64_t *bins, uint64_t *count, uint64_t *sum);

/*
 * hist_wire_bins() on a histogram in memory: adds each bucket's count of @h
 * to bins[i] for the first i with bounds[i] >= the bucket's midpoint clamped
 * to [min, max], or to bins[@nbounds] past the last bound (@bins has
 * @nbounds + 1 entries; @bounds is increasing). The same approximation, and
 * the same bins as hist_wire_bins() gives for hist_serialize(@h). Count and
 * sum are hist_count() and hist_sum(). O(HIST_GROUPS + non-empty groups * 128).
 */
void hist_bins(const struct hist *h, const uint64_t *bounds, size_t nbounds, uint64_t *bins);

#endif
