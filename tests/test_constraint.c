/* Token-level constraint tests on real vocabularies (llama-spm, gpt-2): a token is in the mask iff
 * walking its bytes is accepted; EOS iff the document is complete; control tokens never; the
 * whitespace bound; several matchers on one constraint (interleaved, and from two threads); cache
 * flushes; the sampler's filter adapter generating schema-valid output greedily. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/parallel.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "sampler/cons_int.h"
#include "sampler/constraint.h"
#include "sampler/gbnf.h"
#include "sampler/sampler.h"
#include "sampler/schema.h"
#include "sampler/validate.h"
#include "tests/testutil.h"

/* Tokens checked per state in the exhaustive mask comparison: all of them (every state). */
#define GEN_MAX_TOKENS 400   /* cap on a greedy generation */

typedef struct {
    cf_tokenizer *tok;
    cf_cons_vocab *v;
} vocab;

static int load_vocab(const char *name, vocab *out) {
    char rel[128];
    snprintf(rel, sizeof rel, "models/vocab/ggml-vocab-%s.gguf", name);
    cf_gguf g;
    cf_err e = {0};
    if (cf_gguf_open(&g, tu_shared(rel), &e)) return -1;
    int rc = cf_tok_load(&out->tok, &g, &e);
    cf_gguf_close(&g);
    ck_assert_msg(rc == 0, "%s: %s", name, e.msg);
    ck_assert_int_eq(cf_cons_vocab_new(&out->v, out->tok, &e), 0);
    return 0;
}

static void free_vocab(vocab *v) {
    cf_cons_vocab_free(v->v);
    cf_tok_free(v->tok);
}

static cf_constraint *schema_cons(const char *schema, const cf_cons_vocab *v, int max_ws) {
    cf_schema_opts o;
    cf_schema_opts_default(&o);
    if (max_ws >= 0) o.max_ws = max_ws;
    cf_grammar *g = NULL;
    cf_err e = {0};
    ck_assert_msg(cf_schema_compile(schema, strlen(schema), &o, &g, &e) == 0, "%s", e.msg);
    cf_constraint *c = NULL;
    ck_assert_msg(cf_constraint_new(&c, g, v, &e) == 0, "%s", e.msg);
    return c;
}

static int bit(const uint32_t *b, int32_t t) { return (b[t >> 5] >> (t & 31)) & 1; }

/* At every step of doc's tokenization: the mask equals the per-token byte walk for all tokens,
 * and the document's own token is allowed; at the end EOS (only) completes it. */
static void check_doc(vocab *V, cf_constraint *c, const char *doc, int expect_valid) {
    int n = cf_tok_encode(V->tok, doc, strlen(doc), 0, NULL, 0, NULL);
    ck_assert_int_ge(n, 0);
    int32_t *ids = malloc(((size_t)n + 1) * sizeof *ids);
    cf_err e = {0};
    ck_assert_int_eq(cf_tok_encode(V->tok, doc, strlen(doc), 0, ids, n, &e), n);
    int nv = cf_cons_vocab_size(V->v), eos = cf_cons_vocab_eos(V->v);
    uint32_t *bits = malloc(((size_t)nv + 31) / 32 * 4);
    cf_matcher *m = NULL;
    ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
    int ok = 1;
    for (int k = 0; k <= n && ok; k++) {
        int cnt = cf_matcher_mask(m, bits);
        ck_assert_int_ge(cnt, 0);
        int seen = 0;
        for (int32_t t = 0; t < nv; t++) {
            int a = cf_matcher_accepts(m, t);
            ck_assert_msg(bit(bits, t) == a, "doc %s step %d token %d: mask %d, byte walk %d", doc, k, t, bit(bits, t), a);
            seen += a;
            if (cf_tok_is_control(V->tok, t) && t != eos) ck_assert_msg(!a, "control token %d allowed", t);
        }
        ck_assert_int_eq(seen, cnt);
        ck_assert_int_eq(bit(bits, eos), cf_matcher_is_complete(m));
        if (k == n) {
            ok = cf_matcher_is_complete(m);
            break;
        }
        if (!bit(bits, ids[k])) {
            ok = 0;
            break;
        }
        ck_assert_int_eq(cf_matcher_advance(m, ids[k], &e), 0);
    }
    ck_assert_msg(ok == expect_valid, "doc %s: %s", doc, ok ? "accepted" : "rejected");
    if (ok) {
        ck_assert_int_eq(cf_matcher_advance(m, eos, &e), 0);
        ck_assert(cf_matcher_is_finished(m));
        ck_assert_int_eq(cf_matcher_mask(m, bits), 0);
        ck_assert_int_ne(cf_matcher_advance(m, ids[0], &e), 0);
    }
    cf_matcher_free(m);
    free(bits);
    free(ids);
}

