/* AVX2 matmul: row kernels and f32 kernels (mm_simd256.h), GEMM over groups of 8 activation rows
 * with 256-bit vectors (mm_group.h), entry points (mm_entry.h). */
#include "kernels/mm_simd256.h"

#define G_ROWS 8
typedef __m256i gvi;
typedef __m256 gvf;
#define G_LOADI(p) _mm256_loadu_si256((const __m256i *)(p))
#define G_BCAST32(p) _mm256_set1_epi32((int)mm_ld32(p))
#define G_ZERO() _mm256_setzero_si256()
#define G_MADDUBS(u, s) _mm256_maddubs_epi16(u, s)
#define G_MADD(a, b) _mm256_madd_epi16(a, b)
#define G_ADD16(a, b) _mm256_add_epi16(a, b)
#define G_ADD32(a, b) _mm256_add_epi32(a, b)
#define G_SUB32(a, b) _mm256_sub_epi32(a, b)
#define G_SLLI32(a, n) _mm256_slli_epi32(a, n)
#define G_MULLO32(a, b) _mm256_mullo_epi32(a, b)
#define G_SET1_16(v) _mm256_set1_epi16(v)
#define G_SET1_32(v) _mm256_set1_epi32((int)(v))
#define G_SIGN8(x, w) _mm256_sign_epi8(x, w)
#define G_LOADF(p) _mm256_loadu_ps(p)
#define G_ZEROF() _mm256_setzero_ps()
#define G_SET1F(v) _mm256_set1_ps(v)
#define G_BCASTF(p) _mm256_broadcast_ss(p)
#define G_MULF(a, b) _mm256_mul_ps(a, b)
#define G_FMADD(a, b, c) _mm256_fmadd_ps(a, b, c)
#define G_FNMADD(a, b, c) _mm256_fnmadd_ps(a, b, c)
#define G_CVT(a) _mm256_cvtepi32_ps(a)
#define G_STOREF(p, v) _mm256_storeu_ps(p, v)
#define G_KEEP(v) __asm__("" : "+x"(v))
#define G_MG(NR) ((NR) <= 3 ? 2 : 1) /* 16 ymm registers: 2 groups x 4 rows would spill */
#define G_VNNI 0
#define G_DPBUSD(acc, u, s) (acc)

#define MM_ISA avx2
#include "kernels/mm_entry.h"
