/*
 * The streaming anomaly detector (detector.h; method and parameters in
 * docs/detection.md). Per point, in this order:
 *
 *   1. predict: a robust level (EWMA whose updates are clipped) and, when
 *      season_s is set, a seasonal profile (one mean per phase bin, plus an
 *      offset that follows the level); the model whose recent error is
 *      lower predicts;
 *   2. surprise: z = (value - prediction) / robust scale, the scale floored
 *      so that flat series do not explode on tiny changes;
 *   3. score: -log10 of a tail probability / score_decades. The point's
 *      |z| is judged against a learnt, decayed histogram of past |z|
 *      (detector_tail.c) with a power-law tail past its 0.5% quantile whose
 *      power is fitted on a longer memory, so spiky series learn that
 *      spikes are normal; a spike that recurs at
 *      the same phase of the season raises the bar there. The short
 *      average of |z| (Numenta's "anomaly likelihood" idea) is judged the
 *      same way against its own histogram; the larger score wins;
 *   4. change point: a CUSUM on z re-bases the models after a level shift
 *      so the detector adapts instead of alarming on every point;
 *   5. suppression: a score that is not above the last peak (which fades
 *      over suppress_points) is damped, so each event has one high score.
 *
 * Invariants: all memory is allocated in detector_new() (the struct and its
 * season bins), so detector_size() is constant; a missing point changes
 * nothing; every result depends only on the points fed so far.
 */
#include "aggregator/detect/detector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/detect/detector_tail.h"
#include "common/alloc.h"
#include "common/compiler.h"

/* A scale is estimated as a mean absolute deviation; for normal errors sigma = 1.2533 of it. */
#define MAD_TO_SIGMA 1.2533141373155
/* The tails' quantiles are re-read every point for this many points, then every TAIL_REFRESH. */
#define TAIL_EXACT_POINTS 256
/*
 * The first points' |z| are not learnt: the scale then rests on a handful
 * of points (or on the floor alone), so their |z| are too large (a t
 * distribution with few degrees of freedom) and would make a Gaussian
 * series look heavy-tailed for the next thousand points (with 8 skipped,
 * a 13 sigma step after 600 points of noise alarmed about half the time).
 */
#define TAIL_SKIP_POINTS 32
#define TAIL_REFRESH	  1
/* After a large step, the scale is learnt unclipped for this many points. */
#define SHIFT_RELEARN_POINTS 32
/* Smallest tail probability scored: -log10 of it must stay finite. */
#define P_MIN 1e-300

/* One phase bin of the seasonal profile. */
struct season_bin {
	float mean;	 /* the value at this phase, without the offset */
	float peak;	 /* decayed max of |z| at this phase: recurring spikes */
	uint16_t visits; /* seasons that reached this bin, saturating */
	uint16_t pad0;
};

struct detector {
	struct detector_params p;
	uint64_t n;	 /* finite points seen */
	double last_t;	 /* time of the last point, s */
	double dt;	 /* typical step between points, s (EWMA) */
	double min, max; /* range seen: the scale floor is relative to it */
	double log_p_alarm; /* log10 of the tail probability whose score is alarm_score */
	struct detector_tail tail; /* how large |z| usually is */
	struct detector_tail ktail; /* the same, remembered longer: the tail's power is fitted on it */

	/* level model */
	double level, level_dev, level_err;
	/* seasonal model */
	double offset, season_dev, season_err;
	double season_log_keep; /* log(1 - season_alpha): per-visit smoothing */
	uint64_t season_points;	/* points since the first seasonal prediction */
	int bin;		/* bin of the last point; -1 before the first */
	uint32_t visit_points;	/* points in the current visit of that bin */
	double first_t;

	/* anomaly likelihood: short window of |z| against its long-run moments */
	struct detector_tail wtail; /* how large the short average of |z| usually is */
	double q_point, k_point;    /* the point tail: its start and power (refresh_tails()) */
	double band_ratio;	    /* result.upper is q_point * band_ratio scales away */
	double log_above;	    /* log10(tail_above) */
	double q_window;	    /* the window tail's start */
	double ring_sum;
	float ring[DETECTOR_SHORT_MAX];
	unsigned ring_pos, ring_n;

