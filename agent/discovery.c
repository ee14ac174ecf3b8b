/*
 * Service discovery: the policy (see discovery.h). The selectors, which
 * processes form which service, the stable ids, and the log of what
 * changed. What we know of the processes comes from agent/proctable.c,
 * which keeps it current cheaply (its cost model says how) by reading
 * /proc through agent/procfs.c; automatic discovery's grouping and naming
 * rules are in agent/discovery_auto.c.
 *
 * A process belongs to one service at most: selectors are tried in order
 * and the first that matches takes the process and its ports. Ids: selector
 * services have the fixed ids 1..n; an automatic service gets the id its
 * name had before, else a free one, else the one of the name unseen for
 * longest.
 *
 * The listening sockets are those of the agent's network namespace only:
 * services in other namespaces are found by comm, cgroup and pid selectors,
 * without ports.
 */
#include "agent/discovery.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/discovery_auto.h"
#include "agent/procfs.h"
#include "agent/proctable.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/strparse.h"

/* Pids written in one log line; the rest are counted. */
#define LOG_PIDS_MAX 16

enum selector_kind { SEL_PORT, SEL_COMM, SEL_CGROUP, SEL_PID };

static const char *const kind_names[] = {
	[SEL_PORT] = "port", [SEL_COMM] = "comm", [SEL_CGROUP] = "cgroup", [SEL_PID] = "pid"
};

struct selector {
	char name[SERVICE_NAME_MAX];
	enum selector_kind kind;
	uint32_t num; /* the port or the pid */
	char *text;   /* the comm or the cgroup path (no trailing '/'), heap; else NULL */
};

/* The name an id belongs to; ids are the indexes of discovery.ids. */
struct id_slot {
	char name[SERVICE_NAME_MAX]; /* "" while free */
	uint64_t last_seen;	     /* the generation that last reported it */
};

enum discovery_warned {
	WARNED_PIDS = 1 << 0,
	WARNED_PORTS = 1 << 1,
};

struct discovery {
	struct proctable *t; /* the processes and listening sockets */
	struct selector *sels;
	size_t nsels;
	uint32_t self_pid;
	struct discovery_auto autod; /* used when there is no selector */

	uint64_t generation; /* refreshes done */
	struct id_slot ids[SERVICES_MAX + 1];
	struct service_set *prev; /* what the last refresh returned */
	struct service_set *next; /* scratch: what this refresh builds */
	unsigned warned;	  /* enum discovery_warned */
};

/* ---- Small helpers --------------------------------------------------------- */

static PRP_PRINTF(4, 5) int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Logs a warning the first time only: bounds are hit again on every refresh. */
static PRP_PRINTF(3, 4) void warn_once(struct discovery *d, unsigned what, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (d->warned & what)
		return;
	d->warned |= what;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("discovery: %s", msg);
}

/* qsort(), which may not be given NULL, even for no elements. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* ---- Selectors --------------------------------------------------------------- */

/* Parses the VALUE of @text, whose kind @out has, into @out. */
static int selector_value(const char *text, const char *value, struct selector *out, char *err,
			  size_t errlen)
{
	uint64_t num;

	switch (out->kind) {
	case SEL_PORT:
		if (strparse_u64(value, 1, 65535, &num))
			return set_err(err, errlen, -EINVAL,
				       "service '%.80s': bad port '%.20s' (want 1..65535)", text,
				       value);
		out->num = (uint32_t)num;
		break;
	case SEL_PID:
		if (strparse_u64(value, 1, PROCFS_PID_MAX, &num))
			return set_err(err, errlen, -EINVAL,
				       "service '%.80s': bad pid '%.20s' (want 1..%d)", text, value,
				       PROCFS_PID_MAX);
		out->num = (uint32_t)num;
		break;
	case SEL_COMM:
		if (!*value || strlen(value) >= PROCFS_COMM_MAX)
			return set_err(err, errlen, -EINVAL,
				       "service '%.80s': comm must be 1 to %d bytes, as in "
				       "/proc/PID/comm",
				       text, PROCFS_COMM_MAX - 1);
		out->text = xstrdup(value);
		break;
	case SEL_CGROUP:
		if (value[0] != '/' || strlen(value) >= PATH_MAX)
			return set_err(err, errlen, -EINVAL,
				       "service '%.80s': cgroup must be an absolute path such as "
				       "/system.slice/x.service",
				       text);
		out->text = xstrdup(value);
		/* "/a/b/" is "/a/b"; "/" stays, and matches every process */
		for (size_t n = strlen(out->text); n > 1 && out->text[n - 1] == '/'; n--)
			out->text[n - 1] = '\0';
		break;
	}
	return 0;
}

