/*
 * The detector's model of how large its surprises usually are: a histogram
 * of |z| on a log scale with exponentially decayed counts, so a series whose
 * errors are heavy-tailed (spikes every hour) learns that spikes are
 * normal, while a Gaussian one keeps a tight tail. Beyond a high quantile
 * the tail is extrapolated as a power law (Pareto), so a point far past
 * anything seen recently gets a tiny probability. Fixed size, no
 * allocation; part of struct detector.
 */
#ifndef PRP_AGGREGATOR_DETECT_DETECTOR_TAIL_H
#define PRP_AGGREGATOR_DETECT_DETECTOR_TAIL_H

/* Bin k >= 1 holds |z| in [U0 * 2^((k-1)/2), U0 * 2^(k/2)), U0 = 1/8: up to 8192 at k = 32. */
#define DETECTOR_TAIL_BINS 34

struct detector_tail {
	float count[DETECTOR_TAIL_BINS]; /* decayed counts, in units of `inc` */
	float total;			 /* sum of count[] */
	float inc;			 /* weight of the next point: grows by 1/(1-alpha) */
};

/* Starts with @prior_points pseudo-points spread as |N(0,1)|, so early tails are Gaussian. */
void detector_tail_init(struct detector_tail *t, double prior_points);
/* Adds one |z| with forgetting factor @alpha (its weight is ~1/alpha points). */
void detector_tail_add(struct detector_tail *t, double u, double alpha);
/* The |z| exceeded by a share @above of the (decayed) points, e.g. 0.01. */
double detector_tail_quantile(const struct detector_tail *t, double above);

#endif
