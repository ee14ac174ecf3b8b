/*
 * A bounded, thread-safe, in-memory record store: the demo's "database". Each
 * record is a JSON object with an integer "id"; ids start at 1 and only ever
 * increase. Records are kept as their compact JSON text, so the byte bound is
 * exact and readers never share jansson values across threads.
 *
 * Bounds: at most max_records ids are live (the window of the newest ids), and
 * at most max_bytes of record text. Past either, the oldest records are evicted
 * and read as absent (404); their ids are never reused.
 */
#ifndef PRP_DEMO_STORE_H
#define PRP_DEMO_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

struct store;

/* A new empty store (caller owns: store_free()); @max_records >= 1. */
struct store *store_new(size_t max_records, size_t max_bytes);
/* Frees @s and every record; NULL does nothing. No call may be running. */
void store_free(struct store *s);

/*
 * Reserves the next id, for a record whose id must be known before it is
 * stored (an order is charged under its id first). An id reserved and never
 * put is simply absent. Reserving evicts the record max_records ids older.
 */
uint64_t store_reserve_id(struct store *s);

/*
 * Stores @rec (borrowed; its text is copied) under @id, from store_reserve_id().
 * An id that already fell out of the window is dropped silently (it would be
 * evicted at once). Returns 0, or -ENOMEM when @rec cannot be encoded.
 */
PRP_MUST_CHECK int store_put(struct store *s, uint64_t id, json_t *rec);

/* The record @id as a new object (caller owns: json_decref()), or NULL if absent. */
json_t *store_get(struct store *s, uint64_t id);

/* Up to @limit records, newest id first, as a new array (caller owns). */
json_t *store_list(struct store *s, size_t limit);

/* Live records and their total text size, for tests and logs. */
size_t store_count(struct store *s);
size_t store_bytes(struct store *s);

#endif
