/*
 * agent/service_view.c: a reader gets the services as last published, a
 * copy only when they changed, and a refresh count that moves at every
 * publish, changed or not.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/service_view.h"
#include "tests/lib/leakcheck.h"

TestSuite(service_view, .fini = test_no_leaks);

static void add(struct service_set *set, const char *name, uint32_t pid, uint16_t port)
{
	struct service *svc = &set->items[set->n++];

	memset(svc, 0, sizeof(*svc));
	svc->id = (uint16_t)set->n;
	snprintf(svc->name, sizeof(svc->name), "%s", name);
	svc->pids[svc->npids++] = pid;
	svc->ports[svc->nports++] = port;
}

Test(service_view, readers_see_what_was_published)
{
	struct service_view *v = service_view_new();
	struct service_set *set = calloc(1, sizeof(*set)), *copy = calloc(1, sizeof(*copy));
	struct service svc;
	uint64_t refreshes = 99, version = 0;

	cr_expect_not(service_view_get(v, "payments", &svc, &refreshes));
	cr_expect_eq(refreshes, 0);
	add(set, "payments", 42, 8003);
	add(set, "orders", 43, 8001);
	service_view_publish(v, set, true);
	cr_assert(service_view_get(v, "payments", &svc, &refreshes));
	cr_expect_eq(svc.pids[0], 42);
	cr_expect_eq(svc.ports[0], 8003);
	cr_expect_eq(refreshes, 1);
	cr_expect(service_view_get(v, "orders", NULL, NULL));

	cr_assert(service_view_copy(v, copy, &version));
	cr_expect_eq(copy->n, 2);
	cr_expect_not(service_view_copy(v, copy, &version), "copied again without a change");
	/* an unchanged refresh counts, and copies nothing */
	set->items[0].pids[0] = 7;
	service_view_publish(v, set, false);
	cr_assert(service_view_get(v, "payments", &svc, &refreshes));
	cr_expect_eq(svc.pids[0], 42);
	cr_expect_eq(refreshes, 2);
	cr_expect_not(service_view_copy(v, copy, &version));
	set->n = 1;
	service_view_publish(v, set, true);
	cr_expect_not(service_view_get(v, "orders", NULL, NULL));
	cr_assert(service_view_copy(v, copy, &version));
	cr_expect_eq(copy->n, 1);
	cr_expect_eq(copy->items[0].pids[0], 7);

	service_view_free(v);
	service_view_free(NULL);
	free(set);
	free(copy);
}

Test(service_view, the_first_publish_copies_even_unchanged)
{
	struct service_view *v = service_view_new();
	struct service_set *set = calloc(1, sizeof(*set));

	add(set, "users", 1, 8002);
	service_view_publish(v, set, false);
	cr_expect(service_view_get(v, "users", NULL, NULL));
	service_view_free(v);
	free(set);
}
