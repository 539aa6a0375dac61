/* rules: the Lua 5.4 sandbox that runs the signed pay rules (contract in rules.h, the rule
 * author's view in docs/pay-rules.md).
 *
 * Defence in layers, each closing what the one before cannot:
 *  - integrity: the file is read once, its minisign signature checked over those bytes,
 *    and only those bytes are compiled, in text mode ("t"): bytecode can crash the VM.
 *  - whitelist: a fresh lua_State opens base, string, math, table and utf8, then keeps
 *    only allowlisted names, so a library upgrade cannot add a function behind our back.
 *    Functions that reach the file system, the process or the VM's internals are never
 *    opened or are dropped; the ones that would break purity (math.random) too.
 *  - memory: our allocator counts every byte the state holds and refuses growth past the
 *    cap. Lua turns the refusal into a memory error, which pcall may not swallow.
 *  - time: a count hook charges VM instructions; C library functions, which the hook does
 *    not see, are charged for their worst case before they run (pattern searches, table
 *    shuffles, bytes scanned), and every byte allocated is charged too. Limit errors are
 *    sticky: once hit, every instruction fails, pcall rethrows, and the object is spent.
 *  - finalizers: __gc metamethods run with hooks off (lgc.c GCTM), so an endless __gc
 *    would escape every limit; setmetatable refuses them.
 *  - determinism: pairs() iterates in a fixed key order (Lua seeds its string hash with
 *    the time and addresses, so raw next() order differs from run to run). */
#include "rules/rules.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <sodium.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/json.h"

/* The count hook runs every HOOK_EVERY VM instructions: often enough that a limit stops a
 * runaway loop within microseconds, rarely enough to cost nothing measurable. */
#define HOOK_EVERY 1000
/* Charges for work the hook cannot see (rough parity with a VM instruction's few ns). */
#define ALLOC_BYTES_PER_UNIT 8
#define SCAN_BYTES_PER_UNIT 8
#define PATTERN_STEPS_PER_UNIT 16

enum { LIMIT_NONE, LIMIT_INSTR, LIMIT_MEM, LIMIT_TIME, LIMIT_OOM };

/* The state's small blocks (tables, strings, closures: a call of pay() makes a few dozen
 * and frees them again) come from a pool of POOL_GRAIN-sized classes carved from slabs,
 * not from malloc: the malloc and free behind them were a tenth of the rules thread's time
 * in a pay run (performance.md). Larger blocks go to malloc. Freed blocks stay in the
 * pool until the state is closed; the memory limit still counts the bytes Lua asked for. */
#define POOL_GRAIN 16 /* also the alignment Lua needs (LUAI_MAXALIGN) */
#define POOL_MAX 256
#define POOL_CLASSES (POOL_MAX / POOL_GRAIN)
#define POOL_SLAB ((size_t)64 << 10)

typedef struct pool_slab {
    struct pool_slab *next;
    char pad[POOL_GRAIN - sizeof(struct pool_slab *)]; /* blocks stay POOL_GRAIN-aligned */
} pool_slab;

struct rules {
    lua_State *L;
    uint64_t used;        /* cost units spent (instructions + charged work) */
    uint64_t max_instr;
    size_t mem, peak, max_mem;
    uint64_t max_ns;      /* wall-clock budget for time spent inside Lua */
    uint64_t lua_ns;      /* time spent inside Lua by finished calls */
    uint64_t call_start;  /* monotonic ns at the start of the running call */
    int limit;            /* LIMIT_*: set once a limit is hit; the object is then spent */
    bool mem_refused;     /* the allocator refused growth at the cap at least once */
    bool closing;         /* lua_close in progress: never refuse */
    rules_tax_fn tax;
    void *tax_ctx;
    bool has_context;     /* rules_set_context gave a second argument for every call */
    uint8_t sha256[32];
    /* scratch of the input reader (see "the input reader"), kept across calls */
    uint32_t *in_cnt;     /* element count of each container, in order of opening */
    size_t in_cnt_cap;
    struct in_key *in_keys; /* keys of the objects being scanned, for duplicate checks */
    size_t in_keys_cap;
    char *in_buf;         /* decoded keys while scanning; decoded strings while building */
    size_t in_buf_cap;
    /* the pool of small blocks (see POOL_GRAIN) */
    void *pool_free[POOL_CLASSES]; /* free blocks of each class, linked through their start */
    pool_slab *slabs;
    char *slab_cur, *slab_end;
    size_t slab_bytes; /* slabs taken from malloc: never given back before close */
};

/* --- accounting -------------------------------------------------------------------- */

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static rules *state_rules(lua_State *L)
{
    void *ud = NULL;
    (void)lua_getallocf(L, &ud);
    return ud;
}

#if defined(__has_feature) /* clang's way of saying -fsanitize=address */
#if __has_feature(address_sanitizer)
#define RL_POOL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(RL_POOL_ASAN)
#include <sanitizer/asan_interface.h>
#define POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else /* under ASan a pooled block that is free is marked so, as malloc's would be */
#define POOL_POISON(p, n) ((void)(p), (void)(n))
#define POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The class of a block of n bytes (1 <= n <= POOL_MAX), and its size. */
static size_t pool_class(size_t n) { return (n - 1) / POOL_GRAIN; }
static size_t class_size(size_t c) { return (c + 1) * POOL_GRAIN; }

static void *pool_take(rules *r, size_t n)
{
    size_t c = pool_class(n), size = class_size(c);
    void *p = r->pool_free[c];
    if (p != NULL) {
        POOL_UNPOISON(p, size);
        memcpy(&r->pool_free[c], p, sizeof p);
        return p;
    }
    if ((size_t)(r->slab_end - r->slab_cur) < size) {
        /* A freed block stays in its class, so slabs only grow: they are capped at the
         * memory limit too, or a rule that fills and drops memory in one block size after
         * another would hold up to POOL_CLASSES times the limit while r->mem stays under
         * it. Real memory is then at most twice max_memory (slabs + malloc'd blocks). */
        if (r->slab_bytes > r->max_mem || POOL_SLAB > r->max_mem - r->slab_bytes) {
            r->mem_refused = true;
            return NULL;
        }
        pool_slab *s = malloc(POOL_SLAB);
        if (s == NULL)
            return NULL;
        r->slab_bytes += POOL_SLAB;
        s->next = r->slabs;
        r->slabs = s;
        r->slab_cur = (char *)(s + 1);
        r->slab_end = (char *)s + POOL_SLAB;
        POOL_POISON(r->slab_cur, (size_t)(r->slab_end - r->slab_cur));
    }
    p = r->slab_cur;
    r->slab_cur += size;
    POOL_UNPOISON(p, size);
    return p;
}

static void pool_give(rules *r, void *p, size_t n)
{
    size_t c = pool_class(n);
    memcpy(p, &r->pool_free[c], sizeof p);
    r->pool_free[c] = p;
    POOL_POISON(p, class_size(c));
}

static void pool_close(rules *r)
{
    while (r->slabs != NULL) {
        pool_slab *next = r->slabs->next;
        POOL_UNPOISON(r->slabs, POOL_SLAB);
        free(r->slabs);
        r->slabs = next;
    }
}

/* The block for nsize bytes in place of ptr (old bytes; ptr may be NULL): from the pool or
 * malloc by size, the contents kept. NULL (ptr untouched) if memory ran out. */
static void *block_resize(rules *r, void *ptr, size_t old, size_t nsize)
{
    bool pooled_old = ptr != NULL && old <= POOL_MAX, pooled_new = nsize <= POOL_MAX;
    if (ptr != NULL && !pooled_old && !pooled_new) {
        void *q = realloc(ptr, nsize);
        return q != NULL || nsize > old ? q : ptr;
    }
    if (pooled_old && pooled_new && pool_class(old) == pool_class(nsize))
        return ptr;
    void *p = pooled_new ? pool_take(r, nsize) : malloc(nsize);
    if (p == NULL && ptr != NULL && nsize <= old)
        return ptr; /* Lua assumes shrinking never fails: the larger block serves (pooled later
                     * by its new size; a malloc'd one then stays in the pool until exit) */
    if (p == NULL || ptr == NULL)
        return p;
    memcpy(p, ptr, old < nsize ? old : nsize);
    if (pooled_old)
        pool_give(r, ptr, old);
    else
        free(ptr);
    return p;
}

