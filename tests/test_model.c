/* Model loading (hparams, tied/untied, GQA, qwen3 Q/K norm, clear load errors) and parity with
 * llama.cpp: teacher-forced logits against ../shared/reference for every model and prompt there,
 * and stories260K's greedy continuation token for token. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/act_scale.h"
#include "kernels/quant.h"
#include "model/batch.h"
#include "model/context.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "tests/testutil.h"

/* Max per-row NMSE against llama.cpp by weight type (issue 3). */
#define NMSE_F32 1e-5
#define NMSE_F16 1e-5
#define NMSE_Q8_0 1e-3
#define NMSE_Q4_K_M 3e-3
#define TEST_THREADS 2

/* Each reference is compared under the Q8_0 activation scale convention of the runtime that made
 * it (../shared/reference/README.md): llama.cpp's block_q8_0 (f16 scale) for the llama models,
 * ik_llama.cpp's block_q8_2 (bf16 scale, quants from the rounded scale) for qwen3.  On these
 * random-weight models a single differently rounded activation quant moves a row's NMSE by
 * ~1e-4, so the convention alone decides whether qwen3 Q8_0 lands near 2e-4 or near 1.2e-3
 * (kernels/act_scale.h). */
typedef struct {
    const char *name;
    double tol;
    cf_act_scale act_scale;
} ref_model;

static const ref_model k_models[] = {
    {"stories260K", NMSE_F32, CF_ACT_SCALE_F16},
    {"synth-llama-spm32k-f16", NMSE_F16, CF_ACT_SCALE_F16},
    {"synth-llama-spm32k-q8_0", NMSE_Q8_0, CF_ACT_SCALE_F16},
    {"synth-llama-spm32k-q4_k_m", NMSE_Q4_K_M, CF_ACT_SCALE_F16},
    {"synth-qwen3-gpt2-50k-q8_0", NMSE_Q8_0, CF_ACT_SCALE_BF16},
    {"synth-qwen3-gpt2-50k-q4_k_m", NMSE_Q4_K_M, CF_ACT_SCALE_BF16},
};
#define N_MODELS ((int)(sizeof k_models / sizeof k_models[0]))

/* Space-separated ids -> malloc'ed array. */
static int32_t *read_tokens(const char *path, int *n) {
    char *s = tu_read_file(path, NULL);
    if (!s) return NULL;
    int cap = 64, k = 0;
    int32_t *t = malloc(cap * sizeof *t);
    char *p = s, *end;
    for (;;) {
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (k == cap) t = realloc(t, (cap *= 2) * sizeof *t);
        t[k++] = (int32_t)v;
        p = end;
    }
    free(s);
    *n = k;
    return t;
}

/* Integer field of the small reference JSON. */
static long json_int(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    ck_assert_msg(p != NULL, "key %s missing", key);
    return strtol(p + strlen(pat), NULL, 10);
}

/* Teacher-forces toks[0..n) in one batch; rows for positions >= from go to out. */
static void teacher_force(const cf_model *m, const int32_t *toks, int n, int from, int nth, int kv_type,
                          float *out) {
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = n;
    cp.n_batch = n;
    cp.n_threads = nth;
    cp.kv_type = kv_type;
    cf_context c;
    cf_err e;
    ck_assert_msg(cf_context_init(&c, m, &cp, &e) == 0, "%s", e.msg);
    cf_batch b;
    ck_assert_int_eq(cf_batch_init(&b, n, &e), 0);
    for (int i = 0; i < n; i++) cf_batch_add(&b, toks[i], i, 0, i >= from);
    ck_assert_msg(cf_forward(&c, &b, out, &e) == 0, "%s", e.msg);
    cf_batch_free(&b);
    cf_context_free(&c);
}

