/*
 * The remediation commands against the running kernel, through
 * remediation_run() as the sender calls it: circuit breakers attached at the
 * root of the unified cgroup hierarchy refuse this process's connects
 * (EPERM, within a millisecond) and reset its keep-alive connection to the
 * target, half-open lets a probe through per interval, a lease nobody renews
 * closes them, and stopping leaves none; rate limits set and lifted on lo;
 * restart commands that fail, hang (their process group is killed) or
 * really restart a listening demo service (discovery sees new pids); bad
 * arguments; and, through a real sender and a fake aggregator, a command the
 * aggregator repeats while it runs is run once. Needs root: it fails, never
 * skips, without it.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/discovery.h"
#include "agent/remediation.h"
#include "agent/sender.h"
#include "agent/service_view.h"
#include "agent/spool.h"
#include "common/frame.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

#define DEMO_SERVICE PRP_BUILD_DIR "/prp-demo-service"
/* the brief's promise: a refused connect returns within a millisecond */
#define REFUSE_BUDGET_NS 1000000ull

static char dir[128];

static void setup(void)
{
	cr_assert_eq(geteuid(), 0, "the remediation tests need root (BPF, SOCK_DESTROY)");
	tmpdir_make(dir, sizeof(dir), "remediation");
}

static void teardown(void)
{
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(remediation, .init = setup, .fini = teardown, .timeout = 90);

/* ---- results ---------------------------------------------------------- */

/* Where queued results land; one test waits on it. */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t id;
	char *result;
};

static struct waiter waiter = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL };

static void on_done(void *arg, uint64_t id, char *result)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->lock);
	free(w->result);
	w->id = id;
	w->result = result;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* The result of a queued command @id, waited for @timeout_ms at most. */
static char *wait_done(uint64_t id, int timeout_ms)
{
	uint64_t end = time_mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	char *text = NULL;

	pthread_mutex_lock(&waiter.lock);
	while (!waiter.result && time_mono_ns() < end) {
		pthread_mutex_unlock(&waiter.lock);
		usleep(10000);
		pthread_mutex_lock(&waiter.lock);
	}
	if (waiter.result && waiter.id == id) {
		text = waiter.result;
		waiter.result = NULL;
	}
	pthread_mutex_unlock(&waiter.lock);
	return text;
}

/*
 * Runs @command with @args_json (NULL: no args) and returns the result
 * payload parsed, after checking its id (waits for a queued one).
 */
static json_t *run(struct remediation *r, uint64_t id, const char *command, const char *args_json)
{
	json_t *args = args_json ? json_loads(args_json, 0, NULL) : NULL, *res;
	char *text;

	cr_assert(!args_json || args, "bad test JSON: %s", args_json);
	text = remediation_run(r, id, command, args);
	json_decref(args);
	if (!text)
		text = wait_done(id, 60000);
	cr_assert_not_null(text, "no result for command %llu", (unsigned long long)id);
	res = json_loads(text, 0, NULL);
	cr_assert_not_null(res, "result is not JSON: %s", text);
	cr_assert_eq(json_integer_value(json_object_get(res, "id")), (json_int_t)id, "%s", text);
	free(text);
	return res;
}

static const char *status_of(json_t *res)
{
	return json_string_value(json_object_get(res, "status"));
}

static json_t *result_of(json_t *res)
{
	return json_object_get(res, "result");
}

static json_int_t int_of(json_t *res, const char *key)
{
	return json_integer_value(json_object_get(result_of(res), key));
}

static char *dump(json_t *res)
{
	static char text[4096];
	char *s = json_dumps(res, JSON_COMPACT);

	snprintf(text, sizeof(text), "%s", s ? s : "?");
	free(s);
	return text;
}

/* As run(), asserting that the command succeeded. */
static json_t *run_ok(struct remediation *r, uint64_t id, const char *command,
		      const char *args_json)
{
	json_t *res = run(r, id, command, args_json);

	cr_assert_str_eq(status_of(res), "succeeded", "%s", dump(res));
	return res;
}

static struct remediation *start(struct service_view *view, const char *const *restart,
				 size_t nrestart)
{
	struct remediation *r;

	cr_assert_eq(remediation_start(&r,
				       &(struct remediation_config){
					       .restart_commands = restart,
					       .nrestart_commands = nrestart,
					       .services = view,
				       }),
		     0);
	remediation_set_done(r, on_done, &waiter);
	return r;
}

/* ---- sockets ---------------------------------------------------------- */

struct listener {
	int fd;
	struct sockaddr_in addr; /* 127.0.0.1, an ephemeral port */
	uint16_t port;
};

static void listener_open(struct listener *l)
{
	socklen_t len = sizeof(l->addr);

	memset(&l->addr, 0, sizeof(l->addr));
	l->addr.sin_family = AF_INET;
	l->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(l->fd, 0);
	/* a deep backlog: the connects that pass are never accepted */
	cr_assert_eq(bind(l->fd, (struct sockaddr *)&l->addr, sizeof(l->addr)), 0);
	cr_assert_eq(listen(l->fd, 4096), 0);
	cr_assert_eq(getsockname(l->fd, (struct sockaddr *)&l->addr, &len), 0);
	l->port = ntohs(l->addr.sin_port);
}

