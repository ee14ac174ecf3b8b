/*
 * The OTLP trace exporter (otlp.h): the sampling, a bounded queue of spans,
 * and a sender thread that empties it into the receiver. Built like the
 * Loki exporter (loki.c), without its bus reader: the same queue, batching,
 * retries, counters and stop.
 *
 * One mutex, mu, guards the queue, the counters and the stop state; it is
 * held only to sample-count, queue, take or count, never across a request,
 * so otlp_push_span() waits for nothing but other pushes and the sender's
 * short bookkeeping. The queue is a ring of queue_max pointers; a span
 * enters it whole or is dropped (the newest span is the one dropped: what is
 * queued keeps its order and its place).
 *
 * The sender takes a batch (batch spans) when it is full, or when its
 * oldest span has waited flush_interval_ms, and keeps it until it is sent
 * or dropped: every span kept by the sampling is, at any time, in exactly
 * one of queued, in_flight, sent and dropped. While a post is retried, new
 * spans queue up to the bound.
 *
 * otlp_stop() sets a deadline (abort_at_ns), which the post in flight
 * watches (http_post.c cuts it within 50 ms of it), and which ends the
 * retries' pauses; then
 * the sender sends what is queued without waiting for full batches until
 * the queue is empty or the deadline passes.
 */
#include "aggregator/export/otlp.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/export/export_retry.h"
#include "aggregator/export/export_ring.h"
#include "aggregator/export/export_say.h"
#include "aggregator/export/http_post.h"
#include "aggregator/export/otlp_format.h"
#include "aggregator/export/otlp_headers.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/strparse.h"
#include "common/timeutil.h"

/*
 * Bytes of an answer kept: for the excerpt of a refusal (a collector says
 * why there) and for a 2xx's partial success (OTLP's
 * ExportTracePartialSuccess, {"partialSuccess":{"rejectedSpans":"2",
 * "errorMessage":"..."}}).
 */
#define ANSWER_MAX 4096

/* The kinds of trouble logged, each at most once per EXPORT_SAY_EVERY_NS. */
enum say {
	SAY_QUEUE_FULL = 0,
	SAY_REJECTED,
	SAY_RETRY,
	SAY_EXHAUSTED,
	SAY_PARTIAL,
	SAY_INVALID,
	SAY_COUNT
};

static const char *const drop_names[OTLP_DROP_COUNT] = {
	[OTLP_DROP_QUEUE_FULL] = "queue_full",
	[OTLP_DROP_REJECTED] = "rejected",
	[OTLP_DROP_RETRIES_EXHAUSTED] = "retries_exhausted",
	[OTLP_DROP_SHUTDOWN] = "shutdown",
};

struct otlp {
	struct otlp_config cfg; /* defaults filled in; its strings are not used after start */
	char *traces_url;
	size_t nheaders;	/* extra headers sent, for the start's line */
	struct http_post *send; /* the sender thread's */
	bool curl_ready;

	pthread_mutex_t mu;   /* guards what follows, down to said[] */
	pthread_cond_t work;  /* a full batch, or stopping; also the retries' pauses */
	struct export_ring q; /* of struct otlp_item */
	uint64_t seq;
	size_t in_flight;
	bool stopping;
	uint64_t received, sampled_out, invalid, sent, dropped[OTLP_DROP_COUNT], posts, retries,
		timeouts;
	char last_error[OTLP_ERROR_MAX];
	int64_t last_error_ms;
	struct export_say said[SAY_COUNT];

	/* the stop's deadline (CLOCK_MONOTONIC ns), 0 before: read without mu */
	_Atomic uint64_t abort_at_ns;

	pthread_t sender;
	bool sender_started;
	void **slots; /* the queue's */
};

const char *otlp_drop_name(enum otlp_drop d)
{
	return (unsigned)d < OTLP_DROP_COUNT ? drop_names[d] : "unknown";
}

