/* The batched forward pass: bitwise determinism across thread counts, a sequence's logits
 * identical alone and inside a batch with other sequences (prefilling and decoding at other
 * positions), chunked prefill equal to one-shot, slot reuse, F32 vs F16 KV, logit subsets, batch
 * validation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/tuning.h"
#include "model/batch.h"
#include "model/context.h"
#include "model/forward.h"
#include "model/model.h"
#include "tests/testutil.h"

/* F16 vs F32 KV cache: max per-row NMSE of the logits, on models with float weights (with 8-bit
 * activations, any perturbation of a random-weight model flips roundings and saturates near the
 * quantization noise, ~1e-3, so those are not compared). */
#define NMSE_KV_F16_VS_F32 1e-5
static const char *k_float_models[] = {"models/stories260K.gguf", "models/synth-llama-spm32k-f16.gguf"};

static const char *k_models[] = {
    "models/stories260K.gguf",
    "models/synth-llama-spm32k-q4_k_m.gguf",
    "models/synth-qwen3-gpt2-50k-q8_0.gguf",
    "models/synth-llama-spm32k-q4_0.gguf",
};
#define N_MODELS ((int)(sizeof k_models / sizeof k_models[0]))

/* Deterministic token ids < n_vocab. */
static void make_tokens(int32_t *t, int n, int n_vocab, uint64_t seed) {
    for (int i = 0; i < n; i++) t[i] = (int32_t)(tu_rand_u64(&seed) % (uint64_t)n_vocab);
}

static void load(cf_model *m, int i) {
    cf_err e;
    ck_assert_msg(cf_model_load(m, tu_shared(k_models[i]), &e) == 0, "%s", e.msg);
}

static void ctx_init(cf_context *c, const cf_model *m, int n_seq, int nth, int kv_type) {
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = 128;
    cp.n_seq = n_seq;
    cp.n_batch = 96;
    cp.n_threads = nth;
    cp.kv_type = kv_type;
    cf_err e;
    ck_assert_msg(cf_context_init(c, m, &cp, &e) == 0, "%s", e.msg);
}

static void fwd(cf_context *c, const cf_batch *b, float *logits) {
    cf_err e;
    ck_assert_msg(cf_forward(c, b, logits, &e) == 0, "%s", e.msg);
}

/* Prefill n_prompt tokens at once then decode the rest one by one (teacher forced); out gets
 * n - n_prompt + 1 rows. */
static void run_alone(const cf_model *m, const int32_t *t, int n, int n_prompt, int nth, int kv_type, float *out) {
    cf_context c;
    ctx_init(&c, m, 1, nth, kv_type);
    cf_batch b;
    cf_err e;
    cf_batch_init(&b, 96, &e);
    cf_batch_add_seq(&b, t, n_prompt, 0, 0, 1);
    fwd(&c, &b, out);
    for (int i = n_prompt; i < n; i++) {
        cf_batch_clear(&b);
        cf_batch_add(&b, t[i], i, 0, 1);
        fwd(&c, &b, out + (size_t)(i - n_prompt + 1) * m->hp.n_vocab);
    }
    cf_batch_free(&b);
    cf_context_free(&c);
}

#define N_TOK 40
#define N_PROMPT 17

START_TEST(test_threads_bitwise) {
    if (!tu_have_shared()) return;
    cf_model m;
    load(&m, _i);
    int32_t t[N_TOK];
    make_tokens(t, N_TOK, m.hp.n_vocab, 11);
    size_t rows = N_TOK - N_PROMPT + 1, nv = (size_t)m.hp.n_vocab;
    float *ref = malloc(rows * nv * sizeof(float)), *got = malloc(rows * nv * sizeof(float));
    run_alone(&m, t, N_TOK, N_PROMPT, 1, CF_T_F16, ref);
    /* mode 0: default thresholds; 1: only thresh_quant_act at 1 (row steps on one thread, the
     * team quantizes after them) and the FFN by rows at every batch size (fwd_ffn_cols_m 0);
     * 2: every threshold at 1 so each step splits as finely as it can */
    const cf_tuning defaults = *cf_tuning_get();
    for (int mode = 0; mode <= 2; mode++) {
        cf_tuning *tu = cf_tuning_mut();
        *tu = defaults;
        for (int i = 0; i < cf_tuning_count(); i++)
            if ((mode == 2 && !strncmp(cf_tuning_name(i), "thresh_", 7)) ||
                (mode == 1 && !strcmp(cf_tuning_name(i), "thresh_quant_act")))
                cf_tuning_set_value(tu, i, 1);
            else if (mode == 1 && !strcmp(cf_tuning_name(i), "fwd_ffn_cols_m"))
                cf_tuning_set_value(tu, i, 0);
        for (int nth = 2; nth <= 3; nth++) {
            run_alone(&m, t, N_TOK, N_PROMPT, nth, CF_T_F16, got);
            for (size_t r = 0; r < rows; r++)
                ck_assert_msg(memcmp(ref + r * nv, got + r * nv, nv * sizeof(float)) == 0,
                              "%s: row %zu differs with %d threads (mode %d)", k_models[_i], r, nth, mode);
        }
    }
    free(ref);
    free(got);
    cf_model_free(&m);
}
END_TEST

