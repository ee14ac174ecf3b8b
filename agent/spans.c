/*
 * Span building (spans.h). Waiting records sit in a ring in arrival order,
 * so dropping the oldest at the bound is O(1); every index below is a rank
 * in that order (node()). Each spans_collect() decides for every call its
 * container (a sweep per service over the calls and the server records,
 * both sorted by start), builds the due traces by walking the containment
 * tree from their roots, then compacts the ring in place to forget what it
 * built.
 *
 * Assignments are recomputed at every collect and never kept: a container
 * that arrives later may take a waiting call over, until the call's trace
 * is built. Containment is made a strict order (two records with the very
 * same interval: the one that arrived first contains the other), so the
 * tree has no cycles.
 *
 * Request heads with a traceparent wait in a direct-mapped table keyed by
 * a hash of the connection (heads[]); the kernel writes a request's head
 * before its span record, in one ring, so the head is there when the
 * record comes, and spans_add() takes it out. A slot another connection
 * took meanwhile, or a head whose record was lost, only costs that one
 * link: the record starts a trace of its own, as without the header.
 */
#include "agent/spans.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "agent/http_method.h"
#include "agent/sampler_http.h"
#include "common/alloc.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/timeutil.h"

#define SPANS_RANDOM_POOL 4096

struct spans_node {
	struct http_span_event ev;
	/* only within one spans_collect(): */
	int32_t parent;	      /* the container's index; -1: none */
	int32_t first_child;  /* calls it contains; -1: none */
	int32_t next_sibling; /* in its container's list; -1: the last */
	bool dead;	      /* built (or dropped) */
	bool has_tp;	      /* a request from outside that carried a traceparent */
	uint8_t server_span_id[SPAN_ID_LEN];
	struct spans_traceparent tp; /* with has_tp */
};

/* A head with a traceparent, waiting for its span record. */
struct spans_head {
	uint64_t start_ns; /* 0: a free slot */
	uint8_t caddr[16], saddr[16];
	uint16_t cport, sport;
	struct spans_traceparent tp;
};

struct spans {
	struct spans_config cfg;
	char host[WINDOW_HOST_MAX];
	char names[SERVICES_MAX + 1][SERVICE_NAME_MAX]; /* "" : not learnt */
	struct spans_node *ring;  /* max_pending; the oldest at head, n of them */
	struct spans_head *heads; /* SPANS_HEADS_MAX */
	size_t head, n;
	/* scratch of spans_collect(), grown as needed */
	int32_t *srv, *cli, *active, *walk;
	size_t scratch_alloc;
	struct span *trace;
	size_t trace_alloc;
	uint8_t pool[SPANS_RANDOM_POOL];
	size_t pool_left;
	uint64_t prng; /* only when getrandom() fails */
	size_t budget; /* spans this window may still emit */
	struct spans_stats st;
};

void spans_config_default(struct spans_config *c)
{
	*c = (struct spans_config){ .sample_rate = SPANS_SAMPLE_RATE,
				    .slow_ns = SPANS_SLOW_NS,
				    .max_spans_per_window = SPANS_MAX_PER_WINDOW,
				    .max_pending = SPANS_PENDING_MAX,
				    .orphan_ns = SPANS_ORPHAN_NS,
				    .settle_ns = SPANS_SETTLE_NS };
}

struct spans *spans_new(const struct spans_config *c)
{
	struct spans *s = xcalloc(1, sizeof(*s));

	s->cfg = *c;
	if (!s->cfg.max_pending)
		s->cfg.max_pending = 1;
	snprintf(s->host, sizeof(s->host), "%s", c->host ? c->host : "");
	s->cfg.host = NULL; /* borrowed by the caller: never read after this */
	/* calloc()ed: pages are touched, and resident, only as records come */
	s->ring = xcalloc(s->cfg.max_pending, sizeof(*s->ring));
	s->heads = xcalloc(SPANS_HEADS_MAX, sizeof(*s->heads));
	s->prng = time_mono_ns() ^ ((uint64_t)getpid() << 32);
	s->budget = s->cfg.max_spans_per_window;
	return s;
}

