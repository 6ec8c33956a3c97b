/* 256-bit matmul building blocks shared by every SIMD level (included by matmul_avx2.c,
 * matmul_avx512.c and matmul_avx512vnni.c, each compiled with its own flags):
 *   - activation quantization into the ROW / ROWPAIR / GROUP layouts of mm_priv.h,
 *     byte-identical with the scalar quantizer cf_q8_block_ref;
 *   - "row" kernels for few activation rows (ROW / ROWPAIR layouts): a register tile of 8
 *     (activation row, weight row) pairs whose per-block integer dot products are reduced
 *     horizontally and then accumulated in the canonical float order of matmul.h;
 *   - the F32 / F16 / BF16 kernels (8-lane canonical order of matmul.h).
 * Everything here is static: each including file gets its own copy. */
#ifndef CF_MM_SIMD256_H
#define CF_MM_SIMD256_H
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/mm_priv.h"

#define MM_INLINE static inline __attribute__((always_inline))

MM_INLINE float mm_hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

MM_INLINE int32_t mm_hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

MM_INLINE uint16_t mm_ld16(const void *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
MM_INLINE uint32_t mm_ld32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* Activation quantization */

/* Scale of a block of n floats (n % 8 == 0): returns d and sets *id (0 for an all-zero or
 * non-finite block, which is stored as zeros).  Matches cf_q8_block_ref. */
MM_INLINE float mm_aq_scale(const float *x, int n, float *id, int *ok) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    float amax = mm_hmax8(m);
    if (!(amax > 0) || !(amax < INFINITY)) {
        *id = 0;
        *ok = 0;
        return 0;
    }
    *ok = 1;
    *id = 127.0f / amax;
    return amax / 127.0f;
}

/* cf_act_q8_0_scale with the F16 rounding by F16C (vcvtps2ph rounds to nearest even like
 * cf_f32_to_f16, subnormal halves included; tested against ref by test_act_scale). */
MM_INLINE float mm_act_q8_0_scale(float d0, int conv, float *id) {
    if (conv == CF_ACT_SCALE_F16) return _cvtsh_ss(_cvtss_sh(d0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    return cf_act_q8_0_scale(d0, conv, id);
}

/* 32 floats -> 32 int8 in natural order; *s_lo / *s_hi = sums of elements 0..15 / 16..31. */
MM_INLINE __m256i mm_aq32(const float *x, __m256 id, int32_t *s_lo, int32_t *s_hi) {
    __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 0), id));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), id));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), id));
    *s_lo = mm_hsum8i(_mm256_add_epi32(i0, i1));
    *s_hi = mm_hsum8i(_mm256_add_epi32(i2, i3));
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Stores 32 quantized bytes of row r, 32-element chunk at element e (within its block b of
 * blk elements) into the act buffer, per layout. */
MM_INLINE void mm_aq_store(const cf_act_hdr *h, int8_t *q, int64_t r, int64_t b, int e, __m256i v) {
    if (h->layout == CF_LAYOUT_GROUP) {
        int G = h->group;
        int8_t *base = q + ((r / G) * h->nb + b) * (int64_t)h->blk * G + (r % G) * 4;
        int32_t t[8];
        _mm256_storeu_si256((__m256i *)t, v);
        for (int c = 0; c < 8; c++) memcpy(base + (int64_t)(e / 4 + c) * 4 * G, &t[c], 4);
    } else if (h->layout == CF_LAYOUT_COLB) {
        _mm256_storeu_si256((__m256i *)(q + (b * h->Mp + r) * 32 + e), v);
    } else if (h->layout == CF_LAYOUT_ROWPAIR && !((h->nb & 1) && b == h->nb - 1)) {
        int8_t *base = q + r * h->nb * 32 + (b & ~(int64_t)1) * 32 + (b & 1) * 16;
        _mm_storeu_si128((__m128i *)base, _mm256_castsi256_si128(v));
        _mm_storeu_si128((__m128i *)(base + 32), _mm256_extracti128_si256(v, 1));
    } else {
        _mm256_storeu_si256((__m256i *)(q + (r * h->nb + b) * h->blk + e), v);
    }
}