START_TEST(test_every_reference_model_listed) {
    if (!tu_have_shared()) return;
    DIR *d = opendir(tu_shared("reference"));
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "prompts") || strchr(de->d_name, '.')) continue;
        int found = 0;
        for (int i = 0; i < N_MODELS; i++) found |= !strcmp(k_models[i].name, de->d_name);
        ck_assert_msg(found, "reference model %s has no tolerance in this suite", de->d_name);
    }
    closedir(d);
}
END_TEST

START_TEST(test_parity) {
    if (!tu_have_shared()) return;
    const ref_model *rm = &k_models[_i];
    cf_act_scale_set(rm->act_scale); /* this test's own process (Check forks each test) */
    char path[512];
    snprintf(path, sizeof path, "models/%s.gguf", rm->name);
    cf_model m;
    cf_err e;
    ck_assert_msg(cf_model_load(&m, tu_shared(path), &e) == 0, "%s", e.msg);
    snprintf(path, sizeof path, "reference/%s", rm->name);
    DIR *d = opendir(tu_shared(path));
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    int n_cases = 0;
    while ((de = readdir(d))) {
        size_t L = strlen(de->d_name);
        if (L < 6 || strcmp(de->d_name + L - 5, ".json")) continue;
        char base[256];
        snprintf(base, sizeof base, "%.*s", (int)(L - 5), de->d_name);
        char rel[512];
        snprintf(rel, sizeof rel, "reference/%s/%s.json", rm->name, base);
        char *js = tu_read_file(tu_shared(rel), NULL);
        ck_assert_ptr_nonnull(js);
        long n_prompt = json_int(js, "n_prompt"), n_gen = json_int(js, "n_generated");
        long n_vocab = json_int(js, "n_vocab"), from = json_int(js, "logits_rows_from_position");
        free(js);
        ck_assert_int_eq(n_vocab, m.hp.n_vocab);
        snprintf(rel, sizeof rel, "reference/%s/%s.tokens.txt", rm->name, base);
        int n;
        int32_t *toks = read_tokens(tu_shared(rel), &n);
        ck_assert_ptr_nonnull(toks);
        ck_assert_int_eq(n, n_prompt + n_gen);
        snprintf(rel, sizeof rel, "reference/%s/%s.logits.f32", rm->name, base);
        size_t bytes;
        float *ref = (float *)tu_read_file(tu_shared(rel), &bytes);
        ck_assert_ptr_nonnull(ref);
        long rows = n - from;
        ck_assert_int_eq(bytes, (size_t)rows * n_vocab * sizeof(float));
        float *ours = malloc(bytes);
        teacher_force(&m, toks, n, (int)from, TEST_THREADS, CF_T_F16, ours);
        double worst = 0;
        long worst_row = -1;
        const char *verbose = getenv("CINFER_TEST_VERBOSE");
        int per_row = verbose && *verbose && strcmp(verbose, "0") != 0;
        if (per_row) fprintf(stderr, "parity %s/%s per-row NMSE:", rm->name, base);
        for (long r = 0; r < rows; r++) {
            double v = tu_nmse(ours + r * n_vocab, ref + r * n_vocab, (size_t)n_vocab);
            if (per_row) fprintf(stderr, " %.2g", v);
            if (!(v <= worst)) {
                worst = v;
                worst_row = r;
            }
        }
        if (per_row) fprintf(stderr, "\n");
        fprintf(stderr, "parity %-28s %-8s rows %3ld  max NMSE %.3g (row %ld)  tol %.0e  act scale %s\n", rm->name, base,
                rows, worst, worst_row, rm->tol, cf_act_scale_name(rm->act_scale));
        ck_assert_msg(worst <= rm->tol, "%s/%s: row %ld NMSE %.3g > %.0e", rm->name, base, worst_row, worst, rm->tol);
        free(ours);
        free(ref);
        free(toks);
        n_cases++;
    }
    closedir(d);
    ck_assert_int_gt(n_cases, 0);
    cf_model_free(&m);
}
END_TEST

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* Greedy decode of stories260K from the reference prompt tokens, one token per forward. */
START_TEST(test_story64_greedy) {
    if (!tu_have_shared()) return;
    cf_model m;
    cf_err e;
    ck_assert_msg(cf_model_load(&m, tu_shared("models/stories260K.gguf"), &e) == 0, "%s", e.msg);
    char *js = tu_read_file(tu_shared("reference/stories260K/story64.json"), NULL);
    ck_assert_ptr_nonnull(js);
    int n_prompt = (int)json_int(js, "n_prompt"), n_gen = (int)json_int(js, "n_generated");
    free(js);
    int n;
    int32_t *ref = read_tokens(tu_shared("reference/stories260K/story64.tokens.txt"), &n);
    ck_assert_int_eq(n, n_prompt + n_gen);
    /* end to end: the model's own tokenizer gives the reference prompt tokens */
    cf_tokenizer *tok;
    ck_assert_msg(cf_tok_load(&tok, &m.gguf, &e) == 0, "%s", e.msg);
    size_t plen;
    char *ptext = tu_read_file(tu_shared("reference/prompts/story64.txt"), &plen);
    ck_assert_ptr_nonnull(ptext);
    int32_t pids[64];
    int np = cf_tok_encode(tok, ptext, plen, -1, pids, 64, &e);
    ck_assert_int_eq(np, n_prompt);
    ck_assert(memcmp(pids, ref, (size_t)np * sizeof *pids) == 0);
    free(ptext);
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = 256;
    cp.n_threads = TEST_THREADS;
    cf_context c;
    ck_assert_msg(cf_context_init(&c, &m, &cp, &e) == 0, "%s", e.msg);
    cf_batch b;
    cf_batch_init(&b, 512, &e);
    float *logits = malloc(m.hp.n_vocab * sizeof(float));
    cf_batch_add_seq(&b, ref, n_prompt, 0, 0, 1);
    for (int i = 0; i < n_gen; i++) {
        ck_assert_msg(cf_forward(&c, &b, logits, &e) == 0, "%s", e.msg);
        int32_t next = argmax(logits, m.hp.n_vocab);
        ck_assert_msg(next == ref[n_prompt + i], "generated token %d: %d, reference %d", i, next, ref[n_prompt + i]);
        cf_batch_clear(&b);
        cf_batch_add(&b, next, n_prompt + i, 0, 1);
    }
    /* and the continuation reads as the README says */
    char text[1024];
    ck_assert_int_gt(cf_tok_decode(tok, ref + n_prompt, n_gen, text, sizeof text, &e), 0);
    ck_assert_msg(strstr(text, "little girl named Lily") != NULL, "continuation: %s", text);
    cf_tok_free(tok);
    free(logits);
    free(ref);
    cf_batch_free(&b);
    cf_context_free(&c);
    cf_model_free(&m);
}
END_TEST

