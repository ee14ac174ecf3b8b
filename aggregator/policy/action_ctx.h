/*
 * One action while the executor runs it: what the type's handler reads
 * (the action, its parsed parameters, the executor's configuration) and
 * what it leaves (the result JSON, the log lines, the final status). The
 * logs are the action's own ("sent to agent a1", "a1: succeeded"), kept in
 * the store with it, bounded to what the store takes and made valid UTF-8
 * (a command's output may be anything, the API serves them as JSON
 * strings).
 *
 * A context belongs to the worker thread running the action.
 */
#ifndef PRP_AGGREGATOR_POLICY_ACTION_CTX_H
#define PRP_AGGREGATOR_POLICY_ACTION_CTX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "aggregator/policy/executor.h"
#include "aggregator/store/store.h"
#include "common/buf.h"
#include "common/compiler.h"

/* The store's bound on an action's logs and result (store_actions.c) */
#define ACTION_CTX_TEXT_MAX (64u << 10)

struct breaker_loop;
struct action_ctx;

/* Persists ctx->a as it is now; called at each step that changes it. */
typedef void action_ctx_save_fn(struct action_ctx *ctx, void *arg);

struct action_ctx {
	struct store_action *a;		   /* borrowed: the action run */
	json_t *params;			   /* owned: a->parameters parsed; {} when none */
	const struct executor_config *cfg; /* borrowed: the executor's copy */
	struct breaker_loop *loop;	   /* borrowed: the breaker loop's table */
	bool transition;		   /* a step of the breaker loop, not a decision */
	json_t *result;			   /* owned; set by the handler */
	struct buf logs;		   /* the lines so far */
	bool truncated;			   /* lines were dropped at the bound */
	action_ctx_save_fn *save;
	void *save_arg;
};

/* The handler of one action type: runs it, returns its final status. */
typedef enum store_action_status action_run_fn(struct action_ctx *ctx);

/*
 * Sets @ctx up for @a (borrowed for the context's life). -EINVAL when
 * a->parameters is not a JSON object; the context is usable either way.
 */
PRP_MUST_CHECK int action_ctx_init(struct action_ctx *ctx, struct store_action *a,
				   const struct executor_config *cfg, struct breaker_loop *loop);
void action_ctx_release(struct action_ctx *ctx);

/* Appends one timestamped line to the action's logs (and writes it to the debug log). */
void action_ctx_log(struct action_ctx *ctx, const char *fmt, ...) PRP_PRINTF(2, 3);
/* Appends a program's output as it is, made valid UTF-8; up to the bound. */
void action_ctx_output(struct action_ctx *ctx, const void *data, size_t len);
/* How many more bytes of output the logs take. */
size_t action_ctx_room(const struct action_ctx *ctx);

/* Takes ownership of @result (NULL: none) as the action's result. */
void action_ctx_result(struct action_ctx *ctx, json_t *result);
/*
 * A failure in one sentence: logged, and the result {"error": text} unless
 * the handler already set one (the sentence is then added as "error").
 * Returns STORE_ACTION_FAILED, for `return action_ctx_fail(...)`.
 */
enum store_action_status action_ctx_fail(struct action_ctx *ctx, const char *fmt, ...)
	PRP_PRINTF(2, 3);

/* Copies the logs and the result into ctx->a and persists it through ctx->save. */
void action_ctx_save(struct action_ctx *ctx);

/*
 * @tmpl with each "{name}" of @names (@n of them) replaced by the value at
 * the same index of @values; other braces are kept as written. Caller
 * owns the string: free().
 */
char *action_ctx_expand(const char *tmpl, const char *const *names, const char *const *values,
			size_t n);

/* The parameter @key of the action as a string, or @def. */
const char *action_ctx_str(const struct action_ctx *ctx, const char *key, const char *def);
/* The parameter @key as a number (integer or real), or @def. */
double action_ctx_num(const struct action_ctx *ctx, const char *key, double def);

#endif
