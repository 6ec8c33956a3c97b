/* AVX2 + F16C row dequantization, bit-exact with kernels/quant_ref.c (same multiplications in the
 * same order, each product rounded on its own: no fused multiply-add). */
#include <immintrin.h>
#include <string.h>

#include "kernels/mm_priv.h"

static inline __m256 half8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline float half1(uint16_t h) { return _cvtsh_ss(h); }

/* 8 int8 -> 8 floats */
static inline __m256 i8x8_to_ps(const void *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
static inline __m256 u8x8_to_ps(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)); }

static void deq_q8_0(const cf_blk_q8_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        __m256 d = _mm256_set1_ps(half1(b[i].d));
        for (int j = 0; j < 32; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(d, i8x8_to_ps(b[i].qs + j)));
    }
}

static void deq_q4_0(const cf_blk_q4_0 *b, float *y, int64_t nb) {
    const __m128i m4 = _mm_set1_epi8(15), e8 = _mm_set1_epi8(8);
    for (int64_t i = 0; i < nb; i++, y += 32) {
        __m256 d = _mm256_set1_ps(half1(b[i].d));
        __m128i q = _mm_loadu_si128((const __m128i *)b[i].qs);
        __m128i lo = _mm_sub_epi8(_mm_and_si128(q, m4), e8);
        __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), m4), e8);
        _mm256_storeu_ps(y + 0, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
        _mm256_storeu_ps(y + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
        _mm256_storeu_ps(y + 16, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
        _mm256_storeu_ps(y + 24, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
    }
}

static void deq_q4_k(const cf_blk_q4_k *b, float *y, int64_t nb) {
    const __m128i m4 = _mm_set1_epi8(15);
    for (int64_t i = 0; i < nb; i++) {
        float d = half1(b[i].d), dmin = half1(b[i].dmin);
        uint8_t sc[8], mn[8];
        cf_q4k_scales(b[i].scales, sc, mn);
        const uint8_t *q = b[i].qs;
        for (int p = 0; p < 4; p++, q += 32) {
            for (int h = 0; h < 2; h++) {
                __m256 d1 = _mm256_set1_ps(d * (float)sc[2 * p + h]);
                __m256 m1 = _mm256_set1_ps(dmin * (float)mn[2 * p + h]);
                for (int l = 0; l < 32; l += 16) {
                    __m128i v = _mm_loadu_si128((const __m128i *)(q + l));
                    v = _mm_and_si128(h ? _mm_srli_epi16(v, 4) : v, m4);
                    __m256 a = _mm256_mul_ps(d1, u8x8_to_ps(v));
                    __m256 c = _mm256_mul_ps(d1, u8x8_to_ps(_mm_srli_si128(v, 8)));
                    CF_NOFUSE(a);
                    CF_NOFUSE(c);
                    _mm256_storeu_ps(y + l, _mm256_sub_ps(a, m1));
                    _mm256_storeu_ps(y + l + 8, _mm256_sub_ps(c, m1));
                }
                y += 32;
            }
        }
    }
}

static void deq_q6_k(const cf_blk_q6_k *b, float *y, int64_t nb) {
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3), e32 = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < nb; i++) {
        float d = half1(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                int8_t t[32];
                _mm256_storeu_si256((__m256i *)t, _mm256_sub_epi8(q[k], e32));
                for (int s = 0; s < 2; s++) {
                    __m256 ds = _mm256_set1_ps(d * (float)sc[2 * k + s]);
                    for (int l = 0; l < 16; l += 8)
                        _mm256_storeu_ps(y + 32 * k + 16 * s + l, _mm256_mul_ps(ds, i8x8_to_ps(t + 16 * s + l)));
                }
            }
            y += 128;
        }
    }
}

static void deq_f16(const uint16_t *s, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, half8(s + i));
    for (; i < n; i++) y[i] = half1(s[i]);
}

static void deq_bf16(const uint16_t *s, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + i)));
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
    }
    for (; i < n; i++) y[i] = cf_bf16_to_f32(s[i]);
}

int cf_dequantize_row_avx2(int type, const void *src, float *dst, int64_t n) {
    switch (type) {
    case CF_T_F16: deq_f16(src, dst, n); return 0;
    case CF_T_BF16: deq_bf16(src, dst, n); return 0;
    case CF_T_Q8_0: deq_q8_0(src, dst, n / 32); return 0;
    case CF_T_Q4_0: deq_q4_0(src, dst, n / 32); return 0;
    case CF_T_Q4_K: deq_q4_k(src, dst, n / 256); return 0;
    case CF_T_Q6_K: deq_q6_k(src, dst, n / 256); return 0;
    default: return -1;
    }
}
