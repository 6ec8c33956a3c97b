/* JSON parser: strict RFC 8259, error positions, limits, pointers, equality, writing. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sampler/json.h"
#include "tests/testutil.h"

/* Parsing 8 MiB of strings / array items / object members must stay linear: generous bound. */
/* CPU seconds (the machine is shared); sanitizers slow parsing ~10x. */
#if defined(__SANITIZE_ADDRESS__)
#define BIG_PARSE_MAX_S 30.0
#else
#define BIG_PARSE_MAX_S 3.0
#endif

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static cf_json_doc *parse_ok(const char *s) {
    cf_json_doc *d = NULL;
    cf_err e = {0};
    int rc = cf_json_parse(s, strlen(s), &d, &e);
    ck_assert_msg(rc == 0, "parse of <%s> failed: %s", s, e.msg);
    return d;
}
static void parse_bad(const char *s, size_t n, int code, const char *needle) {
    cf_json_doc *d = NULL;
    cf_err e = {0};
    int rc = cf_json_parse(s, n, &d, &e);
    ck_assert_msg(rc == code, "<%.*s>: rc %d, want %d (%s)", (int)(n > 60 ? 60 : n), s, rc, code, e.msg);
    ck_assert_ptr_null(d);
    if (needle) ck_assert_msg(strstr(e.msg, needle) != NULL, "<%.40s>: message '%s' lacks '%s'", s, e.msg, needle);
}
#define BAD(s, needle) parse_bad(s, strlen(s), CF_EFORMAT, needle)

START_TEST(test_values) {
    cf_json_doc *d = parse_ok(" {\"a\": [1, -2.5e3, true, false, null, \"x\\ty\\u00e9\\ud83d\\ude00\"], \"b\": {}} ");
    const cf_json *r = cf_json_root(d);
    ck_assert_int_eq(r->type, CF_JSON_OBJECT);
    ck_assert_uint_eq(r->len, 2);
    const cf_json *a = cf_json_get(r, "a");
    ck_assert_int_eq(a->type, CF_JSON_ARRAY);
    ck_assert_uint_eq(a->len, 6);
    ck_assert(a->items[0]->is_int && a->items[0]->i == 1);
    ck_assert(!a->items[1]->is_int);
    ck_assert_double_eq(a->items[1]->num, -2500.0);
    ck_assert_str_eq(a->items[1]->num_text, "-2.5e3");
    ck_assert_int_eq(a->items[2]->type, CF_JSON_BOOL);
    ck_assert_int_eq(a->items[2]->b, 1);
    ck_assert_int_eq(a->items[3]->b, 0);
    ck_assert_int_eq(a->items[4]->type, CF_JSON_NULL);
    ck_assert_str_eq(a->items[5]->str, "x\ty\xc3\xa9\xf0\x9f\x98\x80");
    ck_assert_uint_eq(a->items[5]->len, 9);
    ck_assert_int_eq(cf_json_get(r, "b")->type, CF_JSON_OBJECT);
    ck_assert_ptr_null(cf_json_get(r, "c"));
    ck_assert_ptr_null(cf_json_get(a, "a"));
    ck_assert_uint_eq(a->items[1]->offset, 11);
    cf_json_free(d);
    /* scalars at top level, embedded NUL via escape, BOM */
    d = parse_ok("\"a\\u0000b\"");
    ck_assert_uint_eq(cf_json_root(d)->len, 3);
    ck_assert_int_eq(cf_json_root(d)->str[1], 0);
    cf_json_free(d);
    d = parse_ok("\xEF\xBB\xBF 7");
    ck_assert_int_eq(cf_json_root(d)->i, 7);
    cf_json_free(d);
    /* int64 edges; big numbers keep their lexeme */
    d = parse_ok("[9223372036854775807, -9223372036854775808, 9223372036854775808, 1e400, -0]");
    a = cf_json_root(d);
    ck_assert(a->items[0]->is_int && a->items[0]->i == INT64_MAX);
    ck_assert(a->items[1]->is_int && a->items[1]->i == INT64_MIN);
    ck_assert(!a->items[2]->is_int);
    ck_assert_str_eq(a->items[3]->num_text, "1e400");
    ck_assert(a->items[4]->is_int && a->items[4]->i == 0);
    cf_json_free(d);
    /* duplicate keys: last wins, small and hashed objects */
    d = parse_ok("{\"k\":1,\"k\":2}");
    ck_assert_int_eq(cf_json_get(cf_json_root(d), "k")->i, 2);
    cf_json_free(d);
    char big[4096];
    size_t o = 0;
    o += (size_t)snprintf(big + o, sizeof big - o, "{");
    for (int i = 0; i < 100; i++) o += (size_t)snprintf(big + o, sizeof big - o, "\"k%d\":%d,", i % 50, i);
    snprintf(big + o, sizeof big - o, "\"end\":0}");
    d = parse_ok(big);
    ck_assert_ptr_nonnull(cf_json_root(d)->index);
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        ck_assert_int_eq(cf_json_get(cf_json_root(d), k)->i, i + 50);
    }
    ck_assert_ptr_null(cf_json_get(cf_json_root(d), "k50"));
    cf_json_free(d);
}
END_TEST

