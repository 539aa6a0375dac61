/* Unit tests for app/rules: the Lua pay-rules sandbox.
 *
 * Every rule file is written to a temporary directory and signed at test time with the
 * TEST rules key (keys/test/rules-TEST.key), as the appliance would see a shipped file.
 * Evidence: calls that work (nested input, Swedish text, tax()), integrity refusals,
 * an escape catalogue in which every attempt must fail cleanly and leave the object
 * usable, limits (instructions, memory, the C-function loopholes) that must end the run
 * with a clear message, wrong return shapes, and determinism.
 * Runs from the repository root (TOP if set) so keys/test/ is found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <sodium.h>

#include "common/err.h"
#include "common/fileio.h"
#include "rules/rules.h"
#include "sig/minisig.h"

static const char *top(void)
{
    const char *t = getenv("TOP");
    return t != NULL && t[0] != '\0' ? t : ".";
}

typedef struct {
    char dir[256];
    char path[512];     /* the rule file of the current test */
    minisig_seckey *sk; /* rules-TEST.key */
    minisig_pubkey pk;  /* rules-TEST.pub */
    minisig_pubkey other; /* export-TEST.pub: a valid key that did not sign */
    rules *r;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char p[512];
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/rl-rules.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.lua", f->dir);
    snprintf(p, sizeof p, "%s/keys/test/rules-TEST.key", top());
    if (minisig_seckey_load(p, &f->sk) != 0) {
        fprintf(stderr, "setup: %s\n", err_msg());
        return -1;
    }
    snprintf(p, sizeof p, "%s/keys/test/rules-TEST.pub", top());
    if (minisig_pubkey_load(p, &f->pk) != 0)
        return -1;
    snprintf(p, sizeof p, "%s/keys/test/export-TEST.pub", top());
    if (minisig_pubkey_load(p, &f->other) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[512];
    rules_free(f->r);
    minisig_seckey_free(f->sk);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void write_signed(fixture *f, const void *src, size_t len)
{
    assert_int_equal(file_write_atomic(f->path, src, len, 0600), 0);
    assert_int_equal(minisig_sign_file(f->sk, f->path, "TEST rules"), 0);
}

/* Writes, signs and loads src as f->path (replacing f->r); returns rules_load's code. */
static int load_lim(fixture *f, const char *src, const rules_limits *lim)
{
    rules_free(f->r);
    f->r = NULL;
    write_signed(f, src, strlen(src));
    int rc = rules_load(f->path, &f->pk, lim, &f->r);
    if (rc != RL_OK)
        assert_null(f->r);
    return rc;
}

static void load_ok(fixture *f, const char *src, const rules_limits *lim)
{
    int rc = load_lim(f, src, lim);
    if (rc != RL_OK)
        fail_msg("rules_load: %s", err_msg());
}

static int call(fixture *f, const char *fn, const char *json, rules_line *out, size_t cap,
                size_t *n)
{
    return rules_call(f->r, fn, json, strlen(json), out, cap, n);
}

/* Expects fn to fail with RL_EDATA and a message containing want. */
static void expect_fail(fixture *f, const char *fn, const char *want)
{
    rules_line out[4];
    size_t n = 99;
    int rc = call(f, fn, "{}", out, 4, &n);
    if (rc != RL_EDATA || strstr(err_msg(), want) == NULL)
        fail_msg("%s: rc %d, message '%s', wanted '%s'", fn, rc, err_msg(), want);
    assert_int_equal(n, 0);
}

static void expect_ok(fixture *f, const char *fn)
{
    rules_line out[4];
    size_t n = 0;
    if (call(f, fn, "{}", out, 4, &n) != RL_OK)
        fail_msg("%s: %s", fn, err_msg());
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* --- calls that work -------------------------------------------------------------------- */

static const char PAY_SRC[] =
    "-- test rules: lines from nested input, Swedish text\n"
    "local function check(e)\n"
    "  return math.type(e.ratio) == 'float' and math.type(e.whole) == 'integer'\n"
    "     and e.nothing == nil and e.flags[1] == true and e.flags[2] == false\n"
    "     and #e.flags == 2 and e.empty_obj ~= nil and #e.empty_arr == 0\n"
    "     and math.type(e.salary_ore) == 'integer' and e.big == 9007199254740993\n"
    "end\n"
    "function pay(e)\n"
    "  local lines = {}\n"
    "  lines[#lines + 1] = {code = 'GROSS_SALARY', amount_ore = e.salary_ore * e.extent.pct // 100,\n"
    "                       text = 'Månadslön ' .. e.person.name}\n"
    "  for _, o in ipairs(e.one_offs) do\n"
    "    lines[#lines + 1] = {code = o.code, amount_ore = o.amount_ore, text = o.text}\n"
    "  end\n"
    "  lines[#lines + 1] = {code = 'NOTE', amount_ore = check(e) and 1 or 0,\n"
    "                       text = string.format('%d engångsbelopp, %s', #e.one_offs, 'växling')}\n"
    "  return lines\n"
    "end\n";

static const char PAY_INPUT[] =
    "{\"salary_ore\":3512345,\"extent\":{\"pct\":75},\"person\":{\"name\":\"Åsa Öberg\"},"
    "\"one_offs\":[{\"code\":\"GROSS_BONUS\",\"amount_ore\":50000,\"text\":\"Sommarlön för "
    "juni\"},{\"code\":\"DED_UNION\",\"amount_ore\":-31000}],"
    "\"ratio\":0.5,\"whole\":2.0,\"nothing\":null,\"flags\":[true,false],"
    "\"empty_obj\":{},\"empty_arr\":[],\"big\":9007199254740993}";

static void test_pay_lines(void **state)
{
    fixture *f = *state;
    rules_line out[8];
    size_t n = 0;
    load_ok(f, PAY_SRC, NULL);
    if (call(f, "pay", PAY_INPUT, out, 8, &n) != RL_OK)
        fail_msg("%s", err_msg());
    assert_int_equal(n, 4);
    assert_string_equal(out[0].code, "GROSS_SALARY");
    assert_int_equal(out[0].amount_ore, 3512345LL * 75 / 100);
    assert_string_equal(out[0].text, "Månadslön Åsa Öberg");
    assert_string_equal(out[1].code, "GROSS_BONUS");
    assert_int_equal(out[1].amount_ore, 50000);
    assert_string_equal(out[1].text, "Sommarlön för juni");
    assert_string_equal(out[2].code, "DED_UNION");
    assert_int_equal(out[2].amount_ore, -31000);
    assert_string_equal(out[2].text, ""); /* text is optional */
    assert_string_equal(out[3].code, "NOTE");
    assert_int_equal(out[3].amount_ore, 1); /* every type conversion as documented */
    assert_string_equal(out[3].text, "2 engångsbelopp, växling");

    uint64_t used = 0;
    size_t peak = 0;
    rules_usage(f->r, &used, &peak);
    assert_true(used > 0);
    assert_true(peak > 0 && peak < RULES_DEFAULT_MEMORY);

    /* the digest is of the bytes loaded */
    uint8_t want[32], got[32];
    crypto_hash_sha256(want, (const uint8_t *)PAY_SRC, sizeof PAY_SRC - 1);
    rules_sha256(f->r, got);
    assert_memory_equal(want, got, 32);
}

/* Same input twice, and in a second rules object (another hash seed): the same lines.
 * pairs() walks keys in a fixed order, so a rule that builds text from an object's keys
 * is reproducible too. */
static const char DET_SRC[] =
    "function pay(e)\n"
    "  local keys = {}\n"
    "  for k, v in pairs(e.parts) do keys[#keys + 1] = k .. '=' .. v end\n"
    "  local mixed = {}\n"
    "  for k in pairs({[3] = 1, [1] = 1, b = 1, a = 1, [true] = 1, [2.5] = 1}) do\n"
    "    mixed[#mixed + 1] = tostring(k)\n"
    "  end\n"
    "  local sum = 0\n"
    "  for _, v in pairs(e.parts) do sum = sum + v end\n"
    "  return {{code = 'NOTE', amount_ore = sum, text = table.concat(keys, ',')},\n"
    "          {code = 'NOTE', amount_ore = 0, text = table.concat(mixed, ',')}}\n"
    "end\n";

static void test_determinism(void **state)
{
    fixture *f = *state;
    const char *in = "{\"parts\":{\"zeta\":1,\"alfa\":2,\"mu\":3,\"beta\":4,\"omega\":5,"
                     "\"kappa\":6,\"gamma\":7,\"delta\":8,\"epsilon\":9,\"eta\":10}}";
    rules_line a[4], b[4];
    size_t na = 0, nb = 0;
    memset(a, 0, sizeof a); /* compared whole, padding after the strings included */
    memset(b, 0, sizeof b);
    load_ok(f, DET_SRC, NULL);
    assert_int_equal(call(f, "pay", in, a, 4, &na), RL_OK);
    assert_int_equal(call(f, "pay", in, b, 4, &nb), RL_OK);
    assert_int_equal(na, 2);
    assert_int_equal(nb, 2);
    assert_memory_equal(a, b, sizeof a[0] * 2);
    assert_string_equal(a[0].text, "alfa=2,beta=4,delta=8,epsilon=9,eta=10,gamma=7,kappa=6,"
                                   "mu=3,omega=5,zeta=1");
    assert_int_equal(a[0].amount_ore, 55);
    assert_string_equal(a[1].text, "1,2.5,3,a,b,true");
    load_ok(f, DET_SRC, NULL); /* a new state */
    assert_int_equal(call(f, "pay", in, b, 4, &nb), RL_OK);
    assert_memory_equal(a, b, sizeof a[0] * 2);
}

/* --- the context argument ----------------------------------------------------------------- */

static const char CTX_SRC[] =
    "function pay(e, run)\n"
    "  if run == nil then return {{code = 'NOTE', amount_ore = 0, text = 'no context'}} end\n"
    "  return {{code = 'GROSS_X', amount_ore = run.base + e.k, text = run.period}}\n"
    "end\n"
    "function poke(e, run) run.base = run.base + 1; return {} end\n";

static void test_context(void **state)
{
    fixture *f = *state;
    rules_line out[2];
    size_t n = 0;
    load_ok(f, CTX_SRC, NULL);
    /* Without a context the second argument is nil. */
    assert_int_equal(call(f, "pay", "{\"k\":1}", out, 2, &n), RL_OK);
    assert_string_equal(out[0].text, "no context");
    /* Malformed or non-container context: refused, and still no context. */
    assert_int_equal(rules_set_context(f->r, "{\"base\":", 8), RL_EDATA);
    assert_non_null(strstr(err_msg(), "pay rules: context: input"));
    assert_int_equal(rules_set_context(f->r, "42", 2), RL_EDATA);
    assert_int_equal(call(f, "pay", "{\"k\":1}", out, 2, &n), RL_OK);
    assert_string_equal(out[0].text, "no context");
    /* Built once, given to every call beside each input. */
    const char *ctx = "{\"base\":1000,\"period\":\"2026-11\"}";
    assert_int_equal(rules_set_context(f->r, ctx, strlen(ctx)), RL_OK);
    for (int k = 1; k <= 3; k++) {
        char in[32];
        snprintf(in, sizeof in, "{\"k\":%d}", k);
        assert_int_equal(call(f, "pay", in, out, 2, &n), RL_OK);
        assert_int_equal(n, 1);
        assert_int_equal(out[0].amount_ore, 1000 + k);
        assert_string_equal(out[0].text, "2026-11");
    }
    /* One shared table: a change by one call is seen by the next (documented: read-only). */
    assert_int_equal(call(f, "poke", "{}", out, 2, &n), RL_OK);
    assert_int_equal(call(f, "pay", "{\"k\":0}", out, 2, &n), RL_OK);
    assert_int_equal(out[0].amount_ore, 1001);
    /* Setting it again replaces it. */
    ctx = "{\"base\":7,\"period\":\"x\"}";
    assert_int_equal(rules_set_context(f->r, ctx, strlen(ctx)), RL_OK);
    assert_int_equal(call(f, "pay", "{\"k\":0}", out, 2, &n), RL_OK);
    assert_int_equal(out[0].amount_ore, 7);
}

/* --- integrity -------------------------------------------------------------------------- */

static void test_integrity(void **state)
{
    fixture *f = *state;
    const char *src = "function pay(e) return {} end\n";
    char sigpath[600];
    snprintf(sigpath, sizeof sigpath, "%s.minisig", f->path);

    /* signed with the rules key: loads */
    load_ok(f, src, NULL);
    rules_free(f->r);
    f->r = NULL;

    /* wrong key */
    assert_int_equal(rules_load(f->path, &f->other, NULL, &f->r), RL_EINTEGRITY);
    assert_null(f->r);

    /* modified after signing: one byte appended */
    assert_int_equal(file_write_atomic(f->path, "function pay(e) return {} end\n--\n", 33, 0600),
                     0);
    assert_int_equal(rules_load(f->path, &f->pk, NULL, &f->r), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "signature"));

    /* unsigned */
    assert_int_equal(remove(sigpath), 0);
    assert_int_equal(rules_load(f->path, &f->pk, NULL, &f->r), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "not signed"));
    assert_null(f->r);

    /* a signature file that is garbage */
    assert_int_equal(file_write_atomic(sigpath, "nonsense\n", 9, 0600), 0);
    assert_int_equal(rules_load(f->path, &f->pk, NULL, &f->r), RL_EINTEGRITY);

    /* no rule file at all: a data error, not an integrity one */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.lua", f->dir);
    assert_int_equal(rules_load(missing, &f->pk, NULL, &f->r), RL_EDATA);
}

