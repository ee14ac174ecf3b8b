/*
 * The webhooks tables (aggregator/store/store_webhooks.c) on a real store:
 * hooks by tenant, the deliveries a sender is offered (each hook's oldest
 * pending one, of enabled hooks, when due), the cursor moved in the
 * transaction that adds deliveries (and kept across a reopen), a deleted
 * hook's pending deliveries failed, lists newest first, and pruning.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/store/store.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

static char dir[64];
static struct store_options so;
static struct store *s;

static void init(void)
{
	tmpdir_make(dir, sizeof(dir), "store-webhooks");
	so = (struct store_options){ .dir = dir, .raw_hours = 24, .minute_days = 14 };
	cr_assert_eq(store_open(&s, &so), 0);
}

static void fini(void)
{
	store_close(s);
	s = NULL;
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(store_webhooks, .init = init, .fini = fini);

static int64_t hook(const char *tenant, bool enabled)
{
	struct store_webhook h = { .enabled = enabled, .format = STORE_WEBHOOK_JSON };

	snprintf(h.tenant, sizeof(h.tenant), "%s", tenant);
	h.url = (char *)(uintptr_t) "http://127.0.0.1:9/hook";
	h.created_ms = h.updated_ms = 1000;
	cr_assert_eq(store_webhook_put(s, &h), 0);
	cr_assert_gt(h.id, 0);
	return h.id;
}

/* Adds one pending delivery of hook @hid due at @at_ms; its id. */
static int64_t delivery(int64_t hid, const char *tenant, int64_t event_id, int64_t at_ms)
{
	struct store_webhook_delivery d = { .webhook_id = hid,
					    .event_id = event_id,
					    .type = 0,
					    .body = (char *)(uintptr_t) "{\"n\":1}",
					    .body_len = 7,
					    .next_attempt_ms = at_ms,
					    .created_ms = at_ms };

	snprintf(d.tenant, sizeof(d.tenant), "%s", tenant);
	cr_assert_eq(store_webhook_deliveries_add(s, &d, 1, 0), 0);
	cr_assert_gt(d.id, 0);
	return d.id;
}

/* The ids store_webhook_deliveries_due() offers at @now, into @ids; how many. */
static size_t due(int64_t now, int64_t *ids, size_t cap, int64_t *next)
{
	struct store_webhook_delivery *v;
	size_t n;

	cr_assert_eq(store_webhook_deliveries_due(s, now, 0, &v, &n, next), 0);
	cr_assert_leq(n, cap);
	for (size_t i = 0; i < n; i++) {
		ids[i] = v[i].id;
		cr_assert_str_eq(v[i].body, "{\"n\":1}");
		cr_assert_eq(v[i].body_len, 7);
	}
	store_webhook_deliveries_free(v, n);
	return n;
}

static void finish(int64_t id, int status)
{
	struct store_webhook_delivery d = { .id = id,
					    .status = status,
					    .attempts = 1,
					    .last_status_code = 200,
					    .completed_ms = 5000 };

	cr_assert_eq(store_webhook_delivery_update(s, &d), 0);
}

