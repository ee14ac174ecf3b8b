/*
 * libFuzzer target for the demo services' request handling (demo/router.c
 * and everything behind it: JSON bodies, field checks, chaos settings, ids,
 * query limits). Input: one byte for the role, "METHOD PATH[?limit=N]\n",
 * then the body. Whatever the input, router_handle() must answer with a
 * status and a JSON body, and leak nothing. orders talks to a fake upstream.
 * Chaos is cleared after every input, so no setting slows the next one.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "demo/reply.h"
#include "demo/req.h"
#include "demo/router.h"
#include "demo/shop.h"
#include "demo/upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_call(void *ctx, const struct upstream_request *rq, struct upstream_response *rs,
		     char *err, size_t errlen)
{
	(void)ctx;
	(void)err;
	(void)errlen;
	rs->status = strcmp(rq->service, "users") ? 201 : 200;
	return buf_append_str(&rs->body, "{\"id\":1}");
}

static struct shop *shops[3];

static void fuzz_init(void)
{
	log_init("fuzz_router", LOG_LEVEL_ERROR, LOG_TO_STDERR);
	for (int role = 0; role < 3; role++) {
		struct shop_config cfg;

		shop_config_init(&cfg, (enum shop_role)role);
		cfg.store_max_records = 2000; /* the fuzzer creates records forever */
		cfg.leak_cap_bytes = 1 << 20;
		cfg.upstream = (struct upstream){ .call = fake_call, .ctx = NULL };
		shops[role] = shop_new(&cfg);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line, *method, *path, *query, *nl;
	struct shop *s;
	struct reply rp;
	struct req rq;
	json_t *doc;

	if (!shops[0])
		fuzz_init();
	if (size < 1)
		return 0;
	s = shops[data[0] % 3];
	line = strndup((const char *)data + 1, size - 1);
	nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	method = line;
	path = strchr(line, ' ');
	if (path)
		*path++ = '\0';
	else
		path = "/";
	query = strchr(path, '?');
	if (query)
		*query++ = '\0';

	req_init(&rq, method, path, "fuzz");
	if (query && !strncmp(query, "limit=", 6) && req_add_query(&rq, "limit", query + 6))
		abort();
	if (nl) {
		rq.body = data + 1 + (size_t)(nl - line) + 1;
		rq.body_len = size - 1 - (size_t)(nl - line) - 1;
	}
	reply_init(&rp, rq.request_id);
	router_handle(s, &rq, &rp);
	if (rp.status < 200 || rp.status > 599 || !rp.body)
		abort();
	doc = json_loadb(rp.body, rp.body_len, 0, NULL);
	if (!doc)
		abort();
	json_decref(doc);
	reply_release(&rp);
	chaos_clear(&s->chaos);
	free(line);
	return 0;
}