static void mask_suite(const char *vname) {
    vocab V;
    if (!tu_have_shared() || load_vocab(vname, &V)) return;
    static const char *schema =
        "{\"type\":\"object\",\"properties\":{"
        "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":12},"
        "\"time\":{\"type\":\"string\",\"pattern\":\"^\\\\d{2}:\\\\d{2}(:\\\\d{2})?$\"},"
        "\"kind\":{\"enum\":[\"app\",\"apple\",\"application\"]},"
        "\"n\":{\"type\":\"integer\",\"minimum\":-5,\"maximum\":250},"
        "\"x\":{\"type\":\"number\"},\"code\":{\"type\":\"string\",\"pattern\":\"^[a-z]+-[0-9]+$\",\"maxLength\":8},"
        "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"pattern\":\"[a-z]\"},\"maxItems\":3},"
        "\"opt\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"boolean\"}]},"
        "\"one\":{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\",\"maximum\":2}]}},"
        "\"required\":[\"name\",\"kind\"]}";
    cf_constraint *c = schema_cons(schema, V.v, -1);
    check_doc(&V, c, "{\"name\":\"Ann \\u00e9\\\"x\",\"kind\":\"apple\",\"n\":42,\"time\":\"12:30\"}", 1);
    check_doc(&V, c, "{\"kind\":\"app\",\"name\":\"\xc3\xa9t\xc3\xa9\",\"tags\":[\"ab\",\"c1\"],\"x\":-1.5e3,\"opt\":null}", 1);
    check_doc(&V, c, "{\"name\":\"a\",\"kind\":\"application\",\"one\":7,\"opt\":true}", 1);
    check_doc(&V, c, "{\"name\":\"a\",\"kind\":\"app\",\"code\":\"abc-1234\"}", 1);
    check_doc(&V, c, "{\"name\":\"a\",\"kind\":\"app\",\"code\":\"abcdefg-1\"}", 0);
    check_doc(&V, c, "{\"name\":\"a\",\"kind\":\"appl\"}", 0);
    check_doc(&V, c, "{\"name\":\"a\",\"kind\":\"app\",\"n\":251}", 0);
    check_doc(&V, c, "{\"name\":\"a\",\"kind\":\"app\",\"one\":1.5}", 1);   /* only the number branch */
    check_doc(&V, c, "{\"name\":\"a\",\"kind\":\"app\",\"one\":1}", 0);     /* both branches */
    check_doc(&V, c, "{\"name\":\"a\",\"kind\":\"app\",\"time\":\"1:30\"}", 0);
    check_doc(&V, c, "{\"name\":\"\",\"kind\":\"app\"}", 0);
    cf_constraint_free(c);
    /* a GBNF grammar on tokens */
    /* (SPM tokenizers put a space before the first word: the grammar allows it) */
    const char *gb = "root ::= \" \"? \"Answer: \" (\"yes\" | \"no\" | [0-9]{1,3}) \".\"\n";
    cf_grammar *g = NULL;
    cf_err e = {0};
    ck_assert_int_eq(cf_gbnf_parse(gb, strlen(gb), &g, &e), 0);
    ck_assert_int_eq(cf_constraint_new(&c, g, V.v, &e), 0);
    check_doc(&V, c, "Answer: yes.", 1);
    check_doc(&V, c, "Answer: 123.", 1);
    check_doc(&V, c, "Answer: 1234.", 0);
    cf_constraint_free(c);
    free_vocab(&V);
}

START_TEST(test_mask_llama_spm) { mask_suite("llama-spm"); }
END_TEST

START_TEST(test_mask_gpt2) { mask_suite("gpt-2"); }
END_TEST

