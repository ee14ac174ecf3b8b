/*
 * prp-demo-service: one binary for the three demo roles (orders, users,
 * payments). It has no metrics endpoint and no instrumentation: prp sees it
 * from the kernel only.
 *
 * This is the only file that calls libmicrohttpd. Threads: MHD runs one
 * thread per connection (so a chaos sleep or CPU burn on one connection never
 * blocks another), each calling router_handle() on the shared struct shop.
 * The main thread only waits for SIGTERM/SIGINT, whose handler sets a flag,
 * and ticks chaos expiry. Signals are blocked in every other thread.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/strparse.h"
#include "common/timeutil.h"
#include "demo/cli.h"
#include "demo/reply.h"
#include "demo/req.h"
#include "demo/router.h"
#include "demo/shop.h"
#include "demo/upstream.h"

/* Idle keep-alive connections are closed after this long. */
#define DEMO_CONNECTION_TIMEOUT_S 30
/*
 * One thread each: room for thousands of kept-alive clients (the agent's
 * tests hold 2,000), with small stacks so that costs little memory.
 */
#define DEMO_CONNECTION_LIMIT 4096
#define DEMO_THREAD_STACK_BYTES (256 * 1024)
/* How often the main thread wakes to expire chaos. */
#define DEMO_TICK_MS 200

static volatile sig_atomic_t demo_stop;

static void demo_on_signal(int sig)
{
	(void)sig;
	demo_stop = 1;
}

/* Per-request state, owned by MHD's *con_cls and freed in demo_on_completed(). */
struct demo_request {
	struct buf body;
	bool too_large;
	uint64_t start_ns;
	unsigned status;
	char request_id[REQ_ID_MAX + 1];
};

static enum MHD_Result demo_add_query(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct req *rq = cls;

	(void)kind;
	/* past REQ_QUERY_MAX parameters the rest are ignored */
	return req_add_query(rq, key, value) ? MHD_NO : MHD_YES;
}

static struct demo_request *demo_request_new(struct MHD_Connection *conn)
{
	struct demo_request *dr = xcalloc(1, sizeof(*dr));
	const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	const char *len =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n;

	buf_init(&dr->body, ROUTER_MAX_BODY);
	dr->start_ns = time_mono_ns();
	if (id && req_id_valid(id))
		snprintf(dr->request_id, sizeof(dr->request_id), "%s", id);
	else
		req_id_generate(dr->request_id);
	/* refuse early what is announced too large; chunked bodies are caught as they stream */
	if (len && !strparse_u64(len, 0, UINT64_MAX, &n) && n > ROUTER_MAX_BODY)
		dr->too_large = true;
	return dr;
}

static enum MHD_Result demo_send(struct MHD_Connection *conn, struct demo_request *dr,
				 struct reply *rp)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len;
	char *body = reply_detach_body(rp, &len);

	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, "X-Request-Id", dr->request_id);
	if (rp->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rp->allow);
	dr->status = rp->status;
	ret = MHD_queue_response(conn, rp->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * MHD's handler, called several times per request: first to set *con_cls,
 * then once per chunk of body, then once more to answer. The answer is
 * queued only on that last call (RECIPES.md §8).
 */
static enum MHD_Result demo_on_request(void *cls, struct MHD_Connection *conn, const char *url,
				       const char *method, const char *version,
				       const char *upload_data, size_t *upload_data_size,
				       void **con_cls)
{
	struct shop *shop = cls;
	struct demo_request *dr = *con_cls;
	struct reply rp;
	struct req rq;
	enum MHD_Result ret;

	(void)version;
	if (!dr) {
		*con_cls = demo_request_new(conn);
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* past the cap, keep reading and dropping so the 413 can be sent */
		if (!dr->too_large && buf_append(&dr->body, upload_data, *upload_data_size)) {
			dr->too_large = true;
			buf_release(&dr->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	reply_init(&rp, dr->request_id);
	req_init(&rq, method, url, dr->request_id);
	rq.body = dr->body.data;
	rq.body_len = dr->body.len;
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, demo_add_query, &rq);
	if (dr->too_large)
		router_body_too_large(&rp);
	else
		router_handle(shop, &rq, &rp);
	ret = demo_send(conn, dr, &rp);
	reply_release(&rp);
	return ret;
}

static void demo_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct demo_request *dr = *con_cls;

	(void)cls;
	(void)conn;
	if (!dr)
		return;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("demo: answered %u in %.3f ms%s request_id=%s", dr->status,
			  (double)(time_mono_ns() - dr->start_ns) / NSEC_PER_MSEC,
			  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)",
			  dr->request_id);
	buf_release(&dr->body);
	free(dr);
	*con_cls = NULL;
}

static void demo_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_ratelimited(LOG_LEVEL_WARN, "demo: libmicrohttpd: %s", line);
}

