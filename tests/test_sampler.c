/* Sampler chain: each stage's effect, determinism per seed, distribution sanity (chi-square),
 * the constraint fast path and mask, bad parameters, and cost on a 150K vocabulary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/clock.h"
#include "sampler/sampler.h"
#include "tests/testutil.h"

/* chi-square critical values at p = 0.001 (df = 7 and 3) */
#define CHI2_DF7_P001 24.32
#define CHI2_DF3_P001 16.27
#define CHI_DRAWS 200000
#define BIG_VOCAB 151936
/* generous per-token CPU budgets on this machine (shared, 2 cores); sanitizers slow ~10x */
#if defined(__SANITIZE_ADDRESS__)
#define SLOWDOWN 10.0
#else
#define SLOWDOWN 1.0
#endif
#define GREEDY_MAX_US (2000.0 * SLOWDOWN)
#define TOPK_MAX_US (5000.0 * SLOWDOWN)
#define TOPP_MAX_US (20000.0 * SLOWDOWN)

static cf_sampler *mk(cf_sampler_params p, int32_t n) {
    cf_sampler *s;
    cf_err e;
    ck_assert_msg(cf_sampler_new(&p, n, &s, &e) == 0, "%s", e.msg);
    return s;
}

static int32_t sample1(cf_sampler *s, const float *l, int32_t n, const cf_token_filter *f) {
    float *w = malloc((size_t)n * sizeof *w);
    memcpy(w, l, (size_t)n * sizeof *w);
    int32_t t = cf_sampler_sample(s, w, n, f);
    free(w);
    return t;
}

START_TEST(test_greedy_bias) {
    float l[6] = {0.5f, 2.0f, 2.0f, -1.0f, 1.0f, 2.0f};
    cf_sampler *s = mk(cf_sampler_defaults(), 6);
    ck_assert_int_eq(sample1(s, l, 6, NULL), 1);   /* ties -> lowest id */
    cf_sampler_free(s);
    cf_logit_bias b[2] = {{1, -INFINITY}, {3, 2.5f}};
    cf_sampler_params p = cf_sampler_defaults();
    p.bias = b;
    p.n_bias = 2;
    s = mk(p, 6);
    ck_assert_int_eq(sample1(s, l, 6, NULL), 2);   /* 1 banned; 3 at 1.5 */
    b[1].bias = 3.5f;                               /* the sampler copied the list */
    ck_assert_int_eq(sample1(s, l, 6, NULL), 2);
    cf_sampler_free(s);
    float all_banned[2] = {-INFINITY, -INFINITY};
    s = mk(cf_sampler_defaults(), 2);
    ck_assert_int_eq(sample1(s, all_banned, 2, NULL), -1);
    float nan2[2] = {NAN, 1.0f};
    ck_assert_int_eq(sample1(s, nan2, 2, NULL), 1);
    cf_sampler_free(s);
    cf_sampler_params pt = cf_sampler_defaults();
    pt.temperature = 1.0f;
    s = mk(pt, 4);
    float infs[4] = {1.0f, INFINITY, -INFINITY, INFINITY};
    for (int i = 0; i < 20; i++) {
        int32_t t = sample1(s, infs, 4, NULL);
        ck_assert(t == 1 || t == 3);
    }
    cf_sampler_free(s);
}
END_TEST

