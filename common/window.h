/*
 * Per-service windows: what the samplers saw of each service during one
 * interval, before it is printed and sent; the aggregator decodes frames
 * into the same structs (common/window_wire.h). Samplers add into the current
 * window set from their collect functions; the main loop closes the window,
 * prints or sends it, and resets the set. One owning thread (the agent's main
 * loop); no locks.
 */
#ifndef PRP_COMMON_WINDOW_H
#define PRP_COMMON_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hist.h"

/* Service names, agent and aggregator alike (agent/services.h uses these). */
#define SERVICE_NAME_MAX 64
/* Service ids are 1..SERVICES_MAX; 0 means "not a watched service". */
#define SERVICES_MAX 255

#define WINDOW_METHOD_MAX 8
#define WINDOW_ROUTE_MAX 128
#define WINDOW_SYSCALL_NAME_MAX 32
#define WINDOW_ADDRESS_MAX 64
/* Distinct errnos kept per syscall; more are counted under errno 0 ("other"). */
#define WINDOW_ERRNOS_MAX 16

/* Inbound HTTP requests of one (method, route, status). */
struct window_http {
	char method[WINDOW_METHOD_MAX];
	char route[WINDOW_ROUTE_MAX];
	uint16_t status;
	uint64_t count;
	struct hist latency_ns;
};

struct window_errno {
	int err; /* positive errno value; 0 for "other" */
	uint64_t count;
};

struct window_syscall {
	uint32_t nr;
	char name[WINDOW_SYSCALL_NAME_MAX];
	uint64_t count;
	uint64_t errors;
	struct window_errno errnos[WINDOW_ERRNOS_MAX];
	size_t nerrnos;
	struct hist latency_ns;
};

/* Outbound calls of the service to one peer address. */
struct window_call {
	char address[WINDOW_ADDRESS_MAX]; /* "127.0.0.1:8003", "[::1]:8003" */
	char peer[SERVICE_NAME_MAX];	  /* the peer's service name, "" when unknown */
	uint64_t count;
	uint64_t errors; /* HTTP 5xx answers */
	struct hist latency_ns;
};

struct window_tcp {
	uint64_t retransmits;
	uint64_t resets;
	uint64_t connect_failures;
};

/* Where a log line was written: the file descriptor, numbered as it is. */
enum window_log_stream {
	WINDOW_LOG_STDOUT = 1,
	WINDOW_LOG_STDERR = 2,
};

/*
 * One line a service wrote to its stdout or stderr (agent/sampler_logs.h),
 * without its newline. The wire (common/window_wire.h) carries only valid
 * UTF-8 without NUL or LF, 1..WINDOW_LOG_LINE_MAX bytes; window_log_add()
 * copies whatever it is given and the encoder refuses what breaks that.
 */
struct window_log {
	int64_t ts_ns;	/* when its first byte was written, ns since the epoch */
	uint8_t stream; /* enum window_log_stream */
	size_t len;	/* bytes at text */
	char *text;	/* owned by the window, NUL-terminated */
};

struct span; /* common/span.h */

struct window {
	uint16_t service_id;
	struct window_http *http;
	size_t nhttp, http_alloc;
	struct window_syscall *syscalls;
	size_t nsyscalls, syscalls_alloc;
	struct window_call *calls;
	size_t ncalls, calls_alloc;
	struct window_tcp tcp;
	struct window_log *logs; /* in the order written (per stream) */
	size_t nlogs, logs_alloc;
	struct span *spans; /* common/span.h; service and host are the batch's */
	size_t nspans, spans_alloc;
	/*
	 * The fraction of the window the syscalls sampler watched, its counts
	 * scaled up from it (agent/sampler_syscalls.h); 1 when exact, 0 when
	 * the window has no syscalls.
	 */
	double syscalls_sample_ratio;
};

/* Windows of every service, indexed by service id. */
struct window_set {
	struct window *by_id[SERVICES_MAX + 1]; /* NULL until something is added */
};

/*
 * A window outside any set (the aggregator decodes into these): empty, with
 * @service_id (0 when it has none). The caller owns it: window_free().
 */
struct window *window_new(uint16_t service_id);
/* Frees @w and every entry; window_free(NULL) does nothing. */
void window_free(struct window *w);

void window_set_init(struct window_set *ws);
/* Frees every window; @ws is then empty. */
void window_set_release(struct window_set *ws);
/* The window of service @id (1..SERVICES_MAX), created empty on first use; NULL for a bad id. */
struct window *window_set_get(struct window_set *ws, uint16_t id);

/* Find-or-add look-ups; each returns an entry owned by @w. */
struct window_http *window_http_get(struct window *w, const char *method, const char *route,
				    uint16_t status);
/* @name is used when the entry is created. */
struct window_syscall *window_syscall_get(struct window *w, uint32_t nr, const char *name);
void window_syscall_add_errno(struct window_syscall *s, int err, uint64_t count);
struct window_call *window_call_get(struct window *w, const char *address);
/* Appends a copy of the @len bytes at @text as a line of @w; returns it, owned by @w. */
struct window_log *window_log_add(struct window *w, int64_t ts_ns, uint8_t stream,
				  const char *text, size_t len);
/* Appends a zeroed span to @w for the caller to fill; owned by @w. */
struct span *window_span_add(struct window *w);

#endif
