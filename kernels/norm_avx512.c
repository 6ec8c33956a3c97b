/* AVX-512 RMSNorm: the AVX2 path's structure with 16-lane vectors and mask-register tails. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/norm.h"
#include "kernels/norm_priv.h"
#include "kernels/tuning.h"

static inline __mmask16 tail_mask(int64_t r) { return (__mmask16)((1u << r) - 1u); }

static inline float sumsq(const float *x, int64_t n) {
    __m512 a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 128 <= n; i += 128)
        for (int k = 0; k < 8; k++) {
            __m512 v = _mm512_loadu_ps(x + i + 16 * k);
            a[k] = _mm512_fmadd_ps(v, v, a[k]);
        }
    for (int k = 0; i + 16 <= n; i += 16, k++) {
        __m512 v = _mm512_loadu_ps(x + i);
        a[k] = _mm512_fmadd_ps(v, v, a[k]);
    }
    if (i < n) {
        __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
        a[7] = _mm512_fmadd_ps(v, v, a[7]);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3])),
                             _mm512_add_ps(_mm512_add_ps(a[4], a[5]), _mm512_add_ps(a[6], a[7])));
    return _mm512_reduce_add_ps(s);
}

static inline float rms_scale(const float *x, int64_t n, float eps) {
    return 1.0f / sqrtf(sumsq(x, n) / (float)n + eps);
}

/* y = (x * s) * w (w NULL: y = x * s); nt: the 64-byte aligned body of y is streamed. */
static inline void scale_row(float *y, const float *x, const float *w, float s, int64_t n, int nt) {
    __m512 vs = _mm512_set1_ps(s);
    int64_t i = 0;
    if (nt) {
        int64_t head = (int64_t)((64 - ((uintptr_t)y & 63)) & 63) / 4;
        if (head > n) head = n;
        if (head) {
            __mmask16 m = tail_mask(head);
            __m512 a = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x), vs);
            _mm512_mask_storeu_ps(y, m, w ? _mm512_mul_ps(a, _mm512_maskz_loadu_ps(m, w)) : a);
        }
        for (i = head; i + 16 <= n; i += 16) {
            __m512 a = _mm512_mul_ps(_mm512_loadu_ps(x + i), vs);
            _mm512_stream_ps(y + i, w ? _mm512_mul_ps(a, _mm512_loadu_ps(w + i)) : a);
        }
    } else {
        for (; i + 16 <= n; i += 16) {
            __m512 a = _mm512_mul_ps(_mm512_loadu_ps(x + i), vs);
            _mm512_storeu_ps(y + i, w ? _mm512_mul_ps(a, _mm512_loadu_ps(w + i)) : a);
        }
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 a = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
        _mm512_mask_storeu_ps(y + i, m, w ? _mm512_mul_ps(a, _mm512_maskz_loadu_ps(m, w + i)) : a);
    }
}

static inline float add_sumsq(float *res, const float *x, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 v0 = _mm512_add_ps(_mm512_loadu_ps(res + i), _mm512_loadu_ps(x + i));
        __m512 v1 = _mm512_add_ps(_mm512_loadu_ps(res + i + 16), _mm512_loadu_ps(x + i + 16));
        _mm512_storeu_ps(res + i, v0);
        _mm512_storeu_ps(res + i + 16, v1);
        a0 = _mm512_fmadd_ps(v0, v0, a0);
        a1 = _mm512_fmadd_ps(v1, v1, a1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(res + i), _mm512_loadu_ps(x + i));
        _mm512_storeu_ps(res + i, v);
        a0 = _mm512_fmadd_ps(v, v, a0);
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, res + i), _mm512_maskz_loadu_ps(m, x + i));
        _mm512_mask_storeu_ps(res + i, m, v);
        a1 = _mm512_fmadd_ps(v, v, a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

static void rmsnorm_avx512(const cf_par *p, float *y, const float *x, const float *w, int64_t rows, int64_t n,
                           float eps) {
    long lo, hi;
    cf_split(p, rows, n, cf_tuning_get()->thresh_rmsnorm, 1, &lo, &hi);
    int nt = cf_norm_stream_output(y, x, rows, n);
    for (long r = lo; r < hi; r++) {
        const float *xr = x + r * n;
        scale_row(y + r * n, xr, w, rms_scale(xr, n, eps), n, nt);
    }
    if (nt) _mm_sfence();
}

static void rmsnorm_add_avx512(const cf_par *p, float *y, float *res, const float *x, const float *w,
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

static void headnorm_avx512(const cf_par *p, float *x, int64_t rows, int64_t ld, int n_heads, int head_dim,
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

const cf_norm_ops cf_norm_ops_avx512_tbl = {rmsnorm_avx512, rmsnorm_add_avx512, headnorm_avx512};
