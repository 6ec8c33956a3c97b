/* Matmul: every ISA level the CPU has against the dequantize-then-dot oracle (named tolerances
 * per weight type) over odd and edge sizes; the 8-bit paths of every level bitwise equal to the
 * scalar ref level (they share the canonical order of matmul.h); and the invariance rule: a
 * row's output is bitwise the same alone or in a batch, whatever the thread count, the layout
 * (row kernels or GEMM), the register tile and the cache blocking. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/tuning.h"
#include "tests/testutil.h"

/* Error of Y against cf_matmul_ref (f32 activations, dequantized weights), as
 *   sum (y - y_ref)^2 / sum |x_m|^2 |w_n|^2 / K
 * (the expected y^2 for independent data: an NMSE that stays meaningful for a single output
 * whose exact value happens to cancel).  The f32-kind paths differ only in summation order;
 * the 8-bit paths add the activations' 8-bit rounding. */
#define TOL_MM_F32 1e-11
#define TOL_MM_F16 1e-11
#define TOL_MM_BF16 1e-11
#define TOL_MM_Q8_0 1e-4
#define TOL_MM_Q4_0 1e-4
#define TOL_MM_Q4_K 1e-4
#define TOL_MM_Q6_K 1e-4

static const int k_types[] = {CF_T_F32, CF_T_F16, CF_T_BF16, CF_T_Q8_0, CF_T_Q4_0, CF_T_Q4_K, CF_T_Q6_K};
#define NTYPES (int)(sizeof k_types / sizeof k_types[0])
static const int64_t k_M[] = {1, 2, 3, 7, 8, 12, 31, 33, 257}; /* 8, 12: the GEMM's 8-row tiles */
static const int64_t k_N[] = {1, 7, 31, 33, 257};

static double tol_of(int t) {
    switch (t) {
    case CF_T_F32: return TOL_MM_F32;
    case CF_T_F16: return TOL_MM_F16;
    case CF_T_BF16: return TOL_MM_BF16;
    case CF_T_Q8_0: return TOL_MM_Q8_0;
    case CF_T_Q4_0: return TOL_MM_Q4_0;
    case CF_T_Q4_K: return TOL_MM_Q4_K;
    default: return TOL_MM_Q6_K;
    }
}
static int is_8bit(int t) { return cf_act_kind_of(t) != CF_ACT_F32; }

/* K values per type: several multiples of the block (incl. one block), odd K for f32 kinds. */
static int k_list(int t, int64_t *ks) {
    if (!is_8bit(t)) { ks[0] = 1, ks[1] = 7, ks[2] = 33, ks[3] = 257; return 4; }
    if (cf_dtype_get(t)->block == 32) { ks[0] = 32, ks[1] = 64, ks[2] = 96, ks[3] = 320; return 4; }
    ks[0] = 256, ks[1] = 512, ks[2] = 768;
    return 3;
}

typedef struct {
    cf_wmat w;
    void *data;
} wbuf;

static wbuf make_w(int t, int64_t N, int64_t K, uint64_t seed) {
    wbuf b;
    size_t rb = cf_row_bytes(t, K);
    b.data = malloc(rb * (size_t)N + 64);
    float *row = malloc(K * sizeof(float));
    for (int64_t n = 0; n < N; n++) {
        tu_fill_rand(row, K, seed * 7919 + n, 1.0f);
        ck_assert_int_eq(cf_quantize_row(t, row, (char *)b.data + n * rb, K), 0);
    }
    free(row);
    b.w = (cf_wmat){b.data, t, N, K, rb, NULL};
    return b;
}

/* Gives w a PK16 packed copy when its type has one; returns the buffer (NULL: none). */
static void *attach_pack(cf_wmat *w) {
    size_t nb = cf_wmat_pack_bytes(w);
    if (!nb) return NULL;
    void *p = aligned_alloc(64, (nb + 63) / 64 * 64);
    cf_wmat_pack(w, p);
    w->pack = p;
    return p;
}

typedef struct {
    const cf_matmul_ops *o;
    const cf_wmat *W;
    const float *X;
    int64_t ldx, M;
    float *Y;
    int64_t ldy;
    void *act;
} mm_job;