/* The documented way to sign a rule file, with the real minisign tool. */
static void test_minisign_tool(void **state)
{
    fixture *f = *state;
    char cmd[1200];
    const char *src = "function pay(e) return {{code = 'NOTE', amount_ore = 0}} end\n";
    assert_int_equal(file_write_atomic(f->path, src, strlen(src), 0600), 0);
    snprintf(cmd, sizeof cmd, "minisign -S -s '%s/keys/test/rules-TEST.key' -m '%s' "
             "</dev/null >/dev/null 2>&1", top(), f->path);
    int st = system(cmd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 127)
        skip(); /* minisign not installed */
    assert_int_equal(WEXITSTATUS(st), 0);
    if (rules_load(f->path, &f->pk, NULL, &f->r) != RL_OK)
        fail_msg("%s", err_msg());
}

typedef struct {
    char data[4096];
    size_t len;
} dump_buf;

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    dump_buf *b = ud;
    (void)L;
    if (sz > sizeof b->data - b->len)
        return 1;
    memcpy(b->data + b->len, p, sz);
    b->len += sz;
    return 0;
}

/* A precompiled chunk, even one signed with the right key, and non-UTF-8 text are refused. */
static void test_bytecode_and_text(void **state)
{
    fixture *f = *state;
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    assert_int_equal(luaL_loadstring(L, "function pay(e) return {} end"), LUA_OK);
    dump_buf b = {0};
    assert_int_equal(lua_dump(L, dump_writer, &b, 0), 0);
    lua_close(L);
    write_signed(f, b.data, b.len);
    assert_int_equal(rules_load(f->path, &f->pk, NULL, &f->r), RL_EDATA);
    assert_non_null(strstr(err_msg(), "binary"));
    assert_null(f->r);

    static const char latin1[] = "-- l\xf6n\nfunction pay(e) return {} end\n";
    write_signed(f, latin1, sizeof latin1 - 1);
    assert_int_equal(rules_load(f->path, &f->pk, NULL, &f->r), RL_EDATA);
    assert_non_null(strstr(err_msg(), "UTF-8"));

    /* syntax and top-level errors name the file and line */
    assert_int_equal(load_lim(f, "function pay(e)\n  return {\nend\n", NULL), RL_EDATA);
    assert_non_null(strstr(err_msg(), "t.lua:"));
    assert_int_equal(load_lim(f, "local x = nil\nx.y = 1\n", NULL), RL_EDATA);
    assert_non_null(strstr(err_msg(), "t.lua:2:"));
}

