/* Matmul dispatch: activation kinds and the per-ISA ops tables. */
#include <assert.h>

#include "kernels/matmul.h"
#include "kernels/mm_priv.h"
#include "kernels/tuning.h"

cf_act_kind cf_act_kind_of(int wtype) {
    switch (wtype) {
    case CF_T_Q8_0:
    case CF_T_Q4_0: return CF_ACT_Q8_0;
    case CF_T_Q4_K:
    case CF_T_Q6_K: return CF_ACT_Q8_K;
    default: return CF_ACT_F32;
    }
}

#define OPS(isa) {cf_mm_act_bytes_##isa, cf_mm_act_quantize_##isa, cf_mm_act_quantize_cols_##isa, cf_mm_matmul_act_##isa}
static const cf_matmul_ops k_ops[CF_ISA_COUNT] = {
    [CF_ISA_REF] = OPS(ref),
    [CF_ISA_AVX2] = OPS(avx2),
    [CF_ISA_AVX512] = OPS(avx512),
    [CF_ISA_AVX512VNNI] = OPS(avx512vnni),
};
#undef OPS

const cf_matmul_ops *cf_matmul_ops_for(cf_isa isa) {
    assert(isa >= 0 && isa < CF_ISA_COUNT);
    return &k_ops[isa];
}

static const cf_matmul_ops *active(void) { return &k_ops[cf_isa_active()]; }

size_t cf_act_bytes(int wtype, int64_t M, int64_t K) { return active()->act_bytes(wtype, M, K); }

void cf_act_quantize(const cf_par *p, int wtype, void *act, const float *X, int64_t ldx, int64_t M,
                     int64_t K) {
    active()->act_quantize(p, wtype, act, X, ldx, M, K);
}

void cf_act_quantize_cols(int wtype, void *act, const float *X, int64_t ldx, int64_t M, int64_t K,
                          int64_t k0, int64_t k1) {
    active()->act_quantize_cols(wtype, act, X, ldx, M, K, k0, k1);
}

int64_t cf_act_block(int wtype) { return cf_act_kind_blk(cf_act_kind_of(wtype)); }

void cf_matmul_act(const cf_par *p, const cf_wmat *W, const void *act, int64_t M, float *Y,
                   int64_t ldy) {
    active()->matmul_act(p, W, act, M, Y, ldy);
}

void cf_matmul(const cf_par *p, const cf_wmat *W, const float *X, int64_t ldx, int64_t M, float *Y,
               int64_t ldy, void *scratch) {
    const cf_matmul_ops *o = active();
    const cf_tuning *t = cf_tuning_get();
    if (p->nth > 1 && cf_split_nthreads((long)(M * W->k), t->thresh_quant_act, p->nth) == 1 &&
        cf_split_nthreads((long)(M * W->n * W->k), t->thresh_matmul, p->nth) == 1) {
        /* both steps serial: thread 0 does them with no barrier between (a barrier's hand-off
         * costs more than a small matmul: M=1 192x576 read 0.63x of its 1-thread time) */
        if (p->ith == 0) {
            o->act_quantize(&cf_par_serial, W->type, scratch, X, ldx, M, W->k);
            o->matmul_act(&cf_par_serial, W, scratch, M, Y, ldy);
        }
        return;
    }
    o->act_quantize(p, W->type, scratch, X, ldx, M, W->k);
    cf_barrier(p);
    o->matmul_act(p, W, scratch, M, Y, ldy);
}
