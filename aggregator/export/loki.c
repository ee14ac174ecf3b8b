/*
 * The Loki exporter (loki.h): a bounded queue of entries, a reader thread
 * that fills it from the bus's events, and a sender thread that empties it
 * into Loki.
 *
 * The bus only wakes its watchers (on the publishing thread, where nothing
 * may wait), and its reads are per tenant, so the reader reads the events
 * of every tenant from the store, after a cursor that starts at the bus's
 * last id: the events published while the exporter runs are exported, not
 * the backlog. It also reads once a second without a wake-up.
 *
 * One mutex, mu, guards the queue, the counters and the stop state; it is
 * held only to queue, take or count, never across a request or a store
 * read, so loki_push_line() and the reader wait for nothing but each other
 * and the sender's short bookkeeping. The queue is a ring of queue_max
 * pointers; an entry enters it whole or is dropped (the newest entry is
 * the one dropped: what is queued keeps its order and its place).
 *
 * The sender takes a batch (batch entries or LOKI_BATCH_MAX_BYTES of lines,
 * whichever comes first) when it is full, or when its oldest entry has
 * waited flush_interval_ms, and keeps it until it is sent or dropped:
 * every entry received is, at any time, in exactly one of queued,
 * in_flight, sent and dropped. While a push is retried, new entries queue
 * up to the bound.
 *
 * loki_stop() sets a deadline (abort_at_ns), which the push in flight
 * watches (http_post.c cuts it within 50 ms of it), and which ends the
 * retries' pauses; then the sender sends what is queued without waiting
 * for full batches until the queue is empty or the deadline passes.
 */
#include "aggregator/export/loki.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/export/export_retry.h"
#include "aggregator/export/export_ring.h"
#include "aggregator/export/export_say.h"
#include "aggregator/export/http_post.h"
#include "aggregator/export/loki_config.h"
#include "aggregator/export/loki_format.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"

#define READ_BATCH     256  /* events read from the store at once */
#define READER_POLL_MS 1000 /* the reader's own wake-up */
/* bytes of an answer kept: Loki says why it refused a push there ("entry too far behind") */
#define ANSWER_MAX 512

/* The kinds of trouble logged, each at most once per EXPORT_SAY_EVERY_NS. */
enum say { SAY_QUEUE_FULL = 0, SAY_REJECTED, SAY_RETRY, SAY_EXHAUSTED, SAY_READ, SAY_COUNT };

static const char *const drop_names[LOKI_DROP_COUNT] = {
	[LOKI_DROP_QUEUE_FULL] = "queue_full",
	[LOKI_DROP_REJECTED] = "rejected",
	[LOKI_DROP_RETRIES_EXHAUSTED] = "retries_exhausted",
	[LOKI_DROP_SHUTDOWN] = "shutdown",
};

struct loki {
	struct loki_config cfg; /* defaults filled in; its strings are not used after start */
	char *push_url;
	char *log_url; /* push_url without a user:password@, for the log */
	char hostname[LOKI_FORMAT_HOST_MAX];
	struct loki_label labels[LOKI_LABELS_MAX];
	size_t nlabels;
	struct http_post *send; /* the sender thread's */
	bool curl_ready;

	struct bus *bus; /* the reader thread's, with what follows */
	struct bus_watch *watch;
	struct store *store;
	int64_t cursor;

	pthread_mutex_t mu;   /* guards what follows, down to said[] */
	pthread_cond_t work;  /* a full batch, or stopping; also the retries' pauses */
	struct export_ring q; /* of struct loki_entry */
	size_t qbytes;
	uint64_t seq;
	size_t in_flight;
	bool stopping;
	uint64_t received, sent, dropped[LOKI_DROP_COUNT], pushes, retries, timeouts;
	char last_error[LOKI_ERROR_MAX];
	int64_t last_error_ms;
	struct export_say said[SAY_COUNT];

	/* the stop's deadline (CLOCK_MONOTONIC ns), 0 before: read without mu */
	_Atomic uint64_t abort_at_ns;