/* --- the escape catalogue ---------------------------------------------------------------- */

static const struct {
    const char *body;
    const char *want;
} ESCAPES[] = {
    {"io.open('/etc/passwd')", "global 'io'"},
    {"os.execute('touch /tmp/rl-pwned')", "global 'os'"},
    {"os.exit(1)", "global 'os'"},
    {"require('os')", "global 'require'"},
    {"local x = package.loaded", "global 'package'"},
    {"debug.getregistry()", "global 'debug'"},
    {"dofile('/etc/passwd')", "global 'dofile'"},
    {"loadfile('/etc/passwd')", "global 'loadfile'"},
    {"load('return 1')", "global 'load'"},
    {"load(string.char(27) .. 'Lua')", "global 'load'"},
    {"string.dump(pay)", "field 'dump'"},
    {"collectgarbage('collect')", "global 'collectgarbage'"},
    {"collectgarbage('stop')", "global 'collectgarbage'"},
    {"print('hello')", "global 'print'"},
    {"warn('@on')", "global 'warn'"},
    {"math.random(10)", "field 'random'"},
    {"math.randomseed(1)", "field 'randomseed'"},
    {"coroutine.wrap(function() end)", "global 'coroutine'"},
    {"getmetatable('').__index.rep = nil", "index a boolean"},
    {"setmetatable(getmetatable(''), {})", "table expected"},
    {"setmetatable({}, {__gc = function() while true do end end})", "__gc"},
    {"assert(rawget(_G, 'io') == nil and rawget(_G, 'os') == nil); error('contained')",
     "contained"},
    {"local function f(n) return 1 + f(n + 1) end local x = f(1)", "stack overflow"},
    {"error(setmetatable({}, {__tostring = function() return 'x' end}))", "a table value"},
    {"local s = ('x'):rep(10) local x = s:bad()", "method 'bad'"},
    {"tax('33', 1, 30000)", "integer expected"},
};

static void test_escapes(void **state)
{
    fixture *f = *state;
    char src[8192];
    size_t off = 0;
    size_t count = sizeof ESCAPES / sizeof ESCAPES[0];
    assert_true(count >= 15);
    for (size_t i = 0; i < count; i++) {
        int w = snprintf(src + off, sizeof src - off, "function a%zu(e)\n  %s\n  return {}\nend\n",
                         i, ESCAPES[i].body);
        assert_true(w > 0 && (size_t)w < sizeof src - off);
        off += (size_t)w;
    }
    int w = snprintf(src + off, sizeof src - off,
                     "function ok(e) return {{code = 'NOTE', amount_ore = 0}} end\n"
                     "function pay(e) return {} end\n");
    assert_true(w > 0 && (size_t)w < sizeof src - off);
    load_ok(f, src, NULL);
    char fn[16];
    for (size_t i = 0; i < count; i++) {
        snprintf(fn, sizeof fn, "a%zu", i);
        expect_fail(f, fn, ESCAPES[i].want);
        expect_ok(f, "ok"); /* a caught escape leaves the sandbox usable */
    }
    /* nothing escaped to the file system */
    assert_int_not_equal(access("/tmp/rl-pwned", F_OK), 0);
}