START_TEST(test_penalties) {
    cf_sampler_params p = cf_sampler_defaults();
    p.repeat_penalty = 2.0f;
    p.freq_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    p.penalty_last_n = 3;
    cf_sampler *s = mk(p, 5);
    float l[5] = {4.0f, -1.0f, 3.0f, 1.0f, 0.0f};
    cf_sampler_accept(s, 0);
    cf_sampler_accept(s, 0);
    cf_sampler_accept(s, 1);
    float w[5];
    memcpy(w, l, sizeof w);
    cf_sampler_sample(s, w, 5, NULL);
    ck_assert_float_eq_tol(w[0], 4.0f / 2 - 2 * 0.5f - 0.25f, 1e-6);   /* 0.75 */
    ck_assert_float_eq_tol(w[1], -1.0f * 2 - 0.5f - 0.25f, 1e-6);
    ck_assert_float_eq(w[2], 3.0f);
    /* window of 3: after three more tokens, 0 and 1 are forgotten */
    cf_sampler_accept(s, 4);
    cf_sampler_accept(s, 4);
    cf_sampler_accept(s, 4);
    memcpy(w, l, sizeof w);
    ck_assert_int_eq(cf_sampler_sample(s, w, 5, NULL), 0);
    ck_assert_float_eq(w[0], 4.0f);
    ck_assert_float_eq_tol(w[4], 0.0f * 2 - 3 * 0.5f - 0.25f, 1e-6);
    cf_sampler_reset(s);
    memcpy(w, l, sizeof w);
    cf_sampler_sample(s, w, 5, NULL);
    ck_assert_float_eq(w[4], 0.0f);
    cf_sampler_free(s);
}
END_TEST

/* Counts draws over a small vocabulary. */
static void histogram(cf_sampler_params p, const float *l, int32_t n, int draws, long *h, const cf_token_filter *f) {
    cf_sampler *s = mk(p, n);
    memset(h, 0, (size_t)n * sizeof *h);
    for (int i = 0; i < draws; i++) {
        int32_t t = sample1(s, l, n, f);
        ck_assert(t >= 0 && t < n);
        h[t]++;
    }
    cf_sampler_free(s);
}

static double chi2(const long *h, const double *prob, int n, int draws, int *df) {
    double x = 0;
    *df = -1;
    for (int i = 0; i < n; i++) {
        if (prob[i] <= 0) {
            ck_assert_int_eq(h[i], 0);
            continue;
        }
        double e = prob[i] * draws;
        x += (h[i] - e) * (h[i] - e) / e;
        (*df)++;
    }
    return x;
}

static void softmax(const float *l, int n, double t, double *p) {
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++)
        if (l[i] > mx) mx = l[i];
    for (int i = 0; i < n; i++) sum += p[i] = l[i] > -INFINITY ? exp((l[i] - mx) / t) : 0;
    for (int i = 0; i < n; i++) p[i] /= sum;
}

START_TEST(test_distribution) {
    float l[8] = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, 1.5f, -1.0f, 0.25f};
    double prob[8];
    long h[8];
    int df;
    cf_sampler_params p = cf_sampler_defaults();
    p.temperature = 1.0f;
    p.seed = 1;
    histogram(p, l, 8, CHI_DRAWS, h, NULL);
    softmax(l, 8, 1.0, prob);
    double x = chi2(h, prob, 8, CHI_DRAWS, &df);
    printf("sampler chi-square T=1: %.2f (df %d)\n", x, df);
    ck_assert_msg(x < CHI2_DF7_P001, "chi2 %.2f", x);
    /* temperature 0.5 sharpens */
    p.temperature = 0.5f;
    histogram(p, l, 8, CHI_DRAWS, h, NULL);
    softmax(l, 8, 0.5, prob);
    x = chi2(h, prob, 8, CHI_DRAWS, &df);
    printf("sampler chi-square T=0.5: %.2f (df %d)\n", x, df);
    ck_assert_msg(x < CHI2_DF7_P001, "chi2 %.2f", x);
    /* top-k 4: only the 4 best, renormalized */
    p.temperature = 1.0f;
    p.top_k = 4;
    histogram(p, l, 8, CHI_DRAWS, h, NULL);
    float lk[8];
    memcpy(lk, l, sizeof lk);
    lk[2] = lk[3] = lk[6] = lk[7] = -INFINITY;   /* keeps 4 (2.0), 5 (1.5), 0 (1.0), 1 (0.5) */
    softmax(lk, 8, 1.0, prob);
    x = chi2(h, prob, 8, CHI_DRAWS, &df);
    printf("sampler chi-square top-k 4: %.2f (df %d)\n", x, df);
    ck_assert_msg(x < CHI2_DF3_P001, "chi2 %.2f", x);
    /* top-p: the smallest prefix holding >= p of the mass */
    p.top_k = 0;
    softmax(l, 8, 1.0, prob);
    p.top_p = (float)(prob[4] + prob[5] + 0.5 * prob[0]);   /* needs 4, 5 and 0 */
    histogram(p, l, 8, CHI_DRAWS / 4, h, NULL);
    for (int i = 0; i < 8; i++) ck_assert_msg((h[i] > 0) == (i == 4 || i == 5 || i == 0), "top-p token %d: %ld", i, h[i]);
    /* min-p 0.3: p_i >= 0.3 p_max <=> l_i >= 2 + ln 0.3 = 0.796 */
    p.top_p = 1;
    p.min_p = 0.3f;
    histogram(p, l, 8, CHI_DRAWS / 4, h, NULL);
    for (int i = 0; i < 8; i++) ck_assert_msg((h[i] > 0) == (l[i] >= 2.0f + logf(0.3f)), "min-p token %d: %ld", i, h[i]);
    /* top-k 1 == greedy */
    p.min_p = 0;
    p.top_k = 1;
    histogram(p, l, 8, 1000, h, NULL);
    ck_assert_int_eq(h[4], 1000);
}
END_TEST