/* Sequence A in slot 2 of a 4-slot context, its prompt in chunks of 5 and its decode steps
 * sharing each batch with B (decoding) and C (prefilling in chunks, then decoding), must give
 * the very logits A gets alone (prompt in one batch). */
START_TEST(test_batch_invariance) {
    if (!tu_have_shared()) return;
    cf_model m;
    load(&m, _i);
    const int nv = m.hp.n_vocab;
    int32_t a[N_TOK], bt[N_TOK], ct[N_TOK];
    make_tokens(a, N_TOK, nv, 21);
    make_tokens(bt, N_TOK, nv, 22);
    make_tokens(ct, N_TOK, nv, 23);
    size_t rows = N_TOK - N_PROMPT + 1;
    float *ref = malloc(rows * nv * sizeof(float));
    run_alone(&m, a, N_TOK, N_PROMPT, 2, CF_T_F16, ref);

    cf_context c;
    ctx_init(&c, &m, 4, 2, CF_T_F16);
    cf_batch b;
    cf_err e;
    cf_batch_init(&b, 96, &e);
    float *lg = malloc((size_t)8 * nv * sizeof(float));
    /* B gets a head start of 3 tokens */
    cf_batch_add_seq(&b, bt, 3, 0, 1, 0);
    fwd(&c, &b, NULL);
    int pa = 0, pb = 3, pc = 0, row = 0;
    while (row < (int)rows) {
        cf_batch_clear(&b);
        int a_logit = -1, k = 0;
        /* B: one decode token */
        if (pb < N_TOK) {
            cf_batch_add(&b, bt[pb], pb, 1, 1);
            pb++;
            k++;
        }
        /* A: a chunk of its prompt, or one decode token */
        int na = pa < N_PROMPT ? (N_PROMPT - pa < 5 ? N_PROMPT - pa : 5) : 1;
        for (int j = 0; j < na; j++) {
            int want = pa + j == N_PROMPT - 1 || pa + j >= N_PROMPT;
            if (want) a_logit = k;
            cf_batch_add(&b, a[pa + j], pa + j, 2, want);
            k += want;
        }
        pa += na;
        /* C: chunks of 7 while prefilling, then decode */
        int nc = pc < 21 ? 7 : 1;
        if (pc + nc <= N_TOK) {
            cf_batch_add_seq(&b, ct + pc, nc, pc, 0, 1);
            pc += nc;
        }
        fwd(&c, &b, lg);
        if (a_logit >= 0) {
            ck_assert_msg(memcmp(lg + (size_t)a_logit * nv, ref + (size_t)row * nv, nv * sizeof(float)) == 0,
                          "%s: A's row %d differs inside the batch", k_models[_i], row);
            row++;
        }
    }
    ck_assert_int_eq(cf_context_seq_len(&c, 2), N_TOK);

    /* clearing A's slot and running it again alone in it gives the same logits */
    cf_context_clear_seq(&c, 2);
    ck_assert_int_eq(cf_context_seq_len(&c, 2), 0);
    cf_batch_clear(&b);
    cf_batch_add_seq(&b, a, N_PROMPT, 0, 2, 1);
    fwd(&c, &b, lg);
    ck_assert(memcmp(lg, ref, nv * sizeof(float)) == 0);
    free(lg);
    free(ref);
    cf_batch_free(&b);
    cf_context_free(&c);
    cf_model_free(&m);
}
END_TEST