/* --- limits -------------------------------------------------------------------------------- */

static void test_instruction_limit(void **state)
{
    fixture *f = *state;
    rules_limits lim = {.max_instructions = 1000000};
    const char *src =
        "function spin(e) while true do end end\n"
        "function swallow(e)\n"
        "  while true do pcall(function() while true do end end) end\n"
        "end\n"
        "function handler(e)\n"
        "  xpcall(function() while true do end end, function(m) while true do end end)\n"
        "  return {}\n"
        "end\n"
        "function ok(e) return {} end\n";
    const char *fns[] = {"spin", "swallow", "handler"};
    for (size_t i = 0; i < 3; i++) {
        load_ok(f, src, &lim);
        expect_ok(f, "ok");
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        expect_fail(f, fns[i], "instruction limit (1000000) reached");
        assert_true(seconds_since(&t0) < 60.0); /* "stops", not "fast": no timing targets in unit tests */
        uint64_t used = 0;
        rules_usage(f->r, &used, NULL);
        assert_true(used > 1000000);
        /* spent: later calls refuse */
        expect_fail(f, "ok", "earlier call hit a limit");
    }
    char want[96];
    snprintf(want, sizeof want, "pay rules: spin(): instruction limit (1000000) reached");
    load_ok(f, src, &lim);
    rules_line out[1];
    size_t n;
    assert_int_equal(call(f, "spin", "{}", out, 1, &n), RL_EDATA);
    assert_string_equal(err_msg(), want);

    /* a top level that never ends fails the load */
    assert_int_equal(load_lim(f, "while true do end\n", &lim), RL_EDATA);
    assert_non_null(strstr(err_msg(), "instruction limit"));

    /* the default applies to a zero field */
    rules_limits zero = {0};
    load_ok(f, "function pay(e) return {} end\n", &zero);
}

/* C functions the count hook cannot interrupt are charged their worst case first. */
static void test_c_function_loopholes(void **state)
{
    fixture *f = *state;
    rules_limits lim = {.max_instructions = 50000000};
    const char *src =
        "function backtrack(e)\n"
        "  return {{code = 'NOTE', amount_ore = string.find(string.rep('a', 5000),\n"
        "           string.rep('a*', 30) .. 'b') or 0}}\n"
        "end\n"
        "function empty_rep(e)\n"
        "  return {{code = 'NOTE', amount_ore = #string.rep('', 1e15) + #(''):rep(1e15, '')}}\n"
        "end\n"
        "function lying_len(e)\n"
        "  local t = setmetatable({}, {__len = function() return 1e15 end})\n"
        "  table.insert(t, 1, 'x')\n"
        "  return {}\n"
        "end\n"
        "function huge_move(e)\n"
        "  table.move({}, 1, 1e15, 2)\n"
        "  return {}\n"
        "end\n"
        "function copy_loop(e)\n"
        "  local s = string.rep('x', 1000000)\n"
        "  while true do local t = s .. 'y' end\n"
        "end\n"
        "function scan_loop(e)\n"
        "  local s = string.rep('x', 1000000)\n"
        "  while true do local t = s:find('y', 1, true) end\n"
        "end\n"
        "function closing(e)\n"
        "  local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
        "  while true do end\n"
        "end\n"
        "function append(e)\n"
        "  local t = {}\n"
        "  for i = 1, 20000 do table.insert(t, i) end\n"
        "  for i = 1, 20000 do table.remove(t) end\n"
        "  return {{code = 'NOTE', amount_ore = #t}}\n"
        "end\n"
        "function ok(e) return {} end\n";
    const char *limited[] = {"backtrack", "lying_len", "huge_move", "copy_loop", "scan_loop",
                             "closing"};
    for (size_t i = 0; i < sizeof limited / sizeof limited[0]; i++) {
        load_ok(f, src, &lim);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        expect_fail(f, limited[i], "instruction limit (50000000) reached");
        double s = seconds_since(&t0);
        if (s > 60.0)
            fail_msg("%s took %.1f s", limited[i], s);
    }
    /* string.rep of nothing is answered without a 1e15-step loop */
    load_ok(f, src, &lim);
    rules_line out[1];
    size_t n = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (call(f, "empty_rep", "{}", out, 1, &n) != RL_OK)
        fail_msg("%s", err_msg());
    assert_int_equal(out[0].amount_ore, 0);
    assert_true(seconds_since(&t0) < 60.0);
    expect_ok(f, "ok");

    /* appending and popping are not charged per element: 20 000 of each stay cheap */
    uint64_t before = 0, after = 0;
    rules_usage(f->r, &before, NULL);
    expect_ok(f, "append");
    rules_usage(f->r, &after, NULL);
    assert_true(after - before < 2000000);
}

/* The wall-clock backstop: comparing two distinct 4 MB strings is one VM instruction that
 * no counter sees; a loop of them is stopped by the time limit. */
static void test_time_limit(void **state)
{
    fixture *f = *state;
    rules_limits lim = {.max_seconds = 1};
    const char *src =
        "function pay(e)\n"
        "  local a = string.rep('x', 4000000)\n"
        "  local b = string.rep('x', 3999999) .. 'x'\n"
        "  while true do if a == b then end end\n"
        "end\n";
    load_ok(f, src, &lim);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_fail(f, "pay", "time limit (1 s) reached");
    double s = seconds_since(&t0);
    if (s > 60.0)
        fail_msg("took %.1f s", s);
}