/* Index of (row r, block b) in the d / sums regions of the act buffer, per layout. */
MM_INLINE int64_t mm_aq_di(const cf_act_hdr *h, int64_t r, int64_t b) {
    if (h->layout == CF_LAYOUT_GROUP) return ((r / h->group) * h->nb + b) * h->group + r % h->group;
    return h->layout == CF_LAYOUT_COLB ? b * h->Mp + r : r * h->nb + b;
}

/* Quantizes rows [r0, r1) of the (padded) activation; rows >= M are stored as zeros. */
static void mm_aq_rows(const cf_act_hdr *h, void *act, const float *X, int64_t ldx, int64_t r0, int64_t r1, int64_t b0,
                       int64_t b1) {
    int8_t *q = (int8_t *)act + CF_ACT_HDR;
    float *dd = (float *)((char *)act + h->off_b);
    void *cc = (char *)act + h->off_c;
    int G = h->layout == CF_LAYOUT_GROUP ? h->group : 1;
    const int conv = cf_act_scale_get();
    for (int64_t r = r0; r < r1; r++) {
        if (h->kind == CF_ACT_F32) { /* blocks of one element */
            memcpy((float *)q + r * h->K + b0, X + r * ldx + b0, (size_t)(b1 - b0) * sizeof(float));
            continue;
        }
        const float *x = X + r * ldx;
        for (int64_t b = b0; b < b1; b++) {
            int64_t di = mm_aq_di(h, r, b);
            float id = 0;
            int ok = 0;
            float d = r < h->M ? mm_aq_scale(x + b * h->blk, h->blk, &id, &ok) : 0.0f;
            if (ok && h->kind == CF_ACT_Q8_0) {
                d = mm_act_q8_0_scale(d, conv, &id);
                ok = id != 0;
            }
            __m256 vid = _mm256_set1_ps(id);
            int32_t sums[16];
            sums[0] = sums[1] = 0; /* blk >= 32, but the compiler cannot see it */
            for (int e = 0; e < h->blk; e += 32) {
                __m256i v = _mm256_setzero_si256();
                sums[e / 16] = sums[e / 16 + 1] = 0;
                if (ok) v = mm_aq32(x + b * h->blk + e, vid, &sums[e / 16], &sums[e / 16 + 1]);
                mm_aq_store(h, q, r, b, e, v);
            }
            dd[di] = ok ? d : 0.0f;
            if (h->kind == CF_ACT_Q8_0) {
                ((int32_t *)cc)[di] = 8 * (sums[0] + sums[1]);
            } else if (h->layout == CF_LAYOUT_GROUP) {
                /* bsum pairs [8][G][2] */
                int16_t *bp = (int16_t *)cc + ((r / G) * h->nb + b) * 16 * G;
                for (int p = 0; p < 8; p++) {
                    bp[(p * G + r % G) * 2 + 0] = (int16_t)sums[2 * p];
                    bp[(p * G + r % G) * 2 + 1] = (int16_t)sums[2 * p + 1];
                }
            } else {
                for (int j = 0; j < 16; j++) ((int16_t *)cc)[di * 16 + j] = (int16_t)sums[j];
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Row kernels: 8 (activation row r, weight row i) pairs, lane j = r * NR + i, NR = 8 / MR. */

/* Per-128-bit-half totals of 8 vectors: w0 = [v0 v1 v2 v3 | v0 v1 v2 v3], w1 likewise for
 * v4..v7 (low half: sums of each vector's low 4 lanes; high half: of its high 4 lanes). */
MM_INLINE void mm_red8_halves(const __m256i *v, __m256i *w0, __m256i *w1) {
    __m256i u0 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[0], v[1]), _mm256_unpackhi_epi32(v[0], v[1]));
    __m256i u1 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2], v[3]), _mm256_unpackhi_epi32(v[2], v[3]));
    __m256i u2 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[4], v[5]), _mm256_unpackhi_epi32(v[4], v[5]));
    __m256i u3 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[6], v[7]), _mm256_unpackhi_epi32(v[6], v[7]));
    *w0 = _mm256_add_epi32(_mm256_unpacklo_epi64(u0, u1), _mm256_unpackhi_epi64(u0, u1));
    *w1 = _mm256_add_epi32(_mm256_unpacklo_epi64(u2, u3), _mm256_unpackhi_epi64(u2, u3));
}
/* As mm_red8_halves for int16 vectors whose lanes are <= 7620 (two Q4_0 maddubs): two levels
 * of int16 sums (<= 30480, exact), then one vpmaddwd per result.  Same integers, fewer widenings
 * and shuffles than widening each vector first. */
