/* Scalar reference RMSNorm (the spec): sum of squares in double, scale rounded to float once,
 * y = (x * scale) * w in float. */
#include <math.h>

#include "kernels/norm.h"
#include "kernels/tuning.h"

static float rms_scale(const float *x, int64_t n, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    return (float)(1.0 / sqrt(ss / (double)n + eps));
}

static void norm_row(float *y, const float *x, const float *w, int64_t n, float eps) {
    float s = rms_scale(x, n, eps);
    for (int64_t i = 0; i < n; i++) y[i] = w ? (x[i] * s) * w[i] : x[i] * s;
}

static void rmsnorm_ref(const cf_par *p, float *y, const float *x, const float *w, int64_t rows, int64_t n,
                        float eps) {
    long lo, hi;
    cf_split(p, rows, n, cf_tuning_get()->thresh_rmsnorm, 1, &lo, &hi);
    for (long r = lo; r < hi; r++) norm_row(y + r * n, x + r * n, w, n, eps);
}

static void rmsnorm_add_ref(const cf_par *p, float *y, float *res, const float *x, const float *w,
                            int64_t rows, int64_t n, float eps) {
    long lo, hi;
    cf_split(p, rows, n, cf_tuning_get()->thresh_rmsnorm, 1, &lo, &hi);
    for (long r = lo; r < hi; r++) {
        float *rr = res + r * n;
        for (int64_t i = 0; i < n; i++) rr[i] += x[r * n + i];
        norm_row(y + r * n, rr, w, n, eps);
    }
}

static void headnorm_ref(const cf_par *p, float *x, int64_t rows, int64_t ld, int n_heads, int head_dim,
                         const float *w, float eps) {
    long lo, hi;
    cf_split(p, rows * n_heads, head_dim, cf_tuning_get()->thresh_qknorm, 1, &lo, &hi);
    for (long it = lo; it < hi; it++) {
        float *v = x + (it / n_heads) * ld + (it % n_heads) * head_dim;
        norm_row(v, v, w, head_dim, eps);
    }
}

const cf_norm_ops cf_norm_ops_ref_tbl = {rmsnorm_ref, rmsnorm_add_ref, headnorm_ref};
