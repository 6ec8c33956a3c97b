/* The three matmul ops of one SIMD level (act_bytes, act_quantize, matmul_act), written once.
 * The including file defines MM_ISA (the suffix: avx2, avx512, avx512vnni) and has included
 * mm_group.h with its vector width (G_ROWS rows per activation group). */
#ifndef CF_MM_ENTRY_H
#define CF_MM_ENTRY_H
#include <assert.h>

#include "kernels/mm_group.h"
#ifdef MM_PK16
#include "kernels/mm_pk16.h"
#endif
#ifdef MM_AQ512
#include "kernels/mm_aq512.h"
#endif

#define MM_CAT_(a, b) a##b
#define MM_CAT(a, b) MM_CAT_(a, b)

/* GROUP for M >= tile_mm_gemm_m, else the row layouts; with the packed kernels (mm_pk16.h) the
 * Q8_0 kind takes COLB there instead (their GEMM broadcasts activations). */
static int mm_layout_for(cf_act_kind kind, int64_t M) {
    if (kind == CF_ACT_F32) return CF_LAYOUT_ROW;
#ifdef MM_PK16
    if (kind == CF_ACT_Q8_0 && cf_tuning_get()->mm_pack && M >= cf_tuning_get()->tile_mm_gemm_m) return CF_LAYOUT_COLB;
#endif
    if (M >= cf_tuning_get()->tile_mm_gemm_m) return CF_LAYOUT_GROUP;
    return kind == CF_ACT_Q8_0 ? CF_LAYOUT_ROWPAIR : CF_LAYOUT_ROW;
}

/* Enough for either layout (the GROUP one, padded, is never smaller), so a buffer sized here
 * stays valid if the tuning that picks the layout changes before act_quantize. */
size_t MM_CAT(cf_mm_act_bytes_, MM_ISA)(int wtype, int64_t M, int64_t K) {
    cf_act_hdr h;
    cf_act_kind kind = cf_act_kind_of(wtype);
    size_t row = cf_act_layout(&h, kind, kind == CF_ACT_Q8_0 ? CF_LAYOUT_ROWPAIR : CF_LAYOUT_ROW, 0, M, K);
    size_t grp = kind == CF_ACT_F32 ? row : cf_act_layout(&h, kind, CF_LAYOUT_GROUP, G_ROWS, M, K);
    return row > grp ? row : grp;
}

void MM_CAT(cf_mm_act_quantize_, MM_ISA)(const cf_par *p, int wtype, void *act, const float *X, int64_t ldx,
                                         int64_t M, int64_t K) {
    assert(cf_mm_type_ok(wtype));
    cf_act_hdr h;
    cf_act_kind kind = cf_act_kind_of(wtype);
    cf_act_layout(&h, kind, mm_layout_for(kind, M), G_ROWS, M, K);
    if (p->ith == 0) memcpy(act, &h, sizeof h);
    long lo, hi, gran = h.layout == CF_LAYOUT_GROUP ? h.group : 1;
    cf_split(p, (long)h.Mp, (long)K, cf_tuning_get()->thresh_quant_act, gran, &lo, &hi);
#ifdef MM_AQ512
    mm_aq_rows512(&h, act, X, ldx, lo, hi, 0, h.nb);
#else
    mm_aq_rows(&h, act, X, ldx, lo, hi, 0, h.nb);
#endif
}

void MM_CAT(cf_mm_act_quantize_cols_, MM_ISA)(int wtype, void *act, const float *X, int64_t ldx, int64_t M,
                                              int64_t K, int64_t k0, int64_t k1) {
    assert(cf_mm_type_ok(wtype));
    cf_act_hdr h;
    cf_act_kind kind = cf_act_kind_of(wtype);
    cf_act_layout(&h, kind, mm_layout_for(kind, M), G_ROWS, M, K);
    assert(k0 % h.blk == 0 && (k1 % h.blk == 0 || k1 == K) && 0 <= k0 && k0 <= k1 && k1 <= K);
    if (k0 == 0) memcpy(act, &h, sizeof h);
#ifdef MM_AQ512
    mm_aq_rows512(&h, act, X, ldx, 0, h.Mp, k0 / h.blk, (k1 + h.blk - 1) / h.blk);
#else
    mm_aq_rows(&h, act, X, ldx, 0, h.Mp, k0 / h.blk, (k1 + h.blk - 1) / h.blk);
#endif
}

void MM_CAT(cf_mm_matmul_act_, MM_ISA)(const cf_par *p, const cf_wmat *W, const void *act, int64_t M, float *Y,
                                       int64_t ldy) {
    const cf_act_hdr *h = act;
    assert(cf_mm_type_ok(W->type));
    assert(h->magic == CF_ACT_MAGIC && h->K == W->k && M <= h->M);
    assert(h->kind == (int)cf_act_kind_of(W->type));
    assert(W->row_bytes == cf_row_bytes(W->type, W->k));
    if (M <= 0 || W->n <= 0) return;
    if (h->kind == CF_ACT_F32) mm_f32_run(p, W, h, act, M, Y, ldy);
    else if (h->layout == CF_LAYOUT_GROUP) {
        assert(h->group == G_ROWS);
        g_run(p, W, h, act, M, Y, ldy);
    }
#ifdef MM_PK16
    else if (pk_usable(W, h, M)) pk_run(p, W, h, act, M, Y, ldy);
#endif
    else mm_row_run(p, W, h, act, M, Y, ldy);
}

#endif