void otlp_config_default(struct otlp_config *c)
{
	memset(c, 0, sizeof(*c));
	c->sample_rate = OTLP_SAMPLE_RATE;
	c->slow_ms = OTLP_SLOW_MS;
	c->max_retries = OTLP_MAX_RETRIES;
}

/* The length of @url without its trailing slashes. */
static size_t url_base_len(const char *url)
{
	size_t n = strlen(url);

	while (n && url[n - 1] == '/') /* http://collector:4318/ is http://collector:4318 */
		n--;
	return n;
}

int otlp_config_check(const struct otlp_config *c, char *err, size_t errlen)
{
	size_t n, plen = strlen(OTLP_TRACES_PATH);
	char why[200];

	if (!c->url || !*c->url)
		return 0;
	if (strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8)) {
		snprintf(err, errlen, "key 'otlp.url': '%.100s' is not an http:// or https:// URL",
			 c->url);
		return -EINVAL;
	}
	n = url_base_len(c->url);
	if (n >= plen && !strncmp(c->url + n - plen, OTLP_TRACES_PATH, plen)) {
		snprintf(err, errlen,
			 "key 'otlp.url': give the base URL ('%.*s'); " OTLP_TRACES_PATH
			 " is added to it",
			 (int)(n - plen < 100 ? n - plen : 100), c->url);
		return -EINVAL;
	}
	if (!(c->sample_rate >= 0 && c->sample_rate <= 1)) { /* NaN too */
		snprintf(err, errlen, "key 'otlp.sample_rate': %g is not in 0..1", c->sample_rate);
		return -EINVAL;
	}
	if (c->nheaders > OTLP_HEADERS_MAX) {
		snprintf(err, errlen, "otlp headers: %zu, at most %d", c->nheaders,
			 OTLP_HEADERS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->nheaders; i++) {
		if (otlp_headers_check(c->headers[i], why, sizeof(why))) {
			snprintf(err, errlen, "otlp header %zu: %s", i + 1, why);
			return -EINVAL;
		}
	}
	return 0;
}

/* The first 8 bytes of @id as a big-endian number. */
static uint64_t trace_id_high(const uint8_t *id)
{
	uint64_t x = 0;

	for (int i = 0; i < 8; i++)
		x = x << 8 | id[i];
	return x;
}

bool otlp_keep(const struct span *s, double sample_rate, unsigned slow_ms)
{
	/* in unsigned arithmetic: no pair of times overflows it */
	uint64_t took = s->end_ns > s->start_ns ? (uint64_t)s->end_ns - (uint64_t)s->start_ns : 0;

	if (s->status >= 500)
		return true;
	if (slow_ms && took > (uint64_t)slow_ms * NSEC_PER_MSEC)
		return true;
	if (!(sample_rate > 0)) /* NaN too */
		return false;
	if (sample_rate >= 1)
		return true;
	/*
	 * A double below 1 is at most 1 - 2^-53, so rate * 2^64 is at most
	 * 2^64 - 2^11: it converts to a uint64_t exactly, without overflow.
	 */
	return trace_id_high(s->trace_id) < (uint64_t)ldexp(sample_rate, 64);
}

/* True once the stop's deadline has passed. */
static bool past_deadline(struct otlp *o)
{
	return export_retry_past_deadline(&o->abort_at_ns);
}

/* ---- the queue ---- */