static void test_memory_limit(void **state)
{
    fixture *f = *state;
    rules_limits lim = {.max_instructions = 4000000000ULL, .max_memory = (size_t)8 << 20};
    const char *src =
        "function rep(e) return {{code = 'X', amount_ore = #string.rep('x', 1e9)}} end\n"
        "function rep_caught(e)\n"
        "  local ok = pcall(string.rep, 'x', 1e9)\n"
        "  return {{code = 'X', amount_ore = ok and 1 or 0}}\n"
        "end\n"
        "function grow(e)\n"
        "  local t, i = {}, 0\n"
        "  while true do i = i + 1; t[i] = {i, tostring(i)} end\n"
        "end\n"
        "function double(e)\n"
        "  local s = 'x'\n"
        "  while true do s = s .. s end\n"
        "end\n"
        "function ok(e) return {} end\n"
        /* 2 MiB of strings in one small-block size after another, each dropped before the
         * next: never more than the limit alive, but the pool keeps freed blocks by size,
         * so its slabs are capped at the limit too (without the cap this returned). */
        "function churn(e)\n"
        "  for len = 8, 231, 16 do\n"
        "    local t = {}\n"
        "    for i = 1, (2 * 1024 * 1024) // (len + 25) do\n"
        "      local d = tostring(i)\n"
        "      t[i] = string.rep('x', len - #d) .. d\n"
        "    end\n"
        "  end\n"
        "  return {}\n"
        "end\n";
    const char *fns[] = {"rep", "rep_caught", "grow", "double", "churn"};
    for (size_t i = 0; i < 5; i++) {
        load_ok(f, src, &lim);
        expect_ok(f, "ok");
        expect_fail(f, fns[i], "memory limit (8 MiB) reached");
        size_t peak = 0;
        rules_usage(f->r, NULL, &peak);
        assert_true(peak <= lim.max_memory);
        expect_fail(f, "ok", "earlier call hit a limit");
    }
    /* too small to even open the libraries */
    rules_limits tiny = {.max_memory = 4096};
    assert_int_equal(load_lim(f, "function pay(e) return {} end\n", &tiny), RL_EDATA);
    assert_non_null(strstr(err_msg(), "memory limit (4096 bytes) reached"));
}

/* --- return shapes and input ---------------------------------------------------------------- */

static const char SHAPE_SRC[] =
    "function number(e) return 42 end\n"
    "function nothing(e) end\n"
    "function no_code(e) return {{amount_ore = 100}} end\n"
    "function code_number(e) return {{code = 7, amount_ore = 100}} end\n"
    "function long_code(e) return {{code = string.rep('A', 24), amount_ore = 1}} end\n"
    "function bad_code(e) return {{code = 'BRUTTO LÖN', amount_ore = 1}} end\n"
    "function fraction(e) return {{code = 'A', amount_ore = 1.5}} end\n"
    "function float_whole(e) return {{code = 'A', amount_ore = 200 / 2}} end\n"
    "function amount_string(e) return {{code = 'A', amount_ore = '100'}} end\n"
    "function no_amount(e) return {{code = 'A'}} end\n"
    "function line_string(e) return {'A'} end\n"
    "function text_number(e) return {{code = 'A', amount_ore = 1, text = 5}} end\n"
    "function text_newline(e) return {{code = 'A', amount_ore = 1, text = 'a\\nb'}} end\n"
    "function text_long(e) return {{code = 'A', amount_ore = 1, text = string.rep('å', 40)}} end\n"
    "function text_bad_utf8(e) return {{code = 'A', amount_ore = 1, text = 'l\\xf6n'}} end\n"
    "function three(e)\n"
    "  return {{code = 'A', amount_ore = 1}, {code = 'B', amount_ore = 2},\n"
    "          {code = 'C', amount_ore = 3}}\n"
    "end\n"
    "function fails(e) error('Åsa saknar skattetabell') end\n"
    "function fails_table(e) error({}) end\n"
    "function echo(e) return {{code = 'A', amount_ore = e.n}} end\n"
    "not_a_function = 1\n";

static void test_shapes(void **state)
{
    fixture *f = *state;
    load_ok(f, SHAPE_SRC, NULL);
    expect_fail(f, "number", "pay rules: number(): returned number, not a table of lines");
    expect_fail(f, "nothing", "returned nil, not a table");
    expect_fail(f, "no_code", "line 1: code must be a string (got nil)");
    expect_fail(f, "code_number", "line 1: code must be a string (got number)");
    expect_fail(f, "long_code", "code must be 1-23 characters");
    expect_fail(f, "bad_code", "code must be 1-23 characters");
    expect_fail(f, "fraction", "amount_ore must be an integer number of öre, got 1.5");
    expect_fail(f, "float_whole", "amount_ore must be an integer number of öre, got 100");
    expect_fail(f, "amount_string", "amount_ore must be an integer number of öre, got string");
    expect_fail(f, "no_amount", "got nil");
    expect_fail(f, "line_string", "line 1 is string, not a table");
    expect_fail(f, "text_number", "text must be a string (got number)");
    expect_fail(f, "text_newline", "without control characters");
    expect_fail(f, "text_long", "at most 79 bytes");
    expect_fail(f, "text_bad_utf8", "UTF-8");
    expect_fail(f, "fails", "pay rules: fails(): t.lua:");
    expect_fail(f, "fails", "Åsa saknar skattetabell");
    expect_fail(f, "fails_table", "error (a table value)");
    expect_fail(f, "missing", "the rules define no function missing");
    expect_fail(f, "not_a_function", "no function not_a_function");

    rules_line out[3];
    size_t n = 0;
    assert_int_equal(call(f, "three", "{}", out, 2, &n), RL_EDATA);
    assert_non_null(strstr(err_msg(), "returned 3 lines, more than the 2 allowed"));
    assert_int_equal(call(f, "three", "{}", out, 3, &n), RL_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out[2].amount_ore, 3);

    /* input: strict JSON, integers exact or refused, a table at the top */
    assert_int_equal(call(f, "echo", "{\"n\":1,}", out, 3, &n), RL_EDATA);
    assert_non_null(strstr(err_msg(), "echo(): input:"));
    assert_int_equal(call(f, "echo", "{\"n\":99999999999999999999}", out, 3, &n), RL_EDATA);
    assert_non_null(strstr(err_msg(), "does not fit a 64-bit integer"));
    assert_int_equal(call(f, "echo", "42", out, 3, &n), RL_EDATA);
    assert_non_null(strstr(err_msg(), "object or array"));
    assert_int_equal(call(f, "echo", "{\"n\":-9223372036854775808}", out, 3, &n), RL_OK);
    assert_int_equal(out[0].amount_ore, INT64_MIN);
    assert_int_equal(call(f, "echo", "{\"n\":1e2}", out, 3, &n), RL_OK);
    assert_int_equal(out[0].amount_ore, 100);
    /* still usable after all of the above */
    assert_int_equal(call(f, "three", "[]", out, 3, &n), RL_OK);
}

/* --- tax() ------------------------------------------------------------------------------------ */

typedef struct {
    int calls;
} tax_ctx;

/* 30 % of whole SEK for table 33 column 1; no other table exists. */
static int fake_tax(void *ctx, int table, int column, int64_t income_sek, int64_t *tax_sek)
{
    ((tax_ctx *)ctx)->calls++;
    if (table != 33 || column != 1)
        return err_set(RL_EDATA, "no tax table %d column %d", table, column);
    *tax_sek = income_sek * 30 / 100;
    return RL_OK;
}