MM_INLINE void mm_red8_halves16(const __m256i *v, __m256i *w0, __m256i *w1) {
    __m256i t[4];
    for (int q = 0; q < 4; q++)
        t[q] = _mm256_add_epi16(_mm256_unpacklo_epi16(v[2 * q], v[2 * q + 1]), _mm256_unpackhi_epi16(v[2 * q], v[2 * q + 1]));
    /* per half: [r0e r1e r2e r3e r0o r1o r2o r3o] (even / odd partials of rows r0..r3) */
    __m256i u0 = _mm256_add_epi16(_mm256_unpacklo_epi32(t[0], t[1]), _mm256_unpackhi_epi32(t[0], t[1]));
    __m256i u1 = _mm256_add_epi16(_mm256_unpacklo_epi32(t[2], t[3]), _mm256_unpackhi_epi32(t[2], t[3]));
    const __m256i pair = _mm256_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,
                                          0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
    const __m256i ones = _mm256_set1_epi16(1);
    *w0 = _mm256_madd_epi16(_mm256_shuffle_epi8(u0, pair), ones);
    *w1 = _mm256_madd_epi16(_mm256_shuffle_epi8(u1, pair), ones);
}

/* Full totals: lane j = sum of v[j]'s 8 lanes. */
MM_INLINE __m256i mm_red8(const __m256i *v) {
    __m256i w0, w1;
    mm_red8_halves(v, &w0, &w1);
    return _mm256_add_epi32(_mm256_permute2x128_si256(w0, w1, 0x20), _mm256_permute2x128_si256(w0, w1, 0x31));
}

/* f16 value at byte offset off of weight row (j % NR), for lanes j = 0..7, as floats. */
MM_INLINE __m256 mm_gather_f16(const uint8_t *const *w, int NR, int64_t off) {
    uint64_t lo, hi;
    if (NR == 8) {
        lo = mm_ld16(w[0] + off) | (uint64_t)mm_ld16(w[1] + off) << 16 | (uint64_t)mm_ld16(w[2] + off) << 32 |
             (uint64_t)mm_ld16(w[3] + off) << 48;
        hi = mm_ld16(w[4] + off) | (uint64_t)mm_ld16(w[5] + off) << 16 | (uint64_t)mm_ld16(w[6] + off) << 32 |
             (uint64_t)mm_ld16(w[7] + off) << 48;
    } else if (NR == 4) {
        lo = hi = mm_ld16(w[0] + off) | (uint64_t)mm_ld16(w[1] + off) << 16 | (uint64_t)mm_ld16(w[2] + off) << 32 |
                  (uint64_t)mm_ld16(w[3] + off) << 48;
    } else {
        uint64_t t = mm_ld16(w[0] + off) | (uint64_t)mm_ld16(w[1] + off) << 16;
        lo = hi = t | t << 32;
    }
    /* keep the packing in integer registers (the integer ALUs are idle here); GCC otherwise
     * rebuilds it with vector shuffles, which compete with the dot products */
    __asm__("" : "+r"(lo), "+r"(hi));
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
}

/* Software prefetch for the row kernels: while a tile of 8 weight rows is processed, the same
 * relative bytes of the next 8 rows are requested, so the next tile streams in during this one
 * (rows are often too short for the hardware prefetcher to ramp up: 18 blocks at K = 576). */
#define MM_PF_ROWS 8
MM_INLINE void mm_prefetch_next(const uint8_t *const *w, int NR, int64_t row_bytes, int64_t off, int lines) {
    for (int i = 0; i < NR; i++)
        for (int l = 0; l < lines; l++)
            _mm_prefetch((const char *)(w[i] + MM_PF_ROWS * row_bytes + off + 64 * l), _MM_HINT_T0);
}

/* Per-activation-row floats for lanes j (row j / NR). */
MM_INLINE __m256 mm_rows_f(int MR, const float *const *p, int64_t i) {
    if (MR == 1) return _mm256_set1_ps(p[0][i]);
    if (MR == 2) return _mm256_set_m128(_mm_set1_ps(p[1][i]), _mm_set1_ps(p[0][i]));
    return _mm256_setr_ps(p[0][i], p[0][i], p[1][i], p[1][i], p[2][i], p[2][i], p[3][i], p[3][i]);
}
MM_INLINE __m256i mm_rows_i(int MR, const int32_t *const *p, int64_t i) {
    if (MR == 1) return _mm256_set1_epi32(p[0][i]);
    if (MR == 2) return _mm256_set_m128i(_mm_set1_epi32(p[1][i]), _mm_set1_epi32(p[0][i]));
    return _mm256_setr_epi32(p[0][i], p[0][i], p[1][i], p[1][i], p[2][i], p[2][i], p[3][i], p[3][i]);
}

