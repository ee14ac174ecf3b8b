/*
 * Holt's linear method with a damped trend (Gardner & McKenzie 1985), in
 * the error-correction form of ETS(A,Ad,N) (Hyndman et al. 2008, ch. 2):
 *
 *     forecast     y^(t+h) = l_t + b_t * (phi + phi^2 + ... + phi^h)
 *     one-step err e_t     = y_t - (l_{t-1} + phi * b_{t-1})
 *     level        l_t     = l_{t-1} + phi * b_{t-1} + alpha * e_t
 *     trend        b_t     = phi * b_{t-1} + alpha * beta * e_t
 *
 * with beta Holt's trend smoothing (beta* in Hyndman's notation).
 *
 * Start: over the first init_points() points the level and trend are a
 * least-squares line through them (two running sums), far less noisy than
 * one difference; the recursion takes over from the next point.
 *
 * The one-step error variance sigma^2 is an EWMA of squared one-step
 * errors, each clipped at CLIP_SIGMA of the current sigma so one outlier
 * cannot blow the interval up. The h-step variance is the standard
 * approximation for ETS(A,Ad,N):
 *
 *     var_h = sigma^2 * (1 + sum_{j=1}^{h-1} c_j^2),
 *     c_j   = alpha * (1 + beta * (phi + ... + phi^j))
 *
 * summed directly for small h and in closed form above (var_factor()).
 *
 * Invariants: p holds valid parameters (forecast_init() sanitises them);
 * level, trend and err_var stay finite (a point whose error would
 * overflow is ignored like a non-finite one).
 */
#include "aggregator/detect/forecast.h"

#include <math.h>
#include <stdbool.h>

/*
 * Defaults, for 1 Hz latency or error-rate series that the caller already
 * smooths (so the one-step noise left is moderate):
 *
 * alpha 0.3: the level's weights decay by 0.7 per second, so it mostly
 * reflects the last ~3 s (1/alpha) and follows a real change within a few
 * seconds; lower values lag the ramps we want to see, higher ones pass
 * the leftover noise straight into the level.
 *
 * beta 0.1: the trend moves by alpha * beta = 0.03 of each one-step error,
 * so it is a slope averaged over a few tens of seconds: one noisy second
 * does not make a trend, a climb sustained for ~10 s does.
 *
 * phi 0.98: the trend's weight halves every ln 0.5 / ln 0.98 = 34 steps
 * and the total rise it can still add is bounded by phi / (1 - phi) = 49
 * times the current slope. A slope estimated from ~30 s of data is thus
 * extrapolated for about a minute, then the forecast levels off: we do not
 * claim a breach in 40 minutes from a 30 s climb. The price is lateness
 * on a ramp that really goes on (docs/prediction.md gives numbers).
 *
 * warm-up 30: 10 points for the initial line, then 20 one-step errors for
 * sigma before any forecast is used (30 s at 1 Hz).
 *
 * z 1.96: a two-sided 95% normal interval.
 *
 * sigma_alpha 0.05: sigma^2 averages about 2 / 0.05 - 1 = 39 squared
 * errors (~40 s), so its relative standard error is ~sqrt(2 / 39) = 23%
 * (11% on sigma) and it follows a change of noise regime within a minute.
 */
#define DEFAULT_ALPHA	    0.3
#define DEFAULT_BETA	    0.1
#define DEFAULT_PHI	    0.98
#define DEFAULT_WARMUP	    30
#define DEFAULT_Z	    1.96
#define DEFAULT_SIGMA_ALPHA 0.05

/* Longest initial line: 10 points already cut the slope's noise to
 * sigma * sqrt(12 / (10 * 99)) = 0.11 sigma (one difference: 1.4 sigma). */
#define INIT_POINTS_MAX 10

/*
 * A one-step error beyond CLIP_SIGMA sigmas adds only CLIP_SIGMA^2 sigma^2
 * to the variance: 4 sigma is exceeded by 1 normal error in ~16000, so
 * clipping costs nothing on normal noise and caps a single spike's effect
 * on sigma^2 at 1 + sigma_alpha * (16 - 1) = 1.75 times. A real step in the
 * series still widens sigma by ~1.3 per point until it is followed.
 * Clipping starts after CLIP_MIN_ERRORS errors, when sigma means something.
 * The level and trend get the raw error: clipping them too would make the
 * forecaster lag a genuine fast change when the noise is small.
 */