Test(store_webhooks, hooks_are_kept_per_tenant)
{
	struct store_webhook h = { .enabled = true, .format = STORE_WEBHOOK_PAGERDUTY };
	struct store_webhook got, *v;
	int64_t other;
	size_t n;

	snprintf(h.tenant, sizeof(h.tenant), "a");
	h.url = strdup("https://example.com/x");
	h.secret = strdup("s3cret");
	h.headers = strdup("{\"X-Team\":\"ops\"}");
	h.routing_key = strdup("R0UT1NG");
	h.events = 5;
	h.created_ms = 1;
	h.updated_ms = 2;
	cr_assert_eq(store_webhook_put(s, &h), 0);
	other = hook("b", true);

	cr_assert_eq(store_webhook_get(s, "a", h.id, &got), 0);
	cr_assert_str_eq(got.url, h.url);
	cr_assert_str_eq(got.secret, "s3cret");
	cr_assert_str_eq(got.headers, h.headers);
	cr_assert_str_eq(got.routing_key, "R0UT1NG");
	cr_assert_eq(got.events, 5);
	cr_assert_eq(got.format, STORE_WEBHOOK_PAGERDUTY);
	cr_assert(got.enabled);
	cr_assert_eq(got.created_ms, 1);
	cr_assert_eq(got.updated_ms, 2);
	store_webhook_release(&got);

	cr_assert_eq(store_webhook_get(s, "b", h.id, &got), -ENOENT, "another tenant's");
	cr_assert_eq(store_webhook_delete(s, "a", other, 1), -ENOENT, "another tenant's");
	cr_assert_eq(store_webhooks_list(s, "a", false, &v, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].id, h.id);
	store_webhooks_free(v, n);
	cr_assert_eq(store_webhooks_list(s, NULL, false, &v, &n), 0);
	cr_assert_eq(n, 2);
	store_webhooks_free(v, n);

	free(h.url); /* an update of every field */
	h.url = strdup("http://example.com/y");
	h.enabled = false;
	cr_assert_eq(store_webhook_put(s, &h), 0);
	cr_assert_eq(store_webhooks_list(s, NULL, true, &v, &n), 0);
	cr_assert_eq(n, 1, "only the enabled one");
	cr_assert_eq(v[0].id, other);
	store_webhooks_free(v, n);
	snprintf(h.tenant, sizeof(h.tenant), "b");
	cr_assert_eq(store_webhook_put(s, &h), -ENOENT, "updated through another tenant");
	store_webhook_release(&h);
}

Test(store_webhooks, bad_hooks_are_refused)
{
	struct store_webhook h = { .tenant = "a", .enabled = true };

	cr_assert_eq(store_webhook_put(s, &h), -EINVAL, "no url");
	h.url = (char *)(uintptr_t) "http://x";
	h.format = STORE_WEBHOOK_FORMAT_COUNT;
	cr_assert_eq(store_webhook_put(s, &h), -EINVAL, "no such format");
	h.format = 0;
	h.tenant[0] = '\0';
	cr_assert_eq(store_webhook_put(s, &h), -EINVAL, "no tenant");
}

Test(store_webhooks, the_cursor_moves_with_the_deliveries_and_survives_a_reopen)
{
	struct store_webhook_delivery d[2] = { 0 };
	int64_t hid = hook("a", true), cursor;

	cr_assert_eq(store_webhook_cursor(s, &cursor), 0);
	cr_assert_eq(cursor, 0, "no events yet when the table was made");
	for (int i = 0; i < 2; i++) {
		d[i].webhook_id = hid;
		snprintf(d[i].tenant, sizeof(d[i].tenant), "a");
		d[i].event_id = 41 + i;
		d[i].body = (char *)(uintptr_t) "{}";
		d[i].body_len = 2;
	}
	cr_assert_eq(store_webhook_deliveries_add(s, d, 2, 42), 0);
	cr_assert_lt(d[0].id, d[1].id);
	cr_assert_eq(store_webhook_cursor(s, &cursor), 0);
	cr_assert_eq(cursor, 42);
	cr_assert_eq(store_webhook_deliveries_add(s, NULL, 0, 50), 0, "events with no hook");
	d[0].webhook_id = 0; /* a bad row: nothing of the batch is written, the cursor stays */
	cr_assert_eq(store_webhook_deliveries_add(s, d, 2, 60), -EINVAL);

	store_close(s);
	cr_assert_eq(store_open(&s, &so), 0);
	cr_assert_eq(store_webhook_cursor(s, &cursor), 0);
	cr_assert_eq(cursor, 50);
}

