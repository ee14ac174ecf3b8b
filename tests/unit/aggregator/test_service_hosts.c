/*
 * Where a service runs, from the agents' HELLOs
 * (aggregator/policy/service_hosts.c): breaker targets per receiving agent.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/policy/service_hosts.h"
#include "tests/lib/leakcheck.h"

TestSuite(service_hosts, .fini = test_no_leaks);

static void host(struct ingest_agent_info *a, const char *id, const char *svc, uint16_t port,
		 const char *addr1, const char *addr2)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->agent_id, sizeof(a->agent_id), "%s", id);
	if (svc) {
		snprintf(a->services[0].name, sizeof(a->services[0].name), "%s", svc);
		a->services[0].ports[0] = port;
		a->services[0].nports = 1;
		a->nservices = 1;
	}
	if (addr1)
		snprintf(a->addresses[a->naddresses++], sizeof(a->addresses[0]), "%s", addr1);
	if (addr2)
		snprintf(a->addresses[a->naddresses++], sizeof(a->addresses[0]), "%s", addr2);
}

static bool has(json_t *targets, const char *t)
{
	json_t *e;
	size_t i;

	json_array_foreach(targets, i, e)
		if (!strcmp(json_string_value(e), t))
			return true;
	return false;
}

Test(service_hosts, targets_are_every_host_address_and_local_loopback)
{
	struct ingest_agent_info v[3];
	size_t dropped;
	json_t *t;

	host(&v[0], "a1", "payments", 8003, "10.0.0.5", "fe80::1");
	host(&v[1], "a2", "payments", 9003, "10.0.0.6", NULL);
	host(&v[2], "a3", "orders", 8001, "10.0.0.7", NULL);
	cr_expect_eq(service_hosts_count(v, 3, "payments"), 2);
	cr_expect_eq(service_hosts_count(v, 3, "nosuch"), 0);

	t = service_hosts_targets(v, 3, "payments", &v[0], &dropped);
	cr_expect_eq(json_array_size(t), 5);
	cr_expect(has(t, "10.0.0.5:8003") && has(t, "[fe80::1]:8003") && has(t, "10.0.0.6:9003"));
	cr_expect(has(t, "127.0.0.1:8003") && has(t, "[::1]:8003"));
	cr_expect_not(has(t, "127.0.0.1:9003"), "loopback only for the receiver's own ports");
	cr_expect_eq(dropped, 0);
	json_decref(t);

	t = service_hosts_targets(v, 3, "payments", &v[2], &dropped);
	cr_expect_eq(json_array_size(t), 3);
	cr_expect_not(has(t, "127.0.0.1:8003"));
	json_decref(t);
}
