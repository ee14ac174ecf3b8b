#include "tests/lib/demo_services.h"

#include "tests/lib/http.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define DEMO_SERVICE PRP_BUILD_DIR "/prp-demo-service"

void demo_service_start(struct demo_service *s, const char *const argv_tail[])
{
	const char *argv[16] = { DEMO_SERVICE };
	const char *at;
	size_t n = 1;

	for (; argv_tail[n - 1] && n < 15; n++)
		argv[n] = argv_tail[n - 1];
	argv[n] = NULL;
	cr_assert_eq(proc_start(&s->proc, argv), 0);
	cr_assert_eq(proc_wait_for(&s->proc, "listening on http://", 10000), 0,
		     "%s did not start: %s", argv[2], buf_str(&s->proc.err));
	at = strstr(buf_str(&s->proc.err), "listening on http://");
	cr_assert_eq(sscanf(at, "listening on http://127.0.0.1:%d", &s->port), 1);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
}

void demo_trio_start(struct demo_trio *t)
{
	char call_users[96], call_payments[96];

	memset(t, 0, sizeof(*t));
	demo_service_start(&t->users,
			   (const char *const[]){ "--name", "users", "--port", "0", NULL });
	demo_service_start(&t->payments,
			   (const char *const[]){ "--name", "payments", "--port", "0", NULL });
	snprintf(call_users, sizeof(call_users), "users=%s", t->users.url);
	snprintf(call_payments, sizeof(call_payments), "payments=%s", t->payments.url);
	demo_service_start(&t->orders,
			   (const char *const[]){ "--name", "orders", "--port", "0", "--call",
						  call_users, "--call", call_payments, NULL });
}

void demo_trio_stop(struct demo_trio *t)
{
	struct demo_service *all[] = { &t->orders, &t->payments, &t->users };

	for (size_t i = 0; i < 3; i++) {
		if (all[i]->proc.pid)
			cr_expect_eq(proc_stop(&all[i]->proc, 5000), 0);
		proc_release(&all[i]->proc);
	}
}

void demo_request(const struct demo_service *s, const char *method, const char *path,
		  const char *body, long want)
{
	char url[256];
	struct buf resp;
	long status = 0;

	buf_init(&resp, 1 << 20);
	snprintf(url, sizeof(url), "%s%s", s->url, path);
	cr_assert_eq(http_call(method, url, body, &status, &resp, NULL), 0, "%s %s: no answer",
		     method, url);
	cr_assert_eq(status, want, "%s %s: %ld %s", method, path, status, buf_str(&resp));
	buf_release(&resp);
}