	double cusum_pos, cusum_neg;
	uint64_t since_shift; /* points since a large step (or since the start) */
	uint64_t since_alarm; /* points since the last alarm; UINT64_MAX: none yet */
	double peak_score;    /* the last score that was a new peak, and its age */
	uint64_t since_peak;
	struct season_bin bins[];
};

/* maxd() and mind() are library calls at -O2; every value here is finite or +-inf. */
static inline double maxd(double a, double b)
{
	return a > b ? a : b;
}

static inline double mind(double a, double b)
{
	return a < b ? a : b;
}

void detector_params_default(struct detector_params *p)
{
	memset(p, 0, sizeof(*p));
	p->warmup_points = 120;
	p->season_s = 86400;
	p->alarm_score = 0.45;
	p->suppress_points = 200;
	p->alpha_level = 0.1;
	p->alpha_scale = 0.003;
	p->clip_z = 4;
	p->range_floor = 0.002;
	p->rel_floor = 0.001;
	p->abs_floor = 1e-9;
	p->season_bins = 144;
	p->season_alpha = 0.3;
	p->offset_alpha = 0.05;
	p->select_alpha = 0.005;
	p->select_ratio = 0.8;
	p->short_points = 15;
	p->u_cap = 6;
	p->window_power = 8;
	p->point_weight = 1;
	p->window_weight = 1;
	p->score_decades = 10;
	p->cusum_k = 1;
	p->cusum_h = 12;
	p->shift_score = 0;
	p->suppress_damp = 0.2;
	p->tail_alpha = 0.002;
	p->tail_above = 0.005;
	p->tail_power = 3;
	p->tail_power_max = 8;
	p->tail_q_min = 1;
	p->tail_prior = 50;
	p->tail_learn_cap = 1000;
	p->restart_z = 1e9;
	p->cusum_clip = 4;
	p->season_peak_span = 3;
	p->season_peak_keep = 0.8;
	p->season_peak_weight = 1;
	p->tail_k_alpha = 0.0005;
	p->tail_k_ratio = 10;
}

/* Clamps the knobs a caller may have set out of range, so update() needs no checks. */
static void params_sanitize(struct detector_params *p)
{
	if (p->season_s < 0 || !isfinite(p->season_s))
		p->season_s = 0;
	if (p->season_bins < 1)
		p->season_bins = 1;
	if (p->season_bins > DETECTOR_SEASON_BINS_MAX)
		p->season_bins = DETECTOR_SEASON_BINS_MAX;
	if (p->short_points < 1)
		p->short_points = 1;
	if (p->short_points > DETECTOR_SHORT_MAX)
		p->short_points = DETECTOR_SHORT_MAX;
	if (!(p->score_decades > 0))
		p->score_decades = 10;
	if (!(p->season_alpha > 0 && p->season_alpha < 1))
		p->season_alpha = 0.3;
	if (!(p->tail_k_ratio > 1 && p->tail_k_ratio * p->tail_above < 1))
		p->tail_k_ratio = 10;
	if (!(p->tail_k_alpha > 0 && p->tail_k_alpha < 1))
		p->tail_k_alpha = p->tail_alpha;
}

static unsigned bins_of(const struct detector_params *p)
{
	return p->season_s > 0 ? p->season_bins : 0;
}

size_t detector_size(const struct detector_params *p)
{
	struct detector_params q;

	if (!p)
		detector_params_default(&q);
	else
		q = *p;
	params_sanitize(&q);
	return sizeof(struct detector) + bins_of(&q) * sizeof(struct season_bin);
}

void detector_peek(const struct detector *d, struct detector *scratch, double t_s, double value,
		   struct detector_result *r)
{
	/* one allocation holds the whole state (bins included): a copy is a memcpy */
	memcpy(scratch, d, detector_size(&d->p));
	detector_update(scratch, t_s, value, r);
}

