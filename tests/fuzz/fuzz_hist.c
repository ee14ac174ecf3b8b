/*
 * libFuzzer target for hist_deserialize(), whose input comes from agents over
 * the wire. Whatever it accepts must be canonical: serializing the result
 * gives back exactly the bytes it consumed, and parsing those again gives an
 * equal histogram. Anything else aborts, and so do ASan and UBSan findings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps the quantile and stats work observable, so the optimizer keeps it. */
static volatile uint64_t sink;
static volatile double dsink;

/* Serializes @h, parses that back and checks it equals @h; with @wire, also
 * that the bytes are exactly the @used bytes @h was parsed from. */
static void check_round_trip(const struct hist *h, const uint8_t *wire, size_t used)
{
	struct hist again;
	struct buf b;
	size_t used2 = 0;

	buf_init(&b, HIST_WIRE_MAX_BYTES);
	if (hist_serialize(h, &b) != 0)
		abort(); /* nothing consistent is larger than the maximum */
	if (wire && (b.len != used || memcmp(b.data, wire, used) != 0))
		abort(); /* accepted, but not canonical */
	hist_init(&again);
	if (hist_deserialize(&again, b.data, b.len, &used2) != 0 || used2 != b.len)
		abort();
	if (!hist_equal(h, &again))
		abort();
	hist_release(&again);
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double qs[] = { 0.0, 0.5, 0.9, 0.99, 0.999, 1.0 };
	struct hist h;
	size_t used = 0;

	hist_init(&h);
	if (hist_deserialize(&h, data, size, &used) == 0) {
		if (used > size)
			abort();
		check_round_trip(&h, data, used);
		for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
			uint64_t v = hist_quantile(&h, qs[i]);

			/* every quantile lies within [min, max] */
			if (v < hist_min(&h) || v > hist_max(&h))
				abort();
			sink += v;
		}
		sink += hist_count(&h) + hist_sum(&h);
		dsink += hist_mean(&h); /* up to 2^64: no conversion to an integer */
		/* doubling (saturating) keeps it consistent: it still round-trips */
		hist_merge(&h, &h);
		check_round_trip(&h, NULL, 0);
	}
	hist_release(&h);
	return 0;
}