/* Queues @it (taken): 0, or -ENOBUFS when the queue is full (@it dropped and counted). */
static int enqueue(struct otlp *o, struct otlp_item *it)
{
	uint64_t suppressed = 0, dropped = 0;
	bool say = false;
	int ret = 0;

	it->mono_ns = time_mono_ns();
	pthread_mutex_lock(&o->mu);
	o->received++;
	if (export_ring_full(&o->q)) {
		dropped = ++o->dropped[OTLP_DROP_QUEUE_FULL];
		say = export_say_due(&o->said[SAY_QUEUE_FULL], &suppressed);
		ret = -ENOBUFS;
	} else {
		it->seq = o->seq++;
		export_ring_push(&o->q, it);
		/* only when a batch has just filled: the sender's timer covers the rest */
		if (o->q.count == o->cfg.batch)
			pthread_cond_signal(&o->work);
	}
	pthread_mutex_unlock(&o->mu);
	if (ret) {
		free(it);
		if (say)
			log_warn("otlp: the queue is full (%u spans), new spans are dropped; %llu "
				 "dropped so far (%llu warnings held back)",
				 o->cfg.queue_max, (unsigned long long)dropped,
				 (unsigned long long)suppressed);
	}
	return ret;
}

/* Moves the oldest spans, up to a batch, into @v. Under mu. */
static size_t take(struct otlp *o, struct otlp_item **v)
{
	size_t n = 0;

	while (o->q.count && n < o->cfg.batch)
		v[n++] = export_ring_pop(&o->q);
	return n;
}

/* Drops every queued span as @why. Under mu. */
static void drop_queued(struct otlp *o, enum otlp_drop why)
{
	while (o->q.count) {
		free(export_ring_pop(&o->q));
		o->dropped[why]++;
	}
}

/* Why OTLP cannot carry @s, or NULL when it can. */
static const char *span_invalid(const struct span *s)
{
	if (span_id_is_zero(s->trace_id, sizeof(s->trace_id)))
		return "an all-zero trace id";
	if (span_id_is_zero(s->span_id, sizeof(s->span_id)))
		return "an all-zero span id";
	if (s->kind != SPAN_KIND_SERVER && s->kind != SPAN_KIND_CLIENT)
		return "a kind that is neither server nor client";
	if (s->start_ns <= 0)
		return "no start time";
	if (s->end_ns < s->start_ns)
		return "an end before its start";
	return NULL;
}

/* Copies @s into a new item, every string terminated within its array. */
static struct otlp_item *item_new(const char *tenant, const struct span *s)
{
	struct otlp_item *it = xmalloc(sizeof(*it));
	struct span *c = &it->span;

	it->mono_ns = 0;
	it->seq = 0;
	snprintf(it->tenant, sizeof(it->tenant), "%s", tenant && *tenant ? tenant : "default");
	*c = *s;
	c->service[sizeof(c->service) - 1] = '\0';
	c->peer_service[sizeof(c->peer_service) - 1] = '\0';
	c->method[sizeof(c->method) - 1] = '\0';
	c->route[sizeof(c->route) - 1] = '\0';
	c->server_address[sizeof(c->server_address) - 1] = '\0';
	c->host[sizeof(c->host) - 1] = '\0';
	return it;
}

int otlp_push_span(struct otlp *o, const char *tenant, const struct span *s)
{
	const char *why;
	uint64_t suppressed = 0, invalid;
	bool say;

	if (!o)
		return -ENOTCONN;
	why = span_invalid(s);
	if (why) {
		pthread_mutex_lock(&o->mu);
		invalid = ++o->invalid;
		say = export_say_due(&o->said[SAY_INVALID], &suppressed);
		pthread_mutex_unlock(&o->mu);
		if (say)
			log_warn(
				"otlp: a span with %s was refused; %llu so far (%llu warnings held "
				"back)",
				why, (unsigned long long)invalid, (unsigned long long)suppressed);
		return -EINVAL;
	}
	if (!otlp_keep(s, o->cfg.sample_rate, o->cfg.slow_ms)) {
		pthread_mutex_lock(&o->mu);
		o->received++;
		o->sampled_out++;
		pthread_mutex_unlock(&o->mu);
		return 0;
	}
	return enqueue(o, item_new(tenant, s));
}