/*
 * Re-reads the tails' quantiles. Scanning a histogram costs more than the
 * rest of an update, so it is done every TAIL_REFRESH points once the
 * histograms hold a few points (an approximation: the quantiles of
 * hundreds of decayed points move little in a few points).
 *
 * The point tail's power is fitted on a second histogram of the same |z|
 * that forgets slower (tail_k_alpha: the heaviness of a series' tail is a
 * property of the series, while the tail's start q follows its recent
 * noise), from two quantiles there, q1 at tail_above and q_lo at
 * tail_above x tail_k_ratio: a power law through both has
 * power = ln(ratio) / ln(q1 / q_lo). Both quantiles rest on tens of points,
 * not on the one or two of the most extreme ones, so the fit is stable.
 * Gaussian noise gives a steep tail (about 6), a spiky series (or a series
 * whose spikes are months apart) a shallow one; tail_power and
 * tail_power_max bound it.
 */
static void refresh_tails(struct detector *d)
{
	const struct detector_params *p = &d->p;
	double q1, q_lo, k;

	if (d->n > TAIL_EXACT_POINTS && d->n % TAIL_REFRESH)
		return;
	d->q_point = maxd(detector_tail_quantile(&d->tail, p->tail_above), p->tail_q_min);
	k = p->tail_power;
	if (p->tail_power_max > p->tail_power) {
		q1 = maxd(detector_tail_quantile(&d->ktail, p->tail_above), p->tail_q_min);
		q_lo = detector_tail_quantile(&d->ktail, p->tail_above * p->tail_k_ratio);
		k = q1 > q_lo && q_lo > 0 ? log(p->tail_k_ratio) / log(q1 / q_lo) : p->tail_power_max;
		k = mind(maxd(k, p->tail_power), p->tail_power_max);
	}
	if (k != d->k_point) {
		d->k_point = k;
		/* the |z| / q at which the point score is alarm_score: point_log_p() inverted */
		d->band_ratio = pow(10, (d->log_above - d->log_p_alarm) / k);
	}
	d->q_window = maxd(detector_tail_quantile(&d->wtail, p->tail_above), p->tail_q_min);
}

/*
 * -log10 of the point's tail probability: a share tail_above of the usual
 * |z| lies beyond the quantile q; past q the tail falls as a power law, so
 * P(|Z| >= u) = tail_above * (q / u)^k. A recurring excursion at this phase
 * (@seasonal, its usual |z|) raises q. *@q_out gets the q used.
 */
static double point_log_p(const struct detector *d, double u, double seasonal, double *q_out)
{
	const struct detector_params *p = &d->p;
	double q = maxd(d->q_point, p->season_peak_weight * seasonal);
	double lp = d->log_above + d->k_point * log10(q / maxd(u, 1e-300));

	*q_out = q;
	return -mind(lp, 0);
}

struct detector *detector_new(const struct detector_params *p)
{
	struct detector_params q;
	struct detector *d;

	if (!p)
		detector_params_default(&q);
	else
		q = *p;
	params_sanitize(&q);
	d = xcalloc(1, detector_size(&q));
	d->p = q;
	d->bin = -1;
	d->since_alarm = UINT64_MAX;
	d->since_shift = SHIFT_RELEARN_POINTS; /* the first points are clipped as usual */
	d->log_p_alarm = -q.alarm_score * q.score_decades;
	d->log_above = log10(q.tail_above);
	detector_tail_init(&d->tail, q.tail_prior);
	detector_tail_init(&d->wtail, q.tail_prior);
	detector_tail_init(&d->ktail, q.tail_prior);
	d->season_log_keep = log1p(-q.season_alpha);
	return d;
}

void detector_free(struct detector *d)
{
	free(d);
}

