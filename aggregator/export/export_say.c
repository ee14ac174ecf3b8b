/*
 * The exporters' rate-limited warnings (export_say.h). The first line of a
 * kind is always due.
 */
#include "aggregator/export/export_say.h"

bool export_say_due(struct export_say *s, uint64_t *suppressed)
{
	uint64_t now = time_mono_ns();

	if (s->at_ns && now - s->at_ns < EXPORT_SAY_EVERY_NS) {
		s->suppressed++;
		return false;
	}
	s->at_ns = now;
	*suppressed = s->suppressed;
	s->suppressed = 0;
	return true;
}
