/* Machine-limit probes (see roofline.h).  The inner loops are compiled per ISA with function
 * target attributes and chosen at run time from cf_cpu(), so this file needs no global flags. */
#include "bench/roofline.h"

#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"

enum { MAX_NTH = 256, PASSES = 4 };

static cf_roofline g_cache[MAX_NTH + 1];
static int g_have[MAX_NTH + 1];

void cf_roofline_reset(void) { memset(g_have, 0, sizeof g_have); }

/* ---- inner loops ---- */

__attribute__((target("avx2"))) static uint64_t read_avx2(const void *buf, size_t bytes) {
    const __m256i *p = buf;
    size_t n = bytes / 32;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        a0 = _mm256_xor_si256(a0, _mm256_load_si256(p + i));
        a1 = _mm256_xor_si256(a1, _mm256_load_si256(p + i + 1));
        a2 = _mm256_xor_si256(a2, _mm256_load_si256(p + i + 2));
        a3 = _mm256_xor_si256(a3, _mm256_load_si256(p + i + 3));
        a0 = _mm256_xor_si256(a0, _mm256_load_si256(p + i + 4));
        a1 = _mm256_xor_si256(a1, _mm256_load_si256(p + i + 5));
        a2 = _mm256_xor_si256(a2, _mm256_load_si256(p + i + 6));
        a3 = _mm256_xor_si256(a3, _mm256_load_si256(p + i + 7));
    }
    __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    return (uint64_t)_mm256_extract_epi64(a, 0) ^ (uint64_t)_mm256_extract_epi64(a, 3);
}

static uint64_t read_scalar(const void *buf, size_t bytes) {
    const uint64_t *p = buf;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i + 4 <= bytes / 8; i += 4) a0 ^= p[i], a1 ^= p[i + 1], a2 ^= p[i + 2], a3 ^= p[i + 3];
    return a0 ^ a1 ^ a2 ^ a3;
}

#define FMA_ITERS 400000L
#define INT8_ITERS 400000L

/* 12 independent FMA chains; returns flops. */
__attribute__((target("avx2,fma"))) static double fma_avx2(float *sink) {
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    __m256 a[12];
    for (int k = 0; k < 12; k++) a[k] = _mm256_set1_ps((float)k);
    for (long i = 0; i < FMA_ITERS; i++)
#pragma GCC unroll 16
        for (int k = 0; k < 12; k++) a[k] = _mm256_fmadd_ps(a[k], m, c);
    __m256 s = a[0];
    for (int k = 1; k < 12; k++) s = _mm256_add_ps(s, a[k]);
    *sink += _mm256_cvtss_f32(s);
    return (double)FMA_ITERS * 12 * 8 * 2;
}

__attribute__((target("avx512f"))) static double fma_avx512(float *sink) {
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    __m512 a[16];
    for (int k = 0; k < 16; k++) a[k] = _mm512_set1_ps((float)k);
    for (long i = 0; i < FMA_ITERS; i++)
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) a[k] = _mm512_fmadd_ps(a[k], m, c);
    __m512 s = a[0];
    for (int k = 1; k < 16; k++) s = _mm512_add_ps(s, a[k]);
    *sink += _mm512_reduce_add_ps(s);
    return (double)FMA_ITERS * 16 * 16 * 2;
}

