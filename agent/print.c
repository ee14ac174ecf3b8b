/*
 * JSON of a window. Latencies are kept in ns and shown in ms with three
 * decimals (microseconds), the unit DESIGN.md's line shape uses.
 */
#include "agent/print.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "agent/syscall_names.h"
#include "common/alloc.h"
#include "common/timeutil.h"

static double ms(uint64_t ns)
{
	return round((double)ns / 1e3) / 1e3;
}

static json_t *latency(const struct hist *h, bool full)
{
	json_t *o = json_object();

	json_object_set_new(o, "p50", json_real(ms(hist_quantile(h, 0.5))));
	if (full)
		json_object_set_new(o, "p90", json_real(ms(hist_quantile(h, 0.9))));
	json_object_set_new(o, "p99", json_real(ms(hist_quantile(h, 0.99))));
	json_object_set_new(o, "max", json_real(ms(hist_max(h))));
	if (full)
		json_object_set_new(o, "sum", json_real(ms(hist_sum(h))));
	return o;
}

static json_t *http_json(const struct window *w)
{
	json_t *a = json_array();

	for (size_t i = 0; w && i < w->nhttp; i++) {
		const struct window_http *h = &w->http[i];

		json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:I, s:o}", "method", h->method,
						   "route", h->route, "status", (int)h->status,
						   "count", (json_int_t)h->count, "latency_ms",
						   latency(&h->latency_ns, true)));
	}
	return a;
}

static json_t *syscalls_json(const struct window *w)
{
	json_t *a = json_array();

	for (size_t i = 0; w && i < w->nsyscalls; i++) {
		const struct window_syscall *s = &w->syscalls[i];
		json_t *errors = json_object();

		for (size_t e = 0; e < s->nerrnos; e++) {
			char name[32];

			/* every errno has its own name, kernel-internal ones included */
			json_object_set_new(
				errors,
				syscall_names_errno_format(s->errnos[e].err, name, sizeof(name)),
				json_integer((json_int_t)s->errnos[e].count));
		}
		json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:o, s:o}", "name", s->name,
						   "count", (json_int_t)s->count, "error_count",
						   (json_int_t)s->errors, "errors", errors,
						   "latency_ms", latency(&s->latency_ns, false)));
	}
	return a;
}

static json_t *calls_json(const struct window *w)
{
	json_t *a = json_array();

	for (size_t i = 0; w && i < w->ncalls; i++) {
		const struct window_call *c = &w->calls[i];

		json_array_append_new(a, json_pack("{s:s?, s:s, s:I, s:I, s:o}", "peer",
						   c->peer[0] ? c->peer : NULL, "address",
						   c->address, "count", (json_int_t)c->count,
						   "errors", (json_int_t)c->errors, "latency_ms",
						   latency(&c->latency_ns, false)));
	}
	return a;
}

json_t *print_window_json(const struct window *w, const struct service *svc, const char *host,
			  uint64_t end_real_ns)
{
	char ts[TIME_ISO_LEN];
	json_t *pids = json_array();
	struct window_tcp tcp = { 0 };
	json_t *o;

	for (size_t i = 0; i < svc->npids; i++)
		json_array_append_new(pids, json_integer(svc->pids[i]));
	if (w)
		tcp = w->tcp;
	time_format_iso(end_real_ns, ts);
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:{s:I, s:I, s:I}, s:o}", "ts", ts, "host",
		      host, "service", svc->name, "pids", pids, "http", http_json(w), "syscalls",
		      syscalls_json(w), "tcp", "retransmits", (json_int_t)tcp.retransmits, "resets",
		      (json_int_t)tcp.resets, "connect_failures", (json_int_t)tcp.connect_failures,
		      "calls", calls_json(w));
	/* sampled syscall counts are estimates: say from how much of the window */
	if (o && w && w->nsyscalls && w->syscalls_sample_ratio > 0 && w->syscalls_sample_ratio < 1)
		json_object_set_new(o, "syscalls_sample_ratio", json_real(w->syscalls_sample_ratio));
	return o;
}

int print_window(FILE *f, const struct window *w, const struct service *svc, const char *host,
		 uint64_t end_real_ns)
{
	json_t *o = print_window_json(w, svc, host, end_real_ns);
	int err = 0;

	if (!o)
		return -EINVAL;
	if (json_dumpf(o, f, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12)) ||
	    fputc('\n', f) == EOF || fflush(f))
		err = -EIO;
	json_decref(o);
	return err;
}
