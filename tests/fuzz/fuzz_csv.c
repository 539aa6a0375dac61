/* libFuzzer target: the snapshot's strict CSV reader (app/snapshot/csv.c). */
#include <stddef.h>
#include <stdint.h>

#include "snapshot/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    csv_reader *r = NULL;
    csv_row row;
    if (csv_open((const char *)data, size, "fuzz.csv", &r) != 0)
        return 0;
    static const char *const cols[] = {"a", "b", "c"};
    if (csv_expect_header(r, cols, 3) < 0) {
        /* keep reading anyway: the header check must not leave the reader broken */
    }
    while (csv_next(r, &row) == 1) {
        for (size_t i = 0; i < row.n; i++)
            if (row.f[i][row.len[i]] != '\0')
                __builtin_trap();
    }
    csv_close(r);
    return 0;
}
