/*
 * jansson helpers. Quantiles come from common/hist.c, within 1/256 relative.
 */
#include "aggregator/http/json.h"

#include "common/timeutil.h"

json_t *json_u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

json_t *json_hist_ms(const struct hist *h, double q)
{
	return json_real((double)hist_quantile(h, q) / NSEC_PER_MSEC);
}

json_t *json_ratio(uint64_t num, uint64_t den)
{
	return json_real(den ? (double)num / (double)den : 0.0);
}