/* Clamps time to go forward and learns the typical step (gaps excluded). */
static void learn_time(struct detector *d, double t)
{
	double step;

	if (d->n == 0 || !isfinite(t)) {
		d->last_t = isfinite(t) ? t : 0;
		d->first_t = d->last_t;
		return;
	}
	if (t < d->last_t)
		t = d->last_t;
	step = t - d->last_t;
	if (d->dt <= 0)
		d->dt = step;
	else if (step > 0) /* a gap counts as at most 4 steps: it is not the rate */
		d->dt += 0.05 * (mind(step, 4 * d->dt) - d->dt);
	d->last_t = t;
}

/* The smallest scale allowed: a share of the range seen and of |level|, and an epsilon. */
static double scale_floor(const struct detector *d)
{
	const struct detector_params *p = &d->p;
	double f = p->range_floor * (d->max - d->min);

	f = maxd(f, p->rel_floor * fabs(d->level));
	return maxd(f, p->abs_floor);
}

static double clampd(double x, double lim)
{
	return x > lim ? lim : x < -lim ? -lim : x;
}

/* What the models say about the point, before any learning. */
struct forecast_view {
	double expected, scale, z;
	double e_level, s_level;
	double e_season, s_season;
	bool seasonal_ready, seasonal_used;
	int bin;
};

/* The bin of @t and whether the seasonal model can predict it (seen a season ago). */
static void season_locate(const struct detector *d, struct forecast_view *v)
{
	const struct detector_params *p = &d->p;
	unsigned nb = bins_of(p);
	double ph;
	int b;

	v->bin = -1;
	v->seasonal_ready = false;
	if (!nb)
		return;
	ph = fmod(d->last_t, p->season_s) / p->season_s;
	b = (int)(ph * nb);
	if (b < 0 || b >= (int)nb)
		b = 0;
	v->bin = b;
	/* a bin still on its first visit has no history for this phase */
	v->seasonal_ready = d->last_t - d->first_t >= p->season_s &&
			    d->bins[b].visits >= (b == d->bin ? 2 : 1);
}

static void forecast(const struct detector *d, double x, struct forecast_view *v)
{
	const struct detector_params *p = &d->p;
	double floor = scale_floor(d);

	memset(v, 0, sizeof(*v));
	v->e_level = x - d->level;
	v->s_level = maxd(MAD_TO_SIGMA * d->level_dev, floor);
	v->expected = d->level;
	v->scale = v->s_level;
	v->z = v->e_level / v->s_level;
	season_locate(d, v);
	v->seasonal_used = false;
	if (!v->seasonal_ready)
		return;
	v->e_season = x - (d->bins[v->bin].mean + d->offset);
	v->s_season = maxd(MAD_TO_SIGMA * d->season_dev, floor);
	if (d->season_points > 0 && d->season_err < p->select_ratio * d->level_err) {
		v->seasonal_used = true;
		v->expected = d->bins[v->bin].mean + d->offset;
		v->scale = v->s_season;
		v->z = v->e_season / v->s_season;
	}
}

/*
 * The largest |z| seen near this phase in earlier seasons (decayed), or 0:
 * a daily job's spike that wanders by up to season_peak_span bins is then
 * expected. The current visit counts too (an approximation: it only lowers
 * the scores after the first point of an excursion, which has its score).
 */
static double season_peak(const struct detector *d, const struct forecast_view *v)
{
	unsigned nb = bins_of(&d->p);
	int span = (int)d->p.season_peak_span;
	double m = 0;

	if (!nb || v->bin < 0 || d->last_t - d->first_t < d->p.season_s)
		return 0;
	for (int i = -span; i <= span; i++)
		m = maxd(m, d->bins[(v->bin + i + (int)nb * 4) % (int)nb].peak);
	return m;
}

/*
 * Adds |z| (capped, so one spike moves the average by at most u_cap /
 * short_points) to the short window and returns -log10 of the tail
 * probability of the window's mean under its own learnt tail: Numenta's
 * "anomaly likelihood" idea (a burst of moderate surprises is an anomaly
 * even when no single point is), calibrated like the point score.
 */
