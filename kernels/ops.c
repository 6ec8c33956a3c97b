/* Small ops: precondition checks, run-time dispatch, and the embedding lookup (which only
 * dequantizes rows: cf_dequantize_row does its own ISA dispatch). */
#include "kernels/ops.h"

#include <assert.h>
#include <stddef.h>

#include "kernels/quant.h"
#include "kernels/tuning.h"

extern const cf_ops_ops cf_ops_ref_tbl, cf_ops_avx2_tbl, cf_ops_avx512_tbl;

const cf_ops_ops *cf_ops_for(cf_isa isa) {
    switch (isa) {
    case CF_ISA_REF: return &cf_ops_ref_tbl;
    case CF_ISA_AVX2: return &cf_ops_avx2_tbl;
    case CF_ISA_AVX512:
    case CF_ISA_AVX512VNNI: return &cf_ops_avx512_tbl;
    default: return &cf_ops_ref_tbl;
    }
}

static const cf_ops_ops *ops(void) { return cf_ops_for(cf_isa_active()); }

void cf_softmax(const cf_par *p, float *x, int64_t rows, int64_t n) {
    assert(p && x && rows >= 0 && n >= 1);
    ops()->softmax(p, x, rows, n);
}

void cf_swiglu(const cf_par *p, float *out, int64_t ld_out, const float *gate, const float *up, int64_t ld_in,
               int64_t rows, int64_t n) {
    assert(p && out && gate && up && rows >= 0 && n >= 0 && ld_out >= n && ld_in >= n);
    ops()->swiglu(p, out, ld_out, gate, up, ld_in, rows, n);
}

void cf_gelu(const cf_par *p, float *out, const float *x, int64_t n) {
    assert(p && out && x && n >= 0);
    ops()->gelu(p, out, x, n);
}

void cf_add(const cf_par *p, float *y, const float *x, int64_t n) {
    assert(p && y && x && n >= 0);
    ops()->add(p, y, x, n);
}

void cf_scale(const cf_par *p, float *y, float s, int64_t n) {
    assert(p && y && n >= 0);
    ops()->scale(p, y, s, n);
}

void cf_embed(const cf_par *p, float *out, const void *table, int type, int64_t dim, const int32_t *ids,
              int64_t n_tok) {
    size_t rb = cf_row_bytes(type, dim);
    assert(p && out && table && ids && n_tok >= 0 && dim > 0 && rb > 0);
    long lo, hi;
    cf_split(p, n_tok, dim, cf_tuning_get()->thresh_embed, 1, &lo, &hi);
    for (long t = lo; t < hi; t++)
        cf_dequantize_row(type, (const char *)table + (size_t)ids[t] * rb, out + t * dim, dim);
}