/* The allocator is where the memory cap lives: C functions such as string.rep allocate
 * without ever giving the hook a chance to run. Growth is also charged to the cost budget
 * so that a loop copying a huge string costs in proportion to the bytes it copies.
 * Shrinking and freeing never fail (Lua relies on that). */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    rules *r = ud;
    size_t old = ptr != NULL ? osize : 0; /* with ptr NULL, osize is a type tag */
    if (nsize == 0) {
        if (ptr != NULL && old <= POOL_MAX)
            pool_give(r, ptr, old);
        else
            free(ptr);
        r->mem -= old;
        return NULL;
    }
    if (nsize > old && !r->closing) {
        size_t grow = nsize - old;
        if (r->limit != LIMIT_NONE)
            return NULL; /* spent: refuse, so the failing run ends fast */
        if (r->mem > r->max_mem || grow > r->max_mem - r->mem) {
            r->mem_refused = true;
            return NULL;
        }
        r->used = sat_add(r->used, grow / ALLOC_BYTES_PER_UNIT);
        if (r->used > r->max_instr) {
            r->limit = LIMIT_INSTR;
            return NULL;
        }
    }
    void *p = block_resize(r, ptr, old, nsize);
    if (p == NULL)
        return NULL;
    r->mem = r->mem - old + nsize;
    if (r->mem > r->peak)
        r->peak = r->mem;
    return p;
}

static void sb_hook(lua_State *L, lua_Debug *ar);

/* Records the limit, makes every further instruction fail (the hook at count 1) and
 * raises. Never returns. */
static int limit_raise(lua_State *L, rules *r, int which)
{
    if (r->limit == LIMIT_NONE)
        r->limit = which;
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
    return luaL_error(L, "pay rules limit reached");
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    rules *r = state_rules(L);
    if (r->limit != LIMIT_NONE)
        limit_raise(L, r, r->limit);
    r->used = sat_add(r->used, HOOK_EVERY);
    if (r->used > r->max_instr)
        limit_raise(L, r, LIMIT_INSTR);
    if (r->lua_ns + (now_ns() - r->call_start) > r->max_ns)
        limit_raise(L, r, LIMIT_TIME);
}

static void charge(lua_State *L, rules *r, uint64_t cost)
{
    r->used = sat_add(r->used, cost);
    if (r->used > r->max_instr)
        limit_raise(L, r, LIMIT_INSTR);
}

/* A protected call's error that must not be caught by the rules: a limit, or any memory
 * error (which in the sandbox is the cap, or the machine running out). */
static bool fatal_status(rules *r, int status)
{
    if (status == LUA_ERRMEM && r->limit == LIMIT_NONE)
        r->limit = r->mem_refused ? LIMIT_MEM : LIMIT_OOM;
    return r->limit != LIMIT_NONE;
}

/* --- charged library functions ---------------------------------------------------- */

enum { K_SCAN, K_FIND, K_MATCH, K_GMATCH, K_GSUB, K_REP, K_INSERT, K_REMOVE, K_SORT, K_CONCAT,
       K_MOVE };

/* Worst-case matching steps of Lua's backtracking matcher (lstrlib.c): every '*', '+',
 * '-', "%b" and back-reference may try each subject position, '?' two ways, each step
 * walks the pattern, and an unanchored search starts at every position. Overestimates on
 * purpose: the point is that no single call can run unbounded inside C. */
static uint64_t pattern_steps(size_t n, const char *p, size_t m, bool can_anchor)
{
    uint64_t per_pos = m + 1;
    uint64_t positions = n + 1;
    size_t i = 0;
    if (can_anchor && m > 0 && p[0] == '^') {
        positions = 1;
        i = 1;
    }
    for (; i < m; i++) {
        char c = p[i];
        if (c == '%') {
            if (++i >= m)
                break;
            if (p[i] == 'b') {
                per_pos = sat_mul(per_pos, n + 1);
                i += 2;
            } else if (p[i] >= '0' && p[i] <= '9') {
                per_pos = sat_mul(per_pos, n + 1);
            }
        } else if (c == '[') {
            /* skip the set as lstrlib's classEnd does: its first character is literal */
            i++;
            if (i < m && p[i] == '^')
                i++;
            do {
                if (i >= m)
                    break;
                if (p[i++] == '%' && i < m)
                    i++;
            } while (i < m && p[i] != ']');
        } else if (c == '*' || c == '+' || c == '-') {
            per_pos = sat_mul(per_pos, n + 1);
        } else if (c == '?') {
            per_pos = sat_mul(per_pos, 2);
        }
    }
    return sat_mul(positions, per_pos);
}

static bool has_specials(const char *p, size_t m)
{
    for (size_t i = 0; i < m; i++)
        if (strchr("^$*+?.([%-", p[i]) != NULL && p[i] != '\0')
            return true;
    return false;
}

static uint64_t search_cost(lua_State *L, int kind)
{
    size_t n = 64, m = 64; /* a number argument converts to a short string */
    const char *p = NULL;
    if (lua_type(L, 1) == LUA_TSTRING)
        n = lua_rawlen(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING)
        p = lua_tolstring(L, 2, &m);
    uint64_t steps;
    if (p == NULL || (kind == K_FIND && (lua_toboolean(L, 4) || !has_specials(p, m))))
        steps = sat_mul(n + 1, m + 1); /* plain search: memchr + memcmp per position */
    else
        steps = pattern_steps(n, p, m, kind != K_GMATCH);
    return steps / PATTERN_STEPS_PER_UNIT;
}

/* An integer argument as luaL_checkinteger would read it (1e15 and "10" count), or dflt
 * if absent or not one (the original function then reports it). */
static lua_Integer opt_int(lua_State *L, int i, lua_Integer dflt)
{
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, i, &ok);
    return ok ? v : dflt;
}

static uint64_t span(lua_Integer from, lua_Integer to)
{
    if (to < from)
        return 0;
    return (uint64_t)to - (uint64_t)from + 1u;
}

/* Every string, utf8 and table function (and tonumber/tostring) runs through this: it
 * charges the call's worst case, then runs the original C function in the same frame. */
static int sb_charged(lua_State *L)
{
    rules *r = state_rules(L);
    lua_CFunction orig = lua_tocfunction(L, lua_upvalueindex(1));
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    int top = lua_gettop(L);
    uint64_t cost = 1;
    for (int i = 1; i <= top; i++)
        if (lua_type(L, i) == LUA_TSTRING)
            cost = sat_add(cost, lua_rawlen(L, i) / SCAN_BYTES_PER_UNIT);
    switch (kind) {
    case K_FIND:
    case K_MATCH:
    case K_GMATCH:
    case K_GSUB:
        cost = sat_add(cost, search_cost(L, kind));
        break;
    case K_REP:
        /* string.rep("", 1e15) loops 1e15 times copying nothing: no allocation, no hook */
        if (lua_type(L, 1) == LUA_TSTRING && lua_rawlen(L, 1) == 0 &&
            (lua_isnoneornil(L, 3) || (lua_type(L, 3) == LUA_TSTRING && lua_rawlen(L, 3) == 0))) {
            (void)luaL_checkinteger(L, 2);
            charge(L, r, cost);
            lua_pushliteral(L, "");
            return 1;
        }
        break;
    case K_INSERT: /* with a position, insert and remove shift up to #t elements (and */
    case K_REMOVE: /* __len may lie); appending and popping are O(1) and not charged */
    case K_SORT:
        if (lua_type(L, 1) == LUA_TTABLE &&
            (kind == K_SORT || top >= (kind == K_INSERT ? 3 : 2))) {
            lua_Integer len = luaL_len(L, 1);
            uint64_t n = len > 0 ? (uint64_t)len : 0;
            uint64_t f = 1;
            if (kind == K_SORT)
                for (uint64_t x = n; x > 1; x >>= 1)
                    f++;
            cost = sat_add(cost, sat_mul(n, f));
        }
        break;
    case K_CONCAT:
        if (lua_type(L, 1) == LUA_TTABLE) {
            lua_Integer j = lua_isnoneornil(L, 4) ? luaL_len(L, 1) : opt_int(L, 4, 0);
            cost = sat_add(cost, span(opt_int(L, 3, 1), j));
        }
        break;
    case K_MOVE:
        cost = sat_add(cost, span(opt_int(L, 2, 1), opt_int(L, 3, 0)));
        break;
    default:
        break;
    }
    charge(L, r, cost);
    return orig(L);
}