	pthread_mutex_t wake_mu; /* guards woken and wake_stop */
	pthread_cond_t wake;
	bool woken, wake_stop;

	pthread_t reader, sender;
	bool reader_started, sender_started;
	void **slots; /* the queue's */
};

const char *loki_drop_name(enum loki_drop d)
{
	return (unsigned)d < LOKI_DROP_COUNT ? drop_names[d] : "unknown";
}

/* True once the stop's deadline has passed. */
static bool past_deadline(struct loki *l)
{
	return export_retry_past_deadline(&l->abort_at_ns);
}

/* ---- the queue ---- */

/* Queues @e (taken): 0, or -ENOBUFS when the queue is full (@e dropped and counted). */
static int enqueue(struct loki *l, struct loki_entry *e)
{
	uint64_t suppressed = 0, dropped = 0;
	bool say = false;
	int ret = 0;

	e->mono_ns = time_mono_ns();
	pthread_mutex_lock(&l->mu);
	l->received++;
	if (export_ring_full(&l->q) || l->qbytes + e->len > LOKI_QUEUE_MAX_BYTES) {
		dropped = ++l->dropped[LOKI_DROP_QUEUE_FULL];
		say = export_say_due(&l->said[SAY_QUEUE_FULL], &suppressed);
		ret = -ENOBUFS;
	} else {
		e->seq = l->seq++;
		export_ring_push(&l->q, e);
		l->qbytes += e->len;
		/* only when a batch has just filled: the sender's timer covers the rest */
		if (l->q.count == l->cfg.batch || (l->qbytes >= LOKI_BATCH_MAX_BYTES &&
						   l->qbytes - e->len < LOKI_BATCH_MAX_BYTES))
			pthread_cond_signal(&l->work);
	}
	pthread_mutex_unlock(&l->mu);
	if (ret) {
		free(e);
		if (say)
			log_warn("loki: the queue is full (%u entries), new entries are dropped; "
				 "%llu dropped so far (%llu warnings held back)",
				 l->cfg.queue_max, (unsigned long long)dropped,
				 (unsigned long long)suppressed);
	}
	return ret;
}

/* Moves the oldest entries, up to a batch, into @v. Under mu; at least one queued. */
static size_t take(struct loki *l, struct loki_entry **v)
{
	size_t n = 0, bytes = 0;

	struct loki_entry *e;

	while ((e = export_ring_first(&l->q)) && n < l->cfg.batch &&
	       (!n || bytes + e->len <= LOKI_BATCH_MAX_BYTES)) {
		v[n++] = export_ring_pop(&l->q);
		bytes += e->len;
		l->qbytes -= e->len;
	}
	return n;
}

/* Drops every queued entry as @why. Under mu. */
static void drop_queued(struct loki *l, enum loki_drop why)
{
	while (l->q.count) {
		free(export_ring_pop(&l->q));
		l->dropped[why]++;
	}
	l->qbytes = 0;
}

int loki_push_line(struct loki *l, const char *tenant, const char *service, const char *host,
		   const char *source, int64_t ts_ns, const char *line, size_t len)
{
	int src = loki_format_line_source(source);
	struct loki_entry *e;

	if (!l)
		return -ENOTCONN;
	if (src < 0)
		return -EINVAL;
	if (ts_ns <= 0)
		ts_ns = (int64_t)time_real_ns();
	e = loki_format_entry(
		tenant, service, host && *host ? host : l->hostname,
		loki_format_line_level(line, line ? len : 0, src == LOKI_SOURCE_STDERR),
		(enum loki_source)src, ts_ns, line, len);
	return enqueue(l, e);
}

void loki_stats(struct loki *l, struct loki_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	out->received = l->received;
	out->sent = l->sent;
	for (int i = 0; i < LOKI_DROP_COUNT; i++) {
		out->dropped[i] = l->dropped[i];
		out->dropped_total += l->dropped[i];
	}
	out->queued = l->q.count;
	out->in_flight = l->in_flight;
	out->pushes = l->pushes;
	out->retries = l->retries;
	out->timeouts = l->timeouts;
	memcpy(out->last_error, l->last_error, sizeof(out->last_error));
	out->last_error_ms = l->last_error_ms;
	pthread_mutex_unlock(&l->mu);
}

