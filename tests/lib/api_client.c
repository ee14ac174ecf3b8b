/*
 * Calls to the aggregator's HTTP API for tests (api_client.h).
 */
#include "tests/lib/api_client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "tests/lib/http.h"
#include "tests/lib/jget.h"

struct api_answer api_client_call(unsigned port, const char *method, const char *path,
				  const char *body, const char *ctype)
{
	struct buf resp, headers;
	struct api_answer a;
	char url[2048];
	json_error_t jerr;

	memset(&a, 0, sizeof(a));
	buf_init(&resp, 16 << 20);
	buf_init(&headers, 64 << 10);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	cr_assert_eq(http_call_ct(method, url, body, ctype, &a.status, &resp, &headers), 0, "%s %s",
		     method, path);
	http_header_value(buf_str(&headers), "X-Request-Id", a.request_id, sizeof(a.request_id));
	http_header_value(buf_str(&headers), "Allow", a.allow, sizeof(a.allow));
	a.body_len = resp.len;
	if (resp.len) {
		a.doc = json_loadb((const char *)resp.data, resp.len, 0, &jerr);
		cr_assert_not_null(a.doc, "%s %s: not JSON: %s", method, path, jerr.text);
	}
	buf_release(&resp);
	buf_release(&headers);
	return a;
}

json_t *api_client_expect(unsigned port, long status, const char *method, const char *path,
			  const char *body, const char *ctype)
{
	struct api_answer a = api_client_call(port, method, path, body, ctype);

	cr_assert_eq(a.status, status, "%s %s: %ld, want %ld", method, path, a.status, status);
	cr_assert(json_is_object(a.doc), "%s %s: not an object", method, path);
	return a.doc;
}

struct api_answer api_client_expect_error(unsigned port, const char *method, const char *path,
					  const char *body, const char *ctype, long status,
					  const char *code)
{
	struct api_answer a = api_client_call(port, method, path, body, ctype);
	char what[1100];

	snprintf(what, sizeof(what), "%s %s", method, path);
	cr_assert_eq(a.status, status, "%s: %ld, want %ld", what, a.status, status);
	api_client_check_error(a.doc, status, code, what);
	return a;
}

void api_client_check_error(const json_t *doc, long status, const char *code, const char *what)
{
	const json_t *err;

	cr_assert_not_null(doc, "%s: no body", what);
	cr_assert_eq(json_object_size(doc), 1, "%s: only the envelope", what);
	err = json_object_get(doc, "error");
	cr_assert(json_is_object(err), "%s: no envelope", what);
	cr_assert_eq(json_integer_value(json_object_get(err, "status")), status, "%s", what);
	cr_assert_str_eq(json_string_value(json_object_get(err, "code")), code, "%s", what);
	cr_assert(json_is_string(json_object_get(err, "message")), "%s", what);
	cr_assert_str_not_empty(json_string_value(json_object_get(err, "message")), "%s", what);
	cr_assert(json_is_string(json_object_get(err, "request_id")), "%s", what);
}

void api_client_check_time(const json_t *v, int64_t ms, const char *what)
{
	char want[TIME_ISO_LEN];

	time_format_iso((uint64_t)ms * NSEC_PER_MSEC, want);
	cr_assert(json_is_string(v), "%s: not a string", what);
	cr_assert_str_eq(json_string_value(v), want, "%s", what);
}

size_t api_client_list_ids(const json_t *doc, const char *list, const char *id_key, int64_t *ids,
			   size_t cap)
{
	const json_t *v = json_object_get(doc, list);
	size_t n = json_array_size(v);

	cr_assert(json_is_array(v), "%s: not an array", list);
	cr_assert_eq(jget_int(doc, "count"), (json_int_t)n);
	cr_assert_leq(n, cap);
	for (size_t i = 0; i < n; i++)
		ids[i] = jget_int(json_array_get(v, i), id_key);
	return n;
}

void api_client_expect_ids(const json_t *doc, const char *list, const char *id_key,
			   const int64_t *want, const char *what)
{
	int64_t got[128];
	size_t n = api_client_list_ids(doc, list, id_key, got, 128), k = 0;

	for (; want[k] >= 0; k++) {
		cr_assert_lt(k, n, "%s: %zu %s, want more", what, n, list);
		cr_assert_eq(got[k], want[k], "%s: [%zu] is %lld, want %lld", what, k,
			     (long long)got[k], (long long)want[k]);
	}
	cr_assert_eq(n, k, "%s: %zu %s, want %zu", what, n, list, k);
}