static double fma_scalar(float *sink) {
    float a[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    long it = FMA_ITERS / 8;
    for (long i = 0; i < it; i++)
        for (int k = 0; k < 8; k++) a[k] = a[k] * 0.999999f + 1e-7f;
    for (int k = 0; k < 8; k++) *sink += a[k];
    return (double)it * 8 * 2;
}

/* The u8 x s8 dot step the integer kernels use: maddubs (pairs to i16), madd with ones (to i32),
 * add to the accumulator.  The empty asm keeps the inputs "changing" so nothing is hoisted. */
__attribute__((target("avx2"))) static double int8_avx2(float *sink) {
    /* 8 distinct (u8, s8) operand pairs so no step can be shared between chains */
    __m256i u0 = _mm256_set1_epi8(3), u1 = _mm256_set1_epi8(5), u2 = _mm256_set1_epi8(7),
            u3 = _mm256_set1_epi8(9);
    __m256i s0 = _mm256_set1_epi8(-2), s1 = _mm256_set1_epi8(4), ones = _mm256_set1_epi16(1);
    __m256i a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm256_setzero_si256();
    for (long i = 0; i < INT8_ITERS; i++) {
        __asm__ volatile("" : "+x"(u0), "+x"(u1), "+x"(u2), "+x"(u3), "+x"(s0), "+x"(s1));
        a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(_mm256_maddubs_epi16(u0, s0), ones));
        a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(_mm256_maddubs_epi16(u1, s0), ones));
        a[2] = _mm256_add_epi32(a[2], _mm256_madd_epi16(_mm256_maddubs_epi16(u2, s0), ones));
        a[3] = _mm256_add_epi32(a[3], _mm256_madd_epi16(_mm256_maddubs_epi16(u3, s0), ones));
        a[4] = _mm256_add_epi32(a[4], _mm256_madd_epi16(_mm256_maddubs_epi16(u0, s1), ones));
        a[5] = _mm256_add_epi32(a[5], _mm256_madd_epi16(_mm256_maddubs_epi16(u1, s1), ones));
        a[6] = _mm256_add_epi32(a[6], _mm256_madd_epi16(_mm256_maddubs_epi16(u2, s1), ones));
        a[7] = _mm256_add_epi32(a[7], _mm256_madd_epi16(_mm256_maddubs_epi16(u3, s1), ones));
    }
    __m256i s = a[0];
    for (int k = 1; k < 8; k++) s = _mm256_add_epi32(s, a[k]);
    *sink += (float)_mm256_extract_epi32(s, 0);
    return (double)INT8_ITERS * 8 * 32 * 2;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static double int8_vnni(float *sink) {
    __m512i u0 = _mm512_set1_epi8(3), u1 = _mm512_set1_epi8(5), u2 = _mm512_set1_epi8(7);
    __m512i s0 = _mm512_set1_epi8(-2), s1 = _mm512_set1_epi8(4), s2 = _mm512_set1_epi8(6),
            s3 = _mm512_set1_epi8(-8);
    __m512i a[12];
    for (int k = 0; k < 12; k++) a[k] = _mm512_setzero_si512();
    for (long i = 0; i < INT8_ITERS; i++) {
        __asm__ volatile("" : "+v"(u0), "+v"(u1), "+v"(u2), "+v"(s0), "+v"(s1), "+v"(s2), "+v"(s3));
        a[0] = _mm512_dpbusd_epi32(a[0], u0, s0);
        a[1] = _mm512_dpbusd_epi32(a[1], u1, s0);
        a[2] = _mm512_dpbusd_epi32(a[2], u2, s0);
        a[3] = _mm512_dpbusd_epi32(a[3], u0, s1);
        a[4] = _mm512_dpbusd_epi32(a[4], u1, s1);
        a[5] = _mm512_dpbusd_epi32(a[5], u2, s1);
        a[6] = _mm512_dpbusd_epi32(a[6], u0, s2);
        a[7] = _mm512_dpbusd_epi32(a[7], u1, s2);
        a[8] = _mm512_dpbusd_epi32(a[8], u2, s2);
        a[9] = _mm512_dpbusd_epi32(a[9], u0, s3);
        a[10] = _mm512_dpbusd_epi32(a[10], u1, s3);
        a[11] = _mm512_dpbusd_epi32(a[11], u2, s3);
    }
    __m512i s = a[0];
    for (int k = 1; k < 12; k++) s = _mm512_add_epi32(s, a[k]);
    *sink += (float)_mm512_reduce_add_epi32(s);
    return (double)INT8_ITERS * 12 * 64 * 2;
}

static double int8_scalar(float *sink) {
    int32_t a[8] = {0};
    int8_t x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    long it = INT8_ITERS / 8;
    for (long i = 0; i < it; i++) {
        __asm__ volatile("" : "+r"(x[0]));
        for (int k = 0; k < 8; k++) a[k] += x[k] * x[(k + 1) & 7];
    }
    for (int k = 0; k < 8; k++) *sink += (float)a[k];
    return (double)it * 8 * 2;
}

/* ---- the team ---- */

typedef struct {
    char *buf;
    size_t bytes;
    int kind_fp, kind_i8, has_avx2;
    double t_read, t_fma, t_int8; /* best seconds per pass */
    double fma_ops, int8_ops;     /* per thread per pass */
    volatile float sink;
} probe;