/* Signed x signed bytes -> 8 x i32 partial dot products (exact). */
MM_INLINE __m256i mm_dot_ss(__m256i w, __m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1));
}

/* Q8_0 / Q4_0 weights x ROWPAIR activations: out[j] = Y for lane j. */
MM_INLINE void mm_row_q80(int wt, int MR, const uint8_t *const *w, const int8_t *const *xq,
                          const float *const *xd, const int32_t *const *xs, int64_t nb, float *out) {
    const int NR = 8 / MR;
    const int64_t bs = wt == CF_T_Q4_0 ? 18 : 34;
    const __m256i m4 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m256i v[8];
        mm_prefetch_next(w, NR, nb * bs, b * bs, bs == 18 ? 1 : 2);
        for (int i = 0; i < NR; i++) {
            const uint8_t *p0 = w[i] + b * bs + 2, *p1 = p0 + bs;
            __m256i wl, wh;
            if (wt == CF_T_Q4_0) {
                __m256i t = _mm256_loadu2_m128i((const __m128i *)p1, (const __m128i *)p0);
                wl = _mm256_and_si256(t, m4);
                wh = _mm256_and_si256(_mm256_srli_epi16(t, 4), m4);
            } else {
                wl = _mm256_loadu2_m128i((const __m128i *)p1, (const __m128i *)p0);
                wh = _mm256_loadu2_m128i((const __m128i *)(p1 + 16), (const __m128i *)(p0 + 16));
            }
            for (int r = 0; r < MR; r++) {
                __m256i xl = _mm256_loadu_si256((const __m256i *)(xq[r] + b * 32));
                __m256i xh = _mm256_loadu_si256((const __m256i *)(xq[r] + b * 32 + 32));
                if (wt == CF_T_Q4_0) /* int16 lanes <= 2 * 2*15*127 */
                    v[r * NR + i] = _mm256_add_epi16(_mm256_maddubs_epi16(wl, xl), _mm256_maddubs_epi16(wh, xh));
                else
                    v[r * NR + i] = _mm256_add_epi32(mm_dot_ss(wl, xl), mm_dot_ss(wh, xh));
            }
        }
        __m256i w0, w1;
        if (wt == CF_T_Q4_0) mm_red8_halves16(v, &w0, &w1);
        else mm_red8_halves(v, &w0, &w1);
        __m256i i0 = _mm256_permute2x128_si256(w0, w1, 0x20), i1 = _mm256_permute2x128_si256(w0, w1, 0x31);
        if (wt == CF_T_Q4_0) {
            i0 = _mm256_sub_epi32(i0, mm_rows_i(MR, xs, b));
            i1 = _mm256_sub_epi32(i1, mm_rows_i(MR, xs, b + 1));
        }
        __m256 s0 = _mm256_mul_ps(mm_rows_f(MR, xd, b), mm_gather_f16(w, NR, b * bs));
        __m256 s1 = _mm256_mul_ps(mm_rows_f(MR, xd, b + 1), mm_gather_f16(w, NR, (b + 1) * bs));
        acc = _mm256_fmadd_ps(s0, _mm256_cvtepi32_ps(i0), acc);
        acc = _mm256_fmadd_ps(s1, _mm256_cvtepi32_ps(i1), acc);
    }
    if (b < nb) { /* odd last block, natural order */
        __m256i v[8];
        for (int i = 0; i < NR; i++) {
            const uint8_t *p0 = w[i] + b * bs + 2;
            __m256i wv;
            if (wt == CF_T_Q4_0) {
                __m128i t = _mm_loadu_si128((const __m128i *)p0);
                wv = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), m4);
            } else {
                wv = _mm256_loadu_si256((const __m256i *)p0);
            }
            for (int r = 0; r < MR; r++) {
                __m256i x = _mm256_loadu_si256((const __m256i *)(xq[r] + b * 32));
                v[r * NR + i] = wt == CF_T_Q4_0 ? _mm256_madd_epi16(_mm256_maddubs_epi16(wv, x), ones) : mm_dot_ss(wv, x);
            }
        }
        __m256i t = mm_red8(v);
        if (wt == CF_T_Q4_0) t = _mm256_sub_epi32(t, mm_rows_i(MR, xs, b));
        __m256 s = _mm256_mul_ps(mm_rows_f(MR, xd, b), mm_gather_f16(w, NR, b * bs));
        acc = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(t), acc);
    }
    _mm256_storeu_ps(out, acc);
}

