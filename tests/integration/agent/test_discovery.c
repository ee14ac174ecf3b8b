/*
 * agent/discovery.c on the real /proc (root): real listening sockets held by
 * child processes, found by a port selector and automatically; a forked
 * worker sharing its parent's socket; and a listener killed and restarted on
 * the same port, which keeps its id with its new pid after one refresh.
 *
 * Other tests may run services on this host at the same time, so services
 * are looked up by their port, never assumed to be the only ones.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/discovery.h"
#include "agent/services.h"
#include "common/buf.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"

#define SERVICE PRP_BUILD_DIR "/prp-demo-service"

TestSuite(discovery, .fini = test_no_leaks, .timeout = 60);

static struct service_set set; /* 300 KB: not on the stack */

/* ---- Listeners ---- */

/* Starts the demo service on @port (0: any); returns the port it listens on. */
static unsigned demo_start(struct proc *p, unsigned port)
{
	char portarg[16];
	const char *at;
	unsigned got = 0;

	snprintf(portarg, sizeof(portarg), "%u", port);
	cr_assert_eq(proc_start(p, (const char *const[]){ SERVICE, "--name", "users", "--port",
							  portarg, NULL }),
		     0);
	cr_assert_eq(proc_wait_for(p, "listening on http://", 10000), 0,
		     "the demo service did not start: %s", buf_str(&p->err));
	at = strstr(buf_str(&p->err), "listening on http://");
	cr_assert_eq(sscanf(at, "listening on http://127.0.0.1:%u", &got), 1);
	cr_assert(port == 0 || got == port);
	return got;
}

static void demo_kill(struct proc *p)
{
	cr_assert_eq(kill(p->pid, SIGKILL), 0);
	cr_assert_eq(proc_wait_exit(p, 5000), 0);
	proc_release(p);
}

/*
 * Forks a child that listens on 127.0.0.1:@port (0: any) and, with
 * @workers, forks that many children sharing its socket. Returns its pid;
 * the port in *@port. The child's tree ends with SIGTERM to its group.
 */
static pid_t listener_start(unsigned *port, int workers, pid_t *worker_pids)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int p[2], one = 1, s;
	pid_t pid, kids[8];

	cr_assert_leq(workers, 8);
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		close(p[0]);
		setpgid(0, 0);
		s = socket(AF_INET, SOCK_STREAM, 0);
		sa.sin_port = htons((uint16_t)*port);
		if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 16) ||
		    getsockname(s, (struct sockaddr *)&sa, &len))
			_exit(1);
		for (int i = 0; i < workers; i++) {
			kids[i] = fork();
			if (!kids[i]) {
				pause();
				_exit(0);
			}
		}
		if (write(p[1], &sa.sin_port, sizeof(sa.sin_port)) != sizeof(sa.sin_port) ||
		    write(p[1], kids, sizeof(pid_t) * (size_t)workers) !=
			    (ssize_t)(sizeof(pid_t) * (size_t)workers))
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &sa.sin_port, sizeof(sa.sin_port)), sizeof(sa.sin_port),
		     "the listener did not start");
	if (workers)
		cr_assert_eq(read(p[0], worker_pids, sizeof(pid_t) * (size_t)workers),
			     (ssize_t)(sizeof(pid_t) * (size_t)workers));
	close(p[0]);
	*port = ntohs(sa.sin_port);
	return pid;
}