static void probe_fn(const cf_par *p, void *arg) {
    probe *pr = arg;
    size_t per = pr->bytes / (size_t)p->nth / 64 * 64;
    char *mine = pr->buf + per * (size_t)p->ith;
    float sink = 0;
    uint64_t x = 0;
    if (per) memset(mine, 1 + p->ith, per); /* first touch by the reading thread (and warm-up) */
    for (int pass = 0; per && pass < PASSES; pass++) {
        cf_barrier(p);
        double t0 = cf_now_s();
        x ^= pr->has_avx2 ? read_avx2(mine, per) : read_scalar(mine, per);
        cf_barrier(p);
        double dt = cf_now_s() - t0;
        if (p->ith == 0 && (pass == 0 || dt < pr->t_read)) pr->t_read = dt;
    }
    for (int pass = 0; pass < 3; pass++) {
        cf_barrier(p);
        double t0 = cf_now_s();
        double ops = pr->kind_fp == 2   ? fma_avx512(&sink)
                     : pr->kind_fp == 1 ? fma_avx2(&sink)
                                        : fma_scalar(&sink);
        cf_barrier(p);
        double dt = cf_now_s() - t0;
        if (p->ith == 0 && (pass == 0 || dt < pr->t_fma)) pr->t_fma = dt, pr->fma_ops = ops;
    }
    for (int pass = 0; pass < 3; pass++) {
        cf_barrier(p);
        double t0 = cf_now_s();
        double ops = pr->kind_i8 == 2   ? int8_vnni(&sink)
                     : pr->kind_i8 == 1 ? int8_avx2(&sink)
                                        : int8_scalar(&sink);
        cf_barrier(p);
        double dt = cf_now_s() - t0;
        if (p->ith == 0 && (pass == 0 || dt < pr->t_int8)) pr->t_int8 = dt, pr->int8_ops = ops;
    }
    pr->sink += sink + (float)(x & 1);
}

void cf_roofline_measure(int nth, cf_roofline *out) {
    if (nth <= 0) nth = cf_default_threads();
    if (nth > MAX_NTH) nth = MAX_NTH;
    if (g_have[nth]) {
        *out = g_cache[nth];
        return;
    }
    const cf_cpu_info *c = cf_cpu();
    double t0 = cf_now_s();
    probe pr;
    memset(&pr, 0, sizeof pr);
    pr.bytes = (4 * c->l3 > (128u << 20) ? 4 * c->l3 : (128u << 20)) / 4096 * 4096;
    pr.has_avx2 = c->avx2;
    pr.kind_fp = c->avx512f ? 2 : (c->avx2 && c->fma) ? 1 : 0;
    pr.kind_i8 = (c->avx512f && c->avx512bw && c->avx512vnni) ? 2 : c->avx2 ? 1 : 0;
    pr.buf = aligned_alloc(64, pr.bytes);
    if (!pr.buf) pr.bytes = 0; /* no memory for the bandwidth buffer: compute probes only */
    cf_roofline r = {nth, 0, 0, 0, "scalar", "scalar", 0};
    cf_parallel_run(nth, probe_fn, &pr);
    size_t per = pr.bytes / (size_t)nth / 64 * 64;
    if (per && pr.t_read > 0) r.dram_gbs = (double)per * nth / pr.t_read / 1e9;
    free(pr.buf);
    r.fp32_gflops = pr.t_fma > 0 ? pr.fma_ops * nth / pr.t_fma / 1e9 : 0;
    r.int8_gops = pr.t_int8 > 0 ? pr.int8_ops * nth / pr.t_int8 / 1e9 : 0;
    r.fp32_kind = pr.kind_fp == 2 ? "avx512 fma" : pr.kind_fp == 1 ? "avx2 fma" : "scalar";
    r.int8_kind = pr.kind_i8 == 2   ? "avx512vnni vpdpbusd"
                  : pr.kind_i8 == 1 ? "avx2 vpmaddubsw+vpmaddwd"
                                    : "scalar";
    r.seconds = cf_now_s() - t0;
    g_cache[nth] = r;
    g_have[nth] = 1;
    *out = r;
}
