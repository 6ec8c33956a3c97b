/* RMSNorm and per-head Q/K norm.  Rows split across the team (threshold thresh_rmsnorm /
 * thresh_qknorm, in elements); no barrier at the end.  Each row is computed identically
 * whatever the number of rows (batch invariance).
 *   y[r][i] = x[r][i] / sqrt(mean_i(x[r]^2) + eps) * w[i]      (w may be NULL: no weight)
 * Computed as (x * s) * w with s = 1/sqrt(sum_sq/n + eps) in float.  An output larger than the L3
 * (and not aliasing the input) is written with non-temporal stores: same values, no read of y.
 * Preconditions (asserted): rows >= 0, n > 0 (head_dim > 0, ld >= n_heads * head_dim), eps >= 0. */
#ifndef CF_NORM_H
#define CF_NORM_H
#include <stdint.h>

#include "kernels/cpu.h"
#include "kernels/parallel.h"

/* x, y: rows x n (row strides n); y may alias x. */
void cf_rmsnorm(const cf_par *p, float *y, const float *x, const float *w, int64_t rows, int64_t n,
                float eps);
/* Fused residual: res[r] += x[r]; then y[r] = rmsnorm(res[r]) * w.  (res, x, y: rows x n) */
void cf_rmsnorm_add(const cf_par *p, float *y, float *res, const float *x, const float *w,
                    int64_t rows, int64_t n, float eps);
/* Per-head norm in place: x is rows x n_heads x head_dim (row stride ld floats); each head
 * vector is RMS-normalised over head_dim and scaled by w[head_dim]. */
void cf_headnorm(const cf_par *p, float *x, int64_t rows, int64_t ld, int n_heads, int head_dim,
                 const float *w, float eps);

typedef struct {
    void (*rmsnorm)(const cf_par *p, float *y, const float *x, const float *w, int64_t rows,
                    int64_t n, float eps);
    void (*rmsnorm_add)(const cf_par *p, float *y, float *res, const float *x, const float *w,
                        int64_t rows, int64_t n, float eps);
    void (*headnorm)(const cf_par *p, float *x, int64_t rows, int64_t ld, int n_heads,
                     int head_dim, const float *w, float eps);
} cf_norm_ops;
const cf_norm_ops *cf_norm_ops_for(cf_isa isa);

#endif