/* ---- the reader: events from the store ---- */

/* The bus's wake-up, on the publishing thread: only signals. */
static void on_publish(void *arg)
{
	struct loki *l = arg;

	pthread_mutex_lock(&l->wake_mu);
	l->woken = true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->wake_mu);
}

/* Queues the entries of the events after the cursor, until none is left or the stop's deadline. */
static void read_events(struct loki *l)
{
	for (;;) {
		struct store_event *v;
		uint64_t suppressed = 0;
		size_t n;
		int err;

		if (past_deadline(l))
			return;
		err = store_events_after(l->store, NULL, l->cursor, READ_BATCH, &v, &n);
		if (err) {
			bool say;

			pthread_mutex_lock(&l->mu);
			say = export_say_due(&l->said[SAY_READ], &suppressed);
			pthread_mutex_unlock(&l->mu);
			if (say) /* again at the next wake-up: the cursor has not moved */
				log_warn_err(err, "loki: cannot read the events after %lld",
					     (long long)l->cursor);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			struct loki_entry *e = loki_format_event(&v[i], l->hostname);

			if (e)
				(void)enqueue(l, e); /* a drop is counted there */
			l->cursor = v[i].id;
		}
		store_events_free(v, n);
		if (n < READ_BATCH)
			return;
	}
}

static void *reader_main(void *arg)
{
	struct loki *l = arg;
	bool stop = false;

	while (!stop) {
		pthread_mutex_lock(&l->wake_mu);
		if (!l->woken && !l->wake_stop)
			export_retry_wait_ns(&l->wake, &l->wake_mu, READER_POLL_MS * NSEC_PER_MSEC);
		l->woken = false;
		stop = l->wake_stop;
		pthread_mutex_unlock(&l->wake_mu);
		read_events(l); /* after the stop too: what was published before it */
	}
	return NULL;
}

/* ---- the sender ---- */

/* What one attempt came to, for the counters and the log. */
enum outcome { OUT_SENT, OUT_RETRY, OUT_REJECTED, OUT_EXHAUSTED, OUT_SHUTDOWN };

/* Counts attempt @attempt's outcome (@ret, @rs) for a batch of @n. Under mu. */
static enum outcome account(struct loki *l, size_t n, unsigned attempt, int ret,
			    const struct http_post_result *rs)
{
	bool http = !ret, ok = http && rs->status >= 200 && rs->status <= 299;
	enum loki_drop why;

	l->pushes++;
	if (attempt)
		l->retries++;
	if (ok) {
		l->sent += n;
		l->in_flight = 0;
		return OUT_SENT;
	}
	if (ret == -ETIMEDOUT)
		l->timeouts++;
	snprintf(l->last_error, sizeof(l->last_error), "%s", rs->error);
	l->last_error_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	if (ret == -ECANCELED || past_deadline(l))
		why = LOKI_DROP_SHUTDOWN;
	else if (http && rs->status != 429 && rs->status < 500)
		why = LOKI_DROP_REJECTED; /* sending it again would get the same answer */
	else if (attempt >= l->cfg.max_retries)
		why = LOKI_DROP_RETRIES_EXHAUSTED;
	else
		return OUT_RETRY;
	l->dropped[why] += n;
	l->in_flight = 0;
	return why == LOKI_DROP_SHUTDOWN   ? OUT_SHUTDOWN
	       : why == LOKI_DROP_REJECTED ? OUT_REJECTED
					   : OUT_EXHAUSTED;
}

