/*
 * The services discovery found, shared with the threads that are not the
 * main loop: the sender (the HELLO lists them) and remediation (a restart
 * is confirmed when its service listens again). The main loop owns
 * discovery and publishes each refresh here; readers copy what they need
 * under the view's lock, so no one ever reads the main loop's set while it
 * changes.
 *
 * Threads: any thread; service_view_publish() from one thread (the main loop).
 */
#ifndef PRP_AGENT_SERVICE_VIEW_H
#define PRP_AGENT_SERVICE_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/services.h"

struct service_view;

/* An empty view (no refresh published yet); the caller owns it: service_view_free(). */
struct service_view *service_view_new(void);
/* NULL does nothing. No reader may be using it. */
void service_view_free(struct service_view *v);

/*
 * After a discovery refresh: @set (borrowed for the call) is copied in when
 * @changed (the set is large, and most refreshes change nothing), and the
 * count of refreshes goes up either way, so a reader can wait for a refresh
 * that began after an event.
 */
void service_view_publish(struct service_view *v, const struct service_set *set, bool changed);

/*
 * Copies the service named @name into *@out (may be NULL) and returns true;
 * false when no service of that name is watched now. Sets *@refreshes (may
 * be NULL) to the refreshes published so far, found or not.
 */
bool service_view_get(struct service_view *v, const char *name, struct service *out,
		      uint64_t *refreshes);

/*
 * Copies the whole set into @out when it changed since *@version (0 at
 * first), and updates *@version; returns whether it copied. Lets a reader
 * keep its own copy and pay for the copy only on a change.
 */
bool service_view_copy(struct service_view *v, struct service_set *out, uint64_t *version);

#endif