/* Q4_K: 6-bit scales and mins of one block as bytes (sc in the low 8 bytes, mn in the high 8). */
MM_INLINE __m128i mm_q4k_scmn(const uint8_t *q) {
    uint32_t a0 = mm_ld32(q), a1 = mm_ld32(q + 4), a2 = mm_ld32(q + 8);
    uint32_t sc_lo = a0 & 0x3f3f3f3fu, mn_lo = a1 & 0x3f3f3f3fu;
    uint32_t sc_hi = (a2 & 0x0f0f0f0fu) | ((a0 >> 2) & 0x30303030u);
    uint32_t mn_hi = ((a2 >> 4) & 0x0f0f0f0fu) | ((a1 >> 2) & 0x30303030u);
    return _mm_set_epi32((int)mn_hi, (int)mn_lo, (int)sc_hi, (int)sc_lo);
}

/* vpshufb masks selecting i16 word a in the low 128-bit half and word c in the high half. */
#define MM_W2(a, c)                                                                               \
    _mm256_setr_epi8(2 * (a), 2 * (a) + 1, 2 * (a), 2 * (a) + 1, 2 * (a), 2 * (a) + 1, 2 * (a),    \
                     2 * (a) + 1, 2 * (a), 2 * (a) + 1, 2 * (a), 2 * (a) + 1, 2 * (a), 2 * (a) + 1, \
                     2 * (a), 2 * (a) + 1, 2 * (c), 2 * (c) + 1, 2 * (c), 2 * (c) + 1, 2 * (c),    \
                     2 * (c) + 1, 2 * (c), 2 * (c) + 1, 2 * (c), 2 * (c) + 1, 2 * (c), 2 * (c) + 1, \
                     2 * (c), 2 * (c) + 1, 2 * (c), 2 * (c) + 1)

/* Q4_K weights x ROW (Q8_K kind) activations. */
MM_INLINE void mm_row_q4k(int MR, const uint8_t *const *w, const int8_t *const *xq, const float *const *xd,
                          const int16_t *const *xb, int64_t nb, float *out) {
    const int NR = 8 / MR;
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i s1[8], s2[8];
        mm_prefetch_next(w, NR, nb * 144, b * 144, 3);
        for (int i = 0; i < NR; i++) {
            const cf_blk_q4_k *wb = (const cf_blk_q4_k *)w[i] + b;
            __m128i sm = mm_q4k_scmn(wb->scales);
            __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));       /* [sc0..7 | sc0..7] */
            __m128i mn = _mm_cvtepu8_epi16(_mm_srli_si128(sm, 8));
            __m256i mn2 = _mm256_set_m128i(_mm_unpackhi_epi16(mn, mn), _mm_unpacklo_epi16(mn, mn));
            for (int r = 0; r < MR; r++) s1[r * NR + i] = _mm256_setzero_si256();
            for (int p = 0; p < 4; p++) {
                __m256i t = _mm256_loadu_si256((const __m256i *)(wb->qs + 32 * p));
                __m256i lo = _mm256_and_si256(t, m4), hi = _mm256_and_si256(_mm256_srli_epi16(t, 4), m4);
                __m256i pl = _mm256_shuffle_epi8(sc, MM_W2(2 * p, 2 * p));
                __m256i ph = _mm256_shuffle_epi8(sc, MM_W2(2 * p + 1, 2 * p + 1));
                for (int r = 0; r < MR; r++) {
                    const int8_t *x = xq[r] + b * 256 + 64 * p;
                    __m256i a = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)x)), pl);
                    __m256i c = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(x + 32))), ph);
                    s1[r * NR + i] = _mm256_add_epi32(s1[r * NR + i], _mm256_add_epi32(a, c));
                }
            }
            for (int r = 0; r < MR; r++)
                s2[r * NR + i] = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(xb[r] + b * 16)), mn2);
        }
        __m256i i1 = mm_red8(s1), i2 = mm_red8(s2);
        __m256 dx = mm_rows_f(MR, xd, b);
        __m256 d = _mm256_mul_ps(dx, mm_gather_f16(w, NR, b * 144));
        __m256 dm = _mm256_mul_ps(dx, mm_gather_f16(w, NR, b * 144 + 2));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(i1), acc);
        acc = _mm256_fnmadd_ps(dm, _mm256_cvtepi32_ps(i2), acc);
    }
    _mm256_storeu_ps(out, acc);
}