static double window_log_p(struct detector *d, double u)
{
	const struct detector_params *p = &d->p;
	unsigned w = p->short_points;
	double avg, q;

	if (d->ring_n == w)
		d->ring_sum -= d->ring[d->ring_pos];
	else
		d->ring_n++;
	d->ring[d->ring_pos] = (float)u;
	d->ring_sum += (float)u;
	d->ring_pos = (d->ring_pos + 1) % w;
	avg = maxd(d->ring_sum / d->ring_n, 0);
	q = d->q_window;
	if (d->n > TAIL_SKIP_POINTS)
		detector_tail_add(&d->wtail, avg, p->tail_alpha);
	return -mind(d->log_above + p->window_power * log10(q / maxd(avg, 1e-300)), 0);
}

/* CUSUM on the clipped z: true when the level has shifted (either way). */
static bool cusum_step(struct detector *d, double z)
{
	const struct detector_params *p = &d->p;

	z = clampd(z, p->cusum_clip);
	d->cusum_pos = maxd(0, d->cusum_pos + z - p->cusum_k);
	d->cusum_neg = maxd(0, d->cusum_neg - z - p->cusum_k);
	if (d->cusum_pos < p->cusum_h && d->cusum_neg < p->cusum_h)
		return false;
	d->cusum_pos = 0;
	d->cusum_neg = 0;
	return true;
}

/* Robust learning of the level model: residuals clipped at clip_z scales. */
static void learn_level(struct detector *d, const struct forecast_view *v, bool shifted)
{
	const struct detector_params *p = &d->p;
	double a = maxd(p->alpha_level, 1.0 / (double)d->n);
	double as = maxd(p->alpha_scale, 1.0 / (double)(d->n < ++d->since_shift ? d->n : d->since_shift));
	/* a new regime's noise may be larger: learn its scale unclipped at first */
	double lim = d->since_shift < SHIFT_RELEARN_POINTS ? INFINITY : p->clip_z * v->s_level;
	double e = clampd(v->e_level, lim);

	if (shifted) {
		/* re-base on the new level rather than crawl to it */
		d->level += v->e_level;
		/*
		 * A step far outside the noise starts a new regime whose noise is
		 * unknown: restart the scale's average (the old scale weighs as one
		 * point). A shift the CUSUM found by accumulating small errors
		 * keeps the scale, which is well known.
		 */
		if (fabs(v->z) >= p->restart_z)
			d->since_shift = 1;
		return;
	}
	d->level += a * e;
	d->level_dev += as * (fabs(e) - d->level_dev);
	d->level_err += p->select_alpha * (fabs(v->e_level) - d->level_err);
}

/* The per-point smoothing of a bin such that one whole visit moves it by season_alpha. */
static double season_point_alpha(const struct detector *d)
{
	double bin_s = d->p.season_s / d->p.season_bins;
	double per_visit = d->dt > 0 ? bin_s / d->dt : 1;

	if (per_visit <= 1)
		return d->p.season_alpha;
	return -expm1(d->season_log_keep / per_visit);
}

static void learn_season(struct detector *d, const struct forecast_view *v, double x, bool shifted)
{
	const struct detector_params *p = &d->p;
	struct season_bin *b;
	double a, e;

	if (v->bin < 0)
		return;
	b = &d->bins[v->bin];
	if (v->bin != d->bin) {
		b->peak *= (float)p->season_peak_keep;
		if (b->visits < UINT16_MAX)
			b->visits++;
		d->bin = v->bin;
		d->visit_points = 0;
	}
	d->visit_points++;
	b->peak = fmaxf(b->peak, (float)mind(fabs(v->z), 1e30));
	if (!v->seasonal_ready) {
		/* first visit: the plain mean of the visit */
		if (b->visits <= 1)
			b->mean += (float)((x - d->offset - b->mean) / d->visit_points);
		return;
	}
	if (shifted) {
		d->offset += v->e_season;
		return;
	}
	e = clampd(v->e_season, p->clip_z * v->s_season);
	if (d->season_points++ == 0) {
		d->season_dev = d->level_dev;
		d->season_err = d->level_err;
	}
	a = season_point_alpha(d);
	b->mean += (float)(a * e);
	d->offset += p->offset_alpha * e;
	d->season_dev += p->alpha_scale * (fabs(e) - d->season_dev);
	d->season_err += p->select_alpha * (fabs(v->e_season) - d->season_err);
}

