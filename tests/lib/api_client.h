/*
 * Calls to the aggregator's HTTP API for the tests of its routes, over real
 * HTTP (tests/lib/http.h) to 127.0.0.1, and the check of the error envelope
 * of API.md. It calls no aggregator code, since the objects of tests/lib/
 * are linked into every unit test: the caller gives the port (api_port()).
 * Every check is a Criterion assertion.
 */
#ifndef PRP_TESTS_LIB_API_CLIENT_H
#define PRP_TESTS_LIB_API_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct api_answer {
	long status;
	json_t *doc;	     /* caller decrefs; NULL for an empty body */
	char request_id[80]; /* from X-Request-Id; "" without one */
	char allow[80];	     /* from Allow; "" without one */
	size_t body_len;
};

/*
 * Sends @method @path to 127.0.0.1:@port with @body (NULL: none) sent as
 * @ctype: NULL is application/json, "" sends no Content-Type at all.
 * Asserts that an answer came and that its body, when there is one, is JSON.
 */
struct api_answer api_client_call(unsigned port, const char *method, const char *path,
				  const char *body, const char *ctype);

/* As api_client_call(), expecting @status and a JSON object: the document (caller decrefs). */
json_t *api_client_expect(unsigned port, long status, const char *method, const char *path,
			  const char *body, const char *ctype);

/*
 * As api_client_call(), expecting @status and the error envelope of @code
 * (api_client_check_error()); the answer, for more checks (caller decrefs
 * its doc).
 */
struct api_answer api_client_expect_error(unsigned port, const char *method, const char *path,
					  const char *body, const char *ctype, long status,
					  const char *code);

/*
 * Asserts that @doc (borrowed) is the error envelope and nothing else:
 * {"error": {"status": @status, "code": @code, "message": a string that is
 * not empty, "request_id": a string, ...}}. @what names the request in the
 * failures' messages.
 */
void api_client_check_error(const json_t *doc, long status, const char *code, const char *what);

/*
 * Asserts that @v (borrowed) is the instant @ms (ms since the epoch) as the
 * API writes instants: an RFC 3339 UTC string (time_format_iso()). @what
 * names it in the failures' messages.
 */
void api_client_check_time(const json_t *v, int64_t ms, const char *what);

/*
 * The ids of the objects in @doc's array member @list (a paged list of the
 * API), in order, into @ids (@cap at most): each object's integer member
 * @id_key. Asserts that @doc's "count" is the array's length. Returns how
 * many.
 */
size_t api_client_list_ids(const json_t *doc, const char *list, const char *id_key, int64_t *ids,
			   size_t cap);

/*
 * Asserts that api_client_list_ids() of @doc is exactly @want, in order
 * (-1 ends it). @what names the list in the failures' messages.
 */
void api_client_expect_ids(const json_t *doc, const char *list, const char *id_key,
			   const int64_t *want, const char *what);

#endif