Test(store_webhooks, each_hook_offers_its_oldest_pending_delivery_when_due)
{
	int64_t a = hook("t", true), b = hook("t", true), off = hook("t", false);
	int64_t a1 = delivery(a, "t", 1, 100), a2 = delivery(a, "t", 2, 100);
	int64_t b1 = delivery(b, "t", 3, 150), ids[8], next;
	size_t n;

	(void)delivery(off, "t", 4, 10);
	n = due(200, ids, 8, &next);
	cr_assert_eq(n, 2, "a's first and b's first; not the disabled hook's");
	cr_assert_eq(ids[0], a1);
	cr_assert_eq(ids[1], b1);
	cr_assert_eq(next, INT64_MAX);

	/* a1 is retried later: a2 waits behind it, and b's is due */
	cr_assert_eq(store_webhook_delivery_update(
			     s,
			     &(struct store_webhook_delivery){
				     .id = a1,
				     .status = STORE_DELIVERY_PENDING,
				     .attempts = 1,
				     .next_attempt_ms = 500,
				     .last_status_code = 500,
				     .last_error = (char *)(uintptr_t) "HTTP 500" }),
		     0);
	n = due(200, ids, 8, &next);
	cr_assert_eq(n, 1);
	cr_assert_eq(ids[0], b1);
	cr_assert_eq(next, 500, "when a1 is due again");

	finish(a1, STORE_DELIVERY_SUCCEEDED);
	finish(b1, STORE_DELIVERY_FAILED);
	n = due(200, ids, 8, &next);
	cr_assert_eq(n, 1);
	cr_assert_eq(ids[0], a2, "a's next, once a1 is done");
	cr_assert_eq(due(50, ids, 8, &next), 0, "not due before its time");
	cr_assert_eq(next, 100);
}

Test(store_webhooks, the_limit_says_more_are_due)
{
	int64_t ids[8], next;
	struct store_webhook_delivery *v;
	size_t n;

	for (int i = 0; i < 3; i++)
		(void)delivery(hook("t", true), "t", i + 1, 100);
	cr_assert_eq(due(100, ids, 8, &next), 3);
	cr_assert_eq(store_webhook_deliveries_due(s, 100, 2, &v, &n, &next), 0);
	cr_assert_eq(n, 2);
	cr_assert_leq(next, 100, "one more is due now");
	store_webhook_deliveries_free(v, n);
}