/*
 * Damps every score that is not a new peak: a score counts in full only
 * when it is above the last peak, which fades linearly to 0 over
 * suppress_points. This keeps one high score per event whatever threshold
 * the reader applies. result.alarm is the same idea at alarm_score.
 */
static void suppress(struct detector *d, struct detector_result *r)
{
	const struct detector_params *p = &d->p;
	double fade = p->suppress_points ? 1.0 - (double)d->since_peak / p->suppress_points : 0;

	d->since_peak++;
	if (d->since_alarm != UINT64_MAX)
		d->since_alarm++;
	if (r->score <= d->peak_score * fade) {
		r->score *= p->suppress_damp;
		return;
	}
	d->peak_score = r->score;
	d->since_peak = 0;
	if (r->warm && r->score >= p->alarm_score &&
	    (d->since_alarm == UINT64_MAX || d->since_alarm > p->suppress_points)) {
		r->alarm = true;
		d->since_alarm = 0;
	}
}

static void first_point(struct detector *d, double x, struct detector_result *r)
{
	d->level = x;
	d->min = x;
	d->max = x;
	r->expected = x;
	r->lower = x;
	r->upper = x;
}

void detector_update(struct detector *d, double t_s, double value, struct detector_result *r)
{
	const struct detector_params *p = &d->p;
	struct forecast_view v;
	double u, s, q, band;

	memset(r, 0, sizeof(*r));
	if (!isfinite(value))
		return;
	learn_time(d, t_s);
	d->n++;
	if (d->n == 1) {
		first_point(d, value, r);
		learn_season(d, &(struct forecast_view){ .bin = -1 }, value, false);
		return;
	}
	forecast(d, value, &v);
	u = fabs(v.z);
	refresh_tails(d);
	/* a recurring excursion at this phase is measured against its usual size */
	q = season_peak(d, &v);
	s = maxd(p->point_weight * point_log_p(d, u, q, &q) / p->score_decades,
		 p->window_weight * window_log_p(d, mind(u, p->u_cap)) / p->score_decades);
	/*
	 * Robust: a surprise counts as at most tail_learn_cap x the tail's start,
	 * so the few points of one level shift cannot inflate the tail for the
	 * next thousand points; frequent spikes still raise it, step by step.
	 */
	if (d->n > TAIL_SKIP_POINTS) {
		detector_tail_add(&d->tail, mind(u, p->tail_learn_cap * d->q_point), p->tail_alpha);
		detector_tail_add(&d->ktail, mind(u, p->tail_learn_cap * d->q_point), p->tail_k_alpha);
	}
	r->level_shift = cusum_step(d, v.z);
	if (r->level_shift)
		s = maxd(s, p->shift_score);
	r->warm = d->n > p->warmup_points;
	/* NaN-safe: a NaN score (it cannot happen with finite input) reads as 0 */
	r->score = r->warm && s > 0 ? (s < 1 ? s : 1) : 0;
	r->expected = v.expected;
	r->deviation = v.z;
	/* the |z| whose point score is alarm_score: invert point_log_p() */
	band = q * d->band_ratio;
	r->lower = v.expected - band * v.scale;
	r->upper = v.expected + band * v.scale;
	r->direction = value > r->upper ? 1 : value < r->lower ? -1 : 0;
	suppress(d, r);
	learn_level(d, &v, r->level_shift);
	learn_season(d, &v, value, r->level_shift);
	d->min = mind(d->min, value);
	d->max = maxd(d->max, value);
}