/* Q6_K: the 4 x 32 six-bit values (0..63) of one 128-element half, natural order. */
MM_INLINE void mm_q6k_unpack(const uint8_t *ql, const uint8_t *qh, __m256i q[4]) {
    const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
    __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
    __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
    /* the 2 high bits of quarter k sit at bits 2k..2k+1 of qh; one 16-bit shift puts them at
     * bits 4..5 (what a shift drags in from the neighbouring byte lands outside the 0x30 mask) */
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m30));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
}

/* Q6_K weights x ROW (Q8_K kind) activations. */
MM_INLINE void mm_row_q6k(int MR, const uint8_t *const *w, const int8_t *const *xq, const float *const *xd,
                          const int16_t *const *xb, int64_t nb, float *out) {
    const int NR = 8 / MR;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i s[8];
        mm_prefetch_next(w, NR, nb * 210, b * 210, 4);
        for (int i = 0; i < NR; i++) {
            const cf_blk_q6_k *wb = (const cf_blk_q6_k *)w[i] + b;
            __m128i sc8 = _mm_loadu_si128((const __m128i *)wb->scales);
            __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
            __m256i A = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sc16));
            __m256i B = _mm256_broadcastsi128_si256(_mm256_extracti128_si256(sc16, 1));
            /* start at -32 * sum_j sc_j * bsum_j (the offset of the unsigned 6-bit values) */
            for (int r = 0; r < MR; r++)
                s[r * NR + i] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(
                    _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(xb[r] + b * 16)), sc16), 5));
            for (int h = 0; h < 2; h++) {
                __m256i q[4];
                mm_q6k_unpack(wb->ql + 64 * h, wb->qh + 32 * h, q);
                for (int k = 0; k < 4; k++) {
                    /* chunk t = 4h + k holds sub-blocks 2t (low half) and 2t + 1 (high half) */
                    __m256i pat = _mm256_shuffle_epi8(h ? B : A, MM_W2(2 * k, 2 * k + 1));
                    for (int r = 0; r < MR; r++) {
                        __m256i x = _mm256_loadu_si256((const __m256i *)(xq[r] + b * 256 + 128 * h + 32 * k));
                        s[r * NR + i] = _mm256_add_epi32(s[r * NR + i], _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], x), pat));
                    }
                }
            }
        }
        __m256i t = mm_red8(s);
        __m256 d = _mm256_mul_ps(mm_rows_f(MR, xd, b), mm_gather_f16(w, NR, b * 210 + 208));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(t), acc);
    }
    _mm256_storeu_ps(out, acc);
}

/* ------------------------------------------------------------------------------------------ */
/* F32 / F16 / BF16 weights (f32 activations), canonical 8-lane order. */

