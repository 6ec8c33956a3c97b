/* End-to-end determinism: the same model, prompt, seed and options generate the same tokens with
 * the same logits (bitwise) whatever the thread count (1, 2, 3) and whether the sequence runs
 * alone or in a batch beside other sequences (other prompts, seeds and samplers, at other
 * positions), with random sampling (temperature, top-k, top-p, min-p, penalties) and with
 * greedy.  Models: stories260K (its own SentencePiece vocabulary) and two synth models (llama /
 * SPM 32K at Q4_0, qwen3 / GPT-2 50K at Q8_0).  Generation is real: each step samples from the
 * logits of the previous one, so any difference in a logit bit that changes a choice shows up as
 * a different token sequence, and any difference at all shows up in the logits comparison.
 * The same holds through the continuous-batching engine (model/engine.h): a request alone on 1
 * thread vs admitted beside two others (chunked prefill mixed with decode, 3 threads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/batch.h"
#include "model/context.h"
#include "model/engine.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "sampler/sampler.h"
#include "tests/testutil.h"

#define N_GEN 24       /* tokens generated per sequence */
#define MAX_PROMPT 48  /* prompt tokens kept */
#define MAX_SEQ 3      /* sequences in the batched run */

static const char *k_models[] = {
    "models/stories260K.gguf",
    "models/synth-llama-spm32k-q4_0.gguf",
    "models/synth-qwen3-gpt2-50k-q8_0.gguf",
};
#define N_MODELS ((int)(sizeof k_models / sizeof k_models[0]))

static const char *k_prompts[MAX_SEQ] = {
    "Once upon a time, there was a little girl named Lily.",
    "The cat sat on the mat and",
    "One day, Tom went to the park with his dog",
};

typedef struct {
    const char *prompt;
    cf_sampler_params sp;
} seq_spec;

typedef struct {
    int32_t tok[N_GEN];
    float *logits;   /* N_GEN rows of n_vocab: the logits each token was sampled from */
} seq_out;

static cf_sampler_params random_params(uint64_t seed) {
    cf_sampler_params p = cf_sampler_defaults();
    p.temperature = 0.9f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.02f;
    p.repeat_penalty = 1.1f;
    p.freq_penalty = 0.05f;
    p.presence_penalty = 0.05f;
    p.penalty_last_n = 16;
    p.seed = seed;
    return p;
}

/* Generates N_GEN tokens for each of n sequences together in one context (slot i = sequence i
 * + slot0), every step in one batch: the prompts are prefilled in the first batch, then each step
 * feeds every sequence's last sampled token. */
static void generate(const cf_model *m, const cf_tokenizer *t, const seq_spec *spec, int n, int slot0, int nth,
                     seq_out *out) {
    const int nv = m->hp.n_vocab;
    cf_err e;
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = MAX_PROMPT + N_GEN + 8;
    cp.n_seq = slot0 + n;
    cp.n_batch = MAX_SEQ * MAX_PROMPT;
    cp.n_threads = nth;
    cf_context c;
    ck_assert_msg(cf_context_init(&c, m, &cp, &e) == 0, "%s", e.msg);
    cf_batch b;
    ck_assert_int_eq(cf_batch_init(&b, cp.n_batch, &e), 0);
    cf_sampler *s[MAX_SEQ];
    int32_t pos[MAX_SEQ];
    for (int i = 0; i < n; i++) {
        ck_assert_msg(cf_sampler_new(&spec[i].sp, nv, &s[i], &e) == 0, "%s", e.msg);
        int32_t ids[MAX_PROMPT];
        int k = cf_tok_encode(t, spec[i].prompt, strlen(spec[i].prompt), 1, ids, MAX_PROMPT, &e);
        ck_assert_msg(k > 0, "tokenize: %s", e.msg);
        if (k > MAX_PROMPT) k = MAX_PROMPT;
        for (int j = 0; j < k; j++) cf_sampler_accept(s[i], ids[j]);
        ck_assert_int_eq(cf_batch_add_seq(&b, ids, k, 0, slot0 + i, 1), k);
        pos[i] = k;
    }
    float *lg = malloc((size_t)n * nv * sizeof(float));
    for (int step = 0; step < N_GEN; step++) {
        ck_assert_msg(cf_forward(&c, &b, lg, &e) == 0, "%s", e.msg);
        cf_batch_clear(&b);
        for (int i = 0; i < n; i++) {
            float *row = lg + (size_t)i * nv;
            memcpy(out[i].logits + (size_t)step * nv, row, (size_t)nv * sizeof(float));
            int32_t tok = cf_sampler_sample(s[i], row, nv, NULL);
            ck_assert_int_ge(tok, 0);
            ck_assert_int_lt(tok, nv);
            cf_sampler_accept(s[i], tok);
            out[i].tok[step] = tok;
            ck_assert_int_eq(cf_batch_add(&b, tok, pos[i]++, slot0 + i, 1), 0);
        }
    }
    free(lg);
    for (int i = 0; i < n; i++) cf_sampler_free(s[i]);
    cf_batch_free(&b);
    cf_context_free(&c);
}