/* Logs a failed attempt's outcome, a line per kind at most every EXPORT_SAY_EVERY_NS. Under mu. */
static void say_outcome(struct loki *l, enum outcome o, size_t n, unsigned attempt, uint64_t pause,
			const char *error)
{
	static const enum say kinds[] = { [OUT_RETRY] = SAY_RETRY,
					  [OUT_REJECTED] = SAY_REJECTED,
					  [OUT_EXHAUSTED] = SAY_EXHAUSTED };
	uint64_t held = 0;

	if (o == OUT_SENT || o == OUT_SHUTDOWN || !export_say_due(&l->said[kinds[o]], &held))
		return;
	/* the log writes one line with one write(2): cheap enough under mu */
	if (o == OUT_RETRY)
		log_warn("loki: a push of %zu entries failed (%s), retry %u of %u in %llu ms "
			 "(%llu such warnings held back) url=%s",
			 n, error, attempt + 1, l->cfg.max_retries,
			 (unsigned long long)(pause / NSEC_PER_MSEC), (unsigned long long)held,
			 l->log_url);
	else if (o == OUT_REJECTED)
		log_warn("loki: a push of %zu entries was refused (%s), dropped; %llu refused so "
			 "far (%llu such warnings held back) url=%s",
			 n, error, (unsigned long long)l->dropped[LOKI_DROP_REJECTED],
			 (unsigned long long)held, l->log_url);
	else
		log_warn(
			"loki: a push of %zu entries failed on its last attempt, %u of %u (%s), "
			"dropped; %llu dropped so far after retries (%llu such warnings held back) "
			"url=%s",
			n, attempt + 1, l->cfg.max_retries + 1, error,
			(unsigned long long)l->dropped[LOKI_DROP_RETRIES_EXHAUSTED],
			(unsigned long long)held, l->log_url);
}

