/*
 * libFuzzer target for spans_parse_traceparent(), which reads the head of
 * any HTTP request a watched service receives. Whatever it accepts must be
 * a W3C traceparent it can print back: version 00, non-zero ids, and a
 * header line that the input really contains. ASan and UBSan findings abort.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/spans.h"
#include "common/span.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spans_traceparent tp;
	char trace[33], parent[17], want[64];

	memset(&tp, 0, sizeof(tp));
	if (!spans_parse_traceparent((const char *)data, size, &tp))
		return 0;
	if (span_id_is_zero(tp.trace_id, 16) || span_id_is_zero(tp.parent_id, 8))
		abort();
	span_hex(tp.trace_id, 16, trace);
	span_hex(tp.parent_id, 8, parent);
	snprintf(want, sizeof(want), "00-%s-%s-", trace, parent);
	if (!memmem(data, size, want, strlen(want)))
		abort();
	return 0;
}
