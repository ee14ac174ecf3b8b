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
 * otlp_stop() sets a deadline (abort_at_ns), which curl's progress callback
 * reads to cut the post in flight, and which ends the retries' pauses; then
 * the sender sends what is queued without waiting for full batches until
 * the queue is empty or the deadline passes.
 */
#include "aggregator/export/otlp.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregator/export/otlp_format.h"
#include "aggregator/export/otlp_headers.h"
#include "aggregator/export/otlp_send.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"

#define SAY_EVERY_NS (30 * NSEC_PER_SEC) /* one log line per kind of trouble this often */

/* The kinds of trouble logged, each at most once per SAY_EVERY_NS. */
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
	struct otlp_send *send; /* the sender thread's */
	bool curl_ready;

	pthread_mutex_t mu;  /* guards what follows, down to said[] */
	pthread_cond_t work; /* a full batch, or stopping; also the retries' pauses */
	struct otlp_item **q;
	size_t qfirst, qcount;
	uint64_t seq;
	size_t in_flight;
	bool stopping;
	uint64_t received, sampled_out, invalid, sent, dropped[OTLP_DROP_COUNT], posts, retries,
		timeouts;
	char last_error[OTLP_ERROR_MAX];
	int64_t last_error_ms;
	struct {
		uint64_t at_ns, suppressed;
	} said[SAY_COUNT];

	/* the stop's deadline (CLOCK_MONOTONIC ns), 0 before: read without mu */
	_Atomic uint64_t abort_at_ns;

	pthread_t sender;
	bool sender_started;
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

/* ---- time ---- */

/* Waits on @c (a CLOCK_MONOTONIC condition) for at most @ns. */
static void wait_ns(pthread_cond_t *c, pthread_mutex_t *m, uint64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ns / NSEC_PER_SEC);
	ts.tv_nsec += (long)(ns % NSEC_PER_SEC);
	if (ts.tv_nsec >= (long)NSEC_PER_SEC) {
		ts.tv_sec++;
		ts.tv_nsec -= (long)NSEC_PER_SEC;
	}
	pthread_cond_timedwait(c, m, &ts);
}

static void cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

/* True once the stop's deadline has passed. */
static bool past_deadline(struct otlp *o)
{
	uint64_t at = atomic_load(&o->abort_at_ns);

	return at && time_mono_ns() >= at;
}

/* ---- the log, a line per kind of trouble ---- */

/*
 * Under mu: whether a line of kind @k is due now; if so *@suppressed is how
 * many were held back since the last one.
 */