static void mm_job_fn(const cf_par *p, void *arg) {
    mm_job *j = arg;
    j->o->act_quantize(p, j->W->type, j->act, j->X, j->ldx, j->M, j->W->k);
    cf_barrier(p);
    j->o->matmul_act(p, j->W, j->act, j->M, j->Y, j->ldy);
}

/* Y (M x ldy) = X (M x ldx) * W^T through ops o on nth threads. */
static void run_mm(const cf_matmul_ops *o, const cf_wmat *W, const float *X, int64_t ldx, int64_t M, float *Y,
                   int64_t ldy, int nth) {
    size_t ab = o->act_bytes(W->type, M, W->k);
    ck_assert_uint_gt(ab, 0);
    mm_job j = {o, W, X, ldx, M, Y, ldy, aligned_alloc(64, (ab + 63) / 64 * 64)};
    cf_parallel_run(nth, mm_job_fn, &j);
    free(j.act);
}

static float *rand_x(int64_t M, int64_t ldx, uint64_t seed) {
    float *x = malloc((size_t)(M * ldx + 1) * sizeof(float));
    tu_fill_rand(x, (size_t)(M * ldx + 1), seed, 1.0f);
    return x;
}

static double g_worst[CF_T_COUNT];

/* Compares ISA level outputs with the oracle and (8-bit kinds) with the ref level bitwise. */
static void check_case(int t, int64_t M, int64_t N, int64_t K) {
    int64_t ldx = K + 3, ldy = N + 2;
    wbuf w = make_w(t, N, K, (uint64_t)(M * 131 + N * 17 + K));
    float *X = rand_x(M, ldx, (uint64_t)(M + N + K));
    float *Yo = calloc((size_t)(M * ldy), sizeof(float)), *Yr = calloc((size_t)(M * ldy), sizeof(float)),
          *Y = calloc((size_t)(M * ldy), sizeof(float));
    cf_matmul_ref(&w.w, X, ldx, M, Yo, ldy);
    double den = 0, *wn2 = calloc((size_t)N, sizeof(double));
    float *wr = malloc(K * sizeof(float));
    for (int64_t n = 0; n < N; n++) {
        cf_dequantize_row_ref(t, (const char *)w.data + n * w.w.row_bytes, wr, K);
        for (int64_t k = 0; k < K; k++) wn2[n] += (double)wr[k] * wr[k];
    }
    for (int64_t m = 0; m < M; m++) {
        double x2 = 0;
        for (int64_t k = 0; k < K; k++) x2 += (double)X[m * ldx + k] * X[m * ldx + k];
        for (int64_t n = 0; n < N; n++) den += x2 * wn2[n] / (double)K;
    }
    free(wn2), free(wr);
    run_mm(cf_matmul_ops_for(CF_ISA_REF), &w.w, X, ldx, M, Yr, ldy, 1);
    for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
        if (!cf_isa_supported((cf_isa)isa)) continue;
        float *out = isa == CF_ISA_REF ? Yr : Y;
        if (isa != CF_ISA_REF) run_mm(cf_matmul_ops_for((cf_isa)isa), &w.w, X, ldx, M, Y, ldy, 1);
        double num = 0;
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double d = (double)out[m * ldy + n] - Yo[m * ldy + n];
                num += d * d;
            }
        double e = den > 0 ? num / den : num;
        if (getenv("MM_SHOW_ERR") && e > g_worst[t]) g_worst[t] = e, printf("%s %s M=%lld N=%lld K=%lld err %.3g\n",
            cf_isa_name((cf_isa)isa), cf_dtype_get(t)->name, (long long)M, (long long)N, (long long)K, e);
        ck_assert_msg(e <= tol_of(t), "%s %s M=%lld N=%lld K=%lld: error %g > %g", cf_isa_name((cf_isa)isa),
                      cf_dtype_get(t)->name, (long long)M, (long long)N, (long long)K, e, tol_of(t));
        if (isa != CF_ISA_REF && is_8bit(t))
            for (int64_t m = 0; m < M; m++)
                ck_assert_msg(memcmp(Y + m * ldy, Yr + m * ldy, N * sizeof(float)) == 0,
                              "%s %s M=%lld N=%lld K=%lld: row %lld differs from the ref level", cf_isa_name((cf_isa)isa),
                              cf_dtype_get(t)->name, (long long)M, (long long)N, (long long)K, (long long)m);
    }
    /* with a PK16 packed copy (read by the levels that have packed kernels): the same bits */
    void *pk = attach_pack(&w.w);
    if (pk)
        for (int isa = 1; isa < CF_ISA_COUNT; isa++) {
            if (!cf_isa_supported((cf_isa)isa)) continue;
            memset(Y, 0xff, (size_t)(M * ldy) * sizeof(float));
            run_mm(cf_matmul_ops_for((cf_isa)isa), &w.w, X, ldx, M, Y, ldy, 1);
            for (int64_t m = 0; m < M; m++)
                ck_assert_msg(memcmp(Y + m * ldy, Yr + m * ldy, N * sizeof(float)) == 0,
                              "%s %s packed M=%lld N=%lld K=%lld: row %lld differs from the ref level",
                              cf_isa_name((cf_isa)isa), cf_dtype_get(t)->name, (long long)M, (long long)N, (long long)K,
                              (long long)m);
        }
    free(pk);
    free(X), free(Yo), free(Yr), free(Y), free(w.data);
}

