/* AVX-512 activation quantization of the Q8_0 kind (included by matmul_avx512.c and
 * matmul_avx512vnni.c after mm_simd256.h; mm_entry.h calls it when MM_AQ512 is defined).
 *
 * The same bytes as mm_aq_rows / cf_q8_block_ref, per block of 32 floats:
 *   amax = max |x| (a max tree over two zmm), d0 = amax / 127, id = 127 / amax;
 *   d = the block scale by cf_act_q8_0_scale's convention (mm_act_q8_0_scale: F16 through F16C);
 *   q = cvt(x * id) (round to nearest even: the default MXCSR), |q| <= 127, packed by vpmovsdb;
 *   s8 = 8 * sum(q).
 * A block with amax = 0, inf or nan, and the padding rows >= M, are zeros (d = 0, s8 = 0).
 * The F32 and Q8_K kinds go to mm_aq_rows.  Measured (1 thread, M=512 K=1536, ns per block):
 * 8.2 here; mm_aq_rows (AVX2) 32.7 with the software f16 rounding, 13.9 with F16C. */
#ifndef CF_MM_AQ512_H
#define CF_MM_AQ512_H

/* One block: returns its 32 quants (natural order) and sets *d, *s8. */
MM_INLINE __m256i aq512_block(const float *x, int conv, float *d, int32_t *s8) {
    __m512 a = _mm512_loadu_ps(x), c = _mm512_loadu_ps(x + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(c)));
    *d = 0.0f;
    *s8 = 0;
    if (!(amax > 0) || !(amax < INFINITY)) return _mm256_setzero_si256();
    float id = 127.0f / amax, dq = mm_act_q8_0_scale(amax / 127.0f, conv, &id);
    if (id == 0) return _mm256_setzero_si256(); /* BF16 scale underflow: a zero block */
    __m512 vid = _mm512_set1_ps(id);
    __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(a, vid)), i1 = _mm512_cvtps_epi32(_mm512_mul_ps(c, vid));
    *d = dq;
    *s8 = 8 * _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtsepi32_epi8(i0)), _mm512_cvtsepi32_epi8(i1), 1);
}

/* Quantizes blocks [b0, b1) of rows [r0, r1) of the (padded) activation, as mm_aq_rows. */
static void mm_aq_rows512(const cf_act_hdr *h, void *act, const float *X, int64_t ldx, int64_t r0, int64_t r1,
                          int64_t b0, int64_t b1) {
    if (h->kind != CF_ACT_Q8_0) {
        mm_aq_rows(h, act, X, ldx, r0, r1, b0, b1);
        return;
    }
    /* offsets from h: another thread may still be writing the buffer's header */
    int8_t *q = (int8_t *)act + CF_ACT_HDR;
    float *dd = (float *)((char *)act + h->off_b);
    int32_t *ss = (int32_t *)(void *)((char *)act + h->off_c);
    const int conv = cf_act_scale_get();
    for (int64_t r = r0; r < r1; r++) {
        const float *x = X + r * ldx;
        for (int64_t b = b0; b < b1; b++) {
            int64_t di = mm_aq_di(h, r, b);
            float d = 0.0f;
            int32_t s8 = 0;
            __m256i v = r < h->M ? aq512_block(x + b * 32, conv, &d, &s8) : _mm256_setzero_si256();
            mm_aq_store(h, q, r, b, 0, v);
            dd[di] = d;
            ss[di] = s8;
        }
    }
}

#endif
