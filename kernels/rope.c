/* RoPE: precondition checks and run-time dispatch to the active ISA's table. */
#include "kernels/rope.h"

#include <assert.h>
#include <stddef.h>

extern const cf_rope_ops cf_rope_ops_ref_tbl, cf_rope_ops_avx2_tbl, cf_rope_ops_avx512_tbl;

const cf_rope_ops *cf_rope_ops_for(cf_isa isa) {
    switch (isa) {
    case CF_ISA_REF: return &cf_rope_ops_ref_tbl;
    case CF_ISA_AVX2: return &cf_rope_ops_avx2_tbl;
    case CF_ISA_AVX512:
    case CF_ISA_AVX512VNNI: return &cf_rope_ops_avx512_tbl;
    default: return &cf_rope_ops_ref_tbl;
    }
}

static void check(const float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim, const int32_t *pos,
                  const cf_rope_cfg *cfg) {
    (void)x, (void)n_tok, (void)ld, (void)n_heads, (void)head_dim, (void)pos, (void)cfg;
    assert(x && pos && cfg && n_tok >= 0 && n_heads > 0 && head_dim > 0);
    assert(ld >= (int64_t)n_heads * head_dim);
    assert(cfg->n_rot > 0 && cfg->n_rot % 2 == 0 && cfg->n_rot <= head_dim);
    assert(cfg->mode == CF_ROPE_NORM || cfg->mode == CF_ROPE_NEOX);
    assert(cfg->freq_base > 0);
}

void cf_rope(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
             const int32_t *pos, const cf_rope_cfg *cfg) {
    check(x, n_tok, ld, n_heads, head_dim, pos, cfg);
    cf_rope_ops_for(cf_isa_active())->rope(p, x, n_tok, ld, n_heads, head_dim, pos, cfg);
}

void cf_headnorm_rope(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
                      const float *w, float eps, const int32_t *pos, const cf_rope_cfg *cfg) {
    check(x, n_tok, ld, n_heads, head_dim, pos, cfg);
    cf_rope_ops_for(cf_isa_active())->headnorm_rope(p, x, n_tok, ld, n_heads, head_dim, w, eps, pos, cfg);
}