/* Sends the batch @v of @n (in_flight) until it is sent or dropped, then frees it. */
static void push(struct loki *l, struct loki_entry **v, size_t n, uint64_t *rng)
{
	struct http_post_result rs = { 0 };
	struct buf body;
	enum outcome o = OUT_RETRY;
	int ret;

	/* a line escapes to 6 bytes a byte at most: the cap is never the limit */
	buf_init(&body, BUF_MAX_BYTES);
	ret = loki_format_body(&body, v, n, l->labels, l->nlabels);
	if (ret) {
		pthread_mutex_lock(&l->mu);
		l->dropped[LOKI_DROP_REJECTED] += n;
		l->in_flight = 0;
		pthread_mutex_unlock(&l->mu);
		log_error_err(ret, "loki: a push of %zu entries could not be written", n);
	}
	for (unsigned attempt = 0; !ret && o == OUT_RETRY; attempt++) {
		unsigned timeout_ms = export_retry_timeout_ms(&l->abort_at_ns, l->cfg.timeout_ms);
		uint64_t pause = 0;

		if (timeout_ms) {
			ret = http_post_send(l->send, (const char *)body.data, body.len, timeout_ms,
					     &rs);
		} else {
			ret = -ECANCELED;
			snprintf(rs.error, sizeof(rs.error), "the stop's deadline passed");
		}
		pthread_mutex_lock(&l->mu);
		o = account(l, n, attempt, ret, &rs);
		if (o == OUT_RETRY)
			pause = export_retry_backoff_ns(l->cfg.backoff_ms, l->cfg.backoff_max_ms,
							attempt + 1, -1, rng);
		say_outcome(l, o, n, attempt, pause, rs.error);
		if (o == OUT_RETRY)
			export_retry_pause(&l->work, &l->mu, &l->abort_at_ns, pause);
		pthread_mutex_unlock(&l->mu);
		ret = 0;
	}
	buf_release(&body);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

/*
 * Under mu: whether a batch should go now; else *@wait how long until the
 * oldest entry is due (or the idle poll).
 */
static bool batch_due(struct loki *l, uint64_t *wait)
{
	uint64_t flush = (uint64_t)l->cfg.flush_interval_ms * NSEC_PER_MSEC, now, due;
	const struct loki_entry *oldest = export_ring_first(&l->q);

	*wait = flush;
	if (!oldest)
		return false;
	if (l->stopping || l->q.count >= l->cfg.batch || l->qbytes >= LOKI_BATCH_MAX_BYTES)
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
	struct loki *l = arg;
	struct loki_entry **v = xcalloc(l->cfg.batch, sizeof(*v));
	uint64_t rng = export_retry_seed(), wait;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		size_t n;

		if (l->stopping && (!l->q.count || past_deadline(l))) {
			drop_queued(l, LOKI_DROP_SHUTDOWN);
			break;
		}
		if (!batch_due(l, &wait)) {
			export_retry_wait_ns(&l->work, &l->mu, wait);
			continue;
		}
		n = take(l, v);
		l->in_flight = n;
		pthread_mutex_unlock(&l->mu);
		push(l, v, n, &rng);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	free(v);
	return NULL;
}

/* ---- start and stop ---- */

/* @url without its user:password@, if it has one (caller frees): a log never shows a secret. */
static char *url_for_log(const char *url)
{
	const char *host = strstr(url, "://"), *at = NULL;

	if (!host)
		return xstrdup(url);
	host += 3;
	for (const char *p = host; *p && !strchr("/?#", *p); p++)
		if (*p == '@')
			at = p;
	return at ? xasprintf("%.*s%s", (int)(host - url), url, at + 1) : xstrdup(url);
}

static void wipe_free(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* The secrets, the labels, the host name and the sender's connection. 0 or -errno, logged. */
static int prepare(struct loki *l, const struct loki_config *c)
{
	char *password = NULL, *token = NULL, *headers[2], why[200];
	size_t nheaders = 0;
	int err = 0;

	if (c->password_file && *c->password_file &&
	    (err = loki_config_read_secret(c->password_file, &password)))
		log_error_err(err, "loki: cannot read loki.password_file %s", c->password_file);
	if (!err && c->bearer_token_file && *c->bearer_token_file &&
	    (err = loki_config_read_secret(c->bearer_token_file, &token)))
		log_error_err(err, "loki: cannot read loki.bearer_token_file %s",
			      c->bearer_token_file);
	if (!err && loki_format_labels_parse(c->labels, l->labels, LOKI_LABELS_MAX, &l->nlabels,
					     why, sizeof(why))) {
		log_error("loki: loki.labels: %s", why);
		err = -EINVAL;
	}
	if (c->hostname && *c->hostname)
		snprintf(l->hostname, sizeof(l->hostname), "%s", c->hostname);
	else if (gethostname(l->hostname, sizeof(l->hostname) - 1))
		snprintf(l->hostname, sizeof(l->hostname), "localhost");
	if (!err && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		err = -EIO;
	l->curl_ready = !err;
	if (!err) {
		if (c->tenant && *c->tenant)
			headers[nheaders++] = xasprintf("X-Scope-OrgID: %s", c->tenant);
		if (token && *token)
			headers[nheaders++] = xasprintf("Authorization: Bearer %s", token);
		l->send = http_post_new(
			&(struct http_post_config){ .url = l->push_url,
						    .headers = (const char *const *)headers,
						    .nheaders = nheaders,
						    .ca_file = c->ca_file,
						    .username = c->username,
						    .password = password,
						    .answer_max = ANSWER_MAX,
						    .abort_at_ns = &l->abort_at_ns });
		if (!l->send) {
			log_error("loki: libcurl could not make a handle");
			err = -EIO;
		}
	}
	for (size_t i = 0; i < nheaders; i++)
		wipe_free(headers[i]); /* a bearer token */
	wipe_free(password);
	wipe_free(token);
	return err;
}

/* Stops the threads started so far: the reader (after its last read), then the sender. */
static void threads_stop(struct loki *l)
{
	if (l->watch)
		bus_unwatch(l->bus, l->watch); /* no wake-up runs past this */
	l->watch = NULL;
	pthread_mutex_lock(&l->wake_mu);
	l->wake_stop = true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->wake_mu);
	if (l->reader_started)
		pthread_join(l->reader, NULL);
	l->reader_started = false;
	pthread_mutex_lock(&l->mu);
	l->stopping = true;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->mu);
	if (l->sender_started)
		pthread_join(l->sender, NULL);
	l->sender_started = false;
}

static void loki_free(struct loki *l)
{
	pthread_mutex_lock(&l->mu);
	drop_queued(l, LOKI_DROP_SHUTDOWN); /* none, once the sender has run */
	pthread_mutex_unlock(&l->mu);
	http_post_free(l->send);
	if (l->curl_ready)
		curl_global_cleanup();
	store_close(l->store);
	pthread_cond_destroy(&l->work);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->wake_mu);
	free(l->slots);
	free(l->push_url);
	free(l->log_url);
	free(l);
}

