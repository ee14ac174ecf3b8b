/*
 * The gate (gate.h). The order matters: a bad key is refused before
 * anything else, so a guesser learns nothing of routes; the rate limit
 * comes before the route, so refused requests cost no handler; a client
 * is its key ("key:ID"), or its IP without one, so a stolen IP cannot
 * drain a key's budget nor a key an IP's.
 */
#include "aggregator/http/gate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aggregator/auth/keys.h"
#include "aggregator/auth/ratelimit.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/dashboard.h"
#include "aggregator/http/routes.h"

/* The key of "Bearer KEY" (scheme case aside, spaces around), or NULL. */
static const char *bearer(const char *authorization, char *out, size_t cap)
{
	const char *p = authorization;
	size_t n;

	if (!p || strncasecmp(p, "Bearer ", 7))
		return NULL;
	for (p += 7; *p == ' '; p++)
		;
	n = strcspn(p, " ");
	if (!n || n >= cap || p[n + strspn(p + n, " ")])
		return NULL;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

/*
 * Sets who @rq is from its key: 0; -EACCES for a key that is not valid,
 * with the reason in *why, not answered yet (the caller answers 401 once
 * the IP's budget is charged); or -EINVAL with the 400 answered.
 */
static int gate_identify(struct req *rq, const struct gate_input *in, struct resp *rp,
			 struct key_identity *who, const char **why)
{
	char tok[APIKEY_LEN + 2];
	const char *key = in->x_api_key, *b = bearer(in->authorization, tok, sizeof(tok));

	rq->role = ROLE_PUBLIC;
	snprintf(rq->actor, sizeof(rq->actor), "anonymous");
	if (in->authorization && !b && !key) {
		*why = "the Authorization header is not 'Bearer <API key>'";
		return -EACCES;
	}
	if (key && b && strcmp(key, b))
		return resp_error(rp, 400, "bad_request",
				  "X-API-Key and Authorization carry two different keys");
	if (!key)
		key = b;
	if (!key)
		return 0;
	if (keys_verify(rq->env->keys, key, rq->now_ms, who)) {
		*why = "the API key is not valid";
		return -EACCES;
	}
	rq->role = who->role;
	rq->key_id = who->id;
	rq->key_name = who->name;
	rq->tenant = who->tenant;
	snprintf(rq->actor, sizeof(rq->actor), "key:%lld", (long long)who->id);
	return 0;
}

/*
 * The rate-limit client of a request without a key: its IPv4 address, or
 * the /64 of its IPv6 one (a host is given a whole /64: per address, it
 * would have millions of budgets).
 */
static void gate_client_of_ip(const char *ip, char *out, size_t cap)
{
	struct in6_addr a6;

	if (ip && strchr(ip, ':') && inet_pton(AF_INET6, ip, &a6) == 1) {
		char text[INET6_ADDRSTRLEN];

		memset(a6.s6_addr + 8, 0, 8);
		inet_ntop(AF_INET6, &a6, text, sizeof(text));
		snprintf(out, cap, "ip6:%s/64", text);
		return;
	}
	snprintf(out, cap, "ip:%s", ip ? ip : "?");
}

/* Takes a token for @rq: 0, or the 429 answered. The headers go on @rp either way. */
static int gate_limit(struct req *rq, const struct gate_input *in, const struct key_identity *who,
		      struct resp *rp)
{
	const struct api_limits *l = &rq->env->limits;
	uint64_t pm = l->per_minute[rq->role], ph = l->per_hour[rq->role];
	struct ratelimit_verdict v;
	char client[80];

	if (rq->key_id) {
		snprintf(client, sizeof(client), "key:%lld", (long long)rq->key_id);
		if (who->per_minute)
			pm = who->per_minute;
		if (who->per_hour)
			ph = who->per_hour;
	} else {
		gate_client_of_ip(in->client_ip, client, sizeof(client));
	}
	if (!pm && !ph)
		return 0;
	ratelimit_take(rq->env->ratelimit, client, pm, ph, rq->now_ms, &v);
	rp->rate_limited = true;
	rp->rate_limit = pm ? pm : ph;
	rp->rate_remaining = v.remaining;
	rp->rate_reset_s = v.reset_s;
	if (v.allowed)
		return 0;
	resp_error(rp, 429, "rate_limited",
		   "more than %llu requests per minute or %llu per hour; retry in %llu s",
		   (unsigned long long)pm, (unsigned long long)ph,
		   (unsigned long long)v.retry_after_s);
	rp->retry_after_s = v.retry_after_s;
	return -EAGAIN;
}

void gate_serve(struct req *rq, const struct gate_input *in, struct resp *rp)
{
	struct key_identity who = { 0 };
	const char *why = NULL;
	int err;

	if (!rq->env || !rq->env->keys) {
		rq->role = ROLE_ADMIN;
		snprintf(rq->actor, sizeof(rq->actor), "api");
	} else if ((err = gate_identify(rq, in, rp, &who, &why))) {
		/*
		 * A refused key costs its IP a token as a request without a key
		 * would: guessing keys (hopeless at 256 bits) gets no more tries
		 * than anonymous requests, and past them a 429 says so.
		 */
		if (err == -EACCES && (!rq->env->ratelimit || !gate_limit(rq, in, &who, rp)))
			resp_error(rp, 401, "unauthorized", "%s", why);
		return;
	}
	/*
	 * The dashboard's files ("/", "/ui/...", no route's paths) are public
	 * (the page holds no data; its scripts send the key) and not charged
	 * to the rate limit: one page load is some fifteen files, which would
	 * spend an anonymous IP's budget in a few reloads.
	 */
	if (rq->env && rq->env->dashboard && dashboard_serve(rq->env->dashboard, rq, rp))
		return;
	if (rq->env && rq->env->ratelimit && gate_limit(rq, in, &who, rp))
		return;
	if (in->body_too_large)
		resp_error(rp, 413, "payload_too_large", "the body is larger than %zu bytes",
			   in->body_too_large);
	else if (rq->query_overflow) /* every route, also those that read no parameter */
		resp_error(rp, 400, "bad_request", "more than %d query parameters", REQ_QUERY_MAX);
	else
		routes_dispatch(rq, rp);
}