void spans_free(struct spans *s)
{
	if (!s)
		return;
	free(s->ring);
	free(s->heads);
	free(s->srv);
	free(s->cli);
	free(s->active);
	free(s->walk);
	free(s->trace);
	free(s);
}

void spans_set_services(struct spans *s, const struct service_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct service *sv = &set->items[i];

		if (sv->id && sv->id <= SERVICES_MAX)
			snprintf(s->names[sv->id], sizeof(s->names[sv->id]), "%s", sv->name);
	}
}

/* A watched service's id, or 0 for an unwatched or unknown one. */
static uint16_t known(const struct spans *s, uint16_t id)
{
	return id && id <= SERVICES_MAX && s->names[id][0] ? id : 0;
}

/* The @k-th waiting record, oldest first: all indexes below are such ranks. */
static struct spans_node *node(const struct spans *s, size_t k)
{
	size_t i = s->head + k;

	return &s->ring[i >= s->cfg.max_pending ? i - s->cfg.max_pending : i];
}

/* ---- traceparent ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase too: the format is lowercase only */
}

/* Parses 2 * @n lowercase hex digits at @p into @out. */
static bool unhex_lower(const char *p, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

#define TP_NAME	    "traceparent"
#define TP_NAME_LEN (sizeof(TP_NAME) - 1)
/* "00-" 32 "-" 16 "-" 2 */
#define TP_VALUE_LEN 55

/* The value of a traceparent line, from @p to @end (the line's end, excluded). */
static bool parse_tp_value(const char *p, const char *end, struct spans_traceparent *out)
{
	struct spans_traceparent tp;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end - p != TP_VALUE_LEN || p[0] != '0' || p[1] != '0' || p[2] != '-' || p[35] != '-' ||
	    p[52] != '-')
		return false;
	if (!unhex_lower(p + 3, tp.trace_id, SPAN_TRACE_ID_LEN) ||
	    !unhex_lower(p + 36, tp.parent_id, SPAN_ID_LEN) || !unhex_lower(p + 53, &tp.flags, 1))
		return false;
	if (span_id_is_zero(tp.trace_id, SPAN_TRACE_ID_LEN) ||
	    span_id_is_zero(tp.parent_id, SPAN_ID_LEN))
		return false;
	*out = tp;
	return true;
}

bool spans_parse_traceparent(const char *head, size_t len, struct spans_traceparent *out)
{
	const char *end = head + len, *p = memchr(head, '\n', len);

	/* p: the end of the request line; each turn looks at the line after p */
	while (p && ++p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *vend;

		if (!eol)
			return false; /* the last line is cut: not a header we can trust */
		vend = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
		if (vend == p)
			return false; /* the empty line: the headers are over */
		if ((size_t)(vend - p) > TP_NAME_LEN && p[TP_NAME_LEN] == ':' &&
		    !strncasecmp(p, TP_NAME, TP_NAME_LEN))
			return parse_tp_value(p + TP_NAME_LEN + 1, vend, out);
		p = eol;
	}
	return false;
}

/* The heads[] slot of a connection. */
static size_t head_slot(const uint8_t caddr[16], const uint8_t saddr[16], uint16_t cport,
			uint16_t sport)
{
	uint8_t k[36];

	memcpy(k, caddr, 16);
	memcpy(k + 16, saddr, 16);
	memcpy(k + 32, &cport, 2);
	memcpy(k + 34, &sport, 2);
	return (size_t)(hash_fnv1a_bytes(HASH_FNV_OFFSET, k, sizeof(k)) % SPANS_HEADS_MAX);
}

void spans_add_head(struct spans *s, const struct http_head_event *h)
{
	struct spans_traceparent tp;
	struct spans_head *slot;
	size_t len = h->len < HTTP_HEAD_BYTES ? h->len : HTTP_HEAD_BYTES;

	if (!h->start_ns || !spans_parse_traceparent(h->data, len, &tp))
		return;
	s->st.heads_traceparent++;
	slot = &s->heads[head_slot(h->caddr, h->saddr, h->cport, h->sport)];
	slot->start_ns = h->start_ns;
	memcpy(slot->caddr, h->caddr, 16);
	memcpy(slot->saddr, h->saddr, 16);
	slot->cport = h->cport;
	slot->sport = h->sport;
	slot->tp = tp;
}

