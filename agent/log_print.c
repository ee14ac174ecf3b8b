/*
 * The --print-logs view (agent/log_print.h). The lines are valid UTF-8
 * without NUL (common/window.h), which is what jansson's strings need.
 */
#include "agent/log_print.h"

#include <errno.h>

#include "common/timeutil.h"

json_t *log_print_json(const struct window_log *l, const char *service, const char *host)
{
	char ts[TIME_ISO_LEN];

	time_format_iso(l->ts_ns > 0 ? (uint64_t)l->ts_ns : 0, ts);
	return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s%}", "ts", ts, "ts_ns", (json_int_t)l->ts_ns,
			 "host", host, "service", service, "stream",
			 l->stream == WINDOW_LOG_STDERR ? "stderr" : "stdout", "line", l->text,
			 l->len);
}

int log_print(FILE *f, const struct window *w, const char *service, const char *host)
{
	int err = 0;

	for (size_t i = 0; w && i < w->nlogs && !err; i++) {
		json_t *o = log_print_json(&w->logs[i], service, host);

		if (!o)
			continue; /* not UTF-8: never made by the sampler */
		if (json_dumpf(o, f, JSON_COMPACT | JSON_SORT_KEYS) || fputc('\n', f) == EOF)
			err = -EIO;
		json_decref(o);
	}
	if (w && w->nlogs && fflush(f))
		err = -EIO;
	return err;
}
