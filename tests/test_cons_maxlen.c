/* Strings with maxLength and a pattern: the mask agrees with the per-token byte walk.
 *
 * With a maxLength, a string byte is refused once the code points so far plus those the pattern
 * still needs exceed the limit (cons_str.c str_step_u).  That check runs after every body byte,
 * so a token is allowed only if it holds at every byte it passes, not just at its last one: a
 * token ending inside an escape ("c\") is refused at its "c" when the pattern still needs code
 * points.  The mask entries (cons_mask.c) must account for the largest need along the token.
 *
 *   small_vocab     a hand-made vocabulary where the mask and the walk used to disagree.
 *   fuzz_schema     the fuzz finding (tests/fuzz/regress/fuzz_constraint/
 *                   fuzz_constraint-mask-vs-accepts): the MaskBench schema Github_medium o17563
 *                   with the gpt-2 vocabulary; every token compared at every step of a document
 *                   that runs into the limit with a pattern still unmatched.
 *   control_escape  the code points a pattern still needs count control characters, which a
 *                   string holds as escapes (\n, \u0009): a maxLength 3 string matching
 *                   ^(\n|aaaaa)$ may be "\n" (it used to be refused at its opening quote). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "sampler/constraint.h"
#include "sampler/json.h"
#include "sampler/schema.h"
#include "tests/testutil.h"

static int bit(const uint32_t *b, int32_t t) { return (b[t >> 5] >> (t & 31)) & 1; }

static cf_constraint *compile(const char *schema, const cf_cons_vocab *v) {
    cf_schema_opts o;
    cf_schema_opts_default(&o);
    cf_grammar *g = NULL;
    cf_err e = {0};
    ck_assert_msg(cf_schema_compile(schema, strlen(schema), &o, &g, &e) == 0, "%s", e.msg);
    cf_constraint *c = NULL;
    ck_assert_msg(cf_constraint_new(&c, g, v, &e) == 0, "%s", e.msg);
    return c;
}

/* Every token: mask bit == accepts; returns the mask's count. */
static int check_all(cf_matcher *m, int nv, uint32_t *bits, const char *where) {
    int cnt = cf_matcher_mask(m, bits);
    ck_assert_int_ge(cnt, 0);
    int seen = 0;
    for (int32_t t = 0; t < nv; t++) {
        int a = cf_matcher_accepts(m, t);
        ck_assert_msg(bit(bits, t) == a, "%s: token %d: mask %d, byte walk %d", where, t, bit(bits, t), a);
        seen += a;
    }
    ck_assert_int_eq(seen, cnt);
    return cnt;
}

START_TEST(test_small_vocab) {
    /* maxLength 4, pattern needs two '@': after "ab (2 code points) both remaining ones are
     * needed, so "c\" must be refused at its "c" although its last byte leaves count 4 */
    static const char *toks[] = {"\"", "a", "b", "c", "@", "c\\", "@\\", "\\", "u0040", "\"@", "a@"};
    int n = (int)(sizeof toks / sizeof toks[0]) + 1;
    const uint8_t *b[16];
    size_t l[16];
    for (int i = 0; i < n - 1; i++) {
        b[i] = (const uint8_t *)toks[i];
        l[i] = strlen(toks[i]);
    }
    b[n - 1] = NULL;
    l[n - 1] = 0;
    cf_cons_vocab *v = NULL;
    cf_err e = {0};
    ck_assert_int_eq(cf_cons_vocab_from_bytes(&v, n, b, l, n - 1, &e), 0);
    cf_constraint *c = compile("{\"type\":\"string\",\"maxLength\":4,\"pattern\":\"@@\"}", v);
    cf_matcher *m = NULL;
    ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
    uint32_t bits[1];
    check_all(m, n, bits, "start");
    ck_assert_int_eq(cf_matcher_advance(m, 0, &e), 0);   /* " */
    check_all(m, n, bits, "\"");
    ck_assert_int_eq(cf_matcher_advance(m, 1, &e), 0);   /* a */
    check_all(m, n, bits, "\"a");
    ck_assert_int_eq(cf_matcher_advance(m, 2, &e), 0);   /* b */
    check_all(m, n, bits, "\"ab");
    ck_assert(!cf_matcher_accepts(m, 3));                /* c: 3 + 2 > 4 */
    ck_assert(!cf_matcher_accepts(m, 5));                /* c\ : refused at its c */
    ck_assert(cf_matcher_accepts(m, 6));                 /* @\ : 3 + 1, then the escape */
    ck_assert(cf_matcher_accepts(m, 7));                 /* \ : \u0040 may follow */
    ck_assert_int_eq(cf_matcher_advance(m, 7, &e), 0);
    check_all(m, n, bits, "\"ab\\");
    ck_assert_int_eq(cf_matcher_advance(m, 8, &e), 0);   /* u0040 */
    check_all(m, n, bits, "\"ab\\u0040");
    ck_assert_int_eq(cf_matcher_advance(m, 4, &e), 0);   /* @ */
    check_all(m, n, bits, "\"ab\\u0040@");
    ck_assert_int_eq(cf_matcher_advance(m, 0, &e), 0);   /* " */
    ck_assert(cf_matcher_is_complete(m));
    cf_matcher_free(m);
    cf_constraint_free(c);
    cf_cons_vocab_free(v);
}
END_TEST