static const char TAX_SRC[] =
    "function pay(e)\n"
    "  local t, err = tax(e.table, e.column, e.gross_ore // 100)\n"
    "  if t == nil then error('tax: ' .. err, 0) end\n"
    "  return {{code = 'TAX', amount_ore = t * 100, text = 'skatt enligt tabell'}}\n"
    "end\n";

static void test_tax(void **state)
{
    fixture *f = *state;
    tax_ctx ctx = {0};
    rules_line out[2];
    size_t n = 0;
    load_ok(f, TAX_SRC, NULL);
    /* without tables: a clear message through the rule's own error */
    assert_int_equal(call(f, "pay", "{\"table\":33,\"column\":1,\"gross_ore\":3000000}", out, 2,
                          &n), RL_EDATA);
    assert_non_null(strstr(err_msg(), "tax: no tax tables are available"));

    rules_set_tax(f->r, fake_tax, &ctx);
    if (call(f, "pay", "{\"table\":33,\"column\":1,\"gross_ore\":3000099}", out, 2, &n) != RL_OK)
        fail_msg("%s", err_msg());
    assert_int_equal(n, 1);
    assert_string_equal(out[0].code, "TAX");
    assert_int_equal(out[0].amount_ore, 900000);
    assert_int_equal(ctx.calls, 1);

    /* the callback's error reaches the rules and comes back out */
    assert_int_equal(call(f, "pay", "{\"table\":99,\"column\":1,\"gross_ore\":100}", out, 2, &n),
                     RL_EDATA);
    assert_string_equal(err_msg(), "pay rules: pay(): tax: no tax table 99 column 1");
    assert_int_equal(ctx.calls, 2);

    /* income must be an integer: a float is a rule bug, not rounded for it */
    assert_int_equal(call(f, "pay", "{\"table\":33,\"column\":1,\"gross_ore\":1.5}", out, 2, &n),
                     RL_EDATA);
    assert_non_null(strstr(err_msg(), "integer expected"));
    assert_int_equal(ctx.calls, 2);
}


/* --- the input reader ------------------------------------------------------------------------ */

/* dump(e) serializes e[1] exactly (keys in order, integer/float subtype, floats in hex, the
 * border #t of every table) and returns it hex-encoded, 70 characters a line. The inputs
 * below go through the fast reader as [X], and through the reference tree path (json_parse
 * + push_json) as [X, BIG], where BIG has more members than the fast reader takes. */
static const char DUMP_SRC[] =
    "local function ser(v)\n"
    "  local t = type(v)\n"
    "  if t == 'table' then\n"
    "    local out = {}\n"
    "    for k, x in pairs(v) do out[#out + 1] = ser(k) .. '=' .. ser(x) end\n"
    "    return '{' .. table.concat(out, ',') .. '}#' .. #v\n"
    "  elseif t == 'number' then\n"
    "    if math.type(v) == 'integer' then return 'i' .. tostring(v) end\n"
    "    return 'f' .. string.format('%a', v)\n"
    "  elseif t == 'string' then return string.format('%q', v)\n"
    "  else return tostring(v) end\n"
    "end\n"
    "function dump(e)\n"
    "  local hex = ser(e[1]):gsub('.', function(c) return string.format('%02x', c:byte()) end)\n"
    "  local lines = {}\n"
    "  for i = 1, #hex, 70 do\n"
    "    lines[#lines + 1] = {code = 'D', amount_ore = #e, text = hex:sub(i, i + 69)}\n"
    "  end\n"
    "  if #lines == 0 then lines[1] = {code = 'D', amount_ore = #e} end\n"
    "  return lines\n"
    "end\n"
    "function echo(e) return {{code = 'A', amount_ore = e.n}} end\n"
    "function none(e) return {} end\n";

#define DUMP_CAP 400