void otlp_stats(struct otlp *o, struct otlp_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	out->received = o->received;
	out->sampled_out = o->sampled_out;
	out->sent = o->sent;
	for (int i = 0; i < OTLP_DROP_COUNT; i++) {
		out->dropped[i] = o->dropped[i];
		out->dropped_total += o->dropped[i];
	}
	out->queued = o->q.count;
	out->in_flight = o->in_flight;
	out->invalid = o->invalid;
	out->posts = o->posts;
	out->retries = o->retries;
	out->timeouts = o->timeouts;
	memcpy(out->last_error, o->last_error, sizeof(out->last_error));
	out->last_error_ms = o->last_error_ms;
	pthread_mutex_unlock(&o->mu);
}

/* ---- the sender ---- */

/* What one attempt came to, for the counters and the log. */
enum outcome { OUT_SENT, OUT_PARTIAL, OUT_RETRY, OUT_REJECTED, OUT_EXHAUSTED, OUT_SHUTDOWN };

/* The status codes worth another attempt: 429 and the 5xx (OTLP/HTTP names 502, 503, 504). */
static bool retryable(long status)
{
	return status == 429 || (status >= 500 && status <= 599);
}

/*
 * A 2xx's partial success, when its body says some spans were refused:
 * rejectedSpans (an int64, a string in the JSON mapping; a number is taken
 * too) and errorMessage, the latter into @rs's error. An unreadable body is
 * a full success. Returns the spans refused.
 */
static uint64_t partial_success(struct http_post_result *rs)
{
	json_t *doc =
		rs->body_len ? json_loadb((const char *)rs->body, rs->body_len, 0, NULL) : NULL;
	json_t *ps = json_object_get(doc, "partialSuccess");
	json_t *rejected = json_object_get(ps, "rejectedSpans");
	const char *message = json_string_value(json_object_get(ps, "errorMessage"));
	uint64_t n = 0;

	if (json_is_integer(rejected) && json_integer_value(rejected) > 0)
		n = (uint64_t)json_integer_value(rejected);
	else if (json_is_string(rejected) &&
		 strparse_u64(json_string_value(rejected), 0, UINT64_MAX, &n))
		n = 0;
	if (n || (message && *message))
		snprintf(rs->error, sizeof(rs->error),
			 "partial success: %llu spans rejected%s%.160s", (unsigned long long)n,
			 message && *message ? ": " : "", message ? message : "");
	json_decref(doc);
	return n;
}

/*
 * Counts attempt @attempt's outcome (@ret, @rs; @rejected spans of a 2xx
 * refused) for a batch of @n. Under mu.
 */
static enum outcome account(struct otlp *o, size_t n, unsigned attempt, int ret,
			    const struct http_post_result *rs, uint64_t rejected)
{
	bool http = !ret, ok = http && rs->status >= 200 && rs->status <= 299;
	enum otlp_drop why;

	o->posts++;
	if (attempt)
		o->retries++;
	if (ok) {
		/* a partial success: the receiver took the batch but refused some spans */
		uint64_t refused = rejected < n ? rejected : n;

		o->sent += n - refused;
		o->dropped[OTLP_DROP_REJECTED] += refused;
		o->in_flight = 0;
		if (!rs->error[0])
			return OUT_SENT;
		snprintf(o->last_error, sizeof(o->last_error), "%s", rs->error);
		o->last_error_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
		return OUT_PARTIAL;
	}
	if (ret == -ETIMEDOUT)
		o->timeouts++;
	snprintf(o->last_error, sizeof(o->last_error), "%s", rs->error);
	o->last_error_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	if (ret == -ECANCELED || past_deadline(o))
		why = OTLP_DROP_SHUTDOWN;
	else if (http && !retryable(rs->status))
		why = OTLP_DROP_REJECTED; /* sending it again would get the same answer */
	else if (attempt >= o->cfg.max_retries)
		why = OTLP_DROP_RETRIES_EXHAUSTED;
	else
		return OUT_RETRY;
	o->dropped[why] += n;
	o->in_flight = 0;
	return why == OTLP_DROP_SHUTDOWN   ? OUT_SHUTDOWN
	       : why == OTLP_DROP_REJECTED ? OUT_REJECTED
					   : OUT_EXHAUSTED;
}