/* Parses "NAME=KIND:VALUE" into @out (which then owns its text: selector_release()). */
static int selector_parse(const char *text, struct selector *out, char *err, size_t errlen)
{
	const char *eq = strchr(text, '='), *colon;
	size_t namelen, kindlen;
	int k;

	memset(out, 0, sizeof(*out));
	if (!eq)
		return set_err(err, errlen, -EINVAL, "service '%.80s': expected NAME=KIND:VALUE",
			       text);
	namelen = (size_t)(eq - text);
	for (size_t i = 0; i < namelen; i++)
		if (!service_name_char(text[i]))
			namelen = 0; /* and the loop ends */
	if (!namelen || namelen >= SERVICE_NAME_MAX)
		return set_err(err, errlen, -EINVAL,
			       "service '%.80s': the name must be 1 to %d of A-Z a-z 0-9 . _ -",
			       text, SERVICE_NAME_MAX - 1);
	memcpy(out->name, text, namelen);
	colon = strchr(eq + 1, ':');
	kindlen = colon ? (size_t)(colon - eq - 1) : strlen(eq + 1);
	for (k = 0; k < (int)PRP_ARRAY_SIZE(kind_names); k++)
		if (colon && strlen(kind_names[k]) == kindlen &&
		    !strncmp(eq + 1, kind_names[k], kindlen))
			break;
	if (k == (int)PRP_ARRAY_SIZE(kind_names))
		return set_err(err, errlen, -EINVAL,
			       "service '%.80s': unknown selector kind '%.*s' (want port:N, "
			       "comm:NAME, cgroup:PATH or pid:N)",
			       text, (int)kindlen, eq + 1);
	out->kind = (enum selector_kind)k;
	return selector_value(text, colon + 1, out, err, errlen);
}

static void selector_release(struct selector *s)
{
	free(s->text);
	s->text = NULL;
}

/* Parses all of @texts into @out (@n entries), which then owns their text. */
static int selectors_parse(const char *const *texts, size_t n, struct selector *out, char *err,
			   size_t errlen)
{
	int ret = 0;
	size_t i;

	if (n > SERVICES_MAX)
		return set_err(err, errlen, -E2BIG, "%zu services, at most %d", n, SERVICES_MAX);
	for (i = 0; i < n && !ret; i++) {
		ret = selector_parse(texts[i], &out[i], err, errlen);
		for (size_t j = 0; !ret && j < i; j++)
			if (!strcmp(out[j].name, out[i].name))
				ret = set_err(err, errlen, -EINVAL,
					      "service '%.80s': duplicate name '%s'", texts[i],
					      out[i].name);
	}
	if (ret)
		while (i--)
			selector_release(&out[i]);
	return ret;
}

int discovery_check_selectors(const char *const *selectors, size_t n, char *err, size_t errlen)
{
	struct selector *sels = xcalloc(n ? n : 1, sizeof(*sels));
	int ret = selectors_parse(selectors, n, sels, err, errlen);

	for (size_t i = 0; !ret && i < n; i++)
		selector_release(&sels[i]);
	free(sels);
	return ret;
}

/* ---- Services from selectors ---------------------------------------------------- */

/* Adds @pid to @s, whose pids are added in increasing order. */
static void add_pid(struct discovery *d, struct service *s, uint32_t pid)
{
	if (s->npids < SERVICE_PIDS_MAX)
		s->pids[s->npids++] = pid;
	else
		warn_once(d, WARNED_PIDS,
			  "service %s has more than %d processes, ignoring the rest", s->name,
			  SERVICE_PIDS_MAX);
}

static bool cgroup_under(const char *path, const char *top)
{
	size_t n = strlen(top);

	if (!path)
		return false;
	if (!strcmp(top, "/"))
		return true;
	return !strncmp(path, top, n) && (path[n] == '\0' || path[n] == '/');
}

