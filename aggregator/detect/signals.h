/*
 * The signals detection watches on every service, one value per second
 * taken from the in-memory series (aggregator/series.h), and what makes a
 * move in each of them matter: which direction hurts, and the smallest
 * change worth an operator's attention. The detector says how unusual a
 * value is; these floors say whether it is big enough to care about (a p99
 * going from 2 ms to 3 ms is unusual and harmless).
 */
#ifndef PRP_AGGREGATOR_DETECT_SIGNALS_H
#define PRP_AGGREGATOR_DETECT_SIGNALS_H

#include <stdbool.h>

#include "aggregator/series.h"

enum signal_id {
	SIGNAL_LATENCY_P50,
	SIGNAL_LATENCY_P99,
	SIGNAL_ERROR_RATE,
	SIGNAL_REQUEST_RATE,
	SIGNAL_SYSCALL_ERROR_RATE,
	SIGNAL_TCP_RETRANSMITS,
	SIGNAL_TCP_RESETS,
	SIGNAL_COUNT
};

enum signal_direction {
	SIGNAL_UP = 1,	 /* only a rise hurts (latency, errors) */
	SIGNAL_DOWN = 2, /* only a fall hurts */
	SIGNAL_BOTH = 3, /* both (request rate: a drop is an outage, a surge a flood) */
};

struct signal_def {
	const char *name; /* the bare metric name of API.md: "latency_p99" */
	const char *unit; /* "ms", "ratio", "1/s" */
	enum signal_direction bad;
	double min_delta; /* |value - expected| below this never matters */
	double min_ratio; /* nor a value within [expected / r, expected * r] (r > 1) */
};

/* The definition of @id (a static table). */
const struct signal_def *signal_def(enum signal_id id);
/* The id of the signal called @name, or -1. */
int signal_find(const char *name);

/*
 * The value of @id in the second @p, or NaN when the second says nothing
 * about it (no request: no latency and no error rate; too few requests for
 * an error rate to mean anything).
 */
double signal_value(enum signal_id id, const struct series_point *p);

/*
 * How many times over its floors a move from @expected to @value is, in the
 * direction that hurts: 0 when it is within either floor or goes the
 * harmless way, else min(|delta| / min_delta, excess ratio / (min_ratio - 1)).
 * 1 is "just matters"; detection grades severity from it.
 */
double signal_magnitude(enum signal_id id, double value, double expected);

#endif