/* top-p support equals the sorted-prefix definition on random logits (temperature flattens the
 * nucleus so every member shows up). */
START_TEST(test_top_p_support) {
    enum { N = 40 };
    uint64_t st = 21;
    for (int it = 0; it < 30; it++) {
        float l[N];
        tu_fill_rand(l, N, 100 + (uint64_t)it, 4.0f);
        if (it % 3 == 0) l[7] = l[3];   /* a tie across the boundary is broken by id */
        double prob[N];
        softmax(l, N, 1.0, prob);
        double tp = 0.05 + 0.9 * (double)(tu_rand_u64(&st) % 1000) / 1000.0;
        /* reference: sort ids by (prob desc, id asc), smallest prefix with mass >= tp */
        int ord[N];
        for (int i = 0; i < N; i++) ord[i] = i;
        for (int i = 0; i < N; i++)
            for (int j = i + 1; j < N; j++)
                if (l[ord[j]] > l[ord[i]] || (l[ord[j]] == l[ord[i]] && ord[j] < ord[i])) {
                    int t = ord[i];
                    ord[i] = ord[j];
                    ord[j] = t;
                }
        int in[N] = {0};
        double acc = 0;
        for (int i = 0; i < N; i++) {
            in[ord[i]] = 1;
            acc += prob[ord[i]];
            if (acc >= tp * (1 - 1e-6)) break;
        }
        cf_sampler_params p = cf_sampler_defaults();
        p.temperature = 1000.0f;
        p.top_p = (float)tp;
        p.seed = (uint64_t)it;
        long h[N];
        histogram(p, l, N, 4000, h, NULL);
        for (int i = 0; i < N; i++)
            ck_assert_msg((h[i] > 0) == in[i], "top_p %.3f token %d: %ld draws, in nucleus %d", tp, i, h[i], in[i]);
    }
}
END_TEST

START_TEST(test_determinism) {
    float l[64];
    tu_fill_rand(l, 64, 9, 3.0f);
    cf_sampler_params p = cf_sampler_defaults();
    p.temperature = 0.8f;
    p.top_k = 20;
    p.top_p = 0.9f;
    p.seed = 1234;
    int32_t a[200], b[200], c[200];
    cf_sampler *s1 = mk(p, 64), *s2 = mk(p, 64);
    p.seed = 1235;
    cf_sampler *s3 = mk(p, 64);
    for (int i = 0; i < 200; i++) {
        a[i] = sample1(s1, l, 64, NULL);
        b[i] = sample1(s2, l, 64, NULL);
        c[i] = sample1(s3, l, 64, NULL);
    }
    ck_assert(memcmp(a, b, sizeof a) == 0);
    ck_assert(memcmp(a, c, sizeof a) != 0);
    cf_sampler_reset(s1);
    for (int i = 0; i < 200; i++) ck_assert_int_eq(sample1(s1, l, 64, NULL), a[i]);
    cf_sampler_free(s1);
    cf_sampler_free(s2);
    cf_sampler_free(s3);
}
END_TEST

