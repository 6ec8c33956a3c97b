/* Attention: every ISA path against a naive double-precision softmax attention (GQA ratios 1, 2,
 * 4; kv lengths over several blocks; F16 and F32 caches; several sequences in one call), and
 * bitwise invariance to thread count, task shape and batch composition. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attn.h"
#include "kernels/quant.h"
#include "kernels/tuning.h"
#include "tests/testutil.h"

/* |out - oracle| for q, k, v in [-1, 1] (outputs are convex combinations of v: |out| <= 1) */
#define ATTN_ABS_TOL 2e-5

enum { NSEQ = 3 };

typedef struct {
    int n_head, n_kv_head, hd, kv_type;
    float scale;
    cf_attn_shape sh;
    cf_attn_seq seq[NSEQ];
    float *q[NSEQ], *out[NSEQ];
    void *k[NSEQ], *v[NSEQ];
    int32_t *pos[NSEQ];
} prob;

/* seq 0: decode (1 query at the end); seq 1: prefill from 0; seq 2: a chunk in the middle */
static void prob_init(prob *P, int n_head, int n_kv_head, int hd, int kv_type, float scale, int64_t n_kv,
                      uint64_t seed) {
    memset(P, 0, sizeof *P);
    P->n_head = n_head, P->n_kv_head = n_kv_head, P->hd = hd, P->kv_type = kv_type, P->scale = scale;
    int64_t ld = (int64_t)n_head * hd + 3, kvs = (int64_t)n_kv_head * hd + 5;
    P->sh = (cf_attn_shape){n_head, n_kv_head, hd, ld, ld + 2, scale};
    int64_t nkv[NSEQ] = {n_kv, n_kv < 37 ? n_kv : 37, n_kv + 11};
    int64_t nq[NSEQ] = {1, nkv[1], 5};
    for (int s = 0; s < NSEQ; s++) {
        cf_attn_seq *q = &P->seq[s];
        P->q[s] = malloc(sizeof(float) * nq[s] * ld);
        P->out[s] = malloc(sizeof(float) * nq[s] * (ld + 2));
        P->pos[s] = malloc(sizeof(int32_t) * nq[s]);
        tu_fill_rand(P->q[s], nq[s] * ld, seed + s, 1.0f);
        size_t nel = (size_t)(nkv[s] * kvs);
        float *kf = malloc(nel * 4), *vf = malloc(nel * 4);
        tu_fill_rand(kf, nel, seed + 10 + s, 1.0f);
        tu_fill_rand(vf, nel, seed + 20 + s, 1.0f);
        if (kv_type == CF_T_F16) {
            uint16_t *kh = malloc(nel * 2), *vh = malloc(nel * 2);
            for (size_t i = 0; i < nel; i++) kh[i] = cf_f32_to_f16(kf[i]), vh[i] = cf_f32_to_f16(vf[i]);
            free(kf), free(vf);
            P->k[s] = kh, P->v[s] = vh;
        } else {
            P->k[s] = kf, P->v[s] = vf;
        }
        for (int64_t t = 0; t < nq[s]; t++) P->pos[s][t] = (int32_t)(nkv[s] - nq[s] + t);
        *q = (cf_attn_seq){P->q[s], P->out[s], P->pos[s], nq[s], P->k[s], P->v[s], kvs, nkv[s], kv_type};
    }
}

static void prob_free(prob *P) {
    for (int s = 0; s < NSEQ; s++)
        free(P->q[s]), free(P->out[s]), free(P->k[s]), free(P->v[s]), free(P->pos[s]);
}

static double kv_at(const prob *P, const void *b, int64_t i) {
    return P->kv_type == CF_T_F16 ? cf_f16_to_f32(((const uint16_t *)b)[i]) : ((const float *)b)[i];
}

/* Naive double-precision attention for (seq s, row t, head h), element d. */
static void oracle(const prob *P, int s, int64_t t, int h, double *o) {
    const cf_attn_seq *q = &P->seq[s];
    int hd = P->hd, g = h / (P->n_head / P->n_kv_head);
    int64_t n = q->pos[t] + 1;
    double *sc = malloc(sizeof(double) * n), mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < n; j++) {
        double d = 0;
        for (int i = 0; i < hd; i++)
            d += (double)q->q[t * P->sh.ldq + h * hd + i] * kv_at(P, q->k, j * q->kv_stride + g * hd + i);
        sc[j] = d * P->scale;
        mx = fmax(mx, sc[j]);
    }
    for (int64_t j = 0; j < n; j++) sum += (sc[j] = exp(sc[j] - mx));
    for (int i = 0; i < hd; i++) {
        double a = 0;
        for (int64_t j = 0; j < n; j++) a += sc[j] * kv_at(P, q->v, j * q->kv_stride + g * hd + i);
        o[i] = a / sum;
    }
    free(sc);
}

static void check_vs_oracle(const prob *P, int isa) {
    double o[CF_ATTN_MAX_HEAD_DIM];
    for (int s = 0; s < NSEQ; s++)
        for (int64_t t = 0; t < P->seq[s].n_q; t++)
            for (int h = 0; h < P->n_head; h++) {
                oracle(P, s, t, h, o);
                const float *got = P->out[s] + t * P->sh.ldo + h * P->hd;
                for (int i = 0; i < P->hd; i++)
                    ck_assert_msg(
                        fabs(got[i] - o[i]) <= ATTN_ABS_TOL,
                        "isa=%s heads %d/%d hd %d type %d seq %d row %lld head %d dim %d: %.8g vs %.8g",
                        cf_isa_name((cf_isa)isa), P->n_head, P->n_kv_head, P->hd, P->kv_type, s, (long long)t,
                        h, i, got[i], o[i]);
            }
}

