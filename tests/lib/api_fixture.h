/*
 * A running aggregator API for the tests of its routes over HTTP: listening
 * on 127.0.0.1 (an ephemeral port) over a store in a temporary directory
 * and an in-memory series, in front of a policy engine and an executor when
 * the test asks for them. The engine's own thread evaluates once an hour:
 * nothing is decided while a test runs unless the test asks for it.
 *
 * Header-only, static inline: it starts aggregator code, and the objects of
 * tests/lib/ are linked into every unit test, also those of common/ and
 * agent/ that link no aggregator code.
 */
#ifndef PRP_TESTS_LIB_API_FIXTURE_H
#define PRP_TESTS_LIB_API_FIXTURE_H

#include <criterion/criterion.h>
#include <string.h>

#include "aggregator/auth/audit_log.h"
#include "aggregator/auth/keys.h"
#include "aggregator/events/bus.h"
#include "aggregator/http/api.h"
#include "aggregator/policy/engine.h"
#include "aggregator/policy/executor.h"
#include "aggregator/series.h"
#include "aggregator/store/store.h"
#include "aggregator/webhooks/webhooks.h"
#include "tests/lib/tmpdir.h"

/* What runs behind the API besides the store and the series. */
enum api_fixture_flags {
	API_FIXTURE_ENGINE = 1 << 0,
	API_FIXTURE_EXECUTOR = 1 << 1, /* the engine's: one worker, short timeouts */
	API_FIXTURE_AUTH = 1 << 2,     /* keys required; an admin key made (admin_key) */
	API_FIXTURE_WEBHOOKS = 1 << 3, /* webhooks on the bus, retrying fast (below) */
};

/* With API_FIXTURE_WEBHOOKS: up to 5 attempts, 20 ms then doubling up to 200 ms apart. */
#define API_FIXTURE_WEBHOOK_ATTEMPTS   5
#define API_FIXTURE_WEBHOOK_BACKOFF_MS 20

/* With API_FIXTURE_AUTH: limits (NULL: none) and HTTPS (both PEM texts, or NULL: HTTP). */
struct api_fixture_auth {
	const struct api_limits *limits;
	const char *tls_cert_pem, *tls_key_pem;
};

/* No evaluation by the engine's own thread during a test. */
#define API_FIXTURE_QUIET_MS (3600 * 1000)

struct api_fixture {
	char dir[128];
	struct store_options so;
	struct series *series;
	struct executor *executor; /* NULL without API_FIXTURE_EXECUTOR */
	struct engine *engine;	   /* NULL without API_FIXTURE_ENGINE */
	struct keys *keys;	   /* NULL without API_FIXTURE_AUTH */
	struct bus *bus;	   /* always: the streams' */
	struct webhooks *webhooks; /* NULL without API_FIXTURE_WEBHOOKS */
	struct audit_log *audit;   /* NULL without API_FIXTURE_AUTH */
	char admin_key[APIKEY_LEN + 1]; /* of the default tenant, with API_FIXTURE_AUTH */
	struct api *api;
};

/*
 * Starts what @flags (enum api_fixture_flags) ask for, then the API, in
 * /tmp/prp-test-@what-XXXXXX. Without an engine the store is created before
 * the API starts, as it is once ingest has run. Asserts on failure.
 */
static inline void api_fixture_start_auth(struct api_fixture *f, const char *what,
					  unsigned flags, const struct api_fixture_auth *auth)
{
	struct api_config c = {
		.bind_address = "127.0.0.1",
		.threads = 2,
		.version = "test",
		.store = &f->so,
	};

	memset(f, 0, sizeof(*f));
	tmpdir_make(f->dir, sizeof(f->dir), what);
	f->so = (struct store_options){ .dir = f->dir, .raw_hours = 24, .minute_days = 14 };
	f->series = series_new();
	/* the store first (migrated), then what publishes and delivers events */
	{
		struct store *st;

		cr_assert_eq(store_open(&st, &f->so), 0);
		store_close(st);
	}
	cr_assert_eq(bus_open(&f->bus, &f->so), 0);
	c.bus = f->bus;
	if (flags & API_FIXTURE_WEBHOOKS) {
		struct webhooks_config wc = { .store = f->so,
					      .bus = f->bus,
					      .max_attempts = API_FIXTURE_WEBHOOK_ATTEMPTS,
					      .backoff_ms = API_FIXTURE_WEBHOOK_BACKOFF_MS,
					      .backoff_max_ms = 10 * API_FIXTURE_WEBHOOK_BACKOFF_MS,
					      .timeout_ms = 2000 };

		cr_assert_eq(webhooks_start(&f->webhooks, &wc), 0);
		c.webhooks = f->webhooks;
	}
	if (flags & API_FIXTURE_EXECUTOR) {
		struct executor_config xc;

		executor_config_default(&xc);
		xc.store = f->so;
		xc.workers = 1;
		xc.exec_timeout_ms = 2000;
		xc.agent_timeout_ms = 1000;
		xc.bus = f->bus;
		xc.webhooks = f->webhooks;
		cr_assert_eq(executor_start(&f->executor, &xc), 0);
	}
	if (flags & API_FIXTURE_ENGINE) {
		struct engine_config ec;

		engine_config_default(&ec);
		ec.store = f->so;
		ec.series = f->series;
		ec.executor = f->executor;
		ec.interval_ms = API_FIXTURE_QUIET_MS;
		ec.bus = f->bus;
		cr_assert_eq(engine_start(&f->engine, &ec), 0);
	}
	c.series = f->series;
	c.engine = f->engine;
	c.executor = f->executor;
	if (flags & API_FIXTURE_AUTH) {
		struct store_key admin = { .tenant = "default", .name = "admin", .role = ROLE_ADMIN };

		cr_assert_eq(audit_log_open(&f->audit, &f->so), 0);
		cr_assert_eq(keys_open(&f->keys, &f->so), 0);
		cr_assert_eq(keys_create(f->keys, &admin, 1, f->admin_key), 0);
		c.keys = f->keys;
		c.audit = f->audit;
		if (auth && auth->limits) {
			c.rate_limit = true;
			c.limits = *auth->limits;
		}
		c.tls_cert_pem = auth ? auth->tls_cert_pem : NULL;
		c.tls_key_pem = auth ? auth->tls_key_pem : NULL;
	}
	cr_assert_eq(api_start(&f->api, &c), 0);
}

static inline void api_fixture_start(struct api_fixture *f, const char *what, unsigned flags)
{
	api_fixture_start_auth(f, what, flags, NULL);
}

/* Stops all that api_fixture_start() started and removes its directory. */
static inline void api_fixture_stop(struct api_fixture *f)
{
	api_stop(f->api);
	keys_close(f->keys);
	audit_log_close(f->audit);
	engine_stop(f->engine);
	executor_stop(f->executor); /* it publishes, and queues deliveries */
	webhooks_stop(f->webhooks); /* before the bus it watches */
	bus_close(f->bus);
	series_free(f->series);
	tmpdir_remove(f->dir);
}

/* The port the API listens on. */
static inline unsigned api_fixture_port(const struct api_fixture *f)
{
	return api_port(f->api);
}

#endif