START_TEST(test_matmul_sweep) {
    int t = k_types[_i];
    int64_t ks[4];
    int nk = k_list(t, ks);
    for (size_t a = 0; a < sizeof k_M / sizeof k_M[0]; a++)
        for (size_t b = 0; b < sizeof k_N / sizeof k_N[0]; b++)
            for (int c = 0; c < nk; c++) {
                /* the largest shapes once per type, not for every K */
                if (k_M[a] * k_N[b] > 257 * 33 && c != nk - 1) continue;
                check_case(t, k_M[a], k_N[b], ks[c]);
            }
}
END_TEST

/* Hostile-but-valid weights (random bytes, Q8_0 -128, all scale bits) and extreme activations:
 * every level still equals the ref level bitwise (8-bit kinds). */
START_TEST(test_matmul_extremes) {
    static const int qt[] = {CF_T_Q8_0, CF_T_Q4_0, CF_T_Q4_K, CF_T_Q6_K};
    for (int ti = 0; ti < 4; ti++) {
        int t = qt[ti];
        int64_t K = cf_dtype_get(t)->block == 32 ? 96 : 512, N = 19, M = 21;
        size_t rb = cf_row_bytes(t, K);
        uint8_t *wd = malloc(rb * N);
        uint64_t s = 99 + ti;
        for (size_t i = 0; i < rb * N; i++) wd[i] = (uint8_t)tu_rand_u64(&s);
        /* finite scales */
        const cf_dtype_info *di = cf_dtype_get(t);
        for (int64_t n = 0; n < N; n++)
            for (int64_t b = 0; b < K / di->block; b++) {
                uint8_t *blk = wd + n * rb + b * di->bytes;
                uint16_t h = (uint16_t)(0x2000 | (tu_rand_u64(&s) & 0x13ff));
                if (t == CF_T_Q6_K) memcpy(blk + 208, &h, 2);
                else memcpy(blk, &h, 2);
                if (t == CF_T_Q4_K) memcpy(blk + 2, &h, 2);
                if (t == CF_T_Q8_0 && b == 0) memset(blk + 2, 0x80, 8); /* -128 */
            }
        cf_wmat w = {wd, t, N, K, rb, NULL};
        float *X = rand_x(M, K, 5);
        for (int64_t k = 0; k < K; k++) {
            X[0 * K + k] = 0;                       /* zero row */
            X[1 * K + k] *= 1e30f;                  /* huge */
            X[2 * K + k] *= 1e-30f;                 /* tiny */
        }
        X[3 * K + 5] = 1e6f;                        /* lone outlier */
        float *Yr = malloc(M * N * sizeof(float)), *Y = malloc(M * N * sizeof(float));
        run_mm(cf_matmul_ops_for(CF_ISA_REF), &w, X, K, M, Yr, N, 1);
        for (int64_t n = 0; n < N; n++) ck_assert(Yr[n] == 0);
        for (int isa = 1; isa < CF_ISA_COUNT; isa++) {
            if (!cf_isa_supported((cf_isa)isa)) continue;
            for (int pk = 0; pk < 2; pk++) {
                cf_wmat wp = w;
                void *pb = pk ? attach_pack(&wp) : NULL;
                for (int64_t MM = 1; MM <= M; MM += MM < 4 ? 1 : M - 4) {
                    run_mm(cf_matmul_ops_for((cf_isa)isa), &wp, X, K, MM, Y, N, 1);
                    ck_assert_msg(memcmp(Y, Yr, MM * N * sizeof(float)) == 0, "%s %s%s M=%lld", cf_isa_name((cf_isa)isa),
                                  cf_dtype_get(t)->name, pk ? " packed" : "", (long long)MM);
                }
                free(pb);
            }
        }
        free(wd), free(X), free(Yr), free(Y);
    }
}
END_TEST