/* The hex dump of dump() for json, or NULL with *rc set. Caller frees. */
static char *dump_of(fixture *f, const char *json, int *rc)
{
    static rules_line out[DUMP_CAP];
    size_t n = 0;
    *rc = call(f, "dump", json, out, DUMP_CAP, &n);
    if (*rc != RL_OK)
        return NULL;
    char *s = calloc(1, n * 80 + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        strcat(s, out[i].text);
    return s;
}

static char *big_object(void)
{
    char *s = malloc(4096);
    size_t o = 0;
    assert_non_null(s);
    s[o++] = '{';
    for (int i = 0; i < 70; i++)
        o += (size_t)snprintf(s + o, 4096 - o, "%s\"m%d\":%d", i ? "," : "", i, i);
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

/* Runs X both ways; both must fail, or both succeed with the same conversion. */
static void same_both_ways(fixture *f, const char *x, const char *big)
{
    size_t xl = strlen(x), bl = strlen(big);
    char *fast = malloc(xl + 3), *ref = malloc(xl + bl + 4);
    assert_non_null(fast);
    assert_non_null(ref);
    snprintf(fast, xl + 3, "[%s]", x);
    snprintf(ref, xl + bl + 4, "[%s,%s]", x, big);
    int rf, rr;
    char *a = dump_of(f, fast, &rf);
    char *b = dump_of(f, ref, &rr);
    if (rf != rr)
        fail_msg("input %s: fast reader rc %d, tree path rc %d (%s)", x, rf, rr, err_msg());
    if (a != NULL && strcmp(a, b) != 0)
        fail_msg("input %s: conversions differ:\n%s\n%s", x, a, b);
    free(a);
    free(b);
    free(fast);
    free(ref);
}

/* The input built directly (rules_call_build): the same table as the equivalent JSON, at
 * the same cost in instructions and memory, and a limit met while building is a limit. */
typedef struct {
    const char *big; /* a string to push, or NULL */
    size_t big_len;
} build_case;

/* [{"employment_id":"E1","end_date":null,"hired":false,"n":-9223372036854775808,
 *   "salary":[{"from":"2026-11-01","ore":3000000},{"from":"x","ore":9223372036854775807}],
 *   "leaves":[],"name":"Åsa Öberg €","tax":{"table":33,"column":1},"last":null}] */
static void build_example(rules_input *in, void *ctx)
{
    const build_case *c = ctx;
    rules_in_array(in, NULL, 1);
    rules_in_object(in, NULL, c->big ? 10 : 9); /* end_date and last count, as null */
    rules_in_string(in, "employment_id", "E1", 2);
    rules_in_bool(in, "hired", 0);
    rules_in_int(in, "n", INT64_MIN);
    rules_in_array(in, "salary", 2);
    rules_in_object(in, NULL, 2);
    rules_in_string(in, "from", "2026-11-01", 10);
    rules_in_int(in, "ore", 3000000);
    rules_in_end(in);
    rules_in_object(in, NULL, 2);
    rules_in_string(in, "from", "x", 1);
    rules_in_int(in, "ore", INT64_MAX);
    rules_in_end(in);
    rules_in_end(in);
    rules_in_array(in, "leaves", 0);
    rules_in_end(in);
    rules_in_string(in, "name", "\xc3\x85" "sa \xc3\x96" "berg \xe2\x82\xac", 15);
    rules_in_object(in, "tax", 2);
    rules_in_int(in, "table", 33);
    rules_in_int(in, "column", 1);
    rules_in_end(in);
    if (c->big)
        rules_in_string(in, "big", c->big, c->big_len);
    rules_in_end(in);
    rules_in_end(in);
}

static const char BUILD_JSON[] =
    "[{\"employment_id\":\"E1\",\"end_date\":null,\"hired\":false,"
    "\"n\":-9223372036854775808,\"salary\":[{\"from\":\"2026-11-01\",\"ore\":3000000},"
    "{\"from\":\"x\",\"ore\":9223372036854775807}],\"leaves\":[],"
    "\"name\":\"\u00c5sa \u00d6berg \u20ac\",\"tax\":{\"table\":33,\"column\":1},\"last\":null}]";

static void test_input_built_directly(void **state)
{
    fixture *f = *state;
    static rules_line out[DUMP_CAP];
    size_t n = 0;
    build_case plain = {0};
    uint64_t instr_json = 0, instr_built = 0;
    size_t peak_json = 0, peak_built = 0;

    load_ok(f, DUMP_SRC, NULL);
    int rc;
    char *want = dump_of(f, BUILD_JSON, &rc);
    assert_int_equal(rc, RL_OK);
    rules_usage(f->r, &instr_json, &peak_json);

    load_ok(f, DUMP_SRC, NULL);
    assert_int_equal(rules_call_build(f->r, "dump", build_example, &plain, out, DUMP_CAP, &n),
                     RL_OK);
    char *got = calloc(1, n * 80 + 1);
    assert_non_null(got);
    for (size_t i = 0; i < n; i++)
        strcat(got, out[i].text);
    assert_string_equal(got, want);
    rules_usage(f->r, &instr_built, &peak_built);
    /* The same objects allocated: the same memory and cost. Not to the unit: two fresh
     * states can differ by a table rehash (96 units here) even for the same JSON, as Lua
     * seeds each state's string hashes from the clock and addresses, and when a table's hash
     * part fills up depends on its collisions. */
    if (getenv("RULES_TEST_VERBOSE"))
        fprintf(stderr, "json %llu units %zu bytes, built %llu units %zu bytes\n",
                (unsigned long long)instr_json, peak_json, (unsigned long long)instr_built,
                peak_built);
    assert_true(peak_built * 100 >= peak_json * 95 && peak_built * 100 <= peak_json * 105);
    assert_true(instr_built * 100 >= instr_json * 98 && instr_built * 100 <= instr_json * 102);
    free(got);
    free(want);

    /* A string past the memory limit while building: the limit, and the object spent. */
    rules_limits lim = {.max_memory = (size_t)4 << 20};
    size_t big_len = (size_t)5 << 20;
    char *big = malloc(big_len);
    assert_non_null(big);
    memset(big, 'x', big_len);
    build_case huge = {.big = big, .big_len = big_len};
    load_ok(f, DUMP_SRC, &lim);
    rc = rules_call_build(f->r, "dump", build_example, &huge, out, DUMP_CAP, &n);
    assert_int_equal(rc, RL_EDATA);
    assert_non_null(strstr(err_msg(), "memory limit (4 MiB) reached"));
    assert_int_equal(n, 0);
    assert_int_equal(rules_call_build(f->r, "dump", build_example, &plain, out, DUMP_CAP, &n),
                     RL_EDATA);
    assert_non_null(strstr(err_msg(), "earlier call hit a limit"));
    free(big);

    /* A function the rules do not define: named, as for rules_call. */
    load_ok(f, DUMP_SRC, NULL);
    assert_int_equal(rules_call_build(f->r, "absent", build_example, &plain, out, DUMP_CAP, &n),
                     RL_EDATA);
    assert_non_null(strstr(err_msg(), "absent()"));
}

static void test_input_reader_equivalence(void **state)
{
    fixture *f = *state;
    static const char *const X[] = {
        "{\"run\":{\"policy\":\"recalculate\",\"period\":\"2026-11\",\"days_in_month\":30},"
        "\"employment_id\":\"E0000001\",\"end_date\":null,\"hired\":false,"
        "\"salary\":[{\"from\":\"2020-01-01\",\"ore\":3000000}],\"leaves\":[],\"one_offs\":[],"
        "\"last\":{\"gross_ore\":3000000,\"tax_ore\":594500}}",
        " { \"a\" : [ 1 , 2 , { } , [ ] ] , \"b\" :\t\"x\"\r\n } ", " \n[ ]\t",
        "[null,1,null,null,5]", "[1,null]", "[null]", "[]", "{}", "{\"a\":null,\"b\":null}",
        "[0,-0,1,-1,9223372036854775807,-9223372036854775808,4294967296]",
        "[0.5,-0.0,1e2,1E+2,2.5e-3,1e400,-1e400,123456789012345678901234567890.0,1.0e-400,"
        "9007199254740993.0,9223372036854775808.0,-9223372036854775808.0,0.1e1]",
        "[true,false,\"\",\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\\u00e5\\u00C4\\u20ac\","
        "\"\\ud83d\\ude00\",\"a\\u0000b\",\"Åsa Öberg €😀\"]",
        "{\"\\u0061b\":1,\"ac\":2,\"\\u00e5\":3,\"å2\":4}",
        "{\"a\\u0000b\":1}",
        "{\"a\":{\"a\":{\"a\":{}}},\"b\":[[[[[]]]]]}",
        "{\"x\":[{\"k\":1,\"k2\":null},{\"k\":2}],\"y\":\"" /* long string */
        "0123456789012345678901234567890123456789012345678901234567890123456789\"}",
        "{\"a_long_key_that_is_longer_than_forty_bytes_for_lua_long_strings\":1}",
    };
    char *big = big_object();
    load_ok(f, DUMP_SRC, NULL);
    for (size_t i = 0; i < sizeof X / sizeof X[0]; i++)
        same_both_ways(f, X[i], big);

    /* deep nesting right up to the limit (64 containers, the outer [ ] included) */
    char deep[200];
    size_t o = 0;
    for (int i = 0; i < 62; i++)
        deep[o++] = '[';
    deep[o++] = '7';
    for (int i = 0; i < 62; i++)
        deep[o++] = ']';
    deep[o] = '\0';
    same_both_ways(f, deep, big);

    /* random mutations of a realistic input: same acceptance, same conversion */
    const char *seed = X[0];
    size_t sl = strlen(seed);
    char *m = malloc(sl + 64);
    assert_non_null(m);
    static const char alphabet[] = "{}[]\":,\\ -+.eE0123456789nultrfasu\t\x01\x7f\xc3\xa5\xed\xa0\x80\xf4";
    srand(12345);
    for (int it = 0; it < 3000; it++) {
        memcpy(m, seed, sl + 1);
        size_t ml = sl;
        int edits = 1 + rand() % 3;
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)rand() % ml;
            char c = alphabet[(size_t)rand() % (sizeof alphabet - 1)];
            switch (rand() % 3) {
            case 0: m[at] = c; break;
            case 1: memmove(m + at, m + at + 1, ml - at); ml--; break;
            default: memmove(m + at + 1, m + at, ml - at + 1); m[at] = c; ml++; break;
            }
        }
        m[ml] = '\0';
        same_both_ways(f, m, big);
    }
    free(m);
    free(big);
}

