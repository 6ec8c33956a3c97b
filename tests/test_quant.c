/* Quant formats: SIMD dequantization bit-exact with the reference, quantize -> dequantize error
 * bounds, and the block layouts checked against tensors written by ggml (../shared models). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/quant.h"
#include "model/gguf.h"
#include "tests/testutil.h"

/* quantize -> dequantize NMSE bounds on uniform [-1, 1) data (measured: f16 3.4e-8, bf16 2.2e-6,
 * q8_0 1.4e-5, q8_k 1.6e-5, q6_k 1.8e-4, q4_k 3.1e-3, q4_0 4.3e-3) */
#define TOL_RT_F16 1e-7
#define TOL_RT_BF16 6e-6
#define TOL_RT_Q8_0 4e-5
#define TOL_RT_Q8_K 4e-5
#define TOL_RT_Q6_K 4e-4
#define TOL_RT_Q4_K 8e-3
#define TOL_RT_Q4_0 1e-2
/* dequantized ggml tensors vs the f16 originals of the same model (a wrong layout gives ~1) */
#define TOL_GGML_Q8_0 1e-4
#define TOL_GGML_Q6_K 1e-3
#define TOL_GGML_Q4_K 1e-2
#define TOL_GGML_Q4_0 1.5e-2
/* our quantizers' NMSE may exceed ggml's on the same weights by at most this factor */
#define TOL_VS_GGML_RATIO 1.05

static const int k_types[] = {CF_T_F32, CF_T_F16, CF_T_BF16, CF_T_Q8_0, CF_T_Q4_0, CF_T_Q4_K, CF_T_Q6_K, CF_T_Q8_K};
#define NTYPES (int)(sizeof k_types / sizeof k_types[0])

static int same_float(float a, float b) {
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y || (a != a && b != b);
}

/* Random bytes for n elements of type t; block scale fields get random finite halves unless
 * wild (then any bit pattern, NaN and Inf included). */
static void *rand_row(int t, int64_t n, uint64_t seed, int wild) {
    size_t bytes = cf_row_bytes(t, n);
    uint8_t *p = malloc(bytes);
    uint64_t s = seed;
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)tu_rand_u64(&s);
    if (wild) return p;
    const cf_dtype_info *ti = cf_dtype_get(t);
    for (int64_t b = 0; b < n / ti->block; b++) {
        uint8_t *blk = p + b * ti->bytes;
        uint16_t h = (uint16_t)(tu_rand_u64(&s) & 0x3bff);  /* finite, |x| < 1 */
        switch (t) {
        case CF_T_Q8_0:
        case CF_T_Q4_0: memcpy(blk, &h, 2); break;
        case CF_T_Q4_K: memcpy(blk, &h, 2); memcpy(blk + 2, &h, 2); break;
        case CF_T_Q6_K: memcpy(blk + 208, &h, 2); break;
        case CF_T_Q8_K: { float d = (float)(h & 0xff) / 256.0f; memcpy(blk, &d, 4); break; }
        case CF_T_F16: memcpy(blk, &h, 2); break;
        case CF_T_BF16: { uint16_t bf = (uint16_t)(0x3c00 | (h & 0x00ff)); memcpy(blk, &bf, 2); break; }
        case CF_T_F32: { float f = (float)h / 65536.0f; memcpy(blk, &f, 4); break; }
        }
    }
    return p;
}

START_TEST(test_dequant_simd_bitexact) {
    for (int isa = CF_ISA_AVX2; isa < CF_ISA_COUNT; isa++) {
        if (!cf_isa_supported((cf_isa)isa)) continue;
        cf_err e;
        ck_assert_int_eq(cf_isa_set((cf_isa)isa, &e), 0);
        for (int ti = 0; ti < NTYPES; ti++)
            for (int wild = 0; wild < 2; wild++)
                for (int64_t nbk = 1; nbk <= 9; nbk += 4) {
                    int t = k_types[ti];
                    int64_t n = nbk * cf_dtype_get(t)->block * (cf_dtype_get(t)->block == 1 ? 37 : 1);
                    void *row = rand_row(t, n, 1000 + ti * 10 + nbk + wild, wild);
                    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
                    cf_dequantize_row(t, row, a, n);
                    cf_dequantize_row_ref(t, row, b, n);
                    for (int64_t i = 0; i < n; i++)
                        if (!same_float(a[i], b[i]))
                            ck_abort_msg("%s %s wild=%d n=%lld: element %lld differs: %a vs %a", cf_isa_name((cf_isa)isa),
                                         cf_dtype_get(t)->name, wild, (long long)n, (long long)i, a[i], b[i]);
                    free(a), free(b), free(row);
                }
    }
}
END_TEST

