/*
 * Entries and push bodies for Loki (loki_format.h). A line is cleaned once,
 * when its entry is made, so that the body can be written with no check
 * but JSON's escaping: every line in an entry is valid UTF-8 and at most
 * LOKI_LINE_MAX bytes. An event's message is the one-line summary the
 * webhooks' Slack format writes (webhooks_format_summary()), so that a
 * person reads the same words in Slack and in Grafana.
 */
#include "aggregator/export/loki_format.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aggregator/events/bus.h"
#include "aggregator/export/loki.h"
#include "aggregator/webhooks/webhooks_format.h"
#include "common/alloc.h"
#include "common/timeutil.h"

/* " [truncated from 18446744073709551615 bytes]" is 45 bytes; room for it. */
#define MARKER_MAX 48
/* How far into a line its level word is looked for. */
#define LEVEL_SCAN_BYTES 256

static const char *const level_names[LOKI_LEVEL_COUNT] = {
	[LOKI_LEVEL_CRITICAL] = "critical", [LOKI_LEVEL_ERROR] = "error",
	[LOKI_LEVEL_WARNING] = "warning",   [LOKI_LEVEL_INFO] = "info",
	[LOKI_LEVEL_DEBUG] = "debug",
};

static const char *const source_names[LOKI_SOURCE_COUNT] = {
	[LOKI_SOURCE_ANOMALY] = "anomaly",	 [LOKI_SOURCE_INCIDENT] = "incident",
	[LOKI_SOURCE_PREDICTION] = "prediction", [LOKI_SOURCE_ACTION] = "action",
	[LOKI_SOURCE_STDOUT] = "stdout",	 [LOKI_SOURCE_STDERR] = "stderr",
};

/* The labels the exporter sets itself: a static label may not take their names. */
static const char *const own_labels[] = { "service_name", "host", "level", "source", "tenant" };

const char *loki_format_level_name(enum loki_level l)
{
	return (unsigned)l < LOKI_LEVEL_COUNT ? level_names[l] : "info";
}

const char *loki_format_source_name(enum loki_source s)
{
	return (unsigned)s < LOKI_SOURCE_COUNT ? source_names[s] : "unknown";
}

int loki_format_line_source(const char *name)
{
	if (name && !strcmp(name, "stdout"))
		return LOKI_SOURCE_STDOUT;
	if (name && !strcmp(name, "stderr"))
		return LOKI_SOURCE_STDERR;
	return -1;
}

int loki_format_event_source(int type)
{
	switch (type) {
	case BUS_ANOMALY_DETECTED:
	case BUS_ANOMALY_RESOLVED:
		return LOKI_SOURCE_ANOMALY;
	case BUS_INCIDENT_STARTED:
	case BUS_INCIDENT_RESOLVED:
		return LOKI_SOURCE_INCIDENT;
	case BUS_PREDICTION_BREACH:
		return LOKI_SOURCE_PREDICTION;
	case BUS_ACTION_EXECUTED:
	case BUS_ACTION_FAILED:
		return LOKI_SOURCE_ACTION;
	default: /* policy changes and webhook tests are not operational events */
		return -1;
	}
}

enum loki_level loki_format_event_level(int type, enum store_severity severity)
{
	if (type == BUS_ACTION_FAILED)
		return LOKI_LEVEL_ERROR;
	if (type == BUS_ANOMALY_RESOLVED || type == BUS_INCIDENT_RESOLVED)
		return LOKI_LEVEL_INFO;
	return severity == STORE_SEVERITY_CRITICAL  ? LOKI_LEVEL_CRITICAL
	       : severity == STORE_SEVERITY_WARNING ? LOKI_LEVEL_WARNING
						    : LOKI_LEVEL_INFO;
}

/* ---- the level of a line ---- */

static const struct {
	const char *word;
	enum loki_level level;
} level_words[] = {
	{ "FATAL", LOKI_LEVEL_CRITICAL }, { "PANIC", LOKI_LEVEL_CRITICAL },
	{ "CRIT", LOKI_LEVEL_CRITICAL },  { "CRITICAL", LOKI_LEVEL_CRITICAL },
	{ "ERROR", LOKI_LEVEL_ERROR },	  { "ERR", LOKI_LEVEL_ERROR },
	{ "WARN", LOKI_LEVEL_WARNING },	  { "WARNING", LOKI_LEVEL_WARNING },
	{ "INFO", LOKI_LEVEL_INFO },	  { "NOTICE", LOKI_LEVEL_INFO },
	{ "DEBUG", LOKI_LEVEL_DEBUG },	  { "TRACE", LOKI_LEVEL_DEBUG },
};

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The level the word @w (@n letters) names, in capitals or (@any_case) in any case; or -1. */
static int word_level(const char *w, size_t n, bool any_case)
{
	for (size_t i = 0; i < PRP_ARRAY_SIZE(level_words); i++) {
		const char *k = level_words[i].word;

		if (strlen(k) == n && (any_case ? !strncasecmp(w, k, n) : !strncmp(w, k, n)))
			return (int)level_words[i].level;
	}
	return -1;
}