static bool say_due(struct otlp *o, enum say k, uint64_t *suppressed)
{
	uint64_t now = time_mono_ns();

	if (o->said[k].at_ns && now - o->said[k].at_ns < SAY_EVERY_NS) {
		o->said[k].suppressed++;
		return false;
	}
	o->said[k].at_ns = now;
	*suppressed = o->said[k].suppressed;
	o->said[k].suppressed = 0;
	return true;
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
	if (o->qcount == o->cfg.queue_max) {
		dropped = ++o->dropped[OTLP_DROP_QUEUE_FULL];
		say = say_due(o, SAY_QUEUE_FULL, &suppressed);
		ret = -ENOBUFS;
	} else {
		it->seq = o->seq++;
		o->q[(o->qfirst + o->qcount) % o->cfg.queue_max] = it;
		o->qcount++;
		/* only when a batch has just filled: the sender's timer covers the rest */
		if (o->qcount == o->cfg.batch)
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

	while (o->qcount && n < o->cfg.batch) {
		v[n++] = o->q[o->qfirst];
		o->qfirst = (o->qfirst + 1) % o->cfg.queue_max;
		o->qcount--;
	}
	return n;
}

/* Drops every queued span as @why. Under mu. */
static void drop_queued(struct otlp *o, enum otlp_drop why)
{
	while (o->qcount) {
		free(o->q[o->qfirst]);
		o->qfirst = (o->qfirst + 1) % o->cfg.queue_max;
		o->qcount--;
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
		say = say_due(o, SAY_INVALID, &suppressed);
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
	out->queued = o->qcount;
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

/* xorshift64*: the jitter needs no quality. */
static double next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) / (double)(1ull << 53);
}

/*
 * The pause after failed attempt @attempt (1, 2, ...): the answer's
 * Retry-After when it had one (OTLP/HTTP asks clients to honour it), else
 * doubling, times [0.8, 1.2); capped at backoff_max_ms either way.
 */
static uint64_t backoff_ns(const struct otlp *o, unsigned attempt, int64_t retry_after_ms,
			   uint64_t *rng)
{
	uint64_t ms = o->cfg.backoff_ms;

	if (retry_after_ms >= 0) {
		ms = (uint64_t)retry_after_ms < o->cfg.backoff_max_ms ? (uint64_t)retry_after_ms
								      : o->cfg.backoff_max_ms;
		return ms * NSEC_PER_MSEC;
	}
	for (unsigned i = 1; i < attempt && ms < o->cfg.backoff_max_ms; i++)
		ms *= 2;
	if (ms > o->cfg.backoff_max_ms)
		ms = o->cfg.backoff_max_ms;
	return (uint64_t)((double)ms * (0.8 + 0.4 * next_random(rng)) * (double)NSEC_PER_MSEC);
}

/* The time a post may take now: the timeout, cut to what is left before the stop's deadline. */
static unsigned post_timeout_ms(struct otlp *o)
{
	uint64_t at = atomic_load(&o->abort_at_ns), now;

	if (!at)
		return o->cfg.timeout_ms;
	now = time_mono_ns();
	if (now >= at)
		return 0;
	return (at - now) / NSEC_PER_MSEC < o->cfg.timeout_ms
		       ? (unsigned)((at - now) / NSEC_PER_MSEC) + 1
		       : o->cfg.timeout_ms;
}

/*
 * Sleeps @ns under mu, or until the stop's deadline if that comes first: a
 * stop keeps the pauses (and Retry-After), so a failing collector is not
 * hammered on the way out and what is left is counted as dropped at shutdown.
 */
static void pause_ns(struct otlp *o, uint64_t ns)
{
	uint64_t until = time_mono_ns() + ns;

	for (;;) {
		uint64_t at = atomic_load(&o->abort_at_ns), now = time_mono_ns();

		if (at && at < until)
			until = at;
		if (now >= until)
			return;
		wait_ns(&o->work, &o->mu, until - now);
	}
}

/* What one attempt came to, for the counters and the log. */
enum outcome { OUT_SENT, OUT_PARTIAL, OUT_RETRY, OUT_REJECTED, OUT_EXHAUSTED, OUT_SHUTDOWN };

/* The status codes worth another attempt: 429 and the 5xx (OTLP/HTTP names 502, 503, 504). */
static bool retryable(long status)
{
	return status == 429 || (status >= 500 && status <= 599);
}

/* Counts attempt @attempt's outcome (@ret, @rs) for a batch of @n. Under mu. */
static enum outcome account(struct otlp *o, size_t n, unsigned attempt, int ret,
			    const struct otlp_send_result *rs)
{
	bool http = !ret, ok = http && rs->status >= 200 && rs->status <= 299;
	enum otlp_drop why;

	o->posts++;
	if (attempt)
		o->retries++;
	if (ok) {
		/* a partial success: the receiver took the batch but refused some spans */
		uint64_t refused = rs->rejected_spans < n ? rs->rejected_spans : n;

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

/* Logs an attempt's trouble, a line per kind at most every SAY_EVERY_NS. Under mu. */
static void say_outcome(struct otlp *o, enum outcome out, size_t n, unsigned attempt,
			uint64_t pause, const char *error)
{
	static const enum say kinds[] = { [OUT_PARTIAL] = SAY_PARTIAL,
					  [OUT_RETRY] = SAY_RETRY,
					  [OUT_REJECTED] = SAY_REJECTED,
					  [OUT_EXHAUSTED] = SAY_EXHAUSTED };
	uint64_t held = 0;

	if (out == OUT_SENT || out == OUT_SHUTDOWN || !say_due(o, kinds[out], &held))
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
	struct otlp_send_result rs = { 0 };
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
		unsigned timeout_ms = post_timeout_ms(o);
		uint64_t pause = 0;

		if (timeout_ms) {
			ret = otlp_send_post(o->send, (const char *)body.data, body.len, timeout_ms,
					     &rs);
		} else {
			ret = -ECANCELED;
			rs.retry_after_ms = -1;
			snprintf(rs.error, sizeof(rs.error), "the stop's deadline passed");
		}
		pthread_mutex_lock(&o->mu);
		out = account(o, n, attempt, ret, &rs);
		if (out == OUT_RETRY)
			pause = backoff_ns(o, attempt + 1, ret ? -1 : rs.retry_after_ms, rng);
		say_outcome(o, out, n, attempt, pause, rs.error);
		if (out == OUT_RETRY)
			pause_ns(o, pause);
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

	*wait = flush;
	if (!o->qcount)
		return false;
	if (o->stopping || o->qcount >= o->cfg.batch)
		return true;
	now = time_mono_ns();
	due = o->q[o->qfirst]->mono_ns + flush;
	if (due <= now)
		return true;
	*wait = due - now;
	return false;
}

static void *sender_main(void *arg)
{
	struct otlp *o = arg;
	struct otlp_item **v = xcalloc(o->cfg.batch, sizeof(*v));
	uint64_t rng = time_real_ns() ^ (uint64_t)(uintptr_t)&rng, wait;

	if (!rng)
		rng = 1;
	pthread_mutex_lock(&o->mu);
	for (;;) {
		size_t n;

		if (o->stopping && (!o->qcount || past_deadline(o))) {
			drop_queued(o, OTLP_DROP_SHUTDOWN);
			break;
		}
		if (!batch_due(o, &wait)) {
			wait_ns(&o->work, &o->mu, wait);
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
		o->send = otlp_send_new(
			&(struct otlp_send_config){ .url = o->traces_url,
						    .headers = (const char *const *)headers,
						    .nheaders = n,
						    .ca_file = c->ca_file,
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
	otlp_send_free(o->send);
	if (o->curl_ready)
		curl_global_cleanup();
	pthread_cond_destroy(&o->work);
	pthread_mutex_destroy(&o->mu);
	free(o->q);
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
	o->q = xcalloc(o->cfg.queue_max, sizeof(*o->q));
	pthread_mutex_init(&o->mu, NULL);
	cond_init(&o->work);
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
