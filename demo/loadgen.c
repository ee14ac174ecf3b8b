/*
 * prp-loadgen: drives one demo service at a fixed request rate and reports
 * what it saw.
 *
 * Open loop: request i is due at start + i / rps whatever happened to the
 * requests before it, and its latency is measured from when it was due, not
 * from when a connection was free to send it. A slow server therefore shows
 * up as high latency instead of as a lower request rate, which is the
 * coordinated-omission trap closed-loop generators fall into (Gil Tene).
 *
 * One thread, libcurl's multi interface: up to --connections requests in
 * flight, each on a kept-alive connection from the multi handle's cache.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/hist.h"
#include "common/log.h"
#include "common/strparse.h"
#include "common/timeutil.h"
#include "demo/loadmix.h"

#define LOADGEN_BODY_MAX (1u << 20)
#define LOADGEN_URL_MAX	 512

struct loadgen_opts {
	const char *target;
	double rps;
	uint64_t duration_s; /* 0: until SIGINT or SIGTERM */
	const char *mix;     /* NULL: ask the target's /health who it is */
	uint64_t connections;
	uint64_t timeout_ms;
	uint64_t progress_s; /* 0: no progress lines */
	uint64_t seed;
	bool new_connections; /* a new connection per request: churn */
};

struct slot {
	CURL *easy;
	bool busy;
	uint64_t due_ns; /* when the open-loop schedule wanted it sent */
	struct loadmix_request req;
	struct buf body;
	char url[LOADGEN_URL_MAX];
};

struct loadgen {
	struct loadgen_opts o;
	CURLM *multi;
	struct curl_slist *headers;
	struct slot *slots;
	uint64_t in_flight;
	struct loadmix mix;
	struct hist latency_ns; /* every request that got an HTTP answer */
	uint64_t sent, ok, errors;
	uint64_t http_4xx, http_5xx, transport, timeouts;
	uint64_t not_sent; /* due, but every connection was busy when time ran out */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
	/* past the cap, keep counting the request but drop the bytes */
	if (buf_append(userdata, p, size * n))
		return size * n;
	return size * n;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: prp-loadgen --target URL --rps N --duration S [--mix orders|users|payments|health]\n"
		"                   [--connections N] [--timeout-ms N] [--progress-s N] [--seed N]\n"
		"                   [--new-connections]\n"
		"Sends requests at a fixed rate (open loop) and prints, at the end,\n"
		"'sent N ok N errors N' and the latency percentiles. --duration 0 runs until\n"
		"Ctrl-C. Without --mix, the target's GET /health says which service it is.\n"
		"--new-connections opens a connection per request (churn) instead of keeping\n"
		"them alive.\n");
}

static int parse_args(int argc, char **argv, struct loadgen_opts *o)
{
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "rps", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "mix", required_argument, NULL, 'm' },
		{ "connections", required_argument, NULL, 'c' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "progress-s", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "new-connections", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t duration_ns;
	int c, idx = 0, err = 0;

	*o = (struct loadgen_opts){ .rps = 10,
				    .duration_s = 10,
				    .connections = 64,
				    .timeout_ms = 10000,
				    .progress_s = 5,
				    .seed = 1 };
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		switch (c) {
		case 't':
			o->target = optarg;
			break;
		case 'r':
			err = strparse_double(optarg, 0.01, 1e6, &o->rps);
			break;
		case 'd':
			err = strparse_duration_ns(optarg, NSEC_PER_SEC, &duration_ns);
			o->duration_s = err ? 0 : duration_ns / NSEC_PER_SEC;
			break;
		case 'm':
			o->mix = optarg;
			break;
		case 'c':
			err = strparse_u64(optarg, 1, 4096, &o->connections);
			break;
		case 'T':
			err = strparse_u64(optarg, 1, 600000, &o->timeout_ms);
			break;
		case 'p':
			err = strparse_u64(optarg, 0, 3600, &o->progress_s);
			break;
		case 's':
			err = strparse_u64(optarg, 0, UINT64_MAX, &o->seed);
			break;
		case 'n':
			o->new_connections = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (err) {
			fprintf(stderr, "prp-loadgen: bad value '%s' for --%s\n", optarg,
				longopts[idx].name);
			return err;
		}
	}
	if (!o->target || optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	if (strncmp(o->target, "http://", 7) && strncmp(o->target, "https://", 8)) {
		fprintf(stderr, "prp-loadgen: --target must be an http:// or https:// URL\n");
		return -EINVAL;
	}
	return 0;
}

/* Asks GET /health which service the target is, for the default mix. */
static const char *discover_mix(const struct loadgen_opts *o, char *name, size_t len)
{
	CURL *c = curl_easy_init();
	char url[LOADGEN_URL_MAX];
	struct buf body;
	json_t *doc = NULL;
	const char *service = NULL;
	long status = 0;

	buf_init(&body, 64 * 1024);
	snprintf(url, sizeof(url), "%s/health", o->target);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (status == 200)
		doc = json_loadb((const char *)body.data, body.len, 0, NULL);
	if (doc && !json_unpack(doc, "{s:s}", "service", &service))
		snprintf(name, len, "%s", service);
	else
		snprintf(name, len, "health");
	json_decref(doc);
	buf_release(&body);
	return name;
}

static int loadgen_init(struct loadgen *lg)
{
	lg->multi = curl_multi_init();
	if (!lg->multi)
		return -ENOMEM;
	/* every in-flight request has its own kept-alive connection */
	curl_multi_setopt(lg->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)lg->o.connections);
	curl_multi_setopt(lg->multi, CURLMOPT_MAXCONNECTS, (long)lg->o.connections);
	lg->headers = curl_slist_append(NULL, "Content-Type: application/json");
	lg->slots = xcalloc(lg->o.connections, sizeof(*lg->slots));
	for (uint64_t i = 0; i < lg->o.connections; i++) {
		struct slot *s = &lg->slots[i];

		s->easy = curl_easy_init();
		if (!s->easy)
			return -ENOMEM;
		buf_init(&s->body, LOADGEN_BODY_MAX);
		curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)lg->o.timeout_ms);
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, lg->headers);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->body);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		if (lg->o.new_connections)
			curl_easy_setopt(s->easy, CURLOPT_FORBID_REUSE, 1L);
	}
	hist_init(&lg->latency_ns);
	return 0;
}