enum loki_level loki_format_line_level(const char *line, size_t len, bool is_stderr)
{
	size_t end = len < LEVEL_SCAN_BYTES ? len : LEVEL_SCAN_BYTES, i = 0;

	while (i < end) {
		size_t start, n;
		int lv;

		if (!is_alpha(line[i])) {
			i++;
			continue;
		}
		for (start = i; i < end && is_alpha(line[i]); i++)
			;
		n = i - start;
		lv = word_level(line + start, n, false);
		if (lv >= 0)
			return (enum loki_level)lv;
		/* level=warn, "level":"error", lvl: info */
		if ((n == 5 && !strncasecmp(line + start, "level", 5)) ||
		    (n == 3 && !strncasecmp(line + start, "lvl", 3))) {
			size_t j = i, k;

			while (j < end && j - i < 4 && strchr("\"' :=", line[j]))
				j++;
			for (k = j; k < end && is_alpha(line[k]); k++)
				;
			if (j > i && (lv = word_level(line + j, k - j, true)) >= 0)
				return (enum loki_level)lv;
		}
	}
	return is_stderr ? LOKI_LEVEL_ERROR : LOKI_LEVEL_INFO;
}

/* ---- entries ---- */

/* The length of the valid UTF-8 character at @p (@n bytes left), or 0. */
static size_t utf8_char(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xf0 && p[1] < 0x90)) /* overlong */
		return 0;
	if (c == 0xed && p[1] > 0x9f) /* a surrogate */
		return 0;
	if (c == 0xf4 && p[1] > 0x8f) /* past U+10FFFF */
		return 0;
	return len;
}

/*
 * Writes the @len bytes at @src, cleaned (loki_format_entry()), to @dst,
 * which has room for min(3 * @len, LOKI_LINE_MAX) + 1 bytes. Returns the
 * length written.
 */
static size_t clean_line(char *dst, const char *src, size_t len)
{
	const size_t keep = LOKI_LINE_MAX - MARKER_MAX;
	size_t in = 0, out = 0, at_keep = 0, orig = len;
	bool cut = false;

	if (len && src[len - 1] == '\n')
		len--;
	if (len && src[len - 1] == '\r')
		len--;
	while (in < len) {
		size_t k = utf8_char((const unsigned char *)src + in, len - in);
		const char *piece = k ? src + in : "\xef\xbf\xbd"; /* U+FFFD */
		size_t plen = k ? k : 3;

		if (out + plen > LOKI_LINE_MAX) {
			cut = true;
			break;
		}
		memcpy(dst + out, piece, plen);
		out += plen;
		in += k ? k : 1;
		if (out <= keep)
			at_keep = out;
	}
	if (cut) {
		int m = snprintf(dst + at_keep, MARKER_MAX + 1, " [truncated from %zu bytes]",
				 orig);

		out = at_keep + (m > 0 ? (size_t)m : 0);
	}
	dst[out] = '\0';
	return out;
}

struct loki_entry *loki_format_entry(const char *tenant, const char *service, const char *host,
				     enum loki_level level, enum loki_source source, int64_t ts_ns,
				     const char *line, size_t len)
{
	size_t room = len >= LOKI_LINE_MAX / 3 ? LOKI_LINE_MAX : 3 * len;
	struct loki_entry *e = xmalloc(sizeof(*e) + room + 1);

	memset(e, 0, sizeof(*e));
	e->ts_ns = ts_ns;
	e->level = (uint8_t)level;
	e->source = (uint8_t)source;
	snprintf(e->tenant, sizeof(e->tenant), "%s", tenant && *tenant ? tenant : "default");
	snprintf(e->service, sizeof(e->service), "%s",
		 service && *service ? service : "aggregator");
	snprintf(e->host, sizeof(e->host), "%s", host ? host : "");
	e->len = clean_line(e->line, line ? line : "", line ? len : 0);
	/* room was for the worst case (every byte escaped): the queue holds what the line needs */
	return xreallocarray(e, 1, sizeof(*e) + e->len + 1);
}

