/* RMSNorm / head-norm: precondition checks and run-time dispatch to the active ISA's table. */
#include "kernels/norm.h"

#include <assert.h>
#include <stddef.h>

extern const cf_norm_ops cf_norm_ops_ref_tbl, cf_norm_ops_avx2_tbl, cf_norm_ops_avx512_tbl;

const cf_norm_ops *cf_norm_ops_for(cf_isa isa) {
    switch (isa) {
    case CF_ISA_REF: return &cf_norm_ops_ref_tbl;
    case CF_ISA_AVX2: return &cf_norm_ops_avx2_tbl;
    case CF_ISA_AVX512:
    case CF_ISA_AVX512VNNI: return &cf_norm_ops_avx512_tbl;
    default: return &cf_norm_ops_ref_tbl;
    }
}

void cf_rmsnorm(const cf_par *p, float *y, const float *x, const float *w, int64_t rows, int64_t n,
                float eps) {
    assert(p && y && x && rows >= 0 && n > 0 && eps >= 0);
    cf_norm_ops_for(cf_isa_active())->rmsnorm(p, y, x, w, rows, n, eps);
}

void cf_rmsnorm_add(const cf_par *p, float *y, float *res, const float *x, const float *w, int64_t rows,
                    int64_t n, float eps) {
    assert(p && y && res && x && rows >= 0 && n > 0 && eps >= 0);
    cf_norm_ops_for(cf_isa_active())->rmsnorm_add(p, y, res, x, w, rows, n, eps);
}

void cf_headnorm(const cf_par *p, float *x, int64_t rows, int64_t ld, int n_heads, int head_dim,
                 const float *w, float eps) {
    assert(p && x && rows >= 0 && n_heads > 0 && head_dim > 0 && ld >= (int64_t)n_heads * head_dim);
    cf_norm_ops_for(cf_isa_active())->headnorm(p, x, rows, ld, n_heads, head_dim, w, eps);
}
