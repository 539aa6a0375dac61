/* mem: array growth (see mem.h). */
#include "common/mem.h"

#include <stdint.h>
#include <stdlib.h>

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