/* Moves the traceparent of @e's head, if one waits, into @nd. */
static void take_head(struct spans *s, struct spans_node *nd, const struct http_span_event *e)
{
	struct spans_head *slot = &s->heads[head_slot(e->caddr, e->saddr, e->cport, e->sport)];

	nd->has_tp = false;
	if (!slot->start_ns || slot->start_ns != e->start_ns || slot->cport != e->cport ||
	    slot->sport != e->sport || memcmp(slot->caddr, e->caddr, 16) ||
	    memcmp(slot->saddr, e->saddr, 16))
		return;
	nd->has_tp = true;
	nd->tp = slot->tp;
	slot->start_ns = 0;
}

void spans_add(struct spans *s, const struct http_span_event *e)
{
	struct spans_node *nd;

	s->st.records++;
	if (e->end_ns < e->start_ns || (!known(s, e->server_svc) && !known(s, e->client_svc))) {
		s->st.records_ignored++;
		return;
	}
	if (s->n == s->cfg.max_pending) {
		/* the oldest goes: its calls, if any, become traces of their own */
		s->head = (s->head + 1) % s->cfg.max_pending;
		s->n--;
		s->st.pending_dropped++;
	}
	nd = node(s, s->n++);
	nd->ev = *e; /* the other fields are set by each spans_collect() before use */
	nd->dead = false;
	nd->ev.server_svc = known(s, e->server_svc);
	nd->ev.client_svc = known(s, e->client_svc);
	if (!nd->ev.client_svc)
		take_head(s, nd, e);
	else
		nd->has_tp = false;
}

/* Closes the gaps the built records left, in place, keeping the order. */
static void compact(struct spans *s)
{
	size_t out = 0;

	for (size_t k = 0; k < s->n; k++) {
		struct spans_node *nd = node(s, k);

		if (nd->dead)
			continue;
		if (out != k)
			*node(s, out) = *nd;
		out++;
	}
	s->n = out;
}

/* ---- random ids ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Refills the pool: one getrandom(2) per SPANS_RANDOM_POOL bytes, not one
 * per id. Should the kernel refuse (it does not, past early boot), the
 * bytes come from a PRNG: ids stay unique enough for a trace, which is all
 * an id is for here.
 */
static void refill_pool(struct spans *s)
{
	size_t got = 0;

	while (got < sizeof(s->pool)) {
		ssize_t r = getrandom(s->pool + got, sizeof(s->pool) - got, GRND_NONBLOCK);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < sizeof(s->pool)) {
		log_ratelimited(LOG_LEVEL_WARN, "spans: no random bytes from the kernel");
		for (; got < sizeof(s->pool); got++)
			s->pool[got] = (uint8_t)splitmix64(&s->prng);
	}
	s->pool_left = sizeof(s->pool);
}

/* Fills @out with @n random bytes, never all zero. */
static void random_id(struct spans *s, uint8_t *out, size_t n)
{
	do {
		for (size_t i = 0; i < n; i++) {
			if (!s->pool_left)
				refill_pool(s);
			out[i] = s->pool[--s->pool_left];
		}
	} while (span_id_is_zero(out, n));
}

/* ---- sampling ---- */

bool spans_trace_sampled(const uint8_t trace_id[SPAN_TRACE_ID_LEN], double rate)
{
	uint64_t high = 0;

	if (!(rate > 0)) /* NaN too */
		return false;
	if (rate >= 1)
		return true;
	for (int i = 0; i < 8; i++)
		high = high << 8 | trace_id[i];
	/* below 1, rate * 2^64 is at most 2^64 - 2^11: it converts exactly */
	return high < (uint64_t)ldexp(rate, 64);
}

/* ---- containment ---- */

