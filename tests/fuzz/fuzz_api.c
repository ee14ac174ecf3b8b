/*
 * libFuzzer target for the aggregator's whole HTTP request handling, with no
 * socket: gate_serve() (aggregator/http/gate.h) as http.c calls it, so the
 * API key headers, the rate limits, then routes_dispatch() and every route
 * of aggregator/http/routes.c with its query string and JSON or YAML body.
 *
 * Input:
 *   byte 0   the credential. Bits 0-1: 0 none, 1 the viewer key, 2 the
 *            operator key, 3 the admin key. Bit 2: sent as "Authorization:
 *            Bearer KEY" instead of X-API-Key. Bit 3: one character of it
 *            flipped, so it is not valid; bits 5-7 choose which. Bit 4: limits
 *            of 1 request a minute for this input, which is then served twice.
 *   "METHOD PATH?QUERY\n"
 *            no space: METHOD is the line and PATH "/". PATH is cut at 1000
 *            bytes. QUERY is split on '&' and the first '=' as it is, with no
 *            percent-decoding (libmicrohttpd's job in production); keys and
 *            values are cut at 200 bytes.
 *   "CONTENT-TYPE\n"
 *            empty: no Content-Type.
 *   the body, the rest: past its route's limit it is dropped and the
 *            request marked too large, as http.c does.
 *
 * Behind the gate: a store in a temporary directory with a few windows, an
 * anomaly, a policy, an action and an agent; an in-memory series with a
 * minute of three services; the key registry with one key per role; the
 * audit log; the rate limiter with limits no input reaches. No engine,
 * executor, detection or LLM: their routes answer 503. The directory,
 * /tmp/prp-fuzz-api-PID-XXXXXX, goes at exit or on a failed oracle; one a
 * sanitizer's report or a timeout left behind goes at the next start.
 *
 * Oracles (abort() on a violation): a status in 200..599 and never 500; an
 * error has the envelope {"error": {status, code, message, request_id}} with
 * the status and request id of the request; any other JSON body parses; a
 * corrupted key is a 401; what the gate and the route table decide is
 * what their rules say (401 no key, 403 role too low, 404 unknown path, 405
 * unknown method on a known path, 204 OPTIONS, 413 body too large, 400 past
 * REQ_QUERY_MAX query parameters, 429 only at low limits); the rate-limit
 * fields are set once the key passed; at low limits the second request is a
 * 429 with Retry-After.
 *
 * FUZZ_API_TRACE=1 in the environment prints each answer (to check seeds).
 *
 * Skipped: paths under /admin/ (a backup is a file per request: slow and it
 * fills the disk), and key changes past FUZZ_KEYS_MAX keys (the registry is
 * in memory). A revoked key of ours is replaced after the input.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/analysis/chat_sessions.h"
#include "aggregator/auth/audit_log.h"
#include "aggregator/auth/keys.h"
#include "aggregator/auth/ratelimit.h"
#include "aggregator/events/bus.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/blob.h"
#include "aggregator/http/gate.h"
#include "aggregator/http/health_cache.h"
#include "aggregator/http/readers.h"
#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"
#include "aggregator/http/routes.h"
#include "aggregator/series.h"
#include "aggregator/store/store.h"
#include "aggregator/webhooks/webhooks.h"
#include "common/hist.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/incident_windows.h"
#include "tests/lib/series_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PATH_MAX	    1000
#define FUZZ_QUERY_ITEM_MAX 200
#define FUZZ_KEYS_MAX	    1000
#define FUZZ_REQUEST_ID	    "fuzz-request-1"
#define FUZZ_CLIENT_IP	    "192.0.2.1"
#define FUZZ_DIR_PREFIX	    "prp-fuzz-api-" /* in /tmp, then the pid */
#define FUZZ_HISTORY_S	    300		    /* seconds of windows in the store */
#define MS_PER_S	    1000ll

/* Input byte 0. */
enum fuzz_cred {
	FUZZ_CRED_ROLE = 3 << 0,
	FUZZ_CRED_BEARER = 1 << 2,
	FUZZ_CRED_CORRUPT = 1 << 3,
	FUZZ_CRED_LOW_LIMITS = 1 << 4,
	FUZZ_CRED_FLIP_SHIFT = 5,
};

