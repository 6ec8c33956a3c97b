/* AVX2+FMA small ops.  exp is a vector approximation (n = rne(x log2 e) by the shifter trick,
 * Cody-Waite reduction r = x - n ln2 in two steps, degree-5 minimax polynomial for e^r on
 * [-ln2/2, ln2/2], 2^n from the shifter's low bits; <= 3 ulp), used identically for every
 * element (masked tails), so results do not depend on where a split falls. */
#include <immintrin.h>
#include <math.h>

#include "kernels/ops.h"
#include "kernels/tuning.h"

static const int32_t k_mask_src[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static inline __m256i tail_mask(int64_t r) {
    return _mm256_loadu_si256((const __m256i *)(k_mask_src + 8 - r));
}

static inline float hsum8(__m256 v) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    t = _mm_add_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

static inline float hmax8(__m256 v) {
    __m128 t = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_max_ps(t, _mm_movehl_ps(t, t));
    t = _mm_max_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f /* ln 2 = LN2_HI + LN2_LO (Cody-Waite: n * LN2_HI is exact) */
#define LN2_LO -2.12194440e-4f
/* 1.5 * 2^23 + 127: t = x log2e + SHIFTER rounds x log2e to an integer n (t's ulp is 1) and
 * leaves n + 127 in t's low mantissa bits, so (bits(t) << 23) is 2^n for |n| <= 127. */
#define SHIFTER 12583039.0f

/* e^(s x) for s = +-1 and |x| <= 88 (callers clamp); n = -127 (s x < -87.98) gives 0. */
static inline __m256 exp_sx(__m256 x, float s) {
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(s * LOG2E), _mm256_set1_ps(SHIFTER));
    __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(SHIFTER));
    /* r = s x - n ln2 (s is a constant after inlining: one instruction either way) */
    __m256 r = s > 0 ? _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x) : _mm256_fnmsub_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    /* degree-5 minimax for e^r on [-ln2/2, ln2/2], relative error 7.5e-8 before float rounding */
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(8.297648075e-3f), r, _mm256_set1_ps(4.191543142e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.666757509e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.999889441e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(9.999996918e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.000000072f));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23)));
}

/* x clamped to [-88, 88] (operand order: a NaN x passes through min and max and propagates) */
static inline __m256 clamp88(__m256 x) {
    return _mm256_max_ps(_mm256_set1_ps(-88.0f), _mm256_min_ps(_mm256_set1_ps(88.0f), x));
}

/* e^x; x < -87.98 (incl. -inf) gives 0, x > 88 is clamped to e^88. */
static inline __m256 vexp(__m256 x) { return exp_sx(clamp88(x), 1.0f); }

/* 1/d: reciprocal estimate refined by one Newton step (~2 ulp; cheaper than a divide). */
static inline __m256 recip(__m256 d) {
    __m256 r = _mm256_rcp_ps(d);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0f)));
}

/* silu(g) * u = (g * u) / (1 + e^-g), g clamped to [-88, 88] for the exponential only */
static inline __m256 silu_mul(__m256 g, __m256 u) {
    __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), exp_sx(clamp88(g), -1.0f));
    __m256 r = _mm256_rcp_ps(d);
    /* (g u) * r * (2 - d r): one Newton step on the reciprocal estimate */
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(g, u), r), _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0f)));
}

/* gelu(x) = x * sigmoid(2u) = x * 1/(1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3) */
static inline __m256 gelu8(__m256 x) {
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 u2 = _mm256_mul_ps(x, _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.0f * 0.7978845608028654f * 0.044715f),
                                                 _mm256_set1_ps(-2.0f * 0.7978845608028654f)));
    return _mm256_mul_ps(x, recip(_mm256_add_ps(_mm256_set1_ps(1.0f), vexp(u2))));
}