Test(store_webhooks, deleting_a_hook_fails_its_pending_deliveries)
{
	int64_t a = hook("t", true), d1 = delivery(a, "t", 1, 100), d2 = delivery(a, "t", 2, 100);
	struct store_delivery_filter f = { .tenant = "t", .status = -1 };
	struct store_webhook_delivery *v;
	struct store_webhook h;
	int64_t ids[4], next;
	size_t n;

	finish(d1, STORE_DELIVERY_SUCCEEDED);
	cr_assert_eq(store_webhook_delete(s, "t", a, 7000), 0);
	cr_assert_eq(store_webhook_get(s, "t", a, &h), -ENOENT);
	cr_assert_eq(store_webhook_delete(s, "t", a, 7000), -ENOENT);
	cr_assert_eq(due(10000, ids, 4, &next), 0);
	/* the outcome of an attempt that was in flight at the delete does not revive it */
	cr_assert_eq(store_webhook_delivery_update(
			     s, &(struct store_webhook_delivery){ .id = d2,
								  .status = STORE_DELIVERY_PENDING,
								  .attempts = 1,
								  .next_attempt_ms = 9000 }),
		     -ENOENT);
	cr_assert_eq(store_webhook_deliveries_list(s, &f, &v, &n, NULL), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(v[0].id, d2);
	cr_assert_eq(v[0].status, STORE_DELIVERY_FAILED);
	cr_assert_eq(v[0].completed_ms, 7000);
	cr_assert_str_eq(v[0].last_error, "the webhook was deleted");
	cr_assert_eq(v[0].attempts, 0);
	cr_assert_eq(v[1].status, STORE_DELIVERY_SUCCEEDED, "the finished one is as it was");
	store_webhook_deliveries_free(v, n);
}

Test(store_webhooks, lists_are_newest_first_per_tenant_and_hook)
{
	int64_t a = hook("t", true), b = hook("t", true), c = hook("u", true), ids[6];
	struct store_delivery_filter f = { .tenant = "t", .status = -1, .limit = 2 };
	struct store_webhook_delivery *v;
	bool more;
	size_t n;

	ids[0] = delivery(a, "t", 1, 100);
	ids[1] = delivery(b, "t", 2, 100);
	ids[2] = delivery(a, "t", 3, 100);
	ids[3] = delivery(c, "u", 4, 100);
	ids[4] = delivery(a, "t", 5, 100);
	finish(ids[2], STORE_DELIVERY_SUCCEEDED);

	cr_assert_eq(store_webhook_deliveries_list(s, &f, &v, &n, &more), 0);
	cr_assert_eq(n, 2);
	cr_assert(more);
	cr_assert_eq(v[0].id, ids[4]);
	cr_assert_eq(v[1].id, ids[2]);
	cr_assert_null(v[0].body, "no bodies unless asked");
	f.before_id = v[1].id;
	store_webhook_deliveries_free(v, n);
	cr_assert_eq(store_webhook_deliveries_list(s, &f, &v, &n, &more), 0);
	cr_assert_eq(n, 2);
	cr_assert_not(more);
	cr_assert_eq(v[0].id, ids[1]);
	cr_assert_eq(v[1].id, ids[0]);
	store_webhook_deliveries_free(v, n);

	f = (struct store_delivery_filter){
		.tenant = "t", .webhook_id = a, .status = -1, .bodies = true
	};
	cr_assert_eq(store_webhook_deliveries_list(s, &f, &v, &n, NULL), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(v[0].body, "{\"n\":1}");
	store_webhook_deliveries_free(v, n);
	f.status = STORE_DELIVERY_SUCCEEDED;
	cr_assert_eq(store_webhook_deliveries_list(s, &f, &v, &n, NULL), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].id, ids[2]);
	store_webhook_deliveries_free(v, n);
	f = (struct store_delivery_filter){ .tenant = "u", .webhook_id = a, .status = -1 };
	cr_assert_eq(store_webhook_deliveries_list(s, &f, &v, &n, NULL), 0);
	cr_assert_eq(n, 0, "another tenant's hook");
	store_webhook_deliveries_free(v, n);
}

Test(store_webhooks, pruning_keeps_pending_and_recent_deliveries)
{
	int64_t a = hook("t", true), old_done = delivery(a, "t", 1, 100);
	int64_t old_pending = delivery(hook("t", true), "t", 2, 100);
	int64_t recent = delivery(a, "t", 3, 9000);
	struct store_delivery_filter f = { .status = -1 };
	struct store_webhook_delivery *v;
	size_t n, deleted;

	finish(old_done, STORE_DELIVERY_SUCCEEDED);
	finish(recent, STORE_DELIVERY_FAILED);
	cr_assert_eq(store_webhook_deliveries_prune(s, 5000, 100, &deleted), 0);
	cr_assert_eq(deleted, 1);
	cr_assert_eq(store_webhook_deliveries_list(s, &f, &v, &n, NULL), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(v[0].id, recent);
	cr_assert_eq(v[1].id, old_pending);
	store_webhook_deliveries_free(v, n);
}

Test(store_webhooks, a_reader_refuses_writes)
{
	struct store_options ro = so;
	struct store *r;
	int64_t cursor;

	ro.read_only = true;
	cr_assert_eq(store_open(&r, &ro), 0);
	cr_assert_eq(store_webhook_deliveries_add(r, NULL, 0, 5), -EROFS);
	cr_assert_eq(store_webhook_cursor(r, &cursor), 0, "but reads");
	store_close(r);
}