static struct {
	bool ready;
	char dir[64];
	struct store_options so;
	struct store *writer;
	struct series *series;
	struct keys *keys;
	struct audit_log *audit;
	struct bus *bus;
	struct webhooks *webhooks;
	struct api_env env;
	struct api_limits high, low;
	char key[4][APIKEY_LEN + 1]; /* by enum role; [0] unused */
	size_t keys_made;
	bool trace; /* FUZZ_API_TRACE set: each answer on stderr, to check the seeds */
} fx;

static void fuzz_remove_dir(const char *dir);

/* A failed oracle: says which, removes the store's directory and aborts for libFuzzer. */
#define fuzz_check(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_api: %s:%d: failed: %s: ", __FILE__, __LINE__,       \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			fuzz_remove_dir(fx.dir);                                                   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* ---- one-time setup ---- */

static int fuzz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fuzz_remove_dir(const char *dir)
{
	if (dir[0])
		nftw(dir, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Removes the directories of runs that died (a sanitizer's report, a
 * timeout: no atexit then): FUZZ_DIR_PREFIX, a pid that no longer runs, '-'.
 */
static void fuzz_sweep_dirs(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[300], *end;
		long pid;

		if (strncmp(e->d_name, FUZZ_DIR_PREFIX, strlen(FUZZ_DIR_PREFIX)))
			continue;
		pid = strtol(e->d_name + strlen(FUZZ_DIR_PREFIX), &end, 10);
		if (pid <= 0 || *end != '-' || !kill((pid_t)pid, 0) || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "/tmp/%s", e->d_name);
		fuzz_remove_dir(path);
	}
	closedir(d);
}

static void fuzz_cleanup(void)
{
	webhooks_stop(fx.webhooks);
	bus_close(fx.bus);
	keys_close(fx.keys);
	audit_log_close(fx.audit);
	health_cache_free(fx.env.health);
	readers_free(fx.env.readers);
	chat_sessions_free(fx.env.chat);
	ratelimit_free(fx.env.ratelimit);
	store_close(fx.writer);
	series_free(fx.series);
	fuzz_remove_dir(fx.dir);
	memset(&fx, 0, sizeof(fx));
}


/* Windows, an agent, an anomaly, a policy and an action, so that reads have data. */
static void fuzz_fill_store(int64_t now_ms)
{
	static char evidence[] =
		"[{\"type\":\"deviation\",\"metric\":\"latency_p99\",\"value\":300}]";
	static char params[] = "{\"error_threshold\":0.5,\"duration\":\"30s\"}";
	static char reason[] = "error_rate > 10% for 10s";
	static char source[] = "name: payments-breaker\n"
			       "services: [payments]\n"
			       "condition: \"error_rate > 10%\"\n"
			       "for: 10s\n"
			       "action: circuit_breaker\n";
	static char origin[] = "api";
	struct store_agent ag = { .connected = true, .frames = FUZZ_HISTORY_S };
	struct store_anomaly a = { 0 };
	struct store_policy p = { 0 };
	struct store_action x = { 0 };

	fuzz_check(!store_begin(fx.writer), "begin");
	for (int k = FUZZ_HISTORY_S; k > 0; k--)
		fuzz_check(!incident_windows_put(fx.writer, (uint64_t)(FUZZ_HISTORY_S - k + 1),
						 now_ms - k * MS_PER_S + 500, k <= 60),
			   "put_windows");
	fuzz_check(!store_commit(fx.writer), "commit");

	snprintf(ag.tenant, sizeof(ag.tenant), "default");
	snprintf(ag.agent_id, sizeof(ag.agent_id), "agent-1");
	snprintf(ag.host, sizeof(ag.host), "web-1");
	snprintf(ag.version, sizeof(ag.version), "fuzz");
	ag.first_seen_ms = now_ms - FUZZ_HISTORY_S * MS_PER_S;
	ag.last_seen_ms = now_ms;
	fuzz_check(!store_agent_update(fx.writer, &ag), "agent");

	snprintf(a.tenant, sizeof(a.tenant), "default");
	snprintf(a.service, sizeof(a.service), "payments");
	snprintf(a.metric, sizeof(a.metric), "latency_p99");
	a.severity = STORE_SEVERITY_WARNING;
	a.open = true;
	a.score = a.confidence = 0.9;
	a.current_value = a.peak_value = 300;
	a.expected_min = 2;
	a.expected_mean = 4;
	a.expected_max = 8;
	a.started_ms = now_ms - 60 * MS_PER_S;
	a.updated_ms = now_ms - MS_PER_S;
	a.evidence = evidence; /* borrowed: put() only reads them */
	fuzz_check(!store_anomaly_put(fx.writer, &a), "anomaly");

	snprintf(p.tenant, sizeof(p.tenant), "default");
	snprintf(p.name, sizeof(p.name), "payments-breaker");
	p.enabled = true;
	p.source = source;
	p.origin = origin;
	p.created_ms = p.updated_ms = now_ms - 3600 * MS_PER_S;
	fuzz_check(!store_policy_put(fx.writer, &p), "policy");

	snprintf(x.tenant, sizeof(x.tenant), "default");
	snprintf(x.policy_name, sizeof(x.policy_name), "payments-breaker");
	snprintf(x.service, sizeof(x.service), "payments");
	snprintf(x.type, sizeof(x.type), "circuit_breaker");
	x.status = STORE_ACTION_SUCCEEDED;
	x.created_ms = x.started_ms = now_ms - 30 * MS_PER_S;
	x.completed_ms = x.created_ms + 800;
	x.parameters = params;
	x.reason = reason;
	fuzz_check(!store_action_put(fx.writer, &x), "action");
}

/* Makes the key of @role (of the default tenant) into fx.key[role]. */
static void fuzz_make_key(enum role role)
{
	struct store_key k = { .role = role };

	snprintf(k.tenant, sizeof(k.tenant), "%s", KEYS_DEFAULT_TENANT);
	snprintf(k.name, sizeof(k.name), "fuzz-%s", role_name(role));
	fuzz_check(
		!keys_create(fx.keys, &k, (int64_t)(time_real_ns() / NSEC_PER_MSEC), fx.key[role]),
		"keys_create");
	fx.keys_made++;
}

static void fuzz_setup(void)
{
	int64_t now_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	struct series_feed_http load[] = {
		{ "/orders", 50, 0, 10 * NSEC_PER_MSEC },
		{ "/payments", 50, 20, 280 * NSEC_PER_MSEC },
		{ "/users", 40, 0, 3 * NSEC_PER_MSEC },
	};
	const char *names[] = { "orders", "payments", "users" };

	log_init("fuzz_api", LOG_LEVEL_ERROR, LOG_TO_STDERR);
	fuzz_sweep_dirs();
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/" FUZZ_DIR_PREFIX "%ld-XXXXXX", (long)getpid());
	fuzz_check(mkdtemp(fx.dir), "mkdtemp: %s", strerror(errno));
	atexit(fuzz_cleanup);
	fx.so = (struct store_options){ .dir = fx.dir, .raw_hours = 24, .minute_days = 14 };
	fuzz_check(!store_open(&fx.writer, &fx.so), "store_open");
	fuzz_fill_store(now_ms);

	fx.series = series_new();
	for (size_t i = 0; i < 3; i++)
		series_feed(fx.series, names[i], 60, now_ms / MS_PER_S, series_feed_http, &load[i]);

	fx.env.version = "fuzz";
	fx.env.start_mono_ns = time_mono_ns();
	fx.env.series = fx.series;
	fx.env.data_dir = fx.dir;
	fuzz_check(!readers_new(&fx.env.readers, &fx.so), "readers_new");
	fuzz_check(!health_cache_new(&fx.env.health, fx.series, NULL), "health_cache_new");
	fx.env.chat = chat_sessions_new(1024, 3600 * MS_PER_S);
	fuzz_check(!keys_open(&fx.keys, &fx.so), "keys_open");
	fuzz_check(!audit_log_open(&fx.audit, &fx.so), "audit_log_open");
	fx.env.keys = fx.keys;
	fx.env.audit = fx.audit;
	/*
	 * the bus and the webhooks, so their routes parse their bodies; one
	 * short attempt per delivery: hooks the inputs make point anywhere
	 */
	fuzz_check(!bus_open(&fx.bus, &fx.so), "bus_open");
	fuzz_check(!webhooks_start(&fx.webhooks,
				   &(struct webhooks_config){ .store = fx.so,
							      .bus = fx.bus,
							      .max_attempts = 1,
							      .timeout_ms = 200,
							      .workers = 1 }),
		   "webhooks_start");
	fx.env.bus = fx.bus;
	fx.env.webhooks = fx.webhooks;
	for (enum role r = ROLE_VIEWER; r <= ROLE_ADMIN; r++)
		fuzz_make_key(r);
	fx.env.ratelimit = ratelimit_new();
	for (int r = 0; r < 4; r++) {
		/* far more than any run makes, yet the limiter runs on every request */
		fx.high.per_minute[r] = 10000000;
		fx.high.per_hour[r] = 100000000;
		fx.low.per_minute[r] = 1;
	}
	fx.env.limits = fx.high;
	fx.trace = getenv("FUZZ_API_TRACE") != NULL;
	fx.ready = true;
}

/* Replaces each of our keys a request revoked, so the next input finds them valid. */
static void fuzz_keep_keys(void)
{
	int64_t now_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);

	for (enum role r = ROLE_VIEWER; r <= ROLE_ADMIN; r++) {
		struct key_identity who;

		if (keys_verify(fx.keys, fx.key[r], now_ms, &who))
			fuzz_make_key(r);
	}
}