/* Several logits rows come back in batch order; prefill without logits then one step works. */
START_TEST(test_logit_rows) {
    if (!tu_have_shared()) return;
    cf_model m;
    load(&m, 0);
    const int nv = m.hp.n_vocab;
    int32_t t[N_TOK];
    make_tokens(t, N_TOK, nv, 5);
    size_t rows = N_TOK - N_PROMPT + 1;
    float *ref = malloc(rows * nv * sizeof(float));
    run_alone(&m, t, N_TOK, N_PROMPT, 1, CF_T_F16, ref);
    /* teacher force everything in one batch, logits from N_PROMPT-1 on */
    cf_context c;
    ctx_init(&c, &m, 1, 2, CF_T_F16);
    cf_batch b;
    cf_err e;
    cf_batch_init(&b, 96, &e);
    for (int i = 0; i < N_TOK; i++) cf_batch_add(&b, t[i], i, 0, i >= N_PROMPT - 1);
    ck_assert_int_eq(cf_batch_n_logits(&b), (int)rows);
    float *got = malloc(rows * nv * sizeof(float));
    fwd(&c, &b, got);
    ck_assert(memcmp(got, ref, rows * nv * sizeof(float)) == 0);
    /* no logits wanted: NULL buffer is fine */
    cf_context_clear_seq(&c, 0);
    cf_batch_clear(&b);
    cf_batch_add_seq(&b, t, N_PROMPT - 1, 0, 0, 0);
    fwd(&c, &b, NULL);
    cf_batch_clear(&b);
    cf_batch_add(&b, t[N_PROMPT - 1], N_PROMPT - 1, 0, 1);
    fwd(&c, &b, got);
    ck_assert(memcmp(got, ref, nv * sizeof(float)) == 0);
    /* rewinding: a different token at that position, then the original again (the slot's tail
     * is overwritten, so the result is as if the detour never happened) */
    ck_assert_int_eq(cf_context_seq_len(&c, 0), N_PROMPT);
    cf_batch_clear(&b);
    cf_batch_add(&b, (t[N_PROMPT - 1] + 1) % nv, N_PROMPT - 1, 0, 1);
    fwd(&c, &b, got);
    ck_assert(memcmp(got, ref, nv * sizeof(float)) != 0);
    cf_batch_clear(&b);
    cf_batch_add(&b, t[N_PROMPT - 1], N_PROMPT - 1, 0, 1);
    fwd(&c, &b, got);
    ck_assert(memcmp(got, ref, nv * sizeof(float)) == 0);
    free(got);
    free(ref);
    cf_batch_free(&b);
    cf_context_free(&c);
    cf_model_free(&m);
}
END_TEST

START_TEST(test_kv_f32_vs_f16) {
    if (!tu_have_shared()) return;
    cf_model m;
    cf_err e;
    ck_assert_msg(cf_model_load(&m, tu_shared(k_float_models[_i]), &e) == 0, "%s", e.msg);
    const int nv = m.hp.n_vocab;
    int32_t t[N_TOK];
    make_tokens(t, N_TOK, nv, 9);
    size_t rows = N_TOK - N_PROMPT + 1;
    float *a = malloc(rows * nv * sizeof(float)), *b = malloc(rows * nv * sizeof(float));
    run_alone(&m, t, N_TOK, N_PROMPT, 2, CF_T_F16, a);
    run_alone(&m, t, N_TOK, N_PROMPT, 2, CF_T_F32, b);
    for (size_t r = 0; r < rows; r++) {
        double v = tu_nmse(a + r * nv, b + r * nv, (size_t)nv);
        ck_assert_msg(v <= NMSE_KV_F16_VS_F32, "%s row %zu: NMSE %.3g", k_float_models[_i], r, v);
    }
    free(a);
    free(b);
    cf_model_free(&m);
}
END_TEST

/* Logit subsets (cf_batch.only): a row restricted to some ids holds, at those ids, bitwise the
 * logits of the full output matmul, and -INFINITY elsewhere, whether the row lies before a full
 * row (overwritten after the full product) or after the last one, in a prefill or a decode step,
 * on 1 to 3 threads; an empty subset gives an all -INFINITY row; bad subsets are refused. */
static int subset_ids(int32_t *ids, int nv, int which) {
    int n = 0;
    if (which == 0) {
        int32_t fixed[] = {0, 1, 2, 17};
        for (int i = 0; i < 4; i++) ids[n++] = fixed[i];
        for (int i = 100; i < 132; i++) ids[n++] = i;   /* a run of consecutive rows */
        ids[n++] = nv - 1;
    } else {
        for (int i = 3; i < nv; i += 37) ids[n++] = i;
    }
    return n;
}

static void subset_check(const float *got, const float *ref, int nv, const int32_t *ids, int n, const char *what) {
    int k = 0;
    for (int t = 0; t < nv; t++) {
        if (k < n && ids[k] == t) {
            ck_assert_msg(memcmp(&got[t], &ref[t], sizeof(float)) == 0, "%s: id %d: %g vs %g", what, t, got[t], ref[t]);
            k++;
        } else {
            ck_assert_msg(got[t] == -INFINITY, "%s: id %d outside the subset is %g (ref %g, n %d)", what, t, got[t], ref[t], n);
        }
    }
}

