/*
 * Automatic discovery (see discovery_auto.h): the processes holding
 * listening sockets (the "holders"), except pid 1 and the agent, are
 * grouped so that the holders of one socket end up in one service: a socket
 * shared after fork (nginx's master and workers) is one service, whose
 * owner is the holder whose parent is not in the group. pid 1 is left out
 * because on a host it holds sockets only to pass them on (systemd's socket
 * activation), never to serve them. The service is named after the owner's
 * executable (its comm when the exe link cannot be read); groups of the same
 * name that share a port (the SO_REUSEPORT instances of one program) are one
 * service, and different services of the same name are told apart by their
 * lowest port: "prp-demo-service-8001".
 *
 * Cost: the parent of every holder and the exe of every owner are read
 * through the process table, once per scan of the process; nothing is read
 * for the other processes.
 */
#include "agent/discovery_auto.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

enum discovery_auto_warned {
	WARNED_SERVICES = 1 << 0,
	WARNED_PIDS = 1 << 1,
	WARNED_PORTS = 1 << 2,
};

/* ---- Helpers ------------------------------------------------------------------- */

/* Logs a warning the first time only: bounds are hit again on every refresh. */
static PRP_PRINTF(3, 4) void warn_once(struct discovery_auto *a, unsigned what, const char *fmt,
				       ...)
{
	char msg[256];
	va_list ap;

	if (a->warned & what)
		return;
	a->warned |= what;
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

static void add_pid(struct discovery_auto *a, struct service *s, uint32_t pid)
{
	if (s->npids < SERVICE_PIDS_MAX)
		s->pids[s->npids++] = pid; /* pids come in increasing order */
	else
		warn_once(a, WARNED_PIDS,
			  "service %s has more than %d processes, ignoring the rest", s->name,
			  SERVICE_PIDS_MAX);
}

static void add_ports(struct discovery_auto *a, struct proctable *t, struct service *s,
		      const struct proctable_proc *p)
{
	if (!proctable_add_ports(t, p, s, a->excluded, NULL))
		warn_once(a, WARNED_PORTS,
			  "service %s listens on more than %d ports, ignoring the rest", s->name,
			  SERVICE_PORTS_MAX);
}

/* ---- Groups of holders ------------------------------------------------------- */

/* The holders of a set of sockets, becoming a service. */
struct group {
	int32_t slot;	/* its index in the service set, -1 when left out */
	uint32_t first; /* the lowest pid */
	uint32_t owner; /* the member whose parent is not a member (the lowest such pid) */
	uint16_t low_port;
	char name[SERVICE_NAME_MAX];
};

/* A listening port of a group, to find the groups of one name that share a port. */
struct group_port {
	uint16_t port;
	int32_t group;
};

static int32_t uf_find(int32_t *up, int32_t i)
{
	while (up[i] != i) {
		up[i] = up[up[i]]; /* path halving */
		i = up[i];
	}
	return i;
}

static void uf_union(int32_t *up, int32_t a, int32_t b)
{
	a = uf_find(up, a);
	b = uf_find(up, b);
	if (a != b)
		up[a > b ? a : b] = a < b ? a : b; /* the lower index stays the root */
}

/* Whether @p holds a listening socket automatic discovery counts. */
static bool is_holder(struct discovery_auto *a, struct proctable *t, struct proctable_proc *p)
{
	bool holds = false;

	if (p->gone || p->pid == a->self_pid || p->pid == 1)
		return false;
	for (size_t i = 0; i < p->ninos && !holds; i++)
		holds = !proctable_port_in(a->excluded, proctable_sock(t, p->inos[i])->port);
	/* the parent rule needs the PPid: read it now, and drop a process gone meanwhile */
	return holds && (proctable_ppid(t, p), !p->gone);
}

/* Copies @src into @out as a service name: bytes outside [A-Za-z0-9._-] become '_'. */
static void name_from(char out[SERVICE_NAME_MAX], const char *src)
{
	size_t i;

	for (i = 0; src[i] && i < SERVICE_NAME_MAX - 1; i++)
		out[i] = service_name_char(src[i]) ? src[i] : '_';
	out[i] = '\0';
}

/*
 * Unites the holders of each socket. On return @of[i] is the proc index of
 * the union-find root of holder i, or -1 for a process that is not a holder.
 */
static void group_holders(struct discovery_auto *a, struct proctable *t, int32_t *of)
{
	int32_t *first = xmalloc((t->nsocks + 1) * sizeof(*first));

	for (size_t s = 0; s < t->nsocks; s++)
		first[s] = -1;
	for (size_t i = 0; i < t->nprocs; i++) {
		struct proctable_proc *p = &t->procs[i];

		of[i] = is_holder(a, t, p) ? (int32_t)i : -1;
		if (of[i] < 0)
			continue;
		for (size_t k = 0; k < p->ninos; k++) {
			/* never NULL: inos only name sockets of t->socks */
			const struct procfs_sock *l = proctable_sock(t, p->inos[k]);
			size_t s = (size_t)(l - t->socks);

			if (proctable_port_in(a->excluded, l->port))
				continue;
			if (first[s] < 0)
				first[s] = (int32_t)i;
			else
				uf_union(of, (int32_t)i, first[s]);
		}
	}
	for (size_t i = 0; i < t->nprocs; i++)
		if (of[i] >= 0)
			of[i] = uf_find(of, (int32_t)i);
	free(first);
}

/*
 * Makes one group per set of united holders (@of from group_holders()) and
 * returns them (caller frees), their number in @n; on return @of[i] is
 * holder i's group index instead of its root.
 */
static struct group *groups_make(struct discovery_auto *a, struct proctable *t, int32_t *of,
				 size_t *n)
{
	int32_t *index = xmalloc((t->nprocs + 1) * sizeof(*index));
	struct group *g = xmalloc((t->nprocs + 1) * sizeof(*g));

	*n = 0;
	for (size_t i = 0; i < t->nprocs; i++)
		index[i] = -1;
	for (size_t i = 0; i < t->nprocs; i++) { /* in pid order: the first owner is the lowest */
		struct proctable_proc *p = &t->procs[i], *parent;
		struct group *cur;

		if (of[i] < 0)
			continue;
		if (index[of[i]] < 0) {
			index[of[i]] = (int32_t)*n;
			g[*n] = (struct group){ .slot = -1,
						.first = p->pid,
						.low_port = UINT16_MAX };
			++*n;
		}
		cur = &g[index[of[i]]];
		for (size_t k = 0; k < p->ninos; k++) {
			const struct procfs_sock *l = proctable_sock(t, p->inos[k]);

			if (!proctable_port_in(a->excluded, l->port) && l->port < cur->low_port)
				cur->low_port = l->port;
		}
		/* the parent rule: the owner is the member whose parent is not a member */
		parent = proctable_find(t, proctable_ppid(t, p));
		if (!cur->owner && !(parent && of[parent - t->procs] == of[i]))
			cur->owner = p->pid;
	}
	for (size_t i = 0; i < t->nprocs; i++)
		if (of[i] >= 0)
			of[i] = index[of[i]];
	for (size_t k = 0; k < *n; k++) {
		struct proctable_proc *owner;

		if (!g[k].owner)
			g[k].owner = g[k].first;
		owner = proctable_find(t, g[k].owner);
		name_from(g[k].name, proctable_exe(t, owner));
		if (!g[k].name[0])
			name_from(g[k].name, proctable_comm(t, owner));
		if (!g[k].name[0])
			snprintf(g[k].name, sizeof(g[k].name), "pid-%u", g[k].owner);
	}
	free(index);
	return g;
}

static int cmp_group_port(const void *a, const void *b)
{
	const struct group_port *x = a, *y = b;

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return (x->group > y->group) - (x->group < y->group);
}

/*
 * Merges the groups of one name that listen on a common port (the
 * SO_REUSEPORT instances of one program). Returns the union-find array over
 * the groups (caller frees); each root then has the lowest port and owner of
 * its merged groups.
 */
static int32_t *groups_merge(struct discovery_auto *a, struct proctable *t, const int32_t *of,
			     struct group *g, size_t n)
{
	int32_t *up = xmalloc((n + 1) * sizeof(*up));
	struct group_port *gp = NULL;
	size_t np = 0, cap = 0;

	for (size_t k = 0; k < n; k++)
		up[k] = (int32_t)k;
	for (size_t i = 0; i < t->nprocs; i++) {
		for (size_t k = 0; of[i] >= 0 && k < t->procs[i].ninos; k++) {
			const struct procfs_sock *l = proctable_sock(t, t->procs[i].inos[k]);

			if (proctable_port_in(a->excluded, l->port))
				continue;
			if (np == cap) {
				cap = cap ? 2 * cap : 64;
				gp = xreallocarray(gp, cap, sizeof(*gp));
			}
			gp[np++] = (struct group_port){ .port = l->port, .group = of[i] };
		}
	}
	sort(gp, np, sizeof(*gp), cmp_group_port);
	for (size_t i = 1; i < np; i++)
		if (gp[i].port == gp[i - 1].port && gp[i].group != gp[i - 1].group &&
		    !strcmp(g[gp[i].group].name, g[gp[i - 1].group].name))
			uf_union(up, gp[i - 1].group, gp[i].group);
	free(gp);
	for (size_t k = 0; k < n; k++) {
		struct group *r = &g[uf_find(up, (int32_t)k)];

		if (g[k].low_port < r->low_port)
			r->low_port = g[k].low_port;
		if (g[k].owner < r->owner)
			r->owner = g[k].owner;
	}
	return up;
}

static int cmp_group_order(const void *a, const void *b)
{
	const struct group *x = *(const struct group *const *)a,
			   *y = *(const struct group *const *)b;

	if (x->low_port != y->low_port)
		return x->low_port < y->low_port ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Appends @suffix to @name, cutting the name so that the suffix fits. */
static void name_suffix(char name[SERVICE_NAME_MAX], const char *suffix)
{
	size_t room = SERVICE_NAME_MAX - 1 - strlen(suffix);

	if (strlen(name) > room)
		name[room] = '\0';
	strcat(name, suffix);
}

static bool name_taken(struct group *const *order, size_t n, const char *name)
{
	for (size_t j = 0; j < n; j++)
		if (order[j]->slot >= 0 && !strcmp(order[j]->name, name))
			return true;
	return false;
}

/*
 * Makes the names of the @n groups of @order unique and gives each its slot.
 * Different services of one name get their lowest port as a suffix. A suffixed
 * name can still meet a program really named so ("x-80"): the owner's pid
 * then tells them apart, and in the unlikely case that does not either, the
 * later group is left out, since two services must never share a name.
 */
static size_t groups_name(struct group **order, size_t n)
{
	bool *clash = xcalloc(n + 1, sizeof(*clash));
	char suffix[24];
	size_t kept = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(order[i]->name, order[j]->name))
				clash[i] = clash[j] = true;
	for (size_t i = 0; i < n; i++) {
		if (!clash[i])
			continue;
		snprintf(suffix, sizeof(suffix), "-%u", order[i]->low_port);
		name_suffix(order[i]->name, suffix);
	}
	for (size_t i = 0; i < n; i++) {
		if (name_taken(order, i, order[i]->name)) {
			snprintf(suffix, sizeof(suffix), "-p%u", order[i]->owner);
			name_suffix(order[i]->name, suffix);
		}
		if (name_taken(order, i, order[i]->name)) {
			log_debug("discovery: two services named %s, ignoring pid %u",
				  order[i]->name, order[i]->owner);
			continue;
		}
		order[i]->slot = (int32_t)kept++;
	}
	free(clash);
	return kept;
}

/* One service per group of holders, the SERVICES_MAX with the lowest ports. */
void discovery_auto_build(struct discovery_auto *a, struct proctable *t, struct service_set *set)
{
	int32_t *of = xmalloc((t->nprocs + 1) * sizeof(*of)), *up;
	struct group *g, **order;
	size_t n, nroots = 0, kept;

	group_holders(a, t, of);
	g = groups_make(a, t, of, &n);
	up = groups_merge(a, t, of, g, n);
	order = xmalloc((n + 1) * sizeof(*order));
	for (size_t k = 0; k < n; k++)
		if (uf_find(up, (int32_t)k) == (int32_t)k)
			order[nroots++] = &g[k];
	sort(order, nroots, sizeof(*order), cmp_group_order);
	if (nroots > SERVICES_MAX) {
		warn_once(a, WARNED_SERVICES,
			  "%zu services listen, watching the %d with the lowest ports", nroots,
			  SERVICES_MAX);
		nroots = SERVICES_MAX;
	}
	kept = groups_name(order, nroots);
	for (size_t k = 0; k < nroots; k++) {
		struct service *s;

		if (order[k]->slot < 0)
			continue;
		s = &set->items[order[k]->slot];
		memset(s, 0, sizeof(*s));
		memcpy(s->name, order[k]->name, sizeof(s->name));
	}
	for (size_t i = 0; i < t->nprocs; i++) { /* in pid order: the pids come sorted */
		const struct group *r = of[i] < 0 ? NULL : &g[uf_find(up, of[i])];

		if (!r || r->slot < 0)
			continue;
		add_pid(a, &set->items[r->slot], t->procs[i].pid);
		add_ports(a, t, &set->items[r->slot], &t->procs[i]);
	}
	set->n = kept;
	free(order);
	free(up);
	free(g);
	free(of);
}

void discovery_auto_init(struct discovery_auto *a, uint32_t self_pid)
{
	memset(a, 0, sizeof(*a));
	a->self_pid = self_pid;
}

void discovery_auto_exclude_port(struct discovery_auto *a, uint16_t port)
{
	a->excluded[port / 64] |= 1ull << (port % 64);
}