struct connect_res {
	int err; /* 0, or the errno of connect() */
	uint64_t elapsed_ns;
};

/* A blocking connect from this process, in the root cgroup. */
static struct connect_res try_connect(const struct listener *l)
{
	struct connect_res r = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint64_t t0;

	cr_assert_geq(fd, 0);
	t0 = time_mono_ns();
	if (connect(fd, (const struct sockaddr *)&l->addr, sizeof(l->addr)))
		r.err = errno;
	r.elapsed_ns = time_mono_ns() - t0;
	close(fd);
	return r;
}

/*
 * A non-blocking connect that must complete within @ms: true when it did.
 * A SYN the rate limit drops is retried only after a second, so a 200 ms
 * wait tells a dropped SYN from a passed one.
 */
static bool connects_within(const struct listener *l, int ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(err);
	bool ok;

	cr_assert_geq(fd, 0);
	if (!connect(fd, (const struct sockaddr *)&l->addr, sizeof(l->addr))) {
		close(fd);
		return true;
	}
	cr_assert_eq(errno, EINPROGRESS, "connect: %s", strerror(errno));
	ok = poll(&pfd, 1, ms) == 1 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) && !err;
	close(fd);
	return ok;
}

/* ---- circuit breakers ------------------------------------------------- */

Test(remediation, open_refuses_connects_and_resets_keep_alive_connections)
{
	struct listener svc;
	struct remediation *r;
	struct connect_res c;
	char args[256], buf[8];
	json_t *res;
	int client, server;

	listener_open(&svc);
	/* a caller's kept-alive connection, made before the breaker opens */
	client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(client, (struct sockaddr *)&svc.addr, sizeof(svc.addr)), 0);
	server = accept(svc.fd, NULL, NULL);
	cr_assert_geq(server, 0);
	cr_assert_eq(write(client, "hi", 2), 2);
	cr_assert_eq(read(server, buf, 2), 2);

	r = start(NULL, NULL, 0);
	snprintf(args, sizeof(args),
		 "{\"service\": \"payments\", \"state\": \"open\", \"targets\": [\"127.0.0.1:%u\", "
		 "\"[::1]:%u\"]}",
		 svc.port, svc.port);
	res = run_ok(r, 1, "circuit_breaker", args);
	cr_expect_str_eq(json_string_value(json_object_get(result_of(res), "service")), "payments");
	cr_expect_str_eq(json_string_value(json_object_get(result_of(res), "state")), "open");
	cr_expect_eq(int_of(res, "targets"), 2);
	/* the caller's side only: the server's accepted socket has the target as local end */
	cr_expect_eq(int_of(res, "connections_reset"), 1, "%s", dump(res));
	cr_expect_eq(int_of(res, "refused"), 0);
	json_decref(res);

	/* the caller's connection was aborted here; the server saw the caller's reset */
	errno = 0;
	cr_expect_lt(read(client, buf, sizeof(buf)), 0);
	cr_expect_eq(errno, ECONNABORTED, "the client's read: %s", strerror(errno));
	cr_expect_lt(send(client, "x", 1, MSG_NOSIGNAL), 0);
	errno = 0;
	cr_expect_lt(read(server, buf, sizeof(buf)), 0);
	cr_expect_eq(errno, ECONNRESET, "the server's read: %s", strerror(errno));

	c = try_connect(&svc);
	cr_expect_eq(c.err, EPERM, "connect while open: %s", strerror(c.err));
	cr_expect_lt(c.elapsed_ns, REFUSE_BUDGET_NS, "a refused connect took %llu ns",
		     (unsigned long long)c.elapsed_ns);
	c = try_connect(&svc);
	cr_expect_eq(c.err, EPERM);

	/* half-open: one connect per interval */
	snprintf(args, sizeof(args),
		 "{\"service\": \"payments\", \"state\": \"half_open\", \"targets\": "
		 "[\"127.0.0.1:%u\"], \"probe_interval_ms\": 300}",
		 svc.port);
	res = run_ok(r, 2, "circuit_breaker", args);
	cr_expect_eq(int_of(res, "refused"), 2, "%s", dump(res));
	json_decref(res);
	cr_expect_eq(try_connect(&svc).err, 0, "the first probe");
	cr_expect_eq(try_connect(&svc).err, EPERM, "within the interval");
	usleep(350000);
	cr_expect_eq(try_connect(&svc).err, 0, "the probe after an interval");
	cr_expect_eq(try_connect(&svc).err, EPERM);

	/* closed: every connect passes, and the count comes back once more */
	snprintf(args, sizeof(args),
		 "{\"service\": \"payments\", \"state\": \"closed\", \"targets\": "
		 "[\"127.0.0.1:%u\"]}",
		 svc.port);
	res = run_ok(r, 3, "circuit_breaker", args);
	cr_expect_eq(int_of(res, "refused"), 4, "%s", dump(res));
	json_decref(res);
	for (int i = 0; i < 5; i++)
		cr_expect_eq(try_connect(&svc).err, 0, "connect %d after close", i);

	remediation_stop(r);
	close(client);
	close(server);
	close(svc.fd);
}

