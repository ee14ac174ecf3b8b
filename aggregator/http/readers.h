/*
 * One read-only struct store per HTTP worker thread (a struct store is used
 * by one thread at a time; SQLite's WAL lets these readers run beside the
 * ingest writer). Each thread opens its own on its first request; all are
 * closed together by readers_free() once the workers have stopped.
 */
#ifndef PRP_AGGREGATOR_HTTP_READERS_H
#define PRP_AGGREGATOR_HTTP_READERS_H

#include "common/compiler.h"

struct readers;
struct store;
struct store_options;

/* Wait this long after a failed open before a thread tries again. */
#define READERS_RETRY_MS 1000

/* @o is copied (dir too) and read_only forced. Caller owns *out: readers_free(). */
PRP_MUST_CHECK int readers_new(struct readers **out, const struct store_options *o);

/*
 * The calling thread's store, opened on first use (borrowed: valid until
 * readers_free()), or NULL when it cannot be opened (logged at most once a
 * second per thread). Any thread.
 */
struct store *readers_get(struct readers *r);

/* Closes every thread's store. Only once no thread can call readers_get(). NULL does nothing. */
void readers_free(struct readers *r);

#endif
