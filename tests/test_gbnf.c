/* GBNF: parsing (llama.cpp dialect), errors with line/column, left recursion refused, and the
 * compiled grammar matching byte strings exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "sampler/constraint.h"
#include "sampler/gbnf.h"
#include "tests/testutil.h"

static cf_constraint *build(const char *g_text) {
    cf_grammar *g = NULL;
    cf_err e = {0};
    int rc = cf_gbnf_parse(g_text, strlen(g_text), &g, &e);
    ck_assert_msg(rc == 0, "parse failed: %s", e.msg);
    cf_constraint *c = NULL;
    rc = cf_constraint_new(&c, g, NULL, &e);
    ck_assert_msg(rc == 0, "build failed: %s", e.msg);
    return c;
}

/* 1 if s is a complete sentence, 0 if not; *prefix_ok: every byte was accepted. */
static int match(cf_constraint *c, const char *s, size_t n, int *prefix_ok) {
    cf_matcher *m = NULL;
    cf_err e;
    ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
    int rc = cf_matcher_feed(m, s, n, &e);
    if (prefix_ok) *prefix_ok = rc == 0;
    int ok = rc == 0 && cf_matcher_is_complete(m);
    cf_matcher_free(m);
    return ok;
}

#define YES(c, s) ck_assert_msg(match(c, s, strlen(s), NULL), "should accept <%s>", s)
#define NO(c, s) ck_assert_msg(!match(c, s, strlen(s), NULL), "should reject <%s>", s)

static void bad(const char *g_text, int code, const char *needle) {
    cf_grammar *g = NULL;
    cf_err e = {0};
    int rc = cf_gbnf_parse(g_text, strlen(g_text), &g, &e);
    ck_assert_msg(rc == code, "<%s>: rc %d (%s), want %d", g_text, rc, e.msg, code);
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(e.msg, needle) != NULL, "<%s>: message '%s' lacks '%s'", g_text, e.msg, needle);
}

START_TEST(test_basic) {
    cf_constraint *c = build("root ::= \"a\" [0-9]+ (\"x\" | \"yz\")?  # trailing comment\n");
    YES(c, "a1");
    YES(c, "a123x");
    YES(c, "a9yz");
    NO(c, "a");
    NO(c, "a12y");
    NO(c, "b1");
    NO(c, "a1xx");
    NO(c, "");
    int pre;
    ck_assert(!match(c, "a12y", 4, &pre) && pre);   /* a valid prefix, not complete */
    ck_assert(!match(c, "ab", 2, &pre) && !pre);
    cf_constraint_free(c);
}
END_TEST

START_TEST(test_repetition_and_classes) {
    cf_constraint *c = build("root ::= x{2,3} y{2} z{,1} w{1,}\nx ::= [a-c]\ny ::= [^a-z\\n]\nz ::= \"-\"\nw ::= .\n");
    YES(c, "abXY-!");
    YES(c, "abcXYé");      /* . matches one code point (2 bytes) */
    YES(c, "aa12zz");
    NO(c, "aXY-!");        /* x{2,3} */
    NO(c, "abcdXY!");
    NO(c, "abX!");         /* y{2} */
    NO(c, "abxY!");        /* [^a-z\n] excludes x */
    YES(c, "abXY--");      /* "--" = z then w (any char) */
    YES(c, "abXY-");       /* z absent, "-" is w */
    NO(c, "abXY");         /* w{1,} needs a char */
    cf_constraint_free(c);
    c = build("root ::= \"a\" \"-\"{,1} .\n");
    YES(c, "a--");
    YES(c, "a-");
    YES(c, "ab");
    NO(c, "a");
    cf_constraint_free(c);
}
END_TEST

START_TEST(test_escapes_utf8) {
    cf_constraint *c = build("root ::= \"\\x41\\u00e9\\t\\\"\" [\\u4e00-\\u9fff] [^\\x00-\\x7f]\n");
    YES(c, "A\xc3\xa9\t\"\xe4\xb8\x80\xf0\x9f\x98\x80");   /* Aé\t" 一 😀 */
    NO(c, "A\xc3\xa9\t\"a\xf0\x9f\x98\x80");
    NO(c, "A\xc3\xa9\t\"\xe4\xb8\x80z");
    NO(c, "A\xc3\xa9\t\"\xe4\xb8\x80\xed\xa0\x80");        /* a surrogate is not a code point */
    cf_constraint_free(c);
}
END_TEST

START_TEST(test_multiline_and_recursion) {
    const char *json =
        "root   ::= object\n"
        "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
        "object ::=\n"
        "  \"{\" ws (\n"
        "            string \":\" ws value\n"
        "    (\",\" ws string \":\" ws value)*\n"
        "  )? \"}\" ws\n"
        "array  ::=\n"
        "  \"[\" ws (\n"
        "            value\n"
        "    (\",\" ws value)*\n"
        "  )? \"]\" ws\n"
        "string ::=\n"
        "  \"\\\"\" (\n"
        "    [^\"\\\\\\x7F\\x00-\\x1F] |\n"
        "    \"\\\\\" ([\"\\\\bfnrt] | \"u\" [0-9a-fA-F]{4}) # escapes\n"
        "  )* \"\\\"\" ws\n"
        "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws\n"
        "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";
    cf_constraint *c = build(json);
    YES(c, "{}");
    YES(c, "{\"a\": 1}");
    YES(c, "{\"a\": [1, 2.5, {\"b\": \"x\\\"y\\u00e9\"}], \"c\": true}");
    YES(c, "{\"deep\": [[[[[[[[[[1]]]]]]]]]]}");
    NO(c, "{\"a\": }");
    NO(c, "[1]");
    NO(c, "{\"a\": 01}");
    cf_constraint_free(c);
}
END_TEST

