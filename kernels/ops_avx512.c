/* AVX-512 small ops: the AVX2 path's formulas (same exp range reduction and polynomial, see
 * ops_avx2.c) with 16-lane vectors and mask-register tails; 2^n by vscalefps and the SiLU clamp by
 * vrangeps (AVX-512 DQ). */
#include <immintrin.h>
#include <math.h>

#include "kernels/ops.h"
#include "kernels/tuning.h"

static inline __mmask16 tail_mask(int64_t r) { return (__mmask16)((1u << r) - 1u); }

#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f      /* ln 2 = LN2_HI + LN2_LO (Cody-Waite: n * LN2_HI is exact) */
#define LN2_LO -2.12194440e-4f

/* e^r * 2^n for |r| <= ln2/2 (n integral): degree-5 minimax polynomial for e^r on
 * [-ln2/2, ln2/2] (relative error 7.5e-8 before float rounding), scaled by vscalefps (no
 * exponent-field arithmetic; below 2^-149 it rounds to 0). */
static inline __m512 exp_poly(__m512 r, __m512 n) {
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(8.297648075e-3f), r, _mm512_set1_ps(4.191543142e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.666757509e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.999889441e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.999996918e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.000000072f));
    return _mm512_scalef_ps(p, n);
}

/* e^x: x is clamped to [-105, 88] (e^88 < FLT_MAX; below -104.3 the result rounds to 0, so -inf
 * gives exactly 0); NaN propagates.  n = rne(x log2 e), r = x - n ln2 in two steps. */
static inline __m512 vexp(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-105.0f), _mm512_min_ps(_mm512_set1_ps(88.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    return exp_poly(r, n);
}

/* e^-y for |y| <= 88 (the negation folded into the reduction: r = -y - n ln2). */
static inline __m512 vexp_neg(__m512 y) {
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(y, _mm512_set1_ps(-LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmsub_ps(n, _mm512_set1_ps(LN2_HI), y);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    return exp_poly(r, n);
}

static inline __m512 recip(__m512 d) {
    __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

/* silu(g) * u = (g * u) / (1 + e^-g); g is clamped to [-88, 88] for the exponential only
 * (vrangeps imm 2: the smaller magnitude with g's sign), so e^-g stays finite: g = +inf gives
 * inf * u as the reference does, g < -88 gives g * u * (a value below 1e-38). */
static inline __m512 silu_mul(__m512 g, __m512 u) {
    __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), vexp_neg(_mm512_range_ps(g, _mm512_set1_ps(88.0f), 0x02)));
    __m512 r = _mm512_rcp14_ps(d);
    /* (g u) * r * (2 - d r): one Newton step on the reciprocal estimate */
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(g, u), r), _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

static inline __m512 gelu16(__m512 x) {
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 u2 = _mm512_mul_ps(x, _mm512_fmadd_ps(x2, _mm512_set1_ps(-2.0f * 0.7978845608028654f * 0.044715f),
                                                 _mm512_set1_ps(-2.0f * 0.7978845608028654f)));
    return _mm512_mul_ps(x, recip(_mm512_add_ps(_mm512_set1_ps(1.0f), vexp(u2))));
}

static void softmax_avx512(const cf_par *p, float *x, int64_t rows, int64_t n) {
    long lo, hi;
    cf_split(p, rows, n, cf_tuning_get()->thresh_softmax, 1, &lo, &hi);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (long r = lo; r < hi; r++) {
        float *v = x + r * n;
        __m512 mx = ninf;
        for (int64_t i = 0; i < n; i += 16) {
            __mmask16 m = i + 16 <= n ? (__mmask16)0xFFFF : tail_mask(n - i);
            mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(ninf, m, v + i));
        }
        __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
        for (int64_t i = 0; i < n; i += 16) {
            __mmask16 m = i + 16 <= n ? (__mmask16)0xFFFF : tail_mask(n - i);
            __m512 e = _mm512_maskz_mov_ps(m, vexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, v + i), vm)));
            _mm512_mask_storeu_ps(v + i, m, e);
            sum = _mm512_add_ps(sum, e);
        }
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
        for (int64_t i = 0; i < n; i += 16) {
            __mmask16 m = i + 16 <= n ? (__mmask16)0xFFFF : tail_mask(n - i);
            _mm512_mask_storeu_ps(v + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, v + i), inv));
        }
    }
}

static void swiglu_avx512(const cf_par *p, float *out, int64_t ld_out, const float *gate, const float *up,
                          int64_t ld_in, int64_t rows, int64_t n) {
    if (n <= 0) return;
    int64_t nch = (n + CF_OPS_CHUNK - 1) / CF_OPS_CHUNK;
    long lo, hi;
    cf_split(p, rows * nch, n < CF_OPS_CHUNK ? n : CF_OPS_CHUNK, cf_tuning_get()->thresh_swiglu, 1, &lo, &hi);
    for (long it = lo; it < hi; it++) {
        int64_t r = it / nch, c0 = (it % nch) * CF_OPS_CHUNK,
                c1 = c0 + CF_OPS_CHUNK < n ? c0 + CF_OPS_CHUNK : n;
        const float *g = gate + r * ld_in, *u = up + r * ld_in;
        float *o = out + r * ld_out;
        for (int64_t i = c0; i < c1; i += 16) {
            __mmask16 m = i + 16 <= c1 ? (__mmask16)0xFFFF : tail_mask(c1 - i);
            _mm512_mask_storeu_ps(o + i, m,
                                  silu_mul(_mm512_maskz_loadu_ps(m, g + i), _mm512_maskz_loadu_ps(m, u + i)));
        }
    }
}

static void gelu_avx512(const cf_par *p, float *out, const float *x, int64_t n) {
    long lo, hi;
    cf_split(p, n, 1, cf_tuning_get()->thresh_swiglu, CF_OPS_GRANULE, &lo, &hi);
    for (long i = lo; i < hi; i += 16) {
        __mmask16 m = i + 16 <= hi ? (__mmask16)0xFFFF : tail_mask(hi - i);
        _mm512_mask_storeu_ps(out + i, m, gelu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

static void add_avx512(const cf_par *p, float *y, const float *x, int64_t n) {
    long lo, hi;
    cf_split(p, n, 1, cf_tuning_get()->thresh_vec, CF_OPS_GRANULE, &lo, &hi);
    for (long i = lo; i < hi; i += 16) {
        __mmask16 m = i + 16 <= hi ? (__mmask16)0xFFFF : tail_mask(hi - i);
        _mm512_mask_storeu_ps(
            y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, x + i)));
    }
}

static void scale_avx512(const cf_par *p, float *y, float s, int64_t n) {
    long lo, hi;
    cf_split(p, n, 1, cf_tuning_get()->thresh_vec, CF_OPS_GRANULE, &lo, &hi);
    __m512 vs = _mm512_set1_ps(s);
    for (long i = lo; i < hi; i += 16) {
        __mmask16 m = i + 16 <= hi ? (__mmask16)0xFFFF : tail_mask(hi - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), vs));
    }
}

const cf_ops_ops cf_ops_avx512_tbl = {softmax_avx512, swiglu_avx512, gelu_avx512, add_avx512, scale_avx512};