/* ---- the input ---- */

struct fuzz_input {
	unsigned cred;
	enum role role; /* whose key is sent; ROLE_PUBLIC: none */
	bool corrupt;	/* ... with a character flipped */
	bool low_limits;
	char *line; /* the first line, owned; method, path and query point into it */
	const char *method, *path;
	struct req_param query[REQ_QUERY_MAX + 8];
	size_t nquery;
	char *content_type;  /* owned, or NULL */
	unsigned char *body; /* owned, NUL-terminated as http.c's buffer is, or NULL */
	size_t body_len;
	size_t too_large; /* the route's limit when the body passed it, else 0 */
	char key[APIKEY_LEN + 1];
	char authorization[APIKEY_LEN + 16];
};

static char *fuzz_strndup(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	fuzz_check(s, "malloc");
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Cuts @s at @max bytes. */
static void fuzz_cut(char *s, size_t max)
{
	if (strlen(s) > max)
		s[max] = '\0';
}

/* Splits @query on '&' and the first '=', as libmicrohttpd does before decoding. */
static void fuzz_split_query(struct fuzz_input *in, char *query)
{
	char *save = NULL;

	for (char *item = strtok_r(query, "&", &save); item; item = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(item, '=');

		if (eq)
			*eq++ = '\0';
		fuzz_cut(item, FUZZ_QUERY_ITEM_MAX);
		if (eq)
			fuzz_cut(eq, FUZZ_QUERY_ITEM_MAX);
		if (in->nquery == sizeof(in->query) / sizeof(in->query[0]))
			break; /* past REQ_QUERY_MAX already: the request overflows either way */
		in->query[in->nquery].key = item;
		in->query[in->nquery].value = eq;
		in->nquery++;
	}
}

static void fuzz_credential(struct fuzz_input *in)
{
	if (in->role == ROLE_PUBLIC)
		return;
	memcpy(in->key, fx.key[in->role], sizeof(in->key));
	if (in->corrupt) {
		size_t at = (in->cred >> FUZZ_CRED_FLIP_SHIFT) * (APIKEY_LEN - 1) / 7;

		in->key[at] ^= 0x01;
	}
	snprintf(in->authorization, sizeof(in->authorization), "Bearer %s", in->key);
}

/* Parses @data into @in: false when the input is one the target skips. */
static bool fuzz_parse(struct fuzz_input *in, const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size, *nl;
	char *space, *query;
	size_t max;

	memset(in, 0, sizeof(*in));
	in->cred = data[0];
	in->role = (enum role)(data[0] & FUZZ_CRED_ROLE);
	in->corrupt = in->role != ROLE_PUBLIC && (data[0] & FUZZ_CRED_CORRUPT);
	in->low_limits = data[0] & FUZZ_CRED_LOW_LIMITS;

	nl = memchr(p, '\n', (size_t)(end - p));
	in->line = fuzz_strndup(p, (size_t)((nl ? nl : end) - p));
	p = nl ? nl + 1 : end;
	space = strchr(in->line, ' ');
	in->method = in->line;
	in->path = "/";
	if (space) {
		*space = '\0';
		in->path = space + 1;
		query = strchr(space + 1, '?');
		if (query) {
			*query++ = '\0';
			fuzz_split_query(in, query);
		}
		fuzz_cut(space + 1, FUZZ_PATH_MAX);
	}

	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl && nl > p)
		in->content_type = fuzz_strndup(p, (size_t)(nl - p));
	else if (!nl && end > p)
		in->content_type = fuzz_strndup(p, (size_t)(end - p));
	p = nl ? nl + 1 : end;

	in->body_len = (size_t)(end - p);
	if (in->body_len)
		in->body = (unsigned char *)fuzz_strndup(p, in->body_len);
	max = routes_max_body(!strcmp(in->method, "HEAD") ? "GET" : in->method, in->path);
	if (in->body_len > max) {
		free(in->body);
		in->body = NULL;
		in->body_len = 0;
		in->too_large = max;
	}
	fuzz_credential(in);

	if (!strncmp(in->path, "/admin/", 7))
		return false;
	if (fx.keys_made >= FUZZ_KEYS_MAX && !strncmp(in->path, "/keys", 5) &&
	    (!strcmp(in->method, "POST") || !strcmp(in->method, "DELETE")))
		return false;
	return true;
}