/* Logs an attempt's trouble, a line per kind at most every EXPORT_SAY_EVERY_NS. Under mu. */
static void say_outcome(struct otlp *o, enum outcome out, size_t n, unsigned attempt,
			uint64_t pause, const char *error)
{
	static const enum say kinds[] = { [OUT_PARTIAL] = SAY_PARTIAL,
					  [OUT_RETRY] = SAY_RETRY,
					  [OUT_REJECTED] = SAY_REJECTED,
					  [OUT_EXHAUSTED] = SAY_EXHAUSTED };
	uint64_t held = 0;

	if (out == OUT_SENT || out == OUT_SHUTDOWN || !export_say_due(&o->said[kinds[out]], &held))
		return;
	/* the log writes one line with one write(2): cheap enough under mu */
	if (out == OUT_PARTIAL)
		log_warn("otlp: a post of %zu spans was taken with a %s (%llu such warnings held "
			 "back) url=%s",
			 n, error, (unsigned long long)held, o->traces_url);
	else if (out == OUT_RETRY)
		log_warn("otlp: a post of %zu spans failed (%s), retry %u of %u in %llu ms (%llu "
			 "such warnings held back) url=%s",
			 n, error, attempt + 1, o->cfg.max_retries,
			 (unsigned long long)(pause / NSEC_PER_MSEC), (unsigned long long)held,
			 o->traces_url);
	else if (out == OUT_REJECTED)
		log_warn("otlp: a post of %zu spans was refused (%s), dropped; %llu refused so far "
			 "(%llu such warnings held back) url=%s",
			 n, error, (unsigned long long)o->dropped[OTLP_DROP_REJECTED],
			 (unsigned long long)held, o->traces_url);
	else
		log_warn("otlp: a post of %zu spans failed %u times (%s), dropped; %llu dropped so "
			 "far after retries (%llu such warnings held back) url=%s",
			 n, attempt + 1, error,
			 (unsigned long long)o->dropped[OTLP_DROP_RETRIES_EXHAUSTED],
			 (unsigned long long)held, o->traces_url);
}

