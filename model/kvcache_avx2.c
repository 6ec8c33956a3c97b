/* F16C row conversion for the KV cache (round to nearest even, like cf_f32_to_f16). */
#include <immintrin.h>
#include <stdint.h>

void cf_kv_f32_to_f16_avx2(uint16_t *dst, const float *src, int n);

void cf_kv_f32_to_f16_avx2(uint16_t *dst, const float *src, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) {
        __m128 v = _mm_set_ss(src[i]);
        dst[i] = (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT), 0);
    }
}
