/*
 * Bucket math of the log-linear (HDR-style) latency histogram, shared by the
 * BPF programs (through bpf/lib/hist.bpf.h) and user space (common/hist.c):
 * both sides must map a value to the same bucket, so this is the one copy.
 * `static inline` only, no libc, no loops: it compiles with gcc in user space
 * and with `clang -target bpf`, and the verifier sees straight-line code.
 *
 * Scheme. Values below 2^HIST_SUB_BITS = 128 get a bucket each (index = the
 * value). Above, every power of two [2^m, 2^(m+1)), m = 7..63, is cut into 128
 * equal sub-buckets of width 2^(m-7): with shift = m - 7,
 *
 *	index = (shift + 1) * 128 + ((v >> shift) - 128)
 *
 * where v >> shift is in [128, 255]. m = 7 gives index = v, so the linear part
 * and the first power of two join without a gap. The last power of two
 * (m = 63, shift = 56) ends at index 57 * 128 + 127, so the whole u64 range
 * takes HIST_BUCKETS = 58 * 128 = 7424 buckets, in value order.
 *
 * Error bound: a bucket of width w = 2^shift starts at a value of at least
 * 128 * w, so its width is at most 1/128 of any value in it; the midpoint is
 * then within w / 2 <= v / 256 of every value v in the bucket.
 */
#ifndef PRP_BPF_HIST_H
#define PRP_BPF_HIST_H

#ifndef __VMLINUX_H__ /* user space; on the BPF side vmlinux.h defines the __u* types */
#include <linux/types.h>
#endif

/* log2 of the number of linear sub-buckets per power of two. */
#define HIST_SUB_BITS	 7
#define HIST_SUB_BUCKETS (1u << HIST_SUB_BITS) /* 128 */
/* One group of 128 for the values below 128, one per msb from 7 to 63. */
#define HIST_GROUPS  (64 - HIST_SUB_BITS + 1)	      /* 58 */
#define HIST_BUCKETS (HIST_GROUPS * HIST_SUB_BUCKETS) /* 7424 */

/*
 * Index of the highest set bit of @v (0 for v = 0 and v = 1). A fixed binary
 * search of six shifts: the BPF instruction set has no count-leading-zeros,
 * so __builtin_clzll would be expanded behind our back, and a loop would have
 * to be walked by the verifier. Branch-free on x86; user space uses it too, so
 * both sides run the very same code.
 */
static inline __u32 hist_msb64(__u64 v)
{
	__u32 msb = 0, s;

	s = (v > 0xffffffffULL) << 5;
	v >>= s;
	msb |= s;
	s = (v > 0xffffULL) << 4;
	v >>= s;
	msb |= s;
	s = (v > 0xffULL) << 3;
	v >>= s;
	msb |= s;
	s = (v > 0xfULL) << 2;
	v >>= s;
	msb |= s;
	s = (v > 0x3ULL) << 1;
	v >>= s;
	msb |= s;
	msb |= (__u32)(v > 0x1ULL);
	return msb;
}

/* The bucket of @v: always < HIST_BUCKETS, non-decreasing in @v. */
static inline __u32 hist_bucket_index(__u64 v)
{
	__u32 shift;

	if (v < HIST_SUB_BUCKETS)
		return (__u32)v;
	shift = hist_msb64(v) - HIST_SUB_BITS;
	return ((shift + 1) << HIST_SUB_BITS) + (__u32)(v >> shift) - HIST_SUB_BUCKETS;
}

/* Smallest value of bucket @idx; an @idx past the end counts as the last bucket. */
static inline __u64 hist_bucket_lower(__u32 idx)
{
	__u32 shift;

	if (idx >= HIST_BUCKETS)
		idx = HIST_BUCKETS - 1;
	/* groups 0 and 1 hold one value per bucket */
	if (idx < 2 * HIST_SUB_BUCKETS)
		return idx;
	shift = (idx >> HIST_SUB_BITS) - 1;
	return ((__u64)HIST_SUB_BUCKETS + (idx & (HIST_SUB_BUCKETS - 1))) << shift;
}

/* Largest value of bucket @idx (inclusive); an @idx past the end counts as the last bucket. */
static inline __u64 hist_bucket_upper(__u32 idx)
{
	__u32 shift;

	if (idx >= HIST_BUCKETS)
		idx = HIST_BUCKETS - 1;
	if (idx < 2 * HIST_SUB_BUCKETS)
		return idx;
	shift = (idx >> HIST_SUB_BITS) - 1;
	/* written so that the last bucket reaches 2^64 - 1 without overflowing */
	return hist_bucket_lower(idx) + ((1ULL << shift) - 1);
}

#endif