Test(remediation, open_resets_more_connections_than_one_netlink_batch)
{
	/* sockdiag destroys 4096 per dump, then dumps again */
	enum { N = 4500 };
	int *clients = calloc(N, sizeof(int)), *servers = calloc(N, sizeof(int));
	struct listener svc;
	struct remediation *r;
	char args[256], byte;
	int aborted = 0;
	json_t *res;

	cr_assert_not_null(clients);
	cr_assert_not_null(servers);
	listener_open(&svc);
	for (int i = 0; i < N; i++) {
		clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_geq(clients[i], 0, "socket %d: %s (the test needs %d fds)", i,
			      strerror(errno), 2 * N + 64);
		cr_assert_eq(connect(clients[i], (struct sockaddr *)&svc.addr, sizeof(svc.addr)), 0,
			     "connect %d: %s", i, strerror(errno));
		servers[i] = accept(svc.fd, NULL, NULL);
		cr_assert_geq(servers[i], 0);
	}
	r = start(NULL, NULL, 0);
	snprintf(
		args, sizeof(args),
		"{\"service\": \"payments\", \"state\": \"open\", \"targets\": [\"127.0.0.1:%u\"]}",
		svc.port);
	res = run_ok(r, 1, "circuit_breaker", args);
	cr_expect_eq(int_of(res, "connections_reset"), N, "%s", dump(res));
	json_decref(res);
	for (int i = 0; i < N; i++)
		aborted += recv(clients[i], &byte, 1, MSG_DONTWAIT) < 0 && errno == ECONNABORTED;
	cr_expect_eq(aborted, N, "%d of %d connections were aborted", aborted, N);
	remediation_stop(r);
	for (int i = 0; i < N; i++) {
		close(clients[i]);
		close(servers[i]);
	}
	free(clients);
	free(servers);
	close(svc.fd);
}

Test(remediation, a_later_command_closes_the_targets_it_no_longer_lists)
{
	struct listener a, b;
	struct remediation *r;
	char args[256];

	listener_open(&a);
	listener_open(&b);
	r = start(NULL, NULL, 0);
	snprintf(args, sizeof(args),
		 "{\"service\": \"payments\", \"state\": \"open\", \"targets\": [\"127.0.0.1:%u\", "
		 "\"127.0.0.1:%u\"]}",
		 a.port, b.port);
	json_decref(run_ok(r, 1, "circuit_breaker", args));
	cr_expect_eq(try_connect(&a).err, EPERM);
	cr_expect_eq(try_connect(&b).err, EPERM);
	snprintf(
		args, sizeof(args),
		"{\"service\": \"payments\", \"state\": \"open\", \"targets\": [\"127.0.0.1:%u\"]}",
		a.port);
	json_decref(run_ok(r, 2, "circuit_breaker", args));
	cr_expect_eq(try_connect(&a).err, EPERM);
	cr_expect_eq(try_connect(&b).err, 0, "the target the service no longer lists");
	/* closed with no targets closes whatever the service has */
	json_decref(run_ok(r, 3, "circuit_breaker",
			   "{\"service\": \"payments\", \"state\": \"closed\"}"));
	cr_expect_eq(try_connect(&a).err, 0);
	remediation_stop(r);
	close(a.fd);
	close(b.fd);
}

Test(remediation, a_lease_nobody_renews_closes_the_breakers)
{
	struct listener svc;
	struct remediation *r;
	char args[256];
	uint64_t t0, waited_ms;
	int err = EPERM;

	listener_open(&svc);
	r = start(NULL, NULL, 0);
	snprintf(
		args, sizeof(args),
		"{\"service\": \"payments\", \"state\": \"open\", \"targets\": [\"127.0.0.1:%u\"], "
		"\"lease_ms\": 400}",
		svc.port);
	/* renewed every 150 ms for 900 ms: stays open past its 400 ms */
	t0 = time_mono_ns();
	for (int i = 0; i < 7; i++) {
		json_decref(run_ok(r, (uint64_t)i + 1, "circuit_breaker", args));
		cr_expect_eq(try_connect(&svc).err, EPERM, "renewal %d", i);
		usleep(150000);
	}
	cr_expect_eq(try_connect(&svc).err, EPERM, "after %llu ms of renewals",
		     (unsigned long long)((time_mono_ns() - t0) / NSEC_PER_MSEC));
	/* then nobody renews it */
	t0 = time_mono_ns();
	snprintf(
		args, sizeof(args),
		"{\"service\": \"payments\", \"state\": \"open\", \"targets\": [\"127.0.0.1:%u\"], "
		"\"lease_ms\": 300}",
		svc.port);
	json_decref(run_ok(r, 100, "circuit_breaker", args));
	while (err == EPERM && time_mono_ns() - t0 < 3 * NSEC_PER_SEC) {
		usleep(20000);
		err = try_connect(&svc).err;
	}
	waited_ms = (time_mono_ns() - t0) / NSEC_PER_MSEC;
	cr_expect_eq(err, 0, "still refused after %llu ms", (unsigned long long)waited_ms);
	cr_expect_geq(waited_ms, 280, "closed after %llu ms only", (unsigned long long)waited_ms);
	cr_expect_leq(waited_ms, 1000, "closed after %llu ms", (unsigned long long)waited_ms);
	remediation_stop(r);
	close(svc.fd);
}

