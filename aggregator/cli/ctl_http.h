/*
 * prpctl's HTTP client, over libcurl: one request to the aggregator's API
 * (method, path under the base URL, the X-API-Key header, an optional body,
 * TLS settings) and what came back. A fresh easy handle per request:
 * prpctl makes one or two requests per run. Redirects are not followed, so
 * the key is only ever sent to the URL the operator named.
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_HTTP_H
#define PRP_AGGREGATOR_CLI_CTL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/compiler.h"

/* The largest answer kept in memory; a download to a file has no bound. */
#define CTL_HTTP_BODY_MAX (64u << 20)
/* curl's CURL_ERROR_SIZE, without making every includer include curl.h. */
#define CTL_HTTP_ERROR_LEN 256

/* Where and how to connect: borrowed strings, valid for the request. */
struct ctl_http_conn {
	const char *base_url; /* "http://127.0.0.1:8080", no trailing '/' */
	const char *key;      /* X-API-Key; NULL: none */
	const char *cacert;   /* trust this CA or certificate; NULL: the system's */
	bool insecure;	      /* no TLS verification at all */
	uint64_t timeout_ms;  /* whole request; for a download: longest stall. 0: none */
};

struct ctl_http_req {
	const char *method; /* "GET", "POST", "DELETE", ... */
	const char *path;   /* starts with '/'; may carry a query; used as given */
	const char *body;   /* NULL: none; a POST then sends an empty body */
	size_t body_len;
	const char *content_type; /* of @body; NULL: application/json */
	const char *accept;	  /* NULL: application/json */
	/*
	 * NULL: the answer goes to ctl_http_resp.body. Otherwise a 2xx answer
	 * that is not JSON is written here as it arrives (borrowed); any other
	 * answer still goes to the body, where the error envelope is read.
	 */
	FILE *sink;
	/* bytes so far on stderr, one line redrawn in place (for a terminal), erased at the end */
	bool progress;
};

struct ctl_http_resp {
	long status;	     /* 0 when no HTTP answer came */
	char *content_type;  /* NULL when none; caller owns through ctl_http_resp_release() */
	struct buf body;     /* the answer unless it went to the sink */
	bool to_sink;	     /* the answer went to ctl_http_req.sink */
	uint64_t sink_bytes; /* bytes written to the sink */
	char error[CTL_HTTP_ERROR_LEN]; /* why ctl_http_do() failed: curl's words */
};

/* libcurl's process-wide state: once in main() before any request, and after the last. */
PRP_MUST_CHECK int ctl_http_global_init(void);
void ctl_http_global_cleanup(void);

/*
 * Makes the request of @rq on @conn into @rs (initialised here; release it
 * with ctl_http_resp_release() whatever this returns). Returns 0 when an
 * HTTP answer came, whatever its status; -EIO when none did (refused,
 * timed out, TLS failed), -E2BIG past CTL_HTTP_BODY_MAX, -ENOSPC or another
 * -errno when writing to the sink failed, each with rs->error set. One
 * thread at a time.
 */
PRP_MUST_CHECK int ctl_http_do(const struct ctl_http_conn *conn, const struct ctl_http_req *rq,
			       struct ctl_http_resp *rs);
void ctl_http_resp_release(struct ctl_http_resp *rs);

/* True when @content_type (NULL: none) is application/json or a +json type. */
bool ctl_http_is_json(const char *content_type);

/*
 * @s percent-encoded for use as one path segment or query value: caller
 * owns, free().
 */
char *ctl_http_escape(const char *s);

#endif
