/* Row dequantization dispatch: the best ISA path for the type, else the reference. */
#include <assert.h>

#include "kernels/cpu.h"
#include "kernels/mm_priv.h"
#include "kernels/quant.h"

void cf_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    assert(cf_dtype_get(type) && n % cf_dtype_get(type)->block == 0);
    if (cf_isa_active() >= CF_ISA_AVX2 && cf_dequantize_row_avx2(type, src, dst, n) == 0) return;
    cf_dequantize_row_ref(type, src, dst, n);
}
