/*
 * The local /metrics server. An error is answered on the handler's first
 * call, before any body is read (libmicrohttpd then closes the connection
 * rather than read an upload). A GET or HEAD of /metrics is answered on the
 * second call, once the request is complete, so the connection can be kept
 * alive for the next scrape; a body on it ends the connection. No request
 * state is kept but a marker in *con_cls. The body comes from the render
 * function, a heap string handed to libmicrohttpd, which frees it once sent.
 *
 * Binding: the address is bound once by a probe socket first, so a port
 * already taken is reported with its errno ("Address already in use"); then
 * libmicrohttpd binds it for good. Another process could take the port in
 * between; libmicrohttpd then fails and its own message is in the log.
 */
#include "agent/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/prom_text.h"
#include "common/strparse.h"

#define METRICS_HTTP_PATH  "/metrics"
#define METRICS_HTTP_ALLOW "GET, HEAD"
#define METRICS_HTTP_JSON  "application/json"

struct metrics_http {
	struct MHD_Daemon *daemon;
	metrics_http_render_fn *render;
	void *arg;
};

int metrics_http_parse_address(const char *text, struct sockaddr_storage *addr, char *err,
			       size_t errlen)
{
	const char *colon = strrchr(text, ':'), *host = text;
	struct sockaddr_in *in4 = (struct sockaddr_in *)addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
	char buf[INET6_ADDRSTRLEN + 1];
	size_t hostlen;
	uint64_t port;

	memset(addr, 0, sizeof(*addr));
	if (!colon)
		goto out_bad;
	hostlen = (size_t)(colon - text);
	/* [v6]:port: the brackets are not part of the address */
	if (*text == '[') {
		if (hostlen < 2 || text[hostlen - 1] != ']')
			goto out_bad;
		host = text + 1;
		hostlen -= 2;
	}
	if (!hostlen || hostlen >= sizeof(buf) || strparse_u64(colon + 1, 1, 65535, &port))
		goto out_bad;
	memcpy(buf, host, hostlen);
	buf[hostlen] = '\0';
	if (host == text && inet_pton(AF_INET, buf, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (host != text && inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return 0;
	}
out_bad:
	snprintf(err, errlen,
		 "'%.64s' is not ADDRESS:PORT: an IPv4 address (127.0.0.1:9464) or an IPv6 one in "
		 "brackets ([::1]:9464), then a port 1-65535",
		 text);
	return -EINVAL;
}

static socklen_t addr_len(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* Loopback: 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static bool addr_is_loopback(const struct sockaddr_storage *a)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;

	if (a->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
	       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
}

/* Binds @a as libmicrohttpd will (SO_REUSEADDR; IPv6 only on a v6 socket): 0 or -errno. */
static int probe_bind(const struct sockaddr_storage *a)
{
	int fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, err = 0;

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)a, addr_len(a)))
		err = -errno;
	close(fd);
	return err;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_ratelimited(LOG_LEVEL_WARN, "metrics: libmicrohttpd: %s", line);
}

/* Queues @body (heap, handed over: libmicrohttpd frees it) with @status and @content_type. */
static enum MHD_Result send_body(struct MHD_Connection *conn, unsigned status, char *body,
				 size_t len, const char *content_type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, METRICS_HTTP_ALLOW);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The aggregator's error envelope, without its request id: {"error": {status, code, message}}. */
static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *code,
				  const char *fmt, ...)
{
	char message[256], *text;
	json_t *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	/* the path is the peer's: printable ASCII only, which JSON always takes */
	for (char *p = message; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	o = json_pack("{s:{s:i, s:s, s:s}}", "error", "status", (int)status, "code", code,
		      "message", message);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return MHD_NO;
	return send_body(conn, status, text, strlen(text), METRICS_HTTP_JSON);
}

/* 200 with the exposition, in the format the Accept header asks for. */
static enum MHD_Result send_metrics(struct metrics_http *m, struct MHD_Connection *conn)
{
	const char *accept =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	bool openmetrics = prom_wants_openmetrics(accept);
	size_t len = 0;
	char *body = m->render(m->arg, openmetrics, &len);

	if (!body)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				  "cannot write the metrics");
	/* HEAD: libmicrohttpd sends the headers of this answer, Content-Length included */
	return send_body(conn, MHD_HTTP_OK, body, len,
			 openmetrics ? PROM_OPENMETRICS_CONTENT_TYPE : PROM_CONTENT_TYPE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct metrics_http *m = cls;

	(void)version;
	(void)upload_data;
	if (*con_cls) {
		/* a GET or HEAD of /metrics, complete; one with a body is not one to read */
		return *upload_data_size ? MHD_NO : send_metrics(m, conn);
	}
	*con_cls = m; /* "seen": any non-NULL marker */
	if (strcmp(url, METRICS_HTTP_PATH))
		return send_error(conn, MHD_HTTP_NOT_FOUND, "not_found",
				  "no '%.100s' here: the agent serves GET " METRICS_HTTP_PATH, url);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				  "%.16s is not allowed on " METRICS_HTTP_PATH ": use GET or HEAD",
				  method);
	return MHD_YES; /* answered on the next call, once the request is complete */
}

int metrics_http_start(struct metrics_http **out, const char *listen,
		       metrics_http_render_fn *render, void *arg)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct sockaddr_storage addr;
	sigset_t block, old;
	struct metrics_http *m;
	char why[192];
	int err;

	*out = NULL;
	err = metrics_http_parse_address(listen, &addr, why, sizeof(why));
	if (err) {
		log_error("metrics: cannot listen: %s", why);
		return err;
	}
	err = probe_bind(&addr);
	if (err) {
		log_error_err(err, "metrics: cannot listen on %s", listen);
		return err;
	}
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m = xcalloc(1, sizeof(*m));
	m->render = render;
	m->arg = arg;
	/* the server's thread inherits this mask: stop signals go to the main loop */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	m->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, m,
		/* the logger first: libmicrohttpd warns about options it reads before it */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &addr,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_CONNECTIONS_MAX,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT_S, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!m->daemon) {
		log_error("metrics: cannot listen on %s: libmicrohttpd would not start (see above)",
			  listen);
		free(m);
		return -EIO;
	}
	log_info("metrics: serving http://%s" METRICS_HTTP_PATH "%s", listen,
		 addr_is_loopback(&addr) ? ""
					 : " (not a loopback address, and there is no "
					   "authentication: firewall it)");
	*out = m;
	return 0;
}

void metrics_http_stop(struct metrics_http *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->daemon);
	free(m);
}