START_TEST(test_logit_subset) {
    if (!tu_have_shared()) return;
    cf_model m;
    load(&m, _i);
    const int nv = m.hp.n_vocab;
    int32_t t[3][12];
    for (int s = 0; s < 3; s++) make_tokens(t[s], 12, nv, 40 + (uint64_t)s);
    const int np[3] = {9, 5, 7};
    int32_t *ids0 = malloc((size_t)nv * sizeof *ids0), *ids1 = malloc((size_t)nv * sizeof *ids1);
    int n0 = subset_ids(ids0, nv, 0), n1 = subset_ids(ids1, nv, 1);
    float *ref = malloc((size_t)6 * nv * sizeof(float)), *got = malloc((size_t)6 * nv * sizeof(float));
    cf_err e;
    for (int nth = 1; nth <= 3; nth++)
        for (int sub = 0; sub <= 1; sub++) {
            cf_context c;
            ctx_init(&c, &m, 3, nth, CF_T_F16);
            cf_batch b;
            cf_batch_init(&b, 96, &e);
            float *out = sub ? got : ref;
            /* step 1: three prompts; out rows: seq 0 (subset, before the full row), 1 (full), 2 (subset) */
            for (int s = 0; s < 3; s++) {
                cf_batch_add_seq(&b, t[s], np[s], 0, s, 1);
                if (sub && s != 1) cf_batch_set_only(&b, b.n - 1, s ? ids1 : ids0, s ? n1 : n0);
            }
            fwd(&c, &b, out);
            /* step 2: one decode token each; seq 0 full, seq 1 an empty subset, seq 2 a subset */
            cf_batch_clear(&b);
            for (int s = 0; s < 3; s++) {
                cf_batch_add(&b, t[s][np[s]], np[s], s, 1);
                if (sub && s == 1) cf_batch_set_only(&b, b.n - 1, ids0, 0);
                if (sub && s == 2) cf_batch_set_only(&b, b.n - 1, ids0, n0);
            }
            fwd(&c, &b, out + (size_t)3 * nv);
            if (sub) {
                char what[96];
                snprintf(what, sizeof what, "%s, %d threads, prefill seq 0", k_models[_i], nth);
                subset_check(got, ref, nv, ids0, n0, what);
                ck_assert(memcmp(got + nv, ref + nv, (size_t)nv * sizeof(float)) == 0);
                snprintf(what, sizeof what, "%s, %d threads, prefill seq 2", k_models[_i], nth);
                subset_check(got + 2 * nv, ref + 2 * nv, nv, ids1, n1, what);
                ck_assert(memcmp(got + 3 * nv, ref + 3 * nv, (size_t)nv * sizeof(float)) == 0);
                snprintf(what, sizeof what, "%s, %d threads, empty subset", k_models[_i], nth);
                subset_check(got + 4 * nv, ref + 4 * nv, nv, ids0, 0, what);
                snprintf(what, sizeof what, "%s, %d threads, decode seq 2", k_models[_i], nth);
                subset_check(got + 5 * nv, ref + 5 * nv, nv, ids0, n0, what);
                /* refused: ids not ascending, an id outside the vocabulary */
                int32_t bad1[2] = {5, 5}, bad2[2] = {3, nv};
                const int32_t *bad[2] = {bad1, bad2};
                const char *needle[2] = {"must ascend", "out of the vocabulary"};
                for (int k = 0; k < 2; k++) {
                    cf_batch_clear(&b);
                    cf_batch_add(&b, t[0][np[0] + 1], np[0] + 1, 0, 1);
                    cf_batch_set_only(&b, 0, bad[k], 2);
                    ck_assert_int_eq(cf_forward(&c, &b, got, &e), CF_EINVAL);
                    ck_assert_msg(strstr(e.msg, needle[k]) != NULL, "'%s' lacks '%s'", e.msg, needle[k]);
                }
            }
            cf_batch_free(&b);
            cf_context_free(&c);
        }
    free(ids0);
    free(ids1);
    free(ref);
    free(got);
    cf_model_free(&m);
}
END_TEST