START_TEST(test_hparams) {
    if (!tu_have_shared()) return;
    cf_model m;
    cf_err e;
    ck_assert_msg(cf_model_load(&m, tu_shared("models/stories260K.gguf"), &e) == 0, "%s", e.msg);
    ck_assert_str_eq(m.arch->name, "llama");
    ck_assert_int_eq(m.hp.n_embd, 64);
    ck_assert_int_eq(m.hp.n_layer, 5);
    ck_assert_int_eq(m.hp.n_head, 8);
    ck_assert_int_eq(m.hp.n_head_kv, 4);
    ck_assert_int_eq(m.hp.head_dim, 8);
    ck_assert_int_eq(m.hp.n_rot, 8);
    ck_assert_int_eq(m.hp.n_ff, 172);
    ck_assert_int_eq(m.hp.n_vocab, 512);
    ck_assert_int_eq(m.tied, 0);
    ck_assert(m.output.data != m.tok_embd);
    ck_assert(fabsf(m.hp.norm_eps - 1e-5f) < 1e-9f);
    ck_assert(m.layers[0].q_norm == NULL);
    cf_model_free(&m);

    ck_assert_msg(cf_model_load(&m, tu_shared("models/synth-llama-spm32k-q4_k_m.gguf"), &e) == 0, "%s", e.msg);
    ck_assert_int_eq(m.tied, 1);
    ck_assert(m.output.data == m.tok_embd);
    ck_assert_int_eq(m.output.type, CF_T_Q6_K);
    ck_assert_int_eq(m.hp.n_vocab, 32000);
    ck_assert_int_eq(m.hp.head_dim, 64);
    ck_assert_int_eq(m.layers[2].wv.type, CF_T_Q6_K);
    ck_assert_int_eq(m.layers[0].wq.type, CF_T_Q4_K);
    ck_assert_int_eq(cf_model_main_type(&m), CF_T_Q4_K);
    cf_model_free(&m);

    ck_assert_msg(cf_model_load(&m, tu_shared("models/synth-qwen3-gpt2-50k-q8_0.gguf"), &e) == 0, "%s", e.msg);
    ck_assert_str_eq(m.arch->name, "qwen3");
    ck_assert_int_eq(m.hp.head_dim, 64);
    ck_assert_int_eq(m.hp.n_head_kv, 2);
    ck_assert(m.layers[3].q_norm != NULL && m.layers[3].k_norm != NULL);
    ck_assert(fabsf(m.hp.rope_base - 1e6f) < 1.0f);
    ck_assert_int_eq(m.hp.n_vocab, 50257);
    ck_assert_int_eq(m.tied, 1);
    cf_model_free(&m);
}
END_TEST

