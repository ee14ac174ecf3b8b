/*
 * Service rate limits (see limits.h). A table of LIMITS_SERVICES_MAX slots,
 * one per service with limits set; clearing a service frees its slot. The
 * limits themselves are per port in each interface's map, so two services
 * that list the same port share its limit, as two services cannot listen on
 * one port anyway.
 *
 * Attaching is lazy: most agents never get a rate_limit, and an attached tc
 * program sees every packet of its interface.
 */
#include "agent/limits.h"

#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/netif.h"
#include "agent/ratelimit.h"
#include "agent/services.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

#define LEASE_MAX_MS 86400000ull   /* as for breakers */
#define RATE_MAX     1000000000ull /* ratelimit_set()'s bound */

/* One service's limited ports, as the last command set them. */
struct svc_limit {
	char service[SERVICE_NAME_MAX]; /* "" when the slot is free */
	uint16_t ports[LIMITS_PORTS_MAX];
	size_t nports;
	uint64_t lease_ms;     /* 0: no lease */
	uint64_t lease_end_ns; /* CLOCK_MONOTONIC; 0: no lease */
};

struct limits {
	struct ratelimit *rl[LIMITS_INTERFACES_MAX];
	char ifnames[LIMITS_INTERFACES_MAX][IF_NAMESIZE];
	size_t n;
	int err; /* why the last interface failed to attach */
	struct svc_limit svc[LIMITS_SERVICES_MAX];
};

struct limit_args {
	const char *service, *state;
	uint16_t ports[LIMITS_PORTS_MAX];
	size_t nports;
	json_int_t rate, burst, lease_ms;
};

static struct svc_limit *slot_find(struct limits *ls, const char *service, bool create)
{
	struct svc_limit *free_slot = NULL;

	for (size_t i = 0; i < LIMITS_SERVICES_MAX; i++) {
		if (!strcmp(ls->svc[i].service, service))
			return &ls->svc[i];
		if (!free_slot && !ls->svc[i].service[0])
			free_slot = &ls->svc[i];
	}
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	snprintf(free_slot->service, sizeof(free_slot->service), "%s", service);
	return free_slot;
}

