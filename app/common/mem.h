/* mem: growing an array by doubling, with the overflow checks every copy of the idiom
 * needs and most did not have; and large blocks that are cheap to fill. */
#ifndef RL_MEM_H
#define RL_MEM_H

#include <stddef.h>

/* Room for at least need elements of elem bytes in items (*cap of them now): items itself
 * if it has it, else items moved to a larger block (capacity doubled from first until it
 * fits) and *cap updated. NULL, with items and *cap untouched, if the memory cannot be
 * had; the caller reports it. items may be NULL with *cap 0. */
void *mem_grow(void *items, size_t *cap, size_t need, size_t elem, size_t first)
    __attribute__((warn_unused_result));

/* A block of bytes (like malloc) for a large buffer that is about to be filled: from
 * MEM_BIG_MIN bytes on it is aligned to 2 MiB and, on Linux, advised for transparent huge
 * pages, because the first touch of every 4 KiB page costs a fault (about 10 us on the
 * virtual machines measured: 34 MB took 95-120 ms to fault in, 3 ms in 2 MiB pages;
 * docs/performance.md). Freed with free(), may be given to realloc. NULL if it cannot be
 * had. */
void *mem_big(size_t bytes) __attribute__((warn_unused_result, malloc));

#define MEM_BIG_MIN ((size_t)4 << 20)

#endif
