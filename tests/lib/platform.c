/*
 * The platform for end-to-end tests (platform.h).
 */
#include "tests/lib/platform.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/admin_key.h"
#include "tests/lib/http.h"
#include "tests/lib/tmpdir.h"

#define AGENT	   PRP_BUILD_DIR "/prp-agent"
#define AGGREGATOR PRP_BUILD_DIR "/prp-aggregator"
#define LOADGEN	   PRP_BUILD_DIR "/prp-loadgen"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* @fixed then @extra (may be NULL) into @argv, NULL-terminated. */
static void args_join(const char **argv, const char *const *fixed, const char *const *extra)
{
	size_t n = 0;

	for (; *fixed; fixed++)
		argv[n++] = *fixed;
	for (; extra && *extra; extra++) {
		cr_assert_lt(n, PLATFORM_ARGS_MAX * 2 - 1, "too many arguments");
		argv[n++] = *extra;
	}
	argv[n] = NULL;
}

static void start_aggregator(struct platform *p, const char *const *extra)
{
	char data[128], keys[128], path[192];
	const char *argv[PLATFORM_ARGS_MAX * 2];

	snprintf(data, sizeof(data), "%s/data", p->dir);
	snprintf(keys, sizeof(keys), "%s/keys", p->dir);
	cr_assert_eq(mkdir(keys, 0700), 0);
	snprintf(path, sizeof(path), "%s/default", keys);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/default/tenant.key", keys);
	write_file(path, PLATFORM_KEY "\n");
	/*
	 * the tests poll the API often: no limit for the admin key they use, and
	 * no access log, whose lines would fill the pipe read only now and then
	 */
	args_join(argv,
		  (const char *const[]){ AGGREGATOR, "--data", data, "--keys-dir", keys, "--listen",
					 p->listen, "--ingest", p->ingest_url,
					 "--api-rate-limit-role", "admin:0/0", "--no-http-access-log",
					 NULL },
		  extra);
	cr_assert_eq(proc_start(&p->aggregator, argv), 0);
	cr_assert_eq(proc_wait_for(&p->aggregator, "HTTP on", 15000), 0, "aggregator: %s",
		     buf_str(&p->aggregator.err));
	/* made at first start (DESIGN.md); every later call of the test sends it */
	(void)admin_key_read(data, p->admin_key, sizeof(p->admin_key)); /* none: auth off */
	http_set_api_key(p->admin_key);
}

static void start_agent(struct platform *p, const char *const *extra)
{
	char key_file[128], spool[128], lock[128], svc[3][64];
	const char *argv[PLATFORM_ARGS_MAX * 2];

	snprintf(spool, sizeof(spool), "%s/spool", p->dir);
	snprintf(key_file, sizeof(key_file), "%s/agent.key", p->dir);
	snprintf(lock, sizeof(lock), "%s/agent.lock", p->dir);
	write_file(key_file, PLATFORM_KEY "\n");
	snprintf(svc[0], sizeof(svc[0]), "orders=port:%d", p->trio.orders.port);
	snprintf(svc[1], sizeof(svc[1]), "users=port:%d", p->trio.users.port);
	snprintf(svc[2], sizeof(svc[2]), "payments=port:%d", p->trio.payments.port);
	args_join(argv,
		  (const char *const[]){ AGENT, "--aggregator", p->ingest_url, "--key-file",
					 key_file, "--spool-dir", spool, "--agent-id", "agent-1",
					 "--lock-file", lock, "--service", svc[0], "--service",
					 svc[1], "--service", svc[2], NULL },
		  extra);
	cr_assert_eq(proc_start(&p->agent, argv), 0);
	cr_assert_eq(proc_wait_for(&p->agent, "agent: watching 3 services", 15000), 0,
		     "agent: %s", buf_str(&p->agent.err));
}

void platform_start(struct platform *p, int ingest_port, int http_port,
		    const char *const *aggregator_args, const char *const *agent_args,
		    const char *rps)
{
	cr_assert_eq(geteuid(), 0, "the platform needs root (the agent loads eBPF)");
	memset(p, 0, sizeof(*p));
	tmpdir_make(p->dir, sizeof(p->dir), "platform");
	snprintf(p->ingest_url, sizeof(p->ingest_url), "tcp://127.0.0.1:%d", ingest_port);
	snprintf(p->listen, sizeof(p->listen), "127.0.0.1:%d", http_port);
	snprintf(p->api, sizeof(p->api), "http://%s", p->listen);
	p->agent = (struct proc){ .out_fd = -1, .err_fd = -1 };
	p->aggregator = (struct proc){ .out_fd = -1, .err_fd = -1 };
	p->loadgen = (struct proc){ .out_fd = -1, .err_fd = -1 };
	demo_trio_start(&p->trio);
	start_aggregator(p, aggregator_args);
	start_agent(p, agent_args);
	if (rps)
		cr_assert_eq(proc_start(&p->loadgen,
					(const char *const[]){ LOADGEN, "--target", p->trio.orders.url,
							       "--rps", rps, "--duration", "3600",
							       "--mix", "orders", NULL }),
			     0);
}

void platform_stop(struct platform *p)
{
	http_set_api_key(NULL);
	struct proc *all[] = { &p->loadgen, &p->agent, &p->aggregator };

	for (size_t i = 0; i < 3; i++) {
		if (all[i]->pid)
			proc_stop(all[i], 10000);
		proc_release(all[i]);
	}
	demo_trio_stop(&p->trio);
	tmpdir_remove(p->dir);
}

json_t *platform_call(const char *method, const char *url, const char *body, long *status)
{
	struct buf resp;
	json_t *o;

	buf_init(&resp, 1 << 22);
	*status = 0;
	if (http_call(method, url, body, status, &resp, NULL))
		*status = 0;
	o = json_loads(buf_str(&resp), 0, NULL);
	buf_release(&resp);
	return o;
}

json_t *platform_api(const struct platform *p, const char *method, const char *path,
		     const char *body)
{
	char url[512];
	long status;
	json_t *o;

	snprintf(url, sizeof(url), "%s%s", p->api, path);
	o = platform_call(method, url, body, &status);
	cr_assert(status >= 200 && status < 300, "%s %s: %ld\naggregator: %s", method, path,
		  status, buf_str(&p->aggregator.err));
	cr_assert_not_null(o, "%s %s: not JSON", method, path);
	return o;
}
