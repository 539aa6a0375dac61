/* mem: array growth and large blocks (see mem.h). */
#include "common/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *mem_grow(void *items, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return items;
    size_t n = *cap ? *cap : (first ? first : 1);
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return NULL;
        n *= 2;
    }
    if (elem == 0 || n > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(items, n * elem);
    if (p != NULL)
        *cap = n;
    return p;
}

void *mem_big(size_t bytes)
{
    if (bytes < MEM_BIG_MIN)
        return malloc(bytes ? bytes : 1);
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    /* Advice only (whole huge pages inside the block): where the kernel has no transparent
     * huge pages, or says no, the block is ordinary memory. */
    (void)madvise(p, bytes & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
    return p;
}
