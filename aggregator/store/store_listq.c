/*
 * The filtered lists of the tables whose statements are prepared per call
 * (anomalies, actions): one SELECT built from the filter's conditions, each
 * value bound (never formatted into the SQL), newest first, and a LIMIT one
 * row past the page so the caller learns whether more remain.
 */
#include "aggregator/store/store_internal.h"

#include <assert.h>
#include <string.h>

void store_listq_init(struct store_listq *q, const char *select)
{
	memset(q, 0, sizeof(*q));
	store_listq_append(q, select);
}

void store_listq_append(struct store_listq *q, const char *sql)
{
	size_t n = strlen(sql);

	/* the fragments are constants, sized for all of them at once */
	assert(n < sizeof(q->sql) - q->len);
	memcpy(q->sql + q->len, sql, n + 1);
	q->len += n;
}

void store_listq_where_text(struct store_listq *q, const char *cond, const char *v, size_t cap)
{
	assert(q->nbinds < STORE_LISTQ_BINDS);
	store_listq_append(q, q->nconds++ ? " AND " : " WHERE ");
	store_listq_append(q, cond);
	q->binds[q->nbinds].text = v;
	q->binds[q->nbinds].cap = cap;
	q->binds[q->nbinds++].v = 0;
}

void store_listq_where_int(struct store_listq *q, const char *cond, int64_t v)
{
	store_listq_where_text(q, cond, NULL, 0);
	q->binds[q->nbinds - 1].v = v;
}

void store_listq_finish(struct store_listq *q, const char *order_by, size_t limit)
{
	store_listq_append(q, order_by);
	q->limit = limit;
	if (!limit)
		return;
	/* a LIMIT is not a condition: appended as is, its value bound last */
	assert(q->nbinds < STORE_LISTQ_BINDS);
	store_listq_append(q, " LIMIT ?");
	q->binds[q->nbinds].text = NULL;
	q->binds[q->nbinds++].v = limit >= (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)limit + 1;
}

int store_listq_prepare(struct store *s, const struct store_listq *q, sqlite3_stmt **st,
			const char *what)
{
	int err = store_prepare(s, q->sql, st, what);

	if (err)
		return err;
	for (int i = 0; i < q->nbinds; i++) {
		if (q->binds[i].text)
			store_bind_name(*st, i + 1, q->binds[i].text, q->binds[i].cap);
		else
			sqlite3_bind_int64(*st, i + 1, q->binds[i].v);
	}
	return 0;
}

int store_listq_step(struct store *s, sqlite3_stmt *st, const struct store_listq *q, size_t have,
		     bool *more, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW && q->limit && have == q->limit) {
		if (more) /* the one row past the page */
			*more = true;
		return 0;
	}
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : store_db_error(s, what);
}