/* The invariance rule, per ISA level and type. */
START_TEST(test_matmul_invariance) {
    int t = k_types[_i];
    int64_t K = is_8bit(t) ? (cf_dtype_get(t)->block == 32 ? 160 : 512) : 203, N = 45, M = 37;
    wbuf w = make_w(t, N, K, 3);
    float *X = rand_x(M, K, 11);
    float *Y = malloc(M * N * sizeof(float)), *Z = malloc(M * N * sizeof(float));
    cf_tuning *tu = cf_tuning_mut();
    void *pk = NULL;
    for (int isa = 0; isa < 2 * CF_ISA_COUNT; isa++) {
        if (isa == CF_ISA_COUNT) { /* second round: the same with a PK16 packed copy */
            pk = attach_pack(&w.w);
            if (!pk) break;
        }
        if (!cf_isa_supported((cf_isa)(isa % CF_ISA_COUNT))) continue;
        const cf_matmul_ops *o = cf_matmul_ops_for((cf_isa)(isa % CF_ISA_COUNT));
        cf_err e;
        ck_assert_int_eq(cf_tuning_reload(&e), 0);
        run_mm(o, &w.w, X, K, M, Y, N, 1);
        /* rows alone (M = 1, the decode path) and in small batches (row kernels) */
        for (int64_t m = 0; m < M; m++) {
            run_mm(o, &w.w, X + m * K, K, 1, Z, N, 1);
            ck_assert_msg(memcmp(Z, Y + m * N, N * sizeof(float)) == 0, "%s %s: row %lld alone differs",
                          cf_isa_name((cf_isa)(isa % CF_ISA_COUNT)), cf_dtype_get(t)->name, (long long)m);
        }
        for (int64_t mb = 2; mb <= 7; mb++) {
            run_mm(o, &w.w, X + 9 * K, K, mb, Z, N, 1);
            ck_assert_msg(memcmp(Z, Y + 9 * N, mb * N * sizeof(float)) == 0, "%s %s: batch of %lld differs",
                          cf_isa_name((cf_isa)(isa % CF_ISA_COUNT)), cf_dtype_get(t)->name, (long long)mb);
        }
        /* thread counts with splitting forced, tiles, cache blocks and the GEMM switch point */
        static const long knobs[][6] = {
            /* nth, nr, nc, mc, gemm_m, mr */
            {2, 4, 64, 64, 8, 4}, {3, 4, 8, 16, 8, 4}, {2, 1, 4, 8, 1, 1}, {3, 2, 12, 24, 2, 2},
            {2, 3, 5, 9, 64, 3},  {1, 4, 1, 1, 1, 4},  {3, 3, 200, 1000, 37, 1},
        };
        for (size_t kk = 0; kk < sizeof knobs / sizeof knobs[0]; kk++) {
            tu->thresh_matmul = 0;
            tu->thresh_quant_act = 0;
            tu->tile_mm_nr = knobs[kk][1];
            tu->tile_mm_nc = knobs[kk][2];
            tu->tile_mm_mc = knobs[kk][3];
            tu->tile_mm_gemm_m = knobs[kk][4];
            tu->tile_mm_mr = knobs[kk][5];
            tu->tile_mm_pkmr = 1 + (long)kk; /* the packed GEMM's register tile: 1..7 rows */
            memset(Z, 0xff, M * N * sizeof(float));
            run_mm(o, &w.w, X, K, M, Z, N, (int)knobs[kk][0]);
            ck_assert_msg(memcmp(Z, Y, M * N * sizeof(float)) == 0, "%s %s: knob set %zu differs", cf_isa_name((cf_isa)(isa % CF_ISA_COUNT)),
                          cf_dtype_get(t)->name, kk);
            /* decode row alone under the same knobs */
            run_mm(o, &w.w, X + 36 * K, K, 1, Z, N, (int)knobs[kk][0]);
            ck_assert_msg(memcmp(Z, Y + 36 * N, N * sizeof(float)) == 0, "%s %s: knob set %zu, M=1 differs",
                          cf_isa_name((cf_isa)(isa % CF_ISA_COUNT)), cf_dtype_get(t)->name, kk);
        }
        ck_assert_int_eq(cf_tuning_reload(&e), 0);
    }
    free(pk), free(X), free(Y), free(Z), free(w.data);
}
END_TEST