/* The sort keys: the service of the end being grouped, then the start. */
static int cmp_by(const struct spans *s, int32_t a, int32_t b, bool server)
{
	const struct http_span_event *x = &node(s, a)->ev, *y = &node(s, b)->ev;
	uint16_t sx = server ? x->server_svc : x->client_svc;
	uint16_t sy = server ? y->server_svc : y->client_svc;

	if (sx != sy)
		return sx < sy ? -1 : 1;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* qsort() has no context argument: a small merge sort that takes one. */
static void sort_idx(const struct spans *s, int32_t *v, int32_t *tmp, size_t n, bool server)
{
	if (n < 2)
		return;
	size_t h = n / 2;

	sort_idx(s, v, tmp, h, server);
	sort_idx(s, v + h, tmp, n - h, server);
	for (size_t i = 0, j = h, k = 0; k < n; k++)
		tmp[k] = j >= n || (i < h && cmp_by(s, v[i], v[j], server) <= 0) ? v[i++] : v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

/* Whether record @c strictly contains record @x (see the top of the file). */
static bool contains(const struct spans *s, int32_t c, int32_t x)
{
	const struct http_span_event *ce = &node(s, c)->ev, *xe = &node(s, x)->ev;

	if (c == x || ce->start_ns > xe->start_ns || ce->end_ns < xe->end_ns)
		return false;
	return ce->start_ns < xe->start_ns || ce->end_ns > xe->end_ns || c < x;
}

/*
 * Whether container @c is a better parent for call @x than @best: the
 * thread hint first (the call's request and the container's response sent
 * by the same thread), then the later start.
 */
static bool better(const struct spans *s, int32_t c, int32_t best, int32_t x)
{
	uint32_t tid = node(s, x)->ev.req_tid;
	bool cm, bm;

	if (best < 0)
		return true;
	cm = tid && node(s, c)->ev.resp_tid == tid;
	bm = tid && node(s, best)->ev.resp_tid == tid;
	if (cm != bm)
		return cm;
	if (node(s, c)->ev.start_ns != node(s, best)->ev.start_ns)
		return node(s, c)->ev.start_ns > node(s, best)->ev.start_ns;
	return c > best;
}

static void grow_scratch(struct spans *s)
{
	if (s->scratch_alloc >= s->n)
		return;
	s->scratch_alloc = s->n;
	s->srv = xreallocarray(s->srv, s->n, sizeof(*s->srv));
	s->cli = xreallocarray(s->cli, s->n, sizeof(*s->cli));
	s->active = xreallocarray(s->active, s->n, sizeof(*s->active));
	s->walk = xreallocarray(s->walk, s->n, sizeof(*s->walk));
}

/*
 * Gives every waiting call its container, if any: per service, a sweep
 * over the calls in order of start, keeping the server records that have
 * started and not yet ended ("active"), which are the only ones that can
 * contain this call or any later one.
 */
static void assign(struct spans *s)
{
	size_t nsrv = 0, ncli = 0, si = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct spans_node *nd = node(s, i);

		nd->parent = nd->first_child = nd->next_sibling = -1;
		if (nd->ev.server_svc)
			s->srv[nsrv++] = (int32_t)i;
		if (nd->ev.client_svc)
			s->cli[ncli++] = (int32_t)i;
	}
	if (!ncli)
		return; /* nothing to place: no sort (a service nobody watched calls) */
	sort_idx(s, s->srv, s->active, nsrv, true);
	sort_idx(s, s->cli, s->active, ncli, false);
	for (size_t ci = 0; ci < ncli;) {
		uint16_t svc = node(s, s->cli[ci])->ev.client_svc;
		size_t nactive = 0;

		while (si < nsrv && node(s, s->srv[si])->ev.server_svc < svc)
			si++;
		for (; ci < ncli && node(s, s->cli[ci])->ev.client_svc == svc; ci++) {
			int32_t x = s->cli[ci], best = -1;
			const struct http_span_event *xe = &node(s, x)->ev;
			size_t keep = 0;

			while (si < nsrv && node(s, s->srv[si])->ev.server_svc == svc &&
			       node(s, s->srv[si])->ev.start_ns <= xe->start_ns)
				s->active[nactive++] = s->srv[si++];
			for (size_t a = 0; a < nactive; a++) {
				int32_t c = s->active[a];

				if (node(s, c)->ev.end_ns < xe->start_ns)
					continue; /* ended: contains no later call either */
				s->active[keep++] = c;
				if (contains(s, c, x) && better(s, c, best, x))
					best = c;
			}
			nactive = keep;
			node(s, x)->parent = best;
		}
		/* the rest of this service's server records: no call of it is left */
		while (si < nsrv && node(s, s->srv[si])->ev.server_svc == svc)
			si++;
	}
	/* children lists, each in arrival order */
	for (int32_t i = (int32_t)s->n - 1; i >= 0; i--) {
		struct spans_node *nd = node(s, i);

		if (nd->parent >= 0) {
			nd->next_sibling = node(s, nd->parent)->first_child;
			node(s, nd->parent)->first_child = i;
		}
	}
}

/* ---- traces ---- */

/*
 * The records of the tree rooted at @root into s->walk, parents before
 * their children (depth first). Returns how many.
 */
static size_t walk_tree(struct spans *s, int32_t root)
{
	size_t n = 0, top = 0;
	int32_t *stack = s->active; /* free again after assign() */

	stack[top++] = root;
	while (top) {
		int32_t i = stack[--top];

		s->walk[n++] = i;
		/* pushed in reverse, so that children come out in arrival order */
		size_t first = top;

		for (int32_t c = node(s, i)->first_child; c >= 0; c = node(s, c)->next_sibling)
			stack[top++] = c;
		for (size_t a = first, b = top; a + 1 < b; a++, b--) {
			int32_t t = stack[a];

			stack[a] = stack[b - 1];
			stack[b - 1] = t;
		}
	}
	return n;
}

static void copy_route(char *out, size_t outlen, const char *route)
{
	size_t i;

	for (i = 0; i + 1 < outlen && i < ROUTE_MAX && route[i]; i++)
		out[i] = (unsigned char)route[i] < 0x20 || (unsigned char)route[i] > 0x7e
				 ? '?'
				 : route[i];
	out[i] = '\0';
}

/* The fields both spans of a record share. */
static void span_common(const struct spans *s, struct span *sp, const struct http_span_event *e,
			const uint8_t trace_id[SPAN_TRACE_ID_LEN], int64_t offset)
{
	memset(sp, 0, sizeof(*sp));
	memcpy(sp->trace_id, trace_id, SPAN_TRACE_ID_LEN);
	sp->start_ns = (int64_t)e->start_ns + offset;
	sp->end_ns = (int64_t)e->end_ns + offset;
	sp->status = e->status;
	snprintf(sp->method, sizeof(sp->method), "%s",
		 e->method ? http_method_name(e->method) : "");
	copy_route(sp->route, sizeof(sp->route), e->route);
	snprintf(sp->host, sizeof(sp->host), "%s", s->host);
}

static struct span *trace_slot(struct spans *s, size_t i)
{
	if (i >= s->trace_alloc) {
		s->trace_alloc = s->trace_alloc ? 2 * s->trace_alloc : 16;
		s->trace = xreallocarray(s->trace, s->trace_alloc, sizeof(*s->trace));
	}
	return &s->trace[i];
}

/* The spans of the @n walked records into s->trace. Returns how many. */
static size_t make_spans(struct spans *s, size_t n, const uint8_t trace_id[SPAN_TRACE_ID_LEN],
			 const uint8_t *root_parent, int64_t offset)
{
	size_t out = 0;

	for (size_t k = 0; k < n; k++) {
		struct spans_node *nd = node(s, s->walk[k]);
		const struct http_span_event *e = &nd->ev;
		uint8_t client_id[SPAN_ID_LEN] = { 0 };

		if (e->client_svc) {
			struct span *c = trace_slot(s, out++);
			char addr[INET6_ADDRSTRLEN] = "";

			span_common(s, c, e, trace_id, offset);
			random_id(s, c->span_id, SPAN_ID_LEN);
			memcpy(client_id, c->span_id, SPAN_ID_LEN);
			/* the root of an orphan trace has none */
			if (nd->parent >= 0)
				memcpy(c->parent_span_id, node(s, nd->parent)->server_span_id,
				       SPAN_ID_LEN);
			c->kind = SPAN_KIND_CLIENT;
			snprintf(c->service, sizeof(c->service), "%s", s->names[e->client_svc]);
			if (e->server_svc)
				snprintf(c->peer_service, sizeof(c->peer_service), "%s",
					 s->names[e->server_svc]);
			inet_ntop(e->family == 6 ? AF_INET6 : AF_INET, e->saddr, addr,
				  sizeof(addr));
			snprintf(c->server_address, sizeof(c->server_address), "%s", addr);
			c->server_port = e->sport;
		}
		if (e->server_svc) {
			struct span *v = trace_slot(s, out++);

			span_common(s, v, e, trace_id, offset);
			random_id(s, v->span_id, SPAN_ID_LEN);
			memcpy(nd->server_span_id, v->span_id, SPAN_ID_LEN);
			/* the root of a trace a caller started: the caller's span is its parent */
			memcpy(v->parent_span_id, k == 0 && root_parent ? root_parent : client_id,
			       SPAN_ID_LEN);
			v->kind = SPAN_KIND_SERVER;
			snprintf(v->service, sizeof(v->service), "%s", s->names[e->server_svc]);
		}
	}
	return out;
}

/* Builds, samples and emits the trace rooted at @root; marks its records built. */
static void build_trace(struct spans *s, int32_t root, int64_t offset, spans_emit_fn *emit,
			void *arg)
{
	size_t n = walk_tree(s, root), nspans = 0;
	const struct spans_node *r = node(s, root);
	uint8_t trace_id[SPAN_TRACE_ID_LEN];
	const uint8_t *root_parent = NULL;
	bool keep = false;

	for (size_t k = 0; k < n; k++) {
		const struct http_span_event *e = &node(s, s->walk[k])->ev;

		node(s, s->walk[k])->dead = true;
		nspans += (e->client_svc != 0) + (e->server_svc != 0);
		if (e->status >= 500 ||
		    (s->cfg.slow_ns && e->end_ns - e->start_ns > s->cfg.slow_ns))
			keep = true;
	}
	s->st.traces++;
	if (node(s, root)->ev.client_svc)
		s->st.traces_orphan++;
	if (!r->ev.client_svc && r->has_tp) {
		/* the caller's trace; its sampled flag keeps it whatever the rate */
		memcpy(trace_id, r->tp.trace_id, sizeof(trace_id));
		root_parent = r->tp.parent_id;
		if (r->tp.flags & SPANS_TRACEPARENT_SAMPLED)
			keep = true;
		s->st.traces_linked++;
	} else {
		random_id(s, trace_id, sizeof(trace_id));
	}
	if (!keep && !spans_trace_sampled(trace_id, s->cfg.sample_rate)) {
		s->st.traces_sampled_out++;
		return;
	}
	if (s->cfg.max_spans_per_window && nspans > s->budget) {
		s->st.traces_over_cap++;
		return;
	}
	nspans = make_spans(s, n, trace_id, root_parent, offset);
	if (s->cfg.max_spans_per_window)
		s->budget -= nspans;
	for (size_t k = 0; k < nspans; k++)
		emit(arg, &s->trace[k]);
	s->st.traces_kept++;
	s->st.spans_emitted += nspans;
}

/* Whether a record that ended at @end_ns has waited @wait_ns by @now. */
static bool waited(uint64_t now, uint64_t end_ns, uint64_t wait_ns)
{
	return now >= end_ns && now - end_ns >= wait_ns;
}

void spans_collect(struct spans *s, uint64_t now_mono_ns, spans_emit_fn *emit, void *arg)
{
	int64_t offset = (int64_t)(time_real_ns() - time_mono_ns());

	if (!s->n)
		return;
	grow_scratch(s);
	assign(s);
	for (size_t i = 0; i < s->n; i++) {
		const struct spans_node *nd = node(s, i);

		if (nd->dead)
			continue;
		/* a request from outside, or a call nothing contains */
		if (!nd->ev.client_svc ? waited(now_mono_ns, nd->ev.end_ns, s->cfg.settle_ns)
				       : nd->parent < 0 && waited(now_mono_ns, nd->ev.end_ns,
								  s->cfg.orphan_ns))
			build_trace(s, (int32_t)i, offset, emit, arg);
	}
	compact(s);
}

void spans_window_reset(struct spans *s)
{
	s->budget = s->cfg.max_spans_per_window;
}

void spans_get_stats(const struct spans *s, struct spans_stats *out)
{
	*out = s->st;
	out->pending = s->n;
}
