/*
 * Policy documents (docs/policies.md, API.md "Policies and actions"): YAML
 * or JSON text, holding either "policies: [...]" or one policy mapping (a
 * POST /policies body), turned into validated structs, and a policy back
 * into the API's JSON object. Pure: no store, no I/O; any thread.
 *
 * Every refusal names the position and the field:
 *   "12:17: field 'policies[1].actions[0].parameters.limit': must be more than 0"
 */
#ifndef PRP_AGGREGATOR_POLICY_POLICY_DOC_H
#define PRP_AGGREGATOR_POLICY_POLICY_DOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/policy/condition.h"
#include "aggregator/policy/policy_action.h"
#include "common/compiler.h"

#define POLICY_DOC_MAX_BYTES	   (256 * 1024)
#define POLICY_DOC_MAX_POLICIES	   1000
#define POLICY_NAME_MAX		   64 /* with the NUL: names are 1..63 of [A-Za-z0-9._-] */
#define POLICY_SERVICES_MAX	   64
#define POLICY_DEFAULT_COOLDOWN_MS 300000

struct policy {
	char name[POLICY_NAME_MAX];
	char **services; /* at least one; "*" is every service */
	size_t nservices;
	char *condition_text;	     /* as written */
	struct condition *condition; /* parsed from it */
	int64_t for_ms;		     /* 0: fire at once */
	int64_t cooldown_ms;	     /* default POLICY_DEFAULT_COOLDOWN_MS */
	bool enabled;		     /* default true */
	bool dry_run;		     /* default false */
	char *description;	     /* NULL when absent */
	struct policy_action actions[POLICY_ACTIONS_MAX];
	size_t nactions; /* 1..POLICY_ACTIONS_MAX */
	int line, column; /* where the policy starts in its document (1-based) */
};

struct policy_doc {
	struct policy *policies;
	size_t n;
};

/* Where and why a document was refused. */
struct policy_error {
	int line, column;  /* 1-based; 0 when the error has no position (too large) */
	char field[192];	   /* "policies[1].condition"; "" for the document itself */
	char message[256]; /* lowercase, no position in it */
	char text[640];	   /* all of it: "LINE:COLUMN: field 'X': message" */
};

/*
 * Parses @len bytes of @text. On success *out holds the policies in
 * document order (possibly none), caller owns: policy_doc_free(). On
 * failure returns -EINVAL (or -E2BIG past a bound), *out is NULL and @err
 * (may be NULL) says why.
 */
PRP_MUST_CHECK int policy_doc_parse(const char *text, size_t len, struct policy_doc **out,
				    struct policy_error *err);
void policy_doc_free(struct policy_doc *doc);

/*
 * The API's policy object: name, service (when there is one) and services,
 * condition (as written), for and cooldown in seconds, enabled, dry_run,
 * description (when set), actions [{type, parameters}]. Caller owns:
 * json_decref(). Its JSON text parses back to the same policy.
 */
json_t *policy_to_json(const struct policy *p);

/* Whether @p covers @service ("*" covers every one). */
bool policy_applies_to(const struct policy *p, const char *service);

#endif