static void fuzz_input_release(struct fuzz_input *in)
{
	free(in->line);
	free(in->content_type);
	free(in->body);
}

/* Serves @in into @rp (resp_release() it), as http.c's http_answer() would. */
static void fuzz_serve(const struct fuzz_input *in, struct req *rq, struct resp *rp)
{
	struct gate_input gi = { .client_ip = FUZZ_CLIENT_IP, .body_too_large = in->too_large };

	req_init(rq, &fx.env, in->method, in->path, FUZZ_REQUEST_ID);
	rq->body = in->body;
	rq->body_len = in->body_len;
	rq->content_type = in->content_type;
	for (size_t i = 0; i < in->nquery; i++)
		req_add_query(rq, in->query[i].key, in->query[i].value);
	if (in->role != ROLE_PUBLIC) {
		if (in->cred & FUZZ_CRED_BEARER)
			gi.authorization = in->authorization;
		else
			gi.x_api_key = in->key;
	}
	resp_init(rp, rq->request_id);
	gate_serve(rq, &gi, rp);
}

/* ---- oracles ---- */

/* Whether @path has the shape of @pattern, segment by segment; a {capture} takes one, not empty. */
static bool fuzz_path_matches(const char *pattern, const char *path)
{
	while (*pattern == '/' && *path == '/') {
		const char *pe = pattern + 1 + strcspn(pattern + 1, "/");
		const char *se = path + 1 + strcspn(path + 1, "/");
		size_t pn = (size_t)(pe - pattern), sn = (size_t)(se - path);

		if (pattern[1] == '{' ? sn == 1 : (pn != sn || memcmp(pattern, path, pn)))
			return false;
		pattern = pe;
		path = se;
	}
	return !*pattern && !*path;
}

