#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "demo/reply.h"
#include "tests/lib/leakcheck.h"

TestSuite(reply, .fini = test_no_leaks);

static json_t *doc_of(const struct reply *rp)
{
	json_t *doc = json_loadb(rp->body, rp->body_len, 0, NULL);

	cr_assert_not_null(doc, "not JSON: %s", rp->body ? rp->body : "(null)");
	return doc;
}

static const char *err_str(json_t *doc, const char *key)
{
	return json_string_value(json_object_get(json_object_get(doc, "error"), key));
}

Test(reply, json_sets_status_and_compact_body)
{
	struct reply rp;

	reply_init(&rp, "rid");
	cr_assert_eq(reply_json(&rp, 201, json_pack("{s:i, s:f}", "id", 3, "total", 0.1)), 0);
	cr_assert_eq(rp.status, 201);
	cr_assert_str_eq(rp.body, "{\"id\":3,\"total\":0.1}");
	cr_assert_eq(rp.body_len, strlen(rp.body));
	reply_release(&rp);
	cr_assert_null(rp.body);
}

Test(reply, json_of_null_becomes_a_500_envelope)
{
	struct reply rp;
	json_t *doc;

	reply_init(&rp, "rid");
	cr_assert_eq(reply_json(&rp, 200, NULL), -EIO);
	cr_assert_eq(rp.status, 500);
	doc = doc_of(&rp);
	cr_assert_str_eq(err_str(doc, "code"), "internal_error");
	json_decref(doc);
	reply_release(&rp);
}

Test(reply, error_writes_the_api_envelope)
{
	struct reply rp;
	json_t *doc, *err;

	reply_init(&rp, "req-42");
	cr_assert_eq(reply_error(&rp, 404, "not_found", "no user with id %d", 42), -EINVAL);
	cr_assert_eq(rp.status, 404);
	doc = doc_of(&rp);
	err = json_object_get(doc, "error");
	cr_assert_eq(json_object_size(doc), 1);
	cr_assert_eq(json_integer_value(json_object_get(err, "status")), 404);
	cr_assert_str_eq(err_str(doc, "code"), "not_found");
	cr_assert_str_eq(err_str(doc, "message"), "no user with id 42");
	cr_assert_str_eq(err_str(doc, "request_id"), "req-42");
	json_decref(doc);
	reply_release(&rp);
}

Test(reply, error_returns_eio_for_server_errors)
{
	struct reply rp;

	reply_init(&rp, NULL);
	cr_assert_eq(reply_error(&rp, 502, "upstream_failed", "x"), -EIO);
	cr_assert_eq(reply_error(&rp, 500, "chaos_injected", "x"), -EIO);
	cr_assert_eq(reply_error(&rp, 422, "unknown_customer", "x"), -EINVAL);
	reply_release(&rp);
}

Test(reply, error_message_replaces_unsafe_bytes)
{
	struct reply rp;
	json_t *doc;

	reply_init(&rp, "r");
	reply_error(&rp, 400, "invalid_id", "got '%s'", "a\x01\n\xff\xc3\xa9z");
	doc = doc_of(&rp);
	cr_assert_str_eq(err_str(doc, "message"), "got 'a?????z'");
	json_decref(doc);
	reply_release(&rp);
}

Test(reply, error_message_is_cut_to_a_bound)
{
	struct reply rp;
	char big[4000];
	json_t *doc;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	reply_init(&rp, "r");
	reply_error(&rp, 400, "invalid_field", "%s", big);
	doc = doc_of(&rp);
	cr_assert_eq(strlen(err_str(doc, "message")), 511);
	json_decref(doc);
	reply_release(&rp);
}

Test(reply, a_later_reply_replaces_and_frees_the_earlier)
{
	struct reply rp;

	reply_init(&rp, "r");
	reply_json(&rp, 200, json_pack("{s:s}", "a", "b"));
	reply_error(&rp, 405, "method_not_allowed", "no");
	rp.allow = "GET";
	reply_error(&rp, 400, "invalid_json", "bad");
	cr_assert_eq(rp.status, 400);
	cr_assert_null(rp.allow, "an error other than the 405 drops Allow");
	cr_assert_not_null(strstr(rp.body, "invalid_json"));
	reply_release(&rp);
}

Test(reply, detach_hands_over_the_body)
{
	struct reply rp;
	size_t len;
	char *body;

	reply_init(&rp, "r");
	reply_json(&rp, 200, json_pack("[i]", 1));
	body = reply_detach_body(&rp, &len);
	cr_assert_str_eq(body, "[1]");
	cr_assert_eq(len, 3);
	cr_assert_null(rp.body);
	cr_assert_eq(rp.status, 200);
	reply_release(&rp);
	free(body);
}
