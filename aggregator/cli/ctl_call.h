/*
 * One call to the aggregator's API as the commands make it, and the
 * reporting of every way it can fail, so each command handles only its
 * answer. Failures are reported on stderr as one line:
 *
 *	prpctl: 404 not_found: no key with id 7	   an error envelope (API.md)
 *	prpctl: HTTP 502: <its first line>	   any other answer that is not 2xx
 *	prpctl: Failed to connect to ...	   no answer: curl's words
 */
#ifndef PRP_AGGREGATOR_CLI_CTL_CALL_H
#define PRP_AGGREGATOR_CLI_CTL_CALL_H

#include <jansson.h>
#include <stdbool.h>

#include "aggregator/cli/ctl_cmds.h"
#include "aggregator/cli/ctl_http.h"
#include "aggregator/cli/ctl_opts.h"

struct ctl_answer {
	struct ctl_http_resp http;
	json_t *json; /* the answer, an object; NULL unless ctl_call() returned CTL_OK */
};

/*
 * Makes @rq and reports a failure: no answer, or a status that is not 2xx.
 * Returns CTL_OK, CTL_UNREACHABLE when no answer came, or ctl_call_status()
 * of the answer. Release @rs with ctl_http_resp_release() in
 * both cases.
 */
enum ctl_status ctl_call_http(const struct ctl_opts *o, const struct ctl_http_req *rq,
			      struct ctl_http_resp *rs);

/* The exit status for an answer of @http_status (ctl_cmds.h). */
enum ctl_status ctl_call_status(long http_status);

/* Appends "?@name=@value" (or "&...") to *@path (caller owns), escaped; nothing when @value is
 * NULL. */
void ctl_call_query(char **path, const char *name, const char *value);

struct ctl_args;
/* For each of the @n @filters given as "--FILTER VALUE" in @a, ctl_call_query() of it. */
void ctl_call_filters(char **path, const struct ctl_args *a, const char *const *filters, size_t n);

/*
 * GET @path and, unless --output json, a table of the array @member of the
 * answer (NULL: the answer is the array), @ncols columns titled @heads from
 * the members @keys of each element.
 */
enum ctl_status ctl_call_list(const struct ctl_opts *o, const char *path, const char *member,
			      size_t ncols, const char *const *heads, const char *const *keys);

/*
 * @method @path with @body (borrowed; NULL: none), expecting a 2xx answer
 * holding a JSON object. Returns CTL_OK with it in @ans, or CTL_FAILED once
 * the failure is reported. Release @ans with ctl_answer_release() in both
 * cases.
 */
enum ctl_status ctl_call(const struct ctl_opts *o, const char *method, const char *path,
			 const json_t *body, struct ctl_answer *ans);
void ctl_answer_release(struct ctl_answer *ans);

/*
 * With --json, writes the answer's body as it came, ending in a newline,
 * and returns true; otherwise returns false and the caller prints its
 * table.
 */
bool ctl_call_print_raw(const struct ctl_opts *o, const struct ctl_http_resp *rs);

/* Reports a non-2xx answer in @rs as described above. */
void ctl_call_report(const struct ctl_http_resp *rs);

#endif