/* Splitting over M (few weight rows, many activation rows) keeps the bits too. */
START_TEST(test_matmul_msplit) {
    int t = k_types[_i];
    int64_t K = is_8bit(t) ? cf_dtype_get(t)->block * 2 : 64, N = 3, M = 257;
    wbuf w = make_w(t, N, K, 5);
    float *X = rand_x(M, K, 13), *Y = malloc(M * N * sizeof(float)), *Z = malloc(M * N * sizeof(float));
    cf_err e;
    for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
        if (!cf_isa_supported((cf_isa)isa)) continue;
        const cf_matmul_ops *o = cf_matmul_ops_for((cf_isa)isa);
        ck_assert_int_eq(cf_tuning_reload(&e), 0);
        run_mm(o, &w.w, X, K, M, Y, N, 1);
        cf_tuning_mut()->thresh_matmul = 0;
        for (int nth = 2; nth <= 3; nth++) {
            run_mm(o, &w.w, X, K, M, Z, N, nth);
            ck_assert_msg(memcmp(Z, Y, M * N * sizeof(float)) == 0, "%s %s: %d threads differ", cf_isa_name((cf_isa)isa),
                          cf_dtype_get(t)->name, nth);
        }
    }
    ck_assert_int_eq(cf_tuning_reload(&e), 0);
    free(X), free(Y), free(Z), free(w.data);
}
END_TEST

/* K long enough that the GEMM's weight panel is filled in several K chunks (the float
 * accumulators carry across chunks): still bitwise the ref level, and the row path. */
START_TEST(test_matmul_long_k) {
    static const int qt[] = {CF_T_Q8_0, CF_T_Q4_0, CF_T_Q4_K, CF_T_Q6_K};
    int t = qt[_i];
    int64_t K = cf_dtype_get(t)->block == 32 ? 32 * 1000 : 256 * 130, N = 7, M = 19;
    wbuf w = make_w(t, N, K, 23);
    float *X = rand_x(M, K, 29), *Yr = malloc(M * N * sizeof(float)), *Y = malloc(M * N * sizeof(float));
    run_mm(cf_matmul_ops_for(CF_ISA_REF), &w.w, X, K, M, Yr, N, 1);
    for (int isa = 1; isa < CF_ISA_COUNT; isa++) {
        if (!cf_isa_supported((cf_isa)isa)) continue;
        run_mm(cf_matmul_ops_for((cf_isa)isa), &w.w, X, K, M, Y, N, 2);
        ck_assert_msg(memcmp(Y, Yr, M * N * sizeof(float)) == 0, "%s %s: long K differs", cf_isa_name((cf_isa)isa),
                      cf_dtype_get(t)->name);
        run_mm(cf_matmul_ops_for((cf_isa)isa), &w.w, X + 4 * K, K, 1, Y, N, 1);
        ck_assert(memcmp(Y, Yr + 4 * N, N * sizeof(float)) == 0);
    }
    free(X), free(Yr), free(Y), free(w.data);
}
END_TEST

/* PK16 packed copies: long K, sub-views (cf_wmat_rows keeps the pack only on group boundaries),
 * the decode path and small batches on several threads: bitwise the ref level. */