START_TEST(test_paths_vs_oracle) {
    static const int ratios[] = {1, 2, 4};
    static const int hds[] = {8, 20, 33, 64, 100, 128}; /* odd / non-multiple-of-16 tails too */
    static const long tiles[] = {16, 0}; /* 0: the default */
    for (size_t ti = 0; ti < 2; ti++) {
        if (tiles[ti]) cf_tuning_mut()->tile_attn_kv = tiles[ti];
        for (size_t ri = 0; ri < 3; ri++)
            for (size_t hi = 0; hi < sizeof hds / sizeof hds[0]; hi++)
                for (int f16 = 0; f16 < 2; f16++) {
                    int hd = hds[hi], nkvh = 2, nh = nkvh * ratios[ri];
                    float scale = (hi & 1) ? 1.0f : 1.0f / sqrtf((float)hd); /* peaky and flat */
                    int64_t n_kv = 300 + 7 * (int64_t)hi;                    /* several blocks, ragged end */
                    prob P;
                    prob_init(&P, nh, nkvh, hd, f16 ? CF_T_F16 : CF_T_F32, scale, n_kv, 1000 * hi + ri);
                    for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
                        if (!cf_isa_supported((cf_isa)isa)) continue;
                        for (int s = 0; s < NSEQ; s++)
                            memset(P.out[s], 0, sizeof(float) * P.seq[s].n_q * P.sh.ldo);
                        cf_attn_ops_for((cf_isa)isa)->attention(&cf_par_serial, &P.sh, P.seq, NSEQ);
                        check_vs_oracle(&P, isa);
                    }
                    prob_free(&P);
                }
    }
}
END_TEST

typedef struct {
    const cf_attn_ops *ops;
    const prob *P;
    const cf_attn_seq *seqs;
    int n;
} run_arg;

static void run_fn(const cf_par *p, void *a) {
    run_arg *r = a;
    r->ops->attention(p, &r->P->sh, r->seqs, r->n);
}

static float *snapshot(const prob *P) {
    size_t tot = 0;
    for (int s = 0; s < NSEQ; s++) tot += P->seq[s].n_q * P->sh.ldo;
    float *c = malloc(tot * 4), *w = c;
    for (int s = 0; s < NSEQ; s++) {
        memcpy(w, P->out[s], sizeof(float) * P->seq[s].n_q * P->sh.ldo);
        w += P->seq[s].n_q * P->sh.ldo;
    }
    return c;
}

START_TEST(test_invariance) {
    cf_tuning_mut()->thresh_attn = 1;
    cf_tuning_mut()->tile_attn_kv = 32;
    for (int f16 = 0; f16 < 4; f16++) { /* bit 0: F16 cache; bit 1: odd head_dim */
        prob P;
        prob_init(&P, 8, 2, f16 & 2 ? 33 : 64, f16 & 1 ? CF_T_F16 : CF_T_F32, 0.125f, 150, 7);
        size_t tot = 0;
        for (int s = 0; s < NSEQ; s++) tot += P.seq[s].n_q * P.sh.ldo;
        for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
            if (!cf_isa_supported((cf_isa)isa)) continue;
            run_arg r = {cf_attn_ops_for((cf_isa)isa), &P, P.seq, NSEQ};
            for (int s = 0; s < NSEQ; s++) memset(P.out[s], 0, sizeof(float) * P.seq[s].n_q * P.sh.ldo);
            cf_tuning_mut()->tile_attn_rh = 8;
            cf_parallel_run(1, run_fn, &r);
            float *base = snapshot(&P);
            /* thread counts and task shapes (rows x heads per task) */
            static const int nths[] = {2, 3, 1, 2};
            static const long rhs[] = {8, 8, 1, 3};
            for (int k = 0; k < 4; k++) {
                cf_tuning_mut()->tile_attn_rh = rhs[k];
                for (int s = 0; s < NSEQ; s++) memset(P.out[s], 0, sizeof(float) * P.seq[s].n_q * P.sh.ldo);
                cf_parallel_run(nths[k], run_fn, &r);
                float *got = snapshot(&P);
                ck_assert_msg(memcmp(got, base, tot * 4) == 0, "isa %d f16 %d nth %d rh %ld", isa, f16,
                              nths[k], rhs[k]);
                free(got);
            }
            /* batch invariance: the middle sequence's row 20 alone */
            cf_attn_seq one = P.seq[1];
            float *o = malloc(sizeof(float) * P.sh.ldo);
            one.q += 20 * P.sh.ldq, one.pos += 20, one.n_q = 1, one.out = o;
            cf_tuning_mut()->tile_attn_rh = 8;
            run_arg r1 = {r.ops, &P, &one, 1};
            cf_parallel_run(1, run_fn, &r1);
            const float *in_batch = base + P.seq[0].n_q * P.sh.ldo + 20 * P.sh.ldo;
            ck_assert_int_eq(memcmp(o, in_batch, sizeof(float) * P.n_head * P.hd), 0);
            free(o);
            free(base);
        }
        prob_free(&P);
    }
}
END_TEST

START_TEST(test_dispatch) {
    ck_assert_ptr_eq(cf_attn_ops_for(CF_ISA_AVX512VNNI), cf_attn_ops_for(CF_ISA_AVX512));
    prob P;
    prob_init(&P, 4, 2, 16, CF_T_F32, 0.25f, 40, 3);
    cf_attention(&cf_par_serial, &P.sh, P.seq, NSEQ);
    check_vs_oracle(&P, cf_isa_active());
    cf_attention(&cf_par_serial, &P.sh, P.seq, 0); /* no sequences: nothing to do */
    prob_free(&P);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("attn");
    TCase *tc = tcase_create("attn");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_paths_vs_oracle);
    tcase_add_test(tc, test_invariance);
    tcase_add_test(tc, test_dispatch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