Test(remediation, stop_leaves_no_breaker_behind)
{
	struct listener svc;
	struct remediation *r;
	char args[256];

	listener_open(&svc);
	r = start(NULL, NULL, 0);
	snprintf(args, sizeof(args),
		 "{\"service\": \"payments\", \"state\": \"open\", \"targets\": [\"127.0.0.1:%u\", "
		 "\"0.0.0.0:%u\"]}",
		 svc.port, svc.port);
	json_decref(run_ok(r, 1, "circuit_breaker", args));
	cr_assert_eq(try_connect(&svc).err, EPERM);
	remediation_stop(r);
	remediation_stop(NULL);
	cr_expect_eq(try_connect(&svc).err, 0, "a breaker outlived remediation_stop()");
	close(svc.fd);
}

Test(remediation, without_a_breaker_its_commands_fail_with_the_reason)
{
	struct remediation *r;
	json_t *res;

	/* as on a host where the programs cannot attach: the rest still works */
	cr_assert_eq(remediation_start(&r, &(struct remediation_config){ .cgroup_path = dir }), 0);
	res = run(r, 1, "circuit_breaker",
		  "{\"service\": \"p\", \"state\": \"open\", \"targets\": [\"127.0.0.1:1\"]}");
	cr_expect_str_eq(status_of(res), "failed", "%s", dump(res));
	cr_expect(strstr(json_string_value(result_of(res)), "circuit breakers are unavailable"),
		  "%s", dump(res));
	cr_expect(strstr(json_string_value(result_of(res)), dir), "%s", dump(res));
	json_decref(res);
	res = run(r, 2, "rate_limit", "{\"service\": \"p\", \"state\": \"clear\", \"ports\": [1]}");
	cr_expect_str_eq(status_of(res), "succeeded", "%s", dump(res));
	json_decref(res);
	remediation_stop(r);
}

/* ---- rate limits ------------------------------------------------------ */

Test(remediation, rate_limit_set_and_clear_on_lo)
{
	struct listener svc;
	struct remediation *r;
	char args[256];
	json_t *res, *ifs, *v;
	bool lo = false;
	size_t i;

	listener_open(&svc);
	r = start(NULL, NULL, 0);
	snprintf(
		args, sizeof(args),
		"{\"service\": \"payments\", \"state\": \"set\", \"ports\": [%u], \"rate_per_s\": 1, "
		"\"burst\": 1}",
		svc.port);
	res = run_ok(r, 1, "rate_limit", args);
	cr_expect_str_eq(json_string_value(json_object_get(result_of(res), "state")), "set");
	cr_expect_eq(
		json_integer_value(json_array_get(json_object_get(result_of(res), "ports"), 0)),
		svc.port);
	ifs = json_object_get(result_of(res), "interfaces");
	json_array_foreach(ifs, i, v)
		lo = lo || !strcmp(json_string_value(v), "lo");
	cr_expect(lo, "no lo among the interfaces: %s", dump(res));
	json_decref(res);

	/* a bucket of one: the first SYN passes, the next is dropped for now */
	cr_expect(connects_within(&svc, 200), "the first connect");
	cr_expect_not(connects_within(&svc, 200), "a connect over the limit got through");

	snprintf(args, sizeof(args),
		 "{\"service\": \"payments\", \"state\": \"clear\", \"ports\": [%u]}", svc.port);
	res = run_ok(r, 2, "rate_limit", args);
	cr_expect_str_eq(json_string_value(json_object_get(result_of(res), "state")), "clear");
	json_decref(res);
	for (int k = 0; k < 5; k++)
		cr_expect(connects_within(&svc, 200), "connect %d after clear", k);

	/* set again, then stop: nothing is left limiting */
	snprintf(
		args, sizeof(args),
		"{\"service\": \"payments\", \"state\": \"set\", \"ports\": [%u], \"rate_per_s\": 1, "
		"\"burst\": 1}",
		svc.port);
	json_decref(run_ok(r, 3, "rate_limit", args));
	remediation_stop(r);
	for (int k = 0; k < 5; k++)
		cr_expect(connects_within(&svc, 200), "connect %d after stop", k);
	close(svc.fd);
}

