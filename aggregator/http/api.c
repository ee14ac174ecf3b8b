/*
 * Start and stop of the API: the shared state handlers read (struct
 * api_env), then the server. Stopping goes in the reverse order, so no
 * worker can touch the stores or the cache once they are freed.
 */
#include "aggregator/http/api.h"

#include <errno.h>
#include <stdlib.h>

#include "aggregator/analysis/chat_sessions.h"
#include "aggregator/auth/ratelimit.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/health_cache.h"
#include "aggregator/http/http.h"
#include "aggregator/http/readers.h"
#include "aggregator/store/store.h"
#include "aggregator/stream/ws_hub.h"
#include "common/alloc.h"
#include "common/timeutil.h"

/* Conversations of /chat remembered, and for how long after their last question. */
#define API_CHAT_CONVERSATIONS	     1024
#define API_CHAT_CONVERSATION_TTL_MS (3600 * 1000)

struct api {
	struct api_env env;
	char *version;
	char *data_dir;
	struct http_server *server;
	struct http_server *compat[API_COMPAT_NPORTS];
};

int api_start(struct api **out, const struct api_config *c)
{
	struct api *a;
	struct http_options ho = {
		.bind_address = c->bind_address ? c->bind_address : "0.0.0.0",
		.port = c->port,
		.threads = c->threads ? c->threads : 1,
		.connection_limit =
			c->connection_limit ? c->connection_limit : API_CONNECTION_LIMIT,
		.per_ip_connection_limit = c->per_ip_connection_limit,
		.connection_timeout_s = c->connection_timeout_s ? c->connection_timeout_s
								: API_CONNECTION_TIMEOUT_S,
	};
	int err;

	if (!c->store)
		return -EINVAL;
	a = xcalloc(1, sizeof(*a));
	a->version = xstrdup(c->version ? c->version : "unknown");
	a->env.version = a->version;
	a->env.start_mono_ns = time_mono_ns();
	a->env.series = c->series;
	a->env.ingest_status = c->ingest_status;
	a->env.ingest_arg = c->ingest_arg;
	a->env.detection = c->detection;
	a->env.engine = c->engine;
	a->env.executor = c->executor;
	a->env.llm = c->llm;
	a->env.keys = c->keys;
	a->env.bus = c->bus;
	a->env.webhooks = c->webhooks;
	a->env.loki = c->loki;
	a->env.otlp = c->otlp;
	a->env.audit = c->audit;
	a->env.dashboard = c->dashboard;
	a->data_dir = xstrdup(c->store->dir);
	a->env.data_dir = a->data_dir;
	if (c->rate_limit) {
		a->env.ratelimit = ratelimit_new();
		a->env.limits = c->limits;
	}
	a->env.chat = chat_sessions_new(API_CHAT_CONVERSATIONS, API_CHAT_CONVERSATION_TTL_MS);
	/* the WebSocket stream's connections; stopped before the servers (api_stop) */
	if (c->bus) {
		err = ws_hub_new(&a->env.ws_hub, &(struct ws_hub_options){ .bus = c->bus });
		if (err)
			goto out_free;
	}
	err = readers_new(&a->env.readers, c->store);
	if (err)
		goto out_free;
	err = health_cache_new(&a->env.health, c->series, c->detection);
	if (err)
		goto out_readers;
	ho.env = &a->env;
	ho.tls_cert_pem = c->tls_cert_pem;
	ho.tls_key_pem = c->tls_key_pem;
	ho.access_log = c->access_log;
	err = http_start(&a->server, &ho);
	if (err)
		goto out_env;
	if (c->compat_ports) {
		static const uint16_t ports[] = API_COMPAT_PORTS;

		for (size_t i = 0; i < API_COMPAT_NPORTS; i++) {
			ho.port = ports[i];
			err = http_start(&a->compat[i], &ho);
			if (err)
				goto out_server;
		}
	}
	*out = a;
	return 0;

out_server:
	ws_hub_stop(a->env.ws_hub);
	for (size_t i = 0; i < API_COMPAT_NPORTS; i++)
		http_stop(a->compat[i]);
	http_stop(a->server);
out_env:
	health_cache_free(a->env.health);
out_readers:
	readers_free(a->env.readers);
out_free:
	ws_hub_free(a->env.ws_hub);
	ratelimit_free(a->env.ratelimit);
	chat_sessions_free(a->env.chat);
	free(a->data_dir);
	free(a->version);
	free(a);
	return err;
}

uint16_t api_port(const struct api *a)
{
	return http_port(a->server);
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	/* every upgraded connection given back first: MHD must not stop with one open */
	ws_hub_stop(a->env.ws_hub);
	for (size_t i = 0; i < API_COMPAT_NPORTS; i++)
		http_stop(a->compat[i]);
	http_stop(a->server);
	ws_hub_free(a->env.ws_hub); /* after the servers: no handover can come any more */
	health_cache_free(a->env.health);
	readers_free(a->env.readers);
	chat_sessions_free(a->env.chat);
	ratelimit_free(a->env.ratelimit);
	free(a->data_dir);
	free(a->version);
	free(a);
}