/* The listening address, as MHD_OPTION_SOCK_ADDR wants it. */
union demo_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* Fills @a from @bind and @port; returns true for an IPv6 address. */
static bool demo_addr(const char *bind, uint16_t port, union demo_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, bind, &a->in4.sin_addr) == 1) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons(port);
		return false;
	}
	inet_pton(AF_INET6, bind, &a->in6.sin6_addr); /* checked by cli_parse() */
	a->in6.sin6_family = AF_INET6;
	a->in6.sin6_port = htons(port);
	return true;
}

static struct MHD_Daemon *demo_listen(struct shop *shop, const struct cli_options *o)
{
	union demo_addr addr;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	bool v6 = demo_addr(o->bind, o->port, &addr);

	if (v6)
		flags |= MHD_USE_IPv6;
	/* the logger first: MHD warns about options it reads before it */
	d = MHD_start_daemon(flags, o->port, NULL, NULL, demo_on_request, shop,
			     MHD_OPTION_EXTERNAL_LOGGER, demo_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
			     &addr.sa, MHD_OPTION_CONNECTION_TIMEOUT,
			     (unsigned int)DEMO_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
			     (unsigned int)DEMO_CONNECTION_LIMIT, MHD_OPTION_THREAD_STACK_SIZE,
			     (size_t)DEMO_THREAD_STACK_BYTES, MHD_OPTION_NOTIFY_COMPLETED,
			     demo_on_completed, NULL, MHD_OPTION_END);
	if (!d) {
		log_error("demo: cannot listen on %s port %u", o->bind, (unsigned)o->port);
		return NULL;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	log_info("demo: %s listening on http://%s%s%s:%u", shop->name, v6 ? "[" : "", o->bind,
		 v6 ? "]" : "", info ? (unsigned)info->port : (unsigned)o->port);
	return d;
}

/* Waits for SIGTERM or SIGINT, expiring chaos meanwhile; signals arrive only here. */
static void demo_wait(struct shop *shop, const sigset_t *unblocked)
{
	const struct timespec tick = { .tv_sec = 0, .tv_nsec = DEMO_TICK_MS * 1000000L };

	while (!demo_stop) {
		/* ppoll unblocks the signals only while it waits: no lost wake-up */
		ppoll(NULL, 0, &tick, unblocked);
		chaos_tick(&shop->chaos);
	}
}

static void demo_signals(sigset_t *old)
{
	struct sigaction sa = { .sa_handler = demo_on_signal };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* threads started from now on inherit the mask: only demo_wait() takes the signals */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, old);
}

/* The upstream pool for orders, or NULL for the other roles. */
static struct upstream_pool *demo_upstream(const struct cli_options *o)
{
	static const char *const names[] = { "users", "payments" };
	struct upstream_pool *p;

	if (o->role != SHOP_ORDERS)
		return NULL;
	p = upstream_pool_new(UPSTREAM_CONNECT_TIMEOUT_MS, UPSTREAM_TIMEOUT_MS);
	for (size_t i = 0; i < PRP_ARRAY_SIZE(names); i++) {
		if (upstream_pool_add(p, names[i], cli_call_url(o, names[i])))
			fatal("demo: cannot add upstream '%s'", names[i]);
		log_info("demo: calls %s at %s", names[i], cli_call_url(o, names[i]));
	}
	return p;
}

int main(int argc, char **argv)
{
	struct upstream_pool *pool = NULL;
	struct shop_config cfg;
	struct cli_options o;
	struct MHD_Daemon *d;
	struct shop *shop;
	sigset_t unblocked;
	char err[256];
	int status = EXIT_FAILURE;

	if (cli_parse(argc, argv, &o, err, sizeof(err))) {
		fprintf(stderr, "prp-demo-service: %s\n", err);
		fprintf(stderr, "try 'prp-demo-service --help'\n");
		return 2;
	}
	if (o.help) {
		cli_usage(stdout);
		return 0;
	}
	log_init("prp-demo-service", o.log_level, LOG_TO_STDERR);
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		fatal("demo: cannot initialise libcurl");

	pool = demo_upstream(&o);
	shop_config_init(&cfg, o.role);
	if (pool)
		cfg.upstream = upstream_pool_as_upstream(pool);
	shop = shop_new(&cfg);

	demo_signals(&unblocked);
	d = demo_listen(shop, &o);
	if (d) {
		demo_wait(shop, &unblocked);
		/* end chaos sleeps and burns, or stopping would wait for them */
		chaos_stop(&shop->chaos);
		MHD_stop_daemon(d);
		status = EXIT_SUCCESS;
	}
	shop_free(shop);
	upstream_pool_free(pool);
	curl_global_cleanup();
	if (d)
		log_info("demo: %s stopped", shop_role_name(o.role));
	return status;
}