/* --- base functions the sandbox replaces ------------------------------------------ */

/* pcall that cannot catch a limit or memory error (those end the pay run). */
static int sb_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (status != LUA_OK) {
        if (fatal_status(state_rules(L), status))
            return lua_error(L);
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    luaL_checkstack(L, 1, "too many results");
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    return lua_gettop(L);
}

static int sb_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    /* swap f and the handler: lua_pcall wants the handler below the function */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_replace(L, 1);
    lua_replace(L, 2);
    int status = lua_pcall(L, n - 2, LUA_MULTRET, 1);
    if (status != LUA_OK) {
        if (fatal_status(state_rules(L), status))
            return lua_error(L);
        lua_pushboolean(L, 0);
        lua_replace(L, 1);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_replace(L, 1);
    return lua_gettop(L);
}

/* setmetatable without __gc: finalizers run with hooks disabled, outside every limit. */
static int sb_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "__gc metamethods are not available to pay rules");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Key order for pairs(): numbers ascending, then strings bytewise, then false, true, then
 * anything else (tables and functions as keys have no reproducible order; avoid them). */
static int key_rank(lua_State *L, int i)
{
    switch (lua_type(L, i)) {
    case LUA_TNUMBER: return 0;
    case LUA_TSTRING: return 1;
    case LUA_TBOOLEAN: return 2;
    default: return 3;
    }
}

static int key_less(lua_State *L)
{
    int ra = key_rank(L, 1), rb = key_rank(L, 2);
    int less;
    if (ra != rb) {
        less = ra < rb;
    } else if (ra == 0) {
        less = lua_compare(L, 1, 2, LUA_OPLT);
    } else if (ra == 1) {
        size_t la, lb;
        const char *a = lua_tolstring(L, 1, &la), *b = lua_tolstring(L, 2, &lb);
        int c = memcmp(a, b, la < lb ? la : lb);
        less = c < 0 || (c == 0 && la < lb);
    } else if (ra == 2) {
        less = !lua_toboolean(L, 1) && lua_toboolean(L, 2);
    } else {
        less = 0;
    }
    lua_pushboolean(L, less);
    return 1;
}

static int pairs_next(lua_State *L)
{
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(3));
    for (;;) {
        i++;
        if (lua_rawgeti(L, lua_upvalueindex(2), i) == LUA_TNIL) {
            lua_pushinteger(L, i - 1);
            lua_replace(L, lua_upvalueindex(3));
            return 1; /* nil: done */
        }
        lua_pushvalue(L, -1);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) {
            lua_pushinteger(L, i);
            lua_replace(L, lua_upvalueindex(3));
            return 2;
        }
        lua_pop(L, 2); /* removed during the loop: skip, as next() would */
    }
}

/* pairs(t) in a fixed order (see key_less), so rules that build lines while walking a
 * table give the same lines on every run. Raw: __pairs and __index are not consulted. */
static int sb_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_newtable(L);
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, 2, ++n);
    }
    uint64_t f = 1;
    for (uint64_t x = (uint64_t)n; x > 1; x >>= 1)
        f++;
    charge(L, state_rules(L), sat_mul((uint64_t)n, f));
    lua_pushvalue(L, lua_upvalueindex(1)); /* the original table.sort */
    lua_pushvalue(L, 2);
    lua_pushcfunction(L, key_less);
    lua_call(L, 2, 0);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, pairs_next, 3);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* tax(table, column, monthly_income_sek) -> tax_sek | nil, message */
static int sb_tax(lua_State *L)
{
    rules *r = state_rules(L);
    for (int i = 1; i <= 3; i++)
        if (!lua_isinteger(L, i))
            return luaL_argerror(L, i, "integer expected");
    lua_Integer table = lua_tointeger(L, 1), column = lua_tointeger(L, 2);
    lua_Integer income = lua_tointeger(L, 3);
    if (r->tax == NULL) {
        lua_pushnil(L);
        lua_pushliteral(L, "no tax tables are available");
        return 2;
    }
    if (table < 0 || table > 1000 || column < 0 || column > 1000) {
        lua_pushnil(L);
        lua_pushfstring(L, "no tax table %d column %d", (int)table, (int)column);
        return 2;
    }
    int64_t t = 0;
    err_clear();
    if (r->tax(r->tax_ctx, (int)table, (int)column, (int64_t)income, &t) != RL_OK) {
        const char *m = err_msg();
        lua_pushnil(L);
        lua_pushstring(L, m[0] != '\0' ? m : "tax lookup failed");
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)t);
    return 1;
}

/* --- building the sandbox ----------------------------------------------------------- */

static const char *const BASE_ALLOW[] = {
    "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal",
    "rawget", "rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring", "type",
    "xpcall", "_G", "_VERSION", "string", "math", "table", "utf8", NULL};
static const char *const STRING_ALLOW[] = {
    "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "pack",
    "packsize", "rep", "reverse", "sub", "unpack", "upper", NULL};
static const char *const MATH_ALLOW[] = {
    "abs", "acos", "asin", "atan", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge",
    "log", "max", "maxinteger", "min", "mininteger", "modf", "pi", "rad", "sin", "sqrt",
    "tan", "tointeger", "type", "ult", NULL};
static const char *const TABLE_ALLOW[] = {"concat", "insert", "move", "pack", "remove",
                                          "sort", "unpack", NULL};
static const char *const UTF8_ALLOW[] = {"char", "charpattern", "codepoint", "codes", "len",
                                         "offset", NULL};

static bool listed(const char *const *list, const char *name)
{
    for (; *list != NULL; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

/* Removes every field of the table at idx whose name is not in allow. */
static void keep_only(lua_State *L, int idx, const char *const *allow)
{
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING || !listed(allow, lua_tostring(L, -1))) {
            lua_pushvalue(L, -1);
            lua_pushnil(L);
            lua_rawset(L, idx); /* clearing a field during traversal is allowed */
        }
    }
}

static int kind_of(const char *name)
{
    static const struct { const char *name; int kind; } K[] = {
        {"find", K_FIND},   {"match", K_MATCH},   {"gmatch", K_GMATCH}, {"gsub", K_GSUB},
        {"rep", K_REP},     {"insert", K_INSERT}, {"remove", K_REMOVE}, {"sort", K_SORT},
        {"concat", K_CONCAT}, {"move", K_MOVE}};
    for (size_t i = 0; i < sizeof K / sizeof K[0]; i++)
        if (strcmp(K[i].name, name) == 0)
            return K[i].kind;
    return K_SCAN;
}

/* Replaces the C function field name of the table at idx by a charged wrapper. */
static void wrap_one(lua_State *L, int idx, const char *name)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, name);
    lua_CFunction f = lua_tocfunction(L, -1);
    lua_pop(L, 1);
    if (f == NULL)
        return;
    lua_pushcfunction(L, f);
    lua_pushinteger(L, kind_of(name));
    lua_pushcclosure(L, sb_charged, 2);
    lua_setfield(L, idx, name);
}

