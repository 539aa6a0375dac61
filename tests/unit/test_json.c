/* Unit tests for app/common/json: accepted documents and accessors, then one or more
 * rejected inputs for every strictness rule (each must name the byte offset), then the
 * string writer (round trip through the parser). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

static json_value *parse_ok_n(const char *text, size_t len)
{
    json_value *v = NULL;
    int rc = json_parse(text, len, &v);
    if (rc != 0)
        fail_msg("expected to parse: '%s': %s", text, err_msg());
    assert_non_null(v);
    return v;
}

static json_value *parse_ok(const char *text) { return parse_ok_n(text, strlen(text)); }

/* Expects text (len bytes) to be refused with RL_EDATA, at offset off, with a message
 * containing want. */
static void bad_n(const char *text, size_t len, size_t off, const char *want)
{
    json_value *v = (json_value *)(uintptr_t)1; /* must be reset to NULL */
    char offs[48];
    int rc = json_parse(text, len, &v);
    snprintf(offs, sizeof offs, "offset %zu ", off);
    if (rc != RL_EDATA || v != NULL || strstr(err_msg(), offs) == NULL ||
        strstr(err_msg(), want) == NULL)
        fail_msg("input '%.*s': expected '%s' at offset %zu, got rc %d: %s", (int)len, text,
                 want, off, rc, rc == 0 ? "(parsed)" : err_msg());
}

static void bad(const char *text, size_t off, const char *want)
{
    bad_n(text, strlen(text), off, want);
}

/* --- accepted ---------------------------------------------------------------------- */

static void test_scalars(void **state)
{
    (void)state;
    json_value *v = parse_ok(" \t\r\nnull \n");
    assert_int_equal(json_typeof(v), JSON_NULL);
    json_free(v);
    v = parse_ok("true");
    assert_int_equal(json_typeof(v), JSON_BOOL);
    assert_true(json_bool(v));
    json_free(v);
    v = parse_ok("false");
    assert_false(json_bool(v));
    json_free(v);
    v = parse_ok("\"s\"");
    assert_int_equal(json_typeof(v), JSON_STRING);
    assert_string_equal(json_string(v, NULL), "s");
    assert_false(json_bool(v));
    assert_null(json_number_text(v));
    json_free(v);
    const char *numbers[] = {"0", "-0", "7", "-12", "1.5", "0.25", "-0.0", "1e5", "1E+5",
                             "1e-05", "2.50e10", "12345678901234567890123.000001"};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        v = parse_ok(numbers[i]);
        assert_int_equal(json_typeof(v), JSON_NUMBER);
        /* Kept as text, exactly: money never goes through a double. */
        assert_string_equal(json_number_text(v), numbers[i]);
        assert_null(json_string(v, NULL));
        json_free(v);
    }
    json_free(NULL);
}

static void test_manifest_document(void **state)
{
    (void)state;
    const char *doc =
        "{\n"
        "  \"format\": \"reservlon-snapshot\",\n"
        "  \"version\": 1,\n"
        "  \"files\": {\n"
        "    \"employees.csv\": {\"rows\": 50000, \"sha256\": \"ab\"},\n"
        "    \"org_units.csv\": {\"rows\": 40, \"sha256\": \"cd\"}\n"
        "  },\n"
        "  \"list\": [1, \"two\", [], {}, null, true]\n"
        "}\n";
    json_value *v = parse_ok(doc);
    int64_t n = 0;
    assert_int_equal(json_typeof(v), JSON_OBJECT);
    assert_int_equal(json_len(v), 4);
    assert_string_equal(json_key_at(v, 0), "format");
    assert_string_equal(json_key_at(v, 3), "list");
    assert_null(json_key_at(v, 4));
    assert_string_equal(json_string(json_get(v, "format"), NULL), "reservlon-snapshot");
    assert_int_equal(json_int64(json_get(v, "version"), &n), 0);
    assert_int_equal(n, 1);
    const json_value *files = json_get(v, "files");
    assert_int_equal(json_len(files), 2);
    /* Member order is the document's. */
    assert_string_equal(json_key_at(files, 0), "employees.csv");
    assert_int_equal(json_int64(json_get(json_at(files, 0), "rows"), &n), 0);
    assert_int_equal(n, 50000);
    assert_null(json_get(v, "absent"));
    assert_null(json_get(json_get(v, "absent"), "deeper")); /* NULL-safe chains */
    assert_int_equal(json_typeof(json_get(v, "absent")), JSON_NULL);
    const json_value *list = json_get(v, "list");
    assert_int_equal(json_typeof(list), JSON_ARRAY);
    assert_int_equal(json_len(list), 6);
    assert_string_equal(json_string(json_at(list, 1), NULL), "two");
    assert_int_equal(json_typeof(json_at(list, 2)), JSON_ARRAY);
    assert_int_equal(json_len(json_at(list, 2)), 0);
    assert_int_equal(json_typeof(json_at(list, 3)), JSON_OBJECT);
    assert_int_equal(json_typeof(json_at(list, 4)), JSON_NULL);
    assert_null(json_at(list, 6));
    assert_null(json_key_at(list, 0)); /* arrays have no keys */
    assert_null(json_get(list, "x"));
    assert_int_equal(json_len(json_at(list, 0)), 0); /* scalars have no elements */
    json_free(v);
}

