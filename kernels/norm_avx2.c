/* AVX2+FMA RMSNorm.  Sum of squares in 4 x 8 float lanes (fixed combination order), tails via
 * masked loads, so a row's result depends only on the row (batch and thread invariant). */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/norm.h"
#include "kernels/norm_priv.h"
#include "kernels/tuning.h"

static const int32_t k_mask_src[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
/* Lanes [0, r) set, r in 0..8. */
static inline __m256i tail_mask(int64_t r) {
    return _mm256_loadu_si256((const __m256i *)(k_mask_src + 8 - r));
}

static inline float hsum8(__m256 v) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    t = _mm_add_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

static inline float sumsq(const float *x, int64_t n) {
    __m256 a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 8; k++) {
            __m256 v = _mm256_loadu_ps(x + i + 8 * k);
            a[k] = _mm256_fmadd_ps(v, v, a[k]);
        }
    for (int k = 0; i + 8 <= n; i += 8, k++) {
        __m256 v = _mm256_loadu_ps(x + i);
        a[k] = _mm256_fmadd_ps(v, v, a[k]);
    }
    if (i < n) {
        __m256 v = _mm256_maskload_ps(x + i, tail_mask(n - i));
        a[7] = _mm256_fmadd_ps(v, v, a[7]);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])),
                             _mm256_add_ps(_mm256_add_ps(a[4], a[5]), _mm256_add_ps(a[6], a[7])));
    return hsum8(s);
}

static inline float rms_scale(const float *x, int64_t n, float eps) {
    return 1.0f / sqrtf(sumsq(x, n) / (float)n + eps);
}

/* y = (x * s) * w  (w NULL: y = x * s) for elements [i0, i1) (masked, i1 - i0 <= 8) */
static inline void scale_part(float *y, const float *x, const float *w, __m256 vs, int64_t i0, int64_t i1) {
    __m256i m = tail_mask(i1 - i0);
    __m256 a = _mm256_mul_ps(_mm256_maskload_ps(x + i0, m), vs);
    _mm256_maskstore_ps(y + i0, m, w ? _mm256_mul_ps(a, _mm256_maskload_ps(w + i0, m)) : a);
}

/* y = (x * s) * w  (w NULL: y = x * s).  nt: the 32-byte aligned body of y is written with
 * non-temporal stores (no read-for-ownership of y; same values). */
static inline void scale_row(float *y, const float *x, const float *w, float s, int64_t n, int nt) {
    __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    if (nt) {
        int64_t head = (int64_t)((32 - ((uintptr_t)y & 31)) & 31) / 4;
        if (head > n) head = n;
        if (head) scale_part(y, x, w, vs, 0, head);
        for (i = head; i + 8 <= n; i += 8) {
            __m256 a = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
            _mm256_stream_ps(y + i, w ? _mm256_mul_ps(a, _mm256_loadu_ps(w + i)) : a);
        }
        if (i < n) scale_part(y, x, w, vs, i, n);
        return;
    }
    if (w) {
        for (; i + 16 <= n; i += 16) {
            __m256 a = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
            __m256 b = _mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vs);
            _mm256_storeu_ps(y + i, _mm256_mul_ps(a, _mm256_loadu_ps(w + i)));
            _mm256_storeu_ps(y + i + 8, _mm256_mul_ps(b, _mm256_loadu_ps(w + i + 8)));
        }
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(
                y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
    } else {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    }
    if (i < n) scale_part(y, x, w, vs, i, n);
}

/* res += x, returning sum of squares of the new res (same lane order as sumsq). */
static inline float add_sumsq(float *res, const float *x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = _mm256_add_ps(_mm256_loadu_ps(res + i), _mm256_loadu_ps(x + i));
        __m256 v1 = _mm256_add_ps(_mm256_loadu_ps(res + i + 8), _mm256_loadu_ps(x + i + 8));
        __m256 v2 = _mm256_add_ps(_mm256_loadu_ps(res + i + 16), _mm256_loadu_ps(x + i + 16));
        __m256 v3 = _mm256_add_ps(_mm256_loadu_ps(res + i + 24), _mm256_loadu_ps(x + i + 24));
        _mm256_storeu_ps(res + i, v0);
        _mm256_storeu_ps(res + i + 8, v1);
        _mm256_storeu_ps(res + i + 16, v2);
        _mm256_storeu_ps(res + i + 24, v3);
        a0 = _mm256_fmadd_ps(v0, v0, a0);
        a1 = _mm256_fmadd_ps(v1, v1, a1);
        a2 = _mm256_fmadd_ps(v2, v2, a2);
        a3 = _mm256_fmadd_ps(v3, v3, a3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(res + i), _mm256_loadu_ps(x + i));
        _mm256_storeu_ps(res + i, v);
        a0 = _mm256_fmadd_ps(v, v, a0);
    }
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 v = _mm256_add_ps(_mm256_maskload_ps(res + i, m), _mm256_maskload_ps(x + i, m));
        _mm256_maskstore_ps(res + i, m, v);
        a1 = _mm256_fmadd_ps(v, v, a1);
    }
    return hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

static void rmsnorm_avx2(const cf_par *p, float *y, const float *x, const float *w, int64_t rows, int64_t n,
                         float eps) {
    long lo, hi;
    cf_split(p, rows, n, cf_tuning_get()->thresh_rmsnorm, 1, &lo, &hi);
    int nt = cf_norm_stream_output(y, x, rows, n);
    for (long r = lo; r < hi; r++) {
        const float *xr = x + r * n;
        scale_row(y + r * n, xr, w, rms_scale(xr, n, eps), n, nt);
    }
    if (nt) _mm_sfence(); /* order the streamed stores before the caller's barrier */
}

static void rmsnorm_add_avx2(const cf_par *p, float *y, float *res, const float *x, const float *w,
                             int64_t rows, int64_t n, float eps) {
    long lo, hi;
    cf_split(p, rows, n, cf_tuning_get()->thresh_rmsnorm, 1, &lo, &hi);
    int nt = cf_norm_stream_output(y, res, rows, n);
    for (long r = lo; r < hi; r++) {
        float *rr = res + r * n;
        float s = 1.0f / sqrtf(add_sumsq(rr, x + r * n, n) / (float)n + eps);
        scale_row(y + r * n, rr, w, s, n, nt);
    }
    if (nt) _mm_sfence();
}

static void headnorm_avx2(const cf_par *p, float *x, int64_t rows, int64_t ld, int n_heads, int head_dim,
                          const float *w, float eps) {
    long lo, hi;
    cf_split(p, rows * n_heads, head_dim, cf_tuning_get()->thresh_qknorm, 1, &lo, &hi);
    if (lo >= hi) return;
    int64_t row = lo / n_heads;
    int h = (int)(lo % n_heads);
    for (long it = lo; it < hi; it++) {
        float *v = x + row * ld + (int64_t)h * head_dim;
        scale_row(v, v, w, rms_scale(v, head_dim, eps), head_dim, 0);
        if (++h == n_heads) h = 0, row++;
    }
}

const cf_norm_ops cf_norm_ops_avx2_tbl = {rmsnorm_avx2, rmsnorm_add_avx2, headnorm_avx2};