/* Sends the batch @v of @n (in_flight) until it is sent or dropped, then frees it. */
static void post(struct otlp *o, struct otlp_item **v, size_t n, uint64_t *rng)
{
	struct http_post_result rs = { 0 };
	enum outcome out = OUT_RETRY;
	struct buf body;
	int ret;

	/* a span is a few KiB at most, escapes included: the cap is never the limit */
	buf_init(&body, BUF_MAX_BYTES);
	ret = otlp_format_body(&body, v, n);
	if (ret) {
		pthread_mutex_lock(&o->mu);
		o->dropped[OTLP_DROP_REJECTED] += n;
		o->in_flight = 0;
		pthread_mutex_unlock(&o->mu);
		log_error_err(ret, "otlp: a post of %zu spans could not be written", n);
	}
	for (unsigned attempt = 0; !ret && out == OUT_RETRY; attempt++) {
		unsigned timeout_ms = export_retry_timeout_ms(&o->abort_at_ns, o->cfg.timeout_ms);
		uint64_t pause = 0, rejected = 0;

		if (timeout_ms) {
			ret = http_post_send(o->send, (const char *)body.data, body.len, timeout_ms,
					     &rs);
			if (!ret && rs.status >= 200 && rs.status <= 299)
				rejected = partial_success(&rs);
		} else {
			ret = -ECANCELED;
			rs.retry_after_ms = -1;
			snprintf(rs.error, sizeof(rs.error), "the stop's deadline passed");
		}
		pthread_mutex_lock(&o->mu);
		out = account(o, n, attempt, ret, &rs, rejected);
		if (out == OUT_RETRY)
			pause = export_retry_backoff_ns(o->cfg.backoff_ms, o->cfg.backoff_max_ms,
							attempt + 1, ret ? -1 : rs.retry_after_ms,
							rng);
		say_outcome(o, out, n, attempt, pause, rs.error);
		if (out == OUT_RETRY)
			export_retry_pause(&o->work, &o->mu, &o->abort_at_ns, pause);
		pthread_mutex_unlock(&o->mu);
		ret = 0;
	}
	buf_release(&body);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

/*
 * Under mu: whether a batch should go now; else *@wait how long until the
 * oldest span is due (or the idle poll).
 */
static bool batch_due(struct otlp *o, uint64_t *wait)
{
	uint64_t flush = (uint64_t)o->cfg.flush_interval_ms * NSEC_PER_MSEC, now, due;
	const struct otlp_item *oldest = export_ring_first(&o->q);

	*wait = flush;
	if (!oldest)
		return false;
	if (o->stopping || o->q.count >= o->cfg.batch)
		return true;
	now = time_mono_ns();
	due = oldest->mono_ns + flush;
	if (due <= now)
		return true;
	*wait = due - now;
	return false;
}

static void *sender_main(void *arg)
{
	struct otlp *o = arg;
	struct otlp_item **v = xcalloc(o->cfg.batch, sizeof(*v));
	uint64_t rng = export_retry_seed(), wait;

	pthread_mutex_lock(&o->mu);
	for (;;) {
		size_t n;

		if (o->stopping && (!o->q.count || past_deadline(o))) {
			drop_queued(o, OTLP_DROP_SHUTDOWN);
			break;
		}
		if (!batch_due(o, &wait)) {
			export_retry_wait_ns(&o->work, &o->mu, wait);
			continue;
		}
		n = take(o, v);
		o->in_flight = n;
		pthread_mutex_unlock(&o->mu);
		post(o, v, n, &rng);
		pthread_mutex_lock(&o->mu);
	}
	pthread_mutex_unlock(&o->mu);
	free(v);
	return NULL;
}

/* ---- start and stop ---- */

static void config_defaults(struct otlp_config *c)
{
	if (!c->batch)
		c->batch = OTLP_BATCH;
	if (!c->flush_interval_ms)
		c->flush_interval_ms = OTLP_FLUSH_INTERVAL_MS;
	if (!c->queue_max)
		c->queue_max = OTLP_QUEUE_MAX;
	if (!c->timeout_ms)
		c->timeout_ms = OTLP_TIMEOUT_MS;
	if (!c->backoff_ms)
		c->backoff_ms = OTLP_BACKOFF_MS;
	if (!c->backoff_max_ms)
		c->backoff_max_ms = OTLP_BACKOFF_MAX_MS;
	if (c->backoff_max_ms < c->backoff_ms)
		c->backoff_max_ms = c->backoff_ms;
	if (!c->stop_flush_ms)
		c->stop_flush_ms = OTLP_STOP_FLUSH_MS;
}

static void wipe_free(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* The extra headers and the sender's connection. 0 or -errno, logged. */
static int prepare(struct otlp *o, const struct otlp_config *c)
{
	char *headers[OTLP_HEADERS_MAX];
	size_t n = 0;
	int err = 0;

	for (size_t i = 0; i < c->nheaders; i++) /* checked: at most OTLP_HEADERS_MAX */
		headers[n++] = xstrdup(c->headers[i]);
	if (c->headers_file && *c->headers_file)
		err = otlp_headers_read_file(c->headers_file, headers, OTLP_HEADERS_MAX, &n);
	if (!err && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		err = -EIO;
	o->curl_ready = !err;
	if (!err) {
		o->send = http_post_new(
			&(struct http_post_config){ .url = o->traces_url,
						    .headers = (const char *const *)headers,
						    .nheaders = n,
						    .ca_file = c->ca_file,
						    .answer_max = ANSWER_MAX,
						    .abort_at_ns = &o->abort_at_ns });
		if (!o->send) {
			log_error("otlp: libcurl could not make a handle");
			err = -EIO;
		}
	}
	o->nheaders = n;
	for (size_t i = 0; i < n; i++)
		wipe_free(headers[i]);
	return err;
}

static void threads_stop(struct otlp *o)
{
	pthread_mutex_lock(&o->mu);
	o->stopping = true;
	pthread_cond_broadcast(&o->work);
	pthread_mutex_unlock(&o->mu);
	if (o->sender_started)
		pthread_join(o->sender, NULL);
	o->sender_started = false;
}

static void otlp_free(struct otlp *o)
{
	pthread_mutex_lock(&o->mu);
	drop_queued(o, OTLP_DROP_SHUTDOWN); /* none, once the sender has run */
	pthread_mutex_unlock(&o->mu);
	http_post_free(o->send);
	if (o->curl_ready)
		curl_global_cleanup();
	pthread_cond_destroy(&o->work);
	pthread_mutex_destroy(&o->mu);
	free(o->slots);
	free(o->traces_url);
	free(o);
}

int otlp_start(struct otlp **out, const struct otlp_config *c)
{
	char why[256];
	struct otlp *o;
	int err;

	*out = NULL;
	if (!c->url || !*c->url)
		return 0;
	if (otlp_config_check(c, why, sizeof(why))) {
		log_error("otlp: %s", why);
		return -EINVAL;
	}
	o = xcalloc(1, sizeof(*o));
	o->cfg = *c;
	config_defaults(&o->cfg);
	o->traces_url = xasprintf("%.*s%s", (int)url_base_len(c->url), c->url, OTLP_TRACES_PATH);
	o->slots = xcalloc(o->cfg.queue_max, sizeof(*o->slots));
	export_ring_init(&o->q, o->slots, o->cfg.queue_max);
	pthread_mutex_init(&o->mu, NULL);
	export_retry_cond_init(&o->work);
	atomic_init(&o->abort_at_ns, 0);
	err = prepare(o, c);
	if (err)
		goto out_free;
	err = -pthread_create(&o->sender, NULL, sender_main, o);
	if (err)
		goto out_free;
	o->sender_started = true;
	log_info("otlp: sending spans to %s, keeping %g%% of traces and every 5xx or span over %u "
		 "ms, batches of %u spans or %u ms, a queue of %u spans, %u retries, %zu extra "
		 "headers",
		 o->traces_url, o->cfg.sample_rate * 100, o->cfg.slow_ms, o->cfg.batch,
		 o->cfg.flush_interval_ms, o->cfg.queue_max, o->cfg.max_retries, o->nheaders);
	*out = o;
	return 0;

out_free:
	log_error_err(err, "otlp: cannot start");
	otlp_free(o);
	return err;
}

void otlp_stop(struct otlp *o)
{
	struct otlp_stats st;

	if (!o)
		return;
	atomic_store(&o->abort_at_ns, time_mono_ns() + o->cfg.stop_flush_ms * NSEC_PER_MSEC);
	threads_stop(o);
	otlp_stats(o, &st);
	log_info("otlp: stopped; %llu spans sent, %llu sampled out, %llu dropped (%llu queue full, "
		 "%llu refused, %llu after retries, %llu at the stop), %llu invalid url=%s",
		 (unsigned long long)st.sent, (unsigned long long)st.sampled_out,
		 (unsigned long long)st.dropped_total,
		 (unsigned long long)st.dropped[OTLP_DROP_QUEUE_FULL],
		 (unsigned long long)st.dropped[OTLP_DROP_REJECTED],
		 (unsigned long long)st.dropped[OTLP_DROP_RETRIES_EXHAUSTED],
		 (unsigned long long)st.dropped[OTLP_DROP_SHUTDOWN], (unsigned long long)st.invalid,
		 o->traces_url);
	otlp_free(o);
}