/*
 * The status the gate and the route table give @in before any handler runs,
 * or 0 when a handler answers. Low limits aside (any request may be a 429).
 */
static unsigned fuzz_expected(const struct fuzz_input *in)
{
	const char *method = !strcmp(in->method, "HEAD") ? "GET" : in->method;
	const struct route *table, *r = NULL;
	bool known = false;
	size_t n;

	if (in->corrupt)
		return 401;
	if (in->too_large)
		return 413;
	if (in->nquery > REQ_QUERY_MAX)
		return 400; /* the gate's, whatever the route */
	table = routes_table(&n);
	for (size_t i = 0; i < n; i++) {
		if (!fuzz_path_matches(table[i].pattern, in->path))
			continue;
		known = true;
		if (!r && !strcmp(table[i].method, method))
			r = &table[i];
	}
	if (r && r->role > in->role)
		return in->role == ROLE_PUBLIC ? 401 : 403;
	if (r)
		return 0;
	if (!known)
		return 404;
	return !strcmp(in->method, "OPTIONS") ? 204 : 405;
}

/* The body of @rp as text, or NULL. */
static const char *fuzz_body(const struct resp *rp, size_t *len)
{
	if (rp->blob) {
		*len = rp->blob->len;
		return rp->blob->data;
	}
	*len = rp->body_len;
	return rp->body;
}

