/* libFuzzer target: the strict JSON reader (app/common/json.c), which reads manifests,
 * registration batches and (later) journals. */
#include <stddef.h>
#include <stdint.h>

#include "common/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_value *v = NULL;
    if (json_parse((const char *)data, size, &v) == 0) {
        /* walk it: every accessor must be safe on every node */
        size_t n = json_len(v);
        for (size_t i = 0; i < n && i < 64; i++) {
            const json_value *c = json_at(v, i);
            int64_t x;
            (void)json_int64(c, &x);
            (void)json_string(c, NULL);
            (void)json_key_at(v, i);
        }
    }
    json_free(v);
    return 0;
}