START_TEST(test_matmul_packed) {
    static const int qt[] = {CF_T_Q8_0, CF_T_Q4_0, CF_T_Q4_K, CF_T_Q6_K};
    int t = qt[_i];
    int64_t K = cf_dtype_get(t)->block == 256 ? 256 * 37 : 32 * 301, N = 16 * 5 + 9, M = 5;
    wbuf w = make_w(t, N, K, 31);
    ck_assert_uint_eq(cf_wmat_pack_bytes(&w.w), (size_t)5 * cf_wmat_pack_stride(&w.w));
    ck_assert_uint_eq(cf_wmat_pack_stride(&w.w) % 64, 0);
    float *X = rand_x(M, K, 37), *Yr = malloc(M * N * sizeof(float)), *Y = malloc(M * N * sizeof(float));
    run_mm(cf_matmul_ops_for(CF_ISA_REF), &w.w, X, K, M, Yr, N, 1);
    void *pk = attach_pack(&w.w);
    ck_assert_ptr_nonnull(pk);
    for (int isa = 1; isa < CF_ISA_COUNT; isa++) {
        if (!cf_isa_supported((cf_isa)isa)) continue;
        const cf_matmul_ops *o = cf_matmul_ops_for((cf_isa)isa);
        cf_tuning_mut()->thresh_matmul = 0;
        for (int nth = 1; nth <= 3; nth++)
            for (int64_t mm = 1; mm <= M; mm++) {
                memset(Y, 0xff, M * N * sizeof(float));
                run_mm(o, &w.w, X, K, mm, Y, N, nth);
                ck_assert_msg(memcmp(Y, Yr, mm * N * sizeof(float)) == 0, "%s %s packed: M=%lld on %d threads differs",
                              cf_isa_name((cf_isa)isa), cf_dtype_get(t)->name, (long long)mm, nth);
            }
        static const int64_t r0s[] = {0, 16, 32, 5, 17, 80};
        for (size_t i = 0; i < sizeof r0s / sizeof r0s[0]; i++) {
            int64_t r0 = r0s[i], n = N - r0 - (i & 1);
            cf_wmat sv = cf_wmat_rows(&w.w, r0, n);
            ck_assert(r0 % 16 == 0 ? sv.pack != NULL : sv.pack == NULL);
            run_mm(o, &sv, X, K, 2, Y, N, 1);
            for (int m = 0; m < 2; m++)
                ck_assert_msg(memcmp(Y + m * N, Yr + m * N + r0, n * sizeof(float)) == 0, "%s %s: rows from %lld differ",
                              cf_isa_name((cf_isa)isa), cf_dtype_get(t)->name, (long long)r0);
        }
        cf_err e;
        ck_assert_int_eq(cf_tuning_reload(&e), 0);
    }
    /* a type without a packed layout, and too few rows */
    wbuf k4 = make_w(CF_T_F16, 32, 256, 3), s15 = make_w(t, 15, cf_dtype_get(t)->block * 2, 3);
    ck_assert_uint_eq(cf_wmat_pack_bytes(&k4.w), 0);
    ck_assert_uint_eq(cf_wmat_pack_bytes(&s15.w), 0);
    free(k4.data), free(s15.data);
    free(pk), free(X), free(Yr), free(Y), free(w.data);
}
END_TEST

typedef struct {
    const cf_wmat *W;
    const float *X;
    int64_t M;
    float *Y;
    void *scratch;
} conv_job;

static void conv_fn(const cf_par *p, void *arg) {
    conv_job *j = arg;
    cf_matmul(p, j->W, j->X, j->W->k, j->M, j->Y, j->W->n, j->scratch);
}