START_TEST(test_errors) {
    BAD("", "line 1 column 1 (offset 0): expected a value");
    BAD("{\"a\":1,}", "trailing comma");
    BAD("[1,2,]", "trailing comma");
    BAD("{\"a\":1 \"b\":2}", "expected ',' or '}' after object member");
    BAD("[1 2]", "expected ',' or ']' after array element");
    BAD("{\"a\" 1}", "expected ':' after object key");
    BAD("{a:1}", "expected a string key or '}'");
    BAD("{\"a\":1,b:1}", "a string key after ','");
    BAD("[01]", "leading zeros");
    BAD("[-]", "expected a digit");
    BAD("[1.]", "after the decimal point");
    BAD("[1e]", "exponent");
    BAD("[.5]", "expected a value");
    BAD("[+1]", "expected a value");
    BAD("NaN", "expected a value");
    BAD("[Infinity]", "expected a value");
    BAD("tru", "invalid literal");
    BAD("nul", "invalid literal");
    BAD("// c\n1", "expected a value");
    BAD("[1] x", "end of input after the JSON value");
    BAD("\"abc", "unterminated string");
    BAD("\"a\\x\"", "bad escape");
    BAD("\"\\u12G4\"", "4 hex digits");
    BAD("\"\\ud800\"", "high surrogate");
    BAD("\"\\ud800\\u0041\"", "high surrogate");
    BAD("\"\\udc00\"", "lone low surrogate");
    BAD("\"a\tb\"", "control character");
    BAD("\"\xff\"", "invalid UTF-8");
    BAD("\"\xc0\xaf\"", "invalid UTF-8");           /* overlong */
    BAD("\"\xed\xa0\x80\"", "invalid UTF-8");       /* encoded surrogate */
    BAD("\"\xf4\x90\x80\x80\"", "invalid UTF-8");   /* > U+10FFFF */
    BAD("\"\xe2\x82\"", "invalid UTF-8");           /* truncated */
    BAD("{\"a\":\n  [1,\n   2 3]}", "line 3 column 6 (offset 17)");
    BAD("\"\xc3\xa9\xc3\xa9\" x", "line 1 column 6 (offset 7)");   /* columns count code points */
    parse_bad("[1,\0]", 5, CF_EFORMAT, "byte 0x00");
    /* depth cap */
    size_t n = CF_JSON_MAX_DEPTH + 1;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    parse_bad(deep, 2 * n, CF_ELIMIT, "nesting deeper than");
    cf_json_doc *d = NULL;
    cf_err e;
    ck_assert_int_eq(cf_json_parse(deep + 1, 2 * n - 2, &d, &e), 0);   /* exactly at the cap */
    cf_json_free(d);
    /* unclosed deep nesting: error, no crash */
    parse_bad(deep, n - 1, CF_EFORMAT, "end of input");
    free(deep);
    parse_bad("1", (size_t)CF_JSON_MAX_BYTES + 1, CF_ELIMIT, "exceeds the cap");
}
END_TEST

START_TEST(test_big_linear) {
    size_t n = 8u << 20;
    char *s = malloc(n + 16);
    /* one long string with escapes */
    s[0] = '"';
    for (size_t i = 1; i < n; i++) s[i] = (i % 100 == 0) ? 'n' : (i % 100 == 99 ? '\\' : 'a');
    s[n] = '"';
    cf_json_doc *d;
    cf_err e;
    double t0 = cpu_s();
    ck_assert_int_eq(cf_json_parse(s, n + 1, &d, &e), 0);
    ck_assert_uint_gt(cf_json_root(d)->len, n - n / 50);
    cf_json_free(d);
    /* a long array of small numbers */
    size_t o = 0;
    s[o++] = '[';
    while (o < n - 8) o += (size_t)sprintf(s + o, "%zu,", o % 1000);
    s[o++] = '0';
    s[o++] = ']';
    ck_assert_int_eq(cf_json_parse(s, o, &d, &e), 0);
    cf_json_free(d);
    /* an object with many distinct keys, then lookups */
    o = 0;
    s[o++] = '{';
    int k = 0;
    while (o < n - 32) o += (size_t)sprintf(s + o, "\"key%d\":%d,", k, k), k++;
    o += (size_t)sprintf(s + o, "\"z\":0}");
    ck_assert_int_eq(cf_json_parse(s, o, &d, &e), 0);
    char key[32];
    for (int i = 0; i < k; i += 7) {
        snprintf(key, sizeof key, "key%d", i);
        const cf_json *v = cf_json_get(cf_json_root(d), key);
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(v->i, i);
    }
    cf_json_free(d);
    double dt = cpu_s() - t0;
    printf("json: 3 x 8 MiB (long string, long array, %d keys + lookups) in %.2f s CPU\n", k, dt);
    ck_assert_msg(dt < BIG_PARSE_MAX_S, "parsing 3 x 8 MiB took %.2f s CPU", dt);
    free(s);
}
END_TEST

