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

/* edge[k] = U0 * 2^((k - 1) / 2): the lower edge of bin k >= 1 (edge[0] is unused). */
static const double edge[DETECTOR_TAIL_BINS + 1] = {
	0,
	0.125, 0.17677669529663689, 0.25, 0.35355339059327379, 0.5, 0.70710678118654757, 1,
	1.4142135623730951, 2, 2.8284271247461903, 4, 5.6568542494923806, 8,
	11.313708498984761, 16, 22.627416997969522, 32, 45.254833995939045, 64,
	90.509667991878089, 128, 181.01933598375618, 256, 362.03867196751236, 512,
	724.07734393502471, 1024, 1448.1546878700494, 2048, 2896.3093757400989, 4096,
	5792.6187514801977, 8192, 11585.237502960395,
};

/* The bin of @u: frexp() gives the octave, one comparison the half octave (no log). */
static int tail_bin(double u)
{
	double m;
	int e, k;

	if (!(u >= TAIL_U0))
		return 0;
	if (u >= edge[DETECTOR_TAIL_BINS - 1])
		return DETECTOR_TAIL_BINS - 1;
	m = frexp(u / TAIL_U0, &e); /* u / U0 = m * 2^e, m in [0.5, 1) */
	k = 2 * (e - 1) + 1 + (m >= M_SQRT1_2);
	return k;
}

static double tail_edge(int k)
{
	return edge[k];
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
			/* linear interpolation inside the bin (the top bin is one edge wide) */
			double frac = (want - acc) / c;

			return tail_edge(k) + (1 - frac) * (tail_edge(k + 1) - tail_edge(k));
		}
		acc += c;
	}
	return TAIL_U0 * fmax(0, 1 - (want - acc) / fmax(t->count[0], 1e-300));
}
