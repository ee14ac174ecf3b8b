/*
 * JSON of a span (span_print.h). Empty strings and unknown numbers are
 * left out rather than printed as "" or 0, so a reader tells "unknown"
 * from a value; a root span has "parent_span_id": null.
 */
#include "agent/span_print.h"

#include <errno.h>
#include <math.h>

#include "common/timeutil.h"

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v[0])
		json_object_set_new(o, key, json_string(v));
}

json_t *span_print_json(const struct span *s)
{
	char trace[SPAN_TRACE_ID_HEX_LEN], id[SPAN_ID_HEX_LEN], parent[SPAN_ID_HEX_LEN];
	char start[TIME_ISO_LEN];
	json_t *o;

	time_format_iso(s->start_ns > 0 ? (uint64_t)s->start_ns : 0, start);
	o = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:I, s:f}", "trace_id",
		      span_hex(s->trace_id, SPAN_TRACE_ID_LEN, trace), "span_id",
		      span_hex(s->span_id, SPAN_ID_LEN, id), "parent_span_id",
		      span_is_root(s)
			      ? json_null()
			      : json_string(span_hex(s->parent_span_id, SPAN_ID_LEN, parent)),
		      "kind", s->kind == SPAN_KIND_SERVER ? "server" : "client", "service",
		      s->service, "start", start, "start_unix_ns", (json_int_t)s->start_ns,
		      "end_unix_ns", (json_int_t)s->end_ns, "duration_ms",
		      round((double)(s->end_ns - s->start_ns) / 1e3) / 1e3);
	if (!o)
		return NULL;
	if (s->status)
		json_object_set_new(o, "status", json_integer(s->status));
	set_str(o, "peer_service", s->peer_service);
	set_str(o, "method", s->method);
	set_str(o, "route", s->route);
	set_str(o, "server_address", s->server_address);
	if (s->server_port)
		json_object_set_new(o, "server_port", json_integer(s->server_port));
	set_str(o, "host", s->host);
	return o;
}

int span_print(FILE *f, const struct span *s)
{
	json_t *o = span_print_json(s);
	int err = 0;

	if (!o)
		return -ENOMEM;
	if (json_dumpf(o, f, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12)) ||
	    fputc('\n', f) == EOF || fflush(f))
		err = -EIO;
	json_decref(o);
	return err;
}