START_TEST(test_batch_validation) {
    if (!tu_have_shared()) return;
    cf_model m;
    load(&m, 0);
    cf_context c;
    ctx_init(&c, &m, 2, 1, CF_T_F16);
    cf_batch b;
    cf_err e;
    cf_batch_init(&b, 200, &e);
    float *lg = malloc((size_t)200 * m.hp.n_vocab * sizeof(float));
    struct {
        int n;
        int32_t tok[4], pos[4], seq[4];
        const char *needle;
    } cases[] = {
        {0, {0}, {0}, {0}, "empty batch"},
        {1, {512}, {0}, {0}, "out of the vocabulary"},
        {1, {-1}, {0}, {0}, "out of the vocabulary"},
        {1, {1}, {0}, {2}, "sequence 2 is out of range"},
        {1, {1}, {128}, {0}, "outside the context"},
        {1, {1}, {1}, {0}, "only 0 are filled"},
        {2, {1, 2}, {0, 2}, {0, 0}, "positions must be consecutive"},
        {3, {1, 2, 3}, {0, 0, 1}, {0, 1, 0}, "not contiguous"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cf_batch_clear(&b);
        for (int j = 0; j < cases[i].n; j++) cf_batch_add(&b, cases[i].tok[j], cases[i].pos[j], cases[i].seq[j], 1);
        memset(&e, 0, sizeof e);
        ck_assert_int_ne(cf_forward(&c, &b, lg, &e), 0);
        ck_assert_msg(strstr(e.msg, cases[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i, e.msg, cases[i].needle);
    }
    /* too many tokens for n_batch, and logits wanted without a buffer */
    cf_batch_clear(&b);
    for (int i = 0; i < 97; i++) cf_batch_add(&b, 1, i, 0, 0);
    ck_assert_int_eq(cf_forward(&c, &b, lg, &e), CF_ELIMIT);
    cf_batch_clear(&b);
    cf_batch_add(&b, 1, 0, 0, 1);
    ck_assert_int_eq(cf_forward(&c, &b, NULL, &e), CF_EINVAL);
    /* refused batches leave the slots untouched */
    ck_assert_int_eq(cf_context_seq_len(&c, 0), 0);
    /* a batch of exactly the capacity fills up, then refuses more */
    cf_batch small;
    cf_batch_init(&small, 2, &e);
    ck_assert_int_eq(cf_batch_add(&small, 1, 0, 0, 0), 0);
    ck_assert_int_eq(cf_batch_add(&small, 1, 1, 0, 0), 0);
    ck_assert_int_eq(cf_batch_add(&small, 1, 2, 0, 0), -1);
    int32_t three[3] = {1, 2, 3};
    cf_batch_clear(&small);
    ck_assert_int_eq(cf_batch_add_seq(&small, three, 3, 0, 0, 1), 2);
    ck_assert_int_eq(cf_batch_n_logits(&small), 0); /* not all fitted: no logits */
    cf_batch_free(&small);
    free(lg);
    cf_batch_free(&b);
    cf_context_free(&c);
    cf_model_free(&m);
}
END_TEST

/* With CINFER_PROFILE set, passes still complete on several threads (every thread takes the
 * same barriers) and the step times add up. */
START_TEST(test_profile) {
    if (!tu_have_shared()) return;
    setenv("CINFER_PROFILE", "1", 1);
    cf_model m;
    load(&m, 1);
    int32_t t[N_TOK];
    make_tokens(t, N_TOK, m.hp.n_vocab, 3);
    size_t rows = N_TOK - N_PROMPT + 1;
    float *a = malloc(rows * m.hp.n_vocab * sizeof(float)), *b = malloc(rows * m.hp.n_vocab * sizeof(float));
    run_alone(&m, t, N_TOK, N_PROMPT, 1, CF_T_F16, a);
    run_alone(&m, t, N_TOK, N_PROMPT, 2, CF_T_F16, b);
    ck_assert(memcmp(a, b, rows * m.hp.n_vocab * sizeof(float)) == 0);
    int64_t ns[CF_PROF_COUNT], n_fwd;
    cf_forward_profile(ns, &n_fwd);
    ck_assert_int_eq(n_fwd, 2 * (int64_t)rows);
    for (int i = 0; i < CF_PROF_COUNT; i++) ck_assert_int_ge(ns[i], 0);
    ck_assert_int_gt(ns[CF_PROF_QKV], 0);
    ck_assert_int_gt(ns[CF_PROF_OUTPUT], 0);
    ck_assert_str_eq(cf_prof_name(CF_PROF_ATTN), "attention");
    free(a);
    free(b);
    cf_model_free(&m);
    unsetenv("CINFER_PROFILE");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("forward");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_threads_bitwise, 0, N_MODELS);
    tcase_add_loop_test(tc, test_batch_invariance, 0, N_MODELS);
    tcase_add_test(tc, test_logit_rows);
    tcase_add_loop_test(tc, test_kv_f32_vs_f16, 0, 2);
    tcase_add_loop_test(tc, test_logit_subset, 0, N_MODELS);
    tcase_add_test(tc, test_batch_validation);
    tcase_add_test(tc, test_profile);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