START_TEST(test_pointer) {
    cf_json_doc *d = parse_ok("{\"a\":[10,{\"b/c\":1,\"m~n\":2,\"\":3,\"x y\":4,\"%\":5}],\"0\":6}");
    const cf_json *r = cf_json_root(d);
    ck_assert_ptr_eq(cf_json_pointer(r, ""), r);
    ck_assert_int_eq(cf_json_pointer(r, "/a/0")->i, 10);
    ck_assert_int_eq(cf_json_pointer(r, "/a/1/b~1c")->i, 1);
    ck_assert_int_eq(cf_json_pointer(r, "/a/1/m~0n")->i, 2);
    ck_assert_int_eq(cf_json_pointer(r, "/a/1/")->i, 3);
    ck_assert_int_eq(cf_json_pointer(r, "/0")->i, 6);
    ck_assert_ptr_null(cf_json_pointer(r, "/a/01"));
    ck_assert_ptr_null(cf_json_pointer(r, "/a/2"));
    ck_assert_ptr_null(cf_json_pointer(r, "/a/-"));
    ck_assert_ptr_null(cf_json_pointer(r, "/a/1/m~2n"));
    ck_assert_ptr_null(cf_json_pointer(r, "a"));
    ck_assert_ptr_null(cf_json_pointer(r, "/a/0/x"));
    ck_assert_int_eq(cf_json_pointer_uri(r, "#/a/1/x%20y")->i, 4);
    ck_assert_int_eq(cf_json_pointer_uri(r, "/a/1/%25")->i, 5);
    ck_assert_int_eq(cf_json_pointer_uri(r, "#/a/1/b~1c")->i, 1);
    ck_assert_ptr_eq(cf_json_pointer_uri(r, "#"), r);
    ck_assert_ptr_null(cf_json_pointer_uri(r, "#/a/1/%2"));
    ck_assert_ptr_null(cf_json_pointer_uri(r, "#/a/1/%zz"));
    cf_json_free(d);
}
END_TEST

START_TEST(test_equal_numbers) {
    cf_json_doc *d = parse_ok("[1, 1.0, 10e-1, 0.1e1, 100e-2, 2, -0, 0.0, 0e5, {\"a\":1,\"b\":[1,2]}, {\"b\":[1,2.0],\"a\":1.0},"
                              " {\"b\":[2,1],\"a\":1}, \"1\", 12345678901234567890123, 12345678901234567890124,"
                              " 1e400, 1e401, -1e-400, 0]");
    const cf_json *a = cf_json_root(d);
    ck_assert(cf_json_equal(a->items[0], a->items[1]));
    ck_assert(cf_json_equal(a->items[0], a->items[2]));
    ck_assert(cf_json_equal(a->items[0], a->items[3]));
    ck_assert(cf_json_equal(a->items[0], a->items[4]));
    ck_assert(!cf_json_equal(a->items[0], a->items[5]));
    ck_assert(cf_json_equal(a->items[6], a->items[7]));
    ck_assert(cf_json_equal(a->items[6], a->items[8]));
    ck_assert(cf_json_equal(a->items[9], a->items[10]));
    ck_assert(!cf_json_equal(a->items[9], a->items[11]));
    ck_assert(!cf_json_equal(a->items[0], a->items[12]));
    ck_assert(!cf_json_equal(a->items[13], a->items[14]));
    ck_assert_int_lt(cf_json_num_cmp(a->items[13], a->items[14]), 0);
    ck_assert_int_gt(cf_json_num_cmp(a->items[16], a->items[15]), 0);
    ck_assert_int_lt(cf_json_num_cmp(a->items[17], a->items[18]), 0);
    ck_assert_int_gt(cf_json_num_cmp(a->items[5], a->items[2]), 0);
    ck_assert_int_lt(cf_json_num_cmp(a->items[6], a->items[2]), 0);
    cf_json_free(d);
}
END_TEST