START_TEST(test_dequant_f16_exhaustive) {
    uint16_t *h = malloc(65536 * 2);
    float *a = malloc(65536 * sizeof(float));
    for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    cf_dequantize_row(CF_T_F16, h, a, 65536);
    for (int i = 0; i < 65536; i++) ck_assert_msg(same_float(a[i], cf_f16_to_f32(h[i])), "half 0x%04x", i);
    free(h), free(a);
}
END_TEST

static double roundtrip_nmse(int t, const float *x, int64_t n) {
    void *q = malloc(cf_row_bytes(t, n));
    float *y = malloc(n * sizeof(float));
    ck_assert_int_eq(cf_quantize_row(t, x, q, n), 0);
    cf_dequantize_row(t, q, y, n);
    double e = tu_nmse(y, x, n);
    free(q), free(y);
    return e;
}

START_TEST(test_quant_roundtrip) {
    const int64_t n = 256 * 16;
    float *x = malloc(n * sizeof(float));
    tu_fill_rand(x, n, 42, 1.0f);
    static const struct { int t; double tol; } k[] = {
        {CF_T_F16, TOL_RT_F16},   {CF_T_BF16, TOL_RT_BF16}, {CF_T_Q8_0, TOL_RT_Q8_0}, {CF_T_Q8_K, TOL_RT_Q8_K},
        {CF_T_Q6_K, TOL_RT_Q6_K}, {CF_T_Q4_K, TOL_RT_Q4_K}, {CF_T_Q4_0, TOL_RT_Q4_0},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        double e = roundtrip_nmse(k[i].t, x, n);
        ck_assert_msg(e < k[i].tol, "%s: nmse %g >= %g", cf_dtype_get(k[i].t)->name, e, k[i].tol);
    }
    ck_assert(roundtrip_nmse(CF_T_F32, x, n) == 0);
    /* rows of very different magnitudes, a lone outlier, and zeros */
    for (int64_t i = 0; i < n; i++) x[i] *= (i / 256 % 2) ? 1e-3f : 50.0f;
    x[77] = 3000.0f;
    for (int64_t i = 512; i < 768; i++) x[i] = 0;
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        void *q = malloc(cf_row_bytes(k[i].t, n));
        float *y = malloc(n * sizeof(float));
        ck_assert_int_eq(cf_quantize_row(k[i].t, x, q, n), 0);
        cf_dequantize_row(k[i].t, q, y, n);
        for (int64_t j = 512; j < 768; j++) ck_assert_msg(y[j] == 0, "%s: zero block not zero", cf_dtype_get(k[i].t)->name);
        for (int64_t j = 0; j < n; j++) ck_assert(isfinite(y[j]));
        free(q), free(y);
    }
    free(x);
}
END_TEST