static void wrap_all(lua_State *L, int idx, const char *const *names)
{
    for (; *names != NULL; names++)
        wrap_one(L, idx, *names);
}

static void open_lib(lua_State *L, const char *name, lua_CFunction open,
                     const char *const *allow)
{
    luaL_requiref(L, name, open, 1);
    keep_only(L, -1, allow);
}

/* Runs in protected mode (allocation can fail at the memory cap). */
static int sb_open(lua_State *L)
{
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    open_lib(L, LUA_STRLIBNAME, luaopen_string, STRING_ALLOW);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math, MATH_ALLOW);
    open_lib(L, LUA_TABLIBNAME, luaopen_table, TABLE_ALLOW);
    open_lib(L, LUA_UTF8LIBNAME, luaopen_utf8, UTF8_ALLOW);
    /* stack: _G string math table utf8 */
    keep_only(L, 1, BASE_ALLOW);

    lua_getfield(L, 4, "sort"); /* the unwrapped sort, for pairs' C comparator */
    lua_pushcclosure(L, sb_pairs, 1);
    lua_setfield(L, 1, "pairs");
    lua_getfield(L, 1, "setmetatable");
    lua_pushcclosure(L, sb_setmetatable, 1);
    lua_setfield(L, 1, "setmetatable");
    lua_pushcfunction(L, sb_pcall);
    lua_setfield(L, 1, "pcall");
    lua_pushcfunction(L, sb_xpcall);
    lua_setfield(L, 1, "xpcall");
    lua_pushcfunction(L, sb_tax);
    lua_setfield(L, 1, "tax");

    wrap_all(L, 2, STRING_ALLOW);
    wrap_all(L, 4, TABLE_ALLOW);
    wrap_all(L, 5, UTF8_ALLOW);
    static const char *const BASE_WRAP[] = {"tonumber", "tostring", NULL};
    wrap_all(L, 1, BASE_WRAP);

    /* Strings share one metatable whose __index is the string table: hide it, so
     * getmetatable("").__index cannot be used to reach or replace it. */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_settop(L, 0);
    return 0;
}

static int sb_panic(lua_State *L)
{
    /* Every entry into Lua is protected; reaching here is a bug in this file. */
    const char *m = lua_tostring(L, -1);
    fprintf(stderr, "rules: unprotected Lua error: %s\n", m != NULL ? m : "?");
    abort();
}

/* --- errors --------------------------------------------------------------------------- */

static void format_bytes(size_t b, char *out, size_t cap)
{
    if (b % ((size_t)1 << 20) == 0)
        snprintf(out, cap, "%zu MiB", b >> 20);
    else
        snprintf(out, cap, "%zu bytes", b);
}

/* Turns a failed protected call into our error: the limit hit, or the Lua message (a
 * string, or the type of a non-string error object; never converted through Lua, since
 * we are outside protected mode here). */
static int lua_failure(rules *r, int status, const char *where)
{
    (void)fatal_status(r, status);
    char buf[32];
    switch (r->limit) {
    case LIMIT_INSTR:
        return err_set(RL_EDATA, "pay rules: %s: instruction limit (%" PRIu64 ") reached", where,
                       r->max_instr);
    case LIMIT_MEM:
        format_bytes(r->max_mem, buf, sizeof buf);
        return err_set(RL_EDATA, "pay rules: %s: memory limit (%s) reached", where, buf);
    case LIMIT_TIME:
        return err_set(RL_EDATA, "pay rules: %s: time limit (%" PRIu64 " s) reached", where,
                       r->max_ns / 1000000000u);
    case LIMIT_OOM:
        return err_set(RL_ENOMEM, "pay rules: %s: out of memory", where);
    default:
        break;
    }
    lua_State *L = r->L;
    if (lua_type(L, -1) == LUA_TSTRING)
        return err_set(RL_EDATA, "pay rules: %s: %s", where, lua_tostring(L, -1));
    if (lua_isinteger(L, -1))
        return err_set(RL_EDATA, "pay rules: %s: error %lld", where,
                       (long long)lua_tointeger(L, -1));
    return err_set(RL_EDATA, "pay rules: %s: error (a %s value)", where,
                   luaL_typename(L, -1));
}

/* Runs the function below its nargs arguments with the call clock running. */
static int timed_pcall(rules *r, int nargs)
{
    r->call_start = now_ns();
    int status = lua_pcall(r->L, nargs, 0, 0);
    r->lua_ns += now_ns() - r->call_start;
    return status;
}

/* --- loading ---------------------------------------------------------------------------- */

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF) without NUL bytes.
 * Returns the offset of the first bad byte, or len. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (len - i <= k)
            return i;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += k + 1;
    }
    return len;
}

int rules_load(const char *path, const minisig_pubkey *pk, const rules_limits *lim,
               rules **out)
{
    int rc = RL_EDATA;
    rules *r = NULL;
    char *text = NULL, *sig = NULL;
    size_t tlen = 0, slen = 0;
    char sigpath[4096], chunk[256];
    if (out == NULL || path == NULL || pk == NULL)
        abort(); /* API misuse */
    *out = NULL;

    int w = snprintf(sigpath, sizeof sigpath, "%s.minisig", path);
    if (w < 0 || (size_t)w >= sizeof sigpath) {
        rc = err_set(RL_EDATA, "pay rules: path too long: %.64s...", path);
        goto cleanup;
    }
    if ((rc = file_read_all(path, RULES_MAX_FILE, &text, &tlen)) != RL_OK) {
        err_wrap(rc, "pay rules: ");
        goto cleanup;
    }
    /* Unsigned is an integrity failure whatever the reason the signature is unreadable. */
    if (file_read_all(sigpath, MINISIG_SIG_TEXT_MAX, &sig, &slen) != RL_OK) {
        rc = err_set(RL_EINTEGRITY, "pay rules: %s is not signed (%s: %s)", path, sigpath,
                     err_msg());
        goto cleanup;
    }
    if (minisig_verify(pk, (const uint8_t *)text, tlen, sig, slen, NULL, 0) != RL_OK) {
        rc = err_wrap(RL_EINTEGRITY, "pay rules: %s: signature check failed: ", path);
        goto cleanup;
    }
    /* Signed, but still refused: precompiled chunks can break the VM's invariants, and
     * luaL_loadbufferx's "t" below would refuse them too; say why plainly. */
    if (tlen > 0 && text[0] == LUA_SIGNATURE[0]) {
        rc = err_set(RL_EDATA, "pay rules: %s is a precompiled (binary) chunk; only Lua source "
                               "text is accepted", path);
        goto cleanup;
    }
    size_t bad = utf8_check((const unsigned char *)text, tlen);
    if (bad != tlen) {
        rc = err_set(RL_EDATA, "pay rules: %s is not UTF-8 text (byte offset %zu)", path, bad);
        goto cleanup;
    }

    if ((r = calloc(1, sizeof *r)) == NULL) {
        rc = err_set(RL_ENOMEM, "pay rules: out of memory");
        goto cleanup;
    }
    r->max_instr = lim != NULL && lim->max_instructions ? lim->max_instructions
                                                          : RULES_DEFAULT_INSTRUCTIONS;
    r->max_mem = lim != NULL && lim->max_memory ? lim->max_memory : RULES_DEFAULT_MEMORY;
    r->max_ns = (uint64_t)(lim != NULL && lim->max_seconds ? lim->max_seconds
                                                           : RULES_DEFAULT_SECONDS) *
                1000000000u;
    crypto_hash_sha256(r->sha256, (const uint8_t *)text, tlen);

    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    snprintf(chunk, sizeof chunk, "=%s", base); /* '=': use the name as is in messages */

    if ((r->L = lua_newstate(sb_alloc, r)) == NULL) {
        char b[32];
        format_bytes(r->max_mem, b, sizeof b);
        rc = r->mem_refused ? err_set(RL_EDATA, "pay rules: memory limit (%s) reached", b)
                            : err_set(RL_ENOMEM, "pay rules: out of memory");
        goto cleanup;
    }
    lua_atpanic(r->L, sb_panic);
    lua_sethook(r->L, sb_hook, LUA_MASKCOUNT, HOOK_EVERY);
    lua_pushcfunction(r->L, sb_open);
    int status = timed_pcall(r, 0);
    if (status == LUA_OK) {
        status = luaL_loadbufferx(r->L, text, tlen, chunk, "t");
        if (status == LUA_OK)
            status = timed_pcall(r, 0); /* the top level defines the functions */
    }
    if (status != LUA_OK) {
        rc = lua_failure(r, status, base);
        goto cleanup;
    }
    lua_settop(r->L, 0);
    *out = r;
    r = NULL;
    rc = RL_OK;
cleanup:
    rules_free(r);
    free(text);
    free(sig);
    return rc;
}

