/* Scalar reference small ops (the spec): libm expf/tanhf, softmax sum in double. */
#include <math.h>

#include "kernels/ops.h"
#include "kernels/tuning.h"

static void softmax_ref(const cf_par *p, float *x, int64_t rows, int64_t n) {
    long lo, hi;
    cf_split(p, rows, n, cf_tuning_get()->thresh_softmax, 1, &lo, &hi);
    for (long r = lo; r < hi; r++) {
        float *v = x + r * n, mx = -INFINITY;
        for (int64_t i = 0; i < n; i++) mx = v[i] > mx ? v[i] : mx;
        double sum = 0;
        for (int64_t i = 0; i < n; i++) {
            v[i] = expf(v[i] - mx);
            sum += v[i];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < n; i++) v[i] *= inv;
    }
}

static void swiglu_ref(const cf_par *p, float *out, int64_t ld_out, const float *gate, const float *up,
                       int64_t ld_in, int64_t rows, int64_t n) {
    long lo, hi;
    cf_split(p, rows, n, cf_tuning_get()->thresh_swiglu, 1, &lo, &hi);
    for (long r = lo; r < hi; r++)
        for (int64_t i = 0; i < n; i++) {
            float g = gate[r * ld_in + i];
            out[r * ld_out + i] = g / (1.0f + expf(-g)) * up[r * ld_in + i];
        }
}

static void gelu_ref(const cf_par *p, float *out, const float *x, int64_t n) {
    long lo, hi;
    cf_split(p, n, 1, cf_tuning_get()->thresh_swiglu, CF_OPS_GRANULE, &lo, &hi);
    for (long i = lo; i < hi; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    }
}

static void add_ref(const cf_par *p, float *y, const float *x, int64_t n) {
    long lo, hi;
    cf_split(p, n, 1, cf_tuning_get()->thresh_vec, CF_OPS_GRANULE, &lo, &hi);
    for (long i = lo; i < hi; i++) y[i] += x[i];
}

static void scale_ref(const cf_par *p, float *y, float s, int64_t n) {
    long lo, hi;
    cf_split(p, n, 1, cf_tuning_get()->thresh_vec, CF_OPS_GRANULE, &lo, &hi);
    for (long i = lo; i < hi; i++) y[i] *= s;
}

const cf_ops_ops cf_ops_ref_tbl = {softmax_ref, swiglu_ref, gelu_ref, add_ref, scale_ref};
