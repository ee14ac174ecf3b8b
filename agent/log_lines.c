/*
 * Line reassembly for the logs sampler (agent/log_lines.h).
 *
 * Partial lines live in a small array searched linearly: a chunk that
 * ends its line (the common case: a logger writes whole lines) is emitted
 * straight from the chunk and never enters it, so the array holds only the
 * streams caught in the middle of a line, a handful at a time.
 *
 * Time. Lines carry the time of their first byte; the rate limit runs on
 * the chunks' clock (the time a line is finished), never backwards.
 */
#include "agent/log_lines.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/utf8.h"
#include "common/window.h"

/* A stream caught in the middle of a line. */
struct partial {
	uint32_t tgid;
	uint8_t fd;
	uint16_t svc;
	uint32_t lost_seq; /* of the last chunk added */
	uint64_t ts_ns;	   /* of the line's first byte */
	char *buf;	   /* max_line bytes */
	size_t len;	   /* 1..max_line */
};

/* The token bucket of one service. */
struct bucket {
	double tokens;
	uint64_t last_ns; /* 0: never used (a full bucket) */
};

struct log_lines {
	struct log_lines_config cfg;
	log_lines_emit_fn *emit;
	void *arg;
	struct partial partials[LOG_LINES_PARTIALS_MAX];
	size_t npartials;
	struct bucket buckets[SERVICES_MAX + 1];
	char *clean; /* UTF8_CLEAN_MAX(max_line) + 1 bytes: a line being emitted */
	struct log_lines_stats st;
};

struct log_lines *log_lines_new(const struct log_lines_config *c, log_lines_emit_fn *emit,
				void *arg)
{
	struct log_lines *l = xcalloc(1, sizeof(*l));

	l->cfg = *c;
	if (l->cfg.max_line < LOG_LINES_MAX_LINE_MIN)
		l->cfg.max_line = LOG_LINES_MAX_LINE_MIN;
	if (l->cfg.max_line > LOG_LINES_MAX_LINE_MAX)
		l->cfg.max_line = LOG_LINES_MAX_LINE_MAX;
	l->emit = emit;
	l->arg = arg;
	l->clean = xmalloc(UTF8_CLEAN_MAX(l->cfg.max_line) + 1);
	return l;
}

void log_lines_free(struct log_lines *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->npartials; i++)
		free(l->partials[i].buf);
	free(l->clean);
	free(l);
}

/* One token of @svc's bucket at @now_ns: false when there is none (the line is dropped). */
static bool take_token(struct log_lines *l, uint16_t svc, uint64_t now_ns)
{
	struct bucket *b = &l->buckets[svc <= SERVICES_MAX ? svc : 0];
	const double burst = l->cfg.rate_limit;

	if (!l->cfg.rate_limit)
		return true;
	if (!b->last_ns) {
		b->tokens = burst;
		b->last_ns = now_ns;
	} else if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) * l->cfg.rate_limit / 1e9;
		if (b->tokens > burst)
			b->tokens = burst;
		b->last_ns = now_ns;
	}
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

/* Emits the @n bytes at @s (at most max_line) as a line of (@svc, @fd) begun at @ts_ns. */
static void emit_line(struct log_lines *l, uint16_t svc, uint8_t fd, uint64_t ts_ns,
		      uint64_t now_ns, const char *s, size_t n)
{
	size_t out, replaced;

	while (n && s[n - 1] == '\r')
		n--;
	if (!n) {
		l->st.empty++;
		return;
	}
	if (!take_token(l, svc, now_ns)) {
		l->st.rate_limited++;
		return;
	}
	out = utf8_clean(l->clean, s, n, "\0\n", 2, &replaced);
	l->clean[out] = '\0';
	l->st.replaced += replaced;
	l->st.lines++;
	l->st.bytes += out;
	l->emit(l->arg, svc, fd, ts_ns, l->clean, out);
}

static struct partial *find(struct log_lines *l, uint32_t tgid, uint8_t fd)
{
	for (size_t i = 0; i < l->npartials; i++)
		if (l->partials[i].tgid == tgid && l->partials[i].fd == fd)
			return &l->partials[i];
	return NULL;
}

/* Removes @p: the last partial moves into its slot. */
static void drop(struct log_lines *l, struct partial *p)
{
	char *buf = p->buf;

	*p = l->partials[--l->npartials];
	free(buf);
}

