/* mem: growing an array by doubling, with the overflow checks every copy of the idiom
 * needs and most did not have. */
#ifndef RL_MEM_H
#define RL_MEM_H

#include <stddef.h>

/* Room for at least need elements of elem bytes in items (*cap of them now): items itself
 * if it has it, else items moved to a larger block (capacity doubled from first until it
 * fits) and *cap updated. NULL, with items and *cap untouched, if the memory cannot be
 * had; the caller reports it. items may be NULL with *cap 0. */
void *mem_grow(void *items, size_t *cap, size_t need, size_t elem, size_t first)
    __attribute__((warn_unused_result));

#endif