/* ---- load errors, on GGUF images built here ---- */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} wbuf;
static void put(wbuf *w, const void *s, size_t n) {
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2 + 256;
        w->p = realloc(w->p, w->cap);
    }
    memcpy(w->p + w->n, s, n);
    w->n += n;
}
static void put_u32(wbuf *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(wbuf *w, uint64_t v) { put(w, &v, 8); }
static void put_str(wbuf *w, const char *s) {
    put_u64(w, strlen(s));
    put(w, s, strlen(s));
}
static void kv_u32(wbuf *w, const char *k, uint32_t v) {
    put_str(w, k);
    put_u32(w, 4);
    put_u32(w, v);
}
static void kv_str(wbuf *w, const char *k, const char *v) {
    put_str(w, k);
    put_u32(w, 8);
    put_str(w, v);
}

typedef struct {
    char name[48];
    int64_t ne0, ne1;
    int type;
} tdesc;

/* A tiny llama (dim 32, 1 layer, 2 heads, ff 64, vocab 16) with optional sabotage. */
typedef struct {
    const char *arch;         /* general.architecture */
    int drop_key;             /* 1: no block_count */
    const char *drop_tensor;  /* omit this tensor */
    const char *bad_shape;    /* give this tensor a wrong ne1 */
    const char *bad_type;     /* give this tensor an unsupported type (q4_1) */
    int untied;               /* add output.weight */
} sabotage;

static uint8_t *build_model(const sabotage *sb, size_t *size) {
    const int D = 32, FF = 64, V = 16;
    tdesc t[16];
    int nt = 0;
#define T(nm, a, b, ty) (snprintf(t[nt].name, sizeof t[nt].name, "%s", nm), t[nt].ne0 = a, t[nt].ne1 = b, t[nt].type = ty, nt++)
    T("token_embd.weight", D, V, CF_T_F32);
    T("output_norm.weight", D, 1, CF_T_F32);
    if (sb->untied) T("output.weight", D, V, CF_T_F16);
    T("blk.0.attn_norm.weight", D, 1, CF_T_F32);
    T("blk.0.ffn_norm.weight", D, 1, CF_T_F32);
    T("blk.0.attn_q.weight", D, D, CF_T_F32);
    T("blk.0.attn_k.weight", D, D, CF_T_F32);
    T("blk.0.attn_v.weight", D, D, CF_T_F32);
    T("blk.0.attn_output.weight", D, D, CF_T_F32);
    T("blk.0.ffn_gate.weight", D, FF, CF_T_F32);
    T("blk.0.ffn_up.weight", D, FF, CF_T_F32);
    T("blk.0.ffn_down.weight", FF, D, CF_T_F32);
#undef T
    int keep[16], nk = 0;
    for (int i = 0; i < nt; i++) {
        if (sb->drop_tensor && !strcmp(t[i].name, sb->drop_tensor)) continue;
        if (sb->bad_shape && !strcmp(t[i].name, sb->bad_shape)) t[i].ne1 += 1;
        if (sb->bad_type && !strcmp(t[i].name, sb->bad_type)) t[i].type = CF_T_Q4_1;
        keep[nk++] = i;
    }
    wbuf w = {0};
    put(&w, "GGUF", 4);
    put_u32(&w, 3);
    put_u64(&w, (uint64_t)nk);
    put_u64(&w, sb->drop_key ? 6 : 7);
    kv_str(&w, "general.architecture", sb->arch ? sb->arch : "llama");
    char key[64];
    const char *a = sb->arch ? sb->arch : "llama";
#define KEY(s) (snprintf(key, sizeof key, "%s." s, a), key)
    kv_u32(&w, KEY("embedding_length"), D);
    if (!sb->drop_key) kv_u32(&w, KEY("block_count"), 1);
    kv_u32(&w, KEY("feed_forward_length"), FF);
    kv_u32(&w, KEY("attention.head_count"), 2);
    kv_u32(&w, KEY("attention.head_count_kv"), 2);
    kv_u32(&w, KEY("context_length"), 64);
#undef KEY
    uint64_t off = 0;
    uint64_t offs[16];
    for (int j = 0; j < nk; j++) {
        tdesc *d = &t[keep[j]];
        put_str(&w, d->name);
        int nd = d->ne1 == 1 ? 1 : 2;
        put_u32(&w, (uint32_t)nd);
        put_u64(&w, (uint64_t)d->ne0);
        if (nd == 2) put_u64(&w, (uint64_t)d->ne1);
        put_u32(&w, (uint32_t)d->type);
        put_u64(&w, off);
        offs[j] = off;
        size_t bytes = cf_row_bytes(d->type, d->ne0) * (size_t)d->ne1;
        off += (bytes + 31) & ~(uint64_t)31;
    }
    while (w.n % 32) put(&w, "", 1);
    size_t data0 = w.n;
    uint8_t zero[64] = {0};
    while (w.n < data0 + off) put(&w, zero, data0 + off - w.n > 64 ? 64 : data0 + off - w.n);
    /* small deterministic weights so a forward pass is meaningful */
    uint64_t st = 7;
    for (int j = 0; j < nk; j++) {
        tdesc *d = &t[keep[j]];
        if (d->type != CF_T_F32) continue;
        float *f = (float *)(w.p + data0 + offs[j]);
        for (int64_t i = 0; i < d->ne0 * d->ne1; i++) f[i] = (float)((int)(tu_rand_u64(&st) % 200) - 100) / 400.0f + (d->ne1 == 1 ? 1.0f : 0.0f);
    }
    *size = w.n;
    return w.p;
}

static int load_sabotaged(const sabotage *sb, cf_err *e) {
    size_t n;
    uint8_t *img = build_model(sb, &n);
    cf_gguf g;
    int rc = cf_gguf_open_mem(&g, img, n, e);
    ck_assert_msg(rc == 0, "image rejected by the GGUF reader: %s", e->msg);
    cf_model m;
    rc = cf_model_from_gguf(&m, &g, e);
    if (!rc) cf_model_free(&m);
    free(img);
    return rc;
}

START_TEST(test_load_errors) {
    cf_err e;
    sabotage ok = {0};
    ck_assert_msg(load_sabotaged(&ok, &e) == 0, "%s", e.msg);
    sabotage untied = {.untied = 1};
    ck_assert_msg(load_sabotaged(&untied, &e) == 0, "%s", e.msg);

    struct {
        sabotage sb;
        int code;
        const char *needle;
    } cases[] = {
        {{.arch = "gpt9"}, CF_EUNSUPPORTED, "architecture 'gpt9'"},
        {{.drop_key = 1}, CF_EFORMAT, "llama.block_count"},
        {{.drop_tensor = "blk.0.ffn_up.weight"}, CF_EFORMAT, "'blk.0.ffn_up.weight' is missing"},
        {{.drop_tensor = "output_norm.weight"}, CF_EFORMAT, "'output_norm.weight' is missing"},
        {{.bad_shape = "blk.0.attn_k.weight"}, CF_EFORMAT, "'blk.0.attn_k.weight' has shape [32, 33]"},
        {{.bad_shape = "blk.0.ffn_down.weight"}, CF_EFORMAT, "expected [64, 32]"},
        {{.bad_type = "blk.0.attn_q.weight"}, CF_EUNSUPPORTED, "'blk.0.attn_q.weight' has type q4_1"},
        {{.bad_type = "blk.0.attn_norm.weight"}, CF_EUNSUPPORTED, "norm weight must be"},
        {{.untied = 1, .bad_shape = "output.weight"}, CF_EFORMAT, "'output.weight' has shape"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&e, 0, sizeof e);
        int rc = load_sabotaged(&cases[i].sb, &e);
        ck_assert_msg(rc == cases[i].code, "case %zu: rc %d (%s), expected %d", i, rc, e.msg, cases[i].code);
        ck_assert_msg(strstr(e.msg, cases[i].needle) != NULL, "case %zu: message '%s' lacks '%s'", i, e.msg,
                      cases[i].needle);
    }
    /* a missing file says which */
    cf_model m;
    ck_assert_int_ne(cf_model_load(&m, "/nonexistent/model.gguf", &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/model.gguf"));
}
END_TEST

/* The tiny built model runs (tied: logits = x . embedding rows) and the qwen3 entry needs its
 * Q/K norms. */
START_TEST(test_tiny_model_runs) {
    cf_err e;
    sabotage sb = {0};
    size_t n;
    uint8_t *img = build_model(&sb, &n);
    cf_gguf g;
    ck_assert_int_eq(cf_gguf_open_mem(&g, img, n, &e), 0);
    cf_model m;
    ck_assert_msg(cf_model_from_gguf(&m, &g, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(m.tied, 1);
    cf_ctx_params cp = cf_ctx_default();
    cp.n_threads = 1;
    cf_context c;
    ck_assert_msg(cf_context_init(&c, &m, &cp, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(c.kv.n_ctx, 64); /* from context_length */
    cf_batch b;
    cf_batch_init(&b, 8, &e);
    int32_t toks[3] = {1, 5, 9};
    cf_batch_add_seq(&b, toks, 3, 0, 0, 1);
    float logits[16];
    ck_assert_msg(cf_forward(&c, &b, logits, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 16; i++) ck_assert(isfinite(logits[i]));
    cf_batch_free(&b);
    cf_context_free(&c);
    cf_model_free(&m);
    free(img);

    sabotage q3 = {.arch = "qwen3"};
    ck_assert_int_ne(load_sabotaged(&q3, &e), 0); /* lacks key_length and the Q/K norms */
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("load");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hparams);
    tcase_add_test(tc, test_load_errors);
    tcase_add_test(tc, test_tiny_model_runs);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("parity");
    tcase_set_timeout(tp, 300);
    tcase_add_test(tp, test_every_reference_model_listed);
    tcase_add_loop_test(tp, test_parity, 0, N_MODELS);
    tcase_add_test(tp, test_story64_greedy);
    suite_add_tcase(s, tp);
    return s;
}

int main(void) { return tu_run(suite()); }
