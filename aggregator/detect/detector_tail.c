/*
 * Decayed log-histogram of |z| (detector_tail.h). Decay without touching
 * every bin: each new point weighs 1/(1-alpha) times the previous one, which
 * is the same as multiplying all older counts by (1-alpha); the counts are
 * rescaled when the weights grow large, long before a double overflows.
 */
#include "aggregator/detect/detector_tail.h"

#include <math.h>
#include <string.h>

#define TAIL_U0	     0.125
/* floats reach 3e38: rescale far below, so count[] + inc never overflows */
#define TAIL_RESCALE 1e18f

static int tail_bin(double u)
{
	double k;

	if (!(u >= TAIL_U0))
		return 0;
	k = floor(2 * log2(u / TAIL_U0)) + 1;
	return k >= DETECTOR_TAIL_BINS - 1 ? DETECTOR_TAIL_BINS - 1 : (int)k;
}

/* Lower edge of bin @k (k >= 1). */
static double tail_edge(int k)
{
	return TAIL_U0 * exp2((k - 1) / 2.0);
}

void detector_tail_init(struct detector_tail *t, double prior_points)
{
	memset(t, 0, sizeof(*t));
	t->inc = 1;
	if (!(prior_points > 0))
		return;
	/* P(|N(0,1)| in bin k) = erf(hi/sqrt2) - erf(lo/sqrt2) */
	for (int k = 0; k < DETECTOR_TAIL_BINS; k++) {
		double lo = k ? tail_edge(k) : 0;
		double hi = k < DETECTOR_TAIL_BINS - 1 ? tail_edge(k + 1) : INFINITY;

		t->count[k] = (float)(prior_points * (erf(hi * M_SQRT1_2) - erf(lo * M_SQRT1_2)));
		t->total += t->count[k];
	}
}

void detector_tail_add(struct detector_tail *t, double u, double alpha)
{
	t->inc /= (float)(1 - alpha);
	t->count[tail_bin(u)] += t->inc;
	t->total += t->inc;
	if (t->inc > TAIL_RESCALE) {
		for (int k = 0; k < DETECTOR_TAIL_BINS; k++)
			t->count[k] /= t->inc;
		t->total /= t->inc;
		t->inc = 1;
	}
}

double detector_tail_quantile(const struct detector_tail *t, double above)
{
	double want = above * (double)t->total, acc = 0;

	if (!(t->total > 0))
		return 0;
	for (int k = DETECTOR_TAIL_BINS - 1; k >= 1; k--) {
		double c = t->count[k];

		if (acc + c >= want && c > 0) {
			/* geometric interpolation inside the bin (the top bin is one edge wide) */
			double frac = (want - acc) / c;

			return tail_edge(k) * exp2((1 - frac) / 2.0);
		}
		acc += c;
	}
	return TAIL_U0 * fmax(0, 1 - (want - acc) / fmax(t->count[0], 1e-300));
}