START_TEST(test_fuzz_schema) {
    if (!tu_have_shared()) return;
    cf_gguf g;
    cf_err e = {0};
    if (cf_gguf_open(&g, tu_shared("models/vocab/ggml-vocab-gpt-2.gguf"), &e)) return;
    cf_tokenizer *tok = NULL;
    cf_cons_vocab *v = NULL;
    ck_assert_msg(cf_tok_load(&tok, &g, &e) == 0, "%s", e.msg);
    cf_gguf_close(&g);
    ck_assert_int_eq(cf_cons_vocab_new(&v, tok, &e), 0);
    /* the schema of MaskBench Github_medium---o17563 (test1: maxLength 200 and a pattern that
     * needs at least 6 more code points while no '@' was written) */
    static const char *schema =
        "{\"additionalProperties\":false,\"properties\":{"
        "\"test1\":{\"maxLength\":200,\"minLength\":10,\"pattern\":\".+[@].+[.]___\",\"type\":\"string\"},"
        "\"test2\":{\"maximum\":99999999.0,\"minimum\":0.0,\"type\":\"number\"},"
        "\"test3\":{\"type\":\"string\"},"
        "\"test4\":{\"properties\":{\"lname\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"}},\"type\":\"object\"},"
        "\"test5\":{\"enum\":[0,1,2],\"type\":\"integer\"}},"
        "\"required\":[\"test1\",\"test2\",\"test3\",\"test5\"],\"type\":\"object\"}";
    cf_constraint *c = compile(schema, v);
    cf_matcher *m = NULL;
    ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
    int nv = cf_cons_vocab_size(v);
    uint32_t *bits = malloc(((size_t)nv + 31) / 32 * 4);
    /* the key, then x one token at a time until it no longer fits, checking every token */
    const char *head = "{\"test1\":\"";
    ck_assert_int_eq(cf_matcher_feed(m, head, strlen(head), &e), 0);
    int32_t x = -1;
    for (int32_t t = 0; t < nv && x < 0; t++) {
        size_t bl = 0;
        const uint8_t *tb = cf_tok_bytes(tok, t, &bl);
        if (tb && bl == 1 && tb[0] == 'x') x = t;
    }
    ck_assert_int_ge(x, 0);
    char where[64];
    for (int k = 0; k <= 200; k++) {
        snprintf(where, sizeof where, "after %d code points", k);
        int cnt = check_all(m, nv, bits, where);
        if (!bit(bits, x)) {
            ck_assert_int_eq(k, 194);   /* 195 + 6 > 200: another x no longer fits */
            ck_assert_int_gt(cnt, 0);   /* '@' still does */
            break;
        }
        ck_assert_int_eq(cf_matcher_advance(m, x, &e), 0);
    }
    free(bits);
    cf_matcher_free(m);
    cf_constraint_free(c);
    cf_cons_vocab_free(v);
    cf_tok_free(tok);
}
END_TEST

static void feed_doc(const char *schema, const char *doc, int want_ok) {
    cf_constraint *c = compile(schema, NULL);
    cf_matcher *m = NULL;
    cf_err e = {0};
    ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
    int ok = cf_matcher_feed(m, doc, strlen(doc), &e) == 0 && cf_matcher_is_complete(m);
    ck_assert_msg(ok == want_ok, "%s on %s: %s (%s)", doc, schema, ok ? "accepted" : "refused", e.msg);
    cf_matcher_free(m);
    cf_constraint_free(c);
}

START_TEST(test_control_escape) {
    feed_doc("{\"type\":\"string\",\"maxLength\":3,\"pattern\":\"^(\\\\n|aaaaa)$\"}", "\"\\n\"", 1);
    feed_doc("{\"type\":\"string\",\"maxLength\":3,\"pattern\":\"^(\\\\t|aaaaa)$\"}", "\"\\u0009\"", 1);
    feed_doc("{\"type\":\"string\",\"maxLength\":3,\"pattern\":\"^(\\\\t|aaaaa)$\"}", "\"aa", 0);
    feed_doc("{\"type\":\"string\",\"maxLength\":5,\"pattern\":\"^(\\\\t|aaaaa)$\"}", "\"aaaaa\"", 1);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("cons_maxlen");
    TCase *tc = tcase_create("cons_maxlen");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_small_vocab);
    tcase_add_test(tc, test_fuzz_schema);
    tcase_add_test(tc, test_control_escape);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
