/* Q8_0-kind activation scale conventions (kernels/act_scale.h): the values the matmul sees
 * (read back through an identity Q8_0 weight) are exactly those of the documented formula under
 * each convention, on every ISA level and row-group layout; random Q8_0 / Q4_0 products are
 * bitwise equal to the ref level under BF16 too (test_matmul covers the default F16); edge
 * blocks (zeros, underflowing scale, f16-subnormal scales, huge values); parsing and the environment variable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/act_scale.h"
#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "tests/testutil.h"

/* Accuracy of 8-bit products against the f32 oracle, as test_matmul's TOL_MM_Q8_0 (NMSE). */
#define TOL_BF16_Q8 1e-4

static const int64_t k_M[] = {1, 3, 9, 17, 33, 70};
#define NM (int)(sizeof k_M / sizeof k_M[0])

typedef struct {
    const cf_matmul_ops *o;
    const cf_wmat *W;
    const float *X;
    int64_t M;
    float *Y;
    void *act;
} job;

static void job_fn(const cf_par *p, void *arg) {
    job *j = arg;
    j->o->act_quantize(p, j->W->type, j->act, j->X, j->W->k, j->M, j->W->k);
    cf_barrier(p);
    j->o->matmul_act(p, j->W, j->act, j->M, j->Y, j->W->n);
}

static void run(cf_isa isa, const cf_wmat *W, const float *X, int64_t M, float *Y, int nth) {
    const cf_matmul_ops *o = cf_matmul_ops_for(isa);
    size_t ab = o->act_bytes(W->type, M, W->k);
    job j = {o, W, X, M, Y, aligned_alloc(64, (ab + 63) / 64 * 64)};
    cf_parallel_run(nth, job_fn, &j);
    free(j.act);
}

/* Identity Q8_0 weight of K x K: row n has d = 1 and q = 1 at column n, so Y[m][n] is the value
 * the kernels use for activation (m, n): d_block * q. */
static cf_wmat identity(int64_t K) {
    size_t rb = cf_row_bytes(CF_T_Q8_0, K);
    uint8_t *w = calloc((size_t)K, rb);
    for (int64_t n = 0; n < K; n++) {
        uint8_t *blk = w + n * rb + (n / 32) * 34;
        uint16_t one = cf_f32_to_f16(1.0f);
        memcpy(blk, &one, 2);
        blk[2 + n % 32] = 1;
    }
    return (cf_wmat){w, CF_T_Q8_0, K, K, rb, NULL};
}

/* The documented value of element j of a 32-block under convention s. */
static float expected(const float *blk, int j, cf_act_scale s) {
    float amax = 0;
    for (int i = 0; i < 32; i++) amax = fabsf(blk[i]) > amax ? fabsf(blk[i]) : amax;
    if (!(amax > 0)) return 0;
    if (s == CF_ACT_SCALE_BF16) {
        float d = cf_bf16_to_f32(cf_f32_to_bf16(amax / 127.0f));
        if (d < 0x1p-126f) return 0;
        float q = nearbyintf(blk[j] * (1.0f / d));
        ck_assert(fabsf(q) <= 127);
        return d * q;
    }
    float v = blk[j] * (127.0f / amax); /* +-inf when amax < 127 / FLT_MAX; d is then 0 */
    float q = v != v ? 0 : v > 127 ? 127 : v < -127 ? -127 : nearbyintf(v);
    return cf_f16_to_f32(cf_f32_to_f16(amax / 127.0f)) * q;
}

START_TEST(test_values_per_convention) {
    const cf_act_scale s = _i ? CF_ACT_SCALE_BF16 : CF_ACT_SCALE_F16;
    cf_act_scale_set(s);
    const int64_t K = 96, Mmax = 70;
    cf_wmat W = identity(K);
    float *X = malloc(sizeof(float) * Mmax * K), *Y = malloc(sizeof(float) * Mmax * K);
    tu_fill_rand(X, (size_t)(Mmax * K), 1234, 3.0f);
    for (int64_t k = 0; k < K; k++) X[0 * K + k] = 0; /* zero row */
    for (int64_t k = 0; k < 32; k++) X[1 * K + k] *= 1e-37f; /* block 0 of row 1: scale underflows under bf16 */
    X[2 * K + 40] = 1000.0f;                           /* lone outlier */
    for (int64_t k = 0; k < 32; k++) X[3 * K + k] = (float)(k - 16) * 0.5f; /* exact halves */
    for (int64_t k = 0; k < 32; k++) X[4 * K + k] *= 1e-5f;      /* f16 scale is subnormal */
    for (int64_t k = 32; k < 64; k++) X[5 * K + k] *= 3e-7f;     /* f16 scale: the smallest subnormals */
    for (int64_t k = 64; k < 96; k++) X[6 * K + k] *= 1e-8f;     /* f16 scale underflows to 0 */
    for (int isa = 0; isa < CF_ISA_COUNT; isa++) {
        if (!cf_isa_supported((cf_isa)isa)) continue;
        for (int mi = 0; mi < NM; mi++) {
            int64_t M = k_M[mi];
            memset(Y, 0xff, sizeof(float) * M * K);
            run((cf_isa)isa, &W, X, M, Y, 2);
            for (int64_t m = 0; m < M; m++)
                for (int64_t k = 0; k < K; k++) {
                    float e = expected(X + m * K + (k / 32) * 32, (int)(k % 32), s);
                    ck_assert_msg(e == Y[m * K + k], "%s %s M=%lld (%lld,%lld): %a, expected %a",
                                  cf_isa_name((cf_isa)isa), cf_act_scale_name(s), (long long)M, (long long)m, (long long)k,
                                  Y[m * K + k], e);
                }
        }
    }
    /* the two conventions really differ on ordinary data */
    cf_act_scale_set(s == CF_ACT_SCALE_F16 ? CF_ACT_SCALE_BF16 : CF_ACT_SCALE_F16);
    float *Z = malloc(sizeof(float) * 33 * K);
    run(CF_ISA_REF, &W, X, 33, Z, 1);
    cf_act_scale_set(s);
    run(CF_ISA_REF, &W, X, 33, Y, 1);
    ck_assert(memcmp(Y, Z, sizeof(float) * 33 * K) != 0);
    free(Z), free(X), free(Y), free((void *)W.data);
}
END_TEST