static void listener_kill(pid_t pid)
{
	int status;

	kill(-pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
}

/* ---- Discovery helpers ---- */

static struct discovery *new_with(const char *const *sels, size_t n)
{
	char err[256] = "";
	struct discovery *d = discovery_new("/proc", sels, n, err, sizeof(err));

	cr_assert_not_null(d, "%s", err);
	return d;
}

static void refresh(struct discovery *d)
{
	cr_assert_eq(discovery_refresh(d, &set, NULL), 0);
}

/* The service listening on @port, or NULL. */
static const struct service *by_port(unsigned port)
{
	for (size_t i = 0; i < set.n; i++)
		for (size_t k = 0; k < set.items[i].nports; k++)
			if (set.items[i].ports[k] == port)
				return &set.items[i];
	return NULL;
}

static bool has_pid(const struct service *s, pid_t pid)
{
	for (size_t i = 0; i < s->npids; i++)
		if (s->pids[i] == (uint32_t)pid)
			return true;
	return false;
}

/* ---- Tests ---- */

Test(discovery, port_selector_finds_the_demo_service)
{
	struct proc demo;
	char sel[64];
	const char *sels[] = { sel };
	const struct service *s;
	struct discovery *d;
	unsigned port = demo_start(&demo, 0);

	snprintf(sel, sizeof(sel), "users=port:%u", port);
	d = new_with(sels, 1);
	refresh(d);
	s = service_set_by_name(&set, "users");
	cr_assert_not_null(s);
	cr_assert_eq(s->id, 1);
	cr_assert_eq(s->npids, 1);
	cr_assert_eq(s->pids[0], (uint32_t)demo.pid);
	cr_assert_eq(s->nports, 1);
	cr_assert_eq(s->ports[0], port);
	discovery_free(d);
	demo_kill(&demo);
}

Test(discovery, automatic_names_the_demo_service_after_its_program)
{
	struct proc demo;
	const struct service *s;
	struct discovery *d = new_with(NULL, 0);
	unsigned port = demo_start(&demo, 0);

	refresh(d);
	s = by_port(port);
	cr_assert_not_null(s, "nothing found on port %u", port);
	/* "prp-demo-service-PORT" when another test runs one too */
	cr_assert(!strncmp(s->name, "prp-demo-service", 16), "named %s", s->name);
	cr_assert_eq(s->npids, 1);
	cr_assert_eq(s->pids[0], (uint32_t)demo.pid);
	cr_assert_null(by_port(0));
	for (size_t i = 0; i < set.n; i++)
		cr_assert_not(has_pid(&set.items[i], getpid()), "the agent is never a service");
	discovery_free(d);
	demo_kill(&demo);
}

Test(discovery, automatic_groups_forked_workers_under_their_parent)
{
	pid_t workers[2], pid;
	const struct service *s;
	struct discovery *d = new_with(NULL, 0);
	unsigned port = 0;

	pid = listener_start(&port, 2, workers);
	refresh(d);
	s = by_port(port);
	cr_assert_not_null(s, "nothing found on port %u", port);
	cr_assert_eq(s->npids, 3);
	cr_assert(has_pid(s, pid) && has_pid(s, workers[0]) && has_pid(s, workers[1]));
	listener_kill(pid);
	discovery_free(d);
}

Test(discovery, restarted_service_keeps_its_id_within_one_refresh)
{
	struct proc demo;
	char sel[64];
	const char *sels[] = { "other=port:1", sel };
	const struct service *s;
	struct discovery *dsel, *dauto;
	uint16_t id_sel, id_auto;
	pid_t old;
	unsigned port = demo_start(&demo, 0);

	snprintf(sel, sizeof(sel), "users=port:%u", port);
	dsel = new_with(sels, 2);
	dauto = new_with(NULL, 0);
	refresh(dsel);
	id_sel = service_set_by_name(&set, "users")->id;
	cr_assert_eq(id_sel, 2);
	refresh(dauto);
	cr_assert_not_null(by_port(port));
	id_auto = by_port(port)->id;
	old = demo.pid;

	demo_kill(&demo);
	cr_assert_eq(demo_start(&demo, port), port);
	cr_assert_neq(demo.pid, old);

	refresh(dsel);
	s = service_set_by_name(&set, "users");
	cr_assert_eq(s->id, id_sel);
	cr_assert_eq(s->npids, 1);
	cr_assert_eq(s->pids[0], (uint32_t)demo.pid, "pid %u, want the new %d", s->pids[0],
		     (int)demo.pid);
	refresh(dauto);
	s = by_port(port);
	cr_assert_not_null(s, "the restarted service was not found");
	cr_assert_eq(s->id, id_auto);
	cr_assert_eq(s->npids, 1);
	cr_assert_eq(s->pids[0], (uint32_t)demo.pid);

	discovery_free(dsel);
	discovery_free(dauto);
	demo_kill(&demo);
}

Test(discovery, forked_listener_restarted_on_its_port_keeps_its_id)
{
	char sel[64];
	const char *sels[] = { sel };
	struct discovery *d;
	unsigned port = 0;
	pid_t pid = listener_start(&port, 0, NULL), again;

	snprintf(sel, sizeof(sel), "api=port:%u", port);
	d = new_with(sels, 1);
	refresh(d);
	cr_assert_eq(service_set_by_name(&set, "api")->pids[0], (uint32_t)pid);
	listener_kill(pid);
	refresh(d);
	cr_assert_eq(service_set_by_name(&set, "api")->npids, 0, "the service is down");
	cr_assert_eq(service_set_by_name(&set, "api")->id, 1);
	again = listener_start(&port, 0, NULL);
	refresh(d);
	cr_assert_eq(service_set_by_name(&set, "api")->id, 1);
	cr_assert_eq(service_set_by_name(&set, "api")->npids, 1);
	cr_assert_eq(service_set_by_name(&set, "api")->pids[0], (uint32_t)again);
	listener_kill(again);
	discovery_free(d);
}
