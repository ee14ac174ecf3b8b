/*
 * Service breakers (see breakers.h). A table of BREAKERS_SERVICES_MAX
 * slots, one per service with a breaker open or half-open; closing a
 * service frees its slot. Every kernel call goes through the one struct
 * breaker, whose map keys by destination: two services that list the same
 * target share its entry, and closing one closes it for both. Targets are
 * a service's own addresses, so that does not happen in practice.
 */
#include "agent/breakers.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/vfs.h>

#include "agent/breaker.h"
#include "agent/endpoint.h"
#include "agent/services.h"
#include "agent/sockdiag.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

#define CGROUP_UNIFIED	 "/sys/fs/cgroup/unified" /* a hybrid host's v2 hierarchy */
#define CGROUP_ROOT	 "/sys/fs/cgroup"	  /* a pure v2 host's */

#define PROBE_DEFAULT_MS 1000
#define PROBE_MAX_MS	 3600000ull
#define LEASE_MAX_MS	 86400000ull /* a day: past that, ask for no lease */

/* One service's breaker, as the last command set it. */
struct svc_breaker {
	char service[SERVICE_NAME_MAX]; /* "" when the slot is free */
	struct sockaddr_storage targets[BREAKERS_TARGETS_MAX];
	size_t ntargets;
	uint64_t lease_ms;     /* 0: no lease */
	uint64_t lease_end_ns; /* CLOCK_MONOTONIC; 0: no lease */
};

struct breakers {
	struct breaker *breaker; /* NULL when it could not attach: err says why */
	int err;
	char cgroup_path[256];
	struct sockdiag *sockdiag; /* to reset the callers' connections */
	struct svc_breaker svc[BREAKERS_SERVICES_MAX];
};

/* One command's arguments, checked. */
struct breaker_args {
	const char *service, *state;
	struct sockaddr_storage targets[BREAKERS_TARGETS_MAX];
	size_t ntargets;
	json_int_t probe_ms, lease_ms;
};

static struct svc_breaker *slot_find(struct breakers *bs, const char *service, bool create)
{
	struct svc_breaker *free_slot = NULL;

	for (size_t i = 0; i < BREAKERS_SERVICES_MAX; i++) {
		if (!strcmp(bs->svc[i].service, service))
			return &bs->svc[i];
		if (!free_slot && !bs->svc[i].service[0])
			free_slot = &bs->svc[i];
	}
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	snprintf(free_slot->service, sizeof(free_slot->service), "%s", service);
	return free_slot;
}

static bool target_listed(const struct sockaddr_storage *t, const struct sockaddr_storage *list,
			  size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (endpoint_equal(t, &list[i]))
			return true;
	return false;
}

/* The connects refused so far by the breakers of @targets (closed ones count 0). */
static uint64_t refused_total(struct breakers *bs, const struct sockaddr_storage *targets, size_t n)
{
	uint64_t total = 0;
	__u64 count;

	for (size_t i = 0; i < n; i++)
		if (!breaker_refused(bs->breaker, (const struct sockaddr *)&targets[i], &count))
			total += count;
	return total;
}

static void close_target(struct breakers *bs, const char *service, const struct sockaddr_storage *t)
{
	int err = breaker_close(bs->breaker, (const struct sockaddr *)t);
	char name[ENDPOINT_TEXT_MAX];

	if (err && err != -ENOENT) {
		endpoint_format((const struct sockaddr *)t, name, sizeof(name));
		log_warn_err(err, "breakers: cannot close the breaker of %s service=%s", name,
			     service);
	}
}

/* Closes the breakers of @slot's targets that @keep (@nkeep of them) does not list. */
static void close_dropped(struct breakers *bs, const struct svc_breaker *slot,
			  const struct sockaddr_storage *keep, size_t nkeep)
{
	for (size_t i = 0; i < slot->ntargets; i++)
		if (!target_listed(&slot->targets[i], keep, nkeep))
			close_target(bs, slot->service, &slot->targets[i]);
}