static void alloc_out(seq_out *o, int n, int nv) {
    for (int i = 0; i < n; i++) {
        o[i].logits = malloc((size_t)N_GEN * nv * sizeof(float));
        ck_assert_ptr_nonnull(o[i].logits);
    }
}
static void free_out(seq_out *o, int n) {
    for (int i = 0; i < n; i++) free(o[i].logits);
}

static void same(const seq_out *ref, const seq_out *got, int nv, const char *model, const char *what) {
    for (int k = 0; k < N_GEN; k++) {
        ck_assert_msg(ref->tok[k] == got->tok[k], "%s: %s: token %d is %d, alone with 1 thread %d", model, what, k,
                      got->tok[k], ref->tok[k]);
        ck_assert_msg(memcmp(ref->logits + (size_t)k * nv, got->logits + (size_t)k * nv, (size_t)nv * sizeof(float)) == 0,
                      "%s: %s: logits of step %d differ", model, what, k);
    }
}

/* One model (loop index) x {random sampling, greedy}. */
START_TEST(test_generate) {
    if (!tu_have_shared()) return;
    const char *path = k_models[_i / 2];
    int greedy = _i % 2;
    cf_model m;
    cf_tokenizer *t = NULL;
    cf_err e;
    ck_assert_msg(cf_model_load(&m, tu_shared(path), &e) == 0, "%s: %s", path, e.msg);
    ck_assert_msg(cf_tok_load(&t, &m.gguf, &e) == 0, "%s: %s", path, e.msg);
    const int nv = m.hp.n_vocab;
    seq_spec spec[MAX_SEQ];
    for (int i = 0; i < MAX_SEQ; i++) {
        spec[i].prompt = k_prompts[i];
        spec[i].sp = greedy ? cf_sampler_defaults() : random_params(1000 + (uint64_t)i);
    }
    seq_out ref, got, batch[MAX_SEQ];
    alloc_out(&ref, 1, nv);
    alloc_out(&got, 1, nv);
    alloc_out(batch, MAX_SEQ, nv);
    generate(&m, t, spec, 1, 0, 1, &ref);
    /* the same run again, and with 2 and 3 threads */
    for (int nth = 1; nth <= 3; nth++) {
        generate(&m, t, spec, 1, 0, nth, &got);
        char what[64];
        snprintf(what, sizeof what, "alone, %d thread(s)", nth);
        same(&ref, &got, nv, path, what);
    }
    /* in a batch: sequence 0 in slot 1 (slot 0 unused), beside two others, with 1..3 threads */
    for (int nth = 1; nth <= 3; nth++) {
        generate(&m, t, spec, MAX_SEQ, 1, nth, batch);
        char what[64];
        snprintf(what, sizeof what, "in a batch of %d, %d thread(s)", MAX_SEQ, nth);
        same(&ref, &batch[0], nv, path, what);
    }
    /* and the others are reproducible too: sequence 2 alone vs in the batch */
    generate(&m, t, spec + 2, 1, 0, 2, &got);
    same(&got, &batch[2], nv, path, "sequence 2 alone vs in the batch");
    /* a different seed changes the output (the comparison above can fail) */
    if (!greedy) {
        seq_spec other = spec[0];
        other.sp.seed = 77;
        generate(&m, t, &other, 1, 0, 1, &got);
        ck_assert_msg(memcmp(got.tok, ref.tok, sizeof ref.tok) != 0, "%s: seed 77 gave the same tokens", path);
    }
    free_out(&ref, 1);
    free_out(&got, 1);
    free_out(batch, MAX_SEQ);
    cf_tok_free(t);
    cf_model_free(&m);
}
END_TEST

/* ---- through the engine ---- */

typedef struct {
    int32_t tok[N_GEN];
    int n_tok;
    float *logits;   /* N_GEN rows */
    int nv;
} eng_out;