/* byte-level vocabulary for quick structural tests: every single byte plus a few words */
static cf_cons_vocab *byte_vocab(int *eos) {
    static const char *words[] = {"{\"", "\":", "\",\"", "true", "  ", "   ", "\n", "\"}", "null"};
    int nw = (int)(sizeof words / sizeof words[0]);
    int n = 256 + nw + 1;
    const uint8_t **b = malloc((size_t)n * sizeof *b);
    size_t *l = malloc((size_t)n * sizeof *l);
    static uint8_t single[256];
    for (int i = 0; i < 256; i++) {
        single[i] = (uint8_t)i;
        b[i] = single + i;
        l[i] = 1;
    }
    for (int i = 0; i < nw; i++) {
        b[256 + i] = (const uint8_t *)words[i];
        l[256 + i] = strlen(words[i]);
    }
    b[n - 1] = NULL;
    l[n - 1] = 0;
    *eos = n - 1;
    cf_cons_vocab *v = NULL;
    cf_err e = {0};
    ck_assert_int_eq(cf_cons_vocab_from_bytes(&v, n, b, l, n - 1, &e), 0);
    free(b);
    free(l);
    return v;
}

static int32_t word(const char *w) {
    static const char *words[] = {"{\"", "\":", "\",\"", "true", "  ", "   ", "\n", "\"}", "null"};
    for (int i = 0; i < 9; i++)
        if (!strcmp(words[i], w)) return 256 + i;
    return (uint8_t)w[0];
}

START_TEST(test_whitespace_bound) {
    int eos;
    cf_cons_vocab *v = byte_vocab(&eos);
    cf_constraint *c = schema_cons("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"boolean\"}}}", v, 2);
    cf_matcher *m = NULL;
    cf_err e;
    ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
    ck_assert_int_eq(cf_matcher_advance(m, '{', &e), 0);
    ck_assert(cf_matcher_accepts(m, word("  ")));
    ck_assert(!cf_matcher_accepts(m, word("   ")));   /* 3 > max_ws */
    ck_assert_int_eq(cf_matcher_advance(m, word("  "), &e), 0);
    ck_assert(!cf_matcher_accepts(m, ' '));
    ck_assert(!cf_matcher_accepts(m, '\n'));
    uint32_t bits[(256 + 10 + 31) / 32];
    cf_matcher_mask(m, bits);
    ck_assert(!bit(bits, ' ') && bit(bits, '"') && bit(bits, '}'));
    ck_assert_int_eq(cf_matcher_advance(m, '"', &e), 0);
    ck_assert(cf_matcher_accepts(m, ' '));   /* inside a key: spaces are characters */
    cf_matcher_free(m);
    cf_constraint_free(c);
    /* max_ws 0: compact only */
    c = schema_cons("{\"type\":\"array\"}", v, 0);
    ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
    ck_assert(!cf_matcher_accepts(m, ' '));
    ck_assert_int_eq(cf_matcher_advance(m, '[', &e), 0);
    ck_assert(!cf_matcher_accepts(m, ' '));
    ck_assert(cf_matcher_accepts(m, ']'));
    ck_assert(!cf_matcher_is_complete(m));
    ck_assert_int_eq(cf_matcher_advance(m, ']', &e), 0);
    ck_assert(cf_matcher_is_complete(m));
    ck_assert(!cf_matcher_can_continue(m));
    ck_assert(!cf_matcher_accepts(m, ' '));   /* nothing after the document: generation stops */
    cf_matcher_free(m);
    cf_constraint_free(c);
    cf_cons_vocab_free(v);
}
END_TEST

START_TEST(test_complete_vs_continue) {
    int eos;
    cf_cons_vocab *v = byte_vocab(&eos);
    cf_constraint *c = schema_cons("{\"type\":\"integer\"}", v, -1);
    cf_matcher *m = NULL;
    cf_err e;
    ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
    ck_assert(!cf_matcher_is_complete(m));
    ck_assert(!cf_matcher_accepts(m, eos));
    ck_assert_int_ne(cf_matcher_advance(m, eos, &e), 0);
    ck_assert_int_eq(cf_matcher_advance(m, '1', &e), 0);
    ck_assert(cf_matcher_is_complete(m) && cf_matcher_can_continue(m));   /* 1, or 12, ... */
    ck_assert(cf_matcher_accepts(m, eos));
    ck_assert_int_ne(cf_matcher_advance(m, 'x', &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "not allowed"));
    ck_assert_int_eq(cf_matcher_advance(m, '2', &e), 0);   /* the rejection left the state unchanged */
    cf_matcher_reset(m);
    ck_assert(!cf_matcher_is_complete(m));
    ck_assert_int_eq(cf_matcher_advance(m, '-', &e), 0);
    ck_assert(!cf_matcher_is_complete(m));
    cf_matcher_free(m);
    cf_constraint_free(c);
    cf_cons_vocab_free(v);
}
END_TEST