START_TEST(test_quantize_api) {
    float x[256];
    uint8_t buf[1024];
    tu_fill_rand(x, 256, 7, 2.0f);
    ck_assert_int_eq(cf_quantize_row(CF_T_Q5_K, x, buf, 256), -1);
    ck_assert_int_eq(cf_quantize_row(12345, x, buf, 256), -1);
    ck_assert_int_eq(cf_quantize_row(CF_T_Q8_0, x, buf, 33), -1);
    ck_assert_int_eq(cf_quantize_row(CF_T_Q4_K, x, buf, 128), -1);
    /* Q8_K: f32 d, 256 int8, bsums = sums of 16 */
    ck_assert_int_eq(cf_quantize_row(CF_T_Q8_K, x, buf, 256), 0);
    float d;
    memcpy(&d, buf, 4);
    float amax = 0;
    for (int i = 0; i < 256; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    ck_assert_float_eq(d, amax / 127.0f);
    for (int j = 0; j < 16; j++) {
        int s = 0;
        for (int l = 0; l < 16; l++) s += (int8_t)buf[4 + 16 * j + l];
        int16_t bs;
        memcpy(&bs, buf + 4 + 256 + 2 * j, 2);
        ck_assert_int_eq(bs, s);
    }
    ck_assert_uint_eq(cf_row_bytes(CF_T_Q4_K, 512), 288);
    ck_assert_uint_eq(cf_row_bytes(CF_T_Q6_K, 256), 210);
    ck_assert_uint_eq(cf_row_bytes(CF_T_Q4_0, 30), 0);
}
END_TEST

/* Dequantizes every tensor of `qpath` that `fpath` (same seeded weights, f16) also has, and
 * compares; also re-quantizes the f16 weights with our quantizers. */
static void check_vs_ggml(const char *fpath, const char *qpath) {
    cf_gguf a, b;
    cf_err e;
    ck_assert_msg(cf_gguf_open(&a, tu_shared(fpath), &e) == 0, "%s", e.msg);
    ck_assert_msg(cf_gguf_open(&b, tu_shared(qpath), &e) == 0, "%s", e.msg);
    int checked = 0;
    for (int64_t i = 0; i < b.n_tensors && checked < 6; i++) {
        const cf_gguf_tensor *tb = &b.t[i], *ta = cf_gguf_tensor_get(&a, tb->name);
        if (!ta || ta->type != CF_T_F16 || tb->type == CF_T_F16 || tb->type == CF_T_F32) continue;
        double tol = tb->type == CF_T_Q8_0 ? TOL_GGML_Q8_0 : tb->type == CF_T_Q6_K ? TOL_GGML_Q6_K
                   : tb->type == CF_T_Q4_K ? TOL_GGML_Q4_K : TOL_GGML_Q4_0;
        int64_t k = tb->ne[0], rows = cf_gguf_tensor_nelements(tb) / k;
        if (rows > 2048) rows = 2048;
        float *x = malloc(rows * k * sizeof(float)), *y = malloc(rows * k * sizeof(float)),
              *z = malloc(rows * k * sizeof(float)), *ys = malloc(k * sizeof(float));
        void *q = malloc(cf_row_bytes(tb->type, k));
        for (int64_t r = 0; r < rows; r++) {
            const void *src = (const char *)tb->data + r * cf_row_bytes(tb->type, k);
            cf_dequantize_row_ref(CF_T_F16, (const char *)ta->data + r * cf_row_bytes(CF_T_F16, k), x + r * k, k);
            cf_dequantize_row_ref(tb->type, src, y + r * k, k);
            cf_dequantize_row(tb->type, src, ys, k);
            ck_assert_msg(memcmp(ys, y + r * k, k * sizeof(float)) == 0, "%s row %lld: SIMD dequant differs", tb->name, (long long)r);
            ck_assert_int_eq(cf_quantize_row(tb->type, x + r * k, q, k), 0);
            cf_dequantize_row_ref(tb->type, q, z + r * k, k);
        }
        double eg = tu_nmse(y, x, rows * k), eo = tu_nmse(z, x, rows * k);
        ck_assert_msg(eg < tol, "%s (%s): ggml tensor vs f16 nmse %g >= %g", tb->name, cf_dtype_get(tb->type)->name, eg, tol);
        ck_assert_msg(eo <= eg * TOL_VS_GGML_RATIO, "%s (%s): our nmse %g vs ggml %g", tb->name,
                      cf_dtype_get(tb->type)->name, eo, eg);
        free(x), free(y), free(z), free(ys), free(q);
        checked++;
    }
    ck_assert_int_gt(checked, 0);
    cf_gguf_close(&a);
    cf_gguf_close(&b);
}

START_TEST(test_layout_vs_ggml) {
    if (!tu_have_shared()) return;
    check_vs_ggml("models/synth-llama-spm32k-f16.gguf", "models/synth-llama-spm32k-q4_k_m.gguf"); /* Q4_K, Q6_K */
    check_vs_ggml("models/synth-llama-spm32k-f16.gguf", "models/synth-llama-spm32k-q4_0.gguf");
    check_vs_ggml("models/synth-llama-spm32k-f16.gguf", "models/synth-llama-spm32k-q8_0.gguf");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("quant");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dequant_simd_bitexact);
    tcase_add_test(tc, test_dequant_f16_exhaustive);
    tcase_add_test(tc, test_quant_roundtrip);
    tcase_add_test(tc, test_quantize_api);
    tcase_add_test(tc, test_layout_vs_ggml);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