/* The dispatched entry points (active ISA) through cf_matmul, on 2 threads. */
START_TEST(test_matmul_dispatch) {
    for (int ti = 0; ti < NTYPES; ti++) {
        int t = k_types[ti];
        int64_t K = is_8bit(t) ? cf_dtype_get(t)->block * 3 : 100, N = 70, M = 12;
        wbuf w = make_w(t, N, K, 17);
        float *X = rand_x(M, K, 19), *Y = malloc(M * N * sizeof(float)), *Z = malloc(M * N * sizeof(float));
        conv_job j = {&w.w, X, M, Y, aligned_alloc(64, (cf_act_bytes(t, M, K) + 63) / 64 * 64)};
        run_mm(cf_matmul_ops_for(cf_isa_active()), &w.w, X, K, M, Z, N, 1);
        /* thresholds as in force (this size: both steps serial, thread 0 alone, no barrier) and
         * 1 (both split over the team, a barrier between) */
        int iq = cf_tuning_find("thresh_quant_act"), im = cf_tuning_find("thresh_matmul");
        long q0 = cf_tuning_value(cf_tuning_get(), iq), m0 = cf_tuning_value(cf_tuning_get(), im);
        for (int pass = 0; pass < 2; pass++) {
            if (pass) cf_tuning_set_value(cf_tuning_mut(), iq, 1), cf_tuning_set_value(cf_tuning_mut(), im, 1);
            memset(Y, 0xff, M * N * sizeof(float));
            cf_parallel_run(2, conv_fn, &j);
            ck_assert_msg(memcmp(Y, Z, M * N * sizeof(float)) == 0, "%s: cf_matmul on 2 threads (pass %d) differs",
                          cf_dtype_get(t)->name, pass);
        }
        cf_tuning_set_value(cf_tuning_mut(), iq, q0), cf_tuning_set_value(cf_tuning_mut(), im, m0);
        free(j.scratch), free(X), free(Y), free(Z), free(w.data);
    }
    ck_assert_int_eq(cf_act_kind_of(CF_T_Q4_0), CF_ACT_Q8_0);
    ck_assert_int_eq(cf_act_kind_of(CF_T_Q8_0), CF_ACT_Q8_0);
    ck_assert_int_eq(cf_act_kind_of(CF_T_Q4_K), CF_ACT_Q8_K);
    ck_assert_int_eq(cf_act_kind_of(CF_T_Q6_K), CF_ACT_Q8_K);
    ck_assert_int_eq(cf_act_kind_of(CF_T_F16), CF_ACT_F32);
}
END_TEST

/* cf_act_quantize_cols: filling a buffer by column ranges (block multiples, the last one ending
 * at K) writes the very bytes of cf_act_quantize, at every level, for every activation kind and
 * layout (M from 1 to 33: row, row-pair, group and column-block layouts). */
START_TEST(test_act_quantize_cols) {
    int t = k_types[_i];
    int64_t ks[4];
    int nk = k_list(t, ks);
    for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
        if (!cf_isa_supported((cf_isa)isa)) continue;
        const cf_matmul_ops *o = cf_matmul_ops_for((cf_isa)isa);
        for (size_t mi = 0; mi < sizeof k_M / sizeof k_M[0] && k_M[mi] <= 33; mi++)
            for (int ki = 0; ki < nk; ki++) {
                int64_t M = k_M[mi], K = ks[ki], blk = cf_act_block(t);
                size_t bytes = o->act_bytes(t, M, K);
                float *X = rand_x(M, K + 3, 7 + (uint64_t)mi);
                unsigned char *a = malloc(bytes), *b = malloc(bytes);
                memset(a, 0x5a, bytes);
                memset(b, 0x5a, bytes);
                o->act_quantize(&cf_par_serial, t, a, X, K + 3, M, K);
                /* ranges: the high one first (the header comes with k0 == 0), then the rest */
                int64_t nblk = (K + blk - 1) / blk, cut = nblk / 2 * blk;
                o->act_quantize_cols(t, b, X, K + 3, M, K, cut, K);
                if (cut > blk) {
                    o->act_quantize_cols(t, b, X, K + 3, M, K, blk, cut);
                    o->act_quantize_cols(t, b, X, K + 3, M, K, 0, blk);
                } else {
                    o->act_quantize_cols(t, b, X, K + 3, M, K, 0, cut);
                }
                size_t at = 0;
                while (at < bytes && a[at] == b[at]) at++;
                ck_assert_msg(at == bytes, "%s %s M=%lld K=%lld: column ranges differ from the whole at byte %zu of %zu",
                              cf_isa_name((cf_isa)isa), cf_dtype_get(t)->name, (long long)M, (long long)K, at, bytes);
                free(a), free(b), free(X);
            }
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("matmul");
    TCase *tc = tcase_create("matmul");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_matmul_sweep, 0, NTYPES);
    tcase_add_test(tc, test_matmul_extremes);
    tcase_add_loop_test(tc, test_matmul_invariance, 0, NTYPES);
    tcase_add_loop_test(tc, test_matmul_msplit, 0, NTYPES);
    tcase_add_loop_test(tc, test_matmul_long_k, 0, 4);
    tcase_add_loop_test(tc, test_matmul_packed, 0, 4);
    tcase_add_test(tc, test_matmul_dispatch);
    tcase_add_loop_test(tc, test_act_quantize_cols, 0, NTYPES);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