/* ---- restarts --------------------------------------------------------- */

static void write_script(const char *name, const char *body, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fprintf(f, "#!/bin/sh\n%s", body);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0755), 0);
}

/* A view holding one fake service @name: this process, listening on port 1. */
static struct service_view *fake_view(const char *name)
{
	struct service_view *v = service_view_new();
	struct service_set *set = calloc(1, sizeof(*set));
	struct service *svc = &set->items[set->n++];

	svc->id = 1;
	snprintf(svc->name, sizeof(svc->name), "%s", name);
	svc->pids[svc->npids++] = (uint32_t)getpid();
	svc->ports[svc->nports++] = 1;
	service_view_publish(v, set, true);
	free(set);
	return v;
}

/* A thread that publishes @set to @view every 50 ms, as the main loop does. */
struct publisher {
	pthread_t thread;
	struct service_view *view;
	struct discovery *discovery; /* NULL: republish the view's own set */
	volatile bool stop;
};

static void *publisher_main(void *arg)
{
	struct publisher *p = arg;
	struct service_set *set = calloc(1, sizeof(*set));
	uint64_t version = 0;
	bool changed;

	while (!p->stop) {
		if (p->discovery) {
			changed = false;
			if (!discovery_refresh(p->discovery, set, &changed))
				service_view_publish(p->view, set, changed);
		} else {
			service_view_copy(p->view, set, &version);
			service_view_publish(p->view, set, false);
		}
		usleep(50000);
	}
	free(set);
	return NULL;
}

static void publisher_start(struct publisher *p, struct service_view *view,
			    struct discovery *discovery)
{
	p->view = view;
	p->discovery = discovery;
	p->stop = false;
	cr_assert_eq(pthread_create(&p->thread, NULL, publisher_main, p), 0);
}

static void publisher_stop(struct publisher *p)
{
	p->stop = true;
	pthread_join(p->thread, NULL);
}