/* Emits @p's bytes as a line and removes @p. */
static void flush(struct log_lines *l, struct partial *p, uint64_t now_ns)
{
	emit_line(l, p->svc, p->fd, p->ts_ns, now_ns, p->buf, p->len);
	drop(l, p);
}

/* A new partial line of @c's stream, begun at @c's time; the oldest goes when all are taken. */
static struct partial *add(struct log_lines *l, const struct log_lines_chunk *c)
{
	struct partial *p;

	if (l->npartials == LOG_LINES_PARTIALS_MAX) {
		struct partial *old = &l->partials[0];

		for (size_t i = 1; i < l->npartials; i++)
			if (l->partials[i].ts_ns < old->ts_ns)
				old = &l->partials[i];
		l->st.evicted++;
		flush(l, old, c->ts_ns);
	}
	p = &l->partials[l->npartials++];
	*p = (struct partial){ .tgid = c->tgid, .fd = c->fd, .svc = c->svc, .ts_ns = c->ts_ns };
	p->buf = xmalloc(l->cfg.max_line);
	return p;
}

/*
 * Appends the @n bytes at @s (no '\n' in them) to the line of @c's stream
 * in *@pp (NULL: none yet); a line that fills max_line is flushed as a
 * piece, keeping a cut UTF-8 character for the next one. With @eol the
 * line ends after them.
 */
static void add_bytes(struct log_lines *l, struct partial **pp, const struct log_lines_chunk *c,
		      const char *s, size_t n, bool eol)
{
	const size_t max = l->cfg.max_line;
	struct partial *p = *pp;

	if (!p && eol && n <= max) { /* a whole line in one chunk: no copy */
		emit_line(l, c->svc, c->fd, c->ts_ns, c->ts_ns, s, n);
		return;
	}
	if (!p && !n)
		return;
	if (!p)
		p = add(l, c);
	while (n) {
		size_t take = n < max - p->len ? n : max - p->len, keep;

		memcpy(p->buf + p->len, s, take);
		p->len += take;
		s += take;
		n -= take;
		if (p->len < max || (!n && eol))
			continue;
		/* full, and more of the line to come: this much goes as a piece */
		keep = utf8_incomplete_tail(p->buf, p->len);
		l->st.flushed_by_length++;
		emit_line(l, p->svc, p->fd, p->ts_ns, c->ts_ns, p->buf, p->len - keep);
		memmove(p->buf, p->buf + p->len - keep, keep);
		p->len = keep;
		p->ts_ns =
			c->ts_ns; /* the rest was written by this chunk's write, or just before */
	}
	p->lost_seq = c->lost_seq;
	if (eol) {
		flush(l, p, c->ts_ns);
		p = NULL;
	} else if (!p->len) { /* nothing held after the piece */
		drop(l, p);
		p = NULL;
	}
	*pp = p;
}

void log_lines_feed(struct log_lines *l, const struct log_lines_chunk *c)
{
	struct partial *p = find(l, c->tgid, c->fd);
	const char *s = c->data, *end = s + c->len;

	if (p && p->lost_seq != c->lost_seq) {
		/* records were lost since this line's last bytes: it ends there */
		l->st.broken++;
		flush(l, p, c->ts_ns);
		p = NULL;
	}
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));

		if (!nl) {
			add_bytes(l, &p, c, s, (size_t)(end - s), false);
			break;
		}
		add_bytes(l, &p, c, s, (size_t)(nl - s), true);
		s = nl + 1;
	}
	if (p && c->truncated) {
		/* the rest of the write is gone: what it began cannot be continued */
		l->st.broken++;
		flush(l, p, c->ts_ns);
	}
}

void log_lines_expire(struct log_lines *l, uint64_t now_ns)
{
	if (!l->cfg.max_age_ns)
		return;
	for (size_t i = 0; i < l->npartials;) {
		struct partial *p = &l->partials[i];

		if (now_ns >= p->ts_ns && now_ns - p->ts_ns >= l->cfg.max_age_ns) {
			l->st.flushed_by_age++;
			flush(l, p, now_ns); /* the last one moved into slot i: look at it next */
			continue;
		}
		i++;
	}
}

void log_lines_flush(struct log_lines *l)
{
	while (l->npartials) {
		struct partial *p = &l->partials[l->npartials - 1];

		flush(l, p, p->ts_ns);
	}
}

size_t log_lines_partials(const struct log_lines *l)
{
	return l->npartials;
}

void log_lines_get_stats(const struct log_lines *l, struct log_lines_stats *out)
{
	*out = l->st;
}