void rules_free(rules *r)
{
    if (r == NULL)
        return;
    if (r->L != NULL) {
        r->closing = true;
        lua_close(r->L);
    }
    pool_close(r);
    free(r->in_cnt);
    free(r->in_keys);
    free(r->in_buf);
    free(r);
}

void rules_set_tax(rules *r, rules_tax_fn fn, void *ctx)
{
    r->tax = fn;
    r->tax_ctx = ctx;
}

void rules_usage(const rules *r, uint64_t *instructions, size_t *peak_memory)
{
    if (instructions != NULL)
        *instructions = r->used;
    if (peak_memory != NULL)
        *peak_memory = r->peak;
}

void rules_sha256(const rules *r, uint8_t out[32]) { memcpy(out, r->sha256, 32); }

/* --- calling ----------------------------------------------------------------------------- */

/* The registry slot of the context table (its address is the key). */
static const char context_key = 'c';

typedef struct {
    const char *fn;          /* NULL: build the context table instead of calling */
    const json_value *input; /* the tree path's input, or NULL: build from text */
    const char *text;        /* the input text, checked by in_check */
    size_t text_len;
    rules_build_fn build;    /* or the input built by this (rules_call_build) */
    void *build_ctx;
    rules *r;
    rules_line *out;
    size_t cap, n;
    char err[192]; /* a shape error (not a Lua error) */
} call_ctx;

/* The first bytes of s for a message (lua_pushfstring has no precision). */
static const char *clip(const char *s, char buf[40])
{
    snprintf(buf, 40, "%.32s%s", s, strlen(s) > 32 ? "..." : "");
    return buf;
}

static void push_json(lua_State *L, const json_value *v)
{
    luaL_checkstack(L, 3, "input nested too deeply");
    switch (json_typeof(v)) {
    case JSON_NULL:
        lua_pushnil(L);
        break;
    case JSON_BOOL:
        lua_pushboolean(L, json_bool(v));
        break;
    case JSON_STRING: {
        size_t len = 0;
        const char *s = json_string(v, &len);
        lua_pushlstring(L, s, len);
        break;
    }
    case JSON_NUMBER: {
        const char *t = json_number_text(v);
        char buf[40];
        int64_t i;
        if (strpbrk(t, ".eE") == NULL) {
            /* an integer literal: exact, or refused (never rounded through a double) */
            if (json_int64(v, &i) != RL_OK)
                luaL_error(L, "input: number %s does not fit a 64-bit integer", clip(t, buf));
            lua_pushinteger(L, (lua_Integer)i);
        } else if (lua_stringtonumber(L, t) == 0) {
            luaL_error(L, "input: bad number %s", clip(t, buf));
        } else {
            lua_Integer k;
            lua_Number d = lua_tonumber(L, -1);
            /* lua_numbertointeger truncates: test integrality first */
            if (d == floor(d) && lua_numbertointeger(d, &k)) { /* 2.0, 1e2: integers */
                lua_pop(L, 1);
                lua_pushinteger(L, k);
            }
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_len(v);
        lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_json(L, json_at(v, i));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_OBJECT: {
        size_t n = json_len(v);
        lua_createtable(L, 0, n > INT32_MAX ? 0 : (int)n);
        for (size_t i = 0; i < n; i++) {
            const json_value *m = json_at(v, i);
            if (json_typeof(m) == JSON_NULL)
                continue; /* null: the field is absent */
            lua_pushstring(L, json_key_at(v, i));
            push_json(L, m);
            lua_rawset(L, -3);
        }
        break;
    }
    }
}

/* --- the input reader -------------------------------------------------------------------- */

/* The input of every call is converted straight from its text onto the Lua stack, in two
 * passes and without a tree (the tree and its mallocs cost more than the rules did):
 *  1. in_scan checks the text, in plain C outside Lua, against the same strict grammar as
 *     common/json.c (RFC 8259, strict UTF-8, no lone surrogates, no duplicate keys after
 *     unescaping, at most IN_MAX_DEPTH nested containers, integers that fit 64 bits, a
 *     container at the top) and records each container's element count;
 *  2. in_push, inside the protected call, builds the tables from the checked text, sized
 *     exactly as the tree path sized them, so Lua sees (and is charged for) the same.
 * The scan accepts a subset of what json_parse accepts and nothing else: whatever it
 * refuses (bad input, a huge integer, an object with more than IN_MAX_MEMBERS members,
 * scratch it cannot allocate) goes down the tree path, json_parse + push_json, which is
 * the reference and gives the exact message. tests/unit/test_rules.c checks both agree. */

#define IN_MAX_DEPTH 64        /* json.c's JSON_MAX_DEPTH */
#define IN_MAX_MEMBERS 64      /* checked for duplicates pairwise; larger objects: tree path */
#define IN_KEEP_SCRATCH ((size_t)1 << 20) /* scratch beyond this is freed after the call */

struct in_key {
    size_t off, len;
    bool decoded; /* the key is at r->in_buf + off; otherwise at the input text + off */
};

typedef struct {
    rules *r;
    const unsigned char *p;
    size_t len, pos;
    size_t ncont;  /* containers opened so far */
    size_t nkeys;  /* in_keys in use (a stack: one frame per open object) */
    size_t kused;  /* in_buf bytes in use by decoded keys (same stack discipline) */
    size_t maxbuf; /* longest escaped string or non-integer number met, in source bytes */
} in_scan;

static bool in_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap != 0 ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return false;
        n *= 2;
    }
    void *q = realloc(*p, n * elem);
    if (q == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static bool in_is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static bool in_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static void in_ws(const unsigned char *p, size_t len, size_t *pos)
{
    while (*pos < len && in_is_ws(p[*pos]))
        (*pos)++;
}


/* Decodes the body of a string literal that in_string accepted (n source bytes, no
 * quotes) into out, which has room for n bytes (decoding never lengthens). */
static size_t in_unescape(const unsigned char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c != '\\') {
            out[o++] = (char)c;
            i++;
            continue;
        }
        unsigned char e = p[i + 1];
        char v;
        switch (e) {
        case 'b': v = '\b'; break;
        case 'f': v = '\f'; break;
        case 'n': v = '\n'; break;
        case 'r': v = '\r'; break;
        case 't': v = '\t'; break;
        case 'u': v = 0; break;
        default: v = (char)e; break; /* " \ / */
        }
        if (e != 'u') {
            out[o++] = v;
            i += 2;
            continue;
        }
        uint32_t cp = 0, lo = 0;
        (void)json_hex4(p + i + 2, &cp);
        i += 6;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            (void)json_hex4(p + i + 2, &lo);
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
        }
        o += json_utf8_put(out + o, cp);
    }
    return o;
}

/* Checks the string literal at s->pos ('"') as json.c's parse_string would and moves past
 * it; *esc tells whether it has escapes (if not, its bytes are its value). */