static void loadgen_release(struct loadgen *lg)
{
	for (uint64_t i = 0; lg->slots && i < lg->o.connections; i++) {
		if (lg->slots[i].busy)
			curl_multi_remove_handle(lg->multi, lg->slots[i].easy);
		curl_easy_cleanup(lg->slots[i].easy);
		buf_release(&lg->slots[i].body);
	}
	free(lg->slots);
	curl_slist_free_all(lg->headers);
	if (lg->multi)
		curl_multi_cleanup(lg->multi);
	hist_release(&lg->latency_ns);
}

static struct slot *free_slot(struct loadgen *lg)
{
	for (uint64_t i = 0; i < lg->o.connections; i++)
		if (!lg->slots[i].busy)
			return &lg->slots[i];
	return NULL;
}

static void start_request(struct loadgen *lg, struct slot *s, uint64_t due_ns)
{
	loadmix_next(&lg->mix, &s->req);
	snprintf(s->url, sizeof(s->url), "%s%s", lg->o.target, s->req.path);
	buf_reset(&s->body);
	curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
	if (s->req.body[0]) {
		/* borrowed: s->req lives until the request completes */
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->req.body);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(s->req.body));
	} else {
		curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
	}
	s->due_ns = due_ns;
	s->busy = true;
	curl_multi_add_handle(lg->multi, s->easy);
	lg->in_flight++;
	lg->sent++;
}

/* Remembers the id of a created record so that later reads find it. */
static void note_created(struct loadgen *lg, const struct slot *s)
{
	json_t *doc = json_loadb((const char *)s->body.data, s->body.len, 0, NULL);
	json_int_t id;

	if (doc && !json_unpack(doc, "{s:I}", "id", &id) && id > 0)
		loadmix_created(&lg->mix, (uint64_t)id);
	json_decref(doc);
}

static void finish_request(struct loadgen *lg, struct slot *s, CURLcode result)
{
	uint64_t now = time_mono_ns();
	long status = 0;

	curl_multi_remove_handle(lg->multi, s->easy);
	s->busy = false;
	lg->in_flight--;
	if (result != CURLE_OK) {
		lg->errors++;
		if (result == CURLE_OPERATION_TIMEDOUT)
			lg->timeouts++;
		else
			lg->transport++;
		return;
	}
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	hist_record(&lg->latency_ns, now > s->due_ns ? now - s->due_ns : 0);
	if (status >= 200 && status < 400) {
		lg->ok++;
		if (s->req.is_create && status == 201)
			note_created(lg, s);
		return;
	}
	lg->errors++;
	if (status >= 500)
		lg->http_5xx++;
	else
		lg->http_4xx++;
}