#define CLIP_SIGMA	4.0
#define CLIP_MIN_ERRORS 5

/*
 * A phi this close to 1 is taken as 1. Its forecasts differ from the
 * undamped ones by under 0.4% within 3600 steps (1 - phi^3600 < 0.0036),
 * and the closed-form variance below loses accuracy as (1 - phi)^-2.
 */
#define PHI_ONE_EPS 1e-6

/* Up to this h the variance sum is a loop: it is exact and cheap, where
 * the closed form cancels worst (few terms, phi near 1). */
#define VAR_LOOP_MAX 64

void forecast_params_default(struct forecast_params *p)
{
	p->alpha = DEFAULT_ALPHA;
	p->beta = DEFAULT_BETA;
	p->phi = DEFAULT_PHI;
	p->warmup_points = DEFAULT_WARMUP;
	p->interval_z = DEFAULT_Z;
	p->sigma_alpha = DEFAULT_SIGMA_ALPHA;
}

/* @v if in (0,1], else @dflt: the negated test also catches NaN. */
static double unit_or(double v, double dflt)
{
	return v > 0.0 && v <= 1.0 ? v : dflt;
}

void forecast_init(struct forecast *f, const struct forecast_params *p)
{
	struct forecast_params d;

	forecast_params_default(&d);
	*f = (struct forecast){ 0 };
	f->p = p ? *p : d;
	f->p.alpha = unit_or(f->p.alpha, d.alpha);
	f->p.beta = unit_or(f->p.beta, d.beta);
	f->p.phi = unit_or(f->p.phi, d.phi);
	if (f->p.phi > 1.0 - PHI_ONE_EPS)
		f->p.phi = 1.0;
	f->p.sigma_alpha = unit_or(f->p.sigma_alpha, d.sigma_alpha);
	if (!(f->p.interval_z >= 0.0 && isfinite(f->p.interval_z)))
		f->p.interval_z = d.interval_z;
}

/* Points that form the initial line: half the warm-up, at least 2 so there
 * is a slope, at most INIT_POINTS_MAX so the recursion starts early. */
static unsigned long init_points(const struct forecast_params *p)
{
	unsigned long k = p->warmup_points / 2;

	if (k < 2)
		return 2;
	return k > INIT_POINTS_MAX ? INIT_POINTS_MAX : k;
}

/*
 * Least-squares line through (1, x_1) .. (n, x_n): slope Sxy / Sxx with
 * mean t (n + 1) / 2 and Sxx = n (n^2 - 1) / 12; the level is the line at
 * t = n. One point: level x_1, no trend.
 */
static void init_line(struct forecast *f, double value)
{
	double n = (double)f->n, tbar, mean, sxx, sxy;

	f->init_sum += value;
	f->init_tsum += n * value;
	if (f->n == 1) {
		f->level = value;
		f->trend = 0.0;
		return;
	}
	tbar = (n + 1.0) / 2.0;
	mean = f->init_sum / n;
	sxx = n * (n * n - 1.0) / 12.0;
	sxy = f->init_tsum - n * tbar * mean;
	f->trend = sxy / sxx;
	f->level = mean + f->trend * (n - tbar);
}

static void update_err_var(struct forecast *f, double e)
{
	double w, limit;

	if (f->n_err >= CLIP_MIN_ERRORS && f->err_var > 0.0) {
		limit = CLIP_SIGMA * sqrt(f->err_var);
		e = fmax(-limit, fmin(e, limit));
	}
	f->n_err++;
	/* The first errors are averaged equally (weight 1/k), so the EWMA
	 * does not start biased towards its initial 0. */
	w = fmax(f->p.sigma_alpha, 1.0 / (double)f->n_err);
	f->err_var += w * (e * e - f->err_var);
}

void forecast_update(struct forecast *f, double value)
{
	double pred, e;

	if (!isfinite(value))
		return;
	if (f->n >= init_points(&f->p)) {
		pred = f->level + f->p.phi * f->trend;
		e = value - pred;
		if (!isfinite(e * e))
			return; /* its error would overflow the state: as if non-finite */
		f->level = pred + f->p.alpha * e;
		f->trend = f->p.phi * f->trend + f->p.alpha * f->p.beta * e;
		update_err_var(f, e);
		f->n++;
	} else {
		f->n++;
		init_line(f, value);
	}
	f->last = value;
}