static const char *severity_name(enum store_severity s)
{
	return s == STORE_SEVERITY_CRITICAL  ? "critical"
	       : s == STORE_SEVERITY_WARNING ? "warning"
					     : "info";
}

struct loki_entry *loki_format_event(const struct store_event *e, const char *host)
{
	int source = loki_format_event_source(e->type);
	json_t *doc, *data, *line;
	const char *service, *h;
	struct loki_entry *out = NULL;
	char *summary, *text;

	if (source < 0 || !e->json)
		return NULL;
	doc = json_loads(e->json, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return NULL;
	}
	data = json_object_get(doc, "data");
	service = e->service[0] ? e->service : json_string_value(json_object_get(data, "service"));
	h = json_string_value(json_object_get(data, "host"));
	summary = webhooks_format_summary(
		&(struct webhooks_event){ .id = e->id,
					  .type = (enum bus_type)e->type,
					  .severity = (enum store_severity)e->severity,
					  .tenant = e->tenant,
					  .service = service ? service : "",
					  .json = e->json,
					  .json_len = strlen(e->json) },
		json_is_object(data) ? data : NULL);
	line = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:I, s:O, s:O}", "type",
		bus_type_name((enum bus_type)e->type), "service", service ? service : "", "message",
		summary, "severity", severity_name((enum store_severity)e->severity), "tenant",
		e->tenant, "event_id", (json_int_t)e->id, "timestamp",
		json_object_get(doc, "timestamp") ? json_object_get(doc, "timestamp") : json_null(),
		"data", json_is_object(data) ? data : json_null());
	text = line ? json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	if (text)
		out = loki_format_entry(
			e->tenant, service, h && *h ? h : host,
			loki_format_event_level(e->type, (enum store_severity)e->severity),
			(enum loki_source)source, e->at_ms * (int64_t)NSEC_PER_MSEC, text,
			strlen(text));
	free(text);
	free(summary);
	json_decref(line);
	json_decref(doc);
	return out;
}

/* ---- static labels ---- */

bool loki_format_label_name_ok(const char *name)
{
	if (!name || !(is_alpha(*name) || *name == '_'))
		return false;
	for (const char *p = name + 1; *p; p++)
		if (!is_alpha(*p) && *p != '_' && !(*p >= '0' && *p <= '9'))
			return false;
	return true;
}

static bool utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if (!(k = utf8_char((const unsigned char *)s + i, n - i)))
			return false;
	return true;
}

/* @s (@n bytes) without its leading and trailing spaces: *@start and the new length. */
static size_t trim(const char *s, size_t n, const char **start)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*start = s;
	return n;
}

/* Parses the one label @s (@len bytes) into @l: 0 or -EINVAL with @err. */
static int label_parse(const char *s, size_t len, struct loki_label *l, char *err, size_t errlen)
{
	const char *eq = memchr(s, '=', len), *name, *value;
	size_t nlen, vlen;

	if (!eq) {
		snprintf(err, errlen, "'%.*s' is not NAME=VALUE", (int)(len > 100 ? 100 : len), s);
		return -EINVAL;
	}
	nlen = trim(s, (size_t)(eq - s), &name);
	vlen = trim(eq + 1, len - (size_t)(eq - s) - 1, &value);
	if (nlen >= sizeof(l->name)) {
		snprintf(err, errlen, "label name '%.40s...' is longer than %zu characters", name,
			 sizeof(l->name) - 1);
		return -EINVAL;
	}
	memcpy(l->name, name, nlen);
	l->name[nlen] = '\0';
	if (!loki_format_label_name_ok(l->name)) {
		snprintf(err, errlen, "'%s' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", l->name);
		return -EINVAL;
	}
	if (!strncmp(l->name, "__", 2)) {
		snprintf(err, errlen, "label names starting with __ are reserved: '%s'", l->name);
		return -EINVAL;
	}
	for (size_t i = 0; i < PRP_ARRAY_SIZE(own_labels); i++) {
		if (!strcmp(l->name, own_labels[i])) {
			snprintf(err, errlen,
				 "label '%s' is set by the exporter (service_name, host, level, "
				 "source, tenant)",
				 l->name);
			return -EINVAL;
		}
	}
	if (!vlen || vlen >= sizeof(l->value) || !utf8_valid(value, vlen)) {
		snprintf(err, errlen, "label '%s' needs a value of 1 to %zu UTF-8 bytes", l->name,
			 sizeof(l->value) - 1);
		return -EINVAL;
	}
	memcpy(l->value, value, vlen);
	l->value[vlen] = '\0';
	return 0;
}