static void collect(struct loadgen *lg)
{
	CURLMsg *msg;
	int left, running;

	curl_multi_perform(lg->multi, &running);
	while ((msg = curl_multi_info_read(lg->multi, &left))) {
		struct slot *s;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		finish_request(lg, s, msg->data.result);
	}
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void progress(const struct loadgen *lg, uint64_t elapsed_ns)
{
	log_info("loadgen: %llus sent %llu ok %llu errors %llu p99 %.2fms in_flight %llu",
		 (unsigned long long)(elapsed_ns / NSEC_PER_SEC), (unsigned long long)lg->sent,
		 (unsigned long long)lg->ok, (unsigned long long)lg->errors,
		 ms(hist_quantile(&lg->latency_ns, 0.99)), (unsigned long long)lg->in_flight);
}

/* The open-loop schedule; returns the time it ran. */
static uint64_t run(struct loadgen *lg)
{
	const double interval_ns = 1e9 / lg->o.rps;
	const uint64_t start = time_mono_ns();
	const uint64_t end =
		lg->o.duration_s ? start + lg->o.duration_s * NSEC_PER_SEC : UINT64_MAX;
	uint64_t next = 0, now = start, next_progress = start + lg->o.progress_s * NSEC_PER_SEC;

	while (!stop_requested && now < end) {
		uint64_t due = start + (uint64_t)((double)next * interval_ns);
		long wait_ms = 100;
		struct slot *s;

		while (due <= now && due < end && (s = free_slot(lg))) {
			start_request(lg, s, due);
			due = start + (uint64_t)((double)++next * interval_ns);
		}
		if (due > now && due - now < 100 * NSEC_PER_MSEC)
			wait_ms = (long)((due - now) / NSEC_PER_MSEC);
		if (due <= now) /* behind schedule and every connection busy */
			wait_ms = 1;
		curl_multi_poll(lg->multi, NULL, 0, (int)wait_ms, NULL);
		collect(lg);
		now = time_mono_ns();
		if (lg->o.progress_s && now >= next_progress) {
			progress(lg, now - start);
			next_progress += lg->o.progress_s * NSEC_PER_SEC;
		}
	}
	/* what the schedule wanted sent by now but no connection was free for */
	if (now > start) {
		uint64_t wanted =
			(uint64_t)((double)((now < end ? now : end) - start) / interval_ns);

		lg->not_sent = wanted > next ? wanted - next : 0;
	}
	return now - start;
}

/* Lets the requests in flight finish, up to the request timeout. */
static void drain(struct loadgen *lg)
{
	uint64_t deadline = time_mono_ns() + lg->o.timeout_ms * NSEC_PER_MSEC;

	while (lg->in_flight && time_mono_ns() < deadline) {
		curl_multi_poll(lg->multi, NULL, 0, 50, NULL);
		collect(lg);
	}
	/* abandoned: they count as timed out */
	lg->errors += lg->in_flight;
	lg->timeouts += lg->in_flight;
}

static void report(const struct loadgen *lg, uint64_t elapsed_ns)
{
	const struct hist *h = &lg->latency_ns;
	double secs = (double)elapsed_ns / 1e9;

	printf("sent %llu ok %llu errors %llu\n", (unsigned long long)lg->sent,
	       (unsigned long long)lg->ok, (unsigned long long)lg->errors);
	printf("latency_ms p50 %.2f p90 %.2f p99 %.2f max %.2f\n", ms(hist_quantile(h, 0.5)),
	       ms(hist_quantile(h, 0.9)), ms(hist_quantile(h, 0.99)), ms(hist_max(h)));
	printf("rate target %.1f achieved %.1f rps over %.1f s, mix %s\n", lg->o.rps,
	       secs > 0 ? (double)lg->sent / secs : 0.0, secs, loadmix_name(lg->mix.kind));
	if (lg->errors)
		printf("errors 4xx %llu 5xx %llu transport %llu timeout %llu\n",
		       (unsigned long long)lg->http_4xx, (unsigned long long)lg->http_5xx,
		       (unsigned long long)lg->transport, (unsigned long long)lg->timeouts);
	if (lg->not_sent)
		printf("not_sent %llu (all %llu connections busy: the target is too slow for this rate)\n",
		       (unsigned long long)lg->not_sent, (unsigned long long)lg->o.connections);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct loadgen lg = { 0 };
	char mix_name[32];
	uint64_t elapsed;
	int err;

	log_init("prp-loadgen", LOG_LEVEL_INFO, LOG_TO_STDERR);
	if (parse_args(argc, argv, &lg.o))
		return 2;
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		fatal("loadgen: cannot initialise libcurl");
	if (!lg.o.mix)
		lg.o.mix = discover_mix(&lg.o, mix_name, sizeof(mix_name));
	if (loadmix_init(&lg.mix, lg.o.mix, lg.o.seed)) {
		fprintf(stderr, "prp-loadgen: unknown mix '%s'\n", lg.o.mix);
		curl_global_cleanup();
		return 2;
	}
	err = loadgen_init(&lg);
	if (err)
		fatal("loadgen: cannot set up libcurl");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	log_info("loadgen: %s at %.1f rps for %s, mix %s, up to %llu connections", lg.o.target,
		 lg.o.rps, lg.o.duration_s ? "a fixed time" : "until Ctrl-C", lg.o.mix,
		 (unsigned long long)lg.o.connections);
	elapsed = run(&lg);
	drain(&lg);
	report(&lg, elapsed);
	loadgen_release(&lg);
	curl_global_cleanup();
	return 0;
}