/* A filter allowing a fixed set, counting calls. */
typedef struct {
    const uint8_t *allow;
    int32_t n;
    long accepts_calls, mask_calls;
} allow_set;
static int f_accepts(void *ctx, int32_t t) {
    allow_set *a = ctx;
    a->accepts_calls++;
    return a->allow[t];
}
static void f_mask(void *ctx, uint32_t *bits) {
    allow_set *a = ctx;
    a->mask_calls++;
    for (int32_t i = 0; i < a->n; i++)
        if (a->allow[i]) bits[i >> 5] |= 1u << (i & 31);
}

START_TEST(test_filter) {
    enum { N = 100 };
    float l[N];
    tu_fill_rand(l, N, 5, 4.0f);
    uint8_t allow[N] = {0};
    for (int i = 0; i < N; i += 7) allow[i] = 1;
    allow_set as = {allow, N, 0, 0};
    cf_token_filter f = {&as, f_accepts, f_mask};
    /* greedy + filter: the best allowed token */
    int32_t best = -1;
    for (int i = 0; i < N; i++)
        if (allow[i] && (best < 0 || l[i] > l[best])) best = i;
    cf_sampler *s = mk(cf_sampler_defaults(), N);
    ck_assert_int_eq(sample1(s, l, N, &f), best);
    ck_assert_int_eq(as.mask_calls, 1);
    /* fast path: when the unconstrained pick is allowed, no mask is computed */
    int32_t top = 0;
    for (int i = 1; i < N; i++)
        if (l[i] > l[top]) top = i;
    allow[top] = 1;
    as.mask_calls = as.accepts_calls = 0;
    ck_assert_int_eq(sample1(s, l, N, &f), top);
    ck_assert_int_eq(as.mask_calls, 0);
    ck_assert_int_eq(as.accepts_calls, 1);
    allow[top] = 0;
    /* accepts only (no mask function) still gives the best allowed */
    cf_token_filter fa = {&as, f_accepts, NULL};
    ck_assert_int_eq(sample1(s, l, N, &fa), best);
    /* mask only */
    cf_token_filter fm = {&as, NULL, f_mask};
    ck_assert_int_eq(sample1(s, l, N, &fm), best);
    uint64_t ns, nm;
    cf_sampler_stats(s, &ns, &nm);
    ck_assert_int_eq(ns, 4);
    ck_assert_int_eq(nm, 3);
    cf_sampler_free(s);
    /* random sampling never leaves the allowed set */
    cf_sampler_params p = cf_sampler_defaults();
    p.temperature = 1.5f;
    p.top_k = 30;
    p.top_p = 0.95f;
    p.seed = 3;
    s = mk(p, N);
    for (int i = 0; i < 2000; i++) {
        int32_t t = sample1(s, l, N, &f);
        ck_assert(t >= 0 && allow[t]);
    }
    /* nothing allowed: -1 */
    uint8_t none[N] = {0};
    allow_set an = {none, N, 0, 0};
    cf_token_filter f0 = {&an, f_accepts, f_mask};
    ck_assert_int_eq(sample1(s, l, N, &f0), -1);
    cf_sampler_free(s);
}
END_TEST

/* Without truncation, fast path + retry samples exactly the distribution restricted to the
 * allowed tokens (rejection sampling). */