MM_INLINE __m256 mm_wload(int wt, const void *row, int64_t k) {
    if (wt == CF_T_F32) return _mm256_loadu_ps((const float *)row + k);
    if (wt == CF_T_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
MM_INLINE float mm_wscalar(int wt, const void *row, int64_t k) {
    if (wt == CF_T_F32) return ((const float *)row)[k];
    if (wt == CF_T_F16) return _cvtsh_ss(((const uint16_t *)row)[k]);
    return cf_bf16_to_f32(((const uint16_t *)row)[k]);
}
/* The canonical 8-lane tree: (l0+l4, l1+l5, l2+l6, l3+l7) -> (s0+s2, s1+s3) -> t0+t1. */
MM_INLINE float mm_tree8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

/* MR x NR tile of f32 dot products over K: y[r][i] = dot(x[r], w[i]). */
MM_INLINE void mm_tile_f32(int wt, int MR, int NR, const void *const *w, const float *const *x, int64_t K,
                           float *y, int64_t ldy) {
    __m256 acc[4][4];
    for (int r = 0; r < MR; r++)
        for (int i = 0; i < NR; i++) acc[r][i] = _mm256_setzero_ps();
    int64_t K8 = K & ~(int64_t)7;
    for (int64_t k = 0; k < K8; k += 8) {
        __m256 wv[4];
        for (int i = 0; i < NR; i++) wv[i] = mm_wload(wt, w[i], k);
        for (int r = 0; r < MR; r++) {
            __m256 xv = _mm256_loadu_ps(x[r] + k);
            for (int i = 0; i < NR; i++) acc[r][i] = _mm256_fmadd_ps(xv, wv[i], acc[r][i]);
        }
    }
    for (int r = 0; r < MR; r++)
        for (int i = 0; i < NR; i++) {
            float s = mm_tree8(acc[r][i]);
            for (int64_t k = K8; k < K; k++) s = fmaf(x[r][k], mm_wscalar(wt, w[i], k), s);
            y[r * ldy + i] = s;
        }
}

/* ------------------------------------------------------------------------------------------ */
/* Drivers */

#include "kernels/tuning.h"

MM_INLINE void mm_row_tile(int wt, int MR, const uint8_t *const *w, const int8_t *const *xq,
                           const float *const *xd, const void *const *xs, int64_t nb, float *out) {
    switch (wt) {
    case CF_T_Q8_0:
    case CF_T_Q4_0: mm_row_q80(wt, MR, w, xq, xd, (const int32_t *const *)xs, nb, out); break;
    case CF_T_Q4_K: mm_row_q4k(MR, w, xq, xd, (const int16_t *const *)xs, nb, out); break;
    default: mm_row_q6k(MR, w, xq, xd, (const int16_t *const *)xs, nb, out); break;
    }
}

MM_INLINE void mm_row_tile_mr(int wt, int MR, const uint8_t *const *w, const int8_t *const *xq,
                              const float *const *xd, const void *const *xs, int64_t nb, float *out) {
    /* one specialisation per (type, MR) */
    if (MR == 4) {
        if (wt == CF_T_Q4_0) mm_row_tile(CF_T_Q4_0, 4, w, xq, xd, xs, nb, out);
        else if (wt == CF_T_Q8_0) mm_row_tile(CF_T_Q8_0, 4, w, xq, xd, xs, nb, out);
        else if (wt == CF_T_Q4_K) mm_row_tile(CF_T_Q4_K, 4, w, xq, xd, xs, nb, out);
        else mm_row_tile(CF_T_Q6_K, 4, w, xq, xd, xs, nb, out);
    } else if (MR == 2) {
        if (wt == CF_T_Q4_0) mm_row_tile(CF_T_Q4_0, 2, w, xq, xd, xs, nb, out);
        else if (wt == CF_T_Q8_0) mm_row_tile(CF_T_Q8_0, 2, w, xq, xd, xs, nb, out);
        else if (wt == CF_T_Q4_K) mm_row_tile(CF_T_Q4_K, 2, w, xq, xd, xs, nb, out);
        else mm_row_tile(CF_T_Q6_K, 2, w, xq, xd, xs, nb, out);
    } else {
        if (wt == CF_T_Q4_0) mm_row_tile(CF_T_Q4_0, 1, w, xq, xd, xs, nb, out);
        else if (wt == CF_T_Q8_0) mm_row_tile(CF_T_Q8_0, 1, w, xq, xd, xs, nb, out);
        else if (wt == CF_T_Q4_K) mm_row_tile(CF_T_Q4_K, 1, w, xq, xd, xs, nb, out);
        else mm_row_tile(CF_T_Q6_K, 1, w, xq, xd, xs, nb, out);
    }
}

/* 8-bit weights x ROW / ROWPAIR activations: weight rows in tiles of 8, activation rows in
 * tiles of 4, 2, 1 (8 pairs per tile). */
static void mm_row_run(const cf_par *p, const cf_wmat *W, const cf_act_hdr *h, const void *act, int64_t M,
                       float *Y, int64_t ldy) {
    int64_t m0, m1, n0, n1;
    cf_mm_split(p, M, W->n, W->k, 8, 0, &m0, &m1, &n0, &n1);
    if (n0 >= n1 || m0 >= m1) return;
    const int8_t *q = (const int8_t *)act + CF_ACT_HDR;
    const float *d = (const float *)((const char *)act + h->off_b);
    const char *c = (const char *)act + h->off_c;
    int64_t cstride = h->kind == CF_ACT_Q8_0 ? 4 : 32; /* bytes of sums per block */
    for (int64_t n8 = n0; n8 < n1; n8 += 8) {
        for (int64_t m = m0; m < m1;) {
            int MR = m1 - m >= 4 ? 4 : m1 - m >= 2 ? 2 : 1, NR = 8 / MR;
            const int8_t *xq[4];
            const float *xd[4];
            const void *xs[4];
            for (int r = 0; r < MR; r++) {
                xq[r] = q + (m + r) * h->nb * h->blk;
                xd[r] = d + (m + r) * h->nb;
                xs[r] = c + (m + r) * h->nb * cstride;
            }
            for (int64_t n = n8; n < n8 + 8 && n < n1; n += NR) {
                const uint8_t *w[8];
                for (int i = 0; i < NR; i++)
                    w[i] = (const uint8_t *)W->data + (n + i < W->n ? n + i : W->n - 1) * W->row_bytes;
                float out[8];
                mm_row_tile_mr(W->type, MR, w, xq, xd, xs, h->nb, out);
                for (int j = 0; j < 8; j++)
                    if (n + j % NR < n1) Y[(m + j / NR) * ldy + n + j % NR] = out[j];
            }
            m += MR;
        }
    }
}

MM_INLINE void mm_f32_tile(int wt, int MR, int NR, const void *const *w, const float *const *x, int64_t K,
                           float *y, int64_t ldy) {
#define MM_F32_CASE(T)                                                                            \
    if (wt == T) {                                                                                \
        if (NR == 3) switch (MR) {                                                                \
            case 4: mm_tile_f32(T, 4, 3, w, x, K, y, ldy); return;                                \
            case 3: mm_tile_f32(T, 3, 3, w, x, K, y, ldy); return;                                \
            case 2: mm_tile_f32(T, 2, 3, w, x, K, y, ldy); return;                                \
            default: mm_tile_f32(T, 1, 3, w, x, K, y, ldy); return;                               \
            }                                                                                     \
        switch (MR) {                                                                             \
        case 2: mm_tile_f32(T, 2, 4, w, x, K, y, ldy); return;                                    \
        default: mm_tile_f32(T, 1, 4, w, x, K, y, ldy); return;                                   \
        }                                                                                         \
    }
    MM_F32_CASE(CF_T_F32)
    MM_F32_CASE(CF_T_F16)
    MM_F32_CASE(CF_T_BF16)
#undef MM_F32_CASE
}

/* f32 / f16 / bf16 weights x f32 activations: tiles of MR (tile_mm_mr) x 3, or x 4 for MR <= 2. */
static void mm_f32_run(const cf_par *p, const cf_wmat *W, const cf_act_hdr *h, const void *act, int64_t M,
                       float *Y, int64_t ldy) {
    const cf_tuning *t = cf_tuning_get();
    int MRt = t->tile_mm_mr < 1 ? 1 : t->tile_mm_mr > 4 ? 4 : (int)t->tile_mm_mr;
    int NR = MRt >= 3 ? 3 : 4;
    int64_t m0, m1, n0, n1;
    cf_mm_split(p, M, W->n, W->k, NR, MRt, &m0, &m1, &n0, &n1);
    if (n0 >= n1 || m0 >= m1) return;
    const float *x = (const float *)((const char *)act + CF_ACT_HDR);
    int64_t K = h->K;
    for (int64_t n = n0; n < n1; n += NR) {
        const void *w[4];
        for (int i = 0; i < NR; i++)
            w[i] = (const char *)W->data + (n + i < W->n ? n + i : W->n - 1) * W->row_bytes;
        for (int64_t m = m0; m < m1; m += MRt) {
            int MR = m1 - m < MRt ? (int)(m1 - m) : MRt;
            const float *xr[4];
            for (int r = 0; r < MR; r++) xr[r] = x + (m + r) * K;
            float yt[16];
            mm_f32_tile(W->type, MR, NR, w, xr, K, yt, 4);
            for (int r = 0; r < MR; r++)
                for (int i = 0; i < NR && n + i < n1; i++) Y[(m + r) * ldy + n + i] = yt[r * 4 + i];
        }
    }
}

#endif