static bool selector_matches(struct discovery *d, const struct selector *sel,
			     struct proctable_proc *p)
{
	switch (sel->kind) {
	case SEL_PORT:
		for (size_t i = 0; i < p->ninos; i++) {
			const struct procfs_sock *l = proctable_sock(d->t, p->inos[i]);

			if (l && l->port == sel->num)
				return true;
		}
		return false;
	case SEL_COMM:
		return !strcmp(proctable_comm(d->t, p), sel->text);
	case SEL_CGROUP:
		return cgroup_under(proctable_cgroup(d->t, p), sel->text);
	case SEL_PID:
		return p->pid == sel->num;
	}
	return false;
}

/* One service per selector, in order: a process and a port go to the first that matches. */
static void build_selected(struct discovery *d, struct service_set *set)
{
	bool *claimed = xcalloc(d->t->nprocs + 1, sizeof(*claimed));
	uint64_t taken[PROCTABLE_PORT_WORDS] = { 0 };

	for (size_t i = 0; i < d->nsels; i++) {
		const struct selector *sel = &d->sels[i];
		struct service *s = &set->items[i];

		memset(s, 0, sizeof(*s));
		s->id = (uint16_t)(i + 1);
		memcpy(s->name, sel->name, sizeof(s->name));
		for (size_t j = 0; j < d->t->nprocs; j++) {
			struct proctable_proc *p = &d->t->procs[j];

			if (claimed[j] || p->pid == d->self_pid || p->gone)
				continue;
			if (sel->kind == SEL_PID && p->pid != sel->num)
				continue; /* the cheap test first: no file to read */
			if (!selector_matches(d, sel, p) || p->gone)
				continue;
			claimed[j] = true;
			add_pid(d, s, p->pid);
			if (!proctable_add_ports(d->t, p, s, NULL, taken))
				warn_once(d, WARNED_PORTS,
					  "service %s listens on more than %d ports, ignoring the "
					  "rest",
					  s->name, SERVICE_PORTS_MAX);
		}
	}
	set->n = d->nsels;
	free(claimed);
}

/* ---- Ids ------------------------------------------------------------------------------ */

static uint16_t id_find(const struct discovery *d, const char *name)
{
	for (uint16_t id = 1; id <= SERVICES_MAX; id++)
		if (!strcmp(d->ids[id].name, name))
			return id;
	return 0;
}

/* A free id for @name, or else the id of the name unseen for longest. */
static uint16_t id_take(struct discovery *d, const char *name)
{
	uint16_t id, lru = 0;

	for (id = 1; id <= SERVICES_MAX && d->ids[id].name[0]; id++)
		if (d->ids[id].last_seen < d->generation &&
		    (!lru || d->ids[id].last_seen < d->ids[lru].last_seen))
			lru = id;
	if (id > SERVICES_MAX) {
		/* at most SERVICES_MAX services are seen at once: some id is unseen now */
		assert(lru);
		id = lru;
		log_info("discovery: id %u goes from service %s to %s, all %d ids were taken", id,
			 d->ids[id].name, name, SERVICES_MAX);
	}
	snprintf(d->ids[id].name, sizeof(d->ids[id].name), "%s", name);
	return id;
}