/* Random Q8_0 / Q4_0 weights under BF16: every level bitwise equal to ref, close to the oracle;
 * huge activations stay finite (a bf16 scale cannot overflow). */
START_TEST(test_bf16_levels_match_ref) {
    cf_act_scale_set(CF_ACT_SCALE_BF16);
    const int types[2] = {CF_T_Q8_0, CF_T_Q4_0};
    const int64_t K = 160, N = 37, Mmax = 70;
    for (int ti = 0; ti < 2; ti++) {
        int t = types[ti];
        size_t rb = cf_row_bytes(t, K);
        uint8_t *wd = malloc(rb * N);
        float *row = malloc(sizeof(float) * K);
        for (int64_t n = 0; n < N; n++) {
            tu_fill_rand(row, (size_t)K, 77 + n, 1.0f);
            ck_assert_int_eq(cf_quantize_row(t, row, wd + n * rb, K), 0);
        }
        cf_wmat W = {wd, t, N, K, rb, NULL};
        float *X = malloc(sizeof(float) * Mmax * K);
        tu_fill_rand(X, (size_t)(Mmax * K), 99 + ti, 2.0f);
        for (int64_t k = 0; k < K; k++) X[5 * K + k] *= 1e30f;
        float *Yo = malloc(sizeof(float) * Mmax * N), *Yr = malloc(sizeof(float) * Mmax * N),
              *Y = malloc(sizeof(float) * Mmax * N);
        cf_matmul_ref(&W, X, K, Mmax, Yo, N);
        run(CF_ISA_REF, &W, X, Mmax, Yr, 1);
        double num = 0, den = 0;
        for (int64_t m = 0; m < Mmax; m++) {
            if (m == 5) continue;
            for (int64_t n = 0; n < N; n++) {
                double dd = (double)Yr[m * N + n] - Yo[m * N + n];
                num += dd * dd;
                den += (double)Yo[m * N + n] * Yo[m * N + n];
            }
        }
        ck_assert_msg(num / den <= TOL_BF16_Q8, "%s: NMSE %g", cf_dtype_get(t)->name, num / den);
        for (int64_t n = 0; n < N; n++) ck_assert(isfinite(Yr[5 * N + n]));
        for (int isa = 1; isa < CF_ISA_COUNT; isa++) {
            if (!cf_isa_supported((cf_isa)isa)) continue;
            for (int mi = 0; mi < NM; mi++) {
                int64_t M = k_M[mi];
                run((cf_isa)isa, &W, X, M, Y, 2);
                ck_assert_msg(memcmp(Y, Yr, sizeof(float) * M * N) == 0, "%s %s M=%lld differs from ref",
                              cf_isa_name((cf_isa)isa), cf_dtype_get(t)->name, (long long)M);
            }
        }
        free(wd), free(row), free(X), free(Yo), free(Yr), free(Y);
    }
}
END_TEST

START_TEST(test_parse_and_env) {
    ck_assert_int_eq(cf_act_scale_parse("f16"), CF_ACT_SCALE_F16);
    ck_assert_int_eq(cf_act_scale_parse("BF16"), CF_ACT_SCALE_BF16);
    ck_assert_int_eq(cf_act_scale_parse("q8"), -1);
    ck_assert_int_eq(cf_act_scale_parse(NULL), -1);
    ck_assert_str_eq(cf_act_scale_name(CF_ACT_SCALE_BF16), "bf16");
    cf_err e;
    setenv("CINFER_ACT_SCALE", "bf16", 1);
    ck_assert_int_eq(cf_act_scale_init(&e), 0);
    ck_assert_int_eq(cf_act_scale_get(), CF_ACT_SCALE_BF16);
    setenv("CINFER_ACT_SCALE", "fp8", 1);
    ck_assert_int_eq(cf_act_scale_init(&e), CF_EINVAL);
    ck_assert_msg(strstr(e.msg, "CINFER_ACT_SCALE") && strstr(e.msg, "fp8"), "%s", e.msg);
    ck_assert_int_eq(cf_act_scale_get(), CF_ACT_SCALE_BF16); /* unchanged by the bad value */
    cf_act_scale_set(CF_ACT_SCALE_F16);
    ck_assert_int_eq(cf_act_scale_get(), CF_ACT_SCALE_F16);
    unsetenv("CINFER_ACT_SCALE");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("act_scale");
    TCase *tc = tcase_create("act_scale");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_values_per_convention, 0, 2);
    tcase_add_test(tc, test_bf16_levels_match_ref);
    tcase_add_test(tc, test_parse_and_env);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
