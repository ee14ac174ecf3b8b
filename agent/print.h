/*
 * The --print view: one closed window of one service as one JSON object, in
 * the line shape DESIGN.md fixes (keys may be added, never removed). Also
 * what integration tests read.
 */
#ifndef PRP_AGENT_PRINT_H
#define PRP_AGENT_PRINT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/services.h"
#include "common/window.h"

/*
 * Builds the object for @w (NULL: a window with nothing in it) of service
 * @svc, closed at @end_real_ns on @host. The caller owns it: json_decref().
 */
json_t *print_window_json(const struct window *w, const struct service *svc, const char *host,
			  uint64_t end_real_ns);
/* Writes it as one line to @f and flushes. Returns 0 or -EIO. */
int print_window(FILE *f, const struct window *w, const struct service *svc, const char *host,
		 uint64_t end_real_ns);

#endif