bool forecast_ready(const struct forecast *f)
{
	return f->n > 0 && f->n >= f->p.warmup_points;
}

/* phi + phi^2 + ... + phi^h; expm1 keeps it accurate for phi near 1. */
static double damp_sum(double phi, double h)
{
	if (phi == 1.0)
		return h;
	return -phi * expm1(h * log(phi)) / (1.0 - phi);
}

static double mean_at(const struct forecast *f, unsigned h)
{
	return f->level + f->trend * damp_sum(f->p.phi, (double)h);
}

/*
 * 1 + sum_{j=1}^{m} c_j^2 with m = h - 1, c_j = alpha (1 + beta S_j),
 * S_j = phi + ... + phi^j. Closed form: with k = beta phi / (1 - phi) and
 * g_j = 1 - phi^j, c_j = alpha (1 + k g_j), so
 *     sum (1 + k g_j)^2 = m + 2 k G1 + k^2 G2,
 *     G1 = sum g_j   = m - S_m,
 *     G2 = sum g_j^2 = m - 2 S_m + phi^2 (1 - phi^2m) / (1 - phi^2).
 * Undamped: sum (1 + beta j)^2 = m + beta m(m+1) + beta^2 m(m+1)(2m+1)/6.
 */
static double var_factor(const struct forecast_params *p, unsigned h)
{
	double m = (double)h - 1.0, a = p->alpha, b = p->beta, phi = p->phi;
	double s, k, g1, g2, t, sum = 0.0;

	if (h <= VAR_LOOP_MAX) {
		s = 0.0;
		for (unsigned j = 1; j < h; j++) {
			double c;

			s = phi * (1.0 + s);
			c = a * (1.0 + b * s);
			sum += c * c;
		}
		return 1.0 + sum;
	}
	if (phi == 1.0)
		return 1.0 + a * a *
				     (m + b * m * (m + 1.0) +
				      b * b * m * (m + 1.0) * (2.0 * m + 1.0) / 6.0);
	s = damp_sum(phi, m);
	k = b * phi / (1.0 - phi);
	t = -phi * phi * expm1(2.0 * m * log(phi)) / ((1.0 - phi) * (1.0 + phi));
	g1 = m - s;
	g2 = m - 2.0 * s + t;
	return 1.0 + a * a * (m + 2.0 * k * g1 + k * k * g2);
}

static double sd_at(const struct forecast *f, unsigned h)
{
	return sqrt(f->err_var * var_factor(&f->p, h));
}

void forecast_ahead(const struct forecast *f, unsigned h, double *mean, double *lo, double *hi)
{
	double m = NAN, half = NAN;

	if (h == 0)
		h = 1;
	if (f->n > 0) {
		m = mean_at(f, h);
		half = f->p.interval_z * sd_at(f, h);
	}
	if (mean)
		*mean = m;
	if (lo)
		*lo = m - half;
	if (hi)
		*hi = m + half;
}

unsigned forecast_steps_to(const struct forecast *f, double threshold, unsigned max_h,
			   double *confidence)
{
	unsigned lo, hi;
	double sd;

	if (confidence)
		*confidence = 0.0;
	if (!forecast_ready(f) || max_h == 0)
		return 0;
	/* Already there (or a NaN threshold): no crossing from below. */
	if (!(f->level < threshold && f->last < threshold))
		return 0;
	/*
	 * With b > 0 the mean rises with h (S_h grows), with b <= 0 it never
	 * rises, so one look at max_h settles the usual no-crossing case, and
	 * a bisection finds the first h. Bisecting mean_at() itself, rather
	 * than solving S_h = (threshold - l) / b with a logarithm, keeps the
	 * answer consistent with forecast_ahead() to the last bit.
	 */
	if (!(f->trend > 0.0) || mean_at(f, max_h) < threshold)
		return 0;
	lo = 1;
	hi = max_h; /* invariant: mean_at(hi) >= threshold */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (mean_at(f, mid) >= threshold)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (confidence) {
		/* P(y_h >= threshold) = 1 - Phi((threshold - mean) / sd). */
		sd = sd_at(f, hi);
		if (sd > 0.0)
			*confidence = 0.5 * erfc((threshold - mean_at(f, hi)) / (sd * M_SQRT2));
		else
			*confidence = 1.0;
	}
	return hi;
}
