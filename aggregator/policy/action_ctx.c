/*
 * The running action's logs and result. The logs stop growing a little
 * before the store's bound, leaving room for the line that says so, so an
 * action with a chatty command is stored rather than refused (-E2BIG); a
 * result too large for the store is replaced by a short one that says so.
 */
#include "aggregator/policy/action_ctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

#define TRUNCATED_LINE "[logs truncated: the store keeps 64 KiB]\n"
/* what the lines may fill: the bound less the truncation line */
#define LOGS_ROOM (ACTION_CTX_TEXT_MAX - sizeof(TRUNCATED_LINE))

int action_ctx_init(struct action_ctx *ctx, struct store_action *a,
		    const struct executor_config *cfg, struct breaker_loop *loop)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->a = a;
	ctx->cfg = cfg;
	ctx->loop = loop;
	buf_init(&ctx->logs, ACTION_CTX_TEXT_MAX);
	ctx->params = a->parameters ? json_loads(a->parameters, 0, NULL) : json_object();
	if (json_is_object(ctx->params))
		return 0;
	json_decref(ctx->params);
	ctx->params = json_object();
	return -EINVAL;
}

void action_ctx_release(struct action_ctx *ctx)
{
	json_decref(ctx->params);
	json_decref(ctx->result);
	buf_release(&ctx->logs);
	ctx->params = ctx->result = NULL;
}

/* The length of the valid UTF-8 sequence at @p (of @n bytes), 0 when invalid (RFC 3629). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned min;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, min = 0x80, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, min = 0x10000, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates and past U+10FFFF are not UTF-8 */
	if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Appends @len bytes, each invalid sequence or control byte (but \n and \t) as '?'. */
static void append_clean(struct action_ctx *ctx, const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len && !ctx->truncated) {
		size_t n = utf8_len(p + i, len - i);
		bool ok = n && (p[i] >= 0x20 || p[i] == '\n' || p[i] == '\t') && p[i] != 0x7f;
		const void *src = ok ? (const void *)(p + i) : "?";
		size_t w = ok ? n : 1;

		if (ctx->logs.len + w > LOGS_ROOM) {
			ctx->truncated = true;
			break;
		}
		if (buf_append(&ctx->logs, src, w)) /* within the cap: cannot fail */
			ctx->truncated = true;
		i += n ? n : 1;
	}
}

void action_ctx_log(struct action_ctx *ctx, const char *fmt, ...)
{
	char ts[TIME_ISO_LEN], line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	time_format_iso(time_real_ns(), ts);
	log_debug("executor: action %lld %s %s: %s", (long long)ctx->a->id, ctx->a->type,
		  ctx->a->service, line);
	append_clean(ctx, (const unsigned char *)ts, strlen(ts));
	append_clean(ctx, (const unsigned char *)" ", 1);
	append_clean(ctx, (const unsigned char *)line, strlen(line));
	append_clean(ctx, (const unsigned char *)"\n", 1);
}

void action_ctx_output(struct action_ctx *ctx, const void *data, size_t len)
{
	append_clean(ctx, data, len);
	if (len && ((const char *)data)[len - 1] != '\n')
		append_clean(ctx, (const unsigned char *)"\n", 1);
}

size_t action_ctx_room(const struct action_ctx *ctx)
{
	return ctx->logs.len < LOGS_ROOM ? LOGS_ROOM - ctx->logs.len : 0;
}

void action_ctx_result(struct action_ctx *ctx, json_t *result)
{
	json_decref(ctx->result);
	ctx->result = result;
}

enum store_action_status action_ctx_fail(struct action_ctx *ctx, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	action_ctx_log(ctx, "%s", msg);
	if (!json_is_object(ctx->result))
		action_ctx_result(ctx, json_object());
	json_object_set_new(ctx->result, "error", json_string(msg));
	return STORE_ACTION_FAILED;
}

/* The result's text, or a short one when it passes the store's bound. */
static char *result_text(const struct action_ctx *ctx)
{
	char *text = ctx->result ? json_dumps(ctx->result, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_t *err;

	if (!text || strlen(text) <= ACTION_CTX_TEXT_MAX)
		return text;
	free(text);
	err = json_object_get(ctx->result, "error");
	return xasprintf("{\"error\":%s,\"truncated\":true}",
			 json_is_string(err) ? "\"see the logs\"" : "null");
}

void action_ctx_save(struct action_ctx *ctx)
{
	struct store_action *a = ctx->a;

	free(a->logs);
	free(a->result);
	a->logs = NULL;
	if (ctx->logs.len || ctx->truncated)
		a->logs = xasprintf("%s%s", buf_str(&ctx->logs),
				    ctx->truncated ? TRUNCATED_LINE : "");
	a->result = result_text(ctx);
	if (ctx->save)
		ctx->save(ctx, ctx->save_arg);
}

const char *action_ctx_str(const struct action_ctx *ctx, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(ctx->params, key));

	return s ? s : def;
}

double action_ctx_num(const struct action_ctx *ctx, const char *key, double def)
{
	json_t *v = json_object_get(ctx->params, key);

	return json_is_number(v) ? json_number_value(v) : def;
}

char *action_ctx_expand(const char *tmpl, const char *const *names, const char *const *values,
			size_t n)
{
	struct buf out;
	unsigned char *text;
	size_t len;

	buf_init(&out, BUF_MAX_BYTES);
	for (const char *p = tmpl; *p;) {
		size_t i = n;

		if (*p == '{')
			for (i = 0; i < n; i++) {
				size_t k = strlen(names[i]);

				if (!strncmp(p + 1, names[i], k) && p[1 + k] == '}')
					break;
			}
		/* no cap on @out: these appends cannot fail */
		if (i < n) {
			if (buf_append_str(&out, values[i]))
				break;
			p += strlen(names[i]) + 2;
		} else {
			if (buf_append(&out, p, 1))
				break;
			p++;
		}
	}
	text = buf_detach(&out, &len);
	return (char *)text;
}