static bool port_listed(uint16_t port, const uint16_t *ports, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

/* Attaches to the interfaces that are up and do not have the program yet. */
static void attach(struct limits *ls)
{
	char names[LIMITS_INTERFACES_MAX][IF_NAMESIZE];
	int n = netif_names(names, LIMITS_INTERFACES_MAX);
	bool have;

	if (n < 0) {
		ls->err = n;
		log_warn_err(n, "limits: cannot list the network interfaces");
		return;
	}
	for (int i = 0; i < n && ls->n < LIMITS_INTERFACES_MAX; i++) {
		have = false;
		for (size_t k = 0; k < ls->n && !have; k++)
			have = !strcmp(ls->ifnames[k], names[i]);
		if (have)
			continue;
		/* ratelimit_start() logs why it failed */
		ls->err = ratelimit_start(&ls->rl[ls->n], names[i]);
		if (!ls->err)
			memcpy(ls->ifnames[ls->n++], names[i], IF_NAMESIZE);
	}
}

/* Lifts the limit of @port on every interface; one that had none is fine. */
static void clear_port(struct limits *ls, uint16_t port)
{
	for (size_t k = 0; k < ls->n; k++) {
		int err = ratelimit_clear(ls->rl[k], port);

		if (err && err != -ENOENT)
			log_warn_err(err, "limits: cannot lift the limit port=%u dev=%s", port,
				     ls->ifnames[k]);
	}
}

/* Reads and checks the args. NULL, or the message of what is wrong. */
static json_t *args_parse(json_t *args, struct limit_args *a)
{
	json_t *ports = NULL, *p;
	json_error_t jerr;
	size_t i;

	a->rate = a->burst = -1;
	a->lease_ms = 0;
	a->nports = 0;
	if (!json_is_object(args))
		return json_sprintf("bad args: not an object");
	if (json_unpack_ex(args, &jerr, JSON_STRICT, "{s:s, s:s, s:o, s?I, s?I, s?I}", "service",
			   &a->service, "state", &a->state, "ports", &ports, "rate_per_s", &a->rate,
			   "burst", &a->burst, "lease_ms", &a->lease_ms))
		return json_sprintf("bad args: %s", jerr.text);
	if (!service_name_valid(a->service))
		return json_sprintf("bad args: service '%.80s' is not 1-63 of [A-Za-z0-9._-]",
			       a->service);
	if (strcmp(a->state, "set") && strcmp(a->state, "clear"))
		return json_sprintf("bad args: unknown state '%.40s' (set or clear)", a->state);
	if (!json_is_array(ports) || json_array_size(ports) > LIMITS_PORTS_MAX)
		return json_sprintf("bad args: ports is not a list of at most %d ports",
			       LIMITS_PORTS_MAX);
	json_array_foreach(ports, i, p) {
		json_int_t port = json_integer_value(p);

		if (!json_is_integer(p) || port < 1 || port > 65535)
			return json_sprintf("bad args: port %zu is not 1..65535", i);
		if (!port_listed((uint16_t)port, a->ports, a->nports))
			a->ports[a->nports++] = (uint16_t)port;
	}
	if (a->lease_ms < 0 || (uint64_t)a->lease_ms > LEASE_MAX_MS)
		return json_sprintf("bad args: lease_ms %lld is not 0..%llu", (long long)a->lease_ms,
			       LEASE_MAX_MS);
	if (!strcmp(a->state, "clear"))
		return NULL;
	if (!a->nports)
		return json_sprintf("bad args: no ports to limit");
	if (a->rate < 1 || (uint64_t)a->rate > RATE_MAX)
		return json_sprintf("bad args: rate_per_s is missing or not 1..%llu", RATE_MAX);
	if (a->burst == -1)
		a->burst = a->rate; /* a second's worth */
	if (a->burst < 1 || a->burst > UINT32_MAX)
		return json_sprintf("bad args: burst %lld is not 1..%u", (long long)a->burst,
			       UINT32_MAX);
	return NULL;
}

static json_t *result_new(const struct limits *ls, const struct limit_args *a)
{
	json_t *ports = json_array(), *ifs = json_array();

	for (size_t i = 0; i < a->nports; i++)
		json_array_append_new(ports, json_integer(a->ports[i]));
	for (size_t k = 0; k < ls->n; k++)
		json_array_append_new(ifs, json_string(ls->ifnames[k]));
	return json_pack("{s:s, s:s, s:o, s:o}", "service", a->service, "state", a->state, "ports",
			 ports, "interfaces", ifs);
}

/* clear: the listed ports, and whatever else the service had. */
static bool command_clear(struct limits *ls, const struct limit_args *a, json_t **result)
{
	struct svc_limit *slot = slot_find(ls, a->service, false);

	for (size_t i = 0; i < a->nports; i++)
		clear_port(ls, a->ports[i]);
	if (slot) {
		for (size_t i = 0; i < slot->nports; i++)
			clear_port(ls, slot->ports[i]);
		memset(slot, 0, sizeof(*slot));
	}
	*result = result_new(ls, a);
	return true;
}

static bool command_set(struct limits *ls, const struct limit_args *a, json_t **result)
{
	struct svc_limit *slot;
	int err = 0;

	attach(ls);
	if (!ls->n) {
		*result = json_sprintf("rate limits are unavailable on this agent: no interface took "
				  "the tc program: %s",
				  strerror(-ls->err));
		return false;
	}
	slot = slot_find(ls, a->service, true);
	if (!slot) {
		*result = json_sprintf("rate limits of %d services are set already; clear one first",
				  LIMITS_SERVICES_MAX);
		return false;
	}
	for (size_t i = 0; i < slot->nports; i++)
		if (!port_listed(slot->ports[i], a->ports, a->nports))
			clear_port(ls, slot->ports[i]);
	for (size_t i = 0; i < a->nports; i++)
		for (size_t k = 0; k < ls->n; k++) {
			int e = ratelimit_set(ls->rl[k], a->ports[i], (uint32_t)a->rate,
					      (uint32_t)a->burst);

			if (e && !err)
				err = e;
		}
	memcpy(slot->ports, a->ports, a->nports * sizeof(a->ports[0]));
	slot->nports = a->nports;
	slot->lease_ms = (uint64_t)a->lease_ms;
	slot->lease_end_ns = a->lease_ms ? time_mono_ns() + slot->lease_ms * NSEC_PER_MSEC : 0;
	if (err) {
		*result = json_sprintf("cannot set every limit: %s%s", strerror(-err),
				  err == -E2BIG ? " (the limit map is full)" : "");
		return false;
	}
	*result = result_new(ls, a);
	return true;
}

bool limits_command(struct limits *ls, json_t *args, json_t **result)
{
	struct limit_args a;

	*result = args_parse(args, &a);
	if (*result)
		return false;
	if (!strcmp(a.state, "clear"))
		return command_clear(ls, &a, result);
	return command_set(ls, &a, result);
}

uint64_t limits_expire(struct limits *ls, uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < LIMITS_SERVICES_MAX; i++) {
		struct svc_limit *l = &ls->svc[i];

		if (!l->service[0] || !l->lease_end_ns)
			continue;
		if (l->lease_end_ns > now_ns) {
			next = l->lease_end_ns < next ? l->lease_end_ns : next;
			continue;
		}
		log_warn("limits: no rate_limit command renewed the lease of '%s' in %llu ms; "
			 "lifting its limits on %zu ports",
			 l->service, (unsigned long long)l->lease_ms, l->nports);
		for (size_t k = 0; k < l->nports; k++)
			clear_port(ls, l->ports[k]);
		memset(l, 0, sizeof(*l));
	}
	return next;
}

struct limits *limits_new(void)
{
	struct limits *ls = xcalloc(1, sizeof(*ls));

	ls->err = -ENODEV; /* until an attach says otherwise */
	return ls;
}

void limits_free(struct limits *ls)
{
	if (!ls)
		return;
	for (size_t k = 0; k < ls->n; k++)
		ratelimit_stop(ls->rl[k]);
	free(ls);
}