static void test_string_escapes_and_unicode(void **state)
{
    (void)state;
    size_t len = 0;
    json_value *v = parse_ok("\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\t\"");
    assert_string_equal(json_string(v, &len), "q\"b\\s/b\bf\fn\nr\rt\t");
    assert_int_equal(len, strlen("q\"b\\s/b\bf\fn\nr\rt\t"));
    json_free(v);
    /* \u escapes of 1, 2 and 3 UTF-8 bytes, upper and lower case hex. */
    v = parse_ok("\"\\u0041\\u00e5\\u00C4\\u20AC\\uffff\"");
    assert_string_equal(json_string(v, NULL), "A\xc3\xa5\xc3\x84\xe2\x82\xac\xef\xbf\xbf");
    json_free(v);
    /* A surrogate pair is one 4-byte character (U+1F600). */
    v = parse_ok("\"\\uD83D\\uDE00\"");
    assert_string_equal(json_string(v, NULL), "\xf0\x9f\x98\x80");
    json_free(v);
    /* Boundaries of the pair range: U+10000 and U+10FFFF. */
    v = parse_ok("\"\\ud800\\udc00\\udbff\\udfff\"");
    assert_string_equal(json_string(v, NULL), "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
    json_free(v);
    /* Raw UTF-8: Swedish letters, a 3-byte and a 4-byte character, the largest ones. */
    v = parse_ok("\"Åsa Öberg-Ärlig \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"");
    assert_string_equal(json_string(v, NULL),
                        "Åsa Öberg-Ärlig \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf");
    json_free(v);
    /* An escaped NUL is legal JSON: the length tells the truth. */
    v = parse_ok("\"a\\u0000b\"");
    assert_non_null(json_string(v, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(json_string(v, NULL), "a\0b", 3);
    json_free(v);
    /* DEL and non-ASCII need no escaping. */
    v = parse_ok("\"\x7f\"");
    assert_string_equal(json_string(v, NULL), "\x7f");
    json_free(v);
    v = parse_ok("\"\"");
    assert_string_equal(json_string(v, &len), "");
    assert_int_equal(len, 0);
    json_free(v);
}

static void test_int64(void **state)
{
    (void)state;
    struct {
        const char *text;
        int rc;
        int64_t want;
    } cases[] = {
        {"0", 0, 0},
        {"-0", 0, 0},
        {"100000000000", 0, 100000000000LL}, /* 10^12 öre, the format's maximum */
        {"9223372036854775807", 0, INT64_MAX},
        {"-9223372036854775808", 0, INT64_MIN},
        {"9223372036854775808", RL_EDATA, 0},
        {"-9223372036854775809", RL_EDATA, 0},
        {"99999999999999999999999", RL_EDATA, 0},
        {"1.0", RL_EDATA, 0},
        {"1e3", RL_EDATA, 0},
        {"\"12\"", RL_EDATA, 0},
        {"true", RL_EDATA, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_value *v = parse_ok(cases[i].text);
        int64_t got = 42;
        int rc = json_int64(v, &got);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d", cases[i].text, rc);
        assert_true(got == cases[i].want);
        json_free(v);
    }
    int64_t got = 1;
    assert_int_equal(json_int64(NULL, &got), RL_EDATA);
    assert_int_equal(got, 0);
}

static char *nested(int depth, const char *open, const char *inner, const char *close)
{
    size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
    char *s = malloc(li + (size_t)depth * (lo + lc) + 1);
    char *p = s;
    assert_non_null(s);
    for (int i = 0; i < depth; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, inner, li);
    p += li;
    for (int i = 0; i < depth; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    char *s = nested(64, "[", "1", "]");
    json_value *v = parse_ok(s);
    json_free(v);
    free(s);
    s = nested(64, "{\"k\":", "1", "}");
    v = parse_ok(s);
    json_free(v);
    free(s);
    s = nested(65, "[", "1", "]");
    bad(s, 64, "nesting deeper than 64");
    free(s);
    s = nested(65, "{\"k\":", "1", "}");
    bad(s, 64 * 5, "nesting deeper than 64");
    free(s);
    /* Far deeper input is refused at the limit, without recursing further. */
    s = nested(100000, "[", "", "]");
    bad(s, 64, "nesting deeper than 64");
    free(s);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    bad("{\"a\":1,\"a\":2}", 7, "duplicate key \"a\" (first at offset 1)");
    /* Compared after unescaping. */
    bad("{\"a\":1,\"\\u0061\":2}", 7, "duplicate key \"a\"");
    bad("{\"x\":1,\"y\":2,\"z\":3,\"y\":4}", 19, "duplicate key \"y\" (first at offset 7)");
    /* In a nested object. */
    bad("{\"o\":{\"k\":1,\"k\":1}}", 12, "duplicate key \"k\"");
    /* Same key in different objects, and prefixes of each other, are fine. */
    json_value *v = parse_ok("[{\"k\":1},{\"k\":2},{\"k\":1,\"kk\":2,\"\":3,\"K\":4}]");
    json_free(v);
    /* Many members: still accepted and fast (sorting, not pairwise comparison). */
    size_t n = 20000;
    char *big = malloc(n * 16 + 16);
    assert_non_null(big);
    size_t pos = 0;
    big[pos++] = '{';
    for (size_t i = 0; i < n; i++)
        pos += (size_t)sprintf(big + pos, "%s\"k%zu\":%zu", i ? "," : "", i, i);
    big[pos++] = '}';
    big[pos] = '\0';
    v = parse_ok(big);
    assert_int_equal(json_len(v), n);
    int64_t x = 0;
    assert_int_equal(json_int64(json_get(v, "k19999"), &x), 0);
    assert_int_equal(x, 19999);
    json_free(v);
    /* ... and a duplicate among them is found. */
    strcpy(big + pos - 1, ",\"k777\":0}");
    bad(big, pos, "duplicate key \"k777\"");
    free(big);
}

/* --- refused: every rule ------------------------------------------------------------ */

static void test_structure_errors(void **state)
{
    (void)state;
    bad("", 0, "expected a JSON value, found end of input");
    bad("  \n ", 4, "expected a JSON value");
    bad("[1,2,]", 5, "trailing comma in array");
    bad("{\"a\":1,}", 7, "trailing comma in object");
    bad("[1 2]", 3, "expected ',' or ']'");
    bad("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'");
    bad("{\"a\" 1}", 5, "expected ':' after object key");
    bad("{a:1}", 1, "expected a string key");
    bad("{'a':1}", 1, "expected a string key");
    bad("['a']", 1, "expected a JSON value, found '''");
    bad("[1,,2]", 3, "expected a JSON value");
    bad("[", 1, "expected a JSON value, found end of input");
    bad("[1", 2, "expected ',' or ']'");
    bad("{", 1, "expected a string key");
    bad("{\"a\":", 5, "expected a JSON value");
    bad("\"abc", 0, "unterminated string");
    bad("\"abc\\\"", 0, "unterminated string");
    bad("{} {}", 3, "expected end of input");
    bad("1 2", 2, "expected end of input");
    bad("]", 0, "expected a JSON value");
    /* Comments are not JSON. */
    bad("// c\n1", 0, "expected a JSON value, found '/'");
    bad("[1 /* c */]", 3, "expected ',' or ']'");
    /* Literals are exact and lower case. */
    bad("True", 0, "expected a JSON value");
    bad("nul", 0, "expected a JSON value");
    bad("nulll", 4, "expected end of input");
    bad("[truex]", 5, "expected ',' or ']'");
    bad("undefined", 0, "expected a JSON value");
    /* Only space, tab, LF, CR are whitespace. */
    bad("\v1", 0, "found byte 0x0b");
    bad("\f1", 0, "found byte 0x0c");
    bad("1\xc2\xa0", 1, "after the JSON value, found byte 0xc2"); /* no-break space */
    /* A NUL byte is an error where it is, not an early end of input. */
    bad_n("[1]\0", 4, 3, "after the JSON value, found byte 0x00");
    bad_n("[1,\0]", 5, 3, "expected a JSON value, found byte 0x00");
    /* Byte order mark. */
    bad("\xef\xbb\xbf{}", 0, "byte order mark");
    /* Line and column in the message. */
    bad("{\n  \"a\": 1,\n  \"b\" 2\n}", 18, "(line 3, column 7)");
}

static void test_number_errors(void **state)
{
    (void)state;
    bad("01", 0, "leading zero");
    bad("-01", 1, "leading zero");
    bad("[00]", 1, "leading zero");
    bad("+1", 0, "expected a JSON value, found '+'");
    bad(".5", 0, "expected a JSON value, found '.'");
    bad("-", 1, "expected a digit after '-', found end of input");
    bad("-a", 1, "expected a digit after '-'");
    bad("1.", 2, "expected a digit after the decimal point");
    bad("1.e5", 2, "expected a digit after the decimal point");
    bad("1e", 2, "expected a digit in the exponent");
    bad("1e+", 3, "expected a digit in the exponent");
    bad("1E-x", 3, "expected a digit in the exponent");
    bad("0x10", 1, "expected end of input");
    bad("NaN", 0, "expected a JSON value");
    bad("Infinity", 0, "expected a JSON value");
    bad("-Infinity", 1, "expected a digit after '-'");
    bad("1.5.2", 3, "expected end of input");
    bad("[1e5e5]", 4, "expected ',' or ']'");
}

static void test_string_errors(void **state)
{
    (void)state;
    /* Control characters must be escaped. */
    bad("\"a\tb\"", 2, "control character in string");
    bad("\"a\nb\"", 2, "control character in string");
    bad_n("\"a\0b\"", 5, 2, "control character in string");
    bad("\"\x1f\"", 1, "control character in string");
    /* Escapes. */
    bad("\"\\x41\"", 1, "invalid escape");
    bad("\"\\'\"", 1, "invalid escape");
    bad("\"\\U0041\"", 1, "invalid escape");
    bad("\"\\u12\"", 1, "\\u must be followed by 4 hex digits");
    bad("\"\\u12G4\"", 1, "\\u must be followed by 4 hex digits");
    bad("\"\\u\"", 1, "\\u must be followed by 4 hex digits");
    bad("\"\\u 123\"", 1, "\\u must be followed by 4 hex digits");
    /* Surrogates in escapes: pairs only, in order. */
    bad("\"\\uD800\"", 1, "high surrogate");
    bad("\"\\uD800x\"", 1, "high surrogate");
    bad("\"x\\uDBFF\\u0041\"", 2, "high surrogate");
    bad("\"\\uD800\\uD800\"", 1, "high surrogate");
    bad("\"\\uD800\\n\"", 1, "high surrogate");
    bad("\"\\uDC00\"", 1, "lone low surrogate");
    bad("\"\\uDE00\\uD83D\"", 1, "lone low surrogate");
    /* Keys are strings with the same rules. */
    bad("{\"a\\q\":1}", 3, "invalid escape");
}

static void test_utf8_errors(void **state)
{
    (void)state;
    struct {
        const char *text;
        size_t off;
        const char *why;
    } cases[] = {
        /* Overlong forms of '/', NUL and of the first 3- and 4-byte characters. */
        {"\"\xc0\xaf\"", 1, "overlong"},
        {"\"\xc0\x80\"", 1, "overlong"},
        {"\"\xc1\xbf\"", 1, "overlong"},
        {"\"\xe0\x80\xaf\"", 1, "overlong"},
        {"\"\xe0\x9f\xbf\"", 1, "overlong"},
        {"\"\xf0\x80\x80\xaf\"", 1, "overlong"},
        {"\"\xf0\x8f\xbf\xbf\"", 1, "overlong"},
        /* UTF-16 surrogates encoded in UTF-8 (CESU-8). */
        {"\"\xed\xa0\x80\"", 1, "surrogate"},
        {"\"\xed\xbf\xbf\"", 1, "surrogate"},
        {"\"\xed\xa0\xbd\xed\xb8\x80\"", 1, "surrogate"},
        /* Beyond U+10FFFF. */
        {"\"\xf4\x90\x80\x80\"", 1, "beyond U+10FFFF"},
        {"\"\xf5\x80\x80\x80\"", 1, "never occur"},
        {"\"\xff\"", 1, "never occur"},
        {"\"\xfe\xff\"", 1, "never occur"},
        /* Truncated sequences and stray continuation bytes. */
        {"\"\xc3\"", 1, "truncated"},
        {"\"\xe2\x82\"", 1, "truncated"},
        {"\"\xf0\x9f\x98\"", 1, "truncated"},
        {"\"\xc3\x41\"", 1, "truncated"},
        {"\"\xe2\x41\xac\"", 1, "truncated"},
        {"\"\xe2\x82\x41\"", 1, "truncated"},
        {"\"ab\x80\"", 3, "unexpected continuation"},
        {"\"\xbf\"", 1, "unexpected continuation"},
        /* Latin-1 'å' (a Latin-1 file given by mistake). */
        {"\"M\xe5ns\"", 2, "truncated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        bad(cases[i].text, cases[i].off, cases[i].why);
    /* Non-ASCII outside a string is simply unexpected. */
    bad("[\xc3\xa5]", 1, "expected a JSON value, found byte 0xc3");
    /* Invalid UTF-8 in a key. */
    bad("{\"\xc0\x80\":1}", 2, "overlong");
}

/* --- writer ------------------------------------------------------------------------ */

static char *write_str(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    json_write_string(f, s);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_writer(void **state)
{
    (void)state;
    char *out = write_str("a\"b\\c/d\n\t\r\b\f\x01\x1f\x7f");
    assert_string_equal(out, "\"a\\\"b\\\\c/d\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f\"");
    free(out);
    out = write_str("Åsa Öberg \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_string_equal(out, "\"Åsa Öberg \xe2\x82\xac \xf0\x9f\x98\x80\"");
    free(out);
    out = write_str("");
    assert_string_equal(out, "\"\"");
    free(out);
    /* Invalid UTF-8 becomes U+FFFD so the output is still valid JSON. */
    out = write_str("M\xe5ns \xc0\x80");
    assert_string_equal(out, "\"M\\ufffdns \\ufffd\\ufffd\"");
    free(out);

    /* Round trip: every byte 1..127 plus multi-byte characters. */
    char all[200];
    size_t n = 0;
    for (int c = 1; c < 128; c++)
        all[n++] = (char)c;
    memcpy(all + n, "\xc3\xa5\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    n += 9;
    all[n] = '\0';
    out = write_str(all);
    json_value *v = parse_ok(out);
    size_t len = 0;
    assert_string_equal(json_string(v, &len), all);
    assert_int_equal(len, n);
    json_free(v);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_manifest_document),
        cmocka_unit_test(test_string_escapes_and_unicode),
        cmocka_unit_test(test_int64),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_number_errors),
        cmocka_unit_test(test_string_errors),
        cmocka_unit_test(test_utf8_errors),
        cmocka_unit_test(test_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
