/*
 * The exporters' bounded FIFO (export_ring.h): count pointers from slot
 * first on, wrapping at cap.
 */
#include "aggregator/export/export_ring.h"

#include <assert.h>

void export_ring_init(struct export_ring *r, void **slots, size_t cap)
{
	r->slots = slots;
	r->cap = cap;
	r->first = 0;
	r->count = 0;
}

bool export_ring_full(const struct export_ring *r)
{
	return r->count == r->cap;
}

void export_ring_push(struct export_ring *r, void *p)
{
	assert(r->count < r->cap);
	r->slots[(r->first + r->count) % r->cap] = p;
	r->count++;
}

void *export_ring_first(const struct export_ring *r)
{
	return r->count ? r->slots[r->first] : NULL;
}

void *export_ring_pop(struct export_ring *r)
{
	void *p;

	if (!r->count)
		return NULL;
	p = r->slots[r->first];
	r->first = (r->first + 1) % r->cap;
	r->count--;
	return p;
}
