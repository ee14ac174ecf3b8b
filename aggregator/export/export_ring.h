/*
 * A bounded FIFO of pointers, the exporters' queues (loki.c, otlp.c): a
 * ring over an array of cap slots the caller allocates. It neither owns nor
 * frees what it holds, and has no lock: the caller keeps it under its own.
 */
#ifndef PRP_AGGREGATOR_EXPORT_EXPORT_RING_H
#define PRP_AGGREGATOR_EXPORT_EXPORT_RING_H

#include <stdbool.h>
#include <stddef.h>

struct export_ring {
	void **slots; /* borrowed: cap of them, for the ring's life */
	size_t cap;
	size_t first; /* the oldest's slot */
	size_t count; /* read-only outside export_ring.c */
};

/* Sets @r empty over the @cap (> 0) @slots; allocates nothing. */
void export_ring_init(struct export_ring *r, void **slots, size_t cap);

/* True when @r holds cap pointers. */
bool export_ring_full(const struct export_ring *r);

/* Appends @p (kept, not owned) as the newest; @r must not be full. */
void export_ring_push(struct export_ring *r, void *p);

/* The oldest pointer, left in @r; NULL when empty. */
void *export_ring_first(const struct export_ring *r);

/* Removes and returns the oldest pointer (the caller has it back); NULL when empty. */
void *export_ring_pop(struct export_ring *r);

#endif
