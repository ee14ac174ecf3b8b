/*
 * The signal table. Floors are set for what an on-call engineer would act
 * on, not for what is statistically visible: 25 ms and x1.5 on a p99, five
 * points of error rate, a halving or doubling of traffic. They are the
 * false-alarm brake of a noisy host (a p99 of few requests jumps by tens of
 * ms when the scheduler is busy), documented in docs/detection.md.
 */
#include "aggregator/detect/signals.h"

#include <math.h>
#include <string.h>


/* An error rate of fewer requests than this in a second is noise, not a rate. */
#define SIGNAL_MIN_REQUESTS_FOR_RATE 5
/* The same for syscalls (sampled: a second has hundreds when the service is busy). */
#define SIGNAL_MIN_SYSCALLS_FOR_RATE 20

/* clang-format off */
static const struct signal_def signals[SIGNAL_COUNT] = {
	[SIGNAL_LATENCY_P50]        = { "latency_p50",        "ms",    SIGNAL_UP,   10.0, 1.5 },
	[SIGNAL_LATENCY_P99]        = { "latency_p99",        "ms",    SIGNAL_UP,   25.0, 1.5 },
	[SIGNAL_ERROR_RATE]         = { "error_rate",         "ratio", SIGNAL_UP,   0.05, 2.0 },
	[SIGNAL_REQUEST_RATE]       = { "request_rate",       "1/s",   SIGNAL_BOTH, 3.0,  2.0 },
	[SIGNAL_SYSCALL_ERROR_RATE] = { "syscall_error_rate", "ratio", SIGNAL_UP,   0.05, 1.5 },
	[SIGNAL_TCP_RETRANSMITS]    = { "tcp_retransmits",    "1/s",   SIGNAL_UP,   3.0,  3.0 },
	[SIGNAL_TCP_RESETS]         = { "tcp_resets",         "1/s",   SIGNAL_UP,   3.0,  3.0 },
};
/* clang-format on */

const struct signal_def *signal_def(enum signal_id id)
{
	return &signals[id];
}

int signal_find(const char *name)
{
	for (int i = 0; i < SIGNAL_COUNT; i++)
		if (!strcmp(signals[i].name, name))
			return i;
	return -1;
}

double signal_value(enum signal_id id, const struct series_point *p)
{
	switch (id) {
	case SIGNAL_LATENCY_P50:
		return p->requests ? p->latency_p50_ms : NAN;
	case SIGNAL_LATENCY_P99:
		return p->requests ? p->latency_p99_ms : NAN;
	case SIGNAL_ERROR_RATE:
		return p->requests >= SIGNAL_MIN_REQUESTS_FOR_RATE
			       ? (double)p->errors / (double)p->requests
			       : NAN;
	case SIGNAL_REQUEST_RATE:
		return (double)p->requests;
	case SIGNAL_SYSCALL_ERROR_RATE:
		return p->syscalls >= SIGNAL_MIN_SYSCALLS_FOR_RATE
			       ? (double)p->syscall_errors / (double)p->syscalls
			       : NAN;
	case SIGNAL_TCP_RETRANSMITS:
		return (double)p->tcp_retransmits;
	case SIGNAL_TCP_RESETS:
		return (double)p->tcp_resets;
	case SIGNAL_COUNT:
		break;
	}
	return NAN;
}

/* How far past its ratio floor @hi / @lo is, in units of the floor; huge when @lo is ~0. */
static double signal_ratio_excess(double hi, double lo, double min_ratio)
{
	if (lo <= 1e-12)
		return hi > 0 ? INFINITY : 0;
	return (hi / lo - 1.0) / (min_ratio - 1.0);
}

double signal_magnitude(enum signal_id id, double value, double expected)
{
	const struct signal_def *d = &signals[id];
	double delta = value - expected, by_delta, by_ratio;

	if (!isfinite(value) || !isfinite(expected))
		return 0;
	if ((delta > 0 && !(d->bad & SIGNAL_UP)) || (delta < 0 && !(d->bad & SIGNAL_DOWN)) ||
	    delta == 0)
		return 0;
	by_delta = fabs(delta) / d->min_delta;
	by_ratio = delta > 0 ? signal_ratio_excess(value, expected, d->min_ratio)
			     : signal_ratio_excess(expected, value, d->min_ratio);
	if (by_delta < 1 || by_ratio < 1)
		return 0;
	return by_delta < by_ratio ? by_delta : by_ratio;
}