static void softmax_avx2(const cf_par *p, float *x, int64_t rows, int64_t n) {
    long lo, hi;
    cf_split(p, rows, n, cf_tuning_get()->thresh_softmax, 1, &lo, &hi);
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (long r = lo; r < hi; r++) {
        float *v = x + r * n;
        int64_t i = 0, nv = n & ~(int64_t)7;
        __m256i m = tail_mask(n - nv);
        __m256 mx = ninf;
        for (; i < nv; i += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(v + i));
        if (nv < n)
            mx = _mm256_max_ps(mx,
                               _mm256_blendv_ps(ninf, _mm256_maskload_ps(v + nv, m), _mm256_castsi256_ps(m)));
        __m256 vm = _mm256_set1_ps(hmax8(mx)), sum = _mm256_setzero_ps();
        for (i = 0; i < nv; i += 8) {
            __m256 e = vexp(_mm256_sub_ps(_mm256_loadu_ps(v + i), vm));
            _mm256_storeu_ps(v + i, e);
            sum = _mm256_add_ps(sum, e);
        }
        if (nv < n) {
            __m256 e =
                _mm256_and_ps(vexp(_mm256_sub_ps(_mm256_maskload_ps(v + nv, m), vm)), _mm256_castsi256_ps(m));
            _mm256_maskstore_ps(v + nv, m, e);
            sum = _mm256_add_ps(sum, e);
        }
        __m256 inv = _mm256_set1_ps(1.0f / hsum8(sum));
        for (i = 0; i < nv; i += 8) _mm256_storeu_ps(v + i, _mm256_mul_ps(_mm256_loadu_ps(v + i), inv));
        if (nv < n) _mm256_maskstore_ps(v + nv, m, _mm256_mul_ps(_mm256_maskload_ps(v + nv, m), inv));
    }
}

static void swiglu_avx2(const cf_par *p, float *out, int64_t ld_out, const float *gate, const float *up,
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
        int64_t i = c0;
        for (; i + 8 <= c1; i += 8)
            _mm256_storeu_ps(o + i, silu_mul(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
        if (i < c1) {
            __m256i m = tail_mask(c1 - i);
            _mm256_maskstore_ps(o + i, m,
                                silu_mul(_mm256_maskload_ps(g + i, m), _mm256_maskload_ps(u + i, m)));
        }
    }
}

static void gelu_avx2(const cf_par *p, float *out, const float *x, int64_t n) {
    long lo, hi;
    cf_split(p, n, 1, cf_tuning_get()->thresh_swiglu, CF_OPS_GRANULE, &lo, &hi);
    long i = lo;
    for (; i + 8 <= hi; i += 8) _mm256_storeu_ps(out + i, gelu8(_mm256_loadu_ps(x + i)));
    if (i < hi) {
        __m256i m = tail_mask(hi - i);
        _mm256_maskstore_ps(out + i, m, gelu8(_mm256_maskload_ps(x + i, m)));
    }
}

static void add_avx2(const cf_par *p, float *y, const float *x, int64_t n) {
    long lo, hi;
    cf_split(p, n, 1, cf_tuning_get()->thresh_vec, CF_OPS_GRANULE, &lo, &hi);
    long i = lo;
    for (; i + 16 <= hi; i += 16) {
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
        _mm256_storeu_ps(y + i + 8, _mm256_add_ps(_mm256_loadu_ps(y + i + 8), _mm256_loadu_ps(x + i + 8)));
    }
    for (; i + 8 <= hi; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    if (i < hi) {
        __m256i m = tail_mask(hi - i);
        _mm256_maskstore_ps(y + i, m,
                            _mm256_add_ps(_mm256_maskload_ps(y + i, m), _mm256_maskload_ps(x + i, m)));
    }
}

static void scale_avx2(const cf_par *p, float *y, float s, int64_t n) {
    long lo, hi;
    cf_split(p, n, 1, cf_tuning_get()->thresh_vec, CF_OPS_GRANULE, &lo, &hi);
    __m256 vs = _mm256_set1_ps(s);
    long i = lo;
    for (; i + 16 <= hi; i += 16) {
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), vs));
        _mm256_storeu_ps(y + i + 8, _mm256_mul_ps(_mm256_loadu_ps(y + i + 8), vs));
    }
    for (; i + 8 <= hi; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), vs));
    if (i < hi) {
        __m256i m = tail_mask(hi - i);
        _mm256_maskstore_ps(y + i, m, _mm256_mul_ps(_mm256_maskload_ps(y + i, m), vs));
    }
}

const cf_ops_ops cf_ops_avx2_tbl = {softmax_avx2, swiglu_avx2, gelu_avx2, add_avx2, scale_avx2};
