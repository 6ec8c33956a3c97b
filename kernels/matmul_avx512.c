/* AVX-512 (F/BW/VL) matmul: GEMM over groups of 16 activation rows with 512-bit vectors
 * (mm_group.h: maddubs + int16 sums, as AVX2); row and f32 kernels are the 256-bit ones of
 * mm_simd256.h, shared with AVX2. */
#include "kernels/mm_simd256.h"

/* vpsignb has no 512-bit form: x where w > 0, -x where w < 0, 0 where w == 0. */
static inline __m512i mm512_sign8(__m512i x, __m512i w) {
    __mmask64 neg = _mm512_movepi8_mask(w), nz = _mm512_test_epi8_mask(w, w);
    __m512i nx = _mm512_sub_epi8(_mm512_setzero_si512(), x);
    return _mm512_maskz_mov_epi8(nz, _mm512_mask_mov_epi8(x, neg, nx));
}

#define G_ROWS 16
typedef __m512i gvi;
typedef __m512 gvf;
#define G_LOADI(p) _mm512_loadu_si512((const void *)(p))
#define G_BCAST32(p) _mm512_set1_epi32((int)mm_ld32(p))
#define G_ZERO() _mm512_setzero_si512()
#define G_MADDUBS(u, s) _mm512_maddubs_epi16(u, s)
#define G_MADD(a, b) _mm512_madd_epi16(a, b)
#define G_ADD16(a, b) _mm512_add_epi16(a, b)
#define G_ADD32(a, b) _mm512_add_epi32(a, b)
#define G_SUB32(a, b) _mm512_sub_epi32(a, b)
#define G_SLLI32(a, n) _mm512_slli_epi32(a, n)
#define G_MULLO32(a, b) _mm512_mullo_epi32(a, b)
#define G_SET1_16(v) _mm512_set1_epi16(v)
#define G_SET1_32(v) _mm512_set1_epi32((int)(v))
#define G_SIGN8(x, w) mm512_sign8(x, w)
#define G_LOADF(p) _mm512_loadu_ps(p)
#define G_ZEROF() _mm512_setzero_ps()
#define G_SET1F(v) _mm512_set1_ps(v)
#define G_BCASTF(p) _mm512_set1_ps(*(p))
#define G_MULF(a, b) _mm512_mul_ps(a, b)
#define G_FMADD(a, b, c) _mm512_fmadd_ps(a, b, c)
#define G_FNMADD(a, b, c) _mm512_fnmadd_ps(a, b, c)
#define G_CVT(a) _mm512_cvtepi32_ps(a)
#define G_STOREF(p, v) _mm512_storeu_ps(p, v)
#define G_KEEP(v) __asm__("" : "+v"(v))
#define G_MG(NR) 2 /* 32 zmm registers */
#define G_VNNI 0
#define G_DPBUSD(acc, u, s) (acc)

#define MM_ISA avx512
#define MM_AQ512 1
#include "kernels/mm_entry.h"