static bool in_string(in_scan *s, bool *esc)
{
    const unsigned char *p = s->p;
    size_t n = s->len, i = s->pos + 1;
    *esc = false;
    for (;;) {
        if (i >= n)
            return false;
        unsigned char c = p[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return false;
        if (c < 0x80 && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = json_utf8_seq(p + i, n - i, NULL);
            if (k == 0)
                return false;
            i += k;
            continue;
        }
        *esc = true;
        if (n - i < 2)
            return false;
        unsigned char e = p[i + 1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
            e == 't') {
            i += 2;
            continue;
        }
        uint32_t cp, lo;
        if (e != 'u' || n - i < 6 || json_hex4(p + i + 2, &cp) != 0 || (cp >= 0xdc00 && cp <= 0xdfff))
            return false;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (n - i < 12 || p[i + 6] != '\\' || p[i + 7] != 'u' || json_hex4(p + i + 8, &lo) != 0 ||
                lo < 0xdc00 || lo > 0xdfff)
                return false;
            i += 6;
        }
        i += 6;
    }
    if (*esc && i - s->pos > s->maxbuf)
        s->maxbuf = i - s->pos;
    s->pos = i + 1;
    return true;
}

/* The integer of the digits d[0..nd) (sign apart) as json_int64 reads it: false if it
 * does not fit 64 bits. */
static bool in_int(const unsigned char *d, size_t nd, bool neg, int64_t *out)
{
    int64_t acc = 0; /* accumulated negative: INT64_MIN has no positive counterpart */
    for (size_t k = 0; k < nd; k++) {
        int digit = d[k] - '0';
        if (acc < (INT64_MIN + digit) / 10)
            return false;
        acc = acc * 10 - digit;
    }
    if (!neg) {
        if (acc == INT64_MIN)
            return false;
        acc = -acc;
    }
    *out = acc;
    return true;
}

/* Checks the RFC 8259 number at s->pos; an integer literal must fit 64 bits. */
static bool in_number(in_scan *s)
{
    const unsigned char *p = s->p;
    size_t n = s->len, i = s->pos, start = i;
    bool neg = false, frac = false;
    if (p[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= n || !in_is_digit(p[i]))
        return false;
    size_t d0 = i;
    if (p[i] == '0') {
        i++;
        if (i < n && in_is_digit(p[i]))
            return false;
    } else {
        while (i < n && in_is_digit(p[i]))
            i++;
    }
    size_t d1 = i;
    if (i < n && p[i] == '.') {
        frac = true;
        i++;
        if (i >= n || !in_is_digit(p[i]))
            return false;
        while (i < n && in_is_digit(p[i]))
            i++;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        frac = true;
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= n || !in_is_digit(p[i]))
            return false;
        while (i < n && in_is_digit(p[i]))
            i++;
    }
    int64_t v;
    if (!frac && !in_int(p + d0, d1 - d0, neg, &v))
        return false; /* the tree path reports it */
    if (frac && i - start > s->maxbuf)
        s->maxbuf = i - start;
    s->pos = i;
    return true;
}

static bool in_literal(in_scan *s, const char *word, size_t n)
{
    if (s->len - s->pos < n || memcmp(s->p + s->pos, word, n) != 0)
        return false;
    s->pos += n;
    return true;
}

/* Reserves the count slot of the container opening at s->pos. */
static bool in_open(in_scan *s, size_t *slot)
{
    rules *r = s->r;
    if (!in_grow((void **)&r->in_cnt, &r->in_cnt_cap, s->ncont + 1, sizeof *r->in_cnt))
        return false;
    *slot = s->ncont++;
    s->pos++;
    in_ws(s->p, s->len, &s->pos);
    return true;
}

static const char *in_key_bytes(const in_scan *s, const struct in_key *k)
{
    return k->decoded ? s->r->in_buf + k->off : (const char *)s->p + k->off;
}

/* Records the key whose literal spans [k0, s->pos) of the object whose keys start at
 * kbase; false if an earlier key of that object has the same (decoded) bytes. */
static bool in_add_key(in_scan *s, size_t k0, bool esc, size_t kbase)
{
    rules *r = s->r;
    struct in_key k = {k0 + 1, s->pos - k0 - 2, false};
    if (esc) {
        if (!in_grow((void **)&r->in_buf, &r->in_buf_cap, s->kused + k.len, 1))
            return false;
        k.len = in_unescape(s->p + k.off, k.len, r->in_buf + s->kused);
        k.off = s->kused;
        k.decoded = true;
        s->kused += k.len;
    }
    const char *kb = in_key_bytes(s, &k);
    for (size_t i = kbase; i < s->nkeys; i++) {
        const struct in_key *o = &r->in_keys[i];
        if (o->len == k.len && memcmp(in_key_bytes(s, o), kb, k.len) == 0)
            return false;
    }
    if (!in_grow((void **)&r->in_keys, &r->in_keys_cap, s->nkeys + 1, sizeof *r->in_keys))
        return false;
    r->in_keys[s->nkeys++] = k;
    return true;
}

static bool in_value(in_scan *s, int depth);

static bool in_array(in_scan *s, int depth)
{
    size_t slot;
    uint32_t n = 0;
    if (!in_open(s, &slot))
        return false;
    if (s->pos < s->len && s->p[s->pos] == ']') {
        s->pos++;
    } else {
        for (;;) {
            in_ws(s->p, s->len, &s->pos);
            if (n == INT32_MAX || !in_value(s, depth))
                return false;
            n++;
            in_ws(s->p, s->len, &s->pos);
            if (s->pos >= s->len)
                return false;
            unsigned char c = s->p[s->pos++];
            if (c == ']')
                break;
            if (c != ',')
                return false;
        }
    }
    s->r->in_cnt[slot] = n;
    return true;
}

static bool in_object(in_scan *s, int depth)
{
    size_t slot, kbase = s->nkeys, kused = s->kused;
    uint32_t n = 0;
    bool ok = false;
    if (!in_open(s, &slot))
        return false;
    if (s->pos < s->len && s->p[s->pos] == '}') {
        s->pos++;
        ok = true;
        goto done;
    }
    for (;;) {
        in_ws(s->p, s->len, &s->pos);
        size_t k0 = s->pos;
        bool esc;
        if (n == IN_MAX_MEMBERS || s->pos >= s->len || s->p[s->pos] != '"' ||
            !in_string(s, &esc) || !in_add_key(s, k0, esc, kbase))
            goto done;
        n++;
        in_ws(s->p, s->len, &s->pos);
        if (s->pos >= s->len || s->p[s->pos] != ':')
            goto done;
        s->pos++;
        in_ws(s->p, s->len, &s->pos);
        if (!in_value(s, depth))
            goto done;
        in_ws(s->p, s->len, &s->pos);
        if (s->pos >= s->len)
            goto done;
        unsigned char c = s->p[s->pos++];
        if (c == '}')
            break;
        if (c != ',')
            goto done;
    }
    ok = true;
done:
    s->r->in_cnt[slot] = n;
    s->nkeys = kbase; /* this object's keys are no longer needed */
    s->kused = kused;
    return ok;
}

static bool in_value(in_scan *s, int depth)
{
    if (s->pos >= s->len)
        return false;
    unsigned char c = s->p[s->pos];
    bool esc;
    switch (c) {
    case '{':
    case '[':
        if (depth >= IN_MAX_DEPTH)
            return false;
        return c == '{' ? in_object(s, depth + 1) : in_array(s, depth + 1);
    case '"':
        return in_string(s, &esc);
    case 't':
        return in_literal(s, "true", 4);
    case 'f':
        return in_literal(s, "false", 5);
    case 'n':
        return in_literal(s, "null", 4);
    default:
        return (c == '-' || in_is_digit(c)) && in_number(s);
    }
}

/* Pass 1: true if the text is a JSON object or array that in_push can build, with the
 * counts in r->in_cnt and r->in_buf large enough for any string or number it decodes. */