static int cmp_service_id(const void *a, const void *b)
{
	const struct service *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* Gives each service of @set its name's id, then orders @set by id. */
static void assign_ids(struct discovery *d, struct service_set *set)
{
	/* the names still here first, so that a new one cannot take their ids */
	for (size_t i = 0; i < set->n; i++) {
		set->items[i].id = id_find(d, set->items[i].name);
		if (set->items[i].id)
			d->ids[set->items[i].id].last_seen = d->generation;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (!set->items[i].id)
			set->items[i].id = id_take(d, set->items[i].name);
		d->ids[set->items[i].id].last_seen = d->generation;
	}
	sort(set->items, set->n, sizeof(*set->items), cmp_service_id);
}

/* ---- Reporting ---------------------------------------------------------------------- */

/* "pids=1,2 ports=8001" for the log, at most LOG_PIDS_MAX pids. */
static void describe(const struct service *s, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "pids=");

	for (size_t i = 0; i < s->npids && i < LOG_PIDS_MAX && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%u", i ? "," : "", s->pids[i]);
	if (s->npids > LOG_PIDS_MAX && n < len)
		n += (size_t)snprintf(out + n, len - n, ",+%zu", s->npids - LOG_PIDS_MAX);
	if (n < len)
		n += (size_t)snprintf(out + n, len - n, " ports=%s", s->nports ? "" : "none");
	for (size_t i = 0; i < s->nports && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%u", i ? "," : "", s->ports[i]);
}

/* Logs what happened to one service between two refreshes (@was or @now may be NULL). */
static void report_one(const struct service *was, const struct service *now)
{
	bool had = was && was->npids, has = now && now->npids;
	char text[512];

	if (has)
		describe(now, text, sizeof(text));
	if (has && !had)
		log_info("discovery: service %s found %s id=%u", now->name, text, now->id);
	else if (has && !service_equal(was, now))
		log_info("discovery: service %s changed %s id=%u", now->name, text, now->id);
	else if (had && !has)
		log_info("discovery: service %s gone id=%u", was->name, was->id);
}

/* Logs the differences between d->prev and @now, both ordered by id; returns whether any. */
static bool report(const struct discovery *d, const struct service_set *now)
{
	const struct service_set *was = d->prev;
	bool changed = now->n != was->n;
	size_t i = 0, j = 0;

	while (i < now->n || j < was->n) {
		const struct service *a = i < now->n ? &now->items[i] : NULL;
		const struct service *b = j < was->n ? &was->items[j] : NULL;

		if (a && b && a->id == b->id && !strcmp(a->name, b->name)) {
			changed |= !service_equal(a, b);
			report_one(b, a);
			i++;
			j++;
		} else if (a && (!b || a->id <= b->id)) {
			changed = true; /* new, or an id given to another name */
			report_one(NULL, a);
			i++;
		} else {
			changed = true;
			report_one(b, NULL);
			j++;
		}
	}
	return changed;
}

/* ---- API -------------------------------------------------------------------------------- */

struct discovery *discovery_new(const char *proc_root, const char *const *selectors,
				size_t nselectors, char *err, size_t errlen)
{
	struct discovery *d = xcalloc(1, sizeof(*d));
	unsigned reads = 0;

	d->sels = xcalloc(nselectors + 1, sizeof(*d->sels));
	if (selectors_parse(selectors, nselectors, d->sels, err, errlen))
		goto out_free;
	d->nsels = nselectors;
	for (size_t i = 0; i < d->nsels; i++) {
		reads |= d->sels[i].kind == SEL_COMM ? PROCTABLE_READ_COMM : 0;
		reads |= d->sels[i].kind == SEL_CGROUP ? PROCTABLE_READ_CGROUP : 0;
		/* selector ids are fixed: never given to another name */
		memcpy(d->ids[i + 1].name, d->sels[i].name, SERVICE_NAME_MAX);
		d->ids[i + 1].last_seen = UINT64_MAX;
	}
	d->t = proctable_new(proc_root, reads, err, errlen);
	if (!d->t)
		goto out_free;
	d->self_pid = (uint32_t)getpid();
	discovery_auto_init(&d->autod, d->self_pid);
	d->prev = xcalloc(1, sizeof(*d->prev));
	d->next = xcalloc(1, sizeof(*d->next));
	if (d->nsels)
		log_info("discovery: watching %zu services named by selectors", d->nsels);
	else
		log_info("discovery: automatic, from listening TCP sockets");
	return d;

out_free:
	discovery_free(d);
	return NULL;
}

void discovery_set_self_pid(struct discovery *d, uint32_t pid)
{
	d->self_pid = pid;
	d->autod.self_pid = pid;
}

void discovery_exclude_port(struct discovery *d, uint16_t port)
{
	discovery_auto_exclude_port(&d->autod, port);
}

int discovery_refresh(struct discovery *d, struct service_set *out, bool *changed)
{
	struct service_set *tmp;
	bool diff;
	int err;

	err = proctable_refresh(d->t);
	if (err)
		return err;
	d->generation++;
	if (d->nsels) {
		build_selected(d, d->next);
	} else {
		discovery_auto_build(&d->autod, d->t, d->next);
		assign_ids(d, d->next);
	}
	diff = report(d, d->next);
	if (changed)
		*changed = diff;
	out->n = d->next->n;
	memcpy(out->items, d->next->items, out->n * sizeof(out->items[0]));
	tmp = d->prev;
	d->prev = d->next;
	d->next = tmp;
	return 0;
}

void discovery_free(struct discovery *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nsels; i++)
		selector_release(&d->sels[i]);
	free(d->sels);
	proctable_free(d->t);
	free(d->prev);
	free(d->next);
	free(d);
}
