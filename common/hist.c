/*
 * Log-linear histograms (see common/hist.h for the scheme, the error bound
 * and the wire format). Invariants of a struct hist, which hist_deserialize()
 * also checks on its input:
 *  - every count saturates at UINT64_MAX, and each total (a chunk's [0], the
 *    histogram's count) is the saturated sum of the counts below it;
 *  - empty: min == UINT64_MAX, max == 0, sum == 0; else min and max are the
 *    smallest and largest values recorded, in the first and last non-empty
 *    buckets, and count * min <= sum <= count * max (saturated).
 */
#include "common/hist.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/varint.h"

/* A chunk: the group's total, then its 128 bucket counts. */
#define HIST_CHUNK_LEN (1 + HIST_SUB_BUCKETS)

_Static_assert(HIST_BUCKETS == 7424, "bucket scheme of bpf/hist.h changed");
_Static_assert(sizeof(struct hist) == 496, "struct hist grew");

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static inline uint64_t sat_mul(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static void hist_clear_stats(struct hist *h)
{
	h->count = 0;
	h->min = UINT64_MAX;
	h->max = 0;
	h->sum = 0;
}

void hist_init(struct hist *h)
{
	for (size_t g = 0; g < HIST_GROUPS; g++)
		h->chunks[g] = NULL;
	hist_clear_stats(h);
}

void hist_release(struct hist *h)
{
	for (size_t g = 0; g < HIST_GROUPS; g++)
		free(h->chunks[g]);
	hist_init(h);
}

void hist_reset(struct hist *h)
{
	for (size_t g = 0; g < HIST_GROUPS; g++) {
		if (h->chunks[g] && h->chunks[g][0])
			memset(h->chunks[g], 0, HIST_CHUNK_LEN * sizeof(uint64_t));
	}
	hist_clear_stats(h);
}

/* Adds @n to bucket @idx (< HIST_BUCKETS), its group's total and the count. */
static inline void hist_add_count(struct hist *h, uint32_t idx, uint64_t n)
{
	uint32_t g = idx >> HIST_SUB_BITS;
	uint64_t *c = h->chunks[g];

	if (__builtin_expect(!c, 0))
		c = h->chunks[g] = xcalloc(HIST_CHUNK_LEN, sizeof(uint64_t));
	c[0] = sat_add(c[0], n);
	c[1 + (idx & (HIST_SUB_BUCKETS - 1))] = sat_add(c[1 + (idx & (HIST_SUB_BUCKETS - 1))], n);
	h->count = sat_add(h->count, n);
}

static inline void hist_add_value(struct hist *h, uint64_t value, uint64_t n)
{
	hist_add_count(h, hist_bucket_index(value), n);
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
	h->sum = sat_add(h->sum, sat_mul(value, n));
}

void hist_record(struct hist *h, uint64_t value)
{
	hist_add_value(h, value, 1);
}

void hist_record_n(struct hist *h, uint64_t value, uint64_t n)
{
	if (n)
		hist_add_value(h, value, n);
}

/* The value that stands for bucket @idx: its midpoint, rounded down. */
static uint64_t hist_bucket_mid(uint32_t idx)
{
	uint64_t lower = hist_bucket_lower(idx);

	return lower + (hist_bucket_upper(idx) - lower) / 2;
}

int hist_add_bucket(struct hist *h, uint32_t idx, uint64_t n)
{
	if (idx >= HIST_BUCKETS)
		return -EINVAL;
	/* the midpoint lies in bucket idx, so this lands where it should */
	hist_record_n(h, hist_bucket_mid(idx), n);
	return 0;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	if (!src->count)
		return;
	for (uint32_t g = 0; g < HIST_GROUPS; g++) {
		const uint64_t *s = src->chunks[g];
		uint64_t *d;

		if (!s || !s[0])
			continue;
		d = dst->chunks[g];
		if (!d)
			d = dst->chunks[g] = xcalloc(HIST_CHUNK_LEN, sizeof(uint64_t));
		/* with src == dst, each count is read before it is written */
		for (size_t i = 0; i < HIST_CHUNK_LEN; i++)
			d[i] = sat_add(d[i], s[i]);
	}
	dst->count = sat_add(dst->count, src->count);
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->sum = sat_add(dst->sum, src->sum);
}

uint64_t hist_count(const struct hist *h)
{
	return h->count;
}

uint64_t hist_min(const struct hist *h)
{
	return h->count ? h->min : 0;
}

uint64_t hist_max(const struct hist *h)
{
	return h->max;
}

uint64_t hist_sum(const struct hist *h)
{
	return h->sum;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}

uint64_t hist_bucket_count(const struct hist *h, uint32_t idx)
{
	const uint64_t *c;

	if (idx >= HIST_BUCKETS)
		return 0;
	c = h->chunks[idx >> HIST_SUB_BITS];
	return c ? c[1 + (idx & (HIST_SUB_BUCKETS - 1))] : 0;
}

/* The bucket that holds the @rank-th smallest value, 1 <= @rank <= count. */
static uint32_t hist_rank_bucket(const struct hist *h, uint64_t rank)
{
	uint64_t seen = 0; /* values in the buckets before; always < rank */

	for (uint32_t g = 0; g < HIST_GROUPS; g++) {
		const uint64_t *c = h->chunks[g];

		if (!c)
			continue;
		/* skip whole groups by their totals: O(groups + 128), not O(buckets) */
		if (c[0] < rank - seen) {
			seen += c[0];
			continue;
		}
		for (uint32_t i = 0; i < HIST_SUB_BUCKETS; i++) {
			if (c[1 + i] >= rank - seen)
				return g * HIST_SUB_BUCKETS + i;
			seen += c[1 + i];
		}
	}
	/* not reached: the counts add up to count (the invariant) */
	return HIST_BUCKETS - 1;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, v;
	double r;

	if (!h->count)
		return 0;
	if (!(q > 0.0)) /* NaN too */
		q = 0.0;
	if (q > 1.0)
		q = 1.0;
	r = ceil(q * (double)h->count);
	/* the first and last ranks are known exactly */
	if (r <= 1.0)
		return h->min;
	if (r >= (double)h->count)
		return h->max;
	rank = (uint64_t)r; /* r < count <= UINT64_MAX: in range */
	if (rank >= h->count)
		return h->max;
	v = hist_bucket_mid(hist_rank_bucket(h, rank));
	if (v < h->min)
		return h->min;
	if (v > h->max)
		return h->max;
	return v;
}

bool hist_equal(const struct hist *a, const struct hist *b)
{
	if (a->count != b->count || hist_min(a) != hist_min(b) || a->max != b->max ||
	    a->sum != b->sum)
		return false;
	for (uint32_t g = 0; g < HIST_GROUPS; g++) {
		const uint64_t *ca = a->chunks[g], *cb = b->chunks[g];
		uint64_t ta = ca ? ca[0] : 0, tb = cb ? cb[0] : 0;

		if (ta != tb)
			return false;
		if (!ta)
			continue;
		if (memcmp(ca, cb, HIST_CHUNK_LEN * sizeof(uint64_t)) != 0)
			return false;
	}
	return true;
}

/* ---- Serialized form ---------------------------------------------------- */

/*
 * The next non-empty bucket at or after *@idx: returns its count and sets
 * *@idx, or returns 0 when there is none.
 */
static uint64_t hist_next_bucket(const struct hist *h, uint32_t *idx)
{
	for (uint32_t i = *idx; i < HIST_BUCKETS;) {
		const uint64_t *c = h->chunks[i >> HIST_SUB_BITS];

		if (!c || !c[0]) {
			i = (i | (HIST_SUB_BUCKETS - 1)) + 1; /* the next group */
			continue;
		}
		if (c[1 + (i & (HIST_SUB_BUCKETS - 1))]) {
			*idx = i;
			return c[1 + (i & (HIST_SUB_BUCKETS - 1))];
		}
		i++;
	}
	return 0;
}

/* Bytes of the buckets part: one (delta, count) pair per non-empty bucket. */
static size_t hist_buckets_len(const struct hist *h, uint64_t *nbuckets)
{
	uint32_t idx = 0, prev = 0;
	uint64_t n;
	size_t len = 0;

	*nbuckets = 0;
	while ((n = hist_next_bucket(h, &idx))) {
		len += varint_len(idx - prev) + varint_len(n);
		prev = idx++;
		(*nbuckets)++;
	}
	return len;
}

int hist_serialize(const struct hist *h, struct buf *out)
{
	/* room for one flush's worth of pairs, plus the header */
	unsigned char tmp[512];
	const uint64_t head[] = { h->count, hist_min(h), h->max, h->sum };
	uint64_t nbuckets, n;
	uint32_t idx = 0, prev = 0;
	size_t need, used = 0;
	int err;

	need = 1 + hist_buckets_len(h, &nbuckets) + varint_len(nbuckets);
	for (size_t i = 0; i < PRP_ARRAY_SIZE(head); i++)
		need += varint_len(head[i]);
	/* checked up front so that a full buffer is left as it was */
	if (need > out->max_bytes - out->len)
		return -E2BIG;

	tmp[used++] = HIST_WIRE_VERSION;
	for (size_t i = 0; i < PRP_ARRAY_SIZE(head); i++)
		used += varint_put(tmp + used, head[i]);
	used += varint_put(tmp + used, nbuckets);
	while ((n = hist_next_bucket(h, &idx))) {
		if (used > sizeof(tmp) - 2 * VARINT_MAX_BYTES) {
			err = buf_append(out, tmp, used);
			if (err)
				return err;
			used = 0;
		}
		used += varint_put(tmp + used, idx - prev);
		used += varint_put(tmp + used, n);
		prev = idx++;
	}
	return buf_append(out, tmp, used);
}

struct hist_reader {
	const unsigned char *p;
	size_t len;
	size_t off;
};

/* One canonical LEB128 u64 (common/varint.h). Returns 0 or -EPROTO. */
static int hist_read_varint(struct hist_reader *r, uint64_t *out)
{
	/* one byte, the common case (bucket deltas and small counts): always canonical */
	if (r->off < r->len && r->p[r->off] < 0x80) {
		*out = r->p[r->off++];
		return 0;
	}
	return varint_read(r->p, r->len, &r->off, out);
}

/* Reads the (delta, count) pairs into @h (empty), checking their order and range. */
static int hist_read_buckets(struct hist *h, struct hist_reader *r, uint64_t nbuckets,
			     uint32_t *first, uint32_t *last)
{
	uint32_t idx = 0;

	for (uint64_t i = 0; i < nbuckets; i++) {
		uint64_t delta, n;

		if (hist_read_varint(r, &delta) || hist_read_varint(r, &n))
			return -EPROTO;
		if (i == 0) {
			if (delta >= HIST_BUCKETS)
				return -EPROTO;
			idx = (uint32_t)delta;
			*first = idx;
		} else {
			if (delta == 0 || delta >= HIST_BUCKETS - idx)
				return -EPROTO;
			idx += (uint32_t)delta;
		}
		if (!n)
			return -EPROTO;
		hist_add_count(h, idx, n);
	}
	*last = idx;
	return 0;
}

/* Checks the header fields against each other and against the buckets read. */
static int hist_check(uint64_t total, uint64_t count, uint64_t min, uint64_t max, uint64_t sum,
		      uint32_t first, uint32_t last)
{
	if (total != count)
		return -EPROTO;
	if (!count)
		return min || max || sum ? -EPROTO : 0;
	if (min > max || hist_bucket_index(min) != first || hist_bucket_index(max) != last)
		return -EPROTO;
	if (count == 1 && min != max)
		return -EPROTO;
	if (sum < sat_mul(count, min) || sum > sat_mul(count, max))
		return -EPROTO;
	return 0;
}

int hist_deserialize(struct hist *h, const void *p, size_t len, size_t *consumed)
{
	struct hist_reader r = { .p = p, .len = len, .off = 0 };
	uint64_t count, min, max, sum, nbuckets;
	uint32_t first = 0, last = 0;
	struct hist t;
	int err;

	if (len < 1 || r.p[0] != HIST_WIRE_VERSION)
		return -EPROTO;
	r.off = 1;
	if (hist_read_varint(&r, &count) || hist_read_varint(&r, &min) ||
	    hist_read_varint(&r, &max) || hist_read_varint(&r, &sum) ||
	    hist_read_varint(&r, &nbuckets))
		return -EPROTO;
	/* a pair takes at least 2 bytes: refuse a lie before doing any work for it */
	if (nbuckets > HIST_BUCKETS || nbuckets > (len - r.off) / 2)
		return -EPROTO;

	hist_init(&t);
	err = hist_read_buckets(&t, &r, nbuckets, &first, &last);
	if (err)
		goto out_release;
	err = hist_check(t.count, count, min, max, sum, first, last);
	if (err)
		goto out_release;
	if (!consumed && r.off != len) {
		err = -EPROTO;
		goto out_release;
	}
	if (count) {
		t.min = min;
		t.max = max;
		t.sum = sum;
	}
	hist_release(h);
	*h = t;
	if (consumed)
		*consumed = r.off;
	return 0;

out_release:
	hist_release(&t);
	return err;
}

/*
 * The header of the serialized histogram at @r, and its buckets checked
 * without storing them: the rules of hist_deserialize(), no allocation.
 */
static int hist_wire_parse(struct hist_reader *r, uint64_t *count, uint64_t *min, uint64_t *max,
			   uint64_t *sum, uint64_t *nbuckets)
{
	uint32_t idx = 0, first = 0;
	uint64_t total = 0;

	if (r->len < 1 || r->p[0] != HIST_WIRE_VERSION)
		return -EPROTO;
	r->off = 1;
	if (hist_read_varint(r, count) || hist_read_varint(r, min) || hist_read_varint(r, max) ||
	    hist_read_varint(r, sum) || hist_read_varint(r, nbuckets))
		return -EPROTO;
	if (*nbuckets > HIST_BUCKETS || *nbuckets > (r->len - r->off) / 2)
		return -EPROTO;
	for (uint64_t i = 0; i < *nbuckets; i++) {
		uint64_t delta, n;

		if (hist_read_varint(r, &delta) || hist_read_varint(r, &n) || !n)
			return -EPROTO;
		if (i == 0) {
			if (delta >= HIST_BUCKETS)
				return -EPROTO;
			idx = first = (uint32_t)delta;
		} else {
			if (delta == 0 || delta >= HIST_BUCKETS - idx)
				return -EPROTO;
			idx += (uint32_t)delta;
		}
		total = sat_add(total, n);
	}
	return hist_check(total, *count, *min, *max, *sum, first, idx);
}

int hist_wire_check(const void *p, size_t len, size_t *consumed, uint64_t *count)
{
	struct hist_reader r = { .p = p, .len = len, .off = 0 };
	uint64_t min, max, sum, nbuckets;

	if (hist_wire_parse(&r, count, &min, &max, &sum, &nbuckets))
		return -EPROTO;
	*consumed = r.off;
	return 0;
}

int hist_merge_wire(struct hist *h, const void *p, size_t len, size_t *consumed)
{
	struct hist_reader r = { .p = p, .len = len, .off = 0 };
	uint64_t count, min, max, sum, nbuckets;
	uint32_t idx = 0;

	/* checked whole first, so that a bad input leaves @h as it was */
	if (hist_wire_parse(&r, &count, &min, &max, &sum, &nbuckets) || (!consumed && r.off != len))
		return -EPROTO;
	if (consumed)
		*consumed = r.off;
	if (!count)
		return 0;
	r.off = 1;
	for (int i = 0; i < 5; i++) {
		uint64_t skip;

		(void)hist_read_varint(&r, &skip); /* the header, read above */
	}
	for (uint64_t i = 0; i < nbuckets; i++) {
		uint64_t delta = 0, n = 0;

		(void)hist_read_varint(&r, &delta);
		(void)hist_read_varint(&r, &n);
		idx = i ? idx + (uint32_t)delta : (uint32_t)delta;
		hist_add_count(h, idx, n);
	}
	if (min < h->min)
		h->min = min;
	if (max > h->max)
		h->max = max;
	h->sum = sat_add(h->sum, sum);
	return 0;
}

int hist_merge_wire_checked(struct hist *h, const void *p, size_t len)
{
	struct hist_reader r = { .p = p, .len = len, .off = 1 };
	uint64_t count, min, max, sum, nbuckets, delta, n;
	uint32_t idx = 0;

	if (!len || r.p[0] != HIST_WIRE_VERSION || hist_read_varint(&r, &count) ||
	    hist_read_varint(&r, &min) || hist_read_varint(&r, &max) ||
	    hist_read_varint(&r, &sum) || hist_read_varint(&r, &nbuckets))
		return -EPROTO;
	if (!count)
		return 0;
	/* one pass; the bounds are still checked, so bytes that were not checked stay harmless */
	for (uint64_t i = 0; i < nbuckets; i++) {
		if (hist_read_varint(&r, &delta) || hist_read_varint(&r, &n) ||
		    (i && !delta) || delta >= HIST_BUCKETS || idx + delta >= HIST_BUCKETS)
			return -EPROTO;
		idx = i ? idx + (uint32_t)delta : (uint32_t)delta;
		hist_add_count(h, idx, n);
	}
	if (min < h->min)
		h->min = min;
	if (max > h->max)
		h->max = max;
	h->sum = sat_add(h->sum, sum);
	return 0;
}

int hist_wire_bins(const void *p, size_t len, const uint64_t *bounds, size_t nbounds,
		   uint64_t *bins, uint64_t *count, uint64_t *sum)
{
	struct hist_reader r = { .p = p, .len = len, .off = 1 };
	uint64_t n_all, min, max, s, nbuckets, delta, n;
	uint32_t idx = 0;
	size_t b = 0;

	if (!len || r.p[0] != HIST_WIRE_VERSION || hist_read_varint(&r, &n_all) ||
	    hist_read_varint(&r, &min) || hist_read_varint(&r, &max) ||
	    hist_read_varint(&r, &s) || hist_read_varint(&r, &nbuckets))
		return -EPROTO;
	for (uint64_t i = 0; i < nbuckets; i++) {
		uint64_t v;

		if (hist_read_varint(&r, &delta) || hist_read_varint(&r, &n) ||
		    (i && !delta) || delta >= HIST_BUCKETS || idx + delta >= HIST_BUCKETS)
			return -EPROTO;
		idx = i ? idx + (uint32_t)delta : (uint32_t)delta;
		/* the bucket's midpoint, within [min, max]: exact for one value */
		v = hist_bucket_mid(idx);
		v = v < min ? min : v > max ? max : v;
		/* buckets come in increasing order: the bin only moves forward */
		while (b < nbounds && v > bounds[b])
			b++;
		bins[b] = sat_add(bins[b], n);
	}
	*count = sat_add(*count, n_all);
	*sum = sat_add(*sum, s);
	return 0;
}

void hist_bins(const struct hist *h, const uint64_t *bounds, size_t nbounds, uint64_t *bins)
{
	uint32_t idx = 0;
	uint64_t n;
	size_t b = 0;

	if (!h->count)
		return;
	/* as hist_wire_bins(): buckets in increasing order, so the bin only moves forward */
	while ((n = hist_next_bucket(h, &idx))) {
		uint64_t v = hist_bucket_mid(idx);

		v = v < h->min ? h->min : v > h->max ? h->max : v;
		while (b < nbounds && v > bounds[b])
			b++;
		bins[b] = sat_add(bins[b], n);
		idx++;
	}
}