static void eng_done(void *ctx, const cf_gen_result *r) {
    eng_out *o = (eng_out *)ctx + (intptr_t)r->user;
    ck_assert_int_le(r->n_tok, N_GEN);
    memcpy(o->tok, r->toks, (size_t)r->n_tok * sizeof *r->toks);
    o->n_tok = r->n_tok;
}
/* Records the logits of the request with user 0 only (ids differ between runs). */
typedef struct {
    eng_out *o;
    int64_t id0;
} eng_ctx;
static void eng_done2(void *ctx, const cf_gen_result *r) { eng_done(((eng_ctx *)ctx)->o, r); }
static void eng_logits2(void *ctx, int64_t id, int k, const float *l, int nv) {
    eng_ctx *c = ctx;
    if (id != c->id0 || k >= N_GEN) return;
    eng_out *o = c->o;
    if (!o->logits) o->logits = calloc((size_t)N_GEN * (size_t)nv, sizeof(float));
    memcpy(o->logits + (size_t)k * (size_t)nv, l, (size_t)nv * sizeof(float));
    o->nv = nv;
}

/* Requests spec[0..n) through one engine of n slots, n_batch tokens per pass, nth threads. */
static void engine_run(const cf_model *m, const cf_tokenizer *t, const seq_spec *spec, int n, int n_batch, int nth,
                       eng_out *out) {
    cf_err e;
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = MAX_PROMPT + N_GEN + 8;
    cp.n_seq = n;
    cp.n_batch = n_batch;
    cp.n_threads = nth;
    cf_context c;
    ck_assert_msg(cf_context_init(&c, m, &cp, &e) == 0, "%s", e.msg);
    eng_ctx ec = {out, -1};
    cf_engine_cb cb = {&ec, NULL, eng_done2, eng_logits2};
    cf_engine *en = NULL;
    ck_assert_msg(cf_engine_new(&en, &c, t, &cb, &e) == 0, "%s", e.msg);
    /* the others first, so request 0 joins while they are mid-prefill */
    for (int k = n - 1; k >= 0; k--) {
        int32_t ids[MAX_PROMPT];
        int np = cf_tok_encode(t, spec[k].prompt, strlen(spec[k].prompt), 1, ids, MAX_PROMPT, &e);
        ck_assert_msg(np > 0, "tokenize: %s", e.msg);
        if (np > MAX_PROMPT) np = MAX_PROMPT;
        cf_gen_req r = {.prompt = ids, .n_prompt = np, .sp = spec[k].sp, .max_tokens = N_GEN, .user = (void *)(intptr_t)k};
        int64_t id = cf_engine_submit(en, &r, &e);
        ck_assert_msg(id >= 0, "%s", e.msg);
        if (k == 0) ec.id0 = id;
    }
    ck_assert_msg(cf_engine_run(en, &e) == 0, "%s", e.msg);
    cf_engine_free(en);
    cf_context_free(&c);
}

START_TEST(test_engine_threads) {
    if (!tu_have_shared()) return;
    const char *path = k_models[_i];
    cf_model m;
    cf_tokenizer *t = NULL;
    cf_err e;
    ck_assert_msg(cf_model_load(&m, tu_shared(path), &e) == 0, "%s: %s", path, e.msg);
    ck_assert_msg(cf_tok_load(&t, &m.gguf, &e) == 0, "%s: %s", path, e.msg);
    seq_spec spec[MAX_SEQ];
    for (int i = 0; i < MAX_SEQ; i++) {
        spec[i].prompt = k_prompts[i];
        spec[i].sp = random_params(2000 + (uint64_t)i);
    }
    eng_out alone[1], many[MAX_SEQ];
    memset(alone, 0, sizeof alone);
    memset(many, 0, sizeof many);
    engine_run(&m, t, spec, 1, MAX_PROMPT, 1, alone);
    engine_run(&m, t, spec, MAX_SEQ, 7, 3, many);
    ck_assert_int_gt(alone[0].n_tok, 0);
    ck_assert_int_eq(many[0].n_tok, alone[0].n_tok);
    ck_assert_msg(!memcmp(many[0].tok, alone[0].tok, (size_t)alone[0].n_tok * sizeof(int32_t)),
                  "%s: engine: tokens differ (alone, 1 thread vs beside 2 others, 3 threads)", path);
    ck_assert_ptr_nonnull(alone[0].logits);
    ck_assert_ptr_nonnull(many[0].logits);
    ck_assert_msg(!memcmp(many[0].logits, alone[0].logits, (size_t)alone[0].n_tok * (size_t)alone[0].nv * sizeof(float)),
                  "%s: engine: logits differ", path);
    free(alone[0].logits);
    for (int i = 0; i < MAX_SEQ; i++) free(many[i].logits);
    cf_tok_free(t);
    cf_model_free(&m);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("determinism");
    TCase *tc = tcase_create("generate");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_generate, 0, 2 * N_MODELS);
    tcase_add_loop_test(tc, test_engine_threads, 0, N_MODELS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