int loki_format_labels_parse(const char *text, struct loki_label *out, size_t max, size_t *n,
			     char *err, size_t errlen)
{
	const char *p = text;

	*n = 0;
	if (!text || !*text)
		return 0;
	for (;;) {
		const char *comma = strchr(p, ','), *part;
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		struct loki_label l;
		int ret;

		len = trim(p, len, &part);
		if (len) { /* "a=1," and "a=1,,b=2" are forgiven */
			ret = label_parse(part, len, &l, err, errlen);
			if (ret)
				return ret;
			for (size_t i = 0; i < *n; i++) {
				if (!strcmp(out[i].name, l.name)) {
					snprintf(err, errlen, "label '%s' is given twice", l.name);
					return -EINVAL;
				}
			}
			if (*n == max) {
				snprintf(err, errlen, "more than %zu labels", max);
				return -EINVAL;
			}
			out[(*n)++] = l;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* ---- the body ---- */

/* Label set first (tenant, service, host, level, source), then time, then queue order. */
static int entry_cmp(const void *a, const void *b)
{
	const struct loki_entry *x = *(struct loki_entry *const *)a;
	const struct loki_entry *y = *(struct loki_entry *const *)b;
	int c;

	if ((c = strcmp(x->tenant, y->tenant)) || (c = strcmp(x->service, y->service)) ||
	    (c = strcmp(x->host, y->host)))
		return c;
	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	if (x->source != y->source)
		return x->source < y->source ? -1 : 1;
	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool same_stream(const struct loki_entry *x, const struct loki_entry *y)
{
	return !strcmp(x->tenant, y->tenant) && !strcmp(x->service, y->service) &&
	       !strcmp(x->host, y->host) && x->level == y->level && x->source == y->source;
}

/* Appends @s (@n bytes of valid UTF-8) as a JSON string. */
static int append_json_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;
	int err = buf_append(b, "\"", 1);

	for (size_t i = 0; !err && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = "\\";
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		err = buf_append(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		if (!err)
			err = buf_append(b, esc, elen);
	}
	if (!err)
		err = buf_append(b, s + run, n - run);
	return err ? err : buf_append(b, "\"", 1);
}

static int append_label(struct buf *b, bool first, const char *name, const char *value)
{
	int err = first ? 0 : buf_append(b, ",", 1);

	if (!err)
		err = append_json_string(b, name, strlen(name));
	if (!err)
		err = buf_append(b, ":", 1);
	return err ? err : append_json_string(b, value, strlen(value));
}

/* {"stream":{...},"values":[ of the stream of @e. */
static int stream_open(struct buf *b, const struct loki_entry *e, const struct loki_label *labels,
		       size_t nlabels)
{
	int err = buf_append_str(b, "{\"stream\":{");

	if (!err)
		err = append_label(b, true, "service_name", e->service);
	if (!err)
		err = append_label(b, false, "host", e->host);
	if (!err)
		err = append_label(b, false, "level", loki_format_level_name(e->level));
	if (!err)
		err = append_label(b, false, "source", loki_format_source_name(e->source));
	/* the default tenant's streams carry no tenant label: a single-tenant setup sees none */
	if (!err && strcmp(e->tenant, "default"))
		err = append_label(b, false, "tenant", e->tenant);
	for (size_t i = 0; !err && i < nlabels; i++)
		err = append_label(b, false, labels[i].name, labels[i].value);
	return err ? err : buf_append_str(b, "},\"values\":[");
}

int loki_format_body(struct buf *b, struct loki_entry **v, size_t n,
		     const struct loki_label *labels, size_t nlabels)
{
	int err;

	if (n > 1)
		qsort(v, n, sizeof(*v), entry_cmp);
	err = buf_append_str(b, "{\"streams\":[");
	for (size_t i = 0; !err && i < n; i++) {
		bool first = !i || !same_stream(v[i - 1], v[i]);

		if (first && i)
			err = buf_append_str(b, "]},");
		if (!err && first)
			err = stream_open(b, v[i], labels, nlabels);
		if (!err)
			err = buf_appendf(b, "%s[\"%lld\",", first ? "" : ",",
					  (long long)(v[i]->ts_ns > 0 ? v[i]->ts_ns : 0));
		if (!err)
			err = append_json_string(b, v[i]->line, v[i]->len);
		if (!err)
			err = buf_append(b, "]", 1);
	}
	if (!err && n)
		err = buf_append_str(b, "]}");
	return err ? err : buf_append_str(b, "]}");
}