typedef struct {
    cf_constraint *c;
    const char *docs[4];
    int want[4];
    int bad;
} thr_arg;

static void run_docs(const cf_par *p, void *a) {
    thr_arg *t = a;
    for (int rep = 0; rep < 20; rep++)
        for (int d = 0; d < 4; d++) {
            int di = (d + p->ith) % 4;
            const char *doc = t->docs[di];
            cf_matcher *m = NULL;
            cf_err e;
            if (cf_matcher_new(&m, t->c, &e)) {
                __atomic_store_n(&t->bad, 1, __ATOMIC_RELAXED);
                return;
            }
            int ok = 1;
            uint32_t bits[(256 + 10 + 31) / 32];
            for (const char *s = doc; *s && ok; s++) {
                cf_matcher_mask(m, bits);
                ok = bit(bits, (uint8_t)*s) && cf_matcher_advance(m, (uint8_t)*s, &e) == 0;
            }
            if ((ok && cf_matcher_is_complete(m)) != t->want[di]) __atomic_store_n(&t->bad, 1, __ATOMIC_RELAXED);
            cf_matcher_free(m);
        }
}

START_TEST(test_sequences_and_threads) {
    int eos;
    cf_cons_vocab *v = byte_vocab(&eos);
    cf_constraint *c = schema_cons("{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"string\",\"pattern\":\"^a+$\"},"
                                   "\"n\":{\"type\":\"integer\",\"maximum\":99}},\"required\":[\"k\"]}",
                                   v, -1);
    /* 8 matchers advanced in lockstep, each on its own document */
    const char *docs[8] = {"{\"k\":\"a\"}", "{\"k\":\"aaa\",\"n\":5}", "{\"n\":99,\"k\":\"aa\"}", "{\"k\":\"a\"}",
                           "{\"k\":\"aaaa\"}", "{ \"k\" : \"a\" }", "{\"k\":\"a\",\"n\":-1}", "{\"k\":\"aa\"}"};
    cf_matcher *m[8];
    cf_err e;
    for (int i = 0; i < 8; i++) ck_assert_int_eq(cf_matcher_new(&m[i], c, &e), 0);
    uint32_t bits[(256 + 10 + 31) / 32];
    for (size_t pos = 0; pos < 24; pos++)
        for (int i = 0; i < 8; i++) {
            if (pos >= strlen(docs[i])) continue;
            uint8_t b = (uint8_t)docs[i][pos];
            cf_matcher_mask(m[i], bits);
            ck_assert_msg(bit(bits, b), "seq %d pos %zu", i, pos);
            ck_assert_int_eq(cf_matcher_advance(m[i], b, &e), 0);
        }
    for (int i = 0; i < 8; i++) {
        ck_assert_msg(cf_matcher_is_complete(m[i]), "seq %d incomplete", i);
        cf_matcher_free(m[i]);
    }
    /* two threads on one constraint */
    thr_arg t = {c, {"{\"k\":\"aa\",\"n\":12}", "[1]", "{\"k\":\"a\"}", "{\"n\":1}"}, {1, 0, 1, 0}, 0};
    cf_parallel_run(2, run_docs, &t);
    ck_assert_int_eq(t.bad, 0);
    /* a flush of every cache mid-document changes nothing */
    cf_matcher *x = NULL;
    ck_assert_int_eq(cf_matcher_new(&x, c, &e), 0);
    ck_assert_int_eq(cf_matcher_feed(x, "{\"k\":\"a", 7, &e), 0);
    uint32_t before[(256 + 10 + 31) / 32], after[(256 + 10 + 31) / 32];
    ck_assert_int_ge(cf_matcher_mask(x, before), 0);
    cons_flush_caches(c);
    ck_assert_int_ge(cf_matcher_mask(x, after), 0);
    ck_assert_int_eq(memcmp(before, after, sizeof before), 0);
    ck_assert_int_eq(cf_matcher_feed(x, "a\"}", 3, &e), 0);
    ck_assert(cf_matcher_is_complete(x));
    cf_matcher_free(x);
    cf_constraint_free(c);
    cf_cons_vocab_free(v);
}
END_TEST

