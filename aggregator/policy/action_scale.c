/*
 * scale. What goes into a shell command or a URL path is only the service
 * name, checked first: a shell command gets names of [A-Za-z0-9._-] only
 * (nothing the shell would read as syntax), a Kubernetes path a DNS-1123
 * name (what a deployment may be called), so no name can inject.
 */
#include "aggregator/policy/action_scale.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/policy/action_exec.h"
#include "aggregator/policy/deliver.h"
#include "common/alloc.h"
#include "common/log.h"

/* What the action asks: an absolute count, or an increment. */
struct scale_ask {
	bool relative;
	long long replicas; /* absolute */
	long long by;	    /* relative */
	long long min, max; /* max 0: no bound */
};

static void ask_of(const struct action_ctx *ctx, struct scale_ask *s)
{
	s->relative = !json_object_get(ctx->params, "replicas");
	s->replicas = (long long)action_ctx_num(ctx, "replicas", 0);
	s->by = (long long)action_ctx_num(ctx, "scale_up_by", 1);
	s->min = (long long)action_ctx_num(ctx, "min", 0);
	s->max = (long long)action_ctx_num(ctx, "max", 0);
}

static bool shell_safe(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static enum store_action_status by_command(struct action_ctx *ctx, const struct scale_ask *s)
{
	static const char *const names[] = { "service", "replicas" };
	const char *values[2];
	char replicas[32];
	enum store_action_status st;
	char *command;

	if (!shell_safe(ctx->a->service))
		return action_ctx_fail(ctx, "service name '%s' is not safe in a shell command",
				       ctx->a->service);
	if (s->relative)
		snprintf(replicas, sizeof(replicas), "+%lld", s->by);
	else
		snprintf(replicas, sizeof(replicas), "%lld", s->replicas);
	values[0] = ctx->a->service;
	values[1] = replicas;
	command = action_ctx_expand(ctx->cfg->scale_command, names, values, 2);
	action_ctx_result(ctx, json_pack("{s:s}", "replicas", replicas));
	st = action_exec_command(ctx, command);
	free(command);
	return st;
}

/* A DNS-1123 subdomain: lowercase alphanumerics, '-' and '.', alphanumeric at both ends. */
static bool kube_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return true;
}

/* The token file's first line, or NULL when @path is NULL or unreadable (logged in @ctx). */
static char *read_token(struct action_ctx *ctx, const char *path)
{
	char *tok;
	size_t n;
	FILE *f;

	if (!path)
		return NULL;
	f = fopen(path, "re");
	if (!f) {
		action_ctx_log(ctx, "cannot read the token file %s: %s", path, strerror(errno));
		return NULL;
	}
	tok = xcalloc(1, ACTION_SCALE_TOKEN_MAX + 1);
	n = fread(tok, 1, ACTION_SCALE_TOKEN_MAX, f);
	fclose(f);
	tok[n] = '\0';
	tok[strcspn(tok, "\r\n")] = '\0';
	for (n = strlen(tok); n && isspace((unsigned char)tok[n - 1]); n--)
		tok[n - 1] = '\0';
	return tok;
}

/* One call; 0 and the answer's JSON (new reference, may be NULL) on a 2xx. */
static int kube_call(struct action_ctx *ctx, const char *method, const char *url, const char *body,
		     const char *token, json_t **answer)
{
	char *auth = token && *token ? xasprintf("Authorization: Bearer %s", token) : NULL;
	const char *headers[4] = { "Accept: application/json" };
	struct deliver_response rs;
	size_t nh = 1;
	int err;

	if (body)
		headers[nh++] = "Content-Type: application/merge-patch+json";
	if (auth)
		headers[nh++] = auth;
	headers[nh] = NULL;
	deliver_response_init(&rs);
	err = deliver_http(&(struct deliver_request){ .method = method,
						      .url = url,
						      .headers = headers,
						      .body = body,
						      .len = body ? strlen(body) : 0,
						      .timeout_ms = ACTION_SCALE_KUBE_TIMEOUT_MS,
						      .ca_file = ctx->cfg->kube_ca_file },
			   &rs);
	free(auth);
	if (err) {
		action_ctx_log(ctx, "%s %s: %s", method, url, rs.error);
	} else {
		action_ctx_log(ctx, "%s %s: HTTP %ld", method, url, rs.status);
		if (rs.status < 200 || rs.status > 299) {
			/* the API server's Status says why: keep its first line */
			action_ctx_output(ctx, rs.body.data, rs.body.len < 512 ? rs.body.len : 512);
			err = -EIO;
		}
	}
	*answer = err ? NULL : json_loadb((const char *)rs.body.data, rs.body.len, 0, NULL);
	if (!err)
		json_object_set_new(ctx->result, "status_code", json_integer(rs.status));
	deliver_response_release(&rs);
	return err;
}

static enum store_action_status by_kube(struct action_ctx *ctx, const struct scale_ask *s)
{
	const char *ns = ctx->cfg->kube_namespace ? ctx->cfg->kube_namespace : "default";
	const char *base = ctx->cfg->kube_api;
	size_t blen = strlen(base);
	long long target = s->replicas, current = -1;
	char *url, *token, body[64];
	json_t *answer = NULL;
	int err = 0;

	if (!kube_name_ok(ctx->a->service) || !kube_name_ok(ns))
		return action_ctx_fail(ctx, "'%s' in namespace '%s' is not a Kubernetes name",
				       ctx->a->service, ns);
	while (blen && base[blen - 1] == '/')
		blen--;
	url = xasprintf("%.*s/apis/apps/v1/namespaces/%s/deployments/%s/scale", (int)blen, base, ns,
			ctx->a->service);
	token = read_token(ctx, ctx->cfg->kube_token_file);
	action_ctx_result(ctx, json_object());
	if (s->relative) {
		err = kube_call(ctx, "GET", url, NULL, token, &answer);
		current = json_integer_value(
			json_object_get(json_object_get(answer, "spec"), "replicas"));
		if (!err &&
		    !json_is_integer(json_object_get(json_object_get(answer, "spec"), "replicas")))
			err = -EPROTO;
		json_decref(answer);
		target = current + s->by;
	}
	if (!err) {
		if (target < s->min)
			target = s->min;
		if (s->max && target > s->max)
			target = s->max;
		if (current >= 0)
			json_object_set_new(ctx->result, "previous", json_integer(current));
		json_object_set_new(ctx->result, "replicas", json_integer(target));
		snprintf(body, sizeof(body), "{\"spec\":{\"replicas\":%lld}}", target);
		err = kube_call(ctx, "PATCH", url, body, token, &answer);
		json_decref(answer);
	}
	free(token);
	free(url);
	if (err == -EPROTO)
		return action_ctx_fail(ctx, "the scale of deployment %s has no spec.replicas",
				       ctx->a->service);
	if (err)
		return action_ctx_fail(ctx, "the Kubernetes API refused or did not answer");
	action_ctx_log(ctx, "deployment %s/%s scaled to %lld replicas", ns, ctx->a->service,
		       target);
	return STORE_ACTION_SUCCEEDED;
}

enum store_action_status action_scale_run(struct action_ctx *ctx)
{
	struct scale_ask s;

	ask_of(ctx, &s);
	if (ctx->cfg->scale_command && *ctx->cfg->scale_command)
		return by_command(ctx, &s);
	if (ctx->cfg->kube_api && *ctx->cfg->kube_api)
		return by_kube(ctx, &s);
	return action_ctx_fail(ctx, "scale is not configured");
}