static bool in_check(rules *r, const char *text, size_t len)
{
    in_scan s = {.r = r, .p = (const unsigned char *)text, .len = len};
    if (text == NULL)
        return false;
    in_ws(s.p, len, &s.pos);
    if (s.pos >= len || (s.p[s.pos] != '{' && s.p[s.pos] != '['))
        return false; /* (a byte order mark too: json_parse refuses it) */
    if (!in_value(&s, 0))
        return false;
    in_ws(s.p, len, &s.pos);
    return s.pos == len && in_grow((void **)&r->in_buf, &r->in_buf_cap, s.maxbuf + 1, 1);
}

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    const uint32_t *cnt;
    size_t ci;
    char *buf;
} in_build;

/* The string literal at b->pos (checked), decoded if it has escapes (into b->buf). */
static const char *in_str(in_build *b, size_t *len, bool *esc)
{
    const unsigned char *p = b->p;
    size_t start = b->pos + 1, i = start;
    *esc = false;
    for (; i < b->len && p[i] != '"'; i++) {
        if (p[i] == '\\') {
            *esc = true;
            i++;
        }
    }
    b->pos = i + 1;
    if (!*esc) {
        *len = i - start;
        return (const char *)p + start;
    }
    *len = in_unescape(p + start, i - start, b->buf);
    return b->buf;
}

static void in_ws_b(in_build *b) { in_ws(b->p, b->len, &b->pos); }

/* Pass 2, in protected mode: pushes the value at b->pos exactly as push_json would push
 * its tree (same tables, sizes, order of stores, and checks). */
static void in_push(lua_State *L, in_build *b)
{
    luaL_checkstack(L, 3, "input nested too deeply");
    const unsigned char *p = b->p;
    unsigned char c = p[b->pos];
    size_t len;
    bool esc;
    switch (c) {
    case '{': {
        uint32_t n = b->cnt[b->ci++];
        lua_createtable(L, 0, (int)n);
        b->pos++;
        if (n == 0)
            in_ws_b(b);
        for (uint32_t k = 0; k < n; k++) {
            in_ws_b(b);
            const char *key = in_str(b, &len, &esc);
            if (esc)
                len = strnlen(key, len); /* push_json pushed keys as C strings */
            in_ws_b(b);
            b->pos++; /* ':' */
            in_ws_b(b);
            if (p[b->pos] == 'n') {
                b->pos += 4; /* null: the field is absent */
            } else {
                lua_pushlstring(L, key, len);
                in_push(L, b);
                lua_rawset(L, -3);
            }
            in_ws_b(b);
            if (k + 1 < n)
                b->pos++; /* ',' */
        }
        b->pos++; /* '}' */
        break;
    }
    case '[': {
        uint32_t n = b->cnt[b->ci++];
        lua_createtable(L, (int)n, 0);
        b->pos++;
        if (n == 0)
            in_ws_b(b);
        for (uint32_t k = 0; k < n; k++) {
            in_ws_b(b);
            in_push(L, b);
            lua_rawseti(L, -2, (lua_Integer)k + 1);
            in_ws_b(b);
            if (k + 1 < n)
                b->pos++; /* ',' */
        }
        b->pos++; /* ']' */
        break;
    }
    case '"': {
        const char *s = in_str(b, &len, &esc);
        lua_pushlstring(L, s, len);
        break;
    }
    case 't':
        lua_pushboolean(L, 1);
        b->pos += 4;
        break;
    case 'f':
        lua_pushboolean(L, 0);
        b->pos += 5;
        break;
    case 'n':
        lua_pushnil(L);
        b->pos += 4;
        break;
    default: { /* a number */
        size_t start = b->pos, i = start;
        bool frac = false;
        while (i < b->len && (in_is_digit(p[i]) || p[i] == '-' || p[i] == '+' || p[i] == '.' ||
                              p[i] == 'e' || p[i] == 'E')) {
            frac = frac || p[i] == '.' || p[i] == 'e' || p[i] == 'E';
            i++;
        }
        b->pos = i;
        if (!frac) {
            int64_t v = 0;
            bool neg = p[start] == '-';
            size_t skip = neg ? 1 : 0;
            (void)in_int(p + start + skip, i - start - skip, neg, &v); /* checked to fit */
            lua_pushinteger(L, (lua_Integer)v);
            break;
        }
        char cb[40];
        memcpy(b->buf, p + start, i - start);
        b->buf[i - start] = '\0';
        if (lua_stringtonumber(L, b->buf) == 0) {
            luaL_error(L, "input: bad number %s", clip(b->buf, cb));
        } else {
            lua_Integer k;
            lua_Number d = lua_tonumber(L, -1);
            if (d == floor(d) && lua_numbertointeger(d, &k)) { /* 2.0, 1e2: integers */
                lua_pop(L, 1);
                lua_pushinteger(L, k);
            }
        }
        break;
    }
    }
}

/* Frees reader scratch that one unusually large input grew. */
static void in_trim(rules *r)
{
    if (r->in_cnt_cap * sizeof *r->in_cnt > IN_KEEP_SCRATCH) {
        free(r->in_cnt);
        r->in_cnt = NULL;
        r->in_cnt_cap = 0;
    }
    if (r->in_keys_cap * sizeof *r->in_keys > IN_KEEP_SCRATCH) {
        free(r->in_keys);
        r->in_keys = NULL;
        r->in_keys_cap = 0;
    }
    if (r->in_buf_cap > IN_KEEP_SCRATCH) {
        free(r->in_buf);
        r->in_buf = NULL;
        r->in_buf_cap = 0;
    }
}