static void fuzz_check_envelope(const struct resp *rp)
{
	json_t *doc, *err, *v;
	json_error_t jerr;
	const char *text;
	size_t len;

	text = fuzz_body(rp, &len);
	fuzz_check(text && rp->fd < 0, "status %u without a body", rp->status);
	doc = json_loadb(text, len, 0, &jerr);
	fuzz_check(doc, "status %u: body is not JSON (%s): %.*s", rp->status, jerr.text, (int)len,
		   text);
	err = json_object_get(doc, "error");
	fuzz_check(json_is_object(err), "status %u: no error object: %.*s", rp->status, (int)len,
		   text);
	v = json_object_get(err, "status");
	fuzz_check(json_is_integer(v) && json_integer_value(v) == (json_int_t)rp->status,
		   "status %u: error.status differs: %.*s", rp->status, (int)len, text);
	v = json_object_get(err, "code");
	fuzz_check(json_is_string(v) && json_string_length(v), "status %u: error.code: %.*s",
		   rp->status, (int)len, text);
	v = json_object_get(err, "message");
	fuzz_check(json_is_string(v) && json_string_length(v), "status %u: error.message: %.*s",
		   rp->status, (int)len, text);
	v = json_object_get(err, "request_id");
	fuzz_check(json_is_string(v) && !strcmp(json_string_value(v), FUZZ_REQUEST_ID),
		   "status %u: error.request_id: %.*s", rp->status, (int)len, text);
	json_decref(doc);
}

static void fuzz_check_answer(const struct fuzz_input *in, const struct resp *rp)
{
	unsigned expected = fuzz_expected(in);
	const char *text;
	size_t len;

	fuzz_check((rp->status >= 200 && rp->status <= 599) || (rp->status == 101 && rp->upgrade_ops),
		   "status %u of %s %s", rp->status, in->method, in->path);
	if (rp->status >= 400) {
		fuzz_check_envelope(rp);
	} else if ((text = fuzz_body(rp, &len)) && !rp->content_type && !rp->content_encoding) {
		json_t *doc = json_loadb(text, len, 0, NULL);

		fuzz_check(doc, "status %u of %s %s: body is not JSON: %.*s", rp->status,
			   in->method, in->path, (int)len, text);
		json_decref(doc);
	}
	fuzz_check(rp->status != 500, "500 of %s %s: %.*s", in->method, in->path, (int)rp->body_len,
		   rp->body ? rp->body : "");
	if (rp->status == 429 && in->low_limits) /* a wrong key too: it charges its IP */
		return;
	fuzz_check(!expected || rp->status == expected, "%s %s (role %s%s): %u, expected %u: %.*s",
		   in->method, in->path, role_name(in->role), in->corrupt ? ", corrupted" : "",
		   rp->status, expected, (int)rp->body_len, rp->body ? rp->body : "");
	/* the key passed (or none came): a limit applies to every request */
	fuzz_check(in->corrupt || rp->rate_limited, "%s %s: %u without rate-limit fields",
		   in->method, in->path, rp->status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	struct resp rp;
	struct req *rq;
	uint64_t t0;

	if (!fx.ready)
		fuzz_setup();
	if (size < 1)
		return 0;
	if (!fuzz_parse(&in, data, size)) {
		fuzz_input_release(&in);
		return 0;
	}
	fx.env.limits = in.low_limits ? fx.low : fx.high;
	rq = malloc(sizeof(*rq));
	fuzz_check(rq, "malloc");

	t0 = time_mono_ns();
	fuzz_serve(&in, rq, &rp);
	if (fx.trace)
		fprintf(stderr, "fuzz_api: %s %s (%s%s) -> %u in %.3f ms %.*s\n", in.method,
			in.path, role_name(in.role), in.corrupt ? ", corrupted" : "", rp.status,
			(double)(time_mono_ns() - t0) / NSEC_PER_MSEC,
			rp.body ? (int)(rp.body_len < 300 ? rp.body_len : 300) : 0,
			rp.body ? rp.body : "");
	fuzz_check_answer(&in, &rp);
	if (rp.status == 201 && !strcmp(in.method, "POST") && !strcmp(in.path, "/keys"))
		fx.keys_made++;
	resp_release(&rp);

	if (in.low_limits && !in.corrupt && strcmp(in.method, "DELETE")) {
		/* one a minute: the same request again, at once, is refused */
		fuzz_serve(&in, rq, &rp);
		fuzz_check(rp.status == 429 && rp.retry_after_s >= 1 && rp.rate_limited &&
				   !rp.rate_remaining,
			   "second %s %s at 1/min: %u, retry after %llu", in.method, in.path,
			   rp.status, (unsigned long long)rp.retry_after_s);
		fuzz_check_envelope(&rp);
		resp_release(&rp);
	}

	free(rq);
	fuzz_input_release(&in);
	fx.env.limits = fx.high;
	fuzz_keep_keys();
	return 0;
}