/* Reads and checks the args. NULL, or the message of what is wrong. */
static json_t *args_parse(json_t *args, struct breaker_args *a)
{
	json_t *targets = NULL, *t;
	json_error_t jerr;
	size_t i;

	a->probe_ms = PROBE_DEFAULT_MS;
	a->lease_ms = 0;
	a->ntargets = 0;
	if (!json_is_object(args))
		return json_sprintf("bad args: not an object");
	if (json_unpack_ex(args, &jerr, JSON_STRICT, "{s:s, s:s, s?o, s?I, s?I}", "service",
			   &a->service, "state", &a->state, "targets", &targets,
			   "probe_interval_ms", &a->probe_ms, "lease_ms", &a->lease_ms))
		return json_sprintf("bad args: %s", jerr.text);
	if (!service_name_valid(a->service))
		return json_sprintf("bad args: service '%.80s' is not 1-63 of [A-Za-z0-9._-]",
			       a->service);
	if (strcmp(a->state, "open") && strcmp(a->state, "half_open") && strcmp(a->state, "closed"))
		return json_sprintf("bad args: unknown state '%.40s' (open, half_open or closed)",
			       a->state);
	if (targets && !json_is_array(targets))
		return json_sprintf("bad args: targets is not a list");
	if (json_array_size(targets) > BREAKERS_TARGETS_MAX)
		return json_sprintf("bad args: %zu targets, at most %d", json_array_size(targets),
			       BREAKERS_TARGETS_MAX);
	json_array_foreach(targets, i, t) {
		struct sockaddr_storage ss;
		const char *text = json_string_value(t);

		if (!text || endpoint_parse(text, &ss, NULL))
			return json_sprintf("bad args: target %zu '%.80s' is not ADDRESS:PORT "
				       "(\"10.0.0.5:8003\", \"[::1]:8003\")",
				       i, text ? text : "(not a string)");
		if (!target_listed(&ss, a->targets, a->ntargets))
			a->targets[a->ntargets++] = ss;
	}
	if (strcmp(a->state, "closed") && !a->ntargets)
		return json_sprintf("bad args: no targets to %s", a->state);
	if (a->probe_ms < 1 || (uint64_t)a->probe_ms > PROBE_MAX_MS)
		return json_sprintf("bad args: probe_interval_ms %lld is not 1..%llu",
			       (long long)a->probe_ms, PROBE_MAX_MS);
	if (a->lease_ms < 0 || (uint64_t)a->lease_ms > LEASE_MAX_MS)
		return json_sprintf("bad args: lease_ms %lld is not 0..%llu", (long long)a->lease_ms,
			       LEASE_MAX_MS);
	return NULL;
}

static json_t *result_new(const struct breaker_args *a, unsigned reset, uint64_t refused)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I}", "service", a->service, "state", a->state,
			 "targets", (json_int_t)a->ntargets, "connections_reset", (json_int_t)reset,
			 "refused", (json_int_t)refused);
}

/* closed: the listed targets, and whatever else the service had. */
static bool command_close(struct breakers *bs, const struct breaker_args *a, json_t **result)
{
	struct svc_breaker *slot = slot_find(bs, a->service, false);
	/* closing deletes the counters: read them first */
	uint64_t refused = refused_total(bs, a->targets, a->ntargets);

	for (size_t i = 0; i < a->ntargets; i++)
		close_target(bs, a->service, &a->targets[i]);
	if (slot) {
		/* the listed ones are closed already, and count 0 here */
		refused += refused_total(bs, slot->targets, slot->ntargets);
		close_dropped(bs, slot, NULL, 0);
		memset(slot, 0, sizeof(*slot));
	}
	*result = result_new(a, 0, refused);
	return true;
}

/* Sets every target of @a to its state. 0, or the first error (the rest still tried). */
static int apply(struct breakers *bs, const struct breaker_args *a, char *failed, size_t len)
{
	bool open = !strcmp(a->state, "open");
	int first = 0, err;

	for (size_t i = 0; i < a->ntargets; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&a->targets[i];

		err = open ? breaker_open(bs->breaker, sa)
			   : breaker_half_open(bs->breaker, sa,
					       (uint64_t)a->probe_ms * NSEC_PER_MSEC);
		if (err && !first) {
			first = err;
			endpoint_format(sa, failed, len);
		}
	}
	return first;
}