START_TEST(test_filter_distribution) {
    float l[8] = {2.0f, 1.0f, 0.0f, 1.5f, -0.5f, 0.5f, 1.0f, 0.0f};
    uint8_t allow[8] = {0, 1, 1, 0, 1, 1, 0, 0};
    allow_set as = {allow, 8, 0, 0};
    cf_token_filter f = {&as, f_accepts, f_mask};
    cf_sampler_params p = cf_sampler_defaults();
    p.temperature = 1.0f;
    p.seed = 77;
    long h[8];
    histogram(p, l, 8, CHI_DRAWS, h, &f);
    float lm[8];
    for (int i = 0; i < 8; i++) lm[i] = allow[i] ? l[i] : -INFINITY;
    double prob[8];
    softmax(lm, 8, 1.0, prob);
    int df;
    double x = chi2(h, prob, 8, CHI_DRAWS, &df);
    printf("sampler chi-square with filter: %.2f (df %d); mask used on %ld of %d draws\n", x, df, as.mask_calls, CHI_DRAWS);
    ck_assert_msg(x < CHI2_DF3_P001, "chi2 %.2f", x);
}
END_TEST

/* cf_sampler_sample_ids over a subset (the rest -inf): the masked softmax's distribution (chi-square),
 * picks only from the subset, greedy and top-k 1 equal to cf_sampler_sample on the same row, bias
 * and penalties applied by token id. */
START_TEST(test_sample_ids) {
    float l[8] = {2.0f, 1.0f, 0.0f, 1.5f, -0.5f, 0.5f, 1.0f, 0.0f};
    const int32_t ids[4] = {1, 2, 4, 5};
    float lm[8];
    for (int i = 0; i < 8; i++) lm[i] = -INFINITY;
    for (int k = 0; k < 4; k++) lm[ids[k]] = l[ids[k]];
    cf_sampler_params p = cf_sampler_defaults();
    p.temperature = 1.0f;
    p.seed = 78;
    cf_sampler *s = mk(p, 8);
    long h[8] = {0};
    float w[8];
    for (int d = 0; d < CHI_DRAWS; d++) {
        memcpy(w, lm, sizeof w);
        int32_t t = cf_sampler_sample_ids(s, w, 8, ids, 4);
        ck_assert(t == 1 || t == 2 || t == 4 || t == 5);
        h[t]++;
    }
    cf_sampler_free(s);
    double prob[8];
    softmax(lm, 8, 1.0, prob);
    int df;
    double x = chi2(h, prob, 8, CHI_DRAWS, &df);
    printf("sampler chi-square over an id subset: %.2f (df %d)\n", x, df);
    ck_assert_msg(x < CHI2_DF3_P001, "chi2 %.2f", x);
    /* greedy, top-k 1, and with a bias and a repeat penalty: the same token as the whole row */
    for (int mode = 0; mode < 3; mode++) {
        cf_sampler_params q = cf_sampler_defaults();
        cf_logit_bias b = {2, 5.0f};
        if (mode == 1) q.temperature = 0.8f, q.top_k = 1;
        if (mode == 2) q.bias = &b, q.n_bias = 1, q.repeat_penalty = 3.0f;
        cf_sampler *a = mk(q, 8), *z = mk(q, 8);
        if (mode == 2) cf_sampler_accept(a, 2), cf_sampler_accept(z, 2), cf_sampler_accept(a, 1), cf_sampler_accept(z, 1);
        memcpy(w, lm, sizeof w);
        int32_t ta = cf_sampler_sample_ids(a, w, 8, ids, 4);
        int32_t tz = sample1(z, lm, 8, NULL);
        ck_assert_int_eq(ta, tz);
        ck_assert_int_eq(ta, mode == 2 ? 2 : 1);
        cf_sampler_free(a), cf_sampler_free(z);
    }
    /* no finite candidate, an empty subset */
    s = mk(p, 8);
    for (int i = 0; i < 8; i++) w[i] = -INFINITY;
    ck_assert_int_eq(cf_sampler_sample_ids(s, w, 8, ids, 4), -1);
    ck_assert_int_eq(cf_sampler_sample_ids(s, w, 8, ids, 0), -1);
    cf_sampler_free(s);
}
END_TEST

