/*
 * Steps every read handler starts with, answering the error itself so the
 * handler can just return: parse the query (400 naming the parameter) and
 * get this worker's store (503 when it cannot be opened).
 */
#ifndef PRP_AGGREGATOR_HTTP_API_COMMON_H
#define PRP_AGGREGATOR_HTTP_API_COMMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/http/query.h"
#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

struct store;

/* query_parse() over rq's query. 0, or the 400 already answered (-EINVAL). */
int api_common_query(struct req *rq, struct resp *rp, struct query *q, unsigned keys,
		     int64_t default_range_ms);

/* This worker's store (borrowed), or NULL with the 503 already answered. */
struct store *api_common_store(struct req *rq, struct resp *rp);

/* Decodes q->cursor into @key (at least 2 * QUERY_CURSOR_MAX bytes): 0 or the 400 answered. ""
 * without one. */
int api_common_cursor(const struct query *q, struct resp *rp, char *key, size_t cap);

/*
 * The cursor of @q as the id the page continues below (0 without one), for
 * the lists paged by id: 0 or the 400 answered.
 */
int api_common_before_id(const struct query *q, struct resp *rp, int64_t *before_id);

/*
 * The query parameter @name that the route's query_parse() keys do not
 * cover: *value is NULL when absent. 0, or the 400 answered (given twice,
 * empty).
 */
int api_common_param(struct req *rq, struct resp *rp, const char *name, const char **value);

/*
 * The path parameter "id" as a positive integer: 0, or the error answered:
 * 400 when it is not a number, 404 naming @what ("policy") when it is one
 * no record can have (0, negative, past int64).
 */
int api_common_id(struct req *rq, struct resp *rp, const char *what, int64_t *id);

/* Who a change is audited as: "key:ID", or "api" with auth off. Borrowed: valid while @rq. */
const char *api_common_actor(const struct req *rq);

/*
 * For the switches and files that are the whole aggregator's, not one
 * tenant's (auto-remediation, the detector, backup and restore): 0 for a
 * caller of the default tenant (who runs the platform), else the 403 answered.
 */
int api_common_platform(const struct req *rq, struct resp *rp, const char *what);

/*
 * Only the members @known (@n of them) in the object @body: a misspelt one
 * is a 400 naming it and listing the fields of @what ("a key"), not
 * silently ignored. 0 or the 400 answered.
 */
int api_common_fields(json_t *body, struct resp *rp, const char *what, const char *const *known,
		      size_t n);

/* True when Content-Type @ct is @type (case aside), with parameters (charset) or not. */
bool api_common_media_is(const char *ct, const char *type);

/*
 * The request body as a JSON object (caller owns *out: json_decref()). An
 * empty body gives an empty object when @empty_ok. Answers 415 for a
 * Content-Type other than JSON, 400 for malformed JSON (with jansson's
 * message and position) or a body that is not an object; returns -EINVAL.
 */
int api_common_body(struct req *rq, struct resp *rp, bool empty_ok, json_t **out);

/*
 * A page of a list, newest first: {@key: @list, count, next_cursor} with
 * next_cursor (the ids below @last_id) only when @more. Takes @list.
 */
json_t *api_common_page(const char *key, json_t *list, bool more, int64_t last_id);

#endif