START_TEST(test_errors) {
    bad("root ::= foo\n", CF_EFORMAT, "line 1 column 10: rule 'foo' is used but never defined");
    bad("a ::= \"x\"\n", CF_EFORMAT, "no 'root' rule");
    bad("root ::= \"abc\n", CF_EFORMAT, "line 1 column 10: unterminated literal");
    bad("root ::= [a-\n", CF_EFORMAT, "line 1");
    bad("root ::= \"\\q\"\n", CF_EFORMAT, "unknown escape");
    bad("root ::= [z-a]\n", CF_EFORMAT, "out of order");
    bad("root ::= \"a\"{3,1}\n", CF_EFORMAT, "n < m");
    bad("root ::= \"a\"{99999999}\n", CF_ELIMIT, "too large");
    bad("root ::= (\"a\"\n", CF_EFORMAT, "expected ')'");
    bad("root ::= \"a\"\nroot ::= \"b\"\n", CF_EFORMAT, "line 2 column 1: rule 'root' defined twice");
    bad("root = \"a\"\n", CF_EFORMAT, "expected '::='");
    bad("root ::= \"a\" )\n", CF_EFORMAT, "expected end of line");
    /* left recursion, direct and through a nullable prefix */
    bad("root ::= root \"a\" | \"b\"\n", CF_EFORMAT, "left recursion: rule 'root'");
    bad("root ::= x\nx ::= y? x \"a\" | \"b\"\ny ::= \"c\"\n", CF_EFORMAT, "left recursion: rule 'x'");
    bad("root ::= a\na ::= b \"x\"\nb ::= a | \"y\"\n", CF_EFORMAT, "left recursion");
    /* nesting cap */
    char deep[1200];
    strcpy(deep, "root ::= ");
    for (int i = 0; i < 300; i++) strcat(deep, "(");
    strcat(deep, "\"a\"");
    for (int i = 0; i < 300; i++) strcat(deep, ")");
    strcat(deep, "\n");
    bad(deep, CF_ELIMIT, "nested too deeply");
}
END_TEST

START_TEST(test_right_recursion_ok) {
    /* right recursion is fine (depth grows with input up to the stack cap) */
    cf_constraint *c = build("root ::= \"(\" root \")\" | \"x\"\n");
    YES(c, "x");
    YES(c, "(((x)))");
    NO(c, "((x)");
    cf_constraint_free(c);
}
END_TEST

START_TEST(test_big_repetition_bounded) {
    /* x{1000} expands to a 1000-state chain: compiles quickly */
    cf_constraint *c = build("root ::= [ab]{1000}\n");
    char s[1001];
    memset(s, 'a', 1000);
    s[1000] = 0;
    YES(c, s);
    s[999] = 0;
    NO(c, s);
    cf_constraint_free(c);
    /* a blow-up beyond the automaton cap is refused, not hung on */
    cf_grammar *g = NULL;
    cf_err e = {0};
    const char *big = "root ::= ([ab]{10000}){10000}\n";
    ck_assert_int_eq(cf_gbnf_parse(big, strlen(big), &g, &e), 0);
    cf_constraint *c2 = NULL;
    ck_assert_int_eq(cf_constraint_new(&c2, g, NULL, &e), CF_ELIMIT);
    ck_assert_ptr_nonnull(strstr(e.msg, "rule 'root'"));
}
END_TEST

START_TEST(test_quadratic_subset_bounded) {
    /* found by fuzz_gbnf (tests/fuzz/regress/fuzz_gbnf/optional-repeat-subset-blowup): .?{1,10000}
     * stays under the state caps but its subset construction is quadratic (10^4 DFA states of up to
     * 10^4 NFA states): it took > 60 s; the work budget refuses it in well under a second at -O2 */
    cf_grammar *g = NULL;
    cf_err e = {0};
    const char *src = "root ::= . [^\\n]?{1,10000} (\"x\"?\"y \"*)+ | \"a\"\n";
    ck_assert_int_eq(cf_gbnf_parse(src, strlen(src), &g, &e), 0);
    cf_constraint *c = NULL;
    int64_t t0 = cf_now_ns();
    ck_assert_int_eq(cf_constraint_new(&c, g, NULL, &e), CF_ELIMIT);
    ck_assert_ptr_nonnull(strstr(e.msg, "too costly to compile"));
    ck_assert_msg(cf_now_ns() - t0 < 30000000000LL, "took %.1f s", (cf_now_ns() - t0) * 1e-9);
    /* (the constraint owns g, also on failure) */
    /* the same shape at a sane size still compiles */
    const char *ok = "root ::= [^\\n]?{1,100} \"x\"\n";
    ck_assert_int_eq(cf_gbnf_parse(ok, strlen(ok), &g, &e), 0);
    ck_assert_int_eq(cf_constraint_new(&c, g, NULL, &e), 0);
    cf_constraint_free(c);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("gbnf");
    TCase *tc = tcase_create("gbnf");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_basic);
    tcase_add_test(tc, test_repetition_and_classes);
    tcase_add_test(tc, test_escapes_utf8);
    tcase_add_test(tc, test_multiline_and_recursion);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_right_recursion_ok);
    tcase_add_test(tc, test_big_repetition_bounded);
    tcase_add_test(tc, test_quadratic_subset_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