static void expect_input_error(fixture *f, const char *json, size_t len, const char *want)
{
    rules_line out[2];
    size_t n = 99;
    int rc = rules_call(f->r, "echo", json, len, out, 2, &n);
    if (rc != RL_EDATA || strstr(err_msg(), want) == NULL)
        fail_msg("input '%.60s': rc %d, message '%s', wanted '%s'", json, rc, err_msg(), want);
    assert_int_equal(n, 0);
}

static void test_input_reader_errors(void **state)
{
    fixture *f = *state;
    load_ok(f, DUMP_SRC, NULL);
    static const char *const BAD[] = {
        "{\"n\":1,}", "[1,]", "{\"n\" 1}", "{\"n\":}", "{n:1}", "{\"n\":1", "[1", "{\"n\":\"x}",
        "{\"n\":\"\\x\"}", "{\"n\":\"\\u12\"}", "{\"n\":\"\\ud800\"}", "{\"n\":\"\\udc00\"}",
        "{\"n\":\"\\ud800\\u0041\"}", "{\"n\":\"\xc0\x80\"}", "{\"n\":\"\xed\xa0\x80\"}",
        "{\"n\":\"\xf5\x80\x80\x80\"}", "{\"n\":\"\xe2\x82\"}", "{\"n\":\"\x80\"}",
        "{\"n\":\"\xf4\x90\x80\x80\"}", "{\"n\":\"a\tb\"}", "{\"n\":01}", "{\"n\":-}",
        "{\"n\":1.}", "{\"n\":1e}", "{\"n\":.5}", "{\"n\":+1}", "{\"n\":tru}", "{\"n\":nul}",
        "{\"n\":NaN}", "\xef\xbb\xbf{}", "{} x", "{}{}", "", "   ", "{\"n\":1}\"",
        "{\"n\":1,\"n\":2}", "{\"n\":1,\"\\u006e\":2}", "{\"a\":{\"n\":null,\"n\":1}}",
        "[{\"b\":1},{\"b\":2,\"c\":3,\"b\":4}]",
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        expect_input_error(f, BAD[i], strlen(BAD[i]), "echo(): input:");
    /* an embedded NUL ends nothing: it is an error at its offset */
    expect_input_error(f, "{\"n\":1}\0", 8, "echo(): input:");
    expect_input_error(f, "{\"n\":\"a\0\"}", 10, "echo(): input:");
    /* duplicates are named */
    expect_input_error(f, "{\"n\":1,\"\\u006e\":2}", strlen("{\"n\":1,\"\\u006e\":2}"),
                       "duplicate key");
    /* integers exact or refused, never rounded */
    expect_input_error(f, "{\"n\":9223372036854775808}", 25, "does not fit a 64-bit integer");
    expect_input_error(f, "{\"n\":-9223372036854775809}", 26, "does not fit a 64-bit integer");
    expect_input_error(f, "{\"a\":[{\"n\":123456789012345678901234567890}]}",
                       strlen("{\"a\":[{\"n\":123456789012345678901234567890}]}"),
                       "does not fit a 64-bit integer");
    /* scalars at the top */
    expect_input_error(f, "42", 2, "object or array");
    expect_input_error(f, "\"x\"", 3, "object or array");
    expect_input_error(f, "null", 4, "object or array");
    /* nesting: 64 containers are fine, 65 are not */
    char deep[300];
    for (int depth = 64; depth <= 65; depth++) {
        size_t o = 0;
        for (int i = 0; i < depth; i++)
            deep[o++] = '[';
        for (int i = 0; i < depth; i++)
            deep[o++] = ']';
        rules_line out[2];
        size_t n = 0;
        int rc = rules_call(f->r, "none", deep, o, out, 2, &n);
        if (depth == 64) {
            if (rc != RL_OK)
                fail_msg("depth 64: %s", err_msg());
        } else {
            assert_int_equal(rc, RL_EDATA);
            assert_non_null(strstr(err_msg(), "nesting deeper than 64"));
        }
    }
    /* still usable, and values as documented */
    rules_line out[2];
    size_t n = 0;
    if (call(f, "echo", " {\"n\" : 9223372036854775807 } ", out, 2, &n) != RL_OK)
        fail_msg("%s", err_msg());
    assert_int_equal(out[0].amount_ore, INT64_MAX);
    assert_int_equal(call(f, "echo", "{\"n\":-0}", out, 2, &n), RL_OK);
    assert_int_equal(out[0].amount_ore, 0);
    assert_int_equal(call(f, "echo", "{\"n\":25e-1}", out, 2, &n), RL_EDATA);
    assert_non_null(strstr(err_msg(), "got 2.5"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pay_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integrity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_minisign_tool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytecode_and_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_instruction_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_c_function_loopholes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_reader_equivalence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_built_directly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_reader_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