START_TEST(test_generate_greedy) {
    /* the sampler with the constraint as its filter: greedy on random logits must produce a document
     * the validator accepts, for 8 sequences (different logits) */
    vocab V;
    if (!tu_have_shared() || load_vocab("llama-spm", &V)) return;
    const char *schema =
        "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":999},"
        "\"name\":{\"type\":\"string\",\"maxLength\":8,\"pattern\":\"^[A-Za-z ]+$\"},"
        "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"red\",\"green\",\"blue\"]},\"maxItems\":2},"
        "\"ok\":{\"type\":\"boolean\"}},\"required\":[\"id\",\"name\",\"tags\",\"ok\"],\"additionalProperties\":false}";
    cf_constraint *c = schema_cons(schema, V.v, 0);
    cf_json_doc *sd = NULL;
    cf_err e = {0};
    ck_assert_int_eq(cf_json_parse(schema, strlen(schema), &sd, &e), 0);
    int nv = cf_cons_vocab_size(V.v), eos = cf_cons_vocab_eos(V.v);
    float *logits = malloc((size_t)nv * sizeof *logits);
    for (int seq = 0; seq < 8; seq++) {
        cf_sampler_params sp = cf_sampler_defaults();
        cf_sampler *s = NULL;
        ck_assert_int_eq(cf_sampler_new(&sp, nv, &s, &e), 0);
        cf_matcher *m = NULL;
        ck_assert_int_eq(cf_matcher_new(&m, c, &e), 0);
        cf_token_filter f = cf_matcher_filter(m);
        int32_t out[GEN_MAX_TOKENS];
        int n = 0, done = 0;
        uint64_t rs = 1234 + (uint64_t)seq;
        while (n < GEN_MAX_TOKENS && !done) {
            tu_fill_rand(logits, (size_t)nv, tu_rand_u64(&rs), 4.0f);
            /* make closing tokens attractive late so documents end */
            if (n > 40) logits[eos] += 50.0f;
            int32_t t = cf_sampler_sample(s, logits, nv, &f);
            if (t < 0) {
                char dbg[8192];
                long dl = cf_tok_decode(V.tok, out, n, dbg, sizeof dbg, &e);
                ck_assert_msg(0, "seq %d: nothing allowed after %d tokens: %.*s", seq, n, (int)(dl > 0 ? dl : 0), dbg);
            }
            ck_assert_int_eq(cf_matcher_advance(m, t, &e), 0);
            if (t == eos) done = 1;
            else out[n++] = t;
        }
        ck_assert_msg(done, "sequence %d did not finish in %d tokens", seq, GEN_MAX_TOKENS);
        char text[8192];
        long l = cf_tok_decode(V.tok, out, n, text, sizeof text, &e);
        ck_assert(l > 0 && (size_t)l < sizeof text);
        cf_json_doc *dd = NULL;
        ck_assert_msg(cf_json_parse(text, (size_t)l, &dd, &e) == 0, "seq %d: not JSON: %s (%s)", seq, text, e.msg);
        cf_err why = {0};
        ck_assert_msg(cf_schema_validate(cf_json_root(sd), cf_json_root(dd), &why) == 0, "seq %d: %s: %s", seq, text,
                      why.msg);
        cf_json_free(dd);
        cf_matcher_free(m);
        cf_sampler_free(s);
    }
    free(logits);
    cf_json_free(sd);
    cf_constraint_free(c);
    free_vocab(&V);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("constraint");
    TCase *tc = tcase_create("constraint");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_whitespace_bound);
    tcase_add_test(tc, test_complete_vs_continue);
    tcase_add_test(tc, test_sequences_and_threads);
    tcase_add_test(tc, test_mask_llama_spm);
    tcase_add_test(tc, test_mask_gpt2);
    tcase_add_test(tc, test_generate_greedy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