START_TEST(test_bad_params) {
    cf_sampler *s;
    cf_err e;
    cf_sampler_params p = cf_sampler_defaults();
    ck_assert_int_eq(cf_sampler_new(&p, 0, &s, &e), CF_EINVAL);
    p.temperature = -1;
    ck_assert_int_eq(cf_sampler_new(&p, 10, &s, &e), CF_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "temperature"));
    p = cf_sampler_defaults();
    p.top_p = 0;
    ck_assert_int_eq(cf_sampler_new(&p, 10, &s, &e), CF_EINVAL);
    p = cf_sampler_defaults();
    p.min_p = 2;
    ck_assert_int_eq(cf_sampler_new(&p, 10, &s, &e), CF_EINVAL);
    p = cf_sampler_defaults();
    cf_logit_bias b = {10, 1.0f};
    p.bias = &b;
    p.n_bias = 1;
    ck_assert_int_eq(cf_sampler_new(&p, 10, &s, &e), CF_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "token 10"));
    p = cf_sampler_defaults();
    p.penalty_last_n = -1;
    ck_assert_int_eq(cf_sampler_new(&p, 10, &s, &e), CF_EINVAL);
    p = cf_sampler_defaults();
    s = mk(p, 10);
    float l[10] = {0};
    ck_assert_int_eq(cf_sampler_sample(s, l, 9, NULL), -1);   /* wrong n_vocab */
    cf_sampler_accept(s, -5);                                  /* ignored */
    cf_sampler_accept(s, 99);
    cf_sampler_free(s);
}
END_TEST

/* Cost per token on a Qwen-sized vocabulary. */
START_TEST(test_big_vocab) {
    float *l = malloc(BIG_VOCAB * sizeof *l), *w = malloc(BIG_VOCAB * sizeof *w);
    tu_fill_rand(l, BIG_VOCAB, 11, 8.0f);
    struct {
        const char *name;
        float t, top_p;
        int32_t k;
        float min_p;
        double max_us;
    } cfg[] = {{"greedy", 0, 1, 0, 0, GREEDY_MAX_US},
               {"temp 0.8", 0.8f, 1, 0, 0, TOPK_MAX_US},
               {"top-k 40", 0.8f, 1, 40, 0, TOPK_MAX_US},
               {"top-p 0.9", 0.8f, 0.9f, 0, 0, TOPP_MAX_US},
               {"top-k 40 + top-p 0.95 + min-p 0.05", 0.8f, 0.95f, 40, 0.05f, TOPK_MAX_US},
               {"min-p 0.1", 0.8f, 1, 0, 0.1f, TOPK_MAX_US}};
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        cf_sampler_params p = cf_sampler_defaults();
        p.temperature = cfg[c].t;
        p.top_p = cfg[c].top_p;
        p.top_k = cfg[c].k;
        p.min_p = cfg[c].min_p;
        p.repeat_penalty = 1.1f;
        p.penalty_last_n = 64;
        cf_sampler *s = mk(p, BIG_VOCAB);
        int reps = 50;
        struct timespec a, b;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);   /* CPU time: the test machine is shared */
        for (int i = 0; i < reps; i++) {
            memcpy(w, l, BIG_VOCAB * sizeof *w);
            int32_t t = cf_sampler_sample(s, w, BIG_VOCAB, NULL);
            ck_assert(t >= 0);
            cf_sampler_accept(s, t);
        }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        double us = ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9) / reps * 1e6;
        printf("sampler %-36s vocab %d: %.0f us/token CPU (incl. a %zu KiB logits copy)\n", cfg[c].name, BIG_VOCAB, us,
               (size_t)BIG_VOCAB * 4 / 1024);
        ck_assert_msg(us < cfg[c].max_us, "%s: %.0f us", cfg[c].name, us);
        cf_sampler_free(s);
    }
    free(l);
    free(w);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sampler");
    TCase *tc = tcase_create("sampler");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_greedy_bias);
    tcase_add_test(tc, test_penalties);
    tcase_add_test(tc, test_distribution);
    tcase_add_test(tc, test_top_p_support);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_filter);
    tcase_add_test(tc, test_filter_distribution);
    tcase_add_test(tc, test_sample_ids);
    tcase_add_test(tc, test_bad_params);
    tcase_add_test(tc, test_big_vocab);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
