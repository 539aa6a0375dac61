/* lineset: numbered distinct (code, text) pairs behind an open-addressing hash table. */
#include "payrun/lineset.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

typedef struct {
    char code[LINESET_CODE_MAX + 1];
    char text[LINESET_TEXT_MAX + 1];
    uint64_t hash;
} pair;

struct lineset {
    pair *pairs; /* by number */
    size_t n, cap;
    uint32_t *slots; /* number + 1, 0 = empty; a power of two, at most half full */
    size_t nslots;
};

/* FNV-1a over code, a separator no code holds, and text. */
static uint64_t pair_hash(const char *code, const char *text)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)code; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

int lineset_new(lineset **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? RL_OK : err_set(RL_ENOMEM, "out of memory");
}

void lineset_free(lineset *s)
{
    if (s == NULL)
        return;
    free(s->pairs);
    free(s->slots);
    free(s);
}

static int grow_slots(lineset *s)
{
    size_t n = s->nslots ? s->nslots * 2 : 64;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++) {
        size_t at = (size_t)s->pairs[i].hash & (n - 1);
        while (slots[at] != 0)
            at = (at + 1) & (n - 1);
        slots[at] = (uint32_t)i + 1;
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = n;
    return RL_OK;
}

int lineset_intern(lineset *s, const char *code, const char *text, uint32_t *idx, bool *added)
{
    size_t lc = strlen(code), lt = strlen(text);
    if (lc > LINESET_CODE_MAX || lt > LINESET_TEXT_MAX)
        return err_set(RL_EDATA, "a pay line's code or text is too long");
    uint64_t h = pair_hash(code, text);
    *added = false;
    if (s->nslots > 0) {
        for (size_t at = (size_t)h & (s->nslots - 1); s->slots[at] != 0;
             at = (at + 1) & (s->nslots - 1)) {
            const pair *p = &s->pairs[s->slots[at] - 1];
            if (p->hash == h && strcmp(p->code, code) == 0 && strcmp(p->text, text) == 0) {
                *idx = s->slots[at] - 1;
                return RL_OK;
            }
        }
    }
    if (s->n >= UINT32_MAX - 1)
        return err_set(RL_ENOMEM, "too many distinct pay lines");
    if ((s->n + 1) * 2 > s->nslots) {
        int rc = grow_slots(s);
        if (rc != RL_OK)
            return rc;
    }
    pair *grown = mem_grow(s->pairs, &s->cap, s->n + 1, sizeof *grown, 64);
    if (grown == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    s->pairs = grown;
    pair *p = &s->pairs[s->n];
    memcpy(p->code, code, lc + 1);
    memcpy(p->text, text, lt + 1);
    p->hash = h;
    size_t at = (size_t)h & (s->nslots - 1);
    while (s->slots[at] != 0)
        at = (at + 1) & (s->nslots - 1);
    s->slots[at] = (uint32_t)s->n + 1;
    *idx = (uint32_t)s->n++;
    *added = true;
    return RL_OK;
}

size_t lineset_count(const lineset *s) { return s->n; }

const char *lineset_code(const lineset *s, uint32_t idx)
{
    return idx < s->n ? s->pairs[idx].code : NULL;
}

const char *lineset_text(const lineset *s, uint32_t idx)
{
    return idx < s->n ? s->pairs[idx].text : NULL;
}
