/*
 * Per-service windows. Entries live in small arrays searched linearly: a
 * service has a handful of routes, syscalls and peers per second (route
 * folding keeps routes few), so this beats a hash in both code and time.
 * Arrays grow by doubling and are freed when the set is released.
 */
#include "common/window.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/span.h"

void window_set_init(struct window_set *ws)
{
	memset(ws, 0, sizeof(*ws));
}

struct window *window_new(uint16_t service_id)
{
	struct window *w = xcalloc(1, sizeof(*w));

	w->service_id = service_id;
	return w;
}

void window_free(struct window *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nhttp; i++)
		hist_release(&w->http[i].latency_ns);
	for (size_t i = 0; i < w->nsyscalls; i++)
		hist_release(&w->syscalls[i].latency_ns);
	for (size_t i = 0; i < w->ncalls; i++)
		hist_release(&w->calls[i].latency_ns);
	for (size_t i = 0; i < w->nlogs; i++)
		free(w->logs[i].text);
	free(w->http);
	free(w->syscalls);
	free(w->calls);
	free(w->logs);
	free(w->spans);
	free(w);
}

void window_set_release(struct window_set *ws)
{
	for (size_t i = 0; i <= SERVICES_MAX; i++) {
		window_free(ws->by_id[i]);
		ws->by_id[i] = NULL;
	}
}

struct window *window_set_get(struct window_set *ws, uint16_t id)
{
	if (id == 0 || id > SERVICES_MAX)
		return NULL;
	if (!ws->by_id[id])
		ws->by_id[id] = window_new(id);
	return ws->by_id[id];
}

/* Makes room for one more element in a doubling array. */
static void *grow(void *items, size_t n, size_t *alloc, size_t size)
{
	if (n < *alloc)
		return items;
	*alloc = *alloc ? *alloc * 2 : 8;
	return xreallocarray(items, *alloc, size);
}

static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

struct window_http *window_http_get(struct window *w, const char *method, const char *route,
				    uint16_t status)
{
	struct window_http *h;

	for (size_t i = 0; i < w->nhttp; i++) {
		h = &w->http[i];
		if (h->status == status && !strncmp(h->method, method, sizeof(h->method) - 1) &&
		    !strncmp(h->route, route, sizeof(h->route) - 1))
			return h;
	}
	w->http = grow(w->http, w->nhttp, &w->http_alloc, sizeof(*w->http));
	h = &w->http[w->nhttp++];
	memset(h, 0, sizeof(*h));
	copy_text(h->method, sizeof(h->method), method);
	copy_text(h->route, sizeof(h->route), route);
	h->status = status;
	hist_init(&h->latency_ns);
	return h;
}

struct window_syscall *window_syscall_get(struct window *w, uint32_t nr, const char *name)
{
	struct window_syscall *s;

	for (size_t i = 0; i < w->nsyscalls; i++)
		if (w->syscalls[i].nr == nr)
			return &w->syscalls[i];
	w->syscalls = grow(w->syscalls, w->nsyscalls, &w->syscalls_alloc, sizeof(*w->syscalls));
	s = &w->syscalls[w->nsyscalls++];
	memset(s, 0, sizeof(*s));
	s->nr = nr;
	copy_text(s->name, sizeof(s->name), name);
	hist_init(&s->latency_ns);
	return s;
}

void window_syscall_add_errno(struct window_syscall *s, int err, uint64_t count)
{
	size_t i;

	for (i = 0; i < s->nerrnos; i++)
		if (s->errnos[i].err == err)
			break;
	if (i == s->nerrnos) {
		/* full: the rest go under "other" (errno 0), which always has room */
		if (s->nerrnos >= WINDOW_ERRNOS_MAX - 1 && err != 0) {
			window_syscall_add_errno(s, 0, count);
			return;
		}
		s->errnos[s->nerrnos].err = err;
		s->errnos[s->nerrnos].count = 0;
		s->nerrnos++;
	}
	s->errnos[i].count += count;
}

struct window_call *window_call_get(struct window *w, const char *address)
{
	struct window_call *c;

	for (size_t i = 0; i < w->ncalls; i++)
		if (!strncmp(w->calls[i].address, address, sizeof(c->address) - 1))
			return &w->calls[i];
	w->calls = grow(w->calls, w->ncalls, &w->calls_alloc, sizeof(*w->calls));
	c = &w->calls[w->ncalls++];
	memset(c, 0, sizeof(*c));
	copy_text(c->address, sizeof(c->address), address);
	hist_init(&c->latency_ns);
	return c;
}

struct window_log *window_log_add(struct window *w, int64_t ts_ns, uint8_t stream,
				  const char *text, size_t len)
{
	struct window_log *l;

	w->logs = grow(w->logs, w->nlogs, &w->logs_alloc, sizeof(*w->logs));
	l = &w->logs[w->nlogs++];
	l->ts_ns = ts_ns;
	l->stream = stream;
	l->len = len;
	l->text = xmalloc(len + 1);
	memcpy(l->text, text, len);
	l->text[len] = '\0';
	return l;
}

struct span *window_span_add(struct window *w)
{
	struct span *s;

	w->spans = grow(w->spans, w->nspans, &w->spans_alloc, sizeof(*w->spans));
	s = &w->spans[w->nspans++];
	memset(s, 0, sizeof(*s));
	return s;
}