/* open and half_open. */
static bool command_set(struct breakers *bs, const struct breaker_args *a, json_t **result)
{
	struct svc_breaker *slot = slot_find(bs, a->service, true);
	char where[ENDPOINT_TEXT_MAX] = "";
	unsigned reset = 0;
	int err, reset_err = 0;

	if (!slot) {
		*result = json_sprintf("breakers of %d services are open already; close one first",
				  BREAKERS_SERVICES_MAX);
		return false;
	}
	err = apply(bs, a, where, sizeof(where));
	/* whatever failed, the slot now lists what the kernel may have, so it can be undone */
	close_dropped(bs, slot, a->targets, a->ntargets);
	memcpy(slot->targets, a->targets, a->ntargets * sizeof(a->targets[0]));
	slot->ntargets = a->ntargets;
	slot->lease_ms = (uint64_t)a->lease_ms;
	slot->lease_end_ns = a->lease_ms ? time_mono_ns() + slot->lease_ms * NSEC_PER_MSEC : 0;
	if (err) {
		*result =
			json_sprintf("cannot set the breaker of %s to %s: %s%s", where, a->state,
				strerror(-err), err == -E2BIG ? " (the breaker map is full)" : "");
		return false;
	}
	/* a caller's keep-alive pool would never connect again, so never meet the breaker */
	if (!strcmp(a->state, "open")) {
		reset_err = sockdiag_destroy_to(bs->sockdiag, a->targets, a->ntargets, &reset);
		if (reset_err)
			log_warn_err(reset_err,
				     "breakers: '%s' is open, but the connections to it could not "
				     "all be reset (%u were)",
				     a->service, reset);
	}
	*result = result_new(a, reset, refused_total(bs, a->targets, a->ntargets));
	/* the breaker is what was asked for: a failed reset is said, not a failure */
	if (reset_err)
		json_object_set_new(*result, "reset_error", json_string(strerror(-reset_err)));
	return true;
}

bool breakers_command(struct breakers *bs, json_t *args, json_t **result)
{
	struct breaker_args a;

	*result = args_parse(args, &a);
	if (*result)
		return false;
	if (!bs->breaker) {
		*result = json_sprintf("circuit breakers are unavailable on this agent: they could not "
				  "attach to cgroup '%s': %s",
				  bs->cgroup_path,
				  bs->err == -ENOTDIR ? "not a cgroup v2 directory"
						      : strerror(-bs->err));
		return false;
	}
	if (!strcmp(a.state, "closed"))
		return command_close(bs, &a, result);
	return command_set(bs, &a, result);
}

uint64_t breakers_expire(struct breakers *bs, uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < BREAKERS_SERVICES_MAX; i++) {
		struct svc_breaker *b = &bs->svc[i];

		if (!b->service[0] || !b->lease_end_ns)
			continue;
		if (b->lease_end_ns > now_ns) {
			next = b->lease_end_ns < next ? b->lease_end_ns : next;
			continue;
		}
		log_warn("breakers: no circuit_breaker command renewed the lease of '%s' in %llu "
			 "ms; closing its %zu breakers",
			 b->service, (unsigned long long)b->lease_ms, b->ntargets);
		close_dropped(bs, b, NULL, 0);
		memset(b, 0, sizeof(*b));
	}
	return next;
}

bool breakers_attached(const struct breakers *bs)
{
	return bs->breaker != NULL;
}

/* The unified hierarchy of a hybrid host (v1 controllers beside it), else the v2 root. */
static const char *default_cgroup(void)
{
	struct statfs st;

	if (!statfs(CGROUP_UNIFIED, &st) && st.f_type == CGROUP2_SUPER_MAGIC)
		return CGROUP_UNIFIED;
	return CGROUP_ROOT;
}

struct breakers *breakers_new(const char *cgroup_path)
{
	struct breakers *bs = xcalloc(1, sizeof(*bs));
	const char *path = cgroup_path ? cgroup_path : default_cgroup();

	bs->sockdiag = sockdiag_new();
	snprintf(bs->cgroup_path, sizeof(bs->cgroup_path), "%s", path);
	bs->err = breaker_start(&bs->breaker, path); /* logs why it failed */
	return bs;
}

void breakers_free(struct breakers *bs)
{
	if (!bs)
		return;
	breaker_stop(bs->breaker);
	sockdiag_free(bs->sockdiag);
	free(bs);
}