START_TEST(test_write_quote) {
    const char *src = "{\"a\":[1,-2.50e3,true,false,null],\"s\":\"q\\\"\\\\\\n\\u0001\xc3\xa9\",\"o\":{}}";
    cf_json_doc *d = parse_ok(src);
    size_t n;
    char *w = cf_json_write(cf_json_root(d), &n);
    ck_assert_str_eq(w, "{\"a\":[1,-2.50e3,true,false,null],\"s\":\"q\\\"\\\\\\n\\u0001\xc3\xa9\",\"o\":{}}");
    ck_assert_uint_eq(n, strlen(w));
    cf_json_doc *d2 = parse_ok(w);
    ck_assert(cf_json_equal(cf_json_root(d), cf_json_root(d2)));
    cf_json_free(d2);
    free(w);
    cf_json_free(d);
    char *q = cf_json_quote("a\"b\x01\xff\xe2\x82\xac", 8, &n);
    ck_assert_str_eq(q, "\"a\\\"b\\u0001\\ufffd\xe2\x82\xac\"");
    free(q);
    q = cf_json_quote("x\0y", 3, &n);
    ck_assert_str_eq(q, "\"x\\u0000y\"");
    free(q);
}
END_TEST

/* Every file of the official suite and of maskbench-dev parses; writing and re-parsing gives an
 * equal value. */
static int roundtrip_dir(const char *dir, int max_files) {
    DIR *dp = opendir(dir);
    if (!dp) return -1;
    struct dirent *de;
    int nfiles = 0;
    while ((de = readdir(dp)) && nfiles < max_files) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".json")) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t n;
        char *txt = tu_read_file(path, &n);
        ck_assert_ptr_nonnull(txt);
        cf_json_doc *d, *d2;
        cf_err e;
        ck_assert_msg(cf_json_parse(txt, n, &d, &e) == 0, "%s: %s", path, e.msg);
        char *w = cf_json_write(cf_json_root(d), &n);
        ck_assert_msg(cf_json_parse(w, n, &d2, &e) == 0, "%s rewritten: %s", path, e.msg);
        ck_assert_msg(cf_json_equal(cf_json_root(d), cf_json_root(d2)), "%s: roundtrip differs", path);
        cf_json_free(d);
        cf_json_free(d2);
        free(w);
        free(txt);
        nfiles++;
    }
    closedir(dp);
    return nfiles;
}

START_TEST(test_shared_files) {
    if (!tu_have_shared()) return;
    ck_assert_int_gt(roundtrip_dir(tu_shared("schemas/json-schema-test-suite-draft2020-12"), 1000), 40);
    ck_assert_int_gt(roundtrip_dir(tu_shared("schemas/json-schema-test-suite-draft2020-12/optional/format"), 1000), 10);
    ck_assert_int_gt(roundtrip_dir(tu_shared("schemas/maskbench-dev"), 100000), 1000);
}
END_TEST

/* Random mutations of a valid document: parse must return (ok or error), never crash. */
START_TEST(test_mutations) {
    const char *base = "{\"a\":[1,2.5e-3,\"x\\u00e9\\ud83d\\ude00\",true,null,{\"b\":false}],\"c\":\"\xe2\x82\xac\"}";
    size_t n = strlen(base);
    char buf[256];
    uint64_t st = 42;
    int ok = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, base, n);
        size_t m = n;
        int edits = 1 + (int)(tu_rand_u64(&st) % 3);
        for (int k = 0; k < edits; k++) {
            size_t at = tu_rand_u64(&st) % m;
            uint64_t r = tu_rand_u64(&st);
            if (r % 3 == 0) buf[at] = (char)(r >> 8);
            else if (r % 3 == 1 && m > 1) memmove(buf + at, buf + at + 1, m - at - 1), m--;
            else if (m < sizeof buf - 1) memmove(buf + at + 1, buf + at, m - at), buf[at] = "[]{}\",:\\0e-"[(r >> 8) % 11], m++;
        }
        cf_json_doc *d = NULL;
        cf_err e;
        if (cf_json_parse(buf, m, &d, &e) == 0) {
            ok++;
            char *w = cf_json_write(cf_json_root(d), NULL);
            free(w);
            cf_json_free(d);
        } else {
            ck_assert_ptr_null(d);
            ck_assert(strstr(e.msg, "line ") == e.msg);
        }
    }
    ck_assert_int_gt(ok, 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_big_linear);
    tcase_add_test(tc, test_pointer);
    tcase_add_test(tc, test_equal_numbers);
    tcase_add_test(tc, test_write_quote);
    tcase_add_test(tc, test_shared_files);
    tcase_add_test(tc, test_mutations);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