/* Whether @pid is gone, or a zombie nobody reaped yet (which runs nothing). */
static bool dead(pid_t pid)
{
	char path[64], line[256], *paren;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	paren = strrchr(line, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

static pid_t read_pid(const char *name)
{
	char path[256];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	return (pid_t)pid;
}

Test(remediation, a_restart_command_that_fails_fails_with_its_output)
{
	char script[256], entry[320];
	const char *entries[1] = { entry };
	struct service_view *v = fake_view("svc");
	struct remediation *r;
	const char *out;
	json_t *res;

	write_script("fail.sh", "echo boom\necho oops >&2\nexit 1\n", script, sizeof(script));
	snprintf(entry, sizeof(entry), "svc=%s", script);
	r = start(v, entries, 1);
	res = run(r, 1, "restart", "{\"service\": \"svc\", \"timeout_ms\": 5000}");
	cr_expect_str_eq(status_of(res), "failed", "%s", dump(res));
	cr_expect_eq(int_of(res, "exit_status"), 1, "%s", dump(res));
	out = json_string_value(json_object_get(result_of(res), "output"));
	cr_expect(out && strstr(out, "boom") && strstr(out, "oops"), "%s", dump(res));
	cr_expect(strstr(json_string_value(json_object_get(result_of(res), "error")), "status 1"),
		  "%s", dump(res));
	json_decref(res);

	/* a service this agent does not watch */
	res = run(r, 2, "restart", "{\"service\": \"nobody\"}");
	cr_expect_str_eq(status_of(res), "failed");
	cr_expect(strstr(json_string_value(result_of(res)), "not watched"), "%s", dump(res));
	json_decref(res);
	remediation_stop(r);
	service_view_free(v);
}

Test(remediation, a_restart_command_that_hangs_times_out_and_its_group_is_killed)
{
	char script[256], entry[320], body[512];
	const char *entries[1] = { entry };
	struct service_view *v = fake_view("svc");
	struct remediation *r;
	uint64_t t0, ms;
	json_t *res;
	pid_t bg;

	snprintf(body, sizeof(body),
		 "sleep 1000 &\necho $! > %s/bg.pid\necho waiting\nsleep 1000\n", dir);
	write_script("hang.sh", body, script, sizeof(script));
	snprintf(entry, sizeof(entry), "svc=%s", script);
	r = start(v, entries, 1);
	t0 = time_mono_ns();
	res = run(r, 1, "restart", "{\"service\": \"svc\", \"timeout_ms\": 500}");
	ms = (time_mono_ns() - t0) / NSEC_PER_MSEC;
	cr_expect_str_eq(status_of(res), "timed_out", "%s", dump(res));
	cr_expect_geq(ms, 500);
	cr_expect_lt(ms, 2000, "timed out after %llu ms", (unsigned long long)ms);
	cr_expect(strstr(json_string_value(json_object_get(result_of(res), "output")), "waiting"),
		  "%s", dump(res));
	json_decref(res);
	bg = read_pid("bg.pid");
	for (int i = 0; i < 100 && !dead(bg); i++)
		usleep(10000);
	cr_expect(dead(bg), "process %d of the command's group survived", (int)bg);
	if (!dead(bg))
		kill(bg, SIGKILL);
	remediation_stop(r);
	service_view_free(v);
}

/* A free TCP port of 127.0.0.1 (free when asked; nothing else here takes ports). */
static uint16_t free_port(void)
{
	struct listener l;

	listener_open(&l);
	close(l.fd);
	return l.port;
}

Test(remediation, a_restart_that_replaces_the_service_succeeds_with_new_pids)
{
	char script[256], entry[320], body[1024], selector[64], err[256];
	const char *entries[1] = { entry }, *selectors[1] = { selector };
	struct service_view *v = service_view_new();
	struct service before;
	struct discovery *d;
	struct publisher pub;
	struct remediation *r;
	uint16_t port = free_port();
	json_t *res, *pb, *pa;
	bool up = false;

	/* stops the running instance if any, then starts one, detached, as a daemon would be */
	snprintf(body, sizeof(body),
		 "D=%s\n"
		 "if [ -f $D/svc.pid ]; then\n"
		 "  P=$(cat $D/svc.pid); kill $P\n"
		 "  while [ -e /proc/$P ] && [ \"$(cut -d' ' -f3 /proc/$P/stat)\" != Z ]; do\n"
		 "    sleep 0.05\n"
		 "  done\n"
		 "fi\n"
		 "setsid %s --name payments --port %u </dev/null >/dev/null 2>&1 &\n"
		 "echo $! > $D/svc.pid\n"
		 "echo restarted\n",
		 dir, DEMO_SERVICE, port);
	write_script("restart.sh", body, script, sizeof(script));
	snprintf(body, sizeof(body), "%s >/dev/null", script);
	cr_assert_eq(system(body), 0);
	snprintf(selector, sizeof(selector), "payments=port:%u", port);
	d = discovery_new("/proc", selectors, 1, err, sizeof(err));
	cr_assert_not_null(d, "%s", err);
	publisher_start(&pub, v, d);
	for (int i = 0; i < 100 && !up; i++) {
		usleep(50000);
		up = service_view_get(v, "payments", &before, NULL) && before.npids &&
		     before.nports;
	}
	cr_assert(up, "the demo service never listened on %u", port);

	snprintf(entry, sizeof(entry), "payments=%s", script);
	r = start(v, entries, 1);
	res = run(r, 1, "restart", "{\"service\": \"payments\", \"timeout_ms\": 15000}");
	cr_expect_str_eq(status_of(res), "succeeded", "%s", dump(res));
	pb = json_object_get(result_of(res), "pids_before");
	pa = json_object_get(result_of(res), "pids_after");
	cr_expect_eq(json_array_size(pb), 1, "%s", dump(res));
	cr_expect_eq(json_array_size(pa), 1, "%s", dump(res));
	cr_expect_eq(json_integer_value(json_array_get(pb, 0)), before.pids[0]);
	cr_expect_neq(json_integer_value(json_array_get(pa, 0)),
		      json_integer_value(json_array_get(pb, 0)), "the pids did not change");
	cr_expect_eq(json_integer_value(json_array_get(pa, 0)), read_pid("svc.pid"));
	cr_expect(strstr(json_string_value(json_object_get(result_of(res), "output")), "restarted"),
		  "%s", dump(res));
	json_decref(res);

	remediation_stop(r);
	publisher_stop(&pub);
	kill(read_pid("svc.pid"), SIGTERM);
	discovery_free(d);
	service_view_free(v);
}

Test(remediation, a_restart_whose_service_never_comes_back_fails)
{
	char script[256], entry[320];
	const char *entries[1] = { entry };
	struct service_view *v = service_view_new();
	struct service_set *set = calloc(1, sizeof(*set));
	struct publisher pub;
	struct remediation *r;
	json_t *res;

	/* the service is watched, but nothing listens: as after a restart that failed quietly */
	set->n = 1;
	set->items[0].id = 1;
	snprintf(set->items[0].name, sizeof(set->items[0].name), "svc");
	service_view_publish(v, set, true);
	free(set);
	publisher_start(&pub, v, NULL);
	write_script("ok.sh", "exit 0\n", script, sizeof(script));
	snprintf(entry, sizeof(entry), "svc=%s", script);
	r = start(v, entries, 1);
	res = run(r, 1, "restart", "{\"service\": \"svc\", \"timeout_ms\": 400}");
	cr_expect_str_eq(status_of(res), "failed", "%s", dump(res));
	cr_expect(strstr(json_string_value(json_object_get(result_of(res), "error")),
			 "did not come back listening within 400 ms"),
		  "%s", dump(res));
	json_decref(res);
	remediation_stop(r);
	publisher_stop(&pub);
	service_view_free(v);
}

/* ---- bad arguments ---------------------------------------------------- */

Test(remediation, bad_args_fail_with_a_message)
{
	static const char *const cases[][3] = {
		{ "circuit_breaker", "{\"state\": \"open\", \"targets\": [\"127.0.0.1:1\"]}",
		  "service" },
		{ "circuit_breaker",
		  "{\"service\": \"p\", \"state\": \"open\", \"targets\": [\"127.0.0.1\"]}",
		  "target 0 '127.0.0.1' is not ADDRESS:PORT" },
		{ "circuit_breaker",
		  "{\"service\": \"p\", \"state\": \"open\", \"targets\": [\"db:5432\"]}",
		  "is not ADDRESS:PORT" },
		{ "circuit_breaker",
		  "{\"service\": \"p\", \"state\": \"ajar\", \"targets\": [\"127.0.0.1:1\"]}",
		  "unknown state 'ajar'" },
		{ "circuit_breaker", "{\"service\": \"p\", \"state\": \"open\", \"targets\": []}",
		  "no targets" },
		{ "circuit_breaker",
		  "{\"service\": \"p\", \"state\": \"open\", \"targets\": [\"127.0.0.1:1\"], "
		  "\"colour\": \"red\"}",
		  "bad args" },
		{ "circuit_breaker", "{\"service\": \"p q\", \"state\": \"closed\"}",
		  "service 'p q' is not" },
		{ "circuit_breaker",
		  "{\"service\": \"p\", \"state\": \"half_open\", \"targets\": [\"127.0.0.1:1\"], "
		  "\"probe_interval_ms\": 0}",
		  "probe_interval_ms" },
		{ "rate_limit", "{\"service\": \"p\", \"state\": \"set\", \"ports\": [0]}",
		  "port 0 is not 1..65535" },
		{ "rate_limit", "{\"service\": \"p\", \"state\": \"set\", \"ports\": [80]}",
		  "rate_per_s" },
		{ "rate_limit", "{\"service\": \"p\", \"state\": \"on\", \"ports\": [80]}",
		  "unknown state 'on'" },
		{ "restart", "{}", "bad args" },
		{ "restart", "{\"service\": \"../etc\"}", "is not 1-63" },
		{ "restart", "{\"service\": \"p\", \"timeout_ms\": 5}", "timeout_ms" },
		{ "restart", "[]", "not an object" },
		{ "restart", NULL, "not an object" },
		{ "reboot", "{}", "unknown command 'reboot'" },
	};
	char many[8192];
	struct service_view *v = fake_view("p");
	struct remediation *r = start(v, NULL, 0);
	size_t off;
	json_t *res;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *text;

		res = run(r, i + 1, cases[i][0], cases[i][1]);
		text = json_string_value(result_of(res));
		cr_expect_str_eq(status_of(res), "failed", "%s %s", cases[i][0], dump(res));
		cr_expect(text && strstr(text, cases[i][2]), "%s %s: want '%s' in %s", cases[i][0],
			  cases[i][1] ? cases[i][1] : "(none)", cases[i][2], dump(res));
		json_decref(res);
	}
	/* 65 targets */
	off = (size_t)snprintf(many, sizeof(many),
			       "{\"service\": \"p\", \"state\": \"open\", \"targets\": [");
	for (int i = 0; i < 65; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "%s\"127.0.0.1:%d\"",
					i ? ", " : "", 1000 + i);
	snprintf(many + off, sizeof(many) - off, "]}");
	res = run(r, 100, "circuit_breaker", many);
	cr_expect_str_eq(status_of(res), "failed");
	cr_expect(strstr(json_string_value(result_of(res)), "65 targets, at most 64"), "%s",
		  dump(res));
	json_decref(res);
	remediation_stop(r);
	service_view_free(v);
}

/* ---- through the sender: a repeated command runs once ----------------- */

#define KEY "test-key-0123456789abcdef"

/* A fake aggregator: answers each request with an ACK and, until told, a command. */
struct fake_agg {
	int sock;
	struct buf payload;
	char hello[8192];
	int requests, commands_sent, results;
	char result[4096];
};

static void fake_reply(struct fake_agg *a, const char *command_json, uint64_t command_id)
{
	struct frame_header h = { .type = FRAME_ACK };
	struct buf out;

	buf_init(&out, 1 << 20);
	snprintf(h.agent_id, sizeof(h.agent_id), "agent-1");
	snprintf(h.tenant, sizeof(h.tenant), "default");
	h.time_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	cr_assert_eq(frame_encode(&out, &h, "{}", 2, KEY, strlen(KEY)), 0);
	if (command_json) {
		h.type = FRAME_COMMAND;
		h.seq = command_id;
		cr_assert_eq(frame_encode(&out, &h, command_json, strlen(command_json), KEY,
					  strlen(KEY)),
			     0);
		a->commands_sent++;
	}
	cr_assert_geq(nn_send(a->sock, out.data, out.len, 0), 0);
	buf_release(&out);
}

/* Reads one request (true) or times out (false); notes its HELLO and results. */
static bool fake_request(struct fake_agg *a)
{
	struct frame_header h;
	char *msg = NULL;
	size_t off = 0, used;
	int n = nn_recv(a->sock, &msg, NN_MSG, 0);

	if (n < 0)
		return false;
	a->requests++;
	while (off < (size_t)n) {
		cr_assert_eq(frame_decode(msg + off, (size_t)n - off, KEY, strlen(KEY), &h,
					  &a->payload, &used),
			     FRAME_OK);
		off += used;
		if (h.type == FRAME_HELLO)
			snprintf(a->hello, sizeof(a->hello), "%.*s", (int)a->payload.len,
				 (const char *)a->payload.data);
		if (h.type == FRAME_COMMAND_RESULT && h.seq == 7) {
			a->results++;
			snprintf(a->result, sizeof(a->result), "%.*s", (int)a->payload.len,
				 (const char *)a->payload.data);
		}
	}
	nn_freemsg(msg);
	return true;
}

static int count_lines(const char *name)
{
	char path[256], line[64];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

Test(remediation, a_command_repeated_while_it_runs_runs_once)
{
	static const char command[] =
		"{\"id\": 7, \"command\": \"restart\", \"args\": {\"service\": \"svc\", "
		"\"timeout_ms\": 20000}}";
	char script[256], entry[320], body[512], url[256], spool_dir[192];
	const char *entries[1] = { entry };
	struct service_view *v = fake_view("svc");
	struct fake_agg agg = { 0 };
	struct publisher pub;
	struct remediation *r;
	struct spool *spool;
	struct sender *s;
	uint64_t end;
	json_t *hello, *res;
	int rcv = 100, repeats_after = 0;

	/* counts its runs, and runs long enough for the aggregator to repeat it */
	snprintf(body, sizeof(body), "echo run >> %s/runs\nsleep 2.5\necho done\n", dir);
	write_script("slow.sh", body, script, sizeof(script));
	snprintf(entry, sizeof(entry), "svc=%s", script);
	publisher_start(&pub, v, NULL);
	r = start(v, entries, 1);

	snprintf(url, sizeof(url), "ipc://%s/agg.ipc", dir);
	agg.sock = nn_socket(AF_SP, NN_REP);
	cr_assert_geq(agg.sock, 0);
	cr_assert_eq(nn_setsockopt(agg.sock, NN_SOL_SOCKET, NN_RCVTIMEO, &rcv, sizeof(rcv)), 0);
	cr_assert_geq(nn_bind(agg.sock, url), 0);
	buf_init(&agg.payload, FRAME_PAYLOAD_MAX);
	snprintf(spool_dir, sizeof(spool_dir), "%s/spool", dir);
	cr_assert_eq(spool_open(&spool, spool_dir, 1 << 20), 0);
	cr_assert_eq(sender_start(&s, &(struct sender_config){ .url = url,
							       .agent_id = "agent-1",
							       .tenant = "default",
							       .key = (const uint8_t *)KEY,
							       .keylen = strlen(KEY),
							       .host = "test-host",
							       .version = "test",
							       .spool = spool,
							       .remediation = r,
							       .services = v }),
		     0);

	/* the command on every reply until its result comes, then once more */
	end = time_mono_ns() + 30 * NSEC_PER_SEC;
	while (time_mono_ns() < end && agg.results < 2) {
		if (!fake_request(&agg))
			continue;
		if (!agg.results || !repeats_after) {
			repeats_after += agg.results > 0;
			fake_reply(&agg, command, 7);
		} else {
			fake_reply(&agg, NULL, 0);
		}
	}
	sender_stop(s);
	spool_close(spool);
	nn_close(agg.sock);
	buf_release(&agg.payload);

	cr_expect_eq(agg.results, 2, "the result was sent %d times", agg.results);
	cr_expect_geq(agg.commands_sent, 3, "the command was repeated only %d times while it ran",
		      agg.commands_sent);
	cr_expect_eq(count_lines("runs"), 1, "the command ran %d times", count_lines("runs"));
	res = json_loads(agg.result, 0, NULL);
	cr_expect_str_eq(json_string_value(json_object_get(res, "status")), "succeeded", "%s",
			 agg.result);
	json_decref(res);

	/* the HELLO lists the services with their ports, and the addresses */
	hello = json_loads(agg.hello, 0, NULL);
	cr_assert_not_null(hello, "no HELLO: '%s'", agg.hello);
	cr_expect_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(hello, "services"), 0), "name")),
			 "svc", "%s", agg.hello);
	cr_expect_eq(json_integer_value(json_array_get(
			     json_object_get(json_array_get(json_object_get(hello, "services"), 0),
					     "ports"),
			     0)),
		     1, "%s", agg.hello);
	cr_expect(json_is_array(json_object_get(hello, "addresses")), "%s", agg.hello);
	cr_expect_leq(json_array_size(json_object_get(hello, "addresses")), 16);
	json_decref(hello);

	remediation_stop(r);
	publisher_stop(&pub);
	service_view_free(v);
}
