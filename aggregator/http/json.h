/*
 * Small jansson helpers the API's handlers share: counters as 64-bit
 * integers (STYLE.md §9), latencies from histograms in ms. Each returns a
 * new reference (NULL only when jansson cannot allocate, which json_pack's
 * "o" turns into a failed pack, then a 500).
 */
#ifndef PRP_AGGREGATOR_HTTP_JSON_H
#define PRP_AGGREGATOR_HTTP_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "common/hist.h"

/* A counter; values past INT64_MAX (never seen) are shown as INT64_MAX. */
json_t *json_u64(uint64_t v);
/* The @q quantile of @h (ns) in ms, 0 when empty. */
json_t *json_hist_ms(const struct hist *h, double q);
/* @num / @den, 0 when @den is 0. */
json_t *json_ratio(uint64_t num, uint64_t den);

#endif