int loki_start(struct loki **out, const struct loki_config *c, struct bus *bus)
{
	struct store_options so = c->store;
	char why[256];
	struct loki *l;
	size_t ulen;
	int err;

	*out = NULL;
	if (!c->url || !*c->url)
		return 0;
	if (loki_config_check(c, why, sizeof(why))) {
		log_error("loki: %s", why);
		return -EINVAL;
	}
	if (bus && !c->store.dir) {
		log_error("loki: the bus's store is not given");
		return -EINVAL;
	}
	l = xcalloc(1, sizeof(*l));
	l->cfg = *c;
	loki_config_fill(&l->cfg);
	ulen = strlen(c->url);
	while (ulen && c->url[ulen - 1] == '/') /* http://loki:3100/ is http://loki:3100 */
		ulen--;
	l->push_url = xasprintf("%.*s%s", (int)ulen, c->url, LOKI_PUSH_PATH);
	l->log_url = url_for_log(l->push_url);
	l->slots = xcalloc(l->cfg.queue_max, sizeof(*l->slots));
	export_ring_init(&l->q, l->slots, l->cfg.queue_max);
	l->bus = bus;
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->wake_mu, NULL);
	export_retry_cond_init(&l->work);
	export_retry_cond_init(&l->wake);
	atomic_init(&l->abort_at_ns, 0);
	err = prepare(l, c);
	if (err)
		goto out_free;
	if (bus) {
		so.read_only = true;
		err = store_open(&l->store, &so);
		if (err) {
			log_error_err(err, "loki: cannot open the store of the events in %s",
				      so.dir);
			goto out_free;
		}
		l->cursor = bus_last_id(bus);
		l->woken = true; /* a first read: what was published since bus_last_id() */
		l->watch = bus_watch(bus, on_publish, l);
		err = -pthread_create(&l->reader, NULL, reader_main, l);
		if (err)
			goto out_threads;
		l->reader_started = true;
	}
	err = -pthread_create(&l->sender, NULL, sender_main, l);
	if (err)
		goto out_threads;
	l->sender_started = true;
	log_info("loki: pushing to %s, batches of %u entries or %u ms, a queue of %u entries, "
		 "%u retries%s%s%s",
		 l->log_url, l->cfg.batch, l->cfg.flush_interval_ms, l->cfg.queue_max,
		 l->cfg.max_retries, bus ? ", the bus's events" : ", no events",
		 c->tenant && *c->tenant ? " tenant=" : "",
		 c->tenant && *c->tenant ? c->tenant : "");
	*out = l;
	return 0;

out_threads:
	threads_stop(l);
out_free:
	log_error_err(err, "loki: cannot start");
	loki_free(l);
	return err;
}

void loki_stop(struct loki *l)
{
	struct loki_stats st;

	if (!l)
		return;
	atomic_store(&l->abort_at_ns, time_mono_ns() + l->cfg.stop_flush_ms * NSEC_PER_MSEC);
	threads_stop(l);
	loki_stats(l, &st);
	log_info("loki: stopped; %llu entries sent, %llu dropped (%llu queue full, %llu refused, "
		 "%llu after retries, %llu at the stop) url=%s",
		 (unsigned long long)st.sent, (unsigned long long)st.dropped_total,
		 (unsigned long long)st.dropped[LOKI_DROP_QUEUE_FULL],
		 (unsigned long long)st.dropped[LOKI_DROP_REJECTED],
		 (unsigned long long)st.dropped[LOKI_DROP_RETRIES_EXHAUSTED],
		 (unsigned long long)st.dropped[LOKI_DROP_SHUTDOWN], l->log_url);
	loki_free(l);
}