static bool code_ok(const char *s, size_t n)
{
    if (n == 0 || n >= sizeof(((rules_line *)0)->code))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static bool text_ok(const char *s, size_t n)
{
    if (n >= sizeof(((rules_line *)0)->text))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return utf8_check((const unsigned char *)s, n) == n;
}

/* The field of the table at idx, raw (no metamethods run while we read results). */
static int raw_field(lua_State *L, int idx, const char *name)
{
    lua_pushstring(L, name);
    return lua_rawget(L, idx);
}

/* Checks and copies the returned lines; a problem goes to c->err. */
static void read_lines(lua_State *L, call_ctx *c)
{
    if (lua_type(L, 1) != LUA_TTABLE) {
        snprintf(c->err, sizeof c->err, "returned %s, not a table of lines", luaL_typename(L, 1));
        return;
    }
    size_t n = (size_t)lua_rawlen(L, 1);
    if (n > c->cap) {
        snprintf(c->err, sizeof c->err, "returned %zu lines, more than the %zu allowed", n,
                 c->cap);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        rules_line *l = &c->out[i];
        size_t len;
        lua_settop(L, 1);
        if (lua_rawgeti(L, 1, (lua_Integer)i + 1) != LUA_TTABLE) {
            snprintf(c->err, sizeof c->err, "line %zu is %s, not a table", i + 1,
                     luaL_typename(L, -1));
            return;
        }
        /* stack: result, line */
        if (raw_field(L, 2, "code") != LUA_TSTRING) {
            snprintf(c->err, sizeof c->err, "line %zu: code must be a string (got %s)", i + 1,
                     luaL_typename(L, -1));
            return;
        }
        const char *s = lua_tolstring(L, -1, &len);
        if (!code_ok(s, len)) {
            snprintf(c->err, sizeof c->err,
                     "line %zu: code must be 1-23 characters A-Z a-z 0-9 _ . -", i + 1);
            return;
        }
        memcpy(l->code, s, len);
        l->code[len] = '\0';
        lua_pop(L, 1);

        int t = raw_field(L, 2, "amount_ore");
        if (!lua_isinteger(L, -1)) {
            if (t == LUA_TNUMBER)
                snprintf(c->err, sizeof c->err,
                         "line %zu (%s): amount_ore must be an integer number of öre, got %.17g "
                         "(use // for division)", i + 1, l->code, lua_tonumber(L, -1));
            else
                snprintf(c->err, sizeof c->err,
                         "line %zu (%s): amount_ore must be an integer number of öre, got %s",
                         i + 1, l->code, luaL_typename(L, -1));
            return;
        }
        l->amount_ore = (int64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);

        t = raw_field(L, 2, "text");
        if (t == LUA_TNIL) {
            l->text[0] = '\0';
        } else if (t != LUA_TSTRING) {
            snprintf(c->err, sizeof c->err, "line %zu (%s): text must be a string (got %s)",
                     i + 1, l->code, luaL_typename(L, -1));
            return;
        } else {
            s = lua_tolstring(L, -1, &len);
            if (!text_ok(s, len)) {
                snprintf(c->err, sizeof c->err,
                         "line %zu (%s): text must be UTF-8 without control characters, at "
                         "most %zu bytes", i + 1, l->code, sizeof l->text - 1);
                return;
            }
            memcpy(l->text, s, len);
            l->text[len] = '\0';
        }
    }
    c->n = n;
}

/* --- the input built directly (rules_call_build) ---------------------------------------- */

/* Mirrors in_push: a member is its key pushed, its value pushed, then rawset into the
 * object; an element is its value pushed, then rawseti at the next index. */
struct rules_input {
    lua_State *L;
    int depth;
    bool array[RULES_IN_DEPTH];
    lua_Integer count[RULES_IN_DEPTH];
};

/* The key, if in an object; then room on the stack as in_push makes it (after the key), so
 * the stack grows, and is charged, at the same points. */
static void bi_key(rules_input *in, const char *key)
{
    if (in->depth > 0 && !in->array[in->depth - 1])
        lua_pushstring(in->L, key);
    luaL_checkstack(in->L, 3, "input nested too deeply");
}

static void bi_store(rules_input *in)
{
    if (in->depth == 0)
        return; /* the table itself stays on the stack */
    if (in->array[in->depth - 1])
        lua_rawseti(in->L, -2, ++in->count[in->depth - 1]);
    else
        lua_rawset(in->L, -3);
}

static void bi_open(rules_input *in, const char *key, int n, bool array)
{
    if (in->depth == RULES_IN_DEPTH || n < 0)
        abort(); /* API misuse */
    bi_key(in, key);
    if (array)
        lua_createtable(in->L, n, 0);
    else
        lua_createtable(in->L, 0, n);
    in->array[in->depth] = array;
    in->count[in->depth] = 0;
    in->depth++;
}

void rules_in_object(rules_input *in, const char *key, int n) { bi_open(in, key, n, false); }
void rules_in_array(rules_input *in, const char *key, int n) { bi_open(in, key, n, true); }

void rules_in_end(rules_input *in)
{
    if (in->depth == 0)
        abort(); /* API misuse */
    in->depth--;
    bi_store(in);
}

void rules_in_string(rules_input *in, const char *key, const char *s, size_t len)
{
    bi_key(in, key);
    lua_pushlstring(in->L, s, len);
    bi_store(in);
}

void rules_in_int(rules_input *in, const char *key, int64_t v)
{
    bi_key(in, key);
    lua_pushinteger(in->L, (lua_Integer)v);
    bi_store(in);
}

void rules_in_bool(rules_input *in, const char *key, int b)
{
    bi_key(in, key);
    lua_pushboolean(in->L, b != 0);
    bi_store(in);
}

/* The whole call runs in protected mode: building the input allocates (and can meet the
 * memory cap) as much as the rules do. */
static int call_protected(lua_State *L)
{
    call_ctx *c = lua_touserdata(L, 1);
    lua_settop(L, 0);
    if (c->fn != NULL && lua_getglobal(L, c->fn) != LUA_TFUNCTION) {
        snprintf(c->err, sizeof c->err, "the rules define no function %.40s", c->fn);
        return 0;
    }
    if (c->build != NULL) {
        rules_input in = {.L = L};
        c->build(&in, c->build_ctx);
        if (in.depth != 0 || lua_gettop(L) != 2 || lua_type(L, 2) != LUA_TTABLE)
            abort(); /* API misuse: one table, every container closed */
    } else if (c->input != NULL) {
        push_json(L, c->input);
    } else {
        in_build b = {.p = (const unsigned char *)c->text, .len = c->text_len,
                      .cnt = c->r->in_cnt, .buf = c->r->in_buf};
        in_ws_b(&b);
        in_push(L, &b);
    }
    if (c->fn == NULL) {
        lua_rawsetp(L, LUA_REGISTRYINDEX, &context_key);
        return 0;
    }
    int nargs = 1;
    if (c->r->has_context) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &context_key);
        nargs = 2;
    }
    lua_call(L, nargs, 1);
    read_lines(L, c);
    return 0;
}

/* One protected call of fn, or with fn NULL the building of the context table. */
/* What a message names: fn() for a call, the given text otherwise. Made only for a message
 * (a formatted name per call was a measurable share of a pay run). */
static const char *where_of(const char *where, const char *fn, char buf[64])
{
    if (where != NULL)
        return where;
    snprintf(buf, 64, "%.40s()", fn);
    return buf;
}

static int run_call(rules *r, const char *fn, const char *where_in, const char *input_json,
                    size_t len, rules_build_fn build, void *build_ctx, rules_line *out,
                    size_t cap, size_t *n)
{
    int rc = RL_EDATA;
    json_value *in = NULL;
    char wbuf[64];
    if (r->limit != LIMIT_NONE) {
        rc = err_set(RL_EDATA, "pay rules: %s: not run: an earlier call hit a limit",
                     where_of(where_in, fn, wbuf));
        goto cleanup;
    }
    bool fast = build != NULL || in_check(r, input_json, len);
    if (!fast) { /* refused by the fast reader: the tree path decides, and explains */
        if (json_parse(input_json, len, &in) != RL_OK) {
            rc = err_wrap(RL_EDATA, "pay rules: %s: input: ", where_of(where_in, fn, wbuf));
            goto cleanup;
        }
        if (json_typeof(in) != JSON_OBJECT && json_typeof(in) != JSON_ARRAY) {
            rc = err_set(RL_EDATA, "pay rules: %s: input must be a JSON object or array",
                         where_of(where_in, fn, wbuf));
            goto cleanup;
        }
    }
    call_ctx c = {.fn = fn, .input = in, .text = input_json, .text_len = len, .build = build,
                  .build_ctx = build_ctx, .r = r, .out = out, .cap = cap};
    lua_settop(r->L, 0);
    lua_pushcfunction(r->L, call_protected);
    lua_pushlightuserdata(r->L, &c);
    int status = timed_pcall(r, 1);
    if (status != LUA_OK) {
        rc = lua_failure(r, status, where_of(where_in, fn, wbuf));
        goto cleanup;
    }
    if (c.err[0] != '\0') {
        rc = err_set(RL_EDATA, "pay rules: %s: %s", where_of(where_in, fn, wbuf), c.err);
        goto cleanup;
    }
    if (n != NULL)
        *n = c.n;
    rc = RL_OK;
cleanup:
    lua_settop(r->L, 0);
    json_free(in);
    in_trim(r);
    return rc;
}

int rules_set_context(rules *r, const char *context_json, size_t len)
{
    if (r == NULL || context_json == NULL)
        abort(); /* API misuse */
    int rc = run_call(r, NULL, "context", context_json, len, NULL, NULL, NULL, 0, NULL);
    if (rc == RL_OK)
        r->has_context = true;
    return rc;
}

int rules_call(rules *r, const char *fn, const char *input_json, size_t len, rules_line *out,
               size_t cap, size_t *n)
{
    if (r == NULL || fn == NULL || n == NULL || (out == NULL && cap > 0))
        abort(); /* API misuse */
    *n = 0;
    return run_call(r, fn, NULL, input_json, len, NULL, NULL, out, cap, n);
}

int rules_call_build(rules *r, const char *fn, rules_build_fn build, void *ctx,
                     rules_line *out, size_t cap, size_t *n)
{
    if (r == NULL || fn == NULL || build == NULL || n == NULL || (out == NULL && cap > 0))
        abort(); /* API misuse */
    *n = 0;
    return run_call(r, fn, NULL, NULL, 0, build, ctx, out, cap, n);
}
